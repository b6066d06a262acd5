#!/usr/bin/env python3
"""nnunet_loop.py - the real loop and the real anchor (issue 17, item 7): a reader that walks
training steps as nnU-Net's trainer consumes them, through the mount, against
batchgeneratorsv2's pipeline as nnU-Net configures it, timed in the same run. Part of
`make bench`; it measures, it tests nothing.

  nnunet_loop.py --work DIR [--configs 128x2,64x2,192x2,128x1,128x4] [--steps 48] [--reps 3]
                 [--baseline REV] [--samples 100] [--mem 1G] [--prefetch 2]
  BGV2_PATH=/path/to/batchgeneratorsv2 (optional): the anchor (tests/bench/bgv2_pipeline.py)
  BASELINE_REV=<commit> (or --baseline): the same reader against that commit's patchfs,
                 built once into DIR/baseline-<commit> (today's figures, in the same run)

Per configuration PATCHxCHANNELS (cubic patch, batch 2, deep-supervision targets as a plan of
that patch has: 1/cumprod of its pooling strides, 3 at 64^3 and 4 from 128^3 on): a generated
dataset of 4 cases of 200x240x240 with that many channels is made once (and prepared once);
each way of reading below mounts it fresh (`-f`, a child of this script; mem, prefetch and
seed=7 the same everywhere), reads steps of epoch 0 until the mount is in its steady state
(warm-up: the cases' pages, the daemon, and a full memory cache, so generated files reuse
evicted buffers as they do for all but the first few dozen steps of a training run), then
times steps 0..N-1 of epoch 1 (never read before on that mount), plain
(aug=none) and augmented (aug=nnunet), repetitions alternating:

  files      data.npy, seg.npy, seg_ds1..K.npy per step with np.load (nnU-Net's trainer
             needs all of them each iteration)
  npz        np.load(batch.npz) and its members by name (one open per step)
  npz-f16    the same with dtype=float16 (the cast back belongs on the GPU: not done here)
  odirect    each file read with O_DIRECT into a reused aligned buffer, viewed in place
  odirect-f16  the same with dtype=float16
  baseline   the files reader against the baseline commit's binary (no batch.npz there)

Figures per step: wall steps/s, CPU of the daemon (/proc/PID/stat) + the reader (getrusage),
and CPU per augmented sample (step CPU / batch). The anchor: bgv2_pipeline.py on the first
case's preprocessed arrays (the mount's cases/ID/{data,seg}.npy), 100 seeded samples, one
thread (taskset -c 0), nnU-Net's probabilities, same patch, channels and targets; printed
ratio = bgv2 CPU per sample / patchfs CPU per augmented sample (daemon + reader).

Why 48 steps and 100 samples: a resampled sample (rotation or scaling, 36 % of nnU-Net's
draws) costs either side several times a plain one, so a mean over few samples moves with how
many of them came up: over 32 samples the count's spread alone is about +-9 % of the CPU per
sample on each side, about +-12 % on their ratio; 96 and 100 samples bring it to about +-7 %.
"""
import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aug_mount_rate as amr  # noqa: E402 (mount/unmount/cpu helpers)

PY = sys.executable


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def ds_targets(p):
    return 3 if p <= 64 else 4


def make_dataset(work, channels):
    ds = os.path.join(work, "loop_c%d" % channels)
    if not os.path.isfile(os.path.join(ds, "dataset.json")):
        log("making dataset %s" % ds)
        subprocess.run([PY, os.path.join(ROOT, "tests/tools/make_dataset.py"), ds, "--cases", "4",
                        "--channels", str(channels), "--shape", "200,240,240", "--seed", "3"],
                       check=True, stdout=subprocess.DEVNULL)
    return ds


def build_baseline(work, rev):
    d = os.path.join(work, "baseline-" + rev)
    binary = os.path.join(d, "patchfs")
    if not os.access(binary, os.X_OK):
        log("building the baseline %s into %s" % (rev, d))
        os.makedirs(d, exist_ok=True)
        arc = subprocess.run(["git", "-C", ROOT, "archive", rev], check=True,
                             stdout=subprocess.PIPE).stdout
        subprocess.run(["tar", "-x", "-C", d], input=arc, check=True)
        subprocess.run(["make", "-C", d, "-j2", "patchfs"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, env=dict(os.environ, MAKEFLAGS=""))
    return binary


class NnunetReader:
    """What nnU-Net's training loop takes per iteration: data, seg and every deep-supervision
    target, loaded as numpy arrays: np.load of each file or of batch.npz, or (odirect) each
    file read with O_DIRECT into a reused page-aligned buffer per file and viewed in place
    (np.frombuffer after the .npy header: no allocation, no page-cache copy)."""

    def __init__(self, ds_k, npz, odirect=False):
        self.ds_k, self.npz, self.odirect = ds_k, npz, odirect
        self.bufs = {}

    def load_direct(self, path, slot):
        import mmap
        size = os.stat(path).st_size
        buf = self.bufs.get(slot)
        if buf is None or len(buf) < size:
            buf = self.bufs[slot] = mmap.mmap(-1, (size + 4095) // 4096 * 4096)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
        try:
            got = 0
            with memoryview(buf) as mv:
                while got < size:
                    k = os.readv(fd, [mv[got:]])
                    if k <= 0:
                        break
                    got += k
        finally:
            os.close(fd)
        hlen = int.from_bytes(buf[8:10], "little") + 10  # .npy 1.0 header
        header = eval(buf[10:hlen].decode("latin1"))  # numpy's own header literal
        return np.frombuffer(buf, dtype=np.dtype(header["descr"]),
                             count=int(np.prod(header["shape"])), offset=hlen).reshape(
                                 header["shape"])

    def step(self, d):
        if self.odirect:
            names = ["data.npy", "seg.npy"] + ["seg_ds%d.npy" % k for k in range(1, self.ds_k + 1)]
            return sum(self.load_direct(os.path.join(d, n), n).nbytes for n in names)
        if self.npz:
            with np.load(os.path.join(d, "batch.npz")) as z:
                arrays = [z["data"], z["seg"]] + [z["seg_ds%d" % k] for k in range(1, self.ds_k + 1)]
        else:
            arrays = [np.load(os.path.join(d, "data.npy")), np.load(os.path.join(d, "seg.npy"))]
            arrays += [np.load(os.path.join(d, "seg_ds%d.npy" % k)) for k in range(1, self.ds_k + 1)]
        return sum(a.nbytes for a in arrays)


def idle(pid, quiet=0.3, limit=30.0):
    """The daemon's CPU time once it has stopped working (prefetching ahead of the reader):
    no CPU used for `quiet` seconds."""
    t_end = time.monotonic() + limit
    last = amr.cpu_seconds(pid)
    while time.monotonic() < t_end:
        time.sleep(quiet)
        now = amr.cpu_seconds(pid)
        if now == last:
            return now
        last = now
    return last


def cache_bytes(mnt):
    with open(os.path.join(mnt, "status.json")) as f:
        return json.load(f)["memory_cache_bytes"]


def warm_up(mnt, reader, limit=400):
    """Steps of epoch 0 until the mount is in its steady state: its memory cache full (its
    bytes no longer grow over a step), so generated files reuse the buffers of evicted ones
    instead of faulting in fresh pages. A training run spends all but its first few dozen
    steps there (nnU-Net: 250 steps x 1000 epochs); before it, each new file's pages cost a
    fault and zeroing (about a third of a plain step's CPU at 128^3)."""
    last, flat = -1, 0
    for s in range(limit):
        reader.step(os.path.join(mnt, "train", "epoch_0", "step_%d" % s))
        now = cache_bytes(mnt)
        flat = flat + 1 if now <= last else 0
        if s >= 3 and flat >= 2:  # two steps in a row (one can be the prefetcher lagging)
            return s + 1
        last = now
    return limit


def measure(binary, ds, work, opts, reader, steps, prefetch, tag):
    """Wall time of `steps` steps read in order, and the CPU per step of the daemon and the
    reader. With prefetch=K the daemon also makes K steps ahead of the reader: the CPU is
    counted from idle (after the warm-up's own prefetching) to idle (after the K steps past
    the last one are made), over steps + K steps (exact for batch.npz; for the .npy ways the
    K extra steps are data.npy and seg.npy without the small seg_dsK.npy)."""
    mnt = tempfile.mkdtemp(prefix="loop_", dir=work)
    errlog = os.path.join(work, "loop_%s.log" % tag)
    amr.PF = binary
    p = amr.mount(ds, mnt, opts, errlog)
    try:
        log("%s: steady after %d warm-up steps" % (tag, warm_up(mnt, reader)))
        d0, r0 = idle(p.pid), amr.own_cpu_seconds()
        t0 = time.perf_counter()
        nbytes = 0
        for s in range(steps):
            nbytes += reader.step(os.path.join(mnt, "train", "epoch_1", "step_%d" % s))
        dt = time.perf_counter() - t0
        r1 = amr.own_cpu_seconds()
        made = steps + prefetch
        cpu = ((idle(p.pid) - d0) * steps / made, r1 - r0)
    finally:
        amr.MOUNTS.remove((mnt, p))
        amr.umount(mnt, p)
    return dt, cpu, nbytes


def bgv2(work, ds, opts, patch, channels, k, samples):
    case = os.path.join(work, "loop_case_c%d" % channels)
    pf = os.path.join(ROOT, "patchfs")
    split = json.loads(subprocess.run([pf, "get", ds, "splits.json", "-o", opts], check=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout)
    cid = split["train"][0]
    for f in ("data", "seg"):
        if not os.path.isfile("%s_%s.npy" % (case, f)):
            with open("%s_%s.npy" % (case, f), "wb") as out:
                subprocess.run([pf, "get", ds, "cases/%s/%s.npy" % (cid, f), "-o", opts],
                               check=True, stdout=out, stderr=subprocess.DEVNULL)
    r = subprocess.run(["taskset", "-c", "0", PY, os.path.join(ROOT, "tests/bench/bgv2_pipeline.py"),
                        case + "_data.npy", case + "_seg.npy", "x".join([str(patch)] * 3), str(k),
                        "--samples", str(samples)],
                       check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def median(v):
    v = sorted(v)
    m = len(v) // 2
    return v[m] if len(v) % 2 else (v[m - 1] + v[m]) / 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="/tmp/patchfs-bench")
    ap.add_argument("--configs", default="128x2,64x2,192x2,128x1,128x4")
    ap.add_argument("--steps", type=int, default=48)
    ap.add_argument("--reps", type=int, default=3, help="repetitions of the first configuration")
    ap.add_argument("--reps-other", type=int, default=1, help="of the other configurations")
    ap.add_argument("--baseline", default=os.environ.get("BASELINE_REV", ""))
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--mem", default="1G")
    ap.add_argument("--prefetch", type=int, default=2)
    ap.add_argument("--ways", default="baseline,files,odirect,odirect-f16,npz",
                    help="ways of the first configuration")
    ap.add_argument("--ways-other", default="baseline,odirect,odirect-f16")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    work = os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)
    signal.signal(signal.SIGTERM, amr.on_sigterm)
    signal.signal(signal.SIGHUP, amr.on_sigterm)
    base_bin = build_baseline(work, a.baseline) if a.baseline else None
    have_bgv2 = bool(os.environ.get("BGV2_PATH"))
    first_ways = [w for w in a.ways.split(",") if w and (w != "baseline" or base_bin)]
    other_ways = [w for w in a.ways_other.split(",") if w and (w != "baseline" or base_bin)]
    results = []
    la = os.getloadavg()
    log("load average at start: %.2f %.2f %.2f" % la)
    try:
        for ci, cfg in enumerate(a.configs.split(",")):
            ways = first_ways if ci == 0 else other_ways
            reps = a.reps if ci == 0 else a.reps_other
            patch, channels = (int(v) for v in cfg.split("x"))
            k = ds_targets(patch)
            ds = make_dataset(work, channels)
            scales = ",".join(str(1 / 2 ** i) for i in range(k + 1))
            cache = os.path.join(work, "loop_cache_c%d" % channels)
            common = "cache=%s,seed=7,batch=2,patch=%dx%dx%d,ds_scales=%s,mem=%s,prefetch=%d" % (
                cache, patch, patch, patch, scales, a.mem, a.prefetch)
            amr.PF = os.path.join(ROOT, "patchfs")
            amr.prepare(ds, common, os.path.join(work, "loop_prepare.log"))
            row = {"patch": patch, "channels": channels, "ds": k, "reps": reps, "ways": {}}
            for w in ways:
                row["ways"][w] = {"none": [], "nnunet": []}
            for r in range(reps):
                order = ways if r % 2 == 0 else ways[::-1]
                for w in order:
                    for aug in (("none", "nnunet") if r % 2 == 0 else ("nnunet", "none")):
                        binary = base_bin if w == "baseline" else os.path.join(ROOT, "patchfs")
                        opts = common + ",aug=" + aug + (",dtype=float16" if w.endswith("f16") else "")
                        reader = NnunetReader(k, w.startswith("npz"), w.startswith("odirect"))
                        dt, cpu, nbytes = measure(binary, ds, work, opts, reader, a.steps,
                                                  a.prefetch, "%s_%s" % (w, aug))
                        row["ways"][w][aug].append({"dt": dt, "daemon": cpu[0], "reader": cpu[1],
                                                    "bytes": nbytes})
                        log("%s %s %s rep %d: %.2f steps/s, CPU %.0f + %.0f ms/step" % (
                            cfg, w, aug, r, a.steps / dt, cpu[0] / a.steps * 1e3,
                            cpu[1] / a.steps * 1e3))
            if have_bgv2:
                row["bgv2"] = bgv2(work, ds, common, patch, channels, k, a.samples)
                log("%s bgv2: %.3f s CPU per sample" % (cfg, row["bgv2"]["cpu_per_sample"]))
            results.append(row)
    except KeyboardInterrupt:
        amr.unmount_all()
        raise SystemExit("interrupted; mounts removed")
    finally:
        amr.unmount_all()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    print_table(results, a, la, os.getloadavg())


def summary(runs, steps):
    return (steps / median([x["dt"] for x in runs]),
            median([x["daemon"] for x in runs]) / steps * 1e3,
            median([x["reader"] for x in runs]) / steps * 1e3)


def print_table(results, a, la0, la1):
    print("nnU-Net-like reader through the mount: %d steps of batch 2 per run, medians of %d "
          "(first configuration) or %d runs, mem=%s prefetch=%d, 2 cores; load average %.1f at "
          "start, %.1f at end" % (a.steps, a.reps, a.reps_other, a.mem, a.prefetch, la0[0],
                                  la1[0]))
    print()
    print("| patch | C | DS | way | plain steps/s | plain CPU ms/step (daemon + reader) | "
          "aug steps/s | aug CPU ms/step (daemon + reader) | aug CPU ms/sample | "
          "bgv2 CPU ms/sample | bgv2 / patchfs |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in results:
        b = row.get("bgv2")
        for w, runs in row["ways"].items():
            ps, pd, pr = summary(runs["none"], a.steps)
            s, d, r = summary(runs["nnunet"], a.steps)
            per_sample = (d + r) / 2
            print("| %d³ | %d | %d | %s | %.1f | %.0f (%.0f + %.0f) | %.1f | %.0f (%.0f + %.0f) | "
                  "%.1f | %s | %s |" % (
                      row["patch"], row["channels"], row["ds"], w, ps, pd + pr, pd, pr, s, d + r,
                      d, r, per_sample, "%.0f" % (b["cpu_per_sample"] * 1e3) if b else "-",
                      "%.1fx" % (b["cpu_per_sample"] * 1e3 / per_sample) if b else "-"))
    for row in results:
        if "baseline" in row["ways"] and "files" in row["ways"]:
            s_now = summary(row["ways"]["files"]["nnunet"], a.steps)[0]
            s_old = summary(row["ways"]["baseline"]["nnunet"], a.steps)[0]
            best = max((summary(r["nnunet"], a.steps)[0], w) for w, r in row["ways"].items()
                       if w != "baseline")
            print("%d³ x %d: augmented steps/s, now / baseline: files %.2fx, best (%s) %.2fx "
                  "(target >= 2x)" % (row["patch"], row["channels"], s_now / s_old, best[1],
                                      best[0] / s_old))


if __name__ == "__main__":
    main()
