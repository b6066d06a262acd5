/* files.h - the core library's public API, part 2: the virtual files.
 *
 * Every file of the tree has a kind (tree.h); one table in files.c says, per kind, how its
 * size is known and how its bytes are made. pf_file_size and pf_produce are reentrant (any
 * thread, any order) and depend only on (dataset content, options that shape content, node):
 * the invariant the tests pin with golden digests. */
#ifndef PATCHFS_FILES_H
#define PATCHFS_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "patchfs/context.h"
#include "patchfs/tree.h"

/* What serving layers need to know about a kind of file. */
#define PF_FILE_ARRAY 1u    /* a .npy of pixels: large, worth caching and prefetching */
#define PF_FILE_LIVE  2u    /* changes while mounted (status.json): never cache its bytes */

unsigned pf_file_flags(pf_file_kind f);

/* Exact size of a file node without generating pixel data. */
int pf_file_size(pf_ctx *ctx, const pf_node *n, uint64_t *size, pf_error *err);

/* Generates a file node's bytes into a buffer: release it with pf_file_release. */
int pf_produce(pf_ctx *ctx, const pf_node *n, char **buf, size_t *len, pf_error *err);
void pf_file_release(char *buf);

/* Files made from other files' bytes: a step's seg_dsK.npy from its seg.npy, its batch.npz
 * from its data.npy, seg.npy and seg_dsK.npy. pf_file_inputs gives n's inputs in order (0:
 * n is made from pixels or texts); pf_produce_from makes n from their bytes. A server that
 * keeps files (the mount's memory cache) gets the inputs from there, so a step's segmentation
 * is rendered once for seg.npy and all its targets, and batch.npz renders nothing more;
 * pf_produce makes the inputs itself, each once. Same bytes either way. */
#define PF_MAX_INPUTS 24
typedef struct pf_input {
    const char *data;
    size_t len;
} pf_input;
int pf_file_inputs(pf_ctx *ctx, const pf_node *n, pf_node in[PF_MAX_INPUTS]);
int pf_produce_from(pf_ctx *ctx, const pf_node *n, const pf_input *in, char **buf, size_t *len,
                    pf_error *err);

/* A file made faster from another one a server already holds, without depending on it:
 * data.npy of an augmented step with use_mask_for_norm channels from its seg.npy (the label
 * maps the masking needs, not rendered again). pf_file_helper gives n's helper (0: none);
 * pf_produce_helped makes n with the helper's bytes. Same bytes as pf_produce. */
int pf_file_helper(pf_ctx *ctx, const pf_node *n, pf_node *helper);
int pf_produce_helped(pf_ctx *ctx, const pf_node *n, const pf_input *helper, char **buf,
                      size_t *len, pf_error *err);

/* Live counters of a mount, for status.json. The mount layer keeps them; pf_produce serves
 * zeros (`patchfs get status.json`), the mount formats its own with pf_status_json. */
typedef struct pf_status {
    uint64_t mounted_at_unix_ms, uptime_ms;
    uint64_t files_opened, files_generated, cache_hits, bytes_served, read_requests, errors;
    uint64_t errors_io, errors_nomem, errors_other; /* errors by kind; they sum to errors */
    uint64_t generate_p50_us, generate_p90_us, generate_p99_us, generate_max_us;
    uint64_t memory_cache_bytes;
} pf_status;

/* status.json's text: every number padded to 20 characters, so its size never changes while
 * its content does. malloc'd; NULL when out of memory. */
char *pf_status_json(const pf_status *st);

#endif
