#!/usr/bin/env python3
"""verify.py - checks what a patchfs mount serves against an independent numpy/scipy/nibabel
reimplementation of nnU-Net's preprocessing and sampling arithmetic.

  verify.py DATASET MOUNT [--steps N] [--cases]

For the given training and validation steps it checks: .npy shapes and dtypes; that each
position's case belongs to the fold's split; nnU-Net's box arithmetic (random crops inside
[lb, ub], forced crops start at max(lb, voxel - P//2) and contain their class at the voxel);
and that every image patch and seg patch equals the reference crop of the source NIfTI
(crop to nonzero with holes filled, -1 outside, normalisation, zero / -1 padding).
Exit status 0 when everything matches; messages name the file and position that differ.
"""
import argparse
import json
import os
import sys

import nibabel as nib
import numpy as np
from scipy.ndimage import binary_fill_holes

failures = []


def fail(msg):
    failures.append(msg)
    print("MISMATCH:", msg, file=sys.stderr)


def load_zyx(path):
    img = nib.load(path)
    data = np.asarray(img.dataobj, dtype=np.float64)  # scl_slope/inter applied by nibabel
    if data.ndim == 3:
        data = data[..., None]
    # nibabel (x, y, z, t) -> (t, z, y, x): NIfTI storage order without reorientation
    return data.transpose(3, 2, 1, 0).astype(np.float32)


def case_files(ds_dir, meta, cid):
    if "channel_names" in meta:
        end = meta["file_ending"]
        imgs = [os.path.join(ds_dir, "imagesTr", "%s_%04d%s" % (cid, c, end))
                for c in range(len(meta["channel_names"]))]
        return imgs, os.path.join(ds_dir, "labelsTr", cid + end)
    for e in meta["training"]:
        if os.path.basename(e["image"]).split(".nii")[0] == cid:
            return [os.path.join(ds_dir, e["image"])], os.path.join(ds_dir, e["label"])
    raise KeyError(cid)


class Reference:
    def __init__(self, ds_dir, mnt):
        self.ds_dir = ds_dir
        self.meta = json.load(open(os.path.join(ds_dir, "dataset.json")))
        self.pf = json.load(open(os.path.join(mnt, "patchfs.json")))
        self.crop = self.pf["options"]["crop"] == "nonzero"
        self.cache = {}

    def case(self, cid):
        """Cropped image (C,Z,Y,X) float32, seg (Z,Y,X) int16 with -1 outside, normalised."""
        if cid in self.cache:
            return self.cache[cid]
        imgs, lab = case_files(self.ds_dir, self.meta, cid)
        image = np.concatenate([load_zyx(p) for p in imgs], axis=0)
        seg = load_zyx(lab)[0].astype(np.int16)
        if self.crop:
            mask = np.any(image != 0, axis=0)
            if mask.any():
                idx = np.nonzero(mask)
                box = tuple(slice(i.min(), i.max() + 1) for i in idx)
            else:
                box = tuple(slice(0, s) for s in mask.shape)
            image = image[(slice(None),) + box]
            seg = seg[box].copy()
            filled = binary_fill_holes(mask)[box]
            seg[(seg == 0) & ~filled] = -1
        out = np.empty_like(image)
        for c, ch in enumerate(self.pf["dataset"]["channels"]):
            x = image[c]
            scheme = ch["normalization"]
            if scheme == "zscore":
                sel = seg >= 0 if ch.get("use_mask") else np.ones(x.shape, bool)
                v = x[sel].astype(np.float64)
                mean, std = v.mean(), max(v.std(), 1e-8)
                y = ((x - np.float32(mean)) / np.float32(std)).astype(np.float32)
                out[c] = np.where(sel, y, x) if ch.get("use_mask") else y
            elif scheme == "ct":
                lo, hi = ch["percentile_00_5"], ch["percentile_99_5"]
                y = np.clip(x, np.float32(lo), np.float32(hi))
                out[c] = (y - np.float32(ch["foreground_mean"])) / np.float32(
                    max(ch["foreground_std"], 1e-8))
            elif scheme == "none":
                out[c] = x
            else:
                raise SystemExit("verify.py: scheme %s not modelled" % scheme)
        self.cache[cid] = (out, seg)
        return out, seg


def crop_pad(arr, start, patch, fill):
    """arr[..., start:start+patch] with constant fill outside (the reference for extract.c)."""
    lead = arr.shape[:-3]
    out = np.full(lead + tuple(patch), fill, dtype=arr.dtype)
    src, dst = [], []
    for d in range(3):
        s = start[d]
        a, b = max(s, 0), min(s + patch[d], arr.shape[-3 + d])
        if b <= a:
            return out
        src.append(slice(a, b))
        dst.append(slice(a - s, b - s))
    out[(Ellipsis,) + tuple(dst)] = arr[(Ellipsis,) + tuple(src)]
    return out


def check_step(ref, mnt, split, epoch, step, split_ids, stats):
    d = os.path.join(mnt, split, "epoch_%d" % epoch, "step_%d" % step)
    where = "%s/epoch_%d/step_%d" % (split, epoch, step)
    meta = json.load(open(os.path.join(d, "meta.json")))
    data = np.load(os.path.join(d, "data.npy"))
    seg = np.load(os.path.join(d, "seg.npy"))
    opts = ref.pf["options"]
    B, P = opts["batch"], list(opts["patch"])
    served = meta["positions"]
    nb = len(served)
    lo = opts["shard"]["positions"][0] if "shard" in opts else 0
    C = len(ref.pf["dataset"]["channels"])
    if data.shape != (nb, C, *P) or data.dtype != np.float32:
        fail("%s: data.npy is %s %s, expected %s float32" % (where, data.shape, data.dtype,
                                                             (nb, C, *P)))
        return
    if seg.shape != (nb, 1, *P) or seg.dtype != np.int16:
        fail("%s: seg.npy is %s %s" % (where, seg.shape, seg.dtype))
        return
    if len(P) == 2:  # 2D configuration: axial slices, arrays without Z
        P = [1] + P
        data = data[:, :, None]
        seg = seg[:, :, None]
    forced_from = round(B * (1 - opts["oversample"]))
    policy = opts.get("sampler", "nnunet")
    for j, pos in enumerate(served):
        cid = pos["case"]
        if pos["position"] != lo + j:
            fail("%s: position %d is numbered %d" % (where, lo + j, pos["position"]))
        if cid not in split_ids:
            fail("%s pos %d: case %s is not in the %s split" % (where, j, cid, split))
        if policy == "uniform":
            want_forced = False
        elif opts.get("oversample_mode") == "probabilistic":
            want_forced = pos["forced"]  # a coin per position: checked statistically
        else:
            want_forced = lo + j >= forced_from
        if pos["forced"] != want_forced:
            fail("%s pos %d: forced=%s, expected %s" % (where, j, pos["forced"], want_forced))
        if pos["class"] is not None and not pos["forced"]:
            fail("%s pos %d: a class without forcing" % (where, j))
        image, cseg = ref.case(cid)
        S = cseg.shape
        start = pos["box_start"]
        if [s + p for s, p in zip(start, P)] != pos["box_end"]:
            fail("%s pos %d: box_end != box_start + patch" % (where, j))
        for ax in range(3):
            need = max(0, P[ax] - S[ax])
            lb = -((need + 1) // 2)
            ub = S[ax] - P[ax] + (need + 1) // 2
            if pos["class"] is not None:
                want = max(lb, pos["voxel"][ax] - P[ax] // 2)
                if start[ax] != want:
                    fail("%s pos %d axis %d: forced start %d, expected %d" % (where, j, ax,
                                                                             start[ax], want))
            elif not lb <= start[ax] <= ub:
                fail("%s pos %d axis %d: random start %d outside [%d, %d]" % (where, j, ax,
                                                                             start[ax], lb, ub))
            pb = max(0, -start[ax])
            pa = max(0, start[ax] + P[ax] - S[ax])
            if pos["pad_before"][ax] != pb or pos["pad_after"][ax] != pa:
                fail("%s pos %d axis %d: padding %s/%s, expected %d/%d" % (
                    where, j, ax, pos["pad_before"][ax], pos["pad_after"][ax], pb, pa))
        want_img = crop_pad(image, start, P, np.float32(0))
        want_seg = crop_pad(cseg, start, P, np.int16(-1))
        if not np.array_equal(seg[j, 0], want_seg):
            fail("%s pos %d: seg differs from the reference crop of %s (%d voxels)" % (
                where, j, cid, int((seg[j, 0] != want_seg).sum())))
        if not np.allclose(data[j], want_img, rtol=1e-5, atol=1e-5):
            fail("%s pos %d: image differs from the reference crop of %s (max diff %g)" % (
                where, j, cid, float(np.abs(data[j] - want_img).max())))
        if pos["class"] is not None:
            v = [pos["voxel"][ax] - start[ax] for ax in range(3)]
            if seg[j, 0, v[0], v[1], v[2]] != pos["class"]:
                fail("%s pos %d: forced class %d not at its voxel" % (where, j, pos["class"]))
            stats["forced_with_class"] += 1
        stats["positions"] += 1
        stats["forced"] += pos["forced"]


def check_cases(ref, mnt, ids):
    for cid in ids:
        d = os.path.join(mnt, "cases", cid)
        image, cseg = ref.case(cid)
        data = np.load(os.path.join(d, "data.npy"))
        seg = np.load(os.path.join(d, "seg.npy"))
        if seg.shape != (1,) + cseg.shape or not np.array_equal(seg[0], cseg):
            fail("cases/%s/seg.npy differs from the reference" % cid)
        if data.shape != image.shape or not np.allclose(data, image, rtol=1e-5, atol=1e-5):
            fail("cases/%s/data.npy differs from the reference" % cid)
        props = json.load(open(os.path.join(d, "properties.json")))
        if props["shape"] != list(cseg.shape):
            fail("cases/%s/properties.json shape %s != %s" % (cid, props["shape"], cseg.shape))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("mount")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--cases", action="store_true")
    a = ap.parse_args()
    ref = Reference(a.dataset, a.mount)
    splits = json.load(open(os.path.join(a.mount, "splits.json")))
    stats = {"positions": 0, "forced": 0, "forced_with_class": 0}
    val_steps = min(a.steps, ref.pf["options"]["val_steps"])
    for epoch in range(a.epochs):
        for step in range(a.steps):
            check_step(ref, a.mount, "train", epoch, step, set(splits["train"]), stats)
            if step < val_steps:
                check_step(ref, a.mount, "val", epoch, step, set(splits["val"]), stats)
    if a.cases:
        check_cases(ref, a.mount, ref.pf["cases"])
    print("verify.py: %d positions (%d forced, %d with a class) checked, %d mismatches" % (
        stats["positions"], stats["forced"], stats["forced_with_class"], len(failures)))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
