/* produce.h - the one place that assembles a virtual file: node -> bytes.
 *
 * A pf_ctx holds everything a mount or `patchfs get` needs: options, the dataset, the fold's
 * split, the opened cache, per-case normalisation and the small text files. pf_produce is
 * reentrant (any thread, any order) and its output depends only on (dataset content, options
 * that shape content, node): the invariant the tests pin with golden digests. */
#ifndef PATCHFS_PRODUCE_H
#define PATCHFS_PRODUCE_H

#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "dataset.h"
#include "error.h"
#include "extract.h"
#include "options.h"
#include "sampler.h"
#include "split.h"
#include "patchfs/tree.h"

typedef enum { PF_SCHEME_ZSCORE, PF_SCHEME_CT, PF_SCHEME_NONE, PF_SCHEME_RESCALE01,
               PF_SCHEME_RGB01 } pf_scheme;

typedef struct pf_channel_norm {
    pf_scheme scheme;
    int use_mask;                 /* zscore over seg >= 0 only (nnU-Net's rule) */
    double ct_mean, ct_std, ct_lo, ct_hi; /* dataset-wide foreground statistics (CT) */
} pf_channel_norm;

/* Live counters of a mount, for status.json (filled by the FUSE layer). Times in microseconds. */
typedef struct pf_status {
    uint64_t mounted_at_unix_ms, uptime_ms;
    uint64_t files_opened, files_generated, cache_hits, bytes_served, read_requests, errors;
    uint64_t generate_p50_us, generate_p90_us, generate_p99_us, generate_max_us;
    uint64_t memory_cache_bytes;
} pf_status;

typedef void (*pf_status_fn)(void *arg, pf_status *st);

typedef struct pf_ctx {
    pf_options opt;
    pf_dataset ds;
    pf_split_lists split;
    pf_cache cache;
    pf_channel_norm *channel_norm; /* per channel */
    pf_norm *norms;                /* per case * channel */
    pf_sampler sampler;
    pf_class_pool pools[2];        /* class policy: per split */
    int shard_lo, shard_hi;        /* positions [lo, hi) of each global batch served here */
    pf_tree tree;
    char **case_ids;
    int patch[3];
    double median_relative_size;
    char *readme, *patchfs_json, *splits_json;
    struct pf_skipped { char id[256]; char reason[1024]; } *skipped; /* skip_bad */
    int n_skipped;
    pf_status_fn status_fn;        /* set by the FUSE layer; NULL: status.json shows zeros */
    void *status_arg;
} pf_ctx;

#define PF_CTX_VERIFY_ALL 1u /* also check the image digests of existing cache entries */

/* Opens the dataset, builds missing cache entries (progress reported through the callback),
 * maps them and prepares the small files. */
int pf_ctx_open(pf_ctx *ctx, const char *dataset_dir, const pf_options *o, unsigned flags,
                pf_progress_fn progress, void *arg, pf_error *err);
void pf_ctx_close(pf_ctx *ctx);

/* Exact size of a file node without generating pixel data. */
int pf_file_size(pf_ctx *ctx, const pf_node *n, uint64_t *size, pf_error *err);

/* Generates a file node's bytes into a malloc'd buffer. */
int pf_produce(pf_ctx *ctx, const pf_node *n, char **buf, size_t *len, pf_error *err);

const char *pf_scheme_name(pf_scheme s);

#endif
