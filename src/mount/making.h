/* making.h - a file's bytes made into the mount's memory cache (memcache.h), once.
 *
 * A file made from pixels is made by pf_produce; a file made from other files (a step's
 * seg_dsK.npy from its seg.npy, batch.npz from its arrays: pf_file_inputs) is made from its
 * inputs' buffers, which are taken from the memory cache and made there first when missing.
 * So a step's segmentation is rendered once for seg.npy and all its deep-supervision targets,
 * and batch.npz renders nothing the step's arrays did not. Used by READs and prefetching. */
#ifndef PATCHFS_MAKING_H
#define PATCHFS_MAKING_H

#include <stddef.h>

#include "counters.h"
#include "memcache.h"
#include "patchfs/files.h"

typedef struct pf_maker {
    pf_ctx *ctx;
    pf_memcache *mc;
    pf_counters *counters; /* generation times (status.json) */
} pf_maker;

/* The size of an array file (known without making it), else 0: room reserved in the memory
 * cache before making. */
size_t pf_expected_size(pf_ctx *ctx, const pf_node *n);

/* n's buffer from the memory cache, made when missing (one maker per file at a time); release
 * it with pf_memcache_release. NULL with err set when making it failed. */
pf_buf *pf_make_cached(const pf_maker *mk, const pf_node *n, pf_error *err);

#endif
