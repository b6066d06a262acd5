/* test_gzip_runs.c - pf_gzip_runs (base/gzip_runs.c) writes gzip that zlib's inflate reads
 * back byte for byte, with its CRC and length checked: label-map-like data (long runs, noisy
 * boundaries), random bytes (no runs: every Huffman code depth), runs of every length around
 * the match limits, several segments, empty input, and a sink that fails. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "testutil.h"

#include "gzip_runs.h"

typedef struct sink_buf {
    unsigned char *p;
    size_t n, cap;
    int fail_after;   /* calls before the sink fails (-1: never) */
} sink_buf;

static int sink(void *arg, const void *buf, size_t len, pf_error *err)
{
    sink_buf *s = arg;
    if (s->fail_after == 0)
        return pf_fail(err, 28, "disk full");
    if (s->fail_after > 0)
        s->fail_after--;
    if (s->n + len > s->cap) {
        s->cap = (s->n + len) * 2;
        s->p = realloc(s->p, s->cap);
        assert_non_null(s->p);
    }
    memcpy(s->p + s->n, buf, len);
    s->n += len;
    return 0;
}

/* gzip's member inflated with zlib (windowBits 31: gzip, trailer checked). */
static unsigned char *inflate_gzip(const unsigned char *p, size_t n, size_t expect)
{
    unsigned char *out = malloc(expect + 1);
    z_stream z = {0};
    assert_non_null(out);
    assert_int_equal(inflateInit2(&z, 31), Z_OK);
    z.next_in = (unsigned char *)p;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)expect + 1;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.total_out, expect);
    assert_int_equal(z.avail_in, 0);
    inflateEnd(&z);
    return out;
}

static void round_trip(const void *const *seg, const size_t *len, int n)
{
    sink_buf s = {.fail_after = -1};
    pf_error err = {0};
    size_t total = 0, at = 0;
    unsigned char *back;
    for (int i = 0; i < n; i++)
        total += len[i];
    assert_int_equal(pf_gzip_runs(seg, len, n, sink, &s, &err), 0);
    back = inflate_gzip(s.p, s.n, total);
    for (int i = 0; i < n; i++) {
        assert_memory_equal(back + at, seg[i], len[i]);
        at += len[i];
    }
    free(back);
    free(s.p);
}

static uint64_t next(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static void test_label_like(void **state)
{
    enum { N = 3 << 20 }; /* several blocks */
    unsigned char *b = malloc(N), hdr[352];
    uint64_t s = 7;
    size_t i = 0;
    (void)state;
    assert_non_null(b);
    while (i < N) { /* runs of 1..5000 of a few labels, now and then a noisy stretch */
        const size_t r = 1 + next(&s) % (next(&s) % 4 ? 5000 : 4);
        const unsigned char v = (unsigned char)(next(&s) % 4);
        for (size_t k = 0; k < r && i < N; k++)
            b[i++] = v;
    }
    for (size_t k = 0; k < sizeof hdr; k++)
        hdr[k] = (unsigned char)next(&s);
    round_trip((const void *const[]){hdr, b}, (const size_t[]){sizeof hdr, N}, 2);
    free(b);
}

static void test_random_bytes(void **state)
{
    enum { N = 700000 };
    unsigned char *b = malloc(N);
    uint64_t s = 3;
    (void)state;
    assert_non_null(b);
    for (size_t i = 0; i < N; i++) /* skewed: some symbols very rare, deep codes */
        b[i] = (unsigned char)(next(&s) % 2 ? 0 : next(&s) % 3 ? next(&s) % 16 : next(&s));
    round_trip((const void *const[]){b}, (const size_t[]){N}, 1);
    for (size_t i = 0; i < N; i++)
        b[i] = (unsigned char)next(&s);
    round_trip((const void *const[]){b}, (const size_t[]){N}, 1);
    free(b);
}

static void test_run_lengths(void **state)
{
    unsigned char *b = malloc(600);
    (void)state;
    assert_non_null(b);
    /* every run length around the match lengths' limits, alone and between other bytes */
    for (size_t r = 1; r < 600; r++) {
        memset(b, 5, r);
        round_trip((const void *const[]){b}, (const size_t[]){r}, 1);
        b[0] = 1;
        b[r - 1] = 2;
        round_trip((const void *const[]){b}, (const size_t[]){r}, 1);
    }
    /* one symbol only, a huge run */
    {
        unsigned char *z = calloc(1, 5 << 20);
        assert_non_null(z);
        round_trip((const void *const[]){z}, (const size_t[]){5 << 20}, 1);
        free(z);
    }
    free(b);
}

static void test_empty_and_failing_sink(void **state)
{
    sink_buf s = {.fail_after = -1};
    pf_error err = {0};
    unsigned char *b = calloc(1, 1 << 21), *back;
    (void)state;
    assert_non_null(b);
    assert_int_equal(pf_gzip_runs((const void *const[]){b}, (const size_t[]){0}, 1, sink, &s,
                                  &err), 0);
    back = inflate_gzip(s.p, s.n, 0);
    free(back);
    free(s.p);
    for (size_t i = 0; i < (1 << 21); i++) /* incompressible enough for several flushes */
        b[i] = (unsigned char)(i * 2654435761u >> 13);
    s = (sink_buf){.fail_after = 1};
    assert_int_equal(pf_gzip_runs((const void *const[]){b}, (const size_t[]){1 << 21}, 1, sink,
                                  &s, &err), -1);
    assert_non_null(strstr(err.msg, "disk full"));
    free(s.p);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_like),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_run_lengths),
        cmocka_unit_test(test_empty_and_failing_sink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
