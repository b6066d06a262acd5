#!/usr/bin/env python3
"""provenance.py - checks the files that explain a batch (issue "Seeing a batch").

  provenance.py meta DATASET MOUNT STEPS      meta.json digests, source boxes, stream keys
  provenance.py preview MOUNT STEPS           preview.png pixels follow seg, padding and window
  provenance.py nifti DATASET MOUNT STEPS     sample_K/*.nii.gz overlay the source case
  provenance.py summary MOUNT EPOCH           summary.json against meta.json and seg.npy
"""
import json
import os
import struct
import sys
import zlib

import nibabel as nib
import numpy as np
import xxhash

PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
           (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
           (0, 128, 128), (170, 110, 40)]


def step_dir(mnt, s, split="train", epoch=0):
    return os.path.join(mnt, split, "epoch_%d" % epoch, "step_%d" % s)


def npy_payload(path):
    raw = open(path, "rb").read()
    hlen = struct.unpack("<H", raw[8:10])[0]
    return raw[10 + hlen:]


def check_meta(ds, mnt, steps):
    pf = json.load(open(os.path.join(mnt, "patchfs.json")))
    for s in range(steps):
        d = step_dir(mnt, s)
        m = json.load(open(os.path.join(d, "meta.json")))
        assert m["options"]["seed"] == pf["options"]["seed"]
        for k, p in enumerate(m["positions"]):
            for key in ("case", "forced", "class", "voxel", "box_start", "box_end", "pad_before",
                        "pad_after", "policy", "source_box_start", "source_box_end", "stream",
                        "image_xxh3", "seg_xxh3"):
                assert key in p, (d, key)
            img = npy_payload(os.path.join(d, "sample_%d" % k, "data.npy"))
            seg = npy_payload(os.path.join(d, "sample_%d" % k, "seg.npy"))
            assert p["image_xxh3"] == "%016x" % xxhash.xxh3_64_intdigest(img), (d, k)
            assert p["seg_xxh3"] == "%016x" % xxhash.xxh3_64_intdigest(seg), (d, k)
            props = json.load(open(os.path.join(mnt, "cases", p["case"], "properties.json")))
            # the box in voxels of the transposed source volume, scaled back when resampled
            lo = [b[0] for b in props["bbox_used_for_cropping"]]
            cs, sh = props["shape_after_cropping_and_before_resampling"], props["shape"]
            assert p["source_box_start"] == [l + a * c // s for a, l, c, s in
                                             zip(p["box_start"], lo, cs, sh)]
            assert p["source_box_end"] == [l + a * c // s for a, l, c, s in
                                           zip(p["box_end"], lo, cs, sh)]
            assert p["stream"] == {"seed": pf["options"]["seed"], "split": 0, "epoch": 0,
                                   "step": s, "position": p["position"]}
    print("ok")


def read_png(path):
    """Decodes the 8-bit RGB, filter-0 PNGs patchfs writes (zlib from the standard library)."""
    raw = open(path, "rb").read()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", None
    while pos < len(raw):
        n, kind = struct.unpack(">I4s", raw[pos:pos + 8])
        body = raw[pos + 8:pos + 8 + n]
        assert zlib.crc32(kind + body) == struct.unpack(">I", raw[pos + 8 + n:pos + 12 + n])[0]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype == 2
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    rows = zlib.decompress(idat)
    img = np.frombuffer(rows, np.uint8).reshape(h, 1 + 3 * w)
    assert (img[:, 0] == 0).all()  # filter type none
    return img[:, 1:].reshape(h, w, 3)


def check_preview(mnt, steps):
    pf = json.load(open(os.path.join(mnt, "patchfs.json")))
    P = pf["options"]["patch"]
    P = [1] + P if len(P) == 2 else P
    H, W = P[1], P[2]
    scale = max(1, min(8, 160 // max(H, W)))
    C = len(pf["dataset"]["channels"])
    for s in range(steps):
        d = step_dir(mnt, s)
        png = read_png(os.path.join(d, "preview.png"))
        m = json.load(open(os.path.join(d, "meta.json")))
        seg = np.load(os.path.join(d, "seg.npy"))
        if seg.ndim == 4:
            seg = seg[:, :, None]
        B = seg.shape[0]
        assert png.shape == (B * H * scale + (B + 1) * 2, C * W * scale + (C + 1) * 2, 3), png.shape
        for r, p in enumerate(m["positions"]):
            props = json.load(open(os.path.join(mnt, "cases", p["case"], "properties.json")))
            S = props["shape"]
            z = p["box_start"][0] + P[0] // 2
            sl = seg[r, 0, P[0] // 2]
            for c in range(C):
                y0, x0 = 2 + r * (H * scale + 2), 2 + c * (W * scale + 2)
                tile = png[y0:y0 + H * scale:scale, x0:x0 + W * scale:scale]
                for y in range(H):
                    for x in range(W):
                        px = tuple(int(v) for v in tile[y, x])
                        yy, xx = p["box_start"][1] + y, p["box_start"][2] + x
                        pad = not (0 <= z < S[0] and 0 <= yy < S[1] and 0 <= xx < S[2])
                        lab = int(sl[y, x])
                        if pad:
                            assert px in ((40, 40, 90), (18, 18, 36)), (d, r, y, x, px)
                        elif lab > 0:
                            nb = [sl[y + dy, x + dx] for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0))
                                  if 0 <= y + dy < H and 0 <= x + dx < W]
                            if any(v != lab for v in nb):
                                assert px == PALETTE[(lab - 1) % 12], (d, r, y, x, px)
                        else:
                            assert px[0] == px[1] == px[2], (d, r, y, x, px)
    print("ok")


def check_nifti(ds, mnt, steps):
    meta = json.load(open(os.path.join(ds, "dataset.json")))
    end = meta.get("file_ending", ".nii.gz")
    for s in range(steps):
        d = step_dir(mnt, s)
        m = json.load(open(os.path.join(d, "meta.json")))
        for k, p in enumerate(m["positions"]):
            img = nib.load(os.path.join(d, "sample_%d" % k, "image.nii.gz"))
            lab = nib.load(os.path.join(d, "sample_%d" % k, "label.nii.gz"))
            data = np.load(os.path.join(d, "sample_%d" % k, "data.npy"))
            seg = np.load(os.path.join(d, "sample_%d" % k, "seg.npy"))
            if data.ndim == 3:  # 2D configuration
                data, seg = data[:, None], seg[:, None]
            a = np.asarray(img.dataobj)
            a = a[..., None] if a.ndim == 3 else a
            assert np.array_equal(a.transpose(3, 2, 1, 0), data)
            assert np.array_equal(np.asarray(lab.dataobj).transpose(2, 1, 0), seg[0])
            src = nib.load(os.path.join(ds, "imagesTr", p["case"] + "_0000" + end))
            z, y, x = p["source_box_start"]
            want = src.affine @ [x, y, z, 1]
            for aff in (img.affine, lab.affine):
                got = aff @ [0, 0, 0, 1]
                assert np.allclose(got, want, atol=1e-3 * max(1.0, np.abs(want).max())), (got, want)
                # one voxel along each axis moves as in the source
                assert np.allclose(aff[:3, :3], src.affine[:3, :3], atol=1e-5)
    print("ok")


def check_summary(mnt, epoch):
    for split in ("train", "val"):
        summ = json.load(open(os.path.join(mnt, split, "epoch_%d" % epoch, "summary.json")))
        forced, cases, contains, n = {}, {}, {}, 0
        for s in range(summ["steps"]):
            d = step_dir(mnt, s, split, epoch)
            m = json.load(open(os.path.join(d, "meta.json")))
            seg = np.load(os.path.join(d, "seg.npy"))
            for k, p in enumerate(m["positions"]):
                n += 1
                cases[p["case"]] = cases.get(p["case"], 0) + 1
                if p["class"] is not None:
                    forced[p["class"]] = forced.get(p["class"], 0) + 1
                for lab in np.unique(seg[k]):
                    if lab > 0:
                        contains[int(lab)] = contains.get(int(lab), 0) + 1
        assert summ["positions"] == n
        assert summ["cases"] == cases, (summ["cases"], cases)
        for key, e in summ["classes"].items():
            lab = int(key)
            assert e["forced"] == forced.get(lab, 0), (split, lab)
            if e["contains_exact"]:
                assert e["contains_at_least"] == contains.get(lab, 0), (split, lab, e, contains)
            else:
                assert e["contains_at_least"] <= contains.get(lab, 0), (split, lab)
        print(split, "summary matches", n, "positions")
    print("ok")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "meta":
        check_meta(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == "preview":
        check_preview(sys.argv[2], int(sys.argv[3]))
    elif cmd == "nifti":
        check_nifti(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == "summary":
        check_summary(sys.argv[2], int(sys.argv[3]))
