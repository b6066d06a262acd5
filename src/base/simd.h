/* simd.h - which vector path the per-voxel kernels take on this CPU (runtime dispatch).
 *
 * Kernels with a wider path (AVX2 on x86-64) compile it with a target attribute and pick it at
 * run time; every path computes the same bytes as the portable one (lane-wise IEEE operations,
 * no fused multiply-add, the same operation order), so the choice is a speed matter only. The
 * tests force each path the CPU has and compare the served bytes with the golden digests.
 *
 * PATCHFS_SIMD=scalar|sse2|neon|avx2 in the environment caps the path (a path the CPU lacks
 * falls back to the best one below it); unset, the best the CPU has is taken. */
#ifndef PATCHFS_SIMD_H
#define PATCHFS_SIMD_H

typedef enum {
    PF_SIMD_SCALAR = 0, /* plain C (GCC vector types lowered to scalar code) */
    PF_SIMD_BASE = 1,   /* the ISA's baseline vectors: SSE2 on x86-64, NEON on AArch64 */
    PF_SIMD_AVX2 = 2,   /* 256-bit integer and float vectors (x86-64 with AVX2) */
} pf_simd_level;

/* The best path this CPU supports. */
pf_simd_level pf_simd_detect(void);

/* The path kernels take: pf_simd_detect() capped by PATCHFS_SIMD (read once, thread-safe). */
pf_simd_level pf_simd_active(void);

/* Tests: take `level` (capped by what the CPU supports) from now on; returns the level taken. */
pf_simd_level pf_simd_force(pf_simd_level level);

/* "scalar", "sse2", "neon", "avx2". */
const char *pf_simd_name(pf_simd_level level);

/* Parses a name pf_simd_name gives (also "base"); -1 if unknown. */
int pf_simd_parse(const char *name);

#endif
