#!/usr/bin/env python3
"""resample_check.py - checks patchfs's C resampling (src/ingest/resample.c, run through
tests/tools/resample_driver) against an independent numpy/scipy implementation of nnU-Net's
resampling written from docs (shared/reference/nnunet-geometry.md section 4), on random arrays
and on the real datasets when present.

  resample_check.py [--driver PATH] [--real DIR] [--all-cases] [--no-real] [--quick]

The reference, from the spec:
  - new shape int(round(spacing / target * shape)); separate-z along the case spacing's unique
    coarsest axis if its max/min > 3, else the target's, none if that axis is not unique;
  - image: float64, scipy.ndimage.map_coordinates (order 3 with its spline prefilter, 1 or 0;
    mode 'nearest') at source coordinate (o + 0.5) * (n_in / n_out) - 0.5, clipped to the
    input's [min, max]; separate-z: that 2D resize per plane (clipped to the plane's range),
    then nearest along the axis: index floor(c + 0.5) of that same coordinate c, clamped;
  - seg: per label ascending, the 0/1 indicator interpolated the same way, >= 0.5 claims,
    later labels overwrite, unclaimed 0;
  - no axis changes: a copy.
Two details the spec's prose leaves open are taken as nnU-Net computes them: the coordinate
multiplies by the zoom factor n_in / n_out (scipy's zoom), and the nearest index is
floor(c + 0.5), not floor((o + 0.5) * n_in / n_out): they differ at exact halves (2 -> 49
planes, o = 24: nnU-Net takes plane 0).

Passes when images agree within 1e-6 relative to their largest magnitude (in practice 0 or
1 float32 ulp) and segmentations agree voxel for voxel; also checks the driver's shape and
separate-z decisions, int8 output, several channels, and that --threads gives the same bytes.
Real datasets: image channel 0 z-scored and the labels of the first case of each dataset in
PATCHFS_REAL_DATA (default ../shared/data/real; every case with --all-cases), resampled to
1 mm isotropic and to the case spacing times (1.3, 1.2, 0.9); skipped with a message when the
folder is absent. Exit status 0 when everything agrees.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from scipy.ndimage import map_coordinates

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ANISO = 3.0
failures = []
passed = 0


def fail(msg):
    failures.append(msg)
    print("MISMATCH:", msg, file=sys.stderr)


# ---------------------------------------------------------------- the reference

def new_shape(shape, spacing, target):
    return [int(round(s / t * n)) for n, s, t in zip(shape, spacing, target)]


def lowres_axis(sp):
    mx = max(sp)
    axes = [i for i in range(3) if mx / sp[i] == 1]
    return axes[0] if len(axes) == 1 else None


def separate_axis(spacing, target):
    for sp in (spacing, target):
        if max(sp) / min(sp) > ANISO:
            return lowres_axis(sp)
    return None


def coords(n, m):
    return (np.arange(m) + 0.5) * (n / m) - 0.5


def nearest(n, m):
    return np.clip(np.floor(coords(n, m) + 0.5), 0, n - 1).astype(np.int64)


def tap_range(n, m, lo, hi):
    """Output indices along an axis whose taps can reach input indices [lo, hi]."""
    c = coords(n, m)
    f = np.floor(c)
    reach = (np.clip(f + 1, 0, n - 1) >= lo) & (np.clip(f, 0, n - 1) <= hi)
    idx = np.nonzero(reach)[0]
    return (int(idx[0]), int(idx[-1]) + 1) if idx.size else (0, 0)


def resize(x, shape, order, box=None):
    """skimage-style resize of a float64 array by map_coordinates; box: only the outputs in
    [lo, hi) per axis (the rest left 0)."""
    out = np.zeros(shape)
    box = box or [(0, m) for m in shape]
    if any(b >= e for b, e in box):
        return out
    grids = np.meshgrid(*[coords(n, m)[b:e] for n, m, (b, e) in zip(x.shape, shape, box)],
                        indexing="ij")
    y = map_coordinates(x, np.array(grids), order=order, mode="nearest")
    out[tuple(slice(b, e) for b, e in box)] = np.clip(y, x.min(), x.max())
    return out


def seg_resize(s, shape, order):
    out = np.zeros(shape, dtype=np.int16)
    for lab in np.unique(s):
        ind = s == lab
        # outside the outputs whose taps reach the label's bounding box the indicator is 0
        nz = [np.nonzero(ind.any(axis=tuple(j for j in range(s.ndim) if j != i)))[0]
              for i in range(s.ndim)]
        box = [tap_range(n, m, a[0], a[-1]) for n, m, a in zip(s.shape, shape, nz)]
        v = resize(ind.astype(np.float64), shape, order, box)
        out[v >= 0.5] = lab
    return out


def per_plane(x, shape, axis, fn):
    """fn on every plane across `axis`, then nearest along it."""
    moved = np.moveaxis(x, axis, 0)
    inplane = [m for i, m in enumerate(shape) if i != axis]
    planes = np.stack([fn(p, inplane) for p in moved])
    return np.moveaxis(planes[nearest(x.shape[axis], shape[axis])], 0, axis)


def ref_image(x, shape, axis, order):
    if tuple(x.shape) == tuple(shape):
        return x.copy()
    x = x.astype(np.float64)
    if axis is None:
        return resize(x, shape, order).astype(np.float32)
    return per_plane(x, shape, axis, lambda p, sh: resize(p, sh, order)).astype(np.float32)


def ref_seg(s, shape, axis, order):
    if tuple(s.shape) == tuple(shape):
        return s.astype(np.int16)
    if axis is None:
        return seg_resize(s, shape, order)
    return per_plane(s, shape, axis, lambda p, sh: seg_resize(p, sh, order))


# ---------------------------------------------------------------- running the driver

class Driver:
    def __init__(self, path, work):
        self.path = path
        self.work = work

    def run(self, arr, args, out_dtype=None):
        src = os.path.join(self.work, "in.npy")
        dst = os.path.join(self.work, "out.npy")
        np.save(src, arr)
        p = subprocess.run([self.path] + args + [src, dst], capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError("resample_driver %s: %s" % (" ".join(args), p.stderr.strip()))
        out = np.load(dst)
        if out_dtype is not None and out.dtype != out_dtype:
            raise RuntimeError("driver wrote %s, expected %s" % (out.dtype, out_dtype))
        return out, json.loads(p.stdout)


def fmt(shape):
    return "x".join(str(int(v)) for v in shape)


def compare_image(name, got, ref):
    global passed
    if got.shape != ref.shape:
        fail("%s: image shape %s, reference %s" % (name, got.shape, ref.shape))
        return None
    d = np.abs(got.astype(np.float64) - ref.astype(np.float64))
    scale = max(1.0, float(np.abs(ref).max()) if ref.size else 1.0)
    ulp = np.abs(got.view(np.int32).astype(np.int64) - ref.view(np.int32).astype(np.int64))
    worst = float(d.max()) if d.size else 0.0
    if worst > 1e-6 * scale:
        fail("%s: image max |difference| %.3g (%.3g relative, %d ulp)"
             % (name, worst, worst / scale, int(ulp.max())))
    else:
        passed += 1
    return worst, int(ulp.max()) if ulp.size else 0


def compare_seg(name, got, ref):
    global passed
    if got.shape != ref.shape:
        fail("%s: seg shape %s, reference %s" % (name, got.shape, ref.shape))
        return None
    n = int((got.astype(np.int32) != ref.astype(np.int32)).sum())
    if n:
        where = np.argwhere(got != ref)[0]
        fail("%s: %d seg voxels differ (first at %s: %d, reference %d)"
             % (name, n, tuple(where), got[tuple(where)], ref[tuple(where)]))
    else:
        passed += 1
    return n


def check_case(drv, name, x, s, spacing, target, quick_orders=False, shape=None, axis=None):
    """x float32 (Z,Y,X), s int16 labels; either spacing/target (the driver decides) or an
    explicit shape + separate axis."""
    global passed
    if shape is None:
        out = new_shape(x.shape, spacing, target)
        ax = separate_axis(spacing, target)
        args = ["--spacing", ",".join(repr(float(v)) for v in spacing),
                "--target", ",".join(repr(float(v)) for v in target)]
    else:
        out, ax = list(shape), axis
        args = ["--shape", ",".join(map(str, shape)), "--axis", str(-1 if ax is None else ax)]
    orders = (3,) if quick_orders else (3, 1, 0)
    line = []
    for order in orders:
        got, info = drv.run(x, args + ["--order", str(order)], np.float32)
        if list(info["out_shape"]) != list(out) or \
                (info["axis"] if info["separate_z"] else None) != ax:
            fail("%s: driver decided %s axis %s, reference %s axis %s"
                 % (name, info["out_shape"], info["axis"], out, ax))
            return
        r = compare_image("%s order %d" % (name, order), got, ref_image(x, out, ax, order))
        if r:
            line.append("img%d %.1e (%d ulp)" % (order, r[0], r[1]))
    for order in ((1,) if quick_orders else (1, 0)):
        got, _ = drv.run(s, args + ["--seg", "--order", str(order)], np.int16)
        n = compare_seg("%s seg order %d" % (name, order), got, ref_seg(s, out, ax, order))
        if n is not None:
            line.append("seg%d %d diff" % (order, n))
    print("  %-34s %s -> %s sep %s: %s"
          % (name, fmt(x.shape), fmt(out), "-" if ax is None else ax, ", ".join(line)))


def blobs(rng, shape, labels):
    """Labels in runs (so both label interiors and borders occur)."""
    flat = np.empty(int(np.prod(shape)), dtype=np.int16)
    cur = 0
    for i in range(flat.size):
        if i == 0 or rng.random() < 0.3:
            cur = rng.choice(labels)
        flat[i] = cur
    return flat.reshape(shape)


def random_checks(drv, quick):
    global passed
    rng = np.random.default_rng(20240611)
    print("random arrays:")
    cases = [  # (in shape, out shape, separate axis)
        ((4, 5, 6), (7, 3, 9), None),
        ((1, 7, 9), (1, 11, 4), None),
        ((12, 5, 6), (3, 9, 11), None),
        ((3, 30, 30), (5, 40, 41), None),
        ((9, 8, 7), (4, 8, 7), None),
        ((2, 2, 700), (1, 2, 301), None),
        ((5, 12, 13), (17, 9, 20), 0),
        ((11, 4, 9), (7, 6, 9), 1),
        ((8, 10, 3), (13, 6, 7), 2),
        ((6, 7, 5), (6, 9, 4), 0),
        ((6, 7, 5), (3, 7, 5), 0),
        ((2, 3, 3), (49, 3, 3), 0),   # the exact-half nearest index
        ((16, 33, 35), (16, 33, 35), None),
    ]
    if not quick:
        cases += [((20, 64, 64), (31, 50, 70), None), ((9, 54, 49), (67, 27, 24), 0)]
    for n, m, ax in cases:
        x = (rng.standard_normal(n) * 10).astype(np.float32)
        s = blobs(rng, n, [-1, 0, 0, 1, 2, 3, 200])
        check_case(drv, "random", x, s, None, None, shape=m, axis=ax)
    # the driver decides from spacings (decision rules, ties, the target's anisotropy)
    decided = [((5, 40, 40), (17, 0.84375, 0.84375), (1, 1, 1)),
               ((9, 54, 49), (7.499999, 0.5, 0.5), (1, 1, 1)),
               ((20, 21, 22), (1, 1, 1), (1.2, 4.0, 1.0)),
               ((8, 9, 10), (5, 5, 1), (1, 1, 4)),
               ((12, 13, 9), (0.24, 1.25, 1.25), (1, 1, 1)),
               ((10, 12, 14), (3, 1, 1), (2.9, 1.1, 0.8))]
    for n, sp, tg in decided:
        x = (rng.standard_normal(n) * 3 + 1).astype(np.float32)
        s = blobs(rng, n, [0, 0, 1, 2])
        check_case(drv, "spacing %s" % (tuple(sp),), x, s, sp, tg, quick_orders=quick)
    # several channels, threads, int8
    x = rng.standard_normal((2, 7, 30, 33)).astype(np.float32)
    args = ["--shape", "11,20,45", "--axis", "-1"]
    one, _ = drv.run(x, args)
    three, _ = drv.run(x, args + ["--threads", "3"])
    for c in range(2):
        compare_image("channel %d" % c, one[c], ref_image(x[c], (11, 20, 45), None, 3))
    if one.tobytes() != three.tobytes():
        fail("--threads 3 changed the bytes")
    else:
        passed += 1
    s = blobs(rng, (6, 17, 19), [-1, 0, 1, 5, 127])
    for a in ("-1", "0"):
        s16, _ = drv.run(s, ["--seg", "--shape", "9,11,30", "--axis", a], np.int16)
        s8, _ = drv.run(s, ["--seg", "--int8", "--shape", "9,11,30", "--axis", a], np.int8)
        t16, _ = drv.run(s, ["--seg", "--threads", "2", "--shape", "9,11,30", "--axis", a])
        if not (np.array_equal(s16, s8.astype(np.int16)) and np.array_equal(s16, t16)):
            fail("int8 or threaded seg output differs (axis %s)" % a)
        else:
            passed += 1
    print("  channels, --threads, --int8: checked")


def load_zyx(path):
    import nibabel as nib
    img = nib.load(path)
    data = np.asarray(img.dataobj, dtype=np.float64)
    if data.ndim == 4:
        data = data[..., 0]
    zooms = [abs(float(z)) for z in img.header.get_zooms()[:3]]
    return data.transpose(2, 1, 0), zooms[::-1]


def real_checks(drv, real, all_cases):
    if not os.path.isdir(real):
        print("SKIP real datasets: %s is absent (set PATCHFS_REAL_DATA)" % real)
        return
    try:
        import nibabel  # noqa: F401
    except ImportError:
        print("SKIP real datasets: python3-nibabel is not installed")
        return
    print("real datasets (%s):" % real)
    for ds in sorted(glob.glob(os.path.join(real, "Dataset*"))):
        labels = sorted(glob.glob(os.path.join(ds, "labelsTr", "*.nii*")))
        if not labels:
            print("  SKIP %s: no labelsTr" % os.path.basename(ds))
            continue
        for lab in labels if all_cases else labels[:1]:
            cid = os.path.basename(lab).split(".nii")[0]
            imgs = glob.glob(os.path.join(ds, "imagesTr", cid + "_0000.nii*"))
            if not imgs:
                continue
            img, sp = load_zyx(imgs[0])
            seg, _ = load_zyx(lab)
            x = ((img - img.mean()) / (img.std() or 1.0)).astype(np.float32)
            s = np.rint(seg).astype(np.int16)
            name = "%s/%s" % (os.path.basename(ds).split("_", 1)[-1][:14], cid[:18])
            for tg in ([1.0, 1.0, 1.0], [sp[0] * 1.3, sp[1] * 1.2, sp[2] * 0.9]):
                check_case(drv, name, x, s, sp, tg, quick_orders=True)


def find_driver(arg):
    cands = [arg, os.environ.get("PATCHFS_RESAMPLE_DRIVER")] + [
        os.path.join(ROOT, p) for p in ("build/tests/resample_driver",
                                        "build/tools/resample_driver",
                                        "build/resample_driver")]
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    sys.exit("resample_check: no resample_driver (pass --driver, or build it: see "
             "tests/tools/resample_driver.c)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--driver")
    ap.add_argument("--real", default=os.environ.get(
        "PATCHFS_REAL_DATA", os.path.join(ROOT, "..", "shared", "data", "real")))
    ap.add_argument("--all-cases", action="store_true", help="every case of each real dataset")
    ap.add_argument("--no-real", action="store_true")
    ap.add_argument("--quick", action="store_true", help="fewer random cases and orders")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pf-resample-") as work:
        drv = Driver(find_driver(a.driver), work)
        random_checks(drv, a.quick)
        if not a.no_real:
            real_checks(drv, os.path.abspath(a.real), a.all_cases)
    if failures:
        print("resample_check: %d checks passed, %d FAILED" % (passed, len(failures)))
        return 1
    print("resample_check: %d checks passed" % passed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
