/* extract_i.h - the eight-lane (AVX2) row kernels of extract.c, in extract_avx2.c.
 *
 * extract.c calls them when pf_simd_active() is PF_SIMD_AVX2. Each one does the leading whole
 * groups of its row with the same IEEE operations per element as the four-lane and scalar
 * loops of extract.c and returns where it stopped; the caller finishes the row with its own
 * loops, so the bytes are the same on every path. */
#ifndef PATCHFS_EXTRACT_I_H
#define PATCHFS_EXTRACT_I_H

#include <stddef.h>
#include <stdint.h>

#include "extract.h"
#include "vecmath8.h"

#ifdef PF_HAVE_AVX2

/* normalize_row's loop (extract.c): dst = (clamp(src, lo, hi) - shift) / scale, or src where
 * nm->masked and the seg (seg8 or seg16, the other NULL) is < 0; elements done (a multiple of
 * 8, <= n) */
size_t pf_norm_row_avx2(const float *src, const int8_t *seg8, const int16_t *seg16,
                        const pf_norm *nm, float *dst, size_t n);

/* int8 labels widened to int16; elements done (a multiple of 16, <= n) */
size_t pf_widen_labels_avx2(const int8_t *src, int16_t *dst, size_t n);

#endif
#endif
