/* normalise.h - how each channel is normalised: nnU-Net's scheme by channel name (or the
 * normalize= option), the use-mask rule, dataset-wide CT statistics, and the resulting
 * per-case (shift, scale, clip) that extraction applies. Decided once when a context opens,
 * from the cache's per-case statistics; never stored in the cache, so normalize= does not
 * invalidate it. */
#ifndef PATCHFS_NORMALISE_H
#define PATCHFS_NORMALISE_H

#include "cache.h"
#include "dataset.h"
#include "error.h"
#include "extract.h"
#include "options.h"
#include "prepare.h"


typedef struct pf_normalisation {
    pf_channel_norm *channel;      /* per channel */
    pf_norm *cases;                /* per case * channel: what extraction applies */
    double median_relative_size;   /* median over cases of cropped / original voxels */
} pf_normalisation;

/* Decides every channel's scheme and every case's parameters. */
int pf_normalisation_decide(pf_normalisation *nm, const pf_options *o, const pf_dataset *ds,
                            const pf_cache *cache, pf_error *err);
void pf_normalisation_free(pf_normalisation *nm);

#endif
