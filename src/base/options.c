/* options.c - the option table and the parsing it drives (see options.h).
 *
 * One row per option. Regular options (numbers, names, sizes, flags) are set by a generic
 * setter from the row's field, range and names; the irregular ones (patch, class_weights,
 * shard, ...) have a small setter of their own. --help, pf_options_format and the JSON
 * writer (options_text.c) and the cross-option checks (options_check.c) read the same rows. */
#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options_i.h"

/* The generic setters store enums and int fields as int, counts as uint32_t / uint64_t. */
_Static_assert(sizeof(pf_policy) == sizeof(int) && sizeof(pf_norm_mode) == sizeof(int) &&
                   sizeof(pf_crop_mode) == sizeof(int) && sizeof(int) == sizeof(uint32_t),
               "enum and int option fields are stored as 32-bit ints");

const char *const pf_aug_prob_names[PF_AUG_N] = {
    "rotation", "scaling", "noise", "blur", "blur_channel", "brightness", "contrast", "lowres",
    "lowres_channel", "gamma_invert", "gamma", "mirror"};
/* nnUNetTrainer.get_training_transforms */
const double pf_aug_prob_defaults[PF_AUG_N] = {0.2, 0.2, 0.1, 0.2, 0.5, 0.15, 0.15, 0.25, 0.5,
                                               0.1, 0.3, 0.5};

/* enum names, index = the value stored (the order of the enums in options.h) */
static const char *const norm_names[] = {"auto", "zscore", "ct", "none", NULL};
static const char *const crop_names[] = {"nonzero", "none", NULL};
static const char *const policy_names[] = {"nnunet", "class", "uniform", NULL};
static const char *const mode_names[] = {"fixed", "probabilistic", NULL};
static const char *const aug_names[] = {"none", "nnunet", NULL};
static const char *const interp_names[] = {"linear", "nearest", NULL};
static const char *const seg_outside_names[] = {"-1", "0", NULL};
static const char *const cases_names[] = {"val", "all", NULL};
static const char *const dtype_names[] = {"float32", "float16", NULL};
const char *const pf_configuration_names[] = {"3d_fullres", "2d", "3d_lowres",
                                              "3d_cascade_fullres", NULL};

void pf_options_init(pf_options *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 0;
    o->batch = 2;
    o->oversample = 0.33;
    snprintf(o->oversample_text, sizeof o->oversample_text, "0.33");
    o->fold = 0;
    o->normalize = PF_NORM_AUTO;
    o->crop = PF_CROP_NONZERO;
    o->steps = 250;
    o->val_steps = 50;
    o->epochs = 1000;
    o->mem_bytes = (size_t)512 << 20;
    memcpy(o->aug_p, pf_aug_prob_defaults, sizeof o->aug_p);
    o->aug_scale_lo = 0.7;
    o->aug_scale_hi = 1.4;
    o->gpu_mem_gb = 8.0;
}

void pf_options_free(pf_options *o)
{
    free(o->cache_dir);
    o->cache_dir = NULL;
}

int pf_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s)
        return -1;
    if (s[0] == '0' && s[1] != '\0')
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        unsigned d = (unsigned)(*p - '0');
        if (d > max || v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* ---- the table ---- */

#define C PF_OPT_CONTENT
#define T PF_OPT_TREE
#define S PF_OPT_SERVING
#define FIELD(f) .offset = offsetof(pf_options, f), .size = sizeof(((pf_options *)0)->f)
#define AUG_P(i, nm, ex)                                                                    \
    {.name = "aug_p_" nm, .type = PF_OT_DOUBLE, .kind = C,                                  \
     .offset = offsetof(pf_options, aug_p) + (i) * sizeof(double), .size = sizeof(double),  \
     .dmin = 0, .dmax = 1, .metavar = "P", .example = ex, .bad = "1.5",                     \
     .help = "with aug=nnunet: probability of one transform",                               \
     .flags = PF_OPTF_NO_JSON | PF_OPTF_GROUP | PF_OPTF_AUG}
#define WORD(nm)                                                                            \
    {.name = nm, .type = PF_OT_WORD, .bad = "1", .flags = PF_OPTF_NO_JSON,                  \
     .help = "mount(8)/fstab word, accepted and ignored (patchfs is read-only, nosuid, nodev)"}

static const pf_option_desc table[] = {
    {.name = "seed", .type = PF_OT_UINT, .kind = C, FIELD(seed), .umax = UINT64_MAX,
     .metavar = "N", .example = "7", .bad = "-1", .help = "seed of every random stream"},
    {.name = "patch", .type = PF_OT_SHAPE, .kind = C, .metavar = "ZxYxX",
     .def = "per axis min(128, median case shape)", .example = "32x48x32", .bad = "0x1x1",
     .help = "patch size; YxX: 2D, axial slices", .set = pf_opt_set_patch, .json = pf_json_patch},
    {.name = "batch", .type = PF_OT_UINT, .kind = C, FIELD(batch), .umin = 1,
     .umax = PF_MAX_BATCH, .metavar = "N", .example = "4", .bad = "0", .help = "batch size"},
    {.name = "oversample", .type = PF_OT_DOUBLE, .kind = C, FIELD(oversample), .dmin = 0,
     .dmax = 1, .metavar = "P", .example = "0.5", .bad = "1.5", .set = pf_opt_set_oversample,
     .help = "share of each batch forced to contain foreground"},
    {.name = "oversample_mode", .type = PF_OT_ENUM, .kind = C, FIELD(probabilistic),
     .names = mode_names, .example = "probabilistic", .bad = "sometimes",
     .help = "fixed: the last positions are forced; probabilistic: each with probability P",
     .json = pf_json_oversample_mode},
    {.name = "steps", .type = PF_OT_UINT, .kind = T, FIELD(steps), .umin = 1,
     .umax = PF_MAX_STEPS, .metavar = "N", .example = "10", .bad = "0",
     .help = "training steps per epoch"},
    {.name = "val_steps", .type = PF_OT_UINT, .kind = T, FIELD(val_steps), .umin = 1,
     .umax = PF_MAX_STEPS, .metavar = "N", .example = "5", .bad = "1e3",
     .help = "validation steps per epoch"},
    {.name = "epochs", .type = PF_OT_UINT, .kind = T, FIELD(epochs), .umin = 1,
     .umax = PF_MAX_EPOCHS, .metavar = "N", .example = "2", .bad = "1048576",
     .help = "epochs"},
    {.name = "infer", .type = PF_OT_PATH, .kind = T, FIELD(infer_dir), .metavar = "DIR",
     .def = "the dataset's imagesTs (or Decathlon \"test\" list)", .example = "/tmp/new",
     .bad = "", .flags = PF_OPTF_NO_JSON,
     .help = "folder of new images (named as imagesTr) served under test/ instead"},
    {.name = "fold", .type = PF_OT_UINT, .kind = C, .umax = 1000000, .metavar = "K|all",
     .example = "all", .bad = "-1", .set = pf_opt_set_fold, .json = pf_json_fold,
     .help = "cross-validation fold: 0..4 nnU-Net's 5-fold, 5+ random 80:20, all"},
    {.name = "configuration", .type = PF_OT_ENUM, .kind = C, FIELD(configuration),
     .names = pf_configuration_names, .example = "2d", .bad = "3d",
     .help = "nnU-Net's configuration: spacing, patch, batch, normalisation from the plan"},
    {.name = "spacing", .type = PF_OT_SHAPE, .kind = C, .metavar = "native|ZxYxX",
     .def = "the configuration's", .example = "native", .bad = "0x1x1",
     .set = pf_opt_set_spacing, .json = pf_json_spacing,
     .help = "target spacing in mm; native: the cases' own grids, no transpose"},
    {.name = "plans", .type = PF_OT_PATH, .kind = C, FIELD(plans_file), .metavar = "FILE",
     .def = "planned from the dataset's fingerprint", .example = "/tmp/nnUNetPlans.json",
     .bad = "", .flags = PF_OPTF_NO_JSON,
     .help = "follow an existing nnUNetPlans.json (plans.json of a mount, or nnU-Net's)"},
    {.name = "gpu_mem", .type = PF_OT_DOUBLE, .kind = C, FIELD(gpu_mem_gb), .dmin = 1,
     .dmax = 1024, .metavar = "GB", .example = "24", .bad = "0", .flags = PF_OPTF_NO_JSON,
     .help = "GPU memory the planner plans patch and batch for, as nnU-Net's -gpu_memory_target"},
    {.name = "normalize", .type = PF_OT_ENUM, .kind = C, FIELD(normalize), .names = norm_names,
     .example = "ct", .bad = "foo",
     .help = "auto: per channel by its name, as nnU-Net; or one scheme for every channel"},
    {.name = "crop", .type = PF_OT_ENUM, .kind = C, FIELD(crop), .names = crop_names,
     .example = "none", .bad = "box",
     .help = "nonzero: nnU-Net's crop to the nonzero region; none: whole volumes"},
    {.name = "sampler", .type = PF_OT_ENUM, .kind = C, FIELD(policy), .names = policy_names,
     .example = "class", .bad = "random",
     .help = "forced positions: a class of their case (nnunet), a class first, then a case "
             "with it (class); uniform: no forcing"},
    {.name = "class_weights", .type = PF_OT_LIST, .kind = C, .metavar = "L:W,...",
     .def = "all 1", .example = "1:1,2:4.5", .bad = "0:1", .set = pf_opt_set_list,
     .add = pf_opt_add_class_weight, .json = pf_json_class_weights,
     .help = "with sampler=class: class weights (0 excludes a class)"},
    {.name = "aug", .type = PF_OT_ENUM, .kind = C, FIELD(aug), .names = aug_names,
     .example = "nnunet", .bad = "yes", .json = pf_json_aug,
     .help = "nnunet: nnU-Net's training augmentation (docs/augmentation.md)"},
    {.name = "seg_interp", .type = PF_OT_ENUM, .kind = C, FIELD(seg_nearest),
     .names = interp_names, .example = "nearest", .bad = "cubic",
     .flags = PF_OPTF_NO_JSON | PF_OPTF_AUG,
     .help = "with aug=nnunet: label resampling, per-label linear + argmax, or nearest"},
    {.name = "seg_outside", .type = PF_OT_ENUM, .kind = C, FIELD(seg_outside_zero),
     .names = seg_outside_names, .example = "0", .bad = "1", .json = pf_json_seg_outside,
     .help = "training seg value outside the case: -1, or 0 (nnU-Net's target after "
             "RemoveLabelTansform(-1, 0))"},
    AUG_P(PF_AUG_P_ROTATION, "rotation", "0.5"),
    AUG_P(PF_AUG_P_SCALING, "scaling", "0.5"),
    AUG_P(PF_AUG_P_NOISE, "noise", "0"),
    AUG_P(PF_AUG_P_BLUR, "blur", "1"),
    AUG_P(PF_AUG_P_BLUR_CHANNEL, "blur_channel", "0.25"),
    AUG_P(PF_AUG_P_BRIGHTNESS, "brightness", "0.5"),
    AUG_P(PF_AUG_P_CONTRAST, "contrast", "0.5"),
    AUG_P(PF_AUG_P_LOWRES, "lowres", "0.5"),
    AUG_P(PF_AUG_P_LOWRES_CHANNEL, "lowres_channel", "0.75"),
    AUG_P(PF_AUG_P_GAMMA_INVERT, "gamma_invert", "0.2"),
    AUG_P(PF_AUG_P_GAMMA, "gamma", "0.6"),
    AUG_P(PF_AUG_P_MIRROR, "mirror", "1"),
    {.name = "aug_rotation", .type = PF_OT_RANGE, .kind = C, .dmin = -360, .dmax = 360,
     .metavar = "LO:HI", .def = "nnU-Net's", .example = "-30:30", .bad = "30:-30",
     .set = pf_opt_set_aug_rotation, .flags = PF_OPTF_NO_JSON | PF_OPTF_AUG,
     .help = "with aug=nnunet: rotation range, degrees"},
    {.name = "aug_scaling", .type = PF_OT_RANGE, .kind = C, .dmin = 0.05, .dmax = 20,
     .metavar = "LO:HI", .example = "0.8:1.25", .bad = "0:1", .set = pf_opt_set_aug_scaling,
     .flags = PF_OPTF_NO_JSON | PF_OPTF_AUG,
     .help = "with aug=nnunet: zoom factor range (> 1 zooms out)"},
    {.name = "ds_scales", .type = PF_OT_LIST, .kind = C, .metavar = "auto|1,S,...", .def = "none",
     .example = "1,0.5,0.25", .bad = "0.5,1", .set = pf_opt_set_list, .add = pf_opt_add_ds_scale,
     .json = pf_json_ds_scales,
     .help = "deep-supervision targets seg_ds1.npy, ...: auto (per axis, from the plan's "
             "strides, as nnU-Net) or decreasing scales after 1"},
    {.name = "dtype", .type = PF_OT_ENUM, .kind = C, FIELD(data_f16), .names = dtype_names,
     .example = "float16", .bad = "float64", .flags = PF_OPTF_NO_JSON,
     .help = "data.npy (steps, samples, cases): float32, or float16 rounded to nearest even "
             "(half the bytes; cast back on the GPU)"},
    {.name = "shard", .type = PF_OT_RATIO, .kind = C, .umax = PF_MAX_BATCH, .metavar = "R/W",
     .def = "none", .example = "1/3", .bad = "2/2", .set = pf_opt_set_shard, .json = pf_json_shard,
     .help = "serve rank R's part of every global batch of W ranks; with prepare: build "
             "share R of W of the cases (docs/distributed.md)"},
    {.name = "skip_bad", .type = PF_OT_FLAG, .kind = C, FIELD(skip_bad), .bad = "1",
     .flags = PF_OPTF_NO_JSON, .help = "set bad cases aside (listed) and serve the rest"},
    {.name = "cache", .type = PF_OT_PATH, .kind = S, .metavar = "DIR",
     .def = "$XDG_CACHE_HOME/patchfs or ~/.cache/patchfs", .example = "/tmp/pfc", .bad = "",
     .set = pf_opt_set_cache, .help = "preprocessing cache folder"},
    {.name = "log", .type = PF_OT_PATH, .kind = S, FIELD(log_file), .metavar = "FILE",
     .def = "stderr; syslog once daemonized", .example = "/tmp/patchfs.log", .bad = "",
     .help = "file the mount's messages and errors are appended to"},
    {.name = "mem", .type = PF_OT_SIZE, .kind = S, FIELD(mem_bytes), .umin = PF_MEM_MIN,
     .umax = SIZE_MAX >> 1, .metavar = "SIZE", .example = "64M", .bad = "10",
     .help = "memory for generated files, with K, M or G"},
    {.name = "threads", .type = PF_OT_UINT, .kind = S, FIELD(threads), .umin = 1, .umax = 256,
     .metavar = "N", .def = "automatic", .example = "8", .bad = "0",
     .help = "FUSE and cache-building threads"},
    {.name = "sample_threads", .type = PF_OT_UINT, .kind = S, FIELD(sample_threads),
     .umin = 1, .umax = 64, .metavar = "N", .def = "one per core", .example = "2", .bad = "0",
     .help = "threads rendering the samples of one file"},
    {.name = "prefetch", .type = PF_OT_UINT, .kind = S, FIELD(prefetch), .umax = 64,
     .metavar = "N", .example = "2", .bad = "65",
     .help = "steps generated ahead of a reader walking steps in order"},
    {.name = "allow_other", .type = PF_OT_FLAG, .kind = S, FIELD(allow_other), .bad = "1",
     .help = "let other users read the mount (adds default_permissions)"},
    {.name = "direct_io", .type = PF_OT_FLAG, .kind = S, FIELD(direct_io), .bad = "1",
     .help = "bypass the page cache (faster single pass; no mmap)"},
    {.name = "foreground", .type = PF_OT_FLAG, .kind = S, FIELD(foreground), .bad = "1",
     .help = "stay in the foreground (-f)"},
    {.name = "debug", .type = PF_OT_FLAG, .kind = S, FIELD(debug), .bad = "1",
     .set = pf_opt_set_debug, .help = "print every FUSE request; implies foreground (-d)"},
    {.name = "prepare", .type = PF_OT_FLAG, .kind = S, FIELD(prepare), .bad = "1",
     .help = "check: also build the cache when the dataset is usable, as patchfs prepare"},
    {.name = "dry_run", .type = PF_OT_FLAG, .kind = S, FIELD(dry_run), .bad = "1",
     .help = "gc: list what would be freed, remove nothing (--dry-run)"},
    {.name = "all", .type = PF_OT_FLAG, .kind = S, FIELD(gc_all), .bad = "1",
     .help = "gc: also remove the entries of other option sets (another crop=)"},
    {.name = "cases", .type = PF_OT_ENUM, .kind = S, FIELD(cases_all), .names = cases_names,
     .example = "all", .bad = "train",
     .help = "export/evaluate of a folder: the fold's validation cases, or all cases"},
    {.name = "probabilities", .type = PF_OT_PATH, .kind = S, FIELD(probabilities),
     .metavar = "FILE|DIR", .def = "none", .example = "/tmp/case.npz", .bad = "",
     .help = "export: also the probabilities on the source grid (.npz; a folder per case)"},
    {.name = "force", .type = PF_OT_FLAG, .kind = S, FIELD(force), .bad = "1",
     .help = "export/evaluate: replace output files that exist"},
    WORD("ro"), WORD("defaults"), WORD("nofail"), WORD("_netdev"), WORD("noauto"),
    WORD("auto"), WORD("nosuid"), WORD("nodev"), WORD("noexec"), WORD("default_permissions"),
    {.name = "rw", .type = PF_OT_WORD, .bad = "1", .set = pf_opt_refuse_rw,
     .flags = PF_OPTF_NO_JSON, .help = "refused: patchfs is read-only"},
};
#define N_ROWS (sizeof table / sizeof table[0])
_Static_assert(N_ROWS <= PF_OPT_MAX_ROWS, "raise PF_OPT_MAX_ROWS");
_Static_assert(PF_AUG_N == 12, "one aug_p_ row per transform");

const pf_option_desc *pf_options_table(size_t *n)
{
    *n = N_ROWS;
    return table;
}

const pf_option_desc *pf_option_find(const char *name)
{
    for (size_t i = 0; i < N_ROWS; i++) /* the first letter first: strcmp is a call */
        if (table[i].name[0] == name[0] && !strcmp(table[i].name, name))
            return &table[i];
    return NULL;
}

int pf_option_takes_value(const char *name)
{
    const pf_option_desc *d = pf_option_find(name);
    return d && d->type != PF_OT_FLAG && d->type != PF_OT_WORD;
}

static void mark_given(pf_options *o, const pf_option_desc *d)
{
    size_t i = (size_t)(d - table);
    o->given[i / 32] |= UINT32_C(1) << (i % 32);
}

int pf_options_given(const pf_options *o, const char *name)
{
    const pf_option_desc *d = pf_option_find(name);
    return d ? pf_opt_given_row(o, (size_t)(d - table)) : 0;
}

/* The setter for the regular types: field, range and names from the row. */
static int set_generic(pf_options *o, const pf_option_desc *d, const char *value, pf_error *err)
{
    uint64_t v = 0;
    double x;
    switch (d->type) {
    case PF_OT_FLAG: {
        int one = 1;
        memcpy(pf_opt_field(o, d), &one, sizeof one);
        return 0;
    }
    case PF_OT_UINT:
        if (pf_parse_u64(value, d->umax, &v) != 0 || v < d->umin)
            return pf_fail(err, EINVAL,
                           "option '%s': '%s' is not a whole number from %llu to %llu", d->name,
                           value, (unsigned long long)d->umin, (unsigned long long)d->umax);
        break;
    case PF_OT_SIZE:
        if (pf_opt_parse_size(d, value, &v, err))
            return -1;
        break;
    case PF_OT_DOUBLE:
        if (pf_opt_parse_double(d->name, value, d->dmin, d->dmax, &x, err))
            return -1;
        memcpy(pf_opt_field(o, d), &x, sizeof x);
        return 0;
    case PF_OT_ENUM: {
        char list[128];
        size_t k = 0;
        for (int i = 0; d->names[i]; i++)
            if (!strcmp(value, d->names[i])) {
                memcpy(pf_opt_field(o, d), &i, sizeof i);
                return 0;
            }
        list[0] = '\0';
        for (int i = 0; d->names[i] && k < sizeof list; i++)
            k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", d->names[i]);
        return pf_fail(err, EINVAL, "option '%s': '%s' is not one of %s", d->name, value, list);
    }
    case PF_OT_PATH: { /* a path held in the struct (log=); cache= has its own setter */
        size_t len = strlen(value);
        if (!len)
            return pf_fail(err, EINVAL, "option '%s' needs a path (%s=%s)", d->name, d->name,
                           d->metavar);
        if (len >= d->size)
            return pf_fail(err, ENAMETOOLONG, "option '%s': the path is longer than %zu bytes",
                           d->name, d->size - 1);
        memcpy(pf_opt_field(o, d), value, len + 1);
        return 0;
    }
    default:
        return pf_fail(err, EINVAL, "option '%s' cannot be set", d->name); /* not reached */
    }
    /* UINT and SIZE: the field's width decides the store */
    if (d->size == sizeof(uint64_t)) {
        memcpy(pf_opt_field(o, d), &v, sizeof v);
    } else {
        uint32_t w = (uint32_t)v; /* umax of 32-bit fields is at most INT_MAX */
        memcpy(pf_opt_field(o, d), &w, sizeof w);
    }
    return 0;
}

int pf_options_set(pf_options *o, const char *key, const char *value, pf_error *err)
{
    const pf_option_desc *d = pf_option_find(key);
    if (!d) {
        if (!strncmp(key, "aug_p_", 6))
            return pf_fail(err, EINVAL, "unknown option '%s' (see docs/augmentation.md for the "
                           "aug_p_ names)", key);
        return pf_fail(err, EINVAL, "unknown option '%s' (see patchfs --help)", key);
    }
    if (d->type == PF_OT_FLAG || d->type == PF_OT_WORD) {
        if (value)
            return pf_fail(err, EINVAL, "option '%s' takes no value (give it as '%s' alone)",
                           key, key);
    } else if (!value) {
        char mv[128];
        pf_opt_metavar(d, mv, sizeof mv);
        return pf_fail(err, EINVAL, "option '%s' needs a value (%s=%s)", key, key, mv);
    }
    if (d->set ? d->set(o, d, value, err) : d->type == PF_OT_WORD ? 0
                                                                   : set_generic(o, d, value, err))
        return -1;
    mark_given(o, d);
    return 0;
}

int pf_options_parse_list(pf_options *o, const char *list, pf_error *err)
{
    char *copy = pf_strdup(list, err), *save = NULL, *item;
    const pf_option_desc *open_list = NULL; /* the list option later items may continue */
    int rc = 0;
    if (!copy)
        return -1;
    for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        /* "-o class_weights=1:1,2:4", "-o ds_scales=1,0.5": the commas of the list value
         * also separate -o items, so an item that names no option continues the list */
        if (!eq && open_list && !pf_option_find(item)) {
            if (open_list->add(o, item, err) != 0) {
                rc = -1;
                break;
            }
            continue;
        }
        if (eq)
            *eq = '\0';
        if (pf_options_set(o, item, eq ? eq + 1 : NULL, err) != 0) {
            rc = -1;
            break;
        }
        open_list = pf_option_find(item);
        if (open_list && open_list->type != PF_OT_LIST)
            open_list = NULL;
    }
    free(copy);
    return rc;
}

char *pf_default_cache_dir(void)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char buf[4096];
    if (xdg && *xdg == '/')
        snprintf(buf, sizeof buf, "%s/patchfs", xdg);
    else if (home && *home)
        snprintf(buf, sizeof buf, "%s/.cache/patchfs", home);
    else
        snprintf(buf, sizeof buf, "/tmp/patchfs-cache");
    return strdup(buf);
}

char *pf_path_absolute(const char *path, pf_error *err)
{
    char *cwd, *out;
    if (path[0] == '/')
        return pf_strdup(path, err);
    if (!(cwd = getcwd(NULL, 0))) {
        pf_fail(err, errno, "cannot find the current directory to resolve '%s': %s", path,
                strerror(errno));
        return NULL;
    }
    /* "." alone is the directory itself; "./x" is "x" */
    while (path[0] == '.' && path[1] == '/')
        for (path += 2; *path == '/'; path++)
            ;
    if (!strcmp(path, ".") || !*path)
        return cwd;
    if (asprintf(&out, "%s%s%s", cwd, strcmp(cwd, "/") ? "/" : "", path) < 0) {
        out = NULL;
        pf_fail(err, ENOMEM, "out of memory");
    }
    free(cwd);
    return out;
}

int pf_options_resolve_paths(pf_options *o, pf_error *err)
{
    char *abs;
    if (o->cache_dir) {
        if (!(abs = pf_path_absolute(o->cache_dir, err)))
            return pf_wrap(err, "option 'cache'");
        free(o->cache_dir);
        o->cache_dir = abs;
    }
    if (o->plans_file[0]) {
        if (!(abs = pf_path_absolute(o->plans_file, err)))
            return pf_wrap(err, "option 'plans'");
        if (strlen(abs) >= sizeof o->plans_file) {
            free(abs);
            return pf_fail(err, ENAMETOOLONG, "option 'plans': the path is too long");
        }
        strcpy(o->plans_file, abs);
        free(abs);
    }
    if (o->infer_dir[0]) {
        if (!(abs = pf_path_absolute(o->infer_dir, err)))
            return pf_wrap(err, "option 'infer'");
        if (strlen(abs) >= sizeof o->infer_dir) {
            free(abs);
            return pf_fail(err, ENAMETOOLONG, "option 'infer': the path is too long");
        }
        strcpy(o->infer_dir, abs);
        free(abs);
    }
    if (o->log_file[0]) {
        if (!(abs = pf_path_absolute(o->log_file, err)))
            return pf_wrap(err, "option 'log'");
        if (strlen(abs) >= sizeof o->log_file) {
            free(abs);
            return pf_fail(err, ENAMETOOLONG, "option 'log': the path is longer than %zu bytes "
                           "once made absolute", sizeof o->log_file - 1);
        }
        strcpy(o->log_file, abs);
        free(abs);
    }
    return 0;
}

const char *pf_norm_mode_name(pf_norm_mode m)
{
    return (unsigned)m <= PF_NORM_NONE ? norm_names[m] : norm_names[0];
}

const char *pf_crop_mode_name(pf_crop_mode m)
{
    return m == PF_CROP_NONE ? crop_names[1] : crop_names[0];
}

const char *pf_policy_name(pf_policy p)
{
    return (unsigned)p <= PF_POLICY_UNIFORM ? policy_names[p] : policy_names[0];
}
