#!/usr/bin/env python3
"""numpy_loader.py - the baseline `make bench` compares patchfs against: batches made the way
nnU-Net's DataLoader did up to version 2.5, in numpy.

nnU-Net stored each preprocessed case as .npy files (data (C, Z, Y, X) float32, already
normalised; seg (1, Z, Y, X)), opened them memory-mapped for every sample (np.load with
mmap_mode='r'), computed the patch's bounding box from the patch size and either a random
draw or a stored foreground voxel, sliced the part inside the case and np.pad'ded the rest
(0 for images, -1 for seg) into preallocated batch arrays.

Here the cases are the mount's own normalised arrays (patchfs get cases/ID/data.npy and
seg.npy) and the random draws come from each step's meta.json, so the loader makes exactly
the batches patchfs serves, and the bench checks that it does (same bytes).

  numpy_loader.py CASES_DIR META.json... : prints the seconds taken to make the batches.
"""
import json
import os
import sys
import time

import numpy as np


def bbox(shape, patch, forced, voxel, drawn_start):
    """nnU-Net's get_bbox: lower bound -need//2, upper bound shape + need//2 + need%2 - patch;
    a forced position centres the patch on the voxel (only clamped below); a random one uses
    the drawn start (meta.json's, which is where patchfs's random stream put it)."""
    lbs = []
    for d in range(3):
        need = max(0, patch[d] - shape[d])
        lb = -need // 2
        ub = shape[d] + need // 2 + need % 2 - patch[d]
        if forced and voxel is not None:
            s = max(lb, voxel[d] - patch[d] // 2)
        else:
            s = drawn_start[d]
            assert lb <= s <= ub, (lb, s, ub)
        lbs.append(s)
    return lbs, [lbs[d] + patch[d] for d in range(3)]


def load_case(cases_dir, cid):
    # nnUNetDataset.load_case: memory-mapped .npy, opened for every sample
    data = np.load(os.path.join(cases_dir, cid + "_data.npy"), mmap_mode="r")
    seg = np.load(os.path.join(cases_dir, cid + "_seg.npy"), mmap_mode="r")
    return data, seg


def make_batch(cases_dir, meta):
    pos = meta["positions"]
    patch = meta["options"]["patch"]
    if len(patch) == 2:
        patch = [1] + list(patch)
    data0, _ = load_case(cases_dir, pos[0]["case"])
    C = data0.shape[0]
    B = len(pos)
    data_all = np.zeros((B, C, *patch), dtype=np.float32)
    seg_all = np.zeros((B, 1, *patch), dtype=np.int16)
    for j, p in enumerate(pos):
        data, seg = load_case(cases_dir, p["case"])
        shape = data.shape[1:]
        lbs, ubs = bbox(shape, patch, p["forced"], p["voxel"], p["box_start"])
        assert lbs == p["box_start"], (lbs, p["box_start"])
        vl = [max(0, lbs[d]) for d in range(3)]
        vu = [min(shape[d], ubs[d]) for d in range(3)]
        sl = tuple([slice(0, data.shape[0])] + [slice(vl[d], vu[d]) for d in range(3)])
        d = data[sl]
        s = seg[(slice(0, seg.shape[0]),) + sl[1:]]
        padding = [(-min(0, lbs[i]), max(ubs[i] - shape[i], 0)) for i in range(3)]
        data_all[j] = np.pad(d, ((0, 0), *padding), "constant", constant_values=0)
        seg_all[j] = np.pad(s, ((0, 0), *padding), "constant", constant_values=-1)
    return data_all, seg_all


def run(cases_dir, metas):
    """Makes every batch; returns (seconds, bytes made, last batch)."""
    t0 = time.perf_counter()
    nbytes = 0
    out = None
    for m in metas:
        out = make_batch(cases_dir, m)
        nbytes += out[0].nbytes + out[1].nbytes
    return time.perf_counter() - t0, nbytes, out


def main():
    cases_dir, paths = sys.argv[1], sys.argv[2:]
    metas = [json.load(open(p)) for p in paths]
    s, n, _ = run(cases_dir, metas)
    print("numpy_s=%.6f bytes=%d" % (s, n))


if __name__ == "__main__":
    main()
