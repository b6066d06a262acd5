/* prefetch.h - generating the steps a reader is about to open, on worker threads.
 *
 * When a reader opens train/epoch_E/step_S/data.npy (or seg.npy), the FUSE layer asks for
 * the arrays of the next steps (pf_prefetch_plan) and queues them here; tasks on the worker pool make them
 * into the memory cache ahead of the reader. Prefetching only decides *when* a file is made,
 * never what it contains (pf_produce is a pure function of the node), so served bytes do not
 * depend on it. The queue is bounded (the oldest request is dropped when full) and deduplicated;
 * pending requests are dropped at shutdown. */
#ifndef PATCHFS_PREFETCH_H
#define PATCHFS_PREFETCH_H

#include "patchfs/tree.h"

typedef struct pf_prefetch pf_prefetch;

/* Called on a pool worker thread for each queued node. */
typedef void (*pf_prefetch_fn)(void *arg, const pf_node *n);

/* Up to `workers` requests run at once (at least 1) on the process's worker pool (workers.h);
 * a queue of capacity requests (at least 1). NULL on failure. */
pf_prefetch *pf_prefetch_new(int workers, int capacity, pf_prefetch_fn fn, void *arg);

/* Queues n unless it is already queued; when full, the oldest request is dropped. */
void pf_prefetch_push(pf_prefetch *p, const pf_node *n);

/* Drops pending requests, waits for the running ones, joins the workers. */
void pf_prefetch_free(pf_prefetch *p);

/* Requests accepted, dropped (queue full), and run, so far. */
void pf_prefetch_stats(pf_prefetch *p, unsigned long *queued, unsigned long *dropped,
                       unsigned long *done);

/* What to make ahead of a reader that opened `opened`, nearest first: for a step's data.npy or
 * seg.npy, the other array of the same step, then both arrays of the next `depth` steps (into
 * the next epoch after the last step; nothing past the last epoch). Other nodes: nothing.
 * Writes at most 2 * depth + 1 nodes to out and returns how many. */
int pf_prefetch_plan(const pf_tree *t, const pf_node *opened, int depth, pf_node *out);

#endif
