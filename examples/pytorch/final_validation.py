"""final_validation.py - nnU-Net's final validation of a trained network on a patchfs mount.

nnU-Net ends a training run by predicting every validation case of the fold whole and scoring
it on the source images (nnUNetTrainer.perform_actual_validation). On a mount that is:

1. per case, the sliding window (docs/inference.md): each tile of cases/ID/tiles.json, read
   from cases/ID/tiles/T/data.npy (or cut from cases/ID/data.npy padded as tiles.json says),
   predicted with mirroring test-time augmentation when the network was trained on mirrored
   batches (the network's logits for the tile and for its flips over every non-empty set of
   spatial axes, flipped back and averaged: 8 predictions for a 3D patch), weighted by the mount's gaussian.npy and summed; the sum is
   divided by the summed weights and the padding cut off: pred/ID.npy, (K, Z, Y, X) float32
   logits on the grid of cases/ID/data.npy;
2. `patchfs export DATASET pred/ out/` (back to the source geometry: out/ID.nii.gz) and
   `patchfs evaluate DATASET out/` (nnU-Net's out/summary.json), with the options the mount
   was made with, so that both read the same cache entries the mount served.

sliding_window takes a `predict` callable (a (1, C, *patch) tensor to (K, *patch) logits), so
a test can run it with a network of its own (tests/integration/final_validation_check.py).
"""
import itertools
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

#: the content options that decide a case's grid and the fold's case list: what export and
#: evaluate read from the cache. The others (seed, patch, batch, sampler, aug, ...) shape the
#: training batches only. The plan goes as the mount's own plans.json (plans=, gpu_mem=).
CASE_OPTIONS = ("configuration", "spacing", "normalize", "crop", "fold")


def trained_with_mirroring(options):
    """Whether batches served with these options (patchfs.json's) were mirrored: aug=nnunet
    with a mirror probability above 0 (nnU-Net's MirrorTransform over every spatial axis).
    nnU-Net mirrors at inference only over the axes its training mirrored
    (inference_allowed_mirroring_axes): a network that never saw flipped images predicts them
    badly, and averaging in those predictions ruins the result."""
    aug = options.get("aug")
    return isinstance(aug, dict) and aug.get("policy") == "nnunet" and \
        float(aug.get("p", {}).get("mirror", 0)) > 0


def flips(ndim, mirror):
    """nnU-Net's mirroring: the tensor dims to flip for each prediction of a tile with `ndim`
    dims (B, C, spatial...): () first, then every non-empty combination of the spatial dims,
    smallest first (itertools.combinations, as _internal_maybe_mirror_and_predict)."""
    if not mirror:
        return [()]
    dims = range(2, ndim)
    return [()] + [c for k in range(1, len(dims) + 1) for c in itertools.combinations(dims, k)]


def predict_tile(net, x, mirror=True, per_forward=8):
    """One tile: x (1, C, *patch) -> logits (K, *patch), averaged over the mirrored copies
    (summed in nnU-Net's order, then divided). The copies go through the network
    `per_forward` at a time as one batch: the same logits up to float rounding (instance
    norm is per sample), and on a CPU several times faster than one by one."""
    sets = flips(x.ndim, mirror)
    pred = None
    for first in range(0, len(sets), per_forward):
        group = sets[first:first + per_forward]
        out = net(torch.cat([torch.flip(x, f) if f else x for f in group]))
        for i, f in enumerate(group):
            p = torch.flip(out[i:i + 1], f) if f else out[i:i + 1]
            pred = p if pred is None else pred + p
    return pred[0] / len(sets)


def tile_region(start, patch, is_2d):
    """The index of a tile in the padded case's spatial axes: a box, or for a 2D
    configuration slice z with the (Y, X) box."""
    z, y, x = start
    if is_2d:
        return (z, slice(y, y + patch[1]), slice(x, x + patch[2]))
    return (slice(z, z + patch[0]), slice(y, y + patch[1]), slice(x, x + patch[2]))


def read_tiles(case_dir, is_2d, source="files"):
    """tiles.json, the case's shape (C, Z, Y, X) and a function giving tile T's input as a
    float32 array: the served tile file, or ("slice") data.npy padded with zeros as tiles.json
    says and cut at the tile's start; the two are equal (tests/integration/tiles.sh)."""
    with open(os.path.join(case_dir, "tiles.json")) as f:
        tiles = json.load(f)
    data = np.load(os.path.join(case_dir, "data.npy"), mmap_mode="r")
    if source == "files":
        def tile(i):
            x = np.load(os.path.join(case_dir, "tiles", str(i), "data.npy"))
            return x.astype(np.float32, copy=False)      # dtype=float16 mounts
    elif source == "slice":
        pad = [(0, 0)] + [(b, p - s - b) for b, p, s in
                          zip(tiles["pad_before"], tiles["padded_shape"], data.shape[1:])]
        padded = np.pad(np.asarray(data, dtype=np.float32), pad)

        def tile(i):
            region = tile_region(tiles["tiles"][i]["start"], tiles["patch"], is_2d)
            return np.ascontiguousarray(padded[(slice(None),) + region])
    else:
        raise ValueError("tile source %r: files or slice" % (source,))
    return tiles, data.shape, tile


def sliding_window(case_dir, gaussian, predict, n_classes, source="files", device="cpu",
                   on_tile=None):
    """nnU-Net's predict_sliding_window_return_logits over a mount's case folder: the
    Gaussian-weighted average of the tiles' logits on the case's grid, (K, Z, Y, X) float32.

    gaussian: the mount's gaussian.npy ((Z, Y, X); (Y, X) for a 2D configuration); predict:
    (1, C, *patch) tensor -> (K, *patch) logits tensor; on_tile(T, logits) sees each tile's
    prediction (before weighting)."""
    is_2d = gaussian.ndim == 2
    tiles, shape, tile = read_tiles(case_dir, is_2d, source)
    patch, pad, padded = tiles["patch"], tiles["pad_before"], tiles["padded_shape"]
    g = torch.as_tensor(np.asarray(gaussian, dtype=np.float32), device=device)
    logits = torch.zeros((n_classes, *padded), dtype=torch.float32, device=device)
    weight = torch.zeros(padded, dtype=torch.float32, device=device)
    for i, t in enumerate(tiles["tiles"]):
        x = torch.from_numpy(tile(i))[None].to(device)
        with torch.no_grad():
            p = predict(x).to(torch.float32)
        if p.shape != (n_classes, *g.shape):
            raise ValueError("%s tile %d: the network gave %s, expected %s" % (
                case_dir, i, tuple(p.shape), (n_classes, *g.shape)))
        if on_tile:
            on_tile(i, p)
        region = tile_region(t["start"], patch, is_2d)
        logits[(slice(None),) + region] += p * g
        weight[region] += g
    logits /= weight
    crop = tuple(slice(b, b + s) for b, s in zip(pad, shape[1:]))
    return logits[(slice(None),) + crop].cpu().numpy()


def export_options(tree, given):
    """The options export and evaluate need to see the cases as the mount served them: the
    mount's case options (patchfs.json), its plans.json, and from the options the mount was
    made with (or --cache for a mount made by hand) cache= and skip_bad."""
    opts = {k: tree.options[k] for k in CASE_OPTIONS if k in tree.options}
    opts["plans"] = os.path.join(tree.path, "plans.json")
    for k in ("cache", "skip_bad"):
        if given.get(k):
            opts[k] = given[k]
    return opts


def save_npy(path, array):
    """np.save to a temporary beside the name, then rename: never a partial file."""
    tmp = path + ".tmp.npy"
    np.save(tmp, array)
    os.replace(tmp, path)


def run_patchfs(argv):
    """Run a patchfs command, echo what it said; (exit status, stderr)."""
    print("$ " + " ".join(argv), flush=True)
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in (r.stdout + r.stderr).splitlines():
        print("  " + line, flush=True)
    return r.returncode, r.stderr


def validate_fold(tree, net, n_classes, out_dir, binary, options, mirror=True, source="files",
                  device="cpu", dump_tiles=None, per_forward=8, mirror_why=None):
    """Predict every validation case of the mount's fold, export, evaluate; returns the
    summary (nnU-Net's summary.json as a dict). Exits with patchfs's message when export or
    evaluate fail."""
    from patchfs.mount import option_args
    with open(os.path.join(tree.path, "splits.json")) as f:
        cases = json.load(f)["val"]
    if not cases:
        sys.exit("final validation: the mount's fold has no validation cases (fold=all?)")
    gaussian = np.load(os.path.join(tree.path, "gaussian.npy"))
    pred_dir, nii_dir = os.path.join(out_dir, "pred"), os.path.join(out_dir, "out")
    os.makedirs(pred_dir, exist_ok=True)
    os.makedirs(nii_dir, exist_ok=True)
    mirroring = "on (%d predictions per tile)" % len(flips(gaussian.ndim + 2, True)) if mirror else "off"
    if mirror_why:
        mirroring += " (%s)" % mirror_why
    print(f"final validation: {len(cases)} case(s) of fold {tree.options.get('fold')}, "
          f"mirroring {mirroring}, tiles from "
          f"{'tiles/T/data.npy' if source == 'files' else 'data.npy sliced'}", flush=True)
    for case in cases:
        t0 = time.time()
        on_tile = None
        if dump_tiles:
            os.makedirs(os.path.join(dump_tiles, case), exist_ok=True)

            def on_tile(i, p, case=case):
                save_npy(os.path.join(dump_tiles, case, "%d.npy" % i), p.cpu().numpy())
        logits = sliding_window(os.path.join(tree.path, "cases", case), gaussian,
                                lambda x: predict_tile(net, x, mirror, per_forward), n_classes,
                                source, device, on_tile)
        save_npy(os.path.join(pred_dir, case + ".npy"), logits)
        print(f"  {case}: {logits.shape} logits in {time.time() - t0:.1f} s", flush=True)
    dataset = tree.info["dataset"]["path"]
    args = option_args(options) + ["--force"]
    rc, err = run_patchfs([binary, "export", dataset, pred_dir, nii_dir] + args)
    if ": preparing " in err:
        print("warning: export rebuilt cache entries: its options (above) are not the ones the "
              "mount's cache was built with; pass the mount's cache= (--cache)", flush=True)
    if rc != 0:
        sys.exit("final validation: patchfs export failed (exit status %d)" % rc)
    rc, _ = run_patchfs([binary, "evaluate", dataset, nii_dir] + args)
    if rc != 0:
        sys.exit("final validation: patchfs evaluate failed (exit status %d)" % rc)
    with open(os.path.join(nii_dir, "summary.json")) as f:
        summary = json.load(f)                              # NaN: json reads it
    per_label = {k: v["Dice"] for k, v in summary["mean"].items()}
    print(f"final validation: foreground mean Dice {summary['foreground_mean']['Dice']:.4f} "
          f"(per label {json.dumps(per_label)}); {nii_dir}/summary.json", flush=True)
    return summary

