/* test_counters.c - the mount's counters (counters.h) as status.json shows them: every error
 * counted in "errors" and in its kind (errors_io for storage failures such as EIO, ENOENT,
 * EACCES, ENOSPC; errors_nomem for ENOMEM; errors_other for the rest), and status.json's text
 * (pf_status_json) keeping one size whatever the numbers, with every key present. */
#include "testutil.h"

#include <jansson.h>

#include "counters.h"

static void test_error_kinds(void **state)
{
    pf_counters c;
    pf_status st;
    static const int io[] = {EIO, ENOENT, EACCES, EPERM, ENOSPC, ESTALE, EROFS};
    (void)state;
    pf_counters_init(&c);
    for (size_t i = 0; i < sizeof io / sizeof io[0]; i++)
        pf_counters_error(&c, io[i]);
    pf_counters_error(&c, ENOMEM);
    pf_counters_error(&c, EINVAL);
    pf_counters_error(&c, EFBIG);
    memset(&st, 0, sizeof st);
    pf_counters_snapshot(&c, &st);
    assert_int_equal(st.errors, 10);
    assert_int_equal(st.errors_io, 7);
    assert_int_equal(st.errors_nomem, 1);
    assert_int_equal(st.errors_other, 2);
    assert_int_equal(pf_error_kind_of(0), PF_ERR_OTHER);
    pf_counters_destroy(&c);
}

static void test_status_json(void **state)
{
    pf_status zero, big;
    char *a, *b;
    json_t *j;
    json_error_t jerr;
    static const char *const keys[] = {"errors", "errors_io", "errors_nomem", "errors_other",
                                       "read_requests", "generate_us_max", "simd"};
    (void)state;
    memset(&zero, 0, sizeof zero);
    /* the widest numbers JSON readers take as integers (19 digits; the field holds 20) */
    for (size_t i = 0; i < sizeof big / sizeof(uint64_t); i++)
        ((uint64_t *)&big)[i] = 9223372036854775807ull;
    big.errors_io = 12345;
    a = pf_status_json(&zero);
    b = pf_status_json(&big);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(strlen(a), strlen(b));
    j = json_loads(b, 0, &jerr);
    assert_non_null(j);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_non_null(json_object_get(j, keys[i]));
    assert_int_equal(json_integer_value(json_object_get(j, "errors_io")), 12345);
    json_decref(j);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_kinds),
        cmocka_unit_test(test_status_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
