/* files.c - the file table: for every kind of file, how its size is known and how its bytes
 * are made (see files.h). The one dispatch on file kinds: sizes, generation, the FUSE layer's
 * caching and prefetch decisions all read this table. */
#include "patchfs/files.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bufpool.h"
#include "context_i.h"
#include "export.h"
#include "preview.h"
#include "render.h"
#include "summary.h"
#include "texts.h"
#include "tiles.h"

typedef int (*size_fn)(pf_ctx *ctx, const pf_node *n, uint64_t *size, pf_error *err);
typedef int (*make_fn)(pf_ctx *ctx, const pf_node *n, char **buf, size_t *len, pf_error *err);

typedef struct file_type {
    pf_file_kind kind;
    unsigned flags;          /* PF_FILE_ARRAY, PF_FILE_LIVE */
    size_fn size;            /* NULL: the size is the length of what make gives (small text,
                                no pixels: README, JSON files) */
    make_fn make;
} file_type;

/* ---- texts made once when the context opened ---- */

static const char *kept_text(const pf_ctx *ctx, pf_file_kind f)
{
    return f == PF_FILE_README ? ctx->readme
         : f == PF_FILE_PATCHFS_JSON ? ctx->patchfs_json
         : f == PF_FILE_PLANS_JSON ? ctx->geom.plans_json : ctx->splits_json;
}

static int text_result(char *s, char **buf, size_t *len, pf_error *err)
{
    if (!s)
        return pf_fail(err, ENOMEM, "out of memory");
    *buf = s;
    *len = strlen(s);
    return 0;
}

static int make_kept(pf_ctx *ctx, const pf_node *n, char **buf, size_t *len, pf_error *err)
{
    return text_result(strdup(kept_text(ctx, pf_node_file(n))), buf, len, err);
}

static int size_kept(pf_ctx *ctx, const pf_node *n, uint64_t *size, pf_error *err)
{
    (void)err;
    *size = strlen(kept_text(ctx, pf_node_file(n)));
    return 0;
}

static int make_status(pf_ctx *ctx, const pf_node *n, char **buf, size_t *len, pf_error *err)
{
    pf_status zeros;
    (void)ctx;
    (void)n;
    memset(&zeros, 0, sizeof zeros);
    return text_result(pf_status_json(&zeros), buf, len, err);
}

static int make_summary(pf_ctx *ctx, const pf_node *n, char **buf, size_t *len, pf_error *err)
{
    pf_summary_input in = {
        .sampler = &ctx->sampler, .cases = ctx->cache.cases, .ds = &ctx->ds,
        .split_cases = n->split ? ctx->split.val : ctx->split.train,
        .n_split_cases = n->split ? ctx->split.n_val : ctx->split.n_train,
        .batch = ctx->opt.batch, .steps = n->split ? ctx->opt.val_steps : ctx->opt.steps,
        .lo = ctx->shard_lo, .hi = ctx->shard_hi};
    json_t *j = pf_epoch_summary(&in, (pf_split)n->split, n->epoch);
    return text_result(j ? pf_text_dump(j) : NULL, buf, len, err);
}

static int make_meta(pf_ctx *ctx, const pf_node *n, char **buf, size_t *len, pf_error *err)
{
    if (pf_make_meta(ctx, n, 1, buf, err) != 0)
        return -1;
    *len = strlen(*buf);
    return 0;
}

static int make_properties(pf_ctx *ctx, const pf_node *n, char **buf, size_t *len,
                           pf_error *err)
{
    return text_result(pf_text_properties_json(ctx, n->split, n->case_idx), buf, len, err);
}

/* ---- sizes from formulas ---- */

static int size_step_array(pf_ctx *ctx, const pf_node *n, uint64_t *size, pf_error *err)
{
    int64_t shape[5];
    int nd = pf_render_step_shape(ctx, n, shape);
    (void)err;
    *size = pf_npy_file_size(n->slot == 0 ? PF_DT_F4 : PF_DT_I2, nd, shape);
    return 0;
}

static int size_step_ds(pf_ctx *ctx, const pf_node *n, uint64_t *size, pf_error *err)
{
    int64_t shape[5];
    int nd, ds[3];
    (void)err;
    pf_render_ds_shape(ctx, n, shape, &nd, ds);
    *size = pf_npy_file_size(PF_DT_I2, nd, shape);
    return 0;
}

static int size_case_array(pf_ctx *ctx, const pf_node *n, uint64_t *size, pf_error *err)
{
    int64_t shape[4];
    const int data = pf_node_file(n) == PF_FILE_CASE_DATA;
    (void)err;
    pf_render_case_shape(ctx, n->split, n->case_idx, data, shape);
    *size = pf_npy_file_size(data ? PF_DT_F4 : PF_DT_I2, 4, shape);
    return 0;
}

/* meta.json: digests are fixed width, so zeros give the size without pixels */
static int size_meta(pf_ctx *ctx, const pf_node *n, uint64_t *size, pf_error *err)
{
    char *buf;
    if (pf_make_meta(ctx, n, 0, &buf, err) != 0)
        return -1;
    *size = strlen(buf);
    free(buf);
    return 0;
}

static int size_step_preview(pf_ctx *ctx, const pf_node *n, uint64_t *size, pf_error *err)
{
    (void)n;
    return pf_preview_png_size(ctx->shard_hi - ctx->shard_lo, ctx->ds.n_channels, ctx->patch[1],
                               ctx->patch[2], size, err);
}

static int size_case_preview(pf_ctx *ctx, const pf_node *n, uint64_t *size, pf_error *err)
{
    const pf_case_header *h = &pf_ctx_cache_of(ctx, n->split)->cases[n->case_idx].hdr;
    return pf_preview_png_size(1, ctx->ds.n_channels, (int)h->shape[1], (int)h->shape[2], size,
                               err);
}

static int size_sample_nifti(pf_ctx *ctx, const pf_node *n, uint64_t *size, pf_error *err)
{
    int64_t p3[3] = {ctx->patch[0], ctx->patch[1], ctx->patch[2]};
    (void)err;
    *size = pf_nifti_patch_size(ctx->ds.n_channels,
                                pf_node_file(n) == PF_FILE_SAMPLE_LABEL_NII, p3);
    return 0;
}

/* ---- the table ---- */

static const file_type table[PF_FILE_KINDS] = {
    [PF_FILE_README]           = {PF_FILE_README, 0, size_kept, make_kept},
    [PF_FILE_PATCHFS_JSON]     = {PF_FILE_PATCHFS_JSON, 0, size_kept, make_kept},
    [PF_FILE_SPLITS_JSON]      = {PF_FILE_SPLITS_JSON, 0, size_kept, make_kept},
    [PF_FILE_STATUS]           = {PF_FILE_STATUS, PF_FILE_LIVE, NULL, make_status},
    [PF_FILE_PLANS_JSON]       = {PF_FILE_PLANS_JSON, 0, size_kept, make_kept},
    [PF_FILE_SUMMARY]          = {PF_FILE_SUMMARY, 0, NULL, make_summary},
    [PF_FILE_STEP_DATA]        = {PF_FILE_STEP_DATA, PF_FILE_ARRAY, size_step_array,
                                  pf_make_step_array},
    [PF_FILE_STEP_SEG]         = {PF_FILE_STEP_SEG, PF_FILE_ARRAY, size_step_array,
                                  pf_make_step_array},
    [PF_FILE_STEP_META]        = {PF_FILE_STEP_META, 0, size_meta, make_meta},
    [PF_FILE_STEP_PREVIEW]     = {PF_FILE_STEP_PREVIEW, 0, size_step_preview, pf_make_preview},
    [PF_FILE_STEP_SEG_DS]      = {PF_FILE_STEP_SEG_DS, PF_FILE_ARRAY, size_step_ds,
                                  pf_make_step_ds},
    [PF_FILE_SAMPLE_DATA]      = {PF_FILE_SAMPLE_DATA, PF_FILE_ARRAY, size_step_array,
                                  pf_make_step_array},
    [PF_FILE_SAMPLE_SEG]       = {PF_FILE_SAMPLE_SEG, PF_FILE_ARRAY, size_step_array,
                                  pf_make_step_array},
    [PF_FILE_SAMPLE_IMAGE_NII] = {PF_FILE_SAMPLE_IMAGE_NII, 0, size_sample_nifti,
                                  pf_make_sample_nifti},
    [PF_FILE_SAMPLE_LABEL_NII] = {PF_FILE_SAMPLE_LABEL_NII, 0, size_sample_nifti,
                                  pf_make_sample_nifti},
    [PF_FILE_CASE_DATA]        = {PF_FILE_CASE_DATA, PF_FILE_ARRAY, size_case_array,
                                  pf_make_case_array},
    [PF_FILE_CASE_SEG]         = {PF_FILE_CASE_SEG, PF_FILE_ARRAY, size_case_array,
                                  pf_make_case_array},
    [PF_FILE_CASE_PROPERTIES]  = {PF_FILE_CASE_PROPERTIES, 0, NULL, make_properties},
    [PF_FILE_CASE_PREVIEW]     = {PF_FILE_CASE_PREVIEW, 0, size_case_preview, pf_make_preview},
    [PF_FILE_GAUSSIAN]         = {PF_FILE_GAUSSIAN, PF_FILE_ARRAY, pf_size_gaussian,
                                  pf_make_gaussian},
    [PF_FILE_CASE_TILES_JSON]  = {PF_FILE_CASE_TILES_JSON, 0, NULL, pf_make_tiles_json},
    [PF_FILE_TILE_DATA]        = {PF_FILE_TILE_DATA, PF_FILE_ARRAY, pf_size_tile, pf_make_tile},
};

static const file_type *type_of(const pf_node *n, pf_error *err)
{
    pf_file_kind f = pf_node_file(n);
    if (f <= PF_FILE_NONE || f >= PF_FILE_KINDS || !table[f].make) {
        pf_fail(err, EISDIR, "not a file");
        return NULL;
    }
    return &table[f];
}

unsigned pf_file_flags(pf_file_kind f)
{
    return f > PF_FILE_NONE && f < PF_FILE_KINDS ? table[f].flags : 0;
}

int pf_file_size(pf_ctx *ctx, const pf_node *n, uint64_t *size, pf_error *err)
{
    const file_type *t = type_of(n, err);
    char *buf;
    size_t len;
    if (!t)
        return -1;
    if (t->size)
        return t->size(ctx, n, size, err);
    if (t->make(ctx, n, &buf, &len, err) != 0)
        return -1;
    pf_file_release(buf);
    *size = len;
    return 0;
}

int pf_produce(pf_ctx *ctx, const pf_node *n, char **buf, size_t *len, pf_error *err)
{
    const file_type *t = type_of(n, err);
    return t ? t->make(ctx, n, buf, len, err) : -1;
}

void pf_file_release(char *buf)
{
    pf_pool_release(buf);
}
