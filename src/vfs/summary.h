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

#include "cache.h"
#include "dataset.h"
#include "sampler.h"

/* What a summary is computed from: the sampler, the cases, and the split's part of them. */
typedef struct pf_summary_input {
    const pf_sampler *sampler;
    const pf_case *cases;
    const pf_dataset *ds;          /* case ids, label names */
    const int *split_cases;        /* indices of the split's cases */
    int n_split_cases;
    int batch;                     /* global batch size */
    uint32_t steps;                /* steps of an epoch of this split */
    int lo, hi;                    /* positions [lo, hi) of each batch served (shard) */
} pf_summary_input;

json_t *pf_epoch_summary(const pf_summary_input *in, pf_split split, uint32_t epoch);

#endif
