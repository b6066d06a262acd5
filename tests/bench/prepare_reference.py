#!/usr/bin/env python3
"""prepare_reference.py - the baseline of bench.py's section h: nnU-Net's preprocessing of
every case of a dataset done by the tests' own numpy/scipy implementation
(tests/integration/geometry_check.py's reference_case: decode, transpose, crop to nonzero,
normalise, resample with resample_check.py's reference), timed case by case. Run it on one
core (bench.py pins it with taskset and one BLAS/OpenMP thread).

  prepare_reference.py PLANS_JSON DATASET [CONFIGURATION]
  prepare_reference.py --make DIR

Prints one JSON object: cases, seconds (CPU seconds of this process, summed over the cases),
source_voxels (the labels' voxel count, the denominator of the cache's bytes per source
voxel). --make writes the bench's resampled dataset: 6 MR cases of 2 to 3.3 million voxels
at six different spacings (so every case is resampled to the plan's target), a smooth
image inside an ellipsoidal body (zero outside: cropped) and two labels.
"""
import json
import os
import sys
import time

import nibabel as nib
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import fingerprint_check as fpc  # noqa: E402  (the dataset's cases, as the tests list them)
import geometry_check as gc  # noqa: E402  (the preprocessing reference)


CASES = [((3.0, 0.75, 0.75), (48, 256, 240)), ((1.0, 1.0, 1.0), (140, 180, 130)),
         ((2.0, 0.9, 0.9), (70, 200, 210)), ((5.0, 0.6, 0.6), (28, 300, 280)),
         ((1.5, 0.8, 0.8), (96, 200, 170)), ((2.5, 1.1, 1.1), (56, 160, 150))]


def make(out):
    from scipy.ndimage import zoom
    rng = np.random.RandomState(5)
    for sub in ("imagesTr", "labelsTr"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    for i, (sp, shape) in enumerate(CASES):
        def field():
            coarse = rng.standard_normal([max(2, n // 12) for n in shape])
            return zoom(coarse, [n / c for n, c in zip(shape, coarse.shape)], order=1)[
                :shape[0], :shape[1], :shape[2]]
        g = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
        body = g[0] ** 2 / 0.9 + g[1] ** 2 / 0.7 + g[2] ** 2 / 0.8 < 1.0
        img = np.where(body, 100.0 + 30.0 * field(), 0.0).astype(np.float32)
        f = field()
        seg = np.where(body & (f > 0.6), 1, 0) + np.where(body & (f < -0.9), 2, 0)
        affine = np.diag([sp[2], sp[1], sp[0], 1.0])
        cid = "case_%03d" % i
        nib.save(nib.Nifti1Image(img.transpose(2, 1, 0), affine),
                 os.path.join(out, "imagesTr", cid + "_0000.nii.gz"))
        nib.save(nib.Nifti1Image(seg.astype(np.uint8).transpose(2, 1, 0), affine),
                 os.path.join(out, "labelsTr", cid + ".nii.gz"))
    json.dump({"channel_names": {"0": "MR"}, "labels": {"background": 0, "a": 1, "b": 2},
               "numTraining": len(CASES), "file_ending": ".nii.gz"},
              open(os.path.join(out, "dataset.json"), "w"), indent=1)


def main():
    if sys.argv[1] == "--make":
        make(sys.argv[2])
        return
    plan = json.load(open(sys.argv[1]))
    ds = sys.argv[2]
    conf = plan["configurations"][sys.argv[3] if len(sys.argv) > 3 else "3d_fullres"]
    cases, _ = fpc.cases_of(ds)
    seconds, voxels = 0.0, 0
    for _, imgs, lab in cases:
        t0 = time.process_time()
        img, seg = gc.reference_case(imgs, lab, plan, conf)
        seconds += time.process_time() - t0
        assert img.ndim == 4 and seg.ndim == 3
        voxels += int(np.prod(nib.load(lab).shape[:3]))
    print(json.dumps({"cases": len(cases), "seconds": seconds, "source_voxels": voxels}))


if __name__ == "__main__":
    main()
