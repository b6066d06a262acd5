#!/usr/bin/env bash
# check_gc.sh - `patchfs check` (every problem listed, nothing built unless -o prepare) and
# `patchfs gc` (what the current sources no longer reach), run by tests/integration/run.sh or
# alone:
#
#   PF=./patchfs PY=/usr/bin/python3 T=$(mktemp -d) bash tests/integration/check_gc.sh
#
# One line per assertion: "ok - check_gc: ...", "not ok - check_gc: ..." (details indented).
# Needs no FUSE: what a mount serves is what `patchfs get` writes.
#
#   * a dataset with a truncated image, an undeclared label value and a missing label file:
#     check names the three files, exits non-zero and leaves the cache folder empty;
#     check -o prepare builds nothing there; with skip_bad check exits 0 and lists them;
#   * skip_bad serves the rest, the case without a label listed in patchfs.json "skipped";
#   * check -o prepare builds the cache of a good dataset, and check then shows the cache's
#     table without decoding again;
#   * gc after an image is touched removes exactly the stale entries and fingerprint records
#     (--dry-run nothing),
#     keeps the fresh ones, the other cases' and another crop='s; -o all removes the other
#     crop='s; a dead builder's temporary goes too;
#   * gc of the test images' folders (imagesTs: one touched, one removed; infer=DIR when given)
#     and of the fingerprint records (the touched case's record and the dataset's entry go,
#     the others stay, and the next mount reuses them: only the touched case is fingerprinted).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
suite_init check_gc

entries() { find "$1" -name '*.pfcase' -printf '%f\n' 2>/dev/null | LC_ALL=C sort; }
export -f entries

GOOD=$T/good
gen "$GOOD" --dtype uint8 --cases 7 --classes 1 --shape 12,20,16 --seed 4

# ---------------------------------------------------------------- check: every problem
BAD=$T/bad
cp -r "$GOOD" "$BAD"
head -c 300 "$GOOD/imagesTr/case_001_0000.nii.gz" >"$BAD/imagesTr/case_001_0000.nii.gz"
"$PY" -c "
import nibabel as nib, numpy as np
p = '$BAD/labelsTr/case_003.nii.gz'; i = nib.load(p); d = np.asarray(i.dataobj).copy(); d[0, 0, 0] = 7
nib.save(nib.Nifti1Image(d, i.affine), p)"
rm "$BAD/labelsTr/case_005.nii.gz"

C=$T/cache_bad
"$PF" check "$BAD" -o cache="$C" >"$T/check.out" 2>"$T/check.err"
rc=$?
check "check of a dataset with three problems exits non-zero" test "$rc" != 0
names_all() {
    grep -q 'imagesTr/case_001_0000.nii.gz: .*truncated' "$T/check.err" &&
        grep -q 'labelsTr/case_003.nii.gz: label value 7 is not named' "$T/check.err" &&
        grep -q 'labelsTr/case_005.nii.gz: missing label' "$T/check.err" &&
        [ "$(grep -c '^patchfs: case ' "$T/check.err")" = 3 ] || { cat "$T/check.err"; return 1; }
}
check "check names all three files (truncated image, undeclared label, missing label)" names_all
check "check lists the good cases' shapes from the sources and marks the bad ones" bash -c "
    grep -q '^case_000  *[0-9]*x[0-9]*x[0-9]* ' '$T/check.out' && grep -q '^case_001 .*PROBLEM: ' '$T/check.out' &&
    grep -q '^case_005 .*PROBLEM: ' '$T/check.out' && grep -q 'NOT USABLE: 3 problems' '$T/check.out' ||
    { cat '$T/check.out'; exit 1; }"
check "check builds nothing: the cache folder stays empty" bash -c "[ -z \"\$(find '$C' -type f 2>/dev/null)\" ]"
"$PF" check "$BAD" -o cache="$C",prepare >/dev/null 2>&1
rc=$?
check "check -o prepare of the unusable dataset fails and builds nothing" \
    bash -c "[ $rc != 0 ] && [ -z \"\$(find '$C' -type f 2>/dev/null)\" ]"
check "check -o skip_bad: exit 0, the three cases set aside, still nothing built" bash -c "
    '$PF' check '$BAD' -o cache='$C',skip_bad >'$T/skip.out' 2>'$T/skip.err' &&
    grep -q '^case_005 .*SKIPPED: .*labelsTr/case_005.nii.gz: missing label' '$T/skip.out' &&
    grep -q '^case_003 .*SKIPPED: .*label value 7' '$T/skip.out' &&
    grep -q 'OK: 4 cases usable (skip_bad)' '$T/skip.out' &&
    [ -z \"\$(find '$C' -type f 2>/dev/null)\" ] || { cat '$T/skip.out' '$T/skip.err'; exit 1; }"

# ---------------------------------------------------------------- skip_bad: a missing label
skip_serves() {
    "$PF" get "$BAD" patchfs.json -o cache="$C",skip_bad >"$T/pf.json" 2>"$T/get.err" || { cat "$T/get.err"; return 1; }
    "$PY" -c "
import json; j = json.load(open('$T/pf.json'))
ids = [s['id'] for s in j['skipped']]
assert ids == ['case_001', 'case_003', 'case_005'], ids
assert 'missing label' in j['skipped'][2]['reason'], j['skipped'][2]
assert sorted(j['cases']) == ['case_000', 'case_002', 'case_004', 'case_006'], j['cases']" &&
        "$PF" get "$BAD" train/epoch_0/step_0/data.npy -o cache="$C",skip_bad 2>/dev/null | "$PY" -c "
import io, sys, numpy as np; a = np.load(io.BytesIO(sys.stdin.buffer.read())); assert a.shape[0] == 2, a.shape"
}
check "skip_bad serves the rest, the case without a label in patchfs.json \"skipped\"" skip_serves
check "without skip_bad a missing label still stops get, naming it" bash -c "
    ! '$PF' get '$BAD' patchfs.json -o cache='$C' 2>'$T/e' >/dev/null && grep -q 'case_005.nii.gz: missing label' '$T/e'"

# ---------------------------------------------------------------- check -o prepare
C2=$T/cache_good
check "check of a good dataset: exit 0, nothing built, the size the cache will take" bash -c "
    '$PF' check '$GOOD' -o cache='$C2' >'$T/g.out' 2>&1 && grep -q 'OK: 7 cases usable' '$T/g.out' &&
    grep -q '0 of 7 usable cases have an entry; building the others writes about' '$T/g.out' &&
    [ -z \"\$(entries '$C2')\" ] || { cat '$T/g.out'; exit 1; }"
check "check -o prepare builds the cache and shows its table" bash -c "
    '$PF' check '$GOOD' -o cache='$C2',prepare >'$T/p.out' 2>/dev/null && [ \$(find '$C2' -name '*.pfcase' | wc -l) = 7 ] &&
    grep -q '; patch ' '$T/p.out' && grep -q 'OK: 7 cases usable' '$T/p.out' || { cat '$T/p.out'; exit 1; }"
check "check after prepare shows the cache's table again and builds nothing" bash -c "
    before=\$(find '$C2' -type f -printf '%p %T@\n' | sort); '$PF' check '$GOOD' -o cache='$C2' >'$T/p2.out' 2>&1 &&
    grep -q '; patch ' '$T/p2.out' && [ \"\$before\" = \"\$(find '$C2' -type f -printf '%p %T@\n' | sort)\" ]"

# ---------------------------------------------------------------- gc
G=$T/gc_ds
C3=$T/cache_gc
cp -r "$GOOD" "$G"
"$PF" prepare "$G" -o cache="$C3" >/dev/null 2>&1
"$PF" prepare "$G" -o cache="$C3",crop=none >/dev/null 2>&1
entries "$C3" >"$T/e.all"
grep '^case_002\.' "$T/e.all" >"$T/e.old2"
sleep 0.01
touch "$G/imagesTr/case_002_0000.nii.gz"
"$PF" prepare "$G" -o cache="$C3" >/dev/null 2>&1
entries "$C3" >"$T/e.touched"
comm -13 "$T/e.all" "$T/e.touched" >"$T/e.new2"
dir=$(dirname "$(find "$C3" -name '*.pfcase' | head -1)")
dead="$dir/case_000.0123456789abcdef.pfcase.tmp.2147483646.AbCdEf"
echo partial >"$dead"
check "gc setup: 14 entries, two of case_002 made stale by touch, one fresh" bash -c "
    [ \$(wc -l < '$T/e.all') = 14 ] && [ \$(wc -l < '$T/e.old2') = 2 ] && [ \$(wc -l < '$T/e.new2') = 1 ] && [ \$(wc -l < '$T/e.touched') = 15 ]"
check "gc --dry-run lists the two stale entries, case_002's fingerprint record, the dataset's and the dead temporary, removes nothing" bash -c "
    '$PF' gc '$G' --dry-run --cache '$C3' >'$T/dry.out' 2>&1 &&
    [ \"\$(entries '$C3')\" = \"\$(cat '$T/e.touched')\" ] && [ -f '$dead' ] &&
    [ \$(grep -c '^would free /' '$T/dry.out') = 5 ] && grep -q '^would free .*/fingerprint/case_002\.' '$T/dry.out' &&
    grep -q '^would free .*/fingerprint/dataset\.' '$T/dry.out' &&
    for e in \$(cat '$T/e.old2'); do grep -q \"^would free .*/\$e \" '$T/dry.out' || exit 1; done &&
    grep -q '^would free .*tmp.2147483646' '$T/dry.out' && grep -q '^would free 5 files' '$T/dry.out' || { cat '$T/dry.out'; exit 1; }"
check "gc removes exactly the stale entries, fingerprints and the temporary; fresh, other cases' and crop=none's stay" bash -c "
    '$PF' gc '$G' -o cache='$C3' >'$T/gc.out' 2>&1 && [ \$(grep -c '^freed /' '$T/gc.out') = 5 ] && [ ! -e '$dead' ] &&
    [ \"\$(entries '$C3')\" = \"\$(comm -23 '$T/e.touched' '$T/e.old2')\" ] || { cat '$T/gc.out'; entries '$C3'; exit 1; }"
check "after gc the cache serves every case without building (prepare builds nothing)" bash -c "
    '$PF' prepare '$G' -o cache='$C3' 2>&1 | grep -q 'cache ready' && ! '$PF' prepare '$G' -o cache='$C3' 2>&1 | grep -q preparing"
check "gc again frees nothing" bash -c "'$PF' gc '$G' -o cache='$C3' | grep -q '^freed 0 files'"
check "gc -o all also removes the entries of another crop= (the 6 left of crop=none)" bash -c "
    '$PF' gc '$G' -o cache='$C3',all >'$T/all.out' 2>&1 && [ \$(grep -c '^freed /.*crop=none' '$T/all.out') = 6 ] &&
    [ \$(entries '$C3' | wc -l) = 7 ] && '$PF' prepare '$G' -o cache='$C3' 2>&1 | grep -q 'cache ready' &&
    [ \$(entries '$C3' | wc -l) = 7 ] || { cat '$T/all.out'; exit 1; }"
check "gc of a dataset without a cache folder says so and exits 0" bash -c "
    '$PF' gc '$GOOD' -o cache='$T/none' | grep -q 'no cache folder'"
check "gc names a dataset it cannot read" bash -c "! '$PF' gc '$T/nope' -o cache='$C3' 2>'$T/e' && grep -q '$T/nope' '$T/e'"
# ---------------------------------------------------------------- gc: test images, fingerprint
G4=$T/gc_test
C4=$T/cache_test
INF=$T/infer_in
cp -r "$GOOD" "$G4"
mkdir -p "$G4/imagesTs" "$INF"
for i in 0 1 2; do cp "$GOOD/imagesTr/case_00${i}_0000.nii.gz" "$G4/imagesTs/t_00${i}_0000.nii.gz"; done
cp "$GOOD/imagesTr/case_003_0000.nii.gz" "$INF/x_000_0000.nii.gz"
cp "$GOOD/imagesTr/case_004_0000.nii.gz" "$INF/x_001_0000.nii.gz"
"$PF" prepare "$G4" -o cache="$C4" >/dev/null 2>&1
"$PF" prepare "$G4" -o cache="$C4",infer="$INF" >/dev/null 2>&1
files() { find "$1" -type f -printf '%P\n' | LC_ALL=C sort; }
export -f files
files "$C4" >"$T/t.all"
check "gc setup: 7 entries, 7 fingerprint records and the dataset's, 3 test images, 2 infer=" bash -c "
    [ \$(grep -c '^$(basename "$G4")-[0-9a-f]*/case_.*pfcase$' '$T/t.all') = 7 ] &&
    [ \$(grep -c '/fingerprint/case_.*\.pffp$' '$T/t.all') = 7 ] && [ \$(grep -c '/fingerprint/dataset\..*\.pffpset$' '$T/t.all') = 1 ] &&
    [ \$(grep -c -- '-test-.*/t_00[0-2]\..*pfcase$' '$T/t.all') = 3 ] && [ \$(grep -c -- '-infer-.*/x_00[01]\..*pfcase$' '$T/t.all') = 2 ] ||
    { cat '$T/t.all'; exit 1; }"
check "gc of a fresh cache with test images frees nothing" bash -c "
    '$PF' gc '$G4' -o cache='$C4',infer='$INF' | grep -q '^freed 0 files' && [ \"\$(files '$C4')\" = \"\$(cat '$T/t.all')\" ]"
sleep 0.01
touch "$G4/imagesTr/case_002_0000.nii.gz" "$G4/imagesTs/t_001_0000.nii.gz" "$INF/x_000_0000.nii.gz"
rm "$G4/imagesTs/t_002_0000.nii.gz"
# what must go: case_002's entry and fingerprint record, the dataset's fingerprint entry,
# test images t_001 (touched) and t_002 (removed); x_000 of infer= only when infer= is given
grep -e '/case_002\.' -e '/fingerprint/dataset\.' -e '-test-.*/t_00[12]\.' "$T/t.all" | LC_ALL=C sort >"$T/t.stale"
grep -e '-infer-.*/x_000\.' "$T/t.all" >"$T/t.stale_inf"
freed_set() { sed -n "s|^$2 $C4/\([^ ]*\) .*|\1|p" "$1" | LC_ALL=C sort; }
export -f freed_set
check "gc --dry-run names the stale test images, fingerprint records and entries, removes nothing" bash -c "
    [ \$(wc -l < '$T/t.stale') = 5 ] && '$PF' gc '$G4' --dry-run -o cache='$C4' >'$T/t.dry' 2>&1 &&
    [ \"\$(C4='$C4' freed_set '$T/t.dry' 'would free')\" = \"\$(cat '$T/t.stale')\" ] &&
    grep -q '^would free .*/t_002\..*test image t_002 is no longer in the dataset' '$T/t.dry' &&
    grep -q '^would free .*/fingerprint/case_002\..*stale fingerprint record of case_002' '$T/t.dry' &&
    grep -q '^would free .*/fingerprint/dataset\..*a fingerprint of the dataset as it was' '$T/t.dry' &&
    [ \"\$(files '$C4')\" = \"\$(cat '$T/t.all')\" ] || { cat '$T/t.dry'; exit 1; }"
check "gc removes them; infer='s folder is left alone without infer=" bash -c "
    '$PF' gc '$G4' -o cache='$C4' >'$T/t.gc' 2>&1 && [ \"\$(C4='$C4' freed_set '$T/t.gc' freed)\" = \"\$(cat '$T/t.stale')\" ] &&
    [ \"\$(files '$C4')\" = \"\$(LC_ALL=C comm -23 '$T/t.all' '$T/t.stale')\" ] || { cat '$T/t.gc'; files '$C4'; exit 1; }"
check "gc -o infer=DIR removes the stale entry of infer='s folder only" bash -c "
    '$PF' gc '$G4' -o cache='$C4',infer='$INF' >'$T/t.gci' 2>&1 &&
    [ \"\$(C4='$C4' freed_set '$T/t.gci' freed)\" = \"\$(cat '$T/t.stale_inf')\" ] || { cat '$T/t.gci'; exit 1; }"
check "the kept fingerprint records are reused: the next prepare fingerprints only case_002" bash -c "
    '$PF' prepare '$G4' -o cache='$C4',infer='$INF' >'$T/t.prep' 2>&1 &&
    new=\$(LC_ALL=C comm -13 '$T/t.all' <(files '$C4')) &&
    [ \$(echo \"\$new\" | grep -c '/fingerprint/') = 2 ] && echo \"\$new\" | grep -q '/fingerprint/case_002\.' &&
    [ \$(grep -c '/fingerprint/' <(files '$C4')) = 8 ] &&
    '$PF' gc '$G4' -o cache='$C4',infer='$INF' | grep -q '^freed 0 files' || { cat '$T/t.prep'; files '$C4'; exit 1; }"
exit 0
