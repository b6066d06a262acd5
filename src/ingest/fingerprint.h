/* fingerprint.h - nnU-Net's dataset fingerprint (fingerprint_extractor.py), case by case: the
 * spacing, the shape after crop to nonzero and the share of voxels the crop keeps, and the
 * foreground intensities nnU-Net samples for its CT statistics; then those samples pooled over
 * the dataset into the per-channel properties the planner and CT normalisation use.
 *
 * nnU-Net draws int(1e8 // n_cases) foreground voxels per case and channel with replacement
 * (np.random.RandomState(1234).choice, one generator per case, channel after channel), over the
 * voxels with seg > 0 of the cropped case in C order. patchfs makes the same draws (mt19937.h)
 * but keeps each case's draws as a histogram (distinct values ascending, with how often each
 * was drawn): the same multiset in far less room, from which the pooled statistics follow
 * exactly; min, max and the percentiles are identical to nnU-Net's, mean and std are
 * computed in double where numpy sums float32 pairwise (they agree to about 1e-7). */
#ifndef PATCHFS_FINGERPRINT_H
#define PATCHFS_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "load.h"

#define PF_FP_TOTAL_SAMPLES 100000000ull /* nnU-Net's num_foreground_voxels_for_intensitystats */
#define PF_FP_SEED 1234                  /* its RandomState seed, per case */

/* The foreground samples of one case and channel: n distinct values ascending, count[i] draws
 * of value[i]. */
typedef struct pf_fg_hist {
    size_t n;
    float *value;
    uint64_t *count;
} pf_fg_hist;

/* One case's part of the fingerprint. */
typedef struct pf_case_fp {
    double spacing[3];           /* Z, Y, X in mm (pixdim reversed, absolute values) */
    int64_t shape[3];            /* source shape, Z, Y, X */
    int64_t shape_after_crop[3];
    double relative_size;        /* voxels after crop / before */
    int n_channels;
    pf_fg_hist *hist;            /* per channel; n = 0 where the case has no foreground */
} pf_case_fp;

/* Samples a case needs: int(1e8 // n_cases), as nnU-Net. */
uint64_t pf_fp_samples_per_case(int n_cases);

/* The fingerprint of a decoded case of nch channels, n_samples foreground draws per channel. */
int pf_case_fingerprint(const pf_loaded_case *lc, int nch, uint64_t n_samples, pf_case_fp *out,
                        pf_error *err);
void pf_case_fp_free(pf_case_fp *fp);

/* Pooled foreground properties of one channel, as nnU-Net's fingerprint writes them. */
typedef struct pf_fg_stats {
    int empty;                   /* no case has foreground: every value is NaN in nnU-Net */
    double max, mean, median, min, percentile_00_5, percentile_99_5, std;
} pf_fg_stats;

int pf_fg_pool(const pf_case_fp *cases, int n_cases, int channel, pf_fg_stats *out,
               pf_error *err);

#endif
