/* test_split.c - nnU-Net's default cross-validation split (split.h): numpy's legacy
 * RandomState shuffle, sklearn KFold(5, shuffle=True, random_state=12345) validation folds,
 * the random 80:20 extra folds, and pf_split_resolve's small-dataset, fold=all and
 * splits_final.json paths.
 *
 * Expected arrays were computed once with numpy 1.24.2 (/usr/bin/python3; sklearn is not
 * installed, so KFold's logic was written out by hand):
 *   shuffle:  a = np.arange(n); np.random.RandomState(12345).shuffle(a)
 *   KFold:    sizes = [n // 5 + (k < n % 5) for k in range(5)]; fold k validates
 *             sorted(a[sum(sizes[:k]) : sum(sizes[:k + 1])])
 *   extra:    train = sorted(np.random.RandomState(12345 + fold).choice(n, int(n * 0.8),
 *             replace=False)), checked equal to RandomState(12345 + fold).permutation(n)[:k];
 *             val = the rest. */
#include "testutil.h"

#include "split.h"

static const int shuf1[] = {0};
static const int shuf2[] = {1, 0};
static const int shuf5[] = {0, 4, 3, 1, 2};
static const int shuf7[] = {6, 3, 4, 0, 1, 5, 2};
static const int shuf10[] = {0, 7, 3, 9, 6, 4, 1, 8, 5, 2};
static const int shuf23[] = {10, 19, 8, 17, 3, 12, 16, 0, 15, 7, 18, 11, 14, 6, 20, 13, 22, 21,
                             9, 4, 1, 5, 2};
static const int shuf100[] = {
    69, 33, 86, 60, 20, 49, 63, 42, 88, 35, 28, 4, 78, 13, 51, 9, 40, 65, 25, 75, 92, 45, 47,
    87, 8, 50, 46, 76, 39, 2, 6, 54, 71, 52, 30, 37, 57, 26, 0, 17, 84, 21, 79, 62, 18, 95, 48,
    22, 58, 85, 74, 89, 32, 24, 83, 27, 16, 68, 12, 19, 91, 72, 44, 66, 67, 53, 94, 70, 90, 15,
    5, 3, 64, 96, 61, 31, 55, 56, 93, 23, 43, 7, 38, 82, 81, 10, 77, 11, 73, 80, 14, 59, 97, 99,
    34, 41, 36, 1, 29, 98};

static void test_legacy_shuffle_matches_numpy(void **state)
{
    const struct { int n; const int *want; } cases[] = {
        {1, shuf1}, {2, shuf2}, {5, shuf5}, {7, shuf7}, {10, shuf10}, {23, shuf23},
        {100, shuf100},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int perm[100];
        pf_numpy_legacy_shuffle(12345, cases[i].n, perm);
        assert_memory_equal(perm, cases[i].want, (size_t)cases[i].n * sizeof(int));
    }
}

/* Validation indices (ascending) of folds 0..4; -1 ends a list. */
typedef struct kfold_case {
    int n;
    int val[5][6];
} kfold_case;

static const kfold_case kfold[] = {
    {5, {{0, -1}, {4, -1}, {3, -1}, {1, -1}, {2, -1}}},
    {7, {{3, 6, -1}, {0, 4, -1}, {1, -1}, {5, -1}, {2, -1}}},
    {10, {{0, 7, -1}, {3, 9, -1}, {4, 6, -1}, {1, 8, -1}, {2, 5, -1}}},
    {23, {{3, 8, 10, 17, 19, -1}, {0, 7, 12, 15, 16, -1}, {6, 11, 14, 18, 20, -1},
          {9, 13, 21, 22, -1}, {1, 2, 4, 5, -1}}},
};

/* is_val as a -1 terminated ascending list */
static void val_list(const unsigned char *is_val, int n, int *out)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        if (is_val[i])
            out[k++] = i;
    out[k] = -1;
}

static void assert_list_equal(const int *got, const int *want)
{
    int i = 0;
    for (; want[i] >= 0; i++)
        assert_int_equal(got[i], want[i]);
    assert_int_equal(got[i], -1);
}

static void test_kfold_matches_sklearn(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof kfold / sizeof kfold[0]; c++)
        for (int fold = 0; fold < 5; fold++) {
            unsigned char is_val[32];
            int got[33];
            memset(is_val, 0xcc, sizeof is_val);
            assert_int_equal(pf_split_default(kfold[c].n, fold, is_val), 0);
            for (int i = 0; i < kfold[c].n; i++)
                assert_true(is_val[i] == 0 || is_val[i] == 1);
            val_list(is_val, kfold[c].n, got);
            assert_list_equal(got, kfold[c].val[fold]);
        }
}

/* Folds 0..4 partition the cases: disjoint validation sets covering every index, sizes
 * n // 5 (+1 for the first n % 5 folds). */
static void test_kfold_partition(void **state)
{
    (void)state;
    for (int n = 5; n <= 60; n++) {
        int times[60] = {0};
        for (int fold = 0; fold < 5; fold++) {
            unsigned char is_val[60];
            int size = 0;
            assert_int_equal(pf_split_default(n, fold, is_val), 0);
            for (int i = 0; i < n; i++) {
                times[i] += is_val[i];
                size += is_val[i];
            }
            assert_int_equal(size, n / 5 + (fold < n % 5));
        }
        for (int i = 0; i < n; i++)
            assert_int_equal(times[i], 1);
    }
}

typedef struct extra_case {
    int n, fold;
    int val[6];
} extra_case;

static const extra_case extra[] = {
    {5, 5, {2, -1}}, {5, 6, {3, -1}}, {5, 9, {3, -1}},
    {7, 5, {1, 2, -1}}, {7, 6, {3, 5, -1}}, {7, 9, {3, 4, -1}},
    {10, 5, {1, 2, -1}}, {10, 6, {7, 9, -1}}, {10, 9, {3, 4, -1}},
    {23, 5, {2, 16, 17, 18, 22, -1}}, {23, 6, {4, 7, 11, 13, 15, -1}},
    {23, 9, {4, 10, 15, 17, 19, -1}},
};

static void test_extra_folds(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof extra / sizeof extra[0]; c++) {
        unsigned char is_val[32];
        int got[33], n_val = 0;
        assert_int_equal(pf_split_default(extra[c].n, extra[c].fold, is_val), 0);
        val_list(is_val, extra[c].n, got);
        assert_list_equal(got, extra[c].val);
        for (int i = 0; i < extra[c].n; i++)
            n_val += is_val[i];
        assert_int_equal(n_val, extra[c].n - extra[c].n * 8 / 10); /* int(n * 0.8) train */
    }
}

/* ---- pf_split_resolve on an in-memory dataset ---- */

static void fake_dataset(pf_dataset *ds, const char *root, int n)
{
    memset(ds, 0, sizeof *ds);
    ds->root = strdup(root);
    ds->n_cases = n;
    ds->cases = calloc((size_t)n, sizeof *ds->cases);
    assert_non_null(ds->cases);
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "c%02d", i); /* sorted as the ids are */
        ds->cases[i].id = strdup(id);
    }
}

static void free_fake(pf_dataset *ds)
{
    for (int i = 0; i < ds->n_cases; i++)
        free(ds->cases[i].id);
    free(ds->cases);
    free(ds->root);
}

static void test_resolve_default_and_all(void **state)
{
    char dir[PATH_MAX];
    pf_dataset ds;
    pf_split_lists s;
    pf_error err = {0};
    (void)state;
    tu_mkdtemp(dir, "split");
    fake_dataset(&ds, dir, 10);
    /* no splits_final.json: KFold fold 2 validates {4, 6} */
    assert_int_equal(pf_split_resolve(&ds, 2, &s, &err), 0);
    assert_int_equal(s.n_val, 2);
    assert_int_equal(s.val[0], 4);
    assert_int_equal(s.val[1], 6);
    assert_int_equal(s.n_train, 8);
    for (int i = 1; i < s.n_train; i++)
        assert_true(s.train[i] > s.train[i - 1]);
    pf_split_free(&s);
    /* fold=all: every case trains and validates */
    assert_int_equal(pf_split_resolve(&ds, PF_FOLD_ALL, &s, &err), 0);
    assert_int_equal(s.n_train, 10);
    assert_int_equal(s.n_val, 10);
    for (int i = 0; i < 10; i++)
        assert_true(s.train[i] == i && s.val[i] == i);
    pf_split_free(&s);
    free_fake(&ds);
    /* fewer than 5 cases: fold k validates case k; folds past the cases do not exist */
    fake_dataset(&ds, dir, 3);
    assert_int_equal(pf_split_resolve(&ds, 1, &s, &err), 0);
    assert_int_equal(s.n_val, 1);
    assert_int_equal(s.val[0], 1);
    assert_int_equal(s.n_train, 2);
    pf_split_free(&s);
    assert_int_equal(pf_split_resolve(&ds, 3, &s, &err), -1);
    assert_non_null(strstr(err.msg, "fold 3"));
    free_fake(&ds);
    tu_rm_rf(dir);
}

static void test_resolve_splits_final(void **state)
{
    char dir[PATH_MAX], path[PATH_MAX];
    pf_dataset ds;
    pf_split_lists s;
    pf_error err = {0};
    (void)state;
    tu_mkdtemp(dir, "split");
    fake_dataset(&ds, dir, 6);
    tu_path(path, "%s/splits_final.json", dir);
    tu_write_text(path, "[{\"train\": [\"c05\", \"c00\", \"c03\"], \"val\": [\"c04\", \"c01\"]},"
                        " {\"train\": [\"c00\"], \"val\": [\"c09\"]}]");
    assert_int_equal(pf_split_resolve(&ds, 0, &s, &err), 0);
    assert_string_equal(s.source, "splits_final.json");
    assert_int_equal(s.n_train, 3);
    assert_int_equal(s.train[0], 0);
    assert_int_equal(s.train[1], 3);
    assert_int_equal(s.train[2], 5);
    assert_int_equal(s.n_val, 2);
    assert_int_equal(s.val[0], 1);
    assert_int_equal(s.val[1], 4);
    pf_split_free(&s);
    /* an id that is not a case is an error naming it and the file */
    assert_int_equal(pf_split_resolve(&ds, 1, &s, &err), -1);
    assert_non_null(strstr(err.msg, "c09"));
    assert_non_null(strstr(err.msg, "splits_final.json"));
    pf_split_free(&s);
    free_fake(&ds);
    tu_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_legacy_shuffle_matches_numpy),
        cmocka_unit_test(test_kfold_matches_sklearn),
        cmocka_unit_test(test_kfold_partition),
        cmocka_unit_test(test_extra_folds),
        cmocka_unit_test(test_resolve_default_and_all),
        cmocka_unit_test(test_resolve_splits_final),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
