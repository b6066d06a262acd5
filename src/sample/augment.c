/* augment.c - nnU-Net's training augmentation, deterministic by path: parameter draws, the
 * rotated and scaled grid sampled straight from the case, mirroring and deep-supervision
 * targets (the intensity transforms are in intensity.c). See augment.h and
 * ../shared/reference/nnunet-behaviour.md section 6. */
#include "augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detmath.h"
#include "rng.h"
#include "vecmath.h"

#define DEG (PF_PI / 180.0)

int pf_aug_in_plane(const pf_options *o, const int patch[3])
{
    int m = patch[1] > patch[2] ? patch[1] : patch[2];
    return o->patch_2d || (double)m / (double)patch[0] > 3.0;
}

/* nnU-Net's rotation range in degrees for this configuration (or the user's). */
static void rotation_range(const pf_options *o, const int patch[3], double *lo, double *hi)
{
    if (o->aug_rot_set) {
        *lo = o->aug_rot_lo;
        *hi = o->aug_rot_hi;
    } else if (o->patch_2d) {
        int a = patch[1] > patch[2] ? patch[1] : patch[2], b = patch[1] < patch[2] ? patch[1] : patch[2];
        *hi = (double)a / (double)b > 1.5 ? 15.0 : 180.0;
        *lo = -*hi;
    } else if (pf_aug_in_plane(o, patch)) {
        *lo = -180.0;
        *hi = 180.0;
    } else {
        *lo = -30.0;
        *hi = 30.0;
    }
}

void pf_aug_initial_patch(const pf_options *o, const int patch[3], int out[3])
{
    double lo, hi, a, c, s, f[3];
    rotation_range(o, patch, &lo, &hi);
    a = fmax(fabs(lo), fabs(hi));
    if (a > 90.0)
        a = 90.0;
    c = pf_cos(a * DEG);
    s = pf_sin(a * DEG);
    if (pf_aug_in_plane(o, patch)) {
        /* rotate_coords_2d of (Y, X): [y c + x s, -y s + x c] */
        double y = patch[1], x = patch[2];
        f[0] = patch[0];
        f[1] = fmax(fabs(y * c + x * s), y);
        f[2] = fmax(fabs(-y * s + x * c), x);
        out[0] = patch[0];
        out[1] = (int)(f[1] / 0.85);
        out[2] = (int)(f[2] / 0.85);
        return;
    }
    for (int d = 0; d < 3; d++)
        f[d] = patch[d];
    {
        /* rotate_coords_3d with one axis at a time (row vector times rotation matrix) */
        const double v[3] = {patch[0], patch[1], patch[2]};
        double r[3][3] = {{v[0], v[1] * c + v[2] * s, -v[1] * s + v[2] * c},
                          {v[0] * c - v[2] * s, v[1], v[0] * s + v[2] * c},
                          {v[0] * c + v[1] * s, -v[0] * s + v[1] * c, v[2]}};
        for (int k = 0; k < 3; k++)
            for (int d = 0; d < 3; d++)
                f[d] = fmax(f[d], fabs(r[k][d]));
    }
    for (int d = 0; d < 3; d++)
        out[d] = (int)(f[d] / 0.85);
}

/* A uniform double in [0, 1) from word `index` of the stream: fixed indices keep every
 * parameter where it is when a probability changes. */
static double u01(const pf_stream *s, uint64_t index)
{
    return (double)(pf_stream_word(s, index) >> 11) * 0x1p-53;
}

static double uniform(const pf_stream *s, uint64_t index, double lo, double hi)
{
    return lo + (hi - lo) * u01(s, index);
}

/* Word indices: each transform owns a block, each channel a slot in it. */
enum { W_ROT = 0, W_SCALE = 8, W_NOISE = 16, W_MIRROR = 24, W_BLUR = 32, W_BRIGHT = 32 + 8 * 64,
       W_CONTRAST = W_BRIGHT + 2 * 64 + 2, W_LOWRES = W_CONTRAST + 2 * 64 + 2,
       W_GAMMA_INV = W_LOWRES + 2 * 64 + 2, W_GAMMA = W_GAMMA_INV + 2 * 64 + 2 };

void pf_aug_draw(const pf_options *o, int channels, const int patch[3], uint64_t seed,
                 uint32_t epoch, uint32_t step, uint32_t position, pf_aug_params *p)
{
    pf_stream s = pf_stream_make(seed, 0, epoch, step, position, PF_PURPOSE_AUG);
    const double *P = o->aug_p;
    double lo, hi;
    memset(p, 0, sizeof *p);
    p->dims = pf_aug_in_plane(o, patch) ? 2 : 3;
    rotation_range(o, patch, &lo, &hi);
    if (u01(&s, W_ROT) < P[PF_AUG_P_ROTATION]) {
        p->rotate = 1;
        if (p->dims == 2) {
            p->angle[0] = uniform(&s, W_ROT + 1, lo, hi) * DEG;
        } else {
            for (int d = 0; d < 3; d++)
                p->angle[d] = uniform(&s, W_ROT + 1 + (uint64_t)d, lo, hi) * DEG;
        }
    }
    if (u01(&s, W_SCALE) < P[PF_AUG_P_SCALING]) {
        p->scale_on = 1;
        p->scale = uniform(&s, W_SCALE + 1, o->aug_scale_lo, o->aug_scale_hi);
    }
    if (u01(&s, W_NOISE) < P[PF_AUG_P_NOISE]) {
        p->noise = 1;
        p->noise_sigma = uniform(&s, W_NOISE + 1, 0.0, 0.1);
        p->noise_key = pf_stream_word(&s, W_NOISE + 2);
    }
    if (u01(&s, W_BLUR) < P[PF_AUG_P_BLUR])
        for (int c = 0; c < channels; c++)
            if (u01(&s, W_BLUR + 1 + 8 * (uint64_t)c) < P[PF_AUG_P_BLUR_CHANNEL]) {
                p->blur[c] = 1;
                for (int d = 0; d < 3; d++)
                    p->blur_sigma[c][d] = uniform(&s, W_BLUR + 2 + 8 * (uint64_t)c + (uint64_t)d,
                                                  0.5, 1.0);
                if (p->dims == 2)
                    p->blur_sigma[c][0] = 0.0; /* no blur across slices */
            }
    if (u01(&s, W_BRIGHT) < P[PF_AUG_P_BRIGHTNESS]) {
        p->bright = 1;
        for (int c = 0; c < channels; c++)
            p->bright_f[c] = uniform(&s, W_BRIGHT + 1 + (uint64_t)c, 0.75, 1.25);
    }
    if (u01(&s, W_CONTRAST) < P[PF_AUG_P_CONTRAST]) {
        p->contrast = 1;
        for (int c = 0; c < channels; c++)
            p->contrast_f[c] = uniform(&s, W_CONTRAST + 1 + (uint64_t)c, 0.75, 1.25);
    }
    if (u01(&s, W_LOWRES) < P[PF_AUG_P_LOWRES])
        for (int c = 0; c < channels; c++)
            if (u01(&s, W_LOWRES + 1 + 2 * (uint64_t)c) < P[PF_AUG_P_LOWRES_CHANNEL]) {
                p->lowres[c] = 1;
                p->lowres_zoom[c] = uniform(&s, W_LOWRES + 2 + 2 * (uint64_t)c, 0.5, 1.0);
            }
    if (u01(&s, W_GAMMA_INV) < P[PF_AUG_P_GAMMA_INVERT]) {
        p->gamma_inv = 1;
        for (int c = 0; c < channels; c++)
            p->gamma_inv_g[c] = uniform(&s, W_GAMMA_INV + 1 + (uint64_t)c, 0.7, 1.5);
    }
    if (u01(&s, W_GAMMA) < P[PF_AUG_P_GAMMA]) {
        p->gamma = 1;
        for (int c = 0; c < channels; c++)
            p->gamma_g[c] = uniform(&s, W_GAMMA + 1 + (uint64_t)c, 0.7, 1.5);
    }
    for (int d = p->dims == 2 ? 1 : 0; d < 3; d++)
        p->mirror[d] = u01(&s, W_MIRROR + (uint64_t)d) < P[PF_AUG_P_MIRROR];
}

int pf_aug_spatial(const pf_aug_params *p)
{
    return p->rotate || p->scale_on;
}

/* M = R0(a0) R1(a1) R2(a2) * scale, acting on (z, y, x) offsets from the patch centre.
 * Without rotation the angles are 0 and pf_cos/pf_sin give exactly 1 and 0. */
static void grid_matrix(const pf_aug_params *p, double M[3][3])
{
    double c0 = pf_cos(p->angle[0]), s0 = pf_sin(p->angle[0]);
    double c1 = pf_cos(p->angle[1]), s1 = pf_sin(p->angle[1]);
    double c2 = pf_cos(p->angle[2]), s2 = pf_sin(p->angle[2]);
    double R0[3][3] = {{1, 0, 0}, {0, c0, -s0}, {0, s0, c0}};
    double R1[3][3] = {{c1, 0, s1}, {0, 1, 0}, {-s1, 0, c1}};
    double R2[3][3] = {{c2, -s2, 0}, {s2, c2, 0}, {0, 0, 1}};
    double T[3][3], k = p->scale_on ? p->scale : 1.0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            T[i][j] = 0.0;
            for (int m = 0; m < 3; m++)
                T[i][j] += R0[i][m] * R1[m][j];
        }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            M[i][j] = 0.0;
            for (int m = 0; m < 3; m++)
                M[i][j] += T[i][m] * R2[m][j];
            M[i][j] *= k;
        }
}

/* The source position of output voxel (z, y, x): centre + M (o - (P - 1) / 2). */
typedef struct grid {
    double M[3][3], c[3], h[3];
} grid;

static void grid_init(grid *g, const pf_aug_params *p, const int64_t start[3], const int patch[3])
{
    grid_matrix(p, g->M);
    for (int d = 0; d < 3; d++) {
        g->h[d] = (patch[d] - 1) / 2.0;
        g->c[d] = (double)start[d] + g->h[d];
    }
}

static void grid_at(const grid *g, int z, int y, int x, double out[3])
{
    double o[3] = {z - g->h[0], y - g->h[1], x - g->h[2]};
    for (int i = 0; i < 3; i++)
        out[i] = g->c[i] + g->M[i][0] * o[0] + g->M[i][1] * o[1] + g->M[i][2] * o[2];
}

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

static void row_walk_init(row_walk *rw, const grid *g, int z, int y)
{
    double q0[3];
    grid_at(g, z, y, 0, q0);
    for (int d = 0; d < 3; d++) {
        rw->q0[d] = (float)q0[d];
        rw->dq[d] = (float)g->M[d][2];
    }
    for (int k = 0; k < PF_VL; k++)
        rw->xs[k] = (float)k;
}

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

/* The interior formula, per lane: the eight clamped raw corners interpolated axis by axis
 * (X, then Y, then Z), then normalised. Used where all corners are inside the case (and, with
 * the nnU-Net mask rule, inside the mask); base[k] is lane k's first corner. */
static inline pf_vf interp_interior(const float *img, const int32_t base[PF_VL],
                                    const size_t corner[8], const pf_norm *nm, const pf_vf w[3])
{
    /* lanes built from registers, not element by element in memory (which would stall on
     * store forwarding); the eight corners written out so that they stay in registers */
    const float *b0 = img + base[0], *b1 = img + base[1], *b2 = img + base[2], *b3 = img + base[3];
#define CORNER(o) ((pf_vf){b0[o], b1[o], b2[o], b3[o]})
    pf_vf v0 = CORNER(0), v1 = CORNER(corner[1]), v2 = CORNER(corner[2]), v3 = CORNER(corner[3]);
    pf_vf v4 = CORNER(corner[4]), v5 = CORNER(corner[5]), v6 = CORNER(corner[6]),
          v7 = CORNER(corner[7]);
#undef CORNER
    pf_vf c00, c01, c10, c11, r;
    if (!isinf(nm->lo) || !isinf(nm->hi)) { /* CT: clip to the percentiles first */
        const pf_vf lo = pf_vf_splat(nm->lo), hi = pf_vf_splat(nm->hi);
        v0 = pf_vf_min(pf_vf_max(v0, lo), hi), v1 = pf_vf_min(pf_vf_max(v1, lo), hi);
        v2 = pf_vf_min(pf_vf_max(v2, lo), hi), v3 = pf_vf_min(pf_vf_max(v3, lo), hi);
        v4 = pf_vf_min(pf_vf_max(v4, lo), hi), v5 = pf_vf_min(pf_vf_max(v5, lo), hi);
        v6 = pf_vf_min(pf_vf_max(v6, lo), hi), v7 = pf_vf_min(pf_vf_max(v7, lo), hi);
    }
    c00 = lerp_lanes(v0, v1, w[2]), c01 = lerp_lanes(v2, v3, w[2]);
    c10 = lerp_lanes(v4, v5, w[2]), c11 = lerp_lanes(v6, v7, w[2]);
    r = lerp_lanes(lerp_lanes(c00, c01, w[1]), lerp_lanes(c10, c11, w[1]), w[0]);
    return (r - nm->shift) / nm->scale;
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

/* The edge formula, one voxel near or beyond the case's border (or the mask's): each corner
 * inside the case contributes its normalised value with its trilinear weight, corners outside
 * contribute 0 (the padding value after normalisation), and with the mask rule corners with
 * seg < 0 keep their raw value. In double. */
__attribute__((noinline, cold)) static float interp_edge(const pf_case *c, const float *img, const pf_norm *nm, const int32_t f[3],
                         const float w[3])
{
    const int64_t *S = c->hdr.shape;
    double acc = 0.0, wsum = 0.0, keep = 0.0;
    if (outside_case(f, S))
        return 0.0f; /* what the sum below gives with no corner inside */
    for (int k = 0; k < 8; k++) {
        int64_t iz = f[0] + (k >> 2), iy = f[1] + ((k >> 1) & 1), ix = f[2] + (k & 1);
        double wk = ((k >> 2) ? w[0] : 1.0 - w[0]) * (((k >> 1) & 1) ? w[1] : 1.0 - w[1]) *
                    ((k & 1) ? w[2] : 1.0 - w[2]);
        size_t i;
        if (iz < 0 || iy < 0 || ix < 0 || iz >= S[0] || iy >= S[1] || ix >= S[2])
            continue;
        i = (size_t)((iz * S[1] + iy) * S[2] + ix);
        if (nm->masked && c->seg[i] < 0) {
            keep += wk * (double)img[i];
        } else {
            acc += wk * (double)clampf(img[i], nm->lo, nm->hi);
            wsum += wk;
        }
    }
    return (float)((acc - (double)nm->shift * wsum) / (double)nm->scale + keep);
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

static void case_geom_init(case_geom *cg, const pf_case *c, const grid *g, const int patch[3])
{
    const int64_t *S = c->hdr.shape;
    const size_t stride[3] = {(size_t)(S[1] * S[2]), (size_t)S[2], 1};
    size_t off[3]; /* of a cell's second corner along each axis */
    cg->usable = S[0] * S[1] * S[2] < INT32_MAX;
    for (int d = 0; d < 3; d++) {
        cg->S[d] = (int32_t)S[d];
        cg->collapsed[d] = patch[d] == 1 && g->c[d] == floor(g->c[d]);
        for (int e = 0; e < 3; e++)
            if (e != d && g->M[d][e] != 0.0)
                cg->collapsed[d] = 0;
        off[d] = cg->collapsed[d] ? 0 : stride[d];
    }
    for (int j = 0; j < 8; j++)
        cg->corner[j] = ((j >> 2) ? off[0] : 0) + (((j >> 1) & 1) ? off[1] : 0) + ((j & 1) ? off[2] : 0);
}

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

static int axis_aligned(const grid *g)
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            if (i != j && g->M[i][j] != 0.0)
                return 0;
    return 1;
}

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

static void axis_tables_free(axis_tables *t)
{
    for (int d = 0; d < 3; d++) {
        free(t->f[d]);
        free(t->w[d]);
        free(t->in[d]);
    }
}

static int axis_tables_make(axis_tables *t, const grid *g, const case_geom *cg, const int patch[3])
{
    memset(t, 0, sizeof *t);
    for (int d = 0; d < 3; d++) {
        size_t n = (size_t)patch[d] + PF_VL;
        t->len[d] = patch[d];
        t->f[d] = calloc(n, sizeof *t->f[d]);
        t->w[d] = calloc(n, sizeof *t->w[d]);
        t->in[d] = calloc(n, 1);
        if (!t->f[d] || !t->w[d] || !t->in[d]) {
            axis_tables_free(t);
            return -1;
        }
    }
    for (int d = 0; d < 3; d++)
        for (int o = 0; o < patch[d]; o += d == 2 ? PF_VL : 1) {
            row_walk rw;
            pf_vi f[3];
            pf_vf w[3];
            row_walk_init(&rw, g, d == 0 ? o : 0, d == 1 ? o : 0);
            row_points(&rw, d == 2 ? o : 0, f, w);
            for (int k = 0; k < (d == 2 ? PF_VL : 1) && o + k < patch[d]; k++) {
                t->f[d][o + k] = f[d][k];
                t->w[d][o + k] = w[d][k];
                t->in[d][o + k] = f[d][k] >= 0 && f[d][k] < cg->S[d] - 1;
            }
        }
    t->ylo = INT32_MAX;
    t->yhi = -1;
    for (int y = 0; y < patch[1]; y++)
        if (t->in[1][y]) {
            t->ylo = t->f[1][y] < t->ylo ? t->f[1][y] : t->ylo;
            t->yhi = t->f[1][y] + 1 > t->yhi ? t->f[1][y] + 1 : t->yhi;
        }
    return 0;
}

/* Two source planes held at a time: output plane z needs planes fz and fz + 1, and consecutive
 * z share them, so each is made once. make(arg, slot, zs) fills a slot with plane zs. */
typedef struct plane_pair {
    int32_t tag[2];
    void (*make)(void *arg, int slot, int32_t zs);
    void *arg;
} plane_pair;

static void plane_pair_get(plane_pair *pp, int32_t za, int *sa, int *sb)
{
    const int32_t zb = za + 1;
    *sa = pp->tag[0] == za ? 0 : pp->tag[1] == za ? 1 : -1;
    if (*sa < 0) {
        *sa = pp->tag[0] == zb ? 1 : 0; /* keep zb if it is there */
        pp->make(pp->arg, *sa, za);
        pp->tag[*sa] = za;
    }
    *sb = *sa ^ 1;
    if (pp->tag[*sb] != zb) {
        pp->make(pp->arg, *sb, zb);
        pp->tag[*sb] = zb;
    }
}

/* One source plane zs interpolated along X (rows ys in [ylo, yhi]) and then along Y onto the
 * output rows: dst (P1 x P2); rows whose Y is outside are left alone. */
static void separable_plane(const float *img, const pf_norm *nm, const axis_tables *t,
                            const int64_t S[3], int32_t zs, float *xrows, float *dst)
{
    const int P1 = t->len[1], P2 = t->len[2];
    const int32_t ylo = t->ylo, yhi = t->yhi;
    const int clip = !isinf(nm->lo) || !isinf(nm->hi);
    for (int32_t ys = ylo; ys <= yhi; ys++) {
        const float *row = img + ((size_t)zs * (size_t)S[1] + (size_t)ys) * (size_t)S[2];
        float *xr = xrows + (size_t)(ys - ylo) * (size_t)P2;
        for (int x0 = 0; x0 < P2; x0 += PF_VL) {
            const int32_t *fx = t->f[2] + x0;
            /* lanes outside read element 0 twice (the row may be one element long); their
             * values are replaced by the edge formula */
            const int32_t n0 = t->in[2][x0], n1 = t->in[2][x0 + 1], n2 = t->in[2][x0 + 2],
                          n3 = t->in[2][x0 + 3];
            const int32_t i0 = n0 ? fx[0] : 0, i1 = n1 ? fx[1] : 0, i2 = n2 ? fx[2] : 0,
                          i3 = n3 ? fx[3] : 0;
            pf_vf a = {row[i0], row[i1], row[i2], row[i3]};
            pf_vf b = {row[i0 + n0], row[i1 + n1], row[i2 + n2], row[i3 + n3]};
            pf_vf w;
            memcpy(&w, t->w[2] + x0, sizeof w);
            if (clip) {
                a = pf_vf_min(pf_vf_max(a, pf_vf_splat(nm->lo)), pf_vf_splat(nm->hi));
                b = pf_vf_min(pf_vf_max(b, pf_vf_splat(nm->lo)), pf_vf_splat(nm->hi));
            }
            a = lerp_lanes(a, b, w);
            if (x0 + PF_VL <= P2)
                pf_vf_store(xr + x0, a);
            else
                pf_vf_store_part(xr + x0, a, (size_t)(P2 - x0));
        }
    }
    for (int y = 0; y < P1; y++) {
        const float *r0, *r1;
        float *o = dst + (size_t)y * (size_t)P2;
        const pf_vf wy = pf_vf_splat(t->w[1][y]);
        int x;
        if (!t->in[1][y])
            continue;
        r0 = xrows + (size_t)(t->f[1][y] - ylo) * (size_t)P2;
        r1 = r0 + P2;
        for (x = 0; x + PF_VL <= P2; x += PF_VL)
            pf_vf_store(o + x, lerp_lanes(pf_vf_load(r0 + x), pf_vf_load(r1 + x), wy));
        if (x < P2)
            pf_vf_store_part(o + x, lerp_lanes(pf_vf_load_part(r0 + x, (size_t)(P2 - x), 0.0f),
                                               pf_vf_load_part(r1 + x, (size_t)(P2 - x), 0.0f), wy),
                             (size_t)(P2 - x));
    }
}

/* What separable_plane needs to fill a plane_pair slot. */
typedef struct image_planes {
    const float *img;
    const pf_norm *nm;
    const axis_tables *t;
    const int64_t *S;
    float *xrows, *yp[2];
} image_planes;

static void make_image_plane(void *arg, int slot, int32_t zs)
{
    image_planes *ip = arg;
    separable_plane(ip->img, ip->nm, ip->t, ip->S, zs, ip->xrows, ip->yp[slot]);
}

/* Returns -1 (nothing written) when it does not apply or memory is short: the caller then
 * uses the general sampler. */
static int sample_image_separable(const pf_case *c, const pf_norm *norms, const grid *g,
                                  const case_geom *cg, const int patch[3], int z0, int z1,
                                  float *out)
{
    const int64_t *S = c->hdr.shape;
    const size_t nvox = (size_t)(S[0] * S[1] * S[2]);
    const size_t plane = (size_t)patch[1] * (size_t)patch[2], pv = (size_t)patch[0] * plane;
    const int P2 = patch[2];
    const int C = (int)c->hdr.n_channels;
    image_planes ip = {.S = S};
    axis_tables t;
    int rc = -1;
    if (!cg->usable || cg->collapsed[0] || cg->collapsed[1] || cg->collapsed[2])
        return -1; /* the general sampler handles these */
    for (int ch = 0; ch < C; ch++)
        if (norms[ch].masked)
            return -1; /* the mask rule needs every corner's seg: general sampler */
    if (!axis_aligned(g) || axis_tables_make(&t, g, cg, patch) != 0)
        return -1;
    ip.t = &t;
    ip.xrows = malloc((size_t)(t.yhi >= t.ylo ? t.yhi - t.ylo + 1 : 1) * (size_t)P2 * sizeof *ip.xrows);
    ip.yp[0] = malloc(plane * sizeof *ip.yp[0]);
    ip.yp[1] = malloc(plane * sizeof *ip.yp[1]);
    if (!ip.xrows || !ip.yp[0] || !ip.yp[1])
        goto out;
    for (int ch = 0; ch < C; ch++) {
        const pf_norm *nm = &norms[ch];
        const float *img = c->image + (size_t)ch * nvox;
        plane_pair pp = {{-1, -1}, make_image_plane, &ip};
        ip.img = img;
        ip.nm = nm;
        for (int z = z0; z < z1; z++) {
            float *oz = out + (size_t)ch * pv + (size_t)z * plane;
            const float *pa = NULL, *pb = NULL;
            if (t.in[0][z] && t.yhi >= t.ylo) {
                int sa, sb;
                plane_pair_get(&pp, t.f[0][z], &sa, &sb);
                pa = ip.yp[sa];
                pb = ip.yp[sb];
            }
            for (int y = 0; y < patch[1]; y++) {
                float *o = oz + (size_t)y * (size_t)P2;
                const int row_in = pa && t.in[1][y];
                if (row_in) {
                    const float *ra = pa + (size_t)y * (size_t)P2, *rb = pb + (size_t)y * (size_t)P2;
                    const pf_vf wz = pf_vf_splat(t.w[0][z]);
                    int x;
                    for (x = 0; x + PF_VL <= P2; x += PF_VL)
                        pf_vf_store(o + x, (lerp_lanes(pf_vf_load(ra + x), pf_vf_load(rb + x), wz) -
                                            nm->shift) / nm->scale);
                    if (x < P2) {
                        size_t m = (size_t)(P2 - x);
                        pf_vf r = lerp_lanes(pf_vf_load_part(ra + x, m, 0.0f),
                                             pf_vf_load_part(rb + x, m, 0.0f), wz);
                        pf_vf_store_part(o + x, (r - nm->shift) / nm->scale, m);
                    }
                }
                for (int x = 0; x < P2; x++)
                    if (!row_in || !t.in[2][x]) {
                        const int32_t fk[3] = {t.f[0][z], t.f[1][y], t.f[2][x]};
                        const float wk[3] = {t.w[0][z], t.w[1][y], t.w[2][x]};
                        o[x] = interp_edge(c, img, nm, fk, wk);
                    }
            }
        }
    }
    rc = 0;
out:
    free(ip.xrows);
    free(ip.yp[0]);
    free(ip.yp[1]);
    axis_tables_free(&t);
    return rc;
}

static void sample_image_general(const pf_case *c, const pf_norm *norms, const int64_t start[3],
                                 const int patch[3], const pf_aug_params *p, int z0, int z1,
                                 float *out);

void pf_aug_sample_image(const pf_case *c, const pf_norm *norms, const int64_t start[3],
                         const int patch[3], const pf_aug_params *p, float *out)
{
    pf_aug_sample_planes(c, norms, start, patch, p, 0, patch[0], out);
}

void pf_aug_sample_planes(const pf_case *c, const pf_norm *norms, const int64_t start[3],
                          const int patch[3], const pf_aug_params *p, int z0, int z1, float *out)
{
    case_geom cg;
    grid g;
    grid_init(&g, p, start, patch);
    case_geom_init(&cg, c, &g, patch);
    if (sample_image_separable(c, norms, &g, &cg, patch, z0, z1, out) != 0)
        sample_image_general(c, norms, start, patch, p, z0, z1, out);
}

void pf_aug_sample_image_general(const pf_case *c, const pf_norm *norms, const int64_t start[3],
                                 const int patch[3], const pf_aug_params *p, float *out)
{
    sample_image_general(c, norms, start, patch, p, 0, patch[0], out);
}

/* The nnU-Net mask rule per lane: masked[j] marks corner j (in interp_interior's order)
 * whose seg is < 0; returns the lanes with any such corner. */
static inline pf_vi seg_corners_negative(const int16_t *seg, const int32_t base[PF_VL],
                                         const case_geom *cg, pf_vi masked[8])
{
    const int16_t *b0 = seg + base[0], *b1 = seg + base[1], *b2 = seg + base[2], *b3 = seg + base[3];
    const size_t *off = cg->corner;
    pf_vi any = {0, 0, 0, 0};
    for (int j = 0; j < 8; j++) {
        masked[j] = (pf_vi){b0[off[j]], b1[off[j]], b2[off[j]], b3[off[j]]} < 0;
        any |= masked[j];
    }
    return any;
}

/* The mask rule's formula, for cells inside the case with a corner outside the mask: each
 * corner normalised on its own (clamped, shifted, scaled) unless its seg is < 0, where the raw
 * value stays, then interpolated like interp_interior. */
static inline pf_vf interp_mask_rule(const float *img, const int32_t base[PF_VL],
                                     const case_geom *cg, const pf_norm *nm, const pf_vf w[3],
                                     const pf_vi masked[8])
{
    const float *b0 = img + base[0], *b1 = img + base[1], *b2 = img + base[2], *b3 = img + base[3];
    const size_t *off = cg->corner;
    const pf_vf lo = pf_vf_splat(nm->lo), hi = pf_vf_splat(nm->hi);
    pf_vf v[8];
    for (int j = 0; j < 8; j++) {
        pf_vf r = {b0[off[j]], b1[off[j]], b2[off[j]], b3[off[j]]};
        v[j] = pf_vf_select(masked[j], r, (pf_vf_min(pf_vf_max(r, lo), hi) - nm->shift) / nm->scale);
    }
    return lerp_lanes(lerp_lanes(lerp_lanes(v[0], v[1], w[2]), lerp_lanes(v[2], v[3], w[2]), w[1]),
                      lerp_lanes(lerp_lanes(v[4], v[5], w[2]), lerp_lanes(v[6], v[7], w[2]), w[1]),
                      w[0]);
}

/* Output voxels x0 .. x0 + m - 1 (m <= PF_VL) of one row, every channel (both channels'
 * corners fetched side by side: more reads in flight); o: the first of them in channel 0,
 * channels pv apart. Inline with m constant for whole groups. */
static inline void image_group(const pf_case *c, const pf_norm *norms, const case_geom *cg,
                               const row_walk *rw, int x0, int m, float *o, size_t pv)
{
    const int64_t *S = c->hdr.shape;
    const size_t nvox = (size_t)(S[0] * S[1] * S[2]);
    const int C = (int)c->hdr.n_channels;
    int32_t base[PF_VL], all_in, any_in;
    pf_vf w[3];
    pf_vi f[3], in = group_points(rw, x0, cg, f, w, base);
    pf_vi masked[8], mixed = {0, 0, 0, 0}; /* the mask rule: corners with seg < 0, and lanes
                                            * inside the case with such a corner */
    int mask_read = 0;
    all_in = in[0] & in[1] & in[2] & in[3];
    any_in = in[0] | in[1] | in[2] | in[3];
    for (int ch = 0; ch < C; ch++, o += pv) {
        const pf_norm *nm = &norms[ch];
        const float *img = c->image + (size_t)ch * nvox;
        /* lanes outside gather from voxel 0's cell, which lies in the case only when some
         * lane is inside (then every axis not collapsed has at least 2 voxels); a group
         * wholly outside goes to the edge formula lane by lane */
        if (any_in) {
            pf_vf v = interp_interior(img, base, cg->corner, nm, w);
            if (nm->masked) {
                if (!mask_read) {
                    mixed = seg_corners_negative(c->seg, base, cg, masked) & in;
                    mask_read = 1;
                }
                if (mixed[0] | mixed[1] | mixed[2] | mixed[3])
                    v = pf_vf_select(mixed, interp_mask_rule(img, base, cg, nm, w, masked), v);
            }
            if (m == PF_VL)
                pf_vf_store(o, v);
            else
                pf_vf_store_part(o, v, (size_t)m);
        }
        if (all_in)
            continue; /* every lane took the interior formula (or the mask rule's) */
        for (int k = 0; k < m; k++)
            if (!in[k]) {
                const int32_t fk[3] = {f[0][k], f[1][k], f[2][k]};
                const float wk[3] = {w[0][k], w[1][k], w[2][k]};
                o[k] = interp_edge(c, img, nm, fk, wk);
            }
    }
}

static void sample_image_general(const pf_case *c, const pf_norm *norms, const int64_t start[3],
                                 const int patch[3], const pf_aug_params *p, int z0, int z1,
                                 float *out)
{
    const size_t pv = (size_t)patch[0] * (size_t)patch[1] * (size_t)patch[2];
    case_geom cg;
    grid g;
    grid_init(&g, p, start, patch);
    case_geom_init(&cg, c, &g, patch);
    for (int z = z0; z < z1; z++)
        for (int y = 0; y < patch[1]; y++) {
            const size_t row = ((size_t)z * (size_t)patch[1] + (size_t)y) * (size_t)patch[2];
            row_walk rw;
            int x0;
            row_walk_init(&rw, &g, z, y);
            for (x0 = 0; x0 + PF_VL <= patch[2]; x0 += PF_VL)
                image_group(c, norms, &cg, &rw, x0, PF_VL, out + row + (size_t)x0, pv);
            if (x0 < patch[2])
                image_group(c, norms, &cg, &rw, x0, patch[2] - x0, out + row + (size_t)x0, pv);
        }
}

/* Segmentation: nnU-Net's per-label linear interpolation + argmax (each label's one-hot value
 * is the summed trilinear weight of the corners carrying it; outside the case counts as -1;
 * ties go to the label met first in corner order), or nearest. */
static int16_t seg_linear(const pf_case *c, const int32_t f[3], const float w[3])
{
    const int64_t *S = c->hdr.shape;
    int16_t lab[8];
    float wsum[8];
    int n = 0, best = 0;
    if (outside_case(f, S))
        return -1; /* every corner outside */
    for (int k = 0; k < 8; k++) {
        int64_t iz = f[0] + (k >> 2), iy = f[1] + ((k >> 1) & 1), ix = f[2] + (k & 1);
        int16_t l = iz < 0 || iy < 0 || ix < 0 || iz >= S[0] || iy >= S[1] || ix >= S[2]
                        ? -1 : c->seg[(size_t)((iz * S[1] + iy) * S[2] + ix)];
        float wk = ((k >> 2) ? w[0] : 1.0f - w[0]) * (((k >> 1) & 1) ? w[1] : 1.0f - w[1]) *
                   ((k & 1) ? w[2] : 1.0f - w[2]);
        int j;
        for (j = 0; j < n && lab[j] != l; j++)
            ;
        if (j == n) {
            lab[n] = l;
            wsum[n++] = 0.0f;
        }
        wsum[j] += wk;
    }
    for (int j = 1; j < n; j++)
        if (wsum[j] > wsum[best])
            best = j;
    return lab[best];
}

/* The nearer corner on each axis (ties up, as floor(q + 0.5)); -1 outside the case. */
static int16_t seg_nearest_at(const pf_case *c, const int32_t f[3], const float w[3])
{
    const int64_t *S = c->hdr.shape;
    int64_t iz = f[0] + (w[0] >= 0.5f), iy = f[1] + (w[1] >= 0.5f), ix = f[2] + (w[2] >= 0.5f);
    return iz < 0 || iy < 0 || ix < 0 || iz >= S[0] || iy >= S[1] || ix >= S[2]
               ? -1 : c->seg[(size_t)((iz * S[1] + iy) * S[2] + ix)];
}

void pf_aug_sample_seg(const pf_case *c, const int64_t start[3], const int patch[3],
                       const pf_aug_params *p, int seg_nearest, int16_t *out)
{
    pf_aug_sample_seg_planes(c, start, patch, p, seg_nearest, 0, patch[0], out);
}

/* The seg of an axis-aligned grid, planes [z0, z1). A voxel whose eight corners carry one
 * label takes it; the test factorises like the interpolation: along X a row's corner pair is
 * "one label" or MIXED, then pairs of those along Y, then along Z. Other voxels (label borders,
 * the case's border) go through seg_linear with the general sampler's positions, so the bytes
 * are the general sampler's. Nearest picks the nearer corner per axis. */
#define MIXED INT32_MIN

/* One source plane zs: per output (y, x), the single label of the 2 x 2 corners in Y and X,
 * or MIXED; rows [ylo, yhi] of X pairs go through xeq first. */
static void seg_plane_labels(const int16_t *seg, const axis_tables *t, const int64_t S[3],
                             int32_t zs, int32_t *xeq, int32_t *dst)
{
    const int P1 = t->len[1], P2 = t->len[2];
    const int32_t ylo = t->ylo, yhi = t->yhi;
    for (int32_t ys = ylo; ys <= yhi; ys++) {
        const int16_t *row = seg + ((size_t)zs * (size_t)S[1] + (size_t)ys) * (size_t)S[2];
        int32_t *xr = xeq + (size_t)(ys - ylo) * (size_t)P2;
        for (int x = 0; x < P2; x++) {
            const int32_t f = t->f[2][x];
            xr[x] = t->in[2][x] && row[f] == row[f + 1] ? row[f] : MIXED;
        }
    }
    for (int y = 0; y < P1; y++) {
        const int32_t *r0, *r1;
        int32_t *o = dst + (size_t)y * (size_t)P2;
        int x;
        if (!t->in[1][y])
            continue;
        r0 = xeq + (size_t)(t->f[1][y] - ylo) * (size_t)P2;
        r1 = r0 + P2;
        for (x = 0; x + PF_VL <= P2; x += PF_VL) {
            pf_vi a, b;
            memcpy(&a, r0 + x, sizeof a);
            memcpy(&b, r1 + x, sizeof b);
            a = (a & (a == b)) | ((pf_vi){MIXED, MIXED, MIXED, MIXED} & ~(a == b));
            memcpy(o + x, &a, sizeof a);
        }
        for (; x < P2; x++)
            o[x] = r0[x] == r1[x] ? r0[x] : MIXED;
    }
}

typedef struct label_planes {
    const int16_t *seg;
    const axis_tables *t;
    const int64_t *S;
    int32_t *xeq, *yp[2];
} label_planes;

static void make_label_plane(void *arg, int slot, int32_t zs)
{
    label_planes *lp = arg;
    seg_plane_labels(lp->seg, lp->t, lp->S, zs, lp->xeq, lp->yp[slot]);
}

static int sample_seg_separable(const pf_case *c, const grid *g, const case_geom *cg,
                                const int patch[3], int seg_nearest, int z0, int z1,
                                int16_t *out)
{
    const size_t plane = (size_t)patch[1] * (size_t)patch[2];
    const int P2 = patch[2];
    label_planes lp = {.seg = c->seg, .S = c->hdr.shape};
    plane_pair pp = {{-1, -1}, make_label_plane, &lp};
    axis_tables t;
    int rc = -1;
    if (!cg->usable || cg->collapsed[0] || cg->collapsed[1] || cg->collapsed[2])
        return -1; /* the general sampler handles these */
    if (!axis_aligned(g) || axis_tables_make(&t, g, cg, patch) != 0)
        return -1;
    if (seg_nearest) {
        for (int z = z0; z < z1; z++)
            for (int y = 0; y < patch[1]; y++)
                for (int x = 0; x < P2; x++) {
                    const int32_t fk[3] = {t.f[0][z], t.f[1][y], t.f[2][x]};
                    const float wk[3] = {t.w[0][z], t.w[1][y], t.w[2][x]};
                    out[(size_t)z * plane + (size_t)y * (size_t)P2 + (size_t)x] =
                        seg_nearest_at(c, fk, wk);
                }
        axis_tables_free(&t);
        return 0;
    }
    lp.t = &t;
    lp.xeq = malloc((size_t)(t.yhi >= t.ylo ? t.yhi - t.ylo + 1 : 1) * (size_t)P2 * sizeof *lp.xeq);
    lp.yp[0] = malloc(plane * sizeof *lp.yp[0]);
    lp.yp[1] = malloc(plane * sizeof *lp.yp[1]);
    if (!lp.xeq || !lp.yp[0] || !lp.yp[1])
        goto out;
    for (int z = z0; z < z1; z++) {
        const int32_t *pa = NULL, *pb = NULL;
        if (t.in[0][z] && t.yhi >= t.ylo) {
            int sa, sb;
            plane_pair_get(&pp, t.f[0][z], &sa, &sb);
            pa = lp.yp[sa];
            pb = lp.yp[sb];
        }
        for (int y = 0; y < patch[1]; y++) {
            int16_t *o = out + (size_t)z * plane + (size_t)y * (size_t)P2;
            const int32_t *ra = pa && t.in[1][y] ? pa + (size_t)y * (size_t)P2 : NULL;
            const int32_t *rb = ra ? pb + (size_t)y * (size_t)P2 : NULL;
            for (int x = 0; x < P2; x++) {
                if (ra && ra[x] != MIXED && ra[x] == rb[x]) {
                    o[x] = (int16_t)ra[x];
                } else {
                    const int32_t fk[3] = {t.f[0][z], t.f[1][y], t.f[2][x]};
                    const float wk[3] = {t.w[0][z], t.w[1][y], t.w[2][x]};
                    o[x] = seg_linear(c, fk, wk);
                }
            }
        }
    }
    rc = 0;
out:
    free(lp.xeq);
    free(lp.yp[0]);
    free(lp.yp[1]);
    axis_tables_free(&t);
    return rc;
}

static void sample_seg_general(const pf_case *c, const grid *gp, const case_geom *cgp,
                               const int patch[3], int seg_nearest, int z0, int z1,
                               int16_t *out);

void pf_aug_sample_seg_planes(const pf_case *c, const int64_t start[3], const int patch[3],
                              const pf_aug_params *p, int seg_nearest, int z0, int z1,
                              int16_t *out)
{
    case_geom cg;
    grid g;
    grid_init(&g, p, start, patch);
    case_geom_init(&cg, c, &g, patch);
    if (sample_seg_separable(c, &g, &cg, patch, seg_nearest, z0, z1, out) == 0)
        return;
    sample_seg_general(c, &g, &cg, patch, seg_nearest, z0, z1, out);
}

void pf_aug_sample_seg_general(const pf_case *c, const int64_t start[3], const int patch[3],
                               const pf_aug_params *p, int seg_nearest, int16_t *out)
{
    case_geom cg;
    grid g;
    grid_init(&g, p, start, patch);
    case_geom_init(&cg, c, &g, patch);
    sample_seg_general(c, &g, &cg, patch, seg_nearest, 0, patch[0], out);
}

static void sample_seg_general(const pf_case *c, const grid *gp, const case_geom *cgp,
                               const int patch[3], int seg_nearest, int z0, int z1,
                               int16_t *out)
{
    const grid g = *gp;
    const case_geom cg = *cgp;
    for (int z = z0; z < z1; z++)
        for (int y = 0; y < patch[1]; y++) {
            const size_t row = ((size_t)z * (size_t)patch[1] + (size_t)y) * (size_t)patch[2];
            row_walk rw;
            row_walk_init(&rw, &g, z, y);
            for (int x0 = 0; x0 < patch[2]; x0 += PF_VL) {
                const int m = patch[2] - x0 < PF_VL ? patch[2] - x0 : PF_VL;
                int32_t base[PF_VL];
                pf_vf w[3];
                pf_vi f[3], in = group_points(&rw, x0, &cg, f, w, base);
                for (int k = 0; k < m; k++) {
                    int16_t *o = out + row + (size_t)x0 + (size_t)k;
                    if (in[k] && !seg_nearest) {
                        /* inside a region of one label (most voxels): that label */
                        const int16_t *b = c->seg + base[k];
                        const int16_t l = b[0];
                        const size_t *cn = cg.corner;
                        if (b[cn[1]] == l && b[cn[2]] == l && b[cn[3]] == l && b[cn[4]] == l &&
                            b[cn[5]] == l && b[cn[6]] == l && b[cn[7]] == l) {
                            *o = l;
                            continue;
                        }
                    }
                    {
                        const int32_t fk[3] = {f[0][k], f[1][k], f[2][k]};
                        const float wk[3] = {w[0][k], w[1][k], w[2][k]};
                        *o = seg_nearest ? seg_nearest_at(c, fk, wk) : seg_linear(c, fk, wk);
                    }
                }
            }
        }
}

void pf_aug_grid(const pf_aug_params *p, const int64_t start[3], const int patch[3],
                 double G[3][3], double origin[3])
{
    memset(G, 0, 9 * sizeof(double));
    for (int d = 0; d < 3; d++) {
        G[d][d] = 1.0;
        origin[d] = (double)start[d];
    }
    if (!p)
        return;
    if (pf_aug_spatial(p)) {
        grid g;
        grid_init(&g, p, start, patch);
        memcpy(G, g.M, sizeof g.M);
        for (int i = 0; i < 3; i++) {
            origin[i] = g.c[i];
            for (int j = 0; j < 3; j++)
                origin[i] -= g.M[i][j] * g.h[j];
        }
    }
    for (int a = 0; a < 3; a++)
        if (p->mirror[a])
            for (int i = 0; i < 3; i++) {
                origin[i] += G[i][a] * (patch[a] - 1);
                G[i][a] = -G[i][a];
            }
}

/* a[i] <-> b[len - 1 - i] for all i (a != b), or the reversal of a (a == b), four or eight
 * elements at a time through reversed vector loads. */
typedef int16_t pf_v8s __attribute__((vector_size(16)));

static void swap_reversed_f(float *a, float *b, size_t len)
{
    size_t i = 0;
    if (a == b) {
        for (; 2 * i + 2 * PF_VL <= len; i += PF_VL) {
            pf_vf x = pf_vf_load(a + i), y = pf_vf_load(a + len - PF_VL - i);
            pf_vf_store(a + i, (pf_vf){y[3], y[2], y[1], y[0]});
            pf_vf_store(a + len - PF_VL - i, (pf_vf){x[3], x[2], x[1], x[0]});
        }
        for (; 2 * i + 1 < len; i++) {
            float t = a[i];
            a[i] = a[len - 1 - i];
            a[len - 1 - i] = t;
        }
        return;
    }
    for (; i + PF_VL <= len; i += PF_VL) {
        pf_vf x = pf_vf_load(a + i), y = pf_vf_load(b + len - PF_VL - i);
        pf_vf_store(a + i, (pf_vf){y[3], y[2], y[1], y[0]});
        pf_vf_store(b + len - PF_VL - i, (pf_vf){x[3], x[2], x[1], x[0]});
    }
    for (; i < len; i++) {
        float t = a[i];
        a[i] = b[len - 1 - i];
        b[len - 1 - i] = t;
    }
}

static inline pf_v8s load8s(const int16_t *p)
{
    pf_v8s v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void store8s_reversed(int16_t *p, pf_v8s v)
{
    pf_v8s r = {v[7], v[6], v[5], v[4], v[3], v[2], v[1], v[0]};
    memcpy(p, &r, sizeof r);
}

static void swap_reversed_s(int16_t *a, int16_t *b, size_t len)
{
    size_t i = 0;
    if (a == b) {
        for (; 2 * i + 16 <= len; i += 8) {
            pf_v8s x = load8s(a + i), y = load8s(a + len - 8 - i);
            store8s_reversed(a + i, y);
            store8s_reversed(a + len - 8 - i, x);
        }
        for (; 2 * i + 1 < len; i++) {
            int16_t t = a[i];
            a[i] = a[len - 1 - i];
            a[len - 1 - i] = t;
        }
        return;
    }
    for (; i + 8 <= len; i += 8) {
        pf_v8s x = load8s(a + i), y = load8s(b + len - 8 - i);
        store8s_reversed(a + i, y);
        store8s_reversed(b + len - 8 - i, x);
    }
    for (; i < len; i++) {
        int16_t t = a[i];
        a[i] = b[len - 1 - i];
        b[len - 1 - i] = t;
    }
}

/* Reverses the mirrored axes of one (P0, P1, P2) volume of `elem`-byte elements in a single
 * pass, in place: output row (z, y) is input row (z', y') (each index flipped when its axis
 * is mirrored), reversed when X is mirrored. The row map is its own inverse, so each pair of
 * rows is swapped once. */
static void mirror_volume(void *data, size_t elem, const int P[3], const int m[3])
{
    const size_t len = (size_t)P[2], rowb = len * elem;
    unsigned char *v = data, tmp[4 * 1024];
    for (int z = 0; z < P[0]; z++)
        for (int y = 0; y < P[1]; y++) {
            const int z2 = m[0] ? P[0] - 1 - z : z, y2 = m[1] ? P[1] - 1 - y : y;
            const size_t r = (size_t)z * (size_t)P[1] + (size_t)y;
            const size_t r2 = (size_t)z2 * (size_t)P[1] + (size_t)y2;
            unsigned char *a = v + r * rowb, *b = v + r2 * rowb;
            if (r2 < r)
                continue; /* done with its partner */
            if (!m[2]) {
                for (size_t off = 0; r2 != r && off < rowb; off += sizeof tmp) {
                    size_t k = rowb - off < sizeof tmp ? rowb - off : sizeof tmp;
                    memcpy(tmp, a + off, k);
                    memcpy(a + off, b + off, k);
                    memcpy(b + off, tmp, k);
                }
            } else if (elem == 4) {
                swap_reversed_f((float *)a, (float *)b, len);
            } else {
                swap_reversed_s((int16_t *)a, (int16_t *)b, len);
            }
        }
}

void pf_aug_mirror(const pf_aug_params *p, int channels, const int patch[3], float *img,
                   int16_t *seg)
{
    const size_t n = (size_t)patch[0] * (size_t)patch[1] * (size_t)patch[2];
    if (!p->mirror[0] && !p->mirror[1] && !p->mirror[2])
        return;
    if (img)
        for (int c = 0; c < channels; c++)
            mirror_volume(img + (size_t)c * n, sizeof *img, patch, p->mirror);
    if (seg)
        mirror_volume(seg, sizeof *seg, patch, p->mirror);
}

void pf_ds_shape(const int patch[3], double scale, int is_2d, int out_shape[3])
{
    for (int a = 0; a < 3; a++) {
        out_shape[a] = (int)floor(patch[a] * scale + 0.5);
        if (out_shape[a] < 1 || (a == 0 && is_2d))
            out_shape[a] = a == 0 && is_2d ? patch[0] : 1;
    }
}

void pf_ds_seg(const int16_t *seg, const int patch[3], const int out_shape[3], int16_t *out)
{
    for (int z = 0; z < out_shape[0]; z++)
        for (int y = 0; y < out_shape[1]; y++)
            for (int x = 0; x < out_shape[2]; x++) {
                /* nearest-exact: source = floor((o + 0.5) * in / out) */
                int64_t sz = ((int64_t)2 * z + 1) * patch[0] / (2 * out_shape[0]);
                int64_t sy = ((int64_t)2 * y + 1) * patch[1] / (2 * out_shape[1]);
                int64_t sx = ((int64_t)2 * x + 1) * patch[2] / (2 * out_shape[2]);
                out[((size_t)z * (size_t)out_shape[1] + (size_t)y) * (size_t)out_shape[2] + (size_t)x] =
                    seg[((size_t)sz * (size_t)patch[1] + (size_t)sy) * (size_t)patch[2] + (size_t)sx];
            }
}
