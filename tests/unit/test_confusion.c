/* test_confusion.c - the confusion matrix count of evaluate (confusion.h) against a plain
 * voxel-by-voxel count: every pair of stored types (uint8, int16), lengths that are not a
 * multiple of the block, maps with long runs (whole uniform blocks) and noise (mixed ones),
 * values no label names (the "other" column), an ignored row, and a matrix large enough to
 * be counted in one copy. */
#include "testutil.h"

#include "confusion.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_matrix_every_type_pair),
        cmocka_unit_test(test_large_matrix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
