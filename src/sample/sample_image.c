/* sample_image.c - an augmented sample's image: the rotated and scaled grid sampled straight
 * from the case, four voxels at a time in float lanes, trilinear, normalised on the fly
 * (nnU-Net's clip for CT, its mask rule), with the double edge formula for cells crossing the
 * case's border and a separable sampler for axis-aligned grids that gives the same bits.
 * The four-lane rows here are the base vector path; pf_simd_active() may hand a rotated
 * grid's rows to the AVX2 or scalar kernels instead (kernels.h), which give the same bytes.
 * The output rows may be written mirrored (grid.h grid_out_row). */
#include "kernels.h"

#include <math.h>
#include <stdlib.h>

#include "simd.h"

/* The interior formula, per lane: the eight clamped raw corners interpolated axis by axis
 * (X, then Y, then Z), then normalised. Used where all corners are inside the case (and, with
 * the nnU-Net mask rule, inside the mask); base[k] is lane k's first corner. */
static inline pf_vf interp_interior(const float *img, const int32_t base[PF_VL],
                                    const size_t corner[8], const pf_norm *nm, const pf_vf w[3])
{
    /* lanes built from registers, not element by element in memory (which would stall on
     * store forwarding); the eight corners written out so that they stay in registers */
    const float *b0 = img + base[0], *b1 = img + base[1], *b2 = img + base[2], *b3 = img + base[3];
#define CORNER(o) ((pf_vf){b0[o], b1[o], b2[o], b3[o]})
    pf_vf v0 = CORNER(0), v1 = CORNER(corner[1]), v2 = CORNER(corner[2]), v3 = CORNER(corner[3]);
    pf_vf v4 = CORNER(corner[4]), v5 = CORNER(corner[5]), v6 = CORNER(corner[6]),
          v7 = CORNER(corner[7]);
#undef CORNER
    pf_vf c00, c01, c10, c11, r;
    if (!isinf(nm->lo) || !isinf(nm->hi)) { /* CT: clip to the percentiles first */
        const pf_vf lo = pf_vf_splat(nm->lo), hi = pf_vf_splat(nm->hi);
        v0 = pf_vf_min(pf_vf_max(v0, lo), hi), v1 = pf_vf_min(pf_vf_max(v1, lo), hi);
        v2 = pf_vf_min(pf_vf_max(v2, lo), hi), v3 = pf_vf_min(pf_vf_max(v3, lo), hi);
        v4 = pf_vf_min(pf_vf_max(v4, lo), hi), v5 = pf_vf_min(pf_vf_max(v5, lo), hi);
        v6 = pf_vf_min(pf_vf_max(v6, lo), hi), v7 = pf_vf_min(pf_vf_max(v7, lo), hi);
    }
    c00 = lerp_lanes(v0, v1, w[2]), c01 = lerp_lanes(v2, v3, w[2]);
    c10 = lerp_lanes(v4, v5, w[2]), c11 = lerp_lanes(v6, v7, w[2]);
    r = lerp_lanes(lerp_lanes(c00, c01, w[1]), lerp_lanes(c10, c11, w[1]), w[0]);
    return (r - nm->shift) / nm->scale;
}

/* The edge formula, one voxel whose cell reaches beyond the case's border (or the mask's) but
 * not wholly outside it (pf_interp_edge, kernels.h, gives those 0 first): each corner inside
 * the case contributes its normalised value with its trilinear weight, corners outside
 * contribute 0 (the padding value after normalisation), and with the mask rule corners with
 * seg < 0 keep their raw value. In double. */
__attribute__((noinline, cold)) float pf_interp_edge_near(const pf_case *c, const pf_case_map *m,
                                                           const float *img, const pf_norm *nm,
                                                           const int32_t f[3], const float w[3])
{
    const int64_t *S = c->hdr.shape;
    double acc = 0.0, wsum = 0.0, keep = 0.0;
    for (int k = 0; k < 8; k++) {
        int64_t iz = f[0] + (k >> 2), iy = f[1] + ((k >> 1) & 1), ix = f[2] + (k & 1);
        double wk = ((k >> 2) ? w[0] : 1.0 - w[0]) * (((k >> 1) & 1) ? w[1] : 1.0 - w[1]) *
                    ((k & 1) ? w[2] : 1.0 - w[2]);
        size_t i;
        if (iz < 0 || iy < 0 || ix < 0 || iz >= S[0] || iy >= S[1] || ix >= S[2])
            continue;
        i = (size_t)((iz * S[1] + iy) * S[2] + ix);
        if (nm->masked && pf_seg_at(m, i) < 0) {
            keep += wk * (double)img[i];
        } else {
            acc += wk * (double)clampf(img[i], nm->lo, nm->hi);
            wsum += wk;
        }
    }
    return (float)((acc - (double)nm->shift * wsum) / (double)nm->scale + keep);
}


/* One source plane zs interpolated along X (rows ys in [ylo, yhi]) and then along Y onto the
 * output rows: dst (P1 x P2); rows whose Y is outside are left alone. */
static void separable_plane(const float *img, const pf_norm *nm, const axis_tables *t,
                            const int64_t S[3], int32_t zs, float *xrows, float *dst)
{
    const int P1 = t->len[1], P2 = t->len[2];
    const int32_t ylo = t->ylo, yhi = t->yhi;
    const int clip = !isinf(nm->lo) || !isinf(nm->hi);
    for (int32_t ys = ylo; ys <= yhi; ys++) {
        const float *row = img + ((size_t)zs * (size_t)S[1] + (size_t)ys) * (size_t)S[2];
        float *xr = xrows + (size_t)(ys - ylo) * (size_t)P2;
        for (int x0 = 0; x0 < P2; x0 += PF_VL) {
            const int32_t *fx = t->f[2] + x0;
            /* lanes outside read element 0 twice (the row may be one element long); their
             * values are replaced by the edge formula */
            const int32_t n0 = t->in[2][x0], n1 = t->in[2][x0 + 1], n2 = t->in[2][x0 + 2],
                          n3 = t->in[2][x0 + 3];
            const int32_t i0 = n0 ? fx[0] : 0, i1 = n1 ? fx[1] : 0, i2 = n2 ? fx[2] : 0,
                          i3 = n3 ? fx[3] : 0;
            pf_vf a = {row[i0], row[i1], row[i2], row[i3]};
            pf_vf b = {row[i0 + n0], row[i1 + n1], row[i2 + n2], row[i3 + n3]};
            pf_vf w;
            memcpy(&w, t->w[2] + x0, sizeof w);
            if (clip) {
                a = pf_vf_min(pf_vf_max(a, pf_vf_splat(nm->lo)), pf_vf_splat(nm->hi));
                b = pf_vf_min(pf_vf_max(b, pf_vf_splat(nm->lo)), pf_vf_splat(nm->hi));
            }
            a = lerp_lanes(a, b, w);
            if (x0 + PF_VL <= P2)
                pf_vf_store(xr + x0, a);
            else
                pf_vf_store_part(xr + x0, a, (size_t)(P2 - x0));
        }
    }
    for (int y = 0; y < P1; y++) {
        const float *r0, *r1;
        float *o = dst + (size_t)y * (size_t)P2;
        const pf_vf wy = pf_vf_splat(t->w[1][y]);
        int x;
        if (!t->in[1][y])
            continue;
        r0 = xrows + (size_t)(t->f[1][y] - ylo) * (size_t)P2;
        r1 = r0 + P2;
        for (x = 0; x + PF_VL <= P2; x += PF_VL)
            pf_vf_store(o + x, lerp_lanes(pf_vf_load(r0 + x), pf_vf_load(r1 + x), wy));
        if (x < P2)
            pf_vf_store_part(o + x, lerp_lanes(pf_vf_load_part(r0 + x, (size_t)(P2 - x), 0.0f),
                                               pf_vf_load_part(r1 + x, (size_t)(P2 - x), 0.0f), wy),
                             (size_t)(P2 - x));
    }
}

/* What separable_plane needs to fill a plane_pair slot. */
typedef struct image_planes {
    const float *img;
    const pf_norm *nm;
    const axis_tables *t;
    const int64_t *S;
    float *xrows, *yp[2];
} image_planes;

/* Whether a cell's first corner f on an axis of n voxels puts the whole cell outside the
 * case there (outside_case's test for one axis): the edge formula gives such voxels 0. */
static inline int far_axis(int32_t f, int64_t n)
{
    return f < -1 || f >= n;
}

static void make_image_plane(void *arg, int slot, int32_t zs)
{
    image_planes *ip = arg;
    separable_plane(ip->img, ip->nm, ip->t, ip->S, zs, ip->xrows, ip->yp[slot]);
}

/* Returns -1 (nothing written) when it does not apply or memory is short: the caller then
 * uses the general sampler. */
static int sample_image_separable(const pf_case *c, const pf_case_map *cm, const pf_norm *norms,
                                  const grid *g, const case_geom *cg, const int patch[3], int z0,
                                  int z1, float *out)
{
    const int64_t *S = c->hdr.shape;
    const size_t nvox = (size_t)(S[0] * S[1] * S[2]);
    const size_t plane = (size_t)patch[1] * (size_t)patch[2], pv = (size_t)patch[0] * plane;
    const int P2 = patch[2];
    const int C = (int)c->hdr.n_channels;
    image_planes ip = {.S = S};
    axis_tables t;
    int rc = -1;
    if (!cg->usable || cg->collapsed[0] || cg->collapsed[1] || cg->collapsed[2])
        return -1; /* the general sampler handles these */
    for (int ch = 0; ch < C; ch++)
        if (norms[ch].masked)
            return -1; /* the mask rule needs every corner's seg: general sampler */
    if (!pf_grid_axis_aligned(g) || pf_axis_tables_make(&t, g, cg, patch) != 0)
        return -1;
    ip.t = &t;
    ip.xrows = malloc((size_t)(t.yhi >= t.ylo ? t.yhi - t.ylo + 1 : 1) * (size_t)P2 * sizeof *ip.xrows);
    ip.yp[0] = malloc(plane * sizeof *ip.yp[0]);
    ip.yp[1] = malloc(plane * sizeof *ip.yp[1]);
    if (!ip.xrows || !ip.yp[0] || !ip.yp[1])
        goto out;
    for (int ch = 0; ch < C; ch++) {
        const pf_norm *nm = &norms[ch];
        const float *img = cm->image + (size_t)ch * nvox;
        plane_pair pp = {{-1, -1}, make_image_plane, &ip};
        ip.img = img;
        ip.nm = nm;
        for (int z = z0; z < z1; z++) {
            float *oc = out + (size_t)ch * pv;
            const float *pa = NULL, *pb = NULL;
            if (t.in[0][z] && t.yhi >= t.ylo) {
                int sa, sb;
                pf_plane_pair_get(&pp, t.f[0][z], &sa, &sb);
                pa = ip.yp[sa];
                pb = ip.yp[sb];
            }
            for (int y = 0; y < patch[1]; y++) {
                float *o = oc + grid_out_row(g, patch, z, y);
                const int row_in = pa && t.in[1][y];
                if (row_in) {
                    const float *ra = pa + (size_t)y * (size_t)P2, *rb = pb + (size_t)y * (size_t)P2;
                    const pf_vf wz = pf_vf_splat(t.w[0][z]);
                    int x;
                    for (x = 0; x + PF_VL <= P2; x += PF_VL)
                        pf_vf_store(o + x, (lerp_lanes(pf_vf_load(ra + x), pf_vf_load(rb + x), wz) -
                                            nm->shift) / nm->scale);
                    if (x < P2) {
                        size_t m = (size_t)(P2 - x);
                        pf_vf r = lerp_lanes(pf_vf_load_part(ra + x, m, 0.0f),
                                             pf_vf_load_part(rb + x, m, 0.0f), wz);
                        pf_vf_store_part(o + x, (r - nm->shift) / nm->scale, m);
                    }
                }
                if (far_axis(t.f[0][z], S[0]) || far_axis(t.f[1][y], S[1])) {
                    memset(o, 0, (size_t)P2 * sizeof *o); /* the edge formula's 0 throughout */
                    continue;
                }
                for (int x = 0; x < P2; x++)
                    if (!row_in || !t.in[2][x]) {
                        const int32_t fk[3] = {t.f[0][z], t.f[1][y], t.f[2][x]};
                        const float wk[3] = {t.w[0][z], t.w[1][y], t.w[2][x]};
                        o[x] = pf_interp_edge(c, cm, img, nm, fk, wk);
                    }
                if (g->flip[2])
                    pf_reverse_floats(o, (size_t)P2);
            }
        }
    }
    rc = 0;
out:
    free(ip.xrows);
    free(ip.yp[0]);
    free(ip.yp[1]);
    pf_axis_tables_free(&t);
    return rc;
}

static void sample_image_general(const pf_case *c, const pf_case_map *m, const pf_norm *norms,
                                 const grid *g, const case_geom *cg, const int patch[3], int z0,
                                 int z1, float *out);

static int any_masked(const pf_case *c, const pf_norm *norms)
{
    for (uint32_t ch = 0; ch < c->hdr.n_channels; ch++)
        if (norms[ch].masked)
            return 1;
    return 0;
}

/* Planes [z0, z1) in chunks of PF_RELEASE_PLANES, each chunk's source box released after it
 * (the case layer's release policy); the separable sampler where it applies. */
static void sample_image_chunks(const pf_case *c, const pf_norm *norms, const pf_aug_params *p,
                                const int64_t start[3], const int patch[3], int z0, int z1,
                                int separable, float *out)
{
    const pf_case_map *m = pf_case_map_get(c);
    const int masked = any_masked(c, norms);
    case_geom cg;
    grid g;
    pf_grid_init(&g, p, start, patch);
    pf_case_geom_init(&cg, c, &g, patch);
    for (int za = z0; za < z1; za += PF_RELEASE_PLANES) {
        const int zb = z1 - za < PF_RELEASE_PLANES ? z1 : za + PF_RELEASE_PLANES;
        if (!separable || sample_image_separable(c, m, norms, &g, &cg, patch, za, zb, out) != 0)
            sample_image_general(c, m, norms, &g, &cg, patch, za, zb, out);
        pf_grid_release(c, m, &g, patch, za, zb, 1, masked);
    }
}

void pf_aug_sample_image(const pf_case *c, const pf_norm *norms, const int64_t start[3],
                         const int patch[3], const pf_aug_params *p, float *out)
{
    pf_aug_sample_planes(c, norms, start, patch, p, 0, patch[0], out);
}

void pf_aug_sample_planes(const pf_case *c, const pf_norm *norms, const int64_t start[3],
                          const int patch[3], const pf_aug_params *p, int z0, int z1, float *out)
{
    sample_image_chunks(c, norms, p, start, patch, z0, z1, 1, out);
}

void pf_aug_sample_image_general(const pf_case *c, const pf_norm *norms, const int64_t start[3],
                                 const int patch[3], const pf_aug_params *p, float *out)
{
    sample_image_chunks(c, norms, p, start, patch, 0, patch[0], 0, out);
}

/* The nnU-Net mask rule per lane: masked[j] marks corner j (in interp_interior's order)
 * whose seg is < 0; returns the lanes with any such corner. */
static inline pf_vi seg_corners_negative(const pf_case_map *m, const int32_t base[PF_VL],
                                         const case_geom *cg, pf_vi masked[8])
{
    const size_t b0 = (size_t)base[0], b1 = (size_t)base[1], b2 = (size_t)base[2],
                 b3 = (size_t)base[3];
    const size_t *off = cg->corner;
    pf_vi any = {0, 0, 0, 0};
    for (int j = 0; j < 8; j++) {
        masked[j] = (pf_vi){pf_seg_at(m, b0 + off[j]), pf_seg_at(m, b1 + off[j]),
                            pf_seg_at(m, b2 + off[j]), pf_seg_at(m, b3 + off[j])} < 0;
        any |= masked[j];
    }
    return any;
}

/* The mask rule's formula, for cells inside the case with a corner outside the mask: each
 * corner normalised on its own (clamped, shifted, scaled) unless its seg is < 0, where the raw
 * value stays, then interpolated like interp_interior. */
static inline pf_vf interp_mask_rule(const float *img, const int32_t base[PF_VL],
                                     const case_geom *cg, const pf_norm *nm, const pf_vf w[3],
                                     const pf_vi masked[8])
{
    const float *b0 = img + base[0], *b1 = img + base[1], *b2 = img + base[2], *b3 = img + base[3];
    const size_t *off = cg->corner;
    const pf_vf lo = pf_vf_splat(nm->lo), hi = pf_vf_splat(nm->hi);
    pf_vf v[8];
    for (int j = 0; j < 8; j++) {
        pf_vf r = {b0[off[j]], b1[off[j]], b2[off[j]], b3[off[j]]};
        v[j] = pf_vf_select(masked[j], r, (pf_vf_min(pf_vf_max(r, lo), hi) - nm->shift) / nm->scale);
    }
    return lerp_lanes(lerp_lanes(lerp_lanes(v[0], v[1], w[2]), lerp_lanes(v[2], v[3], w[2]), w[1]),
                      lerp_lanes(lerp_lanes(v[4], v[5], w[2]), lerp_lanes(v[6], v[7], w[2]), w[1]),
                      w[0]);
}

/* Output voxels x0 .. x0 + m - 1 (m <= PF_VL) of one row, every channel (both channels'
 * corners fetched side by side: more reads in flight); o: the first of them in channel 0,
 * channels pv apart. Inline with m constant for whole groups. */
static inline void image_group(const pf_case *c, const pf_case_map *cm, const pf_norm *norms,
                               const case_geom *cg, const row_walk *rw, int x0, int m, float *o,
                               size_t pv)
{
    const int64_t *S = c->hdr.shape;
    const size_t nvox = (size_t)(S[0] * S[1] * S[2]);
    const int C = (int)c->hdr.n_channels;
    int32_t base[PF_VL], all_in, any_in;
    pf_vf w[3];
    pf_vi f[3], in = group_points(rw, x0, cg, f, w, base);
    pf_vi masked[8], mixed = {0, 0, 0, 0}; /* the mask rule: corners with seg < 0, and lanes
                                            * inside the case with such a corner */
    int mask_read = 0;
    all_in = in[0] & in[1] & in[2] & in[3];
    any_in = in[0] | in[1] | in[2] | in[3];
    for (int ch = 0; ch < C; ch++, o += pv) {
        const pf_norm *nm = &norms[ch];
        const float *img = cm->image + (size_t)ch * nvox;
        /* lanes outside gather from voxel 0's cell, which lies in the case only when some
         * lane is inside (then every axis not collapsed has at least 2 voxels); a group
         * wholly outside goes to the edge formula lane by lane */
        if (any_in) {
            pf_vf v = interp_interior(img, base, cg->corner, nm, w);
            if (nm->masked) {
                if (!mask_read) {
                    mixed = seg_corners_negative(cm, base, cg, masked) & in;
                    mask_read = 1;
                }
                if (mixed[0] | mixed[1] | mixed[2] | mixed[3])
                    v = pf_vf_select(mixed, interp_mask_rule(img, base, cg, nm, w, masked), v);
            }
            if (m == PF_VL)
                pf_vf_store(o, v);
            else
                pf_vf_store_part(o, v, (size_t)m);
        }
        if (all_in)
            continue; /* every lane took the interior formula (or the mask rule's) */
        for (int k = 0; k < m; k++)
            if (!in[k]) {
                const int32_t fk[3] = {f[0][k], f[1][k], f[2][k]};
                const float wk[3] = {w[0][k], w[1][k], w[2][k]};
                o[k] = pf_interp_edge(c, cm, img, nm, fk, wk);
            }
    }
}

static void sample_image_general(const pf_case *c, const pf_case_map *m, const pf_norm *norms,
                                 const grid *gp, const case_geom *cgp, const int patch[3], int z0,
                                 int z1, float *out)
{
    const size_t pv = (size_t)patch[0] * (size_t)patch[1] * (size_t)patch[2];
    const case_geom cg = *cgp;
    const grid g = *gp;
    const pf_simd_level path = pf_simd_active();
    for (int z = z0; z < z1; z++)
        for (int y = 0; y < patch[1]; y++) {
            const size_t row = grid_out_row(&g, patch, z, y);
            row_walk rw;
            int x0;
            pf_row_walk_init(&rw, &g, z, y);
            if (path == PF_SIMD_AVX2) {
                pf_image_row_avx2(c, m, norms, &cg, &rw, patch[2], out + row, pv);
            } else if (path == PF_SIMD_SCALAR) {
                pf_image_row_scalar(c, m, norms, &cg, &rw, patch[2], out + row, pv);
            } else {
                for (x0 = 0; x0 + PF_VL <= patch[2]; x0 += PF_VL)
                    image_group(c, m, norms, &cg, &rw, x0, PF_VL, out + row + (size_t)x0, pv);
                if (x0 < patch[2])
                    image_group(c, m, norms, &cg, &rw, x0, patch[2] - x0, out + row + (size_t)x0, pv);
            }
            if (g.flip[2])
                for (uint32_t ch = 0; ch < c->hdr.n_channels; ch++)
                    pf_reverse_floats(out + (size_t)ch * pv + row, (size_t)patch[2]);
        }
}
