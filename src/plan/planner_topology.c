/* planner_topology.c - the network nnU-Net's planner builds for a patch: pooling and
 * convolution per stage (network_topology.get_pool_and_conv_props), its VRAM estimate
 * (PlainConvUNet.compute_conv_feature_map_size), and the deep-supervision scales that follow
 * from its strides. */
#include "planner_i.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define UNET_MIN_EDGE 4             /* UNet_featuremap_min_edge_length */

/* ---- network topology (network_topology.get_pool_and_conv_props) ---- */

int pf_plan_pool_and_conv_props(int ndim, const double *spacing, const double *patch,
                                pf_topology *out, pf_error *err)
{
    double cur_sp[PF_PLAN_MAX_DIM], cur_size[PF_PLAN_MAX_DIM];
    int kernel[PF_PLAN_MAX_DIM];

    if (ndim < 1 || ndim > PF_PLAN_MAX_DIM)
        return pf_fail(err, EINVAL, "network topology: %d dimensions", ndim);
    memset(out, 0, sizeof *out);
    for (int d = 0; d < ndim; d++) {
        cur_sp[d] = spacing[d];
        cur_size[d] = patch[d];
        kernel[d] = 1;
        out->strides[0][d] = 1;
    }
    out->n_stages = 1;

    for (;;) {
        int valid[PF_PLAN_MAX_DIM], nvalid = 0, n2 = 0;
        double min_valid_sp = 0, min_sp;

        /* axes that keep at least min_edge voxels after one more pool */
        for (int d = 0; d < ndim; d++)
            if (cur_size[d] >= 2 * UNET_MIN_EDGE)
                valid[nvalid++] = d;
        if (nvalid < 1)
            break;
        /* and whose spacing is within 2x of the finest of those */
        for (int i = 0; i < nvalid; i++)
            if (i == 0 || cur_sp[valid[i]] < min_valid_sp)
                min_valid_sp = cur_sp[valid[i]];
        for (int i = 0; i < nvalid; i++)
            if (cur_sp[valid[i]] / min_valid_sp < 2)
                valid[n2++] = valid[i];
        nvalid = n2;
        /* a lone axis pools only while it has 3x min_edge voxels */
        if (nvalid == 1 && !(cur_size[valid[0]] >= 3 * UNET_MIN_EDGE))
            break;
        if (nvalid < 1)
            break;
        if (out->n_stages >= PF_PLAN_MAX_STAGES)
            return pf_fail(err, EINVAL, "network topology: more than %d stages for a patch of "
                           "%g voxels", PF_PLAN_MAX_STAGES, patch[0]);

        /* kernels turn 3 once their axis is within 2x of the finest spacing (of all axes), and
         * stay 3; the kernel of this stage is decided before this stage's pooling */
        min_sp = cur_sp[0];
        for (int d = 1; d < ndim; d++)
            if (cur_sp[d] < min_sp)
                min_sp = cur_sp[d];
        for (int d = 0; d < ndim; d++)
            if (kernel[d] != 3 && cur_sp[d] / min_sp < 2)
                kernel[d] = 3;

        for (int d = 0; d < ndim; d++)
            out->strides[out->n_stages][d] = 1;
        for (int i = 0; i < nvalid; i++) {
            int d = valid[i];
            out->strides[out->n_stages][d] = 2;
            out->n_pool[d]++;
            cur_sp[d] *= 2;
            cur_size[d] = ceil(cur_size[d] / 2);
        }
        memcpy(out->kernel_sizes[out->n_stages - 1], kernel, sizeof kernel);
        out->n_stages++;
    }
    /* the bottleneck convolves with 3 on every axis */
    for (int d = 0; d < ndim; d++)
        out->kernel_sizes[out->n_stages - 1][d] = 3;

    /* pad_shape: up to the next multiple of 2^pools (a multiple stays); a fractional patch
     * (36.5) is padded from there and truncated by astype(int) */
    for (int d = 0; d < ndim; d++) {
        double m = ldexp(1.0, out->n_pool[d]), r = fmod(patch[d], m);
        double p = patch[d] + m - r;
        if (r == 0)
            p -= m;
        out->must_be_divisible_by[d] = (int64_t)m;
        out->patch_size[d] = (int64_t)p;
    }
    return 0;
}

/* ---- VRAM estimate (PlainConvUNet.compute_conv_feature_map_size) ---- */

int64_t pf_plan_feature_map_size(const pf_plan_config *c, const int64_t *patch, int n_classes)
{
    int64_t size[PF_PLAN_MAX_DIM], skip[PF_PLAN_MAX_STAGES][PF_PLAN_MAX_DIM], total = 0;
    int n = c->n_stages, nd = c->ndim;

    /* encoder: stage s holds n_conv convolutions of F[s] channels at the size after its
     * (strided first) convolution; the sizes floor-divide stage by stage */
    for (int d = 0; d < nd; d++)
        size[d] = patch[d];
    for (int s = 0; s < n; s++) {
        for (int d = 0; d < nd; d++)
            size[d] /= c->strides[s][d];
        total += (int64_t)c->n_conv_per_stage[s] * c->features_per_stage[s] *
                 pf_plan_prod_i64(size, nd);
        if (s < n - 1)
            memcpy(skip[s], size, sizeof size);
    }
    /* decoder, bottom up: decoder stage s works at the size of encoder stage k = n-2-s with
     * F[k] channels: its convolutions, the transposed convolution's output, and the
     * segmentation layer on the last stage only (no deep supervision in the estimate) */
    for (int s = 0; s < n - 1; s++) {
        int k = n - 2 - s;
        int64_t vox = pf_plan_prod_i64(skip[k], nd);
        total += (int64_t)c->n_conv_per_stage_decoder[s] * c->features_per_stage[k] * vox;
        total += (int64_t)c->features_per_stage[k] * vox;
        if (s == n - 2)
            total += (int64_t)n_classes * vox;
    }
    return total;
}

/* ---- deep supervision ---- */

int pf_plan_ds_scales(const pf_plan_config *c, double scales[][PF_PLAN_MAX_DIM])
{
    int64_t cum[PF_PLAN_MAX_DIM];
    for (int d = 0; d < c->ndim; d++)
        cum[d] = 1;
    for (int s = 0; s < c->n_stages - 1; s++)
        for (int d = 0; d < c->ndim; d++) {
            cum[d] *= c->strides[s][d];
            scales[s][d] = 1.0 / (double)cum[d];
        }
    return c->n_stages > 1 ? c->n_stages - 1 : 0;
}

void pf_plan_ds_shape(int ndim, const int64_t *size, const double *scale, int64_t *out)
{
    for (int d = 0; d < ndim; d++)
        out[d] = (int64_t)pf_plan_round_half_even((double)size[d] * scale[d]);
}
