#!/usr/bin/env python3
"""export_stream.py - the export's streaming path (src/infer/restore_stream.c: logits without
--probabilities) on cases resampled every way the path distinguishes, on generated data (no
real data needed). Prints "ok - export: ..." lines like export_check.py.

make_dataset.py cases (spacing 2 x 0.8 x 0.8) are served at several spacings so that the way
back to the source grid takes each of the path's plans: 3D with the axis-0 pass first, 3D with
the in-plane passes first, 3D with axis 0 unchanged, separate z along axis 0 with and without
an in-plane resize. For noisy float32 and float16 logits (channels close to each other at many
voxels, so a wrong value would show):
  * the labels equal nnU-Net's steps done here with numpy/scipy (resample_check.py's
    reference: skimage's resize order 1 as scipy zoom, float64, clipped, into the input's
    dtype; argmax; crop box; transpose back) at every voxel whose top two channels are not
    within 1e-5 (there rounding may decide either way);
  * they equal, byte for byte, the labels the core resampler's path writes (the same export
    with --probabilities, which resamples each channel whole with src/ingest/resample*.c);
  * they do not depend on the thread count.
"""
import io
import json
import os
import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_common import args, exit_status, report, run  # noqa: E402
from resample_check import ref_image, separate_axis  # noqa: E402  nnU-Net's resampling in scipy

A = args()
T = os.path.join(A.tmp, "export_stream")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# served spacing -> the plan it gives from the source's 2 x 0.8 x 0.8 (checked below)
SPACINGS = (("2.5x1x1", "3D, axis 0 first"),
            ("2.5x0.85x0.85", "3D, in-plane first"),
            ("2x1x0.8", "3D, axis 0 unchanged"),
            ("6x0.8x0.8", "separate z, planes unchanged"),
            ("6x1.1x1.1", "separate z, planes resized"))


def get(ds, opts, vpath):
    r = run("get", ds, vpath, "-o", opts)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.decode())
    return r.stdout


def plan_of(props):
    n, m = props["shape"], props["shape_after_cropping_and_before_resampling"]
    if separate_axis(props["spacing"], props["source_spacing"]) is not None:
        return "separate z, planes " + ("resized" if n[1:] != m[1:] else "unchanged")
    if n[0] == m[0]:
        return "3D, axis 0 unchanged"
    z_first = n[1:] != m[1:] and m[0] * n[1] * n[2] < n[0] * m[1] * m[2]
    return "3D, axis 0 first" if z_first else "3D, in-plane first"


def reference(logits, props, vals):
    """nnU-Net's export of logits in numpy/scipy: labels and the top-two margin."""
    crop = props["shape_after_cropping_and_before_resampling"]
    axis = separate_axis(props["spacing"], props["source_spacing"])
    res = np.stack([ref_image(ch.astype(np.float32), crop, axis, 1).astype(logits.dtype)
                    for ch in logits]).astype(np.float64)
    top2 = np.sort(res, 0)
    box = tuple(slice(a, b) for a, b in props["bbox_used_for_cropping"])
    lab = np.zeros(props["shape_before_cropping"], np.int64)
    lab[box] = np.asarray(vals)[res.argmax(0)]
    margin = np.full(props["shape_before_cropping"], np.inf)
    margin[box] = top2[-1] - top2[-2]
    tb = props["transpose_backward"]
    return lab.transpose(tb), margin.transpose(tb)


def load(path):
    return np.asarray(nib.load(path).dataobj).T  # nibabel's (x, y, z) as the array's (z, y, x)


def main():
    shutil.rmtree(T, ignore_errors=True)
    os.makedirs(T)
    ds = os.path.join(T, "ds")
    subprocess.run([sys.executable, os.path.join(ROOT, "tests", "tools", "make_dataset.py"), ds,
                    "--cases", "2", "--classes", "3", "--shape", "36,60,56", "--seed", "7"],
                   check=True, capture_output=True)
    vals = [0, 1, 2, 3]
    rs = np.random.RandomState(11)
    for spacing, expect in SPACINGS:
        opts = "cache=%s,spacing=%s" % (os.path.join(T, "cache_" + spacing), spacing)
        cid = "case_000"
        props = json.loads(get(ds, opts, f"cases/{cid}/properties.json"))
        seg = np.load(io.BytesIO(get(ds, opts, f"cases/{cid}/seg.npy")))[0]
        plan = plan_of(props)
        if plan != expect:
            report(False, f"spacing {spacing}: the case takes the plan '{expect}'",
                   f"it takes '{plan}': {props['shape']} -> "
                   f"{props['shape_after_cropping_and_before_resampling']}")
            continue
        for dtype in (np.float32, np.float16):
            # logits close to each other: one-hot * 1.5 plus unit noise
            logits = (np.stack([(seg == v) * 1.5 for v in vals]) +
                      rs.standard_normal((len(vals), *seg.shape))).astype(dtype)
            what = f"spacing {spacing} ({plan}), {np.dtype(dtype).name} logits"
            pred = os.path.join(T, "pred.npy")
            np.save(pred, logits)
            outs = {}
            problems = []
            for key, extra in (("stream", ["-o", opts + ",threads=1"]),
                               ("stream2", ["-o", opts + ",threads=2"]),
                               ("core", ["--probabilities", os.path.join(T, "p.npz"),
                                         "-o", opts])):
                o = os.path.join(T, key + ".nii.gz")
                r = run("export", ds, cid, pred, o, "--force", *extra)
                if r.returncode != 0:
                    problems.append(f"{key}: {r.stderr.decode()}")
                    continue
                outs[key] = load(o)
            if problems:
                report(False, what, "\n".join(problems))
                continue
            lab, margin = reference(logits, props, vals)
            got = outs["stream"]
            differ = got != lab
            away = differ & (margin > 1e-5)
            report(not away.any(),
                   f"{what}: labels equal nnU-Net's steps in numpy/scipy away from ties "
                   f"({int(differ.sum())} of {differ.size} voxels differ, all within 1e-5 "
                   f"of a tie; {int((margin <= 1e-5).sum())} such voxels)",
                   f"{int(away.sum())} voxels differ with margin > 1e-5, e.g. at "
                   f"{np.argwhere(away)[:5].tolist()}")
            report(np.array_equal(got, outs["core"]) and np.array_equal(got, outs["stream2"]),
                   f"{what}: labels equal the core resampler's path byte for byte, on 1 and "
                   "2 threads",
                   f"{int((got != outs['core']).sum())} voxels differ from the core path, "
                   f"{int((got != outs['stream2']).sum())} from 2 threads")
    return exit_status()


if __name__ == "__main__":
    sys.exit(main())
