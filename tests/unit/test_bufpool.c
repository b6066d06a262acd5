/* test_bufpool.c - the large buffer pool behind generated files (bufpool.c): reuse by size,
 * the byte cap, small buffers never kept, concurrent use. */
#include "testutil.h"

#include <pthread.h>

#include "bufpool.h"

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
        cmocka_unit_test(test_pool_reuse),
        cmocka_unit_test(test_pool_cap_and_small),
        cmocka_unit_test(test_pool_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
