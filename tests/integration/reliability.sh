#!/usr/bin/env bash
# reliability.sh - reliability suite, run by tests/integration/run.sh (or alone):
#
#   PF=./patchfs PY=/usr/bin/python3 REAL=../shared/data/real T=$(mktemp -d) \
#       bash tests/integration/reliability.sh
#
# One line per assertion: "ok - reliability: ...", "not ok - reliability: ..." (details
# indented below) or "skip - reliability: ... (reason)". Needs root and FUSE. Everything it
# mounts is unmounted on exit; a mount helper it installs into /sbin for the mount(8) tests is
# removed again. The fuzz targets are not run here (CI runs `make fuzz-smoke` on its own).
#
#   * concurrency, corrupt and failing cache entries: tests/integration/concurrency.sh;
#   * mount tooling: mount(8) with type fuse.patchfs through mount-scripts/mount.fuse.patchfs
#     (command line and an fstab line; fstab-only words filtered; unknown options refused;
#     a stale mount cleared), and the systemd unit patchfs@.service (systemd-analyze verify,
#     then its ExecStart/ExecStop command lines run as systemd would run them);
#   * permissions: allow_other adds default_permissions (/proc/mounts) and lets another user
#     read, without it another user cannot; the cache is private (folders 0700, files 0600,
#     even under umask 000 and inside a world-readable cache= folder);
#   * read-only: every write-type system call on the mount fails with EROFS;
#   * a full disk while building the cache is an error that leaves nothing behind;
#   * containment: `patchfs get` paths with '..', absolute or dataset components reach nothing
#     outside the virtual tree;
#   * paths and mounts: relative dataset, mountpoint, cache= and log= work from any directory
#     (a relative mountpoint is unmounted by SIGTERM/SIGINT/SIGHUP, also when the daemon was
#     started with them ignored, under nohup, or blocked); a live patchfs mountpoint
#     is refused by patchfs and both helpers, a dead one with the command that clears it;
#   * logs: with log=FILE an unreadable cache entry is logged (path, case, errno), counted in
#     status.json's errors_io and retried by the next read; without it, syslog (in a private
#     mount namespace with a test socket as /dev/log); `make install` stays inside PREFIX;
#   * the dataset folder is byte-for-byte unchanged (content, modes, mtimes, ctimes) after
#     check, prepare, mounts and all the reads above (and a real dataset after check/prepare/get).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
HELPER_INSTALLED=""
OTHER=""
HELPER=/sbin/mount.fuse.patchfs
# the mount helper installed into /sbin, and the other user's folder
remove_installed() {
    [ -n "$HELPER_INSTALLED" ] && rm -f "$HELPER"
    [ -n "$OTHER" ] && rmdir "$OTHER"/* "$OTHER" 2>/dev/null
    return 0
}
suite_init reliability remove_installed

track() { mkdir -p "$1"; MOUNTS+=("$1"); }

# manifest DIR: every entry's path, type, mode, size, mtime, ctime, link target, and the
# sha256 of every file (atime is left out: reading may update it)
manifest() {
    (cd "$1" && find . -printf '%p %y %m %s %T@ %C@ %l\n' | LC_ALL=C sort &&
        find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}

# the pid of the daemon serving mountpoint $1 (a process this suite started: its argv is
# "patchfs DATASET MOUNTPOINT ...")
daemon_pid() {
    local p args
    for p in /proc/[0-9]*; do
        mapfile -d '' -t args 2>/dev/null <"$p/cmdline" || continue
        if [ "${#args[@]}" -ge 3 ] && [ "${args[2]}" = "$1" ] &&
            [ "$(basename "${args[0]}")" = patchfs ]; then
            echo "${p#/proc/}"
            return 0
        fi
    done
    return 1
}

if [ "$(id -u)" != 0 ] || [ ! -e /dev/fuse ]; then
    skip "all (needs root and /dev/fuse)"
    exit 0
fi

# ---------------------------------------------------------------- dataset, before
DS=$T/ds
if ! gen "$DS" --channels 2 --cases 6 --seed 5; then
    bad "generate the test dataset"
    exit 1
fi
manifest "$DS" >"$T/manifest.before"
REAL_DS=$REAL/Dataset004_Hippocampus
[ -d "$REAL_DS" ] && manifest "$REAL_DS" >"$T/real.before"

OPTS="seed=3,batch=2,cache=$T/cache"
check "check and prepare succeed" bash -c "'$PF' check '$DS' -o '$OPTS' && '$PF' prepare '$DS' -o '$OPTS'"

# ---------------------------------------------------------------- read-only
M=$T/mnt_ro
if pf_mount "$DS" "$M" "$OPTS"; then
    check "every write-type system call on the mount fails with EROFS" "$PY" - "$M" <<'EOF'
import errno, os, sys
m = sys.argv[1]
f = os.path.join(m, "README.txt")          # an existing file
d = os.path.join(m, "train")               # an existing, non-empty folder
e = os.path.join(m, "cases", sorted(os.listdir(os.path.join(m, "cases")))[0])  # a case folder
new = os.path.join(m, "no_such_name")      # a name that does not exist
calls = [
    ("open O_WRONLY", lambda: os.open(f, os.O_WRONLY)),
    ("open O_RDWR", lambda: os.open(f, os.O_RDWR)),
    ("open O_RDONLY|O_TRUNC", lambda: os.open(f, os.O_RDONLY | os.O_TRUNC)),
    ("open O_WRONLY|O_APPEND", lambda: os.open(f, os.O_WRONLY | os.O_APPEND)),
    ("open O_CREAT new file", lambda: os.open(new, os.O_WRONLY | os.O_CREAT, 0o644)),
    ("open O_CREAT|O_EXCL new file", lambda: os.open(new, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)),
    ("open O_TMPFILE", lambda: os.open(m, os.O_WRONLY | getattr(os, "O_TMPFILE", 0o20200000), 0o600)),
    ("truncate", lambda: os.truncate(f, 0)),
    ("chmod", lambda: os.chmod(f, 0o666)),
    ("chmod folder", lambda: os.chmod(d, 0o777)),
    ("chown", lambda: os.chown(f, 1, 1)),
    ("lchown", lambda: os.lchown(f, 1, 1)),
    ("utime", lambda: os.utime(f, (0, 0))),
    ("utime now", lambda: os.utime(f)),
    ("mkdir", lambda: os.mkdir(new)),
    ("rmdir", lambda: os.rmdir(d)),
    ("rmdir case folder", lambda: os.rmdir(e)),
    ("unlink", lambda: os.unlink(f)),
    ("rename file", lambda: os.rename(f, new)),
    ("rename folder", lambda: os.rename(d, new)),
    ("rename onto existing", lambda: os.rename(f, os.path.join(m, "splits.json"))),
    ("link", lambda: os.link(f, new)),
    ("symlink", lambda: os.symlink("README.txt", new)),
    ("setxattr", lambda: os.setxattr(f, "user.patchfs", b"x")),
    ("removexattr", lambda: os.removexattr(f, "user.patchfs")),
    ("mknod fifo", lambda: os.mknod(new, 0o600 | 0o010000)),
    ("mkfifo", lambda: os.mkfifo(new)),
]
bad = 0
for name, call in calls:
    try:
        r = call()
        if isinstance(r, int):
            os.close(r)
        print("%s: succeeded" % name)
        bad += 1
    except OSError as ex:
        if ex.errno != errno.EROFS:
            print("%s: %s (errno %d), expected EROFS" % (name, errno.errorcode.get(ex.errno, "?"), ex.errno))
            bad += 1
if not os.path.isfile(f) or os.path.exists(new):
    print("the tree changed")
    bad += 1
print("%d of %d calls did not fail with EROFS" % (bad, len(calls)))
sys.exit(1 if bad else 0)
EOF
    check "the mount is read-only in /proc/mounts" bash -c "grep -q \" $M fuse.patchfs ro,\" /proc/mounts"
    fusermount3 -u "$M"
else
    bad "read-only: mounts"
    sed 's/^/    /' "$T/mount.err"
fi

# ---------------------------------------------------------------- permissions
# another user must be able to reach the mountpoints: T may be private (mode 0700)
OTHER=$(mktemp -d /tmp/patchfs-rel-mnt.XXXXXX)
chmod 0755 "$OTHER"
M=$OTHER/with
if pf_mount "$DS" "$M" "$OPTS,allow_other"; then
    check "allow_other adds default_permissions in /proc/mounts" \
        bash -c "grep \" $M \" /proc/mounts | grep -q 'default_permissions' && grep \" $M \" /proc/mounts | grep -q 'allow_other'"
    if command -v setpriv >/dev/null; then
        check "with allow_other another user reads files (mode 0444 enforced by the kernel)" \
            setpriv --reuid=65534 --regid=65534 --clear-groups cat "$M/README.txt"
    else
        skip "another user reads with allow_other (setpriv missing)"
    fi
    fusermount3 -u "$M"
else
    bad "allow_other: mounts"
    sed 's/^/    /' "$T/mount.err"
fi
M=$OTHER/without
if pf_mount "$DS" "$M" "$OPTS" && command -v setpriv >/dev/null; then
    check "without allow_other another user cannot read the mount (a mountpoint it can reach)" \
        bash -c "! setpriv --reuid=65534 --regid=65534 --clear-groups cat '$M/README.txt'"
fi
mountpoint -q "$M" && fusermount3 -u "$M"
check "cache folders are mode 0700 and entries 0600, even under umask 000" bash -c "
    ( umask 000; '$PF' prepare '$DS' -o cache='$T/cache_umask/a/b' ) >/dev/null 2>&1 || exit 1
    bad=\$(find '$T/cache_umask/a/b' \\( -type d ! -perm 0700 \\) -o \\( -type f ! -perm 0600 \\) | head)
    [ -z \"\$bad\" ] || { echo \"not private:\"; ls -la \$bad; exit 1; }
    [ -n \"\$(find '$T/cache_umask/a/b' -name '*.pfcase')\" ] || { echo no entries; exit 1; }"
check "a world-readable cache= folder still gets a private (0700) dataset folder" bash -c "
    mkdir -p '$T/shared_cache' && chmod 0755 '$T/shared_cache' &&
    '$PF' prepare '$DS' -o cache='$T/shared_cache' >/dev/null 2>&1 &&
    bad=\$(find '$T/shared_cache' -mindepth 1 \\( -type d ! -perm 0700 \\) -o \\( -type f ! -perm 0600 \\)) &&
    [ -z \"\$bad\" ] || { echo \"not private: \$bad\"; exit 1; }"

# ---------------------------------------------------------------- containment of `patchfs get`
contained() {
    local v rc
    for v in "$@"; do
        "$PF" get "$DS" "$v" -o "$OPTS" >"$T/c.out" 2>"$T/c.err"
        rc=$?
        if [ "$rc" = 0 ] || [ -s "$T/c.out" ]; then
            echo "patchfs get '$v' exited $rc and wrote $(wc -c <"$T/c.out") bytes:"
            head -c 300 "$T/c.out" | od -c | head -5
            return 1
        fi
    done
}
check "patchfs get: '..' and absolute components reach nothing outside the tree" contained \
    ../../../../etc/passwd /etc/passwd //etc/passwd cases/../../../../etc/passwd \
    train/../../dataset.json ../dataset.json dataset.json imagesTr/case_000_0000.nii.gz \
    "../$(basename "$DS")/dataset.json" "cases/case_000/../../../../../../etc/shadow" \
    .. ../.. ./README.txt train/./epoch_0 "cases/.." "$(printf 'x%.0s' $(seq 5000))"
check "patchfs get: a leading or doubled slash still names the tree's own file" bash -c "
    cmp <('$PF' get '$DS' README.txt -o '$OPTS') <('$PF' get '$DS' /README.txt -o '$OPTS') &&
    cmp <('$PF' get '$DS' train/epoch_0/step_0/meta.json -o '$OPTS') <('$PF' get '$DS' //train//epoch_0/step_0/meta.json -o '$OPTS')"

# ---------------------------------------------------------------- a full disk
# the cache folder on a 128 KiB tmpfs: building fails with ENOSPC naming the entry, nothing is
# mounted, and no temporary file is left behind
disk_full() {
    local c=$T/cache_full m=$T/mnt_full
    mkdir -p "$c" "$m"
    MOUNTS+=("$c" "$m")
    mount -t tmpfs -o size=128k,mode=0700 tmpfs "$c" || { echo "cannot mount a tmpfs"; return 1; }
    if "$PF" "$DS" "$m" -o "seed=3,cache=$c/x" 2>"$T/full.err"; then
        echo "mounted on a full disk"
        return 1
    fi
    grep -q "No space left on device" "$T/full.err" || { cat "$T/full.err"; return 1; }
    ! mountpoint -q "$m" || { echo "the mountpoint is mounted"; return 1; }
    [ -z "$(find "$c" -name '*.tmp.*')" ] || { echo "temporary files left:"; find "$c"; return 1; }
    # room again: the retry builds what is missing and serves the right bytes
    mount -o remount,size=512m "$c" || { echo "cannot grow the tmpfs"; return 1; }
    "$PF" "$DS" "$m" -o "seed=3,cache=$c/x" 2>"$T/full.err" || { echo "retry failed:"; cat "$T/full.err"; return 1; }
    cmp <("$PF" get "$DS" train/epoch_0/step_0/data.npy -o "seed=3,cache=$T/cache_full_ref" 2>/dev/null) \
        "$m/train/epoch_0/step_0/data.npy" || { fusermount3 -u "$m"; return 1; }
    fusermount3 -u "$m"
    # the daemon leaves (and unmaps the entries) just after the unmount returns
    for _ in $(seq 100); do umount "$c" 2>/dev/null && return 0; sleep 0.1; done
    umount "$c"
}
check "a full disk while building the cache: ENOSPC named, nothing mounted, no temporary file left; a retry with room succeeds" \
    disk_full

# ---------------------------------------------------------------- mount(8) helper
HELPER_SRC=mount-scripts/mount.fuse.patchfs
check "mount.fuse.patchfs -f: fstab words dropped, patchfs options kept, rw dropped" bash -c "
    out=\$(PATCHFS=patchfs sh '$HELPER_SRC' /data/ds /mnt/x -f -o rw,noexec,nosuid,nodev,seed=3,user,users,nofail,_netdev,noauto,x-systemd.automount,x-systemd.requires=a.mount,comment=x,X-mount.mkdir,cache=/c,allow_other,defaults 2>&1)
    echo \"\$out\"
    [ \"\$out\" = 'mount.fuse.patchfs: patchfs /data/ds /mnt/x -o seed=3,cache=/c,allow_other' ]"
check "mount.fuse.patchfs -f: options only for mount(8) give no -o at all; old patchfs#SOURCE form" bash -c "
    out=\$(PATCHFS=patchfs sh '$HELPER_SRC' 'patchfs#/data/ds' /mnt/x -fv -o rw,nofail 2>&1)
    echo \"\$out\"
    [ \"\$out\" = 'mount.fuse.patchfs: patchfs /data/ds /mnt/x' ]"

if [ -e "$HELPER" ] && ! cmp -s "$HELPER" "$HELPER_SRC"; then
    skip "mount(8) with type fuse.patchfs (another $HELPER is installed; not replaced)"
else
    if [ ! -e "$HELPER" ]; then
        install -m 0755 "$HELPER_SRC" "$HELPER" && HELPER_INSTALLED=1
    fi
    export PATCHFS=$PF
    M=$T/mnt_mount8
    track "$M"
    MOPTS="seed=3,cache=$T/cache"
    check "mount -t fuse.patchfs DATASET MNT -o ...,nofail,noauto,_netdev,x-systemd.automount serves patchfs get's bytes" bash -c "
        mount -t fuse.patchfs '$DS' '$M' -o '$MOPTS,nofail,noauto,_netdev,x-systemd.automount' &&
        grep -q ' $M fuse.patchfs ro,' /proc/mounts || { grep ' $M ' /proc/mounts; exit 1; }
        for v in train/epoch_0/step_1/data.npy cases/case_002/seg.npy patchfs.json; do
            cmp <('$PF' get '$DS' \$v -o '$MOPTS') '$M'/\$v || exit 1
        done"
    check "umount of a fuse.patchfs mount" bash -c "umount '$M' && ! mountpoint -q '$M'"
    printf '%s %s fuse.patchfs %s 0 0\n' "$DS" "$M" "$MOPTS,noauto,nofail,user,x-systemd.automount" >"$T/fstab"
    check "an fstab line of type fuse.patchfs mounts with 'mount MOUNTPOINT'" bash -c "
        LIBMOUNT_FSTAB='$T/fstab' mount '$M' && mountpoint -q '$M' &&
        cmp <('$PF' get '$DS' val/epoch_2/step_3/data.npy -o '$MOPTS') '$M/val/epoch_2/step_3/data.npy'"
    # kill -9 the daemon: mount(8) through the helper clears the stale mount and mounts again
    pid=$(daemon_pid "$M")
    if [ -n "$pid" ]; then
        kill -9 "$pid"
        sleep 0.3
        check "mount -t fuse.patchfs over a stale mount (daemon killed) clears it and serves" bash -c "
            ! stat '$M' >/dev/null 2>&1 || { echo 'mount was not stale'; exit 1; }
            mount -t fuse.patchfs '$DS' '$M' -o '$MOPTS' && mountpoint -q '$M' &&
            cmp <('$PF' get '$DS' train/epoch_1/step_0/seg.npy -o '$MOPTS') '$M/train/epoch_1/step_0/seg.npy'"
    else
        bad "find the daemon of $M"
    fi
    umount "$M" 2>/dev/null
    check "mount -t fuse.patchfs with an unknown option fails, naming it, and mounts nothing" bash -c "
        ! mount -t fuse.patchfs '$DS' '$M' -o '$MOPTS,bogus_option=1' 2>'$T/m.err' &&
        grep -q bogus_option '$T/m.err' && ! mountpoint -q '$M' || { cat '$T/m.err'; exit 1; }"
    check "mount -t fuse.patchfs -o rw still gives a read-only mount" bash -c "
        mount -t fuse.patchfs '$DS' '$M' -o '$MOPTS,rw' && grep -q ' $M fuse.patchfs ro,' /proc/mounts &&
        ! touch '$M/x' 2>/dev/null && umount '$M'"
    unset PATCHFS
fi

# ---------------------------------------------------------------- systemd unit
UNIT=mount-scripts/patchfs@.service
mkdir -p "$T/unit/bin" "$T/etc"
cp mount-scripts/patchfs-mount "$T/unit/bin/patchfs-mount"
# as `make install PREFIX=...` writes it: the unit's /usr/local/bin/ becomes PREFIX/bin/
sed "s|/usr/local/bin/|$T/unit/bin/|" "$UNIT" >"$T/unit/patchfs@reltest.service"
if command -v systemd-analyze >/dev/null; then
    check "systemd-analyze verify accepts patchfs@.service (no warnings)" bash -c "
        cd '$T/unit' && out=\$(systemd-analyze verify --man=no '$T/unit/patchfs@reltest.service' 2>&1); rc=\$?
        echo \"\$out\"; [ \$rc = 0 ] && [ -z \"\$out\" ]"
    # the .mount example of mount-scripts/README.md, as documented
    sed -n '/^# \/etc\/systemd\/system\/mnt-hippo.mount/,/^```/p' mount-scripts/README.md |
        sed '1d;$d' >"$T/unit/mnt-hippo.mount"
    check "systemd-analyze verify accepts the .mount example of mount-scripts/README.md" bash -c "
        cd '$T/unit' && grep -q '^Type=fuse.patchfs' mnt-hippo.mount &&
        out=\$(systemd-analyze verify --man=no ./mnt-hippo.mount 2>&1); rc=\$?
        echo \"\$out\"; [ \$rc = 0 ] && [ -z \"\$out\" ]"
else
    skip "systemd-analyze verify patchfs@.service (systemd-analyze missing)"
fi
# run the unit's command lines as systemd would: Environment= then EnvironmentFile=, ${VAR}
M=$T/mnt_unit
track "$M"
cat >"$T/etc/reltest.conf" <<EOF
DATASET=$DS
MOUNTPOINT=$M
OPTIONS=seed=4,cache=$T/cache
XDG_CACHE_HOME=$T/xdg
EOF
# unit_exec KEY CONF: runs the unit's KEY= command line as systemd would: the Environment=
# lines, then the EnvironmentFile, exported; ${VAR} substituted (the test's paths hold no
# spaces, so shell word splitting gives systemd's words). systemd's PATH has /usr/local/bin;
# here patchfs-mount finds this build through PATCHFS.
unit_exec() {
    (
        line=$(sed -n "s/^$1=//p" "$T/unit/patchfs@reltest.service" | head -1)
        while IFS= read -r l; do export "${l#Environment=}"; done \
            < <(grep '^Environment=' "$T/unit/patchfs@reltest.service")
        set -a
        # shellcheck source=/dev/null
        . "$2"
        set +a
        eval "set -- $line"
        echo "$1: $*"
        PATCHFS=$PF "$@"
    )
}
# unit_run CONF VPATH OPTS: ExecStart mounts and returns once the mount serves (the unit is
# Type=forking), the mount serves patchfs get's bytes, ExecStop unmounts
unit_run() {
    unit_exec ExecStart "$1" || return 1
    mountpoint -q "$M" || { echo "not mounted after ExecStart returned"; return 1; }
    cmp <("$PF" get "$DS" "$2" -o "$3") "$M/$2" || return 1
    unit_exec ExecStop "$1" && ! mountpoint -q "$M"
}
check "patchfs@.service: ExecStart mounts and returns once it serves, ExecStop unmounts" \
    unit_run "$T/etc/reltest.conf" train/epoch_0/step_2/data.npy "seed=4,cache=$T/cache"
printf 'DATASET=%s\nMOUNTPOINT=%s\nXDG_CACHE_HOME=%s\n' "$DS" "$M" "$T/xdg_unit" >"$T/etc/noopts.conf"
unit_defaults() {
    unit_run "$T/etc/noopts.conf" val/epoch_0/step_0/seg.npy "cache=$T/xdg_unit/patchfs" &&
        [ -n "$(find "$T/xdg_unit/patchfs" -name '*.pfcase')" ]
}
check "patchfs@.service without OPTIONS: the defaults, cache under the unit's XDG_CACHE_HOME" \
    unit_defaults

# ---------------------------------------------------------------- paths, stacked mounts, logs, install
# Relative paths are made absolute once, before daemonizing (the daemon runs in /); a live
# patchfs mountpoint is refused by patchfs and the helpers; errors met after daemonizing are
# logged (log=FILE, or syslog) with the file's path and counted by kind in status.json;
# `make install` stays inside DESTDIR/PREFIX.
CWD=$T/cwd
mkdir -p "$CWD"
ln -sfn "$DS" "$CWD/ds"

# relative dataset, mountpoint and cache=, from another directory: the mount serves what
# `patchfs get` run there writes (it used to fail every pixel read: "corrupt ... rebuilding it
# failed", the entries opened relative to / after daemonizing)
relative_paths() {
    local m=$CWD/mnt_rel v
    mkdir -p "$m"
    MOUNTS+=("$m")
    (cd "$CWD" && "$PF" ds mnt_rel -o seed=3,cache=relcache) 2>"$T/rel.err" || { cat "$T/rel.err"; return 1; }
    [ -n "$(find "$CWD/relcache" -name '*.pfcase')" ] || { echo "no cache under the directory patchfs ran in"; return 1; }
    for v in train/epoch_0/step_0/data.npy val/epoch_1/step_2/seg.npy cases/case_001/data.npy; do
        cmp <(cd "$CWD" && "$PF" get ds "$v" -o seed=3,cache=relcache) "$m/$v" || { echo "differs: $v"; return 1; }
    done
    "$PY" -c "import json, sys; s = json.load(open(sys.argv[1])); assert s['errors'] == 0, s" "$m/status.json" || return 1
    fusermount3 -u "$m"
}
check "relative dataset, mountpoint and cache= from another directory: the mount serves patchfs get's bytes" \
    relative_paths

# a relative mountpoint, then SIGTERM / SIGINT / SIGHUP to the daemon: unmounted, exit 0 (it
# used to exit 0 leaving a dead mount: "fuse: failed to unmount mnt/x"). The daemon is made a
# child of the checker (PR_SET_CHILD_SUBREAPER) so that its exit status can be read.
cat >"$T/signal_rel.py" <<'EOF'
import ctypes, os, signal, subprocess, sys, time
pf, cwd, mnt, opts, sig = sys.argv[1:6]
inherit = sys.argv[6] if len(sys.argv) > 6 else "default"
assert ctypes.CDLL(None).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
cmd, pre = [pf, "ds", mnt, "-o", opts], None
if inherit == "ignored":
    # as `nohup patchfs ... &` from a script: INT, HUP (and TERM here) ignored, kept over exec
    cmd = ["bash", "-c", "trap '' INT HUP TERM; exec nohup \"$@\"", "sh"] + cmd
elif inherit == "blocked":
    def pre():
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
r = subprocess.run(cmd, cwd=cwd, stderr=subprocess.PIPE, text=True, preexec_fn=pre)
if r.returncode:
    sys.exit("mount failed: " + r.stderr)
kids = []
for p in filter(str.isdigit, os.listdir("/proc")):
    try:
        if int(open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()[1]) == os.getpid():
            kids.append(int(p))
    except OSError:
        pass
if len(kids) != 1:
    sys.exit("expected one daemon, found %s" % kids)
os.kill(kids[0], getattr(signal, sig))
for _ in range(300):  # 30 s: a daemon that does not leave on the signal fails, not hangs
    pid, status = os.waitpid(kids[0], os.WNOHANG)
    if pid:
        break
    time.sleep(0.1)
else:
    os.kill(kids[0], signal.SIGKILL)
    os.waitpid(kids[0], 0)
    subprocess.run(["fusermount3", "-uz", os.path.join(cwd, mnt)])
    sys.exit("%s (%s): the daemon did not leave within 30 s (killed)" % (sig, inherit))
rc = os.waitstatus_to_exitcode(status)
where = os.path.join(cwd, mnt)
mounted = any(l.split()[4] == where for l in open("/proc/self/mountinfo"))
try:
    os.stat(where)
    dead = False
except OSError:
    dead = True
print("%s (%s): daemon exit %d, still mounted %s, dead %s" % (sig, inherit, rc, mounted, dead))
sys.exit(0 if rc == 0 and not mounted and not dead else 1)
EOF
relative_signals() {
    local sig
    mkdir -p "$CWD/mnt_sig"
    MOUNTS+=("$CWD/mnt_sig")
    for sig in SIGTERM SIGINT SIGHUP; do
        "$PY" "$T/signal_rel.py" "$PF" "$CWD" mnt_sig "seed=3,cache=$T/cache" "$sig" || return 1
    done
}
check "relative mountpoint: SIGTERM, SIGINT and SIGHUP to the daemon unmount it and exit 0" \
    relative_signals
# started with them ignored (nohup, trap '' INT HUP: libfuse installs its handlers only over
# SIG_DFL) or blocked: the daemon takes them back, and still leaves cleanly on each
inherited_signals() {
    local sig how
    for how in ignored blocked; do
        for sig in SIGINT SIGHUP SIGTERM; do
            "$PY" "$T/signal_rel.py" "$PF" "$CWD" mnt_sig "seed=3,cache=$T/cache" "$sig" "$how" || return 1
        done
    done
}
check "a daemon started under nohup with INT, HUP, TERM ignored (or blocked) still unmounts on each and exits 0" \
    inherited_signals
# in the foreground, nohup's ignored SIGHUP is kept (to outlive the terminal's hangup): the
# mount survives a SIGHUP and serves, and SIGTERM still ends it cleanly
foreground_nohup() {
    local m=$CWD/mnt_fg pid rc k
    mkdir -p "$m"
    MOUNTS+=("$m")
    bash -c "trap '' HUP; exec nohup \"\$@\" >/dev/null 2>&1" sh \
        "$PF" "$DS" "$m" -o "seed=3,cache=$T/cache" -f &
    pid=$!
    for k in $(seq 100); do mountpoint -q "$m" && break; sleep 0.1; done
    mountpoint -q "$m" || { kill -9 $pid; return 1; }
    kill -HUP $pid
    sleep 0.5
    kill -0 $pid && mountpoint -q "$m" && [ -s "$m/splits.json" ] || return 1
    kill -TERM $pid
    wait $pid
    rc=$?
    [ $rc = 0 ] && ! mountpoint -q "$m"
}
check "in the foreground under nohup, a SIGHUP is ignored (the mount serves on) and SIGTERM unmounts, exit 0" \
    foreground_nohup

# mounting on a live patchfs mount is refused, naming the mountpoint, by patchfs (given the
# same folder by another, relative path) and by both helpers; one mount stays, and serves
stacked_mounts() {
    local m=$T/mnt_stack how
    pf_mount "$DS" "$m" "$OPTS" || return 1
    for how in patchfs patchfs-mount mount.fuse.patchfs; do
        case $how in
            patchfs) (cd "$CWD" && "$PF" "$DS" ../mnt_stack -o "$OPTS") 2>"$T/stack.err" ;;
            patchfs-mount) PATCHFS=$PF sh mount-scripts/patchfs-mount "$DS" "$m" -o "$OPTS" 2>"$T/stack.err" ;;
            mount.fuse.patchfs) PATCHFS=$PF sh mount-scripts/mount.fuse.patchfs "$DS" "$m" -o "$OPTS" 2>"$T/stack.err" ;;
        esac && { echo "$how: a second mount succeeded"; return 1; }
        grep -q "mnt_stack: already a live patchfs mount" "$T/stack.err" || { echo "$how:"; cat "$T/stack.err"; return 1; }
        [ "$(grep -c " $m fuse.patchfs " /proc/mounts)" = 1 ] || { echo "$how:"; grep " $m " /proc/mounts; return 1; }
    done
    same_as_get "$DS" "$m" "$OPTS" train/epoch_0/step_1/data.npy || return 1
    fusermount3 -u "$m"
}
check "mounting on a live patchfs mount is refused (patchfs, patchfs-mount, mount.fuse.patchfs), naming it; one mount stays" \
    stacked_mounts
# a dead mount (daemon killed) whose root attributes the kernel still caches (so stat
# succeeds): patchfs refuses it as dead, with the command that clears it; patchfs-mount clears
# it and mounts again
dead_mount() {
    local m=$T/mnt_dead pid
    pf_mount "$DS" "$m" "$OPTS" || return 1
    pid=$(daemon_pid "$m") || { echo "no daemon found"; return 1; }
    kill -9 "$pid"
    sleep 0.3
    if "$PF" "$DS" "$m" -o "$OPTS" 2>"$T/dead.err"; then echo "mounted over a dead mount"; return 1; fi
    grep -q "mnt_dead: a previous mount died .*fusermount3 -uz" "$T/dead.err" || { cat "$T/dead.err"; return 1; }
    PATCHFS=$PF sh mount-scripts/patchfs-mount "$DS" "$m" -o "$OPTS" 2>"$T/dead.err" || { cat "$T/dead.err"; return 1; }
    [ "$(grep -c " $m fuse.patchfs " /proc/mounts)" = 1 ] || { grep " $m " /proc/mounts; return 1; }
    same_as_get "$DS" "$m" "$OPTS" val/epoch_0/step_1/data.npy || return 1
    fusermount3 -u "$m"
}
check "a dead mount is refused by patchfs (naming the command that clears it) and cleared by patchfs-mount" dead_mount

# log=FILE (relative): a cache entry that cannot be opened while mounted (its folder moved
# away) fails that read with EIO; the log names the file of the tree, the case and the entry
# with its errno, never "corrupt"; status.json counts it as an I/O error; nothing is
# remembered: with the folder back the next read serves the right bytes, and the entry was
# not rebuilt
log_file() {
    local c=$T/cache_log m=$T/mnt_log d entry ino
    "$PF" prepare "$DS" -o "seed=3,cache=$c" >/dev/null 2>&1 || { echo "prepare failed"; return 1; }
    mkdir -p "$m"
    MOUNTS+=("$m")
    (cd "$T" && "$PF" "$DS" mnt_log -o "seed=3,cache=$c,log=pf.log") 2>"$T/log.err" || { cat "$T/log.err"; return 1; }
    d=$(echo "$c"/*/)
    entry=$(echo "$d"case_002.*.pfcase)
    ino=$(stat -c %i "$entry")
    mv "$d" "$c/away"
    if cat "$m/cases/case_002/data.npy" >/dev/null 2>"$T/read.err"; then mv "$c/away" "$d"; echo "the read succeeded"; return 1; fi
    mv "$c/away" "$d"
    grep -q "Input/output error" "$T/read.err" || { cat "$T/read.err"; return 1; }
    grep -q "error: cases/case_002/data\.npy: read: $entry: cannot open cache entry of case case_002: No such file or directory" "$T/pf.log" ||
        { echo "log:"; cat "$T/pf.log"; return 1; }
    ! grep -q corrupt "$T/pf.log" || { echo "reported as corruption:"; cat "$T/pf.log"; return 1; }
    "$PY" -c "
import json, sys; s = json.load(open(sys.argv[1]))
assert s['errors'] >= 1 and s['errors_io'] == s['errors'] and s['errors_nomem'] == s['errors_other'] == 0, s" "$m/status.json" || return 1
    cmp <("$PF" get "$DS" cases/case_002/data.npy -o "seed=3,cache=$c") "$m/cases/case_002/data.npy" || return 1
    [ "$(stat -c %i "$entry")" = "$ino" ] || { echo "the entry was rebuilt (the failure was remembered as corruption)"; return 1; }
    fusermount3 -u "$m"
    for _ in $(seq 50); do grep -q "notice: $m unmounted" "$T/pf.log" && break; sleep 0.1; done
    grep -q "notice: .* mounted on $m" "$T/pf.log" && grep -q "notice: $m unmounted" "$T/pf.log" ||
        { echo "log:"; cat "$T/pf.log"; return 1; }
}
check "log=FILE: an unreadable cache entry gives EIO, is logged with path, case and errno (not as corruption), counted in errors_io, and not remembered" \
    log_file

# without log=, the daemon's errors go to syslog: checked in a private mount namespace whose
# /dev has a log socket the test listens on (the test machine need not run a syslog daemon)
syslog_ns() {
    local fake=$T/fakedev d lp
    rm -rf "$fake" "$T/syslog.out"
    mkdir -p "$fake"
    for d in null zero fuse urandom; do touch "$fake/$d"; mount --bind "/dev/$d" "$fake/$d" || return 1; done
    "$PY" -c "
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(20)
open(sys.argv[1] + '.ready', 'w').close()
with open(sys.argv[2], 'w') as out:
    while True:
        try: m = s.recv(65536).decode()
        except socket.timeout: break
        out.write(m + '\n'); out.flush()
        if 'unmounted' in m: break" "$T/log.sock" "$T/syslog.out" &
    lp=$!
    for _ in $(seq 100); do [ -e "$T/log.sock.ready" ] && break; sleep 0.05; done
    ln -s "$T/log.sock" "$fake/log"
    mount --rbind "$fake" /dev || return 1
    mkdir -p "$T/mnt_syslog"
    if "$PF" "$DS" "$T/mnt_syslog" -o "seed=3,cache=$T/cache_log"; then
        d=$(echo "$T"/cache_log/*/)
        mv "$d" "$T/cache_log/away"
        cat "$T/mnt_syslog/cases/case_003/data.npy" >/dev/null 2>&1
        mv "$T/cache_log/away" "$d"
        # the mount lives in this namespace only: unmount it here, whatever happened
        fusermount3 -u "$T/mnt_syslog" || fusermount3 -uz "$T/mnt_syslog"
    fi
    wait $lp
}
if command -v unshare >/dev/null && [ -e "$T/cache_log" ]; then
    rm -f "$T/log.sock" "$T/log.sock.ready"
    unshare -m --propagation private bash -c "$(declare -f syslog_ns); T='$T' PF='$PF' PY='$PY' DS='$DS' syslog_ns" >"$T/ns.out" 2>&1
    check "without log=, errors after daemonizing go to syslog (identifier patchfs, facility daemon) with the file's path" bash -c "
        cat '$T/ns.out' '$T/syslog.out'
        grep -q '^<27>.* patchfs\[[0-9]*\]: cases/case_003/data\.npy: read: .*cannot open cache entry of case case_003' '$T/syslog.out' &&
        grep -q '^<29>.* patchfs\[[0-9]*\]: .* mounted on $T/mnt_syslog' '$T/syslog.out'"
else
    skip "syslog after daemonizing (unshare missing, or the log test did not run)"
fi

# make install DESTDIR=... PREFIX=/opt/x: every file under DESTDIR/opt/x (it used to write
# DESTDIR/sbin and DESTDIR/etc), pointing at /opt/x/bin; the note says how mount(8) finds the
# helper. PREFIX=/usr: the helper in /usr/sbin, the unit in /usr/lib/systemd/system, no note.
install_prefix() {
    local i=$T/inst p=$T/inst/opt/x outside f
    rm -rf "$i" "$T/inst2"
    # (a make of its own: under `make test-asan` the parent's MAKEFLAGS would add options and
    # "Entering directory" lines)
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -C "$ROOT" -o patchfs install DESTDIR="$i" PREFIX=/opt/x >"$T/install.out" 2>&1 || { cat "$T/install.out"; return 1; }
    outside=$(find "$i" -mindepth 1 ! -type d ! -path "$p/*")
    [ -z "$outside" ] || { echo "installed outside DESTDIR/PREFIX: $outside"; return 1; }
    for f in bin/patchfs bin/patchfs-mount sbin/mount.fuse.patchfs lib/systemd/system/patchfs@.service; do
        [ -f "$p/$f" ] || { echo "missing $f"; find "$i"; return 1; }
    done
    grep -q '^ExecStart=/opt/x/bin/patchfs-mount ' "$p/lib/systemd/system/patchfs@.service" &&
        grep -q '^PATCHFS=${PATCHFS:-/opt/x/bin/patchfs}$' "$p/bin/patchfs-mount" &&
        grep -q '^PATH=${PATH:+$PATH:}/opt/x/bin:' "$p/sbin/mount.fuse.patchfs" &&
        sh -n "$p/bin/patchfs-mount" && sh -n "$p/sbin/mount.fuse.patchfs" ||
        { echo "installed files do not point at /opt/x/bin"; return 1; }
    grep -q 'ln -s /opt/x/sbin/mount.fuse.patchfs /sbin/mount.fuse.patchfs' "$T/install.out" || { cat "$T/install.out"; return 1; }
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -C "$ROOT" -o patchfs install DESTDIR="$T/inst2" PREFIX=/usr >"$T/install.out" 2>&1 || { cat "$T/install.out"; return 1; }
    [ -f "$T/inst2/usr/sbin/mount.fuse.patchfs" ] && [ -f "$T/inst2/usr/lib/systemd/system/patchfs@.service" ] &&
        [ -z "$(find "$T/inst2" -mindepth 1 ! -type d ! -path "$T/inst2/usr/*")" ] && [ ! -s "$T/install.out" ] ||
        { find "$T/inst2"; cat "$T/install.out"; return 1; }
}
check "make install DESTDIR=... PREFIX=/opt/x installs only under DESTDIR/opt/x, pointing at /opt/x/bin" install_prefix

# ---------------------------------------------------------------- dataset, after
unmount_all
manifest "$DS" >"$T/manifest.after"
check "the dataset folder is unchanged (content, modes, mtimes, ctimes) after check, prepare, mounts and reads" \
    diff "$T/manifest.before" "$T/manifest.after"
if [ -d "$REAL_DS" ]; then
    "$PF" check "$REAL_DS" -o cache="$T/cache_real" >/dev/null 2>&1
    "$PF" prepare "$REAL_DS" -o cache="$T/cache_real" >/dev/null 2>&1
    "$PF" get "$REAL_DS" train/epoch_0/step_0/data.npy -o cache="$T/cache_real" >/dev/null 2>&1
    manifest "$REAL_DS" >"$T/real.after"
    check "real dataset $(basename "$REAL_DS") unchanged after check, prepare and get" \
        diff "$T/real.before" "$T/real.after"
else
    skip "real dataset unchanged ($REAL_DS is absent)"
fi
exit 0
