"""patchfs - deterministic nnU-Net training batches from a FUSE mount, from Python.

    import patchfs
    with patchfs.Mount("/data/Dataset004_Hippocampus", seed=7) as m:
        b = m.step("train", epoch=0, step=0)     # {"data", "seg", "meta"} as numpy arrays
        m.fingerprint                            # what decides the bytes of every batch

    from patchfs.torch import StepDataset       # PyTorch, with a resume that checks content

Mount starts and stops the `patchfs` daemon; Tree reads a mount someone else made, or a copy
of one. See python/README.md.
"""
from .errors import Error, FingerprintMismatch
from .mount import Mount
from .tree import Tree

__version__ = "0.1.0"
__all__ = ["Error", "FingerprintMismatch", "Mount", "Tree", "__version__"]
