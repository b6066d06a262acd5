/* augment.c - nnU-Net's training augmentation, deterministic by path (see augment.h and
 * ../shared/reference/nnunet-behaviour.md section 6). */
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

/* M = R0(a0) R1(a1) R2(a2) * scale, acting on (z, y, x) offsets from the patch centre. */
static void grid_matrix(const pf_aug_params *p, double M[3][3])
{
    double c0 = pf_cos(p->angle[0]), s0 = pf_sin(p->angle[0]);
    double c1 = pf_cos(p->angle[1]), s1 = pf_sin(p->angle[1]);
    double c2 = pf_cos(p->angle[2]), s2 = pf_sin(p->angle[2]);
    double R0[3][3] = {{1, 0, 0}, {0, c0, -s0}, {0, s0, c0}};
    double R1[3][3] = {{c1, 0, s1}, {0, 1, 0}, {-s1, 0, c1}};
    double R2[3][3] = {{c2, -s2, 0}, {s2, c2, 0}, {0, 0, 1}};
    double T[3][3], k = p->scale_on ? p->scale : 1.0;
    if (!p->rotate) {
        c0 = c1 = c2 = 1.0;
        s0 = s1 = s2 = 0.0;
        memset(R0, 0, sizeof R0);
        R0[0][0] = R0[1][1] = R0[2][2] = 1.0;
        memcpy(R1, R0, sizeof R0);
        memcpy(R2, R0, sizeof R0);
    }
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

static inline float norm_voxel(const pf_norm *nm, float v, int16_t s)
{
    float t = v < nm->lo ? nm->lo : v;
    t = t > nm->hi ? nm->hi : t;
    return nm->masked && s < 0 ? v : (t - nm->shift) / nm->scale;
}

void pf_aug_sample_image(const pf_case *c, const pf_norm *norms, const int64_t start[3],
                         const int patch[3], const pf_aug_params *p, float *out)
{
    const int64_t *S = c->hdr.shape;
    const size_t nvox = (size_t)(S[0] * S[1] * S[2]);
    const size_t pv = (size_t)patch[0] * (size_t)patch[1] * (size_t)patch[2];
    grid g;
    grid_init(&g, p, start, patch);
    for (int z = 0; z < patch[0]; z++)
        for (int y = 0; y < patch[1]; y++)
            for (int x = 0; x < patch[2]; x++) {
                double q[3], w[3];
                int64_t f[3];
                size_t o = ((size_t)z * (size_t)patch[1] + (size_t)y) * (size_t)patch[2] + (size_t)x;
                grid_at(&g, z, y, x, q);
                for (int d = 0; d < 3; d++) {
                    double fl = floor(q[d]);
                    f[d] = (int64_t)fl;
                    w[d] = q[d] - fl;
                }
                for (uint32_t ch = 0; ch < c->hdr.n_channels; ch++) {
                    const float *img = c->image + (size_t)ch * nvox;
                    double acc = 0.0;
                    for (int k = 0; k < 8; k++) {
                        int64_t iz = f[0] + (k >> 2), iy = f[1] + ((k >> 1) & 1), ix = f[2] + (k & 1);
                        double wt = ((k >> 2) ? w[0] : 1.0 - w[0]) *
                                    (((k >> 1) & 1) ? w[1] : 1.0 - w[1]) * ((k & 1) ? w[2] : 1.0 - w[2]);
                        size_t i;
                        if (wt == 0.0 || iz < 0 || iy < 0 || ix < 0 || iz >= S[0] || iy >= S[1] ||
                            ix >= S[2])
                            continue; /* outside: 0 */
                        i = (size_t)((iz * S[1] + iy) * S[2] + ix);
                        acc += wt * (double)norm_voxel(&norms[ch], img[i], c->seg[i]);
                    }
                    out[(size_t)ch * pv + o] = (float)acc;
                }
            }
}

void pf_aug_sample_seg(const pf_case *c, const int64_t start[3], const int patch[3],
                       const pf_aug_params *p, int seg_nearest, int16_t *out)
{
    const int64_t *S = c->hdr.shape;
    grid g;
    grid_init(&g, p, start, patch);
    for (int z = 0; z < patch[0]; z++)
        for (int y = 0; y < patch[1]; y++)
            for (int x = 0; x < patch[2]; x++) {
                double q[3], w[3];
                int64_t f[3];
                size_t o = ((size_t)z * (size_t)patch[1] + (size_t)y) * (size_t)patch[2] + (size_t)x;
                grid_at(&g, z, y, x, q);
                if (seg_nearest) {
                    int64_t iz = (int64_t)floor(q[0] + 0.5), iy = (int64_t)floor(q[1] + 0.5),
                            ix = (int64_t)floor(q[2] + 0.5);
                    out[o] = iz < 0 || iy < 0 || ix < 0 || iz >= S[0] || iy >= S[1] || ix >= S[2]
                                 ? -1 : c->seg[(size_t)((iz * S[1] + iy) * S[2] + ix)];
                    continue;
                }
                for (int d = 0; d < 3; d++) {
                    double fl = floor(q[d]);
                    f[d] = (int64_t)fl;
                    w[d] = q[d] - fl;
                }
                {
                    /* per-label linear interpolation + argmax: each label's one-hot value is
                     * the summed weight of the corners carrying it (outside counts as -1) */
                    int16_t lab[8];
                    double wsum[8];
                    int n = 0, best = 0;
                    for (int k = 0; k < 8; k++) {
                        int64_t iz = f[0] + (k >> 2), iy = f[1] + ((k >> 1) & 1), ix = f[2] + (k & 1);
                        double wt = ((k >> 2) ? w[0] : 1.0 - w[0]) *
                                    (((k >> 1) & 1) ? w[1] : 1.0 - w[1]) * ((k & 1) ? w[2] : 1.0 - w[2]);
                        int16_t l = iz < 0 || iy < 0 || ix < 0 || iz >= S[0] || iy >= S[1] || ix >= S[2]
                                        ? -1 : c->seg[(size_t)((iz * S[1] + iy) * S[2] + ix)];
                        int j;
                        for (j = 0; j < n && lab[j] != l; j++)
                            ;
                        if (j == n) {
                            lab[n] = l;
                            wsum[n++] = 0.0;
                        }
                        wsum[j] += wt;
                    }
                    for (int j = 1; j < n; j++)
                        if (wsum[j] > wsum[best])
                            best = j;
                    out[o] = lab[best];
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

/* splitmix64: a counter-based integer hash for per-voxel noise (integer ops only). */
static uint64_t splitmix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void add_noise(const pf_aug_params *p, size_t n, float *img)
{
    for (size_t i = 0; i < n; i += 2) {
        /* Box-Muller on two uniforms in (0, 1] and [0, 1) */
        double u1 = (double)((splitmix(p->noise_key ^ (2 * i)) >> 11) + 1) * 0x1p-53;
        double u2 = (double)(splitmix(p->noise_key ^ (2 * i + 1)) >> 11) * 0x1p-53;
        double r = sqrt(-2.0 * pf_log(u1)) * p->noise_sigma, t = 2.0 * PF_PI * u2;
        img[i] = (float)(img[i] + r * pf_cos(t));
        if (i + 1 < n)
            img[i + 1] = (float)(img[i + 1] + r * pf_sin(t));
    }
}

static int64_t reflect(int64_t i, int64_t n)
{
    while (i < 0 || i >= n) /* scipy's 'reflect': d c b a | a b c d | d c b a */
        i = i < 0 ? -i - 1 : 2 * n - i - 1;
    return i;
}

/* Separable Gaussian blur of one channel, radius ceil(3 sigma) per axis. */
static int blur(float *v, const int P[3], const double sigma[3])
{
    const size_t n = (size_t)P[0] * (size_t)P[1] * (size_t)P[2];
    float *tmp = malloc(n * sizeof *tmp);
    if (!tmp)
        return -1;
    for (int ax = 0; ax < 3; ax++) {
        double k[16], sum = 0.0;
        int r;
        size_t stride = ax == 0 ? (size_t)P[1] * (size_t)P[2] : ax == 1 ? (size_t)P[2] : 1;
        if (sigma[ax] <= 0.0 || P[ax] == 1)
            continue;
        r = (int)ceil(3.0 * sigma[ax]);
        if (r > 7)
            r = 7;
        for (int j = -r; j <= r; j++)
            sum += k[j + r] = pf_exp(-(double)(j * j) / (2.0 * sigma[ax] * sigma[ax]));
        for (int j = 0; j <= 2 * r; j++)
            k[j] /= sum;
        memcpy(tmp, v, n * sizeof *tmp);
        for (size_t i = 0; i < n; i++) {
            int64_t pos = (int64_t)(i / stride % (size_t)P[ax]);
            size_t base = i - (size_t)pos * stride;
            double acc = 0.0;
            for (int j = -r; j <= r; j++)
                acc += k[j + r] * (double)tmp[base + (size_t)reflect(pos + j, P[ax]) * stride];
            v[i] = (float)acc;
        }
    }
    free(tmp);
    return 0;
}

static void channel_stats(const float *v, size_t n, double *mean, double *sd, float *mn,
                          float *mx)
{
    double s = 0.0, q = 0.0;
    *mn = v[0];
    *mx = v[0];
    for (size_t i = 0; i < n; i++) {
        s += v[i];
        if (v[i] < *mn) *mn = v[i];
        if (v[i] > *mx) *mx = v[i];
    }
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++)
        q += ((double)v[i] - *mean) * ((double)v[i] - *mean);
    *sd = sqrt(q / (double)n);
}

/* nearest-exact down to round(P * zoom), linear (align_corners=False) back up */
static int lowres(float *v, const int P[3], double zoom, int in_plane)
{
    int d[3];
    size_t nd, n = (size_t)P[0] * (size_t)P[1] * (size_t)P[2];
    float *small;
    for (int a = 0; a < 3; a++) {
        d[a] = (int)floor(P[a] * zoom + 0.5);
        if (d[a] < 1 || (a == 0 && in_plane))
            d[a] = a == 0 && in_plane ? P[0] : 1;
    }
    nd = (size_t)d[0] * (size_t)d[1] * (size_t)d[2];
    small = malloc(nd * sizeof *small);
    if (!small)
        return -1;
    for (int z = 0; z < d[0]; z++)
        for (int y = 0; y < d[1]; y++)
            for (int x = 0; x < d[2]; x++) {
                int64_t sz = ((int64_t)2 * z + 1) * P[0] / (2 * d[0]);
                int64_t sy = ((int64_t)2 * y + 1) * P[1] / (2 * d[1]);
                int64_t sx = ((int64_t)2 * x + 1) * P[2] / (2 * d[2]);
                small[((size_t)z * (size_t)d[1] + (size_t)y) * (size_t)d[2] + (size_t)x] =
                    v[((size_t)sz * (size_t)P[1] + (size_t)sy) * (size_t)P[2] + (size_t)sx];
            }
    for (size_t i = 0; i < n; i++) {
        int o[3] = {(int)(i / ((size_t)P[1] * (size_t)P[2])), (int)(i / (size_t)P[2] % (size_t)P[1]),
                    (int)(i % (size_t)P[2])};
        int64_t f0[3], f1[3];
        double w[3], acc = 0.0;
        for (int a = 0; a < 3; a++) {
            double q = (o[a] + 0.5) * d[a] / P[a] - 0.5;
            if (q < 0.0)
                q = 0.0;
            if (q > d[a] - 1)
                q = d[a] - 1;
            f0[a] = (int64_t)floor(q);
            f1[a] = f0[a] + 1 < d[a] ? f0[a] + 1 : f0[a];
            w[a] = q - (double)f0[a];
        }
        for (int k = 0; k < 8; k++) {
            int64_t zz = (k >> 2) ? f1[0] : f0[0], yy = ((k >> 1) & 1) ? f1[1] : f0[1],
                    xx = (k & 1) ? f1[2] : f0[2];
            double wt = ((k >> 2) ? w[0] : 1.0 - w[0]) * (((k >> 1) & 1) ? w[1] : 1.0 - w[1]) *
                        ((k & 1) ? w[2] : 1.0 - w[2]);
            acc += wt * small[((size_t)zz * (size_t)d[1] + (size_t)yy) * (size_t)d[2] + (size_t)xx];
        }
        v[i] = (float)acc;
    }
    free(small);
    return 0;
}

/* gamma with the mean and std retained (batchgenerators' augment_gamma, retain_stats) */
static void gamma_channel(float *v, size_t n, double g, int invert)
{
    double mean, sd, mean2, sd2, rng;
    float mn, mx;
    if (invert)
        for (size_t i = 0; i < n; i++)
            v[i] = -v[i];
    channel_stats(v, n, &mean, &sd, &mn, &mx);
    rng = (double)mx - (double)mn;
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(pf_pow(((double)v[i] - mn) / (rng + 1e-7), g) * (rng + 1e-7) + mn);
    channel_stats(v, n, &mean2, &sd2, &mn, &mx);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(((double)v[i] - mean2) / (sd2 + 1e-8) * sd + mean);
    if (invert)
        for (size_t i = 0; i < n; i++)
            v[i] = -v[i];
}

int pf_aug_intensity(const pf_aug_params *p, int channels, const int patch[3], float *img)
{
    const size_t n = (size_t)patch[0] * (size_t)patch[1] * (size_t)patch[2];
    if (p->noise)
        add_noise(p, n * (size_t)channels, img);
    for (int c = 0; c < channels; c++)
        if (p->blur[c] && blur(img + (size_t)c * n, patch, p->blur_sigma[c]) != 0)
            return -1;
    if (p->bright)
        for (int c = 0; c < channels; c++)
            for (size_t i = 0; i < n; i++)
                img[(size_t)c * n + i] = (float)(img[(size_t)c * n + i] * p->bright_f[c]);
    if (p->contrast)
        for (int c = 0; c < channels; c++) {
            float *v = img + (size_t)c * n, mn, mx;
            double mean, sd;
            channel_stats(v, n, &mean, &sd, &mn, &mx);
            for (size_t i = 0; i < n; i++) {
                double t = ((double)v[i] - mean) * p->contrast_f[c] + mean;
                v[i] = (float)(t < mn ? mn : t > mx ? mx : t); /* the original range is kept */
            }
        }
    for (int c = 0; c < channels; c++)
        if (p->lowres[c] && lowres(img + (size_t)c * n, patch, p->lowres_zoom[c], p->dims == 2) != 0)
            return -1;
    if (p->gamma_inv)
        for (int c = 0; c < channels; c++)
            gamma_channel(img + (size_t)c * n, n, p->gamma_inv_g[c], 1);
    if (p->gamma)
        for (int c = 0; c < channels; c++)
            gamma_channel(img + (size_t)c * n, n, p->gamma_g[c], 0);
    return 0;
}

static void flip_axis(char *v, size_t elem, const int P[3], int ax)
{
    size_t outer = 1, inner = elem, len = (size_t)P[ax];
    char tmp[8];
    for (int a = 0; a < ax; a++)
        outer *= (size_t)P[a];
    for (int a = ax + 1; a < 3; a++)
        inner *= (size_t)P[a];
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < len / 2; i++) {
            char *a = v + (o * len + i) * inner, *b = v + (o * len + len - 1 - i) * inner;
            for (size_t k = 0; k < inner; k += elem) {
                memcpy(tmp, a + k, elem);
                memcpy(a + k, b + k, elem);
                memcpy(b + k, tmp, elem);
            }
        }
}

void pf_aug_mirror(const pf_aug_params *p, int channels, const int patch[3], float *img,
                   int16_t *seg)
{
    const size_t n = (size_t)patch[0] * (size_t)patch[1] * (size_t)patch[2];
    for (int ax = 0; ax < 3; ax++) {
        if (!p->mirror[ax])
            continue;
        if (img)
            for (int c = 0; c < channels; c++)
                flip_axis((char *)(img + (size_t)c * n), sizeof *img, patch, ax);
        if (seg)
            flip_axis((char *)seg, sizeof *seg, patch, ax);
    }
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
