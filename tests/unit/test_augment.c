/* test_augment.c - the augmentation arithmetic: detmath.h's double exp, sin and cos and
 * vecmath.h's float log2, exp2 and cos/sin against libm, and the intensity transforms (intensity.c) against independent double
 * implementations written here (blur, gamma, contrast, brightness, low resolution), the noise's
 * distribution, and golden hashes that pin the exact bytes (so a change of compiler,
 * optimisation level or sanitizer build that moved a bit would fail here). Patch sizes are not
 * multiples of the lane count, so the remainder paths are exercised. */
#include "testutil.h"

#include <xxhash.h>

#include "augment.h"
#include "detmath.h"
#include "vecmath.h"

/* ---- detmath and vecmath ---- */

static void test_detmath_accuracy(void **state)
{
    double worst = 0.0;
    (void)state;
    for (int i = -2000; i <= 2000; i++) {
        double x = i * 0.01; /* exp over [-20, 20], sin and cos over about three turns each way */
        worst = fmax(worst, fabs(pf_exp(x) - exp(x)) / exp(x));
        worst = fmax(worst, fabs(pf_sin(x) - sin(x)));
        worst = fmax(worst, fabs(pf_cos(x) - cos(x)));
    }
    assert_true(worst < 1e-14);
    assert_true(pf_cos(0.0) == 1.0 && pf_sin(0.0) == 0.0 && pf_exp(0.0) == 1.0);
}

static void test_log2_accuracy(void **state)
{
    double worst = 0.0;
    (void)state;
    for (int i = 0; i < 200000; i++) {
        /* log-spaced over the normal floats (2^-125 .. 2^100) plus a dense sweep of [0.5, 2] */
        float x = i < 100000 ? (float)exp2(-125.0 + 225.0 * i / 100000.0)
                             : 0.5f + 1.5f * (float)(i - 100000) / 100000.0f;
        float got = pf_vf_log2(pf_vf_splat(x))[0];
        double want = log2((double)x), err = fabs(got - want) / fmax(1.0, fabs(want));
        worst = fmax(worst, err);
    }
    assert_true(worst < 3e-7);
    assert_true(pf_vf_log2(pf_vf_splat(1.0f))[0] == 0.0f);
}

static void test_exp2_accuracy(void **state)
{
    double worst = 0.0;
    (void)state;
    for (int i = 0; i <= 200000; i++) {
        float y = -126.0f + 253.0f * (float)i / 200000.0f; /* the whole domain [-126, 127] */
        float got = pf_vf_exp2(pf_vf_splat(y))[0];
        double want = exp2((double)y);
        worst = fmax(worst, fabs(got - want) / want);
    }
    assert_true(worst < 5e-7);
    assert_true(pf_vf_exp2(pf_vf_splat(0.0f))[0] == 1.0f);
    assert_true(pf_vf_exp2(pf_vf_splat(-3.0f))[0] == 0.125f);
    assert_true(pf_vf_exp2(pf_vf_splat(-126.0f))[0] == 0x1p-126f);
    assert_true(pf_vf_exp2(pf_vf_splat(127.0f))[0] == 0x1p127f);
}

static void test_cossin_turn_accuracy(void **state)
{
    double worst = 0.0;
    (void)state;
    for (int i = 0; i < 100000; i++) {
        float u = (float)i / 100000.0f;
        pf_vf c, s;
        pf_vf_cossin_turn(pf_vf_splat(u), &c, &s);
        worst = fmax(worst, fabs(c[0] - cos(2 * M_PI * u)));
        worst = fmax(worst, fabs(s[0] - sin(2 * M_PI * u)));
    }
    assert_true(worst < 4e-7);
}

/* Each lane computes what lane 0 would: a value's result does not depend on its neighbours. */
static void test_lanes_independent(void **state)
{
    float xs[PF_VL];
    pf_vf v;
    (void)state;
    for (int k = 0; k < PF_VL; k++)
        xs[k] = 0.37f + 1.91f * (float)k;
    v = pf_vf_log2(pf_vf_load(xs));
    for (int k = 0; k < PF_VL; k++)
        assert_true(v[k] == pf_vf_log2(pf_vf_splat(xs[k]))[0]);
}

/* ---- intensity transforms ---- */

static const int P[3] = {9, 13, 11}; /* 1287 voxels: not a multiple of the lanes */
#define NV (9 * 13 * 11)

static float *test_image(int channels, uint32_t seed)
{
    float *v = malloc((size_t)NV * (size_t)channels * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < (size_t)NV * (size_t)channels; i++) {
        uint32_t h = (uint32_t)(i * 2654435761u) ^ seed;
        h ^= h >> 13;
        h *= 0x5bd1e995u;
        h ^= h >> 15;
        v[i] = (float)(h % 20000) / 5000.0f - 2.0f; /* [-2, 2) */
    }
    return v;
}

static pf_aug_params no_aug(void)
{
    pf_aug_params p;
    memset(&p, 0, sizeof p);
    p.dims = 3;
    return p;
}

static void mean_sd(const float *v, size_t n, double *mean, double *sd)
{
    double s = 0.0, q = 0.0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++)
        q += (v[i] - *mean) * (v[i] - *mean);
    *sd = sqrt(q / (double)n);
}

/* torch's 'reflect' padding: the edge not repeated (c b | a b c d | c b) */
static int reflect_index(int i, int n)
{
    while (i < 0 || i >= n)
        i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
}

/* Python's round(x) (half to even) and batchgeneratorsv2's _round_to_nearest_odd */
static int nearest_odd(double t)
{
    double r = floor(t + 0.5);
    if (r - t == 0.5 && fmod(r, 2.0) != 0.0)
        r -= 1.0; /* a tie goes to the even neighbour */
    if (fmod(r, 2.0) != 0.0)
        return (int)r;
    return t - r >= 0 ? (int)r + 1 : (int)r - 1;
}

/* batchgeneratorsv2's GaussianBlurTransform in double, axis by axis (blur_dimension: kernel of
 * nearest_odd(6 sigma + 0.5) taps, exp(-x^2 / 2 sigma^2) normalised, torch 'reflect' padding) */
static void blur_reference(double *v, const double sigma[3])
{
    double *tmp = malloc(NV * sizeof *tmp);
    assert_non_null(tmp);
    for (int ax = 0; ax < 3; ax++) {
        int r = (nearest_odd(6.0 * sigma[ax] + 0.5) - 1) / 2;
        double k[15], sum = 0.0;
        for (int j = -r; j <= r; j++)
            sum += k[j + r] = exp(-(double)(j * j) / (2.0 * sigma[ax] * sigma[ax]));
        memcpy(tmp, v, NV * sizeof *tmp);
        for (int z = 0; z < P[0]; z++)
            for (int y = 0; y < P[1]; y++)
                for (int x = 0; x < P[2]; x++) {
                    int o[3] = {z, y, x};
                    double acc = 0.0;
                    for (int j = -r; j <= r; j++) {
                        int q[3] = {z, y, x};
                        q[ax] = reflect_index(o[ax] + j, P[ax]);
                        acc += k[j + r] / sum * tmp[(q[0] * P[1] + q[1]) * P[2] + q[2]];
                    }
                    v[(z * P[1] + y) * P[2] + x] = acc;
                }
    }
    free(tmp);
}

static void test_blur_matches_reference(void **state)
{
    float *img = test_image(1, 1);
    double *ref = malloc(NV * sizeof *ref);
    pf_aug_params p = no_aug();
    double worst = 0.0;
    (void)state;
    assert_non_null(ref);
    for (int i = 0; i < NV; i++)
        ref[i] = img[i];
    p.blur[0] = 1;
    /* 6 sigma + 0.5 = 4.1, 6.5 (a tie: round 6, then up to 7) and 5.3: radii 2, 3 and 2 */
    p.blur_sigma[0][0] = 0.6, p.blur_sigma[0][1] = 1.0, p.blur_sigma[0][2] = 0.8;
    blur_reference(ref, p.blur_sigma[0]);
    assert_int_equal(pf_aug_intensity(&p, 1, P, img), 0);
    for (int i = 0; i < NV; i++)
        worst = fmax(worst, fabs(img[i] - ref[i]));
    assert_true(worst < 2e-6);
    free(img);
    free(ref);
}

static void test_blur_keeps_constant(void **state)
{
    float *img = test_image(1, 2);
    pf_aug_params p = no_aug();
    (void)state;
    for (int i = 0; i < NV; i++)
        img[i] = 1.5f;
    p.blur[0] = 1;
    p.blur_sigma[0][0] = p.blur_sigma[0][1] = p.blur_sigma[0][2] = 1.0;
    assert_int_equal(pf_aug_intensity(&p, 1, P, img), 0);
    for (int i = 0; i < NV; i++)
        assert_true(fabs(img[i] - 1.5f) < 1e-6);
    free(img);
}

/* batchgeneratorsv2's GammaTransform (p_retain_stats 1) in double with libm's pow */
static void gamma_reference(double *v, int n, double g, int invert)
{
    double mn = INFINITY, mx = -INFINITY, m1, s1, m2, s2, s = 0, q = 0;
    if (invert)
        for (int i = 0; i < n; i++)
            v[i] = -v[i];
    for (int i = 0; i < n; i++)
        s += v[i], mn = fmin(mn, v[i]), mx = fmax(mx, v[i]);
    m1 = s / n;
    for (int i = 0; i < n; i++)
        q += (v[i] - m1) * (v[i] - m1);
    s1 = sqrt(q / n);
    for (int i = 0; i < n; i++) /* batchgeneratorsv2: ((x - min) / max(range, eps))^g range + min */
        v[i] = pow((v[i] - mn) / fmax(mx - mn, 1e-7), g) * (mx - mn) + mn;
    s = q = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    m2 = s / n;
    for (int i = 0; i < n; i++)
        q += (v[i] - m2) * (v[i] - m2);
    s2 = sqrt(q / n);
    for (int i = 0; i < n; i++)
        v[i] = (v[i] - m2) * (s1 / fmax(s2, 1e-7)) + m1;
    if (invert)
        for (int i = 0; i < n; i++)
            v[i] = -v[i];
}

/* runs: stretches of one value (zeros, and runs of 29 of each value) as in a background, which
 * the lanes take from the group before (intensity.c); the result must stay the formula's */
static void test_gamma_matches_reference(void **state)
{
    (void)state;
    for (int runs = 0; runs < 2; runs++)
    for (int invert = 0; invert < 2; invert++)
        for (double g = 0.7; g < 1.55; g += 0.4) {
            float *img = test_image(1, 3);
            double *ref = malloc(NV * sizeof *ref), mean, sd, rmean, rsd, worst = 0.0;
            pf_aug_params p = no_aug();
            assert_non_null(ref);
            for (int i = 0; runs && i < NV; i++)
                img[i] = (i / 97) % 3 == 1 ? img[(i / 29) * 29] : (i / 97) % 3 == 2 ? 0.0f : img[i];
            for (int i = 0; i < NV; i++)
                ref[i] = img[i];
            mean_sd(img, NV, &rmean, &rsd);
            if (invert)
                p.gamma_inv = 1, p.gamma_inv_g[0] = g;
            else
                p.gamma = 1, p.gamma_g[0] = g;
            gamma_reference(ref, NV, g, invert);
            assert_int_equal(pf_aug_intensity(&p, 1, P, img), 0);
            for (int i = 0; i < NV; i++)
                worst = fmax(worst, fabs(img[i] - ref[i]));
            assert_true(worst < 1e-5);
            mean_sd(img, NV, &mean, &sd);
            assert_true(fabs(mean - rmean) < 1e-5 && fabs(sd - rsd) < 1e-5 * rsd);
            free(img);
            free(ref);
        }
}

static void test_contrast_brightness(void **state)
{
    float *img = test_image(2, 4), *orig = test_image(2, 4);
    pf_aug_params p = no_aug();
    (void)state;
    p.contrast = 1;
    p.contrast_f[0] = 1.25, p.contrast_f[1] = 0.8;
    assert_int_equal(pf_aug_intensity(&p, 2, P, img), 0);
    for (int c = 0; c < 2; c++) {
        double mean, sd;
        float mn = orig[c * NV], mx = orig[c * NV];
        mean_sd(orig + c * NV, NV, &mean, &sd);
        for (int i = 0; i < NV; i++)
            mn = fminf(mn, orig[c * NV + i]), mx = fmaxf(mx, orig[c * NV + i]);
        for (int i = 0; i < NV; i++) {
            double want = fmin(fmax((orig[c * NV + i] - mean) * p.contrast_f[c] + mean, mn), mx);
            assert_true(img[c * NV + i] >= mn && img[c * NV + i] <= mx); /* range kept */
            assert_true(fabs(img[c * NV + i] - want) < 2e-6);
        }
    }
    p = no_aug();
    p.bright = 1;
    p.bright_f[0] = 0.75, p.bright_f[1] = 1.2;
    memcpy(img, orig, 2 * NV * sizeof *img);
    assert_int_equal(pf_aug_intensity(&p, 2, P, img), 0);
    for (int i = 0; i < 2 * NV; i++)
        assert_true(img[i] == orig[i] * (float)p.bright_f[i / NV]);
    free(img);
    free(orig);
}

/* Low resolution at zoom 1 is the identity; at 0.5 a volume constant along the resampled
 * blocks is reproduced by linear interpolation of a linear ramp away from the edges. */
static void test_lowres(void **state)
{
    float *img = test_image(1, 5), *orig = test_image(1, 5);
    pf_aug_params p = no_aug();
    (void)state;
    p.lowres[0] = 1;
    p.lowres_zoom[0] = 1.0;
    assert_int_equal(pf_aug_intensity(&p, 1, P, img), 0);
    assert_memory_equal(img, orig, NV * sizeof *img);
    for (int i = 0; i < NV; i++)
        img[i] = 3.0f; /* constant in, constant out at any zoom */
    p.lowres_zoom[0] = 0.55;
    assert_int_equal(pf_aug_intensity(&p, 1, P, img), 0);
    for (int i = 0; i < NV; i++)
        assert_true(img[i] == 3.0f);
    free(img);
    free(orig);
}

static void test_noise_distribution(void **state)
{
    const int Q[3] = {61, 64, 67}; /* 261,568 voxels, odd blocks at the end */
    const size_t n = 61 * 64 * 67;
    float *img = calloc(n, sizeof *img), *again = calloc(n, sizeof *again);
    pf_aug_params p = no_aug();
    double mean, sd, k4 = 0.0, lag = 0.0;
    size_t beyond3 = 0;
    (void)state;
    assert_non_null(img);
    assert_non_null(again);
    p.noise = 1;
    p.noise_sigma = 0.07;
    p.noise_key = 0x1234567890abcdefULL;
    assert_int_equal(pf_aug_intensity(&p, 1, Q, img), 0);
    mean_sd(img, n, &mean, &sd);
    assert_true(fabs(mean) < 5 * 0.07 / sqrt((double)n));
    assert_true(fabs(sd / 0.07 - 1.0) < 0.01);
    for (size_t i = 0; i < n; i++) {
        double z = img[i] / sd;
        k4 += z * z * z * z;
        beyond3 += fabs(z) > 3.0;
        if (i)
            lag += (double)img[i] * img[i - 1];
    }
    assert_true(fabs(k4 / (double)n - 3.0) < 0.05);            /* Gaussian kurtosis */
    assert_true(fabs((double)beyond3 / (double)n - 0.0027) < 0.0006); /* tails */
    assert_true(fabs(lag / (double)(n - 1) / (sd * sd)) < 0.01);      /* neighbours independent */
    /* the same key gives the same noise; another key other noise */
    assert_int_equal(pf_aug_intensity(&p, 1, Q, again), 0);
    assert_memory_equal(img, again, n * sizeof *img);
    memset(again, 0, n * sizeof *again);
    p.noise_key ^= 1ULL << 40;
    assert_int_equal(pf_aug_intensity(&p, 1, Q, again), 0);
    assert_memory_not_equal(img, again, n * sizeof *img);
    free(img);
    free(again);
}

/* ---- the spatial transform ---- */

/* A 20 x 23 x 26 two-channel case with smooth random-ish content, a seg of a few blobs with a
 * mask-rule border (-1) on one face, and a patch placed so that the rotated grid leaves the
 * case on some sides (edge formula) and stays inside elsewhere (interior formula). */
static void spatial_case(pf_case *c)
{
    float *im;
    int16_t *sg;
    tu_case_init(c, 20, 23, 26, 2, &im, &sg);
    for (int ch = 0; ch < 2; ch++)
        for (int z = 0; z < 20; z++)
            for (int y = 0; y < 23; y++)
                for (int x = 0; x < 26; x++)
                    im[((ch * 20 + z) * 23 + y) * 26 + x] =
                        (float)(sin(0.3 * z + ch) * 40.0 + cos(0.21 * y) * 25.0 + 0.7 * x + 100.0 * ch);
    for (int z = 0; z < 20; z++)
        for (int y = 0; y < 23; y++)
            for (int x = 0; x < 26; x++) {
                int16_t l = (int16_t)((z - 10) * (z - 10) + (y - 11) * (y - 11) < 30 ? 1 : 0);
                if ((x - 15) * (x - 15) + (y - 6) * (y - 6) < 20)
                    l = 2;
                if (x < 2)
                    l = -1; /* outside the nonzero region (hole-filled) */
                sg[(z * 23 + y) * 26 + x] = l;
            }
}

static pf_aug_params spatial_params(double a0, double a1, double a2, double scale)
{
    pf_aug_params p = no_aug();
    p.rotate = 1;
    p.angle[0] = a0, p.angle[1] = a1, p.angle[2] = a2;
    p.scale_on = 1;
    p.scale = scale;
    return p;
}

/* scipy-style reference in double: normalise every voxel (raw where the mask rule keeps it),
 * 0 outside the case, trilinear at origin + G o. */
static double image_reference(const pf_case *c, const pf_norm *nm, int ch, const double q[3])
{
    const int64_t *S = c->hdr.shape;
    double f[3], acc = 0.0;
    for (int d = 0; d < 3; d++)
        f[d] = floor(q[d]);
    for (int k = 0; k < 8; k++) {
        int64_t i[3] = {(int64_t)f[0] + (k >> 2), (int64_t)f[1] + ((k >> 1) & 1), (int64_t)f[2] + (k & 1)};
        double w = 1.0, v;
        size_t at;
        for (int d = 0; d < 3; d++)
            w *= i[d] == (int64_t)f[d] ? 1.0 - (q[d] - f[d]) : q[d] - f[d];
        if (i[0] < 0 || i[1] < 0 || i[2] < 0 || i[0] >= S[0] || i[1] >= S[1] || i[2] >= S[2])
            continue;
        at = (size_t)((i[0] * S[1] + i[1]) * S[2] + i[2]);
        v = tu_case_image(c)[(size_t)ch * (size_t)(S[0] * S[1] * S[2]) + at];
        if (!nm->masked || tu_case_seg(c)[at] >= 0)
            v = (fmin(fmax(v, nm->lo), nm->hi) - nm->shift) / nm->scale;
        acc += w * v;
    }
    return acc;
}

static void test_spatial_image_matches_reference(void **state)
{
    const int patch[3] = {12, 17, 15};
    int64_t start[3] = {4, 3, 9};
    pf_case c;
    (void)state;
    spatial_case(&c);
    for (int variant = 0; variant < 3; variant++) {
        pf_norm nm[2] = {{-INFINITY, INFINITY, 10.0f, 30.0f, 0}, {60.0f, 130.0f, 100.0f, 20.0f, 0}};
        pf_aug_params p = variant == 0 ? spatial_params(0.4, -0.2, 0.7, 1.15)
                          : variant == 1 ? spatial_params(0.0, 0.0, 0.0, 0.8)
                                         : spatial_params(-1.1, 0.3, 2.5, 1.0);
        float *out = malloc(2 * 12 * 17 * 15 * sizeof *out);
        double G[3][3], origin[3], worst = 0.0;
        assert_non_null(out);
        if (variant == 2) { /* the mask rule, with the grid over the masked face */
            nm[0].masked = nm[1].masked = 1;
            start[2] = 0;
        }
        pf_aug_sample_image(&c, nm, start, patch, &p, out);
        pf_aug_grid(&p, start, patch, G, origin);
        for (int ch = 0; ch < 2; ch++)
            for (int z = 0; z < patch[0]; z++)
                for (int y = 0; y < patch[1]; y++)
                    for (int x = 0; x < patch[2]; x++) {
                        double q[3], want, got;
                        for (int d = 0; d < 3; d++)
                            q[d] = origin[d] + G[d][0] * z + G[d][1] * y + G[d][2] * x;
                        want = image_reference(&c, &nm[ch], ch, q);
                        got = out[((ch * patch[0] + z) * patch[1] + y) * patch[2] + x];
                        worst = fmax(worst, fabs(got - want) / fmax(1.0, fabs(want)));
                    }
        /* float positions (1e-5 voxel) and float arithmetic; the content changes by a few
         * units per voxel */
        assert_true(worst < 2e-4);
        free(out);
    }
    tu_case_free(&c);
}

/* nnU-Net's per-label linear + argmax in double; returns the label, and the margin of the
 * winner over the runner-up (near-ties may go either way in float) */
static int16_t seg_reference(const pf_case *c, const double q[3], double *margin)
{
    const int64_t *S = c->hdr.shape;
    int16_t lab[8];
    double wsum[8], f[3], best = -1.0, second = -1.0;
    int n = 0, bi = 0;
    for (int d = 0; d < 3; d++)
        f[d] = floor(q[d]);
    for (int k = 0; k < 8; k++) {
        int64_t i[3] = {(int64_t)f[0] + (k >> 2), (int64_t)f[1] + ((k >> 1) & 1), (int64_t)f[2] + (k & 1)};
        double w = 1.0;
        int16_t l;
        int j;
        for (int d = 0; d < 3; d++)
            w *= i[d] == (int64_t)f[d] ? 1.0 - (q[d] - f[d]) : q[d] - f[d];
        l = i[0] < 0 || i[1] < 0 || i[2] < 0 || i[0] >= S[0] || i[1] >= S[1] || i[2] >= S[2]
                ? -1 : tu_case_seg(c)[(i[0] * S[1] + i[1]) * S[2] + i[2]];
        for (j = 0; j < n && lab[j] != l; j++)
            ;
        if (j == n) {
            lab[n] = l;
            wsum[n++] = 0.0;
        }
        wsum[j] += w;
    }
    for (int j = 0; j < n; j++) {
        if (wsum[j] > best) {
            second = best;
            best = wsum[j];
            bi = j;
        } else if (wsum[j] > second) {
            second = wsum[j];
        }
    }
    *margin = best - second;
    return lab[bi];
}

static void test_spatial_seg_matches_reference(void **state)
{
    const int patch[3] = {12, 17, 15};
    const int64_t start[3] = {4, 3, 9};
    pf_case c;
    (void)state;
    spatial_case(&c);
    for (int nearest = 0; nearest < 2; nearest++) {
        pf_aug_params p = spatial_params(0.4, -0.2, 0.7, 1.15);
        int16_t *out = malloc(12 * 17 * 15 * sizeof *out);
        double G[3][3], origin[3];
        int checked = 0;
        assert_non_null(out);
        pf_aug_sample_seg(&c, start, patch, &p, nearest, out);
        pf_aug_grid(&p, start, patch, G, origin);
        for (int z = 0; z < patch[0]; z++)
            for (int y = 0; y < patch[1]; y++)
                for (int x = 0; x < patch[2]; x++) {
                    const int16_t got = out[(z * patch[1] + y) * patch[2] + x];
                    double q[3], margin = 1.0;
                    int16_t want;
                    for (int d = 0; d < 3; d++)
                        q[d] = origin[d] + G[d][0] * z + G[d][1] * y + G[d][2] * x;
                    if (nearest) {
                        int64_t i[3];
                        for (int d = 0; d < 3; d++) {
                            i[d] = (int64_t)floor(q[d] + 0.5);
                            margin = fmin(margin, fabs(q[d] + 0.5 - floor(q[d] + 0.5) - 0.5) < 1e-4 ? 0.0 : 1.0);
                        }
                        want = i[0] < 0 || i[1] < 0 || i[2] < 0 || i[0] >= 20 || i[1] >= 23 || i[2] >= 26
                                   ? -1 : tu_case_seg(&c)[(i[0] * 23 + i[1]) * 26 + i[2]];
                    } else {
                        want = seg_reference(&c, q, &margin);
                    }
                    if (margin < 1e-4)
                        continue; /* a near-tie: float and double may differ */
                    assert_int_equal(got, want);
                    checked++;
                }
        assert_true(checked > 12 * 17 * 15 * 9 / 10);
        free(out);
    }
    tu_case_free(&c);
}

/* Cases with an axis of a single voxel (a 2D case, or thin ones): every group is at the
 * border, the sampler must not read past the volume (exact-size arrays, run under ASan in
 * CI) and must still match the references (image and seg); the separable path too. */
static void test_spatial_thin_cases(void **state)
{
    /* the last: a one-plane patch on the last of two planes (a collapsed axis whose cell
     * starts on the case's last voxel) */
    const int64_t shapes[4][3] = {{1, 13, 17}, {4, 6, 1}, {3, 1, 9}, {2, 11, 13}};
    (void)state;
    for (int sh = 0; sh < 4; sh++) {
        const int64_t *S = shapes[sh];
        const int patch[3] = {S[0] <= 2 ? 1 : 3, S[1] == 1 ? 1 : 5, S[2] == 1 ? 1 : 7};
        const int64_t start[3] = {S[0] == 2 ? 1 : 0, 0, 0};
        const size_t pv = (size_t)patch[0] * (size_t)patch[1] * (size_t)patch[2];
        const pf_norm nm[2] = {{-INFINITY, INFINITY, 1.0f, 2.0f, 0}, {-5.0f, 5.0f, 0.5f, 3.0f, 0}};
        pf_case c;
        float *im, *out = malloc(2 * pv * sizeof *out);
        int16_t *sg, *seg = malloc(pv * sizeof *seg);
        assert_non_null(out);
        assert_non_null(seg);
        tu_case_init(&c, S[0], S[1], S[2], 2, &im, &sg);
        for (int64_t i = 0; i < 2 * S[0] * S[1] * S[2]; i++)
            im[i] = (float)((i * 37) % 11) - 3.0f;
        for (int64_t i = 0; i < S[0] * S[1] * S[2]; i++) /* blocks of labels 0..2 */
            sg[i] = (int16_t)((i / S[2] / 3 + i % S[2] / 4) % 3);
        for (int v = 0; v < 2; v++) {
            pf_aug_params p = v == 0 ? spatial_params(S[0] <= 2 ? 0.3 : 0.0, 0.0, S[0] <= 2 ? 0.0 : 0.2, 1.1)
                                     : spatial_params(0.0, 0.0, 0.0, 0.9); /* separable */
            double G[3][3], origin[3];
            pf_aug_sample_image(&c, nm, start, patch, &p, out);
            pf_aug_sample_seg(&c, start, patch, &p, 0, seg);
            pf_aug_grid(&p, start, patch, G, origin);
            for (int ch = 0; ch < 2; ch++)
                for (size_t i = 0; i < pv; i++) {
                    const int z = (int)(i / (size_t)(patch[1] * patch[2])),
                              y = (int)(i / (size_t)patch[2] % (size_t)patch[1]), x = (int)(i % (size_t)patch[2]);
                    double q[3], want;
                    for (int d = 0; d < 3; d++)
                        q[d] = origin[d] + G[d][0] * z + G[d][1] * y + G[d][2] * x;
                    want = image_reference(&c, &nm[ch], ch, q);
                    assert_true(fabs(out[(size_t)ch * pv + i] - want) < 1e-4 * fmax(1.0, fabs(want)));
                }
            for (size_t i = 0; i < pv; i++) {
                const int z = (int)(i / (size_t)(patch[1] * patch[2])),
                          y = (int)(i / (size_t)patch[2] % (size_t)patch[1]), x = (int)(i % (size_t)patch[2]);
                double q[3], margin;
                int16_t want;
                for (int d = 0; d < 3; d++)
                    q[d] = origin[d] + G[d][0] * z + G[d][1] * y + G[d][2] * x;
                want = seg_reference(&c, q, &margin);
                if (margin >= 1e-4) /* near-ties may go either way in float */
                    assert_int_equal(seg[i], want);
            }
        }
        tu_case_free(&c);
        free(out);
        free(seg);
    }
}

/* Scaling without rotation takes the separable samplers: the same bytes as the general ones
 * (image; seg linear and nearest), zooming in and out, clipped (CT) and not, with the grid
 * partly outside the case. */
static void test_separable_equals_general(void **state)
{
    const int patch[3] = {12, 17, 15};
    const int64_t starts[3][3] = {{4, 3, 9}, {-3, 10, 14}, {10, -2, -4}};
    const double scales[3] = {0.8, 1.0, 1.25};
    pf_case c;
    (void)state;
    spatial_case(&c);
    for (int v = 0; v < 9; v++) {
        const pf_norm nm[2] = {{-INFINITY, INFINITY, 10.0f, 30.0f, 0}, {60.0f, 130.0f, 100.0f, 20.0f, 0}};
        pf_aug_params p = no_aug();
        float *a = malloc(2 * 12 * 17 * 15 * sizeof *a), *b = malloc(2 * 12 * 17 * 15 * sizeof *b);
        assert_non_null(a);
        assert_non_null(b);
        p.scale_on = 1;
        p.scale = scales[v % 3];
        pf_aug_sample_image(&c, nm, starts[v / 3], patch, &p, a);
        pf_aug_sample_image_general(&c, nm, starts[v / 3], patch, &p, b);
        assert_memory_equal(a, b, 2 * 12 * 17 * 15 * sizeof *a);
        for (int nearest = 0; nearest < 2; nearest++) {
            int16_t *sa = (int16_t *)a, *sb = (int16_t *)b;
            memset(a, 0, 12 * 17 * 15 * sizeof *sa);
            pf_aug_sample_seg(&c, starts[v / 3], patch, &p, nearest, sa);
            pf_aug_sample_seg_general(&c, starts[v / 3], patch, &p, nearest, sb);
            assert_memory_equal(sa, sb, 12 * 17 * 15 * sizeof *sa);
        }
        free(a);
        free(b);
    }
    tu_case_free(&c);
}

/* Golden: the spatial transform's exact bytes (interior and edge formulas, both seg modes),
 * the same for every build like the intensity golden below. */
static void test_spatial_golden(void **state)
{
    const int patch[3] = {12, 17, 15};
    const int64_t start[3] = {4, 3, 2};
    const pf_norm nm[2] = {{-INFINITY, INFINITY, 10.0f, 30.0f, 1}, {60.0f, 130.0f, 100.0f, 20.0f, 0}};
    pf_aug_params p = spatial_params(0.4, -0.2, 0.7, 1.15);
    float *img = malloc(2 * 12 * 17 * 15 * sizeof *img);
    int16_t *seg = malloc(2 * 12 * 17 * 15 * sizeof *seg);
    pf_case c;
    uint64_t h;
    (void)state;
    assert_non_null(img);
    assert_non_null(seg);
    spatial_case(&c);
    pf_aug_sample_image(&c, nm, start, patch, &p, img);
    pf_aug_sample_seg(&c, start, patch, &p, 0, seg);
    pf_aug_sample_seg(&c, start, patch, &p, 1, seg + 12 * 17 * 15);
    h = XXH3_64bits(img, 2 * 12 * 17 * 15 * sizeof *img) ^
        (XXH3_64bits(seg, 2 * 12 * 17 * 15 * sizeof *seg) * 3);
    printf("spatial golden: %016llx\n", (unsigned long long)h);
    /* format 3: nnU-Net's matrix order Rz Ry Rx S moved these bytes */
    assert_int_equal(h, 0xbb310aec664a004cULL);
    free(img);
    free(seg);
    tu_case_free(&c);
}

/* Mirroring every combination of axes equals a naive per-voxel flip (odd and even sizes, so
 * middle rows and the middle element of a row are covered, with rows long enough for the
 * vector swaps). */
static void test_mirror_matches_flip(void **state)
{
    /* rows shorter and longer than the vector paths, even and odd, multiples or not */
    const int shapes[5][3] = {{5, 4, 7}, {4, 5, 6}, {3, 4, 21}, {2, 3, 37}, {3, 2, 32}};
    (void)state;
    for (int sh = 0; sh < 5; sh++)
        for (int combo = 0; combo < 8; combo++) {
            const int *Q = shapes[sh];
            const int n = Q[0] * Q[1] * Q[2];
            float *img = malloc(2 * (size_t)n * sizeof *img);
            int16_t *seg = malloc((size_t)n * sizeof *seg);
            pf_aug_params p = no_aug();
            assert_non_null(img);
            assert_non_null(seg);
            for (int i = 0; i < 2 * n; i++)
                img[i] = (float)i;
            for (int i = 0; i < n; i++)
                seg[i] = (int16_t)(i * 7);
            for (int a = 0; a < 3; a++)
                p.mirror[a] = (combo >> a) & 1;
            pf_aug_mirror_pass(&p, 2, Q, img, seg);
            for (int z = 0; z < Q[0]; z++)
                for (int y = 0; y < Q[1]; y++)
                    for (int x = 0; x < Q[2]; x++) {
                        int sz = p.mirror[0] ? Q[0] - 1 - z : z, sy = p.mirror[1] ? Q[1] - 1 - y : y,
                            sx = p.mirror[2] ? Q[2] - 1 - x : x;
                        int o = (z * Q[1] + y) * Q[2] + x, src = (sz * Q[1] + sy) * Q[2] + sx;
                        assert_true(img[o] == (float)src && img[n + o] == (float)(n + src));
                        assert_int_equal(seg[o], (int16_t)(src * 7));
                    }
            free(img);
            free(seg);
        }
}

/* Golden: every intensity transform on, two channels. The digest pins the exact bytes; it was
 * taken from this code (gcc -O2) and must hold for every build (-O0, sanitizers, clang). */
static void test_intensity_golden(void **state)
{
    float *img = test_image(2, 6);
    pf_aug_params p = no_aug();
    (void)state;
    p.noise = 1, p.noise_sigma = 0.05, p.noise_key = 99;
    for (int c = 0; c < 2; c++) {
        p.blur[c] = 1;
        p.blur_sigma[c][0] = 0.5 + 0.2 * c, p.blur_sigma[c][1] = 0.9, p.blur_sigma[c][2] = 0.7;
        p.bright_f[c] = 1.1 - 0.2 * c, p.contrast_f[c] = 0.8 + 0.3 * c;
        p.lowres[c] = 1, p.lowres_zoom[c] = 0.6 + 0.2 * c;
        p.gamma_inv_g[c] = 1.3, p.gamma_g[c] = 0.75 + 0.5 * c;
    }
    p.bright = p.contrast = p.gamma_inv = p.gamma = 1;
    assert_int_equal(pf_aug_intensity(&p, 2, P, img), 0);
    printf("intensity golden: %016llx\n",
           (unsigned long long)XXH3_64bits(img, 2 * NV * sizeof *img));
    /* format 3: batchgeneratorsv2's blur kernel and gamma moved these bytes */
    assert_int_equal(XXH3_64bits(img, 2 * NV * sizeof *img), 0x2ff1ec4bf22b9e17ULL);
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detmath_accuracy),
        cmocka_unit_test(test_log2_accuracy),
        cmocka_unit_test(test_exp2_accuracy),
        cmocka_unit_test(test_cossin_turn_accuracy),
        cmocka_unit_test(test_lanes_independent),
        cmocka_unit_test(test_blur_matches_reference),
        cmocka_unit_test(test_blur_keeps_constant),
        cmocka_unit_test(test_gamma_matches_reference),
        cmocka_unit_test(test_contrast_brightness),
        cmocka_unit_test(test_lowres),
        cmocka_unit_test(test_noise_distribution),
        cmocka_unit_test(test_spatial_image_matches_reference),
        cmocka_unit_test(test_spatial_seg_matches_reference),
        cmocka_unit_test(test_spatial_thin_cases),
        cmocka_unit_test(test_separable_equals_general),
        cmocka_unit_test(test_spatial_golden),
        cmocka_unit_test(test_mirror_matches_flip),
        cmocka_unit_test(test_intensity_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
