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

static int make(void *p, char **data, size_t *len, pf_error *err)
{
    make_arg *a = p;
    pf_node in[PF_MAX_INPUTS];
    const uint64_t t0 = pf_now_us(CLOCK_MONOTONIC);
    const int k = pf_file_inputs(a->mk->ctx, &a->node, in);
    const int rc = k > 0 ? from_inputs(a->mk, &a->node, in, k, data, len, err)
                         : pf_produce(a->mk->ctx, &a->node, data, len, err);
    pf_counters_generated(a->mk->counters, pf_now_us(CLOCK_MONOTONIC) - t0);
    return rc;
}

pf_buf *pf_make_cached(const pf_maker *mk, const pf_node *n, pf_error *err)
{
    make_arg a = {.mk = mk, .node = *n};
    return pf_memcache_get_sized(mk->mc, pf_node_ino(n), pf_expected_size(mk->ctx, n), make, &a,
                                 err);
}
