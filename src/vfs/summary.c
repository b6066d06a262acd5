/* summary.c - epoch summaries from sampler output and stored class locations (see summary.h). */
#include "summary.h"

#include <stdlib.h>
#include <string.h>

/* Whether the box [start, end) holds a stored location of class row k of case c. */
static int box_holds(const pf_case *c, const pf_class_row *row, const pf_sample *s)
{
    const int32_t *v = c->locs + 3 * row->locs_index;
    for (uint64_t i = 0; i < row->n_locs; i++, v += 3)
        if (v[0] >= s->start[0] && v[0] < s->end[0] && v[1] >= s->start[1] &&
            v[1] < s->end[1] && v[2] >= s->start[2] && v[2] < s->end[2])
            return 1;
    return 0;
}

json_t *pf_epoch_summary(const pf_summary_input *in, pf_split split, uint32_t epoch)
{
    const uint32_t steps = in->steps;
    const int n_cases = in->ds->n_cases;
    uint64_t *drawn = calloc((size_t)n_cases, sizeof *drawn);
    uint64_t *forced_to = calloc(32768, sizeof *forced_to), *contains = calloc(32768, sizeof *contains);
    unsigned char *inexact = calloc(32768, 1), *seen = calloc(32768, 1);
    pf_sample *s = calloc((size_t)in->batch, sizeof *s);
    uint64_t positions = 0, forced = 0, centred = 0;
    int *keys = calloc((size_t)(in->ds->n_labels + in->ds->n_regions) + 1, sizeof *keys), nk;
    json_t *j = NULL, *classes, *cases;

    if (!drawn || !forced_to || !contains || !inexact || !seen || !s || !keys)
        goto out;
    for (uint32_t st = 0; st < steps; st++) {
        pf_sample_step(in->sampler, split, epoch, st, s);
        for (int b = in->lo; b < in->hi; b++) {
            const pf_case *c = &in->cases[s[b].case_idx];
            positions++;
            drawn[s[b].case_idx]++;
            forced += s[b].forced != 0;
            /* ignore label: non-forced positions centred on an annotated voxel */
            centred += !s[b].forced && s[b].label == PF_CLASS_ANNOTATED;
            if (s[b].label > 0)
                forced_to[s[b].label]++;
            for (uint32_t k = 0; k < c->hdr.n_classes; k++) {
                const pf_class_row *row = &c->classes[k];
                /* a forced voxel lies in its box by construction */
                if (row->label == s[b].label || box_holds(c, row, &s[b]))
                    contains[row->label]++;
            }
        }
    }
    /* which classes are fully stored in every case of the split */
    for (int i = 0; i < in->n_split_cases; i++) {
        const pf_case *c = &in->cases[in->split_cases[i]];
        for (uint32_t k = 0; k < c->hdr.n_classes; k++) {
            seen[c->classes[k].label] = 1;
            if (c->classes[k].n_locs < c->classes[k].voxels)
                inexact[c->classes[k].label] = 1;
        }
    }
    j = json_object();
    json_object_set_new(j, "split", json_string(split ? "val" : "train"));
    json_object_set_new(j, "epoch", json_integer(epoch));
    json_object_set_new(j, "steps", json_integer(steps));
    json_object_set_new(j, "positions", json_integer((json_int_t)positions));
    json_object_set_new(j, "forced_positions", json_integer((json_int_t)forced));
    json_object_set_new(j, "random_crops",
                        json_integer((json_int_t)(positions - forced - centred)));
    if (in->ds->ignore_label >= 0)
        json_object_set_new(j, "centred_on_annotated", json_integer((json_int_t)centred));
    classes = json_object();
    nk = pf_dataset_class_keys(in->ds, keys);
    for (int l = 0; l < nk; l++) {
        int v = keys[l];
        char key[16];
        json_t *e = json_object();
        snprintf(key, sizeof key, "%d", v);
        json_object_set_new(e, "name", json_string(pf_dataset_class_name(in->ds, v)));
        json_object_set_new(e, "forced", json_integer((json_int_t)forced_to[v]));
        json_object_set_new(e, "contains_at_least", json_integer((json_int_t)contains[v]));
        json_object_set_new(e, "contains_exact", json_boolean(!inexact[v]));
        json_object_set_new(e, "present_in_split", json_boolean(seen[v]));
        json_object_set_new(classes, key, e);
    }
    json_object_set_new(j, "classes", classes);
    cases = json_object();
    for (int i = 0; i < n_cases; i++)
        if (drawn[i])
            json_object_set_new(cases, in->ds->cases[i].id, json_integer((json_int_t)drawn[i]));
    json_object_set_new(j, "cases", cases);
out:
    free(drawn);
    free(forced_to);
    free(contains);
    free(inexact);
    free(seen);
    free(s);
    free(keys);
    return j;
}
