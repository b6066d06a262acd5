#!/usr/bin/env python3
"""fingerprint_check.py - checks patchfs's dataset fingerprint (src/ingest/fingerprint.c, run
through tests/tools/fingerprint_driver) against an independent numpy/scipy implementation of
nnU-Net's (shared/reference/nnunet-geometry.md section 1), written here from the rules:

  - per case: spacing = the NIfTI pixdim reversed to Z, Y, X (absolute values); the crop to
    nonzero: the mask of voxels nonzero in any channel with holes filled
    (scipy.ndimage.binary_fill_holes), its bounding box, seg 0 outside the mask becomes -1;
    shape after crop; relative size = voxels after / before;
  - foreground intensities: np.random.RandomState(1234) per case, for each channel in turn
    rs.choice(image[c][seg > 0], n, replace=True) over the cropped case in C order, with
    n = int(1e8 // n_cases) (fewer with --samples, the same for both sides);
  - pooled over cases: mean, std, min, max, np.percentile 0.5 / 50 / 99.5 (linear).

Passes when shapes, spacings, the relative size, min, max, median and the percentiles are
equal and mean and std agree within 1e-5 relative (numpy sums float32 pairwise, patchfs in
double). Runs on generated datasets (tests/tools/make_dataset.py, CT and MRI, several
channels) and on the real datasets when present (skipped with a message otherwise).

  fingerprint_check.py --driver PATH [--real DIR | --no-real] [--samples N]
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

import nibabel as nib
import numpy as np
from scipy.ndimage import binary_fill_holes

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
failures = []
checked = 0


def cases_of(ds):
    meta = json.load(open(os.path.join(ds, "dataset.json")))
    nch = len(meta.get("channel_names", meta.get("modality", {})))
    ending = meta.get("file_ending", ".nii.gz")
    labels = sorted(glob.glob(os.path.join(ds, "labelsTr", "*" + ending)))
    out = []
    for lab in labels:
        cid = os.path.basename(lab)[: -len(ending)]
        imgs = [os.path.join(ds, "imagesTr", "%s_%04d%s" % (cid, c, ending)) for c in range(nch)]
        out.append((cid, imgs, lab))
    return sorted(out), nch


def array_zyx(path):
    img = nib.load(path)
    return np.asarray(img.dataobj, dtype=np.float32).transpose(2, 1, 0), img.header.get_zooms()


def reference(ds, samples):
    cases, nch = cases_of(ds)
    n = samples if samples else int(10e7 // len(cases))
    shapes, spacings, rel, pooled = [], [], [], [[] for _ in range(nch)]
    for cid, imgs, lab in cases:
        chans = []
        for p in imgs:
            a, zooms = array_zyx(p)
            chans.append(a)
        image = np.stack(chans)
        seg = np.asarray(nib.load(lab).dataobj).transpose(2, 1, 0).astype(np.int16)
        spacings.append([abs(float(zooms[2])), abs(float(zooms[1])), abs(float(zooms[0]))])
        mask = binary_fill_holes(np.any(image != 0, axis=0))
        idx = np.argwhere(mask)
        lo, hi = idx.min(0), idx.max(0) + 1
        box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
        img_c = image[(slice(None),) + box]
        seg_c = seg[box].copy()
        seg_c[(seg_c == 0) & ~mask[box]] = -1
        shapes.append(list(seg_c.shape))
        rel.append(np.prod(seg_c.shape) / np.prod(seg.shape))
        rs = np.random.RandomState(1234)
        fg = seg_c > 0
        for c in range(nch):
            px = img_c[c][fg]
            if len(px):
                pooled[c].append(rs.choice(px, n, replace=True))
    props = {}
    for c in range(nch):
        if not pooled[c]:
            continue
        v = np.concatenate(pooled[c])
        p005, med, p995 = np.percentile(v, (0.5, 50.0, 99.5))
        props[str(c)] = {"mean": float(np.mean(v)), "median": float(med), "std": float(np.std(v)),
                         "min": float(np.min(v)), "max": float(np.max(v)),
                         "percentile_99_5": float(p995), "percentile_00_5": float(p005)}
    return {"spacings": spacings, "shapes_after_crop": shapes,
            "median_relative_size_after_cropping": float(np.median(rel)),
            "foreground_intensity_properties_per_channel": props}, n


def compare(name, ds, driver, samples):
    global checked
    want, n = reference(ds, samples)
    p = subprocess.run([driver, ds, str(n)], capture_output=True, text=True)
    if p.returncode != 0:
        failures.append("%s: driver failed: %s" % (name, p.stderr.strip()))
        return
    got = json.loads(p.stdout)
    for key in ("spacings", "shapes_after_crop"):
        if not np.array_equal(np.array(got[key]), np.array(want[key])):
            failures.append("%s: %s differ: %s vs %s" % (name, key, got[key], want[key]))
    if got["median_relative_size_after_cropping"] != want["median_relative_size_after_cropping"]:
        failures.append("%s: median relative size %r vs %r" % (
            name, got["median_relative_size_after_cropping"],
            want["median_relative_size_after_cropping"]))
    for c, w in want["foreground_intensity_properties_per_channel"].items():
        g = got["foreground_intensity_properties_per_channel"][c]
        for k in ("min", "max", "median", "percentile_00_5", "percentile_99_5"):
            if g[k] != w[k]:
                failures.append("%s: channel %s %s: %r vs numpy %r" % (name, c, k, g[k], w[k]))
        for k in ("mean", "std"):
            if abs(g[k] - w[k]) > 1e-5 * max(1.0, abs(w[k])):
                failures.append("%s: channel %s %s: %r vs numpy %r" % (name, c, k, g[k], w[k]))
    checked += 1
    print("  %-40s %d cases, %d samples per case: %s" % (
        name, len(want["spacings"]), n, json.dumps(got["foreground_intensity_properties_per_channel"].get("0", {}))[:90]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", default=os.path.join(ROOT, "build/tests/fingerprint_driver"))
    ap.add_argument("--real", default=os.environ.get("PATCHFS_REAL_DATA",
                                                     os.path.join(ROOT, "..", "shared", "data", "real")))
    ap.add_argument("--no-real", action="store_true")
    ap.add_argument("--samples", type=int, default=300000,
                    help="samples per case for both sides (0: nnU-Net's int(1e8 // n_cases))")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as t:
        for args in (["--ct", "--cases", "4", "--seed", "3"],
                     ["--channels", "2", "--cases", "3", "--dtype", "int16", "--seed", "5"]):
            ds = os.path.join(t, "gen%d" % checked)
            subprocess.run([sys.executable, os.path.join(ROOT, "tests/tools/make_dataset.py"), ds] + args,
                           check=True, capture_output=True)
            compare("generated " + " ".join(args), ds, a.driver, a.samples)
    if a.no_real or not os.path.isdir(a.real):
        print("SKIP real datasets: %s not present" % a.real)
    else:
        for ds in sorted(glob.glob(os.path.join(a.real, "Dataset*"))):
            compare(os.path.basename(ds), ds, a.driver, a.samples)
    for f in failures:
        print("MISMATCH:", f, file=sys.stderr)
    print("fingerprint_check: %d datasets, %d mismatches" % (checked, len(failures)))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
