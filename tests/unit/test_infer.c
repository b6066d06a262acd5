/* test_infer.c - the pieces of export and evaluate that integration tests reach only in
 * part: Python's float repr (summary.json's numbers), numpy's nanmean, float16 rounding as
 * numpy's astype(float16), the argmax tie rule, the regions rule (sigmoid > 0.5 in class
 * order, what a region dataset's export runs), the online softmax against the direct one,
 * atomic outputs (no partial file, no replacement without force), and labels and regions
 * put at the crop box and transposed back (pf_restore). */
#include "testutil.h"

#include "atomic_file.h"
#include "npy.h"
#include "restore.h"
#include "prediction.h"
#include "pyjson.h"
#include "to_labels.h"

static void expect_repr(double x, const char *want)
{
    char buf[64];
    pf_py_float_repr(x, buf, sizeof buf);
    if (strcmp(buf, want))
        fail_msg("repr(%.17g): got %s, Python writes %s", x, buf, want);
}

/* Values and texts from Python 3's repr(float) */
static void test_float_repr(void **state)
{
    (void)state;
    expect_repr(0.1, "0.1");
    expect_repr(1.0, "1.0");
    expect_repr(0.5, "0.5");
    expect_repr(2.0 / 3.0, "0.6666666666666666");
    expect_repr(0.1 + 0.2, "0.30000000000000004");
    expect_repr(1e-05, "1e-05");
    expect_repr(0.0001, "0.0001");
    expect_repr(1.5e-300, "1.5e-300");
    expect_repr(1e16, "1e+16");
    expect_repr(1e15, "1000000000000000.0");
    expect_repr(123456.5, "123456.5");
    expect_repr(146055.6, "146055.6");
    expect_repr(-2.5, "-2.5");
    expect_repr(0.0, "0.0");
    expect_repr(NAN, "NaN");
    expect_repr(1.2345678901234567e-7, "1.2345678901234566e-07");
}

static void test_nanmean(void **state)
{
    const double a[] = {1.0, NAN, 2.0}, b[] = {NAN, NAN};
    double v[200], naive = 0;
    (void)state;
    assert_true(pf_numpy_nanmean(a, 3) == 1.5);
    assert_true(isnan(pf_numpy_nanmean(b, 2)));
    /* 8 accumulators: for small integers any order gives the same exact sum */
    for (int i = 0; i < 200; i++) {
        v[i] = i;
        naive += i;
    }
    assert_true(pf_numpy_sum(v, 200) == naive);
    /* the summation order is numpy's pairwise one: 1e16 + 1 + 1 + ... loses the ones one
     * at a time when added in a row, keeps them when the ones are summed first (block 8) */
    for (int i = 0; i < 16; i++)
        v[i] = i == 0 ? 1e16 : 1.0;
    /* numpy: r[0..7] = a[0..7], r[j] += a[8+j]; then ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)):
     * r0 = 1e16 + 1 = 1e16 (even), r1..r7 = 2, so 1e16 + 2 + 4 + 8 = 1e16 + 14 */
    assert_true(pf_numpy_sum(v, 16) == 1e16 + 14.0);
}

static void test_half(void **state)
{
    (void)state;
    assert_true(pf_half_to_float(0x3c00) == 1.0f);
    assert_true(pf_half_to_float(0x7bff) == 65504.0f);
    assert_true(pf_half_to_float(0x0001) == 0x1p-24f);
    assert_true(isinf(pf_half_to_float(0xfc00)) && pf_half_to_float(0xfc00) < 0);
    assert_true(pf_half_round(1.0f) == 1.0f);
    assert_true(pf_half_round(0.1f) == 0.0999755859375f);     /* np.float16(0.1) */
    assert_true(pf_half_round(1.0f + 0x1p-11f) == 1.0f);       /* tie to even */
    assert_true(pf_half_round(1.0f + 3 * 0x1p-11f) == 1.0f + 0x1p-9f);
    assert_true(pf_half_round(65504.0f) == 65504.0f);
    assert_true(pf_half_round(65519.0f) == 65504.0f);
    assert_true(isinf(pf_half_round(65520.0f)));
    assert_true(pf_half_round(0x1p-24f) == 0x1p-24f);
    assert_true(pf_half_round(1e-8f) == 0.0f);
    assert_true(pf_half_round(-3.14159f) == -3.140625f);
}

static void test_argmax_first_wins(void **state)
{
    const float c0[4] = {1, 2, 3, 0}, c1[4] = {1, 5, 3, -1}, c2[4] = {2, 5, 1, -1};
    float best[4];
    uint16_t arg[4];
    (void)state;
    pf_argmax_step(best, arg, c0, 4, 0);
    pf_argmax_step(best, arg, c1, 4, 1);
    pf_argmax_step(best, arg, c2, 4, 2);
    assert_int_equal(arg[0], 2);
    assert_int_equal(arg[1], 1); /* tie 5 = 5: the first */
    assert_int_equal(arg[2], 0); /* tie 3 = 3 */
    assert_int_equal(arg[3], 0);
}

static void test_regions(void **state)
{
    /* BraTS-like: whole tumour, tumour core, enhancing; regions_class_order [1, 2, 3] */
    const float wt[5] = {5, 5, 5, -5, 0}, tc[5] = {5, 5, -5, 5, 1e-9f}, et[5] = {5, -5, -5, -5, 9};
    uint16_t seg[5] = {0};
    (void)state;
    pf_regions_step(seg, wt, 5, 1);
    pf_regions_step(seg, tc, 5, 2);
    pf_regions_step(seg, et, 5, 3);
    assert_int_equal(seg[0], 3);
    assert_int_equal(seg[1], 2);
    assert_int_equal(seg[2], 1);
    assert_int_equal(seg[3], 2); /* a later region overwrites, whatever came before */
    /* sigmoid(0) = 0.5 is not > 0.5; neither is float32 sigmoid(1e-9) (= 0.5) */
    assert_int_equal(seg[4], 3);
    seg[4] = 0;
    pf_regions_step(seg + 4, wt + 4, 1, 1);
    pf_regions_step(seg + 4, tc + 4, 1, 2);
    assert_int_equal(seg[4], 0);
}

static void test_softmax_online(void **state)
{
    float ch[3][6] = {{0, 1, -3, 80, 2, 0.5f}, {1, 1, 4, -80, 2, 0.25f}, {2, -1, 0, 0, 7, 0.5f}};
    float mx[6], sum[6], p[6], total[6] = {0};
    uint16_t arg[6];
    (void)state;
    for (int k = 0; k < 3; k++)
        pf_argmax_softmax_step(mx, sum, arg, ch[k], 6, k);
    for (int k = 0; k < 3; k++) {
        pf_softmax_apply(p, ch[k], mx, sum, 6);
        for (int i = 0; i < 6; i++) {
            double m = fmax(fmax(ch[0][i], ch[1][i]), ch[2][i]), s = 0;
            for (int j = 0; j < 3; j++)
                s += exp((double)ch[j][i] - m);
            assert_float_equal(p[i], exp((double)ch[k][i] - m) / s, 1e-6);
            total[i] += p[i];
        }
    }
    for (int i = 0; i < 6; i++)
        assert_float_equal(total[i], 1.0, 1e-6);
    assert_int_equal(arg[0], 2);
    assert_int_equal(arg[3], 0);
    assert_int_equal(arg[5], 0); /* tie 0.5 = 0.5: the first */
}

static void test_atomic_file(void **state)
{
    char dir[PATH_MAX], path[PATH_MAX];
    pf_atomic_file f;
    pf_error err = {0};
    size_t len;
    unsigned char *got;
    (void)state;
    tu_mkdtemp(dir, "atomic");
    tu_path(path, "%s/out.bin", dir);
    assert_int_equal(pf_atomic_begin(&f, path, 0, &err), 0);
    assert_int_equal(pf_atomic_write(&f, "abc", 3, &err), 0);
    assert_int_equal(access(path, F_OK), -1); /* nothing under the final name yet */
    pf_atomic_abort(&f);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(pf_atomic_begin(&f, path, 0, &err), 0);
    assert_int_equal(pf_atomic_write(&f, "abc", 3, &err), 0);
    assert_int_equal(pf_atomic_commit(&f, &err), 0);
    got = tu_read_file(path, &len);
    assert_int_equal(len, 3);
    free(got);
    assert_int_equal(pf_atomic_begin(&f, path, 0, &err), -1);
    assert_int_equal(err.errnum, EEXIST);
    assert_non_null(strstr(err.msg, "--force"));
    assert_int_equal(pf_atomic_begin(&f, path, 1, &err), 0);
    assert_int_equal(pf_atomic_write(&f, "de", 2, &err), 0);
    assert_int_equal(pf_atomic_commit(&f, &err), 0);
    got = tu_read_file(path, &len);
    assert_int_equal(len, 2);
    free(got);
    tu_path(path, "%s/nofolder/out.bin", dir);
    assert_int_equal(pf_output_check(path, 0, &err), -1);
    tu_rm_rf(dir);
}

/* A (2, 2, 3, 4) float32 prediction on a served grid that equals its crop box (nothing to
 * resample) inside a 4x5x6 transposed source, transpose_forward (2, 0, 1): labels by argmax
 * and by regions land at the crop box, transposed back, zeros elsewhere. */
static void write_pred(const char *path, const float *v, int64_t nv)
{
    char hdr[128];
    const int64_t shape[4] = {2, 2, 3, 4};
    size_t h = pf_npy_header(hdr, sizeof hdr, PF_DT_F4, 4, shape);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(hdr, 1, h, f), h);
    assert_int_equal(fwrite(v, sizeof *v, (size_t)nv, f), (size_t)nv);
    fclose(f);
}

static void test_restore_places_labels(void **state)
{
    char dir[PATH_MAX], path[PATH_MAX];
    float v[48];
    pf_case_geometry g = {
        .shape = {2, 3, 4}, .shape_before_crop = {4, 5, 6}, .crop_lo = {1, 2, 1},
        .crop_shape = {2, 3, 4}, .spacing = {1, 1, 1}, .src_spacing = {1, 1, 1},
        .transpose = {2, 0, 1}, .prob_order = 1, .prob_order_z = 0,
        .prob_force_separate_z = -1, .seg_order = 1};
    const int labels[2] = {0, 5};
    const uint16_t order[2] = {3, 7};
    pf_prediction p;
    pf_error err = {0};
    int64_t src[3];
    uint8_t out[120];
    (void)state;
    for (int i = 0; i < 24; i++) {
        v[i] = (float)(i % 3);         /* channel 0 */
        v[24 + i] = (float)(i % 2);    /* channel 1 */
    }
    tu_mkdtemp(dir, "restore");
    tu_path(path, "%s/p.npy", dir);
    write_pred(path, v, 48);
    assert_int_equal(pf_prediction_open(&p, path, &err), 0);
    pf_restore_source_shape(&g, src);
    assert_int_equal(src[0], 5); /* source axis t[d] has shape_before_crop[d] */
    assert_int_equal(src[1], 6);
    assert_int_equal(src[2], 4);
    for (int regions = 0; regions < 2; regions++) {
        pf_restore_spec s = {.g = &g, .case_id = "x", .n_channels = 2, .channel_label = labels,
                             .regions_class_order = regions ? order : NULL, .threads = 1};
        memset(out, 0, sizeof out);
        assert_int_equal(pf_restore(&s, &p, out, 1, &err), 0);
        for (int a = 0; a < 4; a++)           /* served (transposed) coordinates */
            for (int b = 0; b < 5; b++)
                for (int c = 0; c < 6; c++) {
                    /* served axis d is source axis t[d]: source index (b, c, a) */
                    const int o = (b * 6 + c) * 4 + a;
                    int want = 0;
                    const int in = a >= 1 && a < 3 && b >= 2 && b < 5 && c >= 1 && c < 5;
                    if (in) {
                        const int k = ((a - 1) * 3 + (b - 2)) * 4 + (c - 1);
                        const float c0 = v[k], c1 = v[24 + k];
                        if (regions) /* sigmoid > 0.5 <=> logit > 0, later regions win */
                            want = c1 > 0 ? 7 : c0 > 0 ? 3 : 0;
                        else
                            want = c1 > c0 ? 5 : 0;
                    }
                    if (out[o] != want)
                        fail_msg("%s: served (%d, %d, %d): %d, want %d",
                                 regions ? "regions" : "labels", a, b, c, out[o], want);
                }
    }
    pf_prediction_close(&p);
    tu_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_float_repr),
        cmocka_unit_test(test_nanmean),
        cmocka_unit_test(test_half),
        cmocka_unit_test(test_argmax_first_wins),
        cmocka_unit_test(test_regions),
        cmocka_unit_test(test_softmax_online),
        cmocka_unit_test(test_atomic_file),
        cmocka_unit_test(test_restore_places_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
