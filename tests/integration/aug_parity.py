#!/usr/bin/env python3
"""aug_parity.py - aug=nnunet against nnU-Net's trainer (nnUNetTrainer.get_training_transforms,
batchgeneratorsv2), each rule checked with a reference written here from nnU-Net's definition:
statistics of the parameters meta.json records (Kolmogorov-Smirnov, binomial bounds of 4 sigma)
and the served arrays against numpy/scipy.

  aug_parity.py draws MNT STEPS      brightness, contrast, gamma (both): BGContrast, i.e. half
                                     U(lo, 1), half U(1, hi)
  aug_parity.py dummy2d MNT STEPS    a 3D patch under a third as deep as wide: one in-plane angle
                                     U(-180, 180), mirroring on Z, Y and X, blur on Z too
  aug_parity.py iso3d MNT STEPS      an isotropic 3D patch: three angles U(-30, 30), not dummy 2D
  aug_parity.py grid MNT STEPS       rotation and scaling only: the served image equals trilinear
                                     sampling (scipy map_coordinates, zero outside) at
                                     b + (Pb - 1) / 2 + Rz Ry Rx S (o - (P - 1) / 2), S in-plane for
                                     dummy 2D (b: the enlarged patch's start, Pb its size)
  aug_parity.py blur MNT STEPS       blur only: the served image equals batchgeneratorsv2's
                                     blur (round_to_nearest_odd(6 sigma + 0.5) taps, numpy's
                                     'reflect' = torch's) of the plain crop with the recorded
                                     sigmas, Z included for dummy 2D
  aug_parity.py identity MNT STEPS   zero angles, unit scale, P and Pb of equal parity on every
                                     axis: the rotated grid is the plain crop, bit for bit
  aug_parity.py makemask DIR         writes a BraTS-like dataset (use_mask_for_norm)
  aug_parity.py mask MNT STEPS       image 0 wherever seg < 0, after the intensity transforms
  aug_parity.py rgb DIR PATCHFS      rgb_to_0_1 channels: v / 255, and a value outside
                                     [0, 255] refused naming the file
"""
import json
import math
import os
import subprocess
import sys

import numpy as np
from scipy import ndimage, stats

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from augment import case, crop  # noqa: E402  served cases, the plain numpy crop of a box


def options(mnt):
    return json.load(open(os.path.join(mnt, "patchfs.json")))["options"]


def positions(mnt, steps):
    for s in range(steps):
        d = os.path.join(mnt, "train", "epoch_0", "step_%d" % s)
        for k, p in enumerate(json.load(open(os.path.join(d, "meta.json")))["positions"]):
            yield d, k, p


def within(name, got, n, p):
    sd = math.sqrt(n * p * (1 - p))
    print("%-22s %4d of %d (%.3f), expected %.3f +- %.3f" % (name, got, n, got / n, p, 4 * sd / n))
    assert abs(got - n * p) <= 4 * sd, name


def ks(name, values, cdf, alt=None):
    """KS test of values against cdf (p > 0.001); alt: a cdf the values must be told from."""
    r = stats.kstest(values, cdf)
    print("%-22s n %d, KS D %.4f, p %.3g" % (name, len(values), r.statistic, r.pvalue))
    assert r.pvalue > 1e-3, name
    if alt is not None:
        ra = stats.kstest(values, alt)
        print("%-22s   against the old rule: D %.4f, p %.3g" % ("", ra.statistic, ra.pvalue))
        assert ra.pvalue < 1e-3, name + ": cannot tell from the old rule"


def bg_contrast_cdf(lo, hi):
    """batchgeneratorsv2's BGContrast((lo, hi)) with lo < 1 < hi: with probability 0.5
    U(lo, 1), else U(1, hi)."""
    def cdf(x):
        x = np.asarray(x, dtype=float)
        low = 0.5 * np.clip((x - lo) / (1 - lo), 0, 1)
        high = 0.5 * np.clip((x - 1) / (hi - 1), 0, 1)
        return low + high
    return cdf


def uniform_cdf(lo, hi):
    return lambda x: np.clip((np.asarray(x, dtype=float) - lo) / (hi - lo), 0, 1)


def draws(mnt, steps):
    got = {"brightness": [], "contrast": [], "gamma": [], "gamma_inverted": []}
    for d, k, p in positions(mnt, steps):
        a = p["augmentation"]
        for key in got:
            assert a[key] is not None, (d, k, key)
            got[key] += a[key]
    for key, v in got.items():
        lo, hi = (0.75, 1.25) if key in ("brightness", "contrast") else (0.7, 1.5)
        v = np.array(v)
        assert v.min() >= lo and v.max() <= hi, key
        within(key + " < 1", int((v < 1).sum()), len(v), 0.5)
        # gamma's old rule U(0.7, 1.5) puts 3/8 below 1: the test must tell it apart
        ks(key, v, bg_contrast_cdf(lo, hi), None if hi - 1 == 1 - lo else uniform_cdf(lo, hi))


def dummy2d(mnt, steps):
    P = options(mnt)["patch"]
    assert len(P) == 3 and max(P) / P[0] > 3, P
    n, mirrored, angles, zsig = 0, [0, 0, 0], [], []
    for d, k, p in positions(mnt, steps):
        a = p["augmentation"]
        assert a["dummy_2d"] is True, (d, k)
        assert a["rotation_deg"] is not None and len(a["rotation_deg"]) == 1, a
        angles += a["rotation_deg"]
        for ax in a["mirror_axes"]:
            mirrored[ax] += 1
        for s in a["blur_sigma"] or []:
            if s is not None:
                zsig.append(s[0])
        n += 1
    ks("in-plane angle (deg)", np.array(angles), uniform_cdf(-180, 180))
    for ax in range(3):
        within("mirror axis %d" % ax, mirrored[ax], n, 0.5)
    assert len(zsig) > 50, len(zsig)
    ks("blur sigma along Z", np.array(zsig), uniform_cdf(0.5, 1.0))


def iso3d(mnt, steps):
    angles = [[], [], []]
    for d, k, p in positions(mnt, steps):
        a = p["augmentation"]
        assert a["dummy_2d"] is False, (d, k)
        assert len(a["rotation_deg"]) == 3, a
        for ax in range(3):
            angles[ax].append(a["rotation_deg"][ax])
    for ax in range(3):
        ks("angle about axis %d" % ax, np.array(angles[ax]), uniform_cdf(-30, 30))


def nnunet_matrix(a, s, in_plane, order="nnunet"):
    """batchgeneratorsv2's create_affine_matrix_3d: Rz(a[2]) Ry(a[1]) Rx(a[0]) S on (z, y, x)
    (create_affine_matrix_2d's R S on (y, x) for dummy 2D)."""
    if in_plane:
        a, S = [a[0], 0.0, 0.0], np.diag([1.0, s, s])
    else:
        S = np.diag([s, s, s])
    c, n = np.cos(a), np.sin(a)
    rx = np.array([[1, 0, 0], [0, c[0], -n[0]], [0, n[0], c[0]]])
    ry = np.array([[c[1], 0, n[1]], [0, 1, 0], [-n[1], 0, c[1]]])
    rz = np.array([[c[2], -n[2], 0], [n[2], c[2], 0], [0, 0, 1]])
    return (rz @ ry @ rx if order == "nnunet" else rx @ ry @ rz) @ S


def reference(img, box_start, P, Pb, M):
    """nnU-Net's grid: the loader cuts the enlarged patch Pb starting at b, the crop is its
    centre (b + Pb // 2 - P // 2 = box_start), the grid turns about (Pb - 1) / 2 of it."""
    b = np.array(box_start) - (np.array(Pb) // 2 - np.array(P) // 2)
    o = np.stack(np.meshgrid(*[np.arange(n) for n in P], indexing="ij"), 0).reshape(3, -1)
    h = (np.array(P, dtype=float) - 1) / 2
    q = (b + (np.array(Pb) - 1) / 2)[:, None] + M @ (o - h[:, None])
    return np.stack([ndimage.map_coordinates(ch.astype(np.float64), q, order=1,
                                             mode="grid-constant", cval=0.0).reshape(P)
                     for ch in img])


def grid(mnt, steps):
    opt = options(mnt)
    P, Pb = opt["patch"], opt["aug"]["initial_patch"]
    worst, alt_far, n3, centre_far, n_odd = 0.0, 0, 0, 0, 0
    other_parity = any(x % 2 != y % 2 for x, y in zip(P, Pb))
    for d, k, p in positions(mnt, steps):
        a = p["augmentation"]
        data = np.load(os.path.join(d, "sample_%d" % k, "data.npy"))
        img = case(mnt, p["case"])[0]
        ang = np.radians(a["rotation_deg"])
        s = a["scale"] if a["scale"] is not None else 1.0
        in_plane = len(ang) == 1
        want = reference(img, p["box_start"], P, Pb, nnunet_matrix(ang, s, in_plane))
        err = np.abs(data - want).max() / max(1.0, np.abs(want).max())
        worst = max(worst, err)
        assert err < 1e-3, (d, k, err)
        if other_parity:  # turning about the crop's centre instead is a different grid
            n_odd += 1
            alt = reference(img, p["box_start"], P, P, nnunet_matrix(ang, s, in_plane))
            centre_far += np.abs(data - alt).max() > 100 * max(err, 1e-4)
        if not in_plane and np.any(ang != 0):  # the other multiplication order too
            n3 += 1
            alt = reference(img, p["box_start"], P, Pb, nnunet_matrix(ang, s, False, "reversed"))
            alt_far += np.abs(data - alt).max() > 100 * max(err, 1e-4)
    print("grid: patch %s, initial patch %s: worst relative difference %.2e" % (P, Pb, worst))
    if n_odd:
        print("grid: %d of %d samples told apart from a grid about the crop's centre" % (centre_far, n_odd))
        assert centre_far >= n_odd // 2
    if n3:
        print("grid: %d of %d 3D samples told apart from the reversed matrix order" % (alt_far, n3))
        assert alt_far >= n3 // 2


def nearest_odd(t):
    r = round(t)  # Python's round: half to even, as batchgeneratorsv2
    return r if r % 2 == 1 else (r + 1 if t - r >= 0 else r - 1)


def bgv2_blur(v, sigmas):
    """GaussianBlurTransform: per axis a kernel of nearest_odd(6 sigma + 0.5) taps (truncate 6
    in blur_dimension), exp(-x^2 / 2 sigma^2) normalised, torch 'reflect' padding."""
    v = v.astype(np.float64)
    for ax, s in enumerate(sigmas):
        if s <= 0 or v.shape[ax] == 1:
            continue
        r = (nearest_odd(6 * s + 0.5) - 1) // 2
        x = np.arange(-r, r + 1)
        k = np.exp(-0.5 * (x / s) ** 2)
        k /= k.sum()
        pad = [(0, 0)] * 3
        pad[ax] = (r, r)
        p = np.pad(v, pad, mode="reflect")
        v = sum(k[j] * np.take(p, np.arange(j, j + v.shape[ax]), axis=ax) for j in range(2 * r + 1))
    return v


def blur(mnt, steps):
    P = options(mnt)["patch"]
    n = zb = 0
    for d, k, p in positions(mnt, steps):
        a = p["augmentation"]
        data = np.load(os.path.join(d, "sample_%d" % k, "data.npy"))
        ref = crop(case(mnt, p["case"])[0], p["box_start"], P, np.float32(0))
        for c in range(data.shape[0]):
            sig = (a["blur_sigma"] or [None] * data.shape[0])[c]
            want = ref[c] if sig is None else bgv2_blur(ref[c], sig)
            err = np.abs(data[c] - want).max() / max(1.0, np.abs(want).max())
            assert err < 1e-5, (d, k, c, err)
            if sig is not None:
                n += 1
                zb += sig[0] > 0
    print("blur: %d blurred channels equal batchgeneratorsv2's blur, %d of them along Z" % (n, zb))
    assert n > 10


def identity(mnt, steps):
    opt = options(mnt)
    P, Pb = opt["patch"], opt["aug"]["initial_patch"]
    assert all(x % 2 == y % 2 for x, y in zip(P, Pb)), (P, Pb)
    n = 0
    for d, k, p in positions(mnt, steps):
        assert p["augmentation"]["rotation_deg"] in ([0.0], [0.0, 0.0, 0.0]), p["augmentation"]
        data = np.load(os.path.join(d, "sample_%d" % k, "data.npy"))
        seg = np.load(os.path.join(d, "sample_%d" % k, "seg.npy"))
        img, lab = case(mnt, p["case"])
        want = np.zeros_like(data)
        wseg = np.full_like(seg, -1)
        src, dst = [], []
        for ax in range(3):
            lo, hi = max(p["box_start"][ax], 0), min(p["box_start"][ax] + P[ax], img.shape[1 + ax])
            src.append(slice(lo, max(lo, hi)))
            dst.append(slice(lo - p["box_start"][ax], max(lo, hi) - p["box_start"][ax]))
        want[(slice(None),) + tuple(dst)] = img[(slice(None),) + tuple(src)]
        wseg[(slice(None),) + tuple(dst)] = lab[(slice(None),) + tuple(src)]
        assert data.tobytes() == want.tobytes(), (d, k)
        assert seg.tobytes() == wseg.tobytes(), (d, k)
        n += 1
    print("identity: patch %s (initial %s): %d rotated-by-zero samples equal the plain crop" % (P, Pb, n))


def write_nifti(path, arr, dtype):
    import nibabel as nib
    nib.save(nib.Nifti1Image(np.asarray(arr, dtype=dtype).transpose(2, 1, 0), np.eye(4)), path)


def write_dataset(root, channel, images, labels):
    os.makedirs(os.path.join(root, "imagesTr"), exist_ok=True)
    os.makedirs(os.path.join(root, "labelsTr"), exist_ok=True)
    json.dump({"channel_names": {"0": channel}, "labels": {"background": 0, "tumour": 1},
               "numTraining": len(images), "file_ending": ".nii.gz"},
              open(os.path.join(root, "dataset.json"), "w"))
    for i, (im, lb) in enumerate(zip(images, labels)):
        write_nifti(os.path.join(root, "imagesTr", "case_%03d_0000.nii.gz" % i), im, np.float32)
        write_nifti(os.path.join(root, "labelsTr", "case_%03d.nii.gz" % i), lb, np.uint8)


def makemask(root):
    """Five cases: an ellipsoid of MR-like intensities in a zero volume three times its box, so
    nnU-Net's planner sets use_mask_for_norm (cropped size under 3/4), and the box corners
    outside the ellipsoid are seg -1 inside the crop."""
    rng = np.random.default_rng(5)
    z, y, x = np.meshgrid(np.arange(40), np.arange(44), np.arange(36), indexing="ij")
    images, labels = [], []
    for i in range(5):
        inside = ((z - 20) / 15.0) ** 2 + ((y - 22) / 16.0) ** 2 + ((x - 18) / 13.0) ** 2 <= 1
        im = np.where(inside, 100 + 20 * rng.standard_normal(z.shape) + 0.5 * x, 0)
        lb = (((z - 20 - i) ** 2 + (y - 22) ** 2 + (x - 18) ** 2) <= 25).astype(np.uint8)
        images.append(im)
        labels.append(lb)
    write_dataset(root, "MR", images, labels)


def mask(mnt, steps):
    pf = json.load(open(os.path.join(mnt, "patchfs.json")))
    assert all(c["use_mask"] for c in pf["normalization"]["channels"]) if "normalization" in pf \
        else True
    outside = inside_nonzero = 0
    for d, k, p in positions(mnt, steps):
        data = np.load(os.path.join(d, "sample_%d" % k, "data.npy"))
        seg = np.load(os.path.join(d, "sample_%d" % k, "seg.npy"))[0]
        out = seg < 0
        assert (data[:, out] == 0).all(), (d, k, int((data[:, out] != 0).sum()))
        outside += int(out.sum())
        inside_nonzero += int((data[:, ~out] != 0).sum())
    print("mask: %d voxels with seg < 0 all 0 (after noise and gamma); %d others non-zero"
          % (outside, inside_nonzero))
    assert outside > 1000 and inside_nonzero > 1000


def rgb(root, patchfs):
    rng = np.random.default_rng(9)
    images = [rng.integers(1, 256, size=(12, 14, 10)).astype(np.float32) for _ in range(5)]
    labels = [(im > 200).astype(np.uint8) for im in images]
    write_dataset(os.path.join(root, "rgb_ok"), "rgb_to_0_1", images, labels)
    want = images[2] / np.float32(255)
    images[2][3, 4, 5] = 300.0
    write_dataset(os.path.join(root, "rgb_bad"), "rgb_to_0_1", images, labels)
    cache = "cache=" + os.path.join(root, "rgb_cache")
    got = subprocess.run([patchfs, "get", os.path.join(root, "rgb_ok"), "cases/case_002/data.npy",
                          "-o", cache + ",spacing=native"], capture_output=True)
    assert got.returncode == 0, got.stderr
    import io
    arr = np.load(io.BytesIO(got.stdout))
    assert np.array_equal(arr[0], want), np.abs(arr[0] - want).max()
    bad = subprocess.run([patchfs, "get", os.path.join(root, "rgb_bad"), "cases/case_002/data.npy",
                          "-o", cache + ",spacing=native"], capture_output=True, text=True)
    path = os.path.join(root, "rgb_bad", "imagesTr", "case_002_0000.nii.gz")
    print("rgb: refused with: %s" % bad.stderr.strip())
    assert bad.returncode != 0 and path in bad.stderr and "[0, 255]" in bad.stderr, bad.stderr


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "makemask":
        makemask(sys.argv[2])
    elif cmd == "rgb":
        rgb(sys.argv[2], sys.argv[3])
    else:
        globals()[cmd](sys.argv[2], int(sys.argv[3]))
    print("ok")
