/* render.c - the arrays of the tree: a step's (or one sample's) data.npy and seg.npy, the
 * deep-supervision targets, whole cases, and the per-sample digests meta.json lists. The one place a
 * sample's pixels are made (see render.h). */
#include "render.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "bufpool.h"
#include "half.h"
#include "npy.h"
#include "seg_target.h"
#include "workers.h"

/* Shape of a step array (B, C, Z, Y, X) or of one sample (C, Z, Y, X); 2D configurations
 * drop Z. Returns the number of dimensions. */
int pf_render_step_shape(const pf_ctx *ctx, const pf_node *n, int64_t shape[5])
{
    int k = 0;
    if (n->kind == PF_NODE_STEP_FILE)
        shape[k++] = ctx->shard_hi - ctx->shard_lo;
    shape[k++] = n->slot == 0 ? ctx->ds.n_channels : ctx->seg_channels; /* data, else seg */
    for (int d = ctx->opt.patch_2d ? 1 : 0; d < 3; d++)
        shape[k++] = ctx->patch[d];
    return k;
}

pf_dtype pf_render_data_dtype(const pf_ctx *ctx)
{
    return ctx->opt.data_f16 ? PF_DT_F2 : PF_DT_F4;
}

/* dtype=float16: n floats of src (rendered in float32) into dst as half floats, on the pool. */
typedef struct half_job {
    uint16_t *dst;
    const float *src;
    size_t n, per;
} half_job;

static int half_unit(void *arg, int u, pf_error *err)
{
    half_job *j = arg;
    const size_t lo = (size_t)u * j->per, hi = lo + j->per < j->n ? lo + j->per : j->n;
    (void)err;
    pf_half_from_floats(j->dst + lo, j->src + lo, hi - lo);
    return 0;
}

static int to_half(const pf_ctx *ctx, uint16_t *dst, const float *src, size_t n, pf_error *err)
{
    half_job j = {.dst = dst, .src = src, .n = n, .per = (size_t)1 << 20};
    return pf_parallel_for(0, (int)((n + j.per - 1) / j.per), ctx->opt.sample_threads, half_unit,
                           &j, err);
}

void pf_render_case_shape(const pf_ctx *ctx, uint32_t split, uint32_t idx, int data,
                          int64_t shape[4])
{
    const pf_case_header *h = &pf_ctx_cache_of_c(ctx, split)->cases[idx].hdr;
    shape[0] = data ? h->n_channels : 1;
    for (int d = 0; d < 3; d++)
        shape[1 + d] = h->shape[d];
}

char *pf_render_alloc_npy(pf_dtype t, int ndim, const int64_t *shape, size_t *len, size_t *hdr,
                       pf_error *err)
{
    char *buf;
    *len = (size_t)pf_npy_file_size(t, ndim, shape);
    buf = pf_pool_alloc(*len);
    if (!buf) {
        pf_fail(err, ENOMEM, "out of memory for a %zu-byte file", *len);
        return NULL;
    }
    *hdr = pf_npy_header(buf, *len, t, ndim, shape);
    return buf;
}

/* A guarded read of a case's mapped data (cache.h): pixels read between read_begin and a
 * successful read_end are the entry's, never zeros from a fault guard's patch. An entry
 * truncated or failing while mapped fails that read with EIO (the mount logs and counts it),
 * and the next use rebuilds it (pf_render_use_case). */
static int unreadable_in(const pf_ctx *ctx, uint32_t split, int idx, pf_error *err)
{
    const pf_case *c = &pf_ctx_cache_of_c(ctx, split)->cases[idx];
    return pf_fail(err, EIO, "%s: cache entry of case %s failed while mapped (truncated, or an "
                   "I/O error): not served; the next use rebuilds it", c->path, c->hdr.id);
}

static int unreadable(const pf_ctx *ctx, int idx, pf_error *err)
{
    return unreadable_in(ctx, 0, idx, err);
}

int pf_render_read_begin(pf_ctx *ctx, uint32_t split, int idx, int pixels, unsigned *token,
                         pf_error *err)
{
    pf_case *c = &pf_ctx_cache_of(ctx, split)->cases[idx];
    /* a case that failed in an earlier read is rebuilt here (its next use); one found shorter
     * than it was, or failing from here on, fails this read. Locations only: no image digest */
    if (pixels ? pf_render_use_case_in(ctx, split, idx, err)
               : (!pf_case_sound(c) && pf_render_use_case_in(ctx, split, idx, err)) ||
                     (pf_case_check_size(c) && unreadable_in(ctx, split, idx, err)))
        return -1;
    return pf_case_read_begin(c, token) == 0 ? 0 : unreadable_in(ctx, split, idx, err);
}

int pf_render_read_end(const pf_ctx *ctx, uint32_t split, int idx, unsigned token,
                       pf_error *err)
{
    return pf_case_read_end(&pf_ctx_cache_of_c(ctx, split)->cases[idx], token) == 0
               ? 0 : unreadable_in(ctx, split, idx, err);
}

int pf_render_read_case(pf_ctx *ctx, uint32_t split, int idx, const int64_t start[3],
                        const int size[3], float *img, int16_t *seg, pf_error *err)
{
    pf_case *c = &pf_ctx_cache_of(ctx, split)->cases[idx];
    /* normalisation happened in the cache: extraction applies the identity, the same for
     * every case (test cases use the first case's) */
    const size_t norm = split ? 0 : (size_t)idx * (size_t)ctx->ds.n_channels;
    unsigned token;
    if (pf_render_read_begin(ctx, split, idx, 1, &token, err))
        return -1;
    if (img)
        pf_extract_image(c, &ctx->norm.cases[norm], start, size, img);
    if (seg)
        pf_extract_seg(c, start, size, seg);
    return pf_render_read_end(ctx, split, idx, token, err);
}

int pf_make_case_array(pf_ctx *ctx, const pf_node *n, char **out, size_t *len, pf_error *err)
{
    const pf_case *c = &pf_ctx_cache_of(ctx, n->split)->cases[n->case_idx];
    const int data = pf_node_file(n) == PF_FILE_CASE_DATA;
    const pf_dtype t = data ? pf_render_data_dtype(ctx) : PF_DT_I2;
    int64_t shape[4], start[3] = {0, 0, 0};
    int whole[3];
    size_t hdr, nv;
    char *buf;
    float *img = NULL;
    pf_render_case_shape(ctx, n->split, n->case_idx, data, shape);
    nv = (size_t)(shape[0] * shape[1] * shape[2] * shape[3]);
    buf = pf_render_alloc_npy(t, 4, shape, len, &hdr, err);
    if (!buf)
        return -1;
    /* float16: extracted in float32 first, then rounded */
    img = !data ? NULL : t == PF_DT_F2 ? pf_pool_alloc(nv * sizeof *img) : (float *)(buf + hdr);
    if (data && !img) {
        pf_pool_release(buf);
        return pf_fail(err, ENOMEM, "out of memory");
    }
    for (int d = 0; d < 3; d++)
        whole[d] = (int)c->hdr.shape[d];
    if (pf_render_read_case(ctx, n->split, (int)n->case_idx, start, whole, img,
                            data ? NULL : (int16_t *)(buf + hdr), err))
        goto fail;
    if (t == PF_DT_F2) {
        if (to_half(ctx, (uint16_t *)(buf + hdr), img, nv, err) != 0)
            goto fail;
        pf_pool_release(img);
    }
    *out = buf;
    return 0;
fail:
    if (t == PF_DT_F2)
        pf_pool_release(img);
    pf_pool_release(buf);
    return -1;
}

/* The served positions of a step, and the global batch they belong to. A forced position
 * reads a stored location of its case (in the mapping): a case that failed in an earlier read
 * is rebuilt here (its next use) and the step sampled again; a failure met by this sampling,
 * or an entry found shorter than it was, fails this read (EIO), as for pixels. */
pf_sample *pf_render_batch(pf_ctx *ctx, const pf_node *n, pf_error *err)
{
    pf_sample *smp = calloc((size_t)ctx->opt.batch, sizeof *smp);
    if (!smp) {
        pf_fail(err, ENOMEM, "out of memory");
        return NULL;
    }
    for (int k = 0;; k++) {
        const unsigned before = pf_fault_count();
        int bad = pf_sample_step(&ctx->sampler, (pf_split)n->split, n->epoch, n->step, smp);
        if (!bad) {
            for (int j = 0; j < ctx->opt.batch && !bad; j++)
                if (smp[j].label >= 0 && pf_case_check_size(&ctx->cache.cases[smp[j].case_idx]))
                    bad = j + 1;
            if (!bad)
                return smp;
            unreadable(ctx, smp[bad - 1].case_idx, err);
            break;
        }
        /* no fault since this sampling began: the failures are earlier reads' */
        if (k > 0 || pf_fault_count() != before) {
            unreadable(ctx, smp[bad - 1].case_idx, err);
            break;
        }
        for (int j = 0; j < ctx->opt.batch; j++)
            if (smp[j].label >= 0 && !pf_case_sound(&ctx->cache.cases[smp[j].case_idx]) &&
                pf_render_use_case(ctx, smp[j].case_idx, err) != 0)
                goto fail;
    }
fail:
    free(smp);
    return NULL;
}

size_t pf_render_patch_voxels(const pf_ctx *ctx)
{
    return (size_t)ctx->patch[0] * (size_t)ctx->patch[1] * (size_t)ctx->patch[2];
}

/* A case ready to read: its image digest checked once; a corrupt entry, or one that failed
 * in an earlier read (a fault in its mapping, cache.h), is rebuilt from the sources on the
 * spot (and never served); one found shorter than it was fails this read (EIO). */
int pf_render_use_case_in(pf_ctx *ctx, uint32_t split, int idx, pf_error *err)
{
    pf_cache *cache = pf_ctx_cache_of(ctx, split);
    pf_case *c = &cache->cases[idx];
    pf_error first = {0};
    if (pf_case_check_bulk(c, &first) == 0) {
        if (pf_case_sound(c))
            goto size;
        unreadable_in(ctx, split, idx, &first);
    }
    if (pf_cache_repair(cache, pf_ctx_ds_of(ctx, split), idx, err) != 0)
        return pf_wrap(err, "%s; rebuilding it failed", first.msg);
    if (pf_case_check_bulk(c, err))
        return -1;
size:
    /* an entry found shorter than it was fails this read; the next use rebuilds it */
    return pf_case_check_size(c) == 0 ? 0 : unreadable_in(ctx, split, idx, err);
}

int pf_render_use_case(pf_ctx *ctx, int idx, pf_error *err)
{
    return pf_render_use_case_in(ctx, 0, idx, err);
}

/* Whether position b of this step is augmented, and with what (training steps only). */
int pf_render_aug_params(const pf_ctx *ctx, const pf_node *n, int b, pf_aug_params *p)
{
    if (!ctx->opt.aug || n->split != PF_SPLIT_TRAIN)
        return 0;
    pf_aug_draw(&ctx->opt, ctx->ds.n_channels, ctx->patch, ctx->opt.seed, n->epoch, n->step,
                (uint32_t)b, p);
    return 1;
}

/* The one place a sample's arrays are made: the plain padded crop, or nnU-Net's augmentation
 * of it. Each is made in two phases, each splittable into independent units so that a file
 * renders on several threads with the same bytes: the crop or resampled grid (by slabs of
 * output planes), then the per-channel intensity transforms and mirroring. */

/* Slab k of SLABS of a sample's image (C, P) or seg (P): planes [k P0 / SLABS, (k + 1) P0 /
 * SLABS) of a resampled grid; the whole plain crop in slab 0 (a copy, too cheap to split). */
#define SLABS 4

static int render_slab(pf_ctx *ctx, const pf_node *n, int b, const pf_sample *sm, int k,
                       int slabs, float *img, int16_t *seg, pf_error *err)
{
    pf_case *c = &ctx->cache.cases[sm->case_idx];
    const pf_norm *norms = &ctx->norm.cases[sm->case_idx * ctx->ds.n_channels];
    const int z0 = k * ctx->patch[0] / slabs, z1 = (k + 1) * ctx->patch[0] / slabs;
    pf_aug_params p, ps;
    unsigned token;
    const int aug = pf_render_aug_params(ctx, n, b, &p), spatial = aug && pf_aug_spatial(&p);
    const int *flip, *flip_seg;
    /* the seg (seg.npy, the image's mask) sees no intensity transform: its mirroring always
     * folds into its samplers or crop */
    memset(&ps, 0, sizeof ps);
    if (aug) {
        ps = p;
        pf_aug_seg_params(&ps);
    }
    /* the crop written mirrored when nothing after it minds (no separate mirroring pass) */
    flip = aug && pf_aug_mirror_in_crop(&p) ? p.mirror : NULL;
    flip_seg = aug && pf_aug_mirror_in_crop(&ps) ? ps.mirror : NULL;
    if (!spatial && k != 0)
        return 0; /* a plain crop is made whole in slab 0 */
    if (pf_render_read_begin(ctx, 0, sm->case_idx, 1, &token, err))
        return -1;
    if (spatial) {
        if (img)
            pf_aug_sample_planes(c, norms, sm->start, ctx->patch, &p, z0, z1, img);
        if (seg)
            pf_aug_sample_seg_planes(c, sm->start, ctx->patch, &ps, ctx->opt.seg_nearest, z0, z1,
                                     seg);
    } else {
        if (img)
            pf_extract_image_mirrored(c, norms, sm->start, ctx->patch, flip, img);
        if (seg)
            pf_extract_seg_mirrored(c, sm->start, ctx->patch, flip_seg, seg);
    }
    return pf_render_read_end(ctx, 0, sm->case_idx, token, err);
}

/* Whether channel ch of an augmented sample is zeroed where its seg is < 0 after the intensity
 * transforms (nnU-Net's MaskImageTransform for use_mask_for_norm channels). */
static int masked_channel(const pf_ctx *ctx, int ch)
{
    return ctx->norm.channel && ctx->norm.channel[ch].use_mask;
}

static int any_masked(const pf_ctx *ctx)
{
    for (int ch = 0; ch < ctx->ds.n_channels; ch++)
        if (masked_channel(ctx, ch))
            return 1;
    return 0;
}

/* Phase two for channels [ch0, ch1) of the image (img: channel ch0 first): the intensity
 * transforms, the masking (mask: the sample's seg as served, mirrored; needed when a channel
 * is masked) and the mirroring, in pf_aug_intensity_mirrored. The seg has no phase two: its
 * samplers or crop wrote it mirrored. */
static int render_finish(pf_ctx *ctx, const pf_node *n, int b, int ch0, int ch1, float *img,
                         const int16_t *mask, pf_error *err)
{
    pf_aug_params p;
    unsigned char masked[PF_MAX_CHANNELS] = {0};
    if (!img || !pf_render_aug_params(ctx, n, b, &p))
        return 0;
    for (int ch = ch0; ch < ch1; ch++)
        masked[ch] = (unsigned char)masked_channel(ctx, ch);
    if (pf_aug_intensity_mirrored(&p, ctx->patch, ch0, ch1, img, mask, masked) != 0)
        return pf_fail(err, ENOMEM, "out of memory augmenting a sample");
    return 0;
}

int pf_render_needs_mask(const pf_ctx *ctx, const pf_node *n)
{
    return ctx->opt.aug && n->split == PF_SPLIT_TRAIN && any_masked(ctx);
}

/* img (C, P) and seg (P) of a sample; either may be NULL. */
int pf_render_sample(pf_ctx *ctx, const pf_node *n, int b, const pf_sample *sm, float *img,
                     int16_t *seg, pf_error *err)
{
    int16_t *own = NULL;
    int rc;
    if (img && !seg && pf_render_needs_mask(ctx, n)) {
        own = pf_pool_alloc(pf_render_patch_voxels(ctx) * sizeof *own);
        if (!own)
            return pf_fail(err, ENOMEM, "out of memory");
    }
    rc = render_slab(ctx, n, b, sm, 0, 1, img, seg ? seg : own, err);
    if (rc == 0)
        rc = render_finish(ctx, n, b, 0, ctx->ds.n_channels, img, seg ? seg : own, err);
    pf_pool_release(own);
    return rc;
}

/* The samples of one file, slabs of each resampled grid and the channels of each image are
 * independent: they are rendered on up to sample_threads threads of the process's worker pool
 * (0: one per usable core; the reading thread works too), each into its own slice, so the
 * bytes never depend on it. */
static int sample_threads(const pf_ctx *ctx)
{
    return ctx->opt.sample_threads;
}

/* What the per-position callbacks below share: the step, its positions and where to write. */
typedef struct step_job {
    pf_ctx *ctx;
    const pf_node *n;
    const pf_sample *s;
    int lo;            /* first served position: slice b - lo */
    char *base;        /* first slice */
    size_t per;        /* bytes per slice */
    pf_dtype t;        /* data.npy (F4) or seg.npy (I2) */
    int ds[3];         /* seg_dsK.npy: the downsampled shape */
    uint64_t (*dg)[2]; /* meta.json: digests of image and seg */
    int16_t *mask;     /* data.npy with masked channels: each position's seg as served, */
    size_t mask_per;   /* ... position b - lo's at mask + mask_per (b - lo) */
    int mask_given;    /* ... given by the caller (pf_make_step_data_masked), not rendered */
} step_job;

/* data.npy and seg.npy in parallel passes: unit u of the first is slab u % SLABS of position
 * lo + u / SLABS; of the second (data.npy only: a seg is made whole by the first), channel
 * u % C of position lo + u / C. */
static int render_slab_unit(void *arg, int u, pf_error *err)
{
    step_job *j = arg;
    const int b = j->lo + u / SLABS;
    char *dst = j->base + j->per * (size_t)(b - j->lo);
    int16_t *seg = j->t == PF_DT_I2 ? (int16_t *)dst : NULL;
    if (j->mask && !j->mask_given) /* the seg too, for the masking */
        seg = j->mask + j->mask_per * (size_t)(b - j->lo);
    return render_slab(j->ctx, j->n, b, &j->s[b], u % SLABS, SLABS,
                       j->t == PF_DT_F4 ? (float *)dst : NULL, seg, err);
}

static int render_finish_unit(void *arg, int u, pf_error *err)
{
    step_job *j = arg;
    const int C = j->ctx->ds.n_channels, b = j->lo + u / C, ch = u % C;
    const size_t nv = pf_render_patch_voxels(j->ctx);
    float *dst = (float *)(j->base + j->per * (size_t)(b - j->lo)) + (size_t)ch * nv;
    return render_finish(j->ctx, j->n, b, ch, ch + 1, dst,
                         j->mask ? j->mask + j->mask_per * (size_t)(b - j->lo) : NULL, err);
}

/* The training target of a served position's seg (the label map in the slice's first P
 * voxels): regions, seg_outside (seg_target.c). */
static void make_target(const pf_ctx *ctx, int16_t *seg, size_t n)
{
    pf_seg_target(seg, n, ctx->region_masks, ctx->seg_channels,
                  ctx->opt.seg_outside_zero ? 0 : -1);
}

static int render_target_unit(void *arg, int u, pf_error *err)
{
    step_job *j = arg;
    (void)err;
    make_target(j->ctx, (int16_t *)(j->base + j->per * (size_t)u), pf_render_patch_voxels(j->ctx));
    return 0;
}

/* data.npy / seg.npy of a step (the positions this mount serves) or of one sample_K; mask:
 * the positions' label maps for the masking, when the caller has them */
static int step_array(pf_ctx *ctx, const pf_node *n, const int16_t *mask, size_t mask_per,
                      char **out, size_t *len, pf_error *err)
{
    step_job j = {.ctx = ctx, .n = n, .t = n->slot == 0 ? PF_DT_F4 : PF_DT_I2, /* data, seg */
                  .mask = (int16_t *)mask, .mask_per = mask_per, .mask_given = mask != NULL};
    const pf_dtype t = n->slot == 0 ? pf_render_data_dtype(ctx) : PF_DT_I2; /* as served */
    pf_sample *s = pf_render_batch(ctx, n, err);
    int64_t shape[5];
    int lo = ctx->shard_lo, hi = ctx->shard_hi, nd;
    size_t hdr, count;
    char *buf, *scratch = NULL;
    if (!s)
        return -1;
    if (n->kind == PF_NODE_SAMPLE_FILE) {
        lo += (int)n->sample;
        hi = lo + 1;
    }
    nd = pf_render_step_shape(ctx, n, shape);
    buf = pf_render_alloc_npy(t, nd, shape, len, &hdr, err);
    if (!buf) {
        free(s);
        return -1;
    }
    count = (*len - hdr) / pf_dtype_size(t); /* elements */
    /* float16: rendered in float32 into scratch, then rounded into the file */
    if (t == PF_DT_F2 && !(scratch = pf_pool_alloc(count * sizeof(float)))) {
        pf_fail(err, ENOMEM, "out of memory");
        goto fail;
    }
    j.s = s;
    j.lo = lo;
    j.base = scratch ? scratch : buf + hdr;
    j.per = count * pf_dtype_size(j.t) / (size_t)(hi - lo);
    if (j.t == PF_DT_F4 && pf_render_needs_mask(ctx, n) && !j.mask) {
        j.mask_per = pf_render_patch_voxels(ctx);
        j.mask = pf_pool_alloc(j.mask_per * (size_t)(hi - lo) * sizeof *j.mask);
        if (!j.mask) {
            pf_fail(err, ENOMEM, "out of memory");
            goto fail;
        }
    }
    if (pf_parallel_for(0, (hi - lo) * SLABS, sample_threads(ctx), render_slab_unit, &j, err) != 0 ||
        (j.t == PF_DT_F4 && pf_parallel_for(0, (hi - lo) * ctx->ds.n_channels,
                                            sample_threads(ctx), render_finish_unit, &j, err) != 0) ||
        (j.t == PF_DT_I2 && ctx->seg_target &&
         pf_parallel_for(0, hi - lo, sample_threads(ctx), render_target_unit, &j, err) != 0))
        goto fail;
    if (scratch && to_half(ctx, (uint16_t *)(buf + hdr), (const float *)scratch, count, err) != 0)
        goto fail;
    pf_pool_release(scratch);
    pf_pool_release(j.mask_given ? NULL : j.mask);
    free(s);
    *out = buf;
    return 0;
fail:
    pf_pool_release(j.mask_given ? NULL : j.mask);
    pf_pool_release(scratch);
    pf_pool_release(buf);
    free(s);
    return -1;
}

int pf_make_step_array(pf_ctx *ctx, const pf_node *n, char **out, size_t *len, pf_error *err)
{
    return step_array(ctx, n, NULL, 0, out, len, err);
}

int pf_make_step_data_masked(pf_ctx *ctx, const pf_node *n, const int16_t *mask,
                             size_t mask_per, char **out, size_t *len, pf_error *err)
{
    return step_array(ctx, n, mask, mask_per, out, len, err);
}

/* seg_dsK.npy: every served position's seg downsampled (nearest) by the K-th scale after 1. */
void pf_render_ds_shape(const pf_ctx *ctx, const pf_node *n, int64_t shape[5], int *nd, int ds[3])
{
    int k = 0;
    pf_ds_shape(ctx->patch, ctx->ds_scale[pf_node_ds_level(n)],
                ctx->opt.patch_2d, ds);
    shape[k++] = ctx->shard_hi - ctx->shard_lo;
    shape[k++] = ctx->seg_channels;
    for (int d = ctx->opt.patch_2d ? 1 : 0; d < 3; d++)
        shape[k++] = ds[d];
    *nd = k;
}

/* seg_dsK.npy from the step's seg.npy bytes (the same positions, the same samples): a step's
 * segmentation is rendered once for seg.npy and every target (a mount keeps seg.npy in its
 * memory cache; pf_produce makes it once for all). */
typedef struct ds_job {
    const pf_ctx *ctx;
    const int16_t *seg; /* seg.npy's first sample */
    int16_t *out;       /* seg_dsK.npy's first sample */
    int ds[3];
} ds_job;

static int ds_unit(void *arg, int u, pf_error *err)
{
    ds_job *j = arg;
    const size_t in = pf_render_patch_voxels(j->ctx);
    const size_t per = (size_t)j->ds[0] * (size_t)j->ds[1] * (size_t)j->ds[2];
    (void)err;
    /* unit u: one channel of one sample (a region target has one channel per region). The
     * channels are already the training target: nearest-exact takes the same source voxel
     * for every channel, so converting before or after downsampling gives the same bytes. */
    pf_ds_seg(j->seg + in * (size_t)u, j->ctx->patch, j->ds, j->out + per * (size_t)u);
    return 0;
}

int pf_make_step_ds_from(pf_ctx *ctx, const pf_node *n, const char *seg, size_t seg_len,
                         char **out, size_t *len, pf_error *err)
{
    const int B = ctx->shard_hi - ctx->shard_lo, units = B * ctx->seg_channels;
    const size_t seg_bytes = (size_t)units * pf_render_patch_voxels(ctx) * sizeof(int16_t);
    ds_job j = {.ctx = ctx};
    int64_t shape[5];
    int nd;
    size_t hdr;
    char *buf;
    if (seg_len < seg_bytes)
        return pf_fail(err, EINVAL, "seg_ds: seg.npy of %zu bytes, expected at least %zu",
                       seg_len, seg_bytes);
    pf_render_ds_shape(ctx, n, shape, &nd, j.ds);
    buf = pf_render_alloc_npy(PF_DT_I2, nd, shape, len, &hdr, err);
    if (!buf)
        return -1;
    j.seg = (const int16_t *)(seg + seg_len - seg_bytes); /* the data follow the header */
    j.out = (int16_t *)(buf + hdr);
    if (pf_parallel_for(0, units, sample_threads(ctx), ds_unit, &j, err) != 0) {
        pf_pool_release(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

static int digest_sample(void *arg, int b, pf_error *err)
{
    step_job *j = arg;
    const size_t nv = pf_render_patch_voxels(j->ctx), C = (size_t)j->ctx->ds.n_channels;
    float *img = pf_pool_alloc(nv * C * sizeof *img);
    const size_t R = (size_t)j->ctx->seg_channels;
    int16_t *seg = pf_pool_alloc(nv * R * sizeof *seg);
    int rc = -1;
    if (!img || !seg)
        pf_fail(err, ENOMEM, "out of memory");
    else if (pf_render_sample(j->ctx, j->n, b, &j->s[b], img, seg, err) == 0) {
        if (j->ctx->seg_target)
            make_target(j->ctx, seg, nv);
        if (j->ctx->opt.data_f16) {
            /* as sample_K/data.npy holds it: the half floats, written over the floats' first
             * half (each half is made from a float at or after it) */
            pf_half_from_floats((uint16_t *)img, img, nv * C);
            j->dg[b - j->lo][0] = XXH3_64bits(img, nv * C * sizeof(uint16_t));
        } else {
            j->dg[b - j->lo][0] = XXH3_64bits(img, nv * C * sizeof *img);
        }
        j->dg[b - j->lo][1] = XXH3_64bits(seg, nv * R * sizeof *seg);
        rc = 0;
    }
    pf_pool_release(img);
    pf_pool_release(seg);
    return rc;
}

/* Per served position of step node n (batch s), XXH3-64 of its image and its seg bytes. */
int pf_render_digests(pf_ctx *ctx, const pf_node *n, const pf_sample *s, uint64_t (*dg)[2],
                      pf_error *err)
{
    step_job j = {.ctx = ctx, .n = n, .s = s, .lo = ctx->shard_lo, .dg = dg};
    return pf_parallel_for(ctx->shard_lo, ctx->shard_hi, sample_threads(ctx), digest_sample, &j,
                           err);
}
