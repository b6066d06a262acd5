#!/usr/bin/env python3
"""make_dataset.py - writes a small synthetic segmentation dataset for tests and the demo.

The volumes are a deterministic function of the arguments (numpy's legacy RandomState, which
numpy keeps stable across versions), so served bytes can be pinned by golden hashes.
Each case is a zero background with a noisy ellipsoidal "body" and a few spherical labelled
structures inside it; so nnU-Net's crop-to-nonzero, hole filling and class sampling all have
something to do.

  make_dataset.py OUT [--layout nnunet|msd] [--cases N] [--channels C] [--shape Z,Y,X]
                      [--classes K] [--dtype int16|uint8|float32|float64] [--ct] [--seed S]
"""
import argparse
import json
import os

import nibabel as nib
import numpy as np


def make_case(rs, shape, channels, classes, ct):
    Z, Y, X = shape
    # case size varies a little, like real scans
    z, y, x = np.meshgrid(np.arange(Z), np.arange(Y), np.arange(X), indexing="ij")
    cz, cy, cx = Z / 2 + rs.randint(-2, 3), Y / 2 + rs.randint(-2, 3), X / 2 + rs.randint(-2, 3)
    rz, ry, rx = Z * 0.4, Y * 0.4, X * 0.38
    body = ((z - cz) / rz) ** 2 + ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0
    seg = np.zeros(shape, np.uint8)
    for k in range(1, classes + 1):
        # smaller structures for higher labels: a rare class
        r = max(1.5, min(shape) * (0.22 / k))
        pz, py, px = (cz + rs.randint(-int(rz / 2), int(rz / 2) + 1),
                      cy + rs.randint(-int(ry / 2), int(ry / 2) + 1),
                      cx + rs.randint(-int(rx / 2), int(rx / 2) + 1))
        ball = (z - pz) ** 2 + (y - py) ** 2 + (x - px) ** 2 <= r * r
        seg[ball & body] = k
    images = []
    for c in range(channels):
        base = 100.0 + 40.0 * c
        img = base + 10.0 * rs.standard_normal(shape)
        img += 60.0 * (seg > 0) + 15.0 * seg
        if ct:
            img = img * 3.0 - 900.0  # Hounsfield-like range
            img[~body] = -1024.0 if c == 0 else 0.0
        img[~body] = 0.0 if not ct else img[~body]
        images.append(img)
    return images, seg


def save(arr_zyx, path, dtype, spacing):
    # nibabel arrays are (x, y, z): NIfTI storage order (x fastest) equals C order of (z, y, x)
    data = np.ascontiguousarray(arr_zyx.astype(dtype).transpose(2, 1, 0))
    affine = np.diag([spacing[2], spacing[1], spacing[0], 1.0])
    affine[:3, 3] = [-10.0, 20.0, 5.0]
    img = nib.Nifti1Image(data, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    nib.save(img, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layout", choices=["nnunet", "msd"], default="nnunet")
    ap.add_argument("--cases", type=int, default=6)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--shape", default="24,40,36")
    ap.add_argument("--classes", type=int, default=2)
    ap.add_argument("--dtype", default="int16")
    ap.add_argument("--ct", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    shape0 = tuple(int(v) for v in a.shape.split(","))
    rs = np.random.RandomState(a.seed)
    os.makedirs(os.path.join(a.out, "imagesTr"), exist_ok=True)
    os.makedirs(os.path.join(a.out, "labelsTr"), exist_ok=True)
    names = ["CT"] if a.ct else ["T1", "T2", "FLAIR", "PD"]
    channel_names = {str(c): names[c % len(names)] if not a.ct else "CT" for c in range(a.channels)}
    labels = {"background": 0}
    for k in range(1, a.classes + 1):
        labels["structure_%d" % k] = k
    training = []
    for i in range(a.cases):
        shape = tuple(max(4, s + rs.randint(-3, 4)) for s in shape0)
        images, seg = make_case(rs, shape, a.channels, a.classes, a.ct)
        cid = "case_%03d" % i
        spacing = (2.0, 0.8, 0.8)
        if a.layout == "nnunet":
            for c, img in enumerate(images):
                save(img, os.path.join(a.out, "imagesTr", "%s_%04d.nii.gz" % (cid, c)), a.dtype,
                     spacing)
        else:
            stack = np.stack(images, axis=0)  # (C, Z, Y, X) -> NIfTI (x, y, z, c)
            data = np.ascontiguousarray(stack.astype(a.dtype).transpose(3, 2, 1, 0))
            if a.channels == 1:
                data = data[..., 0]
            affine = np.diag([spacing[2], spacing[1], spacing[0], 1.0])
            affine[:3, 3] = [-10.0, 20.0, 5.0]  # the labels' affine: image and label align
            img = nib.Nifti1Image(data, affine)
            img.set_qform(affine, code=1)
            img.set_sform(affine, code=1)
            nib.save(img, os.path.join(a.out, "imagesTr", "%s.nii.gz" % cid))
        save(seg, os.path.join(a.out, "labelsTr", "%s.nii.gz" % cid), np.uint8, spacing)
        training.append({"image": "./imagesTr/%s.nii.gz" % cid,
                         "label": "./labelsTr/%s.nii.gz" % cid})
    if a.layout == "nnunet":
        meta = {"channel_names": channel_names, "labels": labels, "numTraining": a.cases,
                "file_ending": ".nii.gz", "name": "Synthetic"}
    else:
        meta = {"name": "Synthetic", "modality": channel_names,
                "labels": {str(v): k for k, v in labels.items()},
                "numTraining": a.cases, "training": training, "test": []}
    with open(os.path.join(a.out, "dataset.json"), "w") as f:
        json.dump(meta, f, indent=2)


if __name__ == "__main__":
    main()
