/* fingerprint_driver.c - prints a dataset's fingerprint as nnU-Net's dataset_fingerprint.json
 * lays it out (spacings, shapes_after_crop, foreground_intensity_properties_per_channel,
 * median_relative_size_after_cropping), computed by src/ingest/fingerprint.c, for the
 * integration test that compares it with an independent numpy implementation.
 *   fingerprint_driver DATASET [SAMPLES_PER_CASE] */
#include <stdio.h>
#include <stdlib.h>

#include "dataset.h"
#include "fingerprint.h"
#include "load.h"
#include "order.h"

int main(int argc, char **argv)
{
    pf_dataset ds;
    pf_error err = {0};
    pf_case_fp *fp;
    double *rel;
    uint64_t n_samples;
    if (argc < 2) {
        fprintf(stderr, "usage: fingerprint_driver DATASET [SAMPLES_PER_CASE]\n");
        return 2;
    }
    if (pf_dataset_open(argv[1], &ds, &err)) {
        fprintf(stderr, "fingerprint_driver: %s\n", err.msg);
        return 1;
    }
    n_samples = argc > 2 ? strtoull(argv[2], NULL, 10) : pf_fp_samples_per_case(ds.n_cases);
    fp = calloc((size_t)ds.n_cases, sizeof *fp);
    rel = calloc((size_t)ds.n_cases, sizeof *rel);
    if (!fp || !rel)
        return 1;
    for (int i = 0; i < ds.n_cases; i++) {
        pf_loaded_case lc;
        if (pf_load_case(&ds, i, &lc, &err) ||
            pf_case_fingerprint(&lc, ds.n_channels, n_samples, &fp[i], &err)) {
            fprintf(stderr, "fingerprint_driver: %s\n", err.msg);
            return 1;
        }
        pf_loaded_case_free(&lc);
        rel[i] = fp[i].relative_size;
    }
    printf("{\"foreground_intensity_properties_per_channel\": {");
    for (int c = 0; c < ds.n_channels; c++) {
        pf_fg_stats st;
        if (pf_fg_pool(fp, ds.n_cases, c, &st, &err)) {
            fprintf(stderr, "fingerprint_driver: %s\n", err.msg);
            return 1;
        }
        printf("%s\"%d\": {\"max\": %.17g, \"mean\": %.17g, \"median\": %.17g, \"min\": %.17g, "
               "\"percentile_00_5\": %.17g, \"percentile_99_5\": %.17g, \"std\": %.17g}",
               c ? ", " : "", c, st.max, st.mean, st.median, st.min, st.percentile_00_5,
               st.percentile_99_5, st.std);
    }
    printf("}, \"median_relative_size_after_cropping\": %.17g, \"shapes_after_crop\": [",
           pf_median(rel, ds.n_cases));
    for (int i = 0; i < ds.n_cases; i++)
        printf("%s[%lld, %lld, %lld]", i ? ", " : "", (long long)fp[i].shape_after_crop[0],
               (long long)fp[i].shape_after_crop[1], (long long)fp[i].shape_after_crop[2]);
    printf("], \"spacings\": [");
    for (int i = 0; i < ds.n_cases; i++)
        printf("%s[%.17g, %.17g, %.17g]", i ? ", " : "", fp[i].spacing[0], fp[i].spacing[1],
               fp[i].spacing[2]);
    printf("]}\n");
    for (int i = 0; i < ds.n_cases; i++)
        pf_case_fp_free(&fp[i]);
    free(fp);
    free(rel);
    pf_dataset_free(&ds);
    return 0;
}
