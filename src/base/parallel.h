/* parallel.h - a parallel for over independent indices, for rendering the samples of one file
 * on several cores.
 *
 * Each index writes only its own output, so the result does not depend on the number of
 * threads or on which thread took which index: determinism is untouched, only latency drops.
 * The calling thread works too; threads are started per call (a few tens of microseconds,
 * against tens of milliseconds per sample) so nothing idles between requests. */
#ifndef PATCHFS_PARALLEL_H
#define PATCHFS_PARALLEL_H

#include "error.h"

/* The cores this process may run on (its CPU affinity), at least 1. */
int pf_usable_cores(void);

/* Calls fn(arg, i, err) for every i in [lo, hi), on up to `threads` threads. Stops handing
 * out indices after a failure; returns 0, or -1 with the error of the lowest index that
 * failed. If a thread cannot be started the remaining threads (at least the caller) do the
 * work. */
int pf_parallel_for(int lo, int hi, int threads, int (*fn)(void *arg, int i, pf_error *err),
                    void *arg, pf_error *err);

#endif
