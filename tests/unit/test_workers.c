/* test_workers.c - the process-wide worker pool (workers.c): pf_parallel_for runs every index
 * once whatever the thread count and reports the lowest failing index's error; loops nest
 * and run concurrently from many threads without deadlock while the pool's thread count
 * stays at the core count; posted tasks run; the pool stops and starts again. */
#include "testutil.h"

#include <pthread.h>

#include "workers.h"

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

/* A loop whose every index runs a loop of its own, from several threads at once: callers
 * help their own loops, so nothing waits for a free worker. */
typedef struct nest {
    int inner[64][50];
} nest;

static int inner_visit(void *arg, int i, pf_error *err)
{
    int *row = arg;
    (void)err;
    __atomic_fetch_add(&row[i], 1, __ATOMIC_RELAXED);
    return 0;
}

static int outer_visit(void *arg, int i, pf_error *err)
{
    nest *n = arg;
    return pf_parallel_for(0, 50, 0, inner_visit, n->inner[i], err);
}

static void *outer_thread(void *arg)
{
    pf_error err = {0};
    return pf_parallel_for(0, 64, 0, outer_visit, arg, &err) == 0 ? NULL : (void *)"failed";
}

static void test_nested_and_concurrent(void **state)
{
    pthread_t th[12];
    nest *n = calloc(12, sizeof *n);
    (void)state;
    assert_non_null(n);
    for (int t = 0; t < 12; t++)
        assert_int_equal(pthread_create(&th[t], NULL, outer_thread, &n[t]), 0);
    for (int t = 0; t < 12; t++) {
        void *problem;
        pthread_join(th[t], &problem);
        assert_null(problem);
    }
    for (int t = 0; t < 12; t++)
        for (int i = 0; i < 64; i++)
            for (int k = 0; k < 50; k++)
                assert_int_equal(n[t].inner[i][k], 1);
    /* twelve readers, nested loops: still one pool of one thread per core */
    assert_true(pf_workers_started() >= 1);
    assert_true(pf_workers_started() <= pf_usable_cores());
    free(n);
}

static void bump(void *arg)
{
    __atomic_fetch_add((int *)arg, 1, __ATOMIC_RELAXED);
}

static void test_post_stop_restart(void **state)
{
    int ran = 0;
    (void)state;
    for (int i = 0; i < 100; i++)
        assert_int_equal(pf_workers_post(bump, &ran), 0);
    pf_workers_stop(); /* posted work finishes before the workers leave */
    assert_int_equal(__atomic_load_n(&ran, __ATOMIC_RELAXED), 100);
    assert_int_equal(pf_workers_started(), 0);
    assert_int_equal(pf_workers_post(bump, &ran), 0); /* starts again */
    pf_workers_stop();
    assert_int_equal(ran, 101);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_index_once),
        cmocka_unit_test(test_lowest_failure_reported),
        cmocka_unit_test(test_usable_cores),
        cmocka_unit_test(test_nested_and_concurrent),
        cmocka_unit_test(test_post_stop_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
