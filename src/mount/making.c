/* making.c - a file's bytes made into the memory cache, inputs from the cache (making.h). */
#include "making.h"

#include <time.h>

typedef struct make_arg {
    const pf_maker *mk;
    pf_node node;
} make_arg;

size_t pf_expected_size(pf_ctx *ctx, const pf_node *n)
{
    pf_error err = {0};
    uint64_t size;
    if (!(pf_file_flags(pf_node_file(n)) & PF_FILE_ARRAY))
        return 0;
    return pf_file_size(ctx, n, &size, &err) == 0 ? (size_t)size : 0;
}

static int from_inputs(const pf_maker *mk, const pf_node *n, const pf_node *in, int k,
                       char **data, size_t *len, pf_error *err)
{
    pf_buf *held[PF_MAX_INPUTS];
    pf_input bytes[PF_MAX_INPUTS];
    int got = 0, rc = -1;
    for (; got < k; got++) {
        if (!(held[got] = pf_make_cached(mk, &in[got], err)))
            goto out;
        bytes[got].data = held[got]->data;
        bytes[got].len = held[got]->len;
    }
    rc = pf_produce_from(mk->ctx, n, bytes, data, len, err);
out:
    for (int i = 0; i < got; i++)
        pf_memcache_release(mk->mc, held[i]);
    return rc;
}

/* n made with its helper's bytes (files.h), the helper made first into the memory cache when
 * it is not there yet: a masked data.npy needs the step's label maps, which seg.npy renders
 * anyway for the trainer that reads both (data.npy first, as nnU-Net's loop and the prefetcher
 * do), so they are rendered once per step instead of twice (about a tenth of an augmented
 * step's CPU at 128^3). 1 when n has no helper (it is then made on its own). */
static int with_helper(const pf_maker *mk, const pf_node *n, char **data, size_t *len,
                       pf_error *err)
{
    pf_node h;
    pf_buf *held;
    pf_input bytes;
    int rc;
    if (!pf_file_helper(mk->ctx, n, &h))
        return 1;
    /* held, being made (wait for it) or made now; evicted meanwhile, it is made again: the
     * same bytes */
    if (!(held = pf_make_cached(mk, &h, err)))
        return -1;
    bytes.data = held->data;
    bytes.len = held->len;
    rc = pf_produce_helped(mk->ctx, n, &bytes, data, len, err);
    pf_memcache_release(mk->mc, held);
    return rc;
}

static int make(void *p, char **data, size_t *len, pf_error *err)
{
    make_arg *a = p;
    pf_node in[PF_MAX_INPUTS];
    const uint64_t t0 = pf_now_us(CLOCK_MONOTONIC);
    const int k = pf_file_inputs(a->mk->ctx, &a->node, in);
    int rc = k > 0 ? from_inputs(a->mk, &a->node, in, k, data, len, err)
                   : with_helper(a->mk, &a->node, data, len, err);
    if (k == 0 && rc == 1)
        rc = pf_produce(a->mk->ctx, &a->node, data, len, err);
    pf_counters_generated(a->mk->counters, pf_now_us(CLOCK_MONOTONIC) - t0);
    return rc;
}

pf_buf *pf_make_cached(const pf_maker *mk, const pf_node *n, pf_error *err)
{
    make_arg a = {.mk = mk, .node = *n};
    return pf_memcache_get_sized(mk->mc, pf_node_ino(n), pf_expected_size(mk->ctx, n), make, &a,
                                 err);
}
