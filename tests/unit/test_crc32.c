/* test_crc32.c - pf_crc32 (base/crc32.c) equals zlib's crc32 at every length up to 1 KiB,
 * at every alignment, chained, and on large buffers (the folded path and its tail). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "testutil.h"

#include "crc32.h"

static void test_equals_zlib(void **state)
{
    enum { N = 1 << 22 };
    unsigned char *b = malloc(N + 64);
    uint64_t s = 1;
    (void)state;
    assert_non_null(b);
    for (size_t i = 0; i < N + 64; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        b[i] = (unsigned char)(s >> 56);
    }
    assert_int_equal(pf_crc32(0, "123456789", 9), 0xcbf43926u); /* the check value */
    for (size_t len = 0; len <= 1024; len++)
        for (size_t off = 0; off < 16; off += (len < 200 ? 1 : 7))
            if (pf_crc32(0, b + off, len) != (uint32_t)crc32_z(0, b + off, len))
                fail_msg("length %zu at offset %zu", len, off);
    for (size_t len = N - 70; len <= N; len += 13)
        assert_int_equal(pf_crc32(0, b + 3, len), (uint32_t)crc32_z(0, b + 3, len));
    /* chained, as members are checked in pieces */
    assert_int_equal(pf_crc32(pf_crc32(0, b, 1000), b + 1000, N - 1000),
                     (uint32_t)crc32_z(0, b, N));
    assert_int_equal(pf_crc32(0x12345678u, b, 4096), (uint32_t)crc32_z(0x12345678u, b, 4096));
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_equals_zlib)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
