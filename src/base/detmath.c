/* detmath.c - deterministic exp, sin and cos in double (see detmath.h for why). */
#include "detmath.h"

#include <math.h>
#include <stdint.h>

/* exp: x = k ln2 + r, |r| <= ln2/2, exp(r) by a degree-13 Taylor polynomial (error < 1e-16
 * relative on that interval), scaled by 2^k with ldexp (exact). */
double pf_exp(double x)
{
    static const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    double k, r, p;
    if (x > 709.0)
        return INFINITY;
    if (x < -745.0)
        return 0.0;
    k = floor(x / 0.69314718055994530942 + 0.5);
    r = (x - k * ln2_hi) - k * ln2_lo;
    p = 1.0 / 6227020800.0;                 /* 1/13! */
    p = p * r + 1.0 / 479001600.0;          /* 1/12! */
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    return ldexp(p, (int)k);
}

/* sin/cos: reduce to [-pi/4, pi/4] by multiples of pi/2 (Cody-Waite, three-part pi/2), then
 * Taylor polynomials. Arguments here are angles of a few turns at most. */
static void sincos_reduced(double x, double *s, double *c)
{
    static const double p1 = 1.57079632673412561417e+00, p2 = 6.07710050650619224932e-11,
                        p3 = 2.02226624879595063154e-21;
    double k = floor(x / 1.57079632679489661923 + 0.5), r = ((x - k * p1) - k * p2) - k * p3;
    double r2 = r * r, sn, cs;
    long q = (long)k;
    sn = r * (1.0 + r2 * (-1.0 / 6 + r2 * (1.0 / 120 + r2 * (-1.0 / 5040 + r2 * (1.0 / 362880 +
             r2 * (-1.0 / 39916800 + r2 * (1.0 / 6227020800.0 + r2 * (-1.0 / 1307674368000.0))))))));
    cs = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24 + r2 * (-1.0 / 720 + r2 * (1.0 / 40320 +
             r2 * (-1.0 / 3628800 + r2 * (1.0 / 479001600 + r2 * (-1.0 / 87178291200.0)))))));
    switch (((q % 4) + 4) % 4) {
    case 0: *s = sn; *c = cs; break;
    case 1: *s = cs; *c = -sn; break;
    case 2: *s = -sn; *c = -cs; break;
    default: *s = -cs; *c = sn; break;
    }
}

double pf_sin(double x)
{
    double s, c;
    sincos_reduced(x, &s, &c);
    return s;
}

double pf_cos(double x)
{
    double s, c;
    sincos_reduced(x, &s, &c);
    return c;
}
