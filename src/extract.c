/* extract.c - padded patch extraction with normalisation (see extract.h). */
#include "patchfs/extract.h"

#include <string.h>

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

static void normalize_row(const float *src, const int16_t *seg, const pf_norm *nm, float *dst,
                          int64_t n)
{
    const float lo = nm->lo, hi = nm->hi, shift = nm->shift, scale = nm->scale;
    if (nm->masked) {
        for (int64_t i = 0; i < n; i++) {
            float v = src[i], t = v < lo ? lo : v;
            t = t > hi ? hi : t;
            dst[i] = seg[i] >= 0 ? (t - shift) / scale : v;
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            float t = src[i] < lo ? lo : src[i];
            t = t > hi ? hi : t;
            dst[i] = (t - shift) / scale;
        }
    }
}

void pf_extract_image(const pf_case *c, const pf_norm *norms, const int64_t start[3],
                      const int patch[3], float *out)
{
    const int64_t *S = c->hdr.shape;
    const int64_t P0 = patch[0], P1 = patch[1], P2 = patch[2];
    const size_t nvox = (size_t)(S[0] * S[1] * S[2]);
    int64_t za, zb, ya, yb, xa, xb;
    overlap(start[0], P0, S[0], &za, &zb);
    overlap(start[1], P1, S[1], &ya, &yb);
    overlap(start[2], P2, S[2], &xa, &xb);
    for (uint32_t ch = 0; ch < c->hdr.n_channels; ch++) {
        float *o = out + (size_t)ch * (size_t)(P0 * P1 * P2);
        const float *img = c->image + (size_t)ch * nvox;
        for (int64_t z = 0; z < P0; z++)
            for (int64_t y = 0; y < P1; y++) {
                float *row = o + (size_t)((z * P1 + y) * P2);
                size_t off;
                if (z < za || z >= zb || y < ya || y >= yb || xa >= xb) {
                    memset(row, 0, (size_t)P2 * sizeof *row);
                    continue;
                }
                off = (size_t)(((start[0] + z) * S[1] + (start[1] + y)) * S[2] + start[2] + xa);
                if (xa > 0)
                    memset(row, 0, (size_t)xa * sizeof *row);
                normalize_row(img + off, c->seg + off, &norms[ch], row + xa, xb - xa);
                if (xb < P2)
                    memset(row + xb, 0, (size_t)(P2 - xb) * sizeof *row);
            }
    }
}

void pf_extract_seg(const pf_case *c, const int64_t start[3], const int patch[3],
                    int16_t *out)
{
    const int64_t *S = c->hdr.shape;
    const int64_t P0 = patch[0], P1 = patch[1], P2 = patch[2];
    int64_t za, zb, ya, yb, xa, xb;
    overlap(start[0], P0, S[0], &za, &zb);
    overlap(start[1], P1, S[1], &ya, &yb);
    overlap(start[2], P2, S[2], &xa, &xb);
    for (int64_t z = 0; z < P0; z++)
        for (int64_t y = 0; y < P1; y++) {
            int16_t *row = out + (size_t)((z * P1 + y) * P2);
            int64_t x = 0;
            if (!(z < za || z >= zb || y < ya || y >= yb || xa >= xb)) {
                size_t off = (size_t)(((start[0] + z) * S[1] + (start[1] + y)) * S[2] +
                                      start[2] + xa);
                memcpy(row + xa, c->seg + off, (size_t)(xb - xa) * sizeof *row);
                for (x = 0; x < xa; x++)
                    row[x] = -1;
                for (x = xb; x < P2; x++)
                    row[x] = -1;
                continue;
            }
            for (x = 0; x < P2; x++)
                row[x] = -1;
        }
}
