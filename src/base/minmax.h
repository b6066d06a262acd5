/* minmax.h - the smallest and largest of n floats, the one scan the resampler (the range a
 * line's values are clipped to) and the prediction reader (a plane's range, and whether it
 * holds a NaN or an infinity) share.
 *
 * NaN is never taken (v < lo is false for it: skimage's nanmin / nanmax); n = 0 gives
 * lo = +inf, hi = -inf. Eight independent lanes, branch-free, so the compiler vectorises the
 * loop; min and max are exact, so the split into lanes changes no result. Inline: a caller
 * that ignores the finiteness flag pays nothing for it. */
#ifndef PATCHFS_MINMAX_H
#define PATCHFS_MINMAX_H

#include <math.h>
#include <stddef.h>

/* Sets *lo and *hi; returns 1 when some value is NaN or infinite (|x| <= FLT_MAX is false
 * for both), else 0. */
static inline int pf_float_minmax(const float *x, size_t n, float *lo, float *hi)
{
    float l[8], h[8];
    int bad[8] = {0};
    size_t i = 0;
    for (int k = 0; k < 8; k++) {
        l[k] = INFINITY;
        h[k] = -INFINITY;
    }
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            const float v = x[i + k];
            l[k] = v < l[k] ? v : l[k];
            h[k] = v > h[k] ? v : h[k];
            bad[k] |= !(fabsf(v) <= 3.40282347e38f);
        }
    for (; i < n; i++) {
        l[0] = x[i] < l[0] ? x[i] : l[0];
        h[0] = x[i] > h[0] ? x[i] : h[0];
        bad[0] |= !(fabsf(x[i]) <= 3.40282347e38f);
    }
    for (int k = 1; k < 8; k++) {
        l[0] = l[k] < l[0] ? l[k] : l[0];
        h[0] = h[k] > h[0] ? h[k] : h[0];
        bad[0] |= bad[k];
    }
    *lo = l[0];
    *hi = h[0];
    return bad[0];
}

#endif
