/* fingerprint.c - one case's part of nnU-Net's dataset fingerprint, and the foreground samples
 * pooled over the dataset (see fingerprint.h). */
#include "fingerprint.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mt19937.h"
#include "order.h"
#include "preprocess.h"

uint64_t pf_fp_samples_per_case(int n_cases)
{
    /* Python: int(10e7 // n), exact for any case count */
    return n_cases > 0 ? PF_FP_TOTAL_SAMPLES / (uint64_t)n_cases : 0;
}

typedef struct drawn {
    float value;
    uint32_t count;
} drawn;

static int cmp_drawn(const void *a, const void *b)
{
    float x = ((const drawn *)a)->value, y = ((const drawn *)b)->value;
    return x < y ? -1 : x > y;
}

/* Draws n_samples of the n_fg values fg (numpy's choice with replacement on stream s) and
 * keeps them as a histogram. */
static int sample_channel(const float *fg, size_t n_fg, uint64_t n_samples, pf_mt19937 *s,
                          pf_fg_hist *h, pf_error *err)
{
    uint32_t *hits;
    drawn *d;
    size_t m = 0;
    memset(h, 0, sizeof *h);
    if (n_fg == 0)
        return 0; /* nnU-Net draws nothing for a channel without foreground */
    hits = pf_calloc(n_fg, sizeof *hits, err);
    if (!hits)
        return -1;
    for (uint64_t i = 0; i < n_samples; i++) {
        uint64_t k = pf_mt_interval(s, n_fg - 1);
        if (hits[k]++ == UINT32_MAX) {
            free(hits);
            return pf_fail(err, EOVERFLOW, "too many foreground samples for one voxel");
        }
    }
    d = pf_calloc(n_fg, sizeof *d, err);
    if (!d) {
        free(hits);
        return -1;
    }
    for (size_t i = 0; i < n_fg; i++)
        if (hits[i])
            d[m++] = (drawn){fg[i], hits[i]};
    free(hits);
    qsort(d, m, sizeof *d, cmp_drawn);
    h->value = malloc((m ? m : 1) * sizeof *h->value);
    h->count = malloc((m ? m : 1) * sizeof *h->count);
    if (!h->value || !h->count) {
        free(d);
        free(h->value);
        free(h->count);
        memset(h, 0, sizeof *h);
        return pf_fail(err, ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < m; i++) {
        if (h->n && h->value[h->n - 1] == d[i].value) {
            h->count[h->n - 1] += d[i].count;
        } else {
            h->value[h->n] = d[i].value;
            h->count[h->n++] = d[i].count;
        }
    }
    free(d);
    return 0;
}

int pf_case_fingerprint(const pf_loaded_case *lc, int nch, uint64_t n_samples, pf_case_fp *out,
                        pf_error *err)
{
    int64_t lo[3], hi[3], cshape[3];
    float *img = NULL, *fg = NULL;
    int16_t *seg = NULL;
    size_t nvox, n_fg = 0;
    pf_mt19937 s;
    int rc = -1;

    memset(out, 0, sizeof *out);
    out->n_channels = nch;
    for (int d = 0; d < 3; d++) {
        out->spacing[d] = fabs(lc->info.spacing[2 - d]);
        out->shape[d] = lc->shape[d];
    }
    /* nnU-Net's crop_to_nonzero: the box of the nonzero mask, seg 0 outside the (filled) mask
     * becomes -1, so foreground is seg > 0 inside the box */
    pf_nonzero_box(lc->image, nch, lc->shape, lo, hi);
    for (int d = 0; d < 3; d++) {
        cshape[d] = hi[d] - lo[d];
        out->shape_after_crop[d] = cshape[d];
    }
    out->relative_size = (double)(cshape[0] * cshape[1] * cshape[2]) /
                         (double)(lc->shape[0] * lc->shape[1] * lc->shape[2]);
    out->hist = pf_calloc((size_t)nch, sizeof *out->hist, err);
    img = pf_crop_float(lc->image, nch, lc->shape, lo, hi);
    seg = pf_crop_i16(lc->seg, lc->shape, lo, hi);
    if (!out->hist || !img || !seg) {
        if (out->hist)
            pf_fail(err, ENOMEM, "out of memory cropping");
        goto out;
    }
    if (pf_mark_outside(img, nch, cshape, seg, err))
        goto out;
    nvox = (size_t)(cshape[0] * cshape[1] * cshape[2]);
    for (size_t i = 0; i < nvox; i++)
        n_fg += seg[i] > 0;
    fg = malloc((n_fg ? n_fg : 1) * sizeof *fg);
    if (!fg) {
        pf_fail(err, ENOMEM, "out of memory for %zu foreground voxels", n_fg);
        goto out;
    }
    pf_mt_seed(&s, PF_FP_SEED); /* a new RandomState(1234) per case, channels in turn */
    for (int c = 0; c < nch; c++) {
        const float *ch = img + (size_t)c * nvox;
        size_t k = 0;
        for (size_t i = 0; i < nvox; i++)
            if (seg[i] > 0)
                fg[k++] = ch[i];
        if (sample_channel(fg, n_fg, n_samples, &s, &out->hist[c], err))
            goto out;
    }
    rc = 0;
out:
    free(img);
    free(seg);
    free(fg);
    if (rc)
        pf_case_fp_free(out);
    return rc;
}

void pf_case_fp_free(pf_case_fp *fp)
{
    if (fp->hist)
        for (int c = 0; c < fp->n_channels; c++) {
            free(fp->hist[c].value);
            free(fp->hist[c].count);
        }
    free(fp->hist);
    memset(fp, 0, sizeof *fp);
}

/* ---- pooling ---- */

/* The value of rank k (0-based) in the multiset of all cases' samples of channel c: the
 * histograms are each ascending, so k-way selection by binary search on the value would do;
 * the simpler exact way used here merges them into one sorted run. */
static int cmp_pair(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

typedef struct pair {
    float value;
    uint32_t pad;
    uint64_t count;
} pair;

static float at_rank(const pair *p, size_t n, uint64_t k)
{
    uint64_t seen = 0;
    for (size_t i = 0; i < n; i++) {
        seen += p[i].count;
        if (k < seen)
            return p[i].value;
    }
    return p[n - 1].value;
}

static double percentile(const pair *p, size_t n, uint64_t total, double q)
{
    uint64_t k;
    double g = pf_np_quantile_gamma(total, q, &k);
    return pf_np_lerp_f32(at_rank(p, n, k), at_rank(p, n, k + 1 < total ? k + 1 : k), g);
}

int pf_fg_pool(const pf_case_fp *cases, int n_cases, int channel, pf_fg_stats *out,
               pf_error *err)
{
    size_t n = 0, m = 0;
    uint64_t total = 0;
    double sum = 0.0, var = 0.0, mean;
    pair *p;
    memset(out, 0, sizeof *out);
    for (int i = 0; i < n_cases; i++)
        if (channel < cases[i].n_channels) /* cases set aside have no record */
            n += cases[i].hist[channel].n;
    if (n == 0) {
        out->empty = 1;
        out->max = out->mean = out->median = out->min = NAN;
        out->percentile_00_5 = out->percentile_99_5 = out->std = NAN;
        return 0;
    }
    p = pf_calloc(n, sizeof *p, err);
    if (!p)
        return -1;
    for (int i = 0; i < n_cases; i++) {
        const pf_fg_hist *h;
        if (channel >= cases[i].n_channels)
            continue;
        h = &cases[i].hist[channel];
        for (size_t j = 0; j < h->n; j++) {
            p[m].value = h->value[j];
            p[m++].count = h->count[j];
            total += h->count[j];
            sum += (double)h->value[j] * (double)h->count[j];
        }
    }
    qsort(p, m, sizeof *p, cmp_pair);
    mean = sum / (double)total;
    for (size_t i = 0; i < m; i++)
        var += ((double)p[i].value - mean) * ((double)p[i].value - mean) * (double)p[i].count;
    /* nnU-Net's mean and std are numpy float32 results */
    out->mean = (float)mean;
    out->std = (float)sqrt(var / (double)total);
    out->min = p[0].value;
    out->max = p[m - 1].value;
    out->percentile_00_5 = percentile(p, m, total, 0.5);
    out->median = percentile(p, m, total, 50.0);
    out->percentile_99_5 = percentile(p, m, total, 99.5);
    free(p);
    return 0;
}
