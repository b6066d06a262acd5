/* restore.c - a prediction back on its case's source grid (see restore.h). */
#include "restore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resample.h"
#include "restore_stream.h"
#include "to_labels.h"

void pf_restore_source_shape(const pf_case_geometry *g, int64_t out[3])
{
    for (int d = 0; d < 3; d++)
        out[g->transpose[d]] = g->shape_before_crop[d];
}

int pf_restore_check(const pf_restore_spec *s, const pf_prediction *p, pf_error *err)
{
    const pf_case_geometry *g = s->g;
    char got[96], want[96];
    int64_t expect[4];
    int nd;
    if (p->kind == PF_PRED_CHANNELS) {
        expect[0] = s->n_channels;
        memcpy(expect + 1, g->shape, sizeof g->shape);
        nd = 4;
    } else {
        memcpy(expect, g->shape, sizeof g->shape);
        nd = 3;
    }
    for (int d = 0; d < nd; d++)
        if (p->shape[d] != expect[d]) {
            pf_shape_text(got, sizeof got, p->shape, p->ndim);
            pf_shape_text(want, sizeof want, expect, nd);
            if (p->kind == PF_PRED_CHANNELS && d == 0)
                return pf_fail(err, EINVAL, "%s: %lld channels (shape %s); case %s needs %d, one "
                               "per %s of dataset.json%s (shape %s)", p->path,
                               (long long)p->shape[0], got, s->case_id, s->n_channels,
                               s->regions_class_order ? "foreground region" : "label",
                               s->ignore_label > 0 ? ", the ignore label has none" : "", want);
            return pf_fail(err, EINVAL, "%s: shape %s does not match case %s as served: %s "
                           "(cases/%s/data.npy's grid%s)", p->path, got, s->case_id, want,
                           s->case_id, nd == 4 ? ", one channel per label" : "");
        }
    return 0;
}

/* Output strides of the served (transposed) axes in the source array. */
static void source_strides(const pf_case_geometry *g, int64_t st[3])
{
    int64_t ss[3], sst[3];
    pf_restore_source_shape(g, ss);
    sst[2] = 1;
    sst[1] = ss[2];
    sst[0] = ss[1] * ss[2];
    for (int d = 0; d < 3; d++)
        st[d] = sst[g->transpose[d]];
}

/* Labels on the cropped grid into the source array at the crop box, transposed back:
 * value(i) for crop voxel i (a label index through `map`, or a label itself). */
static void scatter(const pf_case_geometry *g, const void *src, int src_bytes, const int *map,
                    void *out, int out_bytes)
{
    int64_t st[3], k = 0;
    source_strides(g, st);
    for (int64_t a = 0; a < g->crop_shape[0]; a++)
        for (int64_t b = 0; b < g->crop_shape[1]; b++) {
            int64_t o = (g->crop_lo[0] + a) * st[0] + (g->crop_lo[1] + b) * st[1] +
                        g->crop_lo[2] * st[2];
            for (int64_t c = 0; c < g->crop_shape[2]; c++, k++, o += st[2]) {
                int v = src_bytes == 2 ? (map ? map[((const uint16_t *)src)[k]]
                                              : ((const int16_t *)src)[k])
                                       : ((const uint8_t *)src)[k];
                if (v < 0)
                    v = 0; /* -1: outside the case's nonzero region */
                if (out_bytes == 1)
                    ((uint8_t *)out)[o] = (uint8_t)v;
                else
                    ((uint16_t *)out)[o] = (uint16_t)v;
            }
        }
}

/* One channel of the served grid resampled to the cropped grid (dst), rounded back to float16
 * when the prediction was float16 (nnU-Net resamples into the input's dtype). */
static int resample_channel(const pf_restore_spec *s, const pf_resample_geom *rg,
                            const pf_prediction *p, int64_t c, float *scratch, float *dst,
                            size_t n, pf_error *err)
{
    const float *in;
    pf_resample r;
    int bad;
    if (pf_prediction_channel(p, c, scratch, &in, err))
        return -1;
    bad = pf_resample_image_begin(&r, rg, s->g->prob_order, s->g->prob_order_z, in, dst, err) ||
          pf_resample_run_pool(&r, s->threads, err);
    pf_resample_end(&r);
    pf_prediction_release(p, c);
    if (bad)
        return pf_wrap(err, "%s: channel %lld", p->path, (long long)c);
    if (p->itemsize == 2)
        for (size_t i = 0; i < n; i++)
            dst[i] = pf_half_round(dst[i]);
    return 0;
}

/* One channel's probabilities (cropped grid) into the npz as a source volume: outside the crop
 * box 1 for the background channel of a label dataset, else 0 (nnU-Net's
 * revert_cropping_on_probabilities), in the source array's order. */
static int write_probability_volume(const pf_restore_spec *s, const float *prob, int64_t c,
                                    pf_error *err)
{
    const pf_case_geometry *g = s->g;
    const float outside = (c == 0 && !s->regions_class_order) ? 1.0f : 0.0f;
    enum { CHUNK = 1 << 18 };
    int64_t ss[3], cst[3] = {g->crop_shape[1] * g->crop_shape[2], g->crop_shape[2], 1};
    int inv[3];
    float *buf = malloc(CHUNK * sizeof *buf);
    size_t fill = 0;
    if (!buf)
        return pf_fail(err, ENOMEM, "out of memory");
    pf_restore_source_shape(g, ss);
    for (int d = 0; d < 3; d++)
        inv[g->transpose[d]] = d;   /* source axis a is served axis inv[a] */
    for (int64_t s0 = 0; s0 < ss[0]; s0++)
        for (int64_t s1 = 0; s1 < ss[1]; s1++) {
            /* served coordinates of the row's fixed axes, relative to the crop box */
            const int64_t r0 = s0 - g->crop_lo[inv[0]], r1 = s1 - g->crop_lo[inv[1]];
            const int row_in = r0 >= 0 && r0 < g->crop_shape[inv[0]] && r1 >= 0 &&
                               r1 < g->crop_shape[inv[1]];
            const int64_t lo = g->crop_lo[inv[2]], hi = lo + g->crop_shape[inv[2]];
            const int64_t base = row_in ? r0 * cst[inv[0]] + r1 * cst[inv[1]] : 0;
            for (int64_t s2 = 0; s2 < ss[2]; s2++) {
                buf[fill++] = row_in && s2 >= lo && s2 < hi
                                  ? prob[base + (s2 - lo) * cst[inv[2]]] : outside;
                if (fill == CHUNK) {
                    if (pf_npz_stream_write(s->probabilities, buf, fill * sizeof *buf, err)) {
                        free(buf);
                        return -1;
                    }
                    fill = 0;
                }
            }
        }
    int rc = fill ? pf_npz_stream_write(s->probabilities, buf, fill * sizeof *buf, err) : 0;
    free(buf);
    return rc;
}

static int restore_channels(const pf_restore_spec *s, const pf_resample_geom *rg,
                            const pf_prediction *p, void *out, int out_bytes, pf_error *err)
{
    const size_t n = pf_resample_out_voxels(rg);
    const int regions = s->regions_class_order != NULL;
    /* what this prediction needs besides the running maximum and the winners */
    const int need_scratch = p->itemsize != 4 || ((uintptr_t)p->data & 3u);
    const int need_cur = p->channels > 1 || s->probabilities || regions;
    const int need_sum = s->probabilities && !regions;
    float *best = NULL, *cur = NULL, *sum = NULL, *scratch = NULL;
    uint16_t *arg = calloc(n, sizeof *arg);
    int rc = -1;
    if (!regions) /* regions write their classes straight into arg */
        best = malloc(n * sizeof *best);
    if (need_scratch)
        scratch = malloc(p->voxels * sizeof *scratch);
    if (need_cur)
        cur = malloc(n * sizeof *cur);
    if (need_sum)
        sum = malloc(n * sizeof *sum);
    if ((!regions && !best) || !arg || (need_scratch && !scratch) || (need_cur && !cur) ||
        (need_sum && !sum)) {
        pf_fail(err, ENOMEM, "out of memory for case %s's cropped grid (%zu voxels)",
                s->case_id, n);
        goto out;
    }
    /* pass 1: labels (and the softmax's maximum and sum) */
    for (int64_t c = 0; c < p->channels; c++) {
        float *dst = c == 0 && !regions ? best : cur;
        if (resample_channel(s, rg, p, c, scratch, dst, n, err))
            goto out;
        if (regions) {
            pf_regions_step(arg, dst, n, s->regions_class_order[c]);
        } else {
            if (sum) /* best doubles as the softmax's maximum */
                pf_argmax_softmax_step(best, sum, arg, dst, n, (int)c);
            else
                pf_argmax_step(best, arg, dst, n, (int)c);
        }
    }
    if (regions) {
        scatter(s->g, arg, 2, NULL, out, out_bytes); /* the values are the classes */
    } else {
        scatter(s->g, arg, 2, s->channel_label, out, out_bytes);
    }
    /* pass 2: each channel's probabilities, resampled again rather than kept */
    for (int64_t c = 0; s->probabilities && c < p->channels; c++) {
        if (resample_channel(s, rg, p, c, scratch, cur, n, err))
            goto out;
        if (regions)
            pf_sigmoid_apply(cur, cur, n);
        else
            pf_softmax_apply(cur, cur, best, sum, n);
        if (write_probability_volume(s, cur, c, err))
            goto out;
    }
    rc = 0;
out:
    free(best);
    free(cur);
    free(sum);
    free(scratch);
    free(arg);
    return rc;
}

/* A label map: checked against dataset.json's labels, resampled as segmentations are. */
static int restore_label_map(const pf_restore_spec *s, const pf_resample_geom *rg,
                             const pf_prediction *p, void *out, int out_bytes, pf_error *err)
{
    const size_t n = pf_resample_out_voxels(rg);
    int16_t *in = malloc(p->voxels * sizeof *in), *res = malloc(n * sizeof *res);
    unsigned char *known = calloc(32769, 1);
    pf_resample r;
    int rc = -1, bad;
    if (!in || !res || !known) {
        pf_fail(err, ENOMEM, "out of memory for case %s", s->case_id);
        goto out;
    }
    if (pf_prediction_labels(p, in, err))
        goto out;
    known[0] = known[1] = 1; /* -1 and 0: background */
    for (int k = 0; k < (s->labels ? s->n_labels : s->n_channels); k++)
        known[(s->labels ? s->labels : s->channel_label)[k] + 1] = 1;
    for (size_t i = 0; i < p->voxels; i++)
        if (!known[in[i] + 1]) {
            if (in[i] == s->ignore_label && s->ignore_label > 0)
                pf_fail(err, EINVAL, "%s: label %d is dataset.json's ignore label, which a "
                        "prediction cannot hold (nnU-Net predicts only the other labels)",
                        p->path, in[i]);
            else
                pf_fail(err, EINVAL, "%s: label %d is not a label of dataset.json", p->path,
                        in[i]);
            goto out;
        }
    bad = pf_resample_seg_begin(&r, rg, s->g->seg_order, in, res, 2, err) ||
          pf_resample_run_pool(&r, s->threads, err);
    pf_resample_end(&r);
    if (bad)
        goto out;
    free(in);
    in = NULL;
    scatter(s->g, res, 2, NULL, out, out_bytes);
    rc = 0;
out:
    free(in);
    free(res);
    free(known);
    return rc;
}

int pf_restore(const pf_restore_spec *s, const pf_prediction *p, void *out, int out_bytes,
               pf_error *err)
{
    pf_resample_geom rg;
    if (pf_restore_check(s, p, err))
        return -1;
    /* from the served grid (its spacing) to the cropped source grid (the source spacing):
     * nnU-Net's resample_data_or_seg_to_shape, separate-z decided from these two spacings */
    if (pf_resample_geom_init(&rg, s->g->shape, s->g->crop_shape, s->g->spacing,
                              s->g->src_spacing, s->g->prob_force_separate_z, 0, err))
        return pf_wrap(err, "case %s", s->case_id);
    if (p->kind == PF_PRED_LABELS) {
        if (s->probabilities)
            return pf_fail(err, EINVAL, "%s: a label map has no probabilities to write",
                           p->path);
        return restore_label_map(s, &rg, p, out, out_bytes, err);
    }
    if (pf_restore_stream_fits(s, p, &rg))
        return pf_restore_stream(s, &rg, p, out, out_bytes, err);
    return restore_channels(s, &rg, p, out, out_bytes, err);
}
