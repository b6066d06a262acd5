#!/usr/bin/env python3
"""sampling_stats.py - statistics of nnU-Net sampling over many steps of a mount.

  sampling_stats.py MOUNT STEPS

Checks, from meta.json alone: exactly round(B*(1-p)) ... B-1 are forced in every step; each
training case is drawn uniformly with replacement (chi-square); within each case, forced
positions pick every present class uniformly (chi-square), whatever its size. The seed is fixed,
so the outcome is fixed too: these bounds document the distribution rather than gamble on it.
"""
import json
import os
import sys
from collections import Counter, defaultdict

from scipy.stats import chisquare


def main():
    mnt, steps = sys.argv[1], int(sys.argv[2])
    splits = json.load(open(os.path.join(mnt, "splits.json")))
    pf = json.load(open(os.path.join(mnt, "patchfs.json")))
    B, p = pf["options"]["batch"], pf["options"]["oversample"]
    forced_from = round(B * (1 - p))
    cases, classes = Counter(), defaultdict(Counter)
    present = {}
    for s in range(steps):
        meta = json.load(open(os.path.join(mnt, "train/epoch_0/step_%d/meta.json" % s)))
        for j, pos in enumerate(meta["positions"]):
            assert pos["forced"] == (j >= forced_from), (s, j)
            cases[pos["case"]] += 1
            if pos["forced"]:
                cid = pos["case"]
                if cid not in present:
                    props = json.load(open(os.path.join(mnt, "cases", cid, "properties.json")))
                    present[cid] = sorted(int(k) for k in props["class_voxels"])
                assert pos["class"] in present[cid], (s, j, pos["class"], present[cid])
                classes[cid][pos["class"]] += 1
    obs = [cases[c] for c in splits["train"]]
    pval = chisquare(obs).pvalue
    print("cases drawn:", dict(cases), "chi-square p = %.3g" % pval)
    assert set(cases) <= set(splits["train"])
    assert pval > 1e-3, "case draws are not uniform"
    for cid, cnt in classes.items():
        obs = [cnt[k] for k in present[cid]]
        pv = chisquare(obs).pvalue
        print("case %s forced classes %s p = %.3g" % (cid, obs, pv))
        assert pv > 1e-3, "class choice not uniform among present classes for " + cid
    print("ok")


if __name__ == "__main__":
    main()
