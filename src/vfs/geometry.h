/* geometry.h - what grid a mount serves: nnU-Net's plan for the dataset (made by the planner
 * from the fingerprint, or read from plans=FILE), the configuration in use (3d_fullres, 2d,
 * 3d_lowres), and from them the preprocessing of every case (transpose, target spacing,
 * resampling orders, normalisation schemes and CT statistics), the patch, the batch and the
 * deep-supervision scales. spacing=native keeps the cases' own grids (no transpose, no
 * resampling); spacing=ZxYxX forces a target spacing. Options patch= and batch= override the
 * plan's. */
#ifndef PATCHFS_GEOMETRY_H
#define PATCHFS_GEOMETRY_H

#include "dataset.h"
#include "fingerprint.h"
#include "options.h"
#include "planner.h"
#include "prepare.h"

typedef struct pf_geometry {
    pf_plan plan;                  /* the whole plan (served as plans.json) */
    int have_plan;
    const pf_plan_config *config;  /* the configuration in use (in plan) */
    char *plans_json;              /* plans.json's bytes */
    pf_channel_norm norm[64];      /* per channel */
    pf_prep_spec spec;             /* how every case is preprocessed */
    int patch[3];                  /* Z, Y, X (2D: patch[0] = 1) */
    int patch_2d;
    int batch;
    double median_relative_size;   /* of the fingerprint (the use-mask rule) */
    int n_ds;                      /* deep-supervision scales from the plan's strides */
    double ds_scales[16][3];
} pf_geometry;

/* Decides the geometry. fps: every case's fingerprint (n of them; empty records of cases set
 * aside are skipped). */
int pf_geometry_decide(pf_geometry *g, const pf_options *o, const pf_dataset *ds,
                       const pf_case_fp *fps, int n, pf_error *err);
void pf_geometry_free(pf_geometry *g);

#endif
