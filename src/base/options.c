/* options.c - parsing and validating patchfs options (see options.h). */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const pf_aug_prob_names[PF_AUG_N] = {
    "rotation", "scaling", "noise", "blur", "blur_channel", "brightness", "contrast", "lowres",
    "lowres_channel", "gamma_invert", "gamma", "mirror"};
/* nnUNetTrainer.get_training_transforms */
const double pf_aug_prob_defaults[PF_AUG_N] = {0.2, 0.2, 0.1, 0.2, 0.5, 0.15, 0.15, 0.25, 0.5,
                                               0.1, 0.3, 0.5};

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

static int parse_uint_opt(const char *key, const char *value, uint64_t min, uint64_t max,
                          uint64_t *out, pf_error *err)
{
    uint64_t v;
    if (!value)
        return pf_fail(err, EINVAL, "option '%s' needs a value (%s=N)", key, key);
    if (pf_parse_u64(value, max, &v) != 0 || v < min)
        return pf_fail(err, EINVAL,
                       "option '%s': '%s' is not a whole number from %llu to %llu", key, value,
                       (unsigned long long)min, (unsigned long long)max);
    *out = v;
    return 0;
}

/* patch=ZxYxX (3D) or patch=YxX (2D: axial slices). Each side 1..PF_MAX_PATCH. */
static int parse_patch(pf_options *o, const char *value, pf_error *err)
{
    int dims[3], n = 0;
    const char *p = value;
    if (!value)
        return pf_fail(err, EINVAL, "option 'patch' needs a value (patch=ZxYxX or YxX)");
    while (n < 3) {
        char buf[16];
        size_t len = strcspn(p, "x");
        uint64_t v;
        if (len == 0 || len >= sizeof buf)
            break;
        memcpy(buf, p, len);
        buf[len] = '\0';
        if (pf_parse_u64(buf, PF_MAX_PATCH, &v) != 0 || v == 0)
            break;
        dims[n++] = (int)v;
        p += len;
        if (*p == '\0' || n == 3)
            break;
        p++; /* skip 'x' */
    }
    if (n < 2 || *p != '\0')
        return pf_fail(err, EINVAL,
                       "option 'patch': '%s' is not ZxYxX or YxX with each side from 1 to %d "
                       "(e.g. patch=128x128x128, or patch=512x512 for 2D)", value, PF_MAX_PATCH);
    o->patch_2d = n == 2;
    if (n == 2) {
        o->patch[0] = 1;
        o->patch[1] = dims[0];
        o->patch[2] = dims[1];
    } else {
        memcpy(o->patch, dims, sizeof dims);
    }
    return 0;
}

static int parse_oversample(pf_options *o, const char *value, pf_error *err)
{
    char *end;
    double v;
    if (!value)
        return pf_fail(err, EINVAL, "option 'oversample' needs a value (oversample=0.33)");
    errno = 0;
    v = strtod(value, &end);
    if (errno || end == value || *end || !(v >= 0.0 && v <= 1.0))
        return pf_fail(err, EINVAL, "option 'oversample': '%s' is not a number from 0 to 1",
                       value);
    o->oversample = v;
    /* shown in README.txt as given, unless too long to show faithfully */
    if (strlen(value) < sizeof o->oversample_text)
        snprintf(o->oversample_text, sizeof o->oversample_text, "%s", value);
    else
        snprintf(o->oversample_text, sizeof o->oversample_text, "%.17g", v);
    return 0;
}

/* class_weights=1:1,2:4 - label:weight pairs; weights are decimals with up to 6 fraction
 * digits, kept as integer millionths. */
static int add_class_weight(pf_options *o, const char *item, pf_error *err)
{
    const char *colon = strchr(item, ':');
    char label[16];
    uint64_t lv, whole = 0, frac = 0;
    const char *w, *dot;
    size_t len;
    if (!colon || (len = (size_t)(colon - item)) == 0 || len >= sizeof label)
        return pf_fail(err, EINVAL, "option 'class_weights': '%s' is not LABEL:WEIGHT", item);
    memcpy(label, item, len);
    label[len] = '\0';
    if (pf_parse_u64(label, 32767, &lv) != 0 || lv == 0)
        return pf_fail(err, EINVAL, "option 'class_weights': '%s' is not a foreground label "
                       "(1..32767)", label);
    w = colon + 1;
    dot = strchr(w, '.');
    {
        char ip[16] = {0}, fp[8] = {0};
        size_t il = dot ? (size_t)(dot - w) : strlen(w), fl = dot ? strlen(dot + 1) : 0;
        if (il == 0 || il >= sizeof ip || fl > 6 || (dot && fl == 0))
            return pf_fail(err, EINVAL, "option 'class_weights': weight '%s' of label %s is not a "
                           "number with at most 6 decimals", w, label);
        memcpy(ip, w, il);
        if (pf_parse_u64(ip, 1000000, &whole) != 0)
            return pf_fail(err, EINVAL, "option 'class_weights': weight '%s' of label %s is not a "
                           "number from 0 to 1000000", w, label);
        if (fl) {
            memcpy(fp, dot + 1, fl);
            for (size_t i = fl; i < 6; i++)
                fp[i] = '0';
            for (size_t i = 0; i < 6; i++) {
                if (fp[i] < '0' || fp[i] > '9')
                    return pf_fail(err, EINVAL, "option 'class_weights': weight '%s' of label %s "
                                   "is not a number", w, label);
                frac = frac * 10 + (uint64_t)(fp[i] - '0');
            }
        }
    }
    for (int i = 0; i < o->n_class_weights; i++)
        if (o->class_weights[i].label == (int)lv)
            return pf_fail(err, EINVAL, "option 'class_weights': label %s is given twice", label);
    if (o->n_class_weights == PF_MAX_CLASS_WEIGHTS)
        return pf_fail(err, EINVAL, "option 'class_weights': more than %d labels",
                       PF_MAX_CLASS_WEIGHTS);
    o->class_weights[o->n_class_weights].label = (int)lv;
    o->class_weights[o->n_class_weights].weight = whole * 1000000 + frac;
    o->n_class_weights++;
    return 0;
}

static int parse_class_weights(pf_options *o, const char *value, pf_error *err)
{
    char *copy, *save = NULL, *item;
    int rc = 0;
    if (!value || !*value)
        return pf_fail(err, EINVAL, "option 'class_weights' needs LABEL:WEIGHT pairs "
                       "(e.g. class_weights=1:1,2:4)");
    copy = pf_strdup(value, err);
    if (!copy)
        return -1;
    /* parse into a copy: a bad pair leaves the options as they were */
    {
        pf_options tmp = *o;
        tmp.n_class_weights = 0;
        for (item = strtok_r(copy, ",", &save); item && rc == 0;
             item = strtok_r(NULL, ",", &save))
            rc = add_class_weight(&tmp, item, err);
        if (rc == 0) {
            o->n_class_weights = tmp.n_class_weights;
            memcpy(o->class_weights, tmp.class_weights, sizeof o->class_weights);
        }
    }
    free(copy);
    return rc;
}

static int parse_double(const char *key, const char *value, double lo, double hi, double *out,
                        pf_error *err)
{
    char *end;
    double v;
    if (!value || !*value)
        return pf_fail(err, EINVAL, "option '%s' needs a number", key);
    errno = 0;
    v = strtod(value, &end);
    if (errno || end == value || *end || !(v >= lo && v <= hi))
        return pf_fail(err, EINVAL, "option '%s': '%s' is not a number from %g to %g", key,
                       value, lo, hi);
    *out = v;
    return 0;
}

/* LO:HI ranges (aug_rotation in degrees, aug_scaling as factors) */
static int parse_range(const char *key, const char *value, double lo, double hi, double *a,
                       double *b, pf_error *err)
{
    char first[32];
    const char *colon = value ? strchr(value, ':') : NULL;
    size_t len = colon ? (size_t)(colon - value) : 0;
    if (!colon || len == 0 || len >= sizeof first)
        return pf_fail(err, EINVAL, "option '%s': '%s' is not LO:HI", key, value ? value : "");
    memcpy(first, value, len);
    first[len] = '\0';
    if (parse_double(key, first, lo, hi, a, err) || parse_double(key, colon + 1, lo, hi, b, err))
        return -1;
    if (*a > *b)
        return pf_fail(err, EINVAL, "option '%s': '%s' has LO > HI", key, value);
    return 0;
}

/* ds_scales=1,0.5,0.25: the first scale is seg.npy itself (1); each later one adds seg_dsK. */
static int add_ds_scale(pf_options *o, const char *item, pf_error *err)
{
    double v;
    if (parse_double("ds_scales", item, 1e-3, 1.0, &v, err))
        return -1;
    if (o->n_ds == PF_MAX_DS)
        return pf_fail(err, EINVAL, "option 'ds_scales': at most %d scales", PF_MAX_DS);
    if (o->n_ds == 0 && v != 1.0)
        return pf_fail(err, EINVAL, "option 'ds_scales': the first scale must be 1 (seg.npy)");
    o->ds_scales[o->n_ds++] = v;
    return 0;
}

static int parse_ds_scales(pf_options *o, const char *value, pf_error *err)
{
    char *copy, *save = NULL, *item;
    pf_options tmp;
    int rc = 0;
    if (!value || !*value)
        return pf_fail(err, EINVAL, "option 'ds_scales' needs scales (e.g. ds_scales=1,0.5,0.25)");
    copy = pf_strdup(value, err);
    if (!copy)
        return -1;
    memcpy(&tmp, o, sizeof tmp);
    tmp.n_ds = 0;
    for (item = strtok_r(copy, ",", &save); item && rc == 0; item = strtok_r(NULL, ",", &save))
        rc = add_ds_scale(&tmp, item, err);
    if (rc == 0) {
        o->n_ds = tmp.n_ds;
        memcpy(o->ds_scales, tmp.ds_scales, sizeof o->ds_scales);
    }
    free(copy);
    return rc;
}

/* shard=R/W: this mount serves rank R's part of every global batch. */
static int parse_shard(pf_options *o, const char *value, pf_error *err)
{
    const char *slash = value ? strchr(value, '/') : NULL;
    char r[16];
    uint64_t rv, wv;
    size_t len = slash ? (size_t)(slash - value) : 0;
    if (!slash || len == 0 || len >= sizeof r)
        return pf_fail(err, EINVAL, "option 'shard': '%s' is not RANK/WORLD (e.g. shard=0/2)",
                       value ? value : "");
    memcpy(r, value, len);
    r[len] = '\0';
    if (pf_parse_u64(r, PF_MAX_BATCH, &rv) != 0 || pf_parse_u64(slash + 1, PF_MAX_BATCH, &wv) != 0 ||
        wv == 0 || rv >= wv)
        return pf_fail(err, EINVAL, "option 'shard': '%s' needs 0 <= RANK < WORLD <= %d",
                       value, PF_MAX_BATCH);
    o->shard_rank = (int)rv;
    o->shard_world = (int)wv;
    return 0;
}

static int parse_size(const char *key, const char *value, size_t *out, pf_error *err)
{
    char *end;
    unsigned long long v;
    unsigned shift = 0;
    if (!value || !*value || *value == '-')
        return pf_fail(err, EINVAL, "option '%s' needs a size (e.g. %s=512M)", key, key);
    errno = 0;
    v = strtoull(value, &end, 10);
    if (errno || end == value)
        return pf_fail(err, EINVAL, "option '%s': '%s' is not a size", key, value);
    switch (*end) {
    case '\0': break;
    case 'K': case 'k': shift = 10; end++; break;
    case 'M': case 'm': shift = 20; end++; break;
    case 'G': case 'g': shift = 30; end++; break;
    default: return pf_fail(err, EINVAL, "option '%s': '%s' is not a size (use K, M or G)",
                            key, value);
    }
    if (*end || v > (~0ULL >> (shift + 1)))
        return pf_fail(err, EINVAL, "option '%s': '%s' is not a size", key, value);
    *out = (size_t)(v << shift);
    return 0;
}

static int no_value(const char *key, const char *value, pf_error *err)
{
    if (value)
        return pf_fail(err, EINVAL, "option '%s' takes no value", key);
    return 0;
}

int pf_options_set(pf_options *o, const char *key, const char *value, pf_error *err)
{
    uint64_t v;

    if (!strcmp(key, "seed")) {
        if (parse_uint_opt(key, value, 0, UINT64_MAX, &v, err))
            return -1;
        o->seed = v;
    } else if (!strcmp(key, "patch")) {
        return parse_patch(o, value, err);
    } else if (!strcmp(key, "batch")) {
        if (parse_uint_opt(key, value, 1, PF_MAX_BATCH, &v, err))
            return -1;
        o->batch = (int)v;
    } else if (!strcmp(key, "steps") || !strcmp(key, "val_steps") || !strcmp(key, "epochs")) {
        if (parse_uint_opt(key, value, 1, key[0] == 'e' ? PF_MAX_EPOCHS : PF_MAX_STEPS, &v, err))
            return -1;
        if (key[0] == 's')
            o->steps = (uint32_t)v;
        else if (key[0] == 'v')
            o->val_steps = (uint32_t)v;
        else
            o->epochs = (uint32_t)v;
    } else if (!strcmp(key, "oversample")) {
        return parse_oversample(o, value, err);
    } else if (!strcmp(key, "oversample_mode")) {
        if (value && !strcmp(value, "fixed"))
            o->probabilistic = 0;
        else if (value && !strcmp(value, "probabilistic"))
            o->probabilistic = 1;
        else
            return pf_fail(err, EINVAL, "option 'oversample_mode': '%s' is not one of fixed, "
                           "probabilistic", value ? value : "");
    } else if (!strcmp(key, "sampler")) {
        if (value && !strcmp(value, "nnunet"))
            o->policy = PF_POLICY_NNUNET;
        else if (value && !strcmp(value, "class"))
            o->policy = PF_POLICY_CLASS;
        else if (value && !strcmp(value, "uniform"))
            o->policy = PF_POLICY_UNIFORM;
        else
            return pf_fail(err, EINVAL, "option 'sampler': '%s' is not one of nnunet, class, "
                           "uniform", value ? value : "");
    } else if (!strcmp(key, "class_weights")) {
        return parse_class_weights(o, value, err);
    } else if (!strcmp(key, "shard")) {
        return parse_shard(o, value, err);
    } else if (!strcmp(key, "aug")) {
        if (value && !strcmp(value, "none"))
            o->aug = 0;
        else if (value && !strcmp(value, "nnunet"))
            o->aug = 1;
        else
            return pf_fail(err, EINVAL, "option 'aug': '%s' is not one of none, nnunet",
                           value ? value : "");
    } else if (!strcmp(key, "seg_interp")) {
        if (value && !strcmp(value, "linear"))
            o->seg_nearest = 0;
        else if (value && !strcmp(value, "nearest"))
            o->seg_nearest = 1;
        else
            return pf_fail(err, EINVAL, "option 'seg_interp': '%s' is not one of linear, nearest",
                           value ? value : "");
    } else if (!strcmp(key, "aug_rotation")) {
        if (parse_range(key, value, -360.0, 360.0, &o->aug_rot_lo, &o->aug_rot_hi, err))
            return -1;
        o->aug_rot_set = 1;
    } else if (!strcmp(key, "aug_scaling")) {
        return parse_range(key, value, 0.05, 20.0, &o->aug_scale_lo, &o->aug_scale_hi, err);
    } else if (!strcmp(key, "ds_scales")) {
        return parse_ds_scales(o, value, err);
    } else if (!strncmp(key, "aug_p_", 6)) {
        for (int i = 0; i < PF_AUG_N; i++)
            if (!strcmp(key + 6, pf_aug_prob_names[i]))
                return parse_double(key, value, 0.0, 1.0, &o->aug_p[i], err);
        return pf_fail(err, EINVAL, "unknown option '%s' (see docs/augmentation.md for the "
                       "aug_p_ names)", key);
    } else if (!strcmp(key, "fold")) {
        if (value && !strcmp(value, "all")) {
            o->fold = PF_FOLD_ALL;
            return 0;
        }
        if (!value || pf_parse_u64(value, 1000000, &v) != 0)
            return pf_fail(err, EINVAL, "option 'fold': '%s' is not a fold number or 'all'",
                           value ? value : "");
        o->fold = (int)v;
    } else if (!strcmp(key, "normalize")) {
        if (value && !strcmp(value, "auto"))
            o->normalize = PF_NORM_AUTO;
        else if (value && !strcmp(value, "zscore"))
            o->normalize = PF_NORM_ZSCORE;
        else if (value && !strcmp(value, "ct"))
            o->normalize = PF_NORM_CT;
        else if (value && !strcmp(value, "none"))
            o->normalize = PF_NORM_NONE;
        else
            return pf_fail(err, EINVAL,
                           "option 'normalize': '%s' is not one of auto, zscore, ct, none",
                           value ? value : "");
    } else if (!strcmp(key, "crop")) {
        if (value && !strcmp(value, "nonzero"))
            o->crop = PF_CROP_NONZERO;
        else if (value && !strcmp(value, "none"))
            o->crop = PF_CROP_NONE;
        else
            return pf_fail(err, EINVAL, "option 'crop': '%s' is not one of nonzero, none",
                           value ? value : "");
    } else if (!strcmp(key, "cache")) {
        char *dup;
        if (!value || !*value)
            return pf_fail(err, EINVAL, "option 'cache' needs a directory (cache=DIR)");
        dup = pf_strdup(value, err);
        if (!dup)
            return -1;
        free(o->cache_dir);
        o->cache_dir = dup;
    } else if (!strcmp(key, "mem")) {
        return parse_size(key, value, &o->mem_bytes, err);
    } else if (!strcmp(key, "prefetch")) {
        if (parse_uint_opt(key, value, 0, 64, &v, err))
            return -1;
        o->prefetch = (int)v;
    } else if (!strcmp(key, "sample_threads")) {
        if (parse_uint_opt(key, value, 1, 64, &v, err))
            return -1;
        o->sample_threads = (int)v;
    } else if (!strcmp(key, "threads")) {
        if (parse_uint_opt(key, value, 1, 256, &v, err))
            return -1;
        o->threads = (int)v;
    } else if (!strcmp(key, "allow_other")) {
        if (no_value(key, value, err))
            return -1;
        o->allow_other = 1;
    } else if (!strcmp(key, "skip_bad")) {
        if (no_value(key, value, err))
            return -1;
        o->skip_bad = 1;
    } else if (!strcmp(key, "direct_io")) {
        if (no_value(key, value, err))
            return -1;
        o->direct_io = 1;
    } else if (!strcmp(key, "foreground")) {
        o->foreground = 1;
    } else if (!strcmp(key, "debug")) {
        o->debug = 1;
    } else if (!strcmp(key, "ro") || !strcmp(key, "defaults") || !strcmp(key, "nofail") ||
               !strcmp(key, "_netdev") || !strcmp(key, "noauto") || !strcmp(key, "auto") ||
               !strcmp(key, "nosuid") || !strcmp(key, "nodev") || !strcmp(key, "noexec") ||
               !strcmp(key, "default_permissions")) {
        /* Generic mount(8)/fstab words: patchfs is always read-only, nosuid and nodev. */
    } else if (!strcmp(key, "rw")) {
        return pf_fail(err, EROFS, "option 'rw': patchfs is read-only");
    } else {
        return pf_fail(err, EINVAL, "unknown option '%s' (see patchfs --help)", key);
    }
    return 0;
}

int pf_options_parse_list(pf_options *o, const char *list, pf_error *err)
{
    char *copy = pf_strdup(list, err), *save = NULL, *item;
    int rc = 0;
    if (!copy)
        return -1;
    int in_weights = 0, in_scales = 0;
    for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        /* "-o class_weights=1:1,2:4", "-o ds_scales=1,0.5": later items continue the list */
        if (!eq && in_weights && strchr(item, ':')) {
            if (add_class_weight(o, item, err) != 0) {
                rc = -1;
                break;
            }
            continue;
        }
        if (!eq && in_scales && (isdigit((unsigned char)item[0]) || item[0] == '.')) {
            if (add_ds_scale(o, item, err) != 0) {
                rc = -1;
                break;
            }
            continue;
        }
        if (eq)
            *eq = '\0';
        in_weights = !strcmp(item, "class_weights");
        in_scales = !strcmp(item, "ds_scales");
        if (pf_options_set(o, item, eq ? eq + 1 : NULL, err) != 0) {
            rc = -1;
            break;
        }
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

const char *pf_norm_mode_name(pf_norm_mode m)
{
    switch (m) {
    case PF_NORM_ZSCORE: return "zscore";
    case PF_NORM_CT: return "ct";
    case PF_NORM_NONE: return "none";
    default: return "auto";
    }
}

const char *pf_crop_mode_name(pf_crop_mode m)
{
    return m == PF_CROP_NONE ? "none" : "nonzero";
}

const char *pf_policy_name(pf_policy p)
{
    switch (p) {
    case PF_POLICY_CLASS: return "class";
    case PF_POLICY_UNIFORM: return "uniform";
    default: return "nnunet";
    }
}
