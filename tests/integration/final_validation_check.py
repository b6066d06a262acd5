#!/usr/bin/env python3
"""final_validation_check.py - checks of examples/pytorch's final validation, run by
tests/integration/examples.sh after the example validated a checkpoint on a mount:

    final_validation_check.py WHAT MOUNT DATASET ARGS...

  summary MOUNT DATASET VAL_DIR OUT_TXT   summary.json lists every validation case of the
                                          mount's fold; the printed foreground Dice is its
  nifti MOUNT DATASET VAL_DIR             each exported NIfTI has its source label file's
                                          shape and affine (nibabel)
  stitch MOUNT DATASET VAL_DIR TILES_DIR  pred/ID.npy equals the Gaussian-weighted average of
                                          the dumped per-tile logits, computed here in numpy
  mirror MOUNT DATASET TILES_DIR CKPT M   tile 0's dumped logits equal the network's mean over
                                          nnU-Net's 8 flips done one by one here (M=1), or its
                                          plain output (M=0)
  onehot MOUNT DATASET                    the example's stitching of one-hot tiles of
                                          cases/ID/seg.npy gives seg.npy back after argmax
  same MOUNT DATASET VAL_DIR_A VAL_DIR_B  the two folders' predictions are identical

Exits non-zero with a message on the first difference.
"""
import itertools
import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "..", "examples", "pytorch")


def val_cases(mount):
    with open(os.path.join(mount, "splits.json")) as f:
        return json.load(f)["val"]


def padded_cut(array, tiles, start, is_2d=False):
    """numpy: array (C, ...) padded with zeros as tiles.json says, cut at a tile's start."""
    pad = [(0, 0)] + [(b, p - s - b) for b, p, s in
                      zip(tiles["pad_before"], tiles["padded_shape"], array.shape[1:])]
    a = np.pad(array, pad)
    P = tiles["patch"]
    return a[:, start[0]:start[0] + P[0], start[1]:start[1] + P[1], start[2]:start[2] + P[2]]


def check_summary(mount, dataset, val_dir, out_txt):
    with open(os.path.join(val_dir, "out", "summary.json")) as f:
        s = json.load(f)
    want = sorted(val_cases(mount))
    got = sorted(os.path.basename(c["prediction_file"]).replace(".nii.gz", "")
                 for c in s["metric_per_case"])
    assert want and got == want, f"summary.json cases {got}, the fold's validation cases {want}"
    dice = s["foreground_mean"]["Dice"]
    assert math.isfinite(dice) and 0 <= dice <= 1, dice
    printed = [l for l in open(out_txt) if l.startswith("final validation: foreground mean Dice")]
    assert printed and float(printed[-1].split()[5]) == round(dice, 4), (printed, dice)
    print(f"{len(got)} cases {got}, foreground mean Dice {dice:.4f}")


def check_nifti(mount, dataset, val_dir):
    import nibabel as nib
    for case in val_cases(mount):
        out = nib.load(os.path.join(val_dir, "out", case + ".nii.gz"))
        src = nib.load(os.path.join(dataset, "labelsTr", case + ".nii.gz"))
        assert out.shape == src.shape, f"{case}: shape {out.shape}, source {src.shape}"
        assert np.array_equal(out.affine, src.affine), f"{case}: affine\n{out.affine}\nsource\n{src.affine}"
        labels = np.unique(np.asarray(out.dataobj))
        print(f"{case}: shape {out.shape}, affine equal, labels {labels.tolist()}")


def check_stitch(mount, dataset, val_dir, tiles_dir):
    g = np.load(os.path.join(mount, "gaussian.npy")).astype(np.float64)
    for case in val_cases(mount):
        with open(os.path.join(mount, "cases", case, "tiles.json")) as f:
            tiles = json.load(f)
        shape = np.load(os.path.join(mount, "cases", case, "data.npy"), mmap_mode="r").shape[1:]
        P, b = tiles["patch"], tiles["pad_before"]
        acc, w = None, np.zeros(tiles["padded_shape"])
        for i, t in enumerate(tiles["tiles"]):
            p = np.load(os.path.join(tiles_dir, case, f"{i}.npy")).astype(np.float64)
            if acc is None:
                acc = np.zeros((p.shape[0], *tiles["padded_shape"]))
            z, y, x = t["start"]
            acc[:, z:z + P[0], y:y + P[1], x:x + P[2]] += p * g
            w[z:z + P[0], y:y + P[1], x:x + P[2]] += g
        want = (acc / w)[:, b[0]:b[0] + shape[0], b[1]:b[1] + shape[1], b[2]:b[2] + shape[2]]
        got = np.load(os.path.join(val_dir, "pred", case + ".npy"))
        assert got.dtype == np.float32 and got.shape == want.shape, (got.dtype, got.shape, want.shape)
        err = np.abs(got - want).max()
        assert err <= 1e-5 * max(1.0, np.abs(want).max()), f"{case}: largest difference {err}"
        print(f"{case}: {len(tiles['tiles'])} tiles, pad_before {b}, {got.shape}: "
              f"largest difference to numpy {err:.2e}")


def check_mirror(mount, dataset, tiles_dir, ckpt, mirror):
    import torch
    sys.path.insert(0, EXAMPLE)
    from train_unet import UNet3D
    torch.set_num_threads(1)
    ck = torch.load(ckpt, map_location="cpu")
    with open(os.path.join(mount, "patchfs.json")) as f:
        info = json.load(f)
    labels = [v for k, v in info["dataset"]["labels"].items() if isinstance(v, int) and k != "ignore"]
    net = UNet3D(len(info["dataset"]["channels"]), max(labels) + 1, ck["net"]["base"], ck["net"]["levels"])
    net.load_state_dict(ck["model"])
    net.eval()
    case = val_cases(mount)[0]
    x = torch.from_numpy(np.load(os.path.join(mount, "cases", case, "tiles", "0", "data.npy")))[None]
    with torch.no_grad():
        want = net(x)
        if mirror:  # nnU-Net's _internal_maybe_mirror_and_predict, one flip at a time
            combos = [c for i in range(3) for c in itertools.combinations((2, 3, 4), i + 1)]
            assert len(combos) == 7
            for axes in combos:
                want += torch.flip(net(torch.flip(x, axes)), axes)
            want /= len(combos) + 1
    want = want[0].numpy()
    got = np.load(os.path.join(tiles_dir, case, "0.npy"))
    err = np.abs(got - want).max()
    assert err <= 1e-5 * max(1.0, np.abs(want).max()), f"{case} tile 0: largest difference {err}"
    print(f"{case} tile 0: {'8 flips' if mirror else 'no mirroring'}, largest difference {err:.2e}")


def check_onehot(mount, dataset):
    import torch
    sys.path.insert(0, EXAMPLE)
    import final_validation
    g = np.load(os.path.join(mount, "gaussian.npy"))
    n = 0
    for case in sorted(os.listdir(os.path.join(mount, "cases")))[:3]:
        d = os.path.join(mount, "cases", case)
        seg = np.load(os.path.join(d, "seg.npy"))[0].astype(np.int64)
        k = int(seg.max()) + 1
        onehot = np.stack([(np.maximum(seg, 0) == c) for c in range(k)]).astype(np.float32)
        with open(os.path.join(d, "tiles.json")) as f:
            tiles = json.load(f)
        fed = iter(tiles["tiles"])

        def fake_net(x, fed=fed, onehot=onehot, tiles=tiles):
            # the network "predicts" the one-hot label of the tile it is given (tiles come in
            # tiles.json order); its input must be that tile of the case
            t = next(fed)
            assert x.shape[2:] == tuple(tiles["patch"]), x.shape
            return torch.from_numpy(np.ascontiguousarray(padded_cut(onehot, tiles, t["start"])))

        got = final_validation.sliding_window(d, g, fake_net, k)
        assert got.shape == onehot.shape, (got.shape, onehot.shape)
        assert np.array_equal(got.argmax(0), np.maximum(seg, 0)), f"{case}: argmax differs"
        assert np.abs(got - onehot).max() < 1e-6, f"{case}: {np.abs(got - onehot).max()}"
        n += 1
        print(f"{case}: {len(tiles['tiles'])} tiles, seg {seg.shape} given back")
    assert n


def check_same(mount, dataset, a, b):
    for case in val_cases(mount):
        x = np.load(os.path.join(a, "pred", case + ".npy"))
        y = np.load(os.path.join(b, "pred", case + ".npy"))
        assert np.array_equal(x, y), f"{case}: largest difference {np.abs(x - y).max()}"
        print(f"{case}: identical")


if __name__ == "__main__":
    what, args = sys.argv[1], sys.argv[2:]
    {"summary": check_summary, "nifti": check_nifti, "stitch": check_stitch,
     "mirror": lambda m, d, t, c, mi: check_mirror(m, d, t, c, mi == "1"),
     "onehot": check_onehot, "same": check_same}[what](*args)
