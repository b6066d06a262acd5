/* vec8.h - eight float / int32 lanes (one 256-bit AVX2 register) for the AVX2 kernels
 * (sample_avx2.c), the counterpart of vecmath.h's four lanes. Every helper is static inline
 * with the avx2 target, so it is only ever compiled into, and called from, the AVX2 kernels;
 * each computes per lane exactly what its four-lane namesake does (the same IEEE operations:
 * no fused multiply-add, no approximate reciprocal), so a voxel's bits do not depend on the
 * lane width. x86-64 only. */
#ifndef PATCHFS_VEC8_H
#define PATCHFS_VEC8_H

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define PF_VL8 8
#define PF_AVX2 __attribute__((target("avx2")))
typedef float pf_v8f __attribute__((vector_size(32)));
typedef int32_t pf_v8i __attribute__((vector_size(32)));
typedef uint32_t pf_v8u __attribute__((vector_size(32)));

static inline PF_AVX2 pf_v8f pf_v8f_splat(float x)
{
    return (pf_v8f)_mm256_set1_ps(x);
}

/* mask ? a : b (mask lanes all ones or all zeros) */
static inline PF_AVX2 pf_v8f pf_v8f_select(pf_v8i mask, pf_v8f a, pf_v8f b)
{
    return (pf_v8f)(((pf_v8i)a & mask) | ((pf_v8i)b & ~mask));
}

/* pf_vf_min / pf_vf_max: a < b ? a : b and a > b ? a : b, which is what minps / maxps do
 * (the second operand on equality and on NaN) */
static inline PF_AVX2 pf_v8f pf_v8f_min(pf_v8f a, pf_v8f b)
{
    return (pf_v8f)_mm256_min_ps((__m256)a, (__m256)b);
}

static inline PF_AVX2 pf_v8f pf_v8f_max(pf_v8f a, pf_v8f b)
{
    return (pf_v8f)_mm256_max_ps((__m256)a, (__m256)b);
}

/* pf_vf_floor: truncate, convert back, subtract 1 where that went up */
static inline PF_AVX2 pf_v8f pf_v8f_floor(pf_v8f x)
{
    const pf_v8f t = __builtin_convertvector(__builtin_convertvector(x, pf_v8i), pf_v8f);
    return t - pf_v8f_select(t > x, pf_v8f_splat(1.0f), pf_v8f_splat(0.0f));
}

static inline PF_AVX2 pf_v8f pf_v8f_lerp(pf_v8f a, pf_v8f b, pf_v8f w)
{
    return a + (b - a) * w;
}

static inline PF_AVX2 int pf_v8i_any(pf_v8i m)
{
    return !_mm256_testz_si256((__m256i)m, (__m256i)m);
}

static inline PF_AVX2 int pf_v8i_all(pf_v8i m)
{
    return _mm256_movemask_ps((__m256)m) == 0xff;
}

#endif
#endif
