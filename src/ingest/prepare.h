/* prepare.h - one case preprocessed in nnU-Net's order (DefaultPreprocessor.run_case_npy):
 * transpose -> crop to nonzero -> normalise -> resample. What the cache stores and every
 * served array is cut from. Class locations are taken afterwards by the caller, on the
 * resampled labels, as nnU-Net takes them.
 *
 * Normalisation follows nnU-Net's classes in float32 arithmetic: ZScore over the whole case or,
 * with use_mask_for_norm, over seg >= 0 only (other voxels keep their value: 0 after the crop);
 * CT clipped to the dataset's foreground percentiles then shifted and scaled by its foreground
 * mean and std; RescaleTo01 by the case's min and max; RGBTo01 by 255; none. */
#ifndef PATCHFS_PREPARE_H
#define PATCHFS_PREPARE_H

#include <stdint.h>

#include "error.h"
#include "load.h"

typedef enum { PF_SCHEME_ZSCORE, PF_SCHEME_CT, PF_SCHEME_NONE, PF_SCHEME_RESCALE01,
               PF_SCHEME_RGB01 } pf_scheme;

/* How a channel is normalised. */
typedef struct pf_channel_norm {
    pf_scheme scheme;
    int use_mask;                 /* zscore over seg >= 0 only (nnU-Net's use_mask_for_norm) */
    double ct_mean, ct_std, ct_lo, ct_hi; /* dataset-wide foreground statistics (CT) */
} pf_channel_norm;

const char *pf_scheme_name(pf_scheme s);

/* What to do to every case of one configuration. */
typedef struct pf_prep_spec {
    int transpose[3];        /* transpose_forward: new axis i is source axis transpose[i] */
    int crop;                /* 1: crop to nonzero (nnU-Net); 0: keep the whole volume */
    int resample;            /* 0: keep the case's own grid (spacing=native) */
    double target[3];        /* target spacing, transposed order; target[0] <= 0 keeps each
                              * case's own spacing on the first axis (2D configurations) */
    int order, order_z;      /* image: 3 and 0 in nnU-Net's plans */
    int seg_order, seg_order_z;   /* labels: 1 and 0 */
    int force_separate_z;    /* -1: decided per case, 0/1: forced */
    int n_channels;
    const pf_channel_norm *norm;  /* per channel */
    int threads;             /* resampling units on up to this many pool threads (0: all) */
} pf_prep_spec;

/* A preprocessed case: arrays and what is needed to go back to the source grid. */
typedef struct pf_prepped {
    float *image;                 /* (C, Z, Y, X) normalised, on the final grid */
    int16_t *seg;                 /* (Z, Y, X); -1 outside the nonzero region */
    int64_t shape[3];             /* final grid */
    int64_t shape_before_crop[3]; /* transposed source shape */
    int64_t crop_lo[3];           /* crop box start, transposed source voxels */
    int64_t shape_after_crop[3];  /* before resampling */
    double spacing[3];            /* source spacing, transposed, absolute */
    double target[3];             /* spacing of the final grid */
    int separate_z, z_axis;       /* the resampling's separate-z decision */
    float shift[64], scale[64];   /* per channel: x' = (clip(x) - shift) / scale */
} pf_prepped;

int pf_prepare_case(const pf_loaded_case *lc, const pf_prep_spec *spec, pf_prepped *out,
                    pf_error *err);

/* What a scheme requires of its input, as nnU-Net asserts it: the channels of an RGBTo01 scheme
 * lie in [0, 255]. An error names the channel's file (src: the case's files) and a voxel. */
int pf_prepare_check_input(const pf_loaded_case *lc, const pf_prep_spec *spec,
                           const pf_case_src *src, pf_error *err);
void pf_prepped_free(pf_prepped *p);

#endif
