/* test_npy.c - the .npy header writer (npy.h): headers are byte-identical to what numpy writes
 * for the same shape and dtype, lengths are multiples of 64, and pf_npy_file_size is header +
 * data. Expected headers were taken from numpy 1.24.2 (/usr/bin/python3):
 *   b = io.BytesIO(); np.save(b, np.zeros(shape, dtype)); b.getvalue()[:10 + HEADER_LEN]
 * (for the huge shapes, np.lib.format._write_array_header(b, {'descr': ..., 'fortran_order':
 * False, 'shape': shape}, (1, 0))); every one is the dict text below, padded with spaces to
 * the pinned total length and ending in '\n'. */
#include "testutil.h"

#include "npy.h"

typedef struct npy_case {
    pf_dtype dtype;
    int ndim;
    int64_t shape[PF_NPY_MAX_DIMS];
    size_t total;        /* header length numpy writes, preamble included */
    const char *dict;    /* numpy's dict text */
    uint64_t file_size;  /* len(np.save bytes) where numpy could hold the array */
} npy_case;

static const npy_case cases[] = {
    {PF_DT_F4, 1, {5}, 128, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }",
     128 + 20},
    {PF_DT_I2, 1, {5}, 128, "{'descr': '<i2', 'fortran_order': False, 'shape': (5,), }",
     128 + 10},
    {PF_DT_F4, 1, {1}, 128, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
     128 + 4},
    {PF_DT_I2, 1, {1}, 128, "{'descr': '<i2', 'fortran_order': False, 'shape': (1,), }",
     128 + 2},
    {PF_DT_F4, 5, {2, 1, 32, 48, 32}, 128,
     "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 32, 48, 32), }", 128 + 393216},
    {PF_DT_I2, 5, {2, 1, 32, 48, 32}, 128,
     "{'descr': '<i2', 'fortran_order': False, 'shape': (2, 1, 32, 48, 32), }", 128 + 196608},
    {PF_DT_F4, 2, {3, 7}, 128, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 7), }",
     128 + 84},
    {PF_DT_I2, 8, {1, 1, 1, 1, 1, 1, 1, 1}, 128,
     "{'descr': '<i2', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1), }", 128 + 2},
    /* the largest step file patchfs can serve: batch 4096, 64 channels, patch 4096^3 */
    {PF_DT_F4, 5, {4096, 64, 4096, 4096, 4096}, 128,
     "{'descr': '<f4', 'fortran_order': False, 'shape': (4096, 64, 4096, 4096, 4096), }",
     128 + 4096ULL * 64 * 4096 * 4096 * 4096 * 4},
    {PF_DT_I2, 5, {12, 4, 512, 512, 512}, 128,
     "{'descr': '<i2', 'fortran_order': False, 'shape': (12, 4, 512, 512, 512), }",
     128 + 12ULL * 4 * 512 * 512 * 512 * 2},
};

/* numpy's header bytes: magic, version 1.0, little-endian HEADER_LEN, dict, spaces, '\n'. */
static void expected_header(const npy_case *c, char *out)
{
    size_t dl = strlen(c->dict), hl = c->total - 10;
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (char)(hl & 0xff);
    out[9] = (char)(hl >> 8);
    memcpy(out + 10, c->dict, dl);
    memset(out + 10 + dl, ' ', c->total - 10 - dl - 1);
    out[c->total - 1] = '\n';
}

static void test_headers_match_numpy(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const npy_case *c = &cases[i];
        char got[1024], want[1024];
        size_t len;
        memset(got, 0x55, sizeof got);
        len = pf_npy_header(got, sizeof got, c->dtype, c->ndim, c->shape);
        assert_int_equal(len, c->total);
        assert_int_equal(len % 64, 0);
        assert_memory_equal(got, "\x93NUMPY\x01\x00", 8);
        expected_header(c, want);
        assert_memory_equal(got, want, c->total);
        assert_int_equal((unsigned char)got[len], 0x55); /* nothing written past the header */
    }
}

static void test_file_size(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const npy_case *c = &cases[i];
        assert_int_equal(pf_npy_file_size(c->dtype, c->ndim, c->shape), c->file_size);
    }
    assert_int_equal(pf_dtype_size(PF_DT_F4), 4);
    assert_int_equal(pf_dtype_size(PF_DT_I2), 2);
}

/* A header + data file written to disk is as long as pf_npy_file_size says, and its header
 * parses by the NEP 1 rules: HEADER_LEN little-endian, dict then spaces then '\n'. */
static void test_written_file_parses(void **state)
{
    char dir[PATH_MAX], path[PATH_MAX];
    const int64_t shape[5] = {2, 1, 4, 3, 5};
    const char *const dicts[2] = {
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 4, 3, 5), }",
        "{'descr': '<i2', 'fortran_order': False, 'shape': (2, 1, 4, 3, 5), }"};
    (void)state;
    tu_mkdtemp(dir, "npy");
    for (int t = 0; t < 2; t++) {
        pf_dtype dt = t ? PF_DT_I2 : PF_DT_F4;
        char hdr[256];
        size_t hl = pf_npy_header(hdr, sizeof hdr, dt, 5, shape), n = 2 * 4 * 3 * 5, len;
        unsigned char *data = calloc(n, pf_dtype_size(dt)), *back;
        const char *dict = dicts[t];
        FILE *f;
        assert_int_equal(hl, 128);
        tu_path(path, "%s/a%d.npy", dir, t);
        f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(hdr, 1, hl, f), hl);
        assert_int_equal(fwrite(data, pf_dtype_size(dt), n, f), n);
        fclose(f);
        back = tu_read_file(path, &len);
        assert_int_equal(len, pf_npy_file_size(dt, 5, shape));
        assert_int_equal(back[8] | (back[9] << 8), (int)hl - 10);
        assert_int_equal(back[hl - 1], '\n');
        assert_memory_equal(back + 10, dict, strlen(dict));
        for (size_t i = 10 + strlen(dict); i < hl - 1; i++)
            assert_int_equal(back[i], ' ');
        free(back);
        free(data);
    }
    tu_rm_rf(dir);
}

/* A buffer too small for the header gets nothing; exactly enough is fine. */
static void test_capacity(void **state)
{
    char buf[128];
    const int64_t shape[1] = {5};
    (void)state;
    assert_int_equal(pf_npy_header(buf, 127, PF_DT_F4, 1, shape), 0);
    assert_int_equal(pf_npy_header(buf, 64, PF_DT_F4, 1, shape), 0);
    assert_int_equal(pf_npy_header(buf, 128, PF_DT_F4, 1, shape), 128);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_headers_match_numpy),
        cmocka_unit_test(test_file_size),
        cmocka_unit_test(test_written_file_parses),
        cmocka_unit_test(test_capacity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
