/* resample_i.h - what the files of the resampling share, and nobody else:
 *   resample.c        the units of a call: begin's common part, steps and units, end
 *   resample_geom.c   shapes, the separate-z decision, limits (pf_resample_geom)
 *   resample_axis.c   per-axis tables: scipy's source coordinates, taps and weights
 *   resample_lines.c  the image's separable passes over tiles of lines (B-spline prefilter,
 *                     evaluation, clipping), and a plane resized in 2D
 *   resample_image.c  the image pipelines (3D pass orders, separate-z) and their units
 *   resample_seg.c    the segmentation pipeline (per-label linear, scipy's tie rule)
 * Build with -ffp-contract=off: a fused multiply-add would change the bits of every table and
 * pass (resample.c says whose formulas they are). */
#ifndef PATCHFS_RESAMPLE_I_H
#define PATCHFS_RESAMPLE_I_H

#include <stddef.h>
#include <stdint.h>

#include "resample.h"

/* scipy pads every axis by 12 edge voxels before the prefilter when mode is 'nearest'
 * (_prepad_for_spline_filter); the prefilter itself then uses the mirror boundary. */
#define NPAD 12

/* Which pipeline a pf_resample runs (its `plan`). */
enum { PLAN_COPY, PLAN_XY_Z, PLAN_Z_XY, PLAN_SEPZ, PLAN_SEG };
/* What the units of a step do (its `kind`). */
enum { STEP_COPY, STEP_XY, STEP_Z, STEP_SEPZ, STEP_SEG, STEP_SEG_PLANES };
/* How an axis is resampled: skimage's resize of that order, or nnU-Net's nearest neighbour
 * along the separate-z axis. */
enum { AX_SPLINE3 = 3, AX_LINEAR = 1, AX_ROUND = 0, AX_NEAREST_Z = -1 };

static inline int64_t pf_rs_prod3(const int64_t s[3])
{
    return s[0] * s[1] * s[2];   /* callers have bounded each factor and the product */
}

/* Product of three positive dims, or -1 beyond INT64_MAX. */
static inline int64_t pf_rs_prod3_checked(const int64_t s[3])
{
    int64_t a;
    if (__builtin_mul_overflow(s[0], s[1], &a) || __builtin_mul_overflow(a, s[2], &a))
        return -1;
    return a;
}

/* Whether the byte ranges [a, a + na) and [b, b + nb) overlap. */
static inline int pf_rs_overlap(const void *a, size_t na, const void *b, size_t nb)
{
    return (const char *)a < (const char *)b + nb && (const char *)b < (const char *)a + na;
}

/* ---- per-axis tables (resample_axis.c) ---- */

/* How one axis goes from n to m samples: output o = sum_k line[idx[o*taps+k]] * w[o*taps+k],
 * line being the input padded by `pad` edge samples on each side (order 3) or not. */
typedef struct pf_rs_axis {
    int64_t n, m;
    int taps, pad;
    int64_t *idx;
    double *w;
} pf_rs_axis;

/* r->ax[0..2] for r->g: the separate-z axis (if any) AX_NEAREST_Z, the others `order`.
 * two_taps: single-tap kinds stored as (i, i) with weights (1, 0), the form the segmentation
 * kernel reads. On failure the tables made so far stay in r->ax (pf_resample_end frees them). */
int pf_rs_axes_new(pf_resample *r, int order, int two_taps, pf_error *err);
void pf_rs_axis_free(pf_rs_axis *a);

/* ---- separable passes of the image (resample_lines.c) ---- */

/* Where the lines of a pass live: element k of line l at base + l*lstride + k*astride. */
typedef struct rs_ref {
    void *base;
    int is_float;
    int64_t astride, lstride;
} rs_ref;

/* A plane of a volume: element (p, q) at base + p*ps + q*qs. */
typedef struct rs_plane {
    void *base;
    int is_float;
    int64_t ps, qs;
} rs_plane;

/* Resamples lines [l0, l0 + nlines) of src along ax into dst; float destinations are clipped
 * to clip[0..1]. Allocates its own scratch. */
int pf_rs_lines(const pf_rs_axis *ax, const rs_ref *src, const rs_ref *dst, int64_t l0,
                int64_t nlines, const double *clip, pf_error *err);
/* Resizes a plane in 2D along volume axes ap (its p axis) and aq (its q axis) with r's
 * tables; dst gets m_p x m_q values, float destinations clipped. */
int pf_rs_plane_2d(const pf_resample *r, int ap, int aq, const rs_plane *src,
                   const rs_plane *dst, const double *clip, pf_error *err);

/* ---- the units and set-up shared by both pipelines (resample.c) ---- */

/* Zeroes r, checks g and the arrays, records them and which axes change length. */
int pf_rs_begin_common(pf_resample *r, const pf_resample_geom *g, const void *in, void *out,
                       pf_error *err);
/* r as a plain copy, one unit per plane. */
int pf_rs_begin_copy(pf_resample *r, pf_error *err);
/* n units into *out, or an error when n does not fit an int. */
int pf_rs_units_of(int64_t n, pf_error *err, int *out);
/* Separate-z: per source plane along g.axis, the output planes it gives (r->sfirst,
 * r->scount), from the AX_NEAREST_Z table. */
int pf_rs_sepz_ranges(pf_resample *r, pf_error *err);
/* pf_resample_run, then pf_resample_end; the result of the run. */
int pf_rs_run_and_end(pf_resample *r, pf_error *err);

/* ---- units of the image (resample_image.c) and segmentation (resample_seg.c) ---- */

int pf_rs_unit_xy(const pf_resample *r, int64_t z, pf_error *err);
int pf_rs_unit_z(const pf_resample *r, int unit, pf_error *err);
int pf_rs_unit_sepz(const pf_resample *r, int64_t s, pf_error *err);
void pf_rs_unit_seg(const pf_resample *r, int64_t oz);
void pf_rs_unit_seg_planes(const pf_resample *r, int64_t s);

#endif
