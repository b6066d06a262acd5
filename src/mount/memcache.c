/* memcache.c - single-flight generation and a byte-bounded LRU of generated files
 * (see memcache.h). Bytes counted against the budget: ready buffers plus the expected size of
 * generations in flight, so the budget also bounds memory while files are being made. */
#include "memcache.h"

#include "bufpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 4096

enum { ST_GENERATING, ST_READY, ST_FAILED };

struct pf_memcache {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t budget, bytes;
    uint64_t generated, hits;
    pf_buf *buckets[NBUCKETS];
    pf_buf lru; /* sentinel: lru.next is the most recently used */
};

pf_memcache *pf_memcache_new(size_t budget)
{
    pf_memcache *mc = calloc(1, sizeof *mc);
    if (!mc)
        return NULL;
    pthread_mutex_init(&mc->lock, NULL);
    pthread_cond_init(&mc->cond, NULL);
    mc->budget = budget;
    mc->lru.next = mc->lru.prev = &mc->lru;
    return mc;
}

static size_t bucket_of(uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t)(key % NBUCKETS);
}

static void lru_unlink(pf_buf *b)
{
    if (b->next) {
        b->prev->next = b->next;
        b->next->prev = b->prev;
        b->next = b->prev = NULL;
    }
}

static void lru_push_front(pf_memcache *mc, pf_buf *b)
{
    b->next = mc->lru.next;
    b->prev = &mc->lru;
    mc->lru.next->prev = b;
    mc->lru.next = b;
}

static void table_remove(pf_memcache *mc, pf_buf *b)
{
    pf_buf **pp = &mc->buckets[bucket_of(b->key)];
    while (*pp && *pp != b)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = b->hnext;
}

static void destroy(pf_memcache *mc, pf_buf *b)
{
    if (b->state == ST_READY)
        mc->bytes -= b->len;
    else if (b->state == ST_GENERATING)
        mc->bytes -= b->reserved;
    pf_pool_release(b->data); /* a large buffer may serve the next file */
    free(b);
}

/* Drop least recently used idle buffers until the budget holds. */
static void evict(pf_memcache *mc)
{
    pf_buf *b = mc->lru.prev;
    while (mc->bytes > mc->budget && b != &mc->lru) {
        pf_buf *prev = b->prev;
        if (b->refs == 0) {
            lru_unlink(b);
            table_remove(mc, b);
            destroy(mc, b);
        }
        b = prev;
    }
}

int pf_memcache_peek(pf_memcache *mc, uint64_t key)
{
    pf_buf *b;
    pthread_mutex_lock(&mc->lock);
    for (b = mc->buckets[bucket_of(key)]; b && b->key != key; b = b->hnext)
        ;
    pthread_mutex_unlock(&mc->lock);
    return b != NULL;
}

pf_buf *pf_memcache_get(pf_memcache *mc, uint64_t key, pf_generate_fn gen, void *arg,
                        pf_error *err)
{
    return pf_memcache_get_sized(mc, key, 0, gen, arg, err);
}

pf_buf *pf_memcache_get_sized(pf_memcache *mc, uint64_t key, size_t expect, pf_generate_fn gen,
                              void *arg, pf_error *err)
{
    pf_buf *b;
    size_t h = bucket_of(key);
    int rc;

    pthread_mutex_lock(&mc->lock);
    for (b = mc->buckets[h]; b && b->key != key; b = b->hnext)
        ;
    if (b) {
        b->refs++;
        while (b->state == ST_GENERATING)
            pthread_cond_wait(&mc->cond, &mc->lock);
        if (b->state == ST_FAILED) {
            if (err)
                *err = b->err;
            if (--b->refs == 0)
                destroy(mc, b);
            pthread_mutex_unlock(&mc->lock);
            return NULL;
        }
        mc->hits++;
        lru_unlink(b);
        lru_push_front(mc, b);
        pthread_mutex_unlock(&mc->lock);
        return b;
    }
    b = calloc(1, sizeof *b);
    if (!b) {
        pthread_mutex_unlock(&mc->lock);
        pf_fail(err, ENOMEM, "out of memory");
        return NULL;
    }
    b->key = key;
    b->state = ST_GENERATING;
    b->refs = 1;
    b->reserved = expect;
    b->hnext = mc->buckets[h];
    mc->buckets[h] = b;
    /* room for what is about to be made: idle buffers go first */
    mc->bytes += expect;
    evict(mc);
    pthread_mutex_unlock(&mc->lock);

    /* generate outside the lock: other files proceed in parallel */
    rc = gen(arg, &b->data, &b->len, &b->err);

    pthread_mutex_lock(&mc->lock);
    mc->bytes -= b->reserved;
    b->reserved = 0;
    if (rc != 0) {
        b->state = ST_FAILED;
        table_remove(mc, b);
        if (err)
            *err = b->err;
        pthread_cond_broadcast(&mc->cond);
        if (--b->refs == 0)
            destroy(mc, b);
        pthread_mutex_unlock(&mc->lock);
        return NULL;
    }
    b->state = ST_READY;
    mc->generated++;
    mc->bytes += b->len;
    lru_push_front(mc, b);
    evict(mc);
    pthread_cond_broadcast(&mc->cond);
    pthread_mutex_unlock(&mc->lock);
    return b;
}

void pf_memcache_ref(pf_memcache *mc, pf_buf *b)
{
    pthread_mutex_lock(&mc->lock);
    b->refs++;
    pthread_mutex_unlock(&mc->lock);
}

void pf_memcache_release(pf_memcache *mc, pf_buf *b)
{
    pthread_mutex_lock(&mc->lock);
    b->refs--;
    evict(mc);
    pthread_mutex_unlock(&mc->lock);
}

void pf_memcache_stats(pf_memcache *mc, uint64_t *generated, uint64_t *hits, size_t *bytes)
{
    pthread_mutex_lock(&mc->lock);
    *generated = mc->generated;
    *hits = mc->hits;
    *bytes = mc->bytes;
    pthread_mutex_unlock(&mc->lock);
}

void pf_memcache_free(pf_memcache *mc)
{
    if (!mc)
        return;
    for (size_t i = 0; i < NBUCKETS; i++) {
        pf_buf *b = mc->buckets[i];
        while (b) {
            pf_buf *n = b->hnext;
            destroy(mc, b);
            b = n;
        }
    }
    pthread_mutex_destroy(&mc->lock);
    pthread_cond_destroy(&mc->cond);
    free(mc);
}
