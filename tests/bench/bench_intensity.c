/* bench_intensity.c - CPU time of each intensity transform on one sample, per vector path
 * (issue 17 item 4), for docs/performance.md.
 *
 *   bench_intensity [PATCH [CHANNELS [REPEATS [PATH]]]]     (default 128x128x128 2 9, every path)
 *
 * The input is a synthetic normalised image (a noisy ellipsoid, the background at its minimum,
 * like a z-scored MRI crop), the same every run. Each transform alone with the parameters of
 * bench_aug.c, then all of them in nnU-Net's order, is timed on a fresh copy of the input by
 * the thread's CPU clock; the median over REPEATS is printed in ms per sample, one row per
 * path the CPU supports (pf_simd_force), so the paths are compared in one run; PATH (scalar,
 * sse2, avx2) times that one only (for a profiler). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "augment.h"
#include "simd.h"

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void make_input(float *img, int C, const int P[3])
{
    uint64_t s = 0x9e3779b97f4a7c15ull;
    size_t i = 0;
    for (int c = 0; c < C; c++)
        for (int z = 0; z < P[0]; z++)
            for (int y = 0; y < P[1]; y++)
                for (int x = 0; x < P[2]; x++, i++) {
                    double dz = (z - P[0] / 2.0) / (P[0] * 0.45), dy = (y - P[1] / 2.0) / (P[1] * 0.4),
                           dx = (x - P[2] / 2.0) / (P[2] * 0.35), u;
                    s = s * 6364136223846793005ull + 1442695040888963407ull;
                    u = (double)(s >> 40) * 0x1p-24;
                    img[i] = dz * dz + dy * dy + dx * dx < 1.0 ? (float)(0.3 * c + 2.0 * u - 1.0) : -1.7f;
                }
}

enum { T_NOISE, T_BLUR, T_BRIGHT, T_CONTRAST, T_LOWRES, T_GAMMA_INV, T_GAMMA, T_ALL, T_COUNT };
static const char *const names[T_COUNT] = {"noise", "blur", "bright", "contrast", "lowres",
                                           "gamma_inv", "gamma", "all"};

static void params_for(int t, int C, pf_aug_params *p)
{
    memset(p, 0, sizeof *p);
    p->dims = 3;
    p->noise = t == T_NOISE || t == T_ALL, p->noise_sigma = 0.05, p->noise_key = 12345;
    p->bright = t == T_BRIGHT || t == T_ALL;
    p->contrast = t == T_CONTRAST || t == T_ALL;
    p->gamma_inv = t == T_GAMMA_INV || t == T_ALL;
    p->gamma = t == T_GAMMA || t == T_ALL;
    for (int c = 0; c < C; c++) {
        p->blur[c] = t == T_BLUR || t == T_ALL;
        p->blur_sigma[c][0] = p->blur_sigma[c][1] = p->blur_sigma[c][2] = 0.8;
        p->bright_f[c] = 1.1, p->contrast_f[c] = 0.9;
        p->lowres[c] = t == T_LOWRES || t == T_ALL, p->lowres_zoom[c] = 0.7;
        p->gamma_inv_g[c] = 1.2, p->gamma_g[c] = 0.8;
    }
}

int main(int argc, char **argv)
{
    int P[3] = {128, 128, 128}, C = argc > 2 ? atoi(argv[2]) : 2, reps = argc > 3 ? atoi(argv[3]) : 9;
    int lo = PF_SIMD_SCALAR, hi = (int)pf_simd_detect();
    size_t n;
    float *in, *img;
    double *t;
    if (argc > 1 && sscanf(argv[1], "%dx%dx%d", &P[0], &P[1], &P[2]) != 3) {
        fprintf(stderr, "usage: bench_intensity [PATCH [CHANNELS [REPEATS [PATH]]]]\n");
        return 2;
    }
    if (argc > 4)
        lo = hi = pf_simd_parse(argv[4]);
    if (C < 1 || C > PF_MAX_CHANNELS || reps < 1 || lo < 0 || hi > (int)pf_simd_detect()) {
        fprintf(stderr, "bench_intensity: bad channels, repeats or path\n");
        return 2;
    }
    n = (size_t)P[0] * (size_t)P[1] * (size_t)P[2] * (size_t)C;
    in = malloc(n * sizeof *in);
    img = malloc(n * sizeof *img);
    t = malloc((size_t)reps * sizeof *t);
    if (!in || !img || !t)
        return 1;
    make_input(in, C, P);
    printf("ms per sample (%dx%dx%d x %d ch, CPU time, median of %d)\n%-7s", P[0], P[1], P[2], C,
           reps, "path");
    for (int k = 0; k < T_COUNT; k++)
        printf(" %9s", names[k]);
    printf("\n");
    for (int level = lo; level <= hi; level++) {
        pf_simd_force((pf_simd_level)level);
        printf("%-7s", pf_simd_name((pf_simd_level)level));
        for (int k = 0; k < T_COUNT; k++) {
            pf_aug_params p;
            params_for(k, C, &p);
            for (int r = 0; r < reps; r++) {
                double t0;
                memcpy(img, in, n * sizeof *img);
                t0 = cpu_now();
                if (pf_aug_intensity(&p, C, P, img) != 0)
                    return 1;
                t[r] = cpu_now() - t0;
            }
            qsort(t, (size_t)reps, sizeof *t, cmp_double);
            printf(" %9.2f", t[reps / 2] * 1e3);
            fflush(stdout);
        }
        printf("\n");
    }
    free(in);
    free(img);
    free(t);
    return 0;
}
