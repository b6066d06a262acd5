"""mount.py - patchfs.Mount: start the patchfs daemon on a dataset, read its tree, unmount.

The daemon is the `patchfs` binary as a user runs it by hand: `patchfs DATASET MOUNTPOINT
--key=value ...` builds the preprocessing cache if needed, mounts, and returns once the mount
serves (it daemonizes then). Its refusals (a bad dataset, bad options, a mountpoint in use)
are its stderr and a non-zero exit: they become patchfs.Error with that message.

Unmounting happens exactly once, in the process that mounted: on leaving the `with` block
(also through an exception or Ctrl-C), on close(), or at interpreter exit for a Mount left
open. DataLoader workers forked from that process never unmount it.
"""
import gc
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
import weakref

from .errors import Error
from .tree import Tree

#: Options a Mount adds unless given: prefetch=2 makes the daemon render the next steps while
#: the loop trains (measured: python/README.md, "Workers: measured"). prefetch=0 turns it off.
DEFAULT_OPTIONS = {"prefetch": 2}

# option values given as Python sequences or pairs: how patchfs writes them
_JOIN = {"patch": "x", "spacing": "x", "shard": "/", "aug_rotation": ":", "aug_scaling": ":"}


def find_binary(patchfs=None):
    """The patchfs binary: the argument, else $PATCHFS, else `patchfs` on PATH."""
    given = patchfs or os.environ.get("PATCHFS")
    if given:
        path = shutil.which(given) if os.sep not in given else given
        if not path or not os.access(path, os.X_OK) or os.path.isdir(path):
            src = "patchfs=" if patchfs else "$PATCHFS"
            raise Error("patchfs binary %r (%s) is not an executable file" % (given, src))
        return os.path.abspath(path)
    path = shutil.which("patchfs")
    if not path:
        raise Error("the patchfs binary was not found on PATH: install it (make install) or "
                    "set $PATCHFS (or Mount(..., patchfs=...)) to its path")
    return path


def option_args(options):
    """--key=value arguments for patchfs from Python values: True is a flag, False and None
    leave the option out, sequences are joined as patchfs writes them (patch=(32, 48, 32) is
    32x48x32, ds_scales=[1, 0.5] is 1,0.5, shard=(0, 2) is 0/2), a dict is L:W,... ."""
    args = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        if value is True:
            args.append("--" + key)
            continue
        if isinstance(value, dict):
            text = ",".join("%s:%s" % kv for kv in value.items())
        elif isinstance(value, (list, tuple)):
            text = _JOIN.get(key, ",").join(str(v) for v in value)
        else:
            text = str(value)
        args.append("--%s=%s" % (key, text))
    return args


class Mount(Tree):
    """A patchfs mount of `dataset`, for the time of a `with` block:

        with patchfs.Mount("/data/Dataset004_Hippocampus", seed=7, patch=(32, 48, 32)) as m:
            b = m.step("train", 0, 0)          # {"data", "seg", "meta"}

    mountpoint=None mounts on a new temporary folder (removed afterwards). Options are
    patchfs's (`patchfs --help`): seed=7, batch=2, aug="nnunet", cache="/tmp/c", skip_bad=True,
    ...; prefetch=2 unless given (DEFAULT_OPTIONS). patchfs= (or $PATCHFS) names the binary,
    else `patchfs` on PATH.
    progress=True passes the cache build's progress lines to stderr (default: when stderr is
    a terminal). Attributes: path, options (patchfs.json's), fingerprint, info (patchfs.json).
    """

    def __init__(self, dataset, mountpoint=None, *, patchfs=None, progress=None, **options):
        binary = find_binary(patchfs)
        if progress is None:
            progress = sys.stderr is not None and sys.stderr.isatty()
        tmp = None
        if mountpoint is None:
            tmp = mountpoint = tempfile.mkdtemp(prefix="patchfs-")
        self.argv = [binary, os.fspath(dataset), os.path.abspath(os.fspath(mountpoint))]
        self.argv += option_args(dict(DEFAULT_OPTIONS, **options))
        self._life = _Life(self.argv[2], tmp)
        self._finalizer = weakref.finalize(self, self._life.close)
        try:
            self._life.start(self.argv, progress)
            self._open_tree(self.argv[2])
        except BaseException:
            self._finalizer()
            raise

    def close(self):
        """Unmount (waiting for the daemon to leave) and remove a temporary mountpoint. Only
        the process that mounted does it; calling it again does nothing."""
        self._finalizer()

    @property
    def mounted(self):
        return self._finalizer.alive and os.path.ismount(self.path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __getstate__(self):
        raise TypeError("a patchfs.Mount is not sent to other processes: give them its path "
                        "(patchfs.torch.StepDataset does)")

    def __repr__(self):
        state = "mounted" if self.mounted else "closed"
        return "<patchfs.Mount %s on %s, %s>" % (self.argv[1], self.path, state)


class _Life:
    """What unmounting needs, apart from the Mount (weakref.finalize must not hold it)."""

    def __init__(self, path, tmp):
        self.path, self.tmp = path, tmp
        self.owner = os.getpid()
        self.daemon = None
        self.ours = False      # the mount on path is ours (patchfs returned 0)
        self.started = False   # patchfs was started: it may have mounted before a Ctrl-C
        self.dev_before = None
        # found now: PATH may differ by the time we unmount
        self.unmount_tool = _find_unmount_tool()

    def start(self, argv, progress):
        try:
            self.dev_before = os.stat(self.path).st_dev
        except OSError:
            pass
        self.started = True
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, errors="replace",
                                start_new_session=True)
        lines = []
        try:
            # the daemon's stderr is /dev/null once it serves: EOF here means ready or failed
            for line in proc.stderr:
                lines.append(line)
                if progress:
                    sys.stderr.write(line)
                    sys.stderr.flush()
            rc = proc.wait()
        except BaseException:
            # Ctrl-C (or any error) while the cache builds: stop patchfs; close() unmounts
            # whatever it may already have mounted
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            raise
        finally:
            proc.stderr.close()
        if rc != 0:
            said = [l.rstrip("\n") for l in lines if l.strip() and ": preparing " not in l]
            raise Error("\n".join(said) or "patchfs exited with status %d" % rc)
        if not os.path.ismount(self.path):
            raise Error("patchfs exited 0 but %s is not a mount point" % self.path)
        self.ours = True
        self.daemon = _find_daemon(argv)

    def _mounted_by_us(self):
        """Ours, or made by the patchfs we started before it was interrupted; never a mount
        that was there before (a mountpoint in use stays as it was)."""
        if self.ours:
            return True
        if not self.started:
            return False
        try:
            return os.stat(self.path).st_dev != self.dev_before
        except OSError:
            return _is_stale(self.path)

    def close(self):
        if os.getpid() != self.owner:
            return  # a forked worker: the mount belongs to its parent
        try:
            if self._mounted_by_us() and (os.path.ismount(self.path) or _is_stale(self.path)):
                _unmount(self.path, self.unmount_tool)
            if self.daemon:
                _wait_gone(*self.daemon)
        finally:
            if self.tmp:
                try:
                    os.rmdir(self.tmp)
                except OSError:
                    pass


def _find_daemon(argv):
    """(pid, cmdline) of the daemon serving this mount: the process whose command line is
    exactly ours (it forked from the command we ran)."""
    want = ("\0".join(argv) + "\0").encode()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/cmdline" % name, "rb") as f:
                    if f.read() == want:
                        return int(name), want
            except OSError:
                continue
    return None


def _wait_gone(pid, cmdline, seconds=10.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if f.read() != cmdline:
                    return
        except OSError:
            return
        time.sleep(0.02)


def _is_stale(path):
    try:
        os.stat(path)
        return False
    except OSError as e:
        return e.errno == 107  # ENOTCONN: the daemon died, the mount entry stayed


def _find_unmount_tool():
    for name in ("fusermount3", "/usr/bin/fusermount3", "/bin/fusermount3", "fusermount"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _unmount(path, tool):
    """fusermount3 -u; while files are still open (an mmap'd array, a worker's open file),
    collect garbage and retry for a few seconds, then detach lazily (-z): the daemon leaves
    when the last file closes."""
    if not tool:
        raise Error("cannot unmount %s: fusermount3 not found (Debian package fuse3)" % path)
    err = ""
    for attempt in range(40):
        r = subprocess.run([tool, "-u", path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
        if r.returncode == 0 or not (os.path.ismount(path) or _is_stale(path)):
            return
        err = r.stderr.strip()
        gc.collect()
        time.sleep(0.05 if attempt < 10 else 0.1)
    r = subprocess.run([tool, "-uz", path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    if r.returncode != 0 and os.path.ismount(path):
        raise Error("cannot unmount %s: %s" % (path, r.stderr.strip() or err))
    warnings.warn("%s was busy (%s): detached lazily; the daemon leaves when its last open "
                  "file closes" % (path, err), RuntimeWarning, stacklevel=3)
