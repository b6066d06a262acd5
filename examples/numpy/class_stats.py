#!/usr/bin/env python3
"""class_stats.py MOUNT [EPOCH] [SPLIT]: walk one epoch of a patchfs mount with numpy only;
per label value (-1 = outside the case): voxels, share, mean and std of every channel."""
import json, sys
import numpy as np
mnt, epoch, split = sys.argv[1], int((sys.argv[2:] + ["0"])[0]), (sys.argv[3:] + ["train"])[0]
info = json.load(open(f"{mnt}/patchfs.json"))   # options and dataset of the mount
names = {v: k for k, v in info["dataset"]["labels"].items()}
n, s1, s2 = {}, {}, {}
for step in range(info["options"]["steps" if split == "train" else "val_steps"]):
    d = f"{mnt}/{split}/epoch_{epoch}/step_{step}"
    data, seg = np.load(f"{d}/data.npy"), np.load(f"{d}/seg.npy")[:, 0]   # (B,C,Z,Y,X), (B,Z,Y,X)
    for c in np.unique(seg).tolist():
        v = data.transpose(1, 0, 2, 3, 4)[:, seg == c].astype(np.float64)  # (C, voxels of class c)
        n[c], s1[c], s2[c] = n.get(c, 0) + v.shape[1], s1.get(c, 0) + v.sum(1), s2.get(c, 0) + (v * v).sum(1)
print(f"{split} epoch {epoch}: {step + 1} steps, {sum(n.values())} voxels\nclass name voxels share mean[channels] std[channels]")
for c in sorted(n):
    m, sd = s1[c] / n[c], np.sqrt(np.maximum(s2[c] / n[c] - (s1[c] / n[c]) ** 2, 0))
    print(c, names.get(c, "outside" if c == -1 else "?"), n[c], f"{n[c] / sum(n.values()):.6f}",
          " ".join(f"{x:.6f}" for x in m), " ".join(f"{x:.6f}" for x in sd))
