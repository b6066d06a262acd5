/* detmath.h - exp, log, sin, cos and pow built from IEEE arithmetic alone.
 *
 * libm's transcendental functions are not required to be correctly rounded, and different
 * libm versions differ in the last bit. Augmented batches must be the same bytes on every
 * machine, so every transcendental value that reaches served data goes through these
 * functions instead: range reduction plus fixed polynomials, evaluated without fused
 * multiply-add (-ffp-contract=off), give the same double on every IEEE-754 host. Accuracy is
 * about 1e-15 relative, far below float32 resolution. */
#ifndef PATCHFS_DETMATH_H
#define PATCHFS_DETMATH_H

double pf_exp(double x);
double pf_log(double x);      /* x > 0 */
double pf_sin(double x);
double pf_cos(double x);
double pf_pow(double x, double y); /* x >= 0; through the fast versions below */

/* Table-driven versions for per-voxel work: 256-entry tables built once (pf_detmath_init,
 * which every user calls before a loop) from the series above - pure arithmetic, so the
 * tables are the same everywhere - then short polynomials on a tiny remainder. About 1e-15
 * relative error. Inline so that per-voxel loops pay no call. */
#include <stdint.h>

#define PF_DETMATH_TBITS 8
#define PF_DETMATH_TSIZE (1 << PF_DETMATH_TBITS)
extern double pf_exp_tab[PF_DETMATH_TSIZE];   /* 2^(j/256) */
extern double pf_log_c[PF_DETMATH_TSIZE], pf_log_inv[PF_DETMATH_TSIZE], pf_log_tab[PF_DETMATH_TSIZE];

void pf_detmath_init(void);
extern int pf_detmath_ready; /* set (once, under pthread_once) when the tables are built */

static inline double pf_pow2i(int64_t e) /* 2^e for normal results: exponent bits only */
{
    union { uint64_t u; double d; } b;
    b.u = (uint64_t)(e + 1023) << 52;
    return b.d;
}

/* x = (256 k + j) ln2/256 + r, |r| <= ln2/512: exp(r) to degree 5 */
static inline double pf_exp_fast(double x)
{
    const double step = 0.69314718055994530942 / PF_DETMATH_TSIZE;
    const double inv = PF_DETMATH_TSIZE / 0.69314718055994530942;
    double t, r, p;
    int64_t n;
    if (!(x > -700.0 && x < 700.0))
        return pf_exp(x);
    if (!__atomic_load_n(&pf_detmath_ready, __ATOMIC_ACQUIRE))
        pf_detmath_init();
    t = x * inv + 0.5;
    n = (int64_t)t;
    if ((double)n > t) /* floor for negative t */
        n--;
    r = x - (double)n * step;
    p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120)))));
    return pf_exp_tab[n & (PF_DETMATH_TSIZE - 1)] * p * pf_pow2i(n >> PF_DETMATH_TBITS);
}

/* x = m 2^e, m in [1, 2): log(m) = log(c_j) + log1p(m / c_j - 1), |m / c_j - 1| < 1/512 */
static inline double pf_log_fast(double x)
{
    union { uint64_t u; double d; } b;
    int64_t e;
    int j;
    double r;
    b.d = x;
    e = (int64_t)((b.u >> 52) & 0x7ff);
    if (!(x > 0.0) || e == 0 || e == 0x7ff)
        return pf_log(x); /* zero, negative, subnormal, infinite, NaN */
    if (!__atomic_load_n(&pf_detmath_ready, __ATOMIC_ACQUIRE))
        pf_detmath_init();
    j = (int)((b.u >> (52 - PF_DETMATH_TBITS)) & (PF_DETMATH_TSIZE - 1));
    b.u = (b.u & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
    r = (b.d - pf_log_c[j]) * pf_log_inv[j];
    return pf_log_tab[j] + r * (1.0 + r * (-0.5 + r * (1.0 / 3 + r * (-0.25 + r * 0.2)))) +
           (double)(e - 1023) * 0.69314718055994530942;
}

#define PF_PI 3.14159265358979323846

#endif
