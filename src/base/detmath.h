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

#include <stdint.h>

double pf_exp(double x);
double pf_sin(double x);
double pf_cos(double x);

#define PF_PI 3.14159265358979323846

/* The nearest-exact index map: the source index of output index o when n_in samples are
 * resized to n_out, floor((o + 0.5) * n_in / n_out), in integers so it is exact. The one rule
 * every downsampling here uses (deep-supervision targets, low-resolution simulation, nearest
 * resampling along a coarse axis). */
static inline int64_t pf_nearest_exact(int64_t o, int64_t n_in, int64_t n_out)
{
    return (2 * o + 1) * n_in / (2 * n_out);
}

#endif
