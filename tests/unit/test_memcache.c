/* test_memcache.c - the generated-file memory cache (memcache.h): single-flight generation
 * under 16 concurrent openers, separate generation per key, error propagation to every waiter
 * and retry afterwards, the byte budget once buffers are released, LRU order, that a
 * buffer still referenced is never freed, the reservation of an expected size while a file is
 * generated (pf_memcache_get_sized), and pf_memcache_peek. */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "memcache.h"

typedef struct gen_arg {
    atomic_int calls;
    int sleep_ms;
    size_t len;
    int fail;
    char fill;
} gen_arg;

/* Generates len bytes of `fill` after sleep_ms, or fails with a message. */
static int generate(void *p, char **data, size_t *len, pf_error *err)
{
    gen_arg *g = p;
    atomic_fetch_add(&g->calls, 1);
    if (g->sleep_ms) {
        struct timespec ts = {0, (long)g->sleep_ms * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (g->fail)
        return pf_fail(err, EIO, "generator failed on purpose");
    *data = malloc(g->len ? g->len : 1);
    if (!*data)
        return pf_fail(err, ENOMEM, "out of memory");
    memset(*data, g->fill, g->len);
    *len = g->len;
    return 0;
}

static int all_bytes(const pf_buf *b, char c)
{
    for (size_t i = 0; i < b->len; i++)
        if (b->data[i] != c)
            return 0;
    return 1;
}

enum { THREADS = 16 };

typedef struct opener {
    pf_memcache *mc;
    gen_arg *g;
    uint64_t key;
    pthread_barrier_t *barrier;
    pf_buf *got;
    pf_error err;
} opener;

static void *open_one(void *p)
{
    opener *o = p;
    pthread_barrier_wait(o->barrier);
    o->got = pf_memcache_get(o->mc, o->key, generate, o->g, &o->err);
    return NULL;
}

/* Starts THREADS openers of key at once and waits for all of them. */
static void open_concurrently(pf_memcache *mc, gen_arg *g, uint64_t key, opener *ops)
{
    pthread_t tid[THREADS];
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        memset(&ops[i], 0, sizeof ops[i]);
        ops[i].mc = mc;
        ops[i].g = g;
        ops[i].key = key;
        ops[i].barrier = &barrier;
        assert_int_equal(pthread_create(&tid[i], NULL, open_one, &ops[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(tid[i], NULL);
    pthread_barrier_destroy(&barrier);
}

static void test_single_flight(void **state)
{
    pf_memcache *mc = pf_memcache_new(1 << 20);
    gen_arg g = {.sleep_ms = 50, .len = 1000, .fill = 'a'};
    opener ops[THREADS];
    uint64_t generated, hits;
    size_t bytes;
    (void)state;
    assert_non_null(mc);
    open_concurrently(mc, &g, 42, ops);
    assert_int_equal(atomic_load(&g.calls), 1);
    for (int i = 0; i < THREADS; i++) {
        assert_non_null(ops[i].got);
        assert_ptr_equal(ops[i].got, ops[0].got);
    }
    assert_int_equal(ops[0].got->len, 1000);
    assert_true(all_bytes(ops[0].got, 'a'));
    pf_memcache_stats(mc, &generated, &hits, &bytes);
    assert_int_equal(generated, 1);
    assert_int_equal(hits, THREADS - 1);
    assert_int_equal(bytes, 1000);
    for (int i = 0; i < THREADS; i++)
        pf_memcache_release(mc, ops[i].got);
    /* a later open is a hit on the kept buffer */
    {
        pf_error err = {0};
        pf_buf *b = pf_memcache_get(mc, 42, generate, &g, &err);
        assert_ptr_equal(b, ops[0].got);
        assert_int_equal(atomic_load(&g.calls), 1);
        pf_memcache_release(mc, b);
    }
    pf_memcache_free(mc);
}

static void test_distinct_keys(void **state)
{
    pf_memcache *mc = pf_memcache_new(1 << 20);
    gen_arg g[4] = {{.len = 10, .fill = 'w'}, {.len = 20, .fill = 'x'}, {.len = 30, .fill = 'y'},
                    {.len = 40, .fill = 'z'}};
    /* keys that differ in high bits only, and one that is 0 */
    const uint64_t keys[4] = {0, 1ULL << 63, 4096, 4096ULL << 32};
    pf_error err = {0};
    (void)state;
    for (int round = 0; round < 2; round++)
        for (int k = 0; k < 4; k++) {
            pf_buf *b = pf_memcache_get(mc, keys[k], generate, &g[k], &err);
            assert_non_null(b);
            assert_int_equal(b->len, g[k].len);
            assert_true(all_bytes(b, g[k].fill));
            pf_memcache_release(mc, b);
        }
    for (int k = 0; k < 4; k++)
        assert_int_equal(atomic_load(&g[k].calls), 1);
    {
        uint64_t generated, hits;
        size_t bytes;
        pf_memcache_stats(mc, &generated, &hits, &bytes);
        assert_int_equal(generated, 4);
        assert_int_equal(hits, 4);
        assert_int_equal(bytes, 10 + 20 + 30 + 40);
    }
    pf_memcache_free(mc);
}

static void test_failure_propagates_then_retries(void **state)
{
    pf_memcache *mc = pf_memcache_new(1 << 20);
    gen_arg bad = {.sleep_ms = 50, .fail = 1};
    gen_arg good = {.len = 8, .fill = 'q'};
    opener ops[THREADS];
    pf_error err = {0};
    pf_buf *b;
    (void)state;
    open_concurrently(mc, &bad, 7, ops);
    assert_int_equal(atomic_load(&bad.calls), 1);
    for (int i = 0; i < THREADS; i++) {
        assert_null(ops[i].got);
        assert_string_equal(ops[i].err.msg, "generator failed on purpose");
        assert_int_equal(ops[i].err.errnum, EIO);
    }
    /* the failure is not cached: the next open generates again */
    b = pf_memcache_get(mc, 7, generate, &good, &err);
    assert_non_null(b);
    assert_int_equal(atomic_load(&good.calls), 1);
    assert_true(all_bytes(b, 'q'));
    pf_memcache_release(mc, b);
    {
        uint64_t generated, hits;
        size_t bytes;
        pf_memcache_stats(mc, &generated, &hits, &bytes);
        assert_int_equal(generated, 1); /* failures are not counted as generations */
        assert_int_equal(bytes, 8);
    }
    pf_memcache_free(mc);
}

static size_t held_bytes(pf_memcache *mc)
{
    uint64_t generated, hits;
    size_t bytes;
    pf_memcache_stats(mc, &generated, &hits, &bytes);
    return bytes;
}

/* Budget 100 bytes, 40-byte files: after every release at most two stay. */
static void test_budget_and_lru(void **state)
{
    pf_memcache *mc = pf_memcache_new(100);
    gen_arg g[6];
    pf_error err = {0};
    pf_buf *b;
    (void)state;
    for (int k = 0; k < 6; k++)
        g[k] = (gen_arg){.len = 40, .fill = (char)('a' + k)};
    for (int k = 0; k < 6; k++) {
        b = pf_memcache_get(mc, (uint64_t)k, generate, &g[k], &err);
        assert_non_null(b);
        pf_memcache_release(mc, b);
        assert_true(held_bytes(mc) <= 100);
    }
    assert_int_equal(held_bytes(mc), 80); /* keys 4 and 5 */
    /* touch 4, then add 6: the least recently used (5) goes, 4 stays */
    b = pf_memcache_get(mc, 4, generate, &g[4], &err);
    pf_memcache_release(mc, b);
    {
        gen_arg g6 = {.len = 40, .fill = 'z'};
        b = pf_memcache_get(mc, 6, generate, &g6, &err);
        pf_memcache_release(mc, b);
    }
    b = pf_memcache_get(mc, 4, generate, &g[4], &err);
    assert_int_equal(atomic_load(&g[4].calls), 1); /* still cached */
    assert_true(all_bytes(b, 'e'));
    pf_memcache_release(mc, b);
    b = pf_memcache_get(mc, 5, generate, &g[5], &err);
    assert_int_equal(atomic_load(&g[5].calls), 2); /* was evicted, generated again */
    pf_memcache_release(mc, b);
    assert_true(held_bytes(mc) <= 100);
    pf_memcache_free(mc);
}

/* A buffer larger than the budget is kept while referenced (even across other generations),
 * and dropped once released. */
static void test_referenced_never_freed(void **state)
{
    pf_memcache *mc = pf_memcache_new(50);
    gen_arg big = {.len = 60, .fill = 'B'}, small[5];
    pf_error err = {0};
    pf_buf *held, *b;
    (void)state;
    held = pf_memcache_get(mc, 100, generate, &big, &err);
    assert_non_null(held);
    assert_int_equal(held_bytes(mc), 60); /* over budget, but in use */
    for (int k = 0; k < 5; k++) {
        small[k] = (gen_arg){.len = 30, .fill = (char)('0' + k)};
        b = pf_memcache_get(mc, (uint64_t)k, generate, &small[k], &err);
        assert_non_null(b);
        pf_memcache_release(mc, b);
        assert_int_equal(held->len, 60);
        assert_true(all_bytes(held, 'B'));
    }
    /* a second opener of the held file shares it without generating */
    b = pf_memcache_get(mc, 100, generate, &big, &err);
    assert_ptr_equal(b, held);
    assert_int_equal(atomic_load(&big.calls), 1);
    pf_memcache_release(mc, b);
    assert_true(all_bytes(held, 'B'));
    assert_true(held_bytes(mc) >= 60);
    pf_memcache_release(mc, held);
    assert_true(held_bytes(mc) <= 50);
    b = pf_memcache_get(mc, 100, generate, &big, &err);
    assert_int_equal(atomic_load(&big.calls), 2); /* evicted after release */
    pf_memcache_release(mc, b);
    pf_memcache_free(mc);
}

/* pf_memcache_get_sized: the expected size counts against the budget while the file is
 * made, so idle buffers are evicted before the generation, not after it. */
typedef struct sized_arg {
    pf_memcache *mc;
    size_t seen_bytes; /* bytes held, as seen from inside the generator */
    gen_arg g;
} sized_arg;

static int generate_sized(void *p, char **data, size_t *len, pf_error *err)
{
    sized_arg *s = p;
    uint64_t generated, hits;
    pf_memcache_stats(s->mc, &generated, &hits, &s->seen_bytes);
    return generate(&s->g, data, len, err);
}

static void test_sized_reserves_budget(void **state)
{
    pf_memcache *mc = pf_memcache_new(100);
    gen_arg g[2] = {{.len = 40, .fill = 'a'}, {.len = 40, .fill = 'b'}};
    sized_arg s = {.mc = mc, .g = {.len = 60, .fill = 'c'}};
    pf_error err = {0};
    pf_buf *b;
    (void)state;
    for (int k = 0; k < 2; k++) {
        b = pf_memcache_get(mc, (uint64_t)k, generate, &g[k], &err);
        pf_memcache_release(mc, b);
    }
    assert_int_equal(held_bytes(mc), 80);
    /* 60 expected: key 0 (the least recently used) goes first, key 1 stays */
    b = pf_memcache_get_sized(mc, 9, 60, generate_sized, &s, &err);
    assert_non_null(b);
    assert_int_equal(s.seen_bytes, 40 + 60);
    assert_int_equal(held_bytes(mc), 40 + 60);
    assert_true(all_bytes(b, 'c'));
    assert_int_equal(pf_memcache_peek(mc, 0), 0);
    assert_int_equal(pf_memcache_peek(mc, 1), 1);
    assert_int_equal(pf_memcache_peek(mc, 9), 1);
    pf_memcache_release(mc, b);
    /* a wrong guess is corrected once the real size is known */
    s.g.len = 10;
    b = pf_memcache_get_sized(mc, 10, 50, generate_sized, &s, &err);
    assert_non_null(b);
    assert_int_equal(b->len, 10);
    pf_memcache_release(mc, b);
    assert_true(held_bytes(mc) <= 100);
    {
        uint64_t generated, hits;
        size_t bytes;
        pf_memcache_stats(mc, &generated, &hits, &bytes);
        assert_int_equal(bytes % 10, 0); /* only real lengths (40, 60, 10) remain counted */
    }
    /* a failed sized generation gives its reservation back (the idle buffers were evicted
     * to make room for its 1000 bytes) */
    {
        gen_arg bad = {.fail = 1};
        assert_null(pf_memcache_get_sized(mc, 11, 1000, generate, &bad, &err));
        assert_int_equal(held_bytes(mc), 0);
        assert_int_equal(pf_memcache_peek(mc, 11), 0);
    }
    pf_memcache_free(mc);
}

/* peek sees a file while it is being generated (so prefetch does not queue it twice). */
typedef struct peek_arg {
    pf_memcache *mc;
    int seen;
} peek_arg;

static int generate_peeking(void *p, char **data, size_t *len, pf_error *err)
{
    peek_arg *a = p;
    (void)err;
    a->seen = pf_memcache_peek(a->mc, 5);
    *data = malloc(1);
    *len = 1;
    **data = 'p';
    return 0;
}

static void test_peek_while_generating(void **state)
{
    pf_memcache *mc = pf_memcache_new(1000);
    peek_arg a = {.mc = mc};
    pf_error err = {0};
    pf_buf *b;
    (void)state;
    assert_int_equal(pf_memcache_peek(mc, 5), 0);
    b = pf_memcache_get(mc, 5, generate_peeking, &a, &err);
    assert_non_null(b);
    assert_int_equal(a.seen, 1);
    pf_memcache_release(mc, b);
    assert_int_equal(pf_memcache_peek(mc, 5), 1);
    pf_memcache_free(mc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_flight),
        cmocka_unit_test(test_distinct_keys),
        cmocka_unit_test(test_failure_propagates_then_retries),
        cmocka_unit_test(test_budget_and_lru),
        cmocka_unit_test(test_referenced_never_freed),
        cmocka_unit_test(test_sized_reserves_budget),
        cmocka_unit_test(test_peek_while_generating),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
