#!/usr/bin/env python3
"""aug_mount_rate.py - training-step throughput through the mount, augmentation on vs off
(issue 7: "augmented training steps served through the mount at >= 0.5x the unaugmented
rate"). Part of `make bench` (called at the end of tests/bench/aug_bench.sh); measures, it
tests nothing: no figure makes it fail.

  aug_mount_rate.py DATASET WORKDIR [--steps N] [--patch ZxYxX] [--prefetch K]
                    [--extra k=v,...] [--reps R]

Prepares the preprocessing cache WORKDIR/aug_cache first (so building it is never timed),
then mounts DATASET on a fresh mountpoint under WORKDIR with
  -o cache=WORKDIR/aug_cache,seed=7[,patch=P][,prefetch=K][,extra],aug=none
and again on another fresh mountpoint with aug=nnunet, and on each one, from this single
process, reads train/epoch_1/step_S/data.npy then seg.npy for S = 0..N-1 in order with plain
open/read into one reusable buffer (whole files, no numpy parsing), timing the wall time.

Warm-up: before timing, steps 0 and 1 of epoch 0 are read on each mount. That brings the
case cache files (WORKDIR/aug_cache) into the page cache and lets the daemon open its cases,
without warming the timed steps themselves: a mount keeps what it generated in memory, so
re-reading a step would measure the memory cache, not generation. The timed steps (epoch 1)
are therefore never read before on that mount.

Every mount is a fresh daemon (`patchfs ... -f`, a child of this script) with an empty
memory cache; all are unmounted (fusermount3 -u) on the way out, also on an error, Ctrl-C or
SIGTERM. A mount that does not serve within 60 s is an error that shows the daemon's stderr.
With --reps R > 1 the pair is measured R times, alternating which goes first, and the table
shows medians. The load average is printed first: these machines are shared.
"""
import argparse
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PF = os.path.join(ROOT, "patchfs")
MOUNT_TIMEOUT = 60.0

MOUNTS = []  # [(mountpoint, Popen)] still to unmount


def die(msg):
    raise SystemExit("aug_mount_rate: " + msg)


def on_sigterm(signum, frame):
    # turn SIGTERM (and SIGHUP) into an exception so that the finally clause unmounts
    raise SystemExit("aug_mount_rate: terminated by signal %d" % signum)


def prepare(ds, opts, log):
    with open(log, "wb") as err:
        r = subprocess.run([PF, "prepare", ds, "-o", opts], stdout=subprocess.DEVNULL, stderr=err)
    if r.returncode != 0:
        die("`patchfs prepare %s -o %s` failed (exit %d):\n%s" % (ds, opts, r.returncode, tail(log)))


def tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def mount(ds, mnt, opts, log):
    """Start `patchfs DATASET MNT -o OPTS -f` and wait until MNT serves."""
    err = open(log, "wb")
    # own session: a Ctrl-C at the terminal reaches this script, which unmounts, not the daemon
    p = subprocess.Popen([PF, ds, mnt, "-o", opts, "-f"], stdout=subprocess.DEVNULL, stderr=err,
                         start_new_session=True)
    err.close()
    MOUNTS.append((mnt, p))
    t0 = time.monotonic()
    while time.monotonic() - t0 < MOUNT_TIMEOUT:
        if os.path.ismount(mnt):
            # patchfs.json is served by every mount: one request proves the daemon answers
            with open(os.path.join(mnt, "patchfs.json"), "rb") as f:
                f.read(1)
            return p
        if p.poll() is not None:
            die("patchfs exited (status %d) before %s was mounted, options %s:\n%s" % (
                p.returncode, mnt, opts, tail(log)))
        time.sleep(0.05)
    p.terminate()  # ours; patchfs unmounts cleanly on SIGTERM should it mount after all
    die("%s did not come up within %.0f s (options %s); daemon stderr:\n%s" % (
        mnt, MOUNT_TIMEOUT, opts, tail(log)))


def umount(mnt, p):
    """Unmount MNT (ours) and reap its daemon; lazily if it stays busy."""
    for i in range(100):
        if not os.path.ismount(mnt):
            break
        subprocess.run(["fusermount3", "-u", mnt], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        if os.path.ismount(mnt):
            time.sleep(0.05)
    if os.path.ismount(mnt):
        print("aug_mount_rate: %s stays busy; lazy unmount" % mnt, file=sys.stderr)
        subprocess.run(["fusermount3", "-uz", mnt], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    if p is not None:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.terminate()  # our own child, by its pid
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    try:
        os.rmdir(mnt)
    except OSError:
        pass


def unmount_all():
    # ignore Ctrl-C while cleaning up, so that a second one cannot leave a mount behind
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        while MOUNTS:
            mnt, p = MOUNTS.pop()
            umount(mnt, p)
    finally:
        signal.signal(signal.SIGINT, old)


class Reader:
    """Whole-file reads with plain open/read into one reusable buffer."""

    def __init__(self):
        self.buf = bytearray(64 << 20)

    def read(self, path):
        fd = os.open(path, os.O_RDONLY)
        try:
            n = 0
            while True:
                if n == len(self.buf):
                    self.buf.extend(bytes(len(self.buf)))  # grow (first big file only)
                with memoryview(self.buf) as mv:
                    k = os.readv(fd, [mv[n:]])
                if k == 0:
                    return n
                n += k
        finally:
            os.close(fd)


def step_paths(mnt, epoch, n):
    for s in range(n):
        d = os.path.join(mnt, "train", "epoch_%d" % epoch, "step_%d" % s)
        yield os.path.join(d, "data.npy")
        yield os.path.join(d, "seg.npy")


def cpu_seconds(pid):
    """utime + stime of a live process, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(reader, ds, work, opts, aug, steps):
    mnt = tempfile.mkdtemp(prefix="mnt_%s_" % aug, dir=work)
    log = os.path.join(work, "aug_mount_%s.log" % aug)
    p = mount(ds, mnt, opts + ",aug=" + aug, log)
    try:
        for path in step_paths(mnt, 0, 2):  # warm-up: case cache pages, daemon state
            reader.read(path)
        nbytes = 0
        d0, r0 = cpu_seconds(p.pid), own_cpu_seconds()
        t0 = time.perf_counter()
        for path in step_paths(mnt, 1, steps):
            nbytes += reader.read(path)
        dt = time.perf_counter() - t0
        cpu = (cpu_seconds(p.pid) - d0, own_cpu_seconds() - r0)
    finally:
        MOUNTS.remove((mnt, p))
        umount(mnt, p)
    if p.returncode not in (0, None):
        print("aug_mount_rate: warning: the aug=%s daemon exited with status %d" % (
            aug, p.returncode), file=sys.stderr)
    return dt, nbytes, cpu


def median(v):
    v = sorted(v)
    m = len(v) // 2
    return v[m] if len(v) % 2 else (v[m - 1] + v[m]) / 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset")
    ap.add_argument("workdir")
    ap.add_argument("--steps", type=int, default=30, help="timed steps per mount (30)")
    ap.add_argument("--patch", default=None, help="patch ZxYxX (default: the mount's)")
    ap.add_argument("--prefetch", type=int, default=None,
                    help="prefetch=K on both mounts (default: the mount's)")
    ap.add_argument("--extra", default="", help="extra mount options k=v,k=v")
    ap.add_argument("--reps", type=int, default=1,
                    help="repetitions of the pair, alternating order; medians (1)")
    a = ap.parse_args()
    if a.steps < 1 or a.reps < 1:
        die("--steps and --reps must be >= 1")
    if not os.access(PF, os.X_OK):
        die("%s not found: run `make` first" % PF)
    ds = os.path.abspath(a.dataset)
    work = os.path.abspath(a.workdir)
    if not os.path.isdir(ds):
        die("dataset %s is not a directory" % ds)
    os.makedirs(work, exist_ok=True)

    opts = ["cache=" + os.path.join(work, "aug_cache"), "seed=7"]
    if a.patch:
        opts.append("patch=" + a.patch)
    if a.prefetch is not None:
        opts.append("prefetch=%d" % a.prefetch)
    extra = [o for o in a.extra.split(",") if o]
    if a.steps > 250 and not any(o.startswith("steps=") for o in extra):
        opts.append("steps=%d" % a.steps)  # only decides which paths exist
    opts = ",".join(opts + extra)

    la = os.getloadavg()
    print("load average at start: %.2f %.2f %.2f (%d cores)" % (la + (os.cpu_count(),)))
    sys.stdout.flush()

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGHUP, on_sigterm)
    times = {"none": [], "nnunet": []}
    cpus = {"none": [], "nnunet": []}
    sizes = {}
    try:
        prepare(ds, opts, os.path.join(work, "aug_prepare.log"))
        reader = Reader()
        for r in range(a.reps):
            order = ("none", "nnunet") if r % 2 == 0 else ("nnunet", "none")
            for aug in order:
                dt, nbytes, cpu = measure(reader, ds, work, opts, aug, a.steps)
                times[aug].append(dt)
                cpus[aug].append(cpu)
                sizes[aug] = nbytes
    except KeyboardInterrupt:
        unmount_all()
        die("interrupted; mounts removed")
    finally:
        unmount_all()

    la_end = os.getloadavg()
    plain = a.steps / median(times["none"])
    aug = a.steps / median(times["nnunet"])
    rep = "" if a.reps == 1 else ", median of %d" % a.reps
    print("dataset %s, options %s, epoch 1 steps 0..%d (data.npy + seg.npy) after a 2-step "
          "warm-up on epoch 0, one reader, fresh mount each%s" % (
              os.path.basename(ds), opts, a.steps - 1, rep))
    print("| measure | steps/s | s per step | MB/s | MiB per step | CPU ms per step: daemon + reader |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, key, rate in (("plain steps through the mount (aug=none)", "none", plain),
                            ("augmented steps through the mount (aug=nnunet)", "nnunet", aug)):
        mib = sizes[key] / a.steps / 2**20
        dcpu = median([c[0] for c in cpus[key]]) / a.steps * 1e3
        rcpu = median([c[1] for c in cpus[key]]) / a.steps * 1e3
        print("| %s | %.2f | %.3f | %.1f | %.1f | %.0f + %.0f |" % (
            name, rate, 1 / rate, rate * sizes[key] / a.steps / 1e6, mib, dcpu, rcpu))
    print("augmented / plain: %.2fx (target >= 0.5x)" % (aug / plain))
    print("load average at end: %.2f %.2f %.2f" % la_end)


if __name__ == "__main__":
    main()
