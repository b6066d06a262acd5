/* options_text.c - the option table written out: `patchfs --help`, one option's value as
 * text, and the options in effect as JSON for patchfs.json and meta.json (see options.h).
 *
 * The JSON is part of the served bytes, pinned by golden digests: keys, their order and
 * value types must stay exactly as format 1 wrote them, and an option added later appears
 * only when set so that a default mount's bytes never change. */
#include "options.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options_i.h"

static const void *cfield(const pf_options *o, const pf_option_desc *d)
{
    return (const char *)o + d->offset;
}

static int load_int(const pf_options *o, const pf_option_desc *d)
{
    int v;
    memcpy(&v, cfield(o, d), sizeof v);
    return v;
}

static uint64_t load_uint(const pf_options *o, const pf_option_desc *d)
{
    if (d->size == sizeof(uint64_t)) {
        uint64_t v;
        memcpy(&v, cfield(o, d), sizeof v);
        return v;
    }
    return (uint32_t)load_int(o, d);
}

static double load_double(const pf_options *o, const pf_option_desc *d)
{
    double v;
    memcpy(&v, cfield(o, d), sizeof v);
    return v;
}

void pf_opt_metavar(const pf_option_desc *d, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = '\0';
    if (d->metavar || !d->names) {
        snprintf(buf, cap, "%s", d->metavar ? d->metavar : "VALUE");
        return;
    }
    for (int i = 0; d->names[i] && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%s", i ? "|" : "", d->names[i]);
}

/* ---- one value as text ---- */

/* The shortest of %.15g and %.17g that reads back as the same double. */
static int put_double(char *buf, size_t cap, double v)
{
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%.15g", v);
    if (strtod(tmp, NULL) != v)
        snprintf(tmp, sizeof tmp, "%.17g", v);
    return snprintf(buf, cap, "%s", tmp);
}

/* advances *k past n characters just written at buf + *k; -1 if they did not fit */
static int cat(size_t cap, size_t *k, int n)
{
    if (n < 0 || (size_t)n >= cap - *k)
        return -1;
    *k += (size_t)n;
    return 0;
}

static int format_weights(const pf_options *o, char *buf, size_t cap, size_t *k)
{
    for (int i = 0; i < o->n_class_weights; i++) {
        uint64_t w = o->class_weights[i].weight, whole = w / 1000000, frac = w % 1000000;
        char f[8];
        int fl = 6;
        snprintf(f, sizeof f, "%06llu", (unsigned long long)frac);
        while (fl > 0 && f[fl - 1] == '0')
            f[--fl] = '\0';
        if (cat(cap, k, snprintf(buf + *k, cap - *k, "%s%d:%llu%s%s", i ? "," : "",
                                      o->class_weights[i].label, (unsigned long long)whole,
                                      fl ? "." : "", f)))
            return -1;
    }
    return 0;
}

static int format_size(uint64_t v, char *buf, size_t cap)
{
    static const char suffix[] = "GMK";
    for (int i = 0; i < 3; i++) {
        unsigned shift = (unsigned)(30 - 10 * i);
        if (v && v % ((uint64_t)1 << shift) == 0)
            return snprintf(buf, cap, "%llu%c", (unsigned long long)(v >> shift), suffix[i]);
    }
    return snprintf(buf, cap, "%llu", (unsigned long long)v);
}

int pf_options_format(const pf_options *o, const pf_option_desc *d, char *buf, size_t cap)
{
    size_t k = 0;
    int n = 0;
    if (cap == 0)
        return -1;
    buf[0] = '\0';
    switch (d->type) {
    case PF_OT_WORD:
        return 0;
    case PF_OT_FLAG:
        return load_int(o, d) ? 1 : 0;
    case PF_OT_UINT: {
        uint64_t v;
        if (!strcmp(d->name, "fold")) {
            if (o->fold == PF_FOLD_ALL)
                n = snprintf(buf, cap, "all");
            else
                n = snprintf(buf, cap, "%d", o->fold);
            break;
        }
        v = load_uint(o, d);
        if (v < d->umin) /* threads=0, sample_threads=0: automatic */
            return 0;
        n = snprintf(buf, cap, "%llu", (unsigned long long)v);
        break;
    }
    case PF_OT_SIZE:
        n = format_size(load_uint(o, d), buf, cap);
        break;
    case PF_OT_DOUBLE:
        /* oversample as given: README.txt shows that text */
        n = d->offset == offsetof(pf_options, oversample)
                ? snprintf(buf, cap, "%s", o->oversample_text)
                : put_double(buf, cap, load_double(o, d));
        break;
    case PF_OT_ENUM: {
        int v = load_int(o, d);
        for (int i = 0; d->names[i]; i++)
            if (i == v)
                n = snprintf(buf, cap, "%s", d->names[i]);
        break;
    }
    case PF_OT_SHAPE:
        if (d->set == pf_opt_set_spacing) {
            if (o->spacing_mode == PF_SPACING_PLAN)
                return 0;
            n = o->spacing_mode == PF_SPACING_NATIVE
                    ? snprintf(buf, cap, "native")
                    : snprintf(buf, cap, "%.17gx%.17gx%.17g", o->spacing[0], o->spacing[1],
                               o->spacing[2]);
            break;
        }
        if (!o->patch[0])
            return 0;
        if (o->patch_2d)
            n = snprintf(buf, cap, "%dx%d", o->patch[1], o->patch[2]);
        else
            n = snprintf(buf, cap, "%dx%dx%d", o->patch[0], o->patch[1], o->patch[2]);
        break;
    case PF_OT_RANGE: {
        int rot = !strcmp(d->name, "aug_rotation");
        if (rot && !o->aug_rot_set) /* nnU-Net's, by patch shape */
            return 0;
        if (cat(cap, &k, put_double(buf, cap, rot ? o->aug_rot_lo : o->aug_scale_lo)) ||
            cat(cap, &k, snprintf(buf + k, cap - k, ":")) ||
            cat(cap, &k, put_double(buf + k, cap - k, rot ? o->aug_rot_hi : o->aug_scale_hi)))
            return -1;
        return 1;
    }
    case PF_OT_LIST:
        if (!strcmp(d->name, "class_weights")) {
            if (!o->n_class_weights)
                return 0;
            return format_weights(o, buf, cap, &k) ? -1 : 1;
        }
        if (o->ds_auto)
            return cat(cap, &k, snprintf(buf + k, cap - k, "auto")) ? -1 : 1;
        if (!o->n_ds)
            return 0;
        for (int i = 0; i < o->n_ds; i++)
            if ((i && cat(cap, &k, snprintf(buf + k, cap - k, ","))) ||
                cat(cap, &k, put_double(buf + k, cap - k, o->ds_scales[i])))
                return -1;
        return 1;
    case PF_OT_RATIO:
        if (!o->shard_world)
            return 0;
        n = snprintf(buf, cap, "%d/%d", o->shard_rank, o->shard_world);
        break;
    case PF_OT_PATH:
        if (!pf_opt_path(o, d))
            return 0;
        n = snprintf(buf, cap, "%s", pf_opt_path(o, d));
        break;
    }
    if (n < 0 || (size_t)n >= cap) {
        buf[0] = '\0';
        return -1;
    }
    return 1;
}

int pf_options_format_changed(const pf_options *o, unsigned which, char *buf, size_t cap)
{
    pf_options def;
    size_t n, k = 0;
    const pf_option_desc *t = pf_options_table(&n);
    char a[4096], b[4096];
    if (cap == 0)
        return -1;
    buf[0] = '\0';
    pf_options_init(&def);
    for (size_t i = 0; i < n; i++) {
        int ra, rb;
        if (!(t[i].kind & which))
            continue;
        ra = pf_options_format(o, &t[i], a, sizeof a);
        rb = pf_options_format(&def, &t[i], b, sizeof b);
        if (ra < 0)
            return -1;
        if (ra == 0 || (ra == rb && !strcmp(a, b)))
            continue;
        if (cat(cap, &k, snprintf(buf + k, cap - k, "%s%s%s%s", k ? " " : "", t[i].name,
                                       t[i].type == PF_OT_FLAG ? "" : "=", a))) {
            buf[k] = '\0';
            break;
        }
    }
    return (int)k;
}

/* ---- --help ---- */

#define HELP_COL 22  /* the help text starts here */
#define HELP_WIDTH 96

/* text from column `col`, wrapped at HELP_WIDTH with continuation lines at HELP_COL */
static void wrap(FILE *f, const char *text, int col)
{
    const char *p = text;
    while (*p) {
        size_t word = strcspn(p, " ");
        if (col > HELP_COL && col + 1 + (int)word > HELP_WIDTH) {
            fprintf(f, "\n%*s", HELP_COL, "");
            col = HELP_COL;
        } else if (col > HELP_COL) {
            fputc(' ', f);
            col++;
        }
        fwrite(p, 1, word, f);
        col += (int)word;
        p += word;
        while (*p == ' ')
            p++;
    }
    fputc('\n', f);
}

/* "  left" padded to HELP_COL (or two spaces past it), then the wrapped text */
static void help_line(FILE *f, const char *left, const char *text)
{
    int col = fprintf(f, "  %s", left);
    if (col < HELP_COL - 1) {
        fprintf(f, "%*s", HELP_COL - col, "");
        col = HELP_COL;
    } else {
        fputc(' ', f);
        col++;
    }
    /* a first word always goes on this line: wrap() breaks only after col > HELP_COL */
    wrap(f, text, col > HELP_COL ? col : HELP_COL);
}

void pf_options_help(FILE *f)
{
    size_t n;
    const pf_option_desc *t = pf_options_table(&n);
    pf_options def;
    char text[1024], mv[128], left[160], val[256];
    pf_options_init(&def);
    for (size_t i = 0; i < n; i++) {
        const pf_option_desc *d = &t[i];
        size_t k;
        if (d->type == PF_OT_WORD)
            continue;
        if (d->flags & PF_OPTF_GROUP) {
            /* aug_p_rotation=P, aug_p_scaling=P, ...: one line naming each with its default */
            size_t j = i, plen = strlen("aug_p_"); /* the group's common prefix */
            k = (size_t)snprintf(text, sizeof text, "%s; NAME (default):", d->help);
            for (; j < n && (t[j].flags & PF_OPTF_GROUP); j++) {
                pf_options_format(&def, &t[j], val, sizeof val);
                if (k < sizeof text)
                    k += (size_t)snprintf(text + k, sizeof text - k, " %s (%s)%s",
                                          t[j].name + plen, val,
                                          j + 1 < n && (t[j + 1].flags & PF_OPTF_GROUP) ? ","
                                                                                        : "");
            }
            help_line(f, "aug_p_NAME=P", text);
            i = j - 1;
            continue;
        }
        pf_opt_metavar(d, mv, sizeof mv);
        if (d->type == PF_OT_FLAG)
            snprintf(left, sizeof left, "%s", d->name);
        else
            snprintf(left, sizeof left, "%s=%s", d->name, mv);
        k = (size_t)snprintf(text, sizeof text, "%s", d->help);
        if (d->def)
            snprintf(text + k, sizeof text - k, " (%s)", d->def);
        else if (d->type != PF_OT_FLAG && pf_options_format(&def, d, val, sizeof val) == 1)
            snprintf(text + k, sizeof text - k, " (%s)", val);
        help_line(f, left, text);
    }
    /* the fstab words on one line */
    {
        size_t k = 0;
        const char *refused = NULL;
        for (size_t i = 0; i < n; i++) {
            if (t[i].type != PF_OT_WORD)
                continue;
            if (t[i].set) {
                refused = t[i].name;
                continue;
            }
            if (k < sizeof text)
                k += (size_t)snprintf(text + k, sizeof text - k, "%s%s", k ? ", " : "",
                                      t[i].name);
        }
        if (k < sizeof text)
            snprintf(text + k, sizeof text - k, ": accepted and ignored%s%s%s",
                     refused ? "; " : "", refused ? refused : "",
                     refused ? " is refused (patchfs is read-only)" : "");
        help_line(f, "fstab words", text);
    }
}

/* ---- JSON ---- */

/* json_object_set_new that reports failure (it also frees value then) */
static int put(json_t *obj, const char *key, json_t *value)
{
    return value && json_object_set_new(obj, key, value) == 0 ? 0 : -1;
}

static json_t *int_array(const int *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_integer(v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *real_pair(double a, double b)
{
    return json_pack("[ff]", a, b);
}

/* [Z, Y, X], or [Y, X] for a 2D configuration; "auto" when neither the option nor the
 * dataset decided it yet */
int pf_json_patch(const pf_options *o, const pf_options_derived *dv, json_t *obj)
{
    const int *p = dv ? dv->patch : o->patch;
    if (!p[0])
        return put(obj, "patch", json_string("auto"));
    return put(obj, "patch", o->patch_2d ? int_array(p + 1, 2) : int_array(p, 3));
}

/* probabilistic mode is written by name; fixed mode by its consequence, the first forced
 * position (format 1 wrote only that) */
int pf_json_oversample_mode(const pf_options *o, const pf_options_derived *dv, json_t *obj)
{
    (void)dv;
    if (o->probabilistic)
        return put(obj, "oversample_mode", json_string("probabilistic"));
    if (o->policy != PF_POLICY_UNIFORM)
        return put(obj, "forced_from", json_integer(pf_options_forced_from(o)));
    return 0;
}

int pf_json_fold(const pf_options *o, const pf_options_derived *dv, json_t *obj)
{
    (void)dv;
    return put(obj, "fold", o->fold == PF_FOLD_ALL ? json_string("all")
                                                   : json_integer(o->fold));
}

int pf_json_class_weights(const pf_options *o, const pf_options_derived *dv, json_t *obj)
{
    json_t *w;
    (void)dv;
    if (!o->n_class_weights)
        return 0;
    w = json_object();
    for (int i = 0; w && i < o->n_class_weights; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", o->class_weights[i].label);
        if (put(w, key, json_real((double)o->class_weights[i].weight / 1e6))) {
            json_decref(w);
            return -1;
        }
    }
    return put(obj, "class_weights", w);
}

/* "aug": the policy, the initial patch (dataset-dependent), the probabilities, seg_interp,
 * the rotation range if given, the scaling range: the aug_* rows write nothing themselves */
int pf_json_aug(const pf_options *o, const pf_options_derived *dv, json_t *obj)
{
    json_t *a, *pr;
    int bad = 0;
    if (!o->aug)
        return 0;
    a = json_object();
    pr = json_object();
    if (!a || !pr) {
        json_decref(a);
        json_decref(pr);
        return -1;
    }
    bad |= put(a, "policy", json_string("nnunet"));
    if (dv)
        bad |= put(a, "initial_patch", int_array(dv->aug_patch, 3));
    for (int i = 0; i < PF_AUG_N; i++)
        bad |= put(pr, pf_aug_prob_names[i], json_real(o->aug_p[i]));
    bad |= put(a, "p", pr);
    bad |= put(a, "seg_interp", json_string(o->seg_nearest ? "nearest" : "linear"));
    if (o->aug_rot_set)
        bad |= put(a, "rotation_deg", real_pair(o->aug_rot_lo, o->aug_rot_hi));
    bad |= put(a, "scaling", real_pair(o->aug_scale_lo, o->aug_scale_hi));
    if (bad) {
        json_decref(a);
        return -1;
    }
    return put(obj, "aug", a);
}

/* written only when 0: the default leaves patchfs.json and meta.json as they were */
int pf_json_seg_outside(const pf_options *o, const pf_options_derived *dv, json_t *obj)
{
    (void)dv;
    return o->seg_outside_zero ? put(obj, "seg_outside", json_integer(0)) : 0;
}

int pf_json_ds_scales(const pf_options *o, const pf_options_derived *dv, json_t *obj)
{
    json_t *d;
    (void)dv;
    if (o->ds_auto)
        return put(obj, "ds_scales", json_string("auto"));
    if (!o->n_ds)
        return 0;
    d = json_array();
    for (int i = 0; d && i < o->n_ds; i++)
        if (json_array_append_new(d, json_real(o->ds_scales[i])) != 0) {
            json_decref(d);
            return -1;
        }
    return put(obj, "ds_scales", d);
}

int pf_json_spacing(const pf_options *o, const pf_options_derived *dv, json_t *obj)
{
    (void)dv;
    if (o->spacing_mode == PF_SPACING_NATIVE)
        return put(obj, "spacing", json_string("native"));
    if (o->spacing_mode == PF_SPACING_FORCED)
        return put(obj, "spacing", json_pack("[fff]", o->spacing[0], o->spacing[1],
                                             o->spacing[2]));
    return 0;
}

int pf_json_shard(const pf_options *o, const pf_options_derived *dv, json_t *obj)
{
    json_t *sh;
    int lo, hi, bad = 0;
    (void)dv;
    if (!o->shard_world)
        return 0;
    sh = json_object();
    if (!sh)
        return -1;
    bad |= put(sh, "rank", json_integer(o->shard_rank));
    bad |= put(sh, "world", json_integer(o->shard_world));
    if (pf_options_shard_span(o, &lo, &hi) == 0)
        bad |= put(sh, "positions", json_pack("[ii]", lo, hi));
    if (bad) {
        json_decref(sh);
        return -1;
    }
    return put(obj, "shard", sh);
}

/* the plain value of a regular row */
static json_t *generic_json(const pf_options *o, const pf_option_desc *d)
{
    switch (d->type) {
    case PF_OT_UINT:
    case PF_OT_SIZE: {
        uint64_t v = load_uint(o, d);
        char buf[32];
        if (v <= INT64_MAX)
            return json_integer((json_int_t)v);
        /* a seed above 2^63-1 does not fit JSON readers' integers: a string of its digits */
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
        return json_string(buf);
    }
    case PF_OT_DOUBLE:
        return json_real(load_double(o, d));
    case PF_OT_ENUM: {
        int v = load_int(o, d);
        for (int i = 0; d->names[i]; i++)
            if (i == v)
                return json_string(d->names[i]);
        return json_null();
    }
    case PF_OT_FLAG:
        return json_boolean(load_int(o, d));
    case PF_OT_PATH: {
        json_t *j;
        char *ascii;
        const char *path = pf_opt_path(o, d);
        if (!path)
            return json_null();
        if ((j = json_string(path)))
            return j;
        /* JSON strings are UTF-8; a path need not be: show it with '?' for other bytes */
        if (!(ascii = strdup(path)))
            return NULL;
        for (char *p = ascii; *p; p++)
            if ((unsigned char)*p >= 0x80)
                *p = '?';
        j = json_string(ascii);
        free(ascii);
        return j;
    }
    default:
        return json_null();
    }
}

json_t *pf_options_json(const pf_options *o, unsigned which, const pf_options_derived *dv)
{
    size_t n;
    const pf_option_desc *t = pf_options_table(&n);
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const pf_option_desc *d = &t[i];
        int rc;
        if (!(d->kind & which) || (d->flags & PF_OPTF_NO_JSON))
            continue;
        rc = d->json ? d->json(o, dv, obj) : put(obj, d->name, generic_json(o, d));
        if (rc) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}
