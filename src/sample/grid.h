/* grid.h - the resampling grid of an augmented sample and what the image and seg samplers
 * share to walk it: the grid's matrix and centre, positions along an output row in float
 * lanes, the case geometry (corner offsets, which cells lie inside), and for axis-aligned
 * grids the per-axis tables and plane pairs of the separable samplers. Internal to the sample
 * layer (sample_image.c, sample_seg.c, grid.c). */
#ifndef PATCHFS_GRID_H
#define PATCHFS_GRID_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "augment.h"
#include "cache.h"
#include "vecmath.h"

/* The source position of output voxel (z, y, x): centre + M (o - (P - 1) / 2). flip: the
 * axes along which the samplers write the sample mirrored (pf_aug_mirror_in_grid), so that
 * the separate mirroring pass has nothing left to do. */
typedef struct grid {
    double M[3][3], c[3], h[3];
    int flip[3];
} grid;

void pf_grid_init(grid *g, const pf_aug_params *p, const int64_t start[3], const int patch[3]);

/* Mirroring folded into the samplers' output: output row (z, y) of the grid is written at
 * the row the mirroring would move it to, and reversed in place (in cache, just written) when
 * X is mirrored. Each voxel's value is computed exactly as unmirrored (its position, its
 * lanes' formula): only where it is stored changes, so the bytes equal sample-then-mirror. */
static inline size_t grid_out_row(const grid *g, const int patch[3], int z, int y)
{
    const int zo = g->flip[0] ? patch[0] - 1 - z : z, yo = g->flip[1] ? patch[1] - 1 - y : y;
    return ((size_t)zo * (size_t)patch[1] + (size_t)yo) * (size_t)patch[2];
}

/* Reverses n elements in place (mirror.c). */
void pf_reverse_floats(float *a, size_t n);
void pf_reverse_labels(int16_t *a, size_t n);

/* ---- sampling the grid ----
 *
 * Along an output row the source position moves by the third column of M per voxel, so the
 * positions of PF_VL consecutive voxels are q0 + dq x, computed in float (a source position
 * of a few hundred voxels keeps 1e-5 voxel of precision). Each voxel's position, corners and
 * value depend only on that voxel: lanes are independent, and a voxel takes the same formula
 * whichever lanes surround it. */

typedef struct row_walk {
    float q0[3], dq[3];  /* position of x = 0, step per x */
    pf_vf xs;            /* 0, 1, 2, ... */
} row_walk;

void pf_row_walk_init(row_walk *rw, const grid *g, int z, int y);

/* Positions of voxels x0 .. x0 + PF_VL - 1: floor (as int) and fraction per axis. */
static inline void row_points(const row_walk *rw, int x0, pf_vi f[3], pf_vf w[3])
{
    const pf_vf x = rw->xs + (float)x0;
    for (int d = 0; d < 3; d++) {
        pf_vf q = rw->q0[d] + rw->dq[d] * x, fl = pf_vf_floor(q);
        f[d] = __builtin_convertvector(fl, pf_vi);
        w[d] = q - fl;
    }
}

static inline float clampf(float v, float lo, float hi)
{
    float t = v < lo ? lo : v;
    return t > hi ? hi : t;
}

static inline pf_vf lerp_lanes(pf_vf a, pf_vf b, pf_vf w)
{
    return a + (b - a) * w;
}

/* Whether all eight corners of the cell at f lie outside the case (the grid often reaches
 * well beyond a case's border: such voxels need no corner reads). */
static inline int outside_case(const int32_t f[3], const int64_t S[3])
{
    for (int d = 0; d < 3; d++)
        if (f[d] < -1 || f[d] >= S[d])
            return 1;
    return 0;
}

#if PF_VL != 4
#error "interp_interior gathers four lanes"
#endif

/* Case geometry shared by the samplers: shape (as int32), whether 32-bit indices suffice
 * (else every voxel takes the edge formula), and the offsets of a cell's eight corners from
 * its first, corner j = 4 z + 2 y + x (the order the interpolation takes them in). An axis
 * the grid never leaves (a one-voxel patch axis the transform does not
 * mix into the others: Z of a 2D patch under in-plane rotation) sits exactly on a voxel, with
 * weight 0: it is "collapsed", needs no second corner (offset 0: lerp(a, a, 0) = a exactly),
 * and its cells may start on the case's last voxel (a 2D case has only one). */
typedef struct case_geom {
    int32_t S[3];
    int usable;
    int collapsed[3];
    size_t corner[8];
} case_geom;

void pf_case_geom_init(case_geom *cg, const pf_case *c, const grid *g, const int patch[3]);

/* The release policy (pf_case_release) for the grid samplers: the source box that output
 * planes [z0, z1) of grid g read, handed back for every image channel (image) and/or the seg.
 * The samplers produce planes in chunks of PF_RELEASE_PLANES and release each chunk's box. */
void pf_grid_release(const pf_case *c, const pf_case_map *m, const grid *g, const int patch[3],
                     int z0, int z1, int image, int seg);

/* Lanes whose cells lie inside the case: 0 <= f < S - 1 per axis (one unsigned compare: a
 * negative f wraps above S - 1), 0 <= f < S on a collapsed axis. */
static inline pf_vi corners_inside(const pf_vi f[3], const case_geom *cg)
{
    pf_vi in = {-cg->usable, -cg->usable, -cg->usable, -cg->usable};
    for (int d = 0; d < 3; d++)
        in &= (pf_vi)((pf_vu)f[d] < (uint32_t)(cg->S[d] - 1 + cg->collapsed[d]));
    return in;
}

/* Voxels x0 .. x0 + PF_VL - 1 of a row: positions (row_points), which lanes have all corners
 * inside the case (the returned mask), and each lane's first corner (0 for lanes outside,
 * whose values the callers replace). */
static inline pf_vi group_points(const row_walk *rw, int x0, const case_geom *cg, pf_vi f[3],
                                 pf_vf w[3], int32_t base[PF_VL])
{
    pf_vi in;
    pf_vu bv;
    row_points(rw, x0, f, w);
    in = corners_inside(f, cg);
    /* unsigned: lanes far outside may wrap, harmlessly (masked off) */
    bv = (((pf_vu)f[0] * (uint32_t)cg->S[1] + (pf_vu)f[1]) * (uint32_t)cg->S[2] + (pf_vu)f[2]) &
         (pf_vu)in;
    memcpy(base, &bv, sizeof(pf_vu));
    return in;
}

/* ---- axis-aligned grids: the separable sampler ----
 *
 * Without rotation (nnU-Net's scaling-only samples, about 4 in 9 of those it resamples) M is
 * diagonal: a source position's Z depends only on the output z, its Y on y, its X on x, and
 * trilinear interpolation factorises into passes along X, then Y, then Z. Those are exactly
 * the three stages of the interior formula, on the same operands, so the result is the same
 * bits as the general sampler's, for about a third of the work: each source row is
 * interpolated along X once per plane instead of once per output voxel using it. */

int pf_grid_axis_aligned(const grid *g);

/* Floor, fraction and "all corners inside" per output index of each axis, computed by the
 * general sampler's own position code (row_walk, row_points), so they are its values. X is
 * padded to whole lanes (index 0, weight 0). */
typedef struct axis_tables {
    int32_t *f[3];
    float *w[3];
    unsigned char *in[3];
    int len[3];
    int32_t ylo, yhi; /* source rows the inside output rows need (yhi < ylo: none) */
} axis_tables;

void pf_axis_tables_free(axis_tables *t);
int pf_axis_tables_make(axis_tables *t, const grid *g, const case_geom *cg, const int patch[3]);

/* Two source planes held at a time: output plane z needs planes fz and fz + 1, and consecutive
 * z share them, so each is made once. make(arg, slot, zs) fills a slot with plane zs. */
typedef struct plane_pair {
    int32_t tag[2];
    void (*make)(void *arg, int slot, int32_t zs);
    void *arg;
} plane_pair;

void pf_plane_pair_get(plane_pair *pp, int32_t za, int *sa, int *sb);

#endif
