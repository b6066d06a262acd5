#!/usr/bin/env python3
"""geometry_check.py - the geometry a mount serves, against nnU-Net's figures and against an
independent numpy/scipy implementation of its preprocessing (shared/reference/
nnunet-geometry.md sections 2-4), on the real datasets (skipped with a message when absent).

  - `patchfs plan`: the 3d_fullres and 2d patch and batch, the 3d_fullres spacing and the
    transposes equal what nnU-Net's planner gives (section 3's measured figures);
  - Dataset102_SpinalCordMixed's cases are resampled to nnU-Net's shapes (16x141x52,
    85x34x34, 77x76x42, 52x55x60, 67x27x24);
  - every case's cases/ID/data.npy is within 1e-4 (absolute, normalised) of this file's own
    implementation: transpose -> crop to nonzero (filled mask) -> normalise (z-score, over
    seg >= 0 with use_mask_for_norm, or CT with the plan's statistics) -> resample (order 3
    B-spline, separate-z nearest; resample_check.py's reference), and cases/ID/seg.npy equals
    its per-label linear resampling (voxels on exact 0.5 ties excepted, counted);
  - ds_scales=auto: seg_ds1.npy has nnU-Net's per-axis size round(patch / cumprod(strides));
  - plans= with `patchfs plan`'s output serves identical bytes; spacing=native serves the
    cropped source grid (no resampling, no transpose).

  geometry_check.py --patchfs PATH [--real DIR] [--cases N]
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fingerprint_check as fpc  # noqa: E402  (its dataset reading and crop)
import resample_check as rsc  # noqa: E402  (its resampling reference)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
failures = []
checks = 0

# nnU-Net's planner on these datasets (nnunet-geometry.md section 3):
# 3d_fullres patch, batch; 2d patch, batch
PLANNED = {
    "Dataset004_Hippocampus": ([40, 56, 40], 2, [56, 40], 14),
    "Dataset101_BraTS2013DeepMedic": ([96, 160, 160], 2, [256, 256], 27),
    "Dataset102_SpinalCordMixed": ([72, 56, 48], 2, [56, 48], 14),
    "Dataset103_SpleenCropCT": ([28, 192, 192], 2, [192, 192], 2),
    "Dataset104_TotalSegExampleCT": ([32, 112, 128], 2, None, None),
}
SPINAL_SHAPES = sorted([[16, 141, 52], [85, 34, 34], [77, 76, 42], [52, 55, 60], [67, 27, 24]])


def check(ok, msg):
    global checks
    checks += 1
    if not ok:
        failures.append(msg)


def get(pf, ds, vpath, opts):
    p = subprocess.run([pf, "get", ds, vpath, "-o", opts], capture_output=True)
    if p.returncode:
        raise RuntimeError("patchfs get %s: %s" % (vpath, p.stderr.decode().strip()))
    return p.stdout


def npy(b):
    import io
    return np.load(io.BytesIO(b))


def reference_case(imgs, lab, plan, conf):
    """nnU-Net's preprocessing of one case, written from the rules."""
    chans = [fpc.array_zyx(p)[0] for p in imgs]
    zooms = fpc.array_zyx(imgs[0])[1]
    image = np.stack(chans)
    seg = np.asarray(__import__("nibabel").load(lab).dataobj).transpose(2, 1, 0).astype(np.int16)
    tf = plan["transpose_forward"]
    sp_zyx = [abs(float(zooms[2])), abs(float(zooms[1])), abs(float(zooms[0]))]
    image = image.transpose([0] + [t + 1 for t in tf])
    seg = seg.transpose(tf)
    spacing = [sp_zyx[t] for t in tf]
    from scipy.ndimage import binary_fill_holes
    mask = binary_fill_holes(np.any(image != 0, axis=0))
    idx = np.argwhere(mask)
    lo, hi = idx.min(0), idx.max(0) + 1
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
    image = image[(slice(None),) + box].astype(np.float32)
    seg = seg[box].copy()
    seg[(seg == 0) & ~mask[box]] = -1
    props = plan["foreground_intensity_properties_per_channel"]
    for c in range(image.shape[0]):
        scheme = conf["normalization_schemes"][c]
        x = image[c]
        if scheme == "CTNormalization":
            p = props[str(c)]
            x = np.clip(x, np.float32(p["percentile_00_5"]), np.float32(p["percentile_99_5"]))
            x = (x - np.float32(p["mean"])) / np.float32(max(p["std"], 1e-8))
        elif scheme == "ZScoreNormalization":
            m = seg >= 0 if conf["use_mask_for_norm"][c] else np.ones_like(seg, dtype=bool)
            mean = np.float32(x[m].astype(np.float64).mean())
            std = np.float32(x[m].astype(np.float64).std())
            x = x.copy()
            x[m] = (x[m] - mean) / np.float32(max(std, 1e-8))
        image[c] = x
    target = conf["spacing"]
    if len(target) == 2:
        target = [spacing[0]] + list(target)
    shape = rsc.new_shape(seg.shape, spacing, target)
    axis = rsc.separate_axis(spacing, target)
    out_img = np.stack([rsc.ref_image(image[c], shape, axis, 3) for c in range(image.shape[0])])
    out_seg = rsc.ref_seg(seg, shape, axis, 1)
    return out_img, out_seg


def check_dataset(pf, ds, t, max_cases):
    name = os.path.basename(ds)
    cache = os.path.join(t, "cache")
    opts = "cache=" + cache
    p = subprocess.run([pf, "plan", ds, "-o", opts], capture_output=True)
    check(p.returncode == 0, "%s: patchfs plan failed: %s" % (name, p.stderr.decode()[-300:]))
    if p.returncode:
        return
    plan = json.loads(p.stdout)
    conf = plan["configurations"]["3d_fullres"]
    want = PLANNED.get(name)
    if want:
        check(conf["patch_size"] == want[0] and conf["batch_size"] == want[1],
              "%s: 3d_fullres patch/batch %s/%s, nnU-Net %s/%s" % (
                  name, conf["patch_size"], conf["batch_size"], want[0], want[1]))
        if want[2]:
            c2 = plan["configurations"]["2d"]
            check(c2["patch_size"] == want[2] and c2["batch_size"] == want[3],
                  "%s: 2d patch/batch %s/%s, nnU-Net %s/%s" % (
                      name, c2["patch_size"], c2["batch_size"], want[2], want[3]))
    # the mount's plans.json is the same text
    check(get(pf, ds, "plans.json", opts) == p.stdout, "%s: plans.json differs from patchfs plan" % name)
    # cases: shapes and content against the reference
    cases, _ = fpc.cases_of(ds)
    shapes, worst, ties = [], 0.0, 0
    for i, (cid, imgs, lab) in enumerate(cases):
        data = npy(get(pf, ds, "cases/%s/data.npy" % cid, opts))
        seg = npy(get(pf, ds, "cases/%s/seg.npy" % cid, opts))
        shapes.append(list(seg.shape[1:]))
        if i >= max_cases:
            continue
        ref_img, ref_seg = reference_case(imgs, lab, plan, conf)
        check(data.shape[1:] == ref_img.shape[1:], "%s/%s: shape %s, reference %s" % (
            name, cid, data.shape, ref_img.shape))
        if data.shape[1:] != ref_img.shape[1:]:
            continue
        d = float(np.abs(data.astype(np.float64) - ref_img).max())
        worst = max(worst, d)
        check(d <= 1e-4, "%s/%s: image differs from the reference by %g" % (name, cid, d))
        diff = int((seg[0] != ref_seg).sum())
        ties += diff
        check(diff <= max(2, ref_seg.size // 100000), "%s/%s: %d seg voxels differ" % (
            name, cid, diff))
    if name == "Dataset102_SpinalCordMixed":
        check(sorted(shapes) == SPINAL_SHAPES, "%s: resampled shapes %s, nnU-Net %s" % (
            name, sorted(shapes), SPINAL_SHAPES))
    # ds_scales=auto: nnU-Net's per-axis targets, 1 / cumprod(strides), sizes round()ed
    strides = np.array(conf["architecture"]["arch_kwargs"]["strides"], dtype=np.float64)
    scales = 1.0 / np.cumprod(strides, axis=0)
    want_ds = [int(round(p_ * s_)) for p_, s_ in zip(conf["patch_size"], scales[1])]
    ds1 = npy(get(pf, ds, "train/epoch_0/step_0/seg_ds1.npy", opts + ",ds_scales=auto"))
    check(list(ds1.shape[2:]) == want_ds, "%s: seg_ds1.npy %s, nnU-Net's target %s" % (
        name, list(ds1.shape[2:]), want_ds))
    # plans= round trip and spacing=native
    pfile = os.path.join(t, name + ".plans.json")
    open(pfile, "wb").write(p.stdout)
    a = get(pf, ds, "train/epoch_0/step_1/data.npy", opts)
    b = get(pf, ds, "train/epoch_0/step_1/data.npy", opts + ",plans=" + pfile)
    check(a == b, "%s: plans=FILE of patchfs plan's output serves other bytes" % name)
    nat = json.loads(get(pf, ds, "cases/%s/properties.json" % cases[0][0], opts + ",spacing=native"))
    check(nat["shape"] == nat["shape_after_cropping_and_before_resampling"] and
          nat["transpose_forward"] == [0, 1, 2],
          "%s: spacing=native resampled or transposed: %s" % (name, nat))
    print("  %-32s 3d_fullres %s/%d, %d cases, max image difference %.2g, seg voxels off %d" % (
        name, conf["patch_size"], conf["batch_size"], len(cases), worst, ties))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patchfs", default=os.path.join(ROOT, "patchfs"))
    ap.add_argument("--real", default=os.environ.get(
        "PATCHFS_REAL_DATA", os.path.join(ROOT, "..", "shared", "data", "real")))
    ap.add_argument("--cases", type=int, default=3, help="cases per dataset compared voxel-wise")
    a = ap.parse_args()
    if not os.path.isdir(a.real):
        print("SKIP geometry: real datasets not present at %s" % a.real)
        return
    with tempfile.TemporaryDirectory() as t:
        for ds in sorted(glob.glob(os.path.join(a.real, "Dataset*"))):
            try:
                check_dataset(a.patchfs, ds, t, a.cases)
            except Exception as e:  # a failing command is a failure, not a crash
                check(False, "%s: %s" % (os.path.basename(ds), e))
    for f in failures:
        print("MISMATCH:", f, file=sys.stderr)
    print("geometry_check: %d checks, %d failed" % (checks, len(failures)))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
