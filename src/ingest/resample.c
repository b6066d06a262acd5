/* resample.c - nnU-Net v2's resampling to the target spacing (see resample.h): the work of one
 * call as steps of independent units (the set-up both pipelines share, running a unit, ending),
 * and a plain copy when no axis changes. resample_i.h lists the other files.
 *
 * Every formula of these files is scipy 1.10's (ndimage/_interpolation.py zoom and spline_filter,
 * src/ni_splines.c, src/ni_interpolation.c NI_ZoomShift / NI_GeometricTransform) or nnU-Net's
 * (default_resampling.py), written with the same operations in the same order, so that the
 * per-axis coordinates, tap indices, weights and prefilter coefficients are bitwise theirs.
 * Build with -ffp-contract=off: a fused multiply-add would change those bits. */
#include "resample_i.h"
#include "workers.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Copy of slice z (nothing changes). */
static void unit_copy(const pf_resample *r, int64_t z)
{
    const size_t n = (size_t)(r->g.in_shape[1] * r->g.in_shape[2]);
    if (!r->seg) {
        memcpy((float *)r->out + z * n, (const float *)r->in + z * n, n * sizeof(float));
    } else if (r->out_bytes == 2) {
        memcpy((int16_t *)r->out + z * n, (const int16_t *)r->in + z * n, n * sizeof(int16_t));
    } else {
        const int16_t *s = (const int16_t *)r->in + z * n;
        int8_t *d = (int8_t *)r->out + z * n;
        for (size_t i = 0; i < n; i++)
            d[i] = (int8_t)s[i];
    }
}

int pf_resample_unit(void *arg, int unit, pf_error *err)
{
    pf_resample *r = arg;
    if (r->step < 0 || r->step >= r->nsteps || unit < 0 || unit >= r->units[r->step])
        return pf_fail(err, EINVAL, "resample: no unit %d in step %d", unit, r->step);
    switch (r->kind[r->step]) {
    case STEP_COPY:
        unit_copy(r, unit);
        return 0;
    case STEP_SEG:
        pf_rs_unit_seg(r, unit);
        return 0;
    case STEP_SEG_PLANES:
        pf_rs_unit_seg_planes(r, unit);
        return 0;
    case STEP_SEPZ:
        return pf_rs_unit_sepz(r, unit, err);
    case STEP_XY:
        return pf_rs_unit_xy(r, unit, err);
    default:
        return pf_rs_unit_z(r, unit, err);
    }
}

int pf_resample_run(pf_resample *r, pf_error *err)
{
    for (r->step = 0; r->step < r->nsteps; r->step++)
        for (int u = 0; u < r->units[r->step]; u++)
            if (pf_resample_unit(r, u, err))
                return -1;
    return 0;
}

int pf_resample_run_pool(pf_resample *r, int threads, pf_error *err)
{
    for (r->step = 0; r->step < r->nsteps; r->step++)
        if (pf_parallel_for(0, r->units[r->step], threads, pf_resample_unit, r, err) != 0)
            return -1;
    return 0;
}

int pf_rs_run_and_end(pf_resample *r, pf_error *err)
{
    int rc = pf_resample_run(r, err);
    pf_resample_end(r);
    return rc;
}

void pf_resample_end(pf_resample *r)
{
    for (int i = 0; i < 3; i++)
        pf_rs_axis_free(r->ax[i]);
    free(r->tmp);
    free(r->sfirst);
    free(r->scount);
    memset(r, 0, sizeof *r);
}

int pf_rs_units_of(int64_t n, pf_error *err, int *out)
{
    if (n > INT32_MAX)
        return pf_fail(err, EFBIG, "resample: %" PRId64 " work units do not fit an int", n);
    *out = (int)n;
    return 0;
}

static int check_geom(const pf_resample_geom *g, pf_error *err)
{
    for (int i = 0; i < 3; i++)
        if (g->in_shape[i] < 1 || g->out_shape[i] < 1)
            return pf_fail(err, EINVAL, "resample: shape %" PRId64 "x%" PRId64 "x%" PRId64
                           " -> %" PRId64 "x%" PRId64 "x%" PRId64 " has an empty axis",
                           g->in_shape[0], g->in_shape[1], g->in_shape[2], g->out_shape[0],
                           g->out_shape[1], g->out_shape[2]);
    if (pf_rs_prod3_checked(g->in_shape) < 0 || pf_rs_prod3_checked(g->out_shape) < 0 ||
        pf_rs_prod3(g->in_shape) > ((int64_t)1 << 40) ||
        pf_rs_prod3(g->out_shape) > ((int64_t)1 << 40))
        return pf_fail(err, EFBIG, "resample: shape %" PRId64 "x%" PRId64 "x%" PRId64
                       " -> %" PRId64 "x%" PRId64 "x%" PRId64 " is too large", g->in_shape[0],
                       g->in_shape[1], g->in_shape[2], g->out_shape[0], g->out_shape[1],
                       g->out_shape[2]);
    if (g->separate_z && (g->axis < 0 || g->axis > 2))
        return pf_fail(err, EINVAL, "resample: separate-z axis %d is not 0, 1 or 2", g->axis);
    return 0;
}

/* Output planes along the separate axis take source plane map[o] (map_coordinates order 0,
 * nondecreasing in o). */
int pf_rs_sepz_ranges(pf_resample *r, pf_error *err)
{
    const pf_rs_axis *A = r->ax[r->g.axis];
    const int64_t n = A->n;
    r->sfirst = pf_calloc((size_t)n, sizeof *r->sfirst, err);
    r->scount = r->sfirst ? pf_calloc((size_t)n, sizeof *r->scount, err) : NULL;
    if (!r->scount)
        return -1;
    for (int64_t o = 0; o < A->m; o++) {
        int64_t s = A->idx[o * A->taps];
        if (r->scount[s]++ == 0)
            r->sfirst[s] = o;
        else if (r->sfirst[s] + r->scount[s] - 1 != o)
            return pf_fail(err, EINVAL, "resample: separate-z map is not monotone");
    }
    return 0;
}

int pf_rs_begin_common(pf_resample *r, const pf_resample_geom *g, const void *in, void *out,
                       pf_error *err)
{
    memset(r, 0, sizeof *r);
    if (check_geom(g, err))
        return -1;
    if (!in || !out)
        return pf_fail(err, EINVAL, "resample: no input or output array");
    r->g = *g;
    r->in = in;
    r->out = out;
    for (int i = 0; i < 3; i++)
        r->changes[i] = g->in_shape[i] != g->out_shape[i];
    return 0;
}

int pf_rs_begin_copy(pf_resample *r, pf_error *err)
{
    r->plan = PLAN_COPY;
    r->nsteps = 1;
    r->kind[0] = STEP_COPY;
    return pf_rs_units_of(r->g.in_shape[0], err, &r->units[0]);
}
