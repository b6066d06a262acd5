/* augment.c - nnU-Net's training augmentation, deterministic by path: parameter draws, the
 * rotated and scaled grid sampled straight from the case, mirroring and deep-supervision
 * targets (the intensity transforms are in intensity.c). See augment.h and
 * ../shared/reference/nnunet-behaviour.md section 6. */
#include "patchfs/augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "patchfs/detmath.h"
#include "patchfs/rng.h"

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

/* Output voxel x of a row starting at q0: the source position q, its floor f and fraction w,
 * and whether all eight interpolation corners lie inside the case. */
static inline int grid_point(const grid *g, const double q0[3], int x, const int64_t S[3],
                             double q[3], int64_t f[3], double w[3])
{
    int inside = 1;
    for (int d = 0; d < 3; d++) {
        double fl;
        q[d] = q0[d] + g->M[d][2] * x;
        fl = floor(q[d]);
        f[d] = (int64_t)fl;
        w[d] = q[d] - fl;
        inside &= f[d] >= 0 && f[d] < S[d] - 1;
    }
    return inside;
}

/* Trilinear interpolation of the normalised image. Normalisation is (clamp(v) - shift) /
 * scale, so it is applied once to the weighted sum of the clamped raw corners inside the case
 * (corners outside contribute 0 after normalisation, hence the weight sum); with the nnU-Net
 * mask rule, corners with seg < 0 keep their raw value. Interior voxels, the common case, take
 * a branch-free path with fixed corner offsets. */
typedef struct corner_walk {
    const int64_t *S;
    size_t sy, sz;              /* strides of Y and Z in the case */
    size_t off[8];              /* corner offsets from the base voxel */
} corner_walk;

static void corner_walk_init(corner_walk *cw, const int64_t S[3])
{
    cw->S = S;
    cw->sy = (size_t)S[2];
    cw->sz = (size_t)(S[1] * S[2]);
    for (int k = 0; k < 8; k++)
        cw->off[k] = ((k >> 2) ? cw->sz : 0) + (((k >> 1) & 1) ? cw->sy : 0) + (size_t)(k & 1);
}

static inline double corner_weight(int k, const double w[3])
{
    return ((k >> 2) ? w[0] : 1.0 - w[0]) * (((k >> 1) & 1) ? w[1] : 1.0 - w[1]) *
           ((k & 1) ? w[2] : 1.0 - w[2]);
}

static inline float clampf(float v, float lo, float hi)
{
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

/* One channel at one point; f = floor of the position, wk = the eight corner weights. */
static float interp_channel(const corner_walk *cw, const float *img, const int16_t *seg,
                            const pf_norm *nm, const int64_t f[3], const double wk[8], int inside)
{
    double acc = 0.0, wsum = 0.0, keep = 0.0;
    if (inside && !nm->masked) {
        const float *b = img + (size_t)((f[0] * cw->S[1] + f[1]) * cw->S[2] + f[2]);
        if (isinf(nm->lo) && isinf(nm->hi)) {
            for (int k = 0; k < 8; k++)
                acc += wk[k] * (double)b[cw->off[k]];
        } else {
            for (int k = 0; k < 8; k++)
                acc += wk[k] * (double)clampf(b[cw->off[k]], nm->lo, nm->hi);
        }
        return (float)((acc - (double)nm->shift) / (double)nm->scale);
    }
    for (int k = 0; k < 8; k++) {
        int64_t iz = f[0] + (k >> 2), iy = f[1] + ((k >> 1) & 1), ix = f[2] + (k & 1);
        size_t i;
        if (iz < 0 || iy < 0 || ix < 0 || iz >= cw->S[0] || iy >= cw->S[1] || ix >= cw->S[2])
            continue; /* outside: 0 after normalisation */
        i = (size_t)((iz * cw->S[1] + iy) * cw->S[2] + ix);
        if (nm->masked && seg[i] < 0) {
            keep += wk[k] * (double)img[i];
        } else {
            acc += wk[k] * (double)clampf(img[i], nm->lo, nm->hi);
            wsum += wk[k];
        }
    }
    return (float)((acc - (double)nm->shift * wsum) / (double)nm->scale + keep);
}

void pf_aug_sample_image(const pf_case *c, const pf_norm *norms, const int64_t start[3],
                         const int patch[3], const pf_aug_params *p, float *out)
{
    const int64_t *S = c->hdr.shape;
    const size_t nvox = (size_t)(S[0] * S[1] * S[2]);
    const size_t pv = (size_t)patch[0] * (size_t)patch[1] * (size_t)patch[2];
    corner_walk cw;
    grid g;
    grid_init(&g, p, start, patch);
    corner_walk_init(&cw, S);
    for (int z = 0; z < patch[0]; z++)
        for (int y = 0; y < patch[1]; y++) {
            double q0[3];
            size_t row = ((size_t)z * (size_t)patch[1] + (size_t)y) * (size_t)patch[2];
            grid_at(&g, z, y, 0, q0);
            for (int x = 0; x < patch[2]; x++) {
                double q[3], w[3], wk[8];
                int64_t f[3];
                int inside = grid_point(&g, q0, x, S, q, f, w);
                {
                    double a0 = 1.0 - w[0], a1 = 1.0 - w[1], a2 = 1.0 - w[2];
                    double z0y0 = a0 * a1, z0y1 = a0 * w[1], z1y0 = w[0] * a1, z1y1 = w[0] * w[1];
                    wk[0] = z0y0 * a2, wk[1] = z0y0 * w[2], wk[2] = z0y1 * a2, wk[3] = z0y1 * w[2];
                    wk[4] = z1y0 * a2, wk[5] = z1y0 * w[2], wk[6] = z1y1 * a2, wk[7] = z1y1 * w[2];
                }
                for (uint32_t ch = 0; ch < c->hdr.n_channels; ch++)
                    out[(size_t)ch * pv + row + (size_t)x] =
                        interp_channel(&cw, c->image + (size_t)ch * nvox, c->seg, &norms[ch], f, wk,
                                       inside);
            }
        }
}

void pf_aug_sample_seg(const pf_case *c, const int64_t start[3], const int patch[3],
                       const pf_aug_params *p, int seg_nearest, int16_t *out)
{
    const int64_t *S = c->hdr.shape;
    corner_walk cw;
    grid g;
    grid_init(&g, p, start, patch);
    corner_walk_init(&cw, S);
    for (int z = 0; z < patch[0]; z++)
        for (int y = 0; y < patch[1]; y++) {
            double q0[3];
            size_t row = ((size_t)z * (size_t)patch[1] + (size_t)y) * (size_t)patch[2];
            grid_at(&g, z, y, 0, q0);
            for (int x = 0; x < patch[2]; x++) {
                double q[3], w[3];
                int64_t f[3];
                int16_t lab[8];
                double wsum[8];
                int n = 0, best = 0, inside = grid_point(&g, q0, x, S, q, f, w);
                if (seg_nearest) {
                    int64_t iz = (int64_t)floor(q[0] + 0.5), iy = (int64_t)floor(q[1] + 0.5),
                            ix = (int64_t)floor(q[2] + 0.5);
                    out[row + (size_t)x] =
                        iz < 0 || iy < 0 || ix < 0 || iz >= S[0] || iy >= S[1] || ix >= S[2]
                            ? -1 : c->seg[(size_t)((iz * S[1] + iy) * S[2] + ix)];
                    continue;
                }
                if (inside) {
                    /* inside a region of one label (most voxels): that label */
                    const int16_t *b0 = c->seg + (size_t)((f[0] * S[1] + f[1]) * S[2] + f[2]);
                    int same = 1;
                    for (int k = 1; k < 8 && same; k++)
                        same = b0[cw.off[k]] == b0[0];
                    if (same) {
                        out[row + (size_t)x] = b0[0];
                        continue;
                    }
                }
                /* per-label linear interpolation + argmax: each label's one-hot value is the
                 * summed weight of the corners carrying it (outside counts as -1) */
                for (int k = 0; k < 8; k++) {
                    int64_t iz = f[0] + (k >> 2), iy = f[1] + ((k >> 1) & 1), ix = f[2] + (k & 1);
                    int16_t l = iz < 0 || iy < 0 || ix < 0 || iz >= S[0] || iy >= S[1] || ix >= S[2]
                                    ? -1 : c->seg[(size_t)((iz * S[1] + iy) * S[2] + ix)];
                    int j;
                    for (j = 0; j < n && lab[j] != l; j++)
                        ;
                    if (j == n) {
                        lab[n] = l;
                        wsum[n++] = 0.0;
                    }
                    wsum[j] += corner_weight(k, w);
                }
                for (int j = 1; j < n; j++)
                    if (wsum[j] > wsum[best])
                        best = j;
                out[row + (size_t)x] = lab[best];
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
            } else if (elem == 4) { /* a[i] <-> b[len-1-i]; for a == b a plain reversal */
                float *fa = (float *)a, *fb = (float *)b;
                for (size_t i = 0; i < (r == r2 ? len / 2 : len); i++) {
                    float t = fa[i];
                    fa[i] = fb[len - 1 - i];
                    fb[len - 1 - i] = t;
                }
            } else {
                int16_t *ia = (int16_t *)a, *ib = (int16_t *)b;
                for (size_t i = 0; i < (r == r2 ? len / 2 : len); i++) {
                    int16_t t = ia[i];
                    ia[i] = ib[len - 1 - i];
                    ib[len - 1 - i] = t;
                }
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
