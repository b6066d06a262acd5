/* bench_aug.c - per-sample cost of patchfs's augmentation, for `make bench` (issue 7).
 *
 *   bench_aug DATASET PATCH REPEATS [cache=DIR]
 *
 * Opens the dataset as a mount would, takes its first case and times, per sample of size
 * PATCH (e.g. 128x128x128): the plain crop, the spatial transform alone (rotation + scaling,
 * image of every channel and seg), and the whole pipeline with every transform on. Prints one
 * JSON object; tests/bench/aug_baseline.py times scipy/numpy on the same case and patch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "augment.h"
#include "context_i.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    pf_options o;
    pf_error err = {0};
    pf_ctx *ctx;
    pf_aug_params spatial, all, all_seg;
    int reps;
    if (argc < 4) {
        fprintf(stderr, "usage: bench_aug DATASET PATCH REPEATS [cache=DIR]\n");
        return 2;
    }
    pf_options_init(&o);
    if (pf_options_set(&o, "patch", argv[2], &err) || (argc > 4 && pf_options_parse_list(&o, argv[4], &err))) {
        fprintf(stderr, "bench_aug: %s\n", err.msg);
        return 1;
    }
    reps = atoi(argv[3]);
    if (pf_ctx_open(&ctx, argv[1], &o, 0, NULL, NULL, &err)) {
        fprintf(stderr, "bench_aug: %s\n", err.msg);
        return 1;
    }
    {
        pf_case *c = &ctx->cache.cases[0];
        const int C = (int)c->hdr.n_channels;
        const size_t nv = (size_t)ctx->patch[0] * (size_t)ctx->patch[1] * (size_t)ctx->patch[2];
        float *img = malloc(nv * (size_t)C * sizeof *img);
        int16_t *seg = malloc(nv * sizeof *seg);
        int64_t start[3];
        double *t_plain = calloc((size_t)reps, sizeof(double)), *t_sp = calloc((size_t)reps, sizeof(double)),
               *t_all = calloc((size_t)reps, sizeof(double)), *t_spi = calloc((size_t)reps, sizeof(double));
        pf_case_check_bulk(c, &err);
        for (int d = 0; d < 3; d++)
            start[d] = (c->hdr.shape[d] - ctx->patch[d]) / 2;
        memset(&spatial, 0, sizeof spatial);
        spatial.dims = 3;
        spatial.rotate = 1;
        spatial.angle[0] = 0.35, spatial.angle[1] = 0.17, spatial.angle[2] = -0.26;
        spatial.scale_on = 1;
        spatial.scale = 1.1;
        all = spatial;
        all.noise = 1, all.noise_sigma = 0.05, all.noise_key = 12345;
        for (int ch = 0; ch < C; ch++) {
            all.blur[ch] = 1;
            all.blur_sigma[ch][0] = all.blur_sigma[ch][1] = all.blur_sigma[ch][2] = 0.8;
            all.bright_f[ch] = 1.1, all.contrast_f[ch] = 0.9;
            all.lowres[ch] = 1, all.lowres_zoom[ch] = 0.7;
            all.gamma_inv_g[ch] = 1.2, all.gamma_g[ch] = 0.8;
        }
        all.bright = all.contrast = all.gamma_inv = all.gamma = 1;
        all.mirror[0] = all.mirror[1] = all.mirror[2] = 1;
        all_seg = all;
        pf_aug_seg_params(&all_seg);
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            pf_extract_image(c, ctx->norm.cases, start, ctx->patch, img);
            pf_extract_seg(c, start, ctx->patch, seg);
            t_plain[r] = now() - t0;
            t0 = now();
            pf_aug_sample_image(c, ctx->norm.cases, start, ctx->patch, &spatial, img);
            t_spi[r] = now() - t0;
            pf_aug_sample_seg(c, start, ctx->patch, &spatial, 0, seg);
            t_sp[r] = now() - t0;
            t0 = now();
            pf_aug_sample_image(c, ctx->norm.cases, start, ctx->patch, &all, img);
            /* as render.c: the seg with its own params (no intensity transform), so written
             * mirrored by its sampler; the image mirrored in the chain's last pass */
            pf_aug_sample_seg(c, start, ctx->patch, &all_seg, 0, seg);
            pf_aug_intensity_mirrored(&all, ctx->patch, 0, C, img, NULL, NULL);
            t_all[r] = now() - t0;
        }
        qsort(t_plain, (size_t)reps, sizeof(double), cmp_double);
        qsort(t_sp, (size_t)reps, sizeof(double), cmp_double);
        qsort(t_all, (size_t)reps, sizeof(double), cmp_double);
        qsort(t_spi, (size_t)reps, sizeof(double), cmp_double);
        printf("{\"case\": \"%s\", \"channels\": %d, \"patch\": [%d, %d, %d], "
               "\"case_shape\": [%lld, %lld, %lld], \"plain_s\": %.6f, \"spatial_s\": %.6f, "
               "\"pipeline_s\": %.6f, \"spatial_image_s\": %.6f, \"start\": [%lld, %lld, %lld]}\n",
               c->hdr.id, C, ctx->patch[0], ctx->patch[1], ctx->patch[2],
               (long long)c->hdr.shape[0], (long long)c->hdr.shape[1], (long long)c->hdr.shape[2],
               t_plain[reps / 2], t_sp[reps / 2], t_all[reps / 2], t_spi[reps / 2], (long long)start[0],
               (long long)start[1], (long long)start[2]);
        free(img);
        free(seg);
        free(t_plain);
        free(t_sp);
        free(t_all);
        free(t_spi);
    }
    pf_ctx_close(ctx);
    return 0;
}
