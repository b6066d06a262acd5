"""export_common.py - what export_check.py and export_regions.py share (imported, not run):
their command line, the "ok - export: ..." lines, running patchfs, and nnU-Net's evaluation
written again with numpy (nnunetv2/evaluation/evaluate_predictions.py
compute_metrics_on_folder, label_handling's regions, the 5-fold split of the training cases).
"""
import argparse
import json
import os
import subprocess
import warnings

import nibabel as nib
import numpy as np

PF = None  # the patchfs binary, set by args()
FAILED = 0


def args():
    """The scripts' command line: --patchfs BINARY --real FOLDER --tmp FOLDER."""
    global PF
    p = argparse.ArgumentParser()
    p.add_argument("--patchfs", required=True)
    p.add_argument("--real", default="")
    p.add_argument("--tmp", required=True)
    a = p.parse_args()
    PF = a.patchfs
    return a


def report(ok, name, detail=""):
    global FAILED
    print(("ok - " if ok else "not ok - ") + "export: " + name, flush=True)
    if not ok:
        FAILED += 1
        for line in str(detail).splitlines()[-25:]:
            print("    " + line)


def skip(name):
    print("skip - export: " + name, flush=True)


def exit_status():
    return 1 if FAILED else 0


def run(*a):
    return subprocess.run([PF, *a], capture_output=True)


def get(ds, cache, vpath):
    r = run("get", ds, vpath, "-o", "cache=" + cache)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.decode())
    return r.stdout


def load(path):
    return np.asarray(nib.load(path).dataobj)


# ------------------------------------------------------------------ nnU-Net's rules in numpy
def regions_of(labels):
    """LabelManager: has_regions when an entry lists more than one value; then every entry but
    "ignore" and background is a region (dataset.json order), kept as written (int or tuple)."""
    if not any(isinstance(v, list) and len(v) > 1 for v in labels.values()):
        return None
    out = []
    for k, v in labels.items():
        if k == "ignore" or (not isinstance(v, list) and v == 0) or \
                (isinstance(v, list) and set(v) == {0}):
            continue
        out.append(tuple(v) if isinstance(v, list) else v)
    return out


def in_region(seg, r):
    """evaluate_predictions.region_or_label_to_mask"""
    return np.isin(seg, r if isinstance(r, tuple) else (r,))


def nnunet_summary(ds, pred_dir, ids):
    """compute_metrics_on_folder2: per foreground region or label, the ignore label left out;
    means with np.nanmean, foreground_mean np.mean of the means; keys str(region)."""
    dj = json.load(open(os.path.join(ds, "dataset.json")))
    lab = dj["labels"]
    ign = lab.get("ignore")
    regions = regions_of(lab)
    if regions is None:
        vals = set()
        for k, v in lab.items():
            if k != "ignore":
                vals |= set(v) if isinstance(v, list) else {v}
        regions = sorted(v for v in vals if v != 0)
    regions = list(dict.fromkeys(regions))  # nnU-Net's dict keys: equal regions are one
    per_case = []
    for cid in ids:
        rf = os.path.join(os.path.realpath(ds), "labelsTr", cid + ".nii.gz")
        pf = os.path.join(pred_dir, cid + ".nii.gz")
        ref, prd = load(rf), load(pf)
        use = np.ones_like(ref, bool) if ign is None else ref != ign
        m = {}
        for reg in regions:
            r, p = in_region(ref, reg), in_region(prd, reg)
            tp = int(np.sum(r & p & use))
            fp = int(np.sum(~r & p & use))
            fn = int(np.sum(r & ~p & use))
            tn = int(np.sum(~r & ~p & use))
            d = {"FP": fp, "TP": tp, "FN": fn, "TN": tn, "n_pred": fp + tp, "n_ref": fn + tp}
            if tp + fp + fn == 0:
                d["Dice"] = d["IoU"] = float("nan")
            else:
                d["Dice"] = 2 * tp / (2 * tp + fp + fn)
                d["IoU"] = tp / (tp + fp + fn)
            m[str(reg)] = d
        per_case.append({"reference_file": rf, "prediction_file": pf, "metrics": m})
    keys = [str(r) for r in regions]
    metrics = list(per_case[0]["metrics"][keys[0]].keys())
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        means = {k: {x: float(np.nanmean([c["metrics"][k][x] for c in per_case]))
                     for x in metrics} for k in keys}
        fgm = {x: float(np.mean([means[k][x] for k in keys])) for x in metrics}
    return {"metric_per_case": per_case, "mean": means, "foreground_mean": fgm}


def compare_summary(ds, pred_dir, ids, out, cases, name, force=True):
    """`patchfs evaluate -o cases=CASES` into OUT equals json.dump(sort_keys=True, indent=4) of
    nnunet_summary over IDS, byte for byte (one assertion); returns the summary or None."""
    r = run("evaluate", ds, pred_dir, out, *(["--force"] if force else []), "-o", f"cases={cases}")
    if r.returncode != 0:
        report(False, name, r.stderr.decode())
        return None
    want = json.dumps(nnunet_summary(ds, pred_dir, ids), sort_keys=True, indent=4)
    got = open(out).read()
    detail = ""
    if got != want:
        for i, (a, b) in enumerate(zip(got.splitlines(), want.splitlines())):
            if a != b:
                detail = f"line {i + 1}: patchfs {a!r}\n        numpy   {b!r}"
                break
        else:
            detail = f"lengths {len(got)} vs {len(want)}"
    report(got == want, name, detail)
    return json.loads(got)


def kfold_val(ids, fold):
    """nnU-Net's KFold(5, shuffle, random_state=12345) validation cases of a fold"""
    perm = np.arange(len(ids))
    np.random.RandomState(12345).shuffle(perm)
    sizes = [len(ids) // 5 + (1 if k < len(ids) % 5 else 0) for k in range(5)]
    start = sum(sizes[:fold])
    return sorted(ids[i] for i in perm[start:start + sizes[fold]])
