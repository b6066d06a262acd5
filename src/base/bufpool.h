/* bufpool.h - a small process-wide pool of large, recently freed buffers.
 *
 * A generated file or a transform's scratch array is megabytes. A fresh mapping of that size
 * costs a page fault and the zeroing of every page on first touch: in a busy mount about a
 * tenth of all CPU time. Buffers given back here are kept (up to a byte cap) and handed to the
 * next request of a similar size, already faulted in. Everything is still ordinary malloc
 * memory: a buffer from pf_pool_alloc may be passed to free() instead, it just is not reused.
 * Contents of a reused buffer are whatever was there (as with malloc). Thread-safe. */
#ifndef PATCHFS_BUFPOOL_H
#define PATCHFS_BUFPOOL_H

#include <stddef.h>

/* Like malloc(n); for n >= 1 MiB a kept buffer of at least n bytes (and at most n + n/4)
 * is reused when there is one. */
void *pf_pool_alloc(size_t n);

/* Gives p (from malloc or pf_pool_alloc; NULL is fine) back: kept if large and the pool has
 * room, else freed. */
void pf_pool_release(void *p);

/* The most bytes kept (default 128 MiB; 0 keeps nothing). Existing extra buffers are freed. */
void pf_pool_set_cap(size_t bytes);

/* Bytes currently kept (for status and tests). */
size_t pf_pool_kept(void);

#endif
