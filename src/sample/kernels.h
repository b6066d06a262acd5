/* kernels.h - the per-row kernels of the general (rotated) grid samplers on each vector path,
 * and the per-voxel formulas they share. Internal to the sample layer.
 *
 * sample_image.c and sample_seg.c walk a grid row by row and hand each row to the kernel of
 * the path pf_simd_active() names: the base path (4 float lanes, vecmath.h: SSE2/NEON), the
 * AVX2 path (8 lanes, sample_avx2.c, compiled with a target attribute and taken only on CPUs
 * that have AVX2) or the scalar path (one voxel at a time, sample_scalar.c). Every path
 * computes each voxel with the same IEEE operations in the same order (position, floor,
 * corners, clamp, lerps X then Y then Z, normalisation; the double edge formula and the seg
 * rules shared below), so the bytes are the same whichever runs: a speed choice only.
 * tests/unit/test_simd_paths.c checks that on random grids. */
#ifndef PATCHFS_KERNELS_H
#define PATCHFS_KERNELS_H

#include "grid.h"

/* The image's edge formula for one voxel near or beyond the case's border (sample_image.c). */
float pf_interp_edge(const pf_case *c, const pf_case_map *m, const float *img, const pf_norm *nm,
                     const int32_t f[3], const float w[3]);

/* The seg's per-label linear rule and nearest rule for one voxel (sample_seg.c). */
int16_t pf_seg_linear(const pf_case *c, const pf_case_map *m, const int32_t f[3], const float w[3]);
int16_t pf_seg_nearest_at(const pf_case *c, const pf_case_map *m, const int32_t f[3],
                          const float w[3]);

/* One output row of the image, every channel: o is voxel 0 of the row in channel 0, channels
 * pv apart, P2 voxels. */
void pf_image_row_scalar(const pf_case *c, const pf_case_map *m, const pf_norm *norms,
                         const case_geom *cg, const row_walk *rw, int P2, float *o, size_t pv);
void pf_image_row_avx2(const pf_case *c, const pf_case_map *m, const pf_norm *norms,
                       const case_geom *cg, const row_walk *rw, int P2, float *o, size_t pv);

/* One output row of the seg (P2 labels at o). */
void pf_seg_row_scalar(const pf_case *c, const pf_case_map *m, const case_geom *cg,
                       const row_walk *rw, int P2, int seg_nearest, int16_t *o);
void pf_seg_row_avx2(const pf_case *c, const pf_case_map *m, const case_geom *cg,
                     const row_walk *rw, int P2, int seg_nearest, int16_t *o);

#endif
