/* sampler.h - nnU-Net's batch sampling arithmetic, driven by addressed random streams.
 *
 * (split, epoch, step) -> for each batch position: the case, whether it is forced to contain
 * foreground, the class and voxel chosen, and the patch box. Pure: no pixel is touched, so
 * meta.json and file sizes never wait for data. */
#ifndef PATCHFS_SAMPLER_H
#define PATCHFS_SAMPLER_H

#include <stdint.h>

#include "patchfs/cache.h"

typedef enum { PF_SPLIT_TRAIN = 0, PF_SPLIT_VAL = 1 } pf_split;

typedef struct pf_sample {
    int case_idx;       /* index into the dataset's sorted cases */
    int forced;         /* the position is one of the forced-foreground ones */
    int label;          /* class chosen for a forced position; -1 for a random crop */
    int64_t voxel[3];   /* chosen voxel (Z, Y, X) in cropped case coordinates, if label >= 0 */
    int64_t start[3];   /* patch box [start, end) in cropped case coordinates */
    int64_t end[3];
} pf_sample;

typedef struct pf_sampler {
    uint64_t seed;
    int batch;
    double oversample;
    int patch[3];
    const pf_case *cases;       /* all cases, indexed by case_idx */
    const int *split_cases[2];  /* train, val: indices into cases */
    int n_split_cases[2];
} pf_sampler;

/* Positions j >= this are forced: round_half_even(batch * (1 - oversample)), computed in
 * IEEE double exactly as Python computes it. */
int pf_forced_from(int batch, double oversample);

/* nnU-Net's get_bbox bounds for one axis: start in [lb, ub] (need = extra context). */
void pf_bbox_bounds(int64_t shape, int64_t patch, int64_t need, int64_t *lb, int64_t *ub);

/* Samples one step: out has s->batch entries. */
void pf_sample_step(const pf_sampler *s, pf_split split, uint32_t epoch, uint32_t step,
                    pf_sample *out);

#endif
