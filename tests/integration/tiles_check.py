#!/usr/bin/env python3
"""tiles_check.py - an independent numpy/scipy reading of nnU-Net's sliding window, checked
against what a patchfs mount serves (tests/integration/tiles.sh runs it).

  tiles_check.py case ROOT DIR [--2d]   DIR = cases/ID or test/ID under the mount ROOT:
      tiles.json equals nnU-Net's rule for DIR/data.npy's shape and the plan's patch
      (pad_nd_image, compute_steps_for_sliding_window, the slicer order of
      _internal_get_sliding_window_slicers), and every DIR/tiles/T/data.npy equals the padded
      case cut at its start.
  tiles_check.py starts S P A,B,...     the starts of an axis of S for patch P are A, B, ...
  tiles_check.py gaussian ROOT [--2d]   ROOT/gaussian.npy equals compute_gaussian(patch,
      1/8, value_scaling_factor=10) built here with scipy.ndimage.gaussian_filter, as float32
      with zeros replaced by the smallest nonzero value, within 1e-6 relative.

The patch is read from the mount's own training arrays (B, C, [Z,] Y, X). Exits non-zero with
a message on a mismatch.
"""
import json
import os
import sys

import numpy as np
from scipy.ndimage import gaussian_filter


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def steps(size, patch, step=0.5):
    # nnU-Net's compute_steps_for_sliding_window, one axis
    target = patch * step
    n = int(np.ceil((size - patch) / target)) + 1
    actual = (size - patch) / (n - 1) if n > 1 else 99999999999
    return [int(np.round(actual * i)) for i in range(n)]


def patch_of(root, is_2d):
    # the served arrays of a training step carry the patch: (B, C, [Z,] Y, X)
    shape = np.load(os.path.join(root, "train/epoch_0/step_0/data.npy"), mmap_mode="r").shape
    return list(shape[2:]) if not is_2d else [1] + list(shape[2:])


def check_case(root, d, is_2d):
    data = np.load(os.path.join(root, d, "data.npy"))
    t = json.load(open(os.path.join(root, d, "tiles.json")))
    P = patch_of(root, is_2d)
    S = list(data.shape[1:])
    if t["patch"] != P:
        fail("%s: patch %s, want %s" % (d, t["patch"], P))
    # pad_nd_image(new_shape=patch): at least the patch, half before (rounded down); 2D
    # configurations pad the last two axes only
    padded = [S[0]] + [max(s, p) for s, p in zip(S[1:], P[1:])] if is_2d else \
        [max(s, p) for s, p in zip(S, P)]
    before = [(q - s) // 2 for q, s in zip(padded, S)]
    if t["padded_shape"] != padded or t["pad_before"] != before:
        fail("%s: padded %s before %s, want %s %s" % (d, t["padded_shape"], t["pad_before"],
                                                   padded, before))
    if is_2d:
        sy, sx = steps(padded[1], P[1]), steps(padded[2], P[2])
        want = [[z, y, x] for z in range(S[0]) for y in sy for x in sx]
    else:
        s0, s1, s2 = (steps(padded[k], P[k]) for k in range(3))
        want = [[z, y, x] for z in s0 for y in s1 for x in s2]
    got = [e["start"] for e in t["tiles"]]
    if got != want:
        fail("%s: starts %s, want %s" % (d, got[:6], want[:6]))
    listed = sorted(int(n) for n in os.listdir(os.path.join(root, d, "tiles")))
    if listed != list(range(len(want))):
        fail("%s/tiles lists %d folders, want %d" % (d, len(listed), len(want)))
    pad = [(0, 0)] + [(b, q - s - b) for b, q, s in zip(before, padded, S)]
    full = np.pad(data, pad, mode="constant", constant_values=0)
    for i, (z, y, x) in enumerate(want):
        tile = np.load(os.path.join(root, d, "tiles", str(i), "data.npy"))
        ref = full[:, z:z + P[0], y:y + P[1], x:x + P[2]]
        if is_2d:
            ref = ref[:, 0]
        if tile.dtype != np.float32 or tile.shape != ref.shape or not np.array_equal(tile, ref):
            fail("%s/tiles/%d: %s %s differs from the padded case cut at %s (%s)"
                 % (d, i, tile.dtype, tile.shape, (z, y, x), ref.shape))
    # the client's loop of docs/inference.md with the identity for a network: the weighted
    # sum of the tiles over the summed weights, padding cut off, gives the case back
    g = np.load(os.path.join(root, "gaussian.npy")).astype(np.float64)
    if is_2d:
        g = g[None]
    acc = np.zeros(full.shape, np.float64)
    wsum = np.zeros(full.shape[1:], np.float64)
    for i, (z, y, x) in enumerate(want):
        tile = np.load(os.path.join(root, d, "tiles", str(i), "data.npy"))
        if is_2d:
            tile = tile[:, None]
        sl = (slice(z, z + P[0]), slice(y, y + P[1]), slice(x, x + P[2]))
        acc[(slice(None),) + sl] += tile * g
        wsum[sl] += g
    back = (acc / wsum)[(slice(None),) + tuple(slice(b, b + s) for b, s in zip(before, S))]
    err = np.max(np.abs(back - data)) if data.size else 0.0
    if not err <= 1e-5 * max(1.0, float(np.max(np.abs(data)))):
        fail("%s: the Gaussian-weighted tiles give the case back only to %.3g" % (d, err))
    print("%s: %d tiles of %s over %s (padded %s) equal the padded case; weighted back to the "
          "case within %.2g" % (d, len(want), P, S, padded, err))


def check_gaussian(root, is_2d):
    P = patch_of(root, is_2d)
    if is_2d:
        P = P[1:]
    g = np.load(os.path.join(root, "gaussian.npy"))
    # nnU-Net's compute_gaussian, written out (torch only converts the dtype)
    tmp = np.zeros(P)
    tmp[tuple(p // 2 for p in P)] = 1
    ref = gaussian_filter(tmp, [p / 8 for p in P], 0, mode="constant", cval=0)
    ref /= np.max(ref) / 10
    ref = ref.astype(np.float32)
    ref[ref == 0] = np.min(ref[ref != 0])
    if g.dtype != np.float32 or list(g.shape) != list(P):
        fail("gaussian.npy: %s %s, want float32 %s" % (g.dtype, g.shape, P))
    rel = np.max(np.abs(g.astype(np.float64) - ref) / ref)
    if not rel <= 1e-6:
        fail("gaussian.npy differs from scipy's by %.3g relative" % rel)
    print("gaussian.npy %s: max relative difference to scipy %.2g, min %.3g, max %.3g"
          % (P, rel, g.min(), g.max()))


def main():
    a = sys.argv[1:]
    is_2d = "--2d" in a
    a = [x for x in a if x != "--2d"]
    if a[0] == "case":
        check_case(a[1], a[2], is_2d)
    elif a[0] == "gaussian":
        check_gaussian(a[1], is_2d)
    elif a[0] == "starts":
        got, want = steps(int(a[1]), int(a[2])), [int(v) for v in a[3].split(",")]
        if got != want:
            fail("axis %s patch %s: nnU-Net's rule gives %s, the test wants %s"
                 % (a[1], a[2], got, want))
        print("axis %s patch %s: %s" % (a[1], a[2], got))
    else:
        fail("unknown command " + a[0])


if __name__ == "__main__":
    main()
