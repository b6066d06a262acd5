#!/usr/bin/env python3
"""stress.py - concurrent readers on one patchfs mount, every byte checked.

  stress.py PATCHFS DATASET MOUNTPOINT OPTIONS [--procs 16] [--seconds 30] [--seed 1]
            [--truncate CACHE_FOLDER] [--refs FOLDER]

The mount must already serve DATASET with OPTIONS (the `-o` list). First the expected bytes of
every file in the plan are produced once with `patchfs get` (no FUSE). Then --procs processes
start together (a barrier, so first opens of the same new file race) and, until --seconds
have passed, each reads with os.pread at random offsets and sizes (1 byte .. 256 KiB, some
running past the end of the file) from
  * hot files every process reads: a train and a val step, a case's arrays, the JSON files;
  * files shared by pairs of processes (train/epoch_2/step_{i//2});
  * files only that process reads (train/epoch_1/step_{i}, val/epoch_1/step_{i});
  * case files (cases/ID/...) spread over the processes,
sometimes through a long-lived descriptor, sometimes through a fresh open per read, and
checks every byte against the reference, st_size against the reference length, and that a
read at or past the end returns exactly what is left. A small `mem=` in OPTIONS makes the
mount evict and regenerate files while others read them.

With --truncate, one more process truncates the mount's cache entries (the *.pfcase files
under CACHE_FOLDER) to random sizes every 0.05-0.25 s while the readers run: a read may then
fail with EIO (counted, and allowed), but any byte it returns must still be right, and the
mount must live. Afterwards every file must read whole and right again (each failed entry
costs at most one more EIO, the read that finds it, before the next rebuilds it).

With --refs, the expected bytes of the arrays (.npy) are kept in FOLDER (one file per virtual
path) and reused by later runs with the same content options (a sanitizer build makes each
`patchfs get` slow); other files are made each run.

Exit status 0 only if every read matched; a summary line is printed either way.
"""
import argparse
import errno
import glob
import multiprocessing as mp
import os
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def plan(mnt, procs):
    cases = sorted(os.listdir(os.path.join(mnt, "cases")))
    if not cases:
        raise SystemExit("stress: the mount lists no cases")
    hot = ["README.txt", "patchfs.json", "splits.json",
           "train/epoch_0/step_0/data.npy", "train/epoch_0/step_0/seg.npy",
           "train/epoch_0/step_0/meta.json", "val/epoch_0/step_0/data.npy",
           "cases/%s/data.npy" % cases[0], "cases/%s/seg.npy" % cases[0]]
    per = []
    for i in range(procs):
        c = cases[i % len(cases)]
        per.append([
            "train/epoch_1/step_%d/data.npy" % i, "train/epoch_1/step_%d/seg.npy" % i,
            "val/epoch_1/step_%d/data.npy" % (i % 4 + 4 * (i // 8)),
            "train/epoch_2/step_%d/data.npy" % (i // 2), "train/epoch_2/step_%d/meta.json" % (i // 2),
            "cases/%s/data.npy" % c, "cases/%s/properties.json" % c])
    return hot, per


def get(pf, ds, opts, vpath, refs=""):
    # only arrays are kept: their bytes depend on content options alone, while texts such as
    # README.txt and patchfs.json also name serving options (mem=, direct_io)
    kept = os.path.join(refs, vpath) if refs and vpath.endswith(".npy") else ""
    if kept and os.path.exists(kept):
        with open(kept, "rb") as f:
            return f.read()
    r = subprocess.run([pf, "get", ds, vpath, "-o", opts], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise SystemExit("stress: patchfs get %s failed: %s" % (vpath, r.stderr.decode()))
    if kept:
        os.makedirs(os.path.dirname(kept), exist_ok=True)
        with open(kept + ".tmp", "wb") as f:
            f.write(r.stdout)
        os.rename(kept + ".tmp", kept)
    return r.stdout


def worker(idx, args, refs, files, barrier, out):
    rng = random.Random(args.seed * 1000 + idx)
    deadline_box = [None]
    fds = {}
    ops = nbytes = eio = 0
    errors = []

    def fail(msg):
        errors.append(msg)

    try:
        barrier.wait()
        deadline_box[0] = time.monotonic() + args.seconds
        # every process opens its first hot file at the same moment: a single-flight race
        first = files[0]
        try:
            with open(os.path.join(args.mnt, first), "rb") as f:
                if f.read() != refs[first]:
                    fail("%s: first full read differs" % first)
        except OSError as e:
            if not (args.truncate and e.errno == errno.EIO):
                raise
            eio += 1
        while time.monotonic() < deadline_box[0] and len(errors) < 5:
            v = rng.choice(files)
            ref = refs[v]
            path = os.path.join(args.mnt, v)
            n = len(ref)
            r = rng.random()
            if r < 0.05:
                st = os.stat(path)
                if st.st_size != n:
                    fail("%s: st_size %d, reference %d bytes" % (v, st.st_size, n))
                ops += 1
                continue
            if r < 0.15:
                off = n - rng.randint(0, min(n, 64)) + rng.choice([0, 0, 1, 4096])
            else:
                off = rng.randint(0, max(0, n - 1))
            size = rng.choice([1, 7, 4096, 65536, 131072, 262144, rng.randint(1, 262144)])
            fresh = rng.random() < 0.3 or v not in fds
            fd = None
            try:
                if fresh:
                    fd = os.open(path, os.O_RDONLY)
                else:
                    fd = fds[v]
                got = os.pread(fd, size, off)
                if fresh:
                    if v in fds or rng.random() < 0.5:
                        os.close(fd)
                    else:
                        fds[v] = fd
            except OSError as e:
                if args.truncate and e.errno == errno.EIO:
                    eio += 1  # an entry truncated under this read: allowed, not served
                    if fresh and fd is not None:
                        os.close(fd)
                    continue
                fail("%s: pread(%d bytes at %d): %s" % (v, size, off, e))
                continue
            want = ref[off:off + size]
            if got != want:
                k = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]),
                         min(len(got), len(want)))
                fail("%s: pread(%d bytes at %d) returned %d bytes, expected %d; first "
                     "difference at byte %d" % (v, size, off, len(got), len(want), off + k))
            ops += 1
            nbytes += len(got)
    except Exception as e:  # a broken barrier or an unexpected error is a failure too
        fail("process %d: %r" % (idx, e))
    for fd in fds.values():
        os.close(fd)
    out.put((idx, ops, nbytes, errors, eio))


def truncator(folder, seconds, seed, out):
    """Truncates random entries to random sizes (page-aligned or not, the header kept or not)
    until the deadline; reports how many truncations it made."""
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        entries = glob.glob(os.path.join(folder, "*", "*.pfcase"))
        if entries:
            e = rng.choice(entries)
            try:
                size = os.stat(e).st_size
                cut = rng.choice([4096 * rng.randint(1, max(1, size // 4096 - 1)),
                                  rng.randint(1, max(1, size - 1)), size // 2])
                os.truncate(e, cut)
                n += 1
            except OSError:
                pass  # renamed over by a rebuild meanwhile
        time.sleep(rng.uniform(0.05, 0.25))
    out.put(("truncations", n))


def read_whole(path, tries):
    """The file's bytes, allowing up to tries - 1 EIOs (each rebuilds one entry)."""
    for k in range(tries):
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as e:
            if e.errno != errno.EIO or k == tries - 1:
                raise
    return None

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pf")
    ap.add_argument("ds")
    ap.add_argument("mnt")
    ap.add_argument("opts")
    ap.add_argument("--procs", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--truncate", default="")
    ap.add_argument("--refs", default="")
    args = ap.parse_args()

    t0 = time.monotonic()
    hot, per = plan(args.mnt, args.procs)
    all_files = sorted(set(hot) | {v for p in per for v in p})
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        refs = dict(zip(all_files, ex.map(lambda v: get(args.pf, args.ds, args.opts, v,
                                                        args.refs), all_files)))
    t1 = time.monotonic()

    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(args.procs, timeout=120)
    out = ctx.Queue()
    ps = []
    for i in range(args.procs):
        files = hot[i % len(hot):] + hot[:i % len(hot)] + per[i]
        p = ctx.Process(target=worker, args=(i, args, refs, files, barrier, out))
        p.start()
        ps.append(p)
    if args.truncate:
        tq = ctx.Queue()
        tp = ctx.Process(target=truncator, args=(args.truncate, args.seconds, args.seed, tq))
        tp.start()
    results = []
    for _ in ps:
        try:
            results.append(out.get(timeout=args.seconds + 120))
        except Exception:
            break
    truncations = 0
    if args.truncate:
        truncations = tq.get(timeout=args.seconds + 60)[1]
        tp.join(timeout=10)
    for p in ps:
        p.join(timeout=10)
        if p.is_alive():
            p.kill()
    t2 = time.monotonic()

    ops = sum(r[1] for r in results)
    nbytes = sum(r[2] for r in results)
    errors = [e for r in results for e in r[3]]
    eio = sum(r[4] for r in results)
    if len(results) != args.procs:
        errors.append("only %d of %d processes reported" % (len(results), args.procs))
    if args.truncate:
        # truncations over: every file reads whole and right again
        n_cases = len(os.listdir(os.path.join(args.mnt, "cases")))
        for v in all_files:
            try:
                if read_whole(os.path.join(args.mnt, v), n_cases + 2) != refs[v]:
                    errors.append("%s: differs after the truncations stopped" % v)
            except OSError as e:
                errors.append("%s: unreadable after the truncations stopped: %s" % (v, e))
        print("stress: %d truncations of cache entries, %d reads failed with EIO" % (
            truncations, eio))
    print("stress: %d processes, %d files (%.1f MB of references, made in %.1f s), %d reads "
          "of %.1f MB in %.1f s, %d errors" % (
              args.procs, len(all_files), sum(map(len, refs.values())) / 1e6, t1 - t0, ops,
              nbytes / 1e6, t2 - t1, len(errors)))
    for e in errors[:20]:
        print("  " + e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
