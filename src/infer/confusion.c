/* confusion.c - one pass counting a confusion matrix of two label maps (see confusion.h).
 *
 * Label maps are mostly long runs of one label (background above all): a block of 16 voxels
 * where both maps hold one value each adds 16 to one cell, found by comparing the block's
 * words with the first voxel repeated. Other blocks count voxel by voxel into four
 * interleaved copies of the matrix, so consecutive voxels of one cell do not wait on each
 * other's increment; the copies are summed at the end (one copy when the matrix is large).
 * Each pair of stored types (uint8, int16) has its own loop: no per-voxel type switch. */
#include "confusion.h"

#include <stdlib.h>
#include <string.h>

enum { BLOCK = 16, COPIES = 4, SMALL_MATRIX = 4096 };

static inline int uniform_u8(const uint8_t *p)
{
    const uint64_t w = 0x0101010101010101ull * p[0];
    uint64_t a, b;
    memcpy(&a, p, 8);
    memcpy(&b, p + 8, 8);
    return (a ^ w) == 0 && (b ^ w) == 0;
}

static inline int uniform_i16(const int16_t *p)
{
    const uint64_t w = 0x0001000100010001ull * (uint16_t)p[0];
    uint64_t a[4];
    memcpy(a, p, sizeof a);
    return ((a[0] ^ w) | (a[1] ^ w) | (a[2] ^ w) | (a[3] ^ w)) == 0;
}

#define VALUE_u8(p, i) ((p)[i])
#define VALUE_i16(p, i) ((uint16_t)(p)[i])
#define CELL(r, p, i) (row[VALUE_##r(rv, i)] + col[VALUE_##p(pv, i)])

/* count_RT_PT: H has COPIES copies of the matrix at stride S (S = 0: one copy) */
#define DEFINE_COUNT(R, RT, P, PT)                                                             \
    static void count_##R##_##P(const RT *rv, const PT *pv, size_t n, const uint32_t *row,    \
                                const uint32_t *col, uint64_t *H, size_t S)                   \
    {                                                                                          \
        size_t i = 0;                                                                          \
        for (; i + BLOCK <= n; i += BLOCK) {                                                   \
            if (uniform_##R(rv + i) && uniform_##P(pv + i)) {                                  \
                H[CELL(R, P, i)] += BLOCK;                                                     \
                continue;                                                                      \
            }                                                                                  \
            for (size_t k = i; k < i + BLOCK; k += 4) {                                        \
                H[CELL(R, P, k)]++;                                                            \
                H[S + CELL(R, P, k + 1)]++;                                                    \
                H[2 * S + CELL(R, P, k + 2)]++;                                                \
                H[3 * S + CELL(R, P, k + 3)]++;                                                \
            }                                                                                  \
        }                                                                                      \
        for (; i < n; i++)                                                                     \
            H[CELL(R, P, i)]++;                                                                \
    }

DEFINE_COUNT(u8, uint8_t, u8, uint8_t)
DEFINE_COUNT(u8, uint8_t, i16, int16_t)
DEFINE_COUNT(i16, int16_t, u8, uint8_t)
DEFINE_COUNT(i16, int16_t, i16, int16_t)

int pf_confusion_count(const pf_confusion_map *map, const pf_label_volume *ref,
                       const pf_label_volume *pred, uint64_t *M)
{
    const size_t S = map->cells <= SMALL_MATRIX ? map->cells : 0;
    const size_t n = ref->n < pred->n ? ref->n : pred->n;
    uint64_t *H = calloc(S ? COPIES * S : map->cells, sizeof *H);
    if (!H)
        return -1;
    if (ref->u8 && pred->u8)
        count_u8_u8(ref->u8, pred->u8, n, map->row, map->col, H, S);
    else if (ref->u8)
        count_u8_i16(ref->u8, pred->i16, n, map->row, map->col, H, S);
    else if (pred->u8)
        count_i16_u8(ref->i16, pred->u8, n, map->row, map->col, H, S);
    else
        count_i16_i16(ref->i16, pred->i16, n, map->row, map->col, H, S);
    for (size_t c = 0; c < map->cells; c++)
        M[c] = S ? H[c] + H[S + c] + H[2 * S + c] + H[3 * S + c] : H[c];
    free(H);
    return 0;
}
