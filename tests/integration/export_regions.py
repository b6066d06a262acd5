#!/usr/bin/env python3
"""export_regions.py - `patchfs export` and `patchfs evaluate` of region datasets and of
datasets with an ignore label, against numpy implementations of nnU-Net's rules written here
(nnunetv2/utilities/label_handling/label_handling.py, evaluation/evaluate_predictions.py).
Prints one line per assertion: "ok - export: ...", "not ok - export: ..." (details
indented), "skip - export: ...". Run by export.sh.

  * BraTS region copies (written into --tmp with `ln -sfn` links to the real images and
    labels, only dataset.json new): with four nested regions whose class order gives every
    label back, the region one-hot of cases/ID/seg.npy as logits (+10/-10), exported, equals
    the source label map exactly on every case (BraTS is not resampled); float16 logits too;
    --probabilities holds their sigmoid, 0 outside the crop box; with regions.sh's three
    regions (label 3 lost to 1) and noisy logits the export equals nnU-Net's rule (sigmoid >
    0.5, later regions in regions_class_order overwriting) done in numpy;
  * evaluate of both copies equals, byte for byte, nnU-Net's compute_metrics_on_folder per
    region (keys str(region): "(1, 2, 3, 4)", "(4, 1)", "4") computed here with numpy;
  * small generated datasets with an ignore label, one with regions and one with labels: the
    export takes one channel per foreground region / per label, the ignore label none (a
    channel more is refused naming both counts), a label map holding the ignore label is
    refused naming it; evaluate leaves the reference's ignore voxels out, as nnU-Net.
"""
import io
import json
import os
import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_common import (args, compare_summary, exit_status, get, in_region,  # noqa: E402
                           kfold_val, load, regions_of, report, run)

A = args()
T = os.path.join(A.tmp, "regions")
BRATS = "Dataset101_BraTS2013DeepMedic"


# ------------------------------------------------------------------ nnU-Net's rules in numpy
def regions_to_labels(logits, order):
    """convert_logits_to_segmentation for regions: sigmoid (float32) > 0.5, in class order."""
    t = logits.astype(np.float32)
    with np.errstate(over="ignore"):
        prob = np.float32(1) / (np.float32(1) + np.exp(-t))
    seg = np.zeros(logits.shape[1:], np.uint16)
    for i, c in enumerate(order):
        seg[prob[i] > 0.5] = c
    return seg


# ------------------------------------------------------------------ BraTS region copies
def brats_copy(name, labels, order):
    """A region copy of the real BraTS set: links (ln -sfn, never a write inside the real
    set) and a new dataset.json."""
    src = os.path.join(os.path.abspath(A.real), BRATS)
    ds = os.path.join(T, name)
    os.makedirs(ds, exist_ok=True)
    for d in ("imagesTr", "labelsTr"):
        subprocess.run(["ln", "-sfn", os.path.join(src, d), os.path.join(ds, d)], check=True)
    dj = json.load(open(os.path.join(src, "dataset.json")))
    dj["labels"] = labels
    dj["regions_class_order"] = order
    json.dump(dj, open(os.path.join(ds, "dataset.json"), "w"), indent=1)
    return ds


def region_logits(seg, regions, noise=None):
    """+10 inside each region of the label map, -10 outside (-1: outside the case, no region)"""
    x = np.stack([np.where(in_region(seg, r), 10, -10) for r in regions]).astype(np.float32)
    if noise is not None:
        x[noise] *= -1
    return x


def brats_checks():
    # four nested regions: the class order gives every label back (2 = whole only, 3 = whole
    # and core, 1 = and necrosis-or-enhancing, 4 = all four); one list written unsorted
    lab4 = {"background": 0, "whole_tumor": [1, 2, 3, 4], "tumor_core": [1, 3, 4],
            "necrosis_or_enhancing": [4, 1], "enhancing_tumor": 4}
    ds = brats_copy("Dataset211_BraTSRegions4", lab4, [2, 3, 1, 4])
    regions = regions_of(lab4)
    cache = os.path.join(T, "cache4")
    pred, out = os.path.join(T, "b4_pred"), os.path.join(T, "b4_out")
    for d in (pred, out):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    ids = sorted(f[: -len(".nii.gz")] for f in os.listdir(os.path.join(ds, "labelsTr"))
                 if f.endswith(".nii.gz"))
    props = {}
    for cid in ids:
        seg = np.load(io.BytesIO(get(ds, cache, f"cases/{cid}/seg.npy")))[0]
        props[cid] = json.loads(get(ds, cache, f"cases/{cid}/properties.json"))
        np.save(os.path.join(pred, cid + ".npy"), region_logits(seg, regions))
    r = run("export", ds, pred, out, "-o", "cases=all,cache=" + cache)
    report(r.returncode == 0, f"regions: folder export of {len(ids)} BraTS region predictions "
           f"({len(regions)} channels of logits)", r.stderr.decode())
    bad = []
    for cid in ids:
        o = os.path.join(out, cid + ".nii.gz")
        src = os.path.join(ds, "labelsTr", cid + ".nii.gz")
        if not os.path.exists(o):
            bad.append(f"{cid}: not written")
            continue
        if props[cid]["shape"] != props[cid]["shape_after_cropping_and_before_resampling"]:
            bad.append(f"{cid}: resampled, the test expects BraTS not to be")
        got, want = load(o), load(src)
        if nib.load(o).get_data_dtype() != np.uint8:
            bad.append(f"{cid}: dtype {nib.load(o).get_data_dtype()}")
        if got.shape != want.shape or not np.array_equal(got, want):
            bad.append(f"{cid}: {np.sum(got != want)} voxels differ from the source labels")
        if not np.array_equal(nib.load(o).affine, nib.load(src).affine):
            bad.append(f"{cid}: affine differs")
    report(not bad, "regions: the region one-hot of cases/ID/seg.npy exported equals the source "
           f"label map exactly on all {len(ids)} BraTS cases (sigmoid > 0.5 in "
           "regions_class_order 2, 3, 1, 4)", "\n".join(bad))

    # float16 logits and --probabilities on one case: the sigmoid, 0 outside the crop box
    cid = ids[0]
    logits = np.load(os.path.join(pred, cid + ".npy"))
    f16 = os.path.join(T, "b4_f16.npy")
    np.save(f16, (logits * 0.3).astype(np.float16))
    o, z = os.path.join(T, "b4_one.nii.gz"), os.path.join(T, "b4_one.npz")
    r = run("export", ds, cid, f16, o, "--probabilities", z, "--force", "-o", "cache=" + cache)
    problems = [r.stderr.decode()] if r.returncode else []
    if not problems:
        got = load(o)
        if not np.array_equal(got, load(os.path.join(ds, "labelsTr", cid + ".nii.gz"))):
            problems.append("float16 labels differ from the source")
        pr = props[cid]
        box = pr["bbox_used_for_cropping"]
        full = np.zeros((len(regions), *pr["shape_before_cropping"]), np.float32)
        x = (logits * 0.3).astype(np.float16).astype(np.float32)
        full[(slice(None), *[slice(a, b) for a, b in box])] = 1 / (1 + np.exp(-x))
        full = full.transpose([0] + [t + 1 for t in pr["transpose_backward"]])
        Pz = np.load(z)["probabilities"]
        if Pz.shape != full.shape or Pz.dtype != np.float32:
            problems.append(f"probabilities {Pz.shape} {Pz.dtype}, want {full.shape} float32")
        elif np.abs(Pz - full).max() > 1e-6:
            problems.append(f"probabilities differ from the sigmoid by {np.abs(Pz - full).max()}")
        with np.errstate(divide="ignore"):
            logit = np.log(Pz) - np.log1p(-Pz)  # back from the sigmoid: -inf outside the box
        if not np.array_equal(got.T, regions_to_labels(logit, [2, 3, 1, 4])):
            problems.append("labels are not the probabilities' regions")
    report(not problems, f"regions: float16 logits export the same labels; --probabilities "
           f"holds their sigmoid, 0 outside the crop box ({cid})", "\n".join(problems))

    # a region count that is not the dataset's: refused, naming both counts, nothing written
    for k in (len(regions) - 1, len(regions) + 1):
        arr = logits[:k] if k < len(regions) else np.concatenate([logits, logits[:1]])
        f = os.path.join(T, "b4_bad.npy")
        np.save(f, arr)
        o = os.path.join(T, "b4_bad.nii.gz")
        r = run("export", ds, cid, f, o, "-o", "cache=" + cache)
        err = r.stderr.decode()
        report(r.returncode == 1 and f"{k} channels" in err and f"needs {len(regions)}" in err
               and "region" in err and not os.path.exists(o),
               f"regions: a prediction of {k} channels for {len(regions)} regions is refused, "
               "naming both counts", err)

    compare_summary(ds, out, ids, os.path.join(T, "b4_summary.json"), "all",
                    "regions: evaluate of the exact BraTS region export equals nnU-Net's "
                    "summary.json in numpy, byte for byte (keys \"(1, 2, 3, 4)\", "
                    "\"(4, 1)\", \"4\")")

    # regions.sh's regions: label 3 (in whole and core) comes back as 1; noisy logits
    lab3 = {"background": 0, "whole_tumor": [1, 2, 3, 4], "tumor_core": [1, 3, 4],
            "enhancing_tumor": 4}
    order3 = [2, 1, 4]
    ds3 = brats_copy("Dataset201_BraTSRegions", lab3, order3)
    regions3 = regions_of(lab3)
    cache3 = os.path.join(T, "cache3")
    pred3, out3 = os.path.join(T, "b3_pred"), os.path.join(T, "b3_out")
    for d in (pred3, out3):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    rng = np.random.RandomState(7)
    want = {}
    for cid in ids:
        seg = np.load(io.BytesIO(get(ds3, cache3, f"cases/{cid}/seg.npy")))[0]
        noise = np.zeros((len(regions3), *seg.shape), bool)
        tumour = np.argwhere(seg > 0)
        lo, hi = tumour.min(0), tumour.max(0) + 1
        sl = (slice(None), *[slice(a, b) for a, b in zip(lo, hi)])
        noise[sl] = rng.rand(len(regions3), *(hi - lo)) < 0.1  # errors near the tumour
        x = region_logits(seg, regions3, noise)
        np.save(os.path.join(pred3, cid + ".npy"), x)
        pr = json.loads(get(ds3, cache3, f"cases/{cid}/properties.json"))
        full = np.zeros(pr["shape_before_cropping"], np.uint16)
        full[tuple(slice(a, b) for a, b in pr["bbox_used_for_cropping"])] = \
            regions_to_labels(x, order3)
        want[cid] = full.transpose(pr["transpose_backward"])
    r = run("export", ds3, pred3, out3, "-o", "cases=all,cache=" + cache3)
    bad = [r.stderr.decode()] if r.returncode else []
    for cid in ids:
        o = os.path.join(out3, cid + ".nii.gz")
        if os.path.exists(o):
            got = load(o).T  # nibabel (x, y, z) as the source array (z, y, x)
            if not np.array_equal(got, want[cid]):
                bad.append(f"{cid}: {np.sum(got != want[cid])} voxels differ")
        else:
            bad.append(f"{cid}: not written")
    report(not bad, "regions: noisy logits of regions.sh's three regions (class order 2, 1, 4) "
           "export as nnU-Net's rule in numpy (sigmoid > 0.5, later regions overwriting)",
           "\n".join(bad))
    s = compare_summary(ds3, out3, ids, os.path.join(T, "b3_summary.json"), "all",
                        "regions: evaluate cases=all of the noisy BraTS region export equals "
                        "nnU-Net's summary.json in numpy, byte for byte")
    if s is not None:
        d = [s["mean"][k]["Dice"] for k in ("(1, 2, 3, 4)", "(1, 3, 4)", "4")]
        report(all(0.5 < v < 1 for v in d), "regions: the noisy export's mean Dice per region "
               f"is neither perfect nor lost ({', '.join(f'{v:.4f}' for v in d)})", str(d))
    compare_summary(ds3, out3, kfold_val(ids, 0), os.path.join(T, "b3_val.json"), "val",
                    "regions: evaluate of fold 0's validation cases equals numpy's too")


# ------------------------------------------------------------------ the ignore label
def uncrop(props, arr, outside=0, dtype=np.uint16):
    """arr on the cropped grid into the source array: the crop box, then the transpose back"""
    full = np.full(props["shape_before_cropping"], outside, dtype)
    full[tuple(slice(a, b) for a, b in props["bbox_used_for_cropping"])] = arr
    return full.transpose(props["transpose_backward"])


def ignore_dataset(name, labels, order=None):
    """8 small cases: labels 1 and 2 in blocks, the ignore label 3 over the first rows; the
    same spacing everywhere (nothing resampled), two slices of zeros in the image (cropped)."""
    ds = os.path.join(T, name)
    shutil.rmtree(ds, ignore_errors=True)
    for d in ("imagesTr", "labelsTr"):
        os.makedirs(os.path.join(ds, d))
    dj = {"channel_names": {"0": "MRI"}, "labels": labels, "numTraining": 8,
          "file_ending": ".nii.gz"}
    if order:
        dj["regions_class_order"] = order
    json.dump(dj, open(os.path.join(ds, "dataset.json"), "w"))
    rng = np.random.RandomState(11)
    aff = np.diag([0.9, 0.9, 1.5, 1.0])
    ids = [f"case_{i:03d}" for i in range(8)]
    for i, cid in enumerate(ids):
        shape = (18 + i, 20, 14)
        lab = np.zeros(shape, np.uint8)
        lab[4:12, 5:15, 2:8] = 1
        if i != 3:
            lab[9:16, 8:18, 5:12] = 2
        lab[0:3] = 3
        img = rng.rand(*shape).astype(np.float32) + 1
        img[:, :, :2] = 0  # cropped away (nonzero crop): the export puts zeros back there
        nib.save(nib.Nifti1Image(img, aff), os.path.join(ds, "imagesTr", cid + "_0000.nii.gz"))
        nib.save(nib.Nifti1Image(lab, aff), os.path.join(ds, "labelsTr", cid + ".nii.gz"))
    return ds, ids


def ignore_checks():
    rng = np.random.RandomState(3)
    for kind, labels, order in (
            ("regions", {"background": 0, "tumour": [1, 2], "core": 2, "ignore": 3}, [1, 2]),
            ("labels", {"background": 0, "a": 1, "b": 2, "ignore": 3}, None)):
        ds, ids = ignore_dataset(f"Dataset9{0 if order else 1}1_Ignore{kind.title()}",
                                 labels, order)
        cache = os.path.join(T, "cache_ign_" + kind)
        pred, out = os.path.join(T, f"ign_{kind}_pred"), os.path.join(T, f"ign_{kind}_out")
        for d in (pred, out):
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
        regions = regions_of(labels)
        chans = regions if regions else [0, 1, 2]
        segs, props = {}, {}
        for cid in ids:
            seg = np.load(io.BytesIO(get(ds, cache, f"cases/{cid}/seg.npy")))[0]
            segs[cid] = seg
            props[cid] = json.loads(get(ds, cache, f"cases/{cid}/properties.json"))
            if regions:
                x = region_logits(seg, regions)
            else:
                x = np.stack([np.where(seg == v, 10, -10) for v in chans]).astype(np.float32)
            flip = rng.rand(*x.shape) < 0.05
            x[flip] *= -1
            np.save(os.path.join(pred, cid + ".npy"), x)
        r = run("export", ds, pred, out, "-o", "cases=all,cache=" + cache)
        bad = [r.stderr.decode()] if r.returncode else []
        for cid in ids:
            x = np.load(os.path.join(pred, cid + ".npy"))
            w = uncrop(props[cid], regions_to_labels(x, order) if regions
                       else np.asarray(chans)[x.argmax(0)])
            o = os.path.join(out, cid + ".nii.gz")
            if not os.path.exists(o) or not np.array_equal(load(o).T, w):
                bad.append(f"{cid}: differs from numpy's " + ("regions" if regions else "argmax"))
            elif (load(o) == 3).any():
                bad.append(f"{cid}: holds the ignore label")
        cropped = sum(props[c]["shape_before_cropping"] != props[c]["shape"] for c in ids)
        report(not bad and cropped == len(ids), f"ignore label ({kind}): {len(chans)} channels, "
               "the ignore label none; the export equals nnU-Net's rule in numpy (at the crop "
               "box), never the ignore label", "\n".join(bad) + f"\n{cropped} cases cropped")
        cid = ids[0]
        x = np.load(os.path.join(pred, cid + ".npy"))
        # --probabilities: sigmoid (regions, 0 outside the crop box) or softmax (labels,
        # background 1 outside), nnU-Net's revert_cropping_on_probabilities
        o, z = os.path.join(T, "ign_p.nii.gz"), os.path.join(T, "ign_p.npz")
        r = run("export", ds, cid, os.path.join(pred, cid + ".npy"), o, "--probabilities", z,
                "--force", "-o", "cache=" + cache)
        if regions:
            prob = 1 / (1 + np.exp(-x.astype(np.float64)))
        else:
            e = np.exp(x.astype(np.float64) - x.max(0))
            prob = e / e.sum(0)
        want_p = np.stack([uncrop(props[cid], c, 0 if regions or k else 1, np.float64)
                           for k, c in enumerate(prob)])
        got_p = np.load(z)["probabilities"] if r.returncode == 0 else None
        report(got_p is not None and got_p.shape == want_p.shape and
               np.abs(got_p - want_p).max() < 1e-6,
               f"ignore label ({kind}): --probabilities holds the "
               f"{'sigmoid' if regions else 'softmax'} of {len(chans)} channels, "
               f"{'0' if regions else 'background 1'} outside the crop box",
               r.stderr.decode() if got_p is None else
               f"shape {got_p.shape} vs {want_p.shape}" if got_p.shape != want_p.shape else
               f"max difference {np.abs(got_p - want_p).max()}")
        f = os.path.join(T, "ign_bad.npy")
        np.save(f, np.concatenate([x, x[:1]]))
        o = os.path.join(T, "ign_bad.nii.gz")
        r = run("export", ds, cid, f, o, "-o", "cache=" + cache)
        err = r.stderr.decode()
        report(r.returncode == 1 and f"{len(chans) + 1} channels" in err and
               f"needs {len(chans)}" in err and "ignore label has none" in err and
               not os.path.exists(o), f"ignore label ({kind}): a channel for the ignore label is "
               "refused, naming both counts", err)
        np.save(f, segs[cid][None])  # cases/ID/seg.npy: holds the ignore label 3
        r = run("export", ds, cid, f, o, "-o", "cache=" + cache)
        err = r.stderr.decode()
        report(r.returncode == 1 and "label 3" in err and "ignore label" in err and
               not os.path.exists(o), f"ignore label ({kind}): a label map holding the ignore "
               "label is refused, naming it", err)
        compare_summary(ds, out, ids, os.path.join(T, f"ign_{kind}.json"), "all",
                        f"ignore label ({kind}): evaluate leaves the ignore voxels out; "
                        "summary.json equals nnU-Net's in numpy, byte for byte")


def main():
    os.makedirs(T, exist_ok=True)
    if not A.real or not os.path.isdir(os.path.join(A.real, BRATS)):
        print(f"skip - export: regions: {BRATS} is absent: BraTS region round trips not run",
              flush=True)
    else:
        brats_checks()
    ignore_checks()
    return exit_status()


if __name__ == "__main__":
    sys.exit(main())
