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
 * tests/unit/test_simd_sampling.c checks that on random grids, and the seg against a
 * per-label computation of nnU-Net's rule. */
#ifndef PATCHFS_KERNELS_H
#define PATCHFS_KERNELS_H

#include "grid.h"

/* The image's edge formula for one voxel near or beyond the case's border: 0 for a cell wholly
 * outside the case (no corner contributes; tested here, inline, because a 192^3 patch has many
 * such voxels), else the weighted sum of the corners inside (sample_image.c, out of line). */
float pf_interp_edge_near(const pf_case *c, const pf_case_map *m, const float *img,
                          const pf_norm *nm, const int32_t f[3], const float w[3]);
static inline float pf_interp_edge(const pf_case *c, const pf_case_map *m, const float *img,
                                   const pf_norm *nm, const int32_t f[3], const float w[3])
{
    return outside_case(f, c->hdr.shape) ? 0.0f : pf_interp_edge_near(c, m, img, nm, f, w);
}

/* The seg's per-label linear rule and nearest rule for one voxel (sample_seg.c). */
int16_t pf_seg_linear(const pf_case *c, const pf_case_map *m, const int32_t f[3], const float w[3]);
int16_t pf_seg_nearest_at(const pf_case *c, const pf_case_map *m, const int32_t f[3],
                          const float w[3]);

/* Whether the eight corners of the cell whose first corner is voxel b (corner offsets cn,
 * grid.h case_geom) carry one label, *l: the scalar and base paths' shortcut (a cell of one
 * label takes it under the linear rule). The storage type is tested once, every corner read. */
static inline int pf_seg_cell_one_label(const pf_case_map *m, size_t b, const size_t cn[8],
                                        int16_t *l)
{
    int same = 1;
    if (m->seg8) {
        const int8_t *s = m->seg8 + b, v = s[0];
        for (int j = 1; j < 8; j++)
            same &= s[cn[j]] == v;
        *l = v;
    } else {
        const int16_t *s = m->seg16 + b, v = s[0];
        for (int j = 1; j < 8; j++)
            same &= s[cn[j]] == v;
        *l = v;
    }
    return same;
}

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

/* The separable seg sampler's rows (axis-aligned grids, sample_seg.c) on the AVX2 path.
 * PF_SEG_MIXED marks "the corners there carry more than one label" in its label tables.
 * pf_seg_pairs_avx2: for output x in [0, P2), the label of the X pair at source voxels
 * row + f2[x], + 1 (in2[x]: the pair lies inside the case), or PF_SEG_MIXED; wide_ok: some
 * pair lies inside and reading four bytes at row + f2[x] stays inside the seg for each.
 * pf_seg_separable_row_avx2: output row (z, y) whose cells lie inside the case in Z and Y,
 * first corner (f[0], f[1], f2[x]), weights (w[0], w[1], w2[x]); ra, rb its one-label
 * tables in the planes f[0] and f[0] + 1. */
#define PF_SEG_MIXED INT32_MIN
void pf_seg_pairs_avx2(const pf_case_map *m, int wide_ok, size_t row, const int32_t *f2,
                       const unsigned char *in2, int P2, int32_t *out);
void pf_seg_separable_row_avx2(const pf_case *c, const pf_case_map *m, const case_geom *cg,
                               const int32_t f[2], const float w[2], const int32_t *f2,
                               const float *w2, const unsigned char *in2, const int32_t *ra,
                               const int32_t *rb, int P2, int16_t *o);

#endif
