/* test_half.c - float32 -> float16 rounding (base/half.c): the portable path against IEEE's
 * rule computed here independently (exact in double: the two nearest halves and ties to
 * even), and the dispatched path (F16C where the CPU has it) bit for bit against the portable
 * one. numpy's astype(float16) is the reference of the integration test (step_files.sh). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "testutil.h"

#include "half.h"

/* the value of half bits h, exactly, in double */
static double half_value(uint16_t h)
{
    const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    const double s = (h & 0x8000) ? -1.0 : 1.0;
    if (e == 0)
        return s * ldexp(m, -24);
    if (e == 31)
        return m ? NAN : s * INFINITY;
    return s * ldexp(1024 + m, e - 25);
}

/* IEEE round to nearest even of f to half: the reference */
static uint16_t reference(float f)
{
    const double v = fabs((double)f);
    const uint16_t sign = signbit(f) ? 0x8000 : 0;
    uint16_t lo = 0, hi;
    if (isnan(f)) {
        uint32_t x;
        memcpy(&x, &f, sizeof x);
        return (uint16_t)(sign | 0x7e00 | ((x >> 13) & 0x3ff));
    }
    if (v >= 65520.0)
        return sign | 0x7c00; /* 65504 + half an ulp (16) and up round to infinity */
    /* the largest half <= v, by bisection on the ordered bit patterns */
    for (uint16_t step = 0x4000; step; step >>= 1)
        if (lo + step <= 0x7bff && half_value((uint16_t)(lo + step)) <= v)
            lo = (uint16_t)(lo + step);
    hi = (uint16_t)(lo + 1);
    if (half_value(lo) == v)
        return sign | lo;
    {
        const double dl = v - half_value(lo), dh = half_value(hi) - v;
        if (dl < dh || (dl == dh && !(lo & 1)))
            return sign | lo;
        return sign | hi;
    }
}

static uint32_t next_word(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*s >> 32);
}

static void test_against_ieee_rule(void **state)
{
    uint64_t s = 42;
    const float edges[] = {0.0f, -0.0f, 1.0f, -1.0f, 65504.0f, 65519.99f, 65520.0f, 65536.0f,
                           INFINITY, -INFINITY, 5.9604645e-8f, 2.9802322e-8f, 2.98023259e-8f,
                           6.1035156e-5f, 6.1035152e-5f, 1.0009765625f, 1.00048828125f,
                           1.00146484375f, 1e-30f, -1e-40f, 3.4e38f, 0.1f, -2.5e-5f};
    (void)state;
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        assert_int_equal(pf_half_from_float(edges[i]), reference(edges[i]));
    for (int i = 0; i < 400000; i++) {
        uint32_t x = next_word(&s);
        float f;
        /* mostly the range halves hold, with every tie pattern of the dropped bits */
        if (i % 4)
            x = (x & 0x80001fffu) | ((0x30000000u + (x % 0x18000000u)) & 0x7fffe000u);
        memcpy(&f, &x, sizeof f);
        if (isnan(f))
            continue;
        if (pf_half_from_float(f) != reference(f))
            fail_msg("bits 0x%08x: got 0x%04x, IEEE 0x%04x", x, pf_half_from_float(f),
                     reference(f));
    }
}

static void test_paths_agree(void **state)
{
    enum { N = 1 << 20 };
    static float src[N];
    static uint16_t a[N], b[N];
    uint64_t s = 7;
    (void)state;
    for (uint32_t i = 0; i < N; i++) {
        uint32_t x = i < 65536 ? (i << 16) | (i & 0xffff) : next_word(&s); /* every exponent */
        memcpy(&src[i], &x, sizeof x);
    }
    pf_half_from_floats_portable(a, src, N);
    pf_half_from_floats(b, src, N);
    assert_memory_equal(a, b, sizeof a);
    /* in place, as the digests do it (half floats over the floats' first half) */
    memcpy(b, a, sizeof a);
    pf_half_from_floats((uint16_t *)src, src, N);
    assert_memory_equal(src, a, sizeof a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_ieee_rule),
        cmocka_unit_test(test_paths_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
