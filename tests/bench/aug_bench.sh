#!/usr/bin/env bash
# aug_bench.sh - the augmentation part of `make bench` (issue 7): patchfs's spatial transform
# and whole pipeline per sample (bench_aug) against scipy's map_coordinates and a numpy/scipy
# pipeline on the same case and patch, one core each, and the intensity transforms per vector
# path (bench_intensity). Uses the real BraTS set when present,
# else the bench's generated dataset.
#   aug_bench.sh WORKDIR [PATCH]
set -eu
cd "$(dirname "$0")/../.."
work=$1 patch=${2:-128x128x128}
PY=${PYTHON:-/usr/bin/python3}
ds=../shared/data/real/Dataset101_BraTS2013DeepMedic
if [ ! -d "$ds" ]; then
    ds=$work/aug_ds
    [ -f "$ds/dataset.json" ] || "$PY" tests/tools/make_dataset.py "$ds" --cases 2 --channels 2 --shape 160,200,200 >/dev/null
fi
mkdir -p "$work"
build/bench/bench_aug "$ds" "$patch" 5 "cache=$work/aug_cache" > "$work/aug.json"
# the intensity transforms and the whole worst-case sample per vector path (issue 17 item 4)
build/bench/bench_intensity -d "$ds" -o "cache=$work/aug_cache" "$patch" 5
id=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['case'])" "$work/aug.json")
./patchfs get "$ds" "cases/$id/data.npy" -o "cache=$work/aug_cache" > "$work/aug_case.npy"
./patchfs get "$ds" "cases/$id/seg.npy" -o "cache=$work/aug_cache" > "$work/aug_seg.npy"
taskset -c 0 "$PY" tests/bench/aug_baseline.py "$work/aug_case.npy" "$work/aug_seg.npy" "$work/aug.json" 3
# training steps through the mount, aug=nnunet vs aug=none (issue 7: >= 0.5x), same patch
"$PY" tests/bench/aug_mount_rate.py "$ds" "$work" --patch "$patch" --reps 3
