#!/usr/bin/env bash
# distributed.sh - preprocessing on many machines (docs/distributed.md): `patchfs prepare -o
# shard=R/W` builders sharing one cache folder, run by tests/integration/run.sh or alone:
#
#   PF=./patchfs PY=/usr/bin/python3 T=$(mktemp -d) bash tests/integration/distributed.sh
#
# One line per assertion: "ok - distributed: ...", "not ok - distributed: ...".
#
#   * a shard whose dataset fingerprint entry is missing is refused, naming what to run, and
#     writes nothing; after a source changes, the entry is stale and the shard is refused again;
#   * after the fingerprint pass (`patchfs plan`), two shards run at the same time on one cache
#     folder, the second under another host name (a UTS namespace: `unshare -u`, as root);
#     together they build every entry once, byte-identical to a single-machine prepare, and
#     leave no temporary; `get` and a FUSE mount over that cache then serve the bytes of the
#     single-machine cache and build nothing;
#   * the temporaries rule: a builder removes a temporary of its own host whose PID is dead,
#     never one named for another host (dead PID or not), nor a live one; under that other
#     host name, the other one is removed.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
suite_init distributed

# the entries of a cache folder: name and content digest, sorted
entry_sums() { (cd "$1" && find . -name '*.pfcase' -printf '%f\n' | LC_ALL=C sort | while read -r f; do
    printf '%s %s\n' "$f" "$(find . -name "$f" -exec sha256sum {} + | cut -d' ' -f1)"; done); }
temporaries() { find "$1" -name '*.tmp.*' 2>/dev/null; }
export -f entry_sums temporaries

# runs its arguments under another host name when it can (root, util-linux unshare)
OTHER_HOST=builder-b
other_host() { unshare -u sh -c "hostname $OTHER_HOST && exec \"\$@\"" sh "$@"; }
if [ "$(id -u)" = 0 ] && unshare -u true 2>/dev/null; then CAN_UTS=1; else CAN_UTS=0; fi
HOST_TAG=$(hostname | sed 's/[^A-Za-z0-9-]/_/g')

DS=$T/ds
gen "$DS" --channels 2 --dtype int16 --cases 9 --seed 11
C=$T/shared_cache
REF=$T/single_cache

# ---------------------------------------------------------------- the fingerprint comes first
"$PF" prepare "$DS" -o cache="$C",shard=0/2 >"$T/nofp.out" 2>"$T/nofp.err"
rc=$?
check "a shard without the dataset's fingerprint entry is refused, naming the pass to run" bash -c "
    [ $rc != 0 ] && grep -q \"fingerprint entry is missing\" '$T/nofp.err' &&
    grep -q \"run the fingerprint pass first, once: 'patchfs plan -o cache=$C\" '$T/nofp.err' &&
    grep -q 'docs/distributed.md' '$T/nofp.err' || { cat '$T/nofp.err'; exit 1; }"
check "the refused shard wrote nothing (no entry, no fingerprint record, no temporary)" bash -c "
    [ -z \"\$(find '$C' -type f 2>/dev/null)\" ]"

check "the fingerprint pass (patchfs plan) stores the dataset's fingerprint entry" bash -c "
    '$PF' plan '$DS' -o cache='$C' >/dev/null 2>'$T/plan.err' &&
    [ \$(find '$C' -path '*/fingerprint/dataset.*.pffpset' | wc -l) = 1 ] &&
    [ -z \"\$(find '$C' -name '*.pfcase')\" ] || { cat '$T/plan.err'; exit 1; }"

# ---------------------------------------------------------------- two builders, two hosts
"$PF" prepare "$DS" -o cache="$REF" >/dev/null 2>"$T/ref.err" || { cat "$T/ref.err"; }
"$PF" prepare "$DS" -o cache="$C",shard=0/2,threads=1 >"$T/s0.out" 2>"$T/s0.err" &
p0=$!
if [ $CAN_UTS = 1 ]; then
    other_host "$PF" prepare "$DS" -o cache="$C",shard=1/2,threads=1 >"$T/s1.out" 2>"$T/s1.err" &
else
    "$PF" prepare "$DS" -o cache="$C",shard=1/2,threads=1 >"$T/s1.out" 2>"$T/s1.err" &
fi
p1=$!
wait $p0; rc0=$?
wait $p1; rc1=$?
check "two concurrent shards succeed, each building its own share (5 and 4 of 9 cases)" bash -c "
    [ $rc0 = 0 ] && [ $rc1 = 0 ] &&
    grep -q 'shard 0/2 ready: 5 of 9 cases are this shard.s, 5 built' '$T/s0.err' &&
    grep -q 'shard 1/2 ready: 4 of 9 cases are this shard.s, 4 built' '$T/s1.err' ||
    { cat '$T/s0.err' '$T/s1.err'; exit 1; }"
if [ $CAN_UTS = 1 ]; then
    ok "the second shard ran under another host name ($OTHER_HOST)"
else
    skip "the second shard under another host name needs root and unshare -u (both ran on this host)"
fi
check "the shards' entries are the single-machine prepare's, byte for byte; no temporary left" bash -c "
    a=\$(entry_sums '$C'); b=\$(entry_sums '$REF'); [ -n \"\$a\" ] && [ \"\$a\" = \"\$b\" ] &&
    [ \$(echo \"\$a\" | wc -l) = 9 ] && [ -z \"\$(temporaries '$C')\" ] || { diff <(echo \"\$a\") <(echo \"\$b\"); temporaries '$C'; exit 1; }"

touch "$T/marker"
sleep 0.05
FILES="train/epoch_0/step_0/data.npy train/epoch_0/step_0/seg.npy train/epoch_3/step_5/meta.json
val/epoch_1/step_2/data.npy cases/case_004/data.npy cases/case_004/seg.npy patchfs.json"
same_as_single() {
    for f in $FILES; do
        a=$("$PF" get "$DS" "$f" -o "seed=3,cache=$C" 2>"$T/get.err" | sha256sum) || { cat "$T/get.err"; return 1; }
        b=$("$PF" get "$DS" "$f" -o "seed=3,cache=$REF" 2>/dev/null | sha256sum)
        [ "$a" = "$b" ] || { echo "$f differs"; return 1; }
    done
}
check "get over the shards' cache serves the single-machine cache's bytes" same_as_single
check "... and built nothing (no file of the cache folder changed)" bash -c "
    [ -z \"\$(find '$C' -newer '$T/marker' -type f)\" ] || { find '$C' -newer '$T/marker'; exit 1; }"
M=$T/mnt
if pf_mount "$DS" "$M" "seed=3,cache=$C"; then
    mount_same() {
        for f in $FILES; do
            cmp "$M/$f" <("$PF" get "$DS" "$f" -o "seed=3,cache=$REF" 2>/dev/null) || return 1
        done
    }
    check "a mount over the shards' cache serves the single-machine cache's bytes, building nothing" bash -c "
        $(declare -f mount_same); FILES='$FILES' M='$M' PF='$PF' DS='$DS' REF='$REF' mount_same &&
        [ -z \"\$(find '$C' -newer '$T/marker' -type f)\" ]"
    fusermount3 -u "$M"
else
    bad "a mount over the shards' cache"
    sed 's/^/    /' "$T/mount.err"
fi

# ---------------------------------------------------------------- a stale fingerprint
sleep 0.01
touch "$DS/imagesTr/case_002_0000.nii.gz"
before=$(find "$C" -type f | LC_ALL=C sort)
"$PF" prepare "$DS" -o cache="$C",shard=1/2 >/dev/null 2>"$T/stale.err"
rc=$?
check "after a source changed, a shard is refused: its fingerprint entry is stale; nothing written" bash -c "
    [ $rc != 0 ] && grep -q 'fingerprint entry is stale' '$T/stale.err' &&
    [ \"\$(find '$C' -type f | LC_ALL=C sort)\" = '$before' ] || { cat '$T/stale.err'; exit 1; }"
check "a new fingerprint pass makes the shards work again (case_002's entry rebuilt by its shard)" bash -c "
    '$PF' plan '$DS' -o cache='$C' >/dev/null 2>&1 &&
    '$PF' prepare '$DS' -o cache='$C',shard=0/2 2>&1 | grep -q 'shard 0/2 ready: 5 of 9 cases are this shard.s, 1 built' &&
    '$PF' prepare '$DS' -o cache='$C',shard=1/2 2>&1 | grep -q 'shard 1/2 ready: 4 of 9 cases are this shard.s, 0 built'"

# ---------------------------------------------------------------- a damaged fingerprint entry
set_file=$(find "$C" -path '*/fingerprint/dataset.*.pffpset' -newer "$T/marker" | head -1)
printf 'X' | dd of="$set_file" bs=1 seek=200 conv=notrunc status=none
"$PF" prepare "$DS" -o cache="$C",shard=0/2 >/dev/null 2>"$T/damaged.err"
rc=$?
check "a damaged fingerprint entry is never used: the shard is refused" bash -c "
    [ $rc != 0 ] && grep -q 'fingerprint entry is stale' '$T/damaged.err' || { cat '$T/damaged.err'; exit 1; }"
check "get rewrites it from the cases' records and serves the single-machine bytes; then the shard works" bash -c "
    a=\$('$PF' get '$DS' train/epoch_0/step_0/data.npy -o seed=3,cache='$C' | sha256sum) &&
    b=\$('$PF' get '$DS' train/epoch_0/step_0/data.npy -o seed=3,cache='$REF' | sha256sum) && [ \"\$a\" = \"\$b\" ] &&
    '$PF' prepare '$DS' -o cache='$C',shard=0/2 2>&1 | grep -q 'shard 0/2 ready: 5 of 9 cases are this shard.s, 0 built'"

# ---------------------------------------------------------------- temporaries and hosts
dir=$(dirname "$(find "$C" -name '*.pfcase' | head -1)")
DEAD=2147483646 # above any pid_max: no such process
mine="$dir/case_000.0123456789abcdef.0123456789abcdef.pfcase.tmp.$HOST_TAG.$DEAD.AbCdEf"
live="$dir/case_001.0123456789abcdef.0123456789abcdef.pfcase.tmp.$HOST_TAG.$$.AbCdEf"
theirs="$dir/case_002.0123456789abcdef.0123456789abcdef.pfcase.tmp.$OTHER_HOST.$DEAD.AbCdEf"
theirs_live="$dir/case_003.0123456789abcdef.0123456789abcdef.pfcase.tmp.$OTHER_HOST.$$.AbCdEf"
for f in "$mine" "$live" "$theirs" "$theirs_live"; do echo partial >"$f"; done
"$PF" prepare "$DS" -o cache="$C",shard=0/2 >/dev/null 2>&1
check "a builder removes its own host's temporary of a dead PID, keeps a live one" bash -c "
    [ ! -e '$mine' ] && [ -e '$live' ]"
check "a builder keeps temporaries named for another host, whatever their PID" bash -c "
    [ -e '$theirs' ] && [ -e '$theirs_live' ]"
check "gc keeps another host's temporaries too" bash -c "
    '$PF' gc '$DS' -o cache='$C' >/dev/null 2>&1 && [ -e '$theirs' ] && [ -e '$theirs_live' ] && [ -e '$live' ]"
if [ $CAN_UTS = 1 ]; then
    check "a builder on that other host removes its dead temporary (and keeps this host's live one)" bash -c "
        $(declare -f other_host); OTHER_HOST=$OTHER_HOST other_host '$PF' prepare '$DS' -o cache='$C',shard=1/2 >/dev/null 2>&1 &&
        [ ! -e '$theirs' ] && [ -e '$live' ]"
else
    skip "a builder under another host name needs root and unshare -u"
fi
rm -f "$live" "$theirs_live"

# ---------------------------------------------------------------- skip_bad
# a case without its label and one with a truncated image: the fingerprint pass and the
# shards set both aside alike, and a mount's view then builds nothing
BD=$T/ds_bad
cp -r "$DS" "$BD"
rm "$BD/labelsTr/case_004.nii.gz"
head -c 300 "$DS/imagesTr/case_007_0000.nii.gz" >"$BD/imagesTr/case_007_0000.nii.gz"
BC=$T/bad_cache
check "skip_bad: the fingerprint pass and two shards set the bad cases aside; get then builds nothing" bash -c "
    '$PF' plan '$BD' -o cache='$BC',skip_bad >/dev/null 2>'$T/bp.err' &&
    '$PF' prepare '$BD' -o cache='$BC',skip_bad,shard=0/2 2>'$T/b0.err' &&
    '$PF' prepare '$BD' -o cache='$BC',skip_bad,shard=1/2 2>'$T/b1.err' &&
    grep -q 'shard 0/2 ready: 4 of 8 cases are this shard.s, 3 built (skip_bad set some aside)' '$T/b0.err' &&
    grep -q 'shard 1/2 ready: 4 of 8 cases are this shard.s, 4 built' '$T/b1.err' &&
    touch '$T/bmarker' && sleep 0.05 &&
    '$PF' get '$BD' patchfs.json -o cache='$BC',skip_bad 2>/dev/null >'$T/bpf.json' &&
    '$PY' -c \"import json; j = json.load(open('$T/bpf.json')); assert [s['id'] for s in j['skipped']] == ['case_004', 'case_007'], j['skipped']; assert len(j['cases']) == 7\" &&
    [ -z \"\$(find '$BC' -newer '$T/bmarker' -type f)\" ] || { cat '$T'/bp.err '$T'/b0.err '$T'/b1.err; find '$BC' -newer '$T/bmarker'; exit 1; }"

# ---------------------------------------------------------------- the Slurm script
# A stand-in for sbatch: runs the job at once (an array's tasks concurrently), honours
# --export's variables, --array and an afterok dependency; prints the job id (--parsable).
mkdir -p "$T/bin" "$T/jobs"
cat >"$T/bin/sbatch" <<'SHIM'
#!/bin/bash
jobs=$SBATCH_SHIM_DIR; id=$(( $(ls "$jobs" | grep -c '\.rc$') + 100 )); array= dep= envs=()
while [ $# -gt 0 ]; do
    case $1 in
    --array=*) array=${1#--array=} ;;
    --dependency=afterok:*) dep=${1#--dependency=afterok:} ;;
    --export=*) IFS=, read -ra kv <<<"${1#--export=}"; for e in "${kv[@]}"; do [ "$e" = ALL ] || envs+=("$e"); done ;;
    --*) ;;
    *) break ;;
    esac
    shift
done
if [ -n "$dep" ] && [ "$(cat "$jobs/$dep.rc")" != 0 ]; then echo 1 >"$jobs/$id.rc"; echo "$id"; exit 0; fi
rc=0
if [ -n "$array" ]; then
    pids=()
    for t in $(seq "${array%-*}" "${array#*-}"); do
        env "${envs[@]}" SLURM_JOB_ID=$id SLURM_ARRAY_TASK_ID=$t bash "$@" >"$jobs/$id.$t.log" 2>&1 & pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
else
    env "${envs[@]}" SLURM_JOB_ID=$id bash "$@" >"$jobs/$id.log" 2>&1 || rc=1
fi
echo $rc >"$jobs/$id.rc"; echo "$id"
SHIM
chmod +x "$T/bin/sbatch"
SC=$T/slurm_cache
check "slurm-prepare.sbatch: the fingerprint job, then a 3-task array, build the single-machine entries" bash -c "
    PATH='$T/bin':\$PATH SBATCH_SHIM_DIR='$T/jobs' PATCHFS='$PF' bash mount-scripts/slurm-prepare.sbatch '$DS' '$SC' 3 seed=3 >'$T/slurm.out' 2>&1 &&
    grep -q 'fingerprint pass: job 100; 3 shards: job array 101 (after 100)' '$T/slurm.out' &&
    [ \$(cat '$T/jobs/100.rc') = 0 ] && [ \$(cat '$T/jobs/101.rc') = 0 ] && grep -q '\"configurations\"' '$T/jobs/100.log' &&
    grep -q 'shard 2/3 ready: 3 of 9 cases are this shard.s, 3 built' '$T/jobs/101.2.log' &&
    [ \"\$(entry_sums '$SC')\" = \"\$(entry_sums '$C')\" ] || { cat '$T/slurm.out' '$T'/jobs/*.log; exit 1; }"

# ---------------------------------------------------------------- a real dataset, resampled
RD=$REAL/Dataset102_SpinalCordMixed
if [ -d "$RD" ]; then
    RC=$T/real_shared
    RR=$T/real_single
    "$PF" prepare "$RD" -o cache="$RR" >/dev/null 2>&1
    "$PF" plan "$RD" -o cache="$RC" >/dev/null 2>&1
    for r in 0 1 2; do "$PF" prepare "$RD" -o cache="$RC",shard=$r/3,threads=1 >/dev/null 2>"$T/r$r.err" & done
    wait
    check "SpinalCordMixed (resampled, anisotropic): three concurrent shards build the single-machine entries" bash -c "
        a=\$(entry_sums '$RC'); [ \$(echo \"\$a\" | wc -l) = 5 ] && [ \"\$a\" = \"\$(entry_sums '$RR')\" ] || { cat '$T'/r*.err; exit 1; }"
else
    skip "SpinalCordMixed: $RD is absent"
fi
