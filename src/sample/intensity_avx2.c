/* intensity_avx2.c - the eight-lane (AVX2) loops of the intensity transforms (intensity_i.h).
 *
 * Each function is the four-lane loop of intensity.c with pf_vf8 for pf_vf: the same IEEE
 * operations in the same order per voxel (vecmath8.h), so the same bytes; only the leading
 * whole groups of eight are done here and the caller finishes the rest. Sums in double keep
 * the four-lane order: an eight-float group goes into the four-double accumulators as its two
 * halves in turn. Compiled for any x86 target; called only when the CPU has AVX2. */
#include "intensity_i.h"

#ifdef PF_HAVE_AVX2

PF_AVX2 static inline pf_d4 d4_of(const pf_d2 h[2])
{
    return (pf_d4){h[0][0], h[0][1], h[1][0], h[1][1]};
}

PF_AVX2 static inline void d4_to(pf_d4 v, pf_d2 h[2])
{
    h[0] = (pf_d2){v[0], v[1]};
    h[1] = (pf_d2){v[2], v[3]};
}

/* sums_add of intensity.c for the two halves of x, in order */
PF_AVX2 static inline void sums_add8(pf_vf8 x, pf_d4 shift, pf_d4 *s, pf_d4 *q)
{
    pf_d4 lo = pf_vf_widen4(pf_vf8_lo(x)) - shift, hi = pf_vf_widen4(pf_vf8_hi(x)) - shift;
    *s += lo;
    *q += lo * lo;
    *s += hi;
    *q += hi * hi;
}

/* one group of 8 into a chain of running minima and maxima: four lanes, the halves in turn
 * (which of +0 and -0 a tie keeps depends on the order) */
#define MINMAX_STEP(p, mn, mx)                                                                   \
    do {                                                                                         \
        const __m256 x_ = _mm256_loadu_ps(p);                                                    \
        const __m128 a_ = _mm256_castps256_ps128(x_), b_ = _mm256_extractf128_ps(x_, 1);        \
        mn = _mm_min_ps(_mm_min_ps(mn, a_), b_);                                                 \
        mx = _mm_max_ps(_mm_max_ps(mx, a_), b_);                                                 \
    } while (0)

/* The sums (sums_add8) in one chain per lane, in order: their order is the bytes'. The minima
 * and maxima of the lanes must be the serial chain's bits (the four-lane loop's
 * m = m < x ? m : x, and > for the maximum), but one such chain is the loop's longest
 * dependency. It keeps the last occurrence of the least value (-0 and +0 are equal, so the
 * later of them), so it is associative over contiguous runs taken in order: the groups of 8
 * are split in four runs, each with its own chain (from +inf and -inf, which the first value
 * replaces), and the four results are folded into mn, mx in run order, the same bits as one
 * chain through them all. A NaN breaks that (a chain replaces it by the next value): with one
 * among the values (then the sums are NaN: a NaN stays in a sum) their minima and maxima are
 * done again in one chain. Each pass of the loop adds four consecutive groups to the sums and
 * one group of each run to the runs' chains. */
PF_AVX2 size_t pf_int_stats_avx2(const float *v, size_t n, double shift, pf_d2 s[2], pf_d2 q[2],
                                 pf_vf *mn, pf_vf *mx)
{
    const pf_d4 sh = (pf_d4){shift, shift, shift, shift};
    const size_t end = n / PF_VL8 * PF_VL8, run = end / (4 * PF_VL8) * PF_VL8; /* floats */
    const __m128 inf = _mm_set1_ps(__builtin_inff()), ninf = _mm_set1_ps(-__builtin_inff());
    pf_d4 ss = d4_of(s), qq = d4_of(q);
    __m128 mn0 = (__m128)*mn, mx0 = (__m128)*mx, mn1 = inf, mx1 = ninf, mn2 = inf, mx2 = ninf,
           mn3 = inf, mx3 = ninf;
    size_t i;
    if (end == 0) /* nothing to fold (*mn may be a NaN first value while the sums are not) */
        return 0;
    for (i = 0; i < run; i += PF_VL8) {
        for (size_t k = 0; k < 4 * PF_VL8; k += PF_VL8)
            sums_add8(pf_vf8_load(v + 4 * i + k), sh, &ss, &qq);
        MINMAX_STEP(v + i, mn0, mx0);
        MINMAX_STEP(v + run + i, mn1, mx1);
        MINMAX_STEP(v + 2 * run + i, mn2, mx2);
        MINMAX_STEP(v + 3 * run + i, mn3, mx3);
    }
    for (i = 4 * run; i < end; i += PF_VL8) {
        sums_add8(pf_vf8_load(v + i), sh, &ss, &qq);
        MINMAX_STEP(v + i, mn3, mx3);
    }
    d4_to(ss, s);
    d4_to(qq, q);
    if (ss[0] == ss[0] && ss[1] == ss[1] && ss[2] == ss[2] && ss[3] == ss[3]) { /* no NaN */
        mn0 = _mm_min_ps(_mm_min_ps(_mm_min_ps(mn0, mn1), mn2), mn3);
        mx0 = _mm_max_ps(_mm_max_ps(_mm_max_ps(mx0, mx1), mx2), mx3);
    } else {
        mn0 = (__m128)*mn, mx0 = (__m128)*mx;
        for (i = 0; i < end; i += PF_VL8)
            MINMAX_STEP(v + i, mn0, mx0);
    }
    *mn = (pf_vf)mn0;
    *mx = (pf_vf)mx0;
    return end;
}

PF_AVX2 static inline pf_vu8 hash32_8(pf_vu8 h)
{
    h ^= h >> 16;
    h *= 0x7feb352dU;
    h ^= h >> 15;
    h *= 0x846ca68bU;
    h ^= h >> 16;
    return h;
}

/* Blocks b and b + 1 are pairs 4 b + j, j = 0..7: lanes 0-3 give voxels 8 b + j (cos) and
 * 8 b + 4 + j (sin), lanes 4-7 the next block's. */
PF_AVX2 size_t pf_int_noise_avx2(uint32_t key, float sigma, size_t b, size_t first, size_t end,
                                 float *img)
{
    const pf_vu8 lane = {0, 1, 2, 3, 4, 5, 6, 7};
    for (; (b + 2) * 8 <= end; b += 2) {
        const pf_vu8 pair = lane + (uint32_t)(4 * b);
        const pf_vu8 ha = hash32_8((pair << 1) ^ key), hb = hash32_8(((pair << 1) | 1) ^ key);
        const pf_vf8 u1 = __builtin_convertvector((pf_vi8)(ha >> 8) + 1, pf_vf8) * 0x1p-24f;
        const pf_vf8 u2 = __builtin_convertvector((pf_vi8)(hb >> 8), pf_vf8) * 0x1p-24f;
        const pf_vf8 r = pf_vf8_sqrt(pf_vf8_log2(u1) * -1.38629436f) * sigma;
        float *v = img + (8 * b - first);
        pf_vf8 c, s, lo, hi;
        pf_vf8_cossin_turn(u2, &c, &s);
        c *= r;
        s *= r;
        lo = (pf_vf8)_mm256_permute2f128_ps((__m256)c, (__m256)s, 0x20); /* c 0-3, s 0-3 */
        hi = (pf_vf8)_mm256_permute2f128_ps((__m256)c, (__m256)s, 0x31); /* c 4-7, s 4-7 */
        pf_vf8_store(v, pf_vf8_load(v) + lo);
        pf_vf8_store(v + 8, pf_vf8_load(v + 8) + hi);
    }
    return b;
}

PF_AVX2 size_t pf_int_weighted_rows_avx2(float *dst, const float *const *src, const float *k, int taps,
                                         size_t len)
{
    size_t x;
    for (x = 0; x + PF_VL8 <= len; x += PF_VL8) {
        pf_vf8 acc = pf_vf8_load(src[0] + x) * k[0];
        for (int j = 1; j < taps; j++)
            acc += pf_vf8_load(src[j] + x) * k[j];
        pf_vf8_store(dst + x, acc);
    }
    return x;
}

PF_AVX2 size_t pf_int_lerp_rows_avx2(float *dst, const float *a, const float *b, float w, size_t len)
{
    size_t x;
    for (x = 0; x + PF_VL8 <= len; x += PF_VL8) {
        const pf_vf8 va = pf_vf8_load(a + x);
        pf_vf8_store(dst + x, va + (pf_vf8_load(b + x) - va) * w);
    }
    return x;
}

PF_AVX2 size_t pf_int_scale_avx2(float *v, size_t n, float f)
{
    size_t i;
    for (i = 0; i + PF_VL8 <= n; i += PF_VL8)
        pf_vf8_store(v + i, pf_vf8_load(v + i) * f);
    return i;
}

PF_AVX2 size_t pf_int_contrast_avx2(float *v, size_t n, float mean, float f, float mn, float mx)
{
    const pf_vf8 lo = pf_vf8_splat(mn), hi = pf_vf8_splat(mx);
    size_t i;
    for (i = 0; i + PF_VL8 <= n; i += PF_VL8) {
        const pf_vf8 t = (pf_vf8_load(v + i) - mean) * f + mean;
        pf_vf8_store(v + i, pf_vf8_min(pf_vf8_max(t, lo), hi));
    }
    return i;
}

PF_AVX2 size_t pf_int_restore_avx2(float *v, size_t n, float m2, float a, float m1, float sg)
{
    size_t i;
    for (i = 0; i + PF_VL8 <= n; i += PF_VL8)
        pf_vf8_store(v + i, ((pf_vf8_load(v + i) - m2) * a + m1) * sg);
    return i;
}

/* img[0..7] = 0 where seg < 0 */
PF_AVX2 static inline void mask8(float *img, const int16_t *seg)
{
    const __m256i s = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(const void *)seg));
    const __m256i outside = _mm256_cmpgt_epi32(_mm256_setzero_si256(), s);
    _mm256_storeu_ps(img, _mm256_andnot_ps((__m256)outside, _mm256_loadu_ps(img)));
}

/* mask8, written only when it changes a bit (the outside's voxels not +0 already) */
PF_AVX2 static inline void mask8_if(float *img, const int16_t *seg)
{
    const __m256i s = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(const void *)seg));
    const __m256i outside = _mm256_cmpgt_epi32(_mm256_setzero_si256(), s);
    const __m256 x = _mm256_loadu_ps(img);
    if (!_mm256_testz_si256((__m256i)x, outside))
        _mm256_storeu_ps(img, _mm256_andnot_ps((__m256)outside, x));
}

/* pf_int_mask's chunks (all inside: untouched; all outside: +0 unless +0 already; else groups
 * of 8 lanes, written where they change), then groups of 8 */
PF_AVX2 size_t pf_int_mask_avx2(float *img, const int16_t *seg, size_t n)
{
    const __m256i signs = _mm256_set1_epi16(INT16_MIN);
    size_t i;
    /* a chunk: 16 voxels, one ymm of seg */
    for (i = 0; i + PF_MASK_CHUNK <= n; i += PF_MASK_CHUNK) {
        const __m256i s = _mm256_loadu_si256((const __m256i *)(const void *)(seg + i));
        if (_mm256_testz_si256(s, signs))
            continue;
        if (_mm256_testc_si256(s, signs)) {
            const __m256 a = _mm256_loadu_ps(img + i), b = _mm256_loadu_ps(img + i + PF_VL8),
                         bits = _mm256_or_ps(a, b);
            if (!_mm256_testz_si256((__m256i)bits, (__m256i)bits)) {
                _mm256_storeu_ps(img + i, _mm256_setzero_ps());
                _mm256_storeu_ps(img + i + PF_VL8, _mm256_setzero_ps());
            }
            continue;
        }
        mask8_if(img + i, seg + i);
        mask8_if(img + i + PF_VL8, seg + i + PF_VL8);
    }
    for (; i + PF_VL8 <= n; i += PF_VL8)
        mask8(img + i, seg + i);
    return i;
}

#define GAMMA_BLOCK8 32

PF_AVX2 size_t pf_int_gamma_avx2(float *v, size_t n, const pf_gamma_k *k, pf_d2 s[2], pf_d2 q[2])
{
    /* locals: stores to v could alias *k as far as the compiler knows */
    const pf_d4 sh = (pf_d4){k->shift, k->shift, k->shift, k->shift};
    const pf_vf8 tmin = pf_vf8_splat(k->tmin);
    const float sg = k->sg, mn = k->mn, inv = k->inv, g = k->g, range = k->range;
    pf_d4 ss = d4_of(s), qq = d4_of(q);
    pf_vf8 x_prev = pf_vf8_splat(0.0f), y_prev = x_prev;
    int have_prev = 0;
    size_t i;
    for (i = 0; i + PF_VL8 <= n;) {
        pf_vf8 l[GAMMA_BLOCK8];
        unsigned char same[GAMMA_BLOCK8]; /* the group repeats the one before it */
        const size_t nb = (n - i) / PF_VL8 < GAMMA_BLOCK8 ? (n - i) / PF_VL8 : GAMMA_BLOCK8;
        for (size_t j = 0; j < nb; j++) {
            const pf_vf8 x = pf_vf8_load(v + i + j * PF_VL8);
            same[j] = (unsigned char)(have_prev && pf_vf8_same_bits(x, x_prev));
            if (!same[j])
                l[j] = pf_vf8_log2(pf_vf8_max((x * sg - mn) * inv, tmin)) * g;
            x_prev = x;
            have_prev = 1;
        }
        for (size_t j = 0; j < nb; j++, i += PF_VL8) {
            const pf_vf8 y = same[j] ? y_prev : pf_vf8_exp2(l[j]) * range + mn;
            sums_add8(y, sh, &ss, &qq);
            pf_vf8_store(v + i, y);
            y_prev = y;
        }
    }
    d4_to(ss, s);
    d4_to(qq, q);
    return i;
}

#else
typedef int pf_intensity_avx2_unused; /* ISO C wants something in a translation unit */
#endif
