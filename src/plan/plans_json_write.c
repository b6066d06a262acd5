/* plans_json_write.c - a pf_plan written as nnUNetPlans.json: a jansson tree built in
 * nnU-Net's key order (keys the plan does not have left out), printed as Python's
 * json.dump(indent=4) prints it (plans_json_print.c), so that our file and nnU-Net's can be
 * compared with cmp. */
#include "plans_json_i.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- building the tree ---- */

/* Every builder returns a new reference or NULL with err set; set() takes the reference. */

static int set(json_t *o, const char *where, const char *key, json_t *v, pf_error *err)
{
    if (!v)
        return pf_fail(err, EINVAL, "%s%s: value cannot be written as JSON (a non-finite number "
                       "or text that is not UTF-8)", where, key);
    if (json_object_set_new(o, key, v))
        return pf_fail(err, ENOMEM, "out of memory");
    return 0;
}

static json_t *jreal(double x)
{
    return isfinite(x) ? json_real(x) : NULL;
}

/* Appends v (a new reference, or NULL) to the array a: a, or NULL with a released. */
static json_t *jpush(json_t *a, json_t *v)
{
    if (!v || json_array_append_new(a, v)) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static json_t *jarray_i64(const int64_t *x, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        a = jpush(a, json_integer((json_int_t)x[i]));
    return a;
}

static json_t *jarray_int(const int *x, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        a = jpush(a, json_integer(x[i]));
    return a;
}

static json_t *jarray_real(const double *x, int n, int as_integers)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        a = jpush(a, as_integers ? json_integer((json_int_t)x[i]) : jreal(x[i]));
    return a;
}

static json_t *jarray_rows(const int rows[][PF_PLAN_MAX_DIM], int n, int ndim)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        a = jpush(a, jarray_int(rows[i], ndim));
    return a;
}

/* n strings, rows `width` bytes apart */
static json_t *jarray_strings(const char *rows, size_t width, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        a = jpush(a, json_string(rows + (size_t)i * width));
    return a;
}

static json_t *jstring_or_null(const char *s)
{
    return s[0] ? json_string(s) : json_null();
}

static json_t *jkwargs_text(const char *text)
{
    return text[0] ? json_loads(text, JSON_DECODE_ANY, NULL) : json_null();
}

static json_t *jresample(const pf_resample_kwargs *k)
{
    json_t *o = json_object();
    json_t *v[4] = {json_boolean(k->is_seg), json_integer(k->order), json_integer(k->order_z),
                    k->force_separate_z < 0 ? json_null() : json_boolean(k->force_separate_z)};
    static const char *names[4] = {"is_seg", "order", "order_z", "force_separate_z"};
    for (int i = 0; i < 4; i++)
        if (!o || json_object_set_new(o, names[i], v[i])) {
            for (int j = i + 1; j < 4; j++)
                json_decref(v[j]);
            json_decref(o);
            return NULL;
        }
    return o;
}

static int build_arch(const pf_plan_config *c, json_t *arch, const char *where, pf_error *err)
{
    uint64_t k = c->own_keys;
    int n = c->n_stages;
    char w[PF_PJ_PATH_CAP];
    json_t *kw;

    if ((k & PF_PK_BIT(PF_PK_NETWORK_CLASS_NAME)) &&
        set(arch, where, "network_class_name", json_string(c->network_class_name), err))
        return -1;
    if (k & PF_PK_BIT(PF_PK_ARCH_KWARGS)) {
        kw = json_object();
        if (set(arch, where, "arch_kwargs", kw, err))
            return -1;
        pf_pj_pathf(w, "%sarch_kwargs.", where);
        for (int key = PF_PK_N_STAGES; key <= PF_PK_NONLIN_KWARGS; key++) {
            json_t *v = NULL;
            if (!(k & PF_PK_BIT(key)))
                continue;
            switch (key) {
            case PF_PK_N_STAGES: v = json_integer(n); break;
            case PF_PK_FEATURES_PER_STAGE: v = jarray_int(c->features_per_stage, n); break;
            case PF_PK_CONV_OP: v = jstring_or_null(c->conv_op); break;
            case PF_PK_KERNEL_SIZES: v = jarray_rows(c->kernel_sizes, n, c->ndim); break;
            case PF_PK_STRIDES: v = jarray_rows(c->strides, n, c->ndim); break;
            case PF_PK_N_CONV_PER_STAGE: v = jarray_int(c->n_conv_per_stage, n); break;
            case PF_PK_N_BLOCKS_PER_STAGE: v = jarray_int(c->n_blocks_per_stage, n); break;
            case PF_PK_N_CONV_PER_STAGE_DECODER:
                v = jarray_int(c->n_conv_per_stage_decoder, n > 0 ? n - 1 : 0);
                break;
            case PF_PK_CONV_BIAS: v = json_boolean(c->conv_bias); break;
            case PF_PK_NORM_OP: v = jstring_or_null(c->norm_op); break;
            case PF_PK_NORM_OP_KWARGS: v = jkwargs_text(c->norm_op_kwargs); break;
            case PF_PK_DROPOUT_OP: v = jstring_or_null(c->dropout_op); break;
            case PF_PK_DROPOUT_OP_KWARGS: v = jkwargs_text(c->dropout_op_kwargs); break;
            case PF_PK_NONLIN: v = jstring_or_null(c->nonlin); break;
            case PF_PK_NONLIN_KWARGS: v = jkwargs_text(c->nonlin_kwargs); break;
            default: break;
            }
            if (set(kw, w, pf_pj_key_names[key], v, err))
                return -1;
        }
    }
    if (k & PF_PK_BIT(PF_PK_KW_REQUIRES_IMPORT)) {
        json_t *a = jarray_strings((const char *)c->kw_requires_import,
                                   sizeof c->kw_requires_import[0], c->n_imports);
        if (set(arch, where, "_kw_requires_import", a, err))
            return -1;
    }
    return 0;
}

static int build_config(const pf_plan_config *c, json_t *o, pf_error *err)
{
    char where[PF_PJ_PATH_CAP];
    uint64_t k = c->own_keys;

    pf_pj_pathf(where, "configurations.%s.", c->name);
    if (c->inherits_from[0] && set(o, where, "inherits_from", json_string(c->inherits_from), err))
        return -1;
    for (int key = 0; key <= PF_PK_PREVIOUS_STAGE; key++) {
        json_t *v = NULL;
        if (!(k & PF_PK_BIT(key)))
            continue;
        switch (key) {
        case PF_PK_DATA_IDENTIFIER: v = json_string(c->data_identifier); break;
        case PF_PK_PREPROCESSOR_NAME: v = json_string(c->preprocessor_name); break;
        case PF_PK_BATCH_SIZE: v = json_integer(c->batch_size); break;
        case PF_PK_PATCH_SIZE: v = jarray_i64(c->patch_size, c->ndim); break;
        case PF_PK_MEDIAN_IMAGE_SIZE:
            v = jarray_real(c->median_image_size, c->ndim, c->median_is_integer);
            break;
        case PF_PK_SPACING: v = jarray_real(c->spacing, c->ndim, 0); break;
        case PF_PK_NORMALIZATION_SCHEMES:
            v = jarray_strings((const char *)c->normalization_schemes,
                               sizeof c->normalization_schemes[0], c->n_norm);
            break;
        case PF_PK_USE_MASK_FOR_NORM:
            v = json_array();
            for (int i = 0; v && i < c->n_use_mask; i++)
                v = jpush(v, json_boolean(c->use_mask_for_norm[i]));
            break;
        case PF_PK_RESAMPLING_FN_DATA: v = json_string(c->resampling_fn_data); break;
        case PF_PK_RESAMPLING_FN_SEG: v = json_string(c->resampling_fn_seg); break;
        case PF_PK_RESAMPLING_FN_DATA_KWARGS: v = jresample(&c->resampling_data); break;
        case PF_PK_RESAMPLING_FN_SEG_KWARGS: v = jresample(&c->resampling_seg); break;
        case PF_PK_RESAMPLING_FN_PROBABILITIES:
            v = json_string(c->resampling_fn_probabilities);
            break;
        case PF_PK_RESAMPLING_FN_PROBABILITIES_KWARGS:
            v = jresample(&c->resampling_probabilities);
            break;
        case PF_PK_ARCHITECTURE: {
            char w[PF_PJ_PATH_CAP];
            v = json_object();
            pf_pj_pathf(w, "%sarchitecture.", where);
            if (v && build_arch(c, v, w, err)) {
                json_decref(v);
                return -1;
            }
            break;
        }
        case PF_PK_BATCH_DICE: v = json_boolean(c->batch_dice); break;
        case PF_PK_NEXT_STAGE: v = json_string(c->next_stage); break;
        case PF_PK_PREVIOUS_STAGE: v = json_string(c->previous_stage); break;
        default: break;
        }
        if (set(o, where, pf_pj_key_names[key], v, err))
            return -1;
    }
    return 0;
}

static int build_plan(const pf_plan *p, json_t *top, pf_error *err)
{
    for (int key = 0; key < PF_PT_COUNT; key++) {
        json_t *v = NULL;
        if (!(p->keys & PF_PT_BIT(key)))
            continue;
        switch (key) {
        case PF_PT_DATASET_NAME: v = json_string(p->dataset_name); break;
        case PF_PT_PLANS_NAME: v = json_string(p->plans_name); break;
        case PF_PT_ORIGINAL_MEDIAN_SPACING:
            v = jarray_real(p->original_median_spacing, 3, 0);
            break;
        case PF_PT_ORIGINAL_MEDIAN_SHAPE: v = jarray_i64(p->original_median_shape, 3); break;
        case PF_PT_IMAGE_READER_WRITER: v = json_string(p->image_reader_writer); break;
        case PF_PT_TRANSPOSE_FORWARD: v = jarray_int(p->transpose_forward, 3); break;
        case PF_PT_TRANSPOSE_BACKWARD: v = jarray_int(p->transpose_backward, 3); break;
        case PF_PT_CONFIGURATIONS:
            v = json_object();
            for (int i = 0; v && i < p->n_configs; i++) {
                json_t *c = json_object();
                if (set(v, "configurations.", p->configs[i].name, c, err) ||
                    build_config(&p->configs[i], c, err)) {
                    json_decref(v);
                    return -1;
                }
            }
            break;
        case PF_PT_EXPERIMENT_PLANNER_USED: v = json_string(p->experiment_planner_used); break;
        case PF_PT_LABEL_MANAGER: v = json_string(p->label_manager); break;
        case PF_PT_FOREGROUND_INTENSITY:
            v = json_object();
            for (int ch = 0; v && ch < p->n_intensity; ch++) {
                char name[16], where[PF_PJ_PATH_CAP];
                pf_intensity_props ip = p->intensity[ch];
                json_t *o = json_object();
                snprintf(name, sizeof name, "%d", ch);
                pf_pj_pathf(where, "%s.%d.", pf_pj_top_names[key], ch);
                if (set(v, "", name, o, err)) {
                    json_decref(v);
                    return -1;
                }
                for (int f = 0; f < 7; f++)
                    if (set(o, where, pf_pj_intensity_names[f],
                            jreal(*pf_pj_intensity_field(&ip, f)), err)) {
                        json_decref(v);
                        return -1;
                    }
            }
            break;
        default: break;
        }
        if (set(top, "", pf_pj_top_names[key], v, err))
            return -1;
    }
    return 0;
}

int pf_plans_to_json(const pf_plan *plan, char **text, pf_error *err)
{
    json_t *top = json_object();
    pf_textbuf b = {0};
    *text = NULL;
    if (!top)
        return pf_fail(err, ENOMEM, "out of memory");
    if (build_plan(plan, top, err)) {
        json_decref(top);
        return -1;
    }
    pf_pj_print(&b, top, 0, 0);
    json_decref(top);
    if (b.failed || !b.s) {
        pf_textbuf_free(&b);
        return pf_fail(err, ENOMEM, "out of memory writing the plans");
    }
    *text = b.s;
    return 0;
}

int pf_plans_write(const pf_plan *plan, const char *path, pf_error *err)
{
    char *text;
    FILE *f;
    int bad;
    if (pf_plans_to_json(plan, &text, err))
        return pf_wrap(err, "%s", path);
    f = fopen(path, "w");
    if (!f) {
        int e = errno;
        free(text);
        return pf_fail(err, e, "%s: %s", path, strerror(e));
    }
    bad = fwrite(text, 1, strlen(text), f) != strlen(text);
    bad |= fclose(f) != 0;
    free(text);
    if (bad)
        return pf_fail(err, EIO, "%s: write failed", path);
    return 0;
}
