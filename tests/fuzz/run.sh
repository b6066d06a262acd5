#!/usr/bin/env bash
# run.sh - runs the libFuzzer targets built by `make fuzz` / `make fuzz-smoke`.
#
#   bash tests/fuzz/run.sh SECONDS TARGET...      (TARGET: tree, options, dataset_json, nifti)
#
# For each target: first every reproducer in tests/fuzz/regressions/<target>/ is replayed
# (a bug that comes back fails at once), then the target fuzzes for SECONDS with the checked-in
# seeds (tests/fuzz/corpus/<target>/, read only) plus a working corpus in
# build/fuzz/corpus/<target>/ that grows across runs. A crash, leak, timeout (> 10 s for one
# input), out-of-memory (> 2 GiB resident) or sanitizer report stops that target; the input
# is saved as build/fuzz/artifacts/<target>-crash-<sha1> (copy it into
# tests/fuzz/regressions/<target>/ to keep it). Logs: build/fuzz/logs/<target>.log.
# Exits non-zero if any target failed. PF_FUZZ_SKIP_KNOWN=1 in the environment makes the
# targets skip inputs of the known open bugs kept in tests/fuzz/regressions/ (see the
# targets' comments), to look for other bugs while those are open.
set -u
cd "$(dirname "$0")/../.." || exit 1
secs=${1:?usage: run.sh SECONDS TARGET...}
shift
B=build/fuzz
mkdir -p "$B/artifacts" "$B/logs"
failed=""
# the lines of a log worth showing (libnifti prints its own "** ERROR" lines: not those)
pat='^==[0-9]+==ERROR|^SUMMARY|runtime error|Test unit written|^fuzz_[a-z_]+: |DEADLYSIGNAL'
# Big mallocs: patchfs accepts NIfTI headers up to PF_NIFTI_MAX_BYTES (32 GiB) and allocates
# what the header claims before reading the voxels, so libFuzzer's malloc limit is set above
# that (a claimed size is not a bug as such); resident memory stays capped at 2 GiB.
export ASAN_OPTIONS=${ASAN_OPTIONS:-allocator_may_return_null=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for t in "$@"; do
    bin=$B/fuzz_$t
    log=$B/logs/$t.log
    seeds=tests/fuzz/corpus/fuzz_$t
    regs=tests/fuzz/regressions/fuzz_$t
    work=$B/corpus/fuzz_$t
    dict=()
    [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
    mkdir -p "$work"
    : > "$log"
    # replay the kept reproducers one by one, so every one that still fails is named
    regfail=""
    for r in "$regs"/*; do
        [ -f "$r" ] || continue
        if ! "$bin" -rss_limit_mb=2048 -malloc_limit_mb=40960 -timeout=10 "$r" >>"$log" 2>&1; then
            regfail="$regfail $r"
        fi
    done 2>/dev/null
    if [ -n "$regfail" ]; then
        echo "fuzz_$t: FAILED - reproducers that still fail (see $log):"
        for r in $regfail; do echo "    $r"; done
        grep -aE "$pat" "$log" | grep -av DEADLYSIGNAL | head -6 | sed 's/^/    /'
        failed="$failed $t"
        continue
    fi
    start=$(date +%s)
    # PF_FUZZ_RUNS=N: a fixed number of runs from a fixed seed instead of a time budget, so a
    # CI run does the same work every time (a time budget makes CI's outcome vary with load)
    if [ -n "${PF_FUZZ_RUNS:-}" ]; then
        budget=(-runs="$PF_FUZZ_RUNS" -seed="${PF_FUZZ_SEED:-1}")
    else
        budget=(-max_total_time="$secs")
    fi
    "$bin" "${budget[@]}" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=40960 \
        -max_len=4096 -print_final_stats=1 -artifact_prefix="$B/artifacts/fuzz_$t-" \
        "${dict[@]}" "$work" "$seeds" >>"$log" 2>&1
    rc=$?
    end=$(date +%s)
    runs=$(grep -ao 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
    cov=$(grep -aoE 'cov: [0-9]+' "$log" | tail -1)
    if [ $rc = 0 ]; then
        echo "fuzz_$t: ok - ${runs:-?} runs in $((end - start)) s, ${cov:-cov: ?}, corpus $(find "$work" -type f | wc -l) files"
    else
        echo "fuzz_$t: FAILED (exit $rc) after $((end - start)) s - see $log"
        grep -aE "$pat" "$log" | head -8 | sed 's/^/    /'
        failed="$failed $t"
    fi
done
if [ -n "$failed" ]; then
    echo "fuzzing failed:$failed"
    exit 1
fi
