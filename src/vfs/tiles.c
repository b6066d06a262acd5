/* tiles.c - tiles.json, tiles/T/data.npy and gaussian.npy (see tiles.h). A tile is cut from
 * the cached case like a training patch, with the padding nnU-Net's predictor adds (zeros
 * before the case by pad_before, after it up to the padded shape); 2D configurations serve
 * tiles and the map without the slice axis, as their training arrays. */
#include "tiles.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bufpool.h"
#include "half.h"
#include "render.h"
#include "textbuf.h"

void pf_case_tiling(const pf_ctx *ctx, uint32_t split, uint32_t idx, pf_tiling *t)
{
    const pf_case_header *h = &pf_ctx_cache_of_c(ctx, split)->cases[idx].hdr;
    pf_tiling_init(t, h->shape, ctx->patch, ctx->opt.patch_2d);
}

int pf_tiles_count(pf_ctx *ctx, pf_error *err)
{
    for (uint32_t split = 0; split < 2; split++) {
        const int n = split ? ctx->test_ds.n_cases : ctx->ds.n_cases;
        uint32_t *counts = pf_calloc((size_t)n + 1, sizeof *counts, err);
        if (!counts)
            return -1;
        ctx->tile_counts[split] = counts;
        for (int i = 0; i < n; i++) {
            pf_tiling t;
            uint64_t k;
            pf_case_tiling(ctx, split, (uint32_t)i, &t);
            k = pf_tiling_count(&t);
            if (k > PF_MAX_TILES)
                return pf_fail(err, EINVAL, "case %s: %" PRIu64 " sliding-window tiles of the "
                               "patch %dx%dx%d; patchfs serves at most %u per case",
                               pf_ctx_ds_of(ctx, split)->cases[i].id, k, t.patch[0],
                               t.patch[1], t.patch[2], PF_MAX_TILES);
            counts[i] = (uint32_t)k;
        }
    }
    ctx->tree.tiles[0] = ctx->tile_counts[0];
    ctx->tree.tiles[1] = ctx->tile_counts[1];
    return 0;
}

static void add_triple(pf_textbuf *b, const char *key, const int64_t v[3])
{
    char s[160];
    snprintf(s, sizeof s, "  \"%s\": [%" PRId64 ", %" PRId64 ", %" PRId64 "],\n", key, v[0],
             v[1], v[2]);
    pf_textbuf_str(b, s);
}

int pf_make_tiles_json(pf_ctx *ctx, const pf_node *n, char **buf, size_t *len, pf_error *err)
{
    pf_tiling t;
    pf_textbuf b = {0};
    int64_t p[3];
    uint64_t count;
    pf_case_tiling(ctx, n->split, n->case_idx, &t);
    count = pf_tiling_count(&t);
    for (int d = 0; d < 3; d++)
        p[d] = t.patch[d];
    pf_textbuf_str(&b, "{\n");
    add_triple(&b, "patch", p);
    add_triple(&b, "pad_before", t.pad_before);
    add_triple(&b, "padded_shape", t.padded);
    pf_textbuf_str(&b, "  \"tiles\": [\n");
    for (uint64_t i = 0; i < count; i++) {
        int64_t s[3];
        char line[128];
        pf_tiling_start(&t, i, s);
        snprintf(line, sizeof line,
                 "    {\"start\": [%" PRId64 ", %" PRId64 ", %" PRId64 "]}%s\n", s[0], s[1],
                 s[2], i + 1 < count ? "," : "");
        pf_textbuf_str(&b, line);
    }
    pf_textbuf_str(&b, "  ]\n}\n");
    if (b.failed) {
        pf_textbuf_free(&b);
        return pf_fail(err, ENOMEM, "out of memory");
    }
    *buf = b.s;
    *len = b.len;
    return 0;
}

/* (C, Z, Y, X) of a tile; 2D: (C, Y, X). Returns the number of dimensions. */
static int tile_shape(const pf_ctx *ctx, int64_t shape[4])
{
    int k = 0;
    shape[k++] = ctx->ds.n_channels;
    for (int d = ctx->opt.patch_2d ? 1 : 0; d < 3; d++)
        shape[k++] = ctx->patch[d];
    return k;
}

int pf_size_tile(pf_ctx *ctx, const pf_node *n, uint64_t *size, pf_error *err)
{
    int64_t shape[4];
    int nd = tile_shape(ctx, shape);
    (void)n;
    (void)err;
    *size = pf_npy_file_size(pf_render_data_dtype(ctx), nd, shape);
    return 0;
}

int pf_make_tile(pf_ctx *ctx, const pf_node *n, char **buf, size_t *len, pf_error *err)
{
    pf_tiling t;
    int64_t shape[4], start[3];
    int nd = tile_shape(ctx, shape);
    const pf_dtype dt = pf_render_data_dtype(ctx);
    size_t hdr, nv = 1;
    char *out = pf_render_alloc_npy(dt, nd, shape, len, &hdr, err);
    float *img;
    if (!out)
        return -1;
    for (int d = 0; d < nd; d++)
        nv *= (size_t)shape[d];
    /* dtype=float16: read in float32, then rounded as data.npy is */
    img = dt == PF_DT_F2 ? pf_pool_alloc(nv * sizeof *img) : (float *)(out + hdr);
    if (!img) {
        pf_pool_release(out);
        return pf_fail(err, ENOMEM, "out of memory");
    }
    pf_case_tiling(ctx, n->split, n->case_idx, &t);
    pf_tiling_start(&t, n->tile, start);
    for (int d = 0; d < 3; d++)
        start[d] -= t.pad_before[d]; /* padded -> case coordinates */
    if (pf_render_read_case(ctx, n->split, (int)n->case_idx, start, t.patch, img, NULL, err)) {
        if (dt == PF_DT_F2)
            pf_pool_release(img);
        pf_pool_release(out);
        return -1;
    }
    if (dt == PF_DT_F2) {
        pf_half_from_floats((uint16_t *)(out + hdr), img, nv);
        pf_pool_release(img);
    }
    *buf = out;
    return 0;
}

/* (Z, Y, X) of the patch; 2D: (Y, X) */
static int map_shape(const pf_ctx *ctx, int64_t shape[3], int patch[3])
{
    int k = 0;
    for (int d = ctx->opt.patch_2d ? 1 : 0; d < 3; d++) {
        patch[k] = ctx->patch[d];
        shape[k++] = ctx->patch[d];
    }
    return k;
}

int pf_size_gaussian(pf_ctx *ctx, const pf_node *n, uint64_t *size, pf_error *err)
{
    int64_t shape[3];
    int patch[3];
    (void)n;
    (void)err;
    *size = pf_npy_file_size(PF_DT_F4, map_shape(ctx, shape, patch), shape);
    return 0;
}

int pf_make_gaussian(pf_ctx *ctx, const pf_node *n, char **buf, size_t *len, pf_error *err)
{
    int64_t shape[3];
    int patch[3], nd = map_shape(ctx, shape, patch);
    size_t hdr;
    char *out = pf_render_alloc_npy(PF_DT_F4, nd, shape, len, &hdr, err);
    (void)n;
    if (!out)
        return -1;
    if (pf_importance_map(patch, nd, (float *)(out + hdr))) {
        pf_pool_release(out);
        return pf_fail(err, ENOMEM, "out of memory");
    }
    *buf = out;
    return 0;
}
