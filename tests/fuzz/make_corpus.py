#!/usr/bin/env python3
"""make_corpus.py - writes the seed corpora of the libFuzzer targets in tests/fuzz/corpus/.

Deterministic: running it again rewrites the same files (the seeds are checked in; run this
after changing the targets' input formats). Needs numpy and nibabel (/usr/bin/python3).

  /usr/bin/python3 tests/fuzz/make_corpus.py [CORPUS_DIR]
"""
import gzip
import io
import json
import os
import struct
import sys

import nibabel as nib
import numpy as np

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- fuzz_tree
# 24-byte header: epochs, steps, val_steps (u32), samples (u16), n_cases (u8), deep-supervision
# files per step (u8), inode (u64); then '\n'-separated case ids, a NUL, the path.
def tree(name, epochs, steps, val_steps, samples, ids, path, ino=0, ds=0):
    head = struct.pack("<IIIHBBQ", epochs - 1, steps - 1, val_steps - 1, samples, len(ids), ds,
                       ino)
    put("fuzz_tree", name, head + "\n".join(ids).encode() + b"\0" + path.encode())


IDS = ["case_000", "case_001", "hippocampus_367"]
tree("root", 1000, 250, 50, 2, IDS, "")
tree("readme", 1000, 250, 50, 2, IDS, "README.txt")
tree("step_file", 1000, 250, 50, 2, IDS, "train/epoch_999/step_249/data.npy")
tree("val_meta", 10, 5, 3, 0, IDS, "/val//epoch_3/step_2/meta.json/")
tree("sample_file", 4, 4, 4, 4, IDS, "train/epoch_1/step_3/sample_3/seg.npy")
tree("case_file", 2, 2, 2, 1, IDS, "cases/hippocampus_367/properties.json")
tree("ds_file", 3, 3, 3, 2, IDS, "train/epoch_2/step_1/seg_ds2.npy", ds=3)
tree("summary", 3, 3, 3, 2, IDS, "val/epoch_1/summary.json")
tree("preview", 3, 3, 3, 2, IDS, "train/epoch_0/step_0/preview.png")
tree("sample_nii", 3, 3, 3, 2, IDS, "train/epoch_0/step_0/sample_1/label.nii.gz")
tree("noncanonical", 1000, 250, 50, 2, IDS, "train/epoch_01/step_-1")
tree("big_ino", 1048575, 4194303, 4194303, 4096, IDS, "val/epoch_1048574/step_4194302",
     ino=(7 << 60) | (1 << 59) | (5 << 37) | (9 << 15))

# ---------------------------------------------------------------- fuzz_options
for i, s in enumerate([
        "seed=7,patch=32x48x32,batch=4",
        "seed=18446744073709551615,steps=250,val_steps=50,epochs=1000",
        "oversample=0.33,fold=all,normalize=ct,crop=none",
        "patch=512x512,sampler=class,class_weights=1:1,2:4.5,3:0.000001",
        "shard=1/4,oversample_mode=probabilistic,threads=16,mem=512M",
        "cache=/tmp/x,allow_other,direct_io,ro,defaults,nofail,_netdev,noauto",
        "rw", "bogus=1", "fold=1000000", "mem=17179869183G", "0", "18446744073709551616",
        "patch=4096x4096x4096x1", "oversample=1e-400"]):
    put("fuzz_options", "seed_%02d" % i, s)

# ---------------------------------------------------------------- fuzz_dataset_json
# The fuzzer's fixture folder holds imagesTr/case_000_0000, case_000_0001, case_001_0000,
# labelsTr/case_000, case_001 (each .nii and .nii.gz) and msd/img_a.nii.gz, lab_a.nii.gz,
# img_b.nii, lab_b.nii.
def dj(name, obj, raw=None):
    put("fuzz_dataset_json", name, raw if raw is not None else json.dumps(obj, indent=1))


dj("nnunet", {"channel_names": {"0": "CT"}, "labels": {"background": 0, "tumor": 1},
              "numTraining": 2, "file_ending": ".nii.gz"})
dj("nnunet_nii_regions", {"channel_names": {"0": "T1"},
                          "labels": {"background": 0, "a": [1, 2], "b": 2, "ignore": 3},
                          "file_ending": ".nii"})
dj("nnunet_2ch", {"channel_names": {"0": "T1", "1": "T2"}, "labels": {"background": 0},
                  "file_ending": ".nii.gz"})
dj("msd", {"name": "x", "modality": {"0": "MRI", "1": "ADC"},
           "labels": {"0": "background", "1": "tumor"}, "numTraining": 2,
           "training": [{"image": "./msd/img_a.nii.gz", "label": "./msd/lab_a.nii.gz"},
                        {"image": "msd/img_b.nii", "label": "msd/lab_b.nii"}], "test": []})
dj("msd_dotdot", {"modality": {"0": "CT"}, "labels": {"0": "background"},
                  "training": [{"image": "../x.nii.gz", "label": "./msd/lab_a.nii.gz"}]})
dj("malformed", None, raw='{"channel_names": {"0": "T1"},\n "labels": {"background": 0,}\n')
dj("dup_key", None, raw='{"channel_names": {"0": "a"}, "channel_names": {"0": "b"}}')
dj("big_label", {"channel_names": {"0": "CT"}, "labels": {"background": 0, "x": 40000},
                 "file_ending": ".nii.gz"})

# ---------------------------------------------------------------- fuzz_nifti
def nifti_bytes(arr_xyz, dtype, version=1, slope=None, inter=None, endian="<", gz=False):
    data = np.asarray(arr_xyz).astype(dtype)
    affine = np.diag([0.8, 0.8, 2.0, 1.0])
    if version == 1:
        hdr = nib.Nifti1Header(endianness=endian)
        img = nib.Nifti1Image(data, affine, header=hdr)
    else:
        hdr = nib.Nifti2Header(endianness=endian)
        img = nib.Nifti2Image(data, affine, header=hdr)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    if slope is not None:
        img.header.set_slope_inter(slope, inter)
    img.set_data_dtype(dtype)
    bio = io.BytesIO()
    fm = img.__class__.make_file_map({"image": bio, "header": bio})
    img.to_file_map(fm)
    raw = bio.getvalue()
    return gzip.compress(raw, mtime=0) if gz else raw


small = np.arange(12).reshape(3, 2, 2) % 3  # x, y, z
put("fuzz_nifti", "u8_labels", nifti_bytes(small, np.uint8))
put("fuzz_nifti", "i16", nifti_bytes(small - 1, np.int16))
put("fuzz_nifti", "u16_be", nifti_bytes(small, np.uint16, endian=">"))
put("fuzz_nifti", "f32", nifti_bytes(small * 0.5, np.float32))
put("fuzz_nifti", "f64_scaled", nifti_bytes(small, np.float64, slope=2.0, inter=-1.0))
put("fuzz_nifti", "i64", nifti_bytes(small, np.int64))
put("fuzz_nifti", "f32_nan", nifti_bytes(np.where(small == 2, np.nan, small), np.float32))
put("fuzz_nifti", "n2_i32", nifti_bytes(small, np.int32, version=2))
put("fuzz_nifti", "n2_u8_be", nifti_bytes(small, np.uint8, version=2, endian=">"))
put("fuzz_nifti", "4d_f32", nifti_bytes(np.arange(16).reshape(2, 2, 2, 2), np.float32))
put("fuzz_nifti", "gz_u8", nifti_bytes(small, np.uint8, gz=True))
put("fuzz_nifti", "gz_f32_truncated", nifti_bytes(small * 1.5, np.float32, gz=True)[:-20])
put("fuzz_nifti", "text", "this is a text file, not a NIfTI volume\n")
