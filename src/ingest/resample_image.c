/* resample_image.c - an image channel resampled (skimage's resize as nnU-Net calls it, float64,
 * clipped to the input's range, stored as float32): the 3D pipeline (the in-plane passes and
 * the axis-0 pass, in whichever order needs the smaller intermediate volume) and the
 * separate-z pipeline (each plane across the axis resized in 2D and clipped to its own range,
 * nearest neighbour along the axis), their units and their set-up. */
#include "resample_i.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "minmax.h"

/* Columns of one unit of an axis-0 pass (a unit must be big enough to amortise its scratch). */
#define COLS_PER_UNIT 1024

static int mul_ok(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* a * b * c, saturated at INT64_MAX. */
static int64_t mul3_sat(int64_t a, int64_t b, int64_t c)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r) || __builtin_mul_overflow(r, c, &r))
        return INT64_MAX;
    return r;
}

/* min and max of n floats as doubles, NaN ignored (skimage then uses nanmin / nanmax) */
static void float_range(const float *x, size_t n, double *lo, double *hi)
{
    float l, h;
    (void)pf_float_minmax(x, n, &l, &h);
    *lo = l;
    *hi = h;
}

/* ------------------------------------------------------------------ units */

/* The in-plane (axes 1 and 2) passes of plane z: from the input (PLAN_XY_Z) or from tmp
 * (PLAN_Z_XY), to tmp or to the output. */
int pf_rs_unit_xy(const pf_resample *r, int64_t z, pf_error *err)
{
    const pf_resample_geom *g = &r->g;
    const double clip[2] = {r->lo, r->hi};
    rs_plane src, dst;
    if (r->plan == PLAN_XY_Z) {
        src = (rs_plane){(float *)r->in + z * g->in_shape[1] * g->in_shape[2], 1,
                         g->in_shape[2], 1};
        if (r->changes[0])
            dst = (rs_plane){r->tmp + z * g->out_shape[1] * g->out_shape[2], 0,
                             g->out_shape[2], 1};
        else
            dst = (rs_plane){(float *)r->out + z * g->out_shape[1] * g->out_shape[2], 1,
                             g->out_shape[2], 1};
    } else {
        src = (rs_plane){r->tmp + z * g->in_shape[1] * g->in_shape[2], 0, g->in_shape[2], 1};
        dst = (rs_plane){(float *)r->out + z * g->out_shape[1] * g->out_shape[2], 1,
                         g->out_shape[2], 1};
    }
    return pf_rs_plane_2d(r, 1, 2, &src, &dst, clip, err);
}

/* The axis-0 pass over the unit's columns of the plane (ny x nx of what it reads):
 * cols_per_unit of them, the last unit fewer. */
int pf_rs_unit_z(const pf_resample *r, int unit, pf_error *err)
{
    const pf_resample_geom *g = &r->g;
    const double clip[2] = {r->lo, r->hi};
    const int64_t plane = r->plan == PLAN_XY_Z ? g->out_shape[1] * g->out_shape[2]
                                               : g->in_shape[1] * g->in_shape[2];
    const int64_t c0 = (int64_t)unit * r->cols_per_unit, c1 = c0 + r->cols_per_unit;
    rs_ref a, b;
    if (r->plan == PLAN_XY_Z) {
        if (r->changes[1] || r->changes[2])
            a = (rs_ref){r->tmp, 0, plane, 1};
        else
            a = (rs_ref){(void *)r->in, 1, plane, 1};
        b = (rs_ref){r->out, 1, plane, 1};
    } else {
        a = (rs_ref){(void *)r->in, 1, plane, 1};
        b = (rs_ref){r->tmp, 0, plane, 1};
    }
    return pf_rs_lines(r->ax[0], &a, &b, c0, (c1 < plane ? c1 : plane) - c0, clip, err);
}

/* Separate-z: plane s across axis a resized in 2D (clipped to its own range, as skimage
 * clips each 2D call), written to every output plane whose nearest source it is. */
int pf_rs_unit_sepz(const pf_resample *r, int64_t s, pf_error *err)
{
    const pf_resample_geom *g = &r->g;
    const int a = g->axis, ap = a == 0 ? 1 : 0, aq = a == 2 ? 1 : 2;
    const int64_t ist[3] = {g->in_shape[1] * g->in_shape[2], g->in_shape[2], 1};
    const int64_t ost[3] = {g->out_shape[1] * g->out_shape[2], g->out_shape[2], 1};
    const int64_t np = g->in_shape[ap], nq = g->in_shape[aq];
    const int64_t mp = g->out_shape[ap], mq = g->out_shape[aq];
    const float *in = (const float *)r->in + s * ist[a];
    float *out = r->out, *first;
    double clip[2];
    rs_plane src, dst;

    if (r->scount[s] == 0)
        return 0;   /* no output plane takes this one */
    clip[0] = INFINITY;
    clip[1] = -INFINITY;
    for (int64_t p = 0; p < np; p++) {
        double lo, hi;
        if (ist[aq] == 1) {
            float_range(in + p * ist[ap], (size_t)nq, &lo, &hi);
        } else {
            lo = INFINITY;
            hi = -INFINITY;
            for (int64_t q = 0; q < nq; q++) {
                double v = in[p * ist[ap] + q * ist[aq]];
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
        }
        clip[0] = lo < clip[0] ? lo : clip[0];
        clip[1] = hi > clip[1] ? hi : clip[1];
    }
    first = out + r->sfirst[s] * ost[a];
    if (r->changes[ap] || r->changes[aq]) {
        src = (rs_plane){(void *)in, 1, ist[ap], ist[aq]};
        dst = (rs_plane){first, 1, ost[ap], ost[aq]};
        if (pf_rs_plane_2d(r, ap, aq, &src, &dst, clip, err))
            return -1;
    } else {
        for (int64_t p = 0; p < np; p++)
            for (int64_t q = 0; q < nq; q++)
                first[p * ost[ap] + q * ost[aq]] = in[p * ist[ap] + q * ist[aq]];
    }
    for (int64_t k = 1; k < r->scount[s]; k++) {
        float *d = first + k * ost[a];
        for (int64_t p = 0; p < mp; p++)
            for (int64_t q = 0; q < mq; q++)
                d[p * ost[ap] + q * ost[aq]] = first[p * ost[ap] + q * ost[aq]];
    }
    return 0;
}

/* ------------------------------------------------------------------ set-up */

int pf_resample_image_begin(pf_resample *r, const pf_resample_geom *g, int order, int order_z,
                            const float *in, float *out, pf_error *err)
{
    const int64_t *ns = g->in_shape, *ms = g->out_shape;
    size_t nin;
    if (pf_rs_begin_common(r, g, in, out, err))
        return -1;
    if (order != 0 && order != 1 && order != 3)
        return pf_fail(err, EINVAL, "resample: image order %d (0, 1 or 3 supported)", order);
    if (order_z != 0)
        return pf_fail(err, EINVAL, "resample: order_z %d (only 0, as nnU-Net's plans)", order_z);
    r->order = order;
    if (!pf_resample_geom_changes(g))
        return pf_rs_begin_copy(r, err);
    nin = (size_t)pf_rs_prod3(ns);
    if (pf_rs_overlap(in, nin * sizeof(float), out, pf_resample_out_voxels(g) * sizeof(float)))
        return pf_fail(err, EINVAL, "resample: input and output overlap");

    if (pf_rs_axes_new(r, order, 0, err)) {
        pf_resample_end(r);
        return -1;
    }
    if (g->separate_z) {
        r->plan = PLAN_SEPZ;
        r->nsteps = 1;
        r->kind[0] = STEP_SEPZ;
        if (pf_rs_sepz_ranges(r, err) || pf_rs_units_of(ns[g->axis], err, &r->units[0])) {
            pf_resample_end(r);
            return -1;
        }
        return 0;
    }

    /* 3D: clip range of the whole channel (NaN ignored, as numpy's nanmin/nanmax) */
    float_range(in, nin, &r->lo, &r->hi);
    {
        const int xy = r->changes[1] || r->changes[2];
        /* Intermediate volume of each pass order; the smaller one wins. It is at most
         * max(input, output) voxels (t_xyz = out * nz / mz, t_zxy = in * mz / nz), so the
         * limits on those bound it too. */
        const int64_t t_xyz = mul3_sat(ns[0], ms[1], ms[2]), t_zxy = mul3_sat(ms[0], ns[1], ns[2]);
        const int z_first = xy && r->changes[0] && t_zxy < t_xyz;
        int64_t cols, tvox = 0;
        size_t bytes;
        r->plan = z_first ? PLAN_Z_XY : PLAN_XY_Z;
        r->cols_per_unit = COLS_PER_UNIT;
        if (xy && r->changes[0])
            tvox = z_first ? t_zxy : t_xyz;
        if (tvox) {
            if (!mul_ok((size_t)tvox, sizeof(double), &bytes)) {
                pf_resample_end(r);
                return pf_fail(err, EFBIG, "resample: intermediate volume of %" PRId64
                               " voxels for %" PRId64 "x%" PRId64 "x%" PRId64 " -> %" PRId64
                               "x%" PRId64 "x%" PRId64 " is too large", tvox, ns[0], ns[1],
                               ns[2], ms[0], ms[1], ms[2]);
            }
            if (!(r->tmp = pf_calloc((size_t)tvox, sizeof(double), err))) {
                pf_resample_end(r);
                return -1;
            }
        }
        r->nsteps = 0;
        cols = z_first ? ns[1] * ns[2] : ms[1] * ms[2];
        for (int k = 0; k < 2; k++) {
            /* Z_XY: axis-0 pass into tmp, then the planes; XY_Z: planes, then axis 0 */
            int z_step = z_first ? k == 0 : k == 1;
            if (z_step ? !r->changes[0] : !xy)
                continue;
            r->kind[r->nsteps] = z_step ? STEP_Z : STEP_XY;
            if (pf_rs_units_of(z_step ? (cols + COLS_PER_UNIT - 1) / COLS_PER_UNIT
                                      : z_first ? ms[0] : ns[0],
                               err, &r->units[r->nsteps])) {
                pf_resample_end(r);
                return -1;
            }
            r->nsteps++;
        }
    }
    return 0;
}

int pf_resample_image(const pf_resample_geom *g, int order, int order_z, const float *in,
                      float *out, pf_error *err)
{
    pf_resample r;
    if (pf_resample_image_begin(&r, g, order, order_z, in, out, err))
        return -1;
    return pf_rs_run_and_end(&r, err);
}
