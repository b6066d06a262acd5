#!/usr/bin/env python3
"""step_files.py - a step folder's derived files, float16 and per-open O_DIRECT, through a real
mount against `patchfs get` and independent numpy rules (run by step_files.sh).

  step_files.py PATCHFS DATASET MOUNT OPTS WHAT

WHAT is one of:
  batch   batch.npz of several steps (train and val): np.load gives data, seg and every
          seg_dsK by name, equal to the separate files of the mount and to `patchfs get` of
          each; the archive's bytes equal `patchfs get batch.npz`; zipfile's own CRC check
          passes; members are stored (not deflated); its size is st_size; the seg_dsK equal
          numpy's nearest downsampling of seg.npy (nnU-Net's rule, written here)
  odirect every array of two steps read with O_DIRECT into page-aligned buffers equals
          `patchfs get`; mmap of the same files through another open keeps working
  half    with dtype=float16: data.npy of steps, samples, a case and a tile equal numpy's
          astype(float16) of the float32 files of a mount without the option (OPTS names
          the float32 mount's options; MOUNT is the float16 mount, the float32 one is MOUNT.f32)
"""
import mmap
import os
import subprocess
import sys
import zipfile

import numpy as np


def get(pf, ds, path, opts):
    return subprocess.run([pf, "get", ds, path, "-o", opts], check=True,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout


def read(path):
    with open(path, "rb") as f:
        return f.read()


def npy(b):
    import io
    return np.load(io.BytesIO(b))


def ds_nearest(seg, shape):
    """nnU-Net's DownsampleSegForDSTransform: nearest-neighbour (order 0) resize to `shape`;
    the index map of skimage's resize with order 0 and anti_aliasing off: floor((i + 0.5) *
    in / out), the same rule as docs/augmentation.md states for seg_dsK.npy."""
    out = seg
    for ax, n in enumerate(shape):
        m = seg.shape[ax + 2]
        idx = np.minimum(((np.arange(n) + 0.5) * m / n).astype(np.int64), m - 1)
        out = np.take(out, idx, axis=ax + 2)
    return out


def check_batch(pf, ds, mnt, opts):
    steps = [("train", 0, 0), ("train", 1, 3), ("val", 0, 1)]
    for split, e, s in steps:
        d = "%s/epoch_%d/step_%d" % (split, e, s)
        names = sorted(n for n in os.listdir(os.path.join(mnt, d)) if n.endswith(".npy"))
        assert "batch.npz" in os.listdir(os.path.join(mnt, d)), d
        path = os.path.join(mnt, d, "batch.npz")
        raw = read(path)
        assert len(raw) == os.stat(path).st_size, "%s: size %d, st_size %d" % (
            d, len(raw), os.stat(path).st_size)
        assert raw == get(pf, ds, d + "/batch.npz", opts), d + ": batch.npz differs from get"
        with zipfile.ZipFile(path) as z:
            assert z.testzip() is None, d + ": a CRC is wrong"
            infos = z.infolist()
            assert [i.filename for i in infos] == ["data.npy", "seg.npy"] + sorted(
                (n for n in names if n.startswith("seg_ds")),
                key=lambda n: int(n[6:-4])), [i.filename for i in infos]
            for i in infos:
                assert i.compress_type == zipfile.ZIP_STORED, i
                member = z.read(i.filename)
                assert member == read(os.path.join(mnt, d, i.filename)), (d, i.filename)
                assert member == get(pf, ds, d + "/" + i.filename, opts), (d, i.filename)
        with np.load(path) as z:
            arrays = dict(z)
        assert sorted(arrays) == sorted(n[:-4] for n in names), (sorted(arrays), names)
        seg = arrays["seg"]
        for k in sorted(arrays):
            assert np.array_equal(arrays[k], np.load(os.path.join(mnt, d, k + ".npy"))), (d, k)
            if k.startswith("seg_ds"):
                want = ds_nearest(seg, arrays[k].shape[2:])
                assert np.array_equal(arrays[k], want), (d, k, "not seg.npy downsampled")
        assert len(arrays) >= 3, "no deep-supervision member (ds_scales in OPTS)"
    print("batch.npz of %d steps equal to the separate files and to patchfs get" % len(steps))


def check_odirect(pf, ds, mnt, opts):
    n = 0
    for s in (0, 1):
        d = "train/epoch_2/step_%d" % s
        for name in sorted(os.listdir(os.path.join(mnt, d))):
            if not (name.endswith(".npy") or name.endswith(".npz")):
                continue
            path = os.path.join(mnt, d, name)
            size = os.stat(path).st_size
            buf = mmap.mmap(-1, (size + (1 << 20)) // 4096 * 4096 + 4096)  # page-aligned
            fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
            got = 0
            try:
                while True:
                    k = os.readv(fd, [memoryview(buf)[got:got + (1 << 20)]])
                    if k <= 0:
                        break
                    got += k
            finally:
                os.close(fd)
            assert got == size, "%s: O_DIRECT read %d of %d bytes" % (path, got, size)
            assert buf[:size] == get(pf, ds, d + "/" + name, opts), path + " differs (O_DIRECT)"
            # an mmap reader of the same file keeps the page cache path
            with open(path, "rb") as f:
                m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
                assert m[:] == buf[:size], path + " differs (mmap)"
                m.close()
            buf.close()
            n += 1
    print("%d files read with O_DIRECT equal to patchfs get" % n)


def check_half(pf, ds, mnt, opts):
    f32 = mnt + ".f32"
    paths = ["train/epoch_0/step_0/data.npy", "train/epoch_3/step_2/data.npy",
             "val/epoch_0/step_0/data.npy", "train/epoch_1/step_1/sample_0/data.npy"]
    case = sorted(os.listdir(os.path.join(f32, "cases")))[0]
    paths.append("cases/" + case + "/data.npy")
    paths.append("cases/" + case + "/tiles/0/data.npy")  # tiles follow dtype= too
    for p in paths:
        a = np.load(os.path.join(f32, p))
        h = np.load(os.path.join(mnt, p))
        assert a.dtype == np.float32 and h.dtype == np.float16, (p, a.dtype, h.dtype)
        want = a.astype(np.float16)
        assert want.tobytes() == h.tobytes(), "%s: %d of %d values differ from astype" % (
            p, int((want.view(np.uint16) != h.view(np.uint16)).sum()), a.size)
        assert read(os.path.join(mnt, p)) == get(pf, ds, p, opts + ",dtype=float16"), p
        assert os.stat(os.path.join(mnt, p)).st_size == len(read(os.path.join(mnt, p))), p
    # seg and the rest unchanged
    for p in ["train/epoch_0/step_0/seg.npy", "gaussian.npy"]:
        assert read(os.path.join(f32, p)) == read(os.path.join(mnt, p)), p
    print("%d float16 arrays equal numpy's astype(float16) of the float32 files" % len(paths))


def main():
    pf, ds, mnt, opts, what = sys.argv[1:6]
    {"batch": check_batch, "odirect": check_odirect, "half": check_half}[what](pf, ds, mnt, opts)


if __name__ == "__main__":
    main()
