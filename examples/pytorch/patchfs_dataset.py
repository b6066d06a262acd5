"""patchfs_dataset.py - a PyTorch Dataset over a patchfs mount. No loader library: it opens files.

Item i of PatchfsBatches is the whole batch stored in

    MOUNT/SPLIT/epoch_E/step_S/{data.npy, seg.npy}    with (E, S) = divmod(first + i, steps)

where first = start_epoch * steps + start_step. patchfs already made the batch (nnU-Net's
sampling, B patches), so the DataLoader must not collate: use batch_size=None, as loader() does.
Every DataLoader worker opens the files it needs itself; there is no shared state, no sampler
state and no shuffling to restore: resuming at (E, S) is just first = E * steps + S.

    from patchfs_dataset import PatchfsBatches, loader
    ds = PatchfsBatches("/mnt/p", "train", start_epoch=3, start_step=17)
    for b in loader(ds, workers=2):
        b["data"]  # float32 (B, C, Z, Y, X);  b["seg"]: int16 (B, 1, Z, Y, X), -1 outside the case
        b["epoch"], b["step"]
"""
import json
import os

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


def mount_info(mount):
    """patchfs.json of the mount: {"options": {...}, "dataset": {...}, ...}."""
    with open(os.path.join(mount, "patchfs.json")) as f:
        return json.load(f)


class PatchfsBatches(Dataset):
    """The steps of one split of a patchfs mount, in (epoch, step) order.

    steps: steps per epoch to use (default: all the mount has: options.steps for "train",
           options.val_steps for "val"); fewer uses the first `steps` of each epoch.
    start_epoch, start_step: the first batch (resume point).
    end_epoch: one past the last epoch (default: the mount's epochs).
    """

    def __init__(self, mount, split="train", steps=None, start_epoch=0, start_step=0, end_epoch=None):
        opts = mount_info(mount)["options"]
        have = opts["steps"] if split == "train" else opts["val_steps"]
        self.mount, self.split = mount, split
        self.steps = have if steps is None else steps
        self.end_epoch = opts["epochs"] if end_epoch is None else end_epoch
        if not 0 < self.steps <= have:
            raise ValueError(f"{split}: {self.steps} steps per epoch asked, the mount has {have}")
        if self.end_epoch > opts["epochs"]:
            raise ValueError(f"{split}: epochs up to {self.end_epoch} asked, the mount has {opts['epochs']}")
        if not 0 <= start_step < self.steps:
            raise ValueError(f"start step {start_step} is not in [0, {self.steps})")
        self.first = start_epoch * self.steps + start_step
        self.count = max(0, self.end_epoch * self.steps - self.first)

    def __len__(self):
        return self.count

    def position(self, i):
        """(epoch, step) of item i."""
        return divmod(self.first + i, self.steps)

    def folder(self, i):
        e, s = self.position(i)
        return os.path.join(self.mount, self.split, f"epoch_{e}", f"step_{s}")

    def __getitem__(self, i):
        if not 0 <= i < self.count:
            raise IndexError(i)
        e, s = self.position(i)
        d = self.folder(i)
        # plain reads of two files; np.load parses the .npy header
        data = np.load(os.path.join(d, "data.npy"))
        seg = np.load(os.path.join(d, "seg.npy"))
        return {"data": torch.from_numpy(data), "seg": torch.from_numpy(seg), "epoch": e, "step": s}


def _worker_init(_):
    # a worker only reads files; leave the cores to the training process
    torch.set_num_threads(1)


def loader(dataset, workers=2, prefetch=2):
    """A DataLoader yielding the batches of `dataset` in order; `workers` processes read ahead."""
    kw = {"prefetch_factor": prefetch, "worker_init_fn": _worker_init} if workers > 0 else {}
    return DataLoader(dataset, batch_size=None, shuffle=False, num_workers=workers, **kw)
