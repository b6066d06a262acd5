/* bench_intensity.c - CPU time of each intensity transform on one sample, per vector path
 * (issue 17 item 4), for docs/performance.md.
 *
 *   bench_intensity [PATCH [CHANNELS [REPEATS [PATH]]]]     (default 128x128x128 2 9, every path)
 *   bench_intensity -d DATASET [-o OPTIONS] [PATCH [REPEATS [PATH]]]
 *
 * The input is a synthetic normalised image (a noisy ellipsoid, the background at its minimum,
 * like a z-scored MRI crop), the same every run; with -d, the normalised crop at the centre of
 * the dataset's first case (as bench_aug.c takes it), and three more columns: the spatial
 * transform (image and seg, rotated and scaled as in bench_aug.c), mirroring, and the whole
 * worst-case sample (spatial + every intensity transform + mirroring, bench_aug's pipeline).
 * Each transform alone with the parameters of bench_aug.c, then all of them in nnU-Net's
 * order, is timed on a fresh copy of the input by
 * the thread's CPU clock; the median over REPEATS is printed in ms per sample, one row per
 * path the CPU supports (pf_simd_force), so the paths are compared in one run; PATH (scalar,
 * sse2, avx2) times that one only (for a profiler). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "augment.h"
#include "context_i.h"
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

enum { T_NOISE, T_BLUR, T_BRIGHT, T_CONTRAST, T_LOWRES, T_GAMMA_INV, T_GAMMA, T_ALL, T_SPATIAL,
       T_MIRROR, T_SAMPLE, T_COUNT };
static const char *const names[T_COUNT] = {"noise", "blur", "bright", "contrast", "lowres",
                                           "gamma_inv", "gamma", "all", "spatial", "mirror",
                                           "sample"};

/* the dataset's first case, for -d */
typedef struct real_case {
    pf_ctx *ctx;
    pf_case *c;
    int64_t start[3];
    int16_t *seg;
} real_case;

static void params_for(int t, int C, pf_aug_params *p)
{
    memset(p, 0, sizeof *p);
    const int all = t == T_ALL || t == T_SAMPLE;
    p->dims = 3;
    if (t == T_SPATIAL || t == T_SAMPLE) {
        p->rotate = 1;
        p->angle[0] = 0.35, p->angle[1] = 0.17, p->angle[2] = -0.26;
        p->scale_on = 1;
        p->scale = 1.1;
    }
    p->mirror[0] = p->mirror[1] = p->mirror[2] = t == T_MIRROR || t == T_SAMPLE;
    p->noise = t == T_NOISE || all, p->noise_sigma = 0.05, p->noise_key = 12345;
    p->bright = t == T_BRIGHT || all;
    p->contrast = t == T_CONTRAST || all;
    p->gamma_inv = t == T_GAMMA_INV || all;
    p->gamma = t == T_GAMMA || all;
    for (int c = 0; c < C; c++) {
        p->blur[c] = t == T_BLUR || all;
        p->blur_sigma[c][0] = p->blur_sigma[c][1] = p->blur_sigma[c][2] = 0.8;
        p->bright_f[c] = 1.1, p->contrast_f[c] = 0.9;
        p->lowres[c] = t == T_LOWRES || all, p->lowres_zoom[c] = 0.7;
        p->gamma_inv_g[c] = 1.2, p->gamma_g[c] = 0.8;
    }
}

/* one run of transform t on img (from the case's crop at rc->start when rc) */
static int run(int t, const pf_aug_params *p, int C, const int P[3], const real_case *rc, float *img)
{
    const pf_norm *norms = rc ? rc->ctx->norm.cases : NULL;
    if (rc && (t == T_SPATIAL || t == T_SAMPLE)) {
        pf_aug_params ps = *p; /* as render.c: the seg's own params, its mirroring folded */
        pf_aug_seg_params(&ps);
        pf_aug_sample_image(rc->c, norms, rc->start, P, p, img);
        pf_aug_sample_seg(rc->c, rc->start, P, &ps, 0, rc->seg);
    }
    if (t < T_SPATIAL)
        if (pf_aug_intensity(p, C, P, img) != 0)
            return -1;
    if (rc && t == T_MIRROR) /* the pass itself (an unresampled crop would be made mirrored) */
        pf_aug_mirror_pass(p, C, P, img, rc->seg);
    if (t == T_SAMPLE) /* as render.c: the image mirrored in the chain's last pass */
        if (pf_aug_intensity_mirrored(p, P, 0, C, img, NULL, NULL) != 0)
            return -1;
    return 0;
}

static int open_case(const char *ds, const char *opts, const char *patch, real_case *rc, int *C,
                     int P[3])
{
    pf_options o;
    pf_error err = {0};
    pf_options_init(&o);
    if (pf_options_set(&o, "patch", patch, &err) || (opts && pf_options_parse_list(&o, opts, &err)) ||
        pf_ctx_open(&rc->ctx, ds, &o, 0, NULL, NULL, &err)) {
        fprintf(stderr, "bench_intensity: %s\n", err.msg);
        return -1;
    }
    rc->c = &rc->ctx->cache.cases[0];
    pf_case_check_bulk(rc->c, &err);
    *C = (int)rc->c->hdr.n_channels;
    for (int d = 0; d < 3; d++) {
        P[d] = rc->ctx->patch[d];
        rc->start[d] = (rc->c->hdr.shape[d] - P[d]) / 2;
    }
    rc->seg = malloc((size_t)P[0] * (size_t)P[1] * (size_t)P[2] * sizeof *rc->seg);
    return rc->seg ? 0 : -1;
}

int main(int argc, char **argv)
{
    int P[3] = {128, 128, 128}, C = 2, reps = 9, a = 1, ncols = T_ALL + 1;
    int lo = PF_SIMD_SCALAR, hi = (int)pf_simd_detect();
    const char *ds = NULL, *opts = NULL;
    real_case rcase = {0}, *rc = NULL;
    size_t n;
    float *in, *img;
    double *t;
    for (; a + 1 < argc && argv[a][0] == '-'; a += 2)
        *(argv[a][1] == 'd' ? &ds : &opts) = argv[a + 1];
    if (argc > a && sscanf(argv[a], "%dx%dx%d", &P[0], &P[1], &P[2]) != 3) {
        fprintf(stderr, "usage: bench_intensity [-d DATASET [-o OPTIONS]] [PATCH [CHANNELS "
                        "(not with -d) [REPEATS [PATH]]]]\n");
        return 2;
    }
    if (!ds && argc > a + 1)
        C = atoi(argv[a + 1]);
    if (argc > a + 1 + !ds)
        reps = atoi(argv[a + 1 + !ds]);
    if (argc > a + 2 + !ds)
        lo = hi = pf_simd_parse(argv[a + 2 + !ds]);
    if (ds) {
        char patch[64];
        snprintf(patch, sizeof patch, "%dx%dx%d", P[0], P[1], P[2]);
        if (open_case(ds, opts, patch, &rcase, &C, P) != 0)
            return 1;
        rc = &rcase;
        ncols = T_COUNT;
    }
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
    if (rc) {
        pf_extract_image(rc->c, rc->ctx->norm.cases, rc->start, P, in);
        pf_extract_seg(rc->c, rc->start, P, rc->seg);
    } else {
        make_input(in, C, P);
    }
    printf("ms per sample (%dx%dx%d x %d ch, %s, CPU time, median of %d)\n%-7s", P[0], P[1], P[2], C,
           rc ? rc->c->hdr.id : "synthetic", reps, "path");
    for (int k = 0; k < ncols; k++)
        printf(" %9s", names[k]);
    printf("\n");
    for (int level = lo; level <= hi; level++) {
        pf_simd_force((pf_simd_level)level);
        printf("%-7s", pf_simd_name((pf_simd_level)level));
        for (int k = 0; k < ncols; k++) {
            pf_aug_params p;
            params_for(k, C, &p);
            for (int r = 0; r < reps; r++) {
                double t0;
                memcpy(img, in, n * sizeof *img);
                t0 = cpu_now();
                if (run(k, &p, C, P, rc, img) != 0)
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
    if (rc) {
        free(rc->seg);
        pf_ctx_close(rc->ctx);
    }
    return 0;
}
