/* summary.h - epoch summaries (train/epoch_E/summary.json, val/...): how often each case was
 * drawn and, per class, how many positions were forced to it and how many contain it, computed
 * from the sampler and the stored class locations alone: no pixel data is generated.
 *
 * Exact: draws per case, forced positions per class. "contains_at_least" counts positions whose
 * box holds a stored location of the class; it is exact for a class whose every voxel is stored
 * (fewer than 10000 voxels in each case, "contains_exact": true), and a lower bound otherwise. */
#ifndef PATCHFS_SUMMARY_H
#define PATCHFS_SUMMARY_H

#include <jansson.h>

#include "patchfs/produce.h"

json_t *pf_epoch_summary(const pf_ctx *ctx, pf_split split, uint32_t epoch);

#endif
