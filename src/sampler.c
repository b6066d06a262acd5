/* sampler.c - nnU-Net-equivalent patch sampling on counter-based streams (see sampler.h and
 * ../shared/reference/nnunet-behaviour.md section 1). */
#include "patchfs/sampler.h"

#include <math.h>

#include "patchfs/rng.h"

int pf_forced_from(int batch, double oversample)
{
    /* nnU-Net: `not j < round(batch_size * (1 - oversample_foreground_percent))`. rint() in
     * the default rounding mode is round-half-even, like Python's round(). */
    return (int)rint((double)batch * (1.0 - oversample));
}

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

void pf_sample_step(const pf_sampler *s, pf_split split, uint32_t epoch, uint32_t step,
                    pf_sample *out)
{
    const int forced_from = pf_forced_from(s->batch, s->oversample);
    const int n = s->n_split_cases[split];
    for (int j = 0; j < s->batch; j++) {
        pf_sample *o = &out[j];
        pf_stream st = pf_stream_make(s->seed, (uint64_t)split, epoch, step, (uint64_t)j,
                                      PF_PURPOSE_CASE);
        const pf_case *c;
        int64_t lb[3], ub[3];

        o->case_idx = s->split_cases[split][pf_stream_below(&st, (uint64_t)n)];
        o->forced = j >= forced_from;
        o->label = -1;
        c = &s->cases[o->case_idx];
        for (int d = 0; d < 3; d++) {
            o->voxel[d] = 0;
            pf_bbox_bounds(c->hdr.shape[d], s->patch[d], 0, &lb[d], &ub[d]);
        }
        if (o->forced && c->hdr.n_classes > 0) {
            /* class uniform among present classes (size does not weight it), then a stored
             * voxel of that class uniformly */
            pf_stream sc = pf_stream_make(s->seed, (uint64_t)split, epoch, step, (uint64_t)j,
                                          PF_PURPOSE_CLASS);
            pf_stream sv = pf_stream_make(s->seed, (uint64_t)split, epoch, step, (uint64_t)j,
                                          PF_PURPOSE_VOXEL);
            const pf_class_row *row = &c->classes[pf_stream_below(&sc, c->hdr.n_classes)];
            const int32_t *v = c->locs + 3 * (row->locs_index +
                                              pf_stream_below(&sv, row->n_locs));
            o->label = row->label;
            for (int d = 0; d < 3; d++) {
                int64_t start = v[d] - s->patch[d] / 2;
                o->voxel[d] = v[d];
                /* upstream has no upper clamp: a patch may overhang the far border */
                o->start[d] = start > lb[d] ? start : lb[d];
            }
        } else {
            pf_stream sr = pf_stream_make(s->seed, (uint64_t)split, epoch, step, (uint64_t)j,
                                          PF_PURPOSE_CROP);
            for (int d = 0; d < 3; d++)
                o->start[d] = pf_stream_range(&sr, lb[d], ub[d]);
        }
        for (int d = 0; d < 3; d++)
            o->end[d] = o->start[d] + s->patch[d];
    }
}
