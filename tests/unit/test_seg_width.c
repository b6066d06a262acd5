/* test_seg_width.c - a cache entry stores its segmentation as int8 when the labels fit
 * (cache format 3) and as int16 otherwise; what is served must not depend on which. One case
 * is made twice, its labels held as int16 and as int8, and every reader of the seg (plain
 * extraction, the mask rule of image extraction, the augmented image and seg samplers, their
 * separable and general paths, nearest and linear seg interpolation) must give the same bytes
 * for both. Boxes overhang the case so the edge paths run too. */
#include "testutil.h"

#include "augment.h"
#include "extract.h"

enum { Z = 14, Y = 19, X = 23, NV = Z * Y * X, C = 2 };

/* Labels -1 (outside the nonzero mask: the x < 3 slab), 0, and blobs of 1, 2 and 3. */
static int16_t label_at(int z, int y, int x)
{
    if (x < 3)
        return -1;
    if ((z - 7) * (z - 7) + (y - 9) * (y - 9) + (x - 12) * (x - 12) < 30)
        return 1;
    if ((y - 4) * (y - 4) + (x - 18) * (x - 18) < 12)
        return 2;
    if (z > 10 && y > 12)
        return 3;
    return 0;
}

/* The same case as int16 (wide) and as int8 (narrow); the image is shared in content. */
static void make_cases(pf_case *wide, pf_case *narrow)
{
    float *im16, *im8;
    int16_t *sg;
    int8_t *sg8 = malloc(NV);
    assert_non_null(sg8);
    tu_case_init(wide, Z, Y, X, C, &im16, &sg);
    tu_case_init(narrow, Z, Y, X, C, &im8, NULL);
    for (int ch = 0; ch < C; ch++)
        for (int z = 0; z < Z; z++)
            for (int y = 0; y < Y; y++)
                for (int x = 0; x < X; x++)
                    im16[((ch * Z + z) * Y + y) * X + x] =
                        (float)(sin(0.4 * z + ch) * 30.0 + cos(0.3 * y) * 20.0 + 0.9 * x);
    memcpy(im8, im16, (size_t)NV * C * sizeof *im8);
    for (int z = 0; z < Z; z++)
        for (int y = 0; y < Y; y++)
            for (int x = 0; x < X; x++) {
                sg[(z * Y + y) * X + x] = label_at(z, y, x);
                sg8[(z * Y + y) * X + x] = (int8_t)label_at(z, y, x);
            }
    /* the narrow case reads its labels as an int8 entry's mapping does */
    free((void *)narrow->map->seg16);
    narrow->map->seg16 = NULL;
    narrow->map->seg8 = sg8;
}

static pf_aug_params params(int variant)
{
    pf_aug_params p;
    memset(&p, 0, sizeof p);
    p.dims = 3;
    if (variant == 1 || variant == 2) { /* rotated and scaled: the general samplers */
        p.rotate = 1;
        p.angle[0] = variant == 1 ? 0.4 : -1.1;
        p.angle[1] = variant == 1 ? -0.2 : 0.3;
        p.angle[2] = variant == 1 ? 0.7 : 2.5;
        p.scale_on = 1;
        p.scale = variant == 1 ? 1.15 : 0.85;
    } else if (variant == 3) { /* zoomed only: axis-aligned, the separable samplers */
        p.scale_on = 1;
        p.scale = 0.8;
    }
    return p;
}

static void test_extraction_same_bytes(void **state)
{
    const int patch[3] = {9, 13, 17};
    const int64_t starts[3][3] = {{2, 3, 1}, {-3, -4, -5}, {8, 12, 14}};
    pf_case wide, narrow;
    const size_t n = (size_t)patch[0] * patch[1] * patch[2];
    int16_t *s16 = malloc(n * sizeof *s16), *s8 = malloc(n * sizeof *s8);
    float *i16 = malloc(C * n * sizeof *i16), *i8 = malloc(C * n * sizeof *i8);
    int seen[5] = {0};
    (void)state;
    assert_true(s16 && s8 && i16 && i8);
    make_cases(&wide, &narrow);
    for (int v = 0; v < 3; v++) {
        for (int masked = 0; masked < 2; masked++) {
            const pf_norm nm[C] = {{-INFINITY, INFINITY, 5.0f, 20.0f, masked},
                                   {-10.0f, 25.0f, 1.0f, 7.0f, masked}};
            pf_extract_image(&wide, nm, starts[v], patch, i16);
            pf_extract_image(&narrow, nm, starts[v], patch, i8);
            assert_memory_equal(i16, i8, C * n * sizeof *i16);
        }
        pf_extract_seg(&wide, starts[v], patch, s16);
        pf_extract_seg(&narrow, starts[v], patch, s8);
        assert_memory_equal(s16, s8, n * sizeof *s16);
        for (size_t i = 0; i < n; i++)
            seen[s16[i] + 1] = 1;
    }
    for (int l = 0; l < 5; l++)
        assert_true(seen[l]); /* every label, -1 included, went through both */
    tu_case_free(&wide);
    tu_case_free(&narrow);
    free(s16), free(s8), free(i16), free(i8);
}

static void test_augmented_same_bytes(void **state)
{
    const int patch[3] = {10, 15, 13};
    const int64_t starts[2][3] = {{2, 2, 0}, {-2, 5, 9}};
    pf_case wide, narrow;
    const size_t n = (size_t)patch[0] * patch[1] * patch[2];
    int16_t *s16 = malloc(n * sizeof *s16), *s8 = malloc(n * sizeof *s8);
    float *i16 = malloc(C * n * sizeof *i16), *i8 = malloc(C * n * sizeof *i8);
    (void)state;
    assert_true(s16 && s8 && i16 && i8);
    make_cases(&wide, &narrow);
    for (int v = 0; v < 4; v++)
        for (int s = 0; s < 2; s++) {
            const pf_aug_params p = params(v);
            const pf_norm nm[C] = {{-INFINITY, INFINITY, 5.0f, 20.0f, 1},
                                   {-10.0f, 25.0f, 1.0f, 7.0f, 1}};
            for (int nearest = 0; nearest < 2; nearest++) {
                pf_aug_sample_seg(&wide, starts[s], patch, &p, nearest, s16);
                pf_aug_sample_seg(&narrow, starts[s], patch, &p, nearest, s8);
                assert_memory_equal(s16, s8, n * sizeof *s16);
                pf_aug_sample_seg_general(&wide, starts[s], patch, &p, nearest, s16);
                pf_aug_sample_seg_general(&narrow, starts[s], patch, &p, nearest, s8);
                assert_memory_equal(s16, s8, n * sizeof *s16);
            }
            pf_aug_sample_image(&wide, nm, starts[s], patch, &p, i16);
            pf_aug_sample_image(&narrow, nm, starts[s], patch, &p, i8);
            assert_memory_equal(i16, i8, C * n * sizeof *i16);
            pf_aug_sample_image_general(&wide, nm, starts[s], patch, &p, i16);
            pf_aug_sample_image_general(&narrow, nm, starts[s], patch, &p, i8);
            assert_memory_equal(i16, i8, C * n * sizeof *i16);
        }
    tu_case_free(&wide);
    tu_case_free(&narrow);
    free(s16), free(s8), free(i16), free(i8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extraction_same_bytes),
        cmocka_unit_test(test_augmented_same_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
