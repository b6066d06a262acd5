#!/usr/bin/env python3
"""ddp_rank_example.py - what one data-parallel training process does with patchfs.

Started by torchrun (which sets RANK, WORLD_SIZE, LOCAL_RANK) once per GPU, on every node:
mounts this rank's shard of every global batch, walks nnU-Net's loop (250 train / 50 val steps
per epoch) reading its part of each step, and unmounts. Replace `train_step` with the model's
forward/backward; DistributedDataParallel averages gradients across ranks as usual.

  ddp_rank_example.py DATASET GLOBAL_BATCH OPTIONS [--epochs N] [--steps N]
"""
import argparse
import os
import subprocess
import sys

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("global_batch", type=int)
    ap.add_argument("options")
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=250)
    ap.add_argument("--val-steps", type=int, default=50)
    a = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    mnt = subprocess.check_output(
        [os.path.join(here, "patchfs-ddp-mount"), a.dataset, str(a.global_batch), "-o",
         a.options]).decode().strip()
    rank = int(os.environ["RANK"])
    try:
        for epoch in range(a.epochs):
            for step in range(a.steps):
                d = "%s/train/epoch_%d/step_%d" % (mnt, epoch, step)
                data, seg = np.load(d + "/data.npy"), np.load(d + "/seg.npy")
                train_step(data, seg)
            for step in range(a.val_steps):
                d = "%s/val/epoch_%d/step_%d" % (mnt, epoch, step)
                np.load(d + "/data.npy"), np.load(d + "/seg.npy")
            print("rank %d: epoch %d done (local batch %d)" % (rank, epoch, data.shape[0]),
                  file=sys.stderr)
    finally:
        subprocess.call(["fusermount3", "-u", mnt])


def train_step(data, seg):
    """Stands in for model forward/backward on this rank's part of the batch."""
    return float(data.mean()), int((seg > 0).sum())


if __name__ == "__main__":
    main()
