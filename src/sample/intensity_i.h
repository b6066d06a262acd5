/* intensity_i.h - the eight-lane (AVX2) kernels of intensity.c, in intensity_avx2.c.
 *
 * intensity.c calls them when pf_simd_active() is PF_SIMD_AVX2. Each one does the leading
 * whole groups of eight of its loop, exactly as the four-lane loop would (vecmath8.h), and
 * returns where it stopped; the caller finishes from there with its own four-lane loop and
 * tail, so a remainder is computed as before and the bytes are the same on every path. */
#ifndef PATCHFS_INTENSITY_I_H
#define PATCHFS_INTENSITY_I_H

#include <stddef.h>
#include <stdint.h>

#include "vecmath8.h"

#ifdef PF_HAVE_AVX2

/* stats_of's loop: sums of (x - shift) and their squares into s, q (vecmath.h's lane order),
 * running min and max into mn, mx; returns the elements done (a multiple of 8, <= n) */
size_t pf_int_stats_avx2(const float *v, size_t n, double shift, pf_d2 s[2], pf_d2 q[2], pf_vf *mn,
                         pf_vf *mx);

/* add_noise's blocks of 8 voxels, two at a time, from block b while they end by `end`
 * (voxel indices; img holds voxels from `first`, 8 b >= first); returns the next block */
size_t pf_int_noise_avx2(uint32_t key, float sigma, size_t b, size_t first, size_t end, float *img);

/* weighted_rows, lerp_rows, brightness (v *= f), contrast, gamma's restoring pass:
 * elements done */
size_t pf_int_weighted_rows_avx2(float *dst, const float *const *src, const float *k, int taps,
                                 size_t len);
size_t pf_int_lerp_rows_avx2(float *dst, const float *a, const float *b, float w, size_t len);
size_t pf_int_scale_avx2(float *v, size_t n, float f);
size_t pf_int_contrast_avx2(float *v, size_t n, float mean, float f, float mn, float mx);
size_t pf_int_restore_avx2(float *v, size_t n, float m2, float a, float m1, float sg);
/* pf_aug_mask_outside: img = 0 where seg < 0 */
size_t pf_int_mask_avx2(float *img, const int16_t *seg, size_t n);

/* gamma_channel's constants */
typedef struct pf_gamma_k {
    float sg, mn, inv, g, range, tmin;
    double shift;
} pf_gamma_k;

/* gamma_channel's main loop (logarithms then exponentials by blocks), the sums of the
 * results into s, q; elements done */
size_t pf_int_gamma_avx2(float *v, size_t n, const pf_gamma_k *k, pf_d2 s[2], pf_d2 q[2]);

#endif
#endif
