/* resample.h - nnU-Net v2's resampling of a case to the target spacing, value for value.
 *
 * What nnU-Net computes (default_resampling.py, with skimage's resize and batchgenerators'
 * resize_segmentation underneath, scipy 1.10's zoom with grid_mode=True):
 *  - new shape per axis: int(round(spacing / target * shape)), double, half to even;
 *  - separate-z: along the case spacing's unique coarsest axis if its max/min > 3, else along
 *    the target's if that is > 3; none if the chosen axis is not unique (ties);
 *  - image: float64, B-spline of order 3 (scipy's prefilter on the array padded by 12 edge
 *    voxels, mirror boundary; evaluation with mode 'nearest'), order 1 or 0, source coordinate
 *    (o + 0.5) * n_in / n_out - 0.5, no anti-aliasing, clipped to the input's [min, max];
 *    with separate-z each plane across the axis is resized in 2D (clipped to that plane's
 *    range) and the axis is resampled by nearest neighbour (order_z 0);
 *  - segmentation: per label present, ascending, the 0/1 indicator interpolated linearly (or
 *    order 0) and written where >= 0.5, later labels overwriting; unclaimed voxels 0;
 *  - no axis changes: a plain copy.
 * The B-spline image path runs as separable passes over whole lines (a tensor-product spline
 * on a separable coordinate map equals 1D passes axis by axis): per-line prefilter
 * coefficients are bitwise scipy's, the result agrees with scipy's 3D evaluation to ~1e-15
 * relative. The segmentation path evaluates scipy's taps per voxel in scipy's order, so it
 * decides exact 0.5 ties as scipy does.
 *
 * Arrays are C order (Z, Y, X) of one channel: X fastest. The work of one call is split into
 * steps (at most two, run in order) of independent units, so a caller can spread each step's
 * units over threads (pf_resample_unit fits pf_parallel_for); the result does not depend on
 * how units are distributed. */
#ifndef PATCHFS_RESAMPLE_H
#define PATCHFS_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Default bound on input and output voxels of one channel (4 GiB of float32). */
#define PF_RESAMPLE_MAX_VOXELS ((int64_t)1 << 30)

/* nnU-Net's ANISO_THRESHOLD. */
#define PF_RESAMPLE_ANISO 3.0

/* What to resample from and to, decided once per case and shared by its channels. */
typedef struct pf_resample_geom {
    int64_t in_shape[3];
    int64_t out_shape[3];
    int separate_z;           /* 1: 2D in the planes across `axis`, nearest along it */
    int axis;                 /* 0..2 when separate_z, else -1 */
} pf_resample_geom;

/* out[i] = int(round(spacing[i] / target[i] * shape[i])) as nnU-Net's compute_new_shape.
 * Fails on non-finite or non-positive spacings and on a result < 1 or beyond int64. */
int pf_resample_new_shape(const int64_t shape[3], const double spacing[3],
                          const double target[3], int64_t out[3], pf_error *err);

/* nnU-Net's determine_do_sep_z_and_axis. force: -1 decide (force_separate_z=None, what the
 * default plans use), 0 never, 1 always (along the case spacing's coarsest axis). */
void pf_resample_decide_z(const double spacing[3], const double target[3], int force,
                          int *separate_z, int *axis);

/* Fills g. out_shape NULL: computed from the spacings (pf_resample_new_shape); otherwise
 * taken as given (nnU-Net's resample_data_or_seg_to_shape, as the export uses it) and the
 * spacings only decide separate-z. max_voxels bounds input and output voxels (0: the default
 * PF_RESAMPLE_MAX_VOXELS); a shape beyond it is refused with a message naming it. */
int pf_resample_geom_init(pf_resample_geom *g, const int64_t in_shape[3],
                          const int64_t *out_shape, const double spacing[3],
                          const double target[3], int force_separate_z, int64_t max_voxels,
                          pf_error *err);

/* 1 if some axis changes length (something is interpolated), 0 for a plain copy. */
int pf_resample_geom_changes(const pf_resample_geom *g);

/* Voxel counts (in_shape / out_shape products). */
size_t pf_resample_in_voxels(const pf_resample_geom *g);
size_t pf_resample_out_voxels(const pf_resample_geom *g);

/* One channel being resampled. Fill with a *_begin call, run every unit of step 0, then every
 * unit of step 1 (pf_resample_run does it on the calling thread, pf_resample_run_pool on the
 * worker pool), release with pf_resample_end. Units write disjoint outputs and allocate their own scratch; the bytes do not depend on
 * the thread count. Fields below `step` are internal. */
typedef struct pf_resample {
    int nsteps;               /* 1 or 2 */
    int units[2];             /* independent units of each step */
    int step;                 /* the step pf_resample_unit runs; the caller sets it */

    /* internal */
    pf_resample_geom g;
    int seg, order, out_bytes;
    const void *in;
    void *out;
    int plan;                 /* which pipeline (resample_i.h) */
    int kind[2];              /* what the units of each step do */
    int changes[3];           /* per axis: length changes */
    int64_t cols_per_unit;    /* columns of one unit of the axis-0 pass */
    double lo, hi;            /* image: clip range of the whole input */
    double *tmp;              /* image: the volume between the in-plane and axis-0 passes */
    struct pf_rs_axis *ax[3]; /* per-axis evaluation tables */
    int64_t *sfirst, *scount; /* separate-z: output planes taken from each source plane */
} pf_resample;

/* Image channel: order 3 (data), 1 (probabilities) or 0; order_z must be 0 (nnU-Net's plans;
 * it is used only with separate-z). in: in_shape float32; out: out_shape float32, not
 * overlapping in. Both must stay valid until pf_resample_end. g normally comes from
 * pf_resample_geom_init (which applies the voxel limit); a hand-filled g is checked for empty
 * axes and sizes beyond 2^40 voxels. The scratch of the 3D path is one double volume of at
 * most max(input, output) voxels, plus per-unit tiles. */
int pf_resample_image_begin(pf_resample *r, const pf_resample_geom *g, int order, int order_z,
                            const float *in, float *out, pf_error *err);

/* Segmentation: order 1 (nnU-Net's plans) or 0, order_z 0. in: int16 labels (-1 allowed);
 * out: out_bytes 2 (int16) or 1 (int8; fails if a label is outside [-128, 127]). */
int pf_resample_seg_begin(pf_resample *r, const pf_resample_geom *g, int order,
                          const int16_t *in, void *out, int out_bytes, pf_error *err);

/* Runs unit `unit` of step r->step; the signature of pf_parallel_for's callback (arg is the
 * pf_resample). Units of one step may run concurrently; steps must run in order. */
int pf_resample_unit(void *r, int unit, pf_error *err);

/* Every unit of every step on the calling thread. */
int pf_resample_run(pf_resample *r, pf_error *err);

/* Every unit of every step on the worker pool (pf_parallel_for, threads as it takes them);
 * the same bytes as pf_resample_run. */
int pf_resample_run_pool(pf_resample *r, int threads, pf_error *err);

/* Releases what a successful *_begin allocated (safe on a zeroed struct). */
void pf_resample_end(pf_resample *r);

/* begin + run + end. */
int pf_resample_image(const pf_resample_geom *g, int order, int order_z, const float *in,
                      float *out, pf_error *err);
int pf_resample_seg(const pf_resample_geom *g, int order, const int16_t *in, void *out,
                    int out_bytes, pf_error *err);

#endif
