/* memcache.h - generated files held in memory while they are read.
 *
 * One generation per file: the first opener generates, concurrent openers of the same file
 * wait for it (condition variable) and share the buffer. Finished buffers stay in an LRU
 * bounded by bytes (the `mem=` option); buffers still open are never evicted. The buffer a
 * generator returns is the one served: no copy. */
#ifndef PATCHFS_MEMCACHE_H
#define PATCHFS_MEMCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct pf_buf {
    char *data;
    size_t len;
    /* private */
    uint64_t key;
    int state, refs;
    size_t reserved; /* counted against the budget while generating */
    pf_error err;
    struct pf_buf *hnext, *prev, *next;
} pf_buf;

typedef struct pf_memcache pf_memcache;

typedef int (*pf_generate_fn)(void *arg, char **data, size_t *len, pf_error *err);

pf_memcache *pf_memcache_new(size_t budget);
void pf_memcache_free(pf_memcache *mc);

/* Returns the buffer for key (generating it with gen(arg) if nobody has), with a reference
 * the caller must drop with pf_memcache_release. NULL on failure, with err set. */
pf_buf *pf_memcache_get(pf_memcache *mc, uint64_t key, pf_generate_fn gen, void *arg,
                        pf_error *err);
void pf_memcache_release(pf_memcache *mc, pf_buf *b);

/* One more reference to a buffer already held (dropped with pf_memcache_release). */
void pf_memcache_ref(pf_memcache *mc, pf_buf *b);

/* pf_memcache_get, telling the expected size of the file: while it is generated, that many
 * bytes count against the budget (idle buffers are evicted to make room first), so memory
 * stays within the budget while files are made, not only once they are ready. */
pf_buf *pf_memcache_get_sized(pf_memcache *mc, uint64_t key, size_t expect, pf_generate_fn gen,
                              void *arg, pf_error *err);

/* 1 if key is held (ready or being generated), without taking a reference. */
int pf_memcache_peek(pf_memcache *mc, uint64_t key);

/* Counters for tests and status: generations performed, hits, bytes held. */
void pf_memcache_stats(pf_memcache *mc, uint64_t *generated, uint64_t *hits, size_t *bytes);

#endif
