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
double pf_pow(double x, double y); /* x >= 0 */

#define PF_PI 3.14159265358979323846

#endif
