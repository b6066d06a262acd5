/* plans_json_config.c - one configuration of nnUNetPlans.json read as it is given (its own
 * keys; inheritance is resolved by plans_json_read.c): the configuration's keys, its
 * "architecture" (arch_kwargs of any network; keys of other architectures ignored), and plans
 * of nnU-Net before 2.3, whose network keys are converted to an architecture as nnU-Net's
 * ConfigurationManager converts them. */
#include "plans_json_i.h"

#include <stdio.h>
#include <string.h>

#include "planner_i.h"

/* The value val at key path p into the char array c->field (with null_ok, null as ""). */
#define STRING(field, null_ok) pf_pj_string(r, val, p, c->field, sizeof c->field, null_ok)

static int rd_arch_kwargs(const pf_pj_reader *r, const json_t *v, const char *path,
                          pf_plan_config *c, int *ndim)
{
    const char *key;
    json_t *val;
    char p[PF_PJ_PATH_CAP];
    int n_features = -1, n_kernels = -1, n_strides = -1, n_conv = -1, n_blocks = -1, n_dec = -1;
    char msg[128];

    if (!json_is_object(v))
        return pf_pj_bad(r, path, "expected an object");
    json_object_foreach((json_t *)v, key, val) {
        int k = -1, rc = 0;
        for (int i = PF_PK_N_STAGES; i <= PF_PK_NONLIN_KWARGS; i++)
            if (!strcmp(key, pf_pj_key_names[i]))
                k = i;
        if (k < 0)
            continue; /* keys of other architectures */
        pf_pj_subkey(p, path, key);
        switch (k) {
        case PF_PK_N_STAGES:
            rc = pf_pj_int32(r, val, p, 1, PF_PLAN_MAX_STAGES, &c->n_stages);
            break;
        case PF_PK_FEATURES_PER_STAGE:
            rc = (n_features = pf_pj_int_list(r, val, p, c->features_per_stage,
                                              PF_PLAN_MAX_STAGES, 1, 1 << 24, NULL)) < 0;
            break;
        case PF_PK_KERNEL_SIZES:
            rc = pf_pj_rows(r, val, p, c->kernel_sizes, &n_kernels, ndim);
            break;
        case PF_PK_STRIDES: rc = pf_pj_rows(r, val, p, c->strides, &n_strides, ndim); break;
        case PF_PK_N_CONV_PER_STAGE:
            rc = (n_conv = pf_pj_int_list(r, val, p, c->n_conv_per_stage, PF_PLAN_MAX_STAGES, 0,
                                          1 << 10, NULL)) < 0;
            break;
        case PF_PK_N_BLOCKS_PER_STAGE:
            rc = (n_blocks = pf_pj_int_list(r, val, p, c->n_blocks_per_stage, PF_PLAN_MAX_STAGES,
                                            0, 1 << 10, NULL)) < 0;
            break;
        case PF_PK_N_CONV_PER_STAGE_DECODER:
            rc = (n_dec = pf_pj_int_list(r, val, p, c->n_conv_per_stage_decoder,
                                         PF_PLAN_MAX_STAGES - 1, 0, 1 << 10, NULL)) < 0;
            break;
        case PF_PK_CONV_BIAS: rc = pf_pj_bool(r, val, p, &c->conv_bias); break;
        case PF_PK_CONV_OP: rc = STRING(conv_op, 1); break;
        case PF_PK_NORM_OP: rc = STRING(norm_op, 1); break;
        case PF_PK_DROPOUT_OP: rc = STRING(dropout_op, 1); break;
        case PF_PK_NONLIN: rc = STRING(nonlin, 1); break;
        case PF_PK_NORM_OP_KWARGS:
            rc = pf_pj_kwargs(r, val, p, c->norm_op_kwargs, sizeof c->norm_op_kwargs);
            break;
        case PF_PK_DROPOUT_OP_KWARGS:
            rc = pf_pj_kwargs(r, val, p, c->dropout_op_kwargs, sizeof c->dropout_op_kwargs);
            break;
        case PF_PK_NONLIN_KWARGS:
            rc = pf_pj_kwargs(r, val, p, c->nonlin_kwargs, sizeof c->nonlin_kwargs);
            break;
        default: break;
        }
        if (rc)
            return -1;
        c->own_keys |= PF_PK_BIT(k);
    }

    /* the per-stage lists agree with each other and with n_stages */
    {
        int n = (c->own_keys & PF_PK_BIT(PF_PK_N_STAGES)) ? c->n_stages
                : n_strides >= 0 ? n_strides
                : n_kernels >= 0 ? n_kernels
                : n_features >= 0 ? n_features
                : n_conv >= 0 ? n_conv
                : n_blocks >= 0 ? n_blocks
                : n_dec >= 0 ? n_dec + 1 : 0;
        const struct { int len, want; const char *name; } checks[] = {
            {n_strides, n, "strides"},
            {n_kernels, n, "kernel_sizes"},
            {n_features, n, "features_per_stage"},
            {n_conv, n, "n_conv_per_stage"},
            {n_blocks, n, "n_blocks_per_stage"},
            {n_dec, n - 1, "n_conv_per_stage_decoder"},
        };
        for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
            if (checks[i].len >= 0 && checks[i].len != checks[i].want) {
                pf_pj_subkey(p, path, checks[i].name);
                snprintf(msg, sizeof msg, "%d entries for %d stages", checks[i].len, n);
                return pf_pj_bad(r, p, msg);
            }
        c->n_stages = n;
    }
    return 0;
}

typedef struct arch_ctx {
    pf_plan_config *c;
    int *ndim;
} arch_ctx;

/* one member of "architecture" (a pf_pj_member_fn) */
static int rd_architecture_member(const pf_pj_reader *r, const char *key, const json_t *val,
                                  const char *p, void *ctx)
{
    pf_plan_config *c = ((arch_ctx *)ctx)->c;
    if (!strcmp(key, "network_class_name")) {
        if (STRING(network_class_name, 0))
            return -1;
        c->own_keys |= PF_PK_BIT(PF_PK_NETWORK_CLASS_NAME);
    } else if (!strcmp(key, "arch_kwargs")) {
        if (rd_arch_kwargs(r, val, p, c, ((arch_ctx *)ctx)->ndim))
            return -1;
        c->own_keys |= PF_PK_BIT(PF_PK_ARCH_KWARGS);
    } else if (!strcmp(key, "_kw_requires_import")) {
        int n = pf_pj_string_list(r, val, p, (char *)c->kw_requires_import,
                                  sizeof c->kw_requires_import[0], PF_PLAN_MAX_IMPORTS);
        if (n < 0)
            return -1;
        c->n_imports = n;
        c->own_keys |= PF_PK_BIT(PF_PK_KW_REQUIRES_IMPORT);
    }
    return 0;
}

/* Plans of nnU-Net v2 before 2.3 (January 2024) have no "architecture": they name the network
 * by UNet_class_name and give pool_op_kernel_sizes, conv_kernel_sizes,
 * n_conv_per_stage_encoder/decoder, UNet_base_num_features and unet_max_num_features.
 * ConfigurationManager turns them into an architecture, and so does this (written back in the
 * current layout). */
static int rd_legacy_architecture(const pf_pj_reader *r, const json_t *v, const char *path,
                                  pf_plan_config *c, int *ndim)
{
    char p[PF_PJ_PATH_CAP], cls[PF_PLAN_NAME_MAX];
    int n_kernels, n_strides, n_enc, n_dec, base, maxf, resenc;
    const json_t *x;
    long long bl, ml;

    pf_pj_subkey(p, path, "UNet_class_name");
    if (pf_pj_string(r, json_object_get(v, "UNet_class_name"), p, cls, sizeof cls, 0))
        return -1;
    resenc = !strcmp(cls, "ResidualEncoderUNet");
    if (!resenc && strcmp(cls, "PlainConvUNet"))
        return pf_pj_bad(r, p, "only PlainConvUNet and ResidualEncoderUNet can be converted");
    snprintf(c->network_class_name, sizeof c->network_class_name,
             "dynamic_network_architectures.architectures.%s",
             resenc ? "residual_unet.ResidualEncoderUNet" : "unet.PlainConvUNet");
#define LEGACY(key) (pf_pj_subkey(p, path, key), x = json_object_get(v, key), \
                     x ? 0 : pf_pj_bad(r, p, "missing (needed for an old plans layout)"))
    if (LEGACY("conv_kernel_sizes") || pf_pj_rows(r, x, p, c->kernel_sizes, &n_kernels, ndim) ||
        LEGACY("pool_op_kernel_sizes") || pf_pj_rows(r, x, p, c->strides, &n_strides, ndim) ||
        LEGACY("n_conv_per_stage_encoder") ||
        (n_enc = pf_pj_int_list(r, x, p, resenc ? c->n_blocks_per_stage : c->n_conv_per_stage,
                                PF_PLAN_MAX_STAGES, 0, 1 << 10, NULL)) < 0 ||
        LEGACY("n_conv_per_stage_decoder") ||
        (n_dec = pf_pj_int_list(r, x, p, c->n_conv_per_stage_decoder, PF_PLAN_MAX_STAGES - 1,
                                0, 1 << 10, NULL)) < 0 ||
        LEGACY("UNet_base_num_features") || pf_pj_int(r, x, p, 1, 1 << 20, &bl) ||
        LEGACY("unet_max_num_features") || pf_pj_int(r, x, p, 1, 1 << 24, &ml))
        return -1;
#undef LEGACY
    if (n_kernels != n_enc || n_strides != n_enc || n_dec != n_enc - 1 || n_enc < 1)
        return pf_pj_bad(r, path, "old plans layout: per-stage lists of different lengths");
    base = (int)bl;
    maxf = (int)ml;
    c->n_stages = n_enc;
    for (int s = 0; s < n_enc; s++) {
        long long f = (long long)base << s;
        c->features_per_stage[s] = f < maxf ? (int)f : maxf;
    }
    pf_plan_set_unet_ops(c, *ndim);
    c->own_keys |= (PF_PJ_ARCH_KEYS | PF_PK_BIT(PF_PK_ARCHITECTURE)) &
                   ~PF_PK_BIT(resenc ? PF_PK_N_CONV_PER_STAGE : PF_PK_N_BLOCKS_PER_STAGE);
    return 0;
}

int pf_pj_config(const pf_pj_reader *r, const char *name, const json_t *v, pf_plan_config *c)
{
    const char *key;
    json_t *val;
    char path[PF_PJ_PATH_CAP], p[PF_PJ_PATH_CAP];
    int ndim = 0;

    memset(c, 0, sizeof *c);
    /* a kwargs object without some of its keys keeps nnU-Net's default planner's values */
    pf_plan_set_default_resampling(c);
    pf_pj_pathf(path, "configurations.%s", name);
    if (strlen(name) >= sizeof c->name)
        return pf_pj_bad(r, path, "configuration name too long");
    snprintf(c->name, sizeof c->name, "%s", name);
    if (!json_is_object(v))
        return pf_pj_bad(r, path, "expected an object");

    json_object_foreach((json_t *)v, key, val) {
        int k = -1, rc = 0, n;
        pf_pj_subkey(p, path, key);
        if (!strcmp(key, "inherits_from")) {
            if (STRING(inherits_from, 0))
                return -1;
            if (!c->inherits_from[0])
                return pf_pj_bad(r, p, "empty name");
            continue;
        }
        for (int i = 0; i <= PF_PK_PREVIOUS_STAGE; i++)
            if (!strcmp(key, pf_pj_key_names[i]))
                k = i;
        if (k < 0)
            continue; /* keys of other planners or later versions */
        switch (k) {
        case PF_PK_DATA_IDENTIFIER: rc = STRING(data_identifier, 0); break;
        case PF_PK_PREPROCESSOR_NAME: rc = STRING(preprocessor_name, 0); break;
        case PF_PK_BATCH_SIZE: rc = pf_pj_int32(r, val, p, 1, 1 << 30, &c->batch_size); break;
        case PF_PK_PATCH_SIZE:
            rc = pf_pj_i64_list(r, val, p, c->patch_size, PF_PLAN_MAX_DIM, 1, (long long)1 << 40,
                                &ndim) < 0;
            break;
        case PF_PK_MEDIAN_IMAGE_SIZE:
        case PF_PK_SPACING: {
            double *x = k == PF_PK_SPACING ? c->spacing : c->median_image_size;
            if ((n = pf_pj_double_list(r, val, p, x, PF_PLAN_MAX_DIM, 1, &ndim)) < 0)
                return -1;
            if (k == PF_PK_MEDIAN_IMAGE_SIZE) {
                c->median_is_integer = 1;
                for (int d = 0; d < n; d++)
                    c->median_is_integer &= json_is_integer(json_array_get(val, (size_t)d));
            }
            break;
        }
        case PF_PK_NORMALIZATION_SCHEMES:
            if ((n = pf_pj_string_list(r, val, p, (char *)c->normalization_schemes,
                                       sizeof c->normalization_schemes[0],
                                       PF_PLAN_MAX_CHANNELS)) < 0)
                return -1;
            c->n_norm = n;
            break;
        case PF_PK_USE_MASK_FOR_NORM:
            if ((n = pf_pj_bool_list(r, val, p, c->use_mask_for_norm, PF_PLAN_MAX_CHANNELS)) < 0)
                return -1;
            c->n_use_mask = n;
            break;
        case PF_PK_RESAMPLING_FN_DATA: rc = STRING(resampling_fn_data, 0); break;
        case PF_PK_RESAMPLING_FN_SEG: rc = STRING(resampling_fn_seg, 0); break;
        case PF_PK_RESAMPLING_FN_PROBABILITIES: rc = STRING(resampling_fn_probabilities, 0); break;
        case PF_PK_RESAMPLING_FN_DATA_KWARGS:
            rc = pf_pj_resample(r, val, p, &c->resampling_data);
            break;
        case PF_PK_RESAMPLING_FN_SEG_KWARGS:
            rc = pf_pj_resample(r, val, p, &c->resampling_seg);
            break;
        case PF_PK_RESAMPLING_FN_PROBABILITIES_KWARGS:
            rc = pf_pj_resample(r, val, p, &c->resampling_probabilities);
            break;
        case PF_PK_ARCHITECTURE: {
            arch_ctx x = {c, &ndim};
            rc = pf_pj_members(r, val, p, rd_architecture_member, &x);
            break;
        }
        case PF_PK_BATCH_DICE: rc = pf_pj_bool(r, val, p, &c->batch_dice); break;
        case PF_PK_NEXT_STAGE:
            /* nnU-Net allows a list of next stages; the cascade has one */
            if (json_is_array(val) && json_array_size(val) >= 1) {
                char q[PF_PJ_PATH_CAP];
                pf_pj_subidx(q, p, 0);
                rc = pf_pj_string(r, json_array_get(val, 0), q, c->next_stage,
                                  sizeof c->next_stage, 0);
            } else {
                rc = STRING(next_stage, 0);
            }
            break;
        case PF_PK_PREVIOUS_STAGE: rc = STRING(previous_stage, 0); break;
        default: break;
        }
        if (rc)
            return -1;
        c->own_keys |= PF_PK_BIT(k);
    }
    if (!(c->own_keys & PF_PK_BIT(PF_PK_ARCHITECTURE)) && json_object_get(v, "UNet_class_name") &&
        rd_legacy_architecture(r, v, path, c, &ndim))
        return -1;
    c->ndim = ndim;
    return 0;
}
