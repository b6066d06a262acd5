/* workers.h - one process-wide pool of worker threads, and the parallel for that renders a
 * file's samples, builds cache entries and runs prefetch requests on it.
 *
 * The pool is sized once from pf_usable_cores() (CPU affinity and cgroup quota) and started
 * on first use; the thread that calls pf_parallel_for works too and never waits for a worker
 * to become free, so nested and concurrent loops cannot deadlock and a mount's thread count
 * stays bounded (the FUSE loop's threads plus one pool) whatever the number of readers.
 *
 * Each index of a loop writes only its own output, so results do not depend on the number of
 * threads or on which thread took which index: determinism is untouched, only latency drops.
 *
 * fork() keeps only the calling thread: pf_workers_stop() before forking (daemonizing); the
 * pool starts again on next use. */
#ifndef PATCHFS_WORKERS_H
#define PATCHFS_WORKERS_H

#include "error.h"

/* The cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota
 * (cpu.max), at least 1. The one core count every part of patchfs sizes itself with. */
int pf_usable_cores(void);

/* Calls fn(arg, i, err) for every i in [lo, hi) on the calling thread and up to threads - 1
 * pool workers (threads <= 0: pf_usable_cores() in all, the caller included). After a failure
 * indices above it are dropped, every index below it still runs; returns 0, or -1 with the
 * error of the lowest index that failed. */
int pf_parallel_for(int lo, int hi, int threads, int (*fn)(void *arg, int i, pf_error *err),
                    void *arg, pf_error *err);

/* Runs fn(arg) on a pool worker later; 0, or -1 when the pool cannot take it (out of memory,
 * no thread could be started): the caller then decides what to do without it. */
int pf_workers_post(void (*fn)(void *arg), void *arg);

/* Waits for posted work and running loops to finish and joins the workers. */
void pf_workers_stop(void);

/* Threads the pool has started (0 before first use): for tests and status. */
int pf_workers_started(void);

#endif
