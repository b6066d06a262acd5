/* plans_json_values.c - typed values read from a jansson tree of nnUNetPlans.json: integers
 * in a range (a Python float holding an integer accepted), numbers, booleans, bounded strings,
 * lists of them (per-axis lists checked against the configuration's number of axes), kwargs
 * objects kept as compact text. Every error names the file and the key path
 * ("plans.json: configurations.3d_fullres.patch_size[1]: expected an integer"). */
#include "plans_json_i.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int pf_pj_bad(const pf_pj_reader *r, const char *path, const char *what)
{
    return pf_fail(r->err, EINVAL, "%s: %s: %s", r->src, path, what);
}

int pf_pj_int(const pf_pj_reader *r, const json_t *v, const char *path, long long lo,
              long long hi, long long *out)
{
    double d;
    char msg[96];
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
    } else if (json_is_real(v) && (d = json_real_value(v), d == floor(d) && fabs(d) < 9e15)) {
        *out = (long long)d; /* a Python float that holds an integer (40.0) */
    } else {
        return pf_pj_bad(r, path, "expected an integer");
    }
    if (*out < lo || *out > hi) {
        snprintf(msg, sizeof msg, "%lld is outside %lld .. %lld", *out, lo, hi);
        return pf_pj_bad(r, path, msg);
    }
    return 0;
}

int pf_pj_int32(const pf_pj_reader *r, const json_t *v, const char *path, int lo, int hi,
                int *out)
{
    long long x;
    if (pf_pj_int(r, v, path, lo, hi, &x))
        return -1;
    *out = (int)x;
    return 0;
}

int pf_pj_double(const pf_pj_reader *r, const json_t *v, const char *path, double *out)
{
    if (!json_is_number(v))
        return pf_pj_bad(r, path, "expected a number");
    *out = json_number_value(v);
    return 0;
}

int pf_pj_bool(const pf_pj_reader *r, const json_t *v, const char *path, int *out)
{
    if (json_is_boolean(v))
        *out = json_is_true(v);
    else if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1))
        *out = (int)json_integer_value(v);
    else
        return pf_pj_bad(r, path, "expected true or false");
    return 0;
}

int pf_pj_string(const pf_pj_reader *r, const json_t *v, const char *path, char *buf,
                 size_t cap, int null_ok)
{
    char msg[64];
    if (null_ok && json_is_null(v)) {
        buf[0] = 0;
        return 0;
    }
    if (!json_is_string(v))
        return pf_pj_bad(r, path, null_ok ? "expected a string or null" : "expected a string");
    if (json_string_length(v) >= cap || strlen(json_string_value(v)) != json_string_length(v)) {
        snprintf(msg, sizeof msg, "string longer than %zu bytes or with NUL", cap - 1);
        return pf_pj_bad(r, path, msg);
    }
    memcpy(buf, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

/* ---- lists ---- */

/* Checks a list of per-axis values against the configuration's number of axes so far. */
static int check_axes(const pf_pj_reader *r, const char *path, int n, int *ndim)
{
    char msg[64];
    if (n < 1 || n > PF_PLAN_MAX_DIM)
        return pf_pj_bad(r, path, "expected 1 to 3 entries, one per axis");
    if (*ndim && n != *ndim) {
        snprintf(msg, sizeof msg, "%d entries where other keys have %d", n, *ndim);
        return pf_pj_bad(r, path, msg);
    }
    *ndim = n;
    return 0;
}

int pf_pj_list(const pf_pj_reader *r, const json_t *v, const char *path, int maxn, int *ndim)
{
    char msg[64];
    if (!json_is_array(v))
        return pf_pj_bad(r, path, "expected a list");
    if (json_array_size(v) > (size_t)maxn) {
        snprintf(msg, sizeof msg, "more than %d entries", maxn);
        return pf_pj_bad(r, path, msg);
    }
    if (ndim && check_axes(r, path, (int)json_array_size(v), ndim))
        return -1;
    return (int)json_array_size(v);
}

int pf_pj_list3(const pf_pj_reader *r, const json_t *v, const char *path)
{
    int n = pf_pj_list(r, v, path, 3, NULL);
    if (n < 0)
        return -1;
    return n == 3 ? 0 : pf_pj_bad(r, path, "expected 3 entries");
}

/* The list readers: the list checked, then entry i read by READ(entry, "path[i]", i), in
 * order, the first error returned. */
#define READ_LIST(maxn, ndim, READ)                                                   \
    do {                                                                              \
        char q_[PF_PJ_PATH_CAP];                                                      \
        int n_ = pf_pj_list(r, v, path, (maxn), (ndim));                              \
        for (int i = 0; i < n_; i++) {                                                \
            const json_t *e_ = json_array_get(v, (size_t)i);                          \
            pf_pj_subidx(q_, path, i);                                                \
            if (READ(e_, q_, i))                                                      \
                return -1;                                                            \
        }                                                                             \
        return n_;                                                                    \
    } while (0)

int pf_pj_int_list(const pf_pj_reader *r, const json_t *v, const char *path, int *x, int maxn,
                   int lo, int hi, int *ndim)
{
#define READ(e, q, i) pf_pj_int32(r, e, q, lo, hi, &x[i])
    READ_LIST(maxn, ndim, READ);
#undef READ
}

int pf_pj_i64_list(const pf_pj_reader *r, const json_t *v, const char *path, int64_t *x,
                   int maxn, long long lo, long long hi, int *ndim)
{
    long long y = 0;
#define READ(e, q, i) (pf_pj_int(r, e, q, lo, hi, &y) || (x[i] = y, 0))
    READ_LIST(maxn, ndim, READ);
#undef READ
}

/* a number; with positive, one > 0 */
static int read_number(const pf_pj_reader *r, const json_t *v, const char *path, int positive,
                       double *out)
{
    if (pf_pj_double(r, v, path, out))
        return -1;
    if (positive && !(*out > 0))
        return pf_pj_bad(r, path, "expected a positive number");
    return 0;
}

int pf_pj_double_list(const pf_pj_reader *r, const json_t *v, const char *path, double *x,
                      int maxn, int positive, int *ndim)
{
#define READ(e, q, i) read_number(r, e, q, positive, &x[i])
    READ_LIST(maxn, ndim, READ);
#undef READ
}

int pf_pj_bool_list(const pf_pj_reader *r, const json_t *v, const char *path,
                    unsigned char *x, int maxn)
{
    int b = 0;
#define READ(e, q, i) (pf_pj_bool(r, e, q, &b) || (x[i] = (unsigned char)b, 0))
    READ_LIST(maxn, NULL, READ);
#undef READ
}

int pf_pj_string_list(const pf_pj_reader *r, const json_t *v, const char *path, char *rows,
                      size_t width, int maxn)
{
#define READ(e, q, i) pf_pj_string(r, e, q, rows + (size_t)(i) * width, width, 0)
    READ_LIST(maxn, NULL, READ);
#undef READ
}

int pf_pj_rows(const pf_pj_reader *r, const json_t *v, const char *path,
               int rows[][PF_PLAN_MAX_DIM], int *n, int *ndim)
{
    char p[PF_PJ_PATH_CAP];
    if ((*n = pf_pj_list(r, v, path, PF_PLAN_MAX_STAGES, NULL)) < 0)
        return -1;
    for (int i = 0; i < *n; i++) {
        pf_pj_subidx(p, path, i);
        if (pf_pj_int_list(r, json_array_get(v, (size_t)i), p, rows[i], PF_PLAN_MAX_DIM, 1,
                           1 << 20, ndim) < 0)
            return -1;
    }
    return 0;
}

/* ---- objects ---- */

int pf_pj_kwargs(const pf_pj_reader *r, const json_t *v, const char *path, char *buf,
                 size_t cap)
{
    pf_textbuf b = {0};
    if (json_is_null(v)) {
        buf[0] = 0;
        return 0;
    }
    if (!json_is_object(v))
        return pf_pj_bad(r, path, "expected an object or null");
    pf_pj_print(&b, v, 0, 1);
    if (b.failed || !b.s || b.len >= cap) {
        pf_textbuf_free(&b);
        return pf_pj_bad(r, path, "object too long");
    }
    memcpy(buf, b.s, b.len + 1);
    pf_textbuf_free(&b);
    return 0;
}

int pf_pj_members(const pf_pj_reader *r, const json_t *v, const char *path,
                  pf_pj_member_fn member, void *ctx)
{
    const char *key;
    json_t *val;
    char p[PF_PJ_PATH_CAP];
    if (!json_is_object(v))
        return pf_pj_bad(r, path, "expected an object");
    json_object_foreach((json_t *)v, key, val) {
        pf_pj_subkey(p, path, key);
        if (member(r, key, val, p, ctx))
            return -1;
    }
    return 0;
}

/* one member of a resampling_fn_*_kwargs object; ctx: the pf_resample_kwargs */
static int resample_member(const pf_pj_reader *r, const char *key, const json_t *val,
                           const char *p, void *ctx)
{
    pf_resample_kwargs *k = ctx;
    if (!strcmp(key, "is_seg"))
        return pf_pj_bool(r, val, p, &k->is_seg);
    if (!strcmp(key, "order"))
        return pf_pj_int32(r, val, p, 0, 5, &k->order);
    if (!strcmp(key, "order_z"))
        return pf_pj_int32(r, val, p, 0, 5, &k->order_z);
    if (!strcmp(key, "force_separate_z")) {
        if (json_is_null(val)) {
            k->force_separate_z = -1;
            return 0;
        }
        return pf_pj_bool(r, val, p, &k->force_separate_z);
    }
    return 0;
}

int pf_pj_resample(const pf_pj_reader *r, const json_t *v, const char *path,
                   pf_resample_kwargs *k)
{
    return pf_pj_members(r, v, path, resample_member, k);
}
