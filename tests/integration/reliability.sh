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
#   * concurrency: 16 processes pread random ranges of overlapping and distinct files of one
#     mount (small mem= so files are evicted and regenerated meanwhile), with direct_io (every
#     read reaches the daemon) and without; every byte equals `patchfs get`
#     (tests/integration/stress.py);
#   * mount tooling: mount(8) with type fuse.patchfs through mount-scripts/mount.fuse.patchfs
#     (command line and an fstab line; fstab-only words filtered; unknown options refused;
#     a stale mount cleared), and the systemd unit patchfs@.service (systemd-analyze verify,
#     then its ExecStart/ExecStop command lines run as systemd would run them);
#   * permissions: allow_other adds default_permissions (/proc/mounts) and lets another user
#     read, without it another user cannot; the cache is private (folders 0700, files 0600,
#     even under umask 000 and inside a world-readable cache= folder);
#   * read-only: every write-type system call on the mount fails with EROFS;
#   * corrupt cache entries are rebuilt under 16 concurrent readers, who only ever see the
#     original bytes; a full disk while building the cache is an error that leaves nothing
#     behind;
#   * containment: `patchfs get` paths with '..', absolute or dataset components reach nothing
#     outside the virtual tree;
#   * the dataset folder is byte-for-byte unchanged (content, modes, mtimes, ctimes) after
#     check, prepare, mounts and all the reads above (and a real dataset after check/prepare/get).
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
PF=${PF:-$ROOT/patchfs}
PY=${PY:-/usr/bin/python3}
REAL=${REAL:-$ROOT/../shared/data/real}
T=${T:-$(mktemp -d /tmp/patchfs-rel.XXXXXX)}
mkdir -p "$T"
export XDG_CACHE_HOME=$T/xdg
MOUNTS=()
HELPER_INSTALLED=""
OTHER=""
HELPER=/sbin/mount.fuse.patchfs

cleanup() {
    for m in "${MOUNTS[@]}"; do
        if mountpoint -q "$m" 2>/dev/null || ! stat "$m" >/dev/null 2>&1; then
            fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
        fi
    done
    [ -n "$HELPER_INSTALLED" ] && rm -f "$HELPER"
    [ -n "$OTHER" ] && rmdir "$OTHER"/* "$OTHER" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SUITE="reliability: "
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"


track() { mkdir -p "$1"; MOUNTS+=("$1"); }

# same_as_get DATASET MNT OPTS VPATH...: the mount serves exactly what `patchfs get` writes
same_as_get() {
    local ds=$1 mnt=$2 opts=$3 v
    shift 3
    for v in "$@"; do
        "$PF" get "$ds" "$v" -o "$opts" >"$T/get.bin" 2>"$T/get.err" || { cat "$T/get.err"; return 1; }
        cmp "$T/get.bin" "$mnt/$v" || { echo "differs: $v"; return 1; }
    done
}

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
if ! "$PY" tests/tools/make_dataset.py "$DS" --channels 2 --cases 6 --seed 5 >/dev/null; then
    bad "generate the test dataset"
    exit 1
fi
manifest "$DS" >"$T/manifest.before"
REAL_DS=$REAL/Dataset004_Hippocampus
[ -d "$REAL_DS" ] && manifest "$REAL_DS" >"$T/real.before"

OPTS="seed=3,batch=2,cache=$T/cache"
check "check and prepare succeed" bash -c "'$PF' check '$DS' -o '$OPTS' && '$PF' prepare '$DS' -o '$OPTS'"

# ---------------------------------------------------------------- concurrency
# direct_io: every read reaches the daemon (no page cache), with mem= far below the files in
# play, so generation, single-flight waits and LRU eviction run under 16 concurrent readers;
# then the default mount, where the kernel's page cache serves repeated reads
stress() { # stress NAME OPTS SECONDS
    local m=$T/mnt_stress_$1
    if ! pf_mount "$DS" "$m" "$2"; then
        bad "stress ($1): mounts"
        sed 's/^/    /' "$T/mount.err"
        return
    fi
    check "stress ($1): 16 processes pread random ranges of shared and own files; every byte equals patchfs get" \
        "$PY" tests/integration/stress.py "$PF" "$DS" "$m" "$2" --procs 16 --seconds "$3"
    sed -n 's/^stress: /    /p' "$T/out"
    check "stress ($1): the mount still serves afterwards" same_as_get "$DS" "$m" "$2" \
        train/epoch_0/step_0/data.npy val/epoch_3/step_1/seg.npy
    fusermount3 -u "$m"
}
stress direct_io "seed=3,batch=2,mem=2M,direct_io,cache=$T/cache" 20
stress page-cache "seed=3,batch=2,mem=2M,cache=$T/cache" 10

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

# ---------------------------------------------------------------- corrupt cache entries
# A corrupt entry is rebuilt from the sources the first time a case is used, and its original
# bytes are served (never the corrupt ones). Here every entry has a flipped image byte and 16
# processes read all cases at once through the mount (direct_io): each rebuild runs while the
# others wait, and every byte read equals `patchfs get` on a clean cache.
corrupt_entries() {
    local c=$T/cache_corrupt m=$T/mnt_corrupt f
    "$PF" prepare "$DS" -o "seed=3,cache=$c" >/dev/null 2>&1 || { echo "prepare failed"; return 1; }
    for f in "$c"/*/*.pfcase; do
        "$PY" -c "
import sys; f = open(sys.argv[1], 'r+b'); f.seek(4096 + 100); b = f.read(1); f.seek(4096 + 100)
f.write(bytes([b[0] ^ 0x55])); f.close()" "$f" || return 1
    done
    sha256sum "$c"/*/*.pfcase >"$T/corrupt.sums"
    pf_mount "$DS" "$m" "seed=3,batch=2,mem=2M,direct_io,cache=$c" || { cat "$T/mount.err"; return 1; }
    "$PY" tests/integration/stress.py "$PF" "$DS" "$m" "seed=3,batch=2,cache=$T/cache" \
        --procs 16 --seconds 10 || { fusermount3 -u "$m"; return 1; }
    fusermount3 -u "$m"
    # the corrupt entries are gone: each one was rewritten
    ! sha256sum -c "$T/corrupt.sums" 2>/dev/null | grep -q ': OK$' || {
        echo "some corrupt entries were not rebuilt:"
        sha256sum -c "$T/corrupt.sums" 2>/dev/null | grep ': OK$'
        return 1
    }
}
check "corrupt entries (all cases) under 16 concurrent readers: rebuilt, only original bytes served" \
    corrupt_entries
sed -n 's/^stress: /    /p' "$T/out"

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

# ---------------------------------------------------------------- dataset, after
for m in "${MOUNTS[@]}"; do mountpoint -q "$m" 2>/dev/null && fusermount3 -u "$m"; done
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
