/* planner.h - nnU-Net v2's default experiment planner (ExperimentPlanner, plans "nnUNetPlans")
 * as pure arithmetic: from a dataset fingerprint to the plan nnU-Net writes to nnUNetPlans.json
 * (target spacing, axis order, and per configuration the patch, batch, network topology,
 * normalisation and resampling).
 *
 * Results are meant to be identical to nnU-Net's, not close: every step is done in double in
 * the order numpy does it (np.percentile's linear lerp, np.median's mean of the middle pair,
 * np.prod left to right), rounding is Python's round() (half to even) and int() truncation, and
 * the VRAM estimate is PlainConvUNet.compute_conv_feature_map_size in int64. No file I/O here;
 * plans_json.h reads and writes the plan as nnUNetPlans.json.
 *
 * Axis order: a fingerprint's spacings and shapes are in array order Z, Y, X (NIfTI pixdim
 * reversed, as nnU-Net's reader gives them). Everything in a pf_plan_config is in transposed
 * order (transpose_forward applied), as in nnU-Net's plans. */
#ifndef PATCHFS_PLANNER_H
#define PATCHFS_PLANNER_H

#include <stdint.h>

#include "error.h"

#define PF_PLAN_MAX_DIM 3
/* nnU-Net's planner has 14 entries in UNet_blocks_per_stage_encoder and fails beyond that; 16
 * leaves room for plans files of other planners. */
#define PF_PLAN_MAX_STAGES 16
#define PF_PLAN_MAX_CHANNELS 128
#define PF_PLAN_NAME_MAX 128        /* identifiers: class names, configuration names, ... */
#define PF_PLAN_SCHEME_MAX 64       /* a normalisation scheme's class name */
#define PF_PLAN_KWARGS_MAX 256      /* a small kwargs object kept as compact JSON text */
#define PF_PLAN_MAX_IMPORTS 8       /* entries of _kw_requires_import */

/* Per-channel foreground intensity statistics of the fingerprint, copied into the plans as
 * foreground_intensity_properties_per_channel (CTNormalization uses them). */
typedef struct pf_intensity_props {
    double max, mean, median, min, percentile_00_5, percentile_99_5, std;
} pf_intensity_props;

/* What the planner reads: dataset_fingerprint.json plus the few dataset.json facts it uses.
 * The caller owns every pointer. */
typedef struct pf_fingerprint {
    const char *dataset_name;            /* "Dataset004_Hippocampus"; NULL: "" */
    int n_channels;                      /* 1 .. PF_PLAN_MAX_CHANNELS */
    const char *const *channel_names;    /* dataset.json channel_names, in key order ("CT", "T1") */
    const pf_intensity_props *intensity; /* n_channels entries, or NULL (written as {}) */
    int n_cases;                         /* cases fingerprinted (>= 1) */
    const double *spacings;              /* 3 per case, Z, Y, X; > 0 */
    const int64_t *shapes;               /* 3 per case, Z, Y, X, after crop to nonzero; >= 1 */
    double median_relative_size_after_cropping;
    int n_labels;       /* len(dataset.json "labels"): background, labels or regions, ignore */
    int num_training;   /* dataset.json numTraining (sizes the 5 % batch cap); 0: n_cases */
    double gpu_memory_gb;                /* VRAM target; 0: 8, as nnUNetPlans */
    const char *image_reader_writer;     /* NULL: "SimpleITKIO" (what nnU-Net picks for NIfTI) */
} pf_fingerprint;

/* resampling_fn_*_kwargs of resample_data_or_seg_to_shape */
typedef struct pf_resample_kwargs {
    int is_seg;             /* 0 / 1 */
    int order, order_z;
    int force_separate_z;   /* -1: null (decided per case from the spacings), 0: false, 1: true */
} pf_resample_kwargs;

/* Keys of a configuration, as bits of pf_plan_config.keys / .own_keys, in the order nnU-Net
 * writes them (architecture's and arch_kwargs' keys included). */
enum pf_plan_key {
    PF_PK_DATA_IDENTIFIER, PF_PK_PREPROCESSOR_NAME, PF_PK_BATCH_SIZE, PF_PK_PATCH_SIZE,
    PF_PK_MEDIAN_IMAGE_SIZE, PF_PK_SPACING, PF_PK_NORMALIZATION_SCHEMES, PF_PK_USE_MASK_FOR_NORM,
    PF_PK_RESAMPLING_FN_DATA, PF_PK_RESAMPLING_FN_SEG, PF_PK_RESAMPLING_FN_DATA_KWARGS,
    PF_PK_RESAMPLING_FN_SEG_KWARGS, PF_PK_RESAMPLING_FN_PROBABILITIES,
    PF_PK_RESAMPLING_FN_PROBABILITIES_KWARGS, PF_PK_ARCHITECTURE, PF_PK_BATCH_DICE,
    PF_PK_NEXT_STAGE, PF_PK_PREVIOUS_STAGE,
    /* inside "architecture" */
    PF_PK_NETWORK_CLASS_NAME, PF_PK_ARCH_KWARGS, PF_PK_KW_REQUIRES_IMPORT,
    /* inside "arch_kwargs" */
    PF_PK_N_STAGES, PF_PK_FEATURES_PER_STAGE, PF_PK_CONV_OP, PF_PK_KERNEL_SIZES, PF_PK_STRIDES,
    PF_PK_N_CONV_PER_STAGE, PF_PK_N_BLOCKS_PER_STAGE /* ResidualEncoderUNet's instead */,
    PF_PK_N_CONV_PER_STAGE_DECODER, PF_PK_CONV_BIAS, PF_PK_NORM_OP,
    PF_PK_NORM_OP_KWARGS, PF_PK_DROPOUT_OP, PF_PK_DROPOUT_OP_KWARGS, PF_PK_NONLIN,
    PF_PK_NONLIN_KWARGS,
    PF_PK_COUNT
};
#define PF_PK_BIT(k) ((uint64_t)1 << (k))
#define PF_PK_ALL (PF_PK_BIT(PF_PK_COUNT) - 1)

/* One configuration ("2d", "3d_fullres", "3d_lowres", "3d_cascade_fullres", or any name a plans
 * file gives). Values are resolved: a configuration that inherits_from another carries its
 * parent's values overlaid with its own, as nnU-Net's PlansManager resolves them. */
typedef struct pf_plan_config {
    char name[PF_PLAN_NAME_MAX];
    char inherits_from[PF_PLAN_NAME_MAX];   /* "" unless it inherits */
    uint64_t keys;      /* PF_PK_BIT()s present after resolution (a field outside it is unset) */
    uint64_t own_keys;  /* those the configuration itself gives (what is written back) */

    char data_identifier[PF_PLAN_NAME_MAX];     /* "nnUNetPlans_3d_fullres" */
    char preprocessor_name[PF_PLAN_NAME_MAX];   /* "DefaultPreprocessor" */
    int ndim;                                   /* 2 or 3: entries of patch/spacing/median */
    int batch_size;
    int64_t patch_size[PF_PLAN_MAX_DIM];
    double median_image_size[PF_PLAN_MAX_DIM];  /* median shape after resampling, transposed */
    int median_is_integer;   /* written as integers (3d_lowres: Python round()s it) */
    double spacing[PF_PLAN_MAX_DIM];
    int n_norm;
    char normalization_schemes[PF_PLAN_MAX_CHANNELS][PF_PLAN_SCHEME_MAX];
    int n_use_mask;
    unsigned char use_mask_for_norm[PF_PLAN_MAX_CHANNELS];
    char resampling_fn_data[PF_PLAN_NAME_MAX];
    char resampling_fn_seg[PF_PLAN_NAME_MAX];
    char resampling_fn_probabilities[PF_PLAN_NAME_MAX];
    pf_resample_kwargs resampling_data, resampling_seg, resampling_probabilities;

    /* architecture */
    char network_class_name[PF_PLAN_NAME_MAX];
    int n_imports;
    char kw_requires_import[PF_PLAN_MAX_IMPORTS][32];
    int n_stages;
    int features_per_stage[PF_PLAN_MAX_STAGES];
    int kernel_sizes[PF_PLAN_MAX_STAGES][PF_PLAN_MAX_DIM];
    int strides[PF_PLAN_MAX_STAGES][PF_PLAN_MAX_DIM];   /* stage 0: all 1 */
    int n_conv_per_stage[PF_PLAN_MAX_STAGES];
    int n_blocks_per_stage[PF_PLAN_MAX_STAGES];         /* plans of the ResEnc planners */
    int n_conv_per_stage_decoder[PF_PLAN_MAX_STAGES];   /* n_stages - 1 entries */
    int conv_bias;
    char conv_op[PF_PLAN_NAME_MAX], norm_op[PF_PLAN_NAME_MAX], nonlin[PF_PLAN_NAME_MAX];
    char dropout_op[PF_PLAN_NAME_MAX];                  /* "" = null */
    /* kwargs objects as compact JSON text ("" = null), e.g. {"eps":1e-05,"affine":true} */
    char norm_op_kwargs[PF_PLAN_KWARGS_MAX], dropout_op_kwargs[PF_PLAN_KWARGS_MAX];
    char nonlin_kwargs[PF_PLAN_KWARGS_MAX];

    int batch_dice;
    char next_stage[PF_PLAN_NAME_MAX];       /* "" = none */
    char previous_stage[PF_PLAN_NAME_MAX];   /* "" = none */
} pf_plan_config;

/* Keys of the top level, as bits of pf_plan.keys. */
enum pf_plan_top_key {
    PF_PT_DATASET_NAME, PF_PT_PLANS_NAME, PF_PT_ORIGINAL_MEDIAN_SPACING,
    PF_PT_ORIGINAL_MEDIAN_SHAPE, PF_PT_IMAGE_READER_WRITER, PF_PT_TRANSPOSE_FORWARD,
    PF_PT_TRANSPOSE_BACKWARD, PF_PT_CONFIGURATIONS, PF_PT_EXPERIMENT_PLANNER_USED,
    PF_PT_LABEL_MANAGER, PF_PT_FOREGROUND_INTENSITY,
    PF_PT_COUNT
};
#define PF_PT_BIT(k) ((unsigned)1 << (k))
#define PF_PT_ALL (PF_PT_BIT(PF_PT_COUNT) - 1)

typedef struct pf_plan {
    unsigned keys;                           /* PF_PT_BIT()s present */
    char dataset_name[256];
    char plans_name[PF_PLAN_NAME_MAX];       /* "nnUNetPlans" */
    double original_median_spacing[3];       /* original_median_spacing_after_transp */
    int64_t original_median_shape[3];        /* original_median_shape_after_transp */
    char image_reader_writer[PF_PLAN_NAME_MAX];
    int transpose_forward[3], transpose_backward[3];
    char experiment_planner_used[PF_PLAN_NAME_MAX];   /* "ExperimentPlanner" */
    char label_manager[PF_PLAN_NAME_MAX];             /* "LabelManager" */
    int n_intensity;                                  /* channels "0" .. n-1 */
    pf_intensity_props intensity[PF_PLAN_MAX_CHANNELS];
    int n_configs;
    pf_plan_config *configs;                 /* in the file's order; free with pf_plan_free */
} pf_plan;

/* Plans like nnU-Net's ExperimentPlanner(gpu_memory_target_in_gb).plan_experiment(): "2d"
 * always, "3d_fullres" unless the median case is one slice thick, "3d_lowres" and
 * "3d_cascade_fullres" when nnU-Net's rule creates them. *out is overwritten; on success free it
 * with pf_plan_free. */
int pf_plan_experiment(const pf_fingerprint *fp, pf_plan *out, pf_error *err);
void pf_plan_free(pf_plan *plan);

/* The configuration called name, or NULL. */
const pf_plan_config *pf_plan_find_config(const pf_plan *plan, const char *name);

/* ---- the pieces, exposed for tests and for callers that plan one configuration ---- */

/* nnU-Net's target spacing for 3d_fullres (median spacing; the anisotropic axis' 10th
 * percentile, clamped above the other axes) and transpose_forward/backward, array order. */
int pf_plan_target_spacing(const pf_fingerprint *fp, double target[3], int transpose_forward[3],
                           int transpose_backward[3], pf_error *err);

/* get_pool_and_conv_props (feature maps of at least 4 voxels in the bottleneck, no cap on the
 * pools): strides and kernel sizes per stage and the patch padded to a multiple of
 * 2^pools. patch may be fractional (nnU-Net clips the initial patch to a median shape such as
 * 36.5, and pads from there). */
typedef struct pf_topology {
    int n_stages;
    int strides[PF_PLAN_MAX_STAGES][PF_PLAN_MAX_DIM];
    int kernel_sizes[PF_PLAN_MAX_STAGES][PF_PLAN_MAX_DIM];
    int n_pool[PF_PLAN_MAX_DIM];
    int64_t must_be_divisible_by[PF_PLAN_MAX_DIM];
    int64_t patch_size[PF_PLAN_MAX_DIM];
} pf_topology;
int pf_plan_pool_and_conv_props(int ndim, const double *spacing, const double *patch,
                                pf_topology *out, pf_error *err);

/* PlainConvUNet.compute_conv_feature_map_size (deep supervision off, as the planner builds
 * it) for a configuration's architecture and patch, with n_classes output channels. */
int64_t pf_plan_feature_map_size(const pf_plan_config *c, const int64_t *patch, int n_classes);

/* nnU-Net's normalisation class for a channel name (get_normalization_scheme: "CT" ->
 * CTNormalization, "noNorm" -> NoNormalization, "zscore", "rescale_to_0_1", "rgb_to_0_1",
 * compared casefolded; anything else ZScoreNormalization). */
const char *pf_plan_norm_scheme(const char *channel_name);
/* leaves_pixels_outside_mask_at_zero_if_use_mask_for_norm_is_true of that class (only
 * ZScoreNormalization): with median_relative_size_after_cropping < 0.75 it uses the mask. */
int pf_plan_norm_uses_mask(const char *scheme);

/* Deep supervision: the per-axis scale of each decoder output, 1 / cumprod(strides) for stages
 * 0 .. n_stages-2 (full resolution first), as nnUNetTrainer._get_deep_supervision_scales.
 * Writes n_stages - 1 rows (at least 0) and returns their number. */
int pf_plan_ds_scales(const pf_plan_config *c, double scales[][PF_PLAN_MAX_DIM]);
/* The segmentation size at one scale: Python round(size * scale), half to even, per axis. */
void pf_plan_ds_shape(int ndim, const int64_t *size, const double *scale, int64_t *out);

/* Python's round(x) for a double (half to even) and numpy's linear percentile, as the planner
 * uses them (exposed for tests). values is sorted in place. */
double pf_plan_round_half_even(double x);
double pf_plan_percentile(double *values, int n, double q);

#endif
