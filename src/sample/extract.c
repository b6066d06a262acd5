/* extract.c - padded patch extraction with normalisation (see extract.h): row by row on the
 * vector path pf_simd_active() names (the eight-lane rows in extract_avx2.c, four-lane SSE2
 * and scalar ones here, all the same bytes), optionally written mirrored. */
#include "extract.h"

#include <string.h>

#include "extract_i.h"
#include "grid.h"
#include "simd.h"

/* Source rows are handed back to the case layer's release policy (pf_case_release, cache.h)
 * after every PF_RELEASE_PLANES planes, so a long mount's RSS does not grow with the dataset. */

/* The overlap of [start, start + p) with [0, n) along one axis, as [a, b) in patch coords. */
static void overlap(int64_t start, int64_t p, int64_t n, int64_t *a, int64_t *b)
{
    int64_t lo = start < 0 ? -start : 0;
    int64_t hi = start + p > n ? n - start : p;
    if (hi < lo)
        hi = lo;
    *a = lo;
    *b = hi;
}

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* dst[i] = (clamp(src[i], lo, hi) - shift) / scale, or src[i] where masked and seg[i] < 0;
 * the seg is seg8 or seg16 (the other NULL), as the entry stores it. path: pf_simd_active().
 * The vector paths (AVX2 in extract_avx2.c, then SSE2 here) compute exactly the scalar
 * expressions: max_ps(lo, v) is `v < lo ? lo : v` and min_ps(hi, t) is `t > hi ? hi : t` (a
 * NaN stays NaN in both), then IEEE sub and div; no reciprocal, no fused operation, so the
 * bytes equal the scalar loop's. */
static void normalize_row(const float *restrict src, const int8_t *restrict seg8,
                          const int16_t *restrict seg16, const pf_norm *nm, float *restrict dst,
                          int64_t n, pf_simd_level path)
{
    const float lo = nm->lo, hi = nm->hi, shift = nm->shift, scale = nm->scale;
    int64_t i = 0;
#ifdef PF_HAVE_AVX2
    if (path == PF_SIMD_AVX2)
        i = (int64_t)pf_norm_row_avx2(src, seg8, seg16, nm, dst, (size_t)n);
#endif
#ifdef __SSE2__
    if (path != PF_SIMD_SCALAR) {
        const __m128 vlo = _mm_set1_ps(lo), vhi = _mm_set1_ps(hi), vsh = _mm_set1_ps(shift),
                     vsc = _mm_set1_ps(scale);
        if (nm->masked) {
            const __m128i minus1 = _mm_set1_epi32(-1);
            for (; i + 4 <= n; i += 4) {
                __m128 v = _mm_loadu_ps(src + i);
                __m128 t = _mm_div_ps(_mm_sub_ps(_mm_min_ps(vhi, _mm_max_ps(vlo, v)), vsh), vsc);
                __m128i s32;
                if (seg8) {
                    int32_t four;
                    memcpy(&four, seg8 + i, sizeof four);
                    s32 = _mm_cvtsi32_si128(four);
                    s32 = _mm_unpacklo_epi8(s32, s32);
                    s32 = _mm_srai_epi32(_mm_unpacklo_epi16(s32, s32), 24);
                } else {
                    __m128i s16 = _mm_loadl_epi64((const __m128i *)(seg16 + i));
                    s32 = _mm_srai_epi32(_mm_unpacklo_epi16(s16, s16), 16);
                }
                __m128 keep = _mm_castsi128_ps(_mm_cmpgt_epi32(s32, minus1)); /* seg >= 0 */
                _mm_storeu_ps(dst + i, _mm_or_ps(_mm_and_ps(keep, t), _mm_andnot_ps(keep, v)));
            }
        } else {
            for (; i + 4 <= n; i += 4) {
                __m128 v = _mm_loadu_ps(src + i);
                __m128 t = _mm_min_ps(vhi, _mm_max_ps(vlo, v));
                _mm_storeu_ps(dst + i, _mm_div_ps(_mm_sub_ps(t, vsh), vsc));
            }
        }
    }
#else
    (void)path;
#endif
    if (nm->masked) {
        for (; i < n; i++) {
            float v = src[i], t = v < lo ? lo : v;
            t = t > hi ? hi : t;
            dst[i] = (seg8 ? seg8[i] : seg16[i]) >= 0 ? (t - shift) / scale : v;
        }
    } else {
        for (; i < n; i++) {
            float t = src[i] < lo ? lo : src[i];
            t = t > hi ? hi : t;
            dst[i] = (t - shift) / scale;
        }
    }
}

/* The crop is bound by memory, not arithmetic (its time goes to waiting on the source loads):
 * it reads a run of each source row (512 of 960 bytes at 128^3 from a 240-wide case), the next
 * run a row further on, and the hardware's stream prefetcher starts over at every 4 KiB page.
 * Asking for the run PREFETCH_ROWS rows ahead (a hint: no fault, no byte changes) cut the image
 * crop's samples in the 128^3 plain-steps profile by about an eighth, the seg's by a twentieth. */
#define PREFETCH_ROWS 2

static inline void prefetch_run(const void *p, size_t bytes)
{
    for (size_t k = 0; k < bytes; k += 64)
        __builtin_prefetch((const char *)p + k);
}

/* Where row (z, y) of the crop goes when the patch is written mirrored along the axes flip
 * names (NULL: none): the row the mirroring would move it to. */
static size_t out_row(const int flip[3], int64_t P0, int64_t P1, int64_t P2, int64_t z,
                      int64_t y)
{
    if (flip) {
        z = flip[0] ? P0 - 1 - z : z;
        y = flip[1] ? P1 - 1 - y : y;
    }
    return (size_t)((z * P1 + y) * P2);
}

void pf_extract_image(const pf_case *c, const pf_norm *norms, const int64_t start[3],
                      const int patch[3], float *out)
{
    pf_extract_image_mirrored(c, norms, start, patch, NULL, out);
}

void pf_extract_seg(const pf_case *c, const int64_t start[3], const int patch[3],
                    int16_t *out)
{
    pf_extract_seg_mirrored(c, start, patch, NULL, out);
}

void pf_extract_image_mirrored(const pf_case *c, const pf_norm *norms, const int64_t start[3],
                               const int patch[3], const int flip[3], float *out)
{
    const pf_case_map *m = pf_case_map_get(c);
    const int64_t *S = c->hdr.shape;
    const int64_t P0 = patch[0], P1 = patch[1], P2 = patch[2];
    const size_t nvox = (size_t)(S[0] * S[1] * S[2]);
    int64_t za, zb, ya, yb, xa, xb;
    overlap(start[0], P0, S[0], &za, &zb);
    overlap(start[1], P1, S[1], &ya, &yb);
    overlap(start[2], P2, S[2], &xa, &xb);
    const pf_simd_level path = pf_simd_active();
    for (uint32_t ch = 0; ch < c->hdr.n_channels; ch++) {
        float *o = out + (size_t)ch * (size_t)(P0 * P1 * P2);
        const float *img = m->image + (size_t)ch * nvox;
        for (int64_t z = 0; z < P0; z++) {
            for (int64_t y = 0; y < P1; y++) {
                float *row = o + out_row(flip, P0, P1, P2, z, y);
                size_t off;
                if (z < za || z >= zb || y < ya || y >= yb || xa >= xb) {
                    memset(row, 0, (size_t)P2 * sizeof *row);
                    continue;
                }
                off = (size_t)(((start[0] + z) * S[1] + (start[1] + y)) * S[2] + start[2] + xa);
                if (y + PREFETCH_ROWS < yb) {
                    const size_t ahead = off + (size_t)(PREFETCH_ROWS * S[2]);
                    prefetch_run(img + ahead, (size_t)(xb - xa) * sizeof *img);
                    if (norms[ch].masked)
                        prefetch_run(m->seg8 ? (const void *)(m->seg8 + ahead)
                                             : (const void *)(m->seg16 + ahead),
                                     (size_t)(xb - xa) * (m->seg8 ? 1 : 2));
                }
                if (xa > 0)
                    memset(row, 0, (size_t)xa * sizeof *row);
                normalize_row(img + off, m->seg8 ? m->seg8 + off : NULL,
                              m->seg16 ? m->seg16 + off : NULL, &norms[ch], row + xa, xb - xa, path);
                if (xb < P2)
                    memset(row + xb, 0, (size_t)(P2 - xb) * sizeof *row);
                if (flip && flip[2])
                    pf_reverse_floats(row, (size_t)P2); /* just written: in cache */
            }
            if (z >= za && z < zb && xa < xb &&
                ((z - za + 1) % PF_RELEASE_PLANES == 0 || z + 1 == zb)) {
                int64_t z0 = start[0] + z + 1 - ((z - za) % PF_RELEASE_PLANES + 1);
                pf_case_release(c, m, (int)ch, z0, start[0] + z + 1, start[1] + ya,
                                start[1] + yb);
                if (norms[ch].masked)
                    pf_case_release(c, m, PF_PART_SEG, z0, start[0] + z + 1, start[1] + ya,
                                    start[1] + yb);
            }
        }
    }
}

/* n labels of the entry from element i on, as int16 (pf_seg_row, on the vector path) */
static void seg_row(const pf_case_map *m, size_t i, size_t n, int16_t *restrict dst,
                    pf_simd_level path)
{
    size_t k = 0;
    if (!m->seg8) {
        memcpy(dst, m->seg16 + i, n * sizeof *dst);
        return;
    }
#ifdef PF_HAVE_AVX2
    if (path == PF_SIMD_AVX2)
        k = pf_widen_labels_avx2(m->seg8 + i, dst, n);
#else
    (void)path;
#endif
    for (; k < n; k++)
        dst[k] = m->seg8[i + k];
}

void pf_extract_seg_mirrored(const pf_case *c, const int64_t start[3], const int patch[3],
                             const int flip[3], int16_t *out)
{
    const pf_case_map *m = pf_case_map_get(c);
    const int64_t *S = c->hdr.shape;
    const int64_t P0 = patch[0], P1 = patch[1], P2 = patch[2];
    int64_t za, zb, ya, yb, xa, xb;
    overlap(start[0], P0, S[0], &za, &zb);
    overlap(start[1], P1, S[1], &ya, &yb);
    overlap(start[2], P2, S[2], &xa, &xb);
    const pf_simd_level path = pf_simd_active();
    for (int64_t z = 0; z < P0; z++) {
        for (int64_t y = 0; y < P1; y++) {
            int16_t *row = out + out_row(flip, P0, P1, P2, z, y);
            int64_t x = 0;
            if (!(z < za || z >= zb || y < ya || y >= yb || xa >= xb)) {
                size_t off = (size_t)(((start[0] + z) * S[1] + (start[1] + y)) * S[2] +
                                      start[2] + xa);
                if (y + PREFETCH_ROWS < yb) {
                    const size_t ahead = off + (size_t)(PREFETCH_ROWS * S[2]);
                    prefetch_run(m->seg8 ? (const void *)(m->seg8 + ahead)
                                         : (const void *)(m->seg16 + ahead),
                                 (size_t)(xb - xa) * (m->seg8 ? 1 : 2));
                }
                seg_row(m, off, (size_t)(xb - xa), row + xa, path);
                for (x = 0; x < xa; x++)
                    row[x] = -1;
                for (x = xb; x < P2; x++)
                    row[x] = -1;
                if (flip && flip[2])
                    pf_reverse_labels(row, (size_t)P2);
                continue;
            }
            for (x = 0; x < P2; x++)
                row[x] = -1;
        }
        if (z >= za && z < zb && xa < xb &&
            ((z - za + 1) % PF_RELEASE_PLANES == 0 || z + 1 == zb))
            pf_case_release(c, m, PF_PART_SEG,
                            start[0] + z + 1 - ((z - za) % PF_RELEASE_PLANES + 1),
                            start[0] + z + 1, start[1] + ya, start[1] + yb);
    }
}
