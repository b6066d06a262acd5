/* vecmath8.h - the eight-lane (AVX2) twin of vecmath.h, for kernels chosen at run time
 * (simd.h: pf_simd_active() == PF_SIMD_AVX2).
 *
 * Every function here carries target("avx2"), so it compiles to ymm registers whatever the
 * build's baseline, and may only be called from functions that carry it too (after the CPU
 * check). Each one is vecmath.h's function of the same name, operation for operation: the same
 * IEEE operations in the same order per lane, no fused multiply-add (target "avx2" alone does
 * not enable FMA, and the build has -ffp-contract=off), so a lane's bits are the four-lane
 * path's bits. tests/unit/test_simd_intensity.c and test_simd_sampling.c check that on every
 * path the CPU has.
 *
 * Loops that sum in double must keep vecmath.h's summation order (lane k of four takes the
 * elements i = k mod 4 in increasing order): an eight-float group is added to a four-double
 * accumulator as its two halves in turn (pf_vf8_widen), never as eight separate lanes. */
#ifndef PATCHFS_VECMATH8_H
#define PATCHFS_VECMATH8_H

#include "vecmath.h"

#if defined(__x86_64__) || defined(__i386__)
#define PF_HAVE_AVX2 1
#include <immintrin.h>

#define PF_AVX2 __attribute__((target("avx2")))
#define PF_VL8 8
typedef float pf_vf8 __attribute__((vector_size(4 * PF_VL8)));
typedef int32_t pf_vi8 __attribute__((vector_size(4 * PF_VL8)));
typedef uint32_t pf_vu8 __attribute__((vector_size(4 * PF_VL8)));
typedef double pf_d4 __attribute__((vector_size(32))); /* sums: a four-float group, widened */

/* 0 + x like pf_vf_splat (so -0 becomes +0 there too) */
PF_AVX2 static inline pf_vf8 pf_vf8_splat(float x)
{
    return (pf_vf8){0} + x;
}

PF_AVX2 static inline pf_vf8 pf_vf8_load(const float *p)
{
    return (pf_vf8)_mm256_loadu_ps(p);
}

PF_AVX2 static inline void pf_vf8_store(float *p, pf_vf8 v)
{
    _mm256_storeu_ps(p, (__m256)v);
}

PF_AVX2 static inline pf_vf8 pf_vf8_select(pf_vi8 mask, pf_vf8 a, pf_vf8 b)
{
    return (pf_vf8)(((pf_vi8)a & mask) | ((pf_vi8)b & ~mask));
}

/* pf_vf_min / pf_vf_max: MINPS returns its first operand where first < second, else its
 * second (ties of +0 and -0 and NaNs included), which is select(a < b, a, b) exactly */
PF_AVX2 static inline pf_vf8 pf_vf8_min(pf_vf8 a, pf_vf8 b)
{
    return (pf_vf8)_mm256_min_ps((__m256)a, (__m256)b);
}

PF_AVX2 static inline pf_vf8 pf_vf8_max(pf_vf8 a, pf_vf8 b)
{
    return (pf_vf8)_mm256_max_ps((__m256)a, (__m256)b);
}

/* pf_vf_same_bits */
PF_AVX2 static inline int pf_vf8_same_bits(pf_vf8 a, pf_vf8 b)
{
    const __m256i d = (__m256i)a ^ (__m256i)b;
    return _mm256_testz_si256(d, d);
}

/* lanes 0-3 and 4-7 */
PF_AVX2 static inline pf_vf pf_vf8_lo(pf_vf8 x)
{
    return (pf_vf)_mm256_castps256_ps128((__m256)x);
}

PF_AVX2 static inline pf_vf pf_vf8_hi(pf_vf8 x)
{
    return (pf_vf)_mm256_extractf128_ps((__m256)x, 1);
}

/* a four-float group widened to double (exact) */
PF_AVX2 static inline pf_d4 pf_vf_widen4(pf_vf x)
{
    return (pf_d4)_mm256_cvtps_pd((__m128)x);
}

/* correctly rounded like sqrtf; callers pass x >= 0 */
PF_AVX2 static inline pf_vf8 pf_vf8_sqrt(pf_vf8 x)
{
    return (pf_vf8)_mm256_sqrt_ps((__m256)x);
}

PF_AVX2 static inline pf_vf8 pf_vf8_floor(pf_vf8 x)
{
    pf_vf8 t = __builtin_convertvector(__builtin_convertvector(x, pf_vi8), pf_vf8);
    return t - pf_vf8_select(t > x, pf_vf8_splat(1.0f), pf_vf8_splat(0.0f));
}

/* the samplers' linear step, a + (b - a) * w (as their four-lane code writes it) */
PF_AVX2 static inline pf_vf8 pf_vf8_lerp(pf_vf8 a, pf_vf8 b, pf_vf8 w)
{
    return a + (b - a) * w;
}

/* whether any lane / every lane of a comparison mask is set */
PF_AVX2 static inline int pf_vi8_any(pf_vi8 m)
{
    return !_mm256_testz_si256((__m256i)m, (__m256i)m);
}

PF_AVX2 static inline int pf_vi8_all(pf_vi8 m)
{
    return _mm256_movemask_ps((__m256)m) == 0xff;
}

/* pf_vf_log2 */
PF_AVX2 static inline pf_vf8 pf_vf8_log2(pf_vf8 x)
{
    const pf_vu8 bits = (pf_vu8)x;
    const pf_vi8 e = (pf_vi8)(bits - 0x3f3504f3u) >> 23;
    const pf_vf8 m = (pf_vf8)(bits - ((pf_vu8)e << 23));
    pf_vf8 s, s2, s4, lnm;
    s = (m - 1.0f) / (m + 1.0f);
    s2 = s * s;
    s4 = s2 * s2;
    lnm = (2.0f * s) * ((1.0f + s2 * (1.0f / 3)) + s4 * ((1.0f / 5 + s2 * (1.0f / 7)) + s4 * (1.0f / 9)));
    return __builtin_convertvector(e, pf_vf8) + lnm * 1.44269504f;
}

/* pf_vf_exp2 */
PF_AVX2 static inline pf_vf8 pf_vf8_exp2(pf_vf8 y)
{
    const float l = 0.693147181f, magic = 12582912.0f;
    const pf_vf8 r = y + magic, k = r - magic;
    const pf_vf8 f = (y - k) * l, f2 = f * f, f4 = f2 * f2;
    const pf_vu8 scale = ((pf_vu8)r - 0x4b400000u + 127u) << 23;
    const pf_vf8 p = ((1.0f + f) + f2 * (1.0f / 2 + f * (1.0f / 6))) +
                     f4 * ((1.0f / 24 + f * (1.0f / 120)) + f2 * (1.0f / 720 + f * (1.0f / 5040)));
    return p * (pf_vf8)scale;
}

/* pf_vf_cossin_turn */
PF_AVX2 static inline void pf_vf8_cossin_turn(pf_vf8 u, pf_vf8 *c, pf_vf8 *s)
{
    pf_vf8 q = pf_vf8_floor(u * 4.0f), a = (u * 4.0f - q) * 1.57079633f, a2 = a * a, ca, sa;
    pf_vi8 qi = __builtin_convertvector(q, pf_vi8), swap = (qi & 1) != 0;
    pf_vi8 neg_c = (qi == 1) | (qi == 2), neg_s = (qi == 2) | (qi == 3);
    ca = 1.0f - a2 * (1.0f / 2 - a2 * (1.0f / 24 - a2 * (1.0f / 720 - a2 * (1.0f / 40320 -
         a2 * (1.0f / 3628800 - a2 * (1.0f / 479001600))))));
    sa = a * (1.0f - a2 * (1.0f / 6 - a2 * (1.0f / 120 - a2 * (1.0f / 5040 - a2 * (1.0f / 362880 -
         a2 * (1.0f / 39916800 - a2 * (1.0f / 6227020800.0f)))))));
    *c = pf_vf8_select(swap, sa, ca);
    *s = pf_vf8_select(swap, ca, sa);
    *c = pf_vf8_select(neg_c, -*c, *c);
    *s = pf_vf8_select(neg_s, -*s, *s);
}

#endif /* x86 */
#endif
