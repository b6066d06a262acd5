#!/usr/bin/env python3
"""aug_baseline.py - the numpy/scipy side of the augmentation benchmark (issue 7).

  aug_baseline.py CASE_DATA_NPY CASE_SEG_NPY BENCH_AUG_JSON [REPEATS]

Times, on the same normalised case and patch as bench_aug (patchfs's cases/ID/{data,seg}.npy),
what a Python loader does per sample: scipy.ndimage.map_coordinates of the rotated and scaled
grid at order 1 and order 3 (every channel; seg per label at order 1 + argmax), and the whole
nnU-Net pipeline in numpy/scipy (spatial order 3 as batchgenerators v1 did, noise, gaussian
blur, brightness, contrast, low resolution via scipy.ndimage.zoom, both gammas, mirroring).
Prints one table with patchfs's figures and the ratios.
"""
import json
import sys
import time

import numpy as np
from scipy.ndimage import gaussian_filter, map_coordinates, zoom


def rot_matrix(a0, a1, a2, s):
    c0, s0, c1, s1, c2, s2 = np.cos(a0), np.sin(a0), np.cos(a1), np.sin(a1), np.cos(a2), np.sin(a2)
    R0 = np.array([[1, 0, 0], [0, c0, -s0], [0, s0, c0]])
    R1 = np.array([[c1, 0, s1], [0, 1, 0], [-s1, 0, c1]])
    R2 = np.array([[c2, -s2, 0], [s2, c2, 0], [0, 0, 1]])
    return R0 @ R1 @ R2 * s


def grid(P, start, M):
    h = (np.array(P) - 1) / 2.0
    c = np.array(start) + h
    o = np.stack(np.meshgrid(*[np.arange(p) for p in P], indexing="ij"), 0).reshape(3, -1)
    return (c[:, None] + M @ (o - h[:, None])).reshape(3, *P)


def spatial(img, seg, P, start, M, order):
    coords = grid(P, start, M)
    out = np.stack([map_coordinates(ch, coords, order=order, mode="constant", cval=0) for ch in img])
    labels = np.unique(seg)
    acc = np.stack([map_coordinates((seg == l).astype(np.float32), coords, order=1, mode="constant",
                                    cval=0) for l in labels])
    return out, labels[np.argmax(acc, 0)]


def pipeline(img, seg, P, start, M, rs):
    x, s = spatial(img, seg, P, start, M, 3)
    x = x + rs.normal(0, 0.05, x.shape).astype(np.float32)
    x = np.stack([gaussian_filter(ch, 0.8) for ch in x])
    x = x * 1.1
    for c in range(len(x)):
        mn, lo, hi = x[c].mean(), x[c].min(), x[c].max()
        x[c] = np.clip((x[c] - mn) * 0.9 + mn, lo, hi)
        small = zoom(x[c], 0.7, order=0)
        x[c] = zoom(small, np.array(x[c].shape) / np.array(small.shape), order=1)[:P[0], :P[1], :P[2]]
        for inv, g in ((True, 1.2), (False, 0.8)):
            v = -x[c] if inv else x[c]
            m, sd, lo = v.mean(), v.std(), v.min()
            rng = v.max() - lo
            v = np.power((v - lo) / (rng + 1e-7), g) * (rng + 1e-7) + lo
            v = (v - v.mean()) / (v.std() + 1e-8) * sd + m
            x[c] = -v if inv else v
    return x[:, ::-1, ::-1, ::-1], s[::-1, ::-1, ::-1]


def median_time(f, reps):
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        t.append(time.perf_counter() - t0)
    return sorted(t)[len(t) // 2]


def main():
    img = np.load(sys.argv[1])
    seg = np.load(sys.argv[2])[0]
    b = json.loads(open(sys.argv[3]).read())
    reps = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    P, start = b["patch"], b["start"]
    M = rot_matrix(0.35, 0.17, -0.26, 1.1)
    rs = np.random.RandomState(0)
    t1 = median_time(lambda: spatial(img, seg, P, start, M, 1), reps)
    t3 = median_time(lambda: spatial(img, seg, P, start, M, 3), reps)
    tp = median_time(lambda: pipeline(img, seg, P, start, M, rs), reps)
    rows = [
        ("spatial transform per sample (order 1)", b["spatial_s"], "scipy map_coordinates order 1", t1),
        ("spatial transform per sample vs order 3", b["spatial_s"], "scipy map_coordinates order 3", t3),
        ("whole pipeline per sample", b["pipeline_s"], "numpy/scipy pipeline", tp),
    ]
    print("case %s, %d channel(s), patch %s, one core" % (b["case"], b["channels"], "x".join(map(str, P))))
    print("| measure | patchfs (s) | baseline | baseline (s) | speed-up |")
    print("|---|---|---|---|---|")
    for name, ours, base, theirs in rows:
        print("| %s | %.4f | %s | %.4f | %.1fx |" % (name, ours, base, theirs, theirs / ours))
    print("| plain crop (reference) | %.4f | | | |" % b["plain_s"])


if __name__ == "__main__":
    main()
