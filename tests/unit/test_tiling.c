/* test_tiling.c - nnU-Net's sliding window (tiling.h) against the figures nnU-Net documents
 * and measures (nnunet-geometry.md section 7; compute_steps_for_sliding_window's own comment:
 * an axis of 110 with patch 64 gives 0, 23, 46), round half to even, padding of a case smaller
 * than the patch (the odd voxel after), tile order (x innermost), 2D tiling per slice, and the
 * importance map's peak, symmetry and one neighbour against the Gaussian formula. The map is
 * compared with scipy's gaussian_filter itself by tests/integration/tiles_check.py. */
#include "testutil.h"

#include <math.h>

#include "tiling.h"

static void expect_starts(int64_t size, int64_t patch, int n, const int64_t *want)
{
    int64_t got[64];
    int64_t k = pf_sliding_starts(size, patch, PF_TILE_STEP, got);
    if (k != n)
        fail_msg("size %lld patch %lld: %lld starts, want %d", (long long)size,
                 (long long)patch, (long long)k, n);
    for (int i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("size %lld patch %lld: start %d is %lld, want %lld", (long long)size,
                     (long long)patch, i, (long long)got[i], (long long)want[i]);
}

static void test_documented_figures(void **state)
{
    (void)state;
    /* BraTS 155x240x240, patch 96x160x160 (measured with nnU-Net) */
    expect_starts(155, 96, 3, (const int64_t[]){0, 30, 59});
    expect_starts(240, 160, 2, (const int64_t[]){0, 80});
    /* compute_steps_for_sliding_window's example */
    expect_starts(110, 64, 3, (const int64_t[]){0, 23, 46});
    /* equal to the patch: one tile */
    expect_starts(64, 64, 1, (const int64_t[]){0});
    /* 2.5 rounds to 2 (half to even, np.round), 29.5 above to 30 */
    expect_starts(13, 8, 3, (const int64_t[]){0, 2, 5});
    /* one voxel more than the patch: two tiles */
    expect_starts(65, 64, 2, (const int64_t[]){0, 1});
}

/* Every start is within [0, S - P], the first is 0, the last S - P, they never decrease, no gap
 * exceeds half the patch (the step), for many sizes and patches. */
static void test_cover_properties(void **state)
{
    (void)state;
    for (int64_t p = 1; p <= 40; p++)
        for (int64_t s = p; s <= 200; s++) {
            int64_t st[512];
            int64_t n = pf_sliding_starts(s, p, PF_TILE_STEP, st);
            assert_true(n >= 1 && n < 512);
            assert_int_equal(st[0], 0);
            assert_int_equal(st[n - 1], s - p);
            for (int64_t i = 1; i < n; i++) {
                assert_true(st[i] >= st[i - 1]); /* patch 1: repeats, as upstream */
                assert_true((double)(st[i] - st[i - 1]) <= (double)p * 0.5 + 0.5);
            }
        }
}

static void test_padding_and_order(void **state)
{
    pf_tiling t;
    int64_t s[3];
    (void)state;
    /* BraTS: 3 x 2 x 2 tiles, x innermost */
    pf_tiling_init(&t, (const int64_t[]){155, 240, 240}, (const int[]){96, 160, 160}, 0);
    assert_int_equal(pf_tiling_count(&t), 12);
    pf_tiling_start(&t, 1, s);
    assert_true(s[0] == 0 && s[1] == 0 && s[2] == 80);
    pf_tiling_start(&t, 2, s);
    assert_true(s[0] == 0 && s[1] == 80 && s[2] == 0);
    pf_tiling_start(&t, 11, s);
    assert_true(s[0] == 59 && s[1] == 80 && s[2] == 80);
    for (int d = 0; d < 3; d++)
        assert_int_equal(t.pad_before[d], 0);
    /* smaller than the patch: padded to it, half before (rounded down), one tile */
    pf_tiling_init(&t, (const int64_t[]){50, 51, 200}, (const int[]){64, 64, 64}, 0);
    assert_int_equal(t.padded[0], 64);
    assert_int_equal(t.pad_before[0], 7);
    assert_int_equal(t.padded[1], 64);
    assert_int_equal(t.pad_before[1], 6); /* 13 voxels: 6 before, 7 after */
    assert_int_equal(t.padded[2], 200);
    assert_int_equal(t.pad_before[2], 0);
    assert_int_equal(t.n[0], 1);
    assert_int_equal(t.n[1], 1);
    assert_int_equal(t.n[2], pf_sliding_starts(200, 64, 0.5, NULL));
    /* 2D: every slice, y and x as in 3D, the slice axis never padded */
    pf_tiling_init(&t, (const int64_t[]){3, 110, 40}, (const int[]){1, 64, 64}, 1);
    assert_int_equal(t.patch[0], 1);
    assert_int_equal(t.padded[0], 3);
    assert_int_equal(t.pad_before[2], 12);
    assert_int_equal(pf_tiling_count(&t), 3 * 3 * 1);
    pf_tiling_start(&t, 4, s);
    assert_true(s[0] == 1 && s[1] == 23 && s[2] == 0);
}

static void test_importance_map(void **state)
{
    const int patch[3] = {8, 12, 10};
    float *g = malloc(8 * 12 * 10 * sizeof *g), least = INFINITY, most = 0;
    const double sx = 10 * 0.125;
    (void)state;
    assert_non_null(g);
    assert_int_equal(pf_importance_map(patch, 3, g), 0);
    for (int i = 0; i < 8 * 12 * 10; i++) {
        least = g[i] < least ? g[i] : least;
        most = g[i] > most ? g[i] : most;
    }
    assert_true(least > 0.0f);
    assert_true(most == 10.0f);
    assert_true(g[(4 * 12 + 6) * 10 + 5] == 10.0f); /* the peak at patch // 2 */
    /* one voxel along x: the Gaussian's ratio */
    assert_true(fabs(g[(4 * 12 + 6) * 10 + 6] / 10.0 - exp(-0.5 / (sx * sx))) < 1e-6);
    /* symmetric about the centre where both sides exist */
    assert_true(g[(4 * 12 + 6) * 10 + 4] == g[(4 * 12 + 6) * 10 + 6]);
    assert_true(g[(3 * 12 + 6) * 10 + 5] == g[(5 * 12 + 6) * 10 + 5]);
    /* 2D: (Y, X) */
    assert_int_equal(pf_importance_map(patch + 1, 2, g), 0);
    assert_true(g[6 * 10 + 5] == 10.0f);
    free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_documented_figures),
        cmocka_unit_test(test_cover_properties),
        cmocka_unit_test(test_padding_and_order),
        cmocka_unit_test(test_importance_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
