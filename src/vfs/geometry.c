/* geometry.c - the plan, the configuration and the preprocessing they imply (see geometry.h). */
#include "geometry.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "order.h"
#include "plans_json.h"

/* nnU-Net's normalisation class names -> schemes */
static int scheme_of(const char *name, pf_scheme *s)
{
    static const struct { const char *name; pf_scheme s; } map[] = {
        {"CTNormalization", PF_SCHEME_CT}, {"ZScoreNormalization", PF_SCHEME_ZSCORE},
        {"NoNormalization", PF_SCHEME_NONE}, {"RescaleTo01Normalization", PF_SCHEME_RESCALE01},
        {"RGBTo01Normalization", PF_SCHEME_RGB01}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(name, map[i].name)) {
            *s = map[i].s;
            return 0;
        }
    return -1;
}

/* The fingerprint the planner reads, from the cases' records. */
static int make_fingerprint(const pf_dataset *ds, const pf_options *o, const pf_case_fp *fps,
                            int n, pf_fingerprint *fp, double **spacings, int64_t **shapes,
                            pf_intensity_props *props, pf_error *err)
{
    double *rel = pf_calloc((size_t)n, sizeof *rel, err);
    int k = 0;
    *spacings = pf_calloc((size_t)n * 3, sizeof **spacings, err);
    *shapes = pf_calloc((size_t)n * 3, sizeof **shapes, err);
    if (!rel || !*spacings || !*shapes) {
        free(rel);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (fps[i].n_channels == 0)
            continue; /* set aside (skip_bad) */
        for (int d = 0; d < 3; d++) {
            (*spacings)[3 * k + d] = fps[i].spacing[d];
            (*shapes)[3 * k + d] = fps[i].shape_after_crop[d];
        }
        rel[k++] = fps[i].relative_size;
    }
    if (k == 0) {
        free(rel);
        return pf_fail(err, EINVAL, "%s: no case to plan from", ds->root);
    }
    for (int c = 0; c < ds->n_channels; c++) {
        pf_fg_stats st;
        if (pf_fg_pool(fps, n, c, &st, err)) {
            free(rel);
            return -1;
        }
        props[c] = (pf_intensity_props){st.max, st.mean, st.median, st.min, st.percentile_00_5,
                                        st.percentile_99_5, st.std};
    }
    memset(fp, 0, sizeof *fp);
    fp->dataset_name = ds->name;
    fp->n_channels = ds->n_channels;
    fp->channel_names = (const char *const *)ds->channel_names;
    fp->intensity = props;
    fp->n_cases = k;
    fp->spacings = *spacings;
    fp->shapes = *shapes;
    fp->median_relative_size_after_cropping = pf_median(rel, k);
    fp->n_labels = ds->n_label_keys; /* len(dataset.json "labels"), as nnU-Net's planner */
    fp->num_training = ds->n_cases;
    fp->gpu_memory_gb = o->gpu_mem_gb;
    free(rel);
    return 0;
}

/* A plans file must be for this dataset: its configuration's channels, its name. */
static int check_plan_fits(const pf_plan *p, const pf_plan_config *c, const pf_dataset *ds,
                           const char *file, pf_error *err)
{
    if (c->n_norm != ds->n_channels)
        return pf_fail(err, EINVAL, "%s: configuration %s normalises %d channel%s but %s has %d "
                       "(a plan for another dataset?)", file, c->name, c->n_norm,
                       c->n_norm == 1 ? "" : "s", ds->root, ds->n_channels);
    if (p->dataset_name[0] && strcmp(p->dataset_name, ds->name) != 0)
        return pf_fail(err, EINVAL, "%s: dataset_name is \"%s\" but the dataset is %s (copy the "
                       "plan into a file of its own and edit dataset_name if it is meant for "
                       "this dataset)", file, p->dataset_name, ds->name);
    if ((p->keys & PF_PT_BIT(PF_PT_FOREGROUND_INTENSITY)) && p->n_intensity != 0 &&
        p->n_intensity != ds->n_channels)
        return pf_fail(err, EINVAL, "%s: foreground_intensity_properties_per_channel has %d "
                       "channels but %s has %d", file, p->n_intensity, ds->root, ds->n_channels);
    return 0;
}

static void list_configs(const pf_plan *p, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < p->n_configs && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%s", i ? ", " : "", p->configs[i].name);
}

int pf_geometry_decide(pf_geometry *g, const pf_options *o, const pf_dataset *ds,
                       const pf_case_fp *fps, int n, pf_error *err)
{
    const char *file = o->plans_file[0] ? o->plans_file : NULL;
    pf_fingerprint fp;
    const char *cname = pf_configuration_names[o->configuration];
    const int named = pf_options_given(o, "configuration");
    const pf_plan_config *c;
    double *spacings = NULL;
    int64_t *shapes = NULL;
    pf_intensity_props props[64];
    int rc = -1;

    memset(g, 0, sizeof *g);
    if (make_fingerprint(ds, o, fps, n, &fp, &spacings, &shapes, props, err))
        goto out;
    g->median_relative_size = fp.median_relative_size_after_cropping;
    if (file ? pf_plans_read(file, &g->plan, err) : pf_plan_experiment(&fp, &g->plan, err))
        goto out;
    g->have_plan = 1;
    c = pf_plan_find_config(&g->plan, cname);
    if (!c && !named)
        c = pf_plan_find_config(&g->plan, "2d"); /* a dataset of one-slice cases has no 3D */
    if (!c) {
        char names[512];
        list_configs(&g->plan, names, sizeof names);
        pf_fail(err, EINVAL, "option 'configuration': %s has no configuration \"%s\" (it has: "
                "%s)", file ? file : "the plan", cname, names);
        goto out;
    }
    if (file && check_plan_fits(&g->plan, c, ds, file, err))
        goto out;
    g->config = c;
    if (pf_plans_to_json(&g->plan, &g->plans_json, err))
        goto out;

    /* normalisation: the plan's schemes, unless normalize= names one for every channel */
    for (int ch = 0; ch < ds->n_channels; ch++) {
        pf_channel_norm *cn = &g->norm[ch];
        if (scheme_of(c->normalization_schemes[ch], &cn->scheme)) {
            pf_fail(err, EINVAL, "%s: configuration %s: normalisation \"%s\" of channel %d is "
                    "not one of nnU-Net's", file ? file : "plan", c->name,
                    c->normalization_schemes[ch], ch);
            goto out;
        }
        cn->use_mask = ch < c->n_use_mask && c->use_mask_for_norm[ch];
        switch (o->normalize) {
        case PF_NORM_ZSCORE: cn->scheme = PF_SCHEME_ZSCORE; break;
        case PF_NORM_CT: cn->scheme = PF_SCHEME_CT; break;
        case PF_NORM_NONE: cn->scheme = PF_SCHEME_NONE; break;
        default: break;
        }
        if (cn->scheme != PF_SCHEME_ZSCORE || o->crop != PF_CROP_NONZERO)
            cn->use_mask = 0;
        if (cn->scheme == PF_SCHEME_CT) {
            const pf_intensity_props *ip = ch < g->plan.n_intensity ? &g->plan.intensity[ch] : NULL;
            if (!ip || isnan(ip->mean)) {
                pf_fail(err, EINVAL, "channel %d (%s) is normalised as CT but %s has no "
                        "foreground intensities for it", ch, ds->channel_names[ch],
                        file ? file : "the fingerprint");
                goto out;
            }
            cn->ct_mean = ip->mean;
            cn->ct_std = ip->std;
            cn->ct_lo = ip->percentile_00_5;
            cn->ct_hi = ip->percentile_99_5;
        }
    }

    /* preprocessing */
    g->spec.n_channels = ds->n_channels;
    g->spec.norm = g->norm;
    g->spec.crop = o->crop == PF_CROP_NONZERO;
    g->spec.order = c->resampling_data.order;
    g->spec.order_z = c->resampling_data.order_z;
    g->spec.seg_order = c->resampling_seg.order;
    g->spec.seg_order_z = c->resampling_seg.order_z;
    g->spec.force_separate_z = c->resampling_data.force_separate_z;
    if (o->spacing_mode == PF_SPACING_NATIVE) {
        for (int d = 0; d < 3; d++)
            g->spec.transpose[d] = d;
        g->spec.resample = 0;
    } else {
        memcpy(g->spec.transpose, g->plan.transpose_forward, sizeof g->spec.transpose);
        g->spec.resample = 1;
        if (o->spacing_mode == PF_SPACING_FORCED)
            memcpy(g->spec.target, o->spacing, sizeof g->spec.target);
        else if (c->ndim == 2) {
            g->spec.target[0] = 0.0; /* each case keeps its own slice spacing */
            g->spec.target[1] = c->spacing[0];
            g->spec.target[2] = c->spacing[1];
        } else {
            memcpy(g->spec.target, c->spacing, sizeof g->spec.target);
        }
    }

    /* patch, batch and deep supervision from the configuration unless given */
    if (o->patch[0]) {
        memcpy(g->patch, o->patch, sizeof g->patch);
        g->patch_2d = o->patch_2d;
    } else if (o->spacing_mode != PF_SPACING_NATIVE) {
        if (c->ndim == 2) {
            g->patch[0] = 1;
            g->patch[1] = (int)c->patch_size[0];
            g->patch[2] = (int)c->patch_size[1];
            g->patch_2d = 1;
        } else {
            for (int d = 0; d < 3; d++)
                g->patch[d] = (int)c->patch_size[d];
        }
    } /* spacing=native without patch=: the caller's default (median shape) */
    g->batch = pf_options_given(o, "batch") || o->spacing_mode == PF_SPACING_NATIVE
                   ? o->batch : c->batch_size;
    {
        double sc[PF_PLAN_MAX_STAGES][PF_PLAN_MAX_DIM];
        int k = pf_plan_ds_scales(c, sc);
        g->n_ds = k < 16 ? k : 16;
        for (int i = 0; i < g->n_ds; i++) {
            if (c->ndim == 2) {
                g->ds_scales[i][0] = 1.0;
                g->ds_scales[i][1] = sc[i][0];
                g->ds_scales[i][2] = sc[i][1];
            } else {
                memcpy(g->ds_scales[i], sc[i], sizeof g->ds_scales[i]);
            }
        }
    }
    rc = 0;
out:
    free(spacings);
    free(shapes);
    if (rc)
        pf_geometry_free(g);
    return rc;
}

void pf_geometry_free(pf_geometry *g)
{
    if (g->have_plan)
        pf_plan_free(&g->plan);
    free(g->plans_json);
    memset(g, 0, sizeof *g);
}
