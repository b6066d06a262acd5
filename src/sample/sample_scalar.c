/* sample_scalar.c - the scalar kernels of the general grid samplers (see kernels.h): one
 * output voxel at a time in plain C, the portable path and the reference the vector paths
 * are tested against. Each line is the per-lane meaning of the base path's vector code
 * (grid.h row_points and group_points, sample_image.c interp_interior and the mask rule,
 * sample_seg.c), in the same order of operations. */
#include "kernels.h"

#include <math.h>

/* A voxel's position: floor (row_points: truncate, convert back, less 1 where that went up)
 * and fraction per axis; returns whether its cell lies inside the case (corners_inside) and
 * its first corner in *base. */
static inline int point_at(const row_walk *rw, int x, const case_geom *cg, int32_t f[3],
                           float w[3], size_t *base)
{
    const float xf = (float)x;
    int in = cg->usable;
    for (int d = 0; d < 3; d++) {
        const float q = rw->q0[d] + rw->dq[d] * xf;
        float fl = (float)(int32_t)q;
        fl = fl - (fl > q ? 1.0f : 0.0f);
        f[d] = (int32_t)fl;
        w[d] = q - fl;
        in &= (uint32_t)f[d] < (uint32_t)(cg->S[d] - 1 + cg->collapsed[d]);
    }
    *base = in ? (size_t)(((uint32_t)f[0] * (uint32_t)cg->S[1] + (uint32_t)f[1]) *
                              (uint32_t)cg->S[2] + (uint32_t)f[2])
               : 0;
    return in;
}

static inline float lerp1(float a, float b, float w)
{
    return a + (b - a) * w;
}

/* pf_vf_min (pf_vf_max (v, pf_vf_splat (lo)), pf_vf_splat (hi)): the splats add 0, which
 * turns a bound of -0 into +0, so the same addition here */
static inline float clip1(float v, float lo, float hi)
{
    const float l = 0.0f + lo, h = 0.0f + hi;
    const float t = v > l ? v : l;
    return t < h ? t : h;
}

/* The eight corner values v (corner order 4 z + 2 y + x) interpolated X, then Y, then Z. */
static inline float trilinear1(const float v[8], const float w[3])
{
    const float c00 = lerp1(v[0], v[1], w[2]), c01 = lerp1(v[2], v[3], w[2]);
    const float c10 = lerp1(v[4], v[5], w[2]), c11 = lerp1(v[6], v[7], w[2]);
    return lerp1(lerp1(c00, c01, w[1]), lerp1(c10, c11, w[1]), w[0]);
}

static float image_voxel(const pf_case *c, const pf_case_map *cm, const float *img,
                         const pf_norm *nm, const case_geom *cg, int in, size_t base,
                         const int32_t f[3], const float w[3])
{
    const int clip = !isinf(nm->lo) || !isinf(nm->hi);
    float v[8];
    int mixed = 0;
    if (!in)
        return pf_interp_edge(c, cm, img, nm, f, w);
    if (nm->masked)
        for (int j = 0; j < 8; j++)
            mixed |= pf_seg_at(cm, base + cg->corner[j]) < 0;
    for (int j = 0; j < 8; j++) {
        const float r = img[base + cg->corner[j]];
        if (mixed) /* the mask rule: each corner normalised unless its seg is < 0 */
            v[j] = pf_seg_at(cm, base + cg->corner[j]) < 0
                       ? r : (clip1(r, nm->lo, nm->hi) - nm->shift) / nm->scale;
        else
            v[j] = clip ? clip1(r, nm->lo, nm->hi) : r;
    }
    return mixed ? trilinear1(v, w) : (trilinear1(v, w) - nm->shift) / nm->scale;
}

void pf_image_row_scalar(const pf_case *c, const pf_case_map *cm, const pf_norm *norms,
                         const case_geom *cg, const row_walk *rw, int P2, float *row, size_t pv)
{
    const int64_t *S = c->hdr.shape;
    const size_t nvox = (size_t)(S[0] * S[1] * S[2]);
    for (int x = 0; x < P2; x++) {
        int32_t f[3];
        float w[3];
        size_t base;
        const int in = point_at(rw, x, cg, f, w, &base);
        for (uint32_t ch = 0; ch < c->hdr.n_channels; ch++)
            row[(size_t)ch * pv + (size_t)x] =
                image_voxel(c, cm, cm->image + (size_t)ch * nvox, &norms[ch], cg, in, base, f, w);
    }
}

void pf_seg_row_scalar(const pf_case *c, const pf_case_map *cm, const case_geom *cg,
                       const row_walk *rw, int P2, int seg_nearest, int16_t *o)
{
    for (int x = 0; x < P2; x++) {
        int32_t f[3];
        float w[3];
        size_t base;
        const int in = point_at(rw, x, cg, f, w, &base);
        if (in && !seg_nearest) {
            /* inside a region of one label (most voxels): that label */
            int16_t l;
            if (pf_seg_cell_one_label(cm, base, cg->corner, &l)) {
                o[x] = l;
                continue;
            }
        }
        o[x] = seg_nearest ? pf_seg_nearest_at(c, cm, f, w) : pf_seg_linear(c, cm, f, w);
    }
}
