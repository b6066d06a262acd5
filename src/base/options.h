/* options.h - the one options struct, parsed once from `-o k=v,...`, `--k=v` and `--k v`.
 *
 * Every option is one row of a table (pf_options_table): name, value type, field, range,
 * allowed names, what it decides, help text. The table drives parsing, `patchfs --help`, the
 * options written into patchfs.json and meta.json, and the options fuzzer, so a new option is
 * one row (plus a field) and cannot be forgotten in one of them.
 *
 * Options are split into those that shape file content (seed, patch, batch, oversample, fold,
 * normalize, crop, ...), those that only decide which files exist (steps, val_steps, epochs)
 * and those that decide how files are served (cache, mem, threads, FUSE flags). Only the
 * first kind enters meta.json and digests. */
#ifndef PATCHFS_OPTIONS_H
#define PATCHFS_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include <stdio.h>

#include "error.h"

struct json_t; /* jansson's json_t: only options_text.c and callers of pf_options_json need
                * <jansson.h> */

#define PF_MAX_BATCH 4096
#define PF_MAX_PATCH 4096
/* inode numbers address epochs, steps and samples with 20, 22 and 12 bits (tree.c) */
#define PF_MAX_EPOCHS ((1u << 20) - 1)
#define PF_MAX_STEPS ((1u << 22) - 1)
#define PF_MAX_CASES ((1u << 28) - 1)
#define PF_FOLD_ALL (-1)
#define PF_MAX_CLASS_WEIGHTS 64

typedef enum { PF_NORM_AUTO, PF_NORM_ZSCORE, PF_NORM_CT, PF_NORM_NONE } pf_norm_mode;
enum { PF_SPACING_PLAN, PF_SPACING_NATIVE, PF_SPACING_FORCED };
/* configuration= names: nnU-Net's configurations */
extern const char *const pf_configuration_names[];
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
#define PF_OPT_MAX_ROWS 96 /* rows of the option table (options.c asserts the count) */
#define PF_MEM_MIN ((size_t)1 << 20) /* mem= below this holds no generated file */
#define PF_PATH_MAX 4096 /* a path option's value, with its terminating NUL (Linux PATH_MAX) */

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
    int seg_outside_zero;  /* seg_outside=0: training seg 0 outside the case (default -1) */
    double aug_p[PF_AUG_N];
    int aug_rot_set;       /* aug_rotation=LO:HI given (degrees) */
    double aug_rot_lo, aug_rot_hi;
    double aug_scale_lo, aug_scale_hi;
    int n_ds;              /* ds_scales=1,0.5,0.25: seg_ds1.npy ... for scales after the first */
    int ds_auto;           /* ds_scales=auto: per axis, from the plan's pooling strides */
    double ds_scales[PF_MAX_DS];
    int fold;              /* 0.. or PF_FOLD_ALL */
    int data_f16;          /* dtype=float16: image arrays as IEEE half, rounded to nearest even */
    /* geometry (docs/usage.md "Configurations"): nnU-Net's plan and one of its configurations */
    int configuration;     /* index into pf_configuration_names: 3d_fullres, 2d, ... */
    int spacing_mode;      /* PF_SPACING_PLAN, _NATIVE (no transpose, no resampling), _FORCED */
    double spacing[3];     /* spacing=ZxYxX (mm, in the plan's axis order) */
    char plans_file[PF_PATH_MAX]; /* plans=FILE: an nnUNetPlans.json to follow; "" = plan */
    double gpu_mem_gb;     /* the planner's VRAM target (nnU-Net's default plans: 8) */
    pf_norm_mode normalize;
    pf_crop_mode crop;
    /* which files exist */
    uint32_t steps, val_steps, epochs;
    char infer_dir[PF_PATH_MAX]; /* infer=DIR: test/ serves these images; "" = the dataset's
                                  * own test images (imagesTs, Decathlon "test") */
    /* serving */
    char *cache_dir;       /* NULL = default; owned */
    char log_file[PF_PATH_MAX]; /* log=FILE: the mount's log; "" = stderr, then syslog once
                                 * daemonized (an array, not a pointer: copies of the options
                                 * share nothing) */
    size_t mem_bytes;      /* budget of the generated-file memory cache */
    int threads;           /* FUSE worker threads and cache-build workers; 0 = automatic */
    int prefetch;          /* steps generated ahead of a reader walking steps in order */
    int sample_threads;    /* threads rendering one file's samples; 0 = one per usable core */
    int skip_bad;          /* set bad cases aside (listed) instead of refusing the dataset */
    int foreground, debug, allow_other, direct_io;
    int prepare;           /* check: also build the cache (as `patchfs prepare`) when usable */
    int dry_run, gc_all;   /* gc: list only; also the entries of other option sets */
    int cases_all;         /* export/evaluate of a folder: every case, not the fold's val */
    int force;             /* export/evaluate: replace existing outputs */
    char probabilities[PF_PATH_MAX]; /* export: probabilities .npz (folder mode: a folder) */
    /* which table rows were given (bit i = row i), for checks such as "class_weights
     * without sampler=class" that must tell a given value from a default */
    uint32_t given[(PF_OPT_MAX_ROWS + 31) / 32];
} pf_options;

void pf_options_init(pf_options *o);
void pf_options_free(pf_options *o);

/* Set one option from its name and textual value (value NULL for a bare flag). Accepts the
 * names of the table (`patchfs --help`). Unknown names and bad values are errors naming the
 * option and the value; a failed call leaves the options unchanged. Flags refuse values. */
int pf_options_set(pf_options *o, const char *key, const char *value, pf_error *err);

/* Parse a comma-separated `-o` list: "seed=7,patch=32x48x32,batch=4". A list option
 * (class_weights, ds_scales) continues over the following items that are not option names:
 * "class_weights=1:1,2:4,seed=3". */
int pf_options_parse_list(pf_options *o, const char *list, pf_error *err);

/* ---- the table ---- */

/* What an option decides: pf_option_desc.kind, and the `which` mask of pf_options_json. */
#define PF_OPT_CONTENT 1u /* the bytes of served files (meta.json, digests) */
#define PF_OPT_TREE 2u    /* which paths exist; never the bytes of an existing file */
#define PF_OPT_SERVING 4u /* how files are served (cache, memory, threads, FUSE flags) */

/* The value syntax of an option. */
typedef enum pf_opt_type {
    PF_OT_FLAG,   /* bare word, no value: foreground, skip_bad, ... */
    PF_OT_UINT,   /* whole number in [umin, umax] (fold also takes "all") */
    PF_OT_DOUBLE, /* decimal number in [dmin, dmax] */
    PF_OT_ENUM,   /* one of names[] (the index is the value stored) */
    PF_OT_SHAPE,  /* ZxYxX or YxX, each side 1..PF_MAX_PATCH */
    PF_OT_SIZE,   /* bytes with an optional K, M or G suffix, at least umin */
    PF_OT_RANGE,  /* LO:HI, both in [dmin, dmax], LO <= HI */
    PF_OT_LIST,   /* comma-separated items (class_weights L:W,..., ds_scales S,...) */
    PF_OT_RATIO,  /* R/W (shard) */
    PF_OT_PATH,   /* a non-empty string (cache directory, log file) */
    PF_OT_WORD    /* a mount(8)/fstab word: accepted and ignored (ro, nofail, ...), or
                   * refused (rw); takes no value */
} pf_opt_type;

typedef struct pf_options_derived pf_options_derived;
typedef struct pf_option_desc pf_option_desc;

struct pf_option_desc {
    const char *name;
    pf_opt_type type;
    unsigned kind;            /* PF_OPT_CONTENT, _TREE or _SERVING; 0 for fstab words */
    size_t offset, size;      /* the field set by the generic setter (size 0: none) */
    uint64_t umin, umax;      /* UINT and SIZE */
    double dmin, dmax;        /* DOUBLE and RANGE */
    const char *const *names; /* ENUM: allowed names, NULL-terminated */
    const char *metavar;      /* "N", "ZxYxX", ... for --help (ENUM: the names) */
    const char *def;          /* default as --help shows it when the value does not say it
                               * ("automatic"); NULL: the default value itself */
    const char *example;      /* a value this option accepts (NULL for flags and words) */
    const char *bad;          /* a value it refuses */
    const char *help;         /* one line for --help */
    unsigned flags;           /* PF_OPTF_* below */
    /* the irregular ones: a setter, a list item adder, a JSON writer (private to options.c) */
    int (*set)(pf_options *o, const pf_option_desc *d, const char *value, pf_error *err);
    int (*add)(pf_options *o, const char *item, pf_error *err);
    int (*json)(const pf_options *o, const pf_options_derived *dv, struct json_t *obj);
};
#define PF_OPTF_NO_JSON 1u  /* written inside another option's JSON (aug_p_* in "aug"), or not
                             * at all (skip_bad: patchfs.json lists what it set aside) */
#define PF_OPTF_GROUP 2u    /* one --help line for the run of rows with this flag (aug_p_*) */
#define PF_OPTF_AUG 4u      /* acts only with aug=nnunet (pf_options_validate refuses it else) */

/* The table, in the order of --help and of the JSON keys. */
const pf_option_desc *pf_options_table(size_t *n);
/* The row of an option name, or NULL. */
const pf_option_desc *pf_option_find(const char *name);
/* 1 if `--name` takes a value (`--name value` then reads the next argument), 0 for flags and
 * fstab words and for unknown names. */
int pf_option_takes_value(const char *name);
/* 1 if the option was given (pf_options_set succeeded for it), else 0. */
int pf_options_given(const pf_options *o, const char *name);

/* The option list of `patchfs --help`, one line per option (aug_p_* as one). */
void pf_options_help(FILE *f);

/* The value of one option as it would be written after "name=", e.g. "32x48x32", "512M",
 * "1:1,2:4.5". Returns 1 with the text in buf, 0 if the option has no value to show (unset
 * or automatic: patch, shard, cache, threads ...; a flag that is off; fstab words; buf is
 * then ""), -1 if cap is too small. For a flag that is on, returns 1 with buf "". Parsing
 * the text back gives the same option (the fuzzer checks this). */
int pf_options_format(const pf_options *o, const pf_option_desc *d, char *buf, size_t cap);

/* "name=value name=value": the options of the kinds in `which` whose value differs from the
 * default, in table order (flags as their bare name). Returns the length written (text
 * truncated to cap - 1), or -1 if an option's value alone does not fit. */
int pf_options_format_changed(const pf_options *o, unsigned which, char *buf, size_t cap);

/* Values the options imply only together with the dataset (known after pf_ctx_open). */
struct pf_options_derived {
    int patch[3];     /* the patch in use (Z, Y, X): the option's or the dataset default */
    int aug_patch[3]; /* aug=nnunet: the larger patch the spatial transform reads from */
};

/* The options in effect as a JSON object, exactly as patchfs.json (which = PF_OPT_CONTENT |
 * PF_OPT_TREE) and meta.json (PF_OPT_CONTENT) write them: keys in table order, options added
 * after format 1 only when set, so the bytes of default mounts never change. PF_OPT_SERVING
 * adds the serving options (never in served files). dv NULL: the patch as given ("auto" if
 * automatic) and no aug initial_patch. NULL if out of memory. */
struct json_t *pf_options_json(const pf_options *o, unsigned which,
                               const pf_options_derived *dv);

/* ---- arithmetic of the options, shared by the sampler, the texts and the checks ---- */

/* nnU-Net's fixed oversampling: positions j >= round(batch * (1 - oversample)) are forced
 * (rint: round-half-even, like Python's round()). */
int pf_options_forced_from(const pf_options *o);
/* The same rule on its own: the first forced position of a batch. */
int pf_forced_from(int batch, double oversample);

/* shard=R/W: the positions [lo, hi) of every global batch rank R serves (nnU-Net's DDP split:
 * B / W each, the first B % W one more). Unsharded: [0, batch). -1 if W > batch. */
int pf_options_shard_span(const pf_options *o, int *lo, int *hi);

/* ---- checks across options ---- */

/* Every check that involves two options or needs no dataset, run before any I/O: a shard
 * world larger than the batch, class_weights without sampler=class, oversample options with
 * sampler=uniform, augmentation options without aug=nnunet, ds_scales not decreasing.
 * 0, or -1 with a message naming the options involved. */
int pf_options_validate(const pf_options *o, pf_error *err);

/* Things that work but surprise (batch=1 forces no position by nnU-Net's rounding; mem= too
 * small for one step of the given patch; ds_scales=1 alone), one call of note() each, with
 * a message without prefix or newline. The core never prints: the CLI prints them as
 * "patchfs: note: ...". Returns the number of notes. */
typedef void (*pf_note_fn)(void *arg, const char *msg);
int pf_options_notes(const pf_options *o, pf_note_fn note, void *arg);

/* Checks that need the dataset: every class_weights label is a class of the dataset (labels:
 * its label values; 0 and below are background/ignored), and with sampler=class not every
 * class has weight 0. 0, or -1 with a message naming class_weights. */
int pf_options_check_classes(const pf_options *o, const int *labels, int n, pf_error *err);

/* The default cache directory ($XDG_CACHE_HOME/patchfs or $HOME/.cache/patchfs), malloc'd. */
char *pf_default_cache_dir(void);

/* ---- paths ---- */

/* path made absolute against the current directory, lexically (it need not exist yet: a cache
 * folder or log file is created later): "c" in /home/u gives "/home/u/c"; an absolute path is
 * copied as it is. malloc'd; NULL with err set (ENOMEM, or getcwd's errno). */
char *pf_path_absolute(const char *path, pf_error *err);

/* Every path option (cache=, log=) made absolute with pf_path_absolute, once, before anything
 * uses it: a daemon changes its directory to / (libfuse's daemonize), and `patchfs get` and a
 * mount given the same relative path must name the same folder. 0, or -1 with a message
 * naming the option. */
int pf_options_resolve_paths(pf_options *o, pf_error *err);

const char *pf_norm_mode_name(pf_norm_mode m);
const char *pf_crop_mode_name(pf_crop_mode m);
const char *pf_policy_name(pf_policy p);

/* Strict decimal parsers shared with the path grammar: no sign, no leading zeros (except "0"),
 * no overflow past max. Return 0 on success. */
int pf_parse_u64(const char *s, uint64_t max, uint64_t *out);

#endif
