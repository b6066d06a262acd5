/* intensity_i.h - what intensity.c (the transforms), intensity_pass.c (the per-voxel ones fused
 * into passes, the chain) and intensity_avx2.c (eight-lane kernels) share.
 *
 * The kernels: intensity.c and intensity_pass.c call them when pf_simd_active() is
 * PF_SIMD_AVX2. Each one does the leading whole groups of eight of its loop, exactly as the
 * four-lane loop would (vecmath8.h), and returns where it stopped; the caller finishes from
 * there with its own four-lane loop and tail, so a remainder is computed as before and the
 * bytes are the same on every path. */
#ifndef PATCHFS_INTENSITY_I_H
#define PATCHFS_INTENSITY_I_H

#include <stddef.h>
#include <stdint.h>

#include "augment.h"
#include "vecmath8.h"

/* The loops start with the eight-lane kernel (intensity_avx2.c) when `wide` (AVX2 chosen at
 * run time) and go on from where it stopped with the four-lane code: WIDE(call) is the index
 * it reached, 0 on the four-lane path. */
#ifdef PF_HAVE_AVX2
#define WIDE(call) (wide ? (call) : 0)
#else
#define WIDE(call) ((void)wide, (size_t)0)
#endif

/* mean, population standard deviation, min and max of a channel */
typedef struct pf_int_stats {
    double mean, sd;
    float mn, mx;
} pf_int_stats;

/* Running sums for pf_int_stats in one pass (intensity.c). Values are taken relative to a
 * shift (the first value) so that sum of squares minus squared sum does not cancel; a float
 * squared is exact in double. Lane k (of the four float lanes, kept as two double pairs) takes
 * elements i = k (mod 4) in increasing order, min and max likewise, and the lanes are added as
 * (0 + 1) + (2 + 3): a fixed order, whatever the host vectorises or how the channel is cut into
 * calls of pf_int_acc_add. */
typedef struct pf_int_acc {
    pf_d2 s[2], q[2];
    double shift;
    pf_vf mn, mx;
    size_t n;
} pf_int_acc;

/* starts the sums; first: the channel's first value */
void pf_int_acc_init(pf_int_acc *a, float first);
/* adds the next len values v (whose first is element a->n of the channel); len a multiple of 4
 * except in the last call */
void pf_int_acc_add(pf_int_acc *a, const float *v, size_t len, int wide);
pf_int_stats pf_int_acc_result(const pf_int_acc *a);

/* gamma's last step (the mean and deviation restored, the sign put back), per voxel:
 * v = ((v - m2) a + m1) sg */
typedef struct pf_int_restore {
    float m2, a, m1, sg;
} pf_int_restore;

/* Gaussian noise of voxels [first, first + n) of the sample (counted over all channels) added
 * to img; each voxel's by its index alone, so any cut of the range gives the same bytes */
void pf_int_add_noise(const pf_aug_params *p, size_t first, size_t n, float *img, int wide);
/* blur and low resolution of one channel (P voxels); -1 when out of memory */
int pf_int_blur(float *v, const int P[3], const double sigma[3], int wide);
int pf_int_lowres(float *v, const int P[3], double zoom, int in_plane, int wide);
/* gamma's main pass over one channel (st: its statistics before): v = the normalised power,
 * and *r what pf_int_restore must do to each voxel after it */
void pf_int_gamma(float *v, size_t n, double g, int invert, pf_int_stats st, int wide,
                  pf_int_restore *r);

/* The four-lane loops of the per-voxel transforms (intensity_pass.c), each starting with the
 * eight-lane kernel when wide: v *= f; contrast v = clamp((v - mean) f + mean, mn, mx);
 * pf_int_restore; 0 where seg < 0 */
void pf_int_scale(float *v, size_t n, float f, int wide);
void pf_int_contrast(float *v, size_t n, float mean, float f, float mn, float mx, int wide);
void pf_int_restore_pass(float *v, size_t n, const pf_int_restore *r, int wide);
void pf_int_mask(float *img, const int16_t *seg, size_t n, int wide);
/* pf_int_mask's unit: voxels whose seg is looked at together */
#define PF_MASK_CHUNK 16

#ifdef PF_HAVE_AVX2

/* pf_int_acc_add's loop: sums of (x - shift) and their squares into s, q (vecmath.h's lane
 * order), running min and max into mn, mx; returns the elements done (a multiple of 8, <= n) */
size_t pf_int_stats_avx2(const float *v, size_t n, double shift, pf_d2 s[2], pf_d2 q[2], pf_vf *mn,
                         pf_vf *mx);

/* pf_int_add_noise's blocks of 8 voxels, two at a time, from block b while they end by `end`
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
/* pf_int_mask's chunks then groups of 8: img = 0 where seg < 0 */
size_t pf_int_mask_avx2(float *img, const int16_t *seg, size_t n);

/* pf_int_gamma's constants */
typedef struct pf_gamma_k {
    float sg, mn, inv, g, range, tmin;
    double shift;
} pf_gamma_k;

/* pf_int_gamma's main loop (logarithms then exponentials by blocks), the sums of the
 * results into s, q; elements done */
size_t pf_int_gamma_avx2(float *v, size_t n, const pf_gamma_k *k, pf_d2 s[2], pf_d2 q[2]);

#endif
#endif
