/* sample_seg.c - an augmented sample's segmentation on the same grid as its image: nnU-Net's
 * per-label linear interpolation with argmax (or nearest), -1 outside the case, and a
 * separable sampler for axis-aligned grids that gives the same labels. A rotated grid's rows
 * go to the kernel of the active vector path (kernels.h: base here, AVX2, scalar; the same
 * labels), written mirrored where the grid says so (grid.h grid_out_row). */
#include "kernels.h"

#include <stdlib.h>

#include "simd.h"

/* Segmentation: nnU-Net's per-label linear interpolation + argmax (each label's one-hot value
 * is the summed trilinear weight of the corners carrying it; outside the case counts as -1;
 * ties go to the label met first in corner order), or nearest. seg_rule is the rule on a
 * cell's eight corner labels (corner order 4 z + 2 y + x); pf_seg_linear reads them. */
static inline int16_t seg_rule(const int16_t lab[8], const float w[3])
{
    int16_t seen[8];
    float wsum[8];
    int n = 0, best = 0;
    for (int k = 0; k < 8; k++) {
        const int16_t l = lab[k];
        float wk = ((k >> 2) ? w[0] : 1.0f - w[0]) * (((k >> 1) & 1) ? w[1] : 1.0f - w[1]) *
                   ((k & 1) ? w[2] : 1.0f - w[2]);
        int j;
        for (j = 0; j < n && seen[j] != l; j++)
            ;
        if (j == n) {
            seen[n] = l;
            wsum[n++] = 0.0f;
        }
        wsum[j] += wk;
    }
    for (int j = 1; j < n; j++)
        if (wsum[j] > wsum[best])
            best = j;
    return seen[best];
}

int16_t pf_seg_linear(const pf_case *c, const pf_case_map *m, const int32_t f[3], const float w[3])
{
    const int64_t *S = c->hdr.shape;
    int16_t lab[8];
    if (outside_case(f, S))
        return -1; /* every corner outside */
    for (int k = 0; k < 8; k++) {
        int64_t iz = f[0] + (k >> 2), iy = f[1] + ((k >> 1) & 1), ix = f[2] + (k & 1);
        lab[k] = iz < 0 || iy < 0 || ix < 0 || iz >= S[0] || iy >= S[1] || ix >= S[2]
                     ? -1 : pf_seg_at(m, (size_t)((iz * S[1] + iy) * S[2] + ix));
    }
    return seg_rule(lab, w);
}

/* The nearer corner on each axis (ties up, as floor(q + 0.5)); -1 outside the case. */
int16_t pf_seg_nearest_at(const pf_case *c, const pf_case_map *m, const int32_t f[3],
                          const float w[3])
{
    const int64_t *S = c->hdr.shape;
    int64_t iz = f[0] + (w[0] >= 0.5f), iy = f[1] + (w[1] >= 0.5f), ix = f[2] + (w[2] >= 0.5f);
    return iz < 0 || iy < 0 || ix < 0 || iz >= S[0] || iy >= S[1] || ix >= S[2]
               ? -1 : pf_seg_at(m, (size_t)((iz * S[1] + iy) * S[2] + ix));
}

void pf_aug_sample_seg(const pf_case *c, const int64_t start[3], const int patch[3],
                       const pf_aug_params *p, int seg_nearest, int16_t *out)
{
    pf_aug_sample_seg_planes(c, start, patch, p, seg_nearest, 0, patch[0], out);
}

/* The seg of an axis-aligned grid, planes [z0, z1). A voxel whose eight corners carry one
 * label takes it; the test factorises like the interpolation: along X a row's corner pair is
 * "one label" or MIXED, then pairs of those along Y, then along Z. Other voxels (label borders,
 * the case's border) go through seg_linear with the general sampler's positions, so the bytes
 * are the general sampler's. Nearest picks the nearer corner per axis. */
#define MIXED PF_SEG_MIXED

/* One source plane zs: per output (y, x), the single label of the 2 x 2 corners in Y and X,
 * or MIXED; rows [ylo, yhi] of X pairs go through xeq first. */
static void seg_plane_labels(const pf_case_map *m, const axis_tables *t, const int64_t S[3],
                             int32_t zs, int avx2, int32_t xmax, int32_t *xeq, int32_t *dst)
{
    const int P1 = t->len[1], P2 = t->len[2];
    const int32_t ylo = t->ylo, yhi = t->yhi;
    const size_t nvox = (size_t)(S[0] * S[1] * S[2]);
    for (int32_t ys = ylo; ys <= yhi; ys++) {
        const size_t row = ((size_t)zs * (size_t)S[1] + (size_t)ys) * (size_t)S[2];
        int32_t *xr = xeq + (size_t)(ys - ylo) * (size_t)P2;
        if (avx2) {
            pf_seg_pairs_avx2(m, xmax >= 0 && (m->seg16 || row + (size_t)xmax + 4 <= nvox), row, t->f[2],
                              t->in[2], P2, xr);
        } else if (m->seg8) {
            const int8_t *r = m->seg8 + row;
            for (int x = 0; x < P2; x++) {
                const int8_t *v = r + t->f[2][x];
                xr[x] = t->in[2][x] && v[0] == v[1] ? v[0] : MIXED;
            }
        } else {
            const int16_t *r = m->seg16 + row;
            for (int x = 0; x < P2; x++) {
                const int16_t *v = r + t->f[2][x];
                xr[x] = t->in[2][x] && v[0] == v[1] ? v[0] : MIXED;
            }
        }
    }
    for (int y = 0; y < P1; y++) {
        const int32_t *r0, *r1;
        int32_t *o = dst + (size_t)y * (size_t)P2;
        int x;
        if (!t->in[1][y])
            continue;
        r0 = xeq + (size_t)(t->f[1][y] - ylo) * (size_t)P2;
        r1 = r0 + P2;
        for (x = 0; x + PF_VL <= P2; x += PF_VL) {
            pf_vi a, b;
            memcpy(&a, r0 + x, sizeof a);
            memcpy(&b, r1 + x, sizeof b);
            a = (a & (a == b)) | ((pf_vi){MIXED, MIXED, MIXED, MIXED} & ~(a == b));
            memcpy(o + x, &a, sizeof a);
        }
        for (; x < P2; x++)
            o[x] = r0[x] == r1[x] ? r0[x] : MIXED;
    }
}

typedef struct label_planes {
    const pf_case_map *m;
    const axis_tables *t;
    const int64_t *S;
    int avx2;
    int32_t xmax; /* the largest first X corner of a cell inside the case (-1: none) */
    int32_t *xeq, *yp[2];
} label_planes;

static void make_label_plane(void *arg, int slot, int32_t zs)
{
    label_planes *lp = arg;
    seg_plane_labels(lp->m, lp->t, lp->S, zs, lp->avx2, lp->xmax, lp->xeq, lp->yp[slot]);
}

/* Whether output row (z, y) of an axis-aligned grid lies wholly outside the case: its cells
 * start below -1 or at or beyond the case's end in Z or Y. */
static inline int outside_rows(const axis_tables *t, const int64_t S[3], int z, int y)
{
    return t->f[0][z] < -1 || t->f[0][z] >= S[0] || t->f[1][y] < -1 || t->f[1][y] >= S[1];
}

/* Voxel (z, y, x) of an axis-aligned grid: one label (ra, rb: its output row in the two
 * planes' label tables, NULL when the row's cells are not inside the case), else the rule on
 * its eight corners, read directly where its cell lies inside the case (first corner in
 * source row `row`, at f[2][x]), else through pf_seg_linear's bounds checks. */
static int16_t separable_voxel(const pf_case *c, const pf_case_map *m, const axis_tables *t,
                                      int z, int y, int x, size_t row, const int32_t *ra,
                                      const int32_t *rb)
{
    const float wk[3] = {t->w[0][z], t->w[1][y], t->w[2][x]};
    if (ra && ra[x] != MIXED && ra[x] == rb[x])
        return (int16_t)ra[x];
    if (ra && t->in[2][x]) { /* a label border inside the case */
        const size_t sx = (size_t)c->hdr.shape[2], sz = (size_t)c->hdr.shape[1] * sx;
        const size_t b = row + (size_t)t->f[2][x];
        int16_t lab[8];
        for (int k = 0; k < 8; k++)
            lab[k] = pf_seg_at(m, b + ((k >> 2) ? sz : 0) + (((k >> 1) & 1) ? sx : 0) + (k & 1));
        return seg_rule(lab, wk);
    }
    {
        const int32_t fk[3] = {t->f[0][z], t->f[1][y], t->f[2][x]};
        return pf_seg_linear(c, m, fk, wk);
    }
}

static int sample_seg_separable(const pf_case *c, const pf_case_map *m, const grid *g,
                                const case_geom *cg, const int patch[3], int seg_nearest, int z0,
                                int z1, int16_t *out)
{
    const size_t plane = (size_t)patch[1] * (size_t)patch[2];
    const size_t sx = (size_t)c->hdr.shape[2], sy = (size_t)c->hdr.shape[1];
    const int P2 = patch[2];
    label_planes lp = {.m = m, .S = c->hdr.shape};
    plane_pair pp = {{-1, -1}, make_label_plane, &lp};
    axis_tables t;
    int rc = -1;
    if (!cg->usable || cg->collapsed[0] || cg->collapsed[1] || cg->collapsed[2])
        return -1; /* the general sampler handles these */
    if (!pf_grid_axis_aligned(g) || pf_axis_tables_make(&t, g, cg, patch) != 0)
        return -1;
    if (seg_nearest) {
        for (int z = z0; z < z1; z++)
            for (int y = 0; y < patch[1]; y++) {
                int16_t *o = out + grid_out_row(g, patch, z, y);
                for (int x = 0; x < P2; x++) {
                    const int32_t fk[3] = {t.f[0][z], t.f[1][y], t.f[2][x]};
                    const float wk[3] = {t.w[0][z], t.w[1][y], t.w[2][x]};
                    o[x] = pf_seg_nearest_at(c, m, fk, wk);
                }
                if (g->flip[2])
                    pf_reverse_labels(o, (size_t)P2);
            }
        pf_axis_tables_free(&t);
        return 0;
    }
    lp.t = &t;
    lp.avx2 = pf_simd_active() == PF_SIMD_AVX2;
    lp.xmax = -1;
    for (int x = 0; x < P2; x++)
        if (t.in[2][x] && t.f[2][x] > lp.xmax)
            lp.xmax = t.f[2][x];
    lp.xeq = malloc((size_t)(t.yhi >= t.ylo ? t.yhi - t.ylo + 1 : 1) * (size_t)P2 * sizeof *lp.xeq);
    lp.yp[0] = malloc(plane * sizeof *lp.yp[0]);
    lp.yp[1] = malloc(plane * sizeof *lp.yp[1]);
    if (!lp.xeq || !lp.yp[0] || !lp.yp[1])
        goto out;
    for (int z = z0; z < z1; z++) {
        const int32_t *pa = NULL, *pb = NULL;
        if (t.in[0][z] && t.yhi >= t.ylo) {
            int sa, sb;
            pf_plane_pair_get(&pp, t.f[0][z], &sa, &sb);
            pa = lp.yp[sa];
            pb = lp.yp[sb];
        }
        for (int y = 0; y < patch[1]; y++) {
            int16_t *o = out + grid_out_row(g, patch, z, y);
            const int32_t *ra = pa && t.in[1][y] ? pa + (size_t)y * (size_t)P2 : NULL;
            const int32_t *rb = ra ? pb + (size_t)y * (size_t)P2 : NULL;
            const size_t row = ra ? ((size_t)t.f[0][z] * sy + (size_t)t.f[1][y]) * sx : 0;
            int x = 0;
            if (outside_rows(&t, c->hdr.shape, z, y)) {
                for (; x < P2; x++)
                    o[x] = -1; /* every cell wholly outside the case (pf_seg_linear's test) */
                continue;
            }
            if (ra && lp.avx2) {
                const int32_t fzy[2] = {t.f[0][z], t.f[1][y]};
                const float wzy[2] = {t.w[0][z], t.w[1][y]};
                pf_seg_separable_row_avx2(c, m, cg, fzy, wzy, t.f[2], t.w[2], t.in[2], ra, rb, P2, o);
                x = P2;
            }
            if (ra) /* groups of four: where every cell has one label (most), that label */
                for (; x + PF_VL <= P2; x += PF_VL) {
                    pf_vi va, vb, one;
                    memcpy(&va, ra + x, sizeof va);
                    memcpy(&vb, rb + x, sizeof vb);
                    one = (va == vb) & (va != (pf_vi){MIXED, MIXED, MIXED, MIXED});
                    if (one[0] & one[1] & one[2] & one[3])
                        for (int k = 0; k < PF_VL; k++)
                            o[x + k] = (int16_t)va[k];
                    else
                        for (int k = 0; k < PF_VL; k++)
                            o[x + k] = separable_voxel(c, m, &t, z, y, x + k, row, ra, rb);
                }
            for (; x < P2; x++)
                o[x] = separable_voxel(c, m, &t, z, y, x, row, ra, rb);
            if (g->flip[2])
                pf_reverse_labels(o, (size_t)P2);
        }
    }
    rc = 0;
out:
    free(lp.xeq);
    free(lp.yp[0]);
    free(lp.yp[1]);
    pf_axis_tables_free(&t);
    return rc;
}

static void sample_seg_general(const pf_case *c, const pf_case_map *m, const grid *gp,
                               const case_geom *cgp, const int patch[3], int seg_nearest, int z0,
                               int z1, int16_t *out);

/* Planes [z0, z1) in chunks of PF_RELEASE_PLANES, each chunk's source box released after it
 * (the case layer's release policy); the separable sampler where it applies. */
static void sample_seg_chunks(const pf_case *c, const int64_t start[3], const int patch[3],
                              const pf_aug_params *p, int seg_nearest, int z0, int z1,
                              int separable, int16_t *out)
{
    const pf_case_map *m = pf_case_map_get(c);
    case_geom cg;
    grid g;
    pf_grid_init(&g, p, start, patch);
    pf_case_geom_init(&cg, c, &g, patch);
    for (int za = z0; za < z1; za += PF_RELEASE_PLANES) {
        const int zb = z1 - za < PF_RELEASE_PLANES ? z1 : za + PF_RELEASE_PLANES;
        if (!separable ||
            sample_seg_separable(c, m, &g, &cg, patch, seg_nearest, za, zb, out) != 0)
            sample_seg_general(c, m, &g, &cg, patch, seg_nearest, za, zb, out);
        pf_grid_release(c, m, &g, patch, za, zb, 0, 1);
    }
}

void pf_aug_sample_seg_planes(const pf_case *c, const int64_t start[3], const int patch[3],
                              const pf_aug_params *p, int seg_nearest, int z0, int z1,
                              int16_t *out)
{
    sample_seg_chunks(c, start, patch, p, seg_nearest, z0, z1, 1, out);
}

void pf_aug_sample_seg_general(const pf_case *c, const int64_t start[3], const int patch[3],
                               const pf_aug_params *p, int seg_nearest, int16_t *out)
{
    sample_seg_chunks(c, start, patch, p, seg_nearest, 0, patch[0], 0, out);
}

/* One output row on the base path (four lanes of positions, vecmath.h). */
static void seg_row_base(const pf_case *c, const pf_case_map *cm, const case_geom *cg,
                         const row_walk *rw, int P2, int seg_nearest, int16_t *out)
{
    for (int x0 = 0; x0 < P2; x0 += PF_VL) {
        const int m = P2 - x0 < PF_VL ? P2 - x0 : PF_VL;
        int32_t base[PF_VL];
        pf_vf w[3];
        pf_vi f[3], in = group_points(rw, x0, cg, f, w, base);
        for (int k = 0; k < m; k++) {
            int16_t *o = out + (size_t)x0 + (size_t)k;
            if (in[k] && !seg_nearest) {
                /* inside a region of one label (most voxels): that label */
                int16_t l;
                if (pf_seg_cell_one_label(cm, (size_t)base[k], cg->corner, &l)) {
                    *o = l;
                    continue;
                }
            }
            {
                const int32_t fk[3] = {f[0][k], f[1][k], f[2][k]};
                const float wk[3] = {w[0][k], w[1][k], w[2][k]};
                *o = seg_nearest ? pf_seg_nearest_at(c, cm, fk, wk) : pf_seg_linear(c, cm, fk, wk);
            }
        }
    }
}

static void sample_seg_general(const pf_case *c, const pf_case_map *cm, const grid *gp,
                               const case_geom *cgp, const int patch[3], int seg_nearest, int z0,
                               int z1, int16_t *out)
{
    const grid g = *gp;
    const case_geom cg = *cgp;
    const pf_simd_level path = pf_simd_active();
    void (*row_kernel)(const pf_case *, const pf_case_map *, const case_geom *, const row_walk *,
                       int, int, int16_t *) = path == PF_SIMD_AVX2     ? pf_seg_row_avx2
                                              : path == PF_SIMD_SCALAR ? pf_seg_row_scalar
                                                                       : seg_row_base;
    for (int z = z0; z < z1; z++)
        for (int y = 0; y < patch[1]; y++) {
            const size_t row = grid_out_row(&g, patch, z, y);
            row_walk rw;
            pf_row_walk_init(&rw, &g, z, y);
            row_kernel(c, cm, &cg, &rw, patch[2], seg_nearest, out + row);
            if (g.flip[2])
                pf_reverse_labels(out + row, (size_t)patch[2]);
        }
}
