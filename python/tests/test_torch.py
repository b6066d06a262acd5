"""patchfs.torch.StepDataset: batches through a DataLoader with 0 and 2 workers, resume in
the middle of an epoch, a resume across fingerprints refused with the differing options named.
Skipped, saying why, when PyTorch is not installed (make deps-examples installs it)."""
import hashlib
import os

import numpy as np
import pytest

try:
    import torch
    from torch.utils.data import DataLoader
except ImportError as e:  # the reason shows in pytest's skip line
    pytest.skip("PyTorch is not installed (%s): make deps-examples installs python3-torch" % e,
                allow_module_level=True)

import patchfs
from patchfs.torch import StepDataset
from conftest import get_array


def digest(b):
    h = hashlib.sha256()
    for k in sorted(k for k in b if k.startswith(("data", "seg"))):
        h.update(k.encode())
        h.update(b[k].numpy().tobytes())
    return h.hexdigest()


def walk(loader):
    return [(b["epoch"], b["step"], digest(b)) for b in loader]


def test_batches_are_the_mounts_and_equal_with_0_and_2_workers(dataset, opts):
    opts = dict(opts, ds_scales=[1, 0.5])
    with patchfs.Mount(dataset, **opts) as m:
        ds = StepDataset(m, epochs=2)
        assert len(ds) == 12
        zero = [dict(b) for b in DataLoader(ds, batch_size=None, num_workers=0)]
        two = [dict(b) for b in DataLoader(ds, batch_size=None, num_workers=2)]
        pos = [(b["epoch"], b["step"]) for b in zero]
        assert pos == [(e, s) for e in range(2) for s in range(6)]
        assert [(b["epoch"], b["step"]) for b in two] == pos
        for a, b in zip(zero, two):
            assert sorted(a) == sorted(b) == ["data", "epoch", "seg", "seg_ds1", "step"]
            for k in ("data", "seg", "seg_ds1"):
                assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), (a["epoch"], a["step"], k)
        # the same batches as patchfs get writes (no FUSE), as tensors of the same dtype
        for b in (zero[0], zero[7], zero[11]):
            d = "train/epoch_%d/step_%d/" % (b["epoch"], b["step"])
            for k in ("data", "seg", "seg_ds1"):
                assert np.array_equal(b[k].numpy(), get_array(dataset, d + k + ".npy", opts))
        # workers started by spawn get the dataset pickled: the path and the parsed tree
        spawned = [dict(b) for b in DataLoader(ds, batch_size=None, num_workers=1, sampler=[3, 10],
                                               multiprocessing_context="spawn")]
        assert [digest(b) for b in spawned] == [digest(zero[3]), digest(zero[10])]
        # the package's loader gives the same, with 0 and 2 workers
        assert walk(StepDataset(m, epochs=2).loader(workers=2)) == walk(StepDataset(m, epochs=2).loader(workers=0))
        assert walk(StepDataset(m, epochs=2).loader(workers=0)) == [(b["epoch"], b["step"], digest(b)) for b in zero]


def test_resume_in_the_middle_of_an_epoch(dataset, opts, tmp_path):
    with patchfs.Mount(dataset, **opts) as m:
        whole = walk(StepDataset(m, epochs=3).loader(workers=0))
        assert len(whole) == 18 and len({d for _, _, d in whole}) == 18
        # stopped after 8 batches (epoch 1, step 1), while 2 workers had read ahead
        ds = StepDataset(m, epochs=3)
        got = []
        for b in ds.loader(workers=2):
            got.append((b["epoch"], b["step"], digest(b)))
            if len(got) == 8:
                state = ds.state_dict()
                break
        assert got == whole[:8]
        assert (state["epoch"], state["step"]) == (1, 2)
        torch.save({"data": state}, tmp_path / "ckpt.pt")
    # a new mount, another process's daemon, with another serving option
    with patchfs.Mount(dataset, **dict(opts, prefetch=0)) as m2:
        ds2 = StepDataset(m2, epochs=3)
        ds2.load_state_dict(torch.load(tmp_path / "ckpt.pt")["data"])
        assert ds2.start == (1, 2) and len(ds2) == 10
        assert walk(ds2.loader(workers=2)) == whole[8:]
        # the position after the last batch: nothing is left
        assert ds2.state_dict()["epoch"] == 3 and len(ds2.loader()) == 0
        # a loop that uses a DataLoader of its own says which batch it consumed last
        ds3 = StepDataset(m2.path, epochs=3, start=(0, 3))
        loader = DataLoader(ds3, batch_size=None, num_workers=2)
        for i, b in enumerate(loader):
            if i == 5:
                break
        saved = ds3.state_dict(after=b)
        assert (saved["epoch"], saved["step"]) == (1, 3)
        ds4 = StepDataset(m2.path, epochs=3)
        ds4.load_state_dict(saved)
        assert walk(DataLoader(ds4, batch_size=None)) == whole[9:]


def test_resume_across_fingerprints_is_refused(dataset, opts):
    with patchfs.Mount(dataset, **opts) as m:
        ds = StepDataset(m, epochs=2, start=(1, 3))
        state = ds.state_dict()
    for other, names in [(dict(aug="nnunet"), ["aug"]), (dict(seed=6), ["seed"]),
                         (dict(seed=6, batch=2), ["batch", "seed"]), (dict(fold=1), ["fold", "splits.json"])]:
        with patchfs.Mount(dataset, **dict(opts, **other)) as m2:
            ds2 = StepDataset(m2, epochs=2)
            with pytest.raises(patchfs.FingerprintMismatch) as e:
                ds2.load_state_dict(state)
            msg = str(e.value)
            for name in names:
                assert name in msg, (other, msg)
            for same in ("crop", "normalize", "sampler", "oversample"):
                assert "option %s:" % same not in msg, msg  # only differences are named
            assert ds2.start == (0, 0)  # nothing changed
    # the mismatch is named even when only a value deep in an option differs
    with patchfs.Mount(dataset, **dict(opts, aug="nnunet")) as a, \
            patchfs.Mount(dataset, **dict(opts, aug="nnunet", aug_p_mirror=0)) as b:
        with pytest.raises(patchfs.FingerprintMismatch, match=r"option aug: .*when saved"):
            StepDataset(b).load_state_dict(StepDataset(a).state_dict())
    # a tree option (steps) and a serving option do not change the content: accepted
    with patchfs.Mount(dataset, **dict(opts, epochs=5, mem="64M")) as m3:
        ds3 = StepDataset(m3, epochs=2)
        ds3.load_state_dict(state)
        assert ds3.start == (1, 3)
        with pytest.raises(ValueError, match="6 steps per epoch.*uses 4.*steps=6"):
            StepDataset(m3, epochs=2, steps=4).load_state_dict(state)
        with pytest.raises(ValueError, match="'train'.*'val'"):
            StepDataset(m3, "val", epochs=2).load_state_dict(state)


def test_ranges(dataset, opts):
    with patchfs.Mount(dataset, **opts) as m:
        ds = StepDataset(m, "val", epochs=2, start=(1, 1))
        assert len(ds) == 1 and ds.position(0) == (1, 1)
        with pytest.raises(IndexError, match=r"item 1 out of range: this dataset has items 0\.\.0"):
            ds[1]
        with pytest.raises(ValueError, match="7 steps per epoch asked, the tree has 6"):
            StepDataset(m, steps=7)
        with pytest.raises(ValueError, match=r"epochs=4: the tree has epochs 0\.\.2"):
            StepDataset(m, epochs=4)
        with pytest.raises(IndexError, match=r"step 6 out of range"):
            StepDataset(m, start=(0, 6))
    # a Mount given to a dataset lives as long as the dataset (its workers never unmount it)
    ds = StepDataset(patchfs.Mount(dataset, **opts), epochs=1)
    path = ds.tree.path
    import gc
    gc.collect()
    assert os.path.ismount(path) and len(walk(ds.loader(workers=2))) == 6
    del ds
    gc.collect()
    assert not os.path.ismount(path)
