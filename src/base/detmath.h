/* detmath.h - exp, sin and cos in double, built from IEEE arithmetic alone.
 *
 * libm's transcendental functions are not required to be correctly rounded, and different
 * libm versions differ in the last bit. Augmented batches must be the same bytes on every
 * machine, so every transcendental value that shapes served data (rotation matrices, blur
 * kernels) goes through these functions instead: range reduction plus fixed polynomials,
 * evaluated without fused multiply-add (-ffp-contract=off), give the same double on every
 * IEEE-754 host. Accuracy is about 1e-15 relative. Per-voxel work uses the float versions
 * in vecmath.h. */
#ifndef PATCHFS_DETMATH_H
#define PATCHFS_DETMATH_H

double pf_exp(double x);
double pf_sin(double x);
double pf_cos(double x);

#define PF_PI 3.14159265358979323846

#endif
