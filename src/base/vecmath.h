/* vecmath.h - short-vector float arithmetic for the per-voxel augmentation loops, with the same
 * result bits on every machine.
 *
 * The lanes are GCC/Clang vector types: SSE2 on x86-64, NEON on AArch64, plain scalar code
 * elsewhere. Every operation used here (+, -, *, /, comparisons, integer and
 * bit operations, float <-> int conversion, sqrt) is exactly rounded by IEEE-754 and the
 * project builds with -ffp-contract=off, so a lane computes what a scalar would, bit for bit,
 * whatever the host vectorises. Transcendentals are range reduction plus fixed polynomials
 * (no libm, no lookup tables, so they vectorise): log2 and exp2 to about 2 float ulps, sin and
 * cos of a fraction of a turn to about 1e-7. That is float32 resolution, which is all a
 * float32 batch can hold; the double versions in detmath.h remain for parameters.
 *
 * Loops call these on groups of PF_VL and run the remainder through the same functions on a
 * padded group (pf_vf_load_part / pf_vf_store_part), so an element's value never depends on
 * where it falls in the array. */
#ifndef PATCHFS_VECMATH_H
#define PATCHFS_VECMATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Four lanes, one 128-bit register: the portable path. (Eight would not be faster here: GCC 12
 * splits wider vectors for SSE2 but turns their comparisons into scalar code.) The eight-lane
 * twin for CPUs with AVX2, chosen at run time, is vecmath8.h. */
#define PF_VL 4
typedef float pf_vf __attribute__((vector_size(4 * PF_VL)));
typedef int32_t pf_vi __attribute__((vector_size(4 * PF_VL)));
typedef uint32_t pf_vu __attribute__((vector_size(4 * PF_VL)));
typedef double pf_d2 __attribute__((vector_size(16))); /* sums: a float group's two halves */

static inline pf_vf pf_vf_splat(float x)
{
    return (pf_vf){0} + x;
}

static inline pf_vf pf_vf_load(const float *p)
{
    pf_vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void pf_vf_store(float *p, pf_vf v)
{
    memcpy(p, &v, sizeof v);
}

/* The first n (< PF_VL) elements at p, the other lanes `pad`. */
static inline pf_vf pf_vf_load_part(const float *p, size_t n, float pad)
{
    pf_vf v = pf_vf_splat(pad);
    for (size_t k = 0; k < n; k++)
        v[k] = p[k];
    return v;
}

static inline void pf_vf_store_part(float *p, pf_vf v, size_t n)
{
    for (size_t k = 0; k < n; k++)
        p[k] = v[k];
}

/* mask ? a : b, lane by lane (mask lanes all ones or all zeros, as comparisons give) */
static inline pf_vf pf_vf_select(pf_vi mask, pf_vf a, pf_vf b)
{
    return (pf_vf)(((pf_vi)a & mask) | ((pf_vi)b & ~mask));
}

/* a < b ? a : b per lane. SSE2's MINPS is exactly that (its second operand where the lanes
 * are equal, +0 and -0 included, or unordered), one instruction instead of four. */
static inline pf_vf pf_vf_min(pf_vf a, pf_vf b)
{
#ifdef __SSE2__
    return (pf_vf)_mm_min_ps((__m128)a, (__m128)b);
#else
    return pf_vf_select(a < b, a, b);
#endif
}

/* a > b ? a : b per lane (MAXPS likewise) */
static inline pf_vf pf_vf_max(pf_vf a, pf_vf b)
{
#ifdef __SSE2__
    return (pf_vf)_mm_max_ps((__m128)a, (__m128)b);
#else
    return pf_vf_select(a > b, a, b);
#endif
}

/* 1 when a and b have the same bits in every lane (so any lane-wise function of them gives the
 * same result bits), else 0 */
static inline int pf_vf_same_bits(pf_vf a, pf_vf b)
{
#ifdef __SSE2__
    return _mm_movemask_epi8(_mm_cmpeq_epi32((__m128i)a, (__m128i)b)) == 0xffff;
#else
    return memcmp(&a, &b, sizeof a) == 0;
#endif
}

/* floor for |x| < 2^31 */
static inline pf_vf pf_vf_floor(pf_vf x)
{
    pf_vf t = __builtin_convertvector(__builtin_convertvector(x, pf_vi), pf_vf);
    return t - pf_vf_select(t > x, pf_vf_splat(1.0f), pf_vf_splat(0.0f));
}

/* The halves of a float group widened to double (lanes 0-1 and 2-3). */
static inline void pf_vf_widen(pf_vf x, pf_d2 *lo, pf_d2 *hi)
{
#ifdef __SSE2__ /* GCC 12 builds the generic form element by element through memory */
    *lo = (pf_d2)_mm_cvtps_pd((__m128)x);
    *hi = (pf_d2)_mm_cvtps_pd(_mm_movehl_ps((__m128)x, (__m128)x));
#else /* float to double is exact: the same values */
    *lo = (pf_d2){x[0], x[1]};
    *hi = (pf_d2){x[2], x[3]};
#endif
}

static inline pf_vf pf_vf_sqrt(pf_vf x)
{
    pf_vf r;
    for (int k = 0; k < PF_VL; k++)
        r[k] = __builtin_sqrtf(x[k]); /* correctly rounded; callers pass x >= 0 */
    return r;
}

/* log2(x) for normal x > 0: x = m 2^e with m in [sqrt(1/2), sqrt(2)) (found by integer
 * arithmetic on the bits: no compare), then ln m = 2 atanh(s), s = (m - 1) / (m + 1),
 * |s| < 0.1716, to s^9. */
static inline pf_vf pf_vf_log2(pf_vf x)
{
    const pf_vu bits = (pf_vu)x;
    const pf_vi e = (pf_vi)(bits - 0x3f3504f3u) >> 23; /* floor(log2(x / sqrt(1/2))) */
    const pf_vf m = (pf_vf)(bits - ((pf_vu)e << 23));
    pf_vf s, s2, s4, lnm;
    s = (m - 1.0f) / (m + 1.0f);
    s2 = s * s;
    s4 = s2 * s2;
    lnm = (2.0f * s) * ((1.0f + s2 * (1.0f / 3)) + s4 * ((1.0f / 5 + s2 * (1.0f / 7)) + s4 * (1.0f / 9)));
    return __builtin_convertvector(e, pf_vf) + lnm * 1.44269504f;
}

/* 2^y for y in [-126, 127] (callers keep it there): y = k + f with k the nearest integer,
 * found by adding and subtracting 1.5 * 2^23 (its bits then hold k too), f in [-0.5, 0.5],
 * 2^f to degree 7 (error 5e-9). */
static inline pf_vf pf_vf_exp2(pf_vf y)
{
    const float l = 0.693147181f, magic = 12582912.0f;
    const pf_vf r = y + magic, k = r - magic;
    const pf_vf f = (y - k) * l, f2 = f * f, f4 = f2 * f2;
    const pf_vu scale = ((pf_vu)r - 0x4b400000u + 127u) << 23;
    /* Estrin's scheme: short dependency chains, so consecutive groups overlap */
    const pf_vf p = ((1.0f + f) + f2 * (1.0f / 2 + f * (1.0f / 6))) +
                    f4 * ((1.0f / 24 + f * (1.0f / 120)) + f2 * (1.0f / 720 + f * (1.0f / 5040)));
    return p * (pf_vf)scale;
}

/* cos and sin of 2 pi u for u in [0, 1): the quarter turn q = floor(4u) and the angle
 * a = (4u - q) pi/2 in [0, pi/2) by Taylor series (degree 12 and 13), then rotated by q. */
static inline void pf_vf_cossin_turn(pf_vf u, pf_vf *c, pf_vf *s)
{
    pf_vf q = pf_vf_floor(u * 4.0f), a = (u * 4.0f - q) * 1.57079633f, a2 = a * a, ca, sa;
    pf_vi qi = __builtin_convertvector(q, pf_vi), swap = (qi & 1) != 0;
    pf_vi neg_c = (qi == 1) | (qi == 2), neg_s = (qi == 2) | (qi == 3);
    ca = 1.0f - a2 * (1.0f / 2 - a2 * (1.0f / 24 - a2 * (1.0f / 720 - a2 * (1.0f / 40320 -
         a2 * (1.0f / 3628800 - a2 * (1.0f / 479001600))))));
    sa = a * (1.0f - a2 * (1.0f / 6 - a2 * (1.0f / 120 - a2 * (1.0f / 5040 - a2 * (1.0f / 362880 -
         a2 * (1.0f / 39916800 - a2 * (1.0f / 6227020800.0f)))))));
    /* rotating (cos a, sin a) by q quarter turns: q=1 (-sin, cos), q=2 (-cos, -sin),
     * q=3 (sin, -cos) */
    *c = pf_vf_select(swap, sa, ca);
    *s = pf_vf_select(swap, ca, sa);
    *c = pf_vf_select(neg_c, -*c, *c);
    *s = pf_vf_select(neg_s, -*s, *s);
}

#endif
