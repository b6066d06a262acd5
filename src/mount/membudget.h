/* membudget.h - how a mount shares mem= between recycled buffers, cases kept mapped and the
 * memory cache of generated files, so that what the daemon holds stays within mem=. */
#ifndef PATCHFS_MEMBUDGET_H
#define PATCHFS_MEMBUDGET_H

#include <stddef.h>

#include "patchfs/files.h"

typedef struct pf_mem_split {
    size_t pool;   /* recycled large buffers (bufpool.h) */
    size_t keep;   /* cases kept mapped (pf_ctx_keep_cases) */
    size_t files;  /* the memory cache */
    size_t cases;  /* what all cases' entries map (for the log) */
} pf_mem_split;

/* The split for this context's files and cases, applied: the pool's cap and the page
 * policy's budget set; the memory cache's budget returned in files. */
pf_mem_split pf_mem_split_apply(pf_ctx *ctx, size_t mem);

#endif
