#!/usr/bin/env python3
"""policies.py - statistics and structure of the sampling policies, 2D configurations and
shards, read from mounts.

  policies.py rates MOUNT STEPS            forced / class rates of the policy in patchfs.json
  policies.py shards FULL SHARD0 SHARD1... concatenation of shards == the unsharded files
  policies.py samples MOUNT STEPS          sample_K/{data,seg}.npy == step arrays [K]

The seed is fixed, so each outcome is fixed: the tolerances state the distribution (4 sigma of
a binomial) rather than gamble on it.
"""
import json
import math
import os
import sys
from collections import Counter

import numpy as np


def meta(mnt, split, step, epoch=0):
    return json.load(open(os.path.join(mnt, split, "epoch_%d" % epoch, "step_%d" % step,
                                       "meta.json")))


def within(name, got, n, p):
    """got successes of n trials at rate p, within 4 sigma."""
    sd = math.sqrt(n * p * (1 - p)) or 1.0
    ok = abs(got - n * p) <= 4 * sd
    print("%s: %d of %d (%.3f), expected %.3f +- %.3f" % (name, got, n, got / max(n, 1), p,
                                                          4 * sd / max(n, 1)))
    assert ok, name


def rates(mnt, steps):
    pf = json.load(open(os.path.join(mnt, "patchfs.json")))
    o = pf["options"]
    policy, p = o["sampler"], o["oversample"]
    positions = [pos for s in range(steps) for pos in meta(mnt, "train", s)["positions"]]
    n = len(positions)
    forced = [pos for pos in positions if pos["forced"]]
    present = {}

    def classes_of(cid):
        if cid not in present:
            props = json.load(open(os.path.join(mnt, "cases", cid, "properties.json")))
            present[cid] = {int(k) for k in props["class_voxels"]}
        return present[cid]

    for pos in forced:  # every forced position targets a class its case contains
        if pos["class"] is not None:
            assert pos["class"] in classes_of(pos["case"]), pos
    if policy == "uniform":
        assert not forced and all(pos["class"] is None for pos in positions)
        print("uniform: no forced position in %d" % n)
    elif o.get("oversample_mode") == "probabilistic":
        within("probabilistic forced share", len(forced), n, p)
    if policy == "class":
        weights = {int(k): v for k, v in o.get("class_weights", {}).items()}
        train = json.load(open(os.path.join(mnt, "splits.json")))["train"]
        labels = sorted(set().union(*(classes_of(c) for c in train)))
        w = {k: weights.get(k, 1.0) for k in labels}
        w = {k: v for k, v in w.items() if v > 0}
        total = sum(w.values())
        got = Counter(pos["class"] for pos in forced)
        assert set(got) <= set(w), (got, w)
        for k, v in sorted(w.items()):
            within("class %d among forced positions" % k, got[k], len(forced), v / total)
        # within a class, the case is uniform among the train cases that contain it
        for k in w:
            holders = [c for c in train if k in classes_of(c)]
            cnt = Counter(pos["case"] for pos in forced if pos["class"] == k)
            for c in holders:
                within("class %d case %s" % (k, c), cnt[c], got[k], 1 / len(holders))
    print("ok")


def shards(full, parts):
    fo = json.load(open(os.path.join(full, "patchfs.json")))["options"]
    for split, steps in (("train", 6), ("val", 3)):
        for s in range(steps):
            d = os.path.join(split, "epoch_1", "step_%d" % s)
            for f in ("data.npy", "seg.npy"):
                whole = np.load(os.path.join(full, d, f))
                cat = np.concatenate([np.load(os.path.join(m, d, f)) for m in parts], axis=0)
                assert whole.dtype == cat.dtype and whole.shape == cat.shape, (d, f)
                # byte for byte: the array payloads
                assert whole.tobytes() == cat.tobytes(), (d, f)
            pos = [p for m in parts for p in meta(m, split, s, 1)["positions"]]
            assert pos == meta(full, split, s, 1)["positions"], d
    sizes = [json.load(open(os.path.join(m, "patchfs.json")))["options"]["shard"]["positions"]
             for m in parts]
    print("shards", sizes, "of batch", fo["batch"], "concatenate to the unsharded files")
    print("ok")


def samples(mnt, steps):
    for s in range(steps):
        d = os.path.join(mnt, "train", "epoch_0", "step_%d" % s)
        for f in ("data.npy", "seg.npy"):
            whole = np.load(os.path.join(d, f))
            for k in range(whole.shape[0]):
                one = np.load(os.path.join(d, "sample_%d" % k, f))
                assert one.shape == whole.shape[1:] and (one == whole[k]).all(), (d, k, f)
        assert not os.path.exists(os.path.join(d, "sample_%d" % whole.shape[0]))
    print("ok")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "rates":
        rates(sys.argv[2], int(sys.argv[3]))
    elif cmd == "shards":
        shards(sys.argv[2], sys.argv[3:])
    elif cmd == "samples":
        samples(sys.argv[2], int(sys.argv[3]))
