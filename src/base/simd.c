/* simd.c - runtime choice of the vector path (see simd.h). */
#include "simd.h"

#include <stdlib.h>
#include <string.h>

static int g_active = -1; /* -1: not chosen yet; read and written with atomics */

pf_simd_level pf_simd_detect(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2"))
        return PF_SIMD_AVX2;
    return __builtin_cpu_supports("sse2") ? PF_SIMD_BASE : PF_SIMD_SCALAR;
#elif defined(__aarch64__)
    return PF_SIMD_BASE;
#else
    return PF_SIMD_SCALAR;
#endif
}

const char *pf_simd_name(pf_simd_level level)
{
    switch (level) {
    case PF_SIMD_AVX2:
        return "avx2";
    case PF_SIMD_BASE:
#if defined(__aarch64__)
        return "neon";
#else
        return "sse2";
#endif
    case PF_SIMD_SCALAR:
        break;
    }
    return "scalar";
}

int pf_simd_parse(const char *name)
{
    if (!name)
        return -1;
    if (!strcmp(name, "scalar"))
        return PF_SIMD_SCALAR;
    if (!strcmp(name, "sse2") || !strcmp(name, "neon") || !strcmp(name, "base"))
        return PF_SIMD_BASE;
    if (!strcmp(name, "avx2"))
        return PF_SIMD_AVX2;
    return -1;
}

pf_simd_level pf_simd_force(pf_simd_level level)
{
    const pf_simd_level best = pf_simd_detect();
    const pf_simd_level taken = level > best ? best : level;
    __atomic_store_n(&g_active, (int)taken, __ATOMIC_RELEASE);
    return taken;
}

pf_simd_level pf_simd_active(void)
{
    int a = __atomic_load_n(&g_active, __ATOMIC_ACQUIRE);
    if (a < 0) {
        /* every thread that races here computes the same answer: storing it twice is harmless */
        const int want = pf_simd_parse(getenv("PATCHFS_SIMD"));
        const pf_simd_level best = pf_simd_detect();
        a = want < 0 || want > (int)best ? (int)best : want;
        __atomic_store_n(&g_active, a, __ATOMIC_RELEASE);
    }
    return (pf_simd_level)a;
}
