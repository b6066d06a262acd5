/* order.c - medians, percentiles and lower-bound search (see order.h). */
#include "order.h"

#include <math.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double pf_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

double pf_np_quantile_gamma(uint64_t n, double q, uint64_t *k)
{
    /* numpy: virtual index (n - 1) * (q / 100), its floor, and the fraction */
    double v = (double)(n - 1) * (q / 100.0), f = floor(v);
    *k = (uint64_t)f;
    return v - f;
}

double pf_np_lerp_f32(float a, float b, double gamma)
{
    const float d = b - a;
    return gamma >= 0.5 ? (double)b - (double)d * (1.0 - gamma) : (double)a + (double)d * gamma;
}


size_t pf_lower_bound(const void *key, const void *base, size_t n, size_t size,
                      int (*cmp)(const void *key, const void *elem))
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp(key, (const char *)base + mid * size) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
