/* resample_seg.c - a segmentation resampled as nnU-Net's resize_segmentation does it: per
 * label present, in ascending order, the 0/1 indicator interpolated (order 1, or 0) and
 * written where it is >= 0.5, later labels overwriting, unclaimed voxels 0; with separate-z,
 * nearest neighbour along the axis. Each voxel is evaluated from scipy's taps in scipy's order,
 * so exact 0.5 ties are decided as scipy decides them. */
#include "resample_i.h"

#include <errno.h>
#include <string.h>

/* Segmentation, output plane oz: every voxel from scipy's taps in scipy's order (axis 0
 * outermost), each label's indicator summed over its taps as scipy sums the 8 products
 * (taps of other labels add exact zeros), claimed at >= 0.5, the highest claiming label
 * winning (nnU-Net writes labels in ascending order). */
void pf_rs_unit_seg(const pf_resample *r, int64_t oz)
{
    const pf_resample_geom *g = &r->g;
    const pf_rs_axis *Z = r->ax[0], *Y = r->ax[1], *X = r->ax[2];
    const int64_t sy = g->in_shape[2], sz = g->in_shape[1] * g->in_shape[2];
    const int64_t my = g->out_shape[1], mx = g->out_shape[2];
    const int16_t *in = r->in;
    const int64_t *iz = Z->idx + oz * 2;
    const double *wz = Z->w + oz * 2;
    int16_t *o16 = r->out_bytes == 2 ? (int16_t *)r->out + oz * my * mx : NULL;
    int8_t *o8 = r->out_bytes == 1 ? (int8_t *)r->out + oz * my * mx : NULL;

    for (int64_t oy = 0; oy < my; oy++) {
        const int64_t *iy = Y->idx + oy * 2;
        const double *wy = Y->w + oy * 2;
        const int16_t *row[4];
        double wzy[4];
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++) {
                row[a * 2 + b] = in + iz[a] * sz + iy[b] * sy;
                wzy[a * 2 + b] = 1.0 * wz[a] * wy[b];   /* coeff = 1.0; *= wz; *= wy */
            }
        for (int64_t ox = 0; ox < mx; ox++) {
            const int64_t *ix = X->idx + ox * 2;
            const double *wx = X->w + ox * 2;
            int16_t lab[8];
            int best = 0, claimed = 0, same = 1;
            for (int t = 0; t < 4; t++) {
                lab[2 * t] = row[t][ix[0]];
                lab[2 * t + 1] = row[t][ix[1]];
            }
            for (int k = 1; k < 8; k++)
                same &= lab[k] == lab[0];
            if (same) {
                best = lab[0];   /* its indicator sums the 8 weights, about 1 */
            } else {
                double c[8];
                for (int t = 0; t < 4; t++) {
                    c[2 * t] = wzy[t] * wx[0];
                    c[2 * t + 1] = wzy[t] * wx[1];
                }
                for (int k = 0; k < 8; k++) {
                    double acc = 0.0;
                    int seen = 0;
                    for (int q = 0; q < k; q++)
                        seen |= lab[q] == lab[k];
                    if (seen)
                        continue;
                    for (int q = k; q < 8; q++)
                        if (lab[q] == lab[k])
                            acc += c[q];
                    if (acc >= 0.5 && (!claimed || lab[k] > best)) {
                        best = lab[k];
                        claimed = 1;
                    }
                }
            }
            if (o16)
                o16[oy * mx + ox] = (int16_t)best;
            else
                o8[oy * mx + ox] = (int8_t)best;
        }
    }
}

/* Separate-z along axis 0: the output planes whose source is plane s are equal, so the first
 * is computed and copied to the others. */
void pf_rs_unit_seg_planes(const pf_resample *r, int64_t s)
{
    if (r->scount[s]) {
        const size_t plane = (size_t)(r->g.out_shape[1] * r->g.out_shape[2]) *
                             (size_t)r->out_bytes;
        char *first = (char *)r->out + (size_t)r->sfirst[s] * plane;
        pf_rs_unit_seg(r, r->sfirst[s]);
        for (int64_t k = 1; k < r->scount[s]; k++)
            memcpy(first + (size_t)k * plane, first, plane);
    }
}

/* ------------------------------------------------------------------ set-up */

int pf_resample_seg_begin(pf_resample *r, const pf_resample_geom *g, int order,
                          const int16_t *in, void *out, int out_bytes, pf_error *err)
{
    size_t nin;
    if (pf_rs_begin_common(r, g, in, out, err))
        return -1;
    if (order != 0 && order != 1)
        return pf_fail(err, EINVAL, "resample: segmentation order %d (0 or 1 supported)", order);
    if (out_bytes != 1 && out_bytes != 2)
        return pf_fail(err, EINVAL, "resample: segmentation output of %d bytes per voxel "
                       "(1 or 2 supported)", out_bytes);
    r->seg = 1;
    r->order = order;
    r->out_bytes = out_bytes;
    nin = (size_t)pf_rs_prod3(g->in_shape);
    if (pf_rs_overlap(in, nin * sizeof(int16_t), out,
                      pf_resample_out_voxels(g) * (size_t)out_bytes))
        return pf_fail(err, EINVAL, "resample: input and output overlap");
    if (out_bytes == 1)
        for (size_t i = 0; i < nin; i++)
            if (in[i] < INT8_MIN || in[i] > INT8_MAX)
                return pf_fail(err, ERANGE, "resample: label %d does not fit int8", in[i]);
    if (!pf_resample_geom_changes(g))
        return pf_rs_begin_copy(r, err);
    if (pf_rs_axes_new(r, order, 1, err)) {
        pf_resample_end(r);
        return -1;
    }
    r->plan = PLAN_SEG;
    r->nsteps = 1;
    r->kind[0] = g->separate_z && g->axis == 0 ? STEP_SEG_PLANES : STEP_SEG;
    if ((r->kind[0] == STEP_SEG_PLANES && pf_rs_sepz_ranges(r, err)) ||
        pf_rs_units_of(r->kind[0] == STEP_SEG_PLANES ? g->in_shape[0] : g->out_shape[0], err,
                       &r->units[0])) {
        pf_resample_end(r);
        return -1;
    }
    return 0;
}

int pf_resample_seg(const pf_resample_geom *g, int order, const int16_t *in, void *out,
                    int out_bytes, pf_error *err)
{
    pf_resample r;
    if (pf_resample_seg_begin(&r, g, order, in, out, out_bytes, err))
        return -1;
    return pf_rs_run_and_end(&r, err);
}
