/* sampler.h - nnU-Net's batch sampling arithmetic, driven by addressed random streams.
 *
 * (split, epoch, step) -> for each batch position: the case, whether it is forced to contain
 * foreground, the class and voxel chosen, and the patch box. Pure: no pixel is touched, so
 * meta.json and file sizes never wait for data; only a forced position reads one stored
 * location of its case. */
#ifndef PATCHFS_SAMPLER_H
#define PATCHFS_SAMPLER_H

#include <stdint.h>

#include "cache.h"
#include "options.h"

typedef enum { PF_SPLIT_TRAIN = 0, PF_SPLIT_VAL = 1 } pf_split;

typedef struct pf_sample {
    int case_idx;       /* index into the dataset's sorted cases */
    int forced;         /* the position is one of the forced-foreground ones */
    int label;          /* class key chosen (a label, or 1..R for a region); 0: centred on an
                         * annotated voxel (ignore-label datasets); -1 for a random crop */
    int64_t voxel[3];   /* chosen voxel (Z, Y, X) in cropped case coordinates, if label >= 0 */
    int64_t start[3];   /* patch box [start, end) in cropped case coordinates; with augmentation
                         * the unrotated box around the centre of the enlarged patch */
    int64_t end[3];
} pf_sample;

/* Foreground classes present in a split, for the class-first policy: a class is drawn with
 * its (integer) weight, then a case that contains it, uniformly. */
typedef struct pf_class_pool {
    int n;                      /* classes with weight > 0 */
    int32_t *labels;
    uint64_t *weights;          /* fixed point (millionths), > 0 */
    uint64_t total_weight;
    int *n_cases;               /* per class: how many split cases contain it */
    int **cases;                /* per class: those case indices (into cases), ascending */
} pf_class_pool;

typedef struct pf_sampler {
    uint64_t seed;
    int batch;
    double oversample;
    int patch[3];
    pf_policy policy;           /* nnunet (default), class, uniform */
    int probabilistic;          /* each position forced with probability oversample */
    const pf_case *cases;       /* all cases, indexed by case_idx */
    const int *split_cases[2];  /* train, val: indices into cases */
    int n_split_cases[2];
    const pf_class_pool *pools[2]; /* class policy only */
    int has_ignore;             /* the dataset has an ignore label: a non-forced position is
                                 * centred on an annotated voxel (class key 0), as nnU-Net */
    int aug_patch[3];           /* training with augmentation: nnU-Net's enlarged initial patch
                                 * (its excess over patch is the extra context `need`); 0 = none */
} pf_sampler;

/* nnU-Net's get_bbox bounds for one axis: start in [lb, ub] (need = extra context). */
void pf_bbox_bounds(int64_t shape, int64_t patch, int64_t need, int64_t *lb, int64_t *ub);

/* Builds the class pool of a split: classes present in its cases, weighted by weights (label
 * -> millionths; labels not listed weigh 1.0; NULL = all 1.0). */
int pf_class_pool_build(pf_class_pool *pool, const pf_case *cases, const int *split_cases,
                        int n_split_cases, const pf_class_weight *weights, int n_weights,
                        pf_error *err);
void pf_class_pool_free(pf_class_pool *pool);

/* Samples one step: out has s->batch entries (the whole global batch; a shard serves a
 * contiguous part of it). Returns 0, or 1 + the first position whose case's stored locations
 * could not be read (its entry truncated or unreadable while mapped: repair the case and
 * sample again; the positions are then not to be served). */
int pf_sample_step(const pf_sampler *s, pf_split split, uint32_t epoch, uint32_t step,
                   pf_sample *out);

#endif
