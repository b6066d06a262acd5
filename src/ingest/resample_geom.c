/* resample_geom.c - what a case is resampled from and to (see resample.h): nnU-Net's new
 * shape (compute_new_shape), its separate-z decision (determine_do_sep_z_and_axis), and the
 * limits on the shapes, decided once per case and shared by its channels. */
#include "resample_i.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

/* Both spacings of axis i positive and finite. */
static int check_spacing(const double spacing[3], const double target[3], int i, pf_error *err)
{
    if (!(isfinite(spacing[i]) && spacing[i] > 0 && isfinite(target[i]) && target[i] > 0))
        return pf_fail(err, EINVAL, "resample: spacing %g -> %g on axis %d is not a positive "
                       "finite number", spacing[i], target[i], i);
    return 0;
}

int pf_resample_new_shape(const int64_t shape[3], const double spacing[3],
                          const double target[3], int64_t out[3], pf_error *err)
{
    for (int i = 0; i < 3; i++) {
        double v, r;
        if (check_spacing(spacing, target, i, err))
            return -1;
        if (shape[i] < 1 || shape[i] > ((int64_t)1 << 53))
            return pf_fail(err, EINVAL, "resample: input shape %" PRId64 "x%" PRId64 "x%" PRId64
                           " has an axis out of range", shape[0], shape[1], shape[2]);
        /* compute_new_shape: int(round(i / j * k)), Python round = half to even = rint */
        v = spacing[i] / target[i] * (double)shape[i];
        r = rint(v);
        if (!(r >= 1.0 && r <= 9.0e15))
            return pf_fail(err, EINVAL, "resample: shape %" PRId64 " at spacing %g gives %g "
                           "voxels at spacing %g on axis %d", shape[i], spacing[i], r, target[i],
                           i);
        out[i] = (int64_t)r;
    }
    return 0;
}

/* get_do_separate_z: np.max(spacing) / np.min(spacing) > ANISO_THRESHOLD */
static int is_aniso(const double s[3])
{
    double mx = s[0], mn = s[0];
    for (int i = 1; i < 3; i++) {
        if (s[i] > mx)
            mx = s[i];
        if (s[i] < mn)
            mn = s[i];
    }
    return mx / mn > PF_RESAMPLE_ANISO;
}

/* get_lowres_axis: np.where(max(s) / np.array(s) == 1); the unique such axis, or -1 when two
 * or three axes tie (determine_do_sep_z_and_axis then resamples in 3D). */
static int lowres_axis(const double s[3])
{
    double mx = s[0];
    int n = 0, axis = -1;
    for (int i = 1; i < 3; i++)
        if (s[i] > mx)
            mx = s[i];
    for (int i = 0; i < 3; i++)
        if (mx / s[i] == 1.0) {
            n++;
            axis = i;
        }
    return n == 1 ? axis : -1;
}

void pf_resample_decide_z(const double spacing[3], const double target[3], int force,
                          int *separate_z, int *axis)
{
    int a = -1;
    if (force == 1)
        a = lowres_axis(spacing);
    else if (force < 0) {
        /* the case's own anisotropy first; only if it has none, the target's */
        if (is_aniso(spacing))
            a = lowres_axis(spacing);
        else if (is_aniso(target))
            a = lowres_axis(target);
    }
    *separate_z = a >= 0;
    *axis = a;
}

static int check_shape(const char *what, const int64_t s[3], int64_t max_voxels, pf_error *err)
{
    int64_t v;
    for (int i = 0; i < 3; i++)
        if (s[i] < 1)
            return pf_fail(err, EINVAL, "resample: %s shape %" PRId64 "x%" PRId64 "x%" PRId64
                           " has an empty axis", what, s[0], s[1], s[2]);
    v = pf_rs_prod3_checked(s);
    if (v < 0 || v > max_voxels)
        return pf_fail(err, EFBIG, "resample: %s shape %" PRId64 "x%" PRId64 "x%" PRId64
                       " exceeds the limit of %" PRId64 " voxels", what, s[0], s[1], s[2],
                       max_voxels);
    return 0;
}

int pf_resample_geom_init(pf_resample_geom *g, const int64_t in_shape[3],
                          const int64_t *out_shape, const double spacing[3],
                          const double target[3], int force_separate_z, int64_t max_voxels,
                          pf_error *err)
{
    int64_t out[3];
    memset(g, 0, sizeof *g);
    g->axis = -1;
    if (max_voxels <= 0)
        max_voxels = PF_RESAMPLE_MAX_VOXELS;
    if (max_voxels > ((int64_t)1 << 40))
        return pf_fail(err, EINVAL, "resample: voxel limit %" PRId64 " is above 2^40", max_voxels);
    if (check_shape("input", in_shape, max_voxels, err))
        return -1;
    for (int i = 0; i < 3; i++)
        if (check_spacing(spacing, target, i, err))
            return -1;
    if (out_shape)
        memcpy(out, out_shape, sizeof out);
    else if (pf_resample_new_shape(in_shape, spacing, target, out, err))
        return -1;
    if (check_shape("output", out, max_voxels, err))
        return -1;
    memcpy(g->in_shape, in_shape, sizeof g->in_shape);
    memcpy(g->out_shape, out, sizeof g->out_shape);
    pf_resample_decide_z(spacing, target, force_separate_z, &g->separate_z, &g->axis);
    return 0;
}

int pf_resample_geom_changes(const pf_resample_geom *g)
{
    return g->in_shape[0] != g->out_shape[0] || g->in_shape[1] != g->out_shape[1] ||
           g->in_shape[2] != g->out_shape[2];
}

size_t pf_resample_in_voxels(const pf_resample_geom *g)
{
    return (size_t)pf_rs_prod3(g->in_shape);
}

size_t pf_resample_out_voxels(const pf_resample_geom *g)
{
    return (size_t)pf_rs_prod3(g->out_shape);
}
