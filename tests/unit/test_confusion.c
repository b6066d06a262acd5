/* test_confusion.c - the confusion matrix count of evaluate (confusion.h) against a plain
 * voxel-by-voxel count: every pair of stored types (uint8, int16), lengths that are not a
 * multiple of the block, maps with long runs (whole uniform blocks) and noise (mixed ones),
 * values no label names (the "other" column), an ignored row, and a matrix large enough to
 * be counted in one copy; the AVX2 set counts (labels and overlapping regions, 1 to 7 sets,
 * an ignore label, values beyond the table) against the matrix's sums. */
#include "testutil.h"

#include "confusion.h"
#include "simd.h"

/* A label map of n values drawn from vals[0..nv): runs of random length, some noise. */
static void fill(int16_t *v, size_t n, const int *vals, int nv, uint64_t seed)
{
    uint64_t x = seed;
    size_t i = 0;
    while (i < n) {
        size_t run;
        int value;
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        run = (size_t)(x >> 58) % 3 == 0 ? 1 + (x >> 40) % 4 : 1 + (x >> 40) % 200;
        value = vals[(x >> 20) % (uint64_t)nv];
        for (; run && i < n; run--, i++)
            v[i] = (int16_t)value;
    }
}

static void check(const pf_confusion_map *map, const int16_t *r, const int16_t *p, size_t n,
                  int ref_u8, int pred_u8)
{
    uint8_t *r8 = malloc(n + 1), *p8 = malloc(n + 1);
    uint64_t *got = calloc(map->cells, sizeof *got), *want = calloc(map->cells, sizeof *want);
    pf_label_volume ref = {.n = n}, pred = {.n = n};
    assert_true(r8 && p8 && got && want);
    for (size_t i = 0; i < n; i++) {
        r8[i] = (uint8_t)r[i];
        p8[i] = (uint8_t)p[i];
        want[map->row[r[i]] + map->col[p[i]]]++;
    }
    if (ref_u8)
        ref.u8 = r8;
    else
        ref.i16 = r;
    if (pred_u8)
        pred.u8 = p8;
    else
        pred.i16 = p;
    assert_int_equal(pf_confusion_count(map, &ref, &pred, got), 0);
    for (size_t c = 0; c < map->cells; c++)
        if (got[c] != want[c])
            fail_msg("n=%zu ref %s pred %s: cell %zu counted %llu, voxel by voxel %llu", n,
                     ref_u8 ? "u8" : "i16", pred_u8 ? "u8" : "i16", c,
                     (unsigned long long)got[c], (unsigned long long)want[c]);
    free(r8);
    free(p8);
    free(got);
    free(want);
}

/* labels[0..L) get rows and columns 0..L-1, any other value row / column L, the ignore
 * value row L + 1 (as evaluate builds it) */
static pf_confusion_map *make_map(const int *labels, int L, int ignore)
{
    pf_confusion_map *m = malloc(sizeof *m);
    const uint32_t C = (uint32_t)L + 1;
    assert_non_null(m);
    for (int v = 0; v < PF_CONFUSION_VALUES; v++) {
        m->row[v] = (uint32_t)L * C;
        m->col[v] = (uint32_t)L;
    }
    for (int l = 0; l < L; l++) {
        m->row[labels[l]] = (uint32_t)l * C;
        m->col[labels[l]] = (uint32_t)l;
    }
    if (ignore >= 0)
        m->row[ignore] = ((uint32_t)L + 1) * C;
    m->cells = ((size_t)L + 2) * C;
    return m;
}

static void test_small_matrix_every_type_pair(void **state)
{
    static const int labels[] = {0, 1, 2, 3}, vals[] = {0, 0, 0, 1, 2, 3, 5, 200};
    static const size_t lengths[] = {0, 1, 15, 16, 17, 1000, 100003};
    pf_confusion_map *map = make_map(labels, 4, 5);
    (void)state;
    for (size_t t = 0; t < sizeof lengths / sizeof lengths[0]; t++) {
        const size_t n = lengths[t];
        int16_t *r = malloc((n + 1) * sizeof *r), *p = malloc((n + 1) * sizeof *p);
        assert_true(r && p);
        fill(r, n, vals, 8, 1 + n);
        fill(p, n, vals, 8, 7 + 3 * n);
        for (int pair = 0; pair < 4; pair++)
            check(map, r, p, n, pair & 1, pair >> 1);
        memcpy(p, r, n * sizeof *p); /* identical maps: the diagonal (and uniform blocks) */
        for (int pair = 0; pair < 4; pair++)
            check(map, r, p, n, pair & 1, pair >> 1);
        free(r);
        free(p);
    }
    free(map);
}

static void test_large_matrix(void **state)
{
    enum { L = 120, N = 50021 };
    int labels[L], vals[L + 2];
    static int16_t r[N], p[N];
    pf_confusion_map *map;
    (void)state;
    for (int l = 0; l < L; l++)
        vals[l] = labels[l] = 2 * l; /* odd values are other, 1 the ignore label */
    vals[L] = 1;
    vals[L + 1] = 251;
    map = make_map(labels, L, 1);
    assert_true(map->cells > 4096);
    fill(r, N, vals, L + 2, 11);
    fill(p, N, vals, L + 2, 12);
    check(map, r, p, N, 0, 0);
    check(map, r, p, N, 1, 0); /* values < 256: the uint8 paths too */
    check(map, r, p, N, 1, 1);
    free(map);
}

/* The set fast path against the matrix's sums: n sets, set s holding the values of sets[s]
 * (bit masks of values 0..15), the ignore label 9, data values up to 40 (beyond the table). */
static void check_sets(const int16_t *r, const int16_t *p, size_t n, int n_sets,
                       const unsigned *sets)
{
    int labels[16];
    pf_confusion_map *map;
    pf_set_masks m = {.n_sets = n_sets};
    pf_set_counts got;
    uint8_t *r8 = malloc(n + 1), *p8 = malloc(n + 1);
    uint64_t *M;
    pf_label_volume ref = {.n = n}, pred = {.n = n};
    const int L = 15; /* every value 0..15 but the ignore label 9 gets an index */
    for (int v = 0, l = 0; v < 16; v++)
        if (v != 9)
            labels[l++] = v;
    map = make_map(labels, L, 9);
    M = calloc(map->cells, sizeof *M);
    assert_true(r8 && p8 && M);
    for (size_t i = 0; i < n; i++) {
        r8[i] = (uint8_t)r[i];
        p8[i] = (uint8_t)p[i];
        M[map->row[r[i]] + map->col[p[i]]]++;
    }
    for (int s = 0; s < n_sets; s++)
        for (int v = 0; v < 16; v++)
            if (sets[s] >> v & 1)
                m.ref[v] = m.pred[v] |= (uint8_t)(1u << s);
    m.ref[9] = 0x80;
    ref.u8 = r8;
    pred.u8 = p8;
    if (pf_confusion_count_sets(&m, &ref, &pred, &got) != 0) {
        if (pf_simd_active() >= PF_SIMD_AVX2)
            fail_msg("the set path refused uint8 maps on an AVX2 path");
        goto out; /* nothing to compare on this CPU */
    }
    for (int s = 0; s < n_sets; s++) {
        uint64_t tp = 0, nr = 0, np = 0, counted = 0;
        for (int a = 0; a <= L; a++) /* rows 0..L: the ignore row L + 1 left out */
            for (int b = 0; b <= L; b++) {
                const uint64_t v = M[(size_t)a * (L + 1) + (size_t)b];
                const int in_a = a < L && (sets[s] >> labels[a] & 1);
                const int in_b = b < L && (sets[s] >> labels[b] & 1);
                tp += in_a && in_b ? v : 0;
                nr += in_a ? v : 0;
                np += in_b ? v : 0;
                counted += v;
            }
        if (got.tp[s] != tp || got.n_ref[s] != nr || got.n_pred[s] != np ||
            got.counted != counted)
            fail_msg("n=%zu set %d of %d: TP %llu n_ref %llu n_pred %llu counted %llu, the "
                     "matrix says %llu %llu %llu %llu", n, s, n_sets,
                     (unsigned long long)got.tp[s], (unsigned long long)got.n_ref[s],
                     (unsigned long long)got.n_pred[s], (unsigned long long)got.counted,
                     (unsigned long long)tp, (unsigned long long)nr, (unsigned long long)np,
                     (unsigned long long)counted);
    }
out:
    free(map);
    free(M);
    free(r8);
    free(p8);
}

static void test_sets_equal_matrix_sums(void **state)
{
    /* labels, and regions that overlap (BraTS-like: {1,2,3}, {2,3}, {3}) and hold 0 */
    static const unsigned sets[PF_SET_MAX] = {1u << 1 | 1u << 2 | 1u << 3, 1u << 2 | 1u << 3,
                                              1u << 3, 1u << 4, 1u << 0 | 1u << 5, 1u << 15,
                                              1u << 7 | 1u << 8};
    static const int vals[] = {0, 0, 0, 0, 1, 2, 3, 4, 5, 7, 8, 9, 9, 15, 16, 40, 255};
    static const size_t lengths[] = {0, 31, 32, 33, 8191, 32 * 255 + 77, 300007};
    (void)state;
    for (size_t t = 0; t < sizeof lengths / sizeof lengths[0]; t++) {
        const size_t n = lengths[t];
        int16_t *r = malloc((n + 1) * sizeof *r), *p = malloc((n + 1) * sizeof *p);
        assert_true(r && p);
        fill(r, n, vals, 17, 5 + n);
        fill(p, n, vals, 17, 9 + 5 * n);
        for (int k = 1; k <= PF_SET_MAX; k++)
            check_sets(r, p, n, k, sets);
        for (size_t i = 0; i < n; i++) /* one value everywhere: every byte counter fills */
            r[i] = p[i] = 3;
        check_sets(r, p, n, PF_SET_MAX, sets);
        for (size_t i = 0; i < n; i++) /* and the ignore label everywhere */
            r[i] = 9;
        check_sets(r, p, n, PF_SET_MAX, sets);
        free(r);
        free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_matrix_every_type_pair),
        cmocka_unit_test(test_large_matrix),
        cmocka_unit_test(test_sets_equal_matrix_sums),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
