/* half.c - float32 -> float16, round to nearest even, identical bits on every path (half.h). */
#include "half.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define PF_HAVE_F16C_PATH 1
#endif

uint16_t pf_half_from_float(float f)
{
    uint32_t x, sign;
    uint16_t h;
    memcpy(&x, &f, sizeof x);
    sign = x & 0x80000000u;
    x ^= sign;
    if (x >= 0x47800000u) {
        /* |f| >= 65536, infinity or NaN (65520 <= |f| < 65536 rounds up to infinity below) */
        h = x > 0x7f800000u ? (uint16_t)(0x7e00u | ((x >> 13) & 0x3ffu)) : 0x7c00u;
    } else if (x < 0x38800000u) {
        /* below 2^-14: a subnormal half or zero. Adding 0.5 puts the value's 2^-24 units in
         * the low mantissa bits of a float in [0.5, 1), rounded to nearest even by the FPU */
        float v, magic = 0.5f;
        uint32_t vb;
        memcpy(&v, &x, sizeof v);
        v += magic;
        memcpy(&vb, &v, sizeof vb);
        h = (uint16_t)(vb - 0x3f000000u);
    } else {
        /* normal: rebias the exponent, round the 13 dropped bits to nearest even (a carry
         * into the exponent is right, up to infinity) */
        const uint32_t odd = (x >> 13) & 1u;
        x += 0xc8000fffu + odd; /* ((15 - 127) << 23) + 0xfff, modulo 2^32 */
        h = (uint16_t)(x >> 13);
    }
    return (uint16_t)(h | (sign >> 16));
}

void pf_half_from_floats_portable(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = pf_half_from_float(src[i]);
}

#ifdef PF_HAVE_F16C_PATH
/* F16C and AVX (CPUID 1: ECX bits 29 and 28) with the YMM state enabled by the OS (OSXSAVE,
 * bit 27, and XCR0 bits 1-2); cpuid directly, as compilers disagree on feature names */
static int cpu_has_f16c(void)
{
    unsigned a, b, c, d, lo, hi;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    if (!(c & (1u << 29)) || !(c & (1u << 28)) || !(c & (1u << 27)))
        return 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    return (lo & 6u) == 6u;
}

__attribute__((target("avx,f16c"))) static void f16c_convert(uint16_t *dst, const float *src,
                                                               size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(src + i);
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; i++)
        dst[i] = pf_half_from_float(src[i]);
}
#endif

void pf_half_from_floats(uint16_t *dst, const float *src, size_t n)
{
#ifdef PF_HAVE_F16C_PATH
    static int cpu = -1; /* -1 unknown, 0 no F16C, 1 F16C */
    int have = __atomic_load_n(&cpu, __ATOMIC_RELAXED);
    if (have < 0) {
        have = cpu_has_f16c();
        __atomic_store_n(&cpu, have, __ATOMIC_RELAXED);
    }
    if (have) {
        f16c_convert(dst, src, n);
        return;
    }
#endif
    pf_half_from_floats_portable(dst, src, n);
}
