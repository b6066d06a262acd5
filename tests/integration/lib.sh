# lib.sh - what the integration suites share (sourced, not run): the prologue of a suite in a
# file of its own (suite_init), assertions, mounting and comparing with `patchfs get`.
# A suite sets SUITE (a prefix such as "examples: "), PF (./patchfs), T (its temp folder) and
# a MOUNTS array that its cleanup unmounts (suite_init does all of that); each assertion prints
# one line "ok - ...", "not ok - ..." (with the failing command's output indented) or "skip - ...".
PASS=${PASS:-0} FAIL=${FAIL:-0} SKIP=${SKIP:-0}
LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# suite_init NAME [CLEANUP]: the prologue of tests/integration/NAME.sh, run by run.sh or alone.
# Works from the checkout's root; PF, PY and REAL (made absolute: suites link to it) keep what
# the environment gives or default to the build, Debian's python3 and ../shared/data/real;
# T is the suite's temp folder (made, and removed on exit, when not given); XDG_CACHE_HOME is
# inside T; every line is prefixed "NAME: ". On exit (also after INT or TERM) every mountpoint
# in MOUNTS is unmounted (a stale one too), then the suite's CLEANUP function runs.
suite_init() {
    SUITE="$1: "
    SUITE_CLEANUP=${2:-}
    cd "$LIB_DIR/../.." || exit 1
    ROOT=$PWD
    PF=${PF:-$ROOT/patchfs}
    PY=${PY:-/usr/bin/python3}
    REAL=${REAL:-$ROOT/../shared/data/real}
    REAL=$(cd "$REAL" 2>/dev/null && pwd || echo "$REAL")
    SUITE_OWN_T=
    if [ -z "${T:-}" ]; then
        T=$(mktemp -d "/tmp/patchfs-$1.XXXXXX") || exit 1
        SUITE_OWN_T=1
    fi
    mkdir -p "$T"
    export XDG_CACHE_HOME=$T/xdg
    MOUNTS=()
    trap suite_cleanup EXIT
    trap 'exit 130' INT TERM
}

suite_cleanup() {
    local m
    for m in "${MOUNTS[@]+"${MOUNTS[@]}"}"; do
        # a mount whose daemon died fails stat ("Transport endpoint is not connected")
        if mountpoint -q "$m" 2>/dev/null || ! stat "$m" >/dev/null 2>&1; then
            fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
        fi
    done
    [ -n "$SUITE_CLEANUP" ] && "$SUITE_CLEANUP"
    [ -n "$SUITE_OWN_T" ] && rm -rf --one-file-system "$T"
    return 0
}

ok() { PASS=$((PASS + 1)); echo "ok - ${SUITE:-}$*"; }
bad() { FAIL=$((FAIL + 1)); echo "not ok - ${SUITE:-}$*"; }
skip() { SKIP=$((SKIP + 1)); echo "skip - ${SUITE:-}$*"; }

# check NAME CMD...: one assertion; the command's output is shown only when it fails
check() {
    local name=$1
    shift
    if "$@" >"$T/out" 2>&1; then ok "$name"; else bad "$name"; sed 's/^/    /' "$T/out" | tail -25; fi
}

# gen FOLDER ARGS...: a generated dataset (tests/tools/make_dataset.py)
gen() { "$PY" "$ROOT/tests/tools/make_dataset.py" "$@" >/dev/null; }

# pf_mount DATASET MNT OPTS: mount (patchfs returns once the mount serves)
pf_mount() {
    mkdir -p "$2"
    MOUNTS+=("$2")
    "$PF" "$1" "$2" -o "$3" 2>"$T/mount.err" || { cat "$T/mount.err"; return 1; }
    mountpoint -q "$2"
}

# unmount_all: unmounts every live mountpoint of MOUNTS (before checking what the reads left)
unmount_all() {
    local m
    for m in "${MOUNTS[@]+"${MOUNTS[@]}"}"; do mountpoint -q "$m" 2>/dev/null && fusermount3 -u "$m"; done
    return 0
}

# same_as_get DATASET MNT OPTS VPATH...: the mount serves exactly what `patchfs get` writes,
# with the size stat gives
same_as_get() {
    local ds=$1 mnt=$2 opts=$3 v
    shift 3
    for v in "$@"; do
        "$PF" get "$ds" "$v" -o "$opts" >"$T/get.bin" 2>"$T/get.err" || { cat "$T/get.err"; return 1; }
        cmp "$T/get.bin" "$mnt/$v" || { echo "differs: $v"; return 1; }
        [ "$(stat -c %s "$mnt/$v")" = "$(stat -c %s "$T/get.bin")" ] || { echo "stat size: $v"; return 1; }
    done
}
