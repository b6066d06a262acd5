/* files.c - the file table: for every kind of file, how its size is known and how its bytes
 * are made (see files.h). The one dispatch on file kinds: sizes, generation, the FUSE layer's
 * caching and prefetch decisions all read this table. */
#include "patchfs/files.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bufpool.h"
#include "context_i.h"
#include "export.h"
#include "npz.h"
#include "preview.h"
#include "render.h"
#include "summary.h"
#include "texts.h"
#include "tiles.h"

typedef int (*size_fn)(pf_ctx *ctx, const pf_node *n, uint64_t *size, pf_error *err);
typedef int (*make_fn)(pf_ctx *ctx, const pf_node *n, char **buf, size_t *len, pf_error *err);
typedef int (*from_fn)(pf_ctx *ctx, const pf_node *n, const pf_input *in, char **buf,
                       size_t *len, pf_error *err);

typedef struct file_type {
    pf_file_kind kind;
    unsigned flags;          /* PF_FILE_ARRAY, PF_FILE_LIVE */
    size_fn size;            /* NULL: the size is the length of what make gives (small text,
                                no pixels: README, JSON files) */
    make_fn make;            /* made from pixels (or texts) */
    from_fn from;            /* or made from other files' bytes (pf_file_inputs) */
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

/* summary.json reads the split's stored locations (the sampler's forced positions, the boxes'
 * classes) from the mappings: every case bracketed as a renderer's read (render.h), so a
 * truncated or failing entry fails the read instead of counting zeros */
static int make_summary(pf_ctx *ctx, const pf_node *n, char **buf, size_t *len, pf_error *err)
{
    pf_summary_input in = {
        .sampler = &ctx->sampler, .cases = ctx->cache.cases, .ds = &ctx->ds,
        .split_cases = n->split ? ctx->split.val : ctx->split.train,
        .n_split_cases = n->split ? ctx->split.n_val : ctx->split.n_train,
        .batch = ctx->opt.batch, .steps = n->split ? ctx->opt.val_steps : ctx->opt.steps,
        .lo = ctx->shard_lo, .hi = ctx->shard_hi};
    unsigned *token = calloc((size_t)in.n_split_cases + 1, sizeof *token);
    json_t *j = NULL;
    int rc = -1;
    if (!token)
        return pf_fail(err, ENOMEM, "out of memory");
    for (int i = 0; i < in.n_split_cases; i++)
        if (pf_render_read_begin(ctx, 0, in.split_cases[i], 0, &token[i], err))
            goto out;
    if (!(j = pf_epoch_summary(&in, (pf_split)n->split, n->epoch))) {
        pf_fail(err, ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < in.n_split_cases; i++)
        if (pf_render_read_end(ctx, 0, in.split_cases[i], token[i], err))
            goto out;
    rc = text_result(pf_text_dump(j), buf, len, err); /* j released */
    j = NULL;
out:
    json_decref(j);
    free(token);
    return rc;
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
    *size = pf_npy_file_size(n->slot == 0 ? pf_render_data_dtype(ctx) : PF_DT_I2, nd, shape);
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
    *size = pf_npy_file_size(data ? pf_render_data_dtype(ctx) : PF_DT_I2, 4, shape);
    return 0;
}

/* ---- files made from other files: seg_dsK.npy from seg.npy, batch.npz from the arrays ---- */

/* batch.npz's members: data.npy, seg.npy, seg_ds1.npy, ... (the step folder's arrays) */
static int batch_members(const pf_ctx *ctx, const pf_node *n, pf_node *in, char names[][24])
{
    int k = 0;
    pf_node_sibling(n, PF_FILE_STEP_DATA, &in[k]);
    snprintf(names[k++], 24, "data.npy");
    pf_node_sibling(n, PF_FILE_STEP_SEG, &in[k]);
    snprintf(names[k++], 24, "seg.npy");
    for (int d = 1; d < ctx->n_ds; d++) {
        in[k] = *n;
        in[k].slot = PF_FOLDER_FILES + (uint32_t)d - 1;
        snprintf(names[k++], 24, "seg_ds%d.npy", d);
    }
    return k;
}

int pf_file_inputs(pf_ctx *ctx, const pf_node *n, pf_node in[PF_MAX_INPUTS])
{
    char names[PF_MAX_INPUTS][24];
    switch (pf_node_file(n)) {
    case PF_FILE_STEP_SEG_DS: return pf_node_sibling(n, PF_FILE_STEP_SEG, &in[0]) == 0 ? 1 : 0;
    case PF_FILE_STEP_BATCH: return batch_members(ctx, n, in, names);
    default: return 0;
    }
}

static int make_ds_from(pf_ctx *ctx, const pf_node *n, const pf_input *in, char **buf,
                        size_t *len, pf_error *err)
{
    return pf_make_step_ds_from(ctx, n, in[0].data, in[0].len, buf, len, err);
}

static int size_batch(pf_ctx *ctx, const pf_node *n, uint64_t *size, pf_error *err)
{
    pf_node in[PF_MAX_INPUTS];
    char names[PF_MAX_INPUTS][24];
    pf_npz_member m[PF_MAX_INPUTS];
    const int k = batch_members(ctx, n, in, names);
    for (int i = 0; i < k; i++) {
        m[i].name = names[i];
        m[i].data = NULL;
        if (pf_file_size(ctx, &in[i], &m[i].len, err) != 0)
            return -1;
    }
    *size = pf_npz_size(m, k);
    return 0;
}

static int make_batch_from(pf_ctx *ctx, const pf_node *n, const pf_input *in, char **buf,
                           size_t *len, pf_error *err)
{
    pf_node nodes[PF_MAX_INPUTS];
    char names[PF_MAX_INPUTS][24];
    pf_npz_member m[PF_MAX_INPUTS];
    const int k = batch_members(ctx, n, nodes, names);
    uint64_t size;
    for (int i = 0; i < k; i++) {
        m[i].name = names[i];
        m[i].data = in[i].data;
        m[i].len = in[i].len;
    }
    size = pf_npz_size(m, k);
    if (size > SIZE_MAX || !(*buf = pf_pool_alloc((size_t)size)))
        return pf_fail(err, ENOMEM, "out of memory for a %llu-byte batch.npz",
                       (unsigned long long)size);
    *len = (size_t)size;
    if (pf_npz_write(*buf, m, k, ctx->opt.sample_threads, err) != 0) {
        pf_pool_release(*buf);
        return -1;
    }
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
    [PF_FILE_README]           = {PF_FILE_README, 0, size_kept, make_kept, NULL},
    [PF_FILE_PATCHFS_JSON]     = {PF_FILE_PATCHFS_JSON, 0, size_kept, make_kept, NULL},
    [PF_FILE_SPLITS_JSON]      = {PF_FILE_SPLITS_JSON, 0, size_kept, make_kept, NULL},
    [PF_FILE_STATUS]           = {PF_FILE_STATUS, PF_FILE_LIVE, NULL, make_status, NULL},
    [PF_FILE_PLANS_JSON]       = {PF_FILE_PLANS_JSON, 0, size_kept, make_kept, NULL},
    [PF_FILE_SUMMARY]          = {PF_FILE_SUMMARY, 0, NULL, make_summary, NULL},
    [PF_FILE_STEP_DATA]        = {PF_FILE_STEP_DATA, PF_FILE_ARRAY, size_step_array,
                                  pf_make_step_array, NULL},
    [PF_FILE_STEP_SEG]         = {PF_FILE_STEP_SEG, PF_FILE_ARRAY, size_step_array,
                                  pf_make_step_array, NULL},
    [PF_FILE_STEP_META]        = {PF_FILE_STEP_META, 0, size_meta, make_meta, NULL},
    [PF_FILE_STEP_PREVIEW]     = {PF_FILE_STEP_PREVIEW, 0, size_step_preview, pf_make_preview,
                                  NULL},
    [PF_FILE_STEP_SEG_DS]      = {PF_FILE_STEP_SEG_DS, PF_FILE_ARRAY, size_step_ds, NULL,
                                  make_ds_from},
    [PF_FILE_STEP_BATCH]       = {PF_FILE_STEP_BATCH, PF_FILE_ARRAY, size_batch, NULL,
                                  make_batch_from},
    [PF_FILE_SAMPLE_DATA]      = {PF_FILE_SAMPLE_DATA, PF_FILE_ARRAY, size_step_array,
                                  pf_make_step_array, NULL},
    [PF_FILE_SAMPLE_SEG]       = {PF_FILE_SAMPLE_SEG, PF_FILE_ARRAY, size_step_array,
                                  pf_make_step_array, NULL},
    [PF_FILE_SAMPLE_IMAGE_NII] = {PF_FILE_SAMPLE_IMAGE_NII, 0, size_sample_nifti,
                                  pf_make_sample_nifti, NULL},
    [PF_FILE_SAMPLE_LABEL_NII] = {PF_FILE_SAMPLE_LABEL_NII, 0, size_sample_nifti,
                                  pf_make_sample_nifti, NULL},
    [PF_FILE_CASE_DATA]        = {PF_FILE_CASE_DATA, PF_FILE_ARRAY, size_case_array,
                                  pf_make_case_array, NULL},
    [PF_FILE_CASE_SEG]         = {PF_FILE_CASE_SEG, PF_FILE_ARRAY, size_case_array,
                                  pf_make_case_array, NULL},
    [PF_FILE_CASE_PROPERTIES]  = {PF_FILE_CASE_PROPERTIES, 0, NULL, make_properties, NULL},
    [PF_FILE_CASE_PREVIEW]     = {PF_FILE_CASE_PREVIEW, 0, size_case_preview, pf_make_preview,
                                  NULL},
    [PF_FILE_GAUSSIAN]         = {PF_FILE_GAUSSIAN, PF_FILE_ARRAY, pf_size_gaussian,
                                  pf_make_gaussian, NULL},
    [PF_FILE_CASE_TILES_JSON]  = {PF_FILE_CASE_TILES_JSON, 0, NULL, pf_make_tiles_json, NULL},
    [PF_FILE_TILE_DATA]        = {PF_FILE_TILE_DATA, PF_FILE_ARRAY, pf_size_tile, pf_make_tile,
                                  NULL},
};

static const file_type *type_of(const pf_node *n, pf_error *err)
{
    pf_file_kind f = pf_node_file(n);
    if (f <= PF_FILE_NONE || f >= PF_FILE_KINDS || (!table[f].make && !table[f].from)) {
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
    if (pf_produce(ctx, n, &buf, &len, err) != 0)
        return -1;
    pf_file_release(buf);
    *size = len;
    return 0;
}

int pf_produce_from(pf_ctx *ctx, const pf_node *n, const pf_input *in, char **buf, size_t *len,
                    pf_error *err)
{
    const file_type *t = type_of(n, err);
    if (!t)
        return -1;
    if (!t->from)
        return pf_fail(err, EINVAL, "not a file made from other files");
    return t->from(ctx, n, in, buf, len, err);
}

/* The inputs of n, made here: an input whose own inputs are among those already made is made
 * from them (batch.npz's seg_dsK.npy from its seg.npy: the segmentation rendered once). */
int pf_produce(pf_ctx *ctx, const pf_node *n, char **buf, size_t *len, pf_error *err)
{
    const file_type *t = type_of(n, err);
    pf_node in[PF_MAX_INPUTS];
    pf_input made[PF_MAX_INPUTS];
    int k, done = 0, rc = -1;
    if (!t)
        return -1;
    if (t->make)
        return t->make(ctx, n, buf, len, err);
    k = pf_file_inputs(ctx, n, in);
    for (; done < k; done++) {
        pf_node sub[PF_MAX_INPUTS];
        pf_input from[PF_MAX_INPUTS];
        const int ks = pf_file_inputs(ctx, &in[done], sub);
        int found = 0;
        for (int i = 0; i < ks; i++)
            for (int m = 0; m < done; m++)
                if (pf_node_ino(&sub[i]) == pf_node_ino(&in[m])) {
                    from[i] = made[m];
                    found++;
                    break;
                }
        if (ks > 0 && found == ks
                ? pf_produce_from(ctx, &in[done], from, (char **)&made[done].data,
                                  &made[done].len, err) != 0
                : pf_produce(ctx, &in[done], (char **)&made[done].data, &made[done].len,
                             err) != 0)
            goto out;
    }
    rc = pf_produce_from(ctx, n, made, buf, len, err);
out:
    for (int i = 0; i < done; i++)
        pf_file_release((char *)made[i].data);
    return rc;
}

/* data.npy's masking needs each position's label map as served (mirrored, like the image it
 * masks), of which it uses only the sign (< 0: outside the case). The step's seg.npy holds it,
 * and with -1 outside (seg_outside default) its channel 0 keeps that sign for labels and
 * regions alike; with seg_outside=0 it is lost, and data.npy renders the label maps itself. */
int pf_file_helper(pf_ctx *ctx, const pf_node *n, pf_node *helper)
{
    if (pf_node_file(n) != PF_FILE_STEP_DATA || !pf_render_needs_mask(ctx, n) ||
        ctx->opt.seg_outside_zero)
        return 0;
    return pf_node_sibling(n, PF_FILE_STEP_SEG, helper) == 0;
}

int pf_produce_helped(pf_ctx *ctx, const pf_node *n, const pf_input *helper, char **buf,
                      size_t *len, pf_error *err)
{
    const size_t per = pf_render_patch_voxels(ctx) * (size_t)ctx->seg_channels;
    const size_t body = per * (size_t)(ctx->shard_hi - ctx->shard_lo) * sizeof(int16_t);
    if (helper->len < body)
        return pf_fail(err, EINVAL, "seg.npy of %zu bytes: not this step's", helper->len);
    /* each position's channel 0 where seg.npy has it (the array's data end the file): no copy */
    return pf_make_step_data_masked(
        ctx, n, (const int16_t *)(const void *)(helper->data + (helper->len - body)), per, buf,
        len, err);
}

void pf_file_release(char *buf)
{
    pf_pool_release(buf);
}
