/* test_resample.c - nnU-Net's resampling (resample.h): the new-shape and separate-z rules,
 * shape limits, golden values computed by scipy 1.10 / skimage 0.19 and by nnU-Net's own
 * resample_data_or_seg_to_shape (tie rules and the separate-z index rule included), and the
 * separable passes against a per-voxel reference written here from the definitions: the
 * prefilter as a tridiagonal solve (mirror boundary after 12 edge voxels), B-spline weights
 * from the kernel formula, every output voxel a full tensor sum over its taps. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "resample.h"

/* ---- small helpers ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static double rnd_unit(void)
{
    return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0);
}

static int64_t vox(const int64_t s[3])
{
    return s[0] * s[1] * s[2];
}

static pf_resample_geom geom(int64_t i0, int64_t i1, int64_t i2, int64_t o0, int64_t o1,
                             int64_t o2, int axis)
{
    pf_resample_geom g = {{i0, i1, i2}, {o0, o1, o2}, axis >= 0, axis};
    return g;
}

/* ---- the reference: one voxel at a time, as the definitions say ---- */

/* c such that (c[i-1] + 4 c[i] + c[i+1]) / 6 = v[i] with whole-sample mirror ends
 * (c[-1] = c[1], c[L] = c[L-2]), by the Thomas algorithm. */
static void ref_prefilter_line(double *v, int64_t L)
{
    double *cp = malloc((size_t)L * sizeof *cp), *dp = malloc((size_t)L * sizeof *dp);
    assert_non_null(cp);
    assert_non_null(dp);
    for (int64_t i = 0; i < L; i++) {
        double a = i == 0 ? 0.0 : (i == L - 1 ? 2.0 : 1.0) / 6.0;
        double c = i == L - 1 ? 0.0 : (i == 0 ? 2.0 : 1.0) / 6.0;
        double b = 4.0 / 6.0, den = b - (i ? a * cp[i - 1] : 0.0);
        cp[i] = c / den;
        dp[i] = (v[i] - (i ? a * dp[i - 1] : 0.0)) / den;
    }
    v[L - 1] = dp[L - 1];
    for (int64_t i = L - 2; i >= 0; i--)
        v[i] = dp[i] - cp[i] * v[i + 1];
    free(cp);
    free(dp);
}

static double bspline3(double d)
{
    d = fabs(d);
    if (d < 1.0)
        return 2.0 / 3.0 - d * d + d * d * d / 2.0;
    if (d < 2.0)
        return (2.0 - d) * (2.0 - d) * (2.0 - d) / 6.0;
    return 0.0;
}

/* Taps of output o along an axis n -> m (order 0, 1, 3; pad 12 for order 3, with the
 * padded length n + 24). */
static int ref_taps(int64_t n, int64_t m, int order, int64_t o, int64_t *ix, double *w)
{
    double c = ((double)o + 0.5) * ((double)n / (double)m) - 0.5;
    if (order == 0) {
        int64_t i = (int64_t)floor(c + 0.5);
        ix[0] = i < 0 ? 0 : i > n - 1 ? n - 1 : i;
        w[0] = 1.0;
        return 1;
    }
    if (order == 1) {
        int64_t i = (int64_t)floor(c);
        double x = c - floor(c);
        ix[0] = i < 0 ? 0 : i > n - 1 ? n - 1 : i;
        ix[1] = i + 1 < 0 ? 0 : i + 1 > n - 1 ? n - 1 : i + 1;
        w[0] = 1.0 - x;
        w[1] = 1.0 - w[0];   /* as scipy forms it, so exact 0.5 ties compare equal */
        return 2;
    }
    c += 12.0;
    for (int k = 0; k < 4; k++) {
        ix[k] = (int64_t)floor(c) - 1 + k;
        w[k] = bspline3(c - (double)ix[k]);
    }
    return 4;
}

/* skimage's resize of a 3D double volume: pad 12 (edge) + prefilter every axis for order 3,
 * every output voxel a tensor sum, clipped to the input range. */
static void ref_resize3(const double *in, const int64_t n[3], const int64_t m[3], int order,
                        double *out)
{
    const int pad = order == 3 ? 12 : 0;
    const int64_t P[3] = {n[0] + 2 * pad, n[1] + 2 * pad, n[2] + 2 * pad};
    double *c = malloc((size_t)vox(P) * sizeof *c), lo = INFINITY, hi = -INFINITY;
    assert_non_null(c);
    for (int64_t i = 0; i < vox(n); i++) {
        lo = in[i] < lo ? in[i] : lo;
        hi = in[i] > hi ? in[i] : hi;
    }
    for (int64_t a = 0; a < P[0]; a++)
        for (int64_t b = 0; b < P[1]; b++)
            for (int64_t d = 0; d < P[2]; d++) {
                int64_t i = a - pad, j = b - pad, k = d - pad;
                i = i < 0 ? 0 : i >= n[0] ? n[0] - 1 : i;
                j = j < 0 ? 0 : j >= n[1] ? n[1] - 1 : j;
                k = k < 0 ? 0 : k >= n[2] ? n[2] - 1 : k;
                c[(a * P[1] + b) * P[2] + d] = in[(i * n[1] + j) * n[2] + k];
            }
    if (order == 3) {
        for (int ax = 0; ax < 3; ax++) {
            const int64_t st[3] = {P[1] * P[2], P[2], 1};
            double *line = malloc((size_t)P[ax] * sizeof *line);
            assert_non_null(line);
            for (int64_t a = 0; a < (ax == 0 ? 1 : P[0]); a++)
                for (int64_t b = 0; b < (ax == 1 ? 1 : P[1]); b++)
                    for (int64_t d = 0; d < (ax == 2 ? 1 : P[2]); d++) {
                        double *base = c + a * st[0] + b * st[1] + d * st[2];
                        for (int64_t r = 0; r < P[ax]; r++)
                            line[r] = base[r * st[ax]];
                        ref_prefilter_line(line, P[ax]);
                        for (int64_t r = 0; r < P[ax]; r++)
                            base[r * st[ax]] = line[r];
                    }
            free(line);
        }
    }
    for (int64_t a = 0; a < m[0]; a++)
        for (int64_t b = 0; b < m[1]; b++)
            for (int64_t d = 0; d < m[2]; d++) {
                int64_t i0[4], i1[4], i2[4];
                double w0[4], w1[4], w2[4], t = 0.0;
                int t0 = ref_taps(n[0], m[0], order, a, i0, w0);
                int t1 = ref_taps(n[1], m[1], order, b, i1, w1);
                int t2 = ref_taps(n[2], m[2], order, d, i2, w2);
                for (int x = 0; x < t0; x++)
                    for (int y = 0; y < t1; y++)
                        for (int z = 0; z < t2; z++)
                            t += c[(i0[x] * P[1] + i1[y]) * P[2] + i2[z]] * w0[x] * w1[y] * w2[z];
                t = t < lo ? lo : t > hi ? hi : t;
                out[(a * m[1] + b) * m[2] + d] = t;
            }
    free(c);
}

/* nnU-Net's separate-z index: map_coordinates(order=0) at (o + 0.5) * n / m - 0.5. */
static int64_t ref_nearest(int64_t n, int64_t m, int64_t o)
{
    int64_t i = (int64_t)floor((double)n / (double)m * ((double)o + 0.5) - 0.5 + 0.5);
    return i < 0 ? 0 : i > n - 1 ? n - 1 : i;
}

/* resample_data_or_seg for one image channel: 3D resize, or 2D per plane across `axis` and
 * nearest along it. */
static void ref_image(const float *in, const pf_resample_geom *g, int order, double *out)
{
    const int64_t *n = g->in_shape, *m = g->out_shape;
    if (!g->separate_z) {
        double *d = malloc((size_t)vox(n) * sizeof *d);
        assert_non_null(d);
        for (int64_t i = 0; i < vox(n); i++)
            d[i] = in[i];
        ref_resize3(d, n, m, order, out);
        free(d);
        return;
    }
    {
        const int a = g->axis, p = a == 0 ? 1 : 0, q = a == 2 ? 1 : 2;
        const int64_t pn[3] = {1, n[p], n[q]}, pm[3] = {1, m[p], m[q]};
        const int64_t ist[3] = {n[1] * n[2], n[2], 1}, ost[3] = {m[1] * m[2], m[2], 1};
        double *pl = malloc((size_t)vox(pn) * sizeof *pl), *po = malloc((size_t)vox(pm) * sizeof *po);
        assert_non_null(pl);
        assert_non_null(po);
        for (int64_t o = 0; o < m[a]; o++) {
            int64_t s = ref_nearest(n[a], m[a], o);
            for (int64_t i = 0; i < n[p]; i++)
                for (int64_t j = 0; j < n[q]; j++)
                    pl[i * n[q] + j] = in[s * ist[a] + i * ist[p] + j * ist[q]];
            ref_resize3(pl, pn, pm, order, po);
            for (int64_t i = 0; i < m[p]; i++)
                for (int64_t j = 0; j < m[q]; j++)
                    out[o * ost[a] + i * ost[p] + j * ost[q]] = po[i * m[q] + j];
        }
        free(pl);
        free(po);
    }
}

/* resize_segmentation: per label ascending, the indicator's linear (or order 0) interpolation
 * summed over the taps in scipy's order with scipy's product order, >= 0.5 claims. Separate-z:
 * the nearest axis takes one tap of weight 1. */
static void ref_seg(const int16_t *in, const pf_resample_geom *g, int order, int16_t *out)
{
    const int64_t *n = g->in_shape, *m = g->out_shape;
    int *present = calloc(65536, sizeof *present);
    assert_non_null(present);
    for (int64_t i = 0; i < vox(n); i++)
        present[in[i] + 32768] = 1;
    for (int64_t i = 0; i < vox(m); i++)
        out[i] = 0;
    for (int l = 0; l < 65536; l++) {
        if (!present[l])
            continue;
        for (int64_t a = 0; a < m[0]; a++)
            for (int64_t b = 0; b < m[1]; b++)
                for (int64_t d = 0; d < m[2]; d++) {
                    int64_t ix[3][2];
                    double w[3][2], t = 0.0;
                    int nt[3];
                    const int64_t o[3] = {a, b, d};
                    for (int ax = 0; ax < 3; ax++) {
                        if (g->separate_z && ax == g->axis) {
                            ix[ax][0] = ref_nearest(n[ax], m[ax], o[ax]);
                            w[ax][0] = 1.0;
                            nt[ax] = 1;
                        } else {
                            nt[ax] = ref_taps(n[ax], m[ax], order, o[ax], ix[ax], w[ax]);
                        }
                    }
                    for (int x = 0; x < nt[0]; x++)
                        for (int y = 0; y < nt[1]; y++)
                            for (int z = 0; z < nt[2]; z++) {
                                int16_t v = in[(ix[0][x] * n[1] + ix[1][y]) * n[2] + ix[2][z]];
                                double c = v == l - 32768 ? 1.0 : 0.0;
                                t += c * w[0][x] * w[1][y] * w[2][z];
                            }
                    if (t >= 0.5)
                        out[(a * m[1] + b) * m[2] + d] = (int16_t)(l - 32768);
                }
    }
    free(present);
}

/* ---- the tests ---- */

static void test_new_shape(void **state)
{
    int64_t out[3];
    pf_error err = {0};
    (void)state;
    /* Dataset102 sct_mt1 and sct_t2s at 1 mm (the spec's measured shapes) */
    assert_int_equal(pf_resample_new_shape((int64_t[]){5, 40, 40},
                                           (double[]){17, 0.84375, 0.84375},
                                           (double[]){1, 1, 1}, out, &err), 0);
    assert_int_equal(out[0], 85);
    assert_int_equal(out[1], 34);
    assert_int_equal(out[2], 34);
    assert_int_equal(pf_resample_new_shape((int64_t[]){9, 54, 49},
                                           (double[]){7.499999, 0.5, 0.5},
                                           (double[]){1, 1, 1}, out, &err), 0);
    assert_int_equal(out[0], 67);
    assert_int_equal(out[1], 27);
    assert_int_equal(out[2], 24);   /* 24.5: half to even */
    /* 2.5 -> 2, 3.5 -> 4, 0.5 * 5 = 2.5 -> 2 */
    assert_int_equal(pf_resample_new_shape((int64_t[]){5, 7, 5}, (double[]){1, 1, 0.5},
                                           (double[]){2, 2, 1}, out, &err), 0);
    assert_int_equal(out[0], 2);
    assert_int_equal(out[1], 4);
    assert_int_equal(out[2], 2);
    /* refused: a zero-voxel axis, a zero spacing, a NaN target */
    assert_int_equal(pf_resample_new_shape((int64_t[]){1, 4, 4}, (double[]){1, 1, 1},
                                           (double[]){3, 1, 1}, out, &err), -1);
    assert_non_null(strstr(err.msg, "axis 0"));
    assert_int_equal(pf_resample_new_shape((int64_t[]){4, 4, 4}, (double[]){1, 0, 1},
                                           (double[]){1, 1, 1}, out, &err), -1);
    assert_int_equal(err.errnum, EINVAL);
    assert_int_equal(pf_resample_new_shape((int64_t[]){4, 4, 4}, (double[]){1, 1, 1},
                                           (double[]){1, NAN, 1}, out, &err), -1);
}

static void test_decide_z(void **state)
{
    int sep, axis;
    (void)state;
    /* the case is anisotropic: its coarse axis */
    pf_resample_decide_z((double[]){17, 0.84375, 0.84375}, (double[]){1, 1, 1}, -1, &sep, &axis);
    assert_true(sep && axis == 0);
    pf_resample_decide_z((double[]){0.5, 0.5, 7.5}, (double[]){1, 1, 1}, -1, &sep, &axis);
    assert_true(sep && axis == 2);
    /* isotropic case, anisotropic target: the target's coarse axis */
    pf_resample_decide_z((double[]){1, 1, 1}, (double[]){1, 3.5, 1}, -1, &sep, &axis);
    assert_true(sep && axis == 1);
    /* ratio exactly 3 is not > 3 */
    pf_resample_decide_z((double[]){3, 1, 1}, (double[]){3, 1, 1}, -1, &sep, &axis);
    assert_true(!sep && axis == -1);
    /* the case's coarsest axis ties: no separate-z, and no fall back to the target */
    pf_resample_decide_z((double[]){5, 5, 1}, (double[]){1, 1, 4}, -1, &sep, &axis);
    assert_true(!sep && axis == -1);
    /* target ties (0.24, 1.25, 1.25) */
    pf_resample_decide_z((double[]){1, 1, 1}, (double[]){0.24, 1.25, 1.25}, -1, &sep, &axis);
    assert_true(!sep && axis == -1);
    /* forced */
    pf_resample_decide_z((double[]){1, 2, 1}, (double[]){1, 1, 1}, 1, &sep, &axis);
    assert_true(sep && axis == 1);
    pf_resample_decide_z((double[]){2, 2, 1}, (double[]){1, 1, 1}, 1, &sep, &axis);
    assert_true(!sep && axis == -1);
    pf_resample_decide_z((double[]){17, 1, 1}, (double[]){1, 1, 1}, 0, &sep, &axis);
    assert_true(!sep && axis == -1);
}

static void test_geom_limits(void **state)
{
    pf_resample_geom g;
    pf_error err = {0};
    const double one[3] = {1, 1, 1};
    (void)state;
    assert_int_equal(pf_resample_geom_init(&g, (int64_t[]){5, 40, 40}, NULL,
                                           (double[]){17, 0.84375, 0.84375}, one, -1, 0, &err), 0);
    assert_int_equal(g.out_shape[0], 85);
    assert_true(g.separate_z && g.axis == 0);
    assert_int_equal(pf_resample_in_voxels(&g), 8000);
    assert_int_equal(pf_resample_out_voxels(&g), 85 * 34 * 34);
    /* output over the limit: refused, the message names the shape */
    assert_int_equal(pf_resample_geom_init(&g, (int64_t[]){100, 100, 100},
                                           (int64_t[]){500, 500, 500}, one, one, -1, 1000000,
                                           &err), -1);
    assert_int_equal(err.errnum, EFBIG);
    assert_non_null(strstr(err.msg, "500x500x500"));
    /* products beyond int64 do not wrap */
    assert_int_equal(pf_resample_geom_init(&g, (int64_t[]){INT64_MAX / 2, 4, 4}, NULL, one, one,
                                           -1, 0, &err), -1);
    assert_int_equal(pf_resample_geom_init(&g, (int64_t[]){4, 4, 4},
                                           (int64_t[]){(int64_t)1 << 40, (int64_t)1 << 40, 2},
                                           one, one, -1, 0, &err), -1);
    assert_non_null(strstr(err.msg, "output shape"));
    /* empty axis */
    assert_int_equal(pf_resample_geom_init(&g, (int64_t[]){4, 0, 4}, NULL, one, one, -1, 0,
                                           &err), -1);
    assert_non_null(strstr(err.msg, "empty axis"));
    /* bad orders, bad out_bytes */
    {
        float in[8] = {0}, out[27];
        int16_t s[8] = {0};
        pf_resample r;
        g = geom(2, 2, 2, 3, 3, 3, -1);
        assert_int_equal(pf_resample_image_begin(&r, &g, 2, 0, in, out, &err), -1);
        assert_int_equal(pf_resample_image_begin(&r, &g, 3, 1, in, out, &err), -1);
        assert_int_equal(pf_resample_seg_begin(&r, &g, 3, s, out, 2, &err), -1);
        assert_int_equal(pf_resample_seg_begin(&r, &g, 1, s, out, 4, &err), -1);
        /* int8 output refuses a label that does not fit */
        s[3] = 200;
        assert_int_equal(pf_resample_seg_begin(&r, &g, 1, s, out, 1, &err), -1);
        assert_int_equal(err.errnum, ERANGE);
    }
}

static void test_copy_when_unchanged(void **state)
{
    pf_resample_geom g = geom(3, 4, 5, 3, 4, 5, -1);
    float in[60], out[60];
    int16_t s[60], so[60];
    int8_t s8[60];
    pf_error err = {0};
    (void)state;
    for (int i = 0; i < 60; i++) {
        in[i] = (float)(rnd_unit() * 1e6 - 5e5);
        s[i] = (int16_t)(i % 7 - 1);
    }
    assert_int_equal(pf_resample_image(&g, 3, 0, in, out, &err), 0);
    assert_memory_equal(in, out, sizeof in);
    assert_int_equal(pf_resample_seg(&g, 1, s, so, 2, &err), 0);
    assert_memory_equal(s, so, sizeof s);
    assert_int_equal(pf_resample_seg(&g, 1, s, s8, 1, &err), 0);
    for (int i = 0; i < 60; i++)
        assert_int_equal(s8[i], s[i]);
}

static float golden_in(int64_t i, int64_t j, int64_t k)
{
    return (float)((i * 7 + j * 3 + k * 5) % 11) - 4.0f;
}

static void fill_golden(float *x, const int64_t n[3])
{
    for (int64_t i = 0; i < n[0]; i++)
        for (int64_t j = 0; j < n[1]; j++)
            for (int64_t k = 0; k < n[2]; k++)
                x[(i * n[1] + j) * n[2] + k] = golden_in(i, j, k);
}

/* Values scipy 1.10 / skimage 0.19 and nnU-Net produced (tests/unit/test_resample.c header). */
static void test_golden_scipy(void **state)
{
    /* scipy.ndimage.zoom([0,1,4,2,-3,5,1], 11/7, order=3, mode='nearest', grid_mode=True) */
    static const double g1[11] = {-0.01598453, 0.16280887, 1.2475414, 3.34051609, 4.19533129, 2.0,
                                  -2.48800512, -1.27651842, 4.59155853, 3.64852199, 0.47266223};
    /* skimage resize((2,3,4) golden_in, (3,5,2), order 3 / order 1, mode='edge') */
    static const double g2[30] = {
        -2.75853014, 4.12750959, -0.231075466, 1.64974976, 2.22988605, -0.461812794,
        0.268479258, 2.30161381, -2.00276923, 5.11369514, -1.78893888, 1.54787111,
        0.201997519, 1.37879503, 2.28677869, 1.21322143, 1.15006375, 1.34179103,
        -0.354638696, 1.491889, -0.81934768, -1.03176749, 0.635070503, 1.10784018,
        2.34367108, 2.8882556, 2.03164816, 0.3819682, 1.29349172, -2.12991691};
    static const double g2b[30] = {-1.5, 3, -0.3, 2, 1.5, 0.5, 0, 2.3, -1, 3.5,
                                   -0.75, 1, 0.45, 1.1, 2.25, 1.25, 0.75, 1.4, -0.25, 1.5,
                                   0, -1, 1.2, 0.2, 3, 2, 1.5, 0.5, 0.5, -0.5};
    /* nnU-Net resample_data_or_seg_to_shape((2,3,4) golden_in, spacing (6,1,1) -> (4,1.5,0.8)):
     * new shape (3,2,5), separate-z along axis 0, order 3 / order_z 0 */
    static const double g3[30] = {
        -3.76670194, 0.258159608, 4.02094793, 3.19310188, 0.286762148, 1.71323788,
        -1.193102, -2.02094793, 1.74184036, 5.7667017, 4.52859068, -1.50366414,
        0.281070232, 2.06580448, -3.96644998, -0.314018071, 2.25633335, 0.700030625,
        -0.856272101, 1.71407938, 4.52859068, -1.50366414, 0.281070232, 2.06580448,
        -3.96644998, -0.314018071, 2.25633335, 0.700030625, -0.856272101, 1.71407938};
    const float v[7] = {0, 1, 4, 2, -3, 5, 1};
    float out[30], x[24];
    pf_resample_geom g = geom(1, 1, 7, 1, 1, 11, -1);
    pf_error err = {0};
    (void)state;
    assert_int_equal(pf_resample_image(&g, 3, 0, v, out, &err), 0);
    for (int i = 0; i < 11; i++)
        assert_true(fabs(out[i] - g1[i]) < 2e-7);
    fill_golden(x, (int64_t[]){2, 3, 4});
    g = geom(2, 3, 4, 3, 5, 2, -1);
    assert_int_equal(pf_resample_image(&g, 3, 0, x, out, &err), 0);
    for (int i = 0; i < 30; i++)
        assert_true(fabs(out[i] - g2[i]) < 1e-6);
    assert_int_equal(pf_resample_image(&g, 1, 0, x, out, &err), 0);
    for (int i = 0; i < 30; i++)
        assert_true(fabs(out[i] - g2b[i]) < 1e-6);
    assert_int_equal(pf_resample_geom_init(&g, (int64_t[]){2, 3, 4}, NULL, (double[]){6, 1, 1},
                                           (double[]){4, 1.5, 0.8}, -1, 0, &err), 0);
    assert_true(g.separate_z && g.axis == 0);
    assert_int_equal(g.out_shape[0], 3);
    assert_int_equal(g.out_shape[1], 2);
    assert_int_equal(g.out_shape[2], 5);
    assert_int_equal(pf_resample_image(&g, 3, 0, x, out, &err), 0);
    for (int i = 0; i < 30; i++)
        assert_true(fabs(out[i] - g3[i]) < 1e-6);
}

static const int16_t seg_golden_in[60] = {
    0, 1, 1, 2, 0,   0, 1, 2, 2, -1,  1, 1, 2, 0, -1,  0, 0, 0, -1, -1,
    2, 2, 1, 0, 0,   0, 1, 1, 0, -1,  1, 2, 2, 2, -1,  0, 1, 0, -1, -1,
    0, 0, 1, 1, 0,   2, 2, 2, 0, 0,   1, 1, 0, 0, -1,  0, 0, -1, -1, -1};

/* nnU-Net resample_data_or_seg_to_shape(is_seg=True, order 1, order_z 0) on seg_golden_in
 * (3,4,5): 3D to (2,6,3), and separate-z (spacing (4,1,1) -> 1 mm) to (5,3,7). Exact ties
 * (factor-2 downsampling puts 0.5 weights) included. */
static void test_golden_nnunet_seg(void **state)
{
    static const int16_t g4[36] = {0, 1, 0, 0, 1, 0, 0, 2, -1, 1, 2, -1, 1, 2, -1, 0, 0, -1,
                                   0, 1, 0, 2, 1, 0, 2, 2, 0, 1, 0, -1, 1, 0, -1, 0, -1, -1};
    static const int16_t g5[105] = {
        0, 1, 1, 1, 2, 2, 0, 1, 1, 1, 2, 2, 0, -1, 0, 0, 0, 0, -1, -1, -1,
        0, 1, 1, 1, 2, 2, 0, 1, 1, 1, 2, 2, 0, -1, 0, 0, 0, 0, -1, -1, -1,
        2, 2, 2, 1, 0, 0, 0, 1, 1, 2, 2, 2, 0, -1, 0, 1, 1, 0, -1, -1, -1,
        0, 0, 0, 1, 1, 0, 0, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, -1, -1, -1, -1,
        0, 0, 0, 1, 1, 0, 0, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, -1, -1, -1, -1};
    int16_t out[105];
    int8_t out8[105];
    pf_resample_geom g = geom(3, 4, 5, 2, 6, 3, -1);
    pf_error err = {0};
    (void)state;
    assert_int_equal(pf_resample_seg(&g, 1, seg_golden_in, out, 2, &err), 0);
    assert_memory_equal(out, g4, sizeof g4);
    assert_int_equal(pf_resample_geom_init(&g, (int64_t[]){3, 4, 5}, (int64_t[]){5, 3, 7},
                                           (double[]){4, 1, 1}, (double[]){1, 1, 1}, -1, 0,
                                           &err), 0);
    assert_true(g.separate_z && g.axis == 0);
    assert_int_equal(pf_resample_seg(&g, 1, seg_golden_in, out, 2, &err), 0);
    assert_memory_equal(out, g5, sizeof g5);
    assert_int_equal(pf_resample_seg(&g, 1, seg_golden_in, out8, 1, &err), 0);
    for (int i = 0; i < 105; i++)
        assert_int_equal(out8[i], g5[i]);
}

/* batchgenerators resize_segmentation on 1x1x4 -> 1x1x2 (0.5 / 0.5 taps): the later label of
 * two claiming ones wins, -1 claims like any label, 0 overwrites -1. */
static void test_seg_ties(void **state)
{
    const int16_t a[4] = {1, 2, 0, 1}, b[4] = {1, 0, -1, 0}, c[4] = {-1, -1, 3, -1};
    int16_t o[2];
    pf_resample_geom g = geom(1, 1, 4, 1, 1, 2, -1);
    pf_error err = {0};
    (void)state;
    assert_int_equal(pf_resample_seg(&g, 1, a, o, 2, &err), 0);
    assert_int_equal(o[0], 2);
    assert_int_equal(o[1], 1);
    assert_int_equal(pf_resample_seg(&g, 1, b, o, 2, &err), 0);
    assert_int_equal(o[0], 1);
    assert_int_equal(o[1], 0);
    assert_int_equal(pf_resample_seg(&g, 1, c, o, 2, &err), 0);
    assert_int_equal(o[0], -1);
    assert_int_equal(o[1], 3);
}

/* A constant stays exactly constant (the clip to [c, c]); order 0 only selects values. */
static void test_constant_and_order0(void **state)
{
    float in[5 * 6 * 7], out[9 * 4 * 11];
    pf_resample_geom g = geom(5, 6, 7, 9, 4, 11, -1);
    pf_error err = {0};
    (void)state;
    for (int i = 0; i < 5 * 6 * 7; i++)
        in[i] = 3.25f;
    for (int order = 0; order <= 3; order += order == 1 ? 2 : 1) {
        assert_int_equal(pf_resample_image(&g, order, 0, in, out, &err), 0);
        for (int i = 0; i < 9 * 4 * 11; i++)
            assert_true(out[i] == 3.25f);
    }
    for (int i = 0; i < 5 * 6 * 7; i++)
        in[i] = (float)i;
    assert_int_equal(pf_resample_image(&g, 0, 0, in, out, &err), 0);
    for (int64_t a = 0; a < 9; a++)
        for (int64_t b = 0; b < 4; b++)
            for (int64_t d = 0; d < 11; d++) {
                int64_t i = ref_nearest(5, 9, a), j = ref_nearest(6, 4, b), k = ref_nearest(7, 11, d);
                /* zoom order 0 rounds (o + .5) * n / m - .5 + .5 down, the same index */
                assert_true(out[(a * 4 + b) * 11 + d] == in[(i * 6 + j) * 7 + k]);
            }
}

/* The separate-z index is nnU-Net's float arithmetic, floor((n / m) * (o + 0.5) - 0.5 + 0.5),
 * not floor((o + 0.5) * n / m): for 2 -> 49 planes, o = 24, the latter is exactly 1 but
 * nnU-Net's resample_data_or_seg takes plane 0 (checked on nnU-Net itself, image and seg). */
static void test_nearest_index_rule(void **state)
{
    const float in[2] = {0, 1};
    const int16_t s[2] = {3, 5};
    float out[49];
    int16_t so[49];
    pf_resample_geom g = geom(2, 1, 1, 49, 1, 1, 0);
    pf_error err = {0};
    (void)state;
    assert_int_equal(pf_resample_image(&g, 3, 0, in, out, &err), 0);
    assert_int_equal(pf_resample_seg(&g, 1, s, so, 2, &err), 0);
    for (int o = 0; o < 49; o++) {
        assert_true(out[o] == (o < 25 ? 0.0f : 1.0f));
        assert_int_equal(so[o], o < 25 ? 3 : 5);
    }
}

typedef struct { int64_t n[3], m[3]; int axis; } shape_case;

/* Up- and downsampling, axes of 1, tiles of TILE lines and partial ones, planes of more than
 * one unit of columns, the z-first order, a line longer than the prefilter's underflow point,
 * and separate-z along each axis. */
static const shape_case cases[] = {
    {{4, 5, 6}, {7, 3, 9}, -1},
    {{1, 7, 9}, {1, 11, 4}, -1},
    {{6, 1, 5}, {3, 1, 8}, -1},
    {{3, 30, 30}, {5, 40, 41}, -1},   /* 1640 columns: two units */
    {{12, 5, 6}, {3, 9, 11}, -1},     /* z shrinks, plane grows: z first */
    {{9, 8, 7}, {4, 8, 7}, -1},       /* only axis 0 */
    {{2, 2, 700}, {1, 2, 301}, -1},   /* long line */
    {{5, 12, 13}, {17, 9, 20}, 0},
    {{11, 4, 9}, {7, 6, 9}, 1},
    {{8, 10, 3}, {13, 6, 7}, 2},
    {{6, 7, 5}, {6, 9, 4}, 0},        /* separate axis unchanged */
    {{6, 7, 5}, {3, 7, 5}, 0},        /* only the separate axis changes */
};

static void test_image_vs_reference(void **state)
{
    pf_error err = {0};
    (void)state;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const shape_case *sc = &cases[c];
        pf_resample_geom g = geom(sc->n[0], sc->n[1], sc->n[2], sc->m[0], sc->m[1], sc->m[2],
                                  sc->axis);
        float *in = malloc((size_t)vox(sc->n) * sizeof *in);
        float *out = malloc((size_t)vox(sc->m) * sizeof *out);
        double *ref = malloc((size_t)vox(sc->m) * sizeof *ref);
        assert_non_null(in);
        assert_non_null(out);
        assert_non_null(ref);
        for (int64_t i = 0; i < vox(sc->n); i++)
            in[i] = (float)(rnd_unit() * 200.0 - 100.0);
        for (int order = 0; order <= 3; order += order == 1 ? 2 : 1) {
            double worst = 0;
            assert_int_equal(pf_resample_image(&g, order, 0, in, out, &err), 0);
            ref_image(in, &g, order, ref);
            for (int64_t i = 0; i < vox(sc->m); i++) {
                double d = fabs(out[i] - ref[i]);
                worst = d > worst ? d : worst;
            }
            /* float32 output of values up to 100: 1 ulp is 7.6e-6 */
            if (worst > 2e-5)
                fail_msg("case %zu order %d: max difference %g", c, order, worst);
        }
        free(in);
        free(out);
        free(ref);
    }
}

static void test_seg_vs_reference(void **state)
{
    pf_error err = {0};
    (void)state;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const shape_case *sc = &cases[c];
        pf_resample_geom g = geom(sc->n[0], sc->n[1], sc->n[2], sc->m[0], sc->m[1], sc->m[2],
                                  sc->axis);
        int16_t *in = malloc((size_t)vox(sc->n) * sizeof *in);
        int16_t *out = malloc((size_t)vox(sc->m) * sizeof *out);
        int16_t *ref = malloc((size_t)vox(sc->m) * sizeof *ref);
        assert_non_null(in);
        assert_non_null(out);
        assert_non_null(ref);
        /* blobs of labels -1..4 (runs, so that interiors and borders both occur) */
        for (int64_t i = 0; i < vox(sc->n); i++)
            in[i] = i && rnd() % 3 ? in[i - 1] : (int16_t)(rnd() % 6) - 1;
        for (int order = 0; order <= 1; order++) {
            assert_int_equal(pf_resample_seg(&g, order, in, out, 2, &err), 0);
            ref_seg(in, &g, order, ref);
            for (int64_t i = 0; i < vox(sc->m); i++)
                if (out[i] != ref[i])
                    fail_msg("case %zu order %d: voxel %lld is %d, reference %d", c, order,
                             (long long)i, out[i], ref[i]);
        }
        free(in);
        free(out);
        free(ref);
    }
}

/* Units are independent: running each step's units backwards gives the same bytes. */
static void test_units_any_order(void **state)
{
    pf_error err = {0};
    (void)state;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const shape_case *sc = &cases[c];
        pf_resample_geom g = geom(sc->n[0], sc->n[1], sc->n[2], sc->m[0], sc->m[1], sc->m[2],
                                  sc->axis);
        float *in = malloc((size_t)vox(sc->n) * sizeof *in);
        float *a = malloc((size_t)vox(sc->m) * sizeof *a);
        float *b = malloc((size_t)vox(sc->m) * sizeof *b);
        pf_resample r;
        assert_non_null(in);
        assert_non_null(a);
        assert_non_null(b);
        for (int64_t i = 0; i < vox(sc->n); i++)
            in[i] = (float)rnd_unit();
        assert_int_equal(pf_resample_image(&g, 3, 0, in, a, &err), 0);
        assert_int_equal(pf_resample_image_begin(&r, &g, 3, 0, in, b, &err), 0);
        assert_true(r.nsteps >= 1 && r.nsteps <= 2);
        for (r.step = 0; r.step < r.nsteps; r.step++)
            for (int u = r.units[r.step] - 1; u >= 0; u--)
                assert_int_equal(pf_resample_unit(&r, u, &err), 0);
        assert_int_equal(pf_resample_unit(&r, 0, &err), -1);   /* step out of range */
        pf_resample_end(&r);
        assert_memory_equal(a, b, (size_t)vox(sc->m) * sizeof *a);
        free(in);
        free(a);
        free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_shape),
        cmocka_unit_test(test_decide_z),
        cmocka_unit_test(test_geom_limits),
        cmocka_unit_test(test_copy_when_unchanged),
        cmocka_unit_test(test_golden_scipy),
        cmocka_unit_test(test_golden_nnunet_seg),
        cmocka_unit_test(test_seg_ties),
        cmocka_unit_test(test_constant_and_order0),
        cmocka_unit_test(test_nearest_index_rule),
        cmocka_unit_test(test_image_vs_reference),
        cmocka_unit_test(test_seg_vs_reference),
        cmocka_unit_test(test_units_any_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
