#!/usr/bin/env python3
"""bgv2_pipeline.py - batchgeneratorsv2's training pipeline as nnU-Net's trainer configures it,
timed per sample: the reference `make bench` compares patchfs's augmented samples with.

  BGV2_PATH=/path/to/batchgeneratorsv2 bgv2_pipeline.py CASE_DATA.npy CASE_SEG.npy PATCH DS
                                                        [--samples 40] [--seed 1]

Needs torch (Debian's python3-torch) and, beside BGV2_PATH, nnU-Net's source (NNUNET_PATH,
default: BGV2_PATH's parent folder/nnunetv2) and batchgenerators (v1, for nnU-Net's
get_patch_size). Nothing of nnU-Net's pipeline is rewritten here: the transforms are built
by nnU-Net's own `nnUNetTrainer.get_training_transforms`, whose source is read from
nnunetv2/training/nnUNetTrainer/nnUNetTrainer.py and executed with batchgeneratorsv2's
imports (importing the trainer module itself needs nnU-Net's whole dependency tree). Its
arguments are the trainer's for a 3D isotropic patch (configure_rotation_dummyDA_mirroring_
and_inital_patch_size: rotation +-30 degrees on every axis, mirror axes (0, 1, 2), no dummy 2D)
and the deep-supervision scales 1/cumprod of a plan's pooling strides (DS = the number of
downsampled targets: 1, 1/2, ..., 1/2^DS).

Per sample, as nnU-Net's data loader does (generate_train_batch): a box of the initial patch
size (nnU-Net's get_patch_size with scaling (0.85, 1.25)) at a random place in the case (seeded
numpy), cropped and padded (image 0, seg -1), converted to torch, then the transforms, under
torch.no_grad and one thread. CPU time of this process (user + system) and wall time per
sample are printed as JSON: {"cpu_per_sample": s, "wall_per_sample": s, ...}.
"""
import argparse
import ast
import json
import os
import resource
import sys
import time

import numpy as np


def load_trainer_transforms(nnunet):
    src_path = os.path.join(nnunet, "training", "nnUNetTrainer", "nnUNetTrainer.py")
    with open(src_path) as f:
        tree = ast.parse(f.read(), src_path)
    imports, fn = [], None
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and (
                node.module.startswith("batchgeneratorsv2") or node.module == "typing"):
            imports.append(node)
        if isinstance(node, ast.ClassDef) and node.name == "nnUNetTrainer":
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "get_training_transforms":
                    item.decorator_list = []
                    fn = item
    if fn is None:
        raise SystemExit("bgv2_pipeline: no nnUNetTrainer.get_training_transforms in " + src_path)
    ns = {"np": np}
    for imp in imports:
        try:
            exec(compile(ast.Module(body=[imp], type_ignores=[]), src_path, "exec"), ns)
        except ImportError as e:
            # the cascade's transforms need connected-component labelling (cc3d), which a
            # non-cascaded configuration never calls: named, but failing if ever used
            for alias in imp.names:
                ns[alias.asname or alias.name] = _missing(alias.name, e)
    exec(compile(ast.Module(body=[fn], type_ignores=[]), src_path, "exec"), ns)
    return ns["get_training_transforms"]


def _missing(name, err):
    def fail(*args, **kwargs):
        raise SystemExit("bgv2_pipeline: %s is needed but cannot be imported: %s" % (name, err))
    return fail


def crop_and_pad(a, start, size, fill):
    """a (C, Z, Y, X): the box [start, start + size) per spatial axis, outside filled."""
    out = np.full((a.shape[0],) + tuple(size), fill, dtype=a.dtype)
    src, dst = [slice(None)], [slice(None)]
    for d in range(3):
        lo, hi = max(start[d], 0), min(start[d] + size[d], a.shape[d + 1])
        src.append(slice(lo, max(hi, lo)))
        dst.append(slice(lo - start[d], lo - start[d] + max(hi - lo, 0)))
    out[tuple(dst)] = a[tuple(src)]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("seg")
    ap.add_argument("patch", help="ZxYxX")
    ap.add_argument("ds", type=int, help="deep-supervision targets after scale 1")
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    bgv2 = os.environ.get("BGV2_PATH")
    if not bgv2 or not os.path.isdir(bgv2):
        raise SystemExit("bgv2_pipeline: set BGV2_PATH to a batchgeneratorsv2 checkout")
    root = os.path.dirname(os.path.abspath(bgv2))
    nnunet = os.environ.get("NNUNET_PATH", os.path.join(root, "nnunetv2"))
    sys.path.insert(0, root)

    import torch
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    from threadpoolctl import threadpool_limits  # noqa: F401 (nnU-Net's loader uses it)
    sys.path.insert(0, os.path.dirname(os.path.abspath(nnunet)))
    from nnunetv2.training.data_augmentation.compute_initial_patch_size import get_patch_size

    patch = [int(v) for v in a.patch.split("x")]
    rot = (-30. / 360 * 2. * np.pi, 30. / 360 * 2. * np.pi)
    initial = [int(v) for v in get_patch_size(patch, rot, rot, rot, (0.85, 1.25))]
    ds_scales = [[1.0 / 2 ** k] * 3 for k in range(a.ds + 1)]
    get_training_transforms = load_trainer_transforms(nnunet)
    transforms = get_training_transforms(patch, rot, ds_scales, (0, 1, 2), False,
                                         use_mask_for_norm=None, is_cascaded=False,
                                         foreground_labels=None, regions=None, ignore_label=None)

    data = np.load(a.data, mmap_mode="r")
    seg = np.load(a.seg, mmap_mode="r")
    rng = np.random.RandomState(a.seed)
    shape = data.shape[1:]
    # one warm-up sample (torch's first calls allocate), then the timed ones
    c0 = t0 = None
    for i in range(a.samples + 1):
        if i == 1:
            r = resource.getrusage(resource.RUSAGE_SELF)
            c0, t0 = r.ru_utime + r.ru_stime, time.perf_counter()
        start = [int(rng.randint(-initial[d] // 2, max(shape[d] - initial[d] // 2, 1)))
                 for d in range(3)]
        with torch.no_grad():
            img = torch.from_numpy(crop_and_pad(data, start, initial, 0)).float()
            sg = torch.from_numpy(crop_and_pad(seg, start, initial, -1).astype(np.int16)).to(
                torch.int16)
            out = transforms(**{"image": img, "segmentation": sg})
        assert tuple(out["image"].shape[1:]) == tuple(patch), out["image"].shape
        assert isinstance(out["segmentation"], list) and len(out["segmentation"]) == a.ds + 1
    r = resource.getrusage(resource.RUSAGE_SELF)
    cpu = r.ru_utime + r.ru_stime - c0
    wall = time.perf_counter() - t0
    print(json.dumps({"cpu_per_sample": cpu / a.samples, "wall_per_sample": wall / a.samples,
                      "samples": a.samples, "patch": patch, "initial_patch": initial,
                      "channels": int(data.shape[0]), "ds_targets": a.ds,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
