#!/usr/bin/env bash
# regions.sh - nnU-Net's region-based labels, the ignore label and seg_outside, on copies of
# the real datasets written into T (images and labels symlinked or rewritten, dataset.json
# changed), run by tests/integration/run.sh or alone:
#
#   PF=./patchfs PY=/usr/bin/python3 T=$(mktemp -d) bash tests/integration/regions.sh
#
# One line per assertion: "ok - regions: ...", "not ok - regions: ..." (details indented),
# "skip - ..." when the real data is absent.
#
#   * BraTS with nnU-Net's regions (whole ⊇ core ⊇ enhancing): check, patchfs.json,
#     properties.json and summary.json name the regions; seg.npy is (B, 3, Z, Y, X), each
#     channel equal to the label test on cases/ID/seg.npy at the sample's box (meta.json),
#     -1 outside the case, the channels nested; a forced position's region holds its voxel;
#     seg_ds1.npy is the nearest-exact downsampling of the region channels; sampler=class
#     forces regions; cases/ID/seg.npy keeps the label map; a mount serves what get writes;
#   * seg_outside=0: the same targets with 0 for -1 (regions and a label dataset), recorded in
#     patchfs.json only when given;
#   * Hippocampus annotated in one small cube per case, the rest the ignore label: every
#     non-forced position's patch holds annotated voxels, forced ones target the labels,
#     summary.json counts the centred positions;
#   * bad dataset.json label entries: check and get fail naming dataset.json and the entry.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
suite_init regions

BRATS_SRC=$REAL/Dataset101_BraTS2013DeepMedic
HIPPO_SRC=$REAL/Dataset004_Hippocampus
if [ ! -d "$BRATS_SRC" ] || [ ! -d "$HIPPO_SRC" ]; then
    skip "real datasets absent ($REAL): regions and ignore label tests not run"
    exit 0
fi

# ---------------------------------------------------------------- BraTS with regions
B=$T/Dataset201_BraTSRegions
mkdir -p "$B"
ln -sfn "$BRATS_SRC/imagesTr" "$B/imagesTr"
ln -sfn "$BRATS_SRC/labelsTr" "$B/labelsTr"
"$PY" - "$BRATS_SRC/dataset.json" "$B/dataset.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
# BraTS 2013: 1 necrosis, 2 edema, 3 non-enhancing, 4 enhancing tumour
d["labels"] = {"background": 0, "whole_tumor": [1, 2, 3, 4], "tumor_core": [1, 3, 4],
               "enhancing_tumor": 4}
d["regions_class_order"] = [2, 1, 4]
json.dump(d, open(sys.argv[2], "w"), indent=1)
EOF
BC=$T/cache_brats
BO="cache=$BC,patch=48x64x64,batch=4,oversample=0.5,steps=20"
getb() { "$PF" get "$B" "$1" -o "$BO${2:+,$2}" 2>>"$T/get.err"; }

check "check names the regions and lists each case's region voxels" bash -c "
    '$PF' check '$B' -o cache='$BC' >'$T/check.out' 2>&1 &&
    grep -q 'regions whole_tumor=\[1,2,3,4\] tumor_core=\[1,3,4\] enhancing_tumor=\[4\] (regions_class_order 2,1,4)' '$T/check.out' &&
    grep -q '^brats2013_pat0001 .* whole_tumor:[0-9]* tumor_core:[0-9]* enhancing_tumor:[0-9]*' '$T/check.out' ||
    { cat '$T/check.out'; exit 1; }"

mkdir -p "$T/b"
for s in 0 1 2 3; do
    getb train/epoch_0/step_$s/seg.npy >"$T/b/seg_$s.npy"
    getb train/epoch_0/step_$s/meta.json >"$T/b/meta_$s.json"
done
getb train/epoch_0/step_0/seg_ds1.npy ds_scales=1,0.5 >"$T/b/ds1.npy"
getb train/epoch_0/step_0/seg.npy ds_scales=1,0.5 >"$T/b/seg_ds.npy"
getb train/epoch_0/step_0/seg.npy seg_outside=0 >"$T/b/seg_0_zero.npy"
getb train/epoch_0/step_0/seg_ds1.npy ds_scales=1,0.5,seg_outside=0 >"$T/b/ds1_zero.npy"
getb val/epoch_0/step_0/seg.npy >"$T/b/val.npy"
getb val/epoch_0/step_0/meta.json >"$T/b/val_meta.json"
getb train/epoch_0/summary.json >"$T/b/summary.json"
getb patchfs.json >"$T/b/patchfs.json"
getb patchfs.json seg_outside=0 >"$T/b/patchfs_zero.json"
getb train/epoch_0/step_0/meta.json sampler=class >"$T/b/meta_class.json"
getb train/epoch_0/step_0/seg.npy sampler=class >"$T/b/seg_class.npy"
for id in brats2013_pat0001 brats2013_pat0002 brats2013_pat0004 brats2013_pat0006; do
    getb cases/$id/seg.npy >"$T/b/case_$id.npy"
    getb cases/$id/properties.json >"$T/b/props_$id.json"
done

# the reference: a label map's box (padded with -1), the region test per channel
cat >"$T/ref.py" <<'EOF'
import json, numpy as np
REGIONS = [(1, 2, 3, 4), (1, 3, 4), (4,)]
def box(case, start, end):
    """case[start:end] of a (Z, Y, X) label map, -1 outside it"""
    out = np.full([e - s for s, e in zip(start, end)], -1, np.int16)
    src = tuple(slice(max(s, 0), min(e, n)) for s, e, n in zip(start, end, case.shape))
    dst = tuple(slice(max(s, 0) - s, min(e, n) - s) for s, e, n in zip(start, end, case.shape))
    out[dst] = case[src]
    return out
def regions(lab, outside=-1, regions=REGIONS):
    r = np.stack([np.isin(lab, reg).astype(np.int16) for reg in regions])
    r[:, lab == -1] = outside
    return r
def case(T, cid):
    return np.load(f"{T}/b/case_{cid}.npy")[0]
def nearest_exact(a, shape):
    """torch's interpolate(mode='nearest-exact') on the last three axes"""
    idx = [np.minimum(np.floor((np.arange(o) + 0.5) * n / o).astype(int), n - 1)
           for o, n in zip(shape, a.shape[-3:])]
    return a[..., idx[0], :, :][..., idx[1], :][..., idx[2]]
EOF

check "seg.npy is (B, 3, Z, Y, X): each channel the region test on cases/ID/seg.npy at the box" "$PY" -c "
import sys, json, numpy as np; sys.path.insert(0, '$T'); from ref import *
n = 0
for s in range(4):
    seg = np.load('$T/b/seg_$s.npy'); m = json.load(open('$T/b/meta_$s.json'))
    assert seg.shape == (4, 3, 48, 64, 64) and seg.dtype == np.int16, seg.shape
    for p in m['positions']:
        want = regions(box(case('$T', p['case']), p['box_start'], p['box_end']))
        assert np.array_equal(seg[p['position']], want), (s, p['position'])
        n += 1
assert n == 16
v = np.load('$T/b/val.npy'); m = json.load(open('$T/b/val_meta.json'))
for p in m['positions']:
    assert np.array_equal(v[p['position']], regions(box(case('$T', p['case']), p['box_start'], p['box_end'])))
"
check "region channels are nested (enhancing ⊆ core ⊆ whole), values -1/0/1, -1 the same in all" "$PY" -c "
import numpy as np
for s in range(4):
    a = np.load('$T/b/seg_$s.npy')
    assert set(np.unique(a)) <= {-1, 0, 1}
    w, c, e = a[:, 0], a[:, 1], a[:, 2]
    assert ((e == 1) <= (c == 1)).all() and ((c == 1) <= (w == 1)).all()
    assert ((w == -1) == (c == -1)).all() and ((c == -1) == (e == -1)).all()
    assert (e == 1).any() and (w == 1).sum() > (e == 1).sum()
"
check "forced positions target a region (class 1..3, its name); the voxel lies in that channel" "$PY" -c "
import json, numpy as np
names = ['whole_tumor', 'tumor_core', 'enhancing_tumor']; forced = 0
for s in range(4):
    a = np.load('$T/b/seg_$s.npy'); m = json.load(open('$T/b/meta_$s.json'))
    for p in m['positions']:
        if not p['forced']:
            assert p['class'] is None and p['class_name'] is None, p; continue
        forced += 1
        k = p['class']; assert 1 <= k <= 3 and p['class_name'] == names[k - 1], p
        z, y, x = [v - b for v, b in zip(p['voxel'], p['box_start'])]
        assert a[p['position'], k - 1, z, y, x] == 1, p
assert forced == 8, forced
"
check "seg_ds1.npy: (B, 3, ...) the nearest-exact downsampling of the region channels" "$PY" -c "
import sys, numpy as np; sys.path.insert(0, '$T'); from ref import *
full = np.load('$T/b/seg_ds.npy'); ds = np.load('$T/b/ds1.npy')
assert ds.shape == (4, 3, 24, 32, 32), ds.shape
assert np.array_equal(ds, nearest_exact(full, (24, 32, 32)))
"
check "seg_outside=0: the same targets with 0 for -1 (seg.npy and seg_ds1.npy)" "$PY" -c "
import numpy as np
a = np.load('$T/b/seg_0.npy'); z = np.load('$T/b/seg_0_zero.npy')
assert np.array_equal(z, np.where(a == -1, 0, a)) and not (z == -1).any()
d = np.load('$T/b/ds1.npy'); dz = np.load('$T/b/ds1_zero.npy')
assert np.array_equal(dz, np.where(d == -1, 0, d))
"
check "cases/ID/seg.npy keeps the label map; properties.json counts each region's voxels there" "$PY" -c "
import json, numpy as np
for cid in ['brats2013_pat0001', 'brats2013_pat0002', 'brats2013_pat0004', 'brats2013_pat0006']:
    s = np.load('$T/b/case_%s.npy' % cid); p = json.load(open('$T/b/props_%s.json' % cid))
    assert s.shape[0] == 1 and set(np.unique(s)) - {-1} <= {0, 1, 2, 3, 4} and (s >= 2).any()
    want = {'whole_tumor': int(np.isin(s, [1, 2, 3, 4]).sum()), 'tumor_core': int(np.isin(s, [1, 3, 4]).sum()),
            'enhancing_tumor': int((s == 4).sum())}
    want = {k: v for k, v in want.items() if v}
    assert p['class_voxels'] == want, (cid, p['class_voxels'], want)
"
check "patchfs.json lists the regions in order; summary.json counts per region" "$PY" -c "
import json
j = json.load(open('$T/b/patchfs.json'))['dataset']
assert [r['name'] for r in j['regions']] == ['whole_tumor', 'tumor_core', 'enhancing_tumor']
assert [r['labels'] for r in j['regions']] == [[1, 2, 3, 4], [1, 3, 4], [4]]
assert [r['class_order'] for r in j['regions']] == [2, 1, 4]
assert 'seg_outside' not in json.load(open('$T/b/patchfs.json'))['options']
assert json.load(open('$T/b/patchfs_zero.json'))['options']['seg_outside'] == 0
s = json.load(open('$T/b/summary.json'))
assert {k: v['name'] for k, v in s['classes'].items()} == {'1': 'whole_tumor', '2': 'tumor_core', '3': 'enhancing_tumor'}
assert sum(v['forced'] for v in s['classes'].values()) == s['forced_positions'] == 40, s
assert 'centred_on_annotated' not in s
"
check "sampler=class forces regions; their voxel lies in the region's channel" "$PY" -c "
import json, numpy as np
a = np.load('$T/b/seg_class.npy'); m = json.load(open('$T/b/meta_class.json'))
for p in m['positions']:
    if p['forced']:
        z, y, x = [v - b for v, b in zip(p['voxel'], p['box_start'])]
        assert 1 <= p['class'] <= 3 and a[p['position'], p['class'] - 1, z, y, x] == 1, p
"
getb train/epoch_0/step_0/seg.npy aug=nnunet,aug_p_rotation=1 >"$T/b/seg_aug.npy"
getb train/epoch_0/step_0/meta.json aug=nnunet,aug_p_rotation=1 >"$T/b/meta_aug.json"
check "augmented (rotated) region targets: nested channels, -1 alike in all; meta.json digests them" "$PY" -c "
import json, xxhash, numpy as np
a = np.load('$T/b/seg_aug.npy'); assert a.shape == (4, 3, 48, 64, 64), a.shape
assert set(np.unique(a)) <= {-1, 0, 1} and (a[:, 0] == 1).any()
w, c, e = a[:, 0], a[:, 1], a[:, 2]
assert ((e == 1) <= (c == 1)).all() and ((c == 1) <= (w == 1)).all()
assert ((w == -1) == (c == -1)).all() and ((c == -1) == (e == -1)).all()
for p in json.load(open('$T/b/meta_aug.json'))['positions']:
    assert p['seg_xxh3'] == '%016x' % xxhash.xxh3_64_intdigest(a[p['position']].tobytes()), p
for s in range(4):
    a = np.load('$T/b/seg_%d.npy' % s)
    for p in json.load(open('$T/b/meta_%d.json' % s))['positions']:
        assert p['seg_xxh3'] == '%016x' % xxhash.xxh3_64_intdigest(a[p['position']].tobytes()), p
"

if [ -e /dev/fuse ] && command -v fusermount3 >/dev/null; then
    M=$T/mnt_b
    mount_same() {
        pf_mount "$B" "$M" "$BO,ds_scales=1,0.5" &&
            same_as_get "$B" "$M" "$BO,ds_scales=1,0.5" train/epoch_0/step_0/seg.npy \
                train/epoch_0/step_0/seg_ds1.npy train/epoch_0/step_1/sample_3/seg.npy \
                train/epoch_0/step_0/meta.json &&
            fusermount3 -u "$M"
    }
    check "a mount serves the region seg.npy, seg_ds1.npy, sample seg and meta.json as get writes them" mount_same
else
    skip "no FUSE: region mount not compared with get"
fi

# ---------------------------------------------------------------- seg_outside=0 on a label dataset
HC=$T/cache_hippo
HO="cache=$HC,patch=40x56x40,batch=4"
check "seg_outside=0 on a label dataset: the label map with 0 for -1; default unchanged" bash -c "
    '$PF' get '$HIPPO_SRC' train/epoch_0/step_0/seg.npy -o '$HO' >'$T/h.npy' 2>/dev/null &&
    '$PF' get '$HIPPO_SRC' train/epoch_0/step_0/seg.npy -o '$HO,seg_outside=0' >'$T/hz.npy' 2>/dev/null &&
    '$PY' -c \"
import numpy as np
a = np.load('$T/h.npy'); z = np.load('$T/hz.npy')
assert a.shape == z.shape and a.shape[1] == 1 and (a == -1).any()
assert np.array_equal(z, np.where(a == -1, 0, a)) and not (z == -1).any()\""

# ---------------------------------------------------------------- ignore label, sparse labels
H=$T/Dataset202_HippocampusSparse
mkdir -p "$H/labelsTr"
ln -sfn "$HIPPO_SRC/imagesTr" "$H/imagesTr"
"$PY" - "$HIPPO_SRC" "$H" <<'EOF'
import json, os, sys, nibabel as nib, numpy as np
src, dst = sys.argv[1], sys.argv[2]
d = json.load(open(f"{src}/dataset.json"))
d["labels"]["ignore"] = 3
json.dump(d, open(f"{dst}/dataset.json", "w"), indent=1)
for f in sorted(os.listdir(f"{src}/labelsTr")):
    im = nib.load(f"{src}/labelsTr/{f}")
    lab = np.asarray(im.dataobj).astype(np.uint8)
    out = np.full_like(lab, 3)              # everything the ignore label ...
    fg = np.argwhere(lab > 0)
    c = fg[len(fg) // 2]                     # ... but a 5-voxel cube around a hippocampus voxel
    sl = tuple(slice(max(v - 2, 0), v + 3) for v in c)
    out[sl] = lab[sl]
    nib.save(nib.Nifti1Image(out, im.affine, im.header), f"{dst}/labelsTr/{f}")
EOF
IC=$T/cache_ignore
IO="cache=$IC,patch=8x8x8,batch=6,oversample=0.33,steps=30"
mkdir -p "$T/i"
for s in 0 1 2 3 4 5 6 7; do
    "$PF" get "$H" train/epoch_0/step_$s/meta.json -o "$IO" >"$T/i/meta_$s.json" 2>>"$T/get.err"
    "$PF" get "$H" train/epoch_0/step_$s/seg.npy -o "$IO" >"$T/i/seg_$s.npy" 2>>"$T/get.err"
done
"$PF" get "$H" train/epoch_0/summary.json -o "$IO" >"$T/i/summary.json" 2>>"$T/get.err"
for id in $(ls "$H/labelsTr" | sed 's/\.nii\.gz$//'); do
    "$PF" get "$H" cases/$id/seg.npy -o "$IO" >"$T/i/case_$id.npy" 2>>"$T/get.err"
done
check "ignore label: every non-forced position's patch holds annotated voxels (centred on one)" "$PY" -c "
import sys, json, numpy as np; sys.path.insert(0, '$T'); from ref import box
n = 0
for s in range(8):
    m = json.load(open('$T/i/meta_%d.json' % s)); a = np.load('$T/i/seg_%d.npy' % s)
    for p in m['positions']:
        c = np.load('$T/i/case_%s.npy' % p['case'])[0]
        lab = box(c, p['box_start'], p['box_end'])
        assert np.array_equal(a[p['position'], 0], lab)
        if p['forced']:
            continue
        n += 1
        assert (lab != 3).any(), p
        assert p['class'] == 0 and p['class_name'] == 'annotated', p
        z, y, x = [v - b for v, b in zip(p['voxel'], p['box_start'])]
        assert lab[z, y, x] != 3, p
        assert p['box_start'] == [max(v - 4, 0) for v in p['voxel']], p
assert n == 8 * 4, n
"
check "ignore label: sparse labels make a random 8^3 crop mostly unannotated (the test can fail)" "$PY" -c "
import glob, numpy as np
# what a random crop would give: the share of 8^3 boxes of the cases with an annotated voxel
rng = np.random.default_rng(0); hit = tot = 0
for f in glob.glob('$T/i/case_*.npy'):
    c = np.load(f)[0]
    for _ in range(50):
        s = [rng.integers(0, max(n - 8, 0) + 1) for n in c.shape]
        hit += (c[s[0]:s[0]+8, s[1]:s[1]+8, s[2]:s[2]+8] != 3).any(); tot += 1
assert hit < 0.5 * tot, (hit, tot)
"
check "ignore label: forced positions target the labels, never the ignore label" "$PY" -c "
import json
for s in range(8):
    for p in json.load(open('$T/i/meta_%d.json' % s))['positions']:
        if p['forced']:
            assert p['class'] in (1, 2) and p['class_name'] in ('Anterior', 'Posterior'), p
"
check "ignore label: summary.json counts the centred positions; ignore is no class" "$PY" -c "
import json
s = json.load(open('$T/i/summary.json'))
assert s['centred_on_annotated'] == s['positions'] - s['forced_positions'] == 30 * 4, s
assert s['random_crops'] == 0 and set(s['classes']) == {'1', '2'}, s
"

# regions and the ignore label together: nnU-Net appends the ignore label as a last channel
HR=$T/Dataset203_HippocampusSparseRegions
mkdir -p "$HR"
ln -sfn "$HIPPO_SRC/imagesTr" "$HR/imagesTr"
ln -sfn "$H/labelsTr" "$HR/labelsTr"
"$PY" -c "
import json; d = json.load(open('$H/dataset.json'))
d['labels'] = {'background': 0, 'hippocampus': [1, 2], 'posterior': 2, 'ignore': 3}
d['regions_class_order'] = [1, 2]; json.dump(d, open('$HR/dataset.json', 'w'))"
"$PF" get "$HR" train/epoch_0/step_0/seg.npy -o "$IO" >"$T/i/rseg.npy" 2>>"$T/get.err"
"$PF" get "$HR" train/epoch_0/step_0/meta.json -o "$IO" >"$T/i/rmeta.json" 2>>"$T/get.err"
check "regions with an ignore label: R + 1 channels, the last the ignore label; non-forced centred" "$PY" -c "
import sys, json, numpy as np; sys.path.insert(0, '$T'); from ref import box, regions
a = np.load('$T/i/rseg.npy'); assert a.shape == (6, 3, 8, 8, 8), a.shape
for p in json.load(open('$T/i/rmeta.json'))['positions']:
    lab = box(np.load('$T/i/case_%s.npy' % p['case'])[0], p['box_start'], p['box_end'])
    assert np.array_equal(a[p['position']], regions(lab, regions=[(1, 2), (2,), (3,)])), p
    assert p['class_name'] in ('hippocampus', 'posterior') if p['forced'] else p['class_name'] == 'annotated', p
"

# ---------------------------------------------------------------- bad label entries
bad_json() { # NAME LABELS EXTRA EXPECT
    local d=$T/bad_$1
    mkdir -p "$d"
    ln -sfn "$BRATS_SRC/imagesTr" "$d/imagesTr"
    ln -sfn "$BRATS_SRC/labelsTr" "$d/labelsTr"
    printf '{"channel_names": {"0": "FLAIR", "1": "T1c"}, "labels": %s, "numTraining": 4, "file_ending": ".nii.gz"%s}\n' \
        "$2" "$3" >"$d/dataset.json"
    ! "$PF" check "$d" -o cache="$T/cache_bad" >/dev/null 2>"$T/bad.err" || { echo "check accepted it"; return 1; }
    grep -q "$d/dataset.json: .*$4" "$T/bad.err" || { cat "$T/bad.err"; return 1; }
    ! "$PF" get "$d" patchfs.json -o cache="$T/cache_bad" >/dev/null 2>"$T/bad.err" &&
        grep -q "dataset.json: .*$4" "$T/bad.err" || { cat "$T/bad.err"; return 1; }
}
R='{"background": 0, "whole": [1, 2, 3, 4], "core": [1, 3, 4], "enh": 4'
check "regions without regions_class_order: refused, naming it" \
    bad_json noorder "$R}" "" 'regions_class_order" is missing'
check "regions_class_order of the wrong length: refused" \
    bad_json badorder "$R}" ', "regions_class_order": [2, 1]' 'regions_class_order" has 2 entries but "labels" defines 3 regions'
check "regions_class_order naming a label absent from dataset.json: refused" \
    bad_json absent "$R}" ', "regions_class_order": [2, 1, 9]' 'regions_class_order" entry 2 is not a label'
check "an empty region: refused, naming it" \
    bad_json empty "$R, \"none\": []}" ', "regions_class_order": [2, 1, 4]' 'label "none" is an empty region'
check "an ignore label that is not the highest value: refused" \
    bad_json ignorelow '{"background": 0, "a": 1, "b": 4, "ignore": 3}' '' 'label "ignore" has value 3 but must be the highest'
check "an ignore label given as a region: refused (nnU-Net refuses it)" \
    bad_json ignorelist '{"background": 0, "a": 1, "ignore": [2, 3]}' '' 'label "ignore" must be one integer'
check "a region listing the ignore label: refused (nnU-Net refuses it)" \
    bad_json ignoreregion "$R, \"ignore\": 4}" ', "regions_class_order": [2, 1, 4]' 'region "whole" lists 4, the value of the ignore label'
