/* resample_axis.c - per-axis tables of the resampling: for each output sample of an axis,
 * the source taps and their weights, as scipy 1.10 computes them (zoom with grid_mode=True:
 * NI_ZoomShift's coordinates, the 'nearest' mode's clamped tap indices, the order-3 spline
 * weights of get_spline_interpolation_weights; nnU-Net's map_coordinates(order=0) along the
 * separate-z axis), bit for bit. */
#include "resample_i.h"

#include <math.h>
#include <stdlib.h>

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* scipy get_spline_interpolation_weights, order 3, verbatim. */
static void spline3_weights(double x, double w[4])
{
    double y, z;
    x -= floor(x);
    y = x;
    z = 1.0 - x;
    w[1] = (y * y * (y - 2.0) * 3.0 + 4.0) / 6.0;
    w[2] = (z * z * (z - 2.0) * 3.0 + 4.0) / 6.0;
    w[0] = z * z * z / 6.0;
    w[3] = 1.0;
    for (int i = 0; i < 3; i++)
        w[3] -= w[i];
}

void pf_rs_axis_free(pf_rs_axis *a)
{
    if (a) {
        free(a->idx);
        free(a->w);
        free(a);
    }
}

/* kind: AX_SPLINE3 / AX_LINEAR / AX_ROUND = skimage resize (scipy zoom, grid_mode) of that
 * order; AX_NEAREST_Z = nnU-Net's map_coordinates(order=0) along the separate-z axis.
 * two_taps: as pf_rs_axes_new. */
static pf_rs_axis *axis_new(int64_t n, int64_t m, int kind, int two_taps, pf_error *err)
{
    pf_rs_axis *a = pf_calloc(1, sizeof *a, err);
    int taps = kind == AX_SPLINE3 ? 4 : kind == AX_LINEAR ? 2 : 1;
    int st = two_taps && taps == 1 ? 2 : taps;
    /* zoom: zoom = input.shape / output_shape (float64); map: float(orig) / new */
    const double zoom = (double)n / (double)m;
    if (!a)
        return NULL;
    a->n = n;
    a->m = m;
    a->taps = st;
    a->pad = kind == AX_SPLINE3 ? NPAD : 0;
    a->idx = pf_calloc((size_t)m * (size_t)st, sizeof *a->idx, err);
    a->w = a->idx ? pf_calloc((size_t)m * (size_t)st, sizeof *a->w, err) : NULL;
    if (!a->w) {
        pf_rs_axis_free(a);
        return NULL;
    }
    for (int64_t o = 0; o < m; o++) {
        int64_t *ix = a->idx + o * st;
        double *w = a->w + o * st;
        double cc;
        if (kind == AX_NEAREST_Z) {
            /* map_rows = row_scale * (map_rows + 0.5) - 0.5; then cc = icoor + nprepad(0) */
            cc = zoom * ((double)o + 0.5) - 0.5;
            cc += 0.0;
        } else {
            /* NI_ZoomShift with grid_mode: cc += 0.5; cc *= zoom; cc -= 0.5; cc += nprepad */
            cc = (double)o;
            cc += 0.5;
            cc *= zoom;
            cc -= 0.5;
            cc += (double)a->pad;
        }
        /* mode 'nearest' in scipy 1.10 leaves cc unmapped and clamps each tap's index */
        if (kind == AX_SPLINE3) {
            int64_t start = (int64_t)floor(cc) - 1, len = n + 2 * NPAD;
            for (int k = 0; k < 4; k++)
                ix[k] = clamp64(start + k, 0, len - 1);
            spline3_weights(cc, w);
        } else if (kind == AX_LINEAR) {
            int64_t start = (int64_t)floor(cc);
            double x = cc - floor(cc);
            ix[0] = clamp64(start, 0, n - 1);
            ix[1] = clamp64(start + 1, 0, n - 1);
            w[0] = 1.0 - x;
            w[1] = 1.0;
            w[1] -= w[0];
        } else {
            /* even order: start = floor(cc + 0.5) */
            ix[0] = clamp64((int64_t)floor(cc + 0.5), 0, n - 1);
            w[0] = 1.0;
            if (st == 2) {
                ix[1] = ix[0];
                w[1] = 0.0;
            }
        }
    }
    return a;
}

int pf_rs_axes_new(pf_resample *r, int order, int two_taps, pf_error *err)
{
    const pf_resample_geom *g = &r->g;
    for (int i = 0; i < 3; i++) {
        int kind = g->separate_z && i == g->axis ? AX_NEAREST_Z : order;
        if (!(r->ax[i] = axis_new(g->in_shape[i], g->out_shape[i], kind, two_taps, err)))
            return -1;
    }
    return 0;
}
