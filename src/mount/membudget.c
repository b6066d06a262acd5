/* membudget.c - mem= shared by the mount's three users of memory (membudget.h):
 *  - recycled large buffers (bufpool.h): room for three of the largest files a step serves
 *    (a file, the scratch it is rendered in or a second file in flight, and batch.npz's
 *    copy), at most half of mem= (before: a fixed quarter, too small for a 113 MiB 192^3
 *    data.npy at mem=512M once smaller buffers came back, so every sample paid page faults,
 *    and larger than needed for small patches);
 *  - cases kept mapped (pf_ctx_keep_cases): all of them when their entries fit two thirds of
 *    what is left, else cases up to a third of it, first come (the memory cache keeps the
 *    rest, for prefetched steps); the other cases release their rows after each use;
 *  - the memory cache of generated files: the rest.
 * The kept cases count their whole entries, an upper bound of the pages they can hold. */
#include "membudget.h"

#include "bufpool.h"

/* The largest array file of a step: data.npy, seg.npy or batch.npz of train step 0. */
static uint64_t largest_step_file(pf_ctx *ctx)
{
    static const pf_file_kind kinds[3] = {PF_FILE_STEP_DATA, PF_FILE_STEP_SEG,
                                          PF_FILE_STEP_BATCH};
    pf_node f = {.kind = PF_NODE_STEP_FILE}, g;
    uint64_t best = 0, size;
    pf_error err = {0};
    for (int i = 0; i < 3; i++)
        if (pf_node_sibling(&f, kinds[i], &g) == 0 && pf_file_size(ctx, &g, &size, &err) == 0 &&
            size > best)
            best = size;
    return best;
}

pf_mem_split pf_mem_split_apply(pf_ctx *ctx, size_t mem)
{
    const uint64_t three = 3 * largest_step_file(ctx);
    pf_mem_split s = {.cases = (size_t)pf_ctx_case_bytes(ctx)};
    size_t rest;
    s.pool = three > mem / 2 ? mem / 2 : (size_t)three;
    rest = mem - s.pool;
    s.keep = s.cases <= rest / 3 * 2 ? s.cases : rest / 3;
    s.files = rest - s.keep;
    pf_pool_set_cap(s.pool);
    pf_ctx_keep_cases(ctx, s.keep);
    return s;
}
