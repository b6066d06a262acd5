/* inspect.c - the files for looking at a batch: preview.png of a step or a case, and a
 * sample's image.nii.gz / label.nii.gz placed where it came from in the source volume. */
#include "render.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "preview.h"

/* Marks voxels whose source position lies outside the case (padding). */
static void outside_mask(const pf_case *c, const double G[3][3], const double origin[3],
                         const int P[3], int z, unsigned char *mask)
{
    const int64_t *S = c->hdr.shape;
    for (int y = 0; y < P[1]; y++)
        for (int x = 0; x < P[2]; x++) {
            int out = 0;
            for (int d = 0; d < 3; d++) {
                double q = origin[d] + G[d][0] * z + G[d][1] * y + G[d][2] * x;
                out |= q < -0.5 || q > (double)S[d] - 0.5;
            }
            mask[(size_t)y * (size_t)P[2] + (size_t)x] = (unsigned char)out;
        }
}

/* preview.png of a step (one row per served position, the middle axial slice of its patch)
 * or of a case (one row, the middle slice of the whole case). */
int pf_make_preview(pf_ctx *ctx, const pf_node *n, char **out, size_t *len, pf_error *err)
{
    const int C = ctx->ds.n_channels;
    const int is_case = n->kind == PF_NODE_CASE_FILE;
    const pf_case_header *h0 = is_case ? &pf_ctx_cache_of(ctx, n->split)->cases[n->case_idx].hdr
                                       : NULL;
    const int rows = is_case ? 1 : ctx->shard_hi - ctx->shard_lo;
    const int H = is_case ? (int)h0->shape[1] : ctx->patch[1];
    const int W = is_case ? (int)h0->shape[2] : ctx->patch[2];
    const size_t plane = (size_t)H * (size_t)W, nv = is_case ? plane : pf_render_patch_voxels(ctx);
    pf_sample *smp = is_case ? NULL : pf_render_batch(ctx, n, err);
    float *img = malloc(plane * (size_t)C * (size_t)rows * sizeof *img);
    int16_t *seg = malloc(plane * (size_t)rows * sizeof *seg);
    unsigned char *pad = calloc(plane * (size_t)rows, 1);
    float *full = malloc(nv * (size_t)C * sizeof *full);
    int16_t *fseg = malloc(nv * sizeof *fseg);
    pf_preview_input in = {rows, C, H, W, img, seg, pad};
    int rc = -1;
    if ((!is_case && !smp) || !img || !seg || !pad || !full || !fseg) {
        pf_fail(err, ENOMEM, "out of memory");
        goto out;
    }
    for (int r = 0; r < rows; r++) {
        double G[3][3], origin[3];
        int z;
        if (is_case) {
            int64_t start[3] = {h0->shape[0] / 2, 0, 0};
            int slice[3] = {1, H, W};
            if (pf_render_read_case(ctx, n->split, (int)n->case_idx, start, slice, img, seg,
                                    err))
                goto out;
            continue; /* a whole case has no padding */
        }
        {
            const pf_sample *sm = &smp[ctx->shard_lo + r];
            pf_aug_params params;
            int b = ctx->shard_lo + r;
            if (pf_render_sample(ctx, n, b, sm, full, fseg, err) != 0)
                goto out;
            z = ctx->patch[0] / 2;
            for (int ch = 0; ch < C; ch++)
                memcpy(img + plane * ((size_t)r * (size_t)C + (size_t)ch),
                       full + nv * (size_t)ch + plane * (size_t)z, plane * sizeof *img);
            memcpy(seg + plane * (size_t)r, fseg + plane * (size_t)z, plane * sizeof *seg);
            pf_aug_grid(pf_render_aug_params(ctx, n, b, &params) ? &params : NULL, sm->start, ctx->patch,
                        G, origin);
            outside_mask(&ctx->cache.cases[sm->case_idx], (const double(*)[3])G, origin,
                         ctx->patch, z, pad + plane * (size_t)r);
        }
    }
    rc = pf_preview_png(&in, out, len, err);
out:
    free(smp);
    free(img);
    free(seg);
    free(pad);
    free(full);
    free(fseg);
    return rc;
}

/* sample_K/image.nii.gz or label.nii.gz: the sample's arrays with an affine that places every
 * voxel where it came from in the source volume (a shifted box for plain crops; rotated,
 * scaled and mirrored grids for augmented samples). */
int pf_make_sample_nifti(pf_ctx *ctx, const pf_node *n, char **out, size_t *len, pf_error *err)
{
    const int C = ctx->ds.n_channels, is_label = pf_node_file(n) == PF_FILE_SAMPLE_LABEL_NII;
    const int b = ctx->shard_lo + (int)n->sample;
    const size_t nv = pf_render_patch_voxels(ctx);
    pf_sample *smp = pf_render_batch(ctx, n, err), *sm;
    pf_aug_params params;
    pf_nifti_patch p;
    pf_case *c;
    void *data = NULL;
    int rc = -1;
    if (!smp)
        return -1;
    sm = &smp[b];
    c = &ctx->cache.cases[sm->case_idx];
    data = malloc(nv * (is_label ? sizeof(int16_t) : (size_t)C * sizeof(float)));
    if (!data) {
        pf_fail(err, ENOMEM, "out of memory");
        goto out;
    }
    if (pf_render_sample(ctx, n, b, sm, is_label ? NULL : data, is_label ? data : NULL, err) != 0)
        goto out;
    memset(&p, 0, sizeof p);
    p.channels = is_label ? 1 : C;
    p.is_label = is_label;
    pf_aug_grid(pf_render_aug_params(ctx, n, b, &params) ? &params : NULL, sm->start, ctx->patch, p.grid,
                p.origin);
    /* p.origin and p.grid are in the preprocessed grid; the NIfTI needs the source's: the
     * resampling's coordinate map ((q + 0.5) * in / out - 0.5), the crop, then the transpose
     * undone (preprocessed axis d is source array axis transpose[d]) */
    {
        const pf_case_header *h = &c->hdr;
        double origin[3], grid[3][3];
        memcpy(origin, p.origin, sizeof origin);
        memcpy(grid, p.grid, sizeof grid);
        for (int d = 0; d < 3; d++) {
            const int a = h->transpose[d];
            const double r = (double)h->crop_shape[d] / (double)h->shape[d];
            p.shape[d] = ctx->patch[d];
            p.spacing[a] = h->src_spacing[d];
            p.origin[a] = (double)h->crop_lo[d] + (origin[d] + 0.5) * r - 0.5;
            for (int k = 0; k < 3; k++)
                p.grid[a][k] = grid[d][k] * r;
        }
    }
    memcpy(p.affine, c->hdr.affine, sizeof p.affine);
    p.data = data;
    rc = pf_nifti_patch_gz(&p, out, len, err);
out:
    free(smp);
    free(data);
    return rc;
}

