/* membudget.c - mem= shared by the mount's three users of memory (membudget.h):
 *  - recycled large buffers (bufpool.h): room for two of the largest files a step serves (a
 *    file and the scratch it is rendered in, or two files in flight), at least a quarter and
 *    at most half of mem= (before: a fixed quarter, so a 113 MiB 192^3 data.npy missed the
 *    pool at mem=512M once a smaller buffer came back, and every sample paid page faults);
 *  - cases kept mapped (pf_ctx_keep_cases): all of them when their entries fit half of what
 *    is left, else cases up to a quarter of it, first come (the memory cache keeps most, for
 *    prefetched steps); the other cases release their rows after each use;
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
    const uint64_t two = 2 * largest_step_file(ctx);
    pf_mem_split s = {.cases = (size_t)pf_ctx_case_bytes(ctx)};
    size_t rest;
    s.pool = two < mem / 4 ? mem / 4 : two > mem / 2 ? mem / 2 : (size_t)two;
    rest = mem - s.pool;
    s.keep = s.cases <= rest / 2 ? s.cases : rest / 4;
    s.files = rest - s.keep;
    pf_pool_set_cap(s.pool);
    pf_ctx_keep_cases(ctx, s.keep);
    return s;
}
