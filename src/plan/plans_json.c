/* plans_json.c - nnUNetPlans.json <-> pf_plan (see plans_json.h).
 *
 * Writing builds a jansson tree in nnU-Net's key order and prints it the way Python's
 * json.dump(obj, indent=4) does (jansson's own printer differs: %.17g floats, other spacing),
 * so that our file and nnU-Net's can be compared with cmp. Reading walks a jansson tree with a
 * key path for error messages. */
#include "plans_json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* ---- names ---- */

static const char *const top_names[PF_PT_COUNT] = {
    [PF_PT_DATASET_NAME] = "dataset_name",
    [PF_PT_PLANS_NAME] = "plans_name",
    [PF_PT_ORIGINAL_MEDIAN_SPACING] = "original_median_spacing_after_transp",
    [PF_PT_ORIGINAL_MEDIAN_SHAPE] = "original_median_shape_after_transp",
    [PF_PT_IMAGE_READER_WRITER] = "image_reader_writer",
    [PF_PT_TRANSPOSE_FORWARD] = "transpose_forward",
    [PF_PT_TRANSPOSE_BACKWARD] = "transpose_backward",
    [PF_PT_CONFIGURATIONS] = "configurations",
    [PF_PT_EXPERIMENT_PLANNER_USED] = "experiment_planner_used",
    [PF_PT_LABEL_MANAGER] = "label_manager",
    [PF_PT_FOREGROUND_INTENSITY] = "foreground_intensity_properties_per_channel",
};

static const char *const key_names[PF_PK_COUNT] = {
    [PF_PK_DATA_IDENTIFIER] = "data_identifier",
    [PF_PK_PREPROCESSOR_NAME] = "preprocessor_name",
    [PF_PK_BATCH_SIZE] = "batch_size",
    [PF_PK_PATCH_SIZE] = "patch_size",
    [PF_PK_MEDIAN_IMAGE_SIZE] = "median_image_size_in_voxels",
    [PF_PK_SPACING] = "spacing",
    [PF_PK_NORMALIZATION_SCHEMES] = "normalization_schemes",
    [PF_PK_USE_MASK_FOR_NORM] = "use_mask_for_norm",
    [PF_PK_RESAMPLING_FN_DATA] = "resampling_fn_data",
    [PF_PK_RESAMPLING_FN_SEG] = "resampling_fn_seg",
    [PF_PK_RESAMPLING_FN_DATA_KWARGS] = "resampling_fn_data_kwargs",
    [PF_PK_RESAMPLING_FN_SEG_KWARGS] = "resampling_fn_seg_kwargs",
    [PF_PK_RESAMPLING_FN_PROBABILITIES] = "resampling_fn_probabilities",
    [PF_PK_RESAMPLING_FN_PROBABILITIES_KWARGS] = "resampling_fn_probabilities_kwargs",
    [PF_PK_ARCHITECTURE] = "architecture",
    [PF_PK_BATCH_DICE] = "batch_dice",
    [PF_PK_NEXT_STAGE] = "next_stage",
    [PF_PK_PREVIOUS_STAGE] = "previous_stage",
    [PF_PK_NETWORK_CLASS_NAME] = "network_class_name",
    [PF_PK_ARCH_KWARGS] = "arch_kwargs",
    [PF_PK_KW_REQUIRES_IMPORT] = "_kw_requires_import",
    [PF_PK_N_STAGES] = "n_stages",
    [PF_PK_FEATURES_PER_STAGE] = "features_per_stage",
    [PF_PK_CONV_OP] = "conv_op",
    [PF_PK_KERNEL_SIZES] = "kernel_sizes",
    [PF_PK_STRIDES] = "strides",
    [PF_PK_N_CONV_PER_STAGE] = "n_conv_per_stage",
    [PF_PK_N_BLOCKS_PER_STAGE] = "n_blocks_per_stage",
    [PF_PK_N_CONV_PER_STAGE_DECODER] = "n_conv_per_stage_decoder",
    [PF_PK_CONV_BIAS] = "conv_bias",
    [PF_PK_NORM_OP] = "norm_op",
    [PF_PK_NORM_OP_KWARGS] = "norm_op_kwargs",
    [PF_PK_DROPOUT_OP] = "dropout_op",
    [PF_PK_DROPOUT_OP_KWARGS] = "dropout_op_kwargs",
    [PF_PK_NONLIN] = "nonlin",
    [PF_PK_NONLIN_KWARGS] = "nonlin_kwargs",
};

#define KEY_RANGE(lo, hi) ((PF_PK_BIT((hi) + 1) - 1) & ~(PF_PK_BIT(lo) - 1))
/* the keys directly in a configuration, in "architecture", in "arch_kwargs" */
#define CONFIG_KEYS KEY_RANGE(PF_PK_DATA_IDENTIFIER, PF_PK_PREVIOUS_STAGE)
#define ARCH_KEYS KEY_RANGE(PF_PK_NETWORK_CLASS_NAME, PF_PK_NONLIN_KWARGS)
#define ARCH_KWARGS_KEYS KEY_RANGE(PF_PK_N_STAGES, PF_PK_NONLIN_KWARGS)
/* keys whose lists have one entry per axis */
#define DIM_KEYS (PF_PK_BIT(PF_PK_PATCH_SIZE) | PF_PK_BIT(PF_PK_MEDIAN_IMAGE_SIZE) | \
                  PF_PK_BIT(PF_PK_SPACING) | PF_PK_BIT(PF_PK_KERNEL_SIZES) | \
                  PF_PK_BIT(PF_PK_STRIDES))

static const char *const intensity_names[7] = {
    "max", "mean", "median", "min", "percentile_00_5", "percentile_99_5", "std",
};

static double *intensity_field(pf_intensity_props *p, int i)
{
    double *f[7] = {&p->max, &p->mean, &p->median, &p->min, &p->percentile_00_5,
                    &p->percentile_99_5, &p->std};
    return f[i];
}

/* Key paths for error messages ("configurations.2d.patch_size[1]"); one too long for the
 * buffer is cut short, which only shortens a message. */
#define PATH_CAP 512

static void __attribute__((format(printf, 2, 3))) pathf(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, PATH_CAP, fmt, ap);
    va_end(ap);
}

static void subkey(char *out, const char *base, const char *key)
{
    pathf(out, "%s.%s", base, key);
}

static void subidx(char *out, const char *base, int i)
{
    pathf(out, "%s[%d]", base, i);
}

/* ---- Python's float repr ---- */

/* Shortest digits that read back to x: the nearest p-digit decimal for growing p. At a power
 * of two the gap below x is half the gap above, so the nearest p-digit decimal can miss while
 * its upper or lower neighbour hits; Python's repr takes that neighbour, so try both. */
static int shortest_digits(double x, char *digits, int *decpt)
{
    char tmp[64];
    for (int p = 1; p <= 17; p++) {
        char *e;
        unsigned long long m = 0;
        int exp10, nd = 0;
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, x);
        e = strchr(tmp, 'e');
        exp10 = atoi(e + 1);
        for (char *c = tmp; c < e; c++)
            if (*c >= '0' && *c <= '9')
                m = m * 10 + (unsigned long long)(*c - '0');
        if (strtod(tmp, NULL) != x) {
            int hit = 0;
            for (int k = 0; k < 2 && !hit; k++) {
                unsigned long long mm = k == 0 ? m + 1 : m - 1;
                char cand[64];
                snprintf(cand, sizeof cand, "%llue%d", mm, exp10 - (p - 1));
                if (mm > 0 && strtod(cand, NULL) == x) {
                    m = mm;
                    hit = 1;
                }
            }
            if (!hit)
                continue;
        }
        /* m holds p (or p+1 after a carry) digits with value m * 10^(exp10 - p + 1) */
        snprintf(tmp, sizeof tmp, "%llu", m);
        nd = (int)strlen(tmp);
        *decpt = exp10 - (p - 1) + nd;
        while (nd > 1 && tmp[nd - 1] == '0')
            nd--;
        memcpy(digits, tmp, (size_t)nd);
        digits[nd] = 0;
        return nd;
    }
    return -1; /* not reached: 17 digits always read back */
}

int pf_json_format_double(double x, char *buf, size_t cap)
{
    char digits[32], out[64], *o = out;
    int nd, decpt;
    if (isnan(x))
        o += sprintf(o, "NaN");
    else if (isinf(x))
        o += sprintf(o, "%sInfinity", x < 0 ? "-" : "");
    else if (x == 0)
        o += sprintf(o, "%s0.0", signbit(x) ? "-" : "");
    else {
        if (x < 0)
            *o++ = '-';
        nd = shortest_digits(fabs(x), digits, &decpt);
        if (nd < 0)
            return -1;
        /* value = 0.DIGITS * 10^decpt; float_repr_style 'short' writes it positionally for
         * 1e-4 <= |x| < 1e16 and with an exponent of at least two digits otherwise */
        if (decpt > -4 && decpt <= 16) {
            if (decpt <= 0) {
                o += sprintf(o, "0.");
                for (int i = 0; i < -decpt; i++)
                    *o++ = '0';
                o += sprintf(o, "%s", digits);
            } else if (decpt < nd) {
                memcpy(o, digits, (size_t)decpt);
                o += decpt;
                o += sprintf(o, ".%s", digits + decpt);
            } else {
                o += sprintf(o, "%s", digits);
                for (int i = nd; i < decpt; i++)
                    *o++ = '0';
                o += sprintf(o, ".0");
            }
        } else {
            int e = decpt - 1;
            *o++ = digits[0];
            if (nd > 1)
                o += sprintf(o, ".%s", digits + 1);
            o += sprintf(o, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
        }
    }
    *o = 0;
    if ((size_t)(o - out) >= cap)
        return -1;
    memcpy(buf, out, (size_t)(o - out) + 1);
    return (int)(o - out);
}

/* ---- printing a jansson tree as Python's json.dump ---- */

typedef struct strbuf {
    char *s;
    size_t len, cap;
    int oom;
} strbuf;

static void sb_add(strbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *p;
        while (b->len + n + 1 > cap)
            cap *= 2;
        p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void sb_str(strbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_indent(strbuf *b, int depth)
{
    sb_add(b, "\n", 1);
    for (int i = 0; i < depth; i++)
        sb_add(b, "    ", 4);
}

/* json.dumps' ensure_ascii: \" \\ \b \f \n \r \t, everything else outside ' '..'~' as \uXXXX
 * (lower-case hex, surrogate pairs above U+FFFF). jansson strings are valid UTF-8. */
static void sb_pystring(strbuf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    char esc[16];
    sb_add(b, "\"", 1);
    while (p < end) {
        unsigned cp = *p;
        int len = 1;
        if (cp >= 0xF0) {
            cp = ((cp & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) |
                 (p[3] & 0x3Fu);
            len = 4;
        } else if (cp >= 0xE0) {
            cp = ((cp & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
            len = 3;
        } else if (cp >= 0xC0) {
            cp = ((cp & 0x1Fu) << 6) | (p[1] & 0x3Fu);
            len = 2;
        }
        p += len;
        switch (cp) {
        case '"': sb_str(b, "\\\""); continue;
        case '\\': sb_str(b, "\\\\"); continue;
        case '\b': sb_str(b, "\\b"); continue;
        case '\f': sb_str(b, "\\f"); continue;
        case '\n': sb_str(b, "\\n"); continue;
        case '\r': sb_str(b, "\\r"); continue;
        case '\t': sb_str(b, "\\t"); continue;
        default: break;
        }
        if (cp >= 0x20 && cp <= 0x7E) {
            char ch = (char)cp;
            sb_add(b, &ch, 1);
        } else if (cp > 0xFFFF) {
            cp -= 0x10000;
            snprintf(esc, sizeof esc, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
            sb_str(b, esc);
        } else {
            snprintf(esc, sizeof esc, "\\u%04x", cp);
            sb_str(b, esc);
        }
    }
    sb_add(b, "\"", 1);
}

/* indent 4 as json.dump(indent=4); compact as json.dumps(separators=(",", ":")) */
static void sb_json(strbuf *b, const json_t *v, int depth, int compact)
{
    char num[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *val;
        int first = 1;
        if (json_object_size(v) == 0) {
            sb_str(b, "{}");
            break;
        }
        sb_add(b, "{", 1);
        json_object_foreach((json_t *)v, key, val) {
            if (!first)
                sb_add(b, ",", 1);
            first = 0;
            if (!compact)
                sb_indent(b, depth + 1);
            sb_pystring(b, key, strlen(key));
            sb_str(b, compact ? ":" : ": ");
            sb_json(b, val, depth + 1, compact);
        }
        if (!compact)
            sb_indent(b, depth);
        sb_add(b, "}", 1);
        break;
    }
    case JSON_ARRAY:
        if (json_array_size(v) == 0) {
            sb_str(b, "[]");
            break;
        }
        sb_add(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                sb_add(b, ",", 1);
            if (!compact)
                sb_indent(b, depth + 1);
            sb_json(b, json_array_get(v, i), depth + 1, compact);
        }
        if (!compact)
            sb_indent(b, depth);
        sb_add(b, "]", 1);
        break;
    case JSON_STRING:
        sb_pystring(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        sb_str(b, num);
        break;
    case JSON_REAL:
        pf_json_format_double(json_real_value(v), num, sizeof num);
        sb_str(b, num);
        break;
    case JSON_TRUE:
        sb_str(b, "true");
        break;
    case JSON_FALSE:
        sb_str(b, "false");
        break;
    case JSON_NULL:
        sb_str(b, "null");
        break;
    }
}

/* ---- building the tree ---- */

/* Every builder returns a new reference or NULL with err set; set() takes the reference. */

static int set(json_t *o, const char *where, const char *key, json_t *v, pf_error *err)
{
    if (!v)
        return pf_fail(err, EINVAL, "%s%s: value cannot be written as JSON (a non-finite number "
                       "or text that is not UTF-8)", where, key);
    if (json_object_set_new(o, key, v))
        return pf_fail(err, ENOMEM, "out of memory");
    return 0;
}

static json_t *jreal(double x)
{
    return isfinite(x) ? json_real(x) : NULL;
}

static json_t *jarray_i64(const int64_t *x, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_integer((json_int_t)x[i]))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *jarray_int(const int *x, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_integer(x[i]))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *jarray_real(const double *x, int n, int as_integers)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) {
        json_t *v = as_integers ? json_integer((json_int_t)x[i]) : jreal(x[i]);
        if (!v || json_array_append_new(a, v)) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *jarray_rows(const int rows[][PF_PLAN_MAX_DIM], int n, int ndim)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        if (json_array_append_new(a, jarray_int(rows[i], ndim))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *jstring_or_null(const char *s)
{
    return s[0] ? json_string(s) : json_null();
}

static json_t *jkwargs_text(const char *text)
{
    return text[0] ? json_loads(text, JSON_DECODE_ANY, NULL) : json_null();
}

static json_t *jresample(const pf_resample_kwargs *k)
{
    json_t *o = json_object();
    json_t *v[4] = {json_boolean(k->is_seg), json_integer(k->order), json_integer(k->order_z),
                    k->force_separate_z < 0 ? json_null() : json_boolean(k->force_separate_z)};
    static const char *names[4] = {"is_seg", "order", "order_z", "force_separate_z"};
    for (int i = 0; i < 4; i++)
        if (!o || json_object_set_new(o, names[i], v[i])) {
            for (int j = i + 1; j < 4; j++)
                json_decref(v[j]);
            json_decref(o);
            return NULL;
        }
    return o;
}

static int build_arch(const pf_plan_config *c, json_t *arch, const char *where, pf_error *err)
{
    uint64_t k = c->own_keys;
    int n = c->n_stages;
    char w[PATH_CAP];
    json_t *kw;

    if ((k & PF_PK_BIT(PF_PK_NETWORK_CLASS_NAME)) &&
        set(arch, where, "network_class_name", json_string(c->network_class_name), err))
        return -1;
    if (k & PF_PK_BIT(PF_PK_ARCH_KWARGS)) {
        kw = json_object();
        if (set(arch, where, "arch_kwargs", kw, err))
            return -1;
        pathf(w, "%sarch_kwargs.", where);
        for (int key = PF_PK_N_STAGES; key <= PF_PK_NONLIN_KWARGS; key++) {
            json_t *v = NULL;
            if (!(k & PF_PK_BIT(key)))
                continue;
            switch (key) {
            case PF_PK_N_STAGES: v = json_integer(n); break;
            case PF_PK_FEATURES_PER_STAGE: v = jarray_int(c->features_per_stage, n); break;
            case PF_PK_CONV_OP: v = jstring_or_null(c->conv_op); break;
            case PF_PK_KERNEL_SIZES: v = jarray_rows(c->kernel_sizes, n, c->ndim); break;
            case PF_PK_STRIDES: v = jarray_rows(c->strides, n, c->ndim); break;
            case PF_PK_N_CONV_PER_STAGE: v = jarray_int(c->n_conv_per_stage, n); break;
            case PF_PK_N_BLOCKS_PER_STAGE: v = jarray_int(c->n_blocks_per_stage, n); break;
            case PF_PK_N_CONV_PER_STAGE_DECODER:
                v = jarray_int(c->n_conv_per_stage_decoder, n > 0 ? n - 1 : 0);
                break;
            case PF_PK_CONV_BIAS: v = json_boolean(c->conv_bias); break;
            case PF_PK_NORM_OP: v = jstring_or_null(c->norm_op); break;
            case PF_PK_NORM_OP_KWARGS: v = jkwargs_text(c->norm_op_kwargs); break;
            case PF_PK_DROPOUT_OP: v = jstring_or_null(c->dropout_op); break;
            case PF_PK_DROPOUT_OP_KWARGS: v = jkwargs_text(c->dropout_op_kwargs); break;
            case PF_PK_NONLIN: v = jstring_or_null(c->nonlin); break;
            case PF_PK_NONLIN_KWARGS: v = jkwargs_text(c->nonlin_kwargs); break;
            default: break;
            }
            if (set(kw, w, key_names[key], v, err))
                return -1;
        }
    }
    if (k & PF_PK_BIT(PF_PK_KW_REQUIRES_IMPORT)) {
        json_t *a = json_array();
        for (int i = 0; a && i < c->n_imports; i++)
            if (json_array_append_new(a, json_string(c->kw_requires_import[i]))) {
                json_decref(a);
                a = NULL;
            }
        if (set(arch, where, "_kw_requires_import", a, err))
            return -1;
    }
    return 0;
}

static int build_config(const pf_plan_config *c, json_t *o, pf_error *err)
{
    char where[PATH_CAP];
    uint64_t k = c->own_keys;

    pathf(where, "configurations.%s.", c->name);
    if (c->inherits_from[0] && set(o, where, "inherits_from", json_string(c->inherits_from), err))
        return -1;
    for (int key = 0; key <= PF_PK_PREVIOUS_STAGE; key++) {
        json_t *v = NULL;
        if (!(k & PF_PK_BIT(key)))
            continue;
        switch (key) {
        case PF_PK_DATA_IDENTIFIER: v = json_string(c->data_identifier); break;
        case PF_PK_PREPROCESSOR_NAME: v = json_string(c->preprocessor_name); break;
        case PF_PK_BATCH_SIZE: v = json_integer(c->batch_size); break;
        case PF_PK_PATCH_SIZE: v = jarray_i64(c->patch_size, c->ndim); break;
        case PF_PK_MEDIAN_IMAGE_SIZE:
            v = jarray_real(c->median_image_size, c->ndim, c->median_is_integer);
            break;
        case PF_PK_SPACING: v = jarray_real(c->spacing, c->ndim, 0); break;
        case PF_PK_NORMALIZATION_SCHEMES:
            v = json_array();
            for (int i = 0; v && i < c->n_norm; i++)
                if (json_array_append_new(v, json_string(c->normalization_schemes[i]))) {
                    json_decref(v);
                    v = NULL;
                }
            break;
        case PF_PK_USE_MASK_FOR_NORM:
            v = json_array();
            for (int i = 0; v && i < c->n_use_mask; i++)
                if (json_array_append_new(v, json_boolean(c->use_mask_for_norm[i]))) {
                    json_decref(v);
                    v = NULL;
                }
            break;
        case PF_PK_RESAMPLING_FN_DATA: v = json_string(c->resampling_fn_data); break;
        case PF_PK_RESAMPLING_FN_SEG: v = json_string(c->resampling_fn_seg); break;
        case PF_PK_RESAMPLING_FN_DATA_KWARGS: v = jresample(&c->resampling_data); break;
        case PF_PK_RESAMPLING_FN_SEG_KWARGS: v = jresample(&c->resampling_seg); break;
        case PF_PK_RESAMPLING_FN_PROBABILITIES:
            v = json_string(c->resampling_fn_probabilities);
            break;
        case PF_PK_RESAMPLING_FN_PROBABILITIES_KWARGS:
            v = jresample(&c->resampling_probabilities);
            break;
        case PF_PK_ARCHITECTURE: {
            char w[PATH_CAP];
            v = json_object();
            pathf(w, "%sarchitecture.", where);
            if (v && build_arch(c, v, w, err)) {
                json_decref(v);
                return -1;
            }
            break;
        }
        case PF_PK_BATCH_DICE: v = json_boolean(c->batch_dice); break;
        case PF_PK_NEXT_STAGE: v = json_string(c->next_stage); break;
        case PF_PK_PREVIOUS_STAGE: v = json_string(c->previous_stage); break;
        default: break;
        }
        if (set(o, where, key_names[key], v, err))
            return -1;
    }
    return 0;
}

static int build_plan(const pf_plan *p, json_t *top, pf_error *err)
{
    for (int key = 0; key < PF_PT_COUNT; key++) {
        json_t *v = NULL;
        if (!(p->keys & PF_PT_BIT(key)))
            continue;
        switch (key) {
        case PF_PT_DATASET_NAME: v = json_string(p->dataset_name); break;
        case PF_PT_PLANS_NAME: v = json_string(p->plans_name); break;
        case PF_PT_ORIGINAL_MEDIAN_SPACING:
            v = jarray_real(p->original_median_spacing, 3, 0);
            break;
        case PF_PT_ORIGINAL_MEDIAN_SHAPE: v = jarray_i64(p->original_median_shape, 3); break;
        case PF_PT_IMAGE_READER_WRITER: v = json_string(p->image_reader_writer); break;
        case PF_PT_TRANSPOSE_FORWARD: v = jarray_int(p->transpose_forward, 3); break;
        case PF_PT_TRANSPOSE_BACKWARD: v = jarray_int(p->transpose_backward, 3); break;
        case PF_PT_CONFIGURATIONS:
            v = json_object();
            for (int i = 0; v && i < p->n_configs; i++) {
                json_t *c = json_object();
                if (set(v, "configurations.", p->configs[i].name, c, err) ||
                    build_config(&p->configs[i], c, err)) {
                    json_decref(v);
                    return -1;
                }
            }
            break;
        case PF_PT_EXPERIMENT_PLANNER_USED: v = json_string(p->experiment_planner_used); break;
        case PF_PT_LABEL_MANAGER: v = json_string(p->label_manager); break;
        case PF_PT_FOREGROUND_INTENSITY:
            v = json_object();
            for (int ch = 0; v && ch < p->n_intensity; ch++) {
                char name[16], where[PATH_CAP];
                json_t *o = json_object();
                snprintf(name, sizeof name, "%d", ch);
                pathf(where, "%s.%d.", top_names[key], ch);
                if (set(v, "", name, o, err)) {
                    json_decref(v);
                    return -1;
                }
                for (int f = 0; f < 7; f++)
                    if (set(o, where, intensity_names[f],
                            jreal(*intensity_field((pf_intensity_props *)&p->intensity[ch], f)),
                            err)) {
                        json_decref(v);
                        return -1;
                    }
            }
            break;
        default: break;
        }
        if (set(top, "", top_names[key], v, err))
            return -1;
    }
    return 0;
}

int pf_plans_to_json(const pf_plan *plan, char **text, pf_error *err)
{
    json_t *top = json_object();
    strbuf b = {0};
    *text = NULL;
    if (!top)
        return pf_fail(err, ENOMEM, "out of memory");
    if (build_plan(plan, top, err)) {
        json_decref(top);
        return -1;
    }
    sb_json(&b, top, 0, 0);
    json_decref(top);
    if (b.oom || !b.s) {
        free(b.s);
        return pf_fail(err, ENOMEM, "out of memory writing the plans");
    }
    *text = b.s;
    return 0;
}

int pf_plans_write(const pf_plan *plan, const char *path, pf_error *err)
{
    char *text;
    FILE *f;
    int bad;
    if (pf_plans_to_json(plan, &text, err))
        return pf_wrap(err, "%s", path);
    f = fopen(path, "w");
    if (!f) {
        int e = errno;
        free(text);
        return pf_fail(err, e, "%s: %s", path, strerror(e));
    }
    bad = fwrite(text, 1, strlen(text), f) != strlen(text);
    bad |= fclose(f) != 0;
    free(text);
    if (bad)
        return pf_fail(err, EIO, "%s: write failed", path);
    return 0;
}

/* ---- reading ---- */

typedef struct reader {
    const char *src;
    pf_error *err;
} reader;

static int bad(const reader *r, const char *path, const char *what)
{
    return pf_fail(r->err, EINVAL, "%s: %s: %s", r->src, path, what);
}

static int rd_int(const reader *r, const json_t *v, const char *path, long long lo, long long hi,
                  long long *out)
{
    double d;
    char msg[96];
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
    } else if (json_is_real(v) && (d = json_real_value(v), d == floor(d) && fabs(d) < 9e15)) {
        *out = (long long)d; /* a Python float that holds an integer (40.0) */
    } else {
        return bad(r, path, "expected an integer");
    }
    if (*out < lo || *out > hi) {
        snprintf(msg, sizeof msg, "%lld is outside %lld .. %lld", *out, lo, hi);
        return bad(r, path, msg);
    }
    return 0;
}

static int rd_int32(const reader *r, const json_t *v, const char *path, int lo, int hi, int *out)
{
    long long x;
    if (rd_int(r, v, path, lo, hi, &x))
        return -1;
    *out = (int)x;
    return 0;
}

static int rd_double(const reader *r, const json_t *v, const char *path, double *out)
{
    if (!json_is_number(v))
        return bad(r, path, "expected a number");
    *out = json_number_value(v);
    return 0;
}

static int rd_bool(const reader *r, const json_t *v, const char *path, int *out)
{
    if (json_is_boolean(v))
        *out = json_is_true(v);
    else if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1))
        *out = (int)json_integer_value(v);
    else
        return bad(r, path, "expected true or false");
    return 0;
}

static int rd_string(const reader *r, const json_t *v, const char *path, char *buf, size_t cap,
                     int null_ok)
{
    char msg[64];
    if (null_ok && json_is_null(v)) {
        buf[0] = 0;
        return 0;
    }
    if (!json_is_string(v))
        return bad(r, path, null_ok ? "expected a string or null" : "expected a string");
    if (json_string_length(v) >= cap || strlen(json_string_value(v)) != json_string_length(v)) {
        snprintf(msg, sizeof msg, "string longer than %zu bytes or with NUL", cap - 1);
        return bad(r, path, msg);
    }
    memcpy(buf, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

/* A list of at most maxn entries: its length, or -1. */
static int rd_list(const reader *r, const json_t *v, const char *path, int maxn)
{
    char msg[64];
    if (!json_is_array(v))
        return bad(r, path, "expected a list");
    if (json_array_size(v) > (size_t)maxn) {
        snprintf(msg, sizeof msg, "more than %d entries", maxn);
        return bad(r, path, msg);
    }
    return (int)json_array_size(v);
}

static int rd_list3(const reader *r, const json_t *v, const char *path)
{
    int n = rd_list(r, v, path, 3);
    if (n < 0)
        return -1;
    return n == 3 ? 0 : bad(r, path, "expected 3 entries");
}

/* An object kept as compact JSON text (null: ""). */
static int rd_kwargs(const reader *r, const json_t *v, const char *path, char *buf, size_t cap)
{
    strbuf b = {0};
    if (json_is_null(v)) {
        buf[0] = 0;
        return 0;
    }
    if (!json_is_object(v))
        return bad(r, path, "expected an object or null");
    sb_json(&b, v, 0, 1);
    if (b.oom || !b.s || b.len >= cap) {
        free(b.s);
        return bad(r, path, "object too long");
    }
    memcpy(buf, b.s, b.len + 1);
    free(b.s);
    return 0;
}

static int rd_resample(const reader *r, const json_t *v, const char *path, pf_resample_kwargs *k)
{
    const char *key;
    json_t *val;
    char p[PATH_CAP];
    if (!json_is_object(v))
        return bad(r, path, "expected an object");
    json_object_foreach((json_t *)v, key, val) {
        subkey(p, path, key);
        if (!strcmp(key, "is_seg")) {
            if (rd_bool(r, val, p, &k->is_seg))
                return -1;
        } else if (!strcmp(key, "order")) {
            if (rd_int32(r, val, p, 0, 5, &k->order))
                return -1;
        } else if (!strcmp(key, "order_z")) {
            if (rd_int32(r, val, p, 0, 5, &k->order_z))
                return -1;
        } else if (!strcmp(key, "force_separate_z")) {
            if (json_is_null(val))
                k->force_separate_z = -1;
            else if (rd_bool(r, val, p, &k->force_separate_z))
                return -1;
        }
    }
    return 0;
}

/* Checks a list of per-axis values against the configuration's number of axes so far. */
static int rd_dim(const reader *r, const char *path, int n, int *ndim)
{
    char msg[64];
    if (n < 1 || n > PF_PLAN_MAX_DIM)
        return bad(r, path, "expected 1 to 3 entries, one per axis");
    if (*ndim && n != *ndim) {
        snprintf(msg, sizeof msg, "%d entries where other keys have %d", n, *ndim);
        return bad(r, path, msg);
    }
    *ndim = n;
    return 0;
}

static int rd_rows(const reader *r, const json_t *v, const char *path,
                   int rows[][PF_PLAN_MAX_DIM], int *n, int *ndim)
{
    char p[PATH_CAP];
    if ((*n = rd_list(r, v, path, PF_PLAN_MAX_STAGES)) < 0)
        return -1;
    for (int i = 0; i < *n; i++) {
        const json_t *row = json_array_get(v, (size_t)i);
        int m;
        subidx(p, path, i);
        if ((m = rd_list(r, row, p, PF_PLAN_MAX_DIM)) < 0 || rd_dim(r, p, m, ndim))
            return -1;
        for (int d = 0; d < m; d++) {
            char q[PATH_CAP];
            subidx(q, p, d);
            if (rd_int32(r, json_array_get(row, (size_t)d), q, 1, 1 << 20, &rows[i][d]))
                return -1;
        }
    }
    return 0;
}

static int rd_int_list(const reader *r, const json_t *v, const char *path, int *x, int maxn,
                       int lo, int hi)
{
    char p[PATH_CAP];
    int n = rd_list(r, v, path, maxn);
    for (int i = 0; i < n; i++) {
        subidx(p, path, i);
        if (rd_int32(r, json_array_get(v, (size_t)i), p, lo, hi, &x[i]))
            return -1;
    }
    return n;
}

static int rd_arch_kwargs(const reader *r, const json_t *v, const char *path, pf_plan_config *c,
                          int *ndim)
{
    const char *key;
    json_t *val;
    char p[PATH_CAP];
    int n_features = -1, n_kernels = -1, n_strides = -1, n_conv = -1, n_blocks = -1, n_dec = -1;
    char msg[128];

    if (!json_is_object(v))
        return bad(r, path, "expected an object");
    json_object_foreach((json_t *)v, key, val) {
        int k = -1, rc = 0;
        for (int i = PF_PK_N_STAGES; i <= PF_PK_NONLIN_KWARGS; i++)
            if (!strcmp(key, key_names[i]))
                k = i;
        if (k < 0)
            continue; /* keys of other architectures */
        subkey(p, path, key);
        switch (k) {
        case PF_PK_N_STAGES: rc = rd_int32(r, val, p, 1, PF_PLAN_MAX_STAGES, &c->n_stages); break;
        case PF_PK_FEATURES_PER_STAGE:
            rc = (n_features = rd_int_list(r, val, p, c->features_per_stage, PF_PLAN_MAX_STAGES,
                                           1, 1 << 24)) < 0;
            break;
        case PF_PK_KERNEL_SIZES: rc = rd_rows(r, val, p, c->kernel_sizes, &n_kernels, ndim); break;
        case PF_PK_STRIDES: rc = rd_rows(r, val, p, c->strides, &n_strides, ndim); break;
        case PF_PK_N_CONV_PER_STAGE:
            rc = (n_conv = rd_int_list(r, val, p, c->n_conv_per_stage, PF_PLAN_MAX_STAGES, 0,
                                       1 << 10)) < 0;
            break;
        case PF_PK_N_BLOCKS_PER_STAGE:
            rc = (n_blocks = rd_int_list(r, val, p, c->n_blocks_per_stage, PF_PLAN_MAX_STAGES, 0,
                                         1 << 10)) < 0;
            break;
        case PF_PK_N_CONV_PER_STAGE_DECODER:
            rc = (n_dec = rd_int_list(r, val, p, c->n_conv_per_stage_decoder,
                                      PF_PLAN_MAX_STAGES - 1, 0, 1 << 10)) < 0;
            break;
        case PF_PK_CONV_BIAS: rc = rd_bool(r, val, p, &c->conv_bias); break;
        case PF_PK_CONV_OP: rc = rd_string(r, val, p, c->conv_op, sizeof c->conv_op, 1); break;
        case PF_PK_NORM_OP: rc = rd_string(r, val, p, c->norm_op, sizeof c->norm_op, 1); break;
        case PF_PK_DROPOUT_OP:
            rc = rd_string(r, val, p, c->dropout_op, sizeof c->dropout_op, 1);
            break;
        case PF_PK_NONLIN: rc = rd_string(r, val, p, c->nonlin, sizeof c->nonlin, 1); break;
        case PF_PK_NORM_OP_KWARGS:
            rc = rd_kwargs(r, val, p, c->norm_op_kwargs, sizeof c->norm_op_kwargs);
            break;
        case PF_PK_DROPOUT_OP_KWARGS:
            rc = rd_kwargs(r, val, p, c->dropout_op_kwargs, sizeof c->dropout_op_kwargs);
            break;
        case PF_PK_NONLIN_KWARGS:
            rc = rd_kwargs(r, val, p, c->nonlin_kwargs, sizeof c->nonlin_kwargs);
            break;
        default: break;
        }
        if (rc)
            return -1;
        c->own_keys |= PF_PK_BIT(k);
    }

    /* the per-stage lists agree with each other and with n_stages */
    {
        int n = (c->own_keys & PF_PK_BIT(PF_PK_N_STAGES)) ? c->n_stages
                : n_strides >= 0 ? n_strides
                : n_kernels >= 0 ? n_kernels
                : n_features >= 0 ? n_features
                : n_conv >= 0 ? n_conv
                : n_blocks >= 0 ? n_blocks
                : n_dec >= 0 ? n_dec + 1 : 0;
        const struct { int len, want; const char *name; } checks[] = {
            {n_strides, n, "strides"},
            {n_kernels, n, "kernel_sizes"},
            {n_features, n, "features_per_stage"},
            {n_conv, n, "n_conv_per_stage"},
            {n_blocks, n, "n_blocks_per_stage"},
            {n_dec, n - 1, "n_conv_per_stage_decoder"},
        };
        for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
            if (checks[i].len >= 0 && checks[i].len != checks[i].want) {
                subkey(p, path, checks[i].name);
                snprintf(msg, sizeof msg, "%d entries for %d stages", checks[i].len, n);
                return bad(r, p, msg);
            }
        c->n_stages = n;
    }
    return 0;
}

static int rd_architecture(const reader *r, const json_t *v, const char *path, pf_plan_config *c,
                           int *ndim)
{
    const char *key;
    json_t *val;
    char p[PATH_CAP];
    if (!json_is_object(v))
        return bad(r, path, "expected an object");
    json_object_foreach((json_t *)v, key, val) {
        subkey(p, path, key);
        if (!strcmp(key, "network_class_name")) {
            if (rd_string(r, val, p, c->network_class_name, sizeof c->network_class_name, 0))
                return -1;
            c->own_keys |= PF_PK_BIT(PF_PK_NETWORK_CLASS_NAME);
        } else if (!strcmp(key, "arch_kwargs")) {
            if (rd_arch_kwargs(r, val, p, c, ndim))
                return -1;
            c->own_keys |= PF_PK_BIT(PF_PK_ARCH_KWARGS);
        } else if (!strcmp(key, "_kw_requires_import")) {
            int n = rd_list(r, val, p, PF_PLAN_MAX_IMPORTS);
            if (n < 0)
                return -1;
            for (int i = 0; i < n; i++) {
                char q[PATH_CAP];
                subidx(q, p, i);
                if (rd_string(r, json_array_get(val, (size_t)i), q, c->kw_requires_import[i],
                              sizeof c->kw_requires_import[i], 0))
                    return -1;
            }
            c->n_imports = n;
            c->own_keys |= PF_PK_BIT(PF_PK_KW_REQUIRES_IMPORT);
        }
    }
    return 0;
}

/* Plans of nnU-Net v2 before 2.3 (January 2024) have no "architecture": they name the network
 * by UNet_class_name and give pool_op_kernel_sizes, conv_kernel_sizes,
 * n_conv_per_stage_encoder/decoder, UNet_base_num_features and unet_max_num_features.
 * ConfigurationManager turns them into an architecture, and so does this (written back in the
 * current layout). */
static int rd_legacy_architecture(const reader *r, const json_t *v, const char *path,
                                  pf_plan_config *c, int *ndim)
{
    static const char *const imports[4] = {"conv_op", "norm_op", "dropout_op", "nonlin"};
    char p[PATH_CAP], cls[PF_PLAN_NAME_MAX];
    int n_kernels, n_strides, n_enc, n_dec, base, maxf, resenc;
    const json_t *x;
    long long bl, ml;

    subkey(p, path, "UNet_class_name");
    if (rd_string(r, json_object_get(v, "UNet_class_name"), p, cls, sizeof cls, 0))
        return -1;
    resenc = !strcmp(cls, "ResidualEncoderUNet");
    if (!resenc && strcmp(cls, "PlainConvUNet"))
        return bad(r, p, "only PlainConvUNet and ResidualEncoderUNet can be converted");
    snprintf(c->network_class_name, sizeof c->network_class_name,
             "dynamic_network_architectures.architectures.%s",
             resenc ? "residual_unet.ResidualEncoderUNet" : "unet.PlainConvUNet");
#define LEGACY(key) (subkey(p, path, key), x = json_object_get(v, key), \
                     x ? 0 : bad(r, p, "missing (needed for an old plans layout)"))
    if (LEGACY("conv_kernel_sizes") || rd_rows(r, x, p, c->kernel_sizes, &n_kernels, ndim) ||
        LEGACY("pool_op_kernel_sizes") || rd_rows(r, x, p, c->strides, &n_strides, ndim) ||
        LEGACY("n_conv_per_stage_encoder") ||
        (n_enc = rd_int_list(r, x, p, resenc ? c->n_blocks_per_stage : c->n_conv_per_stage,
                             PF_PLAN_MAX_STAGES, 0, 1 << 10)) < 0 ||
        LEGACY("n_conv_per_stage_decoder") ||
        (n_dec = rd_int_list(r, x, p, c->n_conv_per_stage_decoder, PF_PLAN_MAX_STAGES - 1, 0,
                             1 << 10)) < 0 ||
        LEGACY("UNet_base_num_features") || rd_int(r, x, p, 1, 1 << 20, &bl) ||
        LEGACY("unet_max_num_features") || rd_int(r, x, p, 1, 1 << 24, &ml))
        return -1;
#undef LEGACY
    if (n_kernels != n_enc || n_strides != n_enc || n_dec != n_enc - 1 || n_enc < 1)
        return bad(r, path, "old plans layout: per-stage lists of different lengths");
    base = (int)bl;
    maxf = (int)ml;
    c->n_stages = n_enc;
    for (int s = 0; s < n_enc; s++) {
        long long f = (long long)base << s;
        c->features_per_stage[s] = f < maxf ? (int)f : maxf;
    }
    snprintf(c->conv_op, sizeof c->conv_op, "torch.nn.modules.conv.Conv%dd", *ndim);
    snprintf(c->norm_op, sizeof c->norm_op, "torch.nn.modules.instancenorm.InstanceNorm%dd",
             *ndim);
    snprintf(c->nonlin, sizeof c->nonlin, "torch.nn.LeakyReLU");
    c->conv_bias = 1;
    snprintf(c->norm_op_kwargs, sizeof c->norm_op_kwargs, "{\"eps\":1e-05,\"affine\":true}");
    snprintf(c->nonlin_kwargs, sizeof c->nonlin_kwargs, "{\"inplace\":true}");
    c->n_imports = 4;
    for (int i = 0; i < 4; i++)
        snprintf(c->kw_requires_import[i], sizeof c->kw_requires_import[i], "%s", imports[i]);
    c->own_keys |= (ARCH_KEYS | PF_PK_BIT(PF_PK_ARCHITECTURE)) &
                   ~PF_PK_BIT(resenc ? PF_PK_N_CONV_PER_STAGE : PF_PK_N_BLOCKS_PER_STAGE);
    return 0;
}

static int rd_config(const reader *r, const char *name, const json_t *v, pf_plan_config *c)
{
    const char *key;
    json_t *val;
    char path[PATH_CAP], p[PATH_CAP];
    int ndim = 0;

    memset(c, 0, sizeof *c);
    /* a kwargs object without some of its keys keeps nnU-Net's default planner's values */
    c->resampling_data = (pf_resample_kwargs){0, 3, 0, -1};
    c->resampling_seg = (pf_resample_kwargs){1, 1, 0, -1};
    c->resampling_probabilities = (pf_resample_kwargs){0, 1, 0, -1};
    pathf(path, "configurations.%s", name);
    if (strlen(name) >= sizeof c->name)
        return bad(r, path, "configuration name too long");
    snprintf(c->name, sizeof c->name, "%s", name);
    if (!json_is_object(v))
        return bad(r, path, "expected an object");

    json_object_foreach((json_t *)v, key, val) {
        int k = -1, rc = 0, n;
        subkey(p, path, key);
        if (!strcmp(key, "inherits_from")) {
            if (rd_string(r, val, p, c->inherits_from, sizeof c->inherits_from, 0))
                return -1;
            if (!c->inherits_from[0])
                return bad(r, p, "empty name");
            continue;
        }
        for (int i = 0; i <= PF_PK_PREVIOUS_STAGE; i++)
            if (!strcmp(key, key_names[i]))
                k = i;
        if (k < 0)
            continue; /* keys of other planners or later versions */
        switch (k) {
        case PF_PK_DATA_IDENTIFIER:
            rc = rd_string(r, val, p, c->data_identifier, sizeof c->data_identifier, 0);
            break;
        case PF_PK_PREPROCESSOR_NAME:
            rc = rd_string(r, val, p, c->preprocessor_name, sizeof c->preprocessor_name, 0);
            break;
        case PF_PK_BATCH_SIZE: rc = rd_int32(r, val, p, 1, 1 << 30, &c->batch_size); break;
        case PF_PK_PATCH_SIZE:
            if ((n = rd_list(r, val, p, PF_PLAN_MAX_DIM)) < 0 || rd_dim(r, p, n, &ndim))
                return -1;
            for (int d = 0; d < n; d++) {
                char q[PATH_CAP];
                long long x;
                subidx(q, p, d);
                if (rd_int(r, json_array_get(val, (size_t)d), q, 1, (long long)1 << 40, &x))
                    return -1;
                c->patch_size[d] = x;
            }
            break;
        case PF_PK_MEDIAN_IMAGE_SIZE:
        case PF_PK_SPACING: {
            double *x = k == PF_PK_SPACING ? c->spacing : c->median_image_size;
            int all_int = 1;
            if ((n = rd_list(r, val, p, PF_PLAN_MAX_DIM)) < 0 || rd_dim(r, p, n, &ndim))
                return -1;
            for (int d = 0; d < n; d++) {
                char q[PATH_CAP];
                const json_t *e = json_array_get(val, (size_t)d);
                subidx(q, p, d);
                if (rd_double(r, e, q, &x[d]))
                    return -1;
                if (!(x[d] > 0))
                    return bad(r, q, "expected a positive number");
                all_int &= json_is_integer(e);
            }
            if (k == PF_PK_MEDIAN_IMAGE_SIZE)
                c->median_is_integer = all_int;
            break;
        }
        case PF_PK_NORMALIZATION_SCHEMES:
            if ((n = rd_list(r, val, p, PF_PLAN_MAX_CHANNELS)) < 0)
                return -1;
            for (int i = 0; i < n; i++) {
                char q[PATH_CAP];
                subidx(q, p, i);
                if (rd_string(r, json_array_get(val, (size_t)i), q, c->normalization_schemes[i],
                              sizeof c->normalization_schemes[i], 0))
                    return -1;
            }
            c->n_norm = n;
            break;
        case PF_PK_USE_MASK_FOR_NORM:
            if ((n = rd_list(r, val, p, PF_PLAN_MAX_CHANNELS)) < 0)
                return -1;
            for (int i = 0; i < n; i++) {
                char q[PATH_CAP];
                int b;
                subidx(q, p, i);
                if (rd_bool(r, json_array_get(val, (size_t)i), q, &b))
                    return -1;
                c->use_mask_for_norm[i] = (unsigned char)b;
            }
            c->n_use_mask = n;
            break;
        case PF_PK_RESAMPLING_FN_DATA:
            rc = rd_string(r, val, p, c->resampling_fn_data, sizeof c->resampling_fn_data, 0);
            break;
        case PF_PK_RESAMPLING_FN_SEG:
            rc = rd_string(r, val, p, c->resampling_fn_seg, sizeof c->resampling_fn_seg, 0);
            break;
        case PF_PK_RESAMPLING_FN_PROBABILITIES:
            rc = rd_string(r, val, p, c->resampling_fn_probabilities,
                           sizeof c->resampling_fn_probabilities, 0);
            break;
        case PF_PK_RESAMPLING_FN_DATA_KWARGS:
            rc = rd_resample(r, val, p, &c->resampling_data);
            break;
        case PF_PK_RESAMPLING_FN_SEG_KWARGS: rc = rd_resample(r, val, p, &c->resampling_seg); break;
        case PF_PK_RESAMPLING_FN_PROBABILITIES_KWARGS:
            rc = rd_resample(r, val, p, &c->resampling_probabilities);
            break;
        case PF_PK_ARCHITECTURE: rc = rd_architecture(r, val, p, c, &ndim); break;
        case PF_PK_BATCH_DICE: rc = rd_bool(r, val, p, &c->batch_dice); break;
        case PF_PK_NEXT_STAGE:
            /* nnU-Net allows a list of next stages; the cascade has one */
            if (json_is_array(val) && json_array_size(val) >= 1) {
                char q[PATH_CAP];
                subidx(q, p, 0);
                rc = rd_string(r, json_array_get(val, 0), q, c->next_stage, sizeof c->next_stage,
                               0);
            } else {
                rc = rd_string(r, val, p, c->next_stage, sizeof c->next_stage, 0);
            }
            break;
        case PF_PK_PREVIOUS_STAGE:
            rc = rd_string(r, val, p, c->previous_stage, sizeof c->previous_stage, 0);
            break;
        default: break;
        }
        if (rc)
            return -1;
        c->own_keys |= PF_PK_BIT(k);
    }
    if (!(c->own_keys & PF_PK_BIT(PF_PK_ARCHITECTURE)) && json_object_get(v, "UNet_class_name") &&
        rd_legacy_architecture(r, v, path, c, &ndim))
        return -1;
    c->ndim = ndim;
    return 0;
}

/* Copies the values of configuration key k (a CONFIG_KEYS bit) from src to dst. */
static void copy_key(pf_plan_config *dst, const pf_plan_config *src, int k)
{
#define CP(field) memcpy(&dst->field, &src->field, sizeof dst->field)
    switch (k) {
    case PF_PK_DATA_IDENTIFIER: CP(data_identifier); break;
    case PF_PK_PREPROCESSOR_NAME: CP(preprocessor_name); break;
    case PF_PK_BATCH_SIZE: CP(batch_size); break;
    case PF_PK_PATCH_SIZE: CP(patch_size); break;
    case PF_PK_MEDIAN_IMAGE_SIZE: CP(median_image_size); CP(median_is_integer); break;
    case PF_PK_SPACING: CP(spacing); break;
    case PF_PK_NORMALIZATION_SCHEMES: CP(n_norm); CP(normalization_schemes); break;
    case PF_PK_USE_MASK_FOR_NORM: CP(n_use_mask); CP(use_mask_for_norm); break;
    case PF_PK_RESAMPLING_FN_DATA: CP(resampling_fn_data); break;
    case PF_PK_RESAMPLING_FN_SEG: CP(resampling_fn_seg); break;
    case PF_PK_RESAMPLING_FN_DATA_KWARGS: CP(resampling_data); break;
    case PF_PK_RESAMPLING_FN_SEG_KWARGS: CP(resampling_seg); break;
    case PF_PK_RESAMPLING_FN_PROBABILITIES: CP(resampling_fn_probabilities); break;
    case PF_PK_RESAMPLING_FN_PROBABILITIES_KWARGS: CP(resampling_probabilities); break;
    case PF_PK_ARCHITECTURE:
        CP(network_class_name); CP(n_imports); CP(kw_requires_import); CP(n_stages);
        CP(features_per_stage); CP(kernel_sizes); CP(strides); CP(n_conv_per_stage);
        CP(n_blocks_per_stage);
        CP(n_conv_per_stage_decoder); CP(conv_bias); CP(conv_op); CP(norm_op); CP(nonlin);
        CP(dropout_op); CP(norm_op_kwargs); CP(dropout_op_kwargs); CP(nonlin_kwargs);
        break;
    case PF_PK_BATCH_DICE: CP(batch_dice); break;
    case PF_PK_NEXT_STAGE: CP(next_stage); break;
    case PF_PK_PREVIOUS_STAGE: CP(previous_stage); break;
    default: break;
    }
#undef CP
}

/* PlansManager._internal_resolve_configuration_inheritance: the parent resolved, then the
 * child's keys over it (dict.update: "architecture" is replaced whole). state: 0 new,
 * 1 being resolved (a cycle if met again), 2 done. */
static int resolve(const reader *r, const pf_plan_config *raw, int n, int i, char *state,
                   pf_plan_config *out)
{
    const pf_plan_config *c = &raw[i];
    char path[PATH_CAP];
    int parent = -1;
    uint64_t inherited, dims_child, dims_parent;

    if (state[i] == 2)
        return 0;
    pathf(path, "configurations.%s.inherits_from", c->name);
    if (!c->inherits_from[0]) {
        out[i] = *c;
        out[i].keys = c->own_keys;
        state[i] = 2;
        return 0;
    }
    for (int j = 0; j < n; j++)
        if (!strcmp(raw[j].name, c->inherits_from))
            parent = j;
    if (parent < 0) {
        char msg[PF_PLAN_NAME_MAX + 64];
        snprintf(msg, sizeof msg, "no configuration named \"%s\"", c->inherits_from);
        return bad(r, path, msg);
    }
    if (state[parent] == 1)
        return bad(r, path, "circular inheritance");
    state[i] = 1;
    if (resolve(r, raw, n, parent, state, out))
        return -1;

    out[i] = out[parent];
    inherited = out[parent].keys;
    if (c->own_keys & PF_PK_BIT(PF_PK_ARCHITECTURE))
        inherited &= ~ARCH_KEYS;
    /* per-axis lists must agree across the inheritance */
    dims_child = c->own_keys & DIM_KEYS;
    dims_parent = inherited & DIM_KEYS & ~dims_child;
    if (dims_child && dims_parent && c->ndim != out[parent].ndim) {
        char msg[128];
        snprintf(msg, sizeof msg, "%d axes in the configuration, %d in the one it inherits from",
                 c->ndim, out[parent].ndim);
        return bad(r, path, msg);
    }
    for (int k = 0; k <= PF_PK_PREVIOUS_STAGE; k++)
        if (c->own_keys & PF_PK_BIT(k))
            copy_key(&out[i], c, k);
    if (dims_child)
        out[i].ndim = c->ndim;
    memcpy(out[i].name, c->name, sizeof out[i].name);
    memcpy(out[i].inherits_from, c->inherits_from, sizeof out[i].inherits_from);
    out[i].own_keys = c->own_keys;
    out[i].keys = inherited | c->own_keys;
    state[i] = 2;
    return 0;
}

static int rd_intensity(const reader *r, const json_t *v, const char *path, pf_plan *p)
{
    const char *key;
    json_t *val;
    char q[PATH_CAP], msg[64];
    int seen[PF_PLAN_MAX_CHANNELS] = {0}, n = 0;

    if (!json_is_object(v))
        return bad(r, path, "expected an object");
    json_object_foreach((json_t *)v, key, val) {
        char *end;
        long ch = strtol(key, &end, 10);
        subkey(q, path, key);
        if (!key[0] || *end || ch < 0 || ch >= PF_PLAN_MAX_CHANNELS)
            return bad(r, q, "expected a channel number as key");
        if (!json_is_object(val))
            return bad(r, q, "expected an object");
        for (int f = 0; f < 7; f++) {
            char qf[PATH_CAP];
            const json_t *x = json_object_get(val, intensity_names[f]);
            subkey(qf, q, intensity_names[f]);
            if (!x)
                return bad(r, qf, "missing");
            if (rd_double(r, x, qf, intensity_field(&p->intensity[ch], f)))
                return -1;
        }
        seen[ch] = 1;
        if (ch + 1 > n)
            n = (int)ch + 1;
    }
    for (int ch = 0; ch < n; ch++)
        if (!seen[ch]) {
            snprintf(msg, sizeof msg, "channel %d missing", ch);
            return bad(r, path, msg);
        }
    p->n_intensity = n;
    return 0;
}

static int rd_axes3(const reader *r, const json_t *v, const char *path, int *perm)
{
    char q[PATH_CAP];
    int seen[3] = {0};
    if (rd_list3(r, v, path))
        return -1;
    for (int a = 0; a < 3; a++) {
        subidx(q, path, a);
        if (rd_int32(r, json_array_get(v, (size_t)a), q, 0, 2, &perm[a]))
            return -1;
        if (seen[perm[a]]++)
            return bad(r, path, "not a permutation of 0, 1, 2");
    }
    return 0;
}

static int rd_plan(const reader *r, const json_t *top, pf_plan *p)
{
    const char *key;
    json_t *val, *configs = NULL;
    pf_plan_config *raw = NULL;
    char *state = NULL;
    int n = 0;

    if (!json_is_object(top))
        return bad(r, "(top level)", "expected an object");
    json_object_foreach((json_t *)top, key, val) {
        int k = -1, rc = 0;
        for (int i = 0; i < PF_PT_COUNT; i++)
            if (!strcmp(key, top_names[i]))
                k = i;
        /* the name PlansManager still accepts from early nnU-Net v2 plans */
        if (!strcmp(key, "foreground_intensity_properties_by_modality") &&
            !json_object_get(top, top_names[PF_PT_FOREGROUND_INTENSITY]))
            k = PF_PT_FOREGROUND_INTENSITY;
        if (k < 0)
            continue;
        switch (k) {
        case PF_PT_DATASET_NAME:
            rc = rd_string(r, val, key, p->dataset_name, sizeof p->dataset_name, 0);
            break;
        case PF_PT_PLANS_NAME:
            rc = rd_string(r, val, key, p->plans_name, sizeof p->plans_name, 0);
            break;
        case PF_PT_ORIGINAL_MEDIAN_SPACING:
            if (rd_list3(r, val, key))
                return -1;
            for (int a = 0; a < 3 && !rc; a++) {
                char q[PATH_CAP];
                subidx(q, key, a);
                rc = rd_double(r, json_array_get(val, (size_t)a), q,
                               &p->original_median_spacing[a]);
            }
            break;
        case PF_PT_ORIGINAL_MEDIAN_SHAPE:
            if (rd_list3(r, val, key))
                return -1;
            for (int a = 0; a < 3 && !rc; a++) {
                char q[PATH_CAP];
                long long x = 0;
                subidx(q, key, a);
                rc = rd_int(r, json_array_get(val, (size_t)a), q, 0, (long long)1 << 40, &x);
                p->original_median_shape[a] = x;
            }
            break;
        case PF_PT_IMAGE_READER_WRITER:
            rc = rd_string(r, val, key, p->image_reader_writer, sizeof p->image_reader_writer, 0);
            break;
        case PF_PT_TRANSPOSE_FORWARD: rc = rd_axes3(r, val, key, p->transpose_forward); break;
        case PF_PT_TRANSPOSE_BACKWARD: rc = rd_axes3(r, val, key, p->transpose_backward); break;
        case PF_PT_CONFIGURATIONS:
            if (!json_is_object(val))
                return bad(r, key, "expected an object");
            configs = val;
            break;
        case PF_PT_EXPERIMENT_PLANNER_USED:
            rc = rd_string(r, val, key, p->experiment_planner_used,
                           sizeof p->experiment_planner_used, 0);
            break;
        case PF_PT_LABEL_MANAGER:
            rc = rd_string(r, val, key, p->label_manager, sizeof p->label_manager, 0);
            break;
        case PF_PT_FOREGROUND_INTENSITY: rc = rd_intensity(r, val, key, p); break;
        default: break;
        }
        if (rc)
            return -1;
        p->keys |= PF_PT_BIT(k);
    }
    for (int k = 0; k < PF_PT_COUNT; k++) {
        if (k != PF_PT_TRANSPOSE_FORWARD && k != PF_PT_TRANSPOSE_BACKWARD &&
            k != PF_PT_CONFIGURATIONS)
            continue;
        if (!(p->keys & PF_PT_BIT(k)))
            return bad(r, top_names[k], "missing");
    }
    for (int a = 0; a < 3; a++)
        if (p->transpose_backward[p->transpose_forward[a]] != a)
            return bad(r, "transpose_backward", "not the inverse of transpose_forward");

    n = (int)json_object_size(configs);
    if (n == 0)
        return bad(r, "configurations", "empty");
    raw = pf_calloc((size_t)n, sizeof *raw, r->err);
    p->configs = pf_calloc((size_t)n, sizeof *p->configs, r->err);
    state = pf_calloc((size_t)n, 1, r->err);
    if (!raw || !p->configs || !state)
        goto fail;
    {
        int i = 0;
        json_object_foreach(configs, key, val) {
            if (rd_config(r, key, val, &raw[i]))
                goto fail;
            i++;
        }
    }
    for (int i = 0; i < n; i++)
        if (resolve(r, raw, n, i, state, p->configs))
            goto fail;
    p->n_configs = n;
    for (int i = 0; i < n; i++) {
        const pf_plan_config *c = &p->configs[i];
        char path[PATH_CAP];
        pathf(path, "configurations.%s", c->name);
        if (!(c->keys & PF_PK_BIT(PF_PK_PATCH_SIZE))) {
            bad(r, path, "no patch_size (own or inherited)");
            goto fail;
        }
        if (!(c->keys & PF_PK_BIT(PF_PK_SPACING))) {
            bad(r, path, "no spacing (own or inherited)");
            goto fail;
        }
    }
    free(raw);
    free(state);
    return 0;

fail:
    free(raw);
    free(state);
    return -1;
}

int pf_plans_from_json(const char *text, size_t len, const char *source, pf_plan *out,
                       pf_error *err)
{
    json_error_t jerr;
    json_t *top;
    reader r = {source ? source : "plans", err};

    memset(out, 0, sizeof *out);
    top = json_loadb(text, len, 0, &jerr);
    if (!top)
        return pf_fail(err, EINVAL, "%s:%d:%d: %s", r.src, jerr.line, jerr.column, jerr.text);
    if (rd_plan(&r, top, out)) {
        json_decref(top);
        pf_plan_free(out);
        return -1;
    }
    json_decref(top);
    return 0;
}

int pf_plans_read(const char *path, pf_plan *out, pf_error *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc;

    memset(out, 0, sizeof *out);
    if (!f)
        return pf_fail(err, errno, "%s: %s", path, strerror(errno));
    for (;;) {
        size_t got;
        if (len + 65536 > cap) {
            char *nb = realloc(buf, cap = cap ? cap * 2 : 131072);
            if (!nb) {
                free(buf);
                fclose(f);
                return pf_fail(err, ENOMEM, "%s: out of memory", path);
            }
            buf = nb;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        return pf_fail(err, EIO, "%s: read error", path);
    }
    fclose(f);
    rc = pf_plans_from_json(buf, len, path, out, err);
    free(buf);
    return rc;
}
