/* normalise.h - how each channel is normalised, as the context reports it (patchfs.json,
 * properties.json, check). Since format 2 the normalisation itself happens once, when a case
 * is preprocessed into the cache (prepare.c, in nnU-Net's order: before resampling), with
 * the schemes and CT statistics the plan gives (geometry.c); extraction then applies the
 * identity. */
#ifndef PATCHFS_NORMALISE_H
#define PATCHFS_NORMALISE_H

#include "error.h"
#include "extract.h"
#include "prepare.h"

typedef struct pf_normalisation {
    pf_channel_norm *channel;      /* per channel: scheme, use_mask, CT statistics */
    pf_norm *cases;                /* per case * channel: what extraction applies (identity) */
    double median_relative_size;   /* median over cases of cropped / original voxels */
} pf_normalisation;

/* Records the channels' schemes and gives every case the identity. */
int pf_normalisation_set(pf_normalisation *nm, const pf_channel_norm *channel, int n_channels,
                         int n_cases, double median_relative_size, pf_error *err);
void pf_normalisation_free(pf_normalisation *nm);

#endif
