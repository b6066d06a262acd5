/* resample.c - nnU-Net v2's resampling to the target spacing (see resample.h).
 *
 * Every formula below is scipy 1.10's (ndimage/_interpolation.py zoom and spline_filter,
 * src/ni_splines.c, src/ni_interpolation.c NI_ZoomShift / NI_GeometricTransform) or nnU-Net's
 * (default_resampling.py), written with the same operations in the same order, so that the
 * per-axis coordinates, tap indices, weights and prefilter coefficients are bitwise theirs.
 * Build with -ffp-contract=off: a fused multiply-add would change those bits. */
#include "resample.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* scipy pads every axis by 12 edge voxels before the prefilter when mode is 'nearest'
 * (_prepad_for_spline_filter); the prefilter itself then uses the mirror boundary. */
#define NPAD 12
/* Lines filtered side by side: the recursions along an axis run on TILE independent lines at
 * once, so they vectorise and no line waits on the latency of its own recursion. */
#define TILE 32
/* Columns of one unit of an axis-0 pass (a unit must be big enough to amortise its scratch). */
#define COLS_PER_UNIT 1024

/* scipy ni_splines.c get_filter_poles, order 3: sqrt(3) - 2. */
static const double POLE3 = -0.267949192431122706472553658494127633;

enum { PLAN_COPY, PLAN_XY_Z, PLAN_Z_XY, PLAN_SEPZ, PLAN_SEG };
/* What the units of a step do. */
enum { STEP_COPY, STEP_XY, STEP_Z, STEP_SEPZ, STEP_SEG, STEP_SEG_PLANES };
enum { AX_SPLINE3 = 3, AX_LINEAR = 1, AX_ROUND = 0, AX_NEAREST_Z = -1 };

/* How one axis goes from n to m samples: output o = sum_k line[idx[o*taps+k]] * w[o*taps+k],
 * line being the input padded by `pad` edge samples on each side (order 3) or not. */
typedef struct pf_rs_axis {
    int64_t n, m;
    int taps, pad;
    int64_t *idx;
    double *w;
} pf_rs_axis;

/* Where the lines of a pass live: element k of line l at base + l*lstride + k*astride. */
typedef struct rs_ref {
    void *base;
    int is_float;
    int64_t astride, lstride;
} rs_ref;

/* ------------------------------------------------------------------ small helpers */

static int mul_ok(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static int64_t prod3(const int64_t s[3])
{
    return s[0] * s[1] * s[2];   /* callers have bounded each factor and the product */
}

/* Product of three positive dims, or -1 beyond INT64_MAX. */
static int64_t prod3_checked(const int64_t s[3])
{
    int64_t a;
    if (__builtin_mul_overflow(s[0], s[1], &a) || __builtin_mul_overflow(a, s[2], &a))
        return -1;
    return a;
}

/* a * b * c, saturated at INT64_MAX. */
static int64_t mul3_sat(int64_t a, int64_t b, int64_t c)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r) || __builtin_mul_overflow(r, c, &r))
        return INT64_MAX;
    return r;
}

/* min and max of n floats, NaN ignored (skimage then uses nanmin / nanmax), in eight
 * branch-free lanes (min and max are exact, so the lane split changes nothing). */
static void float_range(const float *x, size_t n, double *lo, double *hi)
{
    float l[8], h[8];
    size_t i = 0;
    for (int k = 0; k < 8; k++) {
        l[k] = INFINITY;
        h[k] = -INFINITY;
    }
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            l[k] = x[i + k] < l[k] ? x[i + k] : l[k];
            h[k] = x[i + k] > h[k] ? x[i + k] : h[k];
        }
    for (; i < n; i++) {
        l[0] = x[i] < l[0] ? x[i] : l[0];
        h[0] = x[i] > h[0] ? x[i] : h[0];
    }
    for (int k = 1; k < 8; k++) {
        l[0] = l[k] < l[0] ? l[k] : l[0];
        h[0] = h[k] > h[0] ? h[k] : h[0];
    }
    *lo = l[0];
    *hi = h[0];
}

/* ------------------------------------------------------------------ shapes and decisions */

int pf_resample_new_shape(const int64_t shape[3], const double spacing[3],
                          const double target[3], int64_t out[3], pf_error *err)
{
    for (int i = 0; i < 3; i++) {
        double v, r;
        if (!(isfinite(spacing[i]) && spacing[i] > 0 && isfinite(target[i]) && target[i] > 0))
            return pf_fail(err, EINVAL, "resample: spacing %g -> %g on axis %d is not a positive "
                           "finite number", spacing[i], target[i], i);
        if (shape[i] < 1 || shape[i] > ((int64_t)1 << 53))
            return pf_fail(err, EINVAL, "resample: input shape %" PRId64 "x%" PRId64 "x%" PRId64
                           " has an axis out of range", shape[0], shape[1], shape[2]);
        /* compute_new_shape: int(round(i / j * k)), Python round = half to even = rint */
        v = spacing[i] / target[i] * (double)shape[i];
        r = rint(v);
        if (!(r >= 1.0 && r <= 9.0e15))
            return pf_fail(err, EINVAL, "resample: shape %" PRId64 " at spacing %g gives %g "
                           "voxels at spacing %g on axis %d", shape[i], spacing[i], r, target[i], i);
        out[i] = (int64_t)r;
    }
    return 0;
}

/* get_do_separate_z: np.max(spacing) / np.min(spacing) > ANISO_THRESHOLD */
static int is_aniso(const double s[3])
{
    double mx = s[0], mn = s[0];
    for (int i = 1; i < 3; i++) {
        if (s[i] > mx)
            mx = s[i];
        if (s[i] < mn)
            mn = s[i];
    }
    return mx / mn > PF_RESAMPLE_ANISO;
}

/* get_lowres_axis: np.where(max(s) / np.array(s) == 1); the unique such axis, or -1 when two
 * or three axes tie (determine_do_sep_z_and_axis then resamples in 3D). */
static int lowres_axis(const double s[3])
{
    double mx = s[0];
    int n = 0, axis = -1;
    for (int i = 1; i < 3; i++)
        if (s[i] > mx)
            mx = s[i];
    for (int i = 0; i < 3; i++)
        if (mx / s[i] == 1.0) {
            n++;
            axis = i;
        }
    return n == 1 ? axis : -1;
}

void pf_resample_decide_z(const double spacing[3], const double target[3], int force,
                          int *separate_z, int *axis)
{
    int a = -1;
    if (force == 1)
        a = lowres_axis(spacing);
    else if (force < 0) {
        /* the case's own anisotropy first; only if it has none, the target's */
        if (is_aniso(spacing))
            a = lowres_axis(spacing);
        else if (is_aniso(target))
            a = lowres_axis(target);
    }
    *separate_z = a >= 0;
    *axis = a;
}

static int check_shape(const char *what, const int64_t s[3], int64_t max_voxels, pf_error *err)
{
    int64_t v;
    for (int i = 0; i < 3; i++)
        if (s[i] < 1)
            return pf_fail(err, EINVAL, "resample: %s shape %" PRId64 "x%" PRId64 "x%" PRId64
                           " has an empty axis", what, s[0], s[1], s[2]);
    v = prod3_checked(s);
    if (v < 0 || v > max_voxels)
        return pf_fail(err, EFBIG, "resample: %s shape %" PRId64 "x%" PRId64 "x%" PRId64
                       " exceeds the limit of %" PRId64 " voxels", what, s[0], s[1], s[2],
                       max_voxels);
    return 0;
}

int pf_resample_geom_init(pf_resample_geom *g, const int64_t in_shape[3],
                          const int64_t *out_shape, const double spacing[3],
                          const double target[3], int force_separate_z, int64_t max_voxels,
                          pf_error *err)
{
    int64_t out[3];
    memset(g, 0, sizeof *g);
    g->axis = -1;
    if (max_voxels <= 0)
        max_voxels = PF_RESAMPLE_MAX_VOXELS;
    if (max_voxels > ((int64_t)1 << 40))
        return pf_fail(err, EINVAL, "resample: voxel limit %" PRId64 " is above 2^40", max_voxels);
    if (check_shape("input", in_shape, max_voxels, err))
        return -1;
    for (int i = 0; i < 3; i++)
        if (!(isfinite(spacing[i]) && spacing[i] > 0 && isfinite(target[i]) && target[i] > 0))
            return pf_fail(err, EINVAL, "resample: spacing %g -> %g on axis %d is not a positive "
                           "finite number", spacing[i], target[i], i);
    if (out_shape)
        memcpy(out, out_shape, sizeof out);
    else if (pf_resample_new_shape(in_shape, spacing, target, out, err))
        return -1;
    if (check_shape("output", out, max_voxels, err))
        return -1;
    memcpy(g->in_shape, in_shape, sizeof g->in_shape);
    memcpy(g->out_shape, out, sizeof g->out_shape);
    pf_resample_decide_z(spacing, target, force_separate_z, &g->separate_z, &g->axis);
    return 0;
}

int pf_resample_geom_changes(const pf_resample_geom *g)
{
    return g->in_shape[0] != g->out_shape[0] || g->in_shape[1] != g->out_shape[1] ||
           g->in_shape[2] != g->out_shape[2];
}

size_t pf_resample_in_voxels(const pf_resample_geom *g)
{
    return (size_t)prod3(g->in_shape);
}

size_t pf_resample_out_voxels(const pf_resample_geom *g)
{
    return (size_t)prod3(g->out_shape);
}

/* ------------------------------------------------------------------ per-axis tables */

/* scipy get_spline_interpolation_weights, order 3, verbatim. */
static void spline3_weights(double x, double w[4])
{
    double y, z;
    x -= floor(x);
    y = x;
    z = 1.0 - x;
    w[1] = (y * y * (y - 2.0) * 3.0 + 4.0) / 6.0;
    w[2] = (z * z * (z - 2.0) * 3.0 + 4.0) / 6.0;
    w[0] = z * z * z / 6.0;
    w[3] = 1.0;
    for (int i = 0; i < 3; i++)
        w[3] -= w[i];
}

static void axis_free(pf_rs_axis *a)
{
    if (a) {
        free(a->idx);
        free(a->w);
        free(a);
    }
}

/* kind: AX_SPLINE3 / AX_LINEAR / AX_ROUND = skimage resize (scipy zoom, grid_mode) of that
 * order; AX_NEAREST_Z = nnU-Net's map_coordinates(order=0) along the separate-z axis.
 * two_taps: single-tap kinds are stored as (i, i) with weights (1, 0), the form the
 * segmentation kernel reads. */
static pf_rs_axis *axis_new(int64_t n, int64_t m, int kind, int two_taps, pf_error *err)
{
    pf_rs_axis *a = pf_calloc(1, sizeof *a, err);
    int taps = kind == AX_SPLINE3 ? 4 : kind == AX_LINEAR ? 2 : 1;
    int st = two_taps && taps == 1 ? 2 : taps;
    /* zoom: zoom = input.shape / output_shape (float64); map: float(orig) / new */
    const double zoom = (double)n / (double)m;
    if (!a)
        return NULL;
    a->n = n;
    a->m = m;
    a->taps = st;
    a->pad = kind == AX_SPLINE3 ? NPAD : 0;
    a->idx = pf_calloc((size_t)m * (size_t)st, sizeof *a->idx, err);
    a->w = a->idx ? pf_calloc((size_t)m * (size_t)st, sizeof *a->w, err) : NULL;
    if (!a->w) {
        axis_free(a);
        return NULL;
    }
    for (int64_t o = 0; o < m; o++) {
        int64_t *ix = a->idx + o * st;
        double *w = a->w + o * st;
        double cc;
        if (kind == AX_NEAREST_Z) {
            /* map_rows = row_scale * (map_rows + 0.5) - 0.5; then cc = icoor + nprepad(0) */
            cc = zoom * ((double)o + 0.5) - 0.5;
            cc += 0.0;
        } else {
            /* NI_ZoomShift with grid_mode: cc += 0.5; cc *= zoom; cc -= 0.5; cc += nprepad */
            cc = (double)o;
            cc += 0.5;
            cc *= zoom;
            cc -= 0.5;
            cc += (double)a->pad;
        }
        /* mode 'nearest' in scipy 1.10 leaves cc unmapped and clamps each tap's index */
        if (kind == AX_SPLINE3) {
            int64_t start = (int64_t)floor(cc) - 1, len = n + 2 * NPAD;
            for (int k = 0; k < 4; k++)
                ix[k] = clamp64(start + k, 0, len - 1);
            spline3_weights(cc, w);
        } else if (kind == AX_LINEAR) {
            int64_t start = (int64_t)floor(cc);
            double x = cc - floor(cc);
            ix[0] = clamp64(start, 0, n - 1);
            ix[1] = clamp64(start + 1, 0, n - 1);
            w[0] = 1.0 - x;
            w[1] = 1.0;
            w[1] -= w[0];
        } else {
            /* even order: start = floor(cc + 0.5) */
            ix[0] = clamp64((int64_t)floor(cc + 0.5), 0, n - 1);
            w[0] = 1.0;
            if (st == 2) {
                ix[1] = ix[0];
                w[1] = 0.0;
            }
        }
    }
    return a;
}

/* ------------------------------------------------------------------ line passes */

/* Loads lines [l0, l0 + lines) of src into the tile b ((n + 2 pad) rows of TILE), the data at
 * rows pad .. pad + n - 1, edge copies above and below (np.pad mode 'edge'), every value
 * multiplied by `gain` (the prefilter's first operation, c[i] *= gain, done here to save a
 * pass: the same product of the same two doubles). Columns beyond `lines` are zero so the
 * whole tile stays finite. */
static void load_tile(const pf_rs_axis *ax, const rs_ref *src, int64_t l0, int lines,
                      double gain, double *b)
{
    const int64_t n = ax->n, pad = ax->pad;
    double *d = b + pad * TILE;
    if (lines < TILE)
        for (int64_t r = 0; r < n; r++)
            memset(d + r * TILE + lines, 0, (size_t)(TILE - lines) * sizeof *d);
    if (src->is_float) {
        const float *s = (const float *)src->base + l0 * src->lstride;
        if (src->lstride == 1) {
            /* neighbouring lines are neighbouring in memory: copy row pieces */
            for (int64_t r = 0; r < n; r++) {
                const float *restrict sr = s + r * src->astride;
                double *restrict dr = d + r * TILE;
                for (int j = 0; j < lines; j++)
                    dr[j] = (double)sr[j] * gain;
            }
        } else if (src->astride == 1) {
            /* lines are rows: transpose in blocks of 8 rows, which stay in L1 */
            for (int64_t r0 = 0; r0 < n; r0 += 8) {
                const int rn = n - r0 < 8 ? (int)(n - r0) : 8;
                for (int j = 0; j < lines; j++) {
                    const float *restrict sj = s + j * src->lstride + r0;
                    for (int k = 0; k < rn; k++)
                        d[(r0 + k) * TILE + j] = (double)sj[k] * gain;
                }
            }
        } else {
            for (int64_t r = 0; r < n; r++)
                for (int j = 0; j < lines; j++)
                    d[r * TILE + j] = (double)s[r * src->astride + j * src->lstride] * gain;
        }
    } else {
        const double *s = (const double *)src->base + l0 * src->lstride;
        if (src->lstride == 1) {
            for (int64_t r = 0; r < n; r++) {
                const double *restrict sr = s + r * src->astride;
                double *restrict dr = d + r * TILE;
                for (int j = 0; j < lines; j++)
                    dr[j] = sr[j] * gain;
            }
        } else if (src->astride == 1) {
            for (int64_t r0 = 0; r0 < n; r0 += 8) {
                const int rn = n - r0 < 8 ? (int)(n - r0) : 8;
                for (int j = 0; j < lines; j++) {
                    const double *restrict sj = s + j * src->lstride + r0;
                    for (int k = 0; k < rn; k++)
                        d[(r0 + k) * TILE + j] = sj[k] * gain;
                }
            }
        } else {
            for (int64_t r = 0; r < n; r++)
                for (int j = 0; j < lines; j++)
                    d[r * TILE + j] = s[r * src->astride + j * src->lstride] * gain;
        }
    }
    for (int64_t r = 0; r < pad; r++) {
        memcpy(b + r * TILE, d, TILE * sizeof *b);
        memcpy(d + (n + r) * TILE, d + (n - 1) * TILE, TILE * sizeof *b);
    }
}

/* scipy's order-3 spline prefilter (ni_splines.c apply_filter with the mirror initialisation
 * that mode 'nearest' selects) on each of the TILE columns of b, len rows, the gain already
 * applied by load_tile. The operations per element are scipy's, so each column gets scipy's
 * coefficients bit for bit. The running row
 * is kept in a local array so that the loops over columns vectorise (GCC's -O2 vectoriser
 * adds no aliasing checks). */
static void prefilter_tile(double *restrict b, int64_t len)
{
    const double z = POLE3;
    const double zn1 = pow(z, (double)(len - 1));
    double run[TILE], zi = z;
    double *restrict last = b + (len - 1) * TILE;

    /* _init_causal_mirror. Once z^i underflows to 0 every further term adds exactly 0. */
    for (int j = 0; j < TILE; j++)
        run[j] = b[j] + zn1 * last[j];
    for (int64_t i = 1; i < len - 1 && zi != 0.0; i++) {
        const double *restrict bi = b + i * TILE, *restrict bm = b + (len - 1 - i) * TILE;
        for (int j = 0; j < TILE; j++)
            run[j] += zi * (bi[j] + zn1 * bm[j]);
        zi *= z;
    }
    for (int j = 0; j < TILE; j++)
        b[j] = run[j] = run[j] / (1 - zn1 * zn1);
    /* causal pass: c[i] += z * c[i - 1] */
    for (int64_t i = 1; i < len; i++) {
        double *restrict bi = b + i * TILE;
        for (int j = 0; j < TILE; j++)
            bi[j] = run[j] = bi[j] + z * run[j];
    }
    /* _init_anticausal_mirror: c[n-1] = (z * c[n-2] + c[n-1]) * z / (z * z - 1) */
    {
        const double *restrict prev = b + (len - 2) * TILE;
        for (int j = 0; j < TILE; j++)
            last[j] = run[j] = (z * prev[j] + run[j]) * z / (z * z - 1);
    }
    /* anticausal pass: c[i] = z * (c[i + 1] - c[i]) */
    for (int64_t i = len - 2; i >= 0; i--) {
        double *restrict bi = b + i * TILE;
        for (int j = 0; j < TILE; j++)
            bi[j] = run[j] = z * (run[j] - bi[j]);
    }
}

/* e (m rows of TILE) = the tile evaluated at the axis's output positions. */
static void eval_tile(const pf_rs_axis *ax, const double *restrict b, double *restrict e)
{
    for (int64_t o = 0; o < ax->m; o++) {
        const int64_t *ix = ax->idx + o * ax->taps;
        const double *w = ax->w + o * ax->taps;
        double acc[TILE];
        if (ax->taps == 1) {
            memcpy(e + o * TILE, b + ix[0] * TILE, TILE * sizeof *e);   /* order 0: no multiply */
            continue;
        }
        for (int j = 0; j < TILE; j++)
            acc[j] = 0.0;
        for (int k = 0; k < ax->taps; k++) {
            const double *restrict bk = b + ix[k] * TILE;
            const double wk = w[k];
            for (int j = 0; j < TILE; j++)
                acc[j] += bk[j] * wk;
        }
        memcpy(e + o * TILE, acc, sizeof acc);
    }
}

/* Writes the tile's `lines` columns to dst; float destinations are clipped to clip[0..1]
 * first (skimage's _clip_warp_output, then the cast to float32 nnU-Net's array makes). */
static void store_tile(const pf_rs_axis *ax, const double *e, const rs_ref *dst, int64_t l0,
                       int lines, const double *clip)
{
    const int64_t m = ax->m;
    if (dst->is_float) {
        float *d = (float *)dst->base + l0 * dst->lstride;
        const double lo = clip[0], hi = clip[1];
        if (dst->lstride == 1) {
            for (int64_t o = 0; o < m; o++) {
                const double *restrict eo = e + o * TILE;
                float *restrict dr = d + o * dst->astride;
                for (int j = 0; j < lines; j++) {
                    double v = eo[j];
                    v = v < lo ? lo : v;
                    v = v > hi ? hi : v;
                    dr[j] = (float)v;
                }
            }
        } else {
            for (int64_t o = 0; o < m; o++)
                for (int j = 0; j < lines; j++) {
                    double v = e[o * TILE + j];
                    v = v < lo ? lo : v;
                    v = v > hi ? hi : v;
                    d[o * dst->astride + j * dst->lstride] = (float)v;
                }
        }
    } else {
        double *d = (double *)dst->base + l0 * dst->lstride;
        if (dst->lstride == 1) {
            for (int64_t o = 0; o < m; o++)
                memcpy(d + o * dst->astride, e + o * TILE, (size_t)lines * sizeof *d);
        } else if (dst->astride == 1) {
            for (int64_t o0 = 0; o0 < m; o0 += 8) {
                const int on = m - o0 < 8 ? (int)(m - o0) : 8;
                for (int j = 0; j < lines; j++) {
                    double *restrict dj = d + j * dst->lstride + o0;
                    for (int k = 0; k < on; k++)
                        dj[k] = e[(o0 + k) * TILE + j];
                }
            }
        } else {
            for (int64_t o = 0; o < m; o++)
                for (int j = 0; j < lines; j++)
                    d[o * dst->astride + j * dst->lstride] = e[o * TILE + j];
        }
    }
}

/* Resamples lines [l0, l0 + nlines) along ax. b: (n + 2 pad) * TILE, e: m * TILE doubles. */
static void pass_lines(const pf_rs_axis *ax, const rs_ref *src, const rs_ref *dst, int64_t l0,
                       int64_t nlines, double *b, double *e, const double *clip)
{
    /* _apply_filter_gain: gain *= (1 - z) * (1 - 1 / z); 1.0 when there is no prefilter */
    const double gain = ax->pad ? 1.0 * ((1.0 - POLE3) * (1.0 - 1.0 / POLE3)) : 1.0;
    for (int64_t t = 0; t < nlines; t += TILE) {
        int lines = nlines - t < TILE ? (int)(nlines - t) : TILE;
        load_tile(ax, src, l0 + t, lines, gain, b);
        if (ax->pad)
            prefilter_tile(b, ax->n + 2 * ax->pad);
        eval_tile(ax, b, e);
        store_tile(ax, e, dst, l0 + t, lines, clip);
    }
}

/* Scratch of one unit: the tile, its evaluation and an intermediate plane. */
typedef struct rs_scratch {
    double *b, *e, *mid;
} rs_scratch;

static int scratch_alloc(rs_scratch *s, int64_t nmax, int64_t mmax, size_t mid, pf_error *err)
{
    s->b = pf_calloc((size_t)(nmax + 2 * NPAD) * TILE, sizeof(double), err);
    s->e = s->b ? pf_calloc((size_t)mmax * TILE, sizeof(double), err) : NULL;
    s->mid = s->e && mid ? pf_calloc(mid, sizeof(double), err) : NULL;
    if (!s->e || (mid && !s->mid)) {
        free(s->b);
        free(s->e);
        return -1;
    }
    return 0;
}

static void scratch_free(rs_scratch *s)
{
    free(s->b);
    free(s->e);
    free(s->mid);
}

/* A plane of a volume: element (p, q) at base + p*ps + q*qs. */
typedef struct rs_plane {
    void *base;
    int is_float;
    int64_t ps, qs;
} rs_plane;

/* Resizes a plane in 2D: along its q axis (volume axis aq), then along its p axis (ap), axes
 * of unchanged length skipped (their resize is the identity up to rounding). dst gets
 * m_p x m_q values; float destinations are clipped. */
static int plane_2d(const pf_resample *r, int ap, int aq, const rs_plane *src,
                    const rs_plane *dst, const double *clip, pf_error *err)
{
    const pf_rs_axis *P = r->ax[ap], *Q = r->ax[aq];
    const int cp = r->changes[ap], cq = r->changes[aq];
    rs_scratch s = {0};
    rs_ref a, b;
    int64_t nmax = P->n > Q->n ? P->n : Q->n, mmax = P->m > Q->m ? P->m : Q->m;

    if (scratch_alloc(&s, nmax, mmax, cp && cq ? (size_t)P->n * (size_t)Q->m : 0, err))
        return -1;
    if (cq) {
        a = (rs_ref){src->base, src->is_float, src->qs, src->ps};
        if (cp)
            b = (rs_ref){s.mid, 0, 1, Q->m};
        else
            b = (rs_ref){dst->base, dst->is_float, dst->qs, dst->ps};
        pass_lines(Q, &a, &b, 0, P->n, s.b, s.e, clip);
    }
    if (cp) {
        if (cq)
            a = (rs_ref){s.mid, 0, Q->m, 1};
        else
            a = (rs_ref){src->base, src->is_float, src->ps, src->qs};
        b = (rs_ref){dst->base, dst->is_float, dst->ps, dst->qs};
        pass_lines(P, &a, &b, 0, Q->m, s.b, s.e, clip);
    }
    scratch_free(&s);
    return 0;
}

/* ------------------------------------------------------------------ units */

/* Copy of slice z (nothing changes). */
static void unit_copy(const pf_resample *r, int64_t z)
{
    const size_t n = (size_t)(r->g.in_shape[1] * r->g.in_shape[2]);
    if (!r->seg) {
        memcpy((float *)r->out + z * n, (const float *)r->in + z * n, n * sizeof(float));
    } else if (r->out_bytes == 2) {
        memcpy((int16_t *)r->out + z * n, (const int16_t *)r->in + z * n, n * sizeof(int16_t));
    } else {
        const int16_t *s = (const int16_t *)r->in + z * n;
        int8_t *d = (int8_t *)r->out + z * n;
        for (size_t i = 0; i < n; i++)
            d[i] = (int8_t)s[i];
    }
}

/* The in-plane (axes 1 and 2) passes of plane z: from the input (PLAN_XY_Z) or from tmp
 * (PLAN_Z_XY), to tmp or to the output. */
static int unit_xy(const pf_resample *r, int64_t z, pf_error *err)
{
    const pf_resample_geom *g = &r->g;
    const double clip[2] = {r->lo, r->hi};
    rs_plane src, dst;
    if (r->plan == PLAN_XY_Z) {
        src = (rs_plane){(float *)r->in + z * g->in_shape[1] * g->in_shape[2], 1,
                         g->in_shape[2], 1};
        if (r->changes[0])
            dst = (rs_plane){r->tmp + z * g->out_shape[1] * g->out_shape[2], 0,
                             g->out_shape[2], 1};
        else
            dst = (rs_plane){(float *)r->out + z * g->out_shape[1] * g->out_shape[2], 1,
                             g->out_shape[2], 1};
    } else {
        src = (rs_plane){r->tmp + z * g->in_shape[1] * g->in_shape[2], 0, g->in_shape[2], 1};
        dst = (rs_plane){(float *)r->out + z * g->out_shape[1] * g->out_shape[2], 1,
                         g->out_shape[2], 1};
    }
    return plane_2d(r, 1, 2, &src, &dst, clip, err);
}

/* The axis-0 pass over columns [c0, c1) of the plane (ny x nx of what it reads). */
static int unit_z(const pf_resample *r, int64_t c0, int64_t c1, pf_error *err)
{
    const pf_resample_geom *g = &r->g;
    const double clip[2] = {r->lo, r->hi};
    const pf_rs_axis *Z = r->ax[0];
    rs_scratch s = {0};
    rs_ref a, b;
    if (r->plan == PLAN_XY_Z) {
        const int64_t plane = g->out_shape[1] * g->out_shape[2];
        if (r->changes[1] || r->changes[2])
            a = (rs_ref){r->tmp, 0, plane, 1};
        else
            a = (rs_ref){(void *)r->in, 1, plane, 1};
        b = (rs_ref){r->out, 1, plane, 1};
    } else {
        const int64_t plane = g->in_shape[1] * g->in_shape[2];
        a = (rs_ref){(void *)r->in, 1, plane, 1};
        b = (rs_ref){r->tmp, 0, plane, 1};
    }
    if (scratch_alloc(&s, Z->n, Z->m, 0, err))
        return -1;
    pass_lines(Z, &a, &b, c0, c1 - c0, s.b, s.e, clip);
    scratch_free(&s);
    return 0;
}

/* Separate-z: plane s across axis a resized in 2D (clipped to its own range, as skimage
 * clips each 2D call), written to every output plane whose nearest source it is. */
static int unit_sepz(const pf_resample *r, int64_t s, pf_error *err)
{
    const pf_resample_geom *g = &r->g;
    const int a = g->axis, ap = a == 0 ? 1 : 0, aq = a == 2 ? 1 : 2;
    const int64_t ist[3] = {g->in_shape[1] * g->in_shape[2], g->in_shape[2], 1};
    const int64_t ost[3] = {g->out_shape[1] * g->out_shape[2], g->out_shape[2], 1};
    const int64_t np = g->in_shape[ap], nq = g->in_shape[aq];
    const int64_t mp = g->out_shape[ap], mq = g->out_shape[aq];
    const float *in = (const float *)r->in + s * ist[a];
    float *out = r->out, *first;
    double clip[2];
    rs_plane src, dst;

    if (r->scount[s] == 0)
        return 0;   /* no output plane takes this one */
    clip[0] = INFINITY;
    clip[1] = -INFINITY;
    for (int64_t p = 0; p < np; p++) {
        double lo, hi;
        if (ist[aq] == 1) {
            float_range(in + p * ist[ap], (size_t)nq, &lo, &hi);
        } else {
            lo = INFINITY;
            hi = -INFINITY;
            for (int64_t q = 0; q < nq; q++) {
                double v = in[p * ist[ap] + q * ist[aq]];
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
        }
        clip[0] = lo < clip[0] ? lo : clip[0];
        clip[1] = hi > clip[1] ? hi : clip[1];
    }
    first = out + r->sfirst[s] * ost[a];
    if (r->changes[ap] || r->changes[aq]) {
        src = (rs_plane){(void *)in, 1, ist[ap], ist[aq]};
        dst = (rs_plane){first, 1, ost[ap], ost[aq]};
        if (plane_2d(r, ap, aq, &src, &dst, clip, err))
            return -1;
    } else {
        for (int64_t p = 0; p < np; p++)
            for (int64_t q = 0; q < nq; q++)
                first[p * ost[ap] + q * ost[aq]] = in[p * ist[ap] + q * ist[aq]];
    }
    for (int64_t k = 1; k < r->scount[s]; k++) {
        float *d = first + k * ost[a];
        for (int64_t p = 0; p < mp; p++)
            for (int64_t q = 0; q < mq; q++)
                d[p * ost[ap] + q * ost[aq]] = first[p * ost[ap] + q * ost[aq]];
    }
    return 0;
}

/* Segmentation, output plane oz: every voxel from scipy's taps in scipy's order (axis 0
 * outermost), each label's indicator summed over its taps as scipy sums the 8 products
 * (taps of other labels add exact zeros), claimed at >= 0.5, the highest claiming label
 * winning (nnU-Net writes labels in ascending order). */
static void unit_seg(const pf_resample *r, int64_t oz)
{
    const pf_resample_geom *g = &r->g;
    const pf_rs_axis *Z = r->ax[0], *Y = r->ax[1], *X = r->ax[2];
    const int64_t sy = g->in_shape[2], sz = g->in_shape[1] * g->in_shape[2];
    const int64_t my = g->out_shape[1], mx = g->out_shape[2];
    const int16_t *in = r->in;
    const int64_t *iz = Z->idx + oz * 2;
    const double *wz = Z->w + oz * 2;
    int16_t *o16 = r->out_bytes == 2 ? (int16_t *)r->out + oz * my * mx : NULL;
    int8_t *o8 = r->out_bytes == 1 ? (int8_t *)r->out + oz * my * mx : NULL;

    for (int64_t oy = 0; oy < my; oy++) {
        const int64_t *iy = Y->idx + oy * 2;
        const double *wy = Y->w + oy * 2;
        const int16_t *row[4];
        double wzy[4];
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++) {
                row[a * 2 + b] = in + iz[a] * sz + iy[b] * sy;
                wzy[a * 2 + b] = 1.0 * wz[a] * wy[b];   /* coeff = 1.0; *= wz; *= wy */
            }
        for (int64_t ox = 0; ox < mx; ox++) {
            const int64_t *ix = X->idx + ox * 2;
            const double *wx = X->w + ox * 2;
            int16_t lab[8];
            int best = 0, claimed = 0, same = 1;
            for (int t = 0; t < 4; t++) {
                lab[2 * t] = row[t][ix[0]];
                lab[2 * t + 1] = row[t][ix[1]];
            }
            for (int k = 1; k < 8; k++)
                same &= lab[k] == lab[0];
            if (same) {
                best = lab[0];   /* its indicator sums the 8 weights, about 1 */
            } else {
                double c[8];
                for (int t = 0; t < 4; t++) {
                    c[2 * t] = wzy[t] * wx[0];
                    c[2 * t + 1] = wzy[t] * wx[1];
                }
                for (int k = 0; k < 8; k++) {
                    double acc = 0.0;
                    int seen = 0;
                    for (int q = 0; q < k; q++)
                        seen |= lab[q] == lab[k];
                    if (seen)
                        continue;
                    for (int q = k; q < 8; q++)
                        if (lab[q] == lab[k])
                            acc += c[q];
                    if (acc >= 0.5 && (!claimed || lab[k] > best)) {
                        best = lab[k];
                        claimed = 1;
                    }
                }
            }
            if (o16)
                o16[oy * mx + ox] = (int16_t)best;
            else
                o8[oy * mx + ox] = (int8_t)best;
        }
    }
}

int pf_resample_unit(void *arg, int unit, pf_error *err)
{
    pf_resample *r = arg;
    if (r->step < 0 || r->step >= r->nsteps || unit < 0 || unit >= r->units[r->step])
        return pf_fail(err, EINVAL, "resample: no unit %d in step %d", unit, r->step);
    switch (r->kind[r->step]) {
    case STEP_COPY:
        unit_copy(r, unit);
        return 0;
    case STEP_SEG:
        unit_seg(r, unit);
        return 0;
    case STEP_SEG_PLANES:
        /* separate-z along axis 0: output planes with one source plane are equal */
        if (r->scount[unit]) {
            const size_t plane = (size_t)(r->g.out_shape[1] * r->g.out_shape[2]) *
                                 (size_t)r->out_bytes;
            char *first = (char *)r->out + (size_t)r->sfirst[unit] * plane;
            unit_seg(r, r->sfirst[unit]);
            for (int64_t k = 1; k < r->scount[unit]; k++)
                memcpy(first + (size_t)k * plane, first, plane);
        }
        return 0;
    case STEP_SEPZ:
        return unit_sepz(r, unit, err);
    case STEP_XY:
        return unit_xy(r, unit, err);
    default: {
        const int64_t plane = r->plan == PLAN_XY_Z ? r->g.out_shape[1] * r->g.out_shape[2]
                                                   : r->g.in_shape[1] * r->g.in_shape[2];
        const int64_t c0 = (int64_t)unit * r->cols_per_unit, c1 = c0 + r->cols_per_unit;
        return unit_z(r, c0, c1 < plane ? c1 : plane, err);
    }
    }
}

int pf_resample_run(pf_resample *r, pf_error *err)
{
    for (r->step = 0; r->step < r->nsteps; r->step++)
        for (int u = 0; u < r->units[r->step]; u++)
            if (pf_resample_unit(r, u, err))
                return -1;
    return 0;
}

/* ------------------------------------------------------------------ set-up */

void pf_resample_end(pf_resample *r)
{
    for (int i = 0; i < 3; i++)
        axis_free(r->ax[i]);
    free(r->tmp);
    free(r->sfirst);
    free(r->scount);
    memset(r, 0, sizeof *r);
}

static int units_of(int64_t n, pf_error *err, int *out)
{
    if (n > INT32_MAX)
        return pf_fail(err, EFBIG, "resample: %" PRId64 " work units do not fit an int", n);
    *out = (int)n;
    return 0;
}

static int check_geom(const pf_resample_geom *g, pf_error *err)
{
    for (int i = 0; i < 3; i++)
        if (g->in_shape[i] < 1 || g->out_shape[i] < 1)
            return pf_fail(err, EINVAL, "resample: shape %" PRId64 "x%" PRId64 "x%" PRId64
                           " -> %" PRId64 "x%" PRId64 "x%" PRId64 " has an empty axis",
                           g->in_shape[0], g->in_shape[1], g->in_shape[2], g->out_shape[0],
                           g->out_shape[1], g->out_shape[2]);
    if (prod3_checked(g->in_shape) < 0 || prod3_checked(g->out_shape) < 0 ||
        prod3(g->in_shape) > ((int64_t)1 << 40) || prod3(g->out_shape) > ((int64_t)1 << 40))
        return pf_fail(err, EFBIG, "resample: shape %" PRId64 "x%" PRId64 "x%" PRId64
                       " -> %" PRId64 "x%" PRId64 "x%" PRId64 " is too large", g->in_shape[0],
                       g->in_shape[1], g->in_shape[2], g->out_shape[0], g->out_shape[1],
                       g->out_shape[2]);
    if (g->separate_z && (g->axis < 0 || g->axis > 2))
        return pf_fail(err, EINVAL, "resample: separate-z axis %d is not 0, 1 or 2", g->axis);
    return 0;
}

/* Output planes along the separate axis take source plane map[o] (map_coordinates order 0,
 * nondecreasing in o): sfirst/scount per source plane. */
static int sepz_ranges(pf_resample *r, pf_error *err)
{
    const pf_rs_axis *A = r->ax[r->g.axis];
    const int64_t n = A->n;
    r->sfirst = pf_calloc((size_t)n, sizeof *r->sfirst, err);
    r->scount = r->sfirst ? pf_calloc((size_t)n, sizeof *r->scount, err) : NULL;
    if (!r->scount)
        return -1;
    for (int64_t o = 0; o < A->m; o++) {
        int64_t s = A->idx[o * A->taps];
        if (r->scount[s]++ == 0)
            r->sfirst[s] = o;
        else if (r->sfirst[s] + r->scount[s] - 1 != o)
            return pf_fail(err, EINVAL, "resample: separate-z map is not monotone");
    }
    return 0;
}

static int begin_common(pf_resample *r, const pf_resample_geom *g, const void *in, void *out,
                        pf_error *err)
{
    memset(r, 0, sizeof *r);
    if (check_geom(g, err))
        return -1;
    if (!in || !out)
        return pf_fail(err, EINVAL, "resample: no input or output array");
    r->g = *g;
    r->in = in;
    r->out = out;
    for (int i = 0; i < 3; i++)
        r->changes[i] = g->in_shape[i] != g->out_shape[i];
    return 0;
}

static int begin_copy(pf_resample *r, pf_error *err)
{
    r->plan = PLAN_COPY;
    r->nsteps = 1;
    r->kind[0] = STEP_COPY;
    return units_of(r->g.in_shape[0], err, &r->units[0]);
}

int pf_resample_image_begin(pf_resample *r, const pf_resample_geom *g, int order, int order_z,
                            const float *in, float *out, pf_error *err)
{
    const int64_t *ns = g->in_shape, *ms = g->out_shape;
    size_t nin;
    if (begin_common(r, g, in, out, err))
        return -1;
    if (order != 0 && order != 1 && order != 3)
        return pf_fail(err, EINVAL, "resample: image order %d (0, 1 or 3 supported)", order);
    if (order_z != 0)
        return pf_fail(err, EINVAL, "resample: order_z %d (only 0, as nnU-Net's plans)", order_z);
    r->order = order;
    if (!pf_resample_geom_changes(g))
        return begin_copy(r, err);
    nin = (size_t)prod3(ns);
    if ((const char *)in < (const char *)out + pf_resample_out_voxels(g) * sizeof(float) &&
        (const char *)out < (const char *)in + nin * sizeof(float))
        return pf_fail(err, EINVAL, "resample: input and output overlap");

    for (int i = 0; i < 3; i++) {
        int kind = g->separate_z && i == g->axis ? AX_NEAREST_Z : order;
        if (!(r->ax[i] = axis_new(ns[i], ms[i], kind, 0, err))) {
            pf_resample_end(r);
            return -1;
        }
    }
    if (g->separate_z) {
        r->plan = PLAN_SEPZ;
        r->nsteps = 1;
        r->kind[0] = STEP_SEPZ;
        if (sepz_ranges(r, err) || units_of(ns[g->axis], err, &r->units[0])) {
            pf_resample_end(r);
            return -1;
        }
        return 0;
    }

    /* 3D: clip range of the whole channel (NaN ignored, as numpy's nanmin/nanmax) */
    float_range(in, nin, &r->lo, &r->hi);
    {
        const int xy = r->changes[1] || r->changes[2];
        /* Intermediate volume of each pass order; the smaller one wins. It is at most
         * max(input, output) voxels (t_xyz = out * nz / mz, t_zxy = in * mz / nz), so the
         * limits on those bound it too. */
        const int64_t t_xyz = mul3_sat(ns[0], ms[1], ms[2]), t_zxy = mul3_sat(ms[0], ns[1], ns[2]);
        const int z_first = xy && r->changes[0] && t_zxy < t_xyz;
        int64_t cols, tvox = 0;
        size_t bytes;
        r->plan = z_first ? PLAN_Z_XY : PLAN_XY_Z;
        r->cols_per_unit = COLS_PER_UNIT;
        if (xy && r->changes[0])
            tvox = z_first ? t_zxy : t_xyz;
        if (tvox) {
            if (!mul_ok((size_t)tvox, sizeof(double), &bytes)) {
                pf_resample_end(r);
                return pf_fail(err, EFBIG, "resample: intermediate volume of %" PRId64
                               " voxels for %" PRId64 "x%" PRId64 "x%" PRId64 " -> %" PRId64
                               "x%" PRId64 "x%" PRId64 " is too large", tvox, ns[0], ns[1],
                               ns[2], ms[0], ms[1], ms[2]);
            }
            if (!(r->tmp = pf_calloc((size_t)tvox, sizeof(double), err))) {
                pf_resample_end(r);
                return -1;
            }
        }
        r->nsteps = 0;
        cols = z_first ? ns[1] * ns[2] : ms[1] * ms[2];
        for (int k = 0; k < 2; k++) {
            /* Z_XY: axis-0 pass into tmp, then the planes; XY_Z: planes, then axis 0 */
            int z_step = z_first ? k == 0 : k == 1;
            if (z_step ? !r->changes[0] : !xy)
                continue;
            r->kind[r->nsteps] = z_step ? STEP_Z : STEP_XY;
            if (units_of(z_step ? (cols + COLS_PER_UNIT - 1) / COLS_PER_UNIT
                                : z_first ? ms[0] : ns[0],
                         err, &r->units[r->nsteps])) {
                pf_resample_end(r);
                return -1;
            }
            r->nsteps++;
        }
    }
    return 0;
}

int pf_resample_seg_begin(pf_resample *r, const pf_resample_geom *g, int order,
                          const int16_t *in, void *out, int out_bytes, pf_error *err)
{
    size_t nin;
    if (begin_common(r, g, in, out, err))
        return -1;
    if (order != 0 && order != 1)
        return pf_fail(err, EINVAL, "resample: segmentation order %d (0 or 1 supported)", order);
    if (out_bytes != 1 && out_bytes != 2)
        return pf_fail(err, EINVAL, "resample: segmentation output of %d bytes per voxel "
                       "(1 or 2 supported)", out_bytes);
    r->seg = 1;
    r->order = order;
    r->out_bytes = out_bytes;
    nin = (size_t)prod3(g->in_shape);
    if ((const char *)in < (const char *)out + pf_resample_out_voxels(g) * (size_t)out_bytes &&
        (const char *)out < (const char *)in + nin * sizeof(int16_t))
        return pf_fail(err, EINVAL, "resample: input and output overlap");
    if (out_bytes == 1)
        for (size_t i = 0; i < nin; i++)
            if (in[i] < INT8_MIN || in[i] > INT8_MAX)
                return pf_fail(err, ERANGE, "resample: label %d does not fit int8", in[i]);
    if (!pf_resample_geom_changes(g))
        return begin_copy(r, err);
    for (int i = 0; i < 3; i++) {
        int kind = g->separate_z && i == g->axis ? AX_NEAREST_Z : order;
        if (!(r->ax[i] = axis_new(g->in_shape[i], g->out_shape[i], kind, 1, err))) {
            pf_resample_end(r);
            return -1;
        }
    }
    r->plan = PLAN_SEG;
    r->nsteps = 1;
    r->kind[0] = g->separate_z && g->axis == 0 ? STEP_SEG_PLANES : STEP_SEG;
    if ((r->kind[0] == STEP_SEG_PLANES && sepz_ranges(r, err)) ||
        units_of(r->kind[0] == STEP_SEG_PLANES ? g->in_shape[0] : g->out_shape[0], err,
                 &r->units[0])) {
        pf_resample_end(r);
        return -1;
    }
    return 0;
}

int pf_resample_image(const pf_resample_geom *g, int order, int order_z, const float *in,
                      float *out, pf_error *err)
{
    pf_resample r;
    int rc;
    if (pf_resample_image_begin(&r, g, order, order_z, in, out, err))
        return -1;
    rc = pf_resample_run(&r, err);
    pf_resample_end(&r);
    return rc;
}

int pf_resample_seg(const pf_resample_geom *g, int order, const int16_t *in, void *out,
                    int out_bytes, pf_error *err)
{
    pf_resample r;
    int rc;
    if (pf_resample_seg_begin(&r, g, order, in, out, out_bytes, err))
        return -1;
    rc = pf_resample_run(&r, err);
    pf_resample_end(&r);
    return rc;
}
