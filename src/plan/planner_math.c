/* planner_math.c - Python's and numpy's arithmetic as nnU-Net's planner uses it: round()
 * half to even, np.percentile (linear) and np.prod in numpy's order of operations, so that
 * the planner's results are bit-identical to nnU-Net's (np.median is base/order.c's
 * pf_median). */
#include "planner_i.h"

#include <math.h>
#include <stdlib.h>

double pf_plan_round_half_even(double x)
{
    /* x - floor(x) is exact, so the tie test is exact; independent of the FPU rounding mode. */
    double f = floor(x), d = x - f;
    if (d > 0.5)
        return f + 1.0;
    if (d < 0.5)
        return f;
    return fmod(f, 2.0) == 0.0 ? f : f + 1.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy's lerp: a + (b-a)*t, or b - (b-a)*(1-t) where t >= 0.5 (function_base._lerp). */
static double np_lerp(double a, double b, double t)
{
    double diff = b - a;
    if (t >= 0.5)
        return b - diff * (1.0 - t);
    return a + diff * t;
}

double pf_plan_percentile(double *v, int n, double q)
{
    /* np.percentile(method="linear"): q/100, virtual index (n-1)*q, floor/next neighbours, both
     * the last element at or past the end, gamma = index - previous (previous is -1 there). */
    double quant = q / 100.0, vi, prev;
    int ip, in;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    vi = (double)(n - 1) * quant;
    prev = floor(vi);
    if (vi >= (double)(n - 1)) {
        ip = in = n - 1;
        prev = -1.0;
    } else if (vi < 0) {
        ip = in = 0;
        prev = 0.0;
    } else {
        ip = (int)prev;
        in = ip + 1;
    }
    return np_lerp(v[ip], v[in], vi - prev);
}

double pf_plan_np_prod(const double *x, int n)
{
    double p = x[0];
    for (int i = 1; i < n; i++)
        p *= x[i];
    return p;
}

int64_t pf_plan_prod_i64(const int64_t *x, int n)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++)
        p *= x[i];
    return p;
}
