/* planner_config.c - one configuration as nnU-Net's ExperimentPlanner plans it
 * (get_plans_for_configuration): the initial patch from the spacing, the network for it, the
 * patch shrunk until the VRAM estimate fits, the batch size, and the fields every
 * configuration gets the same way (normalisation, resampling, the network's operators). */
#include "planner_i.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* ---- constants of ExperimentPlanner.__init__ ---- */

#define UNET_BASE_FEATURES 32
#define UNET_MAX_FEATURES_2D 512
#define UNET_MAX_FEATURES_3D 320
#define UNET_REF_VAL_3D 560000000.0
#define UNET_REF_VAL_2D 85000000.0
#define UNET_REF_GB 8.0
#define UNET_REF_BS_2D 12
#define UNET_REF_BS_3D 2
#define UNET_MAX_BLOCK_STAGES 14    /* len(UNet_blocks_per_stage_encoder) */
#define UNET_CONVS_PER_STAGE 2
#define UNET_MIN_BATCH 2
#define MAX_DATASET_COVERED 0.05

#define RESAMPLING_FN "resample_data_or_seg_to_shape"
#define PLAIN_CONV_UNET "dynamic_network_architectures.architectures.unet.PlainConvUNet"

/* Sets the architecture fields of c from a topology, as the planner's architecture_kwargs. */
static void set_architecture(pf_plan_config *c, const pf_topology *t)
{
    int max_features = c->ndim == 2 ? UNET_MAX_FEATURES_2D : UNET_MAX_FEATURES_3D;
    c->n_stages = t->n_stages;
    memcpy(c->strides, t->strides, sizeof c->strides);
    memcpy(c->kernel_sizes, t->kernel_sizes, sizeof c->kernel_sizes);
    for (int s = 0; s < PF_PLAN_MAX_STAGES; s++) {
        int64_t f = (int64_t)UNET_BASE_FEATURES << s;
        c->features_per_stage[s] = s < t->n_stages ? (int)(f < max_features ? f : max_features) : 0;
        c->n_conv_per_stage[s] = s < t->n_stages ? UNET_CONVS_PER_STAGE : 0;
        c->n_conv_per_stage_decoder[s] = s < t->n_stages - 1 ? UNET_CONVS_PER_STAGE : 0;
    }
    for (int d = 0; d < c->ndim; d++)
        c->patch_size[d] = t->patch_size[d];
}

void pf_plan_set_unet_ops(pf_plan_config *c, int ndim)
{
    static const char *imports[] = {"conv_op", "norm_op", "dropout_op", "nonlin"};

    c->n_imports = 4;
    for (int i = 0; i < 4; i++)
        pf_plan_copy_name(c->kw_requires_import[i], sizeof c->kw_requires_import[i], imports[i]);
    snprintf(c->conv_op, sizeof c->conv_op, "torch.nn.modules.conv.Conv%dd", ndim);
    snprintf(c->norm_op, sizeof c->norm_op, "torch.nn.modules.instancenorm.InstanceNorm%dd",
             ndim);
    pf_plan_copy_name(c->nonlin, sizeof c->nonlin, "torch.nn.LeakyReLU");
    c->dropout_op[0] = 0;
    c->conv_bias = 1;
    /* the compact form plans_json_read.c gives these objects when it reads them */
    pf_plan_copy_name(c->norm_op_kwargs, sizeof c->norm_op_kwargs,
                      "{\"eps\":1e-05,\"affine\":true}");
    c->dropout_op_kwargs[0] = 0;
    pf_plan_copy_name(c->nonlin_kwargs, sizeof c->nonlin_kwargs, "{\"inplace\":true}");
}

void pf_plan_set_default_resampling(pf_plan_config *c)
{
    c->resampling_data = (pf_resample_kwargs){0, 3, 0, -1};
    c->resampling_seg = (pf_resample_kwargs){1, 1, 0, -1};
    c->resampling_probabilities = (pf_resample_kwargs){0, 1, 0, -1};
}

static void set_fixed_fields(pf_plan_config *c, const pf_plan_ctx *x, const char *name)
{
    const pf_fingerprint *fp = x->fp;
    int use_mask = fp->median_relative_size_after_cropping < 3 / 4.;

    pf_plan_copy_name(c->name, sizeof c->name, name);
    snprintf(c->data_identifier, sizeof c->data_identifier, "%s_%s", PF_PLANS_IDENTIFIER, name);
    pf_plan_copy_name(c->preprocessor_name, sizeof c->preprocessor_name, "DefaultPreprocessor");
    c->n_norm = c->n_use_mask = fp->n_channels;
    for (int i = 0; i < fp->n_channels; i++) {
        const char *scheme = pf_plan_norm_scheme(fp->channel_names[i]);
        pf_plan_copy_name(c->normalization_schemes[i], sizeof c->normalization_schemes[i],
                          scheme);
        c->use_mask_for_norm[i] = (unsigned char)(use_mask && pf_plan_norm_uses_mask(scheme));
    }
    pf_plan_copy_name(c->resampling_fn_data, sizeof c->resampling_fn_data, RESAMPLING_FN);
    pf_plan_copy_name(c->resampling_fn_seg, sizeof c->resampling_fn_seg, RESAMPLING_FN);
    pf_plan_copy_name(c->resampling_fn_probabilities, sizeof c->resampling_fn_probabilities,
                      RESAMPLING_FN);
    pf_plan_set_default_resampling(c);

    pf_plan_copy_name(c->network_class_name, sizeof c->network_class_name, PLAIN_CONV_UNET);
    pf_plan_set_unet_ops(c, c->ndim);
    c->keys = c->own_keys = PF_PK_ALL & ~(PF_PK_BIT(PF_PK_NEXT_STAGE) |
                                          PF_PK_BIT(PF_PK_PREVIOUS_STAGE) |
                                          PF_PK_BIT(PF_PK_N_BLOCKS_PER_STAGE));
}

/* The network for a patch (get_pool_and_conv_props, within nnU-Net's number of stages) set
 * into c, patch_size padded as it pads it, and its VRAM estimate. */
static int fit_network(const pf_plan_ctx *x, const char *name, const double *spacing,
                       const double *patch, pf_plan_config *c, pf_topology *topo,
                       int64_t *estimate, pf_error *err)
{
    if (pf_plan_pool_and_conv_props(c->ndim, spacing, patch, topo, err))
        return pf_wrap(err, "configuration %s", name);
    if (topo->n_stages > UNET_MAX_BLOCK_STAGES)
        return pf_fail(err, EINVAL, "configuration %s: %d network stages (nnU-Net's planner "
                       "supports %d)", name, topo->n_stages, UNET_MAX_BLOCK_STAGES);
    set_architecture(c, topo);
    *estimate = pf_plan_feature_map_size(c, c->patch_size, x->fp->n_labels);
    return 0;
}

int pf_plan_configuration(const pf_plan_ctx *x, const char *name, int ndim,
                          const double *spacing, const double *median, int median_is_integer,
                          double approx_voxels_dataset, pf_plan_config *c, pf_error *err)
{
    double tmp[PF_PLAN_MAX_DIM], patch_d[PF_PLAN_MAX_DIM], scale, reference, bs, bs5, pd[3];
    int ref_bs = ndim == 2 ? UNET_REF_BS_2D : UNET_REF_BS_3D;
    pf_topology topo;
    int64_t estimate;

    memset(c, 0, sizeof *c);
    c->ndim = ndim;
    for (int d = 0; d < ndim; d++)
        if (!(median[d] > 0))
            return pf_fail(err, EINVAL, "configuration %s: the median shape after resampling "
                           "is %g on axis %d", name, median[d], d);
    for (int d = 0; d < ndim; d++) {
        c->spacing[d] = spacing[d];
        c->median_image_size[d] = median[d];
    }
    c->median_is_integer = median_is_integer;
    set_fixed_fields(c, x, name);

    /* initial patch: aspect 1/spacing, volume 256^3 (2D: 2048^2), clipped to the median */
    for (int d = 0; d < ndim; d++)
        tmp[d] = 1.0 / spacing[d];
    if (ndim == 3)
        scale = pow(16777216.0 / pf_plan_np_prod(tmp, 3), 1.0 / 3.0);
    else
        scale = pow(4194304.0 / pf_plan_np_prod(tmp, 2), 1.0 / 2.0);
    for (int d = 0; d < ndim; d++) {
        double init = pf_plan_round_half_even(tmp[d] * scale);
        patch_d[d] = median[d] < init ? median[d] : init;
    }
    if (fit_network(x, name, spacing, patch_d, c, &topo, &estimate, err))
        return -1;

    reference = (ndim == 2 ? UNET_REF_VAL_2D : UNET_REF_VAL_3D) * (x->gpu_gb / UNET_REF_GB);
    /* shrink the patch until the estimate fits: along the axis largest relative to the
     * median (np.argsort()[-1]: ties go to the later axis), by the divisor of the next smaller
     * topology so that no valid size is skipped */
    while ((double)estimate / ref_bs * 2 > reference) {
        int axis = 0;
        double best = 0;
        pf_topology smaller;
        for (int d = 0; d < ndim; d++) {
            double r = (double)c->patch_size[d] / median[d];
            if (d == 0 || r >= best) {
                best = r;
                axis = d;
            }
        }
        for (int d = 0; d < ndim; d++)
            patch_d[d] = (double)c->patch_size[d];
        patch_d[axis] -= (double)topo.must_be_divisible_by[axis];
        if (pf_plan_pool_and_conv_props(ndim, spacing, patch_d, &smaller, err))
            return pf_wrap(err, "configuration %s", name);
        patch_d[axis] = (double)(c->patch_size[axis] - smaller.must_be_divisible_by[axis]);
        if (patch_d[axis] < 1)
            return pf_fail(err, EINVAL, "configuration %s: no patch fits the VRAM target of "
                           "%g GB", name, x->gpu_gb);
        if (fit_network(x, name, spacing, patch_d, c, &topo, &estimate, err))
            return -1;
    }
    if (estimate <= 0)
        return pf_fail(err, EINVAL, "configuration %s: empty network estimate", name);

    /* batch: the VRAM headroom, at most 5 % of the dataset's voxels, at least 2 */
    bs = pf_plan_round_half_even(reference / (double)estimate * ref_bs);
    for (int d = 0; d < ndim; d++)
        pd[d] = (double)c->patch_size[d];
    bs5 = pf_plan_round_half_even(approx_voxels_dataset * MAX_DATASET_COVERED /
                                  pf_plan_np_prod(pd, ndim));
    bs = bs < bs5 ? bs : bs5;
    bs = bs > UNET_MIN_BATCH ? bs : UNET_MIN_BATCH;
    if (!(bs <= 1e9))
        return pf_fail(err, EINVAL, "configuration %s: batch size %g", name, bs);
    c->batch_size = (int)bs;
    return 0;
}
