/* planner_spacing.c - the fingerprint checked, and nnU-Net's target spacing for 3d_fullres
 * with the axis order it implies (ExperimentPlanner.determine_fullres_target_spacing and
 * determine_transpose; see planner.h). */
#include "planner_i.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#define ANISO_THRESHOLD 3           /* nnunetv2.configuration.ANISO_THRESHOLD */

static int check_fingerprint(const pf_fingerprint *fp, pf_error *err)
{
    if (fp->n_cases < 1 || !fp->spacings || !fp->shapes)
        return pf_fail(err, EINVAL, "fingerprint: no cases");
    if (fp->n_channels < 1 || fp->n_channels > PF_PLAN_MAX_CHANNELS || !fp->channel_names)
        return pf_fail(err, EINVAL, "fingerprint: %d channels (1 to %d supported)",
                       fp->n_channels, PF_PLAN_MAX_CHANNELS);
    for (int c = 0; c < fp->n_channels; c++)
        if (!fp->channel_names[c])
            return pf_fail(err, EINVAL, "fingerprint: channel %d has no name", c);
    if (fp->n_labels < 1)
        return pf_fail(err, EINVAL, "fingerprint: %d labels (background counts as one)",
                       fp->n_labels);
    if (fp->num_training < 0)
        return pf_fail(err, EINVAL, "fingerprint: numTraining %d", fp->num_training);
    if (!(fp->gpu_memory_gb >= 0) || isinf(fp->gpu_memory_gb))
        return pf_fail(err, EINVAL, "fingerprint: GPU memory target %g GB", fp->gpu_memory_gb);
    if (!isfinite(fp->median_relative_size_after_cropping))
        return pf_fail(err, EINVAL,
                       "fingerprint: median_relative_size_after_cropping is not finite");
    for (int i = 0; i < fp->n_cases; i++)
        for (int a = 0; a < 3; a++) {
            double s = fp->spacings[3 * i + a];
            int64_t n = fp->shapes[3 * i + a];
            if (!(s > 0) || isinf(s))
                return pf_fail(err, EINVAL, "fingerprint: case %d: spacing %g on axis %d", i, s,
                               a);
            /* 2^40 voxels per axis keeps every product and cast below exact */
            if (n < 1 || n > ((int64_t)1 << 40))
                return pf_fail(err, EINVAL, "fingerprint: case %d: shape %lld on axis %d", i,
                               (long long)n, a);
        }
    return 0;
}

/* A fresh copy of one axis of the per-case spacings (or shapes) for sorting. */
static double *axis_column(const pf_fingerprint *fp, int axis, int shapes, pf_error *err)
{
    double *v = pf_calloc((size_t)fp->n_cases, sizeof *v, err);
    if (!v)
        return NULL;
    for (int i = 0; i < fp->n_cases; i++)
        v[i] = shapes ? (double)fp->shapes[3 * i + axis] : fp->spacings[3 * i + axis];
    return v;
}

/* determine_fullres_target_spacing and determine_transpose. */
int pf_plan_target_spacing(const pf_fingerprint *fp, double target[3], int transpose_forward[3],
                           int transpose_backward[3], pf_error *err)
{
    double size[3], max_other_sp, min_other_size;
    int worst = 0, others[2], k = 0;

    if (check_fingerprint(fp, err))
        return -1;
    for (int a = 0; a < 3; a++) {
        double *sp = axis_column(fp, a, 0, err), *sz;
        if (!sp)
            return -1;
        target[a] = pf_plan_percentile(sp, fp->n_cases, 50);
        free(sp);
        sz = axis_column(fp, a, 1, err);
        if (!sz)
            return -1;
        size[a] = pf_plan_percentile(sz, fp->n_cases, 50);
        free(sz);
    }

    /* np.argmax: the first largest */
    for (int a = 1; a < 3; a++)
        if (target[a] > target[worst])
            worst = a;
    for (int a = 0; a < 3; a++)
        if (a != worst)
            others[k++] = a;
    max_other_sp = target[others[1]] > target[others[0]] ? target[others[1]] : target[others[0]];
    min_other_size = size[others[1]] < size[others[0]] ? size[others[1]] : size[others[0]];

    /* A much coarser axis with far fewer voxels than the others (ACDC-like): a median target
     * would interpolate its few slices badly, so take the 10th percentile of its spacings, but
     * not finer than the other axes. */
    if (target[worst] > ANISO_THRESHOLD * max_other_sp &&
        size[worst] * ANISO_THRESHOLD < min_other_size) {
        double *sp = axis_column(fp, worst, 0, err), t;
        if (!sp)
            return -1;
        t = pf_plan_percentile(sp, fp->n_cases, 10);
        free(sp);
        if (t < max_other_sp)
            t = (max_other_sp > t ? max_other_sp : t) + 1e-5;
        target[worst] = t;
    }

    /* transpose: the coarsest axis first (argmax again: after the clamp it may tie), the other
     * two ascending */
    worst = 0;
    for (int a = 1; a < 3; a++)
        if (target[a] > target[worst])
            worst = a;
    transpose_forward[0] = worst;
    k = 1;
    for (int a = 0; a < 3; a++)
        if (a != worst)
            transpose_forward[k++] = a;
    for (int a = 0; a < 3; a++)
        transpose_backward[transpose_forward[a]] = a;
    return 0;
}
