/* intensity.c - nnU-Net's intensity augmentations on one channel of a sample: Gaussian noise,
 * Gaussian blur, low-resolution simulation, gamma's main pass, and the channel statistics
 * contrast and gamma need (intensity_i.h). intensity_pass.c chains them in nnU-Net's order
 * (pf_aug_intensity) and does the per-voxel steps (brightness, contrast's, gamma's restoring,
 * the masking) fused into passes with the noise and the statistics.
 *
 * These run on every voxel of an augmented sample, so they are written for speed: float
 * arithmetic in groups of PF_VL lanes (vecmath.h), statistics in double lanes, blur along whole
 * rows. Every operation is exactly rounded IEEE arithmetic in a fixed order, so the result
 * bits are the same on every machine whether or not the host vectorises. Where the CPU has
 * AVX2 (pf_simd_active, chosen at run time) the loops start with eight-lane kernels
 * (intensity_avx2.c) that keep that order, so every path serves the same bytes. */
#include "intensity_i.h"

#include "bufpool.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "detmath.h"
#include "vecmath.h"

/* ---- channel statistics (pf_int_acc, intensity_i.h) ---- */

/* d = x - shift per lane, added to s, squared to q */
static inline void sums_add(pf_vf x, pf_d2 shift, pf_d2 s[2], pf_d2 q[2])
{
    pf_d2 lo, hi;
    pf_vf_widen(x, &lo, &hi);
    lo -= shift;
    hi -= shift;
    s[0] += lo;
    s[1] += hi;
    q[0] += lo * lo;
    q[1] += hi * hi;
}

/* the first m (< PF_VL) lanes of x */
static inline void acc_add_part(pf_int_acc *a, pf_vf x, size_t m)
{
    for (size_t k = 0; k < m; k++) {
        double d = (double)x[k] - a->shift;
        a->s[k / 2][k % 2] += d;
        a->q[k / 2][k % 2] += d * d;
        a->mn[k] = x[k] < a->mn[k] ? x[k] : a->mn[k];
        a->mx[k] = x[k] > a->mx[k] ? x[k] : a->mx[k];
    }
    a->n += m;
}

void pf_int_acc_init(pf_int_acc *a, float first)
{
    a->s[0] = a->s[1] = a->q[0] = a->q[1] = (pf_d2){0, 0};
    a->shift = first;
    a->mn = a->mx = pf_vf_splat(first);
    a->n = 0;
}

pf_int_stats pf_int_acc_result(const pf_int_acc *a)
{
    pf_int_stats st;
    const double n = (double)a->n, s = (a->s[0][0] + a->s[0][1]) + (a->s[1][0] + a->s[1][1]),
                 q = (a->q[0][0] + a->q[0][1]) + (a->q[1][0] + a->q[1][1]), var = (q - s * s / n) / n;
    st.mean = a->shift + s / n;
    st.sd = var > 0.0 ? sqrt(var) : 0.0;
    st.mn = a->mn[0];
    st.mx = a->mx[0];
    for (int k = 1; k < PF_VL; k++) {
        st.mn = a->mn[k] < st.mn ? a->mn[k] : st.mn;
        st.mx = a->mx[k] > st.mx ? a->mx[k] : st.mx;
    }
    return st;
}

/* The hot loop keeps the sums in local variables (registers) and stores them back before the
 * remainder. */
void pf_int_acc_add(pf_int_acc *a, const float *v, size_t len, int wide)
{
    pf_d2 s[2] = {a->s[0], a->s[1]}, q[2] = {a->q[0], a->q[1]}, shift = {a->shift, a->shift};
    pf_vf mn = a->mn, mx = a->mx;
    size_t i;
    i = WIDE(pf_int_stats_avx2(v, len, a->shift, s, q, &mn, &mx));
    for (; i + PF_VL <= len; i += PF_VL) {
        pf_vf x = pf_vf_load(v + i);
        sums_add(x, shift, s, q);
        mn = pf_vf_min(mn, x);
        mx = pf_vf_max(mx, x);
    }
    a->s[0] = s[0], a->s[1] = s[1], a->q[0] = q[0], a->q[1] = q[1];
    a->mn = mn, a->mx = mx;
    a->n += i;
    if (i < len)
        acc_add_part(a, pf_vf_load_part(v + i, len - i, 0.0f), len - i);
}

/* ---- Gaussian noise ---- */

/* A 32-bit integer hash with full avalanche (xorshift-multiply, two rounds). */
static inline pf_vu hash32(pf_vu h)
{
    h ^= h >> 16;
    h *= 0x7feb352dU;
    h ^= h >> 15;
    h *= 0x846ca68bU;
    h ^= h >> 16;
    return h;
}

/* Box-Muller on counter-hashed uniforms: the voxels are taken in blocks of 2L (L = PF_VL), and
 * pair k of block b (counter L b + k) gives voxels 2L b + k and 2L b + L + k their two normal
 * deviates. No rejection loop, so L pairs go through together. The noise of voxel i (counted
 * over all channels) depends on i alone: img holds voxels [first, first + n); this does blocks
 * [b, b_end). */
static void noise_blocks(uint32_t key, float sigma, size_t b, size_t b_end, size_t first,
                         size_t end, float *img)
{
    const size_t L = PF_VL;
    pf_vu lane;
    for (size_t k = 0; k < L; k++)
        lane[k] = (uint32_t)k;
    for (; b < b_end; b++) {
        pf_vu pair = lane + (uint32_t)(L * b);
        pf_vu ha = hash32((pair << 1) ^ key), hb = hash32(((pair << 1) | 1) ^ key);
        /* u1 in (0, 1], u2 in [0, 1), 24 bits each */
        pf_vf u1 = __builtin_convertvector((pf_vi)(ha >> 8) + 1, pf_vf) * 0x1p-24f;
        pf_vf u2 = __builtin_convertvector((pf_vi)(hb >> 8), pf_vf) * 0x1p-24f;
        pf_vf r = pf_vf_sqrt(pf_vf_log2(u1) * -1.38629436f) * sigma, c, s; /* -2 ln 2 */
        const size_t b0 = 2 * L * b;
        pf_vf_cossin_turn(u2, &c, &s);
        c *= r;
        s *= r;
        if (b0 >= first && b0 + 2 * L <= end) {
            float *v = img + (b0 - first);
            pf_vf_store(v, pf_vf_load(v) + c);
            pf_vf_store(v + L, pf_vf_load(v + L) + s);
        } else { /* a block cut by the range: the voxels inside it */
            for (size_t j = 0; j < 2 * L; j++)
                if (b0 + j >= first && b0 + j < end)
                    img[b0 + j - first] += j < L ? c[j] : s[j - L];
        }
    }
}

void pf_int_add_noise(const pf_aug_params *p, size_t first, size_t n, float *img, int wide)
{
    const uint32_t key = (uint32_t)p->noise_key ^ (uint32_t)(p->noise_key >> 32);
    const float sigma = (float)p->noise_sigma;
    const size_t end = first + n;
    const size_t b_end = (end + 2 * PF_VL - 1) / (2 * PF_VL);
    size_t b = first / (2 * PF_VL);
#ifdef PF_HAVE_AVX2
    if (wide) {
        if (b * 2 * PF_VL < first) { /* the first block, cut by the range */
            noise_blocks(key, sigma, b, b + 1, first, end, img);
            b++;
        }
        b = pf_int_noise_avx2(key, sigma, b, first, end, img);
    }
#else
    (void)wide;
#endif
    noise_blocks(key, sigma, b, b_end, first, end, img);
}

/* ---- Gaussian blur ---- */

/* torch's pad mode 'reflect' (batchgeneratorsv2's blur_dimension): the edge voxel is not
 * repeated, c b | a b c d | c b; repeated for pads longer than the axis (n >= 2) */
static int64_t reflect(int64_t i, int64_t n)
{
    while (i < 0 || i >= n)
        i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
}

#define BLUR_MAX_RADIUS 7

/* batchgeneratorsv2's kernel (_build_kernel with blur_dimension's truncate 6): size
 * _round_to_nearest_odd(6 sigma + 0.5), i.e. Python's round (half to even; rint in the default
 * rounding mode) moved one towards the unrounded value when even; taps exp(-x^2 / (2 sigma^2))
 * at integer offsets, normalised. Radius at most 7 (sigma up to about 2.3; nnU-Net draws at
 * most 1, radius 3); returns it. */
static int blur_kernel(double sigma, float k[2 * BLUR_MAX_RADIUS + 1])
{
    double w[2 * BLUR_MAX_RADIUS + 1], sum = 0.0;
    const double t = 6.0 * sigma + 0.5, rounded = rint(t);
    int size = (int)rounded, r;
    if (size % 2 == 0)
        size += t - rounded >= 0.0 ? 1 : -1;
    r = (size - 1) / 2;
    if (r > BLUR_MAX_RADIUS)
        r = BLUR_MAX_RADIUS;
    for (int j = -r; j <= r; j++)
        sum += w[j + r] = pf_exp(-(double)(j * j) / (2.0 * sigma * sigma));
    for (int j = 0; j <= 2 * r; j++)
        k[j] = (float)(w[j] / sum);
    return r;
}

/* dst[x] = sum_j k[j] src_j[x] for x < len, the taps added in order j = 0, 1, ... */
static void weighted_rows(float *dst, const float *const *src, const float *k, int taps,
                          size_t len, int wide)
{
    size_t x;
    for (x = WIDE(pf_int_weighted_rows_avx2(dst, src, k, taps, len)); x + PF_VL <= len; x += PF_VL) {
        pf_vf acc = pf_vf_load(src[0] + x) * k[0];
        for (int j = 1; j < taps; j++)
            acc += pf_vf_load(src[j] + x) * k[j];
        pf_vf_store(dst + x, acc);
    }
    if (x < len) {
        pf_vf acc = pf_vf_load_part(src[0] + x, len - x, 0.0f) * k[0];
        for (int j = 1; j < taps; j++)
            acc += pf_vf_load_part(src[j] + x, len - x, 0.0f) * k[j];
        pf_vf_store_part(dst + x, acc, len - x);
    }
}

/* Along Z (run: a plane, one block) or Y (run: a row, a block per plane), in place: output
 * row i of a block is sum_j k[j] row reflect(i + j - r). The rows below i are overwritten by
 * then, so each input row is first copied into a ring of the last r + 1 (r + 1 planes along Z,
 * usually 4, which stay in cache where a copy of the whole channel would not) and read from
 * there; the rows above i are read in place. Needs len > r: every reflected index s then
 * lies in [i - r, len) (one reflection), so a row is still in the ring when it is needed. */
static void blur_rows(float *v, size_t blocks, int len, size_t run, const float *k, int r,
                      float *ring, int wide)
{
    const float *rows[2 * BLUR_MAX_RADIUS + 1];
    for (size_t b = 0; b < blocks; b++) {
        float *src = v + b * (size_t)len * run;
        for (int i = 0; i < len; i++) {
            memcpy(ring + (size_t)(i % (r + 1)) * run, src + (size_t)i * run, run * sizeof *src);
            for (int j = 0; j <= 2 * r; j++) {
                const int64_t s = reflect(i + j - r, len);
                rows[j] = s <= i ? ring + (size_t)(s % (r + 1)) * run : src + (size_t)s * run;
            }
            weighted_rows(src + (size_t)i * run, rows, k, 2 * r + 1, run, wide);
        }
    }
}

/* Separable Gaussian blur of one channel. Along Z and Y whole rows (runs of the faster axes)
 * are weighted and added (blur_rows; from a copy of the channel when the axis is not longer
 * than the radius); along X each line is copied into a reflect-padded buffer and filtered
 * PF_VL outputs at a time. */
int pf_int_blur(float *v, const int P[3], const double sigma[3], int wide)
{
    const size_t plane = (size_t)P[1] * (size_t)P[2], n = (size_t)P[0] * plane;
    float *copy = pf_pool_alloc(n * sizeof *copy);
    float *line = malloc(((size_t)P[2] + 2 * BLUR_MAX_RADIUS + PF_VL) * sizeof *line);
    if (!copy || !line) {
        pf_pool_release(copy);
        free(line);
        return -1;
    }
    for (int ax = 0; ax < 3; ax++) {
        float k[2 * BLUR_MAX_RADIUS + 1];
        const float *rows[2 * BLUR_MAX_RADIUS + 1];
        const int len = P[ax];
        int r;
        if (sigma[ax] <= 0.0 || len == 1)
            continue;
        r = blur_kernel(sigma[ax], k);
        if (ax < 2 && len > r) {
            blur_rows(v, ax == 0 ? 1 : (size_t)P[0], len, ax == 0 ? plane : (size_t)P[2], k, r,
                      copy, wide);
        } else if (ax < 2) {
            const size_t run = ax == 0 ? plane : (size_t)P[2]; /* elements per index of ax */
            const size_t blocks = ax == 0 ? 1 : (size_t)P[0];
            memcpy(copy, v, n * sizeof *v);
            for (size_t b = 0; b < blocks; b++) {
                const float *src = copy + b * (size_t)len * run;
                for (int i = 0; i < len; i++) {
                    for (int j = 0; j <= 2 * r; j++)
                        rows[j] = src + (size_t)reflect(i + j - r, len) * run;
                    weighted_rows(v + (b * (size_t)len + (size_t)i) * run, rows, k, 2 * r + 1,
                                  run, wide);
                }
            }
        } else {
            for (size_t row = 0; row < (size_t)P[0] * (size_t)P[1]; row++) {
                float *base = v + row * (size_t)len;
                memcpy(line + r, base, (size_t)len * sizeof *line);
                for (int i = 1; i <= r; i++) { /* the reflected edges */
                    line[r - i] = base[reflect(-i, len)];
                    line[r + len - 1 + i] = base[reflect(len - 1 + i, len)];
                }
                for (int j = 0; j <= 2 * r; j++)
                    rows[j] = line + j;
                weighted_rows(base, rows, k, 2 * r + 1, (size_t)len, wide);
            }
        }
    }
    pf_pool_release(copy);
    free(line);
    return 0;
}

/* ---- low-resolution simulation ---- */

/* Linear resampling of one axis (align_corners=False, edges clamped): index and weight per
 * output position. */
static void lin_table(int in, int out, int *i0, int *i1, float *w)
{
    for (int o = 0; o < out; o++) {
        double q = (o + 0.5) * in / out - 0.5;
        if (q < 0.0)
            q = 0.0;
        if (q > in - 1)
            q = in - 1;
        i0[o] = (int)floor(q);
        i1[o] = i0[o] + 1 < in ? i0[o] + 1 : i0[o];
        w[o] = (float)(q - i0[o]);
    }
}

/* dst = a + (b - a) w over len elements (exact where a == b, so flat regions stay flat) */
static void lerp_rows(float *dst, const float *a, const float *b, float w, size_t len, int wide)
{
    size_t x;
    for (x = WIDE(pf_int_lerp_rows_avx2(dst, a, b, w, len)); x + PF_VL <= len; x += PF_VL) {
        pf_vf va = pf_vf_load(a + x);
        pf_vf_store(dst + x, va + (pf_vf_load(b + x) - va) * w);
    }
    for (; x < len; x++)
        dst[x] = a[x] + (b[x] - a[x]) * w;
}

/* nearest-exact down to round(P * zoom), then linear back up, separably (X, Y, Z). */
int pf_int_lowres(float *v, const int P[3], double zoom, int in_plane, int wide)
{
    int d[3], *i0 = NULL, *i1 = NULL;
    float *a = NULL, *b = NULL, *w = NULL;
    const size_t plane = (size_t)P[1] * (size_t)P[2];
    int maxp = P[0] > P[1] ? (P[0] > P[2] ? P[0] : P[2]) : (P[1] > P[2] ? P[1] : P[2]);
    int rc = -1;
    for (int k = 0; k < 3; k++) {
        d[k] = (int)floor(P[k] * zoom + 0.5);
        if (d[k] < 1 || (k == 0 && in_plane))
            d[k] = k == 0 && in_plane ? P[0] : 1;
    }
    a = pf_pool_alloc((size_t)P[0] * plane * sizeof *a);
    b = pf_pool_alloc((size_t)P[0] * plane * sizeof *b);
    i0 = malloc((size_t)maxp * sizeof *i0);
    i1 = malloc((size_t)maxp * sizeof *i1);
    w = malloc((size_t)maxp * sizeof *w);
    if (!a || !b || !i0 || !i1 || !w)
        goto out;
    /* down: a = v at nearest-exact indices, shape d (the X indices from a table: no division
     * per voxel) */
    for (int x = 0; x < d[2]; x++)
        i0[x] = (int)pf_nearest_exact(x, P[2], d[2]);
    for (int z = 0; z < d[0]; z++)
        for (int y = 0; y < d[1]; y++) {
            const float *src = v + (size_t)pf_nearest_exact(z, P[0], d[0]) * plane +
                               (size_t)pf_nearest_exact(y, P[1], d[1]) * (size_t)P[2];
            float *dst = a + ((size_t)z * (size_t)d[1] + (size_t)y) * (size_t)d[2];
            for (int x = 0; x < d[2]; x++)
                dst[x] = src[i0[x]];
        }
    /* up along X: (d0, d1, d2) -> (d0, d1, P2) into b */
    lin_table(d[2], P[2], i0, i1, w);
    for (size_t r = 0; r < (size_t)d[0] * (size_t)d[1]; r++) {
        const float *src = a + r * (size_t)d[2];
        float *dst = b + r * (size_t)P[2];
        for (int x = 0; x < P[2]; x++)
            dst[x] = src[i0[x]] + (src[i1[x]] - src[i0[x]]) * w[x];
    }
    /* up along Y: (d0, d1, P2) -> (d0, P1, P2) into a */
    lin_table(d[1], P[1], i0, i1, w);
    for (int z = 0; z < d[0]; z++)
        for (int y = 0; y < P[1]; y++)
            lerp_rows(a + ((size_t)z * (size_t)P[1] + (size_t)y) * (size_t)P[2],
                      b + ((size_t)z * (size_t)d[1] + (size_t)i0[y]) * (size_t)P[2],
                      b + ((size_t)z * (size_t)d[1] + (size_t)i1[y]) * (size_t)P[2], w[y],
                      (size_t)P[2], wide);
    /* up along Z: (d0, P1, P2) -> (P0, P1, P2) into v */
    lin_table(d[0], P[0], i0, i1, w);
    for (int z = 0; z < P[0]; z++)
        lerp_rows(v + (size_t)z * plane, a + (size_t)i0[z] * plane, a + (size_t)i1[z] * plane,
                  w[z], plane, wide);
    rc = 0;
out:
    pf_pool_release(a);
    pf_pool_release(b);
    free(i0);
    free(i1);
    free(w);
    return rc;
}

/* ---- gamma ---- */

/* t = (x - min) / range, kept >= tmin = 2^(-125 / g) so that g log2 t stays within exp2's
 * range. For g < 125/126 tmin is 0 or subnormal in float and log2 then returns about -127,
 * harmless since g < 1 keeps the product above -126; either way t^g there is far below a
 * float's resolution next to min (unless min is 0). */
static inline pf_vf gamma_lanes(pf_vf x, float mn, float inv, float g, float range, float tmin)
{
    pf_vf t = pf_vf_max((x - mn) * inv, pf_vf_splat(tmin));
    return pf_vf_exp2(pf_vf_log2(t) * g) * range + mn;
}

#define GAMMA_BLOCK 64

/* batchgeneratorsv2's GammaTransform with retain_stats, on s * v for s = +1 or -1 (the
 * inverted image): x -> ((x - min) / max(range, 1e-7))^g range + min, then the mean and
 * standard deviation of x restored (x - mean') std / max(std', 1e-7) + mean; the result is
 * multiplied by s again. (Standard deviations are the population's: torch's unbiased ones
 * have the same ratio.) This is the power and the sums for mean' and std' (st: the channel's
 * statistics, from the pass before); the restoring is per voxel and left to the caller (*r),
 * which does it in its next pass. The main loop is gamma_lanes split in two (logarithms, then
 * exponentials); a group of lanes with the bits of the group before it (background, air, the
 * zeros outside the case: runs of one value) takes that group's result, which is a function
 * of those bits alone, instead of computing it again. The remainder calls gamma_lanes whole. */
void pf_int_gamma(float *v, size_t n, double g, int invert, pf_int_stats st, int wide,
                  pf_int_restore *r)
{
    const float sg = invert ? -1.0f : 1.0f;
    pf_int_stats st2;
    size_t i;
    if (invert) { /* the statistics of -v, exactly: no pass negating the channel */
        float mn = -st.mx;
        st.mx = -st.mn;
        st.mn = mn;
        st.mean = -st.mean;
    }
    {
        const double range = (double)st.mx - (double)st.mn;
        const float inv = (float)(1.0 / fmax(range, 1e-7)), rf = (float)range, gf = (float)g,
                    tmin = (float)pf_exp(-125.0 / g * 0.69314718055994530942);
        pf_int_acc a;
        pf_d2 ss[2] = {{0, 0}, {0, 0}}, qq[2] = {{0, 0}, {0, 0}}, shift;
        pf_int_acc_init(&a, gamma_lanes(pf_vf_splat(v[0] * sg), st.mn, inv, gf, rf, tmin)[0]);
        shift = (pf_d2){a.shift, a.shift};
#ifdef PF_HAVE_AVX2
        const pf_gamma_k k = {sg, st.mn, inv, gf, rf, tmin, a.shift};
#endif
        /* in blocks, the logarithms first and then the exponentials: two short dependency
         * chains per voxel instead of one long one, so more voxels are in flight */
        pf_vf x_prev = pf_vf_splat(0.0f), y_prev = x_prev;
        int have_prev = 0;
        for (i = WIDE(pf_int_gamma_avx2(v, n, &k, ss, qq)); i + PF_VL <= n;) {
            pf_vf l[GAMMA_BLOCK];
            unsigned char same[GAMMA_BLOCK]; /* the group repeats the one before it */
            size_t nb = (n - i) / PF_VL < GAMMA_BLOCK ? (n - i) / PF_VL : GAMMA_BLOCK;
            for (size_t j = 0; j < nb; j++) {
                const pf_vf x = pf_vf_load(v + i + j * PF_VL);
                same[j] = (unsigned char)(have_prev && pf_vf_same_bits(x, x_prev));
                if (!same[j])
                    l[j] = pf_vf_log2(pf_vf_max((x * sg - st.mn) * inv, pf_vf_splat(tmin))) * gf;
                x_prev = x;
                have_prev = 1;
            }
            for (size_t j = 0; j < nb; j++, i += PF_VL) {
                const pf_vf y = same[j] ? y_prev : pf_vf_exp2(l[j]) * rf + st.mn;
                sums_add(y, shift, ss, qq);
                pf_vf_store(v + i, y);
                y_prev = y;
            }
        }
        /* sums only: the caller uses the mean and deviation, not min and max */
        a.s[0] = ss[0], a.s[1] = ss[1], a.q[0] = qq[0], a.q[1] = qq[1];
        a.n = i;
        if (i < n) {
            pf_vf y = gamma_lanes(pf_vf_load_part(v + i, n - i, 0.0f) * sg, st.mn, inv, gf, rf, tmin);
            acc_add_part(&a, y, n - i);
            pf_vf_store_part(v + i, y, n - i);
        }
        st2 = pf_int_acc_result(&a);
    }
    r->a = (float)(st.sd / fmax(st2.sd, 1e-7));
    r->m2 = (float)st2.mean;
    r->m1 = (float)st.mean;
    r->sg = sg;
}
