/* options_check.c - checks across options, before any I/O (see options.h).
 *
 * The rule: an option the user gave that can have no effect with the others is refused with
 * a message naming both (class_weights without sampler=class would otherwise sample as if it
 * were absent, silently); a combination that works but surprises (batch=1 forces nothing by
 * nnU-Net's rounding) is a note the CLI prints. Checks that need the dataset are in
 * pf_options_check_classes. */
#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "options_i.h"

int pf_forced_from(int batch, double oversample)
{
    /* nnU-Net: `not j < round(batch_size * (1 - oversample_foreground_percent))`. rint() in
     * the default rounding mode is round-half-even, like Python's round(). */
    return (int)rint((double)batch * (1.0 - oversample));
}

int pf_options_forced_from(const pf_options *o)
{
    return pf_forced_from(o->batch, o->oversample);
}

int pf_options_shard_span(const pf_options *o, int *lo, int *hi)
{
    int base, extra;
    if (!o->shard_world) {
        *lo = 0;
        *hi = o->batch;
        return 0;
    }
    if (o->shard_world > o->batch)
        return -1;
    /* nnU-Net's DDP split: ranks get B / W positions, the first B % W one more */
    base = o->batch / o->shard_world;
    extra = o->batch % o->shard_world;
    *lo = o->shard_rank * base + (o->shard_rank < extra ? o->shard_rank : extra);
    *hi = *lo + base + (o->shard_rank < extra);
    return 0;
}

int pf_options_validate(const pf_options *o, pf_error *err)
{
    size_t n;
    const pf_option_desc *t = pf_options_table(&n);
    static const char *const forcing[] = {"oversample", "oversample_mode"};

    if (o->shard_world > o->batch)
        return pf_fail(err, EINVAL, "option 'shard': shard=%d/%d needs a batch of at least %d "
                       "(one position per rank), but option 'batch' is %d", o->shard_rank,
                       o->shard_world, o->shard_world, o->batch);
    if (pf_options_given(o, "class_weights") && o->policy != PF_POLICY_CLASS)
        return pf_fail(err, EINVAL, "option 'class_weights' acts only with sampler=class, but "
                       "option 'sampler' is %s: add sampler=class or drop class_weights",
                       pf_policy_name(o->policy));
    if (o->policy == PF_POLICY_UNIFORM)
        for (size_t i = 0; i < sizeof forcing / sizeof forcing[0]; i++)
            if (pf_options_given(o, forcing[i]))
                return pf_fail(err, EINVAL, "option '%s' has no effect with option 'sampler' "
                               "set to uniform, which forces no position to contain "
                               "foreground: drop one of them", forcing[i]);
    if (!o->aug)
        for (size_t i = 0; i < n; i++)
            if ((t[i].flags & PF_OPTF_AUG) && pf_opt_given_row(o, i))
                return pf_fail(err, EINVAL, "option '%s' acts only with aug=nnunet, but option "
                               "'aug' is none: add aug=nnunet or drop %s", t[i].name,
                               t[i].name);
    for (int i = 1; i < o->n_ds; i++)
        if (!(o->ds_scales[i] < o->ds_scales[i - 1]))
            return pf_fail(err, EINVAL, "option 'ds_scales': scale %g after %g: deep-supervision "
                           "scales decrease, one target per resolution (e.g. ds_scales=1,0.5,"
                           "0.25)", o->ds_scales[i], o->ds_scales[i - 1]);
    return 0;
}

/* a lower bound of one step's data.npy and seg.npy of this rank (one image channel) */
static double step_bytes(const pf_options *o, int local_batch)
{
    double voxels = (double)o->patch[0] * o->patch[1] * o->patch[2];
    return 2 * 128.0 + (double)local_batch * voxels * (4 + 2);
}

int pf_options_notes(const pf_options *o, pf_note_fn note, void *arg)
{
    char msg[512];
    int count = 0, lo, hi;

    if (o->policy != PF_POLICY_UNIFORM) {
        int from = pf_options_forced_from(o);
        if (!o->probabilistic && o->oversample > 0 && from >= o->batch) {
            snprintf(msg, sizeof msg, "batch=%d with oversample=%s forces no position to "
                     "contain foreground: nnU-Net forces positions j >= round(%d x (1 - %s)) = "
                     "%d%s (use a larger batch, a larger oversample or "
                     "oversample_mode=probabilistic)", o->batch, o->oversample_text, o->batch,
                     o->oversample_text, from,
                     o->policy == PF_POLICY_CLASS ? ", so sampler=class never picks a class"
                                                  : "");
            note(arg, msg), count++;
        } else if (o->policy == PF_POLICY_CLASS && o->oversample == 0) {
            snprintf(msg, sizeof msg, "sampler=class with oversample=0 forces no position, so "
                     "it never picks a class: every position is a random crop");
            note(arg, msg), count++;
        }
    }
    /* the memory cache gets mem - mem/4 (fs.c); one channel is a lower bound of a step */
    if (o->patch[0] && pf_options_shard_span(o, &lo, &hi) == 0) {
        double budget = (double)(o->mem_bytes - o->mem_bytes / 4), step = step_bytes(o, hi - lo);
        if (step > budget) {
            snprintf(msg, sizeof msg, "mem=%zuK holds no step of batch=%d patch=%dx%dx%d (at "
                     "least %.0fK each): every open generates its file anew", o->mem_bytes >> 10,
                     hi - lo, o->patch[0], o->patch[1], o->patch[2], step / 1024);
            note(arg, msg), count++;
        } else if (o->prefetch && (o->prefetch + 1) * step > budget) {
            snprintf(msg, sizeof msg, "prefetch=%d with mem=%zuK: the %d steps made ahead (at "
                     "least %.0fK each) do not fit, so they are evicted before they are read",
                     o->prefetch, o->mem_bytes >> 10, o->prefetch, step / 1024);
            note(arg, msg), count++;
        }
    }
    if (o->n_ds == 1) {
        snprintf(msg, sizeof msg, "ds_scales=1 adds no seg_ds file: give the scales after 1 "
                 "(e.g. ds_scales=1,0.5,0.25)");
        note(arg, msg), count++;
    }
    return count;
}

int pf_options_check_classes(const pf_options *o, const int *labels, int n, pf_error *err)
{
    int n_fg = 0, n_zero = 0;
    for (int i = 0; i < o->n_class_weights; i++) {
        int found = 0;
        for (int k = 0; k < n && !found; k++)
            found = labels[k] > 0 && labels[k] == o->class_weights[i].label;
        if (!found) {
            char list[256];
            size_t len = 0;
            list[0] = '\0';
            for (int k = 0; k < n && len < sizeof list; k++)
                if (labels[k] > 0)
                    len += (size_t)snprintf(list + len, sizeof list - len, "%s%d",
                                            len ? ", " : "", labels[k]);
            return pf_fail(err, EINVAL, "option 'class_weights': label %d is not a class of "
                           "this dataset (its classes: %s)", o->class_weights[i].label,
                           len ? list : "none");
        }
    }
    if (o->policy != PF_POLICY_CLASS)
        return 0;
    for (int k = 0; k < n; k++) {
        if (labels[k] <= 0)
            continue;
        n_fg++;
        for (int i = 0; i < o->n_class_weights; i++)
            if (o->class_weights[i].label == labels[k] && o->class_weights[i].weight == 0)
                n_zero++;
    }
    if (n_fg > 0 && n_zero == n_fg)
        return pf_fail(err, EINVAL, "option 'class_weights' gives every class of this dataset "
                       "weight 0, so sampler=class has no class to pick");
    return 0;
}
