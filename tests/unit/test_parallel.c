/* test_parallel.c - the two helpers behind multi-threaded rendering: pf_parallel_for (every
 * index once, whatever the thread count; the lowest failing index's error) and the large
 * buffer pool (reuse by size, the byte cap, small buffers never kept, concurrent use). */
#include "testutil.h"

#include <pthread.h>

#include "bufpool.h"
#include "parallel.h"

typedef struct visits {
    int count[1000];
    int fail_from;      /* indices >= fail_from fail (when >= 0) */
} visits;

static int visit(void *arg, int i, pf_error *err)
{
    visits *v = arg;
    __atomic_fetch_add(&v->count[i], 1, __ATOMIC_RELAXED);
    if (v->fail_from >= 0 && i >= v->fail_from)
        return pf_fail(err, EIO, "index %d failed", i);
    return 0;
}

static void test_every_index_once(void **state)
{
    const int threads[] = {1, 2, 3, 8, 64, 200};
    (void)state;
    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
        visits v;
        pf_error err = {0};
        memset(&v, 0, sizeof v);
        v.fail_from = -1;
        assert_int_equal(pf_parallel_for(5, 1000, threads[t], visit, &v, &err), 0);
        for (int i = 0; i < 1000; i++)
            assert_int_equal(v.count[i], i >= 5 ? 1 : 0);
    }
    {
        visits v;
        pf_error err = {0};
        memset(&v, 0, sizeof v);
        v.fail_from = -1;
        assert_int_equal(pf_parallel_for(7, 7, 4, visit, &v, &err), 0); /* empty range */
        for (int i = 0; i < 1000; i++)
            assert_int_equal(v.count[i], 0);
    }
}

static void test_lowest_failure_reported(void **state)
{
    (void)state;
    for (int threads = 1; threads <= 8; threads *= 2) {
        visits v;
        pf_error err = {0};
        memset(&v, 0, sizeof v);
        v.fail_from = 300;
        assert_int_equal(pf_parallel_for(0, 1000, threads, visit, &v, &err), -1);
        assert_string_equal(err.msg, "index 300 failed");
        assert_int_equal(err.errnum, EIO);
        for (int i = 0; i < 300; i++) /* everything before the failure ran */
            assert_int_equal(v.count[i], 1);
    }
}

static void test_usable_cores(void **state)
{
    (void)state;
    assert_true(pf_usable_cores() >= 1);
}

static void test_pool_reuse(void **state)
{
    const size_t big = (size_t)3 << 20;
    void *a, *b, *c;
    (void)state;
    pf_pool_set_cap((size_t)64 << 20);
    a = pf_pool_alloc(big);
    assert_non_null(a);
    memset(a, 7, big);
    pf_pool_release(a);
    assert_true(pf_pool_kept() >= big);
    b = pf_pool_alloc(big - 4096); /* within a quarter: the kept buffer */
    assert_ptr_equal(b, a);
    assert_int_equal(pf_pool_kept(), 0);
    pf_pool_release(b);
    c = pf_pool_alloc(big / 2); /* much smaller: a fresh buffer, the big one stays */
    assert_ptr_not_equal(c, a);
    assert_true(pf_pool_kept() >= big);
    free(c); /* plain free is allowed */
    c = pf_pool_alloc(big * 2); /* larger: never a smaller kept buffer */
    assert_ptr_not_equal(c, a);
    pf_pool_release(c);
    pf_pool_set_cap(0); /* frees everything kept */
    assert_int_equal(pf_pool_kept(), 0);
    pf_pool_set_cap((size_t)128 << 20);
}

static void test_pool_cap_and_small(void **state)
{
    void *p[8];
    (void)state;
    pf_pool_set_cap((size_t)8 << 20);
    for (int i = 0; i < 8; i++) {
        p[i] = pf_pool_alloc((size_t)2 << 20);
        assert_non_null(p[i]);
    }
    for (int i = 0; i < 8; i++) {
        pf_pool_release(p[i]);
        assert_true(pf_pool_kept() <= (size_t)8 << 20);
    }
    assert_true(pf_pool_kept() > 0);
    pf_pool_set_cap(0);
    {
        void *small = pf_pool_alloc(1000);
        assert_non_null(small);
        pf_pool_set_cap((size_t)8 << 20);
        pf_pool_release(small); /* below 1 MiB: freed, not kept */
        assert_int_equal(pf_pool_kept(), 0);
    }
    pf_pool_release(NULL);
    pf_pool_set_cap((size_t)128 << 20);
}

/* cmocka's asserts are not for other threads: a worker returns what went wrong */
static void *pool_worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < 200; i++) {
        size_t n = ((size_t)1 << 20) + (size_t)(rand_r(&seed) % (3 << 20));
        unsigned char *b = pf_pool_alloc(n);
        if (!b)
            return (void *)"allocation failed";
        b[0] = 1;
        b[n - 1] = 2; /* the whole requested size is usable (ASan would object otherwise) */
        pf_pool_release(b);
    }
    return NULL;
}

static void test_pool_concurrent(void **state)
{
    pthread_t th[4];
    (void)state;
    pf_pool_set_cap((size_t)32 << 20);
    for (uintptr_t t = 0; t < 4; t++)
        assert_int_equal(pthread_create(&th[t], NULL, pool_worker, (void *)(t + 1)), 0);
    for (int t = 0; t < 4; t++) {
        void *problem;
        pthread_join(th[t], &problem);
        assert_null(problem);
    }
    assert_true(pf_pool_kept() <= (size_t)32 << 20);
    pf_pool_set_cap(0);
    pf_pool_set_cap((size_t)128 << 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_index_once),
        cmocka_unit_test(test_lowest_failure_reported),
        cmocka_unit_test(test_usable_cores),
        cmocka_unit_test(test_pool_reuse),
        cmocka_unit_test(test_pool_cap_and_small),
        cmocka_unit_test(test_pool_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
