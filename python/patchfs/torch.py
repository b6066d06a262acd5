"""torch.py - the steps of a patchfs tree as a PyTorch Dataset, with a resume that checks what
it resumes.

Item i of a StepDataset is the whole batch of one step, (E, S) = divmod(first + i, steps):

    MOUNT/SPLIT/epoch_E/step_S/{data.npy, seg.npy, seg_dsK.npy}

patchfs already made the batch (nnU-Net's sampling of B patches), so the DataLoader must not
collate (batch_size=None, as StepDataset.loader() does) and its workers only open files: no
shared state, no shuffling to restore. A position is (epoch, step); state_dict() holds the
position after the last batch the training loop received, and the tree's fingerprint (every
content-shaping option, the dataset, the plan and the split); load_state_dict() refuses a
state from a tree whose batches differ, naming the options that differ.

    from patchfs.torch import StepDataset
    ds = StepDataset(mount, "train", epochs=2)
    for b in ds.loader():                        # b["data"], b["seg"]: tensors; b["epoch"], b["step"]
        ...
        torch.save({"data": ds.state_dict(), ...}, "ckpt.pt")
    ds.load_state_dict(torch.load("ckpt.pt")["data"])   # the next loop starts after that batch
"""
import operator

try:
    import torch
    from torch.utils.data import DataLoader, Dataset
except ImportError as e:  # pragma: no cover - depends on the machine
    raise ImportError("patchfs.torch needs PyTorch (%s): install it (Debian: apt-get install "
                      "python3-torch; or pip install torch)" % e) from None

from .errors import FingerprintMismatch
from .tree import Tree, check_same_content

#: DataLoader worker processes by default: measured, not guessed (`make bench`, loader rows;
#: python/README.md, "Workers: measured"). With a GPU-like loop (the CPU free during the step)
#: one worker reads the next batch during the step: 45-46 batches/s against 32-37 with none
#: (a 20 ms step allows 50); a second worker adds nothing on 2 cores. A loop that only reads
#: is fastest with none (pass workers=0).
DEFAULT_WORKERS = 1

STATE_VERSION = 1


class StepDataset(Dataset):
    """One item per step of `split`, from (epoch, step) = start up to the end of epoch
    `epochs` - 1 (default: the tree's epochs).

    source: a patchfs.Mount (kept open as long as the dataset lives), a patchfs.Tree or the
            path of a mount or of a copy of one.
    steps:  steps per epoch to use (default: all the tree has, steps= or val_steps=); fewer
            uses the first `steps` of each epoch.
    meta:   also return the step's meta.json, parsed, as item["meta"].
    """

    def __init__(self, source, split="train", epochs=None, start=(0, 0), steps=None, meta=False):
        self._mount = source if isinstance(source, Tree) and hasattr(source, "close") else None
        self.tree = source if isinstance(source, Tree) else Tree(source)
        self.split = split
        have = self.tree.steps(split)
        self.steps = have if steps is None else operator.index(steps)
        if not 0 < self.steps <= have:
            raise ValueError("%s: %d steps per epoch asked, the tree has %d (%s)"
                             % (split, self.steps, have, "steps=" if split == "train" else "val_steps="))
        self.epochs = self.tree.epochs if epochs is None else operator.index(epochs)
        if not 0 < self.epochs <= self.tree.epochs:
            raise ValueError("epochs=%d: the tree has epochs 0..%d (epochs=%d)"
                             % (self.epochs, self.tree.epochs - 1, self.tree.epochs))
        self.meta = meta
        self._end = self.epochs * self.steps
        self._first = self._next = self._index(*start)

    # ------------------------------------------------------------ positions
    def _index(self, epoch, step):
        epoch, step = operator.index(epoch), operator.index(step)
        if not 0 <= step < self.steps:
            raise IndexError("step %d out of range: steps 0..%d per epoch" % (step, self.steps - 1))
        g = epoch * self.steps + step
        if not 0 <= g <= self._end:
            raise IndexError("epoch %d out of range: epochs 0..%d" % (epoch, self.epochs - 1))
        return g

    def position(self, i):
        """(epoch, step) of item i."""
        return divmod(self._first + i, self.steps)

    @property
    def start(self):
        """(epoch, step) of item 0."""
        return divmod(self._first, self.steps)

    @property
    def fingerprint(self):
        return self.tree.fingerprint

    def __len__(self):
        return self._end - self._first

    def __getitem__(self, i):
        i = operator.index(i)
        if not 0 <= i < len(self):
            raise IndexError("item %d out of range: this dataset has items 0..%d (%s, epoch %d "
                             "step %d to epoch %d step %d)" % (
                                 i, len(self) - 1, self.split, *self.start, self.epochs - 1,
                                 self.steps - 1))
        e, s = self.position(i)
        b = self.tree.step(self.split, e, s, meta=self.meta)
        item = {k: torch.from_numpy(v) for k, v in b.items() if k != "meta"}
        item["epoch"], item["step"] = e, s
        if self.meta:
            item["meta"] = b["meta"]
        return item

    # ------------------------------------------------------------ loading
    def loader(self, workers=None, prefetch_factor=2, pin_memory=False, **kwargs):
        """A DataLoader over the batches from the current position on, in order, that records
        each batch handed to the loop (state_dict() is the position after it). workers: worker
        processes (default DEFAULT_WORKERS, see python/README.md for when more help)."""
        return StepLoader(self, DEFAULT_WORKERS if workers is None else workers,
                          prefetch_factor, pin_memory, **kwargs)

    # ------------------------------------------------------------ resume
    def state_dict(self, after=None):
        """The position to resume at and what it is a position in. after: the last batch
        consumed (a batch of this dataset, or (epoch, step)) when the batches did not come
        from loader(); default: the position after the last batch loader() handed out."""
        if after is None:
            nxt = self._next
        else:
            e, s = (after["epoch"], after["step"]) if isinstance(after, dict) else after
            nxt = self._index(int(e), int(s)) + 1
        epoch, step = divmod(nxt, self.steps)
        return {"version": STATE_VERSION, "split": self.split, "epoch": epoch, "step": step,
                "steps": self.steps, "fingerprint": self.fingerprint,
                "content": self.tree.content}

    def load_state_dict(self, state):
        """Continue at a saved position: item 0 becomes the batch after the last one consumed
        when the state was saved. Refused (FingerprintMismatch, naming every difference) when
        the state comes from a tree serving other batches, or another split or schedule."""
        if state.get("version") != STATE_VERSION:
            raise ValueError("not a patchfs StepDataset state (version %r)" % state.get("version"))
        if state["split"] != self.split:
            raise ValueError("the state is a position in %r, this dataset reads %r"
                             % (state["split"], self.split))
        if "content" in state:
            check_same_content(state["content"], self.tree.content)
        elif state["fingerprint"] != self.fingerprint:
            raise FingerprintMismatch("the saved state was made on a tree serving other batches "
                                      "(fingerprint %s, this one %s)" % (state["fingerprint"], self.fingerprint))
        if state["steps"] != self.steps:
            raise ValueError("the state was saved with %d steps per epoch, this dataset uses %d: "
                             "pass steps=%d to continue the same schedule"
                             % (state["steps"], self.steps, state["steps"]))
        self._first = self._next = self._index(state["epoch"], state["step"])

    def __getstate__(self):
        # worker processes get the path and the parsed tree, never the Mount (its daemon
        # belongs to the process that mounted)
        d = dict(self.__dict__)
        d["_mount"] = None
        d["tree"] = self.tree.plain()
        return d


class StepLoader:
    """Iterates a DataLoader (batch_size=None, in order) over a StepDataset from its current
    position, and advances that position as each batch reaches the loop."""

    def __init__(self, dataset, workers, prefetch_factor, pin_memory, **kwargs):
        self.dataset, self.workers = dataset, workers
        self.kwargs = dict(kwargs, batch_size=None, shuffle=False, num_workers=workers,
                           pin_memory=pin_memory)
        if workers > 0:
            self.kwargs.setdefault("prefetch_factor", prefetch_factor)
            self.kwargs.setdefault("worker_init_fn", _worker_init)

    def __len__(self):
        ds = self.dataset
        return ds._end - ds._next

    def __iter__(self):
        ds = self.dataset
        first = ds._next - ds._first
        loader = DataLoader(ds, sampler=range(first, len(ds)), **self.kwargs)
        for batch in loader:
            ds._next = ds._index(batch["epoch"], batch["step"]) + 1
            yield batch


def _worker_init(_):
    # a worker only reads files: leave the cores to the training process and the daemon
    torch.set_num_threads(1)
