/* eval_summary.c - nnU-Net's summary.json from evaluate's counts: the metrics per case and
 * label or region, numpy's nanmean over the cases, the foreground mean, written as
 * json.dump(indent=4, sort_keys=True) writes nnU-Net's dict (see evaluate.c). */
#include "eval_summary_i.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyjson.h"
#include "textbuf.h"

static const char *const metric_names[8] = {"Dice", "FN", "FP", "IoU", "TN", "TP", "n_pred",
                                            "n_ref"}; /* sorted, as sort_keys orders them */

/* The metrics of counts as doubles in metric_names' order; per case the counts are ints. */
static void metrics_of(const case_counts *c, double v[8])
{
    const int64_t den = c->tp + c->fp + c->fn;
    v[0] = den ? (double)(2 * c->tp) / (double)(2 * c->tp + c->fp + c->fn) : NAN;
    v[1] = (double)c->fn;
    v[2] = (double)c->fp;
    v[3] = den ? (double)c->tp / (double)den : NAN;
    v[4] = (double)c->tn;
    v[5] = (double)c->tp;
    v[6] = (double)(c->fp + c->tp);
    v[7] = (double)(c->fn + c->tp);
}

static void indent(pf_textbuf *t, int level)
{
    pf_textbuf_str(t, "\n");
    for (int i = 0; i < level; i++)
        pf_textbuf_str(t, "    ");
}

/* {"Dice": ..., ...}: floats (means) or the per-case mix (Dice/IoU floats, the rest ints) */
static void metric_object(pf_textbuf *t, const double v[8], int per_case, int level)
{
    char num[48];
    pf_textbuf_str(t, "{");
    for (int m = 0; m < 8; m++) {
        indent(t, level + 1);
        pf_py_json_string(t, metric_names[m]);
        pf_textbuf_str(t, ": ");
        if (per_case && m != 0 && m != 3)
            snprintf(num, sizeof num, "%lld", (long long)v[m]);
        else
            pf_py_float_repr(v[m], num, sizeof num);
        pf_textbuf_str(t, num);
        if (m < 7)
            pf_textbuf_str(t, ",");
    }
    indent(t, level);
    pf_textbuf_str(t, "}");
}

static int cmp_key(const void *a, const void *b, void *arg)
{
    const eval_region *r = arg;
    return strcmp(r[*(const int *)a].key, r[*(const int *)b].key);
}

char *pf_eval_summary_text(const eval_summary_in *in)
{
    const int *scored = in->scored, n_scored = in->n_scored;
    pf_textbuf t = {0};
    const int R = in->n_regions;
    int order[1024];
    double (*means)[8] = calloc((size_t)R, sizeof *means), fg[8];
    double *col = malloc(((size_t)n_scored + (size_t)R + 1) * sizeof *col);
    if (!means || !col) {
        free(means);
        free(col);
        return NULL;
    }
    for (int r = 0; r < R; r++)
        order[r] = r;
    qsort_r(order, (size_t)R, sizeof order[0], cmp_key, (void *)in->regions);
    /* mean: nanmean per label and metric over the cases, in case order */
    for (int r = 0; r < R; r++)
        for (int m = 0; m < 8; m++) {
            for (int i = 0; i < n_scored; i++) {
                double v[8];
                metrics_of(&in->counts[(size_t)scored[i] * (size_t)R + (size_t)r], v);
                col[i] = v[m];
            }
            means[r][m] = pf_numpy_nanmean(col, (size_t)n_scored);
        }
    /* foreground_mean: np.mean of the labels' means (in nnU-Net's label order), 0 left out */
    for (int m = 0; m < 8; m++) {
        int n = 0;
        for (int r = 0; r < R; r++)
            if (strcmp(in->regions[r].key, "0"))
                col[n++] = means[r][m];
        fg[m] = n ? pf_numpy_sum(col, (size_t)n) / n : NAN;
    }
    pf_textbuf_str(&t, "{");
    indent(&t, 1);
    pf_textbuf_str(&t, "\"foreground_mean\": ");
    metric_object(&t, fg, 0, 1);
    pf_textbuf_str(&t, ",");
    indent(&t, 1);
    pf_textbuf_str(&t, "\"mean\": {");
    for (int q = 0; q < R; q++) {
        indent(&t, 2);
        pf_py_json_string(&t, in->regions[order[q]].key);
        pf_textbuf_str(&t, ": ");
        metric_object(&t, means[order[q]], 0, 2);
        if (q < R - 1)
            pf_textbuf_str(&t, ",");
    }
    indent(&t, 1);
    pf_textbuf_str(&t, "},");
    indent(&t, 1);
    pf_textbuf_str(&t, "\"metric_per_case\": [");
    for (int i = 0; i < n_scored; i++) {
        const int k = scored[i];
        indent(&t, 2);
        pf_textbuf_str(&t, "{");
        indent(&t, 3);
        pf_textbuf_str(&t, "\"metrics\": {");
        for (int q = 0; q < R; q++) {
            double v[8];
            metrics_of(&in->counts[(size_t)k * (size_t)R + (size_t)order[q]], v);
            indent(&t, 4);
            pf_py_json_string(&t, in->regions[order[q]].key);
            pf_textbuf_str(&t, ": ");
            metric_object(&t, v, 1, 4);
            if (q < R - 1)
                pf_textbuf_str(&t, ",");
        }
        indent(&t, 3);
        pf_textbuf_str(&t, "},");
        indent(&t, 3);
        pf_textbuf_str(&t, "\"prediction_file\": ");
        pf_py_json_string(&t, in->pred_paths[k]);
        pf_textbuf_str(&t, ",");
        indent(&t, 3);
        pf_textbuf_str(&t, "\"reference_file\": ");
        pf_py_json_string(&t, in->ds->cases[in->cases[k]].label);
        indent(&t, 2);
        pf_textbuf_str(&t, i < n_scored - 1 ? "}," : "}");
    }
    if (n_scored)
        indent(&t, 1);
    pf_textbuf_str(&t, "]");
    indent(&t, 0);
    pf_textbuf_str(&t, "}");
    free(means);
    free(col);
    if (t.failed) {
        pf_textbuf_free(&t);
        return NULL;
    }
    return t.s;
}
