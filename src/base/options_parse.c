/* options_parse.c - reading option values: numbers, ranges and sizes checked against their
 * row, and the setters of the irregular options (patch, oversample, fold, class_weights,
 * ds_scales, shard, aug ranges, cache, debug). See options.h. */
#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options_i.h"

/* ---- value parsers: parse into locals, so a refused value leaves the options as they were */

int pf_opt_parse_double(const char *key, const char *value, double lo, double hi, double *out,
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
static int parse_range(const pf_option_desc *d, const char *value, double *a, double *b,
                       pf_error *err)
{
    char first[32];
    const char *colon = strchr(value, ':');
    size_t len = colon ? (size_t)(colon - value) : 0;
    double x, y;
    if (!colon || len == 0 || len >= sizeof first)
        return pf_fail(err, EINVAL, "option '%s': '%s' is not LO:HI", d->name, value);
    memcpy(first, value, len);
    first[len] = '\0';
    if (pf_opt_parse_double(d->name, first, d->dmin, d->dmax, &x, err) ||
        pf_opt_parse_double(d->name, colon + 1, d->dmin, d->dmax, &y, err))
        return -1;
    if (x > y)
        return pf_fail(err, EINVAL, "option '%s': '%s' has LO > HI", d->name, value);
    *a = x;
    *b = y;
    return 0;
}

int pf_opt_parse_size(const pf_option_desc *d, const char *value, uint64_t *out, pf_error *err)
{
    char *end;
    unsigned long long v;
    unsigned shift = 0;
    if (!*value || *value == '-')
        return pf_fail(err, EINVAL, "option '%s' needs a size (e.g. %s=512M)", d->name, d->name);
    errno = 0;
    v = strtoull(value, &end, 10);
    if (errno || end == value)
        return pf_fail(err, EINVAL, "option '%s': '%s' is not a size", d->name, value);
    switch (*end) {
    case '\0': break;
    case 'K': case 'k': shift = 10; end++; break;
    case 'M': case 'm': shift = 20; end++; break;
    case 'G': case 'g': shift = 30; end++; break;
    default: return pf_fail(err, EINVAL, "option '%s': '%s' is not a size (use K, M or G)",
                            d->name, value);
    }
    if (*end || v > (d->umax >> shift))
        return pf_fail(err, EINVAL, "option '%s': '%s' is not a size", d->name, value);
    if ((v << shift) < d->umin)
        return pf_fail(err, EINVAL, "option '%s': '%s' is below the minimum of %lluM (too "
                       "little to hold generated files)", d->name, value,
                       (unsigned long long)(d->umin >> 20));
    *out = (uint64_t)v << shift;
    return 0;
}

/* ---- the setters of the irregular options ---- */

/* patch=ZxYxX (3D) or patch=YxX (2D: axial slices). Each side 1..PF_MAX_PATCH. */
int pf_opt_set_patch(pf_options *o, const pf_option_desc *d, const char *value, pf_error *err)
{
    int dims[3], n = 0;
    const char *p = value;
    (void)d;
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

int pf_opt_set_oversample(pf_options *o, const pf_option_desc *d, const char *value,
                          pf_error *err)
{
    double v;
    if (pf_opt_parse_double(d->name, value, d->dmin, d->dmax, &v, err))
        return -1;
    o->oversample = v;
    /* shown in README.txt as given, unless too long to show faithfully */
    if (strlen(value) < sizeof o->oversample_text)
        snprintf(o->oversample_text, sizeof o->oversample_text, "%s", value);
    else
        snprintf(o->oversample_text, sizeof o->oversample_text, "%.17g", v);
    return 0;
}

int pf_opt_set_fold(pf_options *o, const pf_option_desc *d, const char *value, pf_error *err)
{
    uint64_t v;
    if (!strcmp(value, "all")) {
        o->fold = PF_FOLD_ALL;
        return 0;
    }
    if (pf_parse_u64(value, d->umax, &v) != 0)
        return pf_fail(err, EINVAL, "option 'fold': '%s' is not a fold number or 'all'", value);
    o->fold = (int)v;
    return 0;
}

/* class_weights=1:1,2:4 - label:weight pairs; weights are decimals with up to 6 fraction
 * digits, kept as integer millionths. */
int pf_opt_add_class_weight(pf_options *o, const char *item, pf_error *err)
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

/* ds_scales=1,0.5,0.25: the first scale is seg.npy itself (1); each later one adds seg_dsK. */
int pf_opt_add_ds_scale(pf_options *o, const char *item, pf_error *err)
{
    double v;
    if (pf_opt_parse_double("ds_scales", item, 1e-3, 1.0, &v, err))
        return -1;
    if (o->n_ds == PF_MAX_DS)
        return pf_fail(err, EINVAL, "option 'ds_scales': at most %d scales", PF_MAX_DS);
    if (o->n_ds == 0 && v != 1.0)
        return pf_fail(err, EINVAL, "option 'ds_scales': the first scale must be 1 (seg.npy)");
    o->ds_scales[o->n_ds++] = v;
    return 0;
}

/* A whole list value replaces the list: items are added to a copy whose count starts at 0,
 * and only a list that parsed completely is kept. */
int pf_opt_set_list(pf_options *o, const pf_option_desc *d, const char *value, pf_error *err)
{
    char *copy, *save = NULL, *item;
    pf_options tmp;
    int rc = 0;
    if (!*value)
        return pf_fail(err, EINVAL, "option '%s' needs a list (e.g. %s=%s)", d->name, d->name,
                       d->example);
    if (d->add == pf_opt_add_ds_scale) {
        o->ds_auto = !strcmp(value, "auto");
        if (o->ds_auto) {
            o->n_ds = 0;
            return 0;
        }
    }
    copy = pf_strdup(value, err);
    if (!copy)
        return -1;
    memcpy(&tmp, o, sizeof tmp);
    if (d->add == pf_opt_add_class_weight)
        tmp.n_class_weights = 0;
    else
        tmp.n_ds = 0;
    for (item = strtok_r(copy, ",", &save); item && rc == 0; item = strtok_r(NULL, ",", &save))
        rc = d->add(&tmp, item, err);
    if (rc == 0) {
        o->n_class_weights = tmp.n_class_weights;
        memcpy(o->class_weights, tmp.class_weights, sizeof o->class_weights);
        o->n_ds = tmp.n_ds;
        memcpy(o->ds_scales, tmp.ds_scales, sizeof o->ds_scales);
    }
    free(copy);
    return rc;
}

/* shard=R/W: this mount serves rank R's part of every global batch. */
/* spacing=native | ZxYxX (each a positive, finite number of mm) */
int pf_opt_set_spacing(pf_options *o, const pf_option_desc *d, const char *value, pf_error *err)
{
    double v[3];
    char *end;
    const char *p = value;
    if (!strcmp(value, "native")) {
        o->spacing_mode = PF_SPACING_NATIVE;
        return 0;
    }
    for (int k = 0; k < 3; k++) {
        errno = 0;
        v[k] = strtod(p, &end);
        if (end == p || errno || !isfinite(v[k]) || v[k] <= 0 || v[k] > 1e6 ||
            (k < 2 ? *end != 'x' : *end != '\0'))
            return pf_fail(err, EINVAL, "option '%s': '%s' is neither native nor ZxYxX with "
                           "three positive spacings in mm (e.g. 1x0.8x0.8)", d->name, value);
        p = end + 1;
    }
    o->spacing_mode = PF_SPACING_FORCED;
    memcpy(o->spacing, v, sizeof v);
    return 0;
}

int pf_opt_set_shard(pf_options *o, const pf_option_desc *d, const char *value, pf_error *err)
{
    const char *slash = strchr(value, '/');
    char r[16];
    uint64_t rv, wv;
    size_t len = slash ? (size_t)(slash - value) : 0;
    if (!slash || len == 0 || len >= sizeof r)
        return pf_fail(err, EINVAL, "option 'shard': '%s' is not RANK/WORLD (e.g. shard=0/2)",
                       value);
    memcpy(r, value, len);
    r[len] = '\0';
    if (pf_parse_u64(r, d->umax, &rv) != 0 || pf_parse_u64(slash + 1, d->umax, &wv) != 0 ||
        wv == 0 || rv >= wv)
        return pf_fail(err, EINVAL, "option 'shard': '%s' needs 0 <= RANK < WORLD <= %llu",
                       value, (unsigned long long)d->umax);
    o->shard_rank = (int)rv;
    o->shard_world = (int)wv;
    return 0;
}

int pf_opt_set_aug_rotation(pf_options *o, const pf_option_desc *d, const char *value,
                            pf_error *err)
{
    if (parse_range(d, value, &o->aug_rot_lo, &o->aug_rot_hi, err))
        return -1;
    o->aug_rot_set = 1;
    return 0;
}

int pf_opt_set_aug_scaling(pf_options *o, const pf_option_desc *d, const char *value,
                           pf_error *err)
{
    return parse_range(d, value, &o->aug_scale_lo, &o->aug_scale_hi, err);
}

int pf_opt_set_cache(pf_options *o, const pf_option_desc *d, const char *value, pf_error *err)
{
    char *dup;
    (void)d;
    if (!*value)
        return pf_fail(err, EINVAL, "option 'cache' needs a directory (cache=DIR)");
    dup = pf_strdup(value, err);
    if (!dup)
        return -1;
    free(o->cache_dir);
    o->cache_dir = dup;
    return 0;
}

/* -d prints every FUSE request to stderr, which only a foreground process still has. */
int pf_opt_set_debug(pf_options *o, const pf_option_desc *d, const char *value, pf_error *err)
{
    (void)d, (void)value, (void)err;
    o->debug = o->foreground = 1;
    return 0;
}

int pf_opt_refuse_rw(pf_options *o, const pf_option_desc *d, const char *value, pf_error *err)
{
    (void)o, (void)d, (void)value;
    return pf_fail(err, EROFS, "option 'rw': patchfs is read-only");
}

