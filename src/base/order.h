/* order.h - order statistics and searches over sorted arrays, written once: the median used for
 * default patch sizes and the use-mask rule, numpy's linear percentile, and the lower-bound
 * search every sorted table (case ids, class rows, labels) is looked up with. */
#ifndef PATCHFS_ORDER_H
#define PATCHFS_ORDER_H

#include <stddef.h>
#include <stdint.h>

/* Median of v[0..n) as numpy computes it (mean of the middle two for even n); sorts v. n > 0. */
double pf_median(double *v, int n);

/* The two halves of numpy.percentile(x, q) ("linear") over n sorted values: the lower index k
 * and the weight gamma of q (in [0, 100]) ... */
double pf_np_quantile_gamma(uint64_t n, double q, uint64_t *k);
/* ... and numpy's lerp between x[k] = a and x[k + 1] = b (b = a when k + 1 == n): for float32
 * values numpy takes b - a in float32, then a + d * gamma, or b - d * (1 - gamma) from
 * gamma = 0.5 on. */
double pf_np_lerp_f32(float a, float b, double gamma);

/* The first index i in [0, n) whose element does not compare below key (cmp(key, elem) <= 0),
 * n when none: elements are size bytes apart, ascending under cmp. */
size_t pf_lower_bound(const void *key, const void *base, size_t n, size_t size,
                      int (*cmp)(const void *key, const void *elem));

#endif
