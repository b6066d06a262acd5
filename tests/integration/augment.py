#!/usr/bin/env python3
"""augment.py - checks of nnU-Net augmentation as served by a mount (aug=nnunet).

Each check reads a mount made with the options it names; the plain reference of a sample is
the served whole case (cases/ID/data.npy, seg.npy: the same normalised voxels the sampler cuts
from) cropped at the sample's box with numpy.

  augment.py identity MNT STEPS     all probabilities 0: bit-identical to the plain crop
  augment.py rot90 MNT STEPS        rotation 90:90 in-plane only: np.rot90(crop, -1, (Y, X))
  augment.py mirror MNT STEPS       mirror p 1 only: np.flip over every axis
  augment.py contrast MNT STEPS     contrast p 1 only: within the crop's range
  augment.py gamma MNT STEPS        gamma p 1 only: mean and std kept
  augment.py labels MNT STEPS       defaults: no label absent from the case except -1
  augment.py rates MNT STEPS        defaults: each transform's rate within 4 sigma of p
  augment.py ds MNT STEPS           seg_dsK.npy == nearest-exact downsampling of seg.npy
  augment.py val AUGMNT PLAINMNT    validation steps are never augmented
  augment.py nifti DATASET MNT STEPS  mirrored samples' NIfTI voxels map onto source voxels
"""
import json
import math
import os
import sys

import nibabel as nib
import numpy as np

cases = {}


def case(mnt, cid):
    if cid not in cases:
        d = os.path.join(mnt, "cases", cid)
        cases[cid] = (np.load(os.path.join(d, "data.npy")), np.load(os.path.join(d, "seg.npy")))
    return cases[cid]


def crop(arr, start, patch, fill):
    out = np.full(arr.shape[:1] + tuple(patch), fill, dtype=arr.dtype)
    src, dst = [], []
    for d in range(3):
        a, b = max(start[d], 0), min(start[d] + patch[d], arr.shape[1 + d])
        if b <= a:
            return out
        src.append(slice(a, b))
        dst.append(slice(a - start[d], b - start[d]))
    out[(slice(None),) + tuple(dst)] = arr[(slice(None),) + tuple(src)]
    return out


def samples(mnt, steps, split="train"):
    pf = json.load(open(os.path.join(mnt, "patchfs.json")))
    P = pf["options"]["patch"]
    two_d = len(P) == 2
    P = [1] + P if two_d else P
    for s in range(steps):
        d = os.path.join(mnt, split, "epoch_0", "step_%d" % s)
        meta = json.load(open(os.path.join(d, "meta.json")))
        data, seg = np.load(os.path.join(d, "data.npy")), np.load(os.path.join(d, "seg.npy"))
        if two_d:
            data, seg = data[:, :, None], seg[:, :, None]
        for k, p in enumerate(meta["positions"]):
            img, lab = case(mnt, p["case"])
            yield (p, data[k], seg[k], crop(img, p["box_start"], P, np.float32(0)),
                   crop(lab, p["box_start"], P, np.int16(-1)), d, k)


def identity(mnt, steps):
    n = 0
    for p, a, s, ra, rs, d, k in samples(mnt, steps):
        assert a.tobytes() == ra.tobytes() and s.tobytes() == rs.tobytes(), (d, k)
        n += 1
    print("identity: %d samples bit-identical to the plain crop" % n)


def rot90(mnt, steps):
    n = 0
    for p, a, s, ra, rs, d, k in samples(mnt, steps):
        assert p["augmentation"]["rotation_deg"] == [90.0], p["augmentation"]
        want_a = np.rot90(ra, k=-1, axes=(2, 3))
        want_s = np.rot90(rs, k=-1, axes=(2, 3))
        assert np.allclose(a, want_a, atol=1e-5, rtol=1e-6), (d, k, np.abs(a - want_a).max())
        assert np.array_equal(s, want_s), (d, k)
        n += 1
    print("rot90: %d samples equal np.rot90(plain crop, -1, axes=(Y, X))" % n)


def mirror(mnt, steps):
    n = 0
    for p, a, s, ra, rs, d, k in samples(mnt, steps):
        axes = p["augmentation"]["mirror_axes"]
        assert axes, p
        assert np.array_equal(a, np.flip(ra, axis=tuple(1 + x for x in axes))), (d, k)
        assert np.array_equal(s, np.flip(rs, axis=tuple(1 + x for x in axes))), (d, k)
        n += 1
    print("mirror: %d samples equal np.flip of the plain crop" % n)


def contrast(mnt, steps):
    n = 0
    for p, a, s, ra, rs, d, k in samples(mnt, steps):
        f = p["augmentation"]["contrast"]
        assert f is not None
        for c in range(a.shape[0]):
            assert ra[c].min() - 1e-6 <= a[c].min() and a[c].max() <= ra[c].max() + 1e-6, (d, k, c)
        assert np.array_equal(s, rs)
        n += 1
    print("contrast: %d samples stay within the original range" % n)


def gamma(mnt, steps):
    n = 0
    for p, a, s, ra, rs, d, k in samples(mnt, steps):
        g = p["augmentation"]
        assert g["gamma"] is not None or g["gamma_inverted"] is not None, g
        for c in range(a.shape[0]):
            if ra[c].std() < 1e-3:
                continue
            assert abs(a[c].mean() - ra[c].mean()) < 1e-3 * max(1, ra[c].std()), (d, k, c)
            assert abs(a[c].std() - ra[c].std()) < 1e-3 * ra[c].std(), (d, k, c)
        n += 1
    print("gamma: %d samples keep mean and std" % n)


def labels(mnt, steps):
    n = 0
    for p, a, s, ra, rs, d, k in samples(mnt, steps):
        allowed = set(np.unique(case(mnt, p["case"])[1]).tolist()) | {-1}
        got = set(np.unique(s).tolist())
        assert got <= allowed, (d, k, got - allowed)
        n += 1
    print("labels: %d augmented samples hold only their case's labels (and -1)" % n)


def within(name, got, n, p):
    sd = math.sqrt(n * p * (1 - p)) or 1.0
    print("%-16s %4d of %d (%.3f), p %.3f +- %.3f" % (name, got, n, got / n, p, 4 * sd / n))
    assert abs(got - n * p) <= 4 * sd, name


def rates(mnt, steps):
    pf = json.load(open(os.path.join(mnt, "patchfs.json")))
    C = len(pf["dataset"]["channels"])
    augs = [json.load(open(os.path.join(mnt, "train", "epoch_0", "step_%d" % s, "meta.json")))
            for s in range(steps)]
    augs = [p["augmentation"] for m in augs for p in m["positions"]]
    n = len(augs)
    pb = 1 - (1 - 0.5) ** C
    within("rotation", sum(a["rotation_deg"] is not None for a in augs), n, 0.2)
    within("scaling", sum(a["scale"] is not None for a in augs), n, 0.2)
    within("noise", sum(a["noise_sigma"] is not None for a in augs), n, 0.1)
    within("blur (any ch.)", sum(a["blur_sigma"] is not None for a in augs), n, 0.2 * pb)
    within("brightness", sum(a["brightness"] is not None for a in augs), n, 0.15)
    within("contrast", sum(a["contrast"] is not None for a in augs), n, 0.15)
    within("lowres (any)", sum(a["lowres_zoom"] is not None for a in augs), n, 0.25 * pb)
    within("gamma inverted", sum(a["gamma_inverted"] is not None for a in augs), n, 0.1)
    within("gamma", sum(a["gamma"] is not None for a in augs), n, 0.3)
    for ax in range(3):
        within("mirror axis %d" % ax, sum(ax in a["mirror_axes"] for a in augs), n, 0.5)
    sc = [a["scale"] for a in augs if a["scale"] is not None]
    rot = [r for a in augs if a["rotation_deg"] for r in a["rotation_deg"]]
    assert all(0.7 <= v <= 1.4 for v in sc) and all(-30 <= v <= 30 for v in rot)
    print("ok")


def ds(mnt, steps):
    for s in range(steps):
        d = os.path.join(mnt, "train", "epoch_0", "step_%d" % s)
        seg = np.load(os.path.join(d, "seg.npy"))
        k = 1
        while os.path.exists(os.path.join(d, "seg_ds%d.npy" % k)):
            low = np.load(os.path.join(d, "seg_ds%d.npy" % k))
            idx = [((2 * np.arange(o) + 1) * i) // (2 * o) for i, o in zip(seg.shape[2:], low.shape[2:])]
            want = seg[:, :, idx[0]][:, :, :, idx[1]][:, :, :, :, idx[2]]
            assert np.array_equal(low, want), (d, k)
            k += 1
        assert k > 1
    print("ds: seg_dsK equal nearest-exact downsampling of seg.npy")


def val(aug_mnt, plain_mnt):
    for s in range(5):
        for f in ("data.npy", "seg.npy"):
            a = open(os.path.join(aug_mnt, "val", "epoch_0", "step_%d" % s, f), "rb").read()
            b = open(os.path.join(plain_mnt, "val", "epoch_0", "step_%d" % s, f), "rb").read()
            assert a == b, (s, f)
        m = json.load(open(os.path.join(aug_mnt, "val", "epoch_0", "step_%d" % s, "meta.json")))
        assert all("augmentation" not in p for p in m["positions"])
    print("val: validation steps are identical with and without aug=nnunet")


def nifti(ds_dir, mnt, steps):
    meta = json.load(open(os.path.join(ds_dir, "dataset.json")))
    end = meta.get("file_ending", ".nii.gz")
    n = 0
    for s in range(steps):
        d = os.path.join(mnt, "train", "epoch_0", "step_%d" % s)
        m = json.load(open(os.path.join(d, "meta.json")))
        for k, p in enumerate(m["positions"]):
            lab = nib.load(os.path.join(d, "sample_%d" % k, "label.nii.gz"))
            src = nib.load(os.path.join(ds_dir, "labelsTr", p["case"] + end))
            sv = np.asarray(src.dataobj).astype(np.int16)
            pv = np.asarray(lab.dataobj)
            ijk = np.argwhere(pv >= 0)
            world = lab.affine @ np.c_[ijk, np.ones(len(ijk))].T
            back = np.rint(np.linalg.inv(src.affine) @ world).astype(int)[:3].T
            assert (back >= 0).all() and (back < sv.shape).all(), (d, k)
            got = pv[tuple(ijk.T)]
            want = sv[tuple(back.T)]
            assert np.array_equal(got, want), (d, k, int((got != want).sum()))
            n += 1
    print("nifti: %d mirrored samples: every label voxel lands on the same label in the source" % n)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "val":
        val(sys.argv[2], sys.argv[3])
    elif cmd == "nifti":
        nifti(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        globals()[cmd](sys.argv[2], int(sys.argv[3]))
    print("ok")
