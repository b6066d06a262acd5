/* resample_lines.c - the image's separable passes: lines of a volume resampled along one
 * axis in tiles of TILE lines side by side (loaded with scipy's edge padding, prefiltered with
 * scipy's order-3 spline filter, evaluated at the axis table's taps, clipped and stored), and
 * a plane resized in 2D by two such passes. A tensor-product spline on a separable coordinate
 * map equals these 1D passes axis by axis; per line the prefilter coefficients are bitwise
 * scipy's (ni_splines.c). */
#include "resample_i.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Lines filtered side by side: the recursions along an axis run on TILE independent lines at
 * once, so they vectorise and no line waits on the latency of its own recursion. */
#define TILE 32

/* scipy ni_splines.c get_filter_poles, order 3: sqrt(3) - 2. */
static const double POLE3 = -0.267949192431122706472553658494127633;

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
    /* the data rows from a source of element type T (float or double, a double converted to
     * itself) */
#define LOAD_ROWS(T)                                                                          \
    do {                                                                                      \
        const T *s = (const T *)src->base + l0 * src->lstride;                                \
        if (src->lstride == 1) {                                                              \
            /* neighbouring lines are neighbouring in memory: copy row pieces */              \
            for (int64_t r = 0; r < n; r++) {                                                 \
                const T *restrict sr = s + r * src->astride;                                  \
                double *restrict dr = d + r * TILE;                                           \
                for (int j = 0; j < lines; j++)                                               \
                    dr[j] = (double)sr[j] * gain;                                             \
            }                                                                                 \
        } else if (src->astride == 1) {                                                       \
            /* lines are rows: transpose in blocks of 8 rows, which stay in L1 */             \
            for (int64_t r0 = 0; r0 < n; r0 += 8) {                                           \
                const int rn = n - r0 < 8 ? (int)(n - r0) : 8;                                \
                for (int j = 0; j < lines; j++) {                                             \
                    const T *restrict sj = s + j * src->lstride + r0;                         \
                    for (int k = 0; k < rn; k++)                                              \
                        d[(r0 + k) * TILE + j] = (double)sj[k] * gain;                        \
                }                                                                             \
            }                                                                                 \
        } else {                                                                              \
            for (int64_t r = 0; r < n; r++)                                                   \
                for (int j = 0; j < lines; j++)                                               \
                    d[r * TILE + j] = (double)s[r * src->astride + j * src->lstride] * gain;  \
        }                                                                                     \
    } while (0)
    if (src->is_float)
        LOAD_ROWS(float);
    else
        LOAD_ROWS(double);
#undef LOAD_ROWS
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

int pf_rs_lines(const pf_rs_axis *ax, const rs_ref *src, const rs_ref *dst, int64_t l0,
                int64_t nlines, const double *clip, pf_error *err)
{
    rs_scratch s = {0};
    if (scratch_alloc(&s, ax->n, ax->m, 0, err))
        return -1;
    pass_lines(ax, src, dst, l0, nlines, s.b, s.e, clip);
    scratch_free(&s);
    return 0;
}

/* Along the plane's q axis (volume axis aq), then along its p axis (ap), axes of unchanged
 * length skipped (their resize is the identity up to rounding). */
int pf_rs_plane_2d(const pf_resample *r, int ap, int aq, const rs_plane *src,
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
