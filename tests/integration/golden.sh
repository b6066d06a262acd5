#!/usr/bin/env bash
# golden.sh - golden digests: the served bytes of format 3 for fixed seeds, pinned forever.
# A change here means every user's batches changed: bump the format instead (docs/design.md).
#
#   golden.sh check|update GENERATED_DATASET REAL_DATA_DIR CACHE_DIR
# GENERATED_DATASET must be made by: make_dataset.py DIR --channels 2 --dtype int16 --cases 6 --seed 1
set -eu
cd "$(dirname "$0")/../.."
mode=$1 gen=$2 real=$3 cache=$4
PF=./patchfs
GOLDEN=tests/integration/golden.sha256
FILES="train/epoch_0/step_0/data.npy train/epoch_0/step_0/seg.npy train/epoch_0/step_0/meta.json
train/epoch_17/step_123/data.npy train/epoch_17/step_123/seg.npy val/epoch_2/step_9/data.npy
val/epoch_2/step_9/seg.npy cases/case_003/data.npy cases/case_003/seg.npy
train/epoch_17/step_123/batch.npz"
AUG_FILES="train/epoch_0/step_0/data.npy train/epoch_0/step_0/seg.npy train/epoch_4/step_77/data.npy
train/epoch_4/step_77/seg.npy train/epoch_4/step_77/seg_ds1.npy train/epoch_4/step_77/meta.json
train/epoch_4/step_77/batch.npz train/epoch_4/step_3/data.npy train/epoch_4/step_3/seg.npy
train/epoch_4/step_15/data.npy train/epoch_4/step_15/seg.npy train/epoch_4/step_23/data.npy
train/epoch_4/step_23/seg.npy train/epoch_4/step_23/seg_ds1.npy"
# epoch_4/step_3 holds a resampled sample whose mirroring the samplers do themselves
# (pf_aug_mirror_in_grid); its digests were taken from the code before that (8759957), which
# mirrored in a separate pass. epoch_4/step_15 and step_23 hold unresampled samples whose crop
# is written mirrored (pf_aug_mirror_in_crop: all three axes with padding; X alone; Z and X
# with padding); their digests were taken from the code before that (e32a13a), which mirrored
# them in a separate pass
REAL_FILES="train/epoch_0/step_0/data.npy train/epoch_0/step_0/seg.npy train/epoch_3/step_17/data.npy
train/epoch_3/step_17/seg.npy train/epoch_3/step_17/meta.json val/epoch_0/step_1/data.npy"
# format 2: nnU-Net's plan and its resampled, transposed grids at default options
PLAN_FILES="plans.json train/epoch_0/step_0/data.npy train/epoch_0/step_0/seg.npy
cases/sct_mt1/data.npy cases/sct_mt1/seg.npy cases/sct_t2s/properties.json"

compute() {
    for f in $FILES; do
        printf '%s  gen:%s\n' "$("$PF" get "$gen" "$f" -o "seed=7,batch=3,patch=16x24x24,cache=$cache" 2>/dev/null | sha256sum | cut -d' ' -f1)" "$f"
    done
    # augmented training steps (aug=nnunet, deep supervision), pinned like the plain ones
    for f in $AUG_FILES; do
        printf '%s  gen-aug:%s\n' "$("$PF" get "$gen" "$f" -o "seed=7,batch=3,patch=16x24x24,aug=nnunet,ds_scales=1,0.5,cache=$cache" 2>/dev/null | sha256sum | cut -d' ' -f1)" "$f"
    done
    if [ -d "$real/Dataset004_Hippocampus" ]; then
        for f in $REAL_FILES; do
            printf '%s  hippocampus:%s\n' "$("$PF" get "$real/Dataset004_Hippocampus" "$f" -o "seed=7,patch=32x48x32,batch=4,cache=$cache" 2>/dev/null | sha256sum | cut -d' ' -f1)" "$f"
        done
    fi
    if [ -d "$real/Dataset102_SpinalCordMixed" ]; then
        for f in $PLAN_FILES; do
            printf '%s  spinalcord:%s\n' "$("$PF" get "$real/Dataset102_SpinalCordMixed" "$f" -o "seed=7,cache=$cache" 2>/dev/null | sha256sum | cut -d' ' -f1)" "$f"
        done
    fi
}

case $mode in
update)
    compute > "$GOLDEN"
    cat "$GOLDEN"
    ;;
check)
    compute > "$cache.now"
    # every computed line must be pinned (real-data lines only when the data is present)
    missing=$(grep -vxFf "$GOLDEN" "$cache.now" || true)
    if [ -n "$missing" ]; then
        echo "golden digests differ (or are not pinned):"
        echo "$missing"
        exit 1
    fi
    echo "$(wc -l < "$cache.now") golden digests match"
    ;;
esac
