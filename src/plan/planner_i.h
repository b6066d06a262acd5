/* planner_i.h - what the planner's files share, and nobody else outside the plan layer:
 * numpy's arithmetic as the planner does it (planner_math.c), one configuration planned
 * (planner_config.c, called by planner.c), and the fields every configuration of nnU-Net's
 * planners gets the same way (planner_config.c; plans_json_config.c converts plans of nnU-Net
 * before 2.3 with them). */
#ifndef PATCHFS_PLANNER_I_H
#define PATCHFS_PLANNER_I_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "planner.h"

/* plans_name, and the prefix of every data_identifier */
#define PF_PLANS_IDENTIFIER "nnUNetPlans"

static inline void pf_plan_copy_name(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src);
}

/* ---- numpy (planner_math.c; np.median is order.h's pf_median) ---- */

/* np.prod(x, dtype=float64): left to right. */
double pf_plan_np_prod(const double *x, int n);
/* the product of n int64 (callers bound it) */
int64_t pf_plan_prod_i64(const int64_t *x, int n);

/* ---- one configuration (planner_config.c) ---- */

typedef struct pf_plan_ctx {
    const pf_fingerprint *fp;
    double gpu_gb;
    int num_training;
} pf_plan_ctx;

/* get_plans_for_configuration: c planned from scratch for a spacing and median shape
 * (transposed order, ndim entries); approx_voxels_dataset sizes the 5 % batch cap. */
int pf_plan_configuration(const pf_plan_ctx *x, const char *name, int ndim,
                          const double *spacing, const double *median, int median_is_integer,
                          double approx_voxels_dataset, pf_plan_config *c, pf_error *err);

/* The operators of the networks nnU-Net's default planners build (and of old plans converted)
 * for ndim axes: conv, instance norm, leaky ReLU, no dropout, conv_bias, their kwargs (in the
 * compact form plans_json gives them) and _kw_requires_import. The architecture's other fields
 * are not touched. */
void pf_plan_set_unet_ops(pf_plan_config *c, int ndim);
/* resampling_fn_{data,seg,probabilities}_kwargs of nnU-Net's default planner. */
void pf_plan_set_default_resampling(pf_plan_config *c);

#endif
