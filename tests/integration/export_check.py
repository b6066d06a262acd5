#!/usr/bin/env python3
"""export_check.py - `patchfs export` and `patchfs evaluate` against the source data and an
independent numpy implementation of nnU-Net's rules. Prints one line per assertion:
"ok - export: ...", "not ok - export: ..." (details indented), "skip - export: ...".

  * round trip: the one-hot of cases/ID/seg.npy, exported, equals the source label map
    exactly on every case that was not resampled (Hippocampus, BraTS) and reaches Dice >= 0.95
    per label on the resampled ones (SpinalCordMixed); float16 logits and the label-map form
    give the same; the NIfTI has the source image's affine, qform/sform and their codes;
  * --probabilities: a .npz whose softmax sums to 1, is background outside the crop box and
    whose argmax is the exported label map; on a resampled case (separate z) it equals
    nnU-Net's steps done with scipy (resample_check.py's reference resampling) within 1e-5,
    and the labels are its argmax wherever the top two channels are not within 1e-5;
  * evaluate: summary.json equals, byte for byte, json.dump(sort_keys=True, indent=4) of
    nnU-Net's compute_metrics_on_folder computed here with numpy (ignore label, NaN, means),
    for cases=all and for the fold's validation cases;
  * bad input: shape and channel count (both shapes named), NaN and inf logits, an unknown
    case, a missing prediction in folder mode (listed, the rest exported, non-zero exit), an
    existing output (refused without --force), an unwritable folder; never a partial file.
"""
import io
import json
import os
import shutil
import sys

import nibabel as nib
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_common import (args, compare_summary, exit_status, get, kfold_val,  # noqa: E402
                           report, run, skip)
from resample_check import ref_image, separate_axis  # noqa: E402  nnU-Net's resampling in scipy

A = args()
T = A.tmp


def labels_of(ds):
    lab = json.load(open(os.path.join(ds, "dataset.json")))["labels"]
    ign = lab.get("ignore")
    vals = sorted({int(v) for k, v in lab.items() if k != "ignore" and not isinstance(v, list)})
    return vals, ign


def dice(a, b, l):
    x, y = a == l, b == l
    s = x.sum() + y.sum()
    return 1.0 if s == 0 else 2.0 * (x & y).sum() / s


def same_geometry(out, src):
    """The written NIfTI's affine, qform/sform and codes against the source image's."""
    a, b = nib.load(out).header, nib.load(src).header
    problems = []
    if not np.array_equal(nib.load(out).affine, nib.load(src).affine):
        problems.append("affine differs")
    for what in ("qform", "sform"):
        ma, ca = getattr(a, "get_" + what)(coded=True)
        mb, cb = getattr(b, "get_" + what)(coded=True)
        if int(ca) != int(cb):
            problems.append(f"{what} code {ca} != {cb}")
        if (ma is None) != (mb is None) or (ma is not None and not np.array_equal(ma, mb)):
            problems.append(f"{what} differs")
    if not np.array_equal(a.get_zooms()[:3], b.get_zooms()[:3]):
        problems.append(f"pixdim {a.get_zooms()} != {b.get_zooms()}")
    if a.get_xyzt_units() != b.get_xyzt_units():
        problems.append("units differ")
    return problems


# ------------------------------------------------------------------ round trip on real data
def round_trip(name, expect_resampled):
    ds = os.path.join(A.real, name)
    cache = os.path.join(T, "cache_" + name)
    pred = os.path.join(T, name, "pred")
    out = os.path.join(T, name, "out")
    shutil.rmtree(os.path.join(T, name), ignore_errors=True)  # a run again in the same T
    os.makedirs(pred)
    os.makedirs(out)
    vals, _ = labels_of(ds)
    ids = sorted(f[: -len(".nii.gz")] for f in os.listdir(os.path.join(ds, "labelsTr"))
                 if f.endswith(".nii.gz"))
    props = {}
    for cid in ids:
        seg = np.load(io.BytesIO(get(ds, cache, f"cases/{cid}/seg.npy")))[0]
        props[cid] = json.loads(get(ds, cache, f"cases/{cid}/properties.json"))
        onehot = np.stack([seg == v for v in vals]).astype(np.float32)
        np.save(os.path.join(pred, cid + ".npy"), onehot)
    r = run("export", ds, pred, out, "-o", "cases=all,cache=" + cache)
    report(r.returncode == 0, f"{name}: folder export of {len(ids)} one-hot predictions",
           r.stderr.decode())
    exact, resampled, low = [], [], []
    geometry = []
    for cid in ids:
        src_lab = np.asarray(nib.load(os.path.join(ds, "labelsTr", cid + ".nii.gz")).dataobj)
        o = os.path.join(out, cid + ".nii.gz")
        if not os.path.exists(o):
            low.append(f"{cid}: not written")
            continue
        got = np.asarray(nib.load(o).dataobj)
        if nib.load(o).get_data_dtype() != np.uint8:
            low.append(f"{cid}: dtype {nib.load(o).get_data_dtype()}")
        image = sorted(f for f in os.listdir(os.path.join(ds, "imagesTr")) if f.startswith(cid))[0]
        for p in same_geometry(o, os.path.join(ds, "imagesTr", image)):
            geometry.append(f"{cid}: {p}")
        pr = props[cid]
        if pr["shape"] == pr["shape_after_cropping_and_before_resampling"]:
            exact.append(cid)
            if got.shape != src_lab.shape or not np.array_equal(got, src_lab):
                low.append(f"{cid}: not resampled, yet {np.sum(got != src_lab)} voxels differ")
        else:
            resampled.append(cid)
            for v in vals[1:]:
                if (src_lab == v).any() and dice(got, src_lab, v) < 0.95:
                    low.append(f"{cid}: label {v} Dice {dice(got, src_lab, v):.4f} < 0.95")
    kind = "resampled: Dice >= 0.95" if expect_resampled else "not resampled: exact"
    shape_ok = (len(resampled) > 0) if expect_resampled else (len(resampled) == 0)
    report(shape_ok and not low,
           f"{name}: {len(exact)} cases equal the source labels exactly, {len(resampled)} "
           f"resampled reach Dice >= 0.95 ({kind} expected)",
           "\n".join(low) + f"\nexact {exact} resampled {resampled}")
    report(not geometry, f"{name}: every NIfTI has the source image's affine, qform/sform and "
           "codes, pixdim and units", "\n".join(geometry))
    return ds, cache, ids, vals, pred, out, props


def forms(ds, cache, cid, vals, pred, out, name):
    """float16 logits and the label-map form give the folder export's labels."""
    ref = np.asarray(nib.load(os.path.join(out, cid + ".nii.gz")).dataobj)
    seg = np.load(io.BytesIO(get(ds, cache, f"cases/{cid}/seg.npy")))
    f16 = os.path.join(T, name, "f16.npy")
    np.save(f16, (np.load(os.path.join(pred, cid + ".npy")) * 7 - 3).astype(np.float16))
    lm = os.path.join(T, name, "labelmap.npy")
    np.save(lm, seg)  # (1, Z, Y, X) int16, -1 outside the nonzero region
    for what, src in (("float16 logits", f16), ("the label map cases/ID/seg.npy", lm)):
        o = os.path.join(T, name, "form.nii.gz")
        r = run("export", ds, cid, src, o, "--force", "-o", "cache=" + cache)
        got = np.asarray(nib.load(o).dataobj) if r.returncode == 0 else None
        if what.startswith("the label map") and name != "Dataset004_Hippocampus":
            src_lab = np.asarray(nib.load(os.path.join(ds, "labelsTr", cid + ".nii.gz")).dataobj)
            ok = got is not None and all(dice(got, src_lab, v) >= 0.95 for v in vals[1:]
                                         if (src_lab == v).any())
            report(ok, f"{name}: {what} exported reaches Dice >= 0.95 ({cid})", r.stderr.decode())
        else:
            ok = got is not None and np.array_equal(got, ref)
            report(ok, f"{name}: {what} exported equals the one-hot export ({cid})",
                   r.stderr.decode())


def probabilities(ds, cache, cid, vals, pred, out, name):
    o = os.path.join(T, name, "p.nii.gz")
    z = os.path.join(T, name, "p.npz")
    logits = np.load(os.path.join(pred, cid + ".npy")) * 4.0 - 1.0
    np.save(os.path.join(T, name, "logits.npy"), logits.astype(np.float32))
    r = run("export", ds, cid, os.path.join(T, name, "logits.npy"), o, "--probabilities", z,
            "--force", "-o", "cache=" + cache)
    if r.returncode != 0:
        report(False, f"{name}: --probabilities", r.stderr.decode())
        return
    P = np.load(z)["probabilities"]
    lab = np.asarray(nib.load(o).dataobj).T  # nibabel's (x, y, z) as the source array (z, y, x)
    props = json.loads(get(ds, cache, f"cases/{cid}/properties.json"))
    box = props["bbox_used_for_cropping"]
    tb = props["transpose_backward"]
    outside = np.ones(props["shape_before_cropping"], bool)
    outside[tuple(slice(a, b) for a, b in box)] = False
    outside = outside.transpose(tb)
    problems = []
    if P.shape != (len(vals), *lab.shape) or P.dtype != np.float32:
        problems.append(f"shape {P.shape} {P.dtype}, labels {lab.shape}")
    else:
        if np.abs(P.sum(0) - 1).max() > 1e-5:
            problems.append(f"sums differ from 1 by {np.abs(P.sum(0) - 1).max()}")
        if not np.array_equal(np.asarray(vals)[P.argmax(0)], lab):
            problems.append(f"argmax differs from the labels at {np.sum(np.asarray(vals)[P.argmax(0)] != lab)} voxels")
        if outside.any() and not (P[0][outside] == 1).all():
            problems.append("background is not 1 outside the crop box")
    report(not problems, f"{name}: --probabilities writes the softmax on the source grid "
           "(sums to 1, argmax = labels, background outside the crop box)", "\n".join(problems))
    if problems or props["shape"] == props["shape_after_cropping_and_before_resampling"]:
        return
    # the resampled case against nnU-Net's steps in numpy/scipy: each channel resampled to the
    # cropped grid (order 1, separate z from the served and source spacings), softmax,
    # inserted (background 1 outside), transposed back
    crop = props["shape_after_cropping_and_before_resampling"]
    axis = separate_axis(props["spacing"], props["source_spacing"])
    res = np.stack([ref_image(ch, crop, axis, 1) for ch in logits.astype(np.float32)])
    res64 = res.astype(np.float64)
    e = np.exp(res64 - res64.max(0))
    soft = e / e.sum(0)
    full = np.zeros((len(vals), *props["shape_before_cropping"]))
    full[0] = 1
    full[(slice(None), *[slice(a, b) for a, b in box])] = soft
    full = full.transpose([0] + [t + 1 for t in tb])
    err = np.abs(P - full).max()
    top2 = np.sort(res64, 0)
    margin = np.ones(props["shape_before_cropping"])
    margin[tuple(slice(a, b) for a, b in box)] = top2[-1] - top2[-2]
    margin = margin.transpose(tb)
    lab_ref = np.zeros(props["shape_before_cropping"], np.int64)
    lab_ref[tuple(slice(a, b) for a, b in box)] = np.asarray(vals)[res.argmax(0)]
    lab_ref = lab_ref.transpose(tb)
    differ = (lab_ref != lab) & (margin > 1e-5)
    report(err < 1e-5 and not differ.any(),
           f"{name}: a resampled case's probabilities equal nnU-Net's steps in numpy/scipy "
           f"(max |difference| {err:.1e}), its labels their argmax ({cid}, separate z: {axis})",
           f"max difference {err}, {int(differ.sum())} labels differ away from ties")


# ------------------------------------------------------------------ evaluate
def make_ignore_dataset():
    """6 cases with labels 1, 2 and the ignore label 3; predictions that miss some voxels,
    and a case where label 2 is in neither reference nor prediction (NaN)."""
    shutil.rmtree(os.path.join(T, "ign"), ignore_errors=True)
    ds = os.path.join(T, "ign", "Dataset900_Ignore")
    pred = os.path.join(T, "ign", "pred")
    for d in ("imagesTr", "labelsTr"):
        os.makedirs(os.path.join(ds, d), exist_ok=True)
    os.makedirs(pred, exist_ok=True)
    json.dump({"channel_names": {"0": "MRI"},
               "labels": {"background": 0, "a": 1, "b": 2, "ignore": 3},
               "numTraining": 6, "file_ending": ".nii.gz"},
              open(os.path.join(ds, "dataset.json"), "w"))
    rng = np.random.RandomState(5)
    aff = np.diag([0.8, 0.8, 2.0, 1.0])
    ids = [f"case_{i:03d}" for i in range(6)]
    for i, cid in enumerate(ids):
        shape = (20 + i, 24, 12)
        lab = np.zeros(shape, np.uint8)
        lab[4:12, 5:15, 2:8] = 1
        if i != 2:
            lab[12:18, 8:20, 3:10] = 2
        lab[0:3, :, :] = 3  # ignore
        img = rng.rand(*shape).astype(np.float32) + 1
        nib.save(nib.Nifti1Image(img, aff), os.path.join(ds, "imagesTr", cid + "_0000.nii.gz"))
        nib.save(nib.Nifti1Image(lab, aff), os.path.join(ds, "labelsTr", cid + ".nii.gz"))
        p = lab.copy()
        p[p == 3] = rng.randint(0, 3, size=int(np.sum(p == 3)))  # ignored voxels: anything
        flip = rng.rand(*shape) < 0.05
        p[flip] = rng.randint(0, 2 if i == 2 else 3, size=int(flip.sum()))
        nib.save(nib.Nifti1Image(p.astype(np.uint8), aff), os.path.join(pred, cid + ".nii.gz"))
    return ds, pred, ids


def evaluate_checks():
    ds, pred, ids = make_ignore_dataset()
    for cases, chosen in (("all", ids), ("val", kfold_val(ids, 0))):
        compare_summary(ds, pred, chosen, os.path.join(T, "ign", f"summary_{cases}.json"), cases,
                        f"evaluate cases={cases} ({len(chosen)} cases; ignore label, NaN Dice): "
                        "summary.json equals nnU-Net's computed with numpy, byte for byte",
                        force=False)
    # default output and refusal to overwrite it
    r1 = run("evaluate", ds, pred, "-o", "cases=all")
    r2 = run("evaluate", ds, pred, "-o", "cases=all")
    r3 = run("evaluate", ds, pred, "-o", "cases=all", "--force")
    report(r1.returncode == 0 and os.path.exists(os.path.join(pred, "summary.json")) and
           r2.returncode != 0 and b"exists" in r2.stderr and r3.returncode == 0,
           "evaluate writes PRED_DIR/summary.json, refuses to replace it without --force",
           (r1.stderr + r2.stderr + r3.stderr).decode())
    # a missing prediction: listed, the rest evaluated, non-zero exit
    os.rename(os.path.join(pred, "case_004.nii.gz"), os.path.join(T, "ign", "moved.nii.gz"))
    o = os.path.join(T, "ign", "summary_missing.json")
    r = run("evaluate", ds, pred, o, "-o", "cases=all")
    rest = [i for i in ids if i != "case_004"]
    ok = (r.returncode != 0 and b"case_004" in r.stderr and b"missing" in r.stderr and
          os.path.exists(o) and json.load(open(o)) is not None and
          len(json.loads(open(o).read())["metric_per_case"]) == len(rest))
    report(ok, "evaluate: a missing prediction is listed, the rest evaluated, exit non-zero",
           r.stderr.decode())
    os.rename(os.path.join(T, "ign", "moved.nii.gz"), os.path.join(pred, "case_004.nii.gz"))
    # evaluate of a real export (SpinalCordMixed: resampled, not perfect) equals numpy's too
    return ds


def evaluate_real(ds, out, ids, name):
    compare_summary(ds, out, ids, os.path.join(T, name, "summary.json"), "all",
                    f"{name}: evaluate of the exported folder equals numpy's summary.json",
                    force=False)


# ------------------------------------------------------------------ bad input
def bad_inputs(ds, cache, ids, vals, pred, name):
    cid = ids[0]
    good = np.load(os.path.join(pred, cid + ".npy"))
    d = os.path.join(T, name, "bad")
    os.makedirs(d, exist_ok=True)
    o = os.path.join(d, "out.nii.gz")

    def refused(what, arr, *needles, case=cid, extra=()):
        f = os.path.join(d, "in.npy")
        np.save(f, arr)
        r = run("export", ds, case, f, o, "-o", "cache=" + cache, *extra)
        err = r.stderr.decode()
        left = sorted(x for x in os.listdir(d) if x.startswith("out"))
        ok = r.returncode != 0 and all(n in err for n in needles) and not left and \
            "Traceback" not in err and r.returncode < 128
        report(ok, f"bad input: {what} is refused, naming it, nothing written", err + f"\nleft: {left}")

    k, z, y, x = good.shape
    shp = lambda s: "(" + ", ".join(str(v) for v in s) + ")"
    refused("a prediction of another shape", good[:, :-1], shp((k, z - 1, y, x)), shp((k, z, y, x)))
    refused("a wrong channel count", good[:-1], f"{k - 1} channels", shp((k, z, y, x)))
    nan = good.copy()
    nan[1, z // 2, y // 2, x // 2] = np.nan
    refused("NaN logits", nan, "NaN", "channel 1", f"({z // 2}, {y // 2}, {x // 2})")
    inf = good.copy()
    inf[0, 0, 0, 0] = -np.inf
    refused("infinite logits", inf, "infinity")
    refused("an unknown case", good, "no_such_case", "not a case", case="no_such_case")
    refused("a 2D array", good[0, 0], "dimensions")
    refused("a float64 array", good.astype(np.float64), "'<f8'")
    # an existing output: refused without --force, replaced with it
    f = os.path.join(d, "in.npy")
    np.save(f, good)
    open(o, "w").write("keep me")
    r1 = run("export", ds, cid, f, o, "-o", "cache=" + cache)
    kept = open(o, "rb").read() == b"keep me"
    r2 = run("export", ds, cid, f, o, "-o", "cache=" + cache, "--force")
    report(r1.returncode != 0 and b"exists" in r1.stderr and kept and r2.returncode == 0 and
           nib.load(o).shape is not None,
           "bad input: an existing output is refused without --force, replaced with it",
           (r1.stderr + r2.stderr).decode())
    os.unlink(o)
    # an unwritable output folder
    if os.geteuid() == 0:
        ro = "/sys"  # root passes permission bits; sysfs refuses new files
    else:
        ro = os.path.join(d, "ro")
        os.makedirs(ro, exist_ok=True)
        os.chmod(ro, 0o555)
    r = run("export", ds, cid, f, os.path.join(ro, "x.nii.gz"), "-o", "cache=" + cache)
    report(r.returncode != 0 and b"writ" in r.stderr and not os.path.exists(os.path.join(ro, "x.nii.gz")),
           f"bad input: an unwritable output folder ({ro}) is refused", r.stderr.decode())
    # folder mode: a missing prediction is listed, the rest exported, exit non-zero
    pd = os.path.join(d, "pred")
    od = os.path.join(d, "folder_out")
    shutil.rmtree(pd, ignore_errors=True)
    shutil.rmtree(od, ignore_errors=True)
    shutil.copytree(pred, pd)
    os.makedirs(od)
    os.unlink(os.path.join(pd, ids[1] + ".npy"))
    r = run("export", ds, pd, od, "-o", "cases=all,cache=" + cache)
    written = sorted(os.listdir(od))
    want = sorted(i + ".nii.gz" for i in ids if i != ids[1])
    report(r.returncode != 0 and ids[1].encode() in r.stderr and b"missing" in r.stderr and
           written == want, "bad input: folder mode lists a missing prediction, exports the "
           "rest, exits non-zero", r.stderr.decode() + f"\nwritten {written}")
    r = run("export", ds, pd, "/nonexistent/folder", "-o", "cases=all,cache=" + cache)
    report(r.returncode != 0 and b"/nonexistent/folder" in r.stderr,
           "bad input: folder mode refuses a missing output folder", r.stderr.decode())


def main():
    if not A.real or not os.path.isdir(A.real):
        skip("the real datasets are absent: round trips skipped")
    else:
        for name, resampled in (("Dataset004_Hippocampus", False),
                                ("Dataset101_BraTS2013DeepMedic", False),
                                ("Dataset102_SpinalCordMixed", True)):
            if not os.path.isdir(os.path.join(A.real, name)):
                skip(f"{name} is absent")
                continue
            ds, cache, ids, vals, pred, out, props = round_trip(name, resampled)
            pick = ids[0]
            if resampled:  # a case the export really resamples
                pick = next(c for c in ids if props[c]["shape"] !=
                            props[c]["shape_after_cropping_and_before_resampling"])
            forms(ds, cache, pick, vals, pred, out, name)
            probabilities(ds, cache, pick, vals, pred, out, name)
            if name == "Dataset004_Hippocampus":
                bad_inputs(ds, cache, ids, vals, pred, name)
            if resampled:
                evaluate_real(ds, out, ids, name)
    evaluate_checks()
    return exit_status()


if __name__ == "__main__":
    sys.exit(main())
