#!/usr/bin/env python3
"""loader_bench.py - `make bench`, loader rows: batches/s of patchfs.torch.StepDataset through
a DataLoader with 0, 1 and 2 worker processes, with the daemon's prefetch=0 and prefetch=2,
read as fast as possible, under a GPU-like training step (the loop sleeps, leaving the CPU
free, as a process waiting for its GPU does) and under a CPU training step (a fixed amount of
work on every core, about 20 ms when the machine is idle). The package's default (DEFAULT_WORKERS in
python/patchfs/torch.py) and python/README.md's advice come from this table.

  loader_bench.py WORK [--steps N] [--reps N] [--smoke] [--json FILE]

Dataset: the real Dataset004_Hippocampus (nnU-Net's 3d_fullres plan) when present, else a
generated one; with aug=nnunet and without. Every measurement reads steps never read before
(epochs of their own), so what is measured is the generation, not the page cache.
Not a test: nothing here fails on a figure.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
REAL = os.environ.get("PATCHFS_REAL_DATA", os.path.join(ROOT, "..", "shared", "data", "real"))


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def rate(ds, workers, consume):
    """batches/s in the steady state: from the first batch (the DataLoader and its workers
    started) to the last, over steps no measurement read before"""
    n, t0 = 0, None
    for b in ds.loader(workers=workers):
        consume(b)
        n += 1
        if t0 is None:
            t0 = time.perf_counter()
    return (n - 1) / (time.perf_counter() - t0)


def consumers(torch):
    """what the loop does with each batch: nothing; a GPU-like 20 ms step (the process
    sleeps, the CPU is free, as while a GPU computes); a CPU step, a fixed amount of work on
    every core (matrix products on torch's threads, about 20 ms on an idle machine, as a
    network trained on the CPU: examples/pytorch without a GPU)"""
    a = torch.rand(384, 384)
    k = 1
    while True:  # calibrate: the smallest count of products taking >= 20 ms
        t0 = time.perf_counter()
        for _ in range(k):
            torch.mm(a, a)
        if time.perf_counter() - t0 >= 0.02:
            break
        k *= 2 if time.perf_counter() - t0 < 0.005 else 1
        k += 1

    def cpu_step(b):
        for _ in range(k):
            torch.mm(a, a)

    return [("none (read only)", lambda b: None),
            ("20 ms, GPU-like (CPU free)", lambda b: time.sleep(0.02)),
            ("CPU, 20 ms of work on every core", cpu_step)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("work")
    ap.add_argument("--steps", type=int, default=100, help="steps per measurement")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    if a.smoke:
        a.steps, a.reps = 12, 1
    try:
        import torch
        import patchfs
        from patchfs.torch import StepDataset
    except ImportError as e:
        log("loader bench: skipped (%s; make deps-examples installs python3-torch)" % e)
        return
    torch.set_num_threads(os.cpu_count())  # the training process: every core (workers: 1)
    os.environ.setdefault("PATCHFS", os.path.join(ROOT, "patchfs"))
    hippo = os.path.join(REAL, "Dataset004_Hippocampus")
    if os.path.isdir(hippo) and not a.smoke:
        ds_path, name, base = hippo, "hippocampus", {}
    else:
        ds_path, name = os.path.join(a.work, "loader_ds"), "generated"
        base = {"patch": (24, 32, 24), "batch": 2}
        if not os.path.exists(os.path.join(ds_path, "dataset.json")):
            subprocess.run([sys.executable, os.path.join(ROOT, "tests/tools/make_dataset.py"), ds_path,
                            "--cases", "6", "--shape", "40,56,48"], check=True, stdout=subprocess.DEVNULL)
    cache = os.path.join(a.work, "loader_cache")
    rows = []
    epoch = [0]

    def fresh(m):
        # a dataset over steps of an epoch no measurement has read
        e = epoch[0]
        epoch[0] += 1
        return StepDataset(m, "train", start=(e, 0), epochs=e + 1, steps=a.steps)

    configs = [(w, p) for p in (0, 2) for w in (0, 1, 2)]
    loops = consumers(torch)
    for aug in ("none", "nnunet"):
        for what, consume in loops:
            res = {c: [] for c in configs}
            for r in range(a.reps):
                # alternate the order of the configurations between repetitions (noisy machines)
                for w, p in (configs if r % 2 == 0 else configs[::-1]):
                    with patchfs.Mount(ds_path, seed=7, aug=aug, prefetch=p, cache=cache,
                                       steps=a.steps, **base) as m:
                        res[(w, p)].append(rate(fresh(m), w, consume))
            for w, p in configs:
                v = statistics.median(res[(w, p)])
                rows.append({"dataset": name, "aug": aug, "loop": what, "workers": w,
                             "prefetch": p, "batches_per_s": v})
                log("  loader %-12s aug=%-6s %-28s %d workers, prefetch=%d %8.1f batches/s"
                    % (name, aug, what, w, p, v))
    print()
    print("patchfs loader bench (%s%s, %d steps per measurement, steady state, medians of %d; "
          "%d cores)" % (name, "" if base else ", nnU-Net's 3d_fullres plan", a.steps, a.reps,
                          os.cpu_count()))
    print()
    print("| aug | training step | prefetch | 0 workers | 1 worker | 2 workers |")
    print("|---|---|---:|---:|---:|---:|")
    for aug in ("none", "nnunet"):
        for what, _ in loops:
            for p in (0, 2):
                v = {r["workers"]: r["batches_per_s"] for r in rows
                     if r["aug"] == aug and r["loop"] == what and r["prefetch"] == p}
                print("| %s | %s | %d | %.1f | %.1f | %.1f |" % (aug, what, p, v[0], v[1], v[2]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
