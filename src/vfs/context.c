/* context.c - opening a context on a dataset: the cache, the fold, the normalisation, the
 * patch, the shard, the sampler and the tree, decided once (see context.h); and the accessors
 * through which the layers above read it. */
#include "context_i.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "augment.h"
#include "fp_store.h"
#include "order.h"
#include "testset.h"
#include "texts.h"
#include "tiles.h"

/* patch default: per axis min(128, median cropped case shape) (median of an even count is the
 * mean of the middle two, rounded down). */
static int default_patch(pf_ctx *ctx, pf_error *err)
{
    int nc = ctx->ds.n_cases;
    double *v = malloc((size_t)nc * sizeof *v);
    if (!v)
        return pf_fail(err, ENOMEM, "out of memory");
    for (int d = 0; d < 3; d++) {
        double m;
        for (int i = 0; i < nc; i++)
            v[i] = (double)ctx->cache.cases[i].hdr.shape[d];
        m = floor(pf_median(v, nc));
        ctx->patch[d] = m < 128 ? (int)m : 128;
        if (ctx->patch[d] < 1)
            ctx->patch[d] = 1;
    }
    free(v);
    return 0;
}

static int cmp_skipped(const void *a, const void *b)
{
    return strcmp(((const pf_skipped_case *)a)->id, ((const pf_skipped_case *)b)->id);
}

/* skip_bad, before the cache: the cases with a missing file (a label, a channel) leave the
 * dataset, listed in ctx->skipped like those that fail to build. */
static int set_aside_incomplete_cases(pf_ctx *ctx, pf_error *err)
{
    unsigned char *drop = calloc((size_t)ctx->ds.n_cases + 1, 1);
    int n = 0;
    if (!drop)
        return pf_fail(err, ENOMEM, "out of memory");
    for (int i = 0; i < ctx->ds.n_cases; i++)
        n += drop[i] = ctx->ds.cases[i].missing != NULL;
    if (n && pf_resize(&ctx->skipped, (size_t)(ctx->n_skipped + n), sizeof *ctx->skipped,
                       err)) {
        free(drop);
        return -1;
    }
    for (int i = 0; i < ctx->ds.n_cases; i++)
        if (drop[i]) {
            pf_skipped_case *s = &ctx->skipped[ctx->n_skipped++];
            const char *m = ctx->ds.cases[i].missing;
            snprintf(s->id, sizeof s->id, "%s", ctx->ds.cases[i].id);
            snprintf(s->reason, sizeof s->reason, "%.*s", (int)strcspn(m, "\n"), m);
        }
    pf_dataset_drop_cases(&ctx->ds, drop);
    free(drop);
    if (ctx->ds.n_cases == 0)
        return pf_fail(err, EINVAL, "%s: no usable case left (all %d were set aside by skip_bad; "
                       "first: %s)", ctx->ds.root, ctx->n_skipped, ctx->skipped[0].reason);
    return 0;
}

/* skip_bad: the cases that failed to build leave the dataset (listed in ctx->skipped and in
 * patchfs.json, by id); the rest serves. Keys are compacted along with the case list. */
static int set_aside_bad_cases(pf_ctx *ctx, pf_error *err)
{
    unsigned char *drop = calloc((size_t)ctx->ds.n_cases, 1);
    int k = 0;
    if (!drop)
        return pf_fail(err, ENOMEM, "out of memory");
    if (pf_resize(&ctx->skipped, (size_t)(ctx->n_skipped + ctx->cache.n_bad),
                  sizeof *ctx->skipped, err)) {
        free(drop);
        return -1;
    }
    for (int i = 0; i < ctx->cache.n_bad; i++) {
        int idx = ctx->cache.bad[i].idx;
        pf_skipped_case *s = &ctx->skipped[ctx->n_skipped + i];
        drop[idx] = 1;
        snprintf(s->id, sizeof s->id, "%s", ctx->ds.cases[idx].id);
        snprintf(s->reason, sizeof s->reason, "%s", ctx->cache.bad[i].err.msg);
    }
    ctx->n_skipped += ctx->cache.n_bad;
    /* the build finishes cases in any order: the list is by id */
    qsort(ctx->skipped, (size_t)ctx->n_skipped, sizeof *ctx->skipped, cmp_skipped);
    for (int i = 0; i < ctx->ds.n_cases; i++)
        if (!drop[i]) {
            ctx->cache.src_keys[k] = ctx->cache.src_keys[i];
            ctx->cache.base_keys[k] = ctx->cache.base_keys[i];
            ctx->cache.keys[k++] = ctx->cache.keys[i];
        }
    pf_dataset_drop_cases(&ctx->ds, drop);
    ctx->cache.n_cases = ctx->ds.n_cases;
    ctx->cache.fingerprint = XXH3_64bits(ctx->cache.keys,
                                         (size_t)ctx->ds.n_cases * sizeof *ctx->cache.keys);
    free(drop);
    if (ctx->ds.n_cases == 0)
        return pf_fail(err, EINVAL, "%s: no usable case left (all %d were set aside by skip_bad; "
                       "first: %s)", ctx->ds.root, ctx->n_skipped, ctx->skipped[0].reason);
    return 0;
}

/* The dataset's fingerprint (every case's record, built where missing), then the plan and
 * the configuration in use. Options the plan decides (batch, patch) are written back into the
 * context's options, so everything downstream reads one value. */
static int decide_geometry(pf_ctx *ctx, int threads, unsigned fp_flags,
                           pf_progress_fn progress, void *arg, pf_error *err)
{
    const int n = ctx->ds.n_cases;
    pf_case_fp *fps = pf_calloc((size_t)n, sizeof *fps, err);
    int rc = -1;
    if (!fps)
        return -1;
    if (pf_fp_all(&ctx->cache, &ctx->ds, &ctx->opt, threads, fp_flags, progress, arg, fps,
                  err) == 0 &&
        pf_geometry_decide(&ctx->geom, &ctx->opt, &ctx->ds, fps, n, err) == 0) {
        ctx->opt.batch = ctx->geom.batch;
        if (ctx->geom.patch[0]) {
            memcpy(ctx->opt.patch, ctx->geom.patch, sizeof ctx->opt.patch);
            ctx->opt.patch_2d = ctx->geom.patch_2d;
        }
        rc = 0;
    }
    for (int i = 0; i < n; i++)
        pf_case_fp_free(&fps[i]);
    free(fps);
    return rc;
}

/* Progress of the test images' build, reported as test/ID. */
typedef struct test_progress {
    pf_progress_fn fn;
    void *arg;
} test_progress;

static void report_test(void *p, int done, int total, const char *id)
{
    const test_progress *tp = p;
    char name[300];
    snprintf(name, sizeof name, "test/%s", id);
    tp->fn(tp->arg, done, total, name);
}

/* test/: the test images preprocessed like the training cases (the same spec: the plan's
 * geometry, the training set's CT statistics) into a cache folder of their own. A test case
 * that cannot be built is an error whatever skip_bad says: it is not training data to set
 * aside but an image the user asked to predict. */
static int build_test_cases(pf_ctx *ctx, int threads, unsigned flags, pf_progress_fn progress,
                            void *arg, pf_error *err)
{
    pf_options o = ctx->opt;
    test_progress tp = {progress, arg};
    int built;
    if (ctx->test_ds.n_cases == 0)
        return 0;
    o.skip_bad = 0;
    if (pf_cache_init(&ctx->test_cache, &ctx->test_ds, &o, err))
        return -1;
    pf_cache_bind_spec(&ctx->test_cache, &ctx->geom.spec);
    if (pf_cache_build(&ctx->test_cache, &ctx->test_ds, &o, threads,
                       (flags & PF_CTX_VERIFY_ALL) != 0, progress ? report_test : NULL, &tp,
                       &built, err) ||
        pf_cache_open(&ctx->test_cache, &ctx->test_ds, err))
        return -1;
    if (!(ctx->test_ids = pf_calloc((size_t)ctx->test_ds.n_cases, sizeof(char *), err)))
        return -1;
    for (int i = 0; i < ctx->test_ds.n_cases; i++)
        ctx->test_ids[i] = ctx->test_ds.cases[i].id;
    ctx->tree.n_test = ctx->test_ds.n_cases;
    ctx->tree.test_ids = ctx->test_ids;
    return 0;
}

/* A context holding its own copy of the options and the dataset's cases as a mount, the
 * fingerprint pass and a prepare shard all see them (skip_bad: without the incomplete ones),
 * so that they agree on the cases and on the fingerprint entry; NULL on error. */
static pf_ctx *ctx_with_cases(const char *dataset_dir, const pf_options *o, pf_error *err)
{
    pf_ctx *ctx = pf_calloc(1, sizeof *ctx, err);
    if (!ctx)
        return NULL;
    ctx->opt = *o;
    ctx->opt.cache_dir = NULL;
    if ((o->cache_dir && !(ctx->opt.cache_dir = pf_strdup(o->cache_dir, err))) ||
        pf_dataset_open_ex(dataset_dir, o->skip_bad ? PF_DS_KEEP_INCOMPLETE : 0, &ctx->ds,
                           err) ||
        (o->skip_bad && set_aside_incomplete_cases(ctx, err))) {
        pf_ctx_close(ctx);
        return NULL;
    }
    return ctx;
}

int pf_ctx_open(pf_ctx **out, const char *dataset_dir, const pf_options *o, unsigned flags,
                pf_progress_fn progress, void *arg, pf_error *err)
{
    int built, threads;
    pf_ctx *ctx = ctx_with_cases(dataset_dir, o, err);
    *out = NULL;
    if (!ctx)
        return -1;
    /* what the options ask of the dataset, before the cache build reads any image; the test
     * images listed (a missing channel file refused) before any is read too */
    if (pf_dataset_check_class_weights(&ctx->ds, o, err) ||
        pf_testset_open(&ctx->ds, o->infer_dir, &ctx->test_ds, err))
        goto fail;
    if (pf_cache_init(&ctx->cache, &ctx->ds, o, err))
        goto fail;
    threads = o->threads > 0 ? o->threads : 0; /* 0: one per usable core */
    /* the fingerprint (kept per case in the cache), nnU-Net's plan, the configuration: the
     * geometry every entry is preprocessed to */
    if (decide_geometry(ctx, threads, 0, progress, arg, err))
        goto fail;
    pf_cache_bind_spec(&ctx->cache, &ctx->geom.spec);
    if (pf_cache_build(&ctx->cache, &ctx->ds, &ctx->opt, threads,
                       (flags & PF_CTX_VERIFY_ALL) != 0, progress, arg, &built, err))
        goto fail;
    if (ctx->cache.n_bad && set_aside_bad_cases(ctx, err))
        goto fail;
    if (build_test_cases(ctx, threads, flags, progress, arg, err))
        goto fail;
    if (pf_split_resolve_ex(&ctx->ds, o->fold, ctx->n_skipped > 0, &ctx->split, err))
        goto fail;
    if (pf_cache_open(&ctx->cache, &ctx->ds, err))
        goto fail;
    if (pf_normalisation_set(&ctx->norm, ctx->geom.norm, ctx->ds.n_channels, ctx->ds.n_cases,
                             ctx->geom.median_relative_size, err))
        goto fail;
    if (ctx->geom.patch[0])
        memcpy(ctx->patch, ctx->geom.patch, sizeof ctx->patch);
    else if (default_patch(ctx, err))
        goto fail;
    ctx->case_ids = calloc((size_t)ctx->ds.n_cases, sizeof(char *));
    if (!ctx->case_ids) {
        pf_fail(err, ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < ctx->ds.n_cases; i++)
        ctx->case_ids[i] = ctx->ds.cases[i].id;
    ctx->tree.epochs = o->epochs;
    ctx->tree.steps = o->steps;
    ctx->tree.val_steps = o->val_steps;
    ctx->tree.n_cases = ctx->ds.n_cases;
    ctx->tree.case_ids = ctx->case_ids;
    if (pf_tiles_count(ctx, err))
        goto fail;
    /* nnU-Net's DDP split (pf_options_validate refused W > batch before any I/O; the plan's
     * batch is checked here) */
    if (pf_options_shard_span(&ctx->opt, &ctx->shard_lo, &ctx->shard_hi) != 0) {
        pf_fail(err, EINVAL, "option 'shard': a batch of %d cannot be split across %d ranks "
                "(each rank needs at least one position)", ctx->opt.batch, o->shard_world);
        goto fail;
    }
    ctx->tree.samples = (uint32_t)(ctx->shard_hi - ctx->shard_lo);
    /* deep supervision: the plan's per-axis scales (ds_scales=auto) or the given ones on
     * every axis */
    if (o->ds_auto) {
        ctx->n_ds = ctx->geom.n_ds;
        memcpy(ctx->ds_scale, ctx->geom.ds_scales, sizeof ctx->ds_scale);
    } else {
        ctx->n_ds = o->n_ds;
        for (int i = 0; i < o->n_ds && i < 16; i++)
            for (int d = 0; d < 3; d++)
                ctx->ds_scale[i][d] = o->ds_scales[i];
    }
    ctx->tree.ds_files = ctx->n_ds > 1 ? (uint32_t)(ctx->n_ds - 1) : 0;
    if (o->policy == PF_POLICY_CLASS)
        for (int sp = 0; sp < 2; sp++) {
            if (pf_class_pool_build(&ctx->pools[sp], ctx->cache.cases,
                                    sp ? ctx->split.val : ctx->split.train,
                                    sp ? ctx->split.n_val : ctx->split.n_train,
                                    o->class_weights, o->n_class_weights, err) != 0)
                goto fail;
            ctx->sampler.pools[sp] = &ctx->pools[sp];
        }
    if (o->aug)
        pf_aug_initial_patch(o, ctx->patch, ctx->sampler.aug_patch);
    ctx->sampler.policy = o->policy;
    ctx->sampler.has_ignore = ctx->ds.ignore_label >= 0;
    ctx->sampler.probabilistic = o->probabilistic;
    ctx->sampler.seed = o->seed;
    ctx->sampler.batch = ctx->opt.batch;
    ctx->sampler.oversample = o->oversample;
    memcpy(ctx->sampler.patch, ctx->patch, sizeof ctx->patch);
    ctx->sampler.cases = ctx->cache.cases;
    ctx->sampler.split_cases[0] = ctx->split.train;
    ctx->sampler.n_split_cases[0] = ctx->split.n_train;
    ctx->sampler.split_cases[1] = ctx->split.val;
    ctx->sampler.n_split_cases[1] = ctx->split.n_val;
    /* the training target: the label map, or one channel per region (and the ignore label) */
    ctx->seg_channels = pf_dataset_seg_channels(&ctx->ds);
    ctx->seg_target = ctx->ds.n_regions > 0 || o->seg_outside_zero;
    if (ctx->ds.n_regions) {
        if (!(ctx->region_masks = pf_calloc(PF_SEG_VALUES, sizeof *ctx->region_masks, err)))
            goto fail;
        pf_dataset_region_masks(&ctx->ds, ctx->region_masks);
    }
    ctx->readme = pf_text_readme(ctx);
    ctx->patchfs_json = pf_text_patchfs_json(ctx);
    ctx->splits_json = pf_text_splits_json(ctx);
    if (!ctx->readme || !ctx->patchfs_json || !ctx->splits_json) {
        pf_fail(err, ENOMEM, "out of memory");
        goto fail;
    }
    *out = ctx;
    return 0;
fail:
    pf_ctx_close(ctx);
    return -1;
}

int pf_plan_dataset(const char *dataset_dir, const pf_options *o, pf_progress_fn progress,
                    void *arg, char **json, pf_error *err)
{
    /* the cases as a mount or a prepare shard sees them, so that the fingerprint entry this
     * leaves is the one they look for */
    pf_ctx *ctx = ctx_with_cases(dataset_dir, o, err);
    int rc = -1;
    *json = NULL;
    if (!ctx)
        return -1;
    if (pf_cache_init(&ctx->cache, &ctx->ds, o, err) ||
        decide_geometry(ctx, o->threads > 0 ? o->threads : 0, 0, progress, arg, err))
        goto out;
    if (!(*json = pf_strdup(ctx->geom.plans_json, err)))
        goto out;
    rc = 0;
out:
    pf_ctx_close(ctx);
    return rc;
}

int pf_prepare_shard(const char *dataset_dir, const pf_options *o, int rank, int world,
                     pf_progress_fn progress, void *arg, pf_shard_result *r, pf_error *err)
{
    pf_ctx *ctx = ctx_with_cases(dataset_dir, o, err);
    int rc = -1;
    memset(r, 0, sizeof *r);
    if (!ctx)
        return -1;
    if (pf_options_check_classes(o, ctx->ds.label_values, ctx->ds.n_labels, err) ||
        pf_cache_init(&ctx->cache, &ctx->ds, o, err))
        goto out;
    /* the plan needs every case's fingerprint: read from its entry, never built here (W
     * builders would each decode the whole dataset) */
    if (decide_geometry(ctx, o->threads > 0 ? o->threads : 0, PF_FP_ENTRY_ONLY, progress, arg,
                        err))
        goto out;
    pf_cache_bind_spec(&ctx->cache, &ctx->geom.spec);
    ctx->cache.build_rank = rank;
    ctx->cache.build_world = world;
    if (pf_cache_build(&ctx->cache, &ctx->ds, &ctx->opt, o->threads > 0 ? o->threads : 0, 1,
                       progress, arg, &r->built, err))
        goto out;
    r->n_cases = ctx->ds.n_cases;
    for (int i = 0; i < ctx->ds.n_cases; i++)
        r->share += i % world == rank;
    r->set_aside = ctx->cache.n_bad + ctx->n_skipped;
    snprintf(r->dir, sizeof r->dir, "%s", ctx->cache.dir);
    rc = 0;
out:
    pf_ctx_close(ctx);
    return rc;
}

void pf_ctx_close(pf_ctx *ctx)
{
    if (!ctx)
        return;
    pf_class_pool_free(&ctx->pools[0]);
    pf_class_pool_free(&ctx->pools[1]);
    pf_cache_close(&ctx->cache);
    pf_cache_close(&ctx->test_cache);
    pf_dataset_free(&ctx->test_ds);
    free(ctx->test_ids);
    free(ctx->tile_counts[0]);
    free(ctx->tile_counts[1]);
    pf_split_free(&ctx->split);
    pf_dataset_free(&ctx->ds);
    pf_options_free(&ctx->opt);
    pf_normalisation_free(&ctx->norm);
    pf_geometry_free(&ctx->geom);
    free(ctx->case_ids);
    free(ctx->region_masks);
    free(ctx->skipped);
    free(ctx->readme);
    free(ctx->patchfs_json);
    free(ctx->splits_json);
    free(ctx);
}

const pf_tree *pf_ctx_tree(const pf_ctx *ctx)
{
    return &ctx->tree;
}

const pf_options *pf_ctx_options(const pf_ctx *ctx)
{
    return &ctx->opt;
}

const char *pf_ctx_dataset_name(const pf_ctx *ctx)
{
    return ctx->ds.name;
}

const char *pf_ctx_cache_dir(const pf_ctx *ctx)
{
    return ctx->cache.dir;
}

int pf_ctx_n_cases(const pf_ctx *ctx)
{
    return ctx->ds.n_cases;
}

int pf_ctx_n_test(const pf_ctx *ctx)
{
    return ctx->test_ds.n_cases;
}

const char *pf_ctx_test_cache_dir(const pf_ctx *ctx)
{
    return ctx->test_cache.dir;
}

uint64_t pf_ctx_case_bytes(const pf_ctx *ctx)
{
    uint64_t sum = 0;
    for (int i = 0; i < ctx->cache.n_cases; i++) {
        const pf_case_map *m = ctx->cache.cases ? pf_case_map_get(&ctx->cache.cases[i]) : NULL;
        sum += m ? m->len : 0;
    }
    return sum;
}

void pf_ctx_keep_cases(pf_ctx *ctx, size_t bytes)
{
    (void)ctx;
    pf_case_keep_budget(bytes);
}

int pf_ctx_n_skipped(const pf_ctx *ctx)
{
    return ctx->n_skipped;
}

void pf_ctx_skipped(const pf_ctx *ctx, int i, const char **id, const char **reason)
{
    *id = ctx->skipped[i].id;
    *reason = ctx->skipped[i].reason;
}

int pf_ctx_case_geometry(const pf_ctx *ctx, const char *id, pf_case_geometry *out,
                         pf_error *err)
{
    const int idx = pf_dataset_find_case(&ctx->ds, id);
    const pf_case_header *h;
    const pf_plan_config *c = ctx->geom.config;
    if (idx < 0)
        return pf_fail(err, ENOENT, "case '%s' is not a case of %s (see cases/ of a mount)", id,
                       ctx->ds.name);
    h = &ctx->cache.cases[idx].hdr;
    memset(out, 0, sizeof *out);
    for (int d = 0; d < 3; d++) {
        out->shape[d] = h->shape[d];
        out->shape_before_crop[d] = h->orig_shape[d];
        out->crop_lo[d] = h->crop_lo[d];
        out->crop_shape[d] = h->crop_shape[d];
        out->spacing[d] = h->spacing[d];
        out->src_spacing[d] = h->src_spacing[d];
        out->transpose[d] = h->transpose[d];
    }
    /* nnU-Net's default kwargs when no plan configuration is in use (spacing=native has no
     * resampling to undo, so they never act there) */
    out->prob_order = c ? c->resampling_probabilities.order : 1;
    out->prob_order_z = c ? c->resampling_probabilities.order_z : 0;
    out->prob_force_separate_z = c ? c->resampling_probabilities.force_separate_z : -1;
    out->seg_order = ctx->geom.spec.seg_order;
    out->seg_order_z = ctx->geom.spec.seg_order_z;
    out->image = ctx->ds.cases[idx].images[0];
    out->label = ctx->ds.cases[idx].label;
    return 0;
}

void pf_ctx_labels(const pf_ctx *ctx, const int **values, int *n, int *ignore_label)
{
    *values = ctx->ds.label_values;
    *n = ctx->ds.n_labels;
    *ignore_label = ctx->ds.ignore_label;
}

int pf_ctx_regions(const pf_ctx *ctx, const int **class_order)
{
    *class_order = ctx->ds.regions_class_order;
    return ctx->ds.n_regions;
}

const char *pf_ctx_file_ending(const pf_ctx *ctx)
{
    return ctx->ds.file_ending;
}

const char *pf_ctx_case_id(const pf_ctx *ctx, int i)
{
    return ctx->ds.cases[i].id;
}

int pf_ctx_n_val(const pf_ctx *ctx)
{
    return ctx->split.n_val;
}

const char *pf_ctx_val_id(const pf_ctx *ctx, int i)
{
    return ctx->ds.cases[ctx->split.val[i]].id;
}
