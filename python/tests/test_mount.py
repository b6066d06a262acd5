"""patchfs.Mount and patchfs.Tree: the daemon's life cycle, the arrays against `patchfs get`,
the fingerprint, and every bad input of issue 18 (a refused dataset, a missing binary, a
mountpoint in use, a step out of range)."""
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

import patchfs
from conftest import PATCHFS, get_array, get_json, patchfs_mounts


def test_mount_serves_and_unmounts(dataset, opts):
    with patchfs.Mount(dataset, **opts) as m:
        assert m.mounted and m.path in patchfs_mounts()
        assert os.path.dirname(m.path) == os.path.dirname(os.path.abspath(m.path))
        with open(os.path.join(m.path, "patchfs.json")) as f:
            assert m.options == json.load(f)["options"]
        assert m.options["seed"] == 5 and m.options["patch"] == [12, 16, 16]
        assert m.options["steps"] == 6 and m.options["batch"] == 3
        # the measured default (prefetch=2) is added; patchfs.json lists no serving option
        assert "--prefetch=2" in m.argv and "prefetch" not in m.options
        path = m.path
    assert path not in patchfs_mounts() and not m.mounted
    assert not os.path.exists(path), "the temporary mountpoint is removed"
    m.close()  # again: nothing to do


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_unmounts_on_exception_and_ctrl_c(dataset, opts, exc):
    with pytest.raises(exc):
        with patchfs.Mount(dataset, **opts) as m:
            path = m.path
            m.step("train", 0, 0)
            raise exc("inside the with block")
    assert path not in patchfs_mounts()
    assert not os.path.exists(path)


def test_given_mountpoint_is_kept(dataset, opts, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    with patchfs.Mount(dataset, mnt, **opts) as m:
        assert m.path == str(mnt) and str(mnt) in patchfs_mounts()
    assert str(mnt) not in patchfs_mounts() and mnt.is_dir()


def test_close_without_with_and_mmap_arrays_still_open(dataset, opts):
    m = patchfs.Mount(dataset, **opts)
    b = m.step("train", 1, 2, mmap=True)
    data = b["data"]
    assert isinstance(data, np.memmap)
    del b, data  # the mapping goes with the arrays; close() unmounts without a lazy detach
    m.close()
    assert m.path not in patchfs_mounts()


def test_arrays_equal_patchfs_get(dataset, opts):
    opts = dict(opts, ds_scales=[1, 0.5], aug="nnunet")
    with patchfs.Mount(dataset, **opts) as m:
        for split, epoch, step in [("train", 0, 0), ("train", 2, 5), ("val", 1, 1)]:
            for mmap in (False, True):
                b = m.step(split, epoch, step, mmap=mmap)
                d = "%s/epoch_%d/step_%d/" % (split, epoch, step)
                assert sorted(b) == ["data", "meta", "seg", "seg_ds1"]
                for name in ("data", "seg", "seg_ds1"):
                    ref = get_array(dataset, d + name + ".npy", opts)
                    assert b[name].dtype == ref.dtype and b[name].shape == ref.shape, name
                    assert np.array_equal(b[name], ref), (d, name)
                assert b["meta"] == get_json(dataset, d + "meta.json", opts)
                assert b["meta"]["epoch"] == epoch and b["meta"]["step"] == step
        assert b["data"].shape == (3, 2, 12, 16, 16) and b["seg_ds1"].shape == (3, 1, 6, 8, 8)
        del b  # mapped arrays keep their files open


def test_tree_of_a_mount_made_elsewhere_and_of_a_copy(dataset, opts, tmp_path):
    with patchfs.Mount(dataset, **opts) as m:
        t = patchfs.Tree(m.path)
        assert t.fingerprint == m.fingerprint and t.options == m.options
        copy = tmp_path / "copy"
        for name in ("patchfs.json", "plans.json", "splits.json"):
            os.makedirs(copy, exist_ok=True)
            shutil.copy(os.path.join(m.path, name), copy / name)
        shutil.copytree(os.path.join(m.path, "train", "epoch_1", "step_3"),
                        copy / "train" / "epoch_1" / "step_3")
        ref = m.step("train", 1, 3)
    c = patchfs.Tree(copy)
    assert c.fingerprint == m.fingerprint
    b = c.step("train", 1, 3)
    assert np.array_equal(b["data"], ref["data"]) and np.array_equal(b["seg"], ref["seg"])
    with pytest.raises(patchfs.Error, match="not a patchfs mount"):
        patchfs.Tree(tmp_path)


# ---------------------------------------------------------------- the fingerprint
def test_content_options_are_those_meta_json_repeats(dataset, opts):
    with patchfs.Mount(dataset, aug="nnunet", **opts) as m:
        meta = m.step("val", 0, 0)["meta"]
        assert m.content_options == list(meta["options"])
        assert "aug" in m.content_options and "seed" in m.content_options
        for tree_or_serving in ("steps", "val_steps", "epochs", "cache", "prefetch"):
            assert tree_or_serving not in m.content_options
        assert m.content["options"] == meta["options"]


def fingerprint(dataset, **options):
    with patchfs.Mount(dataset, **options) as m:
        return m.fingerprint


def test_fingerprint_follows_content_only(dataset, opts):
    base = fingerprint(dataset, **opts)
    assert base == fingerprint(dataset, **opts)
    assert len(base) == 32 and int(base, 16) >= 0
    # options that never change a served byte: serving and tree options
    same = [dict(prefetch=0), dict(prefetch=4), dict(mem="64M", threads=2), dict(steps=9, epochs=5, val_steps=1)]
    for extra in same:
        assert fingerprint(dataset, **dict(opts, **extra)) == base, extra
    # content options, and the split (fold): each gives other bytes, so another fingerprint
    other = [dict(seed=6), dict(batch=2), dict(aug="nnunet"), dict(fold=1), dict(oversample=0.5),
             dict(patch=(12, 16, 8)), dict(ds_scales=[1, 0.5])]
    seen = {base}
    for extra in other:
        fp = fingerprint(dataset, **dict(opts, **extra))
        assert fp not in seen, extra
        seen.add(fp)


# ---------------------------------------------------------------- bad input
def cli_message(*args):
    """what patchfs itself prints when it refuses (no progress lines)"""
    r = subprocess.run([PATCHFS] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    assert r.returncode != 0
    return "\n".join(l for l in r.stderr.splitlines() if l.strip() and ": preparing " not in l)


def test_refused_dataset_raises_patchfs_message(dataset, opts, tmp_path):
    broken = tmp_path / "Dataset901_Broken"
    shutil.copytree(dataset, broken)
    os.remove(broken / "labelsTr" / "case_002.nii.gz")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    with pytest.raises(patchfs.Error) as e:
        patchfs.Mount(str(broken), mnt, **opts)
    assert "case_002.nii.gz: missing label" in str(e.value)
    assert str(e.value) == cli_message(str(broken), str(mnt), "--cache=" + opts["cache"])
    assert not os.path.ismount(mnt)
    # a folder that is no dataset, and an option patchfs refuses
    with pytest.raises(patchfs.Error, match="cannot open dataset folder"):
        patchfs.Mount(str(tmp_path / "nothing"), **opts)
    with pytest.raises(patchfs.Error, match="option 'batch'") as e:
        patchfs.Mount(dataset, **dict(opts, batch=0))
    assert str(e.value) == cli_message(dataset, str(mnt), "--batch=0")
    with pytest.raises(patchfs.Error, match="unknown option 'bogus'"):
        patchfs.Mount(dataset, bogus=1)


def test_refused_mount_leaves_no_temporary_folder(dataset, opts, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)  # TMPDIR is read again
    with pytest.raises(patchfs.Error):
        patchfs.Mount(str(tmp_path / "nothing"), **opts)
    assert not [p for p in os.listdir(tmp_path) if p.startswith("patchfs-")]


def test_missing_binary(dataset, opts, monkeypatch, tmp_path):
    monkeypatch.setenv("PATCHFS", str(tmp_path / "no-such-patchfs"))
    with pytest.raises(patchfs.Error, match="no-such-patchfs.*not an executable"):
        patchfs.Mount(dataset, **opts)
    monkeypatch.delenv("PATCHFS")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(patchfs.Error, match="not found on PATH.*PATCHFS"):
        patchfs.Mount(dataset, **opts)
    # the argument wins over both
    with patchfs.Mount(dataset, patchfs=PATCHFS, **opts) as m:
        assert m.mounted


def test_mountpoint_in_use(dataset, opts, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    with patchfs.Mount(dataset, mnt, **opts) as first:
        with pytest.raises(patchfs.Error, match="already a live patchfs mount") as e:
            patchfs.Mount(dataset, mnt, **dict(opts, seed=9))
        assert "fusermount3 -u" in str(e.value)
        # the first mount is untouched and still serves its own options
        assert first.mounted and first.step("train", 0, 0)["meta"]["options"]["seed"] == 5
    assert not os.path.ismount(mnt)


def test_step_out_of_range(dataset, opts):
    with patchfs.Mount(dataset, **opts) as m:
        with pytest.raises(IndexError, match=r"step 6 out of range: train has steps 0\.\.5 .*steps=6"):
            m.step("train", 0, 6)
        with pytest.raises(IndexError, match=r"step 2 out of range: val has steps 0\.\.1 .*val_steps=2"):
            m.step("val", 0, 2)
        with pytest.raises(IndexError, match=r"epoch 3 out of range: train has epochs 0\.\.2 \(epochs=3\)"):
            m.step("train", 3, 0)
        with pytest.raises(IndexError, match=r"step -1 out of range"):
            m.step("train", 0, -1)
        with pytest.raises(ValueError, match="'test'.*'train' and 'val'"):
            m.step("test", 0, 0)
        assert m.step("train", 2, 5)["meta"]["step"] == 5  # the last one exists
