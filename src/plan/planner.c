/* planner.c - nnU-Net v2's default ExperimentPlanner as pure arithmetic (see planner.h): the
 * whole plan (plan_experiment: the median shape at the target spacing, which configurations
 * exist, the 3d_lowres spacing search, the plan's top-level fields), and finding and freeing
 * its configurations.
 *
 * Read next to nnunetv2/experiment_planning/experiment_planners/default_experiment_planner.py,
 * network_topology.py and dynamic_network_architectures' PlainConvUNet: each function says which
 * Python it reproduces. The order of floating-point operations follows numpy's, because the
 * results must be bit-identical (a patch or batch size flips on a last-bit difference). The
 * pieces: planner_spacing.c (target spacing, transpose), planner_config.c (one configuration:
 * patch, network, batch), planner_topology.c (pools, convolutions, VRAM estimate, deep
 * supervision), planner_norm.c (normalisation schemes), planner_math.c (numpy's arithmetic). */
#include "planner_i.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "order.h"

#define LOWRES_THRESHOLD 0.25
#define LOWRES_SPACING_FACTOR 1.03
#define DEFAULT_GPU_GB 8.0
/* The lowres search multiplies spacings by 1.03 until the patch covers a quarter of the median
 * image; a real search ends within a few hundred steps, this only stops a runaway. */
#define LOWRES_MAX_STEPS 100000

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
    pf_plan_ctx x = {fp, fp->gpu_memory_gb > 0 ? fp->gpu_memory_gb : DEFAULT_GPU_GB,
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
        nmt[a] = pf_median(col, n);
    }
    {
        double m[3];
        memcpy(m, nmt, sizeof m);
        for (int a = 0; a < 3; a++) {
            nmt[a] = m[tf[a]];
            fst[a] = target[tf[a]];
        }
    }
    approx = pf_plan_np_prod(nmt, 3) * x.num_training;

    if (nmt[0] != 1) {
        double patch_vox, median_vox, ls[3];
        int steps = 0;

        if (pf_plan_configuration(&x, "3d_fullres", 3, fst, nmt, 0, approx, &full, err))
            goto fail;
        have_full = 1;

        /* 3d_lowres: coarsen the spacing by 1.03 (first only the axes more than 2x finer than
         * the coarsest) until the patch covers a quarter of the median image */
        patch_vox = (double)full.patch_size[0] * (double)full.patch_size[1] *
                    (double)full.patch_size[2];
        median_vox = pf_plan_np_prod(nmt, 3);
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
            median_vox = pf_plan_np_prod(r, 3);
            if (pf_plan_configuration(&x, "3d_lowres", 3, ls, med_lr, 1,
                                      median_vox * x.num_training, &lowres, err))
                goto fail;
            have_lowres = 1;
            patch_vox = (double)pf_plan_prod_i64(lowres.patch_size, 3);
        }
        /* a lowres stage that is not at least half as many voxels is not worth a cascade */
        if (pf_plan_np_prod(nmt, 3) / median_vox < 2)
            have_lowres = 0;
        full.batch_dice = have_lowres;
        lowres.batch_dice = 0;
    }

    if (pf_plan_configuration(&x, "2d", 2, fst + 1, nmt + 1, 0, approx, &twod, err))
        goto fail;
    twod.batch_dice = 1;

    /* the plans: original medians, transposed, for reference */
    pf_plan_copy_name(out->dataset_name, sizeof out->dataset_name,
                      fp->dataset_name ? fp->dataset_name : "");
    pf_plan_copy_name(out->plans_name, sizeof out->plans_name, PF_PLANS_IDENTIFIER);
    {
        double sp[3], sh[3];
        for (int a = 0; a < 3; a++) {
            for (int i = 0; i < n; i++)
                col[i] = fp->spacings[3 * i + a];
            sp[a] = pf_median(col, n);
            for (int i = 0; i < n; i++)
                col[i] = (double)fp->shapes[3 * i + a];
            sh[a] = pf_median(col, n);
        }
        for (int a = 0; a < 3; a++) {
            out->original_median_spacing[a] = sp[tf[a]];
            out->original_median_shape[a] = (int64_t)pf_plan_round_half_even(sh[tf[a]]);
        }
    }
    pf_plan_copy_name(out->image_reader_writer, sizeof out->image_reader_writer,
                      fp->image_reader_writer ? fp->image_reader_writer : "SimpleITKIO");
    memcpy(out->transpose_forward, tf, sizeof tf);
    memcpy(out->transpose_backward, tb, sizeof tb);
    pf_plan_copy_name(out->experiment_planner_used, sizeof out->experiment_planner_used,
                      "ExperimentPlanner");
    pf_plan_copy_name(out->label_manager, sizeof out->label_manager, "LabelManager");
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
            pf_plan_copy_name(c->next_stage, sizeof c->next_stage, "3d_cascade_fullres");
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
            pf_plan_copy_name(c->name, sizeof c->name, "3d_cascade_fullres");
            pf_plan_copy_name(c->inherits_from, sizeof c->inherits_from, "3d_fullres");
            pf_plan_copy_name(c->previous_stage, sizeof c->previous_stage, "3d_lowres");
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
