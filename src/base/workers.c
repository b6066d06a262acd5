/* workers.c - the process-wide worker pool and parallel for (see workers.h).
 *
 * Work is a queue of jobs. A loop (pf_parallel_for) is one job on its caller's stack that
 * wants up to threads - 1 helpers: a worker that takes it claims indices with an atomic
 * counter until none are left, like the caller does; the caller then withdraws the job (no
 * new helper can join) and waits only for helpers already inside it. A posted function is a
 * heap job that wants one worker. */
#include "workers.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- how many cores ---- */

/* cgroup v2's "quota period" (cpu.max) as whole cores, rounded up; 0 when unlimited/unknown. */
static int cgroup_cores(void)
{
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
    char quota[32];
    long long period;
    int n = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%31s %lld", quota, &period) == 2 && strcmp(quota, "max") != 0 && period > 0) {
        long long q = atoll(quota);
        if (q > 0)
            n = (int)((q + period - 1) / period);
    }
    fclose(f);
    return n;
}

int pf_usable_cores(void)
{
    cpu_set_t set;
    int n = 1, quota = cgroup_cores();
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        n = CPU_COUNT(&set);
    if (quota > 0 && quota < n)
        n = quota;
    return n;
}

/* ---- the pool ---- */

#define MAX_WORKERS 64

typedef struct job job;
struct job {
    void (*run)(job *j);
    job *next;
    int want;          /* helpers still wanted; the job leaves the queue at 0 */
    int active;        /* helpers inside run (guarded by the pool lock) */
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t work, idle;
    job *head, *tail;
    pthread_t tid[MAX_WORKERS];
    int started, stopping;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
          NULL, NULL, {0}, 0, 0};

static void unlink_job(job *j)
{
    job **p = &pool.head, *prev = NULL;
    while (*p && *p != j) {
        prev = *p;
        p = &(*p)->next;
    }
    if (!*p)
        return;
    *p = j->next;
    if (pool.tail == j)
        pool.tail = prev;
    j->next = NULL;
}

static void *worker(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        job *j;
        while (!pool.head && !pool.stopping)
            pthread_cond_wait(&pool.work, &pool.lock);
        if (!pool.head)
            break; /* stopping, nothing left */
        j = pool.head;
        if (--j->want <= 0)
            unlink_job(j);
        j->active++;
        pthread_mutex_unlock(&pool.lock);
        j->run(j); /* may free j (posted jobs): not touched after */
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.idle);
    }
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

/* Starts the workers if they are not running; the number started (0: none could be). Called
 * with the pool lock held. */
static int ensure_started(void)
{
    if (pool.started == 0 && !pool.stopping) {
        int want = pf_usable_cores();
        if (want > MAX_WORKERS)
            want = MAX_WORKERS;
        for (int t = 0; t < want; t++)
            if (pthread_create(&pool.tid[pool.started], NULL, worker, NULL) == 0)
                pool.started++;
    }
    return pool.started;
}

static void enqueue(job *j)
{
    j->next = NULL;
    if (pool.tail)
        pool.tail->next = j;
    else
        pool.head = j;
    pool.tail = j;
    pthread_cond_broadcast(&pool.work);
}

int pf_workers_started(void)
{
    int n;
    pthread_mutex_lock(&pool.lock);
    n = pool.started;
    pthread_mutex_unlock(&pool.lock);
    return n;
}

void pf_workers_stop(void)
{
    int n;
    pthread_mutex_lock(&pool.lock);
    pool.stopping = 1;
    pthread_cond_broadcast(&pool.work);
    n = pool.started;
    pthread_mutex_unlock(&pool.lock);
    for (int t = 0; t < n; t++)
        pthread_join(pool.tid[t], NULL);
    pthread_mutex_lock(&pool.lock);
    pool.started = 0;
    pool.stopping = 0;
    pthread_mutex_unlock(&pool.lock);
}

/* ---- posted functions ---- */

typedef struct posted {
    job j;             /* first: the job is the allocation */
    void (*fn)(void *arg);
    void *arg;
} posted;

static void run_posted(job *j)
{
    posted *p = (posted *)j;
    p->fn(p->arg);
    free(p);
}

int pf_workers_post(void (*fn)(void *arg), void *arg)
{
    posted *p = calloc(1, sizeof *p);
    if (!p)
        return -1;
    p->j.run = run_posted;
    p->j.want = 1;
    p->fn = fn;
    p->arg = arg;
    pthread_mutex_lock(&pool.lock);
    if (ensure_started() == 0) {
        pthread_mutex_unlock(&pool.lock);
        free(p);
        return -1;
    }
    enqueue(&p->j);
    pthread_mutex_unlock(&pool.lock);
    return 0;
}

/* ---- the parallel for ---- */

typedef struct loop {
    job j;             /* first */
    int (*fn)(void *arg, int i, pf_error *err);
    void *arg;
    int next, hi;      /* next index to hand out (atomic) */
    int failed;        /* atomic: stop handing out */
    pthread_mutex_t lock; /* guards the two below */
    int fail_index;
    pf_error err;
} loop;

static void run_indices(loop *l)
{
    for (;;) {
        pf_error e = {0};
        int i = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);
        if (i >= l->hi)
            return;
        /* after a failure only indices below it still run: one handed out before the failing
         * one may reach here after the failure (it must run, or the error reported would not
         * be the lowest failing index's); everything above it is dropped */
        if (__atomic_load_n(&l->failed, __ATOMIC_ACQUIRE)) {
            int above;
            pthread_mutex_lock(&l->lock);
            above = i > l->fail_index;
            pthread_mutex_unlock(&l->lock);
            if (above)
                return;
        }
        if (l->fn(l->arg, i, &e) != 0) {
            pthread_mutex_lock(&l->lock);
            if (!l->failed || i < l->fail_index) {
                l->fail_index = i;
                l->err = e;
            }
            __atomic_store_n(&l->failed, 1, __ATOMIC_RELEASE);
            pthread_mutex_unlock(&l->lock);
        }
    }
}

static void run_loop_helper(job *j)
{
    loop *l = (loop *)j;
    run_indices(l);
    pthread_mutex_lock(&pool.lock);
    j->active--;
    pthread_mutex_unlock(&pool.lock);
}

int pf_parallel_for(int lo, int hi, int threads, int (*fn)(void *arg, int i, pf_error *err),
                    void *arg, pf_error *err)
{
    loop l = {.fn = fn, .arg = arg, .next = lo, .hi = hi};
    int helpers;
    if (hi - lo <= 1 || threads == 1) { /* the common small case: no pool, no lock */
        for (int i = lo; i < hi; i++)
            if (fn(arg, i, err) != 0)
                return -1;
        return 0;
    }
    pthread_mutex_init(&l.lock, NULL);
    l.j.run = run_loop_helper;
    pthread_mutex_lock(&pool.lock);
    helpers = ensure_started();
    if (threads <= 0)
        threads = pf_usable_cores();
    if (threads - 1 < helpers)
        helpers = threads - 1;
    if (hi - lo - 1 < helpers)
        helpers = hi - lo - 1;
    if (helpers > 0) {
        l.j.want = helpers;
        enqueue(&l.j);
    }
    pthread_mutex_unlock(&pool.lock);
    run_indices(&l);
    /* withdraw the job so no new helper joins, then wait for those inside it */
    pthread_mutex_lock(&pool.lock);
    if (helpers > 0)
        unlink_job(&l.j);
    while (l.j.active > 0)
        pthread_cond_wait(&pool.idle, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_destroy(&l.lock);
    if (l.failed) {
        *err = l.err;
        return -1;
    }
    return 0;
}
