/* test_prefetch.c - prefetch.h: which files are made ahead of a reader (next steps, wrapping
 * into the next epoch, nothing past the last; only step arrays), and the worker queue (every
 * request run once, duplicates merged, the oldest dropped when full, clean shutdown). */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "prefetch.h"

static pf_node step_file(uint32_t split, uint32_t epoch, uint32_t step, pf_file_kind f)
{
    pf_node n = {.kind = PF_NODE_STEP_FILE, .split = split, .epoch = epoch, .step = step}, out;
    assert_int_equal(pf_node_sibling(&n, f, &out), 0);
    return out;
}

static void test_plan_next_steps(void **state)
{
    pf_tree t = {.epochs = 3, .steps = 5, .val_steps = 2, .samples = 2};
    pf_node out[2 * 8 + 1], n = step_file(0, 1, 2, PF_FILE_STEP_DATA);
    int k;
    (void)state;
    k = pf_prefetch_plan(&t, &n, 2, out);
    assert_int_equal(k, 5);
    /* the other array of the same step first, then data + seg of steps 3 and 4 */
    assert_int_equal(out[0].step, 2);
    assert_int_equal(pf_node_file(&out[0]), PF_FILE_STEP_SEG);
    assert_int_equal(out[1].step, 3);
    assert_int_equal(pf_node_file(&out[1]), PF_FILE_STEP_DATA);
    assert_int_equal(out[2].step, 3);
    assert_int_equal(pf_node_file(&out[2]), PF_FILE_STEP_SEG);
    assert_int_equal(out[4].step, 4);
    for (int i = 0; i < k; i++) {
        assert_int_equal(out[i].kind, PF_NODE_STEP_FILE);
        assert_int_equal(out[i].epoch, 1);
        assert_int_equal(out[i].split, 0);
    }
    /* a reader of seg.npy gets seg first */
    n = step_file(0, 1, 2, PF_FILE_STEP_SEG);
    k = pf_prefetch_plan(&t, &n, 1, out);
    assert_int_equal(k, 3);
    assert_int_equal(pf_node_file(&out[0]), PF_FILE_STEP_DATA);
    assert_int_equal(pf_node_file(&out[1]), PF_FILE_STEP_SEG);
    assert_int_equal(pf_node_file(&out[2]), PF_FILE_STEP_DATA);
}

/* a reader of batch.npz gets the next steps' batch.npz (nothing else: it holds the arrays) */
static void test_plan_batch(void **state)
{
    pf_tree t = {.epochs = 2, .steps = 3, .val_steps = 2, .samples = 2};
    pf_node out[2 * 8 + 1], n = step_file(0, 0, 1, PF_FILE_STEP_BATCH);
    int k;
    (void)state;
    assert_int_equal(pf_node_file(&n), PF_FILE_STEP_BATCH);
    k = pf_prefetch_plan(&t, &n, 3, out);
    assert_int_equal(k, 3);
    for (int i = 0; i < k; i++)
        assert_int_equal(pf_node_file(&out[i]), PF_FILE_STEP_BATCH);
    assert_true(out[0].epoch == 0 && out[0].step == 2);
    assert_true(out[1].epoch == 1 && out[1].step == 0);
    assert_true(out[2].epoch == 1 && out[2].step == 1);
}

static void test_plan_wraps_and_stops(void **state)
{
    pf_tree t = {.epochs = 3, .steps = 5, .val_steps = 2, .samples = 2};
    pf_node out[2 * 8 + 1], n = step_file(1, 0, 1, PF_FILE_STEP_DATA);
    int k;
    (void)state;
    /* val: 2 steps per epoch, so step 1 is followed by epoch 1 step 0 and step 1 */
    k = pf_prefetch_plan(&t, &n, 2, out);
    assert_int_equal(k, 5);
    assert_int_equal(out[1].epoch, 1);
    assert_int_equal(out[1].step, 0);
    assert_int_equal(out[3].epoch, 1);
    assert_int_equal(out[3].step, 1);
    assert_int_equal(out[1].split, 1);
    /* the last step of the last epoch: only its other array */
    n = step_file(0, 2, 4, PF_FILE_STEP_DATA);
    k = pf_prefetch_plan(&t, &n, 4, out);
    assert_int_equal(k, 1);
    assert_int_equal(pf_node_file(&out[0]), PF_FILE_STEP_SEG);
    /* depth 0: the other array only */
    n = step_file(0, 0, 0, PF_FILE_STEP_DATA);
    assert_int_equal(pf_prefetch_plan(&t, &n, 0, out), 1);
}

static void test_plan_other_files(void **state)
{
    pf_tree t = {.epochs = 3, .steps = 5, .val_steps = 2, .samples = 2};
    pf_node out[2 * 8 + 1];
    pf_node meta = step_file(0, 0, 0, PF_FILE_STEP_META);
    pf_node sample = {.kind = PF_NODE_SAMPLE_FILE, .epoch = 0, .step = 0, .slot = 0};
    pf_node cas = {.kind = PF_NODE_CASE_FILE, .case_idx = 0, .slot = 0};
    pf_node root = {.kind = PF_NODE_ROOT};
    (void)state;
    assert_int_equal(pf_prefetch_plan(&t, &meta, 4, out), 0);
    assert_int_equal(pf_prefetch_plan(&t, &sample, 4, out), 0);
    assert_int_equal(pf_prefetch_plan(&t, &cas, 4, out), 0);
    assert_int_equal(pf_prefetch_plan(&t, &root, 4, out), 0);
}

typedef struct recorder {
    pthread_mutex_t lock;
    int seen[64];
    atomic_int calls;
    atomic_int release; /* workers block until set */
} recorder;

static void record(void *arg, const pf_node *n)
{
    recorder *r = arg;
    while (!atomic_load(&r->release)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&r->lock);
    r->seen[n->step]++;
    pthread_mutex_unlock(&r->lock);
    atomic_fetch_add(&r->calls, 1);
}

static void wait_calls(recorder *r, int n)
{
    for (int i = 0; i < 5000 && atomic_load(&r->calls) < n; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static void test_queue_runs_each_once(void **state)
{
    recorder r = {.lock = PTHREAD_MUTEX_INITIALIZER};
    pf_prefetch *p = pf_prefetch_new(2, 32, record, &r);
    unsigned long queued, dropped, done;
    (void)state;
    assert_non_null(p);
    for (uint32_t s = 0; s < 10; s++) {
        pf_node n = step_file(0, 0, s, PF_FILE_STEP_DATA);
        pf_prefetch_push(p, &n);
        pf_prefetch_push(p, &n); /* merged while still queued */
    }
    atomic_store(&r.release, 1);
    wait_calls(&r, 10);
    pf_prefetch_stats(p, &queued, &dropped, &done);
    /* up to two requests were taken by the (blocked) workers before their duplicate came */
    assert_true(queued >= 10 && queued <= 12);
    assert_int_equal(dropped, 0);
    pf_prefetch_free(p);
    for (int s = 0; s < 10; s++)
        assert_true(r.seen[s] >= 1 && r.seen[s] <= 2);
    assert_int_equal(atomic_load(&r.calls), (int)queued);
}

static void test_queue_drops_oldest_when_full(void **state)
{
    recorder r = {.lock = PTHREAD_MUTEX_INITIALIZER};
    pf_prefetch *p = pf_prefetch_new(1, 4, record, &r);
    unsigned long queued, dropped, done;
    struct timespec ts = {0, 20000000};
    (void)state;
    assert_non_null(p);
    {
        pf_node first = step_file(0, 0, 0, PF_FILE_STEP_DATA);
        pf_prefetch_push(p, &first);
    }
    nanosleep(&ts, NULL); /* the worker holds step 0 (blocked) */
    for (uint32_t s = 1; s <= 10; s++) {
        pf_node n = step_file(0, 0, s, PF_FILE_STEP_DATA);
        pf_prefetch_push(p, &n);
    }
    pf_prefetch_stats(p, &queued, &dropped, &done);
    assert_int_equal(queued, 11);
    assert_int_equal(dropped, 6); /* capacity 4: steps 1..6 dropped, 7..10 kept */
    atomic_store(&r.release, 1);
    wait_calls(&r, 5);
    pf_prefetch_free(p);
    assert_int_equal(r.seen[0], 1);
    for (int s = 1; s <= 6; s++)
        assert_int_equal(r.seen[s], 0);
    for (int s = 7; s <= 10; s++)
        assert_int_equal(r.seen[s], 1);
}

static void test_free_with_pending(void **state)
{
    recorder r = {.lock = PTHREAD_MUTEX_INITIALIZER};
    pf_prefetch *p = pf_prefetch_new(3, 64, record, &r);
    (void)state;
    assert_non_null(p);
    for (uint32_t s = 0; s < 40; s++) {
        pf_node n = step_file(0, 0, s, PF_FILE_STEP_SEG);
        pf_prefetch_push(p, &n);
    }
    atomic_store(&r.release, 1);
    pf_prefetch_free(p); /* pending requests are dropped, running ones finish */
    assert_true(atomic_load(&r.calls) <= 40);
    pf_prefetch_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_next_steps),
        cmocka_unit_test(test_plan_wraps_and_stops),
        cmocka_unit_test(test_plan_batch),
        cmocka_unit_test(test_plan_other_files),
        cmocka_unit_test(test_queue_runs_each_once),
        cmocka_unit_test(test_queue_drops_oldest_when_full),
        cmocka_unit_test(test_free_with_pending),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
