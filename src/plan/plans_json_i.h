/* plans_json_i.h - what the files of nnUNetPlans.json reading and writing share, and nobody
 * else:
 *   plans_json.c         key names, key groups, key paths for error messages
 *   plans_json_print.c   Python's float repr and json.dump's text
 *   plans_json_write.c   a pf_plan as nnUNetPlans.json text
 *   plans_json_values.c  typed values read from a jansson tree, errors naming file and key
 *   plans_json_config.c  one configuration read (the pre-2.3 layout converted)
 *   plans_json_read.c    the plans read: top level, inheritance resolved, files */
#ifndef PATCHFS_PLANS_JSON_I_H
#define PATCHFS_PLANS_JSON_I_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "plans_json.h"
#include "textbuf.h"

/* ---- names (plans_json.c) ---- */

extern const char *const pf_pj_top_names[PF_PT_COUNT];   /* indexed by enum pf_plan_top_key */
extern const char *const pf_pj_key_names[PF_PK_COUNT];   /* indexed by enum pf_plan_key */

#define PF_PJ_KEY_RANGE(lo, hi) ((PF_PK_BIT((hi) + 1) - 1) & ~(PF_PK_BIT(lo) - 1))
/* the keys directly in a configuration, and those in "architecture" */
#define PF_PJ_CONFIG_KEYS PF_PJ_KEY_RANGE(PF_PK_DATA_IDENTIFIER, PF_PK_PREVIOUS_STAGE)
#define PF_PJ_ARCH_KEYS PF_PJ_KEY_RANGE(PF_PK_NETWORK_CLASS_NAME, PF_PK_NONLIN_KWARGS)
/* keys whose lists have one entry per axis */
#define PF_PJ_DIM_KEYS (PF_PK_BIT(PF_PK_PATCH_SIZE) | PF_PK_BIT(PF_PK_MEDIAN_IMAGE_SIZE) | \
                        PF_PK_BIT(PF_PK_SPACING) | PF_PK_BIT(PF_PK_KERNEL_SIZES) | \
                        PF_PK_BIT(PF_PK_STRIDES))

/* the 7 statistics of foreground_intensity_properties_per_channel, in the file's order */
extern const char *const pf_pj_intensity_names[7];
double *pf_pj_intensity_field(pf_intensity_props *p, int i);

/* Key paths for error messages ("configurations.2d.patch_size[1]"); one too long for the
 * buffer is cut short, which only shortens a message. Buffers are PF_PJ_PATH_CAP bytes. */
#define PF_PJ_PATH_CAP 512
void pf_pj_pathf(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pf_pj_subkey(char *out, const char *base, const char *key);
void pf_pj_subidx(char *out, const char *base, int i);

/* ---- text (plans_json_print.c) ---- */

/* v as Python writes it: json.dump(indent=4) at depth `depth`, or with compact
 * json.dumps(separators=(",", ":")); floats as repr(), ensure_ascii. */
void pf_pj_print(pf_textbuf *b, const json_t *v, int depth, int compact);

/* ---- reading values (plans_json_values.c) ----
 *
 * Each reads v at key path `path` and returns 0 (lists: their length), or -1 with an error
 * "source: path: what" in r->err. */

typedef struct pf_pj_reader {
    const char *src;    /* the file's name in messages */
    pf_error *err;
} pf_pj_reader;

int pf_pj_bad(const pf_pj_reader *r, const char *path, const char *what);
/* an integer (or a float holding one) in [lo, hi] */
int pf_pj_int(const pf_pj_reader *r, const json_t *v, const char *path, long long lo,
              long long hi, long long *out);
int pf_pj_int32(const pf_pj_reader *r, const json_t *v, const char *path, int lo, int hi,
                int *out);
int pf_pj_double(const pf_pj_reader *r, const json_t *v, const char *path, double *out);
/* true / false, or 0 / 1 */
int pf_pj_bool(const pf_pj_reader *r, const json_t *v, const char *path, int *out);
/* a string shorter than cap without NUL; with null_ok, null as "" */
int pf_pj_string(const pf_pj_reader *r, const json_t *v, const char *path, char *buf,
                 size_t cap, int null_ok);
/* A list of at most maxn entries; with ndim, one entry per axis, checked against and setting
 * the configuration's number of axes so far (*ndim, 0 before any). Its length, or -1. */
int pf_pj_list(const pf_pj_reader *r, const json_t *v, const char *path, int maxn, int *ndim);
/* a list of exactly 3 entries (top-level per-axis values): 0 or -1 */
int pf_pj_list3(const pf_pj_reader *r, const json_t *v, const char *path);
/* Lists of values as the scalar readers above read them (ndim as pf_pj_list): the length, or
 * -1. Strings go to rows `width` bytes apart; doubles may be required positive. */
int pf_pj_int_list(const pf_pj_reader *r, const json_t *v, const char *path, int *x, int maxn,
                   int lo, int hi, int *ndim);
int pf_pj_i64_list(const pf_pj_reader *r, const json_t *v, const char *path, int64_t *x,
                   int maxn, long long lo, long long hi, int *ndim);
int pf_pj_double_list(const pf_pj_reader *r, const json_t *v, const char *path, double *x,
                      int maxn, int positive, int *ndim);
int pf_pj_bool_list(const pf_pj_reader *r, const json_t *v, const char *path,
                    unsigned char *x, int maxn);
int pf_pj_string_list(const pf_pj_reader *r, const json_t *v, const char *path, char *rows,
                      size_t width, int maxn);
/* kernel_sizes / strides: per stage one per-axis list of integers in [1, 2^20] */
int pf_pj_rows(const pf_pj_reader *r, const json_t *v, const char *path,
               int rows[][PF_PLAN_MAX_DIM], int *n, int *ndim);
/* Calls member() for each member of object v in the file's order, with the member's key path,
 * stopping at the first error; fails unless v is an object. */
typedef int (*pf_pj_member_fn)(const pf_pj_reader *r, const char *key, const json_t *val,
                               const char *path, void *ctx);
int pf_pj_members(const pf_pj_reader *r, const json_t *v, const char *path,
                  pf_pj_member_fn member, void *ctx);
/* an object kept as compact JSON text (null: "") */
int pf_pj_kwargs(const pf_pj_reader *r, const json_t *v, const char *path, char *buf,
                 size_t cap);
/* resampling_fn_*_kwargs: the keys given replace those of *k */
int pf_pj_resample(const pf_pj_reader *r, const json_t *v, const char *path,
                   pf_resample_kwargs *k);

/* ---- one configuration (plans_json_config.c) ---- */

/* configurations.<name> as given (own_keys; ndim from its per-axis lists), not resolved. */
int pf_pj_config(const pf_pj_reader *r, const char *name, const json_t *v, pf_plan_config *c);

#endif
