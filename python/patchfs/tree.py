"""tree.py - reading a patchfs tree: a live mount or a copy of one (docs/tree.md).

A Tree knows, from the files the tree itself serves, everything a reader needs:

* patchfs.json: the options in effect and which of them shape the bytes of served files
  ("content_options"; a tree from before that key was added: the options meta.json repeats),
  the dataset's fingerprint and the format;
* plans.json and splits.json: the plan (plans=, gpu_mem=) and the cases of each split (fold=,
  skip_bad, a splits_final.json of the dataset), which shape content without being options;
* train/epoch_E/step_S/{data,seg,seg_dsK}.npy and meta.json: one batch.

Its fingerprint is a digest of exactly what decides the bytes of a step, so two trees with the
same fingerprint serve the same batch at the same (split, epoch, step): this is what a resumed
run checks (patchfs.torch.StepDataset.load_state_dict).
"""
import hashlib
import json
import operator
import os
import re

import numpy as np

from .errors import Error, FingerprintMismatch

SPLITS = ("train", "val")
_DS_NAME = re.compile(r"seg_ds([0-9]+)\.npy$")

# what each part of the fingerprint is, for messages naming a difference
_PART_NAMES = {
    "format": "patchfs.json format (the sampling arithmetic and file formats)",
    "dataset": "dataset fingerprint (patchfs.json dataset.fingerprint: the source files)",
    "plan": "plans.json (the plan: plans=, gpu_mem=, the dataset's fingerprint)",
    "cases": "splits.json (the cases of each split: fold=, skip_bad, the dataset's splits_final.json)",
}


def _canonical(value):
    """JSON text that depends on the value only (key order, spacing and float text fixed)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _short(value):
    text = "absent (default)" if value is _ABSENT else _canonical(value)
    return text if len(text) <= 80 else text[:77] + "..."


_ABSENT = object()


def fingerprint_of(content):
    """The fingerprint of a content description (Tree.content): 32 hex digits of SHA-256."""
    return hashlib.sha256(_canonical(content).encode()).hexdigest()[:32]


def content_differences(saved, current):
    """What differs between two content descriptions, one readable line per difference:
    every content option by name, then the dataset, plan, cases and format."""
    out = []
    so, co = saved.get("options", {}), current.get("options", {})
    for key in sorted(set(so) | set(co)):
        a, b = so.get(key, _ABSENT), co.get(key, _ABSENT)
        if a is _ABSENT or b is _ABSENT or _canonical(a) != _canonical(b):
            out.append("option %s: %s when saved, %s now" % (key, _short(a), _short(b)))
    for part in ("format", "dataset", "plan", "cases"):
        a, b = saved.get(part), current.get(part)
        if _canonical(a) != _canonical(b):
            out.append("%s: %s when saved, %s now" % (_PART_NAMES[part], _short(a), _short(b)))
    return out


def check_same_content(saved, current, what="the saved state"):
    """Raise FingerprintMismatch naming every difference unless the two content descriptions
    have the same fingerprint."""
    if fingerprint_of(saved) == fingerprint_of(current):
        return
    diffs = content_differences(saved, current) or ["(the descriptions differ in form only)"]
    raise FingerprintMismatch(
        "%s was made on a tree serving other batches (fingerprint %s, this one %s); the "
        "batches from its position on would differ:\n  %s" % (
            what, fingerprint_of(saved), fingerprint_of(current), "\n  ".join(diffs)))


class Tree:
    """A patchfs tree at `path`: a live mount, or a copy of one (patchfs.json, plans.json,
    splits.json and the step folders; docs/clients.md says how to make one)."""

    def __init__(self, path):
        self._open_tree(path)

    def _open_tree(self, path):
        self.path = os.path.abspath(os.fspath(path))
        try:
            with open(os.path.join(self.path, "patchfs.json")) as f:
                self.info = json.load(f)
        except (OSError, ValueError) as e:
            raise Error("%s is not a patchfs mount or a copy of one: patchfs.json: %s"
                        % (self.path, e)) from None
        #: the options in effect, as patchfs.json lists them (content and tree options)
        self.options = self.info["options"]
        self._content = None
        self._ds_names = {}

    # ------------------------------------------------------------ what the tree serves
    @property
    def epochs(self):
        return int(self.options["epochs"])

    def steps(self, split):
        """Steps per epoch of a split: the mount's steps= (train) or val_steps= (val)."""
        return int(self.options[_steps_key(split)])

    def check_position(self, split, epoch, step):
        """(epoch, step) as ints; IndexError naming the range when the tree has no such step."""
        n = self.steps(split)
        epoch, step = operator.index(epoch), operator.index(step)
        if not 0 <= epoch < self.epochs:
            raise IndexError("epoch %d out of range: %s has epochs 0..%d (epochs=%d)"
                             % (epoch, split, self.epochs - 1, self.epochs))
        if not 0 <= step < n:
            raise IndexError("step %d out of range: %s has steps 0..%d per epoch (%s=%d)"
                             % (step, split, n - 1, _steps_key(split), n))
        return epoch, step

    def folder(self, split, epoch, step):
        """The folder of one step, after checking that the tree has it."""
        epoch, step = self.check_position(split, epoch, step)
        return os.path.join(self.path, split, "epoch_%d" % epoch, "step_%d" % step)

    def step(self, split, epoch, step, mmap=False, meta=True):
        """One batch: {"data": (B, C, *patch) float32, "seg": (B, 1, *patch) int16,
        "seg_ds1", ...: deep-supervision targets when the tree has them, "meta": meta.json
        parsed}. mmap=True maps the arrays read-only instead of reading them (the mount's
        page cache holds the bytes)."""
        d = self.folder(split, epoch, step)
        mode = "r" if mmap else None
        out = {"data": np.load(os.path.join(d, "data.npy"), mmap_mode=mode),
               "seg": np.load(os.path.join(d, "seg.npy"), mmap_mode=mode)}
        for name in self._ds_files(split, d):
            out[name[:-4]] = np.load(os.path.join(d, name), mmap_mode=mode)
        if meta:
            with open(os.path.join(d, "meta.json")) as f:
                out["meta"] = json.load(f)
        return out

    def _ds_files(self, split, folder):
        # every step folder of a split has the same files: list one, once
        names = self._ds_names.get(split)
        if names is None:
            found = [(int(m.group(1)), n) for n in os.listdir(folder) for m in [_DS_NAME.match(n)] if m]
            names = self._ds_names[split] = [n for _, n in sorted(found)]
        return names

    # ------------------------------------------------------------ identity
    @property
    def content_options(self):
        """The names of the options that shape the bytes of served files."""
        names = self.info.get("content_options")
        if names is None:
            # a tree from before patchfs.json listed them: meta.json repeats exactly those
            meta = None
            for split in SPLITS:
                p = os.path.join(self.path, split, "epoch_0", "step_0", "meta.json")
                if os.path.exists(p):
                    with open(p) as f:
                        meta = json.load(f)
                    break
            if meta is None:
                raise Error("%s: patchfs.json has no content_options and no step_0/meta.json "
                            "is there to read them from" % self.path)
            names = list(meta["options"])
        return list(names)

    @property
    def content(self):
        """What decides the bytes of a step: the format, the dataset's fingerprint, the content
        options' values, the plan and the cases of each split (plans.json and splits.json,
        canonical JSON digests; None when a copy lacks the file)."""
        if self._content is None:
            self._content = {
                "format": self.info.get("format"),
                "dataset": self.info["dataset"]["fingerprint"],
                "options": {k: self.options[k] for k in self.content_options if k in self.options},
                "plan": self._json_digest("plans.json"),
                "cases": self._json_digest("splits.json"),
            }
        return self._content

    @property
    def fingerprint(self):
        """32 hex digits: equal for two trees exactly when they serve the same batches."""
        return fingerprint_of(self.content)

    def _json_digest(self, name):
        try:
            with open(os.path.join(self.path, name)) as f:
                value = json.load(f)
        except FileNotFoundError:
            return None
        return hashlib.sha256(_canonical(value).encode()).hexdigest()[:16]

    def plain(self):
        """This tree as a plain Tree (for a Mount: without its daemon's life cycle), sharing
        what was read; what worker processes are sent."""
        t = Tree.__new__(Tree)
        t.__dict__.update((k, self.__dict__[k]) for k in ("path", "info", "options", "_content", "_ds_names"))
        return t

    def __repr__(self):
        return "<patchfs.Tree %s: %s, fingerprint %s>" % (
            self.path, self.info["dataset"]["name"], self.fingerprint)


def _steps_key(split):
    if split not in SPLITS:
        raise ValueError("split %r: a patchfs tree has 'train' and 'val'" % (split,))
    return "steps" if split == "train" else "val_steps"
