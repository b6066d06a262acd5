/* preprocess.h - the per-case preprocessing nnU-Net applies before sampling, as pure functions
 * on arrays: crop to the nonzero region (holes filled), mark background outside it -1, pick
 * the stored class locations, and gather the intensity statistics that normalisation needs.
 *
 * Transpose, normalisation and resampling around these: prepare.c. */
#ifndef PATCHFS_PREPROCESS_H
#define PATCHFS_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define PF_LOCS_MIN 10000     /* nnU-Net: at least min(10000, n) voxels per class ... */
#define PF_LOCS_PERCENT 1     /* ... and at least ceil(1% of n) */
#define PF_LOCS_SEED 1234     /* nnU-Net seeds its location sampler with 1234 per case */

/* Per-channel statistics of one cropped case, accumulated in double in a fixed order. */
typedef struct pf_chan_stats {
    double mean, std;             /* over all cropped voxels (population std) */
    double mean_mask, std_mask;   /* over voxels with seg >= 0 (nnU-Net's use_mask_for_norm) */
    double min, max;
} pf_chan_stats;

/* Stored locations of one foreground class. */
typedef struct pf_class_locs {
    int32_t label;
    uint64_t voxels;     /* voxels of this class in the cropped case */
    uint64_t n_locs;     /* how many are stored */
    int32_t *locs;       /* n_locs (z, y, x) triples, ascending in C order */
} pf_class_locs;

/* Number of locations nnU-Net stores for a class of n voxels. */
uint64_t pf_locs_count(uint64_t n);

/* Bounding box [lo, hi) of voxels nonzero in any channel; the whole volume if none is. */
void pf_nonzero_box(const float *img, int nch, const int64_t shape[3], int64_t lo[3],
                    int64_t hi[3]);

/* Copies box [lo, hi) of a (C, Z, Y, X) array into a new malloc'd array. */
float *pf_crop_float(const float *img, int nch, const int64_t shape[3], const int64_t lo[3],
                     const int64_t hi[3]);
int16_t *pf_crop_i16(const int16_t *seg, const int64_t shape[3], const int64_t lo[3],
                     const int64_t hi[3]);

/* nnU-Net's crop_to_nonzero on the cropped arrays: the nonzero mask with holes filled
 * (background not 6-connected to the border is inside), and seg 0 outside it becomes -1. */
int pf_mark_outside(const float *img, int nch, const int64_t shape[3], int16_t *seg,
                    pf_error *err);

/* Class locations for every label > 0 (except ignore_label) present in seg. */
int pf_class_locations(const int16_t *seg, const int64_t shape[3], int ignore_label,
                       int *n_classes, pf_class_locs **classes, pf_error *err);
void pf_class_locations_free(int n, pf_class_locs *classes);

/* One class made of several label values (a region, or every annotated voxel): the voxels
 * whose value v has member[v + 1] set (v = -1 included), stored as pf_class_locations stores a
 * label's, its subset drawn on stream position `stream`. out->voxels == 0 when none. */
int pf_class_locations_set(const int16_t *seg, const int64_t shape[3],
                           const unsigned char *member, int32_t key, uint64_t stream,
                           pf_class_locs *out, pf_error *err);

void pf_channel_stats(const float *img, int nch, const int16_t *seg, const int64_t shape[3],
                      pf_chan_stats *stats);

#endif
