#!/usr/bin/env bash
# python.sh - the Python package (python/, issue 18), run by tests/integration/run.sh or alone:
#
#   PF=./patchfs PY=/usr/bin/python3 T=$(mktemp -d) bash tests/integration/python.sh
#
#   * it installs offline, as python/README.md says: a venv made with --system-site-packages
#     (Debian's numpy and torch), then pip install --no-index --no-build-isolation (the build
#     backend is Debian's setuptools; nothing comes from a package index);
#   * its pytest tests (python/tests: mount and unmount, also on exceptions; arrays equal
#     `patchfs get`; DataLoader with 0 and 2 workers; resume; fingerprints; every bad input)
#     pass against the installed package, one "ok - python: FILE::TEST" line per test;
#   * a part of them pass from the source tree too (PYTHONPATH=python);
#   * no patchfs mount of these tests is left in /proc/mounts, and no daemon.
# Every temporary mountpoint is made under $T (TMPDIR), so the last check sees all of them.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
suite_init python
mkdir -p "$T/tmp"
export PATCHFS=$PF TMPDIR=$T/tmp PYTHONDONTWRITEBYTECODE=1

if ! "$PY" -m pytest --version >/dev/null 2>&1; then
    skip "the package's pytest tests (pytest is not installed: make deps installs python3-pytest)"
    exit 0
fi

# pytest_lines LOG: one ok / not ok / skip line per test of a `pytest -v -rs` log
pytest_lines() {
    local log=$1
    while read -r id verdict rest; do
        case $verdict in
        PASSED | XFAIL) ok "${id#python/tests/}" ;;
        FAILED | ERROR | XPASS) bad "${id#python/tests/}" ;;
        SKIPPED) skip "${id#python/tests/} ${rest% \[*}" ;;
        esac
    done < <(grep -E '^python/tests/\S+ (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)' "$log")
    # errors at setup or teardown (a mount left behind) are lines of their own
    grep -E '^ERROR python/tests/' "$log" | while read -r _ id _; do echo "not ok - ${SUITE}${id#python/tests/} (setup or teardown)"; done
}

run_pytest() { # NAME PYTHON PYTEST-ARGS...: run, report, show the log's end when it failed
    local name=$1 py=$2
    shift 2
    "$py" -m pytest -v -rs -p no:cacheprovider --basetemp="$T/pytest_$name" "$@" > "$T/$name.log" 2>&1
    local rc=$?
    pytest_lines "$T/$name.log"
    if [ $rc != 0 ]; then
        grep -q '^not ok' <(pytest_lines "$T/$name.log") || bad "pytest ($name) exited with status $rc"
        tail -60 "$T/$name.log" | sed 's/^/    /'
    fi
    grep -E '^=+ .*(passed|failed|skipped).* =+$' "$T/$name.log" | tail -1 | sed "s/^/# $name: /"
}

# ---------------------------------------------------------------- offline install
# (from a copy, so the build leaves nothing in the checkout)
mkdir -p "$T/src"
cp -r python/pyproject.toml python/README.md python/patchfs "$T/src/"
install_offline() {
    "$PY" -m venv --system-site-packages "$T/venv" &&
        "$T/venv/bin/pip" install --no-index --no-build-isolation "$T/src"
}
check "installs offline: venv --system-site-packages, pip install --no-index --no-build-isolation ./python" install_offline
if [ -x "$T/venv/bin/python" ] && (cd "$T" && "$T/venv/bin/python" -c "import patchfs") 2>/dev/null; then
    check "the venv imports the installed package (not the checkout), torch part included when torch is there" bash -c "
        cd '$T' && '$T/venv/bin/python' -c '
import importlib.util, patchfs
assert patchfs.__file__.startswith(\"$T/venv/\"), patchfs.__file__
if importlib.util.find_spec(\"torch\"):
    import patchfs.torch
print(patchfs.__file__)'"
    # ------------------------------------------------------------ the tests, installed
    run_pytest installed "$T/venv/bin/python" python/tests
else
    bad "the package imports in the venv (the install failed: tests run from the source tree)"
    PYTHONPATH=$ROOT/python run_pytest source "$PY" python/tests
fi

# ---------------------------------------------------------------- from the source tree
PYTHONPATH=$ROOT/python run_pytest source "$PY" python/tests/test_mount.py \
    -k "arrays_equal or unmounts_on_exception or step_out_of_range"

# ---------------------------------------------------------------- nothing left behind
check "no patchfs mount of these tests is left in /proc/mounts" bash -c "! grep -F ' $T/' /proc/mounts"
# a daemon's command line is PF DATASET MOUNTPOINT --options..., its mountpoint under $T
no_daemon_left() {
    local f left=""
    for f in /proc/[0-9]*/cmdline; do
        tr '\0' ' ' < "$f" 2>/dev/null | grep -q "^$PF .* $T/" && left="$left $f"
    done
    [ -z "$left" ] || { echo "left:$left"; return 1; }
}
check "no patchfs daemon of these tests is left" no_daemon_left
