/* prefetch.c - a bounded, deduplicated queue of nodes, drained by tasks on the process's
 * worker pool (see prefetch.h). */
#include "prefetch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "workers.h"

struct pf_prefetch {
    pthread_mutex_t lock;
    pthread_cond_t idle;       /* a drain finished */
    pf_prefetch_fn fn;
    void *arg;
    pf_node *ring;
    int cap, head, count, stop;
    int drains, max_drains;    /* drain tasks on the worker pool, and their bound */
    unsigned long queued, dropped, done;
};

static int same_node(const pf_node *a, const pf_node *b)
{
    return pf_node_ino(a) == pf_node_ino(b);
}

/* A task on the process's worker pool: runs queued requests until the queue is empty. */
static void drain(void *arg)
{
    pf_prefetch *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stop && p->count > 0) {
        pf_node n = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->count--;
        pthread_mutex_unlock(&p->lock);
        p->fn(p->arg, &n);
        pthread_mutex_lock(&p->lock);
        p->done++;
    }
    p->drains--;
    pthread_cond_broadcast(&p->idle);
    pthread_mutex_unlock(&p->lock);
}

pf_prefetch *pf_prefetch_new(int workers, int capacity, pf_prefetch_fn fn, void *arg)
{
    pf_prefetch *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->cap = capacity < 1 ? 1 : capacity;
    p->ring = calloc((size_t)p->cap, sizeof *p->ring);
    if (!p->ring) {
        free(p);
        return NULL;
    }
    p->fn = fn;
    p->arg = arg;
    p->max_drains = workers < 1 ? 1 : workers;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->idle, NULL);
    return p;
}

void pf_prefetch_push(pf_prefetch *p, const pf_node *n)
{
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < p->count; i++)
        if (same_node(&p->ring[(p->head + i) % p->cap], n)) {
            pthread_mutex_unlock(&p->lock);
            return;
        }
    if (p->count == p->cap) { /* the oldest request is the likeliest to be stale */
        p->head = (p->head + 1) % p->cap;
        p->count--;
        p->dropped++;
    }
    p->ring[(p->head + p->count) % p->cap] = *n;
    p->count++;
    p->queued++;
    /* one more drain while under the bound; a request the pool cannot take waits for a
     * running drain (or is dropped at free): prefetching is only ever a head start */
    if (p->drains < p->max_drains && !p->stop) {
        p->drains++;
        if (pf_workers_post(drain, p) != 0)
            p->drains--;
    }
    pthread_mutex_unlock(&p->lock);
}

void pf_prefetch_free(pf_prefetch *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    p->count = 0;
    while (p->drains > 0)
        pthread_cond_wait(&p->idle, &p->lock);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->idle);
    free(p->ring);
    free(p);
}

void pf_prefetch_stats(pf_prefetch *p, unsigned long *queued, unsigned long *dropped,
                       unsigned long *done)
{
    pthread_mutex_lock(&p->lock);
    *queued = p->queued;
    *dropped = p->dropped;
    *done = p->done;
    pthread_mutex_unlock(&p->lock);
}

int pf_prefetch_plan(const pf_tree *t, const pf_node *opened, int depth, pf_node *out)
{
    const pf_file_kind first = pf_node_file(opened);
    pf_file_kind other;
    uint32_t steps, epoch, step;
    int k = 0;
    const int batch = first == PF_FILE_STEP_BATCH; /* batch.npz: the next steps' batch.npz */
    if ((first != PF_FILE_STEP_DATA && first != PF_FILE_STEP_SEG && !batch) || depth < 0)
        return 0;
    other = first == PF_FILE_STEP_DATA ? PF_FILE_STEP_SEG : PF_FILE_STEP_DATA;
    steps = opened->split ? t->val_steps : t->steps;
    if (!batch)
        pf_node_sibling(opened, other, &out[k++]);
    epoch = opened->epoch;
    step = opened->step;
    for (int d = 0; d < depth; d++) {
        if (++step >= steps) {
            step = 0;
            if (++epoch >= t->epochs)
                break;
        }
        if (batch) {
            out[k] = *opened;
            out[k].epoch = epoch;
            out[k++].step = step;
            continue;
        }
        /* the kind of array the reader opened first, first */
        for (int f = 0; f < 2; f++) {
            pf_node_sibling(opened, f == 0 ? first : other, &out[k]);
            out[k].epoch = epoch;
            out[k++].step = step;
        }
    }
    return k;
}
