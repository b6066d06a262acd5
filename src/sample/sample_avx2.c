/* sample_avx2.c - the AVX2 kernels of the general grid samplers (see kernels.h): eight output
 * voxels per step instead of four, the image's corners fetched with hardware gathers, the
 * seg's "all eight corners carry one label" test and nnU-Net's per-label rule done for eight
 * voxels at once (also for the separable seg sampler's rows). Each voxel takes exactly the
 * base path's operations (sample_image.c, sample_seg.c), lane by lane, or for the seg the same
 * labels (the rule's sums bit for bit); the voxels that need the edge formulas go through the
 * same shared functions. */
#include "kernels.h"

#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#include "vecmath8.h"

/* Positions of voxels x0 .. x0 + 7 of a row (row_points, group_points in grid.h): floor and
 * fraction per axis, the lanes whose cells lie inside the case (returned), and each lane's
 * first corner (0 outside). */
static inline PF_AVX2 pf_vi8 points8(const row_walk *rw, int x0, const case_geom *cg,
                                     pf_vi8 f[3], pf_vf8 w[3], pf_vi8 *base)
{
    const pf_vf8 x = (pf_vf8){0, 1, 2, 3, 4, 5, 6, 7} + (float)x0;
    pf_vi8 in = (pf_vi8)_mm256_set1_epi32(-cg->usable);
    for (int d = 0; d < 3; d++) {
        const pf_vf8 q = rw->q0[d] + rw->dq[d] * x, fl = pf_vf8_floor(q);
        f[d] = __builtin_convertvector(fl, pf_vi8);
        w[d] = q - fl;
        in &= (pf_vi8)((pf_vu8)f[d] < (uint32_t)(cg->S[d] - 1 + cg->collapsed[d]));
    }
    *base = (pf_vi8)((((pf_vu8)f[0] * (uint32_t)cg->S[1] + (pf_vu8)f[1]) * (uint32_t)cg->S[2] +
                      (pf_vu8)f[2]) & (pf_vu8)in);
    return in;
}

/* Lanes whose cell lies wholly outside the case on some axis (outside_case, grid.h: f < -1 or
 * f >= S), one unsigned compare per axis: f + 1 > S. The limit is capped at 2^31 for an axis
 * that long, where every int32 f >= -1 is inside, so the test stays exact for any shape. */
static inline PF_AVX2 pf_vi8 far_lanes8(const pf_vi8 f[3], const int64_t S[3])
{
    pf_vi8 far = {0};
    for (int d = 0; d < 3; d++) {
        const uint32_t lim = S[d] > INT32_MAX ? 0x80000000u : (uint32_t)S[d];
        far |= (pf_vi8)((pf_vu8)f[d] + 1u > lim);
    }
    return far;
}

/* The interior formula (interp_interior) on eight lanes: corners gathered, clipped for CT,
 * lerped along X, Y, Z, normalised. */
static inline PF_AVX2 pf_vf8 interior8(const float *img, pf_vi8 base, const case_geom *cg,
                                       const pf_norm *nm, const pf_vf8 w[3])
{
    const size_t *corner = cg->corner;
    pf_vf8 v[8];
    if (!cg->collapsed[2]) {
        /* corners j and j + 1 are neighbours along X: one 64-bit gather element fetches both;
         * lanes {0, 1, 4, 5} in one gather and {2, 3, 6, 7} in the other, so that unpacking
         * the pairs' halves (shuffle within 128-bit halves) leaves the lanes in order */
        const __m128i lo = _mm256_castsi256_si128((__m256i)base),
                      hi = _mm256_extracti128_si256((__m256i)base, 1);
        const __m128i ia = _mm_unpacklo_epi64(lo, hi), ib = _mm_unpackhi_epi64(lo, hi);
        for (int j = 0; j < 8; j += 2) {
            const __m256 a = _mm256_castpd_ps(_mm256_i32gather_pd((const double *)(const void *)(img + corner[j]), ia, 4));
            const __m256 b = _mm256_castpd_ps(_mm256_i32gather_pd((const double *)(const void *)(img + corner[j]), ib, 4));
            v[j] = (pf_vf8)_mm256_shuffle_ps(a, b, 0x88);
            v[j + 1] = (pf_vf8)_mm256_shuffle_ps(a, b, 0xdd);
        }
    } else {
        for (int j = 0; j < 8; j++)
            v[j] = (pf_vf8)_mm256_i32gather_ps(img + corner[j], (__m256i)base, 4);
    }
    if (!isinf(nm->lo) || !isinf(nm->hi)) {
        const pf_vf8 lo = pf_vf8_splat(nm->lo), hi = pf_vf8_splat(nm->hi);
        for (int j = 0; j < 8; j++)
            v[j] = pf_vf8_min(pf_vf8_max(v[j], lo), hi);
    }
    {
        const pf_vf8 c00 = pf_vf8_lerp(v[0], v[1], w[2]), c01 = pf_vf8_lerp(v[2], v[3], w[2]);
        const pf_vf8 c10 = pf_vf8_lerp(v[4], v[5], w[2]), c11 = pf_vf8_lerp(v[6], v[7], w[2]);
        const pf_vf8 r = pf_vf8_lerp(pf_vf8_lerp(c00, c01, w[1]), pf_vf8_lerp(c10, c11, w[1]), w[0]);
        return (r - nm->shift) / nm->scale;
    }
}

/* Labels of corner `off` of eight cells (first corners b), int8 or int16 storage. */
static inline PF_AVX2 pf_vi8 labels8(const pf_case_map *m, const int32_t b[8], size_t off)
{
    if (m->seg8)
        return (pf_vi8)_mm256_setr_epi32(m->seg8[b[0] + off], m->seg8[b[1] + off], m->seg8[b[2] + off],
                                         m->seg8[b[3] + off], m->seg8[b[4] + off], m->seg8[b[5] + off],
                                         m->seg8[b[6] + off], m->seg8[b[7] + off]);
    return (pf_vi8)_mm256_setr_epi32(m->seg16[b[0] + off], m->seg16[b[1] + off], m->seg16[b[2] + off],
                                     m->seg16[b[3] + off], m->seg16[b[4] + off], m->seg16[b[5] + off],
                                     m->seg16[b[6] + off], m->seg16[b[7] + off]);
}

/* The labels of the eight corners of eight cells (first corners base; lanes outside the case
 * have base 0 and read voxel 0's cell, inside the case when some lane is, as the callers
 * ensure). The two corners of a cell along X are neighbours in memory: one 32-bit gather per
 * corner pair fetches both (int16: exactly the pair; int8: the pair and the two bytes after
 * it, so there the group's reads must end inside the seg, else the labels are read one by
 * one). */
static inline PF_AVX2 void corner_labels8(const pf_case_map *m, const case_geom *cg, pf_vi8 base,
                                          size_t nvox, pf_vi8 lab[8])
{
    const size_t *cn = cg->corner;
    const int pairs = !cg->collapsed[2]; /* corner j + 1 is corner j's next voxel */
    if (pairs && m->seg16) {
        for (int j = 0; j < 8; j += 2) {
            const pf_vi8 v = (pf_vi8)_mm256_i32gather_epi32((const int *)(const void *)(m->seg16 + cn[j]),
                                                            (__m256i)base, 2);
            lab[j] = (v << 16) >> 16;
            lab[j + 1] = v >> 16;
        }
        return;
    }
    if (pairs && m->seg8 && nvox >= 4 + cn[6] &&
        !pf_vi8_any((pf_vi8)((pf_vu8)base > (uint32_t)(nvox - 4 - cn[6])))) {
        for (int j = 0; j < 8; j += 2) {
            const pf_vi8 v = (pf_vi8)_mm256_i32gather_epi32((const int *)(const void *)(m->seg8 + cn[j]),
                                                            (__m256i)base, 1);
            lab[j] = (v << 24) >> 24;
            lab[j + 1] = (v << 16) >> 24;
        }
        return;
    }
    {
        int32_t b[PF_VL8];
        memcpy(b, &base, sizeof b);
        for (int j = 0; j < 8; j++)
            lab[j] = labels8(m, b, cn[j]);
    }
}

/* The mask rule (interp_mask_rule) on eight lanes: each corner normalised on its own unless
 * its seg is < 0 (masked[j]), where its raw value stays, then interpolated. */
static inline PF_AVX2 pf_vf8 mask_rule8(const float *img, pf_vi8 base, const case_geom *cg,
                                        const pf_norm *nm, const pf_vf8 w[3], const pf_vi8 masked[8])
{
    const size_t *off = cg->corner;
    const pf_vf8 lo = pf_vf8_splat(nm->lo), hi = pf_vf8_splat(nm->hi);
    pf_vf8 v[8];
    for (int j = 0; j < 8; j++) {
        const pf_vf8 r = (pf_vf8)_mm256_i32gather_ps(img + off[j], (__m256i)base, 4);
        v[j] = pf_vf8_select(masked[j], r, (pf_vf8_min(pf_vf8_max(r, lo), hi) - nm->shift) / nm->scale);
    }
    return pf_vf8_lerp(
        pf_vf8_lerp(pf_vf8_lerp(v[0], v[1], w[2]), pf_vf8_lerp(v[2], v[3], w[2]), w[1]),
        pf_vf8_lerp(pf_vf8_lerp(v[4], v[5], w[2]), pf_vf8_lerp(v[6], v[7], w[2]), w[1]), w[0]);
}

PF_AVX2 void pf_image_row_avx2(const pf_case *c, const pf_case_map *cm, const pf_norm *norms,
                               const case_geom *cg, const row_walk *rw, int P2, float *row,
                               size_t pv)
{
    const int64_t *S = c->hdr.shape;
    const size_t nvox = (size_t)(S[0] * S[1] * S[2]);
    const int C = (int)c->hdr.n_channels;
    for (int x0 = 0; x0 < P2; x0 += PF_VL8) {
        const int m = P2 - x0 < PF_VL8 ? P2 - x0 : PF_VL8;
        pf_vf8 w[3];
        pf_vi8 f[3], base, in = points8(rw, x0, cg, f, w, &base);
        const int any_in = pf_vi8_any(in), all_in = pf_vi8_all(in);
        float *o = row + x0;
        /* a group whose cells all lie wholly outside the case (common at 192^3): the edge
         * formula's 0 everywhere, without gathers or a call per lane */
        if (!any_in && pf_vi8_all(far_lanes8(f, S))) {
            for (int ch = 0; ch < C; ch++)
                memset(o + (size_t)ch * pv, 0, (size_t)m * sizeof *o);
            continue;
        }
        pf_vi8 masked[8], mixed = {0}; /* the mask rule: corners with seg < 0, and lanes
                                        * inside the case with such a corner */
        int mask_read = 0;
        for (int ch = 0; ch < C; ch++, o += pv) {
            const pf_norm *nm = &norms[ch];
            const float *img = cm->image + (size_t)ch * nvox;
            /* lanes outside gather voxel 0's cell, inside the case when some lane is */
            if (any_in) {
                pf_vf8 v = interior8(img, base, cg, nm, w);
                if (nm->masked) {
                    if (!mask_read) {
                        corner_labels8(cm, cg, base, nvox, masked);
                        for (int j = 0; j < 8; j++) {
                            masked[j] = masked[j] < 0;
                            mixed |= masked[j];
                        }
                        mixed &= in;
                        mask_read = 1;
                    }
                    if (pf_vi8_any(mixed))
                        v = pf_vf8_select(mixed, mask_rule8(img, base, cg, nm, w, masked), v);
                }
                if (m == PF_VL8)
                    memcpy(o, &v, sizeof v);
                else
                    for (int k = 0; k < m; k++)
                        o[k] = v[k];
            }
            if (all_in)
                continue;
            for (int k = 0; k < m; k++)
                if (!in[k]) {
                    const int32_t fk[3] = {f[0][k], f[1][k], f[2][k]};
                    const float wk[3] = {w[0][k], w[1][k], w[2][k]};
                    o[k] = pf_interp_edge(c, cm, img, nm, fk, wk);
                }
        }
    }
}

/* nnU-Net's per-label linear rule (pf_seg_linear) for eight cells at once: corner k's weight
 * is the same product in the same order, and the one-hot value of the label of corner j
 * accumulates the weights of the corners carrying it in corner order; the argmax keeps the
 * first label met in corner order on ties. Two shortcuts leave every result bit alike:
 * - The sum starts at corner j: where j is its label's first corner, the corners before it
 *   add +0, which changes no bit of a sum of non-negative floats. Where an earlier corner i
 *   has the label, the sum from j on is at most i's (rounding is monotonic, the terms are
 *   non-negative): never greater than the best so far, so it cannot win, as in the full rule
 *   (where it equals i's).
 * - A corner whose label an earlier corner carries in every lane is skipped (it cannot win). */
static inline PF_AVX2 pf_vi8 linear8(const pf_vi8 lab[8], const pf_vf8 w[3])
{
    const pf_vf8 one = pf_vf8_splat(1.0f), zero = pf_vf8_splat(0.0f);
    const pf_vf8 wz[2] = {one - w[0], w[0]}, wy[2] = {one - w[1], w[1]}, wx[2] = {one - w[2], w[2]};
    pf_vf8 wk[8], best_sum;
    pf_vi8 best = lab[0];
    for (int k = 0; k < 8; k++)
        wk[k] = wz[k >> 2] * wy[(k >> 1) & 1] * wx[k & 1];
    for (int j = 0; j < 8; j++) {
        pf_vf8 sum = wk[j];
        pf_vi8 gt, dup = lab[j] == lab[0];
        if (j > 0) {
            for (int i = 1; i < j; i++)
                dup |= lab[j] == lab[i];
            if (pf_vi8_all(dup))
                continue;
        }
        for (int k = j + 1; k < 8; k++)
            sum = sum + pf_vf8_select(lab[k] == lab[j], wk[k], zero);
        if (j == 0) {
            best_sum = sum;
            continue;
        }
        gt = sum > best_sum;
        best_sum = pf_vf8_select(gt, sum, best_sum);
        best = (best & ~gt) | (lab[j] & gt);
    }
    return best;
}

/* The seg kernel's corner reads where a cell's two X corners are neighbours in memory (as in
 * corner_labels8): g[i] holds corners 2 i and 2 i + 1 in its low 16 (int8) or 32 (int16) bits.
 * Returns 0 where the pairs cannot be gathered (collapsed X; int8 reads that could pass the
 * seg's end, unless the caller knows they cannot: tail_safe): the caller reads the corners one
 * by one then. Same preconditions as corner_labels8. */
static inline PF_AVX2 int corner_pairs8(const pf_case_map *m, const case_geom *cg, pf_vi8 base,
                                        size_t nvox, int tail_safe, pf_vi8 g[4])
{
    const size_t *cn = cg->corner;
    if (cg->collapsed[2])
        return 0;
    /* written out: four independent gathers, kept in registers */
    if (m->seg16) {
        const int16_t *s = m->seg16;
        g[0] = (pf_vi8)_mm256_i32gather_epi32((const int *)(const void *)(s + cn[0]), (__m256i)base, 2);
        g[1] = (pf_vi8)_mm256_i32gather_epi32((const int *)(const void *)(s + cn[2]), (__m256i)base, 2);
        g[2] = (pf_vi8)_mm256_i32gather_epi32((const int *)(const void *)(s + cn[4]), (__m256i)base, 2);
        g[3] = (pf_vi8)_mm256_i32gather_epi32((const int *)(const void *)(s + cn[6]), (__m256i)base, 2);
        return 1;
    }
    if (!tail_safe &&
        (nvox < 4 + cn[6] || pf_vi8_any((pf_vi8)((pf_vu8)base > (uint32_t)(nvox - 4 - cn[6])))))
        return 0;
    {
        const int8_t *s = m->seg8;
        g[0] = (pf_vi8)_mm256_i32gather_epi32((const int *)(const void *)(s + cn[0]), (__m256i)base, 1);
        g[1] = (pf_vi8)_mm256_i32gather_epi32((const int *)(const void *)(s + cn[2]), (__m256i)base, 1);
        g[2] = (pf_vi8)_mm256_i32gather_epi32((const int *)(const void *)(s + cn[4]), (__m256i)base, 1);
        g[3] = (pf_vi8)_mm256_i32gather_epi32((const int *)(const void *)(s + cn[6]), (__m256i)base, 1);
    }
    return 1;
}

/* From the gathered pairs: corner 0's label (*l0) and the lanes whose eight corners all carry
 * it (each pair equal to corner 0's label written twice). */
static inline PF_AVX2 pf_vi8 pairs_uniform8(const pf_case_map *m, const pf_vi8 g[4], pf_vi8 *l0)
{
    if (m->seg16) {
        const pf_vi8 lo = g[0] & 0xffff, ref = lo | (pf_vi8)((pf_vu8)lo << 16);
        *l0 = (g[0] << 16) >> 16;
        return ((g[0] ^ ref) | (g[1] ^ ref) | (g[2] ^ ref) | (g[3] ^ ref)) == 0;
    }
    {
        const pf_vi8 lo = g[0] & 0xff, ref = lo | (lo << 8);
        *l0 = (g[0] << 24) >> 24;
        return (((g[0] ^ ref) | (g[1] ^ ref) | (g[2] ^ ref) | (g[3] ^ ref)) & 0xffff) == 0;
    }
}

/* The eight corner labels from the gathered pairs. */
static inline PF_AVX2 void pairs_unpack8(const pf_case_map *m, const pf_vi8 g[4], pf_vi8 lab[8])
{
    for (int i = 0; i < 4; i++) {
        lab[2 * i] = m->seg16 ? (g[i] << 16) >> 16 : (g[i] << 24) >> 24;
        lab[2 * i + 1] = m->seg16 ? g[i] >> 16 : (g[i] << 16) >> 24;
    }
}

/* Lanes `edge` (cells reaching beyond the case, not wholly outside it): their corner labels as
 * pf_seg_linear reads them, corner (f + offset) on each axis, -1 outside the case. */
static PF_AVX2 void edge_labels8(const pf_case_map *m, const int64_t S[3], const pf_vi8 f[3],
                                 pf_vi8 edge, pf_vi8 lab[8])
{
    int32_t L[8][PF_VL8];
    memcpy(L, lab, sizeof L);
    for (int k = 0; k < PF_VL8; k++) {
        if (!edge[k])
            continue;
        for (int j = 0; j < 8; j++) {
            const int64_t iz = (int64_t)f[0][k] + (j >> 2), iy = (int64_t)f[1][k] + ((j >> 1) & 1),
                          ix = (int64_t)f[2][k] + (j & 1);
            L[j][k] = iz < 0 || iy < 0 || ix < 0 || iz >= S[0] || iy >= S[1] || ix >= S[2]
                          ? -1 : pf_seg_at(m, (size_t)((iz * S[1] + iy) * S[2] + ix));
        }
    }
    memcpy(lab, L, sizeof L);
}

/* Eight labels to o (m of them; pack: labels fit int16, the saturating pack is exact; it
 * packs 128-bit halves). */
static inline PF_AVX2 void store_labels8(int16_t *o, pf_vi8 l, int m)
{
    if (m == PF_VL8) {
        const __m256i p = _mm256_packs_epi32((__m256i)l, (__m256i)l);
        _mm_storeu_si128((__m128i *)o, _mm256_castsi256_si128(_mm256_permute4x64_epi64(p, 0x08)));
    } else {
        for (int k = 0; k < m; k++)
            o[k] = (int16_t)l[k];
    }
}

/* The linear rule per group of eight: a lane whose cell lies wholly outside the case is -1
 * (pf_seg_linear's first test); a lane whose eight corners carry one label takes it (the rule's
 * only label); every other lane (label borders, cells reaching beyond the case with -1 for
 * their outside corners) takes linear8 on the corners pf_seg_linear reads, which is its
 * result. Nearest: pf_seg_nearest_at per lane. */
PF_AVX2 void pf_seg_row_avx2(const pf_case *c, const pf_case_map *cm, const case_geom *cg,
                             const row_walk *rw, int P2, int seg_nearest, int16_t *o)
{
    const int64_t *S = c->hdr.shape;
    const size_t nvox = (size_t)(S[0] * S[1] * S[2]);
    const pf_vi8 minus1 = (pf_vi8)_mm256_set1_epi32(-1);
    /* int8 pair gathers read two bytes past a cell's far X corner, past the seg's end only
     * from the case's last cell plane: a row whose every lane (the last group's spare lanes
     * too) lies below it needs no check per group. A lane's Z position is q0 + dq x, rounded
     * as points8 does, monotonic in x: its largest floor is at an end of the row. Then a
     * lane's first corner is at most ((S0 - 3) S1 + S1 - 2) S2 + S2 - 2, and its reads end
     * S1 S2 + S2 + 4 further, at most (S0 - 1) S1 S2 + 2 <= nvox. */
    const float qa = rw->q0[0], qb = rw->q0[0] + rw->dq[0] * (float)(((P2 + 7) / 8) * 8 - 1);
    const int tail_safe = nvox >= 4 + cg->corner[6] && floorf(qa > qb ? qa : qb) <= (float)(S[0] - 3);
    for (int x0 = 0; x0 < P2; x0 += PF_VL8) {
        const int m = P2 - x0 < PF_VL8 ? P2 - x0 : PF_VL8;
        pf_vf8 w[3];
        pf_vi8 f[3], base, far = {0}, one = {0}, l0 = minus1, lab[8], edge;
        const pf_vi8 in = points8(rw, x0, cg, f, w, &base);
        int any_in;
        if (seg_nearest) {
            for (int k = 0; k < m; k++) {
                const int32_t fk[3] = {f[0][k], f[1][k], f[2][k]};
                const float wk[3] = {w[0][k], w[1][k], w[2][k]};
                o[x0 + k] = pf_seg_nearest_at(c, cm, fk, wk);
            }
            continue;
        }
        /* the lanes inside: corners gathered (lanes outside read voxel 0's cell, inside the
         * case when some lane is: nvox >= 4 then, two voxels on two axes) */
        any_in = pf_vi8_any(in);
        if (any_in) {
            pf_vi8 g[4];
            if (corner_pairs8(cm, cg, base, nvox, tail_safe, g)) {
                one = pairs_uniform8(cm, g, &l0) & in;
                if (m == PF_VL8 && pf_vi8_all(one)) { /* most groups */
                    store_labels8(o + x0, l0, m);
                    continue;
                }
                pairs_unpack8(cm, g, lab);
            } else {
                corner_labels8(cm, cg, base, nvox, lab);
                l0 = lab[0];
                one = in;
                for (int j = 1; j < 8; j++)
                    one &= lab[j] == l0;
            }
        } else {
            memset(lab, 0, sizeof lab);
        }
        /* the lanes outside: wholly (some f < -1 or >= S, one unsigned compare) or partly */
        far = far_lanes8(f, S);
        edge = ~in & ~far;
        if (pf_vi8_any(edge))
            edge_labels8(cm, S, f, edge, lab);
        if (pf_vi8_any(~one & ~far))
            l0 = (l0 & one) | (linear8(lab, w) & ~one);
        store_labels8(o + x0, (l0 & ~far) | (minus1 & far), m);
    }
}

/* The X pairs of a source row for the separable sampler, eight at once: one 32-bit gather
 * per eight pairs (int8: the pair and two bytes after it), lanes outside reading the row's
 * first pair: only where the caller found that these reads stay inside the seg (wide_ok),
 * else the pairs are read one by one. */
PF_AVX2 void pf_seg_pairs_avx2(const pf_case_map *m, int wide_ok, size_t row, const int32_t *f2,
                               const unsigned char *in2, int P2, int32_t *out)
{
    const pf_vi8 mixed = (pf_vi8)_mm256_set1_epi32(PF_SEG_MIXED);
    int x = 0;
    if (wide_ok)
        for (; x + PF_VL8 <= P2; x += PF_VL8) {
            const pf_vi8 in = (pf_vi8)_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(in2 + x))) != 0;
            const pf_vi8 fx = (pf_vi8)_mm256_loadu_si256((const __m256i *)(const void *)(f2 + x)) & in;
            pf_vi8 v, l, eq;
            if (m->seg16) {
                v = (pf_vi8)_mm256_i32gather_epi32((const int *)(const void *)(m->seg16 + row), (__m256i)fx, 2);
                l = (v << 16) >> 16;
                eq = l == v >> 16;
            } else {
                v = (pf_vi8)_mm256_i32gather_epi32((const int *)(const void *)(m->seg8 + row), (__m256i)fx, 1);
                l = (v << 24) >> 24;
                eq = l == (v << 16) >> 24;
            }
            eq &= in;
            _mm256_storeu_si256((__m256i *)(void *)(out + x), (__m256i)((l & eq) | (mixed & ~eq)));
        }
    for (; x < P2; x++) {
        const size_t i = row + (size_t)f2[x];
        const int16_t a = in2[x] ? pf_seg_at(m, i) : 0;
        out[x] = in2[x] && a == pf_seg_at(m, i + 1) ? a : PF_SEG_MIXED;
    }
}

/* A separable row, eight voxels at once: one-label cells take their label; cells at a label
 * border inside the case take linear8 on their gathered corners (pf_seg_linear's result, as in
 * the rotated kernel); cells reaching beyond the case in X go through pf_seg_linear. */
PF_AVX2 void pf_seg_separable_row_avx2(const pf_case *c, const pf_case_map *cm,
                                       const case_geom *cg, const int32_t f[2], const float w[2],
                                       const int32_t *f2, const float *w2,
                                       const unsigned char *in2, const int32_t *ra,
                                       const int32_t *rb, int P2, int16_t *o)
{
    const int64_t *S = c->hdr.shape;
    const size_t nvox = (size_t)(S[0] * S[1] * S[2]);
    const int32_t row = (int32_t)(((int64_t)f[0] * S[1] + f[1]) * S[2]);
    const pf_vi8 mixed = (pf_vi8)_mm256_set1_epi32(PF_SEG_MIXED);
    int x0 = 0;
    for (; x0 + PF_VL8 <= P2; x0 += PF_VL8) {
        const pf_vi8 a = (pf_vi8)_mm256_loadu_si256((const __m256i *)(const void *)(ra + x0)),
                     b = (pf_vi8)_mm256_loadu_si256((const __m256i *)(const void *)(rb + x0));
        const pf_vi8 one = (a == b) & (a != mixed);
        pf_vi8 l = a, in, need;
        if (pf_vi8_all(one)) { /* most groups */
            store_labels8(o + x0, a, PF_VL8);
            continue;
        }
        in = (pf_vi8)_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(in2 + x0))) != 0;
        need = in & ~one;
        if (pf_vi8_any(need)) {
            /* lanes not inside read voxel 0's cell, inside the case as some lane's is */
            const pf_vi8 base = ((pf_vi8)_mm256_loadu_si256((const __m256i *)(const void *)(f2 + x0)) + row) & in;
            const pf_vf8 wv[3] = {(pf_vf8)_mm256_set1_ps(w[0]), (pf_vf8)_mm256_set1_ps(w[1]),
                                  (pf_vf8)_mm256_loadu_ps(w2 + x0)};
            pf_vi8 g[4], lab[8];
            if (corner_pairs8(cm, cg, base, nvox, 0, g))
                pairs_unpack8(cm, g, lab);
            else
                corner_labels8(cm, cg, base, nvox, lab);
            l = (l & one) | (linear8(lab, wv) & need);
        }
        if (pf_vi8_all(one | need)) {
            store_labels8(o + x0, l, PF_VL8);
            continue;
        }
        for (int k = 0; k < PF_VL8; k++)
            if (one[k] || need[k]) {
                o[x0 + k] = (int16_t)l[k];
            } else {
                const int32_t fk[3] = {f[0], f[1], f2[x0 + k]};
                const float wk[3] = {w[0], w[1], w2[x0 + k]};
                o[x0 + k] = pf_seg_linear(c, cm, fk, wk);
            }
    }
    for (; x0 < P2; x0++) {
        const int32_t fk[3] = {f[0], f[1], f2[x0]};
        const float wk[3] = {w[0], w[1], w2[x0]};
        o[x0] = ra[x0] != PF_SEG_MIXED && ra[x0] == rb[x0] ? (int16_t)ra[x0]
                                                            : pf_seg_linear(c, cm, fk, wk);
    }
}

#else /* no AVX2 on this architecture: pf_simd_active() never names it */

void pf_image_row_avx2(const pf_case *c, const pf_case_map *cm, const pf_norm *norms,
                       const case_geom *cg, const row_walk *rw, int P2, float *row, size_t pv)
{
    pf_image_row_scalar(c, cm, norms, cg, rw, P2, row, pv);
}

void pf_seg_row_avx2(const pf_case *c, const pf_case_map *cm, const case_geom *cg,
                     const row_walk *rw, int P2, int seg_nearest, int16_t *o)
{
    pf_seg_row_scalar(c, cm, cg, rw, P2, seg_nearest, o);
}

/* the same results one voxel at a time */
void pf_seg_pairs_avx2(const pf_case_map *m, int wide_ok, size_t row, const int32_t *f2,
                       const unsigned char *in2, int P2, int32_t *out)
{
    (void)wide_ok;
    for (int x = 0; x < P2; x++) {
        const size_t i = row + (size_t)f2[x];
        const int16_t a = in2[x] ? pf_seg_at(m, i) : 0;
        out[x] = in2[x] && a == pf_seg_at(m, i + 1) ? a : PF_SEG_MIXED;
    }
}

void pf_seg_separable_row_avx2(const pf_case *c, const pf_case_map *m, const case_geom *cg,
                               const int32_t f[2], const float w[2], const int32_t *f2,
                               const float *w2, const unsigned char *in2, const int32_t *ra,
                               const int32_t *rb, int P2, int16_t *o)
{
    (void)cg, (void)in2;
    for (int x = 0; x < P2; x++) {
        const int32_t fk[3] = {f[0], f[1], f2[x]};
        const float wk[3] = {w[0], w[1], w2[x]};
        o[x] = ra[x] != PF_SEG_MIXED && ra[x] == rb[x] ? (int16_t)ra[x] : pf_seg_linear(c, m, fk, wk);
    }
}
#endif
