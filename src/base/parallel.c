/* parallel.c - a parallel for over independent indices (see parallel.h). */
#include "parallel.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

int pf_usable_cores(void)
{
    cpu_set_t set;
    int n;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1;
    n = CPU_COUNT(&set);
    return n > 0 ? n : 1;
}

typedef struct loop {
    int (*fn)(void *arg, int i, pf_error *err);
    void *arg;
    int next, hi;                 /* next index to hand out (atomic) */
    int failed;                   /* atomic: stop handing out */
    pthread_mutex_t lock;         /* guards the two below */
    int fail_index;
    pf_error err;
} loop;

static void *work(void *p)
{
    loop *l = p;
    for (;;) {
        pf_error e = {0};
        int i = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);
        if (i >= l->hi || __atomic_load_n(&l->failed, __ATOMIC_RELAXED))
            return NULL;
        if (l->fn(l->arg, i, &e) != 0) {
            pthread_mutex_lock(&l->lock);
            if (!l->failed || i < l->fail_index) {
                l->fail_index = i;
                l->err = e;
            }
            __atomic_store_n(&l->failed, 1, __ATOMIC_RELAXED);
            pthread_mutex_unlock(&l->lock);
        }
    }
}

#define MAX_THREADS 64

int pf_parallel_for(int lo, int hi, int threads, int (*fn)(void *arg, int i, pf_error *err),
                    void *arg, pf_error *err)
{
    loop l = {.fn = fn, .arg = arg, .next = lo, .hi = hi};
    pthread_t th[MAX_THREADS];
    int started = 0;
    if (threads > hi - lo)
        threads = hi - lo;
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    if (threads <= 1) { /* the common small case: no threads, no lock */
        for (int i = lo; i < hi; i++)
            if (fn(arg, i, err) != 0)
                return -1;
        return 0;
    }
    pthread_mutex_init(&l.lock, NULL);
    for (int t = 1; t < threads; t++)
        if (pthread_create(&th[started], NULL, work, &l) == 0)
            started++;
    work(&l);
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    pthread_mutex_destroy(&l.lock);
    if (l.failed) {
        *err = l.err;
        return -1;
    }
    return 0;
}
