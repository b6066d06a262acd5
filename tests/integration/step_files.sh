#!/usr/bin/env bash
# step_files.sh - a step folder's derived files and the per-open and dtype options, through
# real mounts (issue 17, items 1, 3, 5, 6), run by tests/integration/run.sh or alone:
#
#   PF=./patchfs PY=/usr/bin/python3 T=$(mktemp -d) bash tests/integration/step_files.sh
#
#   * batch.npz: np.load gives data, seg and every seg_dsK by name, equal to the separate
#     files and to `patchfs get`; zipfile's CRC check passes; members stored;
#   * seg_dsK.npy come from the step's one segmentation render (status.json counts the files
#     made: reading seg.npy and all seg_dsK.npy of a step renders the seg once), and equal
#     numpy's nearest downsampling of seg.npy;
#   * use_mask_for_norm with aug: data.npy reuses the step's seg.npy from the memory cache for
#     the masking (status.json: found, not rendered again), and read first makes seg.npy
#     first (counted as made, then found by the seg.npy read), same bytes as `patchfs get`;
#   * O_DIRECT reads into aligned buffers give `patchfs get`'s bytes (plain and augmented);
#   * dtype=float16: data.npy (steps, samples, cases, tiles) equals numpy's astype(float16) of the float32 file.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
suite_init step_files

if [ ! -e /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
    skip "FUSE is not available"
    exit 0
fi

DS=$T/ds
gen "$DS" --channels 2 --cases 5 --shape 20,32,28 --seed 8 ||
    { bad "generating the dataset"; exit 1; }
PLAIN="seed=5,batch=3,patch=16x24x20,ds_scales=1,0.5,0.25,cache=$T/cache"
AUG="$PLAIN,aug=nnunet"

for v in plain aug; do
    o=$PLAIN
    [ $v = aug ] && o=$AUG
    m=$T/m_$v
    if pf_mount "$DS" "$m" "$o"; then
        check "batch.npz equals the separate files and patchfs get ($v)" \
            "$PY" tests/integration/step_files.py "$PF" "$DS" "$m" "$o" batch
        check "O_DIRECT reads into aligned buffers equal patchfs get ($v)" \
            "$PY" tests/integration/step_files.py "$PF" "$DS" "$m" "$o" odirect
        # one segmentation render per step: reading seg_ds2, seg_ds1 then seg.npy of a new
        # step makes seg.npy (for seg_ds2) and the two targets, and finds seg.npy in the
        # memory cache twice (for seg_ds1, then its own read); before, each target rendered
        # the segmentation again and seg.npy was a third render (3 made, 0 found)
        counters() { "$PY" -c "import json; s = json.load(open('$m/status.json')); print(s['files_generated'], s['memory_cache_hits'])"; }
        read -r g0 h0 <<< "$(counters)"
        cat "$m/train/epoch_5/step_0/seg_ds2.npy" "$m/train/epoch_5/step_0/seg_ds1.npy" \
            "$m/train/epoch_5/step_0/seg.npy" > /dev/null
        read -r g1 h1 <<< "$(counters)"
        check "seg_ds2, seg_ds1, seg.npy of a step: seg rendered once, found twice (made $((g1 - g0)), found $((h1 - h0)))" \
            test $((g1 - g0)) -eq 3 -a $((h1 - h0)) -eq 2
        fusermount3 -u "$m"
    else
        bad "mount ($v)"
    fi
done

# use_mask_for_norm with augmentation: data.npy masks each position's image with its label
# map; with the step's seg.npy in the memory cache it takes them from there (as they lie, both
# mirrored alike) instead of rendering the segmentation again: same bytes as patchfs get
MDS=$T/ds_mask
"$PY" tests/integration/aug_parity.py makemask "$MDS" >/dev/null || bad "generating the masked dataset"
MOPT="seed=5,batch=3,patch=24x24x24,aug=nnunet,aug_p_rotation=0.5,cache=$T/cache_mask"
mm=$T/m_mask
if [ -d "$MDS" ] && pf_mount "$MDS" "$mm" "$MOPT" && pf_mount "$MDS" "$mm.z" "$MOPT,seg_outside=0"; then
    mcounters() { "$PY" -c "import json; s = json.load(open('$1/status.json')); print(s['files_generated'], s['memory_cache_hits'])"; }
    masked_reuse() { # MOUNT OPTS EXPECTED_HITS [EPOCH FIRST SECOND]: seg.npy then data.npy of 4 steps
        local m=$1 o=$2 want=$3 e=${4:-2} first=${5:-seg} second=${6:-data} g0 h0 g1 h1 s
        read -r g0 h0 <<< "$(mcounters "$m")"
        for s in 0 1 2 3; do
            cat "$m/train/epoch_$e/step_$s/$first.npy" "$m/train/epoch_$e/step_$s/$second.npy" >/dev/null || return 1
        done
        read -r g1 h1 <<< "$(mcounters "$m")"
        echo "made $((g1 - g0)), found $((h1 - h0))"
        [ $((g1 - g0)) = 8 ] && [ $((h1 - h0)) = "$want" ] || return 1
        for s in 0 1 2 3; do
            cmp <("$PF" get "$MDS" "train/epoch_$e/step_$s/data.npy" -o "$o") "$m/train/epoch_$e/step_$s/data.npy" || return 1
            cmp <("$PF" get "$MDS" "train/epoch_$e/step_$s/seg.npy" -o "$o") "$m/train/epoch_$e/step_$s/seg.npy" || return 1
        done
        [ "$want" = 0 ] || "$PY" -c "
import numpy as np, sys
d = [np.load('$m/train/epoch_$e/step_%d/data.npy' % s) for s in range(4)]
g = [np.load('$m/train/epoch_$e/step_%d/seg.npy' % s) for s in range(4)]
# the masking shows: image 0 exactly where the served seg is -1 (outside the case)
assert any((x[:, 0] == 0)[y[:, 0] < 0].all() and (y[:, 0] < 0).any() for x, y in zip(d, g))"
    }
    check "use_mask_for_norm + aug: data.npy takes the label maps from the cached seg.npy (4 found), patchfs get's bytes" \
        masked_reuse "$mm" "$MOPT" 4
    check "... data.npy read first makes the step's seg.npy first and takes them from it (the seg.npy read after: 4 found), patchfs get's bytes" \
        masked_reuse "$mm" "$MOPT" 4 3 data seg
    check "... with seg_outside=0 (the sign is lost) it renders them itself (0 found), patchfs get's bytes" \
        masked_reuse "$mm.z" "$MOPT,seg_outside=0" 0
    fusermount3 -u "$mm"
    fusermount3 -u "$mm.z"
else
    bad "mounts (use_mask_for_norm)"
fi

# float16: against numpy's astype of the float32 files of a mount without the option
mh=$T/m_half
if pf_mount "$DS" "$mh.f32" "$AUG" && pf_mount "$DS" "$mh" "$AUG,dtype=float16"; then
    check "dtype=float16: data.npy equals numpy's astype(float16) of the float32 file" \
        "$PY" tests/integration/step_files.py "$PF" "$DS" "$mh" "$AUG" half
    check "dtype=float16: batch.npz holds the float16 data" \
        "$PY" tests/integration/step_files.py "$PF" "$DS" "$mh" "$AUG,dtype=float16" batch
    fusermount3 -u "$mh"
    fusermount3 -u "$mh.f32"
else
    bad "mounts (dtype=float16)"
fi
