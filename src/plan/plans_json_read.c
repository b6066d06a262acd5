/* plans_json_read.c - nnUNetPlans.json read into a pf_plan: the top level, each
 * configuration (plans_json_config.c) resolved against the one it inherits_from as nnU-Net's
 * PlansManager resolves them, the required keys checked; from text or from a file. */
#include "plans_json_i.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies the values of configuration key k (a PF_PJ_CONFIG_KEYS bit) from src to dst. */
static void copy_key(pf_plan_config *dst, const pf_plan_config *src, int k)
{
#define CP(field) memcpy(&dst->field, &src->field, sizeof dst->field)
    switch (k) {
    case PF_PK_DATA_IDENTIFIER: CP(data_identifier); break;
    case PF_PK_PREPROCESSOR_NAME: CP(preprocessor_name); break;
    case PF_PK_BATCH_SIZE: CP(batch_size); break;
    case PF_PK_PATCH_SIZE: CP(patch_size); break;
    case PF_PK_MEDIAN_IMAGE_SIZE: CP(median_image_size); CP(median_is_integer); break;
    case PF_PK_SPACING: CP(spacing); break;
    case PF_PK_NORMALIZATION_SCHEMES: CP(n_norm); CP(normalization_schemes); break;
    case PF_PK_USE_MASK_FOR_NORM: CP(n_use_mask); CP(use_mask_for_norm); break;
    case PF_PK_RESAMPLING_FN_DATA: CP(resampling_fn_data); break;
    case PF_PK_RESAMPLING_FN_SEG: CP(resampling_fn_seg); break;
    case PF_PK_RESAMPLING_FN_DATA_KWARGS: CP(resampling_data); break;
    case PF_PK_RESAMPLING_FN_SEG_KWARGS: CP(resampling_seg); break;
    case PF_PK_RESAMPLING_FN_PROBABILITIES: CP(resampling_fn_probabilities); break;
    case PF_PK_RESAMPLING_FN_PROBABILITIES_KWARGS: CP(resampling_probabilities); break;
    case PF_PK_ARCHITECTURE:
        CP(network_class_name); CP(n_imports); CP(kw_requires_import); CP(n_stages);
        CP(features_per_stage); CP(kernel_sizes); CP(strides); CP(n_conv_per_stage);
        CP(n_blocks_per_stage);
        CP(n_conv_per_stage_decoder); CP(conv_bias); CP(conv_op); CP(norm_op); CP(nonlin);
        CP(dropout_op); CP(norm_op_kwargs); CP(dropout_op_kwargs); CP(nonlin_kwargs);
        break;
    case PF_PK_BATCH_DICE: CP(batch_dice); break;
    case PF_PK_NEXT_STAGE: CP(next_stage); break;
    case PF_PK_PREVIOUS_STAGE: CP(previous_stage); break;
    default: break;
    }
#undef CP
}

/* PlansManager._internal_resolve_configuration_inheritance: the parent resolved, then the
 * child's keys over it (dict.update: "architecture" is replaced whole). state: 0 new,
 * 1 being resolved (a cycle if met again), 2 done. */
static int resolve(const pf_pj_reader *r, const pf_plan_config *raw, int n, int i, char *state,
                   pf_plan_config *out)
{
    const pf_plan_config *c = &raw[i];
    char path[PF_PJ_PATH_CAP];
    int parent = -1;
    uint64_t inherited, dims_child, dims_parent;

    if (state[i] == 2)
        return 0;
    pf_pj_pathf(path, "configurations.%s.inherits_from", c->name);
    if (!c->inherits_from[0]) {
        out[i] = *c;
        out[i].keys = c->own_keys;
        state[i] = 2;
        return 0;
    }
    for (int j = 0; j < n; j++)
        if (!strcmp(raw[j].name, c->inherits_from))
            parent = j;
    if (parent < 0) {
        char msg[PF_PLAN_NAME_MAX + 64];
        snprintf(msg, sizeof msg, "no configuration named \"%s\"", c->inherits_from);
        return pf_pj_bad(r, path, msg);
    }
    if (state[parent] == 1)
        return pf_pj_bad(r, path, "circular inheritance");
    state[i] = 1;
    if (resolve(r, raw, n, parent, state, out))
        return -1;

    out[i] = out[parent];
    inherited = out[parent].keys;
    if (c->own_keys & PF_PK_BIT(PF_PK_ARCHITECTURE))
        inherited &= ~PF_PJ_ARCH_KEYS;
    /* per-axis lists must agree across the inheritance */
    dims_child = c->own_keys & PF_PJ_DIM_KEYS;
    dims_parent = inherited & PF_PJ_DIM_KEYS & ~dims_child;
    if (dims_child && dims_parent && c->ndim != out[parent].ndim) {
        char msg[128];
        snprintf(msg, sizeof msg, "%d axes in the configuration, %d in the one it inherits from",
                 c->ndim, out[parent].ndim);
        return pf_pj_bad(r, path, msg);
    }
    for (int k = 0; k <= PF_PK_PREVIOUS_STAGE; k++)
        if (c->own_keys & PF_PK_BIT(k))
            copy_key(&out[i], c, k);
    if (dims_child)
        out[i].ndim = c->ndim;
    memcpy(out[i].name, c->name, sizeof out[i].name);
    memcpy(out[i].inherits_from, c->inherits_from, sizeof out[i].inherits_from);
    out[i].own_keys = c->own_keys;
    out[i].keys = inherited | c->own_keys;
    state[i] = 2;
    return 0;
}

static int rd_intensity(const pf_pj_reader *r, const json_t *v, const char *path, pf_plan *p)
{
    const char *key;
    json_t *val;
    char q[PF_PJ_PATH_CAP], msg[64];
    int seen[PF_PLAN_MAX_CHANNELS] = {0}, n = 0;

    if (!json_is_object(v))
        return pf_pj_bad(r, path, "expected an object");
    json_object_foreach((json_t *)v, key, val) {
        char *end;
        long ch = strtol(key, &end, 10);
        pf_pj_subkey(q, path, key);
        if (!key[0] || *end || ch < 0 || ch >= PF_PLAN_MAX_CHANNELS)
            return pf_pj_bad(r, q, "expected a channel number as key");
        if (!json_is_object(val))
            return pf_pj_bad(r, q, "expected an object");
        for (int f = 0; f < 7; f++) {
            char qf[PF_PJ_PATH_CAP];
            const json_t *x = json_object_get(val, pf_pj_intensity_names[f]);
            pf_pj_subkey(qf, q, pf_pj_intensity_names[f]);
            if (!x)
                return pf_pj_bad(r, qf, "missing");
            if (pf_pj_double(r, x, qf, pf_pj_intensity_field(&p->intensity[ch], f)))
                return -1;
        }
        seen[ch] = 1;
        if (ch + 1 > n)
            n = (int)ch + 1;
    }
    for (int ch = 0; ch < n; ch++)
        if (!seen[ch]) {
            snprintf(msg, sizeof msg, "channel %d missing", ch);
            return pf_pj_bad(r, path, msg);
        }
    p->n_intensity = n;
    return 0;
}

static int rd_axes3(const pf_pj_reader *r, const json_t *v, const char *path, int *perm)
{
    char q[PF_PJ_PATH_CAP];
    int seen[3] = {0};
    if (pf_pj_list3(r, v, path))
        return -1;
    for (int a = 0; a < 3; a++) {
        pf_pj_subidx(q, path, a);
        if (pf_pj_int32(r, json_array_get(v, (size_t)a), q, 0, 2, &perm[a]))
            return -1;
        if (seen[perm[a]]++)
            return pf_pj_bad(r, path, "not a permutation of 0, 1, 2");
    }
    return 0;
}

/* The value val of top-level key `key` into the char array p->field. */
#define STRING(field) pf_pj_string(r, val, key, p->field, sizeof p->field, 0)

static int rd_plan(const pf_pj_reader *r, const json_t *top, pf_plan *p)
{
    const char *key;
    json_t *val, *configs = NULL;
    pf_plan_config *raw = NULL;
    char *state = NULL;
    int n = 0, ret = -1;

    if (!json_is_object(top))
        return pf_pj_bad(r, "(top level)", "expected an object");
    json_object_foreach((json_t *)top, key, val) {
        int k = -1, rc = 0;
        for (int i = 0; i < PF_PT_COUNT; i++)
            if (!strcmp(key, pf_pj_top_names[i]))
                k = i;
        /* the name PlansManager still accepts from early nnU-Net v2 plans */
        if (!strcmp(key, "foreground_intensity_properties_by_modality") &&
            !json_object_get(top, pf_pj_top_names[PF_PT_FOREGROUND_INTENSITY]))
            k = PF_PT_FOREGROUND_INTENSITY;
        if (k < 0)
            continue;
        switch (k) {
        case PF_PT_DATASET_NAME: rc = STRING(dataset_name); break;
        case PF_PT_PLANS_NAME: rc = STRING(plans_name); break;
        case PF_PT_ORIGINAL_MEDIAN_SPACING:
            rc = pf_pj_list3(r, val, key) ||
                 pf_pj_double_list(r, val, key, p->original_median_spacing, 3, 0, NULL) < 0;
            break;
        case PF_PT_ORIGINAL_MEDIAN_SHAPE:
            rc = pf_pj_list3(r, val, key) ||
                 pf_pj_i64_list(r, val, key, p->original_median_shape, 3, 0, (long long)1 << 40,
                                NULL) < 0;
            break;
        case PF_PT_IMAGE_READER_WRITER: rc = STRING(image_reader_writer); break;
        case PF_PT_TRANSPOSE_FORWARD: rc = rd_axes3(r, val, key, p->transpose_forward); break;
        case PF_PT_TRANSPOSE_BACKWARD: rc = rd_axes3(r, val, key, p->transpose_backward); break;
        case PF_PT_CONFIGURATIONS:
            if (!json_is_object(val))
                return pf_pj_bad(r, key, "expected an object");
            configs = val;
            break;
        case PF_PT_EXPERIMENT_PLANNER_USED: rc = STRING(experiment_planner_used); break;
        case PF_PT_LABEL_MANAGER: rc = STRING(label_manager); break;
        case PF_PT_FOREGROUND_INTENSITY: rc = rd_intensity(r, val, key, p); break;
        default: break;
        }
        if (rc)
            return -1;
        p->keys |= PF_PT_BIT(k);
    }
    for (int k = 0; k < PF_PT_COUNT; k++) {
        if (k != PF_PT_TRANSPOSE_FORWARD && k != PF_PT_TRANSPOSE_BACKWARD &&
            k != PF_PT_CONFIGURATIONS)
            continue;
        if (!(p->keys & PF_PT_BIT(k)))
            return pf_pj_bad(r, pf_pj_top_names[k], "missing");
    }
    for (int a = 0; a < 3; a++)
        if (p->transpose_backward[p->transpose_forward[a]] != a)
            return pf_pj_bad(r, "transpose_backward", "not the inverse of transpose_forward");

    n = (int)json_object_size(configs);
    if (n == 0)
        return pf_pj_bad(r, "configurations", "empty");
    raw = pf_calloc((size_t)n, sizeof *raw, r->err);
    p->configs = pf_calloc((size_t)n, sizeof *p->configs, r->err);
    state = pf_calloc((size_t)n, 1, r->err);
    if (!raw || !p->configs || !state)
        goto done;
    {
        int i = 0;
        json_object_foreach(configs, key, val) {
            if (pf_pj_config(r, key, val, &raw[i]))
                goto done;
            i++;
        }
    }
    for (int i = 0; i < n; i++)
        if (resolve(r, raw, n, i, state, p->configs))
            goto done;
    p->n_configs = n;
    for (int i = 0; i < n; i++) {
        const pf_plan_config *c = &p->configs[i];
        char path[PF_PJ_PATH_CAP];
        pf_pj_pathf(path, "configurations.%s", c->name);
        if (!(c->keys & PF_PK_BIT(PF_PK_PATCH_SIZE))) {
            pf_pj_bad(r, path, "no patch_size (own or inherited)");
            goto done;
        }
        if (!(c->keys & PF_PK_BIT(PF_PK_SPACING))) {
            pf_pj_bad(r, path, "no spacing (own or inherited)");
            goto done;
        }
    }
    ret = 0;

done:
    free(raw);
    free(state);
    return ret;
}

int pf_plans_from_json(const char *text, size_t len, const char *source, pf_plan *out,
                       pf_error *err)
{
    json_error_t jerr;
    json_t *top;
    pf_pj_reader r = {source ? source : "plans", err};

    memset(out, 0, sizeof *out);
    top = json_loadb(text, len, 0, &jerr);
    if (!top)
        return pf_fail(err, EINVAL, "%s:%d:%d: %s", r.src, jerr.line, jerr.column, jerr.text);
    if (rd_plan(&r, top, out)) {
        json_decref(top);
        pf_plan_free(out);
        return -1;
    }
    json_decref(top);
    return 0;
}

int pf_plans_read(const char *path, pf_plan *out, pf_error *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc;

    memset(out, 0, sizeof *out);
    if (!f)
        return pf_fail(err, errno, "%s: %s", path, strerror(errno));
    for (;;) {
        size_t got;
        if (len + 65536 > cap) {
            char *nb = realloc(buf, cap = cap ? cap * 2 : 131072);
            if (!nb) {
                free(buf);
                fclose(f);
                return pf_fail(err, ENOMEM, "%s: out of memory", path);
            }
            buf = nb;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        return pf_fail(err, EIO, "%s: read error", path);
    }
    fclose(f);
    rc = pf_plans_from_json(buf, len, path, out, err);
    free(buf);
    return rc;
}
