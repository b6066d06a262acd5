#!/usr/bin/env bash
# examples.sh - the client examples in examples/ run against real mounts; run by
# tests/integration/run.sh (or alone):
#
#   PF=./patchfs PY=/usr/bin/python3 REAL=../shared/data/real T=$(mktemp -d) \
#       bash tests/integration/examples.sh
#
# One line per assertion: "ok - examples: ...", "not ok - examples: ..." (details indented
# below) or "skip - examples: ... (reason)". Needs root and FUSE; mounts what it needs (cache in
# $T/cache) and unmounts everything on exit. Uses Dataset004_Hippocampus from $REAL when present,
# else a generated dataset.
#
#   * pytorch (examples/pytorch; skipped when `import torch` fails: make deps-examples): short
#     trainings (2 epochs x 20 steps, 4 val steps, a 24x32x24 patch): the loss falls; every
#     logged batch digest is the digest of the mount's files at that (split, epoch, step); a
#     second run with the same seed (other worker count) sees identical batches; a run stopped
#     at epoch 1 step 5 and resumed from its checkpoint sees the uninterrupted run's batches
#     from there on, and so does a fresh start at --start-epoch 1 --start-step 5; --resume on a
#     mount with other content options is refused, naming them; given the dataset folder, the
#     example mounts it itself (patchfs.Mount) and leaves no mount behind;
#     its final validation (tests/integration/final_validation_check.py): after the resumed
#     run's last epoch and after the dataset-folder run, summary.json lists every validation
#     case and export rebuilt nothing; --validate-only of a checkpoint on a mount with a small
#     patch (several tiles per case): the exported NIfTIs have the source labels' shape and
#     affine, pred/ID.npy equals numpy's Gaussian-weighted average of the dumped per-tile
#     logits, a tile's logits equal nnU-Net's 8-flip mean done one by one (or the plain output
#     with --no-mirror), tiles cut from data.npy give the same prediction as the tile files,
#     and stitching one-hot tiles of cases/ID/seg.npy gives seg.npy back; after training on
#     aug=nnunet the final validation mirrors by default (8-flip mean per tile);
#   * numpy (examples/numpy/class_stats.py): its per-class table of an epoch equals an
#     independent computation over `patchfs get` output (1-channel real and 2-channel data);
#   * C (examples/c/npy_read.c): compiles without a warning under -Wall -Wextra -pedantic;
#     shape, dtype, count and CRC-32 equal numpy's, sum/min/max agree; also a big-endian
#     .npy 2.0 file; a truncated file is an error;
#   * node (examples/node/npy_read.js; skipped without node): the same comparison with numpy;
#   * shell (docs/clients.md): head -c 128, md5sum across two mounts, tar and rsync of an
#     epoch, jq over meta.json.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
PF=${PF:-$ROOT/patchfs}
PY=${PY:-/usr/bin/python3}
REAL=${REAL:-$ROOT/../shared/data/real}
OWN_T=""
if [ -z "${T:-}" ]; then T=$(mktemp -d /tmp/patchfs-examples.XXXXXX); OWN_T=1; fi
mkdir -p "$T"
export XDG_CACHE_HOME=$T/xdg
export PYTHONDONTWRITEBYTECODE=1   # leave no __pycache__ in examples/
MOUNTS=()
START=$(date +%s)

cleanup() {
    for m in "${MOUNTS[@]}"; do
        if mountpoint -q "$m" 2>/dev/null || ! stat "$m" >/dev/null 2>&1; then
            fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
        fi
    done
    [ -n "$OWN_T" ] && rm -rf --one-file-system "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SUITE="examples: "
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"



# the dataset: the real hippocampus when present (small, 1 channel), else a generated one
if [ -f "$REAL/Dataset004_Hippocampus/dataset.json" ]; then
    DS=$REAL/Dataset004_Hippocampus
    DSNAME="real Dataset004_Hippocampus"
else
    DS=$T/synthetic
    DSNAME="generated dataset ($REAL/Dataset004_Hippocampus absent)"
    "$PY" tests/tools/make_dataset.py "$DS" --cases 8 --classes 2 >/dev/null
fi
"$PY" tests/tools/make_dataset.py "$T/gen2" --channels 2 --cases 5 --classes 2 --seed 5 >/dev/null

# M: the clients' mount (20 steps per epoch so an epoch is walked quickly)
M=$T/mnt
MOPTS="seed=3,batch=2,steps=20,val_steps=5,epochs=3,cache=$T/cache"
# G: a 2-channel generated dataset
G=$T/mnt_gen2
GOPTS="seed=4,batch=3,steps=10,val_steps=3,epochs=2,cache=$T/cache"
if ! pf_mount "$DS" "$M" "$MOPTS"; then
    bad "mounts $DSNAME"
    sed 's/^/    /' "$T/mount.err"
    exit 1
fi
pf_mount "$T/gen2" "$G" "$GOPTS" || { bad "mounts a generated 2-channel dataset"; exit 1; }

# npy_reference FILE...: numpy's version of the line examples/c and examples/node print
npy_reference() {
    "$PY" - "$@" <<'PY'
import sys, zlib
import numpy as np
from numpy.lib import format as fmt
for f in sys.argv[1:]:
    with open(f, "rb") as fh:
        major, _ = fmt.read_magic(fh)
        fortran = (fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0)(fh)[1]
    a = np.load(f)
    v = a.ravel(order="K").astype(np.float64)          # file order
    s = float(np.cumsum(v)[-1]) if v.size else 0.0      # sequential, as the readers add
    shape = "(" + ",".join(map(str, a.shape)) + ("," if a.ndim == 1 else "") + ")"
    print(f"{f} shape={shape} dtype={a.dtype.str}{' fortran_order' if fortran else ''}"
          f" count={a.size} crc32={zlib.crc32(a.tobytes(order='A')):08x} sum={s!r}"
          f" min={float(v.min()) if v.size else 0.0!r} max={float(v.max()) if v.size else 0.0!r}")
PY
}

# same_summaries REF OUT: every line agrees (exact: path, shape, dtype, count, crc32; numeric:
# sum, min, max to 1e-9 relative)
same_summaries() {
    "$PY" - "$1" "$2" <<'PY'
import math, sys
ref, out = (open(p).read().splitlines() for p in sys.argv[1:])
if len(ref) != len(out):
    sys.exit(f"{len(out)} lines, expected {len(ref)}:\n" + "\n".join(out))
for r, o in zip(ref, out):
    rd = dict(w.split("=", 1) if "=" in w else (w, w) for w in r.split())
    od = dict(w.split("=", 1) if "=" in w else (w, w) for w in o.split())
    for k in rd:
        if k in ("sum", "min", "max"):
            a, b = float(rd[k]), float(od.get(k, "nan"))
            if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9):
                sys.exit(f"{k} differs:\n numpy: {r}\n   got: {o}")
        elif rd[k] != od.get(k):
            sys.exit(f"{k} differs:\n numpy: {r}\n   got: {o}")
    if set(od) != set(rd):
        sys.exit(f"other fields:\n numpy: {r}\n   got: {o}")
print(len(ref), "files agree")
PY
}

NPY_FILES="$M/train/epoch_0/step_0/data.npy $M/train/epoch_0/step_0/seg.npy $M/val/epoch_2/step_4/data.npy
 $M/train/epoch_2/step_19/seg.npy $G/train/epoch_1/step_3/data.npy $G/train/epoch_1/step_3/seg.npy"
NPY_FILES="$NPY_FILES $(ls -d "$M"/cases/* | head -1)/data.npy $(ls -d "$G"/cases/* | head -1)/seg.npy"
# files numpy writes that patchfs never serves: big-endian float64 in format 2.0, 1-D int32,
# uint8 0-D, Fortran-order
"$PY" - "$T/npy" <<'PY'
import os, sys
import numpy as np
from numpy.lib import format as fmt
d = sys.argv[1]; os.makedirs(d, exist_ok=True)
rs = np.random.RandomState(0)
with open(f"{d}/be_v2.npy", "wb") as f:
    fmt.write_array(f, rs.standard_normal((3, 4, 5)).astype(">f8"), version=(2, 0))
np.save(f"{d}/i4_1d.npy", np.arange(-7, 20, dtype=np.int32))
np.save(f"{d}/u1_0d.npy", np.uint8(200))
np.save(f"{d}/f4_fortran.npy", np.asfortranarray(rs.standard_normal((4, 6)).astype(np.float32)))
PY
NPY_EXTRA="$T/npy/be_v2.npy $T/npy/i4_1d.npy $T/npy/u1_0d.npy $T/npy/f4_fortran.npy"
# shellcheck disable=SC2086
npy_reference $NPY_FILES $NPY_EXTRA > "$T/npy_ref.txt" 2>&1
head -c 300 "$M/train/epoch_0/step_0/data.npy" > "$T/npy/truncated.npy"

# ---------------------------------------------------------------- C
if ! command -v cc >/dev/null; then
    skip "c: npy_read.c compiles warning-free (no C compiler: make deps)"
else
    check "c: npy_read.c compiles without warnings (-std=c99 -Wall -Wextra -pedantic)" bash -c \
        "cc -std=c99 -O2 -Wall -Wextra -pedantic -o '$T/npy_read' examples/c/npy_read.c 2>&1 | tee '$T/cc.err'; [ -x '$T/npy_read' ] && [ ! -s '$T/cc.err' ]"
    if [ -x "$T/npy_read" ]; then
        # shellcheck disable=SC2086
        "$T/npy_read" $NPY_FILES $NPY_EXTRA > "$T/c_out.txt" 2>&1
        check "c: shape, dtype, count, CRC-32, sum, min, max equal numpy's (batches, cases, numpy-written files)" \
            same_summaries "$T/npy_ref.txt" "$T/c_out.txt"
        check "c: a truncated file is an error naming it" bash -c \
            "! '$T/npy_read' '$T/npy/truncated.npy' 2>'$T/c_err' && grep -q 'truncated.npy: .*missing' '$T/c_err'"
    fi
fi

# ---------------------------------------------------------------- node
if ! command -v node >/dev/null; then
    skip "node: npy_read.js equals numpy (node not installed: make deps-examples)"
else
    # shellcheck disable=SC2086
    node examples/node/npy_read.js $NPY_FILES $NPY_EXTRA > "$T/node_out.txt" 2>&1
    check "node $(node --version): shape, dtype, count, CRC-32, sum, min, max equal numpy's" \
        same_summaries "$T/npy_ref.txt" "$T/node_out.txt"
    check "node: a truncated file is an error naming it" bash -c \
        "! node examples/node/npy_read.js '$T/npy/truncated.npy' 2>'$T/n_err' && grep -q 'truncated.npy: truncated' '$T/n_err'"
fi

# ---------------------------------------------------------------- numpy
# class_stats_reference DATASET OPTS EPOCH SPLIT STEPS OUT: the same table, computed from
# `patchfs get` (no mount) with bincount and per-class concatenation
class_stats_matches() {
    local ds=$1 opts=$2 mnt=$3 epoch=$4 split=$5 steps=$6 s
    mkdir -p "$T/cs"
    rm -f "$T"/cs/*
    for s in $(seq 0 $((steps - 1))); do
        "$PF" get "$ds" "$split/epoch_$epoch/step_$s/data.npy" -o "$opts" > "$T/cs/d$s.npy" || return 1
        "$PF" get "$ds" "$split/epoch_$epoch/step_$s/seg.npy" -o "$opts" > "$T/cs/s$s.npy" || return 1
    done
    "$PY" examples/numpy/class_stats.py "$mnt" "$epoch" "$split" > "$T/cs_out.txt" || return 1
    cat "$T/cs_out.txt"
    "$PY" - "$T/cs" "$steps" "$T/cs_out.txt" "$split" "$epoch" <<'PY'
import math, sys
import numpy as np
d, steps, out, split, epoch = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
data = np.concatenate([np.load(f"{d}/d{s}.npy") for s in range(steps)])        # (N, C, Z, Y, X)
seg = np.concatenate([np.load(f"{d}/s{s}.npy") for s in range(steps)])[:, 0]   # (N, Z, Y, X)
counts = np.bincount(seg.ravel() + 1)
lines = open(out).read().splitlines()
assert lines[0] == f"{split} epoch {epoch}: {steps} steps, {seg.size} voxels", lines[0]
rows = [l.split() for l in lines[2:]]
present = [c - 1 for c in range(len(counts)) if counts[c]]
assert [int(r[0]) for r in rows] == present, (rows, present)
C = data.shape[1]
for r in rows:
    c = int(r[0])
    assert int(r[2]) == counts[c + 1], (r, counts[c + 1])
    assert abs(float(r[3]) - counts[c + 1] / seg.size) < 1e-6, r
    for ch in range(C):
        v = data[:, ch][seg == c].astype(np.float64)
        assert math.isclose(float(r[4 + ch]), v.mean(), abs_tol=2e-6), (r, ch, v.mean())
        assert math.isclose(float(r[4 + C + ch]), v.std(), abs_tol=2e-6), (r, ch, v.std())
    assert len(r) == 4 + 2 * C, r
print("table agrees:", len(rows), "classes,", C, "channel(s)")
PY
}
check "numpy: class_stats.py train epoch 1 of the $DSNAME equals bincount over patchfs get" \
    class_stats_matches "$DS" "$MOPTS" "$M" 1 train 20
check "numpy: class_stats.py val epoch 0 of a 2-channel dataset equals bincount over patchfs get" \
    class_stats_matches "$T/gen2" "$GOPTS" "$G" 0 val 3

# ---------------------------------------------------------------- shell (docs/clients.md)
check "shell: head -c 128 data.npy shows dtype and shape" bash -c \
    "head -c 128 '$M/train/epoch_0/step_0/data.npy' | grep -a -q \"'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, \""
M2=$T/mnt_again
if pf_mount "$DS" "$M2" "seed=3,batch=2,steps=20,val_steps=5,epochs=3,cache=$T/cache2,threads=1"; then
    check "shell: md5sum of an epoch is the same on a second mount (fresh cache, 1 thread)" bash -c \
        "(cd '$M/train/epoch_1' && md5sum step_*/*.npy step_*/meta.json) > '$T/sums1' && (cd '$M2/train/epoch_1' && md5sum step_*/*.npy step_*/meta.json) > '$T/sums2' && [ \$(wc -l < '$T/sums1') = 60 ] && cmp '$T/sums1' '$T/sums2'"
    fusermount3 -u "$M2"
else
    bad "shell: second mount"
    sed 's/^/    /' "$T/mount.err"
fi
check "shell: tar of an epoch extracts to the same bytes (md5sum -c)" bash -c \
    "(cd '$M/train' && tar -cf '$T/epoch_1.tar' epoch_1/step_*/*.npy epoch_1/step_*/meta.json) && mkdir -p '$T/untar' && tar -C '$T/untar' -xf '$T/epoch_1.tar' && (cd '$T/untar/epoch_1' && md5sum --quiet -c '$T/sums1') && [ \$(tar -tf '$T/epoch_1.tar' | wc -l) = 60 ]"
if command -v rsync >/dev/null; then
    check "shell: rsync -a of an epoch's batch files gives the same bytes (md5sum -c)" bash -c \
        "rsync -a --include='step_*/' --include='step_*/*.npy' --include='step_*/meta.json' --exclude='*' '$M/train/epoch_1/' '$T/rsynced/' && (cd '$T/rsynced' && md5sum --quiet -c '$T/sums1') && [ \$(find '$T/rsynced' -type f | wc -l) = 60 ]"
else
    skip "shell: rsync of an epoch (rsync not installed)"
fi
if command -v jq >/dev/null; then
    jq_cases() {
        jq -r '.positions[].case' "$M/train/epoch_0/step_3/meta.json" > "$T/jq.txt" || return 1
        "$PY" -c "import json, sys; [print(p['case']) for p in json.load(open(sys.argv[1]))['positions']]" \
            "$M/train/epoch_0/step_3/meta.json" > "$T/py.txt" || return 1
        cat "$T/jq.txt"
        [ -s "$T/jq.txt" ] && cmp "$T/jq.txt" "$T/py.txt"
    }
    check "shell: jq over meta.json lists the cases python's json sees" jq_cases
else
    skip "shell: jq over meta.json (jq not installed)"
fi

# ---------------------------------------------------------------- pytorch
TORCH_CHECKS=("pytorch: training runs (2 epochs x 20 steps, 2 workers)" "pytorch: loss falls"
    "pytorch: logged batch digests are the mount's files" "pytorch: a second run with the same seed sees identical batches"
    "pytorch: stopped at epoch 1 step 5 and resumed from the checkpoint: the same batches"
    "pytorch: --start-epoch 1 --start-step 5: the same batches"
    "pytorch: --resume on a mount with other content options (aug=nnunet) is refused, naming aug"
    "pytorch: given the dataset folder, it mounts it itself (patchfs.Mount), trains and leaves no mount"
    "pytorch: final validation after the last epoch (resumed run; no aug: no mirroring): summary.json of every validation case, no cache rebuilt"
    "pytorch: final validation of the dataset-folder run: export with the Mount's cache, no rebuild"
    "pytorch: --validate-only on a mount with a small patch: summary.json of every validation case"
    "pytorch: exported NIfTIs have the source's shape and affine (nibabel)"
    "pytorch: pred/ID.npy equals numpy's Gaussian-weighted average of the dumped tile logits"
    "pytorch: a tile's logits are nnU-Net's mean over 8 flips (one by one, here)"
    "pytorch: --no-mirror: a tile's logits are the network's output"
    "pytorch: --tile-source slice (data.npy cut by tiles.json) predicts the same as the tile files"
    "pytorch: stitching one-hot tiles of cases/ID/seg.npy gives seg.npy back (argmax)"
    "pytorch: final validation after training on aug=nnunet: mirroring on by default, a tile's logits the 8-flip mean, summary.json of every validation case")
if ! "$PY" -c "import torch" >"$T/torch.err" 2>&1; then
    why=$(tail -1 "$T/torch.err")
    for c in "${TORCH_CHECKS[@]}"; do skip "$c (import torch failed: $why; install with 'make deps-examples')"; done
else
    P=$T/mnt_torch
    # the real Hippocampus with no patch= or batch=: nnU-Net's 3d_fullres plan (40x56x40,
    # batch 2), which a 3-level U-Net takes as it is; the small generated fallback names one
    if [ "$DS" = "$REAL/Dataset004_Hippocampus" ]; then
        POPTS="seed=7,cache=$T/cache"
    else
        POPTS="seed=7,patch=24x32x24,batch=2,cache=$T/cache"
    fi
    TRAIN=(examples/pytorch/train_unet.py "$P" --epochs 2 --steps 20 --val-steps 4 --print-every 10)
    # the final validation finds the binary as the package does: $PATCHFS
    export PATCHFS=$PF
    if ! pf_mount "$DS" "$P" "$POPTS"; then
        bad "pytorch: mounts"
        sed 's/^/    /' "$T/mount.err"
    else
        t0=$(date +%s)
        timeout 600 "$PY" "${TRAIN[@]}" --workers 2 --log "$T/a.jsonl" --no-final-validation > "$T/a.out" 2>&1
        rc=$?
        t1=$(date +%s)
        check "${TORCH_CHECKS[0]} on the $DSNAME, $((t1 - t0)) s" bash -c \
            "cat '$T/a.out'; [ $rc = 0 ] && [ \$(grep -c '\"train\"' '$T/a.jsonl') = 40 ] && [ \$(grep -c '\"val\"' '$T/a.jsonl') = 8 ]"
        # the run to compare with: 3 workers, stopped after 25 steps (epoch 1 step 5 is next)
        timeout 600 "$PY" "${TRAIN[@]}" --workers 3 --log "$T/b.jsonl" --checkpoint "$T/b.pt" --stop-after 25 > "$T/b.out" 2>&1
        # resumed from the checkpoint with 1 worker
        # (it reaches the last epoch: the final validation follows)
        timeout 600 "$PY" "${TRAIN[@]}" --workers 1 --log "$T/c.jsonl" --checkpoint "$T/b.pt" --resume "$T/b.pt" \
            --val-dir "$T/val_c" --cache "$T/cache" > "$T/c.out" 2>&1
        # a fresh start at epoch 1 step 5 (no checkpoint), 5 steps
        timeout 600 "$PY" "${TRAIN[@]}" --workers 0 --log "$T/d.jsonl" --start-epoch 1 --start-step 5 --stop-after 5 > "$T/d.out" 2>&1
        "$PY" - "$T" "$P" <<'PY' > "$T/torch_checks.txt" 2>&1
import hashlib, json, sys
import numpy as np
T, P = sys.argv[1:]
def load(name):
    try:
        return [json.loads(l) for l in open(f"{T}/{name}.jsonl")]
    except OSError as e:
        return []
def key(r):
    return (r["split"], r["epoch"], r["step"])
a, b, c, d = (load(n) for n in "abcd")
out = {}
tr = [r["loss"] for r in a if r["split"] == "train"]
first, last = (sum(x) / len(x) if x else float("nan") for x in (tr[:10], tr[-10:]))
out["loss"] = (len(tr) == 40 and last < first, f"mean loss of the first 10 steps {first:.4f}, last 10 {last:.4f}")
bad = []
for r in a:
    f = f"{P}/{r['split']}/epoch_{r['epoch']}/step_{r['step']}/"
    h = hashlib.sha256(np.load(f + "data.npy").tobytes() + np.load(f + "seg.npy").tobytes()).hexdigest()[:32]
    if h != r["digest"]:
        bad.append(key(r))
# most batches differ: with nnU-Net's Hippocampus patch (larger than every case) a case's random
# crop has one position, so two batches drawing the same cases and positions can repeat
n_distinct = len({r["digest"] for r in a})
distinct = n_distinct >= 0.75 * len(a)
out["digests"] = (a != [] and not bad and distinct, f"{len(a)} batches, mismatches {bad[:5]}, {n_distinct} distinct")
def same(x, y, what):
    kx, ky = [(key(r), r["digest"]) for r in x], [(key(r), r["digest"]) for r in y]
    diff = [(p, q) for p, q in zip(kx, ky) if p != q]
    return (kx != [] and kx == ky, f"{what}: {len(kx)} vs {len(ky)} batches, first differences {diff[:3]}")
# b stopped after 25 train steps: train 0..19 of epoch 0, val of epoch 0, train 0..4 of epoch 1
cut = next((i for i, r in enumerate(a) if key(r) == ("train", 1, 5)), len(a))
out["second"] = same(b, a[:cut], "second run vs first")
out["resume"] = same(c, a[cut:], "resumed vs uninterrupted from (1, 5)")
out["start"] = same(d, a[cut:cut + 5], "--start-epoch 1 --start-step 5 vs uninterrupted")
same_loss = [r["loss"] for r in b + c] == [r["loss"] for r in a]
out["info"] = (True, f"losses of stopped+resumed run identical to the uninterrupted run's: {same_loss}")
for k, (good, msg) in out.items():
    print(k, "PASS" if good else "FAIL", msg)
PY
        verdict() { grep -q "^$1 PASS" "$T/torch_checks.txt"; }
        show() { cat "$T/torch_checks.txt"; for f in "$@"; do echo "== $f"; tail -8 "$T/$f"; done; false; }
        lossline=$(sed -n 's/^loss [A-Z]* //p' "$T/torch_checks.txt")
        if verdict loss; then ok "${TORCH_CHECKS[1]} ($lossline)"; else bad "${TORCH_CHECKS[1]}"; show a.out | sed 's/^/    /'; fi
        if verdict digests; then ok "${TORCH_CHECKS[2]}"; else bad "${TORCH_CHECKS[2]}"; show a.out | sed 's/^/    /'; fi
        if verdict second; then ok "${TORCH_CHECKS[3]} (3 workers vs 2)"; else bad "${TORCH_CHECKS[3]}"; show b.out | sed 's/^/    /'; fi
        if verdict resume; then ok "${TORCH_CHECKS[4]}"; else bad "${TORCH_CHECKS[4]}"; show b.out c.out | sed 's/^/    /'; fi
        if verdict start; then ok "${TORCH_CHECKS[5]}"; else bad "${TORCH_CHECKS[5]}"; show d.out | sed 's/^/    /'; fi
        # the checkpoint of the stopped run, on a mount whose batches differ (aug=nnunet)
        PA=$T/mnt_torch_aug
        if pf_mount "$DS" "$PA" "$POPTS,aug=nnunet"; then
            timeout 600 "$PY" examples/pytorch/train_unet.py "$PA" --epochs 2 --steps 20 --val-steps 4 \
                --resume "$T/b.pt" > "$T/e.out" 2>&1
            rc=$?
            check "${TORCH_CHECKS[6]}" bash -c "cat '$T/e.out'; [ $rc != 0 ] && grep -q 'b.pt: .*other batches' '$T/e.out' &&
                grep -q 'option aug: absent (default) when saved' '$T/e.out' && ! grep -q 'option seed' '$T/e.out' && ! grep -q '^epoch' '$T/e.out'"
            # trained on mirrored batches: the final validation's default (--mirror auto) mirrors,
            # as nnU-Net does; the checkpoint after the last epoch holds the validated weights
            timeout 900 "$PY" examples/pytorch/train_unet.py "$PA" --epochs 1 --steps 3 --val-steps 1 \
                --checkpoint "$T/g.pt" --val-dir "$T/val_g" --dump-tiles "$T/tiles_g" --cache "$T/cache" > "$T/g.out" 2>&1
            fv_mirrored() {
                cat "$T/g.out"
                grep -q 'mirroring on (8 predictions per tile) (trained on mirrored batches, aug=nnunet)' "$T/g.out" &&
                    grep -q '^final validation: foreground mean Dice' "$T/g.out" && ! grep -q 'rebuilt\|: preparing ' "$T/g.out" &&
                    "$PY" tests/integration/final_validation_check.py summary "$PA" "$DS" "$T/val_g" "$T/g.out" &&
                    "$PY" tests/integration/final_validation_check.py mirror "$PA" "$DS" "$T/tiles_g" "$T/g.pt" 1
            }
            check "${TORCH_CHECKS[17]}" fv_mirrored
            fusermount3 -u "$PA"
        else
            bad "${TORCH_CHECKS[6]}: mounts"
            bad "${TORCH_CHECKS[17]}: mounts"
        fi
        # SOURCE a dataset folder: the example mounts it on a temporary folder under $T
        PATCHFS=$PF TMPDIR=$T timeout 600 "$PY" examples/pytorch/train_unet.py "$DS" -o "$POPTS" --epochs 1 --steps 3 \
            --val-steps 1 --log "$T/f.jsonl" --val-dir "$T/val_f" > "$T/f.out" 2>&1
        rc=$?
        check "${TORCH_CHECKS[7]}" bash -c "cat '$T/f.out'; [ $rc = 0 ] && [ \$(grep -c '\"train\"' '$T/f.jsonl') = 3 ] &&
            [ \"\$(head -3 '$T/f.jsonl' | cut -d, -f1-3)\" = \"\$(grep '\"train\"' '$T/a.jsonl' | head -3 | cut -d, -f1-3)\" ] &&
            [ \"\$(head -3 '$T/f.jsonl' | sed 's/.*digest//')\" = \"\$(grep '\"train\"' '$T/a.jsonl' | head -3 | sed 's/.*digest//')\" ] &&
            ! grep -q ' $T/patchfs-' /proc/mounts && ! ls -d '$T'/patchfs-* 2>/dev/null"
        # the final validation (examples/pytorch/final_validation.py)
        FV=tests/integration/final_validation_check.py
        fv_ran() {  # OUT VAL_DIR: the run validated, export found the cache as the mount left it
            cat "$1"
            grep -q '^final validation: foreground mean Dice' "$1" && ! grep -q 'rebuilt\|: preparing ' "$1" &&
                "$PY" "$FV" summary "$P" "$DS" "$2" "$1"
        }
        fv_ran_unmirrored() { fv_ran "$@" && grep -q 'mirroring off (trained without mirroring' "$1"; }
        check "${TORCH_CHECKS[8]}" fv_ran_unmirrored "$T/c.out" "$T/val_c"
        check "${TORCH_CHECKS[9]}" fv_ran "$T/f.out" "$T/val_f"
        # a mount with a small patch: several tiles per case, z padded (the Hippocampus validation
        # cases have 35 and 38 slices); the same cache
        PV=$T/mnt_torch_tiles
        if pf_mount "$DS" "$PV" "seed=7,patch=40x32x24,cache=$T/cache"; then
            VAL=(examples/pytorch/train_unet.py "$PV" --validate-only "$T/b.pt" --cache "$T/cache" --threads 1)
            # b.pt was trained without aug=nnunet: mirroring is off unless forced
            timeout 600 "$PY" "${VAL[@]}" --val-dir "$T/val_v" --dump-tiles "$T/tiles_v" --mirror on > "$T/v.out" 2>&1
            timeout 600 "$PY" "${VAL[@]}" --val-dir "$T/val_w" --tile-source slice --mirror on > "$T/w.out" 2>&1
            timeout 600 "$PY" "${VAL[@]}" --val-dir "$T/val_x" --dump-tiles "$T/tiles_x" --no-mirror > "$T/x.out" 2>&1
            check "${TORCH_CHECKS[10]}" bash -c "cat '$T/v.out'; [ \$(grep -c 'logits in' '$T/v.out') -ge 1 ] &&
                ! grep -q 'rebuilt\|: preparing ' '$T/v.out' && '$PY' '$FV' summary '$PV' '$DS' '$T/val_v' '$T/v.out'"
            check "${TORCH_CHECKS[11]}" "$PY" "$FV" nifti "$PV" "$DS" "$T/val_v"
            check "${TORCH_CHECKS[12]}" "$PY" "$FV" stitch "$PV" "$DS" "$T/val_v" "$T/tiles_v"
            check "${TORCH_CHECKS[13]}" "$PY" "$FV" mirror "$PV" "$DS" "$T/tiles_v" "$T/b.pt" 1
            check "${TORCH_CHECKS[14]}" bash -c "cat '$T/x.out'; '$PY' '$FV' mirror '$PV' '$DS' '$T/tiles_x' '$T/b.pt' 0"
            check "${TORCH_CHECKS[15]}" bash -c "cat '$T/w.out'; '$PY' '$FV' same '$PV' '$DS' '$T/val_v' '$T/val_w'"
            check "${TORCH_CHECKS[16]}" "$PY" "$FV" onehot "$PV" "$DS"
            grep -h '^final validation: foreground' "$T/v.out" | sed 's/^/# pytorch: --validate-only, 20 steps: /'
            fusermount3 -u "$PV"
        else
            bad "pytorch: final validation: mounts with patch=40x32x24"
        fi
        sed -n 's/^info PASS /# pytorch: /p' "$T/torch_checks.txt"
        grep -h '^done:' "$T/a.out" | sed 's/^/# pytorch: first run /'
    fi
fi

for m in "${MOUNTS[@]}"; do mountpoint -q "$m" && fusermount3 -u "$m"; done
echo "# examples suite: $(($(date +%s) - START)) s"
