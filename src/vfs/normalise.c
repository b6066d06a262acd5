/* normalise.c - per-channel normalisation decisions, as nnU-Net makes them (see normalise.h). */
#include "normalise.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "order.h"

/* nnU-Net picks a scheme by channel name, case-insensitively; anything else is z-score. */
static pf_scheme scheme_for(const pf_options *o, const char *channel_name)
{
    char low[64];
    size_t i;
    switch (o->normalize) {
    case PF_NORM_ZSCORE: return PF_SCHEME_ZSCORE;
    case PF_NORM_CT: return PF_SCHEME_CT;
    case PF_NORM_NONE: return PF_SCHEME_NONE;
    default: break;
    }
    for (i = 0; channel_name[i] && i < sizeof low - 1; i++)
        low[i] = (char)tolower((unsigned char)channel_name[i]);
    low[i] = '\0';
    if (!strcmp(low, "ct")) return PF_SCHEME_CT;
    if (!strcmp(low, "nonorm")) return PF_SCHEME_NONE;
    if (!strcmp(low, "rescale_to_0_1")) return PF_SCHEME_RESCALE01;
    if (!strcmp(low, "rgb_to_0_1")) return PF_SCHEME_RGB01;
    return PF_SCHEME_ZSCORE;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static int ct_statistics(const pf_dataset *ds, const pf_cache *cache, int ch, pf_channel_norm *cn,
                         pf_error *err)
{
    size_t total = 0, k = 0;
    float *all;
    double sum = 0, var = 0, mean;
    for (int i = 0; i < ds->n_cases; i++)
        total += cache->cases[i].hdr.n_fg;
    if (total == 0) {
        cn->ct_mean = 0;
        cn->ct_std = 1;
        cn->ct_lo = -INFINITY;
        cn->ct_hi = INFINITY;
        return 0;
    }
    all = malloc(total * sizeof *all);
    if (!all)
        return pf_fail(err, ENOMEM, "out of memory for CT statistics");
    for (int i = 0; i < ds->n_cases; i++) {
        const pf_case *c = &cache->cases[i];
        memcpy(all + k, c->fg + (size_t)ch * c->hdr.n_fg, c->hdr.n_fg * sizeof *all);
        k += c->hdr.n_fg;
    }
    for (size_t i = 0; i < total; i++)
        sum += all[i];
    mean = sum / (double)total;
    for (size_t i = 0; i < total; i++)
        var += ((double)all[i] - mean) * ((double)all[i] - mean);
    qsort(all, total, sizeof *all, cmp_float);
    cn->ct_mean = mean;
    cn->ct_std = sqrt(var / (double)total);
    cn->ct_lo = pf_percentile_sorted(all, total, 0.5);
    cn->ct_hi = pf_percentile_sorted(all, total, 99.5);
    free(all);
    return 0;
}

int pf_normalisation_decide(pf_normalisation *nm, const pf_options *o, const pf_dataset *ds,
                            const pf_cache *cache, pf_error *err)
{
    const int nch = ds->n_channels, nc = ds->n_cases;
    double *rel = calloc((size_t)nc, sizeof *rel);
    memset(nm, 0, sizeof *nm);
    nm->channel = calloc((size_t)nch, sizeof *nm->channel);
    nm->cases = calloc((size_t)(nc * nch), sizeof *nm->cases);
    if (!rel || !nm->channel || !nm->cases) {
        free(rel);
        return pf_fail(err, ENOMEM, "out of memory");
    }
    /* nnU-Net normalises z-score channels inside the nonzero mask only when cropping shrank
     * the median case below 3/4 of its size. */
    for (int i = 0; i < nc; i++) {
        const pf_case_header *h = &cache->cases[i].hdr;
        rel[i] = (double)(h->shape[0] * h->shape[1] * h->shape[2]) /
                 (double)(h->orig_shape[0] * h->orig_shape[1] * h->orig_shape[2]);
    }
    nm->median_relative_size = pf_median(rel, nc);
    free(rel);
    for (int ch = 0; ch < nch; ch++) {
        pf_channel_norm *cn = &nm->channel[ch];
        cn->scheme = scheme_for(o, ds->channel_names[ch]);
        cn->use_mask = cn->scheme == PF_SCHEME_ZSCORE && o->crop == PF_CROP_NONZERO &&
                       nm->median_relative_size < 0.75;
        if (cn->scheme == PF_SCHEME_CT && ct_statistics(ds, cache, ch, cn, err))
            return -1;
    }
    for (int i = 0; i < nc; i++)
        for (int ch = 0; ch < nch; ch++) {
            const pf_chan_stats *st = &cache->cases[i].hdr.stats[ch];
            const pf_channel_norm *cn = &nm->channel[ch];
            pf_norm *cp = &nm->cases[i * nch + ch];
            double lo = -INFINITY, hi = INFINITY, shift = 0, scale = 1;
            switch (cn->scheme) {
            case PF_SCHEME_CT:
                lo = cn->ct_lo;
                hi = cn->ct_hi;
                shift = cn->ct_mean;
                scale = fmax(cn->ct_std, 1e-8);
                break;
            case PF_SCHEME_ZSCORE:
                shift = cn->use_mask ? st->mean_mask : st->mean;
                scale = fmax(cn->use_mask ? st->std_mask : st->std, 1e-8);
                break;
            case PF_SCHEME_RESCALE01:
                shift = st->min;
                scale = fmax(st->max - st->min, 1e-8);
                break;
            case PF_SCHEME_RGB01:
                scale = 255.0;
                break;
            case PF_SCHEME_NONE:
                break;
            }
            cp->lo = (float)lo;
            cp->hi = (float)hi;
            cp->shift = (float)shift;
            cp->scale = (float)scale;
            cp->masked = cn->use_mask;
        }
    return 0;
}

void pf_normalisation_free(pf_normalisation *nm)
{
    free(nm->channel);
    free(nm->cases);
    memset(nm, 0, sizeof *nm);
}
