/* planner.c - nnU-Net v2's default ExperimentPlanner as pure arithmetic (see planner.h).
 *
 * Read next to nnunetv2/experiment_planning/experiment_planners/default_experiment_planner.py,
 * network_topology.py and dynamic_network_architectures' PlainConvUNet: each function says which
 * Python it reproduces. The order of floating-point operations follows numpy's, because the
 * results must be bit-identical (a patch or batch size flips on a last-bit difference). */
#include "planner.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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
#define UNET_MIN_EDGE 4             /* UNet_featuremap_min_edge_length */
#define UNET_MAX_BLOCK_STAGES 14    /* len(UNet_blocks_per_stage_encoder) */
#define UNET_CONVS_PER_STAGE 2
#define UNET_MIN_BATCH 2
#define MAX_DATASET_COVERED 0.05
#define LOWRES_THRESHOLD 0.25
#define LOWRES_SPACING_FACTOR 1.03
#define ANISO_THRESHOLD 3           /* nnunetv2.configuration.ANISO_THRESHOLD */
#define DEFAULT_GPU_GB 8.0
/* The lowres search multiplies spacings by 1.03 until the patch covers a quarter of the median
 * image; a real search ends within a few hundred steps, this only stops a runaway. */
#define LOWRES_MAX_STEPS 100000

#define PLANS_IDENTIFIER "nnUNetPlans"
#define RESAMPLING_FN "resample_data_or_seg_to_shape"
#define PLAIN_CONV_UNET "dynamic_network_architectures.architectures.unet.PlainConvUNet"

/* ---- Python and numpy arithmetic ---- */

double pf_plan_round_half_even(double x)
{
    /* x - floor(x) is exact, so the tie test is exact; independent of the FPU rounding mode. */
    double f = floor(x), d = x - f;
    if (d > 0.5)
        return f + 1.0;
    if (d < 0.5)
        return f;
    return fmod(f, 2.0) == 0.0 ? f : f + 1.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy's lerp: a + (b-a)*t, or b - (b-a)*(1-t) where t >= 0.5 (function_base._lerp). */
static double np_lerp(double a, double b, double t)
{
    double diff = b - a;
    if (t >= 0.5)
        return b - diff * (1.0 - t);
    return a + diff * t;
}

double pf_plan_percentile(double *v, int n, double q)
{
    /* np.percentile(method="linear"): q/100, virtual index (n-1)*q, floor/next neighbours, both
     * the last element at or past the end, gamma = index - previous (previous is -1 there). */
    double quant = q / 100.0, vi, prev;
    int ip, in;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    vi = (double)(n - 1) * quant;
    prev = floor(vi);
    if (vi >= (double)(n - 1)) {
        ip = in = n - 1;
        prev = -1.0;
    } else if (vi < 0) {
        ip = in = 0;
        prev = 0.0;
    } else {
        ip = (int)prev;
        in = ip + 1;
    }
    return np_lerp(v[ip], v[in], vi - prev);
}

/* np.median: the middle element, or the mean (a + b) / 2 of the middle pair. */
static double np_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    if (n % 2)
        return v[n / 2];
    return (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* np.prod(x, dtype=float64): left to right. */
static double np_prod(const double *x, int n)
{
    double p = x[0];
    for (int i = 1; i < n; i++)
        p *= x[i];
    return p;
}

/* ---- fingerprint ---- */

static int check_fingerprint(const pf_fingerprint *fp, pf_error *err)
{
    if (fp->n_cases < 1 || !fp->spacings || !fp->shapes)
        return pf_fail(err, EINVAL, "fingerprint: no cases");
    if (fp->n_channels < 1 || fp->n_channels > PF_PLAN_MAX_CHANNELS || !fp->channel_names)
        return pf_fail(err, EINVAL, "fingerprint: %d channels (1 to %d supported)",
                       fp->n_channels, PF_PLAN_MAX_CHANNELS);
    for (int c = 0; c < fp->n_channels; c++)
        if (!fp->channel_names[c])
            return pf_fail(err, EINVAL, "fingerprint: channel %d has no name", c);
    if (fp->n_labels < 1)
        return pf_fail(err, EINVAL, "fingerprint: %d labels (background counts as one)",
                       fp->n_labels);
    if (fp->num_training < 0)
        return pf_fail(err, EINVAL, "fingerprint: numTraining %d", fp->num_training);
    if (!(fp->gpu_memory_gb >= 0) || isinf(fp->gpu_memory_gb))
        return pf_fail(err, EINVAL, "fingerprint: GPU memory target %g GB", fp->gpu_memory_gb);
    if (!isfinite(fp->median_relative_size_after_cropping))
        return pf_fail(err, EINVAL,
                       "fingerprint: median_relative_size_after_cropping is not finite");
    for (int i = 0; i < fp->n_cases; i++)
        for (int a = 0; a < 3; a++) {
            double s = fp->spacings[3 * i + a];
            int64_t n = fp->shapes[3 * i + a];
            if (!(s > 0) || isinf(s))
                return pf_fail(err, EINVAL, "fingerprint: case %d: spacing %g on axis %d", i, s,
                               a);
            /* 2^40 voxels per axis keeps every product and cast below exact */
            if (n < 1 || n > ((int64_t)1 << 40))
                return pf_fail(err, EINVAL, "fingerprint: case %d: shape %lld on axis %d", i,
                               (long long)n, a);
        }
    return 0;
}

/* A fresh copy of one axis of the per-case spacings (or shapes) for sorting. */
static double *axis_column(const pf_fingerprint *fp, int axis, int shapes, pf_error *err)
{
    double *v = pf_calloc((size_t)fp->n_cases, sizeof *v, err);
    if (!v)
        return NULL;
    for (int i = 0; i < fp->n_cases; i++)
        v[i] = shapes ? (double)fp->shapes[3 * i + axis] : fp->spacings[3 * i + axis];
    return v;
}

/* determine_fullres_target_spacing and determine_transpose. */
int pf_plan_target_spacing(const pf_fingerprint *fp, double target[3], int transpose_forward[3],
                           int transpose_backward[3], pf_error *err)
{
    double size[3], max_other_sp, min_other_size;
    int worst = 0, others[2], k = 0;

    if (check_fingerprint(fp, err))
        return -1;
    for (int a = 0; a < 3; a++) {
        double *sp = axis_column(fp, a, 0, err), *sz;
        if (!sp)
            return -1;
        target[a] = pf_plan_percentile(sp, fp->n_cases, 50);
        free(sp);
        sz = axis_column(fp, a, 1, err);
        if (!sz)
            return -1;
        size[a] = pf_plan_percentile(sz, fp->n_cases, 50);
        free(sz);
    }

    /* np.argmax: the first largest */
    for (int a = 1; a < 3; a++)
        if (target[a] > target[worst])
            worst = a;
    for (int a = 0; a < 3; a++)
        if (a != worst)
            others[k++] = a;
    max_other_sp = target[others[1]] > target[others[0]] ? target[others[1]] : target[others[0]];
    min_other_size = size[others[1]] < size[others[0]] ? size[others[1]] : size[others[0]];

    /* A much coarser axis with far fewer voxels than the others (ACDC-like): a median target
     * would interpolate its few slices badly, so take the 10th percentile of its spacings, but
     * not finer than the other axes. */
    if (target[worst] > ANISO_THRESHOLD * max_other_sp &&
        size[worst] * ANISO_THRESHOLD < min_other_size) {
        double *sp = axis_column(fp, worst, 0, err), t;
        if (!sp)
            return -1;
        t = pf_plan_percentile(sp, fp->n_cases, 10);
        free(sp);
        if (t < max_other_sp)
            t = (max_other_sp > t ? max_other_sp : t) + 1e-5;
        target[worst] = t;
    }

    /* transpose: the coarsest axis first (argmax again: after the clamp it may tie), the other
     * two ascending */
    worst = 0;
    for (int a = 1; a < 3; a++)
        if (target[a] > target[worst])
            worst = a;
    transpose_forward[0] = worst;
    k = 1;
    for (int a = 0; a < 3; a++)
        if (a != worst)
            transpose_forward[k++] = a;
    for (int a = 0; a < 3; a++)
        transpose_backward[transpose_forward[a]] = a;
    return 0;
}

/* ---- network topology (network_topology.get_pool_and_conv_props) ---- */

int pf_plan_pool_and_conv_props(int ndim, const double *spacing, const double *patch,
                                pf_topology *out, pf_error *err)
{
    double cur_sp[PF_PLAN_MAX_DIM], cur_size[PF_PLAN_MAX_DIM];
    int kernel[PF_PLAN_MAX_DIM];

    if (ndim < 1 || ndim > PF_PLAN_MAX_DIM)
        return pf_fail(err, EINVAL, "network topology: %d dimensions", ndim);
    memset(out, 0, sizeof *out);
    for (int d = 0; d < ndim; d++) {
        cur_sp[d] = spacing[d];
        cur_size[d] = patch[d];
        kernel[d] = 1;
        out->strides[0][d] = 1;
    }
    out->n_stages = 1;

    for (;;) {
        int valid[PF_PLAN_MAX_DIM], nvalid = 0, n2 = 0;
        double min_valid_sp = 0, min_sp;

        /* axes that keep at least min_edge voxels after one more pool */
        for (int d = 0; d < ndim; d++)
            if (cur_size[d] >= 2 * UNET_MIN_EDGE)
                valid[nvalid++] = d;
        if (nvalid < 1)
            break;
        /* and whose spacing is within 2x of the finest of those */
        for (int i = 0; i < nvalid; i++)
            if (i == 0 || cur_sp[valid[i]] < min_valid_sp)
                min_valid_sp = cur_sp[valid[i]];
        for (int i = 0; i < nvalid; i++)
            if (cur_sp[valid[i]] / min_valid_sp < 2)
                valid[n2++] = valid[i];
        nvalid = n2;
        /* a lone axis pools only while it has 3x min_edge voxels */
        if (nvalid == 1 && !(cur_size[valid[0]] >= 3 * UNET_MIN_EDGE))
            break;
        if (nvalid < 1)
            break;
        if (out->n_stages >= PF_PLAN_MAX_STAGES)
            return pf_fail(err, EINVAL, "network topology: more than %d stages for a patch of "
                           "%g voxels", PF_PLAN_MAX_STAGES, patch[0]);

        /* kernels turn 3 once their axis is within 2x of the finest spacing (of all axes), and
         * stay 3; the kernel of this stage is decided before this stage's pooling */
        min_sp = cur_sp[0];
        for (int d = 1; d < ndim; d++)
            if (cur_sp[d] < min_sp)
                min_sp = cur_sp[d];
        for (int d = 0; d < ndim; d++)
            if (kernel[d] != 3 && cur_sp[d] / min_sp < 2)
                kernel[d] = 3;

        for (int d = 0; d < ndim; d++)
            out->strides[out->n_stages][d] = 1;
        for (int i = 0; i < nvalid; i++) {
            int d = valid[i];
            out->strides[out->n_stages][d] = 2;
            out->n_pool[d]++;
            cur_sp[d] *= 2;
            cur_size[d] = ceil(cur_size[d] / 2);
        }
        memcpy(out->kernel_sizes[out->n_stages - 1], kernel, sizeof kernel);
        out->n_stages++;
    }
    /* the bottleneck convolves with 3 on every axis */
    for (int d = 0; d < ndim; d++)
        out->kernel_sizes[out->n_stages - 1][d] = 3;

    /* pad_shape: up to the next multiple of 2^pools (a multiple stays); a fractional patch
     * (36.5) is padded from there and truncated by astype(int) */
    for (int d = 0; d < ndim; d++) {
        double m = ldexp(1.0, out->n_pool[d]), r = fmod(patch[d], m);
        double p = patch[d] + m - r;
        if (r == 0)
            p -= m;
        out->must_be_divisible_by[d] = (int64_t)m;
        out->patch_size[d] = (int64_t)p;
    }
    return 0;
}

/* ---- VRAM estimate (PlainConvUNet.compute_conv_feature_map_size) ---- */

static int64_t prod_i64(const int64_t *x, int n)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++)
        p *= x[i];
    return p;
}

int64_t pf_plan_feature_map_size(const pf_plan_config *c, const int64_t *patch, int n_classes)
{
    int64_t size[PF_PLAN_MAX_DIM], skip[PF_PLAN_MAX_STAGES][PF_PLAN_MAX_DIM], total = 0;
    int n = c->n_stages, nd = c->ndim;

    /* encoder: stage s holds n_conv convolutions of F[s] channels at the size after its
     * (strided first) convolution; the sizes floor-divide stage by stage */
    for (int d = 0; d < nd; d++)
        size[d] = patch[d];
    for (int s = 0; s < n; s++) {
        for (int d = 0; d < nd; d++)
            size[d] /= c->strides[s][d];
        total += (int64_t)c->n_conv_per_stage[s] * c->features_per_stage[s] * prod_i64(size, nd);
        if (s < n - 1)
            memcpy(skip[s], size, sizeof size);
    }
    /* decoder, bottom up: decoder stage s works at the size of encoder stage k = n-2-s with
     * F[k] channels: its convolutions, the transposed convolution's output, and the
     * segmentation layer on the last stage only (no deep supervision in the estimate) */
    for (int s = 0; s < n - 1; s++) {
        int k = n - 2 - s;
        int64_t vox = prod_i64(skip[k], nd);
        total += (int64_t)c->n_conv_per_stage_decoder[s] * c->features_per_stage[k] * vox;
        total += (int64_t)c->features_per_stage[k] * vox;
        if (s == n - 2)
            total += (int64_t)n_classes * vox;
    }
    return total;
}

/* ---- normalisation (map_channel_name_to_normalization.py) ---- */

/* Python's str.casefold() compared with ASCII keys: ASCII letters fold down, and of all other
 * characters only U+017F (long s) folds to a letter of the keys ('s'). */
static int casefold_equals(const char *name, const char *key)
{
    const unsigned char *p = (const unsigned char *)name;
    while (*p) {
        int ch;
        if (p[0] == 0xC5 && p[1] == 0xBF) {
            ch = 's';
            p += 2;
        } else if (*p >= 0x80) {
            return 0;
        } else {
            ch = (*p >= 'A' && *p <= 'Z') ? *p + 32 : *p;
            p++;
        }
        if (ch != *key++)
            return 0;
    }
    return *key == 0;
}

const char *pf_plan_norm_scheme(const char *channel_name)
{
    static const struct { const char *key, *scheme; } map[] = {
        {"ct", "CTNormalization"},
        {"nonorm", "NoNormalization"},
        {"zscore", "ZScoreNormalization"},
        {"rescale_to_0_1", "RescaleTo01Normalization"},
        {"rgb_to_0_1", "RGBTo01Normalization"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (casefold_equals(channel_name, map[i].key))
            return map[i].scheme;
    return "ZScoreNormalization";
}

int pf_plan_norm_uses_mask(const char *scheme)
{
    return strcmp(scheme, "ZScoreNormalization") == 0;
}

/* ---- one configuration (get_plans_for_configuration) ---- */

typedef struct plan_ctx {
    const pf_fingerprint *fp;
    double gpu_gb;
    int num_training;
} plan_ctx;

static void copy_name(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src);
}

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

static void set_fixed_fields(pf_plan_config *c, const plan_ctx *x, const char *name)
{
    const pf_fingerprint *fp = x->fp;
    int use_mask = fp->median_relative_size_after_cropping < 3 / 4.;
    static const char *imports[] = {"conv_op", "norm_op", "dropout_op", "nonlin"};

    copy_name(c->name, sizeof c->name, name);
    snprintf(c->data_identifier, sizeof c->data_identifier, "%s_%s", PLANS_IDENTIFIER, name);
    copy_name(c->preprocessor_name, sizeof c->preprocessor_name, "DefaultPreprocessor");
    c->n_norm = c->n_use_mask = fp->n_channels;
    for (int i = 0; i < fp->n_channels; i++) {
        const char *scheme = pf_plan_norm_scheme(fp->channel_names[i]);
        copy_name(c->normalization_schemes[i], sizeof c->normalization_schemes[i], scheme);
        c->use_mask_for_norm[i] = (unsigned char)(use_mask && pf_plan_norm_uses_mask(scheme));
    }
    copy_name(c->resampling_fn_data, sizeof c->resampling_fn_data, RESAMPLING_FN);
    copy_name(c->resampling_fn_seg, sizeof c->resampling_fn_seg, RESAMPLING_FN);
    copy_name(c->resampling_fn_probabilities, sizeof c->resampling_fn_probabilities,
              RESAMPLING_FN);
    c->resampling_data = (pf_resample_kwargs){0, 3, 0, -1};
    c->resampling_seg = (pf_resample_kwargs){1, 1, 0, -1};
    c->resampling_probabilities = (pf_resample_kwargs){0, 1, 0, -1};

    copy_name(c->network_class_name, sizeof c->network_class_name, PLAIN_CONV_UNET);
    c->n_imports = 4;
    for (int i = 0; i < 4; i++)
        copy_name(c->kw_requires_import[i], sizeof c->kw_requires_import[i], imports[i]);
    snprintf(c->conv_op, sizeof c->conv_op, "torch.nn.modules.conv.Conv%dd", c->ndim);
    snprintf(c->norm_op, sizeof c->norm_op, "torch.nn.modules.instancenorm.InstanceNorm%dd",
             c->ndim);
    copy_name(c->nonlin, sizeof c->nonlin, "torch.nn.LeakyReLU");
    c->dropout_op[0] = 0;
    c->conv_bias = 1;
    /* the compact form plans_json.c gives these objects when it reads them */
    copy_name(c->norm_op_kwargs, sizeof c->norm_op_kwargs, "{\"eps\":1e-05,\"affine\":true}");
    c->dropout_op_kwargs[0] = 0;
    copy_name(c->nonlin_kwargs, sizeof c->nonlin_kwargs, "{\"inplace\":true}");
    c->keys = c->own_keys = PF_PK_ALL & ~(PF_PK_BIT(PF_PK_NEXT_STAGE) |
                                          PF_PK_BIT(PF_PK_PREVIOUS_STAGE) |
                                          PF_PK_BIT(PF_PK_N_BLOCKS_PER_STAGE));
}

static int plan_configuration(const plan_ctx *x, const char *name, int ndim,
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
        scale = pow(16777216.0 / np_prod(tmp, 3), 1.0 / 3.0);
    else
        scale = pow(4194304.0 / np_prod(tmp, 2), 1.0 / 2.0);
    for (int d = 0; d < ndim; d++) {
        double init = pf_plan_round_half_even(tmp[d] * scale);
        patch_d[d] = median[d] < init ? median[d] : init;
    }
    if (pf_plan_pool_and_conv_props(ndim, spacing, patch_d, &topo, err))
        return pf_wrap(err, "configuration %s", name);
    if (topo.n_stages > UNET_MAX_BLOCK_STAGES)
        return pf_fail(err, EINVAL, "configuration %s: %d network stages (nnU-Net's planner "
                       "supports %d)", name, topo.n_stages, UNET_MAX_BLOCK_STAGES);
    set_architecture(c, &topo);
    estimate = pf_plan_feature_map_size(c, c->patch_size, x->fp->n_labels);

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
        if (pf_plan_pool_and_conv_props(ndim, spacing, patch_d, &topo, err))
            return pf_wrap(err, "configuration %s", name);
        if (topo.n_stages > UNET_MAX_BLOCK_STAGES)
            return pf_fail(err, EINVAL, "configuration %s: %d network stages (nnU-Net's "
                           "planner supports %d)", name, topo.n_stages, UNET_MAX_BLOCK_STAGES);
        set_architecture(c, &topo);
        estimate = pf_plan_feature_map_size(c, c->patch_size, x->fp->n_labels);
    }
    if (estimate <= 0)
        return pf_fail(err, EINVAL, "configuration %s: empty network estimate", name);

    /* batch: the VRAM headroom, at most 5 % of the dataset's voxels, at least 2 */
    bs = pf_plan_round_half_even(reference / (double)estimate * ref_bs);
    for (int d = 0; d < ndim; d++)
        pd[d] = (double)c->patch_size[d];
    bs5 = pf_plan_round_half_even(approx_voxels_dataset * MAX_DATASET_COVERED / np_prod(pd, ndim));
    bs = bs < bs5 ? bs : bs5;
    bs = bs > UNET_MIN_BATCH ? bs : UNET_MIN_BATCH;
    if (!(bs <= 1e9))
        return pf_fail(err, EINVAL, "configuration %s: batch size %g", name, bs);
    c->batch_size = (int)bs;
    return 0;
}

/* ---- plan_experiment ---- */

static pf_plan_config *add_config(pf_plan *p, pf_error *err)
{
    pf_plan_config *n = realloc(p->configs, (size_t)(p->n_configs + 1) * sizeof *n);
    if (!n) {
        pf_fail(err, ENOMEM, "out of memory");
        return NULL;
    }
    p->configs = n;
    memset(&n[p->n_configs], 0, sizeof *n);
    return &n[p->n_configs++];
}

int pf_plan_experiment(const pf_fingerprint *fp, pf_plan *out, pf_error *err)
{
    double target[3], fst[3], nmt[3], approx, *col = NULL;
    int tf[3], tb[3], n = fp->n_cases;
    pf_plan_config full, lowres, twod;
    int have_full = 0, have_lowres = 0;
    plan_ctx x = {fp, fp->gpu_memory_gb > 0 ? fp->gpu_memory_gb : DEFAULT_GPU_GB,
                  fp->num_training > 0 ? fp->num_training : fp->n_cases};

    memset(out, 0, sizeof *out);
    if (pf_plan_target_spacing(fp, target, tf, tb, err))
        return -1;
    if (fp->dataset_name && strlen(fp->dataset_name) >= sizeof out->dataset_name)
        return pf_fail(err, EINVAL, "fingerprint: dataset name longer than %zu bytes",
                       sizeof out->dataset_name - 1);

    /* the median shape after resampling to the target: compute_new_shape per case,
     * int(round(spacing / target * shape)), then np.median per axis */
    col = pf_calloc((size_t)n, sizeof *col, err);
    if (!col)
        return -1;
    for (int a = 0; a < 3; a++) {
        for (int i = 0; i < n; i++)
            col[i] = pf_plan_round_half_even(fp->spacings[3 * i + a] / target[a] *
                                             (double)fp->shapes[3 * i + a]);
        nmt[a] = np_median(col, n);
    }
    {
        double m[3];
        memcpy(m, nmt, sizeof m);
        for (int a = 0; a < 3; a++) {
            nmt[a] = m[tf[a]];
            fst[a] = target[tf[a]];
        }
    }
    approx = np_prod(nmt, 3) * x.num_training;

    if (nmt[0] != 1) {
        double patch_vox, median_vox, ls[3];
        int steps = 0;

        if (plan_configuration(&x, "3d_fullres", 3, fst, nmt, 0, approx, &full, err))
            goto fail;
        have_full = 1;

        /* 3d_lowres: coarsen the spacing by 1.03 (first only the axes more than 2x finer than
         * the coarsest) until the patch covers a quarter of the median image */
        patch_vox = (double)full.patch_size[0] * (double)full.patch_size[1] *
                    (double)full.patch_size[2];
        median_vox = np_prod(nmt, 3);
        memcpy(ls, fst, sizeof ls);
        while (patch_vox / median_vox < LOWRES_THRESHOLD) {
            double max_sp = ls[0], r[3], med_lr[3];
            int finer[3], any = 0;
            if (++steps > LOWRES_MAX_STEPS) {
                pf_fail(err, EINVAL, "3d_lowres: no spacing found in %d steps", LOWRES_MAX_STEPS);
                goto fail;
            }
            for (int a = 1; a < 3; a++)
                if (ls[a] > max_sp)
                    max_sp = ls[a];
            /* the mask is taken before any axis changes, as numpy's boolean index is */
            for (int a = 0; a < 3; a++) {
                finer[a] = max_sp / ls[a] > 2;
                any |= finer[a];
            }
            for (int a = 0; a < 3; a++)
                if (!any || finer[a])
                    ls[a] *= LOWRES_SPACING_FACTOR;
            for (int a = 0; a < 3; a++) {
                r[a] = fst[a] / ls[a] * nmt[a];
                med_lr[a] = pf_plan_round_half_even(r[a]);
                if (med_lr[a] < 1) {
                    pf_fail(err, EINVAL, "3d_lowres: median shape rounds to 0 on axis %d", a);
                    goto fail;
                }
            }
            median_vox = np_prod(r, 3);
            if (plan_configuration(&x, "3d_lowres", 3, ls, med_lr, 1, median_vox * x.num_training,
                                   &lowres, err))
                goto fail;
            have_lowres = 1;
            patch_vox = (double)prod_i64(lowres.patch_size, 3);
        }
        /* a lowres stage that is not at least half as many voxels is not worth a cascade */
        if (np_prod(nmt, 3) / median_vox < 2)
            have_lowres = 0;
        full.batch_dice = have_lowres;
        lowres.batch_dice = 0;
    }

    if (plan_configuration(&x, "2d", 2, fst + 1, nmt + 1, 0, approx, &twod, err))
        goto fail;
    twod.batch_dice = 1;

    /* the plans: original medians, transposed, for reference */
    copy_name(out->dataset_name, sizeof out->dataset_name,
              fp->dataset_name ? fp->dataset_name : "");
    copy_name(out->plans_name, sizeof out->plans_name, PLANS_IDENTIFIER);
    {
        double sp[3], sh[3];
        for (int a = 0; a < 3; a++) {
            for (int i = 0; i < n; i++)
                col[i] = fp->spacings[3 * i + a];
            sp[a] = np_median(col, n);
            for (int i = 0; i < n; i++)
                col[i] = (double)fp->shapes[3 * i + a];
            sh[a] = np_median(col, n);
        }
        for (int a = 0; a < 3; a++) {
            out->original_median_spacing[a] = sp[tf[a]];
            out->original_median_shape[a] = (int64_t)pf_plan_round_half_even(sh[tf[a]]);
        }
    }
    copy_name(out->image_reader_writer, sizeof out->image_reader_writer,
              fp->image_reader_writer ? fp->image_reader_writer : "SimpleITKIO");
    memcpy(out->transpose_forward, tf, sizeof tf);
    memcpy(out->transpose_backward, tb, sizeof tb);
    copy_name(out->experiment_planner_used, sizeof out->experiment_planner_used,
              "ExperimentPlanner");
    copy_name(out->label_manager, sizeof out->label_manager, "LabelManager");
    if (fp->intensity) {
        out->n_intensity = fp->n_channels;
        memcpy(out->intensity, fp->intensity, (size_t)fp->n_channels * sizeof *fp->intensity);
    }
    out->keys = PF_PT_ALL;

    /* configurations in nnU-Net's order: 2d, 3d_lowres, 3d_fullres, 3d_cascade_fullres */
    {
        pf_plan_config *c;
        if (!(c = add_config(out, err)))
            goto fail;
        *c = twod;
        if (have_lowres) {
            if (!(c = add_config(out, err)))
                goto fail;
            *c = lowres;
            copy_name(c->next_stage, sizeof c->next_stage, "3d_cascade_fullres");
            c->keys |= PF_PK_BIT(PF_PK_NEXT_STAGE);
            c->own_keys |= PF_PK_BIT(PF_PK_NEXT_STAGE);
        }
        if (have_full) {
            if (!(c = add_config(out, err)))
                goto fail;
            *c = full;
        }
        if (have_full && have_lowres) {
            if (!(c = add_config(out, err)))
                goto fail;
            *c = full;
            copy_name(c->name, sizeof c->name, "3d_cascade_fullres");
            copy_name(c->inherits_from, sizeof c->inherits_from, "3d_fullres");
            copy_name(c->previous_stage, sizeof c->previous_stage, "3d_lowres");
            c->keys |= PF_PK_BIT(PF_PK_PREVIOUS_STAGE);
            c->own_keys = PF_PK_BIT(PF_PK_PREVIOUS_STAGE);
        }
    }
    free(col);
    return 0;

fail:
    free(col);
    pf_plan_free(out);
    return -1;
}

void pf_plan_free(pf_plan *plan)
{
    if (!plan)
        return;
    free(plan->configs);
    plan->configs = NULL;
    plan->n_configs = 0;
}

const pf_plan_config *pf_plan_find_config(const pf_plan *plan, const char *name)
{
    for (int i = 0; i < plan->n_configs; i++)
        if (strcmp(plan->configs[i].name, name) == 0)
            return &plan->configs[i];
    return NULL;
}

/* ---- deep supervision ---- */

int pf_plan_ds_scales(const pf_plan_config *c, double scales[][PF_PLAN_MAX_DIM])
{
    int64_t cum[PF_PLAN_MAX_DIM];
    for (int d = 0; d < c->ndim; d++)
        cum[d] = 1;
    for (int s = 0; s < c->n_stages - 1; s++)
        for (int d = 0; d < c->ndim; d++) {
            cum[d] *= c->strides[s][d];
            scales[s][d] = 1.0 / (double)cum[d];
        }
    return c->n_stages > 1 ? c->n_stages - 1 : 0;
}

void pf_plan_ds_shape(int ndim, const int64_t *size, const double *scale, int64_t *out)
{
    for (int d = 0; d < ndim; d++)
        out[d] = (int64_t)pf_plan_round_half_even((double)size[d] * scale[d]);
}
