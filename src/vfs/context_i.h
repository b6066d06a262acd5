/* context_i.h - what a pf_ctx holds: private to the vfs layer (and white-box tests).
 *
 * Everything here is decided once by pf_ctx_open and read-only afterwards, except the cache's
 * per-case repair state, which the cache layer guards itself. */
#ifndef PATCHFS_CONTEXT_I_H
#define PATCHFS_CONTEXT_I_H

#include "cache.h"
#include "dataset.h"
#include "geometry.h"
#include "normalise.h"
#include "options.h"
#include "sampler.h"
#include "split.h"
#include "patchfs/context.h"
#include "patchfs/tree.h"

typedef struct pf_skipped_case {
    char id[256];
    char reason[1024];
} pf_skipped_case;

struct pf_ctx {
    pf_options opt;
    pf_dataset ds;
    pf_split_lists split;
    pf_cache cache;
    pf_geometry geom;              /* the plan, the configuration, the preprocessing */
    pf_normalisation norm;         /* per channel scheme, per case * channel parameters */
    pf_sampler sampler;
    pf_class_pool pools[2];        /* class policy: per split */
    int shard_lo, shard_hi;        /* positions [lo, hi) of each global batch served here */
    pf_tree tree;
    char **case_ids;
    int patch[3];
    int n_ds;                      /* deep-supervision scales, per axis (the first is 1, 1, 1) */
    double ds_scale[16][3];
    int seg_channels;              /* of a training seg.npy: 1, or the regions (+ ignore) */
    uint64_t *region_masks;        /* region datasets: pf_dataset_region_masks; else NULL */
    int seg_target;                /* training seg differs from the label map (regions or
                                    * seg_outside=0): pf_seg_target after rendering */
    char *readme, *patchfs_json, *splits_json;
    /* test/: the images to predict (testset.h), preprocessed into a cache of their own */
    pf_dataset test_ds;
    pf_cache test_cache;
    char **test_ids;
    uint32_t *tile_counts[2];      /* per case of cases/ (0) and test/ (1): its tiles */
    pf_skipped_case *skipped;      /* skip_bad */
    int n_skipped;
};

/* The cases a case node belongs to: cases/ (split 0) or test/ (split 1). */
static inline pf_cache *pf_ctx_cache_of(pf_ctx *ctx, uint32_t split)
{
    return split ? &ctx->test_cache : &ctx->cache;
}

static inline const pf_cache *pf_ctx_cache_of_c(const pf_ctx *ctx, uint32_t split)
{
    return split ? &ctx->test_cache : &ctx->cache;
}

static inline const pf_dataset *pf_ctx_ds_of(const pf_ctx *ctx, uint32_t split)
{
    return split ? &ctx->test_ds : &ctx->ds;
}

#endif
