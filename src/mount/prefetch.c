/* prefetch.c - a bounded, deduplicated queue of nodes served by worker threads
 * (see prefetch.h). */
#include "prefetch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct pf_prefetch {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pf_prefetch_fn fn;
    void *arg;
    pf_node *ring;
    int cap, head, count, stop, nworkers;
    unsigned long queued, dropped, done;
    pthread_t *tid;
};

static int same_node(const pf_node *a, const pf_node *b)
{
    return pf_node_ino(a) == pf_node_ino(b);
}

static void *worker(void *arg)
{
    pf_prefetch *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        pf_node n;
        while (!p->stop && p->count == 0)
            pthread_cond_wait(&p->cond, &p->lock);
        if (p->stop)
            break;
        n = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->count--;
        pthread_mutex_unlock(&p->lock);
        p->fn(p->arg, &n);
        pthread_mutex_lock(&p->lock);
        p->done++;
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

pf_prefetch *pf_prefetch_new(int workers, int capacity, pf_prefetch_fn fn, void *arg)
{
    pf_prefetch *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->cap = capacity < 1 ? 1 : capacity;
    p->ring = calloc((size_t)p->cap, sizeof *p->ring);
    p->tid = calloc((size_t)(workers < 1 ? 1 : workers), sizeof *p->tid);
    if (!p->ring || !p->tid) {
        free(p->ring);
        free(p->tid);
        free(p);
        return NULL;
    }
    p->fn = fn;
    p->arg = arg;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    for (int i = 0; i < (workers < 1 ? 1 : workers); i++) {
        if (pthread_create(&p->tid[i], NULL, worker, p) != 0)
            break;
        p->nworkers++;
    }
    if (p->nworkers == 0) {
        pf_prefetch_free(p);
        return NULL;
    }
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
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

void pf_prefetch_free(pf_prefetch *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    p->count = 0;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nworkers; i++)
        pthread_join(p->tid[i], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->ring);
    free(p->tid);
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
    uint32_t steps, epoch, step;
    int k = 0;
    if (opened->kind != PF_NODE_STEP_FILE ||
        (opened->file != PF_FILE_DATA && opened->file != PF_FILE_SEG) || depth < 0)
        return 0;
    steps = opened->split ? t->val_steps : t->steps;
    out[k] = *opened;
    out[k++].file = opened->file == PF_FILE_DATA ? PF_FILE_SEG : PF_FILE_DATA;
    epoch = opened->epoch;
    step = opened->step;
    for (int d = 0; d < depth; d++) {
        if (++step >= steps) {
            step = 0;
            if (++epoch >= t->epochs)
                break;
        }
        for (int f = 0; f < 2; f++) {
            out[k] = *opened;
            out[k].epoch = epoch;
            out[k].step = step;
            /* the kind of array the reader opened first, first */
            out[k++].file = f == 0 ? opened->file
                                   : (opened->file == PF_FILE_DATA ? PF_FILE_SEG : PF_FILE_DATA);
        }
    }
    return k;
}
