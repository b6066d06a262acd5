/* pyjson.h - numbers and text written as Python writes them, for files nnU-Net's tools
 * read and compare (summary.json): floats as repr() (the shortest digits that read back to
 * the same double, "1e-05", "0.5", "1.0"), NaN as NaN, strings as json.dumps escapes them
 * (ensure_ascii), and numpy's mean (pairwise summation) so means agree to the last bit. */
#ifndef PATCHFS_PYJSON_H
#define PATCHFS_PYJSON_H

#include <stddef.h>

#include "textbuf.h"

/* repr(x) into buf (at least 32 bytes). */
void pf_py_float_repr(double x, char *buf, size_t cap);
/* A JSON string literal of s (quotes included), as json.dumps(s). */
void pf_py_json_string(pf_textbuf *t, const char *s);
/* numpy's sum of a contiguous float64 array (add.reduce: pairwise in blocks of 8). */
double pf_numpy_sum(const double *a, size_t n);
/* np.nanmean(a): the mean of the values that are not NaN; NaN when there are none. */
double pf_numpy_nanmean(const double *a, size_t n);

#endif
