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

#include "simd.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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

/* ---- the set counts (AVX2) ---- */

#if defined(__x86_64__)

/* The set bits of 32 values through a 16-entry table (broadcast to both lanes); values from
 * 16 up give 0. */
__attribute__((target("avx2"))) static inline __m256i set_bits(__m256i v, __m256i table)
{
    const __m256i small = _mm256_cmpeq_epi8(_mm256_and_si256(v, _mm256_set1_epi8((char)0xf0)),
                                            _mm256_setzero_si256());
    return _mm256_and_si256(_mm256_shuffle_epi8(table, v), small);
}

/* Sum of a vector's 32 byte counters, added to *total. */
__attribute__((target("avx2"))) static inline uint64_t byte_sum(__m256i v)
{
    const __m256i q = _mm256_sad_epu8(v, _mm256_setzero_si256());
    return (uint64_t)_mm256_extract_epi64(q, 0) + (uint64_t)_mm256_extract_epi64(q, 1) +
           (uint64_t)_mm256_extract_epi64(q, 2) + (uint64_t)_mm256_extract_epi64(q, 3);
}

/* Blocks of 32 voxels; per set, a byte counter per lane counts the voxels whose bit s is set
 * (bit s moved to the byte's top by a 16-bit shift, which keeps bytes apart there, and
 * compared), flushed before it can wrap. N is a constant in each instance: the counters stay
 * in registers. */
__attribute__((target("avx2"), always_inline)) static inline void
count_sets_n(const pf_set_masks *m, const uint8_t *r, const uint8_t *p, size_t n,
             pf_set_counts *c, const int N)
{
    const __m256i tref = _mm256_broadcastsi128_si256(_mm_loadu_si128((const void *)m->ref));
    const __m256i tpred = _mm256_broadcastsi128_si256(_mm_loadu_si128((const void *)m->pred));
    const __m256i zero = _mm256_setzero_si256();
    size_t i = 0;
    while (i + 32 <= n) {
        __m256i tp[PF_SET_MAX], nr[PF_SET_MAX], np[PF_SET_MAX], ign = zero;
        const size_t start = i, stop = i + 32 * 255 < n ? i + 32 * 255 : n;
#pragma GCC unroll 8
        for (int s = 0; s < N; s++)
            tp[s] = nr[s] = np[s] = zero;
        for (; i + 32 <= stop; i += 32) {
            const __m256i a = set_bits(_mm256_loadu_si256((const void *)(r + i)), tref);
            const __m256i ignored = _mm256_cmpgt_epi8(zero, a); /* bit 7: the ignore label */
            /* an ignored reference voxel is no prediction either */
            const __m256i b = _mm256_andnot_si256(
                ignored, set_bits(_mm256_loadu_si256((const void *)(p + i)), tpred));
            const __m256i both = _mm256_and_si256(a, b);
            ign = _mm256_sub_epi8(ign, ignored);
#pragma GCC unroll 8
            for (int s = 0; s < N; s++) { /* counter -= (bit s of x moved to the top) < 0 */
#define COUNT_BIT(acc, x)                                                                  \
    acc = _mm256_sub_epi8(acc, _mm256_cmpgt_epi8(zero, _mm256_slli_epi16(x, 7 - s)))
                COUNT_BIT(tp[s], both);
                COUNT_BIT(nr[s], a);
                COUNT_BIT(np[s], b);
#undef COUNT_BIT
            }
        }
        c->counted += i - start;
        for (int s = 0; s < N; s++) {
            c->tp[s] += byte_sum(tp[s]);
            c->n_ref[s] += byte_sum(nr[s]);
            c->n_pred[s] += byte_sum(np[s]);
        }
        c->counted -= byte_sum(ign);
    }
    for (; i < n; i++) {
        const uint8_t a0 = r[i] < 16 ? m->ref[r[i]] : 0;
        const uint8_t b0 = p[i] < 16 && !(a0 & 0x80) ? m->pred[p[i]] : 0;
        for (int s = 0; s < N; s++) {
            c->tp[s] += (uint64_t)((a0 & b0) >> s & 1);
            c->n_ref[s] += (uint64_t)(a0 >> s & 1);
            c->n_pred[s] += (uint64_t)(b0 >> s & 1);
        }
        c->counted += a0 & 0x80 ? 0 : 1;
    }
}

#define COUNT_SETS(N)                                                                          \
    __attribute__((target("avx2"))) static void count_sets_##N(                                \
        const pf_set_masks *m, const uint8_t *r, const uint8_t *p, size_t n, pf_set_counts *c) \
    {                                                                                          \
        count_sets_n(m, r, p, n, c, N);                                                        \
    }
COUNT_SETS(1)
COUNT_SETS(2)
COUNT_SETS(3)
COUNT_SETS(4)
COUNT_SETS(5)
COUNT_SETS(6)
COUNT_SETS(7)

int pf_confusion_count_sets(const pf_set_masks *m, const pf_label_volume *ref,
                            const pf_label_volume *pred, pf_set_counts *c)
{
    memset(c, 0, sizeof *c);
    if (!ref->u8 || !pred->u8 || m->n_sets < 1 || m->n_sets > PF_SET_MAX ||
        pf_simd_active() < PF_SIMD_AVX2)
        return -1;
    {
        static void (*const by_n[PF_SET_MAX])(const pf_set_masks *, const uint8_t *,
                                              const uint8_t *, size_t, pf_set_counts *) = {
            count_sets_1, count_sets_2, count_sets_3, count_sets_4, count_sets_5, count_sets_6,
            count_sets_7};
        by_n[m->n_sets - 1](m, ref->u8, pred->u8, ref->n < pred->n ? ref->n : pred->n, c);
    }
    return 0;
}

#else

int pf_confusion_count_sets(const pf_set_masks *m, const pf_label_volume *ref,
                            const pf_label_volume *pred, pf_set_counts *c)
{
    (void)m;
    (void)ref;
    (void)pred;
    memset(c, 0, sizeof *c);
    return -1;
}

#endif
