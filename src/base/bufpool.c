/* bufpool.c - a small pool of large, recently freed buffers (see bufpool.h). */
#include "bufpool.h"

#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>

#define MIN_POOLED ((size_t)1 << 20)
#define SLOTS 16

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    void *p;
    size_t size;     /* usable size */
    unsigned long age; /* release order: the oldest goes first when over the cap */
} slot[SLOTS];
static size_t kept, cap = (size_t)128 << 20;
static unsigned long clock_;

void *pf_pool_alloc(size_t n)
{
    if (n >= MIN_POOLED) {
        int best = -1;
        pthread_mutex_lock(&lock);
        for (int i = 0; i < SLOTS; i++)
            if (slot[i].p && slot[i].size >= n && slot[i].size - n <= n / 4 &&
                (best < 0 || slot[i].size < slot[best].size))
                best = i;
        if (best >= 0) {
            void *p = slot[best].p;
            kept -= slot[best].size;
            slot[best].p = NULL;
            pthread_mutex_unlock(&lock);
            return p;
        }
        pthread_mutex_unlock(&lock);
    }
    return malloc(n);
}

/* Frees kept buffers, oldest first, until `kept` is at most `limit`; called locked. The
 * freed pointers are collected and released after unlocking by the caller. */
static int trim_locked(size_t limit, void *out[SLOTS])
{
    int n = 0;
    while (kept > limit) {
        int old = -1;
        for (int i = 0; i < SLOTS; i++)
            if (slot[i].p && (old < 0 || slot[i].age < slot[old].age))
                old = i;
        if (old < 0)
            break;
        out[n++] = slot[old].p;
        kept -= slot[old].size;
        slot[old].p = NULL;
    }
    return n;
}

void pf_pool_release(void *p)
{
    void *drop[SLOTS];
    int ndrop = 0;
    size_t size;
    if (!p)
        return;
    size = malloc_usable_size(p);
    pthread_mutex_lock(&lock);
    for (int i = 0; size >= MIN_POOLED && size <= cap && i < SLOTS; i++)
        if (!slot[i].p) {
            ndrop = trim_locked(cap - size, drop); /* room first: older buffers go */
            slot[i].p = p;
            slot[i].size = size;
            slot[i].age = ++clock_;
            kept += size;
            p = NULL;
            break;
        }
    pthread_mutex_unlock(&lock);
    free(p); /* small, larger than the cap, or no free slot: not kept */
    for (int i = 0; i < ndrop; i++)
        free(drop[i]);
}

void pf_pool_set_cap(size_t bytes)
{
    void *drop[SLOTS];
    int n;
    pthread_mutex_lock(&lock);
    cap = bytes;
    n = trim_locked(bytes, drop);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < n; i++)
        free(drop[i]);
}

size_t pf_pool_kept(void)
{
    size_t k;
    pthread_mutex_lock(&lock);
    k = kept;
    pthread_mutex_unlock(&lock);
    return k;
}
