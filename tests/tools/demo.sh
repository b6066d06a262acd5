#!/usr/bin/env bash
# demo.sh - the main job on an embedded default: generate a small synthetic dataset, mount it
# with patchfs, read a training batch with numpy, show its provenance, unmount.
# Run by `make demo`. Set DATASET=/path/to/DatasetXXX to mount your own instead.
set -eu
cd "$(dirname "$0")/../.."
PY=${PYTHON:-/usr/bin/python3}
WORK=${DEMO_DIR:-/tmp/patchfs-demo}
DATASET=${DATASET:-$WORK/Dataset900_Synthetic}
MNT=$WORK/mnt
OPTS=${OPTS:-seed=7,batch=4}

mkdir -p "$WORK" "$MNT"
mountpoint -q "$MNT" && fusermount3 -u "$MNT"
if [ ! -f "$DATASET/dataset.json" ]; then
    echo "== generating a synthetic 2-channel dataset in $DATASET"
    "$PY" tests/tools/make_dataset.py "$DATASET" --channels 2 --cases 8 --classes 2
fi
echo "== patchfs $DATASET $MNT -o $OPTS"
./patchfs "$DATASET" "$MNT" -o "$OPTS,cache=$WORK/cache"
trap 'fusermount3 -u "$MNT" 2>/dev/null || true' EXIT
echo "== ls $MNT"
ls "$MNT"
echo "== ls -l $MNT/train/epoch_0/step_0"
ls -l "$MNT/train/epoch_0/step_0"
echo "== reading the batch with numpy"
"$PY" - "$MNT" <<'PY'
import json, sys
import numpy as np
mnt = sys.argv[1]
data = np.load(mnt + "/train/epoch_0/step_0/data.npy")
seg = np.load(mnt + "/train/epoch_0/step_0/seg.npy")
meta = json.load(open(mnt + "/train/epoch_0/step_0/meta.json"))
print("data.npy", data.shape, data.dtype, "mean %.3f std %.3f" % (data.mean(), data.std()))
print("seg.npy ", seg.shape, seg.dtype, "labels", np.unique(seg).tolist())
for p in meta["positions"]:
    print("  position %d: case %s forced=%s class=%s box %s..%s" % (
        p["position"], p["case"], p["forced"], p["class"], p["box_start"], p["box_end"]))
PY
echo "== the same file without FUSE: patchfs get ... | cmp"
./patchfs get "$DATASET" train/epoch_0/step_0/data.npy -o "$OPTS,cache=$WORK/cache" | cmp - "$MNT/train/epoch_0/step_0/data.npy" && echo "identical"
echo "== fusermount3 -u $MNT"
