# lib.sh - assertion and mount helpers shared by the integration suites (sourced, not run).
# A suite sets SUITE (a prefix such as "examples: "), PF (./patchfs), T (its temp folder) and
# a MOUNTS array that its cleanup unmounts; each assertion prints one line
# "ok - ...", "not ok - ..." (with the failing command's output indented) or "skip - ...".
PASS=${PASS:-0} FAIL=${FAIL:-0} SKIP=${SKIP:-0}

ok() { PASS=$((PASS + 1)); echo "ok - ${SUITE:-}$*"; }
bad() { FAIL=$((FAIL + 1)); echo "not ok - ${SUITE:-}$*"; }
skip() { SKIP=$((SKIP + 1)); echo "skip - ${SUITE:-}$*"; }

# check NAME CMD...: one assertion; the command's output is shown only when it fails
check() {
    local name=$1
    shift
    if "$@" >"$T/out" 2>&1; then ok "$name"; else bad "$name"; sed 's/^/    /' "$T/out" | tail -25; fi
}

# pf_mount DATASET MNT OPTS: mount (patchfs returns once the mount serves)
pf_mount() {
    mkdir -p "$2"
    MOUNTS+=("$2")
    "$PF" "$1" "$2" -o "$3" 2>"$T/mount.err" || { cat "$T/mount.err"; return 1; }
    mountpoint -q "$2"
}
