/* test_export.c - viewer-ready NIfTI patches (export.h) and preview PNGs (preview.h): the size
 * formulas match what is written, the gzip stream decompresses with zlib to a NIfTI-1 header
 * with the shifted affine followed by the data, and PNG sizes do not depend on pixels. */
#include "testutil.h"

#include <nifti1.h>
#include <zlib.h>

#include "export.h"
#include "preview.h"

static unsigned char *gunzip(const char *gz, size_t len, size_t *out_len)
{
    z_stream z;
    size_t cap = 1 << 20;
    unsigned char *out = malloc(cap);
    memset(&z, 0, sizeof z);
    assert_int_equal(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
    z.next_in = (unsigned char *)gz;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = z.total_out;
    inflateEnd(&z);
    return out;
}

static void test_nifti_patch(void **state)
{
    /* a 3x4x5 (Z, Y, X) two-channel float patch and its int16 label */
    float img[2 * 3 * 4 * 5];
    int16_t lab[3 * 4 * 5];
    pf_nifti_patch p;
    pf_error err = {0};
    char *gz;
    size_t len, raw_len;
    unsigned char *raw;
    nifti_1_header h;
    (void)state;
    for (size_t i = 0; i < sizeof img / sizeof img[0]; i++)
        img[i] = (float)i * 0.5f - 3.0f;
    for (size_t i = 0; i < sizeof lab / sizeof lab[0]; i++)
        lab[i] = (int16_t)((int)i % 4 - 1);
    memset(&p, 0, sizeof p);
    p.channels = 2;
    p.shape[0] = 3, p.shape[1] = 4, p.shape[2] = 5;
    p.spacing[0] = 2.5, p.spacing[1] = 0.8, p.spacing[2] = 0.7;
    /* an oblique affine: world = A @ (i, j, k, 1) */
    {
        const double A[16] = {0.6, -0.3, 0.1, 10, 0.2, 0.7, 0.05, -20, -0.1, 0.02, 2.4, 5,
                              0, 0, 0, 1};
        memcpy(p.affine, A, sizeof A);
    }
    p.origin[0] = -2, p.origin[1] = 7, p.origin[2] = 11; /* source voxel (z, y, x) */
    p.grid[0][0] = p.grid[1][1] = p.grid[2][2] = 1.0;      /* a plain crop */
    p.data = img;
    assert_int_equal(pf_nifti_patch_gz(&p, &gz, &len, &err), 0);
    assert_int_equal(len, pf_nifti_patch_size(2, 0, p.shape));
    raw = gunzip(gz, len, &raw_len);
    assert_int_equal(raw_len, 352 + sizeof img);
    memcpy(&h, raw, sizeof h);
    assert_int_equal(h.sizeof_hdr, 348);
    assert_memory_equal(h.magic, "n+1", 4);
    assert_int_equal(h.dim[0], 4);
    assert_int_equal(h.dim[1], 5); /* x fastest */
    assert_int_equal(h.dim[2], 4);
    assert_int_equal(h.dim[3], 3);
    assert_int_equal(h.dim[4], 2);
    assert_int_equal(h.datatype, DT_FLOAT32);
    assert_true(h.vox_offset == 352.0f);
    assert_int_equal(h.sform_code, NIFTI_XFORM_SCANNER_ANAT);
    /* the patch origin maps to the source voxel (i=11, j=7, k=-2) */
    {
        const double ijk[3] = {11, 7, -2};
        const float *rows[3] = {h.srow_x, h.srow_y, h.srow_z};
        for (int r = 0; r < 3; r++) {
            double want = p.affine[r * 4 + 3];
            for (int c = 0; c < 3; c++) {
                want += p.affine[r * 4 + c] * ijk[c];
                assert_true(fabs(rows[r][c] - p.affine[r * 4 + c]) < 1e-6);
            }
            assert_true(fabs(rows[r][3] - want) < 1e-4);
        }
    }
    assert_memory_equal(raw + 352, img, sizeof img);
    free(raw);
    free(gz);

    p.is_label = 1;
    p.channels = 1;
    p.data = lab;
    assert_int_equal(pf_nifti_patch_gz(&p, &gz, &len, &err), 0);
    assert_int_equal(len, pf_nifti_patch_size(1, 1, p.shape));
    raw = gunzip(gz, len, &raw_len);
    memcpy(&h, raw, sizeof h);
    assert_int_equal(h.dim[0], 3);
    assert_int_equal(h.datatype, DT_INT16);
    assert_memory_equal(raw + 352, lab, sizeof lab);
    free(raw);
    free(gz);
}

/* More than one stored block (64 KiB each): sizes and content still line up. */
static void test_nifti_patch_many_blocks(void **state)
{
    const int64_t shape[3] = {8, 64, 65};
    size_t n = 8 * 64 * 65, len, raw_len;
    float *img = malloc(n * sizeof *img);
    pf_nifti_patch p;
    pf_error err = {0};
    char *gz;
    unsigned char *raw;
    (void)state;
    for (size_t i = 0; i < n; i++)
        img[i] = (float)(i % 977);
    memset(&p, 0, sizeof p);
    p.channels = 1;
    memcpy(p.shape, shape, sizeof shape);
    p.affine[0] = p.affine[5] = p.affine[10] = p.affine[15] = 1.0;
    p.grid[0][0] = p.grid[1][1] = p.grid[2][2] = 1.0;
    p.data = img;
    assert_int_equal(pf_nifti_patch_gz(&p, &gz, &len, &err), 0);
    assert_int_equal(len, pf_nifti_patch_size(1, 0, shape));
    assert_true(len > 2 * 65535); /* three stored blocks */
    raw = gunzip(gz, len, &raw_len);
    assert_int_equal(raw_len, 352 + n * sizeof *img);
    assert_memory_equal(raw + 352, img, n * sizeof *img);
    free(raw);
    free(gz);
    free(img);
}

static void test_preview_size_independent_of_pixels(void **state)
{
    const int dims[][4] = {{1, 1, 16, 16}, {3, 2, 48, 40}, {2, 1, 1, 300}, {4, 3, 128, 96}};
    (void)state;
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        int rows = dims[d][0], C = dims[d][1], H = dims[d][2], W = dims[d][3];
        size_t plane = (size_t)H * (size_t)W;
        float *img = malloc(plane * (size_t)(rows * C) * sizeof *img);
        int16_t *seg = malloc(plane * (size_t)rows * sizeof *seg);
        unsigned char *pad = malloc(plane * (size_t)rows);
        pf_preview_input in = {rows, C, H, W, img, seg, pad};
        pf_error err = {0};
        uint64_t size;
        char *png;
        size_t len;
        for (size_t i = 0; i < plane * (size_t)(rows * C); i++)
            img[i] = (float)((i * 2654435761u) % 1000);
        for (size_t i = 0; i < plane * (size_t)rows; i++) {
            seg[i] = (int16_t)(i % 7 == 0 ? 2 : i % 5 == 0 ? -1 : 0);
            pad[i] = (unsigned char)(i % 11 == 0);
        }
        assert_int_equal(pf_preview_png(&in, &png, &len, &err), 0);
        assert_int_equal(pf_preview_png_size(rows, C, H, W, &size, &err), 0);
        assert_int_equal(len, size);
        assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
        free(png);
        free(img);
        free(seg);
        free(pad);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nifti_patch),
        cmocka_unit_test(test_nifti_patch_many_blocks),
        cmocka_unit_test(test_preview_size_independent_of_pixels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
