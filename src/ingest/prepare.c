/* prepare.c - one case preprocessed in nnU-Net's order (see prepare.h). */
#include "prepare.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "preprocess.h"
#include "resample.h"

const char *pf_scheme_name(pf_scheme s)
{
    switch (s) {
    case PF_SCHEME_CT: return "ct";
    case PF_SCHEME_NONE: return "none";
    case PF_SCHEME_RESCALE01: return "rescale_to_0_1";
    case PF_SCHEME_RGB01: return "rgb_to_0_1";
    default: return "zscore";
    }
}

/* out axis i = in axis t[i], for nch channels of shape s (Z, Y, X); the new shape in ns. */
static void *transpose(const void *in, size_t elem, int nch, const int64_t s[3], const int t[3],
                       int64_t ns[3])
{
    const int64_t stride[3] = {s[1] * s[2], s[2], 1};
    const size_t nv = (size_t)(s[0] * s[1] * s[2]);
    char *out;
    for (int d = 0; d < 3; d++)
        ns[d] = s[t[d]];
    out = malloc(nv * (size_t)nch * elem);
    if (!out)
        return NULL;
    for (int c = 0; c < nch; c++) {
        const char *src = (const char *)in + (size_t)c * nv * elem;
        char *dst = out + (size_t)c * nv * elem;
        size_t k = 0;
        for (int64_t a = 0; a < ns[0]; a++)
            for (int64_t b = 0; b < ns[1]; b++)
                for (int64_t x = 0; x < ns[2]; x++, k++) {
                    int64_t i = a * stride[t[0]] + b * stride[t[1]] + x * stride[t[2]];
                    memcpy(dst + k * elem, src + (size_t)i * elem, elem);
                }
    }
    return out;
}

/* nnU-Net's normalisation of one channel in place (float32 arithmetic, as numpy does it on a
 * float32 image); statistics of the case in double. */
static void normalise(float *v, size_t n, const int16_t *seg, const pf_channel_norm *cn,
                      float *shift_out, float *scale_out)
{
    double sum = 0, sq = 0, mean, sd;
    size_t cnt = 0;
    float shift = 0.0f, scale = 1.0f, lo = -INFINITY, hi = INFINITY;
    int masked = 0;
    switch (cn->scheme) {
    case PF_SCHEME_ZSCORE:
        masked = cn->use_mask;
        for (size_t i = 0; i < n; i++)
            if (!masked || seg[i] >= 0) {
                sum += v[i];
                cnt++;
            }
        mean = cnt ? sum / (double)cnt : 0.0;
        for (size_t i = 0; i < n; i++)
            if (!masked || seg[i] >= 0)
                sq += ((double)v[i] - mean) * ((double)v[i] - mean);
        sd = cnt ? sqrt(sq / (double)cnt) : 0.0;
        shift = (float)mean;
        scale = (float)fmax((float)sd, 1e-8);
        break;
    case PF_SCHEME_CT:
        lo = (float)cn->ct_lo;
        hi = (float)cn->ct_hi;
        shift = (float)cn->ct_mean;
        scale = (float)fmax(cn->ct_std, 1e-8);
        break;
    case PF_SCHEME_RESCALE01: {
        float mn = INFINITY, mx = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            mn = v[i] < mn ? v[i] : mn;
            mx = v[i] > mx ? v[i] : mx;
        }
        shift = n ? mn : 0.0f;
        scale = (float)fmax((double)(mx - mn), 1e-8); /* max after subtracting the min */
        break;
    }
    case PF_SCHEME_RGB01:
        scale = 255.0f;
        break;
    case PF_SCHEME_NONE:
        break;
    }
    *shift_out = shift;
    *scale_out = scale;
    if (cn->scheme == PF_SCHEME_NONE)
        return;
    for (size_t i = 0; i < n; i++) {
        float x;
        if (masked && seg[i] < 0)
            continue; /* nnU-Net leaves voxels outside the mask as they are (0 after the crop) */
        x = v[i] < lo ? lo : v[i] > hi ? hi : v[i];
        v[i] = (x - shift) / scale;
    }
}

int pf_prepare_check_input(const pf_loaded_case *lc, const pf_prep_spec *spec,
                           const pf_case_src *src, pf_error *err)
{
    const int64_t *S = lc->shape;
    const size_t nv = (size_t)(S[0] * S[1] * S[2]);
    for (int c = 0; c < spec->n_channels; c++) {
        const float *v = lc->image + (size_t)c * nv;
        if (spec->norm[c].scheme != PF_SCHEME_RGB01)
            continue;
        for (size_t i = 0; i < nv; i++)
            if (!(v[i] >= 0.0f && v[i] <= 255.0f)) { /* NaN too */
                /* one file per channel, or one 4D file (Decathlon) */
                const char *path = src->images[src->n_images > c ? c : 0];
                return pf_fail(err, EINVAL, "%s: channel %d is normalised as RGB (rgb_to_0_1, "
                               "values / 255) but holds %g at voxel (z, y, x) = (%lld, %lld, "
                               "%lld); RGB channels lie in [0, 255]", path, c, (double)v[i],
                               (long long)(i / (size_t)(S[1] * S[2])),
                               (long long)(i / (size_t)S[2] % (size_t)S[1]),
                               (long long)(i % (size_t)S[2]));
            }
    }
    return 0;
}

int pf_prepare_case(const pf_loaded_case *lc, const pf_prep_spec *spec, pf_prepped *out,
                    pf_error *err)
{
    const int nch = spec->n_channels;
    float *timg = NULL, *cimg = NULL;
    int16_t *tseg = NULL, *cseg = NULL;
    int64_t lo[3] = {0, 0, 0}, hi[3];
    double src_spacing[3], target[3];
    pf_resample_geom g;
    size_t cnv;
    int rc = -1;

    memset(out, 0, sizeof *out);
    if (nch > 64)
        return pf_fail(err, EINVAL, "%d channels; at most 64", nch);
    /* transpose: arrays and spacing in nnU-Net's transposed order */
    for (int d = 0; d < 3; d++)
        src_spacing[d] = fabs(lc->info.spacing[2 - spec->transpose[d]]);
    timg = transpose(lc->image, sizeof *timg, nch, lc->shape, spec->transpose,
                     out->shape_before_crop);
    tseg = transpose(lc->seg, sizeof *tseg, 1, lc->shape, spec->transpose,
                     out->shape_before_crop);
    if (!timg || !tseg) {
        pf_fail(err, ENOMEM, "out of memory transposing");
        goto out;
    }
    memcpy(out->spacing, src_spacing, sizeof src_spacing);
    /* crop to nonzero, seg 0 outside the filled mask -> -1 */
    memcpy(hi, out->shape_before_crop, sizeof hi);
    if (spec->crop)
        pf_nonzero_box(timg, nch, out->shape_before_crop, lo, hi);
    cimg = pf_crop_float(timg, nch, out->shape_before_crop, lo, hi);
    cseg = pf_crop_i16(tseg, out->shape_before_crop, lo, hi);
    free(timg);
    free(tseg);
    timg = NULL;
    tseg = NULL;
    if (!cimg || !cseg) {
        pf_fail(err, ENOMEM, "out of memory cropping");
        goto out;
    }
    for (int d = 0; d < 3; d++) {
        out->crop_lo[d] = lo[d];
        out->shape_after_crop[d] = hi[d] - lo[d];
    }
    if (spec->crop && pf_mark_outside(cimg, nch, out->shape_after_crop, cseg, err))
        goto out;
    /* normalise on the cropped grid, before resampling (nnU-Net's order) */
    cnv = (size_t)(out->shape_after_crop[0] * out->shape_after_crop[1] * out->shape_after_crop[2]);
    for (int c = 0; c < nch; c++)
        normalise(cimg + (size_t)c * cnv, cnv, cseg, &spec->norm[c], &out->shift[c],
                  &out->scale[c]);
    /* resample */
    for (int d = 0; d < 3; d++)
        target[d] = !spec->resample ? src_spacing[d]
                  : d == 0 && spec->target[0] <= 0 ? src_spacing[0] : spec->target[d];
    memcpy(out->target, target, sizeof target);
    if (pf_resample_geom_init(&g, out->shape_after_crop, NULL, src_spacing, target,
                              spec->force_separate_z, 0, err))
        goto out;
    out->separate_z = g.separate_z;
    out->z_axis = g.axis;
    memcpy(out->shape, g.out_shape, sizeof out->shape);
    if (!pf_resample_geom_changes(&g)) {
        out->image = cimg;
        out->seg = cseg;
        cimg = NULL;
        cseg = NULL;
    } else {
        const size_t nv = pf_resample_out_voxels(&g);
        out->image = malloc(nv * (size_t)nch * sizeof *out->image);
        out->seg = malloc(nv * sizeof *out->seg);
        if (!out->image || !out->seg) {
            pf_fail(err, ENOMEM, "out of memory resampling to %lldx%lldx%lld",
                    (long long)g.out_shape[0], (long long)g.out_shape[1],
                    (long long)g.out_shape[2]);
            goto out;
        }
        for (int c = 0; c < nch; c++) {
            pf_resample r;
            int bad = pf_resample_image_begin(&r, &g, spec->order, spec->order_z,
                                              cimg + (size_t)c * cnv,
                                              out->image + (size_t)c * nv, err) ||
                      pf_resample_run_pool(&r, spec->threads, err);
            pf_resample_end(&r);
            if (bad)
                goto out;
        }
        {
            pf_resample r;
            int bad = pf_resample_seg_begin(&r, &g, spec->seg_order, cseg, out->seg, 2, err) ||
                      pf_resample_run_pool(&r, spec->threads, err);
            pf_resample_end(&r);
            if (bad)
                goto out;
        }
    }
    rc = 0;
out:
    free(timg);
    free(tseg);
    free(cimg);
    free(cseg);
    if (rc)
        pf_prepped_free(out);
    return rc;
}

void pf_prepped_free(pf_prepped *p)
{
    free(p->image);
    free(p->seg);
    p->image = NULL;
    p->seg = NULL;
}
