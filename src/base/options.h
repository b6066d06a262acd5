/* options.h - the one options struct, parsed once from `-o k=v,...` and `--k=v`.
 *
 * Options are split into those that shape file content (seed, patch, batch, oversample, fold,
 * normalize, crop) and those that only decide which files exist or how they are served
 * (steps, epochs, cache, mem, threads, FUSE flags). Only the first kind enters digests. */
#ifndef PATCHFS_OPTIONS_H
#define PATCHFS_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define PF_MAX_BATCH 4096
#define PF_MAX_PATCH 4096
/* inode numbers address epochs, steps and samples with 20, 22 and 12 bits (tree.c) */
#define PF_MAX_EPOCHS ((1u << 20) - 1)
#define PF_MAX_STEPS ((1u << 22) - 1)
#define PF_MAX_CASES ((1u << 28) - 1)
#define PF_FOLD_ALL (-1)
#define PF_MAX_CLASS_WEIGHTS 64

typedef enum { PF_NORM_AUTO, PF_NORM_ZSCORE, PF_NORM_CT, PF_NORM_NONE } pf_norm_mode;
typedef enum { PF_CROP_NONZERO, PF_CROP_NONE } pf_crop_mode;
typedef enum { PF_POLICY_NNUNET, PF_POLICY_CLASS, PF_POLICY_UNIFORM } pf_policy;

/* Augmentation probabilities (aug_p_NAME=P), in nnU-Net's order. */
typedef enum {
    PF_AUG_P_ROTATION, PF_AUG_P_SCALING, PF_AUG_P_NOISE, PF_AUG_P_BLUR, PF_AUG_P_BLUR_CHANNEL,
    PF_AUG_P_BRIGHTNESS, PF_AUG_P_CONTRAST, PF_AUG_P_LOWRES, PF_AUG_P_LOWRES_CHANNEL,
    PF_AUG_P_GAMMA_INVERT, PF_AUG_P_GAMMA, PF_AUG_P_MIRROR, PF_AUG_N
} pf_aug_prob;

extern const char *const pf_aug_prob_names[PF_AUG_N]; /* "rotation", "scaling", ... */
extern const double pf_aug_prob_defaults[PF_AUG_N];

#define PF_MAX_DS 8

/* One class_weights entry; weights are fixed point (millionths) so choices stay integer. */
typedef struct pf_class_weight {
    int label;
    uint64_t weight;
} pf_class_weight;

typedef struct pf_options {
    /* content-shaping */
    uint64_t seed;
    int patch[3];          /* Z, Y, X; all 0 = automatic (min(128, median case shape)) */
    int patch_2d;          /* patch=YxX: axial slices (patch[0] = 1), arrays without Z */
    int batch;
    double oversample;     /* nnU-Net's oversample_foreground_percent, in [0, 1] */
    char oversample_text[32]; /* as given, for provenance */
    pf_policy policy;      /* sampler= */
    int probabilistic;     /* oversample_mode=probabilistic */
    int n_class_weights;   /* class_weights=1:1,2:4 */
    pf_class_weight class_weights[PF_MAX_CLASS_WEIGHTS];
    int shard_rank, shard_world; /* shard=R/W; world 0 = unsharded */
    int aug;               /* aug=nnunet: training steps augmented as nnU-Net does */
    int seg_nearest;       /* seg_interp=nearest (default: per-label linear + argmax) */
    double aug_p[PF_AUG_N];
    int aug_rot_set;       /* aug_rotation=LO:HI given (degrees) */
    double aug_rot_lo, aug_rot_hi;
    double aug_scale_lo, aug_scale_hi;
    int n_ds;              /* ds_scales=1,0.5,0.25: seg_ds1.npy ... for scales after the first */
    double ds_scales[PF_MAX_DS];
    int fold;              /* 0.. or PF_FOLD_ALL */
    pf_norm_mode normalize;
    pf_crop_mode crop;
    /* which files exist */
    uint32_t steps, val_steps, epochs;
    /* serving */
    char *cache_dir;       /* NULL = default; owned */
    size_t mem_bytes;      /* budget of the generated-file memory cache */
    int threads;           /* FUSE worker threads and cache-build workers; 0 = automatic */
    int prefetch;          /* steps generated ahead of a reader walking steps in order */
    int sample_threads;    /* threads rendering one file's samples; 0 = one per usable core */
    int skip_bad;          /* set bad cases aside (listed) instead of refusing the dataset */
    int foreground, debug, allow_other, direct_io;
} pf_options;

void pf_options_init(pf_options *o);
void pf_options_free(pf_options *o);

/* Set one option from its name and textual value (value NULL for a bare flag). Accepts the
 * names listed in `patchfs --help`. Unknown names and bad values are errors naming them. */
int pf_options_set(pf_options *o, const char *key, const char *value, pf_error *err);

/* Parse a comma-separated `-o` list: "seed=7,patch=32x48x32,batch=4". */
int pf_options_parse_list(pf_options *o, const char *list, pf_error *err);

/* The default cache directory ($XDG_CACHE_HOME/patchfs or $HOME/.cache/patchfs), malloc'd. */
char *pf_default_cache_dir(void);

const char *pf_norm_mode_name(pf_norm_mode m);
const char *pf_crop_mode_name(pf_crop_mode m);
const char *pf_policy_name(pf_policy p);

/* Strict decimal parsers shared with the path grammar: no sign, no leading zeros (except "0"),
 * no overflow past max. Return 0 on success. */
int pf_parse_u64(const char *s, uint64_t max, uint64_t *out);

#endif
