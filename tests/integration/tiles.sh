#!/usr/bin/env bash
# tiles.sh - test images (test/ID) and nnU-Net's sliding window (tiles.json, tiles/T/data.npy,
# gaussian.npy), run by tests/integration/run.sh or alone:
#
#   PF=./patchfs PY=/usr/bin/python3 REAL=../shared/data/real T=$(mktemp -d) bash tests/integration/tiles.sh
#
# One line per assertion: "ok - tiles: ...", "not ok - tiles: ..." (details indented).
#
#   * the step arithmetic of nnU-Net's rule (tiles_check.py, independent of patchfs) gives the
#     documented figures, and patchfs serves them: BraTS 155x240x240 with patch 96x160x160 has
#     starts z 0, 30, 59 and y, x 0, 80;
#   * through real mounts (a generated dataset whose cases are smaller than the patch, so they
#     are padded; its 2D configuration; BraTS): every tile file equals the padded case cut at
#     its start (numpy slicing of cases/ID/data.npy) and what `patchfs get` writes, and
#     gaussian.npy equals scipy's gaussian_filter construction within 1e-6 relative;
#   * test images from imagesTs, the Decathlon "test" list and infer=DIR: a copy of a training
#     case serves test/ID/data.npy equal to cases/ID/data.npy (the same preprocessing, CT
#     statistics of the training set on SpleenCropCT), with no seg.npy;
#   * bad test input (a channel the dataset does not have, a missing channel file, an infer=
#     folder that does not exist, a Decathlon test image that is missing or has the wrong
#     number of channels) is refused naming the file; `patchfs check` lists such a file too.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
suite_init tiles

TC() { "$PY" "$ROOT/tests/integration/tiles_check.py" "$@"; }

# a dataset folder that shares DATASET's files (symlinks) and adds its own imagesTs
linked() {
    mkdir -p "$2/imagesTs"
    for f in "$1"/*; do
        [ "$(basename "$f")" = imagesTs ] || ln -s "$f" "$2/$(basename "$f")"
    done
}

# ---------------------------------------------------------------- the rule itself
check "nnU-Net's rule: 155 with patch 96 gives 0, 30, 59" TC starts 155 96 0,30,59
check "nnU-Net's rule: 240 with patch 160 gives 0, 80" TC starts 240 160 0,80
check "nnU-Net's rule: 110 with patch 64 gives 0, 23, 46" TC starts 110 64 0,23,46

# ---------------------------------------------------------------- generated: padding, test/
G=$T/gen
gen "$G" --channels 2 --cases 4 --shape 12,20,16 --seed 3
mkdir -p "$G/imagesTs"
for c in 0 1; do cp "$G/imagesTr/case_001_000$c.nii.gz" "$G/imagesTs/new_001_000$c.nii.gz"; done
O="patch=16x24x24,batch=2,steps=2,val_steps=1,epochs=1,cache=$T/c_gen"
M=$T/m_gen
if pf_mount "$G" "$M" "$O"; then
    check "a case smaller than the patch is padded; every tile equals the padded case cut at its start" \
        TC case "$M" cases/case_000
    check "the test image's tiles too" TC case "$M" test/new_001
    check "gaussian.npy equals scipy's gaussian_filter construction (16x24x24)" TC gaussian "$M"
    check "test/new_001 (an imagesTs copy of case_001) serves case_001's data.npy" \
        cmp "$M/test/new_001/data.npy" "$M/cases/case_001/data.npy"
    check "test/new_001 holds data.npy, properties.json, preview.png, tiles.json, tiles (no seg.npy)" \
        bash -c "[ \"\$(ls '$M/test/new_001' | tr '\n' ' ')\" = 'data.npy preview.png properties.json tiles tiles.json ' ] &&
                 [ \"\$(ls '$M/cases/case_001' | tr '\n' ' ')\" = 'data.npy preview.png properties.json seg.npy tiles tiles.json ' ]"
    check "the root lists gaussian.npy and test" bash -c "ls '$M' | grep -qx gaussian.npy && ls '$M' | grep -qx test"
    check "mount equals get: gaussian.npy, tiles.json, tiles, test/ files" same_as_get "$G" "$M" "$O" \
        gaussian.npy cases/case_000/tiles.json cases/case_000/tiles/0/data.npy \
        test/new_001/data.npy test/new_001/properties.json test/new_001/tiles.json \
        test/new_001/preview.png test/new_001/tiles/0/data.npy
    fusermount3 -u "$M"
else
    bad "mount of the generated dataset"
fi
check "prepare builds the test images too, in a cache folder of their own" bash -c "
    '$PF' prepare '$G' -o 'cache=$T/c_gen' 2>&1 | grep -q 'test images ready: 1 in $T/c_gen/gen-test-'"
O2="patch=20x16,batch=2,steps=2,val_steps=1,epochs=1,cache=$T/c_gen"
M2=$T/m_gen2d
if pf_mount "$G" "$M2" "$O2"; then
    check "2D patch: tiles per slice, (C, Y, X), each the padded slice cut at its start" \
        TC case "$M2" cases/case_002 --2d
    check "2D patch: gaussian.npy is (Y, X) and equals scipy's" TC gaussian "$M2" --2d
    check "2D: mount equals get" same_as_get "$G" "$M2" "$O2" gaussian.npy \
        cases/case_002/tiles.json cases/case_002/tiles/3/data.npy test/new_001/tiles/1/data.npy
    fusermount3 -u "$M2"
else
    bad "2D mount of the generated dataset"
fi
check "a dataset without test images has no test/" bash -c "
    d='$T/notest'; cp -r '$G' \"\$d\" && rm -r \"\$d/imagesTs\" &&
    ! '$PF' get \"\$d\" test/new_001/data.npy -o cache='$T/c_notest' 2>'$T/e' && grep -q 'no such file' '$T/e'"

# ---------------------------------------------------------------- infer=DIR
I=$T/infer
mkdir -p "$I"
cp "$G/imagesTr/case_003_0000.nii.gz" "$I/fresh_0000.nii.gz"
cp "$G/imagesTr/case_003_0001.nii.gz" "$I/fresh_0001.nii.gz"
check "infer=DIR serves its images under test/ (a copy of case_003 equals it)" bash -c "
    '$PF' get '$G' test/fresh/data.npy -o 'cache=$T/c_gen,infer=$I' >'$T/fresh.npy' &&
    '$PF' get '$G' cases/case_003/data.npy -o 'cache=$T/c_gen' | cmp - '$T/fresh.npy' &&
    ! '$PF' get '$G' test/new_001/data.npy -o 'cache=$T/c_gen,infer=$I' 2>/dev/null"

# ---------------------------------------------------------------- bad test input
B=$T/bad1
cp -r "$G" "$B"
cp "$G/imagesTs/new_001_0000.nii.gz" "$B/imagesTs/new_001_0002.nii.gz"
check "a test image of a channel the dataset does not have is refused naming it" bash -c "
    ! '$PF' get '$B' cases/case_000/data.npy -o cache='$T/c_bad' 2>'$T/e' &&
    grep -q 'imagesTs/new_001_0002.nii.gz: channel 2, but dataset.json names 2 channels' '$T/e' || { cat '$T/e'; exit 1; }"
B=$T/bad2
cp -r "$G" "$B"
rm "$B/imagesTs/new_001_0001.nii.gz"
check "a test case missing a channel file is refused naming the file" bash -c "
    ! '$PF' get '$B' cases/case_000/data.npy -o cache='$T/c_bad' 2>'$T/e' &&
    grep -q 'imagesTs/new_001_0001.nii.gz: missing channel 1' '$T/e' || { cat '$T/e'; exit 1; }"
check "patchfs check lists the missing test channel as a problem of the dataset (not usable)" bash -c "
    ! '$PF' check '$B' -o cache='$T/c_bad' >'$T/o' 2>'$T/e' &&
    grep -q 'imagesTs/new_001_0001.nii.gz: missing channel 1' '$T/e' && grep -q 'NOT USABLE' '$T/o' || { cat '$T/e' '$T/o'; exit 1; }"
check "infer= of a folder that does not exist is refused naming it" bash -c "
    ! '$PF' get '$G' cases/case_000/data.npy -o 'cache=$T/c_bad,infer=$T/nope' 2>'$T/e' &&
    grep -q '$T/nope: option .infer.' '$T/e' || { cat '$T/e'; exit 1; }"
mkdir -p "$T/empty"
check "infer= of a folder without images is refused" bash -c "
    ! '$PF' get '$G' cases/case_000/data.npy -o 'cache=$T/c_bad,infer=$T/empty' 2>'$T/e' &&
    grep -q 'no image named as imagesTr' '$T/e' || { cat '$T/e'; exit 1; }"

# ---------------------------------------------------------------- Decathlon "test" list
D=$T/msd
gen "$D" --layout msd --channels 2 --cases 3 --shape 12,20,16 --seed 5
mkdir -p "$D/imagesTs"
first=$(ls "$D/imagesTr" | head -1)
id=${first%.nii.gz}
cp "$D/imagesTr/$first" "$D/imagesTs/t_$id.nii.gz"
"$PY" - "$D" "t_$id" <<'EOF'
import json, sys
p = sys.argv[1] + "/dataset.json"; j = json.load(open(p))
j["test"] = ["./imagesTs/%s.nii.gz" % sys.argv[2]]
json.dump(j, open(p, "w"), indent=1)
EOF
check "Decathlon \"test\" list: test/t_$id equals cases/$id" bash -c "
    '$PF' get '$D' test/t_$id/data.npy -o cache='$T/c_msd' >'$T/t.npy' &&
    '$PF' get '$D' cases/$id/data.npy -o cache='$T/c_msd' | cmp - '$T/t.npy'"
B=$T/msd_bad
cp -r "$D" "$B"
"$PY" -c "
import nibabel as nib, numpy as np
i = nib.load('$B/imagesTs/t_$id.nii.gz'); d = np.asarray(i.dataobj)[..., 0]
nib.save(nib.Nifti1Image(d, i.affine), '$B/imagesTs/t_$id.nii.gz')"
check "a Decathlon test image with the wrong number of channels is refused naming it" bash -c "
    ! '$PF' get '$B' cases/$id/data.npy -o cache='$T/c_msdbad' 2>'$T/e' &&
    grep -q 'imagesTs/t_$id.nii.gz: has 1 frames in its 4th dimension but dataset.json names 2 channels' '$T/e' || { cat '$T/e'; exit 1; }"
rm "$B/imagesTs/t_$id.nii.gz"
check "a Decathlon test image that does not exist is refused naming it" bash -c "
    ! '$PF' get '$B' cases/$id/data.npy -o cache='$T/c_msdbad' 2>'$T/e' &&
    grep -q 'imagesTs/t_$id.nii.gz: test image t_$id listed in .*dataset.json does not exist' '$T/e' || { cat '$T/e'; exit 1; }"

# ---------------------------------------------------------------- real data
BRATS=$REAL/Dataset101_BraTS2013DeepMedic
if [ -d "$BRATS" ]; then
    RB=$T/brats
    linked "$BRATS" "$RB"
    for c in 0 1; do cp "$BRATS/imagesTr/brats2013_pat0004_000$c.nii.gz" "$RB/imagesTs/copy_0004_000$c.nii.gz"; done
    OB="steps=1,val_steps=1,epochs=1,cache=$T/c_brats"
    check "BraTS 155x240x240, patch 96x160x160: tiles z 0, 30, 59 and y, x 0, 80, x innermost" bash -c "
        '$PF' get '$RB' cases/brats2013_pat0004/tiles.json -o '$OB' | '$PY' -c '
import json, sys
t = json.load(sys.stdin); s = [e[\"start\"] for e in t[\"tiles\"]]
assert t[\"patch\"] == [96, 160, 160] and t[\"padded_shape\"] == [155, 240, 240], t
assert s == [[z, y, x] for z in (0, 30, 59) for y in (0, 80) for x in (0, 80)], s'"
    MB=$T/m_brats
    if pf_mount "$RB" "$MB" "$OB"; then
        check "BraTS: the 12 tiles equal the case cut at their starts" TC case "$MB" cases/brats2013_pat0004
        check "BraTS: gaussian.npy (96x160x160) equals scipy's within 1e-6 relative" TC gaussian "$MB"
        check "BraTS: an imagesTs copy of a training case serves its data.npy (both channels, same bytes)" \
            cmp "$MB/test/copy_0004/data.npy" "$MB/cases/brats2013_pat0004/data.npy"
        check "BraTS: mount equals get for a tile and gaussian.npy" same_as_get "$RB" "$MB" "$OB" \
            gaussian.npy cases/brats2013_pat0004/tiles/7/data.npy test/copy_0004/tiles/11/data.npy
        fusermount3 -u "$MB"
    else
        bad "mount of BraTS"
    fi
else
    skip "BraTS: $BRATS is absent (set REAL)"
fi
SPLEEN=$REAL/Dataset103_SpleenCropCT
if [ -d "$SPLEEN" ]; then
    SI=$T/spleen_new
    mkdir -p "$SI"
    f=$(ls "$SPLEEN/imagesTr" | head -1)
    cp "$SPLEEN/imagesTr/$f" "$SI/again_0000.nii.gz"
    check "SpleenCropCT (CT): infer= copy of the training case equals cases/ (training CT statistics)" bash -c "
        '$PF' get '$SPLEEN' test/again/data.npy -o 'cache=$T/c_spleen,infer=$SI' >'$T/a.npy' &&
        '$PF' get '$SPLEEN' cases/${f%_0000.nii.gz}/data.npy -o 'cache=$T/c_spleen' | cmp - '$T/a.npy' &&
        '$PF' get '$SPLEEN' test/again/properties.json -o 'cache=$T/c_spleen,infer=$SI' | grep -q '\"scheme\": \"ct\"'"
else
    skip "SpleenCropCT: $SPLEEN is absent (set REAL)"
fi
exit 0
