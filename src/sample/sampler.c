/* sampler.c - nnU-Net-equivalent patch sampling on counter-based streams (see sampler.h and
 * ../shared/reference/nnunet-behaviour.md section 1), plus the class-first and uniform
 * policies. Every draw of position j comes from streams keyed by (seed, split, epoch, step,
 * j, purpose), so positions are independent of one another: a shard can serve any
 * contiguous part of the global batch with the same bytes. */
#include "sampler.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "order.h"
#include "rng.h"

static int64_t ceil_half(int64_t v)
{
    return (v + 1) / 2; /* v >= 0 */
}

void pf_bbox_bounds(int64_t shape, int64_t patch, int64_t need, int64_t *lb, int64_t *ub)
{
    if (need + shape < patch)
        need = patch - shape;
    *lb = -ceil_half(need);
    *ub = shape - patch + ceil_half(need);
}

void pf_class_pool_free(pf_class_pool *pool)
{
    if (pool->cases)
        for (int k = 0; k < pool->n; k++)
            free(pool->cases[k]);
    free(pool->cases);
    free(pool->n_cases);
    free(pool->labels);
    free(pool->weights);
    memset(pool, 0, sizeof *pool);
}

static int cmp_label_row(const void *key, const void *elem)
{
    int a = *(const int *)key, b = ((const pf_class_row *)elem)->label;
    return a < b ? -1 : a > b;
}

/* rows are ascending by label */
static const pf_class_row *find_class(const pf_case *c, int label)
{
    size_t i = pf_lower_bound(&label, c->classes, c->hdr.n_classes, sizeof *c->classes,
                              cmp_label_row);
    return i < c->hdr.n_classes && c->classes[i].label == label ? &c->classes[i] : NULL;
}

int pf_class_pool_build(pf_class_pool *pool, const pf_case *cases, const int *split_cases,
                        int n_split_cases, const pf_class_weight *weights, int n_weights,
                        pf_error *err)
{
    unsigned char present[32768] = {0};
    memset(pool, 0, sizeof *pool);
    for (int i = 0; i < n_split_cases; i++) {
        const pf_case *c = &cases[split_cases[i]];
        for (uint32_t k = 0; k < c->hdr.n_classes; k++)
            present[c->classes[k].label] = 1;
    }
    for (int label = 1; label < 32768; label++) {
        uint64_t w = 1000000;
        int *list;
        if (!present[label])
            continue;
        for (int i = 0; i < n_weights; i++)
            if (weights[i].label == label)
                w = weights[i].weight;
        if (w == 0)
            continue;
        const size_t n = (size_t)pool->n + 1;
        if (pf_resize(&pool->labels, n, sizeof *pool->labels, err) ||
            pf_resize(&pool->weights, n, sizeof *pool->weights, err) ||
            pf_resize(&pool->n_cases, n, sizeof *pool->n_cases, err) ||
            pf_resize(&pool->cases, n, sizeof *pool->cases, err) ||
            !(list = pf_calloc((size_t)n_split_cases, sizeof *list, err))) {
            pf_class_pool_free(pool);
            return -1;
        }
        pool->labels[pool->n] = label;
        pool->weights[pool->n] = w;
        pool->total_weight += w;
        pool->n_cases[pool->n] = 0;
        for (int i = 0; i < n_split_cases; i++)
            if (find_class(&cases[split_cases[i]], label))
                list[pool->n_cases[pool->n]++] = split_cases[i];
        pool->cases[pool->n] = list;
        pool->n++;
    }
    return 0;
}

static int is_forced(const pf_sampler *s, pf_split split, uint32_t epoch, uint32_t step, int j,
                     int forced_from)
{
    if (s->policy == PF_POLICY_UNIFORM)
        return 0;
    if (s->probabilistic) {
        /* a 53-bit uniform in [0, 1) compared with p: exact in IEEE double */
        pf_stream sf = pf_stream_make(s->seed, (uint64_t)split, epoch, step, (uint64_t)j,
                                      PF_PURPOSE_FORCE);
        return (double)(pf_stream_next(&sf) >> 11) * 0x1p-53 < s->oversample;
    }
    return j >= forced_from;
}

/* Forced position of the class-first policy: class by weight, then a case containing it. */
static int pick_class_first(const pf_sampler *s, pf_split split, uint32_t epoch, uint32_t step,
                            int j, pf_sample *o)
{
    const pf_class_pool *pool = s->pools[split];
    pf_stream sc = pf_stream_make(s->seed, (uint64_t)split, epoch, step, (uint64_t)j,
                                  PF_PURPOSE_CLASS);
    pf_stream sk = pf_stream_make(s->seed, (uint64_t)split, epoch, step, (uint64_t)j,
                                  PF_PURPOSE_CASE);
    uint64_t r;
    int k = 0;
    if (!pool || pool->n == 0)
        return -1;
    r = pf_stream_below(&sc, pool->total_weight);
    while (r >= pool->weights[k]) {
        r -= pool->weights[k];
        k++;
    }
    o->label = pool->labels[k];
    o->case_idx = pool->cases[k][pf_stream_below(&sk, (uint64_t)pool->n_cases[k])];
    return 0;
}

int pf_sample_step(const pf_sampler *s, pf_split split, uint32_t epoch, uint32_t step,
                   pf_sample *out)
{
    int bad = 0;
    const int forced_from = pf_forced_from(s->batch, s->oversample);
    const int n = s->n_split_cases[split];
    const int aug = split == PF_SPLIT_TRAIN && s->aug_patch[0] > 0; /* never validation */
    for (int j = 0; j < s->batch; j++) {
        pf_sample *o = &out[j];
        const pf_case *c;
        const pf_class_row *row = NULL;
        int64_t lb[3], ub[3], pb[3];

        o->forced = is_forced(s, split, epoch, step, j, forced_from);
        o->label = -1;
        if (!(o->forced && s->policy == PF_POLICY_CLASS &&
              pick_class_first(s, split, epoch, step, j, o) == 0)) {
            pf_stream st = pf_stream_make(s->seed, (uint64_t)split, epoch, step, (uint64_t)j,
                                          PF_PURPOSE_CASE);
            o->case_idx = s->split_cases[split][pf_stream_below(&st, (uint64_t)n)];
            o->label = -1;
        }
        c = &s->cases[o->case_idx];
        /* nnU-Net with augmentation cuts an enlarged patch Pb (need = Pb - P of extra
         * context) and crops its centre after the spatial transform */
        for (int d = 0; d < 3; d++) {
            pb[d] = aug ? s->aug_patch[d] : s->patch[d];
            o->voxel[d] = 0;
            pf_bbox_bounds(c->hdr.shape[d], pb[d], pb[d] - s->patch[d], &lb[d], &ub[d]);
        }
        if (o->label >= 0) {
            row = find_class(c, o->label);
        } else if (o->forced && c->hdr.n_classes > 0) {
            /* nnU-Net: class uniform among present classes (size does not weight it); the
             * annotated voxels (row 0 when present) only when no other class is */
            pf_stream sc = pf_stream_make(s->seed, (uint64_t)split, epoch, step, (uint64_t)j,
                                          PF_PURPOSE_CLASS);
            const uint32_t skip = c->classes[0].label == PF_CLASS_ANNOTATED &&
                                  c->hdr.n_classes > 1;
            row = &c->classes[skip + pf_stream_below(&sc, c->hdr.n_classes - skip)];
        } else if (!o->forced && s->has_ignore && c->hdr.n_classes > 0 &&
                   c->classes[0].label == PF_CLASS_ANNOTATED) {
            /* nnU-Net with an ignore label: a non-forced patch is centred on a random
             * annotated voxel (a case without any falls back to a random crop) */
            row = &c->classes[0];
        }
        if (row) {
            /* a stored voxel of that class, uniformly */
            pf_stream sv = pf_stream_make(s->seed, (uint64_t)split, epoch, step, (uint64_t)j,
                                          PF_PURPOSE_VOXEL);
            const uint64_t at = row->locs_index + pf_stream_below(&sv, row->n_locs);
            int32_t v[3];
            unsigned token;
            /* the stored locations are in the case's mapping: read under the fault guard
             * (cache.h), so a truncated or failing entry is reported, not sampled from */
            int ok = pf_case_read_begin(c, &token) == 0;
            memcpy(v, pf_case_map_get(c)->locs + 3 * at, sizeof v);
            ok = pf_case_read_end(c, token) == 0 && ok;
            if (!ok && !bad)
                bad = j + 1;
            o->label = row->label;
            for (int d = 0; d < 3; d++) {
                int64_t start = v[d] - pb[d] / 2;
                o->voxel[d] = v[d];
                /* upstream has no upper clamp: a patch may overhang the far border */
                o->start[d] = start > lb[d] ? start : lb[d];
            }
        } else {
            pf_stream sr = pf_stream_make(s->seed, (uint64_t)split, epoch, step, (uint64_t)j,
                                          PF_PURPOSE_CROP);
            o->label = -1;
            for (int d = 0; d < 3; d++)
                o->start[d] = pf_stream_range(&sr, lb[d], ub[d]);
        }
        /* the unrotated crop of the enlarged patch: its centre voxel Pb // 2 less P // 2
         * (batchgeneratorsv2's crop_tensor about Pb // 2); nothing without augmentation */
        for (int d = 0; d < 3; d++) {
            o->start[d] += pb[d] / 2 - s->patch[d] / 2;
            o->end[d] = o->start[d] + s->patch[d];
        }
    }
    return bad;
}
