#!/usr/bin/env python3
"""export_bench.py - section i of `make bench` (tests/bench/bench.py): the end of a run.

  h  `patchfs export` of a 4-class float32 prediction of a resampled 155x240x240-class case,
     on one core (threads=1; a row with every usable core too), vs the same steps in numpy/scipy (a torch-free reference of
     nnU-Net's export: skimage's resize order 1 = scipy zoom with grid_mode, clip, argmax,
     insert at the crop box, transpose back, nibabel save); `patchfs evaluate` of the cases
     vs nnU-Net's compute_metrics in numpy (nibabel loads, masks per label); the export's peak
     RSS (ru_maxrss, measured from a bare interpreter) against the source-grid output plus one resampled channel, and
     against the reference's. patchfs is timed as a whole process (opening the dataset and
     cache included); the references by their own clock (interpreter start and imports not
     counted), so the ratios are conservative.

The dataset: make_dataset.py cases of 155x240x240 (3 foreground classes, spacing 2x0.8x0.8)
served with spacing=2.5x1x1, so every case is resampled to 124x192x192 and back. The
prediction is the one-hot of the served seg.npy with noise, as logits. Run alone:

  bench/export_bench.py [--work DIR] [--smoke] [--reps N]
"""
import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PF = os.path.join(ROOT, "patchfs")
PY = sys.executable
SPACING = "2.5x1x1"

# the numpy/scipy reference, run in its own process so its time and RSS are its own
REFERENCE = r'''
import sys, json, time, numpy as np, nibabel as nib
from scipy.ndimage import zoom
pred, props, like, out = sys.argv[1:5]
t0 = time.perf_counter()
p = json.load(open(props))
x = np.load(pred)
target = p["shape_after_cropping_and_before_resampling"]
res = np.zeros((x.shape[0], *target), np.float32)
for c in range(x.shape[0]):  # resample_data_or_seg: skimage resize order 1, mode edge
    ch = x[c].astype(np.float64)
    f = [t / s for t, s in zip(target, ch.shape)]
    r = zoom(ch, f, order=1, mode="nearest", grid_mode=True)
    res[c] = np.clip(r, ch.min(), ch.max())
seg = res.argmax(0).astype(np.uint8)
full = np.zeros(p["shape_before_cropping"], np.uint8)
full[tuple(slice(a, b) for a, b in p["bbox_used_for_cropping"])] = seg
full = full.transpose(p["transpose_backward"])
src = nib.load(like)
img = nib.Nifti1Image(full.T, src.affine, src.header)  # nibabel is (x, y, z)
img.set_data_dtype(np.uint8)
nib.save(img, out)
print(time.perf_counter() - t0)
'''

EVAL_REFERENCE = r'''
import sys, time, numpy as np, nibabel as nib
ref_dir, pred_dir, labels = sys.argv[1], sys.argv[2], [int(v) for v in sys.argv[3].split(",")]
ids = sys.argv[4].split(",")
t0 = time.perf_counter()
for cid in ids:  # nnU-Net's compute_metrics per case and label
    r = np.asarray(nib.load(f"{ref_dir}/{cid}.nii.gz").dataobj)
    q = np.asarray(nib.load(f"{pred_dir}/{cid}.nii.gz").dataobj)
    use = np.ones_like(r, dtype=bool)
    for l in labels:
        mr, mp = r == l, q == l
        tp = np.sum((mr & mp) & use); fp = np.sum(((~mr) & mp) & use)
        fn = np.sum((mr & (~mp)) & use); tn = np.sum(((~mr) & (~mp)) & use)
        d = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else np.nan
print(time.perf_counter() - t0)
'''


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise SystemExit("bench: %s failed (%d): %s" % (" ".join(cmd), r.returncode,
                                                         r.stderr.decode()))
    return r.stdout


# Peak RSS needs a small parent: Linux counts the memory a child had before exec (a copy of
# its parent's) in its ru_maxrss, and this process holds large arrays. A bare interpreter
# (about 10 MiB) forks and waits for the command and reports its time and peak RSS.
MEASURE = r'''
import os, sys, time
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, ru = os.wait4(pid, 0)
sys.stderr.write("\n@@measure %r %d %d\n" % (time.perf_counter() - t0, ru.ru_maxrss,
                                            os.waitstatus_to_exitcode(status)))
'''


def timed(cmd):
    """Wall seconds, peak RSS (MiB) and stdout of one command."""
    r = subprocess.run([PY, "-c", MEASURE, *cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = r.stderr.decode()
    line = [l for l in err.splitlines() if l.startswith("@@measure ")]
    if not line or line[-1].split()[3] != "0":
        raise SystemExit("bench: %s failed: %s" % (" ".join(cmd), err))
    _, wall, rss, _ = line[-1].split()
    return float(wall), int(rss) / 1024.0, r.stdout


def prepare(work, smoke):
    ds = os.path.join(work, "export-ds")
    shape = "40,64,64" if smoke else "155,240,240"
    n = 2 if smoke else 3
    if not os.path.isdir(ds):
        run([PY, os.path.join(ROOT, "tests", "tools", "make_dataset.py"), ds, "--cases", str(n),
             "--classes", "3", "--shape", shape, "--seed", "16"])
    cache = os.path.join(work, "export-cache")
    opts = "cache=%s,spacing=%s" % (cache, SPACING)
    run([PF, "prepare", ds, "-o", opts])
    ids = sorted(f[:-7] for f in os.listdir(os.path.join(ds, "labelsTr")) if f.endswith(".nii.gz"))
    pred = os.path.join(work, "export-pred")
    os.makedirs(pred, exist_ok=True)
    rs = np.random.RandomState(3)
    for cid in ids:
        f = os.path.join(pred, cid + ".npy")
        open(os.path.join(pred, cid + ".json"), "wb").write(
            run([PF, "get", ds, "cases/%s/properties.json" % cid, "-o", opts]))
        if os.path.exists(f):
            continue
        seg = np.load(io.BytesIO(run([PF, "get", ds, "cases/%s/seg.npy" % cid, "-o", opts])))[0]
        logits = np.stack([(seg == k) * 4.0 for k in range(4)]).astype(np.float32)
        logits += rs.standard_normal(logits.shape).astype(np.float32)
        np.save(f, logits)
    return ds, opts, ids, pred


def sec_i(a, work, row):
    ds, opts, ids, pred = prepare(work, a.smoke)
    cid = ids[0]
    props = json.load(open(os.path.join(pred, cid + ".json")))
    like = os.path.join(ds, "imagesTr", cid + "_0000.nii.gz")
    outs = os.path.join(work, "export-out")
    shutil.rmtree(outs, ignore_errors=True)
    os.makedirs(outs)
    pv, rv, prss, rrss, av = [], [], [], [], []
    for r in range(a.reps):  # alternate: the machines are shared and noisy
        w, m, _ = timed([PF, "export", ds, cid, os.path.join(pred, cid + ".npy"),
                         os.path.join(outs, "pf.nii.gz"), "--force", "-o", opts + ",threads=1"])
        pv.append(w)
        prss.append(m)
        w, _, _ = timed([PF, "export", ds, cid, os.path.join(pred, cid + ".npy"),
                         os.path.join(outs, "pf-all.nii.gz"), "--force", "-o", opts])
        av.append(w)  # every usable core: the slabs on the worker pool
        _, m, out = timed([PY, "-c", REFERENCE, os.path.join(pred, cid + ".npy"),
                           os.path.join(pred, cid + ".json"), like,
                           os.path.join(outs, "np.nii.gz")])
        rv.append(float(out))  # its own clock: interpreter start and imports not counted
        rrss.append(m)
    shape = "x".join(str(v) for v in props["shape"])
    src = "x".join(str(v) for v in props["shape_before_cropping"])
    row("i", "export", "export 4-class float32 %s -> %s, 1 core, vs numpy/scipy" % (shape, src),
        statistics.median(pv), statistics.median(rv), "s", 0.1, higher=False)
    row("i", "export", "export as above, every usable core (%d), vs numpy/scipy on one" % (
        os.cpu_count() if not hasattr(os, "sched_getaffinity") else len(os.sched_getaffinity(0))),
        statistics.median(av), statistics.median(rv), "s")
    out_mib = np.prod(props["shape_before_cropping"]) / 2**20
    chan_mib = np.prod(props["shape_after_cropping_and_before_resampling"]) * 4 / 2**20
    row("i", "export", "export peak RSS MiB vs output %.0f + one resampled channel %.0f MiB" % (
        out_mib, chan_mib), max(prss), out_mib + chan_mib, "MiB")
    row("i", "export", "export peak RSS MiB vs the numpy/scipy reference's", max(prss),
        max(rrss), "MiB")
    # evaluate: the exported cases against their labels
    for c in ids:
        run([PF, "export", ds, c, os.path.join(pred, c + ".npy"),
             os.path.join(outs, c + ".nii.gz"), "--force", "-o", opts])
    ev, e2, nv, n2 = [], [], [], []
    cpu = str(min(os.sched_getaffinity(0)))  # "one core": both pinned to the first allowed CPU
    ref = [PY, "-c", EVAL_REFERENCE, os.path.join(ds, "labelsTr"), outs, "1,2,3", ",".join(ids)]
    for r in range(a.reps):  # alternate: the machines are shared and noisy
        w, _, _ = timed(["taskset", "-c", cpu, PF, "evaluate", ds, outs,
                         os.path.join(work, "export-summary.json"), "--force", "-o",
                         "cases=all,threads=1"])
        ev.append(w)
        nv.append(float(timed(["taskset", "-c", cpu] + ref)[2]))
        w, _, _ = timed([PF, "evaluate", ds, outs, os.path.join(work, "export-summary.json"),
                         "--force", "-o", "cases=all"])
        e2.append(w)
        n2.append(float(timed(ref)[2]))
    row("i", "export", "evaluate %d cases, 3 labels, 1 core, vs numpy (nibabel + masks)" % len(ids),
        statistics.median(ev), statistics.median(nv), "s", 0.1, higher=False)
    row("i", "export", "evaluate %d cases, 3 labels, every core (%d), vs numpy" % (
        len(ids), len(os.sched_getaffinity(0))), statistics.median(e2), statistics.median(n2), "s",
        0.1, higher=False)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/tmp/patchfs-bench")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)

    def row(sec, ds, what, value, base, unit, target=None, higher=True):
        ratio = value / base if base else float("nan")
        met = "" if target is None else (
            "  target %s %.2f: %s" % (">=" if higher else "<=", target,
                                      "met" if (ratio >= target if higher else ratio <= target)
                                      else "NOT met"))
        print("%s %s %-70s %9.3f vs %9.3f %s  ratio %.3f%s" % (sec, ds, what, value, base, unit,
                                                               ratio, met), flush=True)
    sec_i(a, a.work, row)
