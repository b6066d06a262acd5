#!/usr/bin/env bash
# concurrency.sh - concurrent readers, and cache entries that are corrupt or fail under them;
# run by tests/integration/run.sh (or alone), and by `make test-tsan` with ThreadSanitizer:
#
#   PF=./patchfs PY=/usr/bin/python3 T=$(mktemp -d) bash tests/integration/concurrency.sh
#
# One line per assertion: "ok - concurrency: ...", "not ok - concurrency: ..." (details
# indented below) or "skip - concurrency: ... (reason)". Needs root and FUSE. Everything it
# mounts is unmounted on exit. PF_STRESS_SECONDS sets the length of each stress run (20 s for
# the first, 10 s for the others by default). Every stress run serves seed=3,batch=2: the
# expected bytes are made once (stress.py --refs).
#
#   * 16 processes pread random ranges of overlapping and distinct files of one mount (small
#     mem= so files are evicted and regenerated meanwhile), with direct_io (every read reaches
#     the daemon) and without; every byte equals `patchfs get` (tests/integration/stress.py);
#   * corrupt cache entries are rebuilt under 16 concurrent readers, who only ever see the
#     original bytes;
#   * an entry truncated while mounted, or with a failing sector (tests/tools/faultfs.c), gives
#     EIO to the read that meets it (logged, counted in status.json), the daemon lives, and the
#     next read rebuilds it; the same with entries truncated again and again under 16 readers;
#     summary.json, preview.png and a sample's NIfTI (the files for looking) too;
#   * the dataset folder is unchanged afterwards.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
FAULTFS_PID=""
stop_faultfs() { [ -z "$FAULTFS_PID" ] || kill "$FAULTFS_PID" 2>/dev/null; }
suite_init concurrency stop_faultfs
SECONDS_LONG=${PF_STRESS_SECONDS:-20}
SECONDS_SHORT=${PF_STRESS_SECONDS:-10}

if [ "$(id -u)" != 0 ] || [ ! -e /dev/fuse ]; then
    skip "all (needs root and /dev/fuse)"
    exit 0
fi

DS=$T/ds
if ! gen "$DS" --channels 2 --cases 6 --seed 5; then
    bad "generate the test dataset"
    exit 1
fi
(cd "$DS" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >"$T/ds.before"
check "prepare succeeds" "$PF" prepare "$DS" -o "seed=3,batch=2,cache=$T/cache"

# copy_cache DEST: a cache of its own for a test that damages it, a copy of the one prepared
# above (preparing again is slow under a sanitizer)
copy_cache() {
    rm -rf "$1"
    cp -a "$T/cache" "$1"
}

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
        "$PY" tests/integration/stress.py "$PF" "$DS" "$m" "$2" --procs 16 --seconds "$3" --refs "$T/refs"
    sed -n 's/^stress: /    /p' "$T/out"
    check "stress ($1): the mount still serves afterwards" same_as_get "$DS" "$m" "$2" \
        train/epoch_0/step_0/data.npy val/epoch_3/step_1/seg.npy
    fusermount3 -u "$m"
}
stress direct_io "seed=3,batch=2,mem=2M,direct_io,cache=$T/cache" "$SECONDS_LONG"
stress page-cache "seed=3,batch=2,mem=2M,cache=$T/cache" "$SECONDS_SHORT"

# ---------------------------------------------------------------- corrupt cache entries
# A corrupt entry is rebuilt from the sources the first time a case is used, and its original
# bytes are served (never the corrupt ones). Here every entry has a flipped image byte (the
# middle of the file: the header and metadata still check, so the entry opens) and 16
# processes read all cases at once through the mount (direct_io): each rebuild runs while the
# others sample and wait, and every byte read equals `patchfs get` on a clean cache.
corrupt_entries() {
    local c=$T/cache_corrupt m=$T/mnt_corrupt f
    copy_cache "$c" || return 1
    for f in "$c"/*/*.pfcase; do
        "$PY" -c "
import os, sys; f = open(sys.argv[1], 'r+b'); at = os.path.getsize(sys.argv[1]) // 2
f.seek(at); b = f.read(1); f.seek(at); f.write(bytes([b[0] ^ 0x55])); f.close()" "$f" || return 1
    done
    sha256sum "$c"/*/*.pfcase >"$T/corrupt.sums"
    pf_mount "$DS" "$m" "seed=3,batch=2,mem=2M,direct_io,cache=$c" || { cat "$T/mount.err"; return 1; }
    "$PY" tests/integration/stress.py "$PF" "$DS" "$m" "seed=3,batch=2,cache=$T/cache" \
        --procs 16 --seconds "$SECONDS_SHORT" --refs "$T/refs" || { fusermount3 -u "$m"; return 1; }
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

# ---------------------------------------------------------------- entries failing while mounted
# A cache entry truncated (or a sector of it failing) while mounted used to kill the daemon
# (SIGBUS on the mapping; every reader then got "Transport endpoint is not connected"). Now
# the read that meets it gets EIO, the error is logged and counted, and the next read
# rebuilds the entry and serves the right bytes.
truncated_entry() {
    local c=$T/cache_trunc m=$T/mnt_trunc entry size
    copy_cache "$c" || return 1
    rm -f "$T/trunc.log"
    pf_mount "$DS" "$m" "seed=3,batch=2,direct_io,cache=$c,log=$T/trunc.log" || { cat "$T/mount.err"; return 1; }
    cat "$m/cases/case_002/data.npy" >/dev/null || return 1 # the entry is mapped and in use
    entry=$(echo "$c"/*/case_002.*.pfcase)
    size=$(stat -c %s "$entry")
    truncate -s 8192 "$entry"
    if cat "$m/cases/case_002/seg.npy" >/dev/null 2>"$T/trunc.err"; then echo "the read succeeded"; return 1; fi
    grep -q "Input/output error" "$T/trunc.err" || { cat "$T/trunc.err"; return 1; }
    grep -q "error: cases/case_002/seg\.npy: read: $entry: cache entry of case case_002 failed while mapped" "$T/trunc.log" ||
        { echo "log:"; cat "$T/trunc.log"; return 1; }
    "$PY" -c "
import json, sys; s = json.load(open(sys.argv[1]))
assert s['errors'] == 1 and s['errors_io'] == 1, s" "$m/status.json" || return 1
    # the next read rebuilds the entry: the right bytes, the file whole again
    cmp <("$PF" get "$DS" cases/case_002/seg.npy -o "seed=3,cache=$T/cache") "$m/cases/case_002/seg.npy" || return 1
    [ "$(stat -c %s "$entry")" = "$size" ] || { echo "the entry was not rebuilt"; return 1; }
    # a step's arrays and its stored locations: all truncated to the header, then read
    for entry in "$c"/*/*.pfcase; do truncate -s 8192 "$entry"; done
    for v in train/epoch_0/step_0/data.npy train/epoch_0/step_0/seg.npy val/epoch_1/step_0/data.npy; do
        for _ in 1 2 3 4 5 6 7; do cat "$m/$v" >/dev/null 2>&1 && break; done
        cmp <("$PF" get "$DS" "$v" -o "seed=3,batch=2,cache=$T/cache") "$m/$v" || { echo "differs: $v"; return 1; }
    done
    fusermount3 -u "$m"
}
check "a cache entry truncated while mounted: that read gets EIO, logged and counted in errors_io; the daemon lives; the next read rebuilds it and serves the right bytes" \
    truncated_entry

# The files read for looking (summary.json from the stored locations, preview.png and a
# sample's NIfTI) bracket their reads as the renderer does: an entry truncated while mounted
# fails the read that meets it (EIO; never zeros counted or drawn), the next reads rebuild it.
truncated_inspect() {
    local c=$T/cache_trunc_inspect m=$T/mnt_trunc_inspect o="seed=3,batch=2" entry v ok
    copy_cache "$c" || return 1
    rm -f "$T/trunc_i.log"
    pf_mount "$DS" "$m" "$o,direct_io,cache=$c,log=$T/trunc_i.log" || { cat "$T/mount.err"; return 1; }
    cat "$m/train/epoch_0/step_0/data.npy" >/dev/null || return 1 # the entries are mapped
    for entry in "$c"/*/*.pfcase; do truncate -s 8192 "$entry"; done
    if cat "$m/train/epoch_1/summary.json" >/dev/null 2>"$T/trunc_i.err"; then
        echo "summary.json was served from truncated entries"; return 1
    fi
    grep -q "Input/output error" "$T/trunc_i.err" || { cat "$T/trunc_i.err"; return 1; }
    grep -Eq "error: train/epoch_1/summary\.json: (size|read): .*: cache entry of case .* failed while mapped" "$T/trunc_i.log" ||
        { echo "log:"; cat "$T/trunc_i.log"; return 1; }
    for v in train/epoch_1/summary.json val/epoch_2/summary.json train/epoch_0/step_3/preview.png \
        cases/case_001/preview.png train/epoch_0/step_3/sample_1/image.nii.gz \
        train/epoch_0/step_3/sample_0/label.nii.gz; do
        [ "$v" = cases/case_001/preview.png ] && truncate -s 8192 "$c"/*/case_001.*.pfcase
        ok=
        for _ in 1 2 3 4 5 6 7; do cat "$m/$v" >/dev/null 2>&1 && ok=1 && break; done
        [ -n "$ok" ] || { echo "never served: $v"; return 1; }
        cmp <("$PF" get "$DS" "$v" -o "$o,cache=$T/cache") "$m/$v" || { echo "differs: $v"; return 1; }
    done
    fusermount3 -u "$m"
}
check "summary.json, preview.png and a sample's NIfTI over entries truncated while mounted: EIO (logged), then rebuilt and the right bytes" \
    truncated_inspect

# a failing sector: the cache folder served through tests/tools/faultfs.c, a passthrough FUSE
# file system whose reads of a chosen entry fail with EIO while a control file names it. The
# entry's pages are dropped from the page cache, so the next read of the mapping reaches the
# "disk": that read gets EIO (logged, counted), the daemon lives; with the sector back, the
# next read rebuilds the entry and serves the right bytes
failing_sector() {
    local b=$T/ff_backing f=$T/ff_mnt m=$T/mnt_ff ctl=$T/ff.ctl entry
    cc -O2 -o "$T/faultfs" tests/tools/faultfs.c $(pkg-config --cflags --libs fuse3) || return 1
    mkdir -p "$b" "$f"
    copy_cache "$b" || return 1
    rm -f "$ctl" "$T/ff.log"
    "$T/faultfs" "$b" "$f" "$ctl" -f 2>/dev/null &
    FAULTFS_PID=$!
    MOUNTS+=("$f")
    for _ in $(seq 100); do mountpoint -q "$f" && break; sleep 0.05; done
    pf_mount "$DS" "$m" "seed=3,batch=2,direct_io,cache=$f,log=$T/ff.log" || { cat "$T/mount.err"; return 1; }
    cat "$m/cases/case_003/data.npy" >/dev/null || return 1 # checked, mapped and in use
    entry=$(echo "$f"/*/case_003.*.pfcase)
    echo case_003 >"$ctl"
    "$PY" -c "
import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)" "$entry"
    if cat "$m/cases/case_003/seg.npy" >/dev/null 2>"$T/ff.err"; then echo "the read succeeded"; return 1; fi
    grep -q "Input/output error" "$T/ff.err" || { cat "$T/ff.err"; return 1; }
    grep -q "error: cases/case_003/seg\.npy: read: .*case_003.* failed while mapped" "$T/ff.log" ||
        { echo "log:"; cat "$T/ff.log"; return 1; }
    "$PY" -c "
import json, sys; s = json.load(open(sys.argv[1]))
assert s['errors'] == 1 and s['errors_io'] == 1, s" "$m/status.json" || return 1
    rm -f "$ctl"
    cmp <("$PF" get "$DS" cases/case_003/seg.npy -o "seed=3,cache=$T/cache") "$m/cases/case_003/seg.npy" || return 1
    fusermount3 -u "$m"
    # the daemon unmaps the entries as it exits, just after the unmount returns: until then
    # the faultfs mount is busy
    for _ in $(seq 300); do fusermount3 -u "$f" 2>/dev/null && break; sleep 0.1; done
    if mountpoint -q "$f"; then
        echo "the faultfs mount stayed busy"
        return 1
    fi
    wait "$FAULTFS_PID"
    FAULTFS_PID=""
}
check "a sector of a cache entry failing while mounted (faultfs): that read gets EIO, logged and counted; the daemon lives; the next read rebuilds it" \
    failing_sector

# 16 readers while entries are truncated to random sizes again and again: reads give EIO or
# the right bytes, never others; the daemon lives; afterwards every file is served again
truncation_stress() {
    local c=$T/cache_trunc2 m=$T/mnt_trunc2 o="seed=3,batch=2,mem=2M,direct_io"
    copy_cache "$c" || return 1
    pf_mount "$DS" "$m" "$o,cache=$c" || { cat "$T/mount.err"; return 1; }
    "$PY" tests/integration/stress.py "$PF" "$DS" "$m" "$o,cache=$T/cache" --procs 16 \
        --seconds "$SECONDS_SHORT" --truncate "$c" --refs "$T/refs" || { fusermount3 -u "$m"; return 1; }
    "$PY" -c "
import json, sys; s = json.load(open(sys.argv[1]))
assert s['errors'] == s['errors_io'], s
print('    status.json: errors_io', s['errors_io'])" "$m/status.json" || return 1
    fusermount3 -u "$m"
}
check "cache entries truncated again and again under 16 concurrent readers: EIO or the right bytes, the daemon lives, then every file served again" \
    truncation_stress
sed -n 's/^stress: /    /p; s/^    status.json/    status.json/p' "$T/out"

# ---------------------------------------------------------------- dataset, after
unmount_all
check "the dataset folder is unchanged after the reads and rebuilds above" \
    bash -c "cd '$DS' && sha256sum --quiet -c '$T/ds.before'"
exit 0
