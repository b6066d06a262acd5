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
  * they do not depend on the thread count;
and for logits whose channel 1 is one float32 step above channel 0 (the winner then depends
on the last bits of the resampled values) the labels still equal the core path's byte for
byte: the streaming arithmetic is the core's, not merely close to it.
The same for a region copy of the dataset (3 overlapping regions, sigmoid > 0.5 in
regions_class_order, later regions overwriting), on three of the plans, and for a copy whose
volumes are stored with the coarse axis last (transpose_forward not the identity: the labels
go back through the transpose).
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


# the region copy: dataset.json labels as regions (nnU-Net's has_regions)
REGIONS = {"background": 0, "whole": [1, 2, 3], "core": [2, 3], "structure_3": 3}
REGION_SETS = ([1, 2, 3], [2, 3], [3])
ORDER = [1, 2, 3]


def region_copy(ds):
    """A region copy of the generated dataset: links and a new dataset.json."""
    rds = os.path.join(T, "regions")
    os.makedirs(rds)
    for d in ("imagesTr", "labelsTr"):
        os.symlink(os.path.join(ds, d), os.path.join(rds, d))
    dj = json.load(open(os.path.join(ds, "dataset.json")))
    dj["labels"] = REGIONS
    dj["regions_class_order"] = ORDER
    json.dump(dj, open(os.path.join(rds, "dataset.json"), "w"), indent=1)
    return rds


def transposed_copy(ds):
    """The generated dataset with each volume's axes permuted so that the coarse axis (2 mm)
    is the array's last: the planner's transpose_forward is then not the identity, and the
    export has to transpose back."""
    tds = os.path.join(T, "transposed")
    for d in ("imagesTr", "labelsTr"):
        os.makedirs(os.path.join(tds, d))
        for f in sorted(os.listdir(os.path.join(ds, d))):
            img = nib.load(os.path.join(ds, d, f))
            data = np.asarray(img.dataobj).transpose(2, 0, 1)  # nibabel's (x, y, z) -> (z, x, y)
            zooms = img.header.get_zooms()
            out = nib.Nifti1Image(data, np.diag([zooms[2], zooms[0], zooms[1], 1.0]))
            out.set_data_dtype(img.get_data_dtype())
            nib.save(out, os.path.join(tds, d, f))
    shutil.copy(os.path.join(ds, "dataset.json"), tds)
    return tds


def reference(logits, props, vals, regions=False):
    """nnU-Net's export of logits in numpy/scipy: labels, and how far each voxel is from a
    tie (argmax: the top two channels; regions: the channel nearest the sigmoid's 0.5)."""
    crop = props["shape_after_cropping_and_before_resampling"]
    axis = separate_axis(props["spacing"], props["source_spacing"])
    res = np.stack([ref_image(ch.astype(np.float32), crop, axis, 1).astype(logits.dtype)
                    for ch in logits])
    box = tuple(slice(a, b) for a, b in props["bbox_used_for_cropping"])
    lab = np.zeros(props["shape_before_cropping"], np.int64)
    margin = np.full(props["shape_before_cropping"], np.inf)
    if regions:  # convert_logits_to_segmentation: sigmoid (float32) > 0.5, in class order
        t = res.astype(np.float32)
        with np.errstate(over="ignore"):
            prob = np.float32(1) / (np.float32(1) + np.exp(-t))
        seg = np.zeros(t.shape[1:], np.int64)
        for i, c in enumerate(ORDER):
            seg[prob[i] > 0.5] = c
        lab[box] = seg
        margin[box] = np.abs(t.astype(np.float64)).min(0)
    else:
        res = res.astype(np.float64)
        top2 = np.sort(res, 0)
        lab[box] = np.asarray(vals)[res.argmax(0)]
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
    rds = region_copy(ds)
    tds = transposed_copy(ds)
    rs = np.random.RandomState(11)
    for spacing, expect in SPACINGS[:1] + SPACINGS[-1:]:
        check(tds, "transposed labels", spacing, expect, vals, rs)
    for spacing, expect in SPACINGS:
        for kind in ("labels", "regions"):
            if kind == "regions" and spacing in ("2x1x0.8", "6x0.8x0.8"):
                continue  # three plans are enough for the region rule
            check(ds if kind == "labels" else rds, kind, spacing, expect, vals, rs)
    return exit_status()


def check(ds, kind, spacing, expect, vals, rs):
    regions = kind == "regions"
    opts = "cache=%s,spacing=%s" % (os.path.join(T, "cache_%s_%s" % (kind.replace(" ", "_"),
                                                                     spacing)), spacing)
    cid = "case_000"
    props = json.loads(get(ds, opts, f"cases/{cid}/properties.json"))
    seg = np.load(io.BytesIO(get(ds, opts, f"cases/{cid}/seg.npy")))[0]
    plan = plan_of(props)
    if kind.startswith("transposed") and props["transpose_forward"] == [0, 1, 2]:
        report(False, f"{kind}: the copy is transposed", str(props["transpose_forward"]))
        return
    if kind.startswith("transposed"):
        plan += ", transpose_forward %s" % props["transpose_forward"]
        expect += ", transpose_forward %s" % props["transpose_forward"]
    if plan != expect:
        report(False, f"spacing {spacing}: the case takes the plan '{expect}'",
               f"it takes '{plan}': {props['shape']} -> "
               f"{props['shape_after_cropping_and_before_resampling']}")
        return
    for variant in ("float32", "float16", "ulp"):
        # logits near their decision: one-hot * 1.5 plus unit noise (regions: +-0.75)
        if regions:
            hot = np.stack([np.isin(seg, r) * 1.5 - 0.75 for r in REGION_SETS])
        else:
            hot = np.stack([(seg == v) * 1.5 for v in vals])
        logits = (hot + rs.standard_normal(hot.shape)).astype(variant.replace("ulp", "float32"))
        if variant == "ulp" and regions:
            continue
        if variant == "ulp":
            # channel 1 one float32 step above channel 0 everywhere: which of the two wins
            # after resampling is decided by the last bits of the arithmetic, so the labels
            # are a fingerprint of it (the comparison with scipy's 3D evaluation, which
            # rounds differently, is then all ties)
            logits[1] = np.nextafter(logits[0], np.float32(np.inf))
        what = f"{kind}, spacing {spacing} ({plan}), {variant} logits"
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
        lab, margin = reference(logits, props, vals, regions)
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


if __name__ == "__main__":
    sys.exit(main())
