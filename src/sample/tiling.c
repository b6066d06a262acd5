/* tiling.c - nnU-Net's sliding-window tiles and importance map (see tiling.h). */
#include "tiling.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detmath.h"

int64_t pf_sliding_starts(int64_t size, int64_t patch, double step, int64_t *starts)
{
    /* compute_steps_for_sliding_window in IEEE double, as numpy computes it: np.ceil of the
     * steps a stride of patch * step needs, np.round (half to even: rint in the default
     * rounding mode) of each multiple of the actual stride */
    const double target = (double)patch * step;
    const int64_t n = (int64_t)ceil((double)(size - patch) / target) + 1;
    const double actual = n > 1 ? (double)(size - patch) / (double)(n - 1) : 0.0;
    if (starts)
        for (int64_t i = 0; i < n; i++)
            starts[i] = (int64_t)rint(actual * (double)i);
    return n;
}

void pf_tiling_init(pf_tiling *t, const int64_t shape[3], const int patch[3], int is_2d)
{
    memset(t, 0, sizeof *t);
    t->is_2d = is_2d;
    for (int d = 0; d < 3; d++) {
        int64_t diff;
        t->patch[d] = d == 0 && is_2d ? 1 : patch[d];
        /* pad_nd_image: to at least the patch, half before (rounded down), the rest after */
        t->padded[d] = shape[d] > t->patch[d] ? shape[d] : t->patch[d];
        diff = t->padded[d] - shape[d];
        t->pad_before[d] = diff / 2;
        t->n[d] = d == 0 && is_2d ? shape[0]
                                  : pf_sliding_starts(t->padded[d], t->patch[d], PF_TILE_STEP,
                                                      NULL);
    }
}

uint64_t pf_tiling_count(const pf_tiling *t)
{
    return (uint64_t)t->n[0] * (uint64_t)t->n[1] * (uint64_t)t->n[2];
}

/* start k of axis d, as pf_sliding_starts gives it (the 2D slice axis: every slice) */
static int64_t axis_start(const pf_tiling *t, int d, int64_t k)
{
    const int64_t n = t->n[d], span = t->padded[d] - t->patch[d];
    if (d == 0 && t->is_2d)
        return k;
    return n > 1 ? (int64_t)rint((double)span / (double)(n - 1) * (double)k) : 0;
}

void pf_tiling_start(const pf_tiling *t, uint64_t i, int64_t start[3])
{
    const uint64_t nyx = (uint64_t)t->n[1] * (uint64_t)t->n[2];
    start[0] = axis_start(t, 0, (int64_t)(i / nyx));
    start[1] = axis_start(t, 1, (int64_t)(i % nyx / (uint64_t)t->n[2]));
    start[2] = axis_start(t, 2, (int64_t)(i % (uint64_t)t->n[2]));
}

/* scipy's gaussian_filter1d of a unit impulse at c on an axis of n voxels: the normalised
 * kernel (_gaussian_kernel1d, radius int(4 sigma + 0.5)) centred at c, zero beyond it */
static void filtered_impulse(int n, double *w)
{
    const double sigma = (double)n * 0.125, sigma2 = sigma * sigma;
    const int radius = (int)(4.0 * sigma + 0.5), c = n / 2;
    double sum = 0.0;
    for (int x = -radius; x <= radius; x++)
        sum += pf_exp(-0.5 / sigma2 * (double)(x * x));
    for (int i = 0; i < n; i++) {
        int x = i - c;
        w[i] = x >= -radius && x <= radius ? pf_exp(-0.5 / sigma2 * (double)(x * x)) / sum
                                           : 0.0;
    }
}

int pf_importance_map(const int *patch, int nd, float *out)
{
    int size[3] = {1, 1, 1};
    double *w[3], peak;
    float least = INFINITY;
    size_t k = 0, total;
    for (int d = 0; d < nd; d++)
        size[3 - nd + d] = patch[d];
    total = (size_t)size[0] * (size_t)size[1] * (size_t)size[2];
    for (int d = 0; d < 3; d++) {
        w[d] = malloc((size_t)size[d] * sizeof *w[d]);
        if (!w[d]) {
            for (int e = 0; e < d; e++)
                free(w[e]);
            return -1;
        }
        if (d < 3 - nd)
            w[d][0] = 1.0;
        else
            filtered_impulse(size[d], w[d]);
    }
    /* the filter runs axis after axis: every voxel is one product, in axis order */
    peak = w[0][size[0] / 2] * w[1][size[1] / 2] * w[2][size[2] / 2];
    for (int z = 0; z < size[0]; z++)
        for (int y = 0; y < size[1]; y++)
            for (int x = 0; x < size[2]; x++, k++) {
                float v = (float)(w[0][z] * w[1][y] * w[2][x] / (peak / 10.0));
                out[k] = v;
                if (v > 0.0f && v < least)
                    least = v;
            }
    for (k = 0; k < total; k++)
        if (out[k] == 0.0f)
            out[k] = least;
    for (int d = 0; d < 3; d++)
        free(w[d]);
    return 0;
}
