/* test_deep_supervision.c - the deep-supervision targets (deep_supervision.c): sizes are
 * Python's round(size * scale) per axis (half to even, as nnU-Net's DownsampleSegForDSTransform),
 * per-axis scales as the plan's strides give them (Spleen: [1, .5, .5], [.5, .125, .125]), and
 * the labels are taken nearest-exact (floor((o + 0.5) * in / out)), checked against a direct
 * double computation of that rule. */
#include "testutil.h"

#include "augment.h"

static void test_sizes_round_half_even(void **state)
{
    const int patch[3] = {25, 27, 28};
    const double half[3] = {0.5, 0.5, 0.5}, spleen1[3] = {1, 0.5, 0.5};
    const double spleen3[3] = {0.5, 0.125, 0.125};
    int out[3];
    (void)state;
    pf_ds_shape(patch, half, 0, out);
    assert_int_equal(out[0], 12); /* 12.5 -> 12 (Python round), not 13 */
    assert_int_equal(out[1], 14); /* 13.5 -> 14 */
    assert_int_equal(out[2], 14);
    {
        const int sp[3] = {28, 192, 192};
        pf_ds_shape(sp, spleen1, 0, out);
        assert_true(out[0] == 28 && out[1] == 96 && out[2] == 96);
        pf_ds_shape(sp, spleen3, 0, out);
        assert_true(out[0] == 14 && out[1] == 24 && out[2] == 24);
    }
    {
        const int p2[3] = {1, 56, 40};
        pf_ds_shape(p2, half, 1, out); /* 2D: the slice axis stays */
        assert_true(out[0] == 1 && out[1] == 28 && out[2] == 20);
    }
}

static void test_nearest_exact_labels(void **state)
{
    const int patch[3] = {6, 10, 9}, out_shape[3] = {3, 4, 7};
    int16_t seg[6 * 10 * 9], out[3 * 4 * 7];
    (void)state;
    for (int i = 0; i < 6 * 10 * 9; i++)
        seg[i] = (int16_t)(i % 251);
    pf_ds_seg(seg, patch, out_shape, out);
    for (int z = 0; z < 3; z++)
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 7; x++) {
                int sz = (int)floor((z + 0.5) * 6.0 / 3.0), sy = (int)floor((y + 0.5) * 10.0 / 4.0);
                int sx = (int)floor((x + 0.5) * 9.0 / 7.0);
                assert_int_equal(out[(z * 4 + y) * 7 + x], seg[(sz * 10 + sy) * 9 + sx]);
            }
}

/* rows longer than the source table's piece (512) are done in pieces: every voxel still
 * comes from floor((o + 0.5) * n_in / n_out) on each axis */
static void test_long_rows(void **state)
{
    const int patch[3] = {3, 2, 1500}, out_shape[3] = {2, 1, 1100};
    int16_t *seg = malloc(3 * 2 * 1500 * sizeof *seg), *out = malloc(2 * 1100 * sizeof *out);
    (void)state;
    assert_non_null(seg);
    assert_non_null(out);
    for (int i = 0; i < 3 * 2 * 1500; i++)
        seg[i] = (int16_t)(i * 7 % 32749);
    pf_ds_seg(seg, patch, out_shape, out);
    for (int z = 0; z < 2; z++)
        for (int x = 0; x < 1100; x++) {
            int sz = (int)floor((z + 0.5) * 3.0 / 2.0), sy = (int)floor(0.5 * 2.0);
            int sx = (int)floor((x + 0.5) * 1500.0 / 1100.0);
            assert_int_equal(out[z * 1100 + x], seg[(sz * 2 + sy) * 1500 + sx]);
        }
    free(seg);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_round_half_even),
        cmocka_unit_test(test_nearest_exact_labels),
        cmocka_unit_test(test_long_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
