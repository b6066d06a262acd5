/* half.h - float32 -> IEEE 754 binary16 (float16), rounded to nearest, ties to even.
 *
 * dtype=float16 serves image arrays as half floats. The conversion is integer arithmetic on
 * the float's bits (plus one float addition for subnormal results, exact under the default
 * rounding mode), so every machine and compiler gives the same bytes; where the CPU has F16C
 * the hardware conversion (VCVTPS2PH, round to nearest even) is used, which gives the very
 * same bits: finite values and infinities as IEEE rounds them, NaN quietened with its sign and
 * the top ten payload bits kept (the software path does the same). The unit test checks both
 * paths against each other, and the integration test against numpy's astype(float16). */
#ifndef PATCHFS_HALF_H
#define PATCHFS_HALF_H

#include <stddef.h>
#include <stdint.h>

uint16_t pf_half_from_float(float f);

/* dst[i] = pf_half_from_float(src[i]) for i < n (the fastest path the CPU has). */
void pf_half_from_floats(uint16_t *dst, const float *src, size_t n);

/* The portable path alone (for the unit test's comparison). */
void pf_half_from_floats_portable(uint16_t *dst, const float *src, size_t n);

#endif
