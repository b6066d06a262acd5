/* test_mt19937.c - numpy's legacy generator (mt19937.c): bounded draws equal what numpy 1.24
 * gives for np.random.RandomState(1234).choice(np.arange(n), 8, replace=True) (randint for
 * n >= 2^32), including the 64-bit path, and one stream continued across two draws (as nnU-Net's
 * fingerprint draws channel after channel from one RandomState). Vectors printed by numpy. */
#include "testutil.h"

#include "mt19937.h"

static void check_choice(uint64_t n, const uint64_t want[8])
{
    pf_mt19937 s;
    pf_mt_seed(&s, 1234);
    for (int i = 0; i < 8; i++) {
        uint64_t got = pf_mt_interval(&s, n - 1);
        if (got != want[i])
            fail_msg("n = %llu, draw %d: %llu, numpy %llu", (unsigned long long)n, i,
                     (unsigned long long)got, (unsigned long long)want[i]);
    }
}

static void test_choice_matches_numpy(void **state)
{
    static const uint64_t n1[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    static const uint64_t n2[8] = {1, 1, 0, 1, 0, 0, 0, 1};
    static const uint64_t n7[8] = {3, 6, 5, 4, 4, 0, 1, 1};
    static const uint64_t n1000[8] = {815, 723, 294, 53, 204, 372, 664, 655};
    static const uint64_t n70001[8] = {58067, 34086, 60620, 32399, 55985, 41239, 9449, 23706};
    static const uint64_t big[8] = {3512589365u, 2629000564u, 3312965625u, 852631582u,
                                    682106748u, 498808182u, 55437432u, 2090933724u};
    (void)state;
    check_choice(1, n1);
    check_choice(2, n2);
    check_choice(7, n7);
    check_choice(1000, n1000);
    check_choice(70001, n70001);
    check_choice(4294967301ull, big);
}

static void test_stream_continues(void **state)
{
    static const uint64_t a[3] = {3, 4, 4}, b[3] = {8, 1, 7};
    pf_mt19937 s;
    (void)state;
    pf_mt_seed(&s, 1234);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pf_mt_interval(&s, 4), a[i]);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pf_mt_interval(&s, 8), b[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_choice_matches_numpy),
        cmocka_unit_test(test_stream_continues),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
