/* plans_json.c - the vocabulary of nnUNetPlans.json that its writer and reader share: key
 * names in nnU-Net's order (their groups are macros in plans_json_i.h), the intensity
 * statistics' names, and key paths for error messages. plans_json.h describes the format;
 * plans_json_i.h lists the files that write and read it. */
#include "plans_json_i.h"

#include <stdarg.h>
#include <stdio.h>

const char *const pf_pj_top_names[PF_PT_COUNT] = {
    [PF_PT_DATASET_NAME] = "dataset_name",
    [PF_PT_PLANS_NAME] = "plans_name",
    [PF_PT_ORIGINAL_MEDIAN_SPACING] = "original_median_spacing_after_transp",
    [PF_PT_ORIGINAL_MEDIAN_SHAPE] = "original_median_shape_after_transp",
    [PF_PT_IMAGE_READER_WRITER] = "image_reader_writer",
    [PF_PT_TRANSPOSE_FORWARD] = "transpose_forward",
    [PF_PT_TRANSPOSE_BACKWARD] = "transpose_backward",
    [PF_PT_CONFIGURATIONS] = "configurations",
    [PF_PT_EXPERIMENT_PLANNER_USED] = "experiment_planner_used",
    [PF_PT_LABEL_MANAGER] = "label_manager",
    [PF_PT_FOREGROUND_INTENSITY] = "foreground_intensity_properties_per_channel",
};

const char *const pf_pj_key_names[PF_PK_COUNT] = {
    [PF_PK_DATA_IDENTIFIER] = "data_identifier",
    [PF_PK_PREPROCESSOR_NAME] = "preprocessor_name",
    [PF_PK_BATCH_SIZE] = "batch_size",
    [PF_PK_PATCH_SIZE] = "patch_size",
    [PF_PK_MEDIAN_IMAGE_SIZE] = "median_image_size_in_voxels",
    [PF_PK_SPACING] = "spacing",
    [PF_PK_NORMALIZATION_SCHEMES] = "normalization_schemes",
    [PF_PK_USE_MASK_FOR_NORM] = "use_mask_for_norm",
    [PF_PK_RESAMPLING_FN_DATA] = "resampling_fn_data",
    [PF_PK_RESAMPLING_FN_SEG] = "resampling_fn_seg",
    [PF_PK_RESAMPLING_FN_DATA_KWARGS] = "resampling_fn_data_kwargs",
    [PF_PK_RESAMPLING_FN_SEG_KWARGS] = "resampling_fn_seg_kwargs",
    [PF_PK_RESAMPLING_FN_PROBABILITIES] = "resampling_fn_probabilities",
    [PF_PK_RESAMPLING_FN_PROBABILITIES_KWARGS] = "resampling_fn_probabilities_kwargs",
    [PF_PK_ARCHITECTURE] = "architecture",
    [PF_PK_BATCH_DICE] = "batch_dice",
    [PF_PK_NEXT_STAGE] = "next_stage",
    [PF_PK_PREVIOUS_STAGE] = "previous_stage",
    [PF_PK_NETWORK_CLASS_NAME] = "network_class_name",
    [PF_PK_ARCH_KWARGS] = "arch_kwargs",
    [PF_PK_KW_REQUIRES_IMPORT] = "_kw_requires_import",
    [PF_PK_N_STAGES] = "n_stages",
    [PF_PK_FEATURES_PER_STAGE] = "features_per_stage",
    [PF_PK_CONV_OP] = "conv_op",
    [PF_PK_KERNEL_SIZES] = "kernel_sizes",
    [PF_PK_STRIDES] = "strides",
    [PF_PK_N_CONV_PER_STAGE] = "n_conv_per_stage",
    [PF_PK_N_BLOCKS_PER_STAGE] = "n_blocks_per_stage",
    [PF_PK_N_CONV_PER_STAGE_DECODER] = "n_conv_per_stage_decoder",
    [PF_PK_CONV_BIAS] = "conv_bias",
    [PF_PK_NORM_OP] = "norm_op",
    [PF_PK_NORM_OP_KWARGS] = "norm_op_kwargs",
    [PF_PK_DROPOUT_OP] = "dropout_op",
    [PF_PK_DROPOUT_OP_KWARGS] = "dropout_op_kwargs",
    [PF_PK_NONLIN] = "nonlin",
    [PF_PK_NONLIN_KWARGS] = "nonlin_kwargs",
};


const char *const pf_pj_intensity_names[7] = {
    "max", "mean", "median", "min", "percentile_00_5", "percentile_99_5", "std",
};

double *pf_pj_intensity_field(pf_intensity_props *p, int i)
{
    double *f[7] = {&p->max, &p->mean, &p->median, &p->min, &p->percentile_00_5,
                    &p->percentile_99_5, &p->std};
    return f[i];
}

void pf_pj_pathf(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, PF_PJ_PATH_CAP, fmt, ap);
    va_end(ap);
}

void pf_pj_subkey(char *out, const char *base, const char *key)
{
    pf_pj_pathf(out, "%s.%s", base, key);
}

void pf_pj_subidx(char *out, const char *base, int i)
{
    pf_pj_pathf(out, "%s[%d]", base, i);
}
