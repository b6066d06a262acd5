/* restore_stream_kernels.h - the streaming export's arithmetic loops (see restore_stream.h),
 * included twice by restore_stream.c: once for the baseline ISA and once with AVX2 as the
 * target (x86-64), chosen at run time by pf_simd_active(). No include guard, on purpose: the
 * includer defines KERNEL(name) (a suffixed name) and KERNEL_ATTR (a target attribute or
 * nothing) and a lin_axis type first.
 *
 * The loops run over independent elements, each element's operations those of the scalar
 * code in the same order (the project builds with -ffp-contract=off and no fast-math, and
 * the target adds no FMA): every path gives the same bits. restore_stream.c is built with
 * the vectoriser's dynamic cost model (Makefile) so that these loops become vector code. */

/* Clipped to [lo, hi] (skimage's _clip_warp_output) and stored as float32 (nnU-Net's array):
 * the last step of every pass that writes an output plane. */
KERNEL_ATTR static inline float KERNEL(clip_float)(double x, double lo, double hi)
{
    x = x < lo ? lo : x;
    x = x > hi ? hi : x;
    return (float)x;
}

/* nrows rows of T (r, rows rs apart) along X into out (rows os apart), four rows at a time so
 * that each output's taps and weights are loaded once for four rows. */
#define PASS_X_BODY(T)                                                                        \
    do {                                                                                      \
        int y = 0;                                                                            \
        for (; y + 4 <= nrows; y += 4) {                                                      \
            const T *restrict q0 = r + y * rs, *restrict q1 = q0 + rs, *restrict q2 = q1 + rs, \
                              *restrict q3 = q2 + rs;                                         \
            double *restrict d0 = out + y * os, *restrict d1 = d0 + os, *restrict d2 = d1 + os, \
                             *restrict d3 = d2 + os;                                          \
            for (int64_t j = 0; j < X->m; j++) {                                              \
                const int64_t i0 = X->i0[j], i1 = X->i1[j];                                   \
                const double w0 = X->w0[j], w1 = X->w1[j];                                    \
                double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;                                \
                a0 += (double)q0[i0] * w0;                                                    \
                a1 += (double)q1[i0] * w0;                                                    \
                a2 += (double)q2[i0] * w0;                                                    \
                a3 += (double)q3[i0] * w0;                                                    \
                a0 += (double)q0[i1] * w1;                                                    \
                a1 += (double)q1[i1] * w1;                                                    \
                a2 += (double)q2[i1] * w1;                                                    \
                a3 += (double)q3[i1] * w1;                                                    \
                d0[j] = a0;                                                                   \
                d1[j] = a1;                                                                   \
                d2[j] = a2;                                                                   \
                d3[j] = a3;                                                                   \
            }                                                                                 \
        }                                                                                     \
        for (; y < nrows; y++) {                                                              \
            const T *restrict q = r + y * rs;                                                 \
            double *restrict d = out + y * os;                                                \
            for (int64_t j = 0; j < X->m; j++) {                                              \
                double a = 0.0;                                                               \
                a += (double)q[X->i0[j]] * X->w0[j];                                          \
                a += (double)q[X->i1[j]] * X->w1[j];                                          \
                d[j] = a;                                                                     \
            }                                                                                 \
        }                                                                                     \
    } while (0)

KERNEL_ATTR static void KERNEL(pass_x)(const lin_axis *X, const double *r, int64_t rs,
                                       int nrows, double *out, int64_t os)
{
    PASS_X_BODY(double);
}

/* The same from float32 rows (the prediction's), widened exactly. */
KERNEL_ATTR static void KERNEL(pass_x_float)(const lin_axis *X, const float *r, int64_t rs,
                                             int nrows, double *out, int64_t os)
{
    PASS_X_BODY(float);
}
#undef PASS_X_BODY

/* dst (Y->m rows of w) = src (Y->n rows of w) along Y. */
KERNEL_ATTR static void KERNEL(pass_y)(const lin_axis *Y, const double *src, int64_t w,
                                       double *restrict dst)
{
    for (int64_t o = 0; o < Y->m; o++) {
        const double *restrict a0 = src + Y->i0[o] * w, *restrict a1 = src + Y->i1[o] * w;
        const double w0 = Y->w0[o], w1 = Y->w1[o];
        double *restrict d = dst + o * w;
        for (int64_t x = 0; x < w; x++) {
            double a = 0.0;
            a += a0[x] * w0;
            a += a1[x] * w1;
            d[x] = a;
        }
    }
}

/* pass_y whose results are clipped and stored as float32. */
KERNEL_ATTR static void KERNEL(pass_y_clip)(const lin_axis *Y, const double *src, int64_t w,
                                            double lo, double hi, float *restrict dst)
{
    for (int64_t o = 0; o < Y->m; o++) {
        const double *restrict a0 = src + Y->i0[o] * w, *restrict a1 = src + Y->i1[o] * w;
        const double w0 = Y->w0[o], w1 = Y->w1[o];
        float *restrict d = dst + o * w;
        for (int64_t x = 0; x < w; x++) {
            double a = 0.0;
            a += a0[x] * w0;
            a += a1[x] * w1;
            d[x] = KERNEL(clip_float)(a, lo, hi);
        }
    }
}

/* Two planes of doubles combined along axis 0, clipped, stored as float32. */
KERNEL_ATTR static void KERNEL(pass_z_clip)(const double *restrict p0, const double *restrict p1,
                                            double w0, double w1, size_t n, double lo,
                                            double hi, float *restrict dst)
{
    for (size_t v = 0; v < n; v++) {
        double a = 0.0;
        a += p0[v] * w0;
        a += p1[v] * w1;
        dst[v] = KERNEL(clip_float)(a, lo, hi);
    }
}

/* Two rows of the prediction (float32) combined along axis 0 into doubles. */
KERNEL_ATTR static void KERNEL(pass_z_float)(const float *restrict r0, const float *restrict r1,
                                             double w0, double w1, size_t n,
                                             double *restrict out)
{
    for (size_t x = 0; x < n; x++) {
        double a = 0.0;
        a += (double)r0[x] * w0;
        a += (double)r1[x] * w1;
        out[x] = a;
    }
}

KERNEL_ATTR static void KERNEL(clip_plane)(const double *restrict v, size_t n, double lo,
                                           double hi, float *restrict dst)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = KERNEL(clip_float)(v[i], lo, hi);
}

/* The table restore_stream.c dispatches through. */
static const stream_kernels KERNEL(kernels) = {
    KERNEL(pass_x), KERNEL(pass_x_float), KERNEL(pass_y), KERNEL(pass_y_clip),
    KERNEL(pass_z_clip), KERNEL(pass_z_float), KERNEL(clip_plane),
};
