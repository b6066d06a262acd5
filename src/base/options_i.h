/* options_i.h - what the files of the option table share, and nobody else: options.c (the
 * table and the generic setter), options_parse.c (value parsers and the irregular options'
 * setters), options_text.c (--help, formatting, JSON) and options_check.c (checks across
 * options). */
#ifndef PATCHFS_OPTIONS_I_H
#define PATCHFS_OPTIONS_I_H

#include <jansson.h>

#include "options.h"

/* JSON writers of the rows whose JSON is not their plain value (options_text.c). Each adds
 * its keys to obj (or nothing, for an option left at a default that format 1 did not write)
 * and returns 0, or -1 if out of memory. */
int pf_json_patch(const pf_options *o, const pf_options_derived *dv, json_t *obj);
int pf_json_oversample_mode(const pf_options *o, const pf_options_derived *dv, json_t *obj);
int pf_json_fold(const pf_options *o, const pf_options_derived *dv, json_t *obj);
int pf_json_class_weights(const pf_options *o, const pf_options_derived *dv, json_t *obj);
int pf_json_aug(const pf_options *o, const pf_options_derived *dv, json_t *obj);
int pf_json_seg_outside(const pf_options *o, const pf_options_derived *dv, json_t *obj);
int pf_json_ds_scales(const pf_options *o, const pf_options_derived *dv, json_t *obj);
int pf_json_shard(const pf_options *o, const pf_options_derived *dv, json_t *obj);

/* Whether row i of the table was given (options.h: bit i of pf_options.given). */
static inline int pf_opt_given_row(const pf_options *o, size_t i)
{
    return (int)((o->given[i / 32] >> (i % 32)) & 1);
}

/* How --help and "needs a value" messages write the value: the row's metavar, or for an
 * enum its names joined by '|'. */
void pf_opt_metavar(const pf_option_desc *d, char *buf, size_t cap);

/* The field a row sets. */
static inline void *pf_opt_field(pf_options *o, const pf_option_desc *d)
{
    return (char *)o + d->offset;
}

/* The value of a path row, NULL if unset: cache= is an owned pointer its setter sets (no
 * field in the row), log= an array in the struct that the generic setter fills. */
static inline const char *pf_opt_path(const pf_options *o, const pf_option_desc *d)
{
    const char *p = d->size ? (const char *)o + d->offset : o->cache_dir;
    return p && p[0] ? p : NULL;
}

/* Value parsers (into locals: a refused value leaves the options as they were) and the
 * setters of the irregular rows (options_parse.c). */
int pf_opt_parse_double(const char *key, const char *value, double lo, double hi, double *out,
                        pf_error *err);
int pf_opt_parse_size(const pf_option_desc *d, const char *value, uint64_t *out, pf_error *err);
int pf_opt_set_patch(pf_options *o, const pf_option_desc *d, const char *value, pf_error *err);
int pf_opt_set_oversample(pf_options *o, const pf_option_desc *d, const char *value, pf_error *err);
int pf_opt_set_fold(pf_options *o, const pf_option_desc *d, const char *value, pf_error *err);
int pf_opt_add_class_weight(pf_options *o, const char *item, pf_error *err);
int pf_opt_add_ds_scale(pf_options *o, const char *item, pf_error *err);
int pf_opt_set_list(pf_options *o, const pf_option_desc *d, const char *value, pf_error *err);
int pf_opt_set_spacing(pf_options *o, const pf_option_desc *d, const char *value,
                       pf_error *err);
int pf_json_spacing(const pf_options *o, const pf_options_derived *dv, json_t *obj);
int pf_opt_set_shard(pf_options *o, const pf_option_desc *d, const char *value, pf_error *err);
int pf_opt_set_aug_rotation(pf_options *o, const pf_option_desc *d, const char *value,
                            pf_error *err);
int pf_opt_set_aug_scaling(pf_options *o, const pf_option_desc *d, const char *value,
                           pf_error *err);
int pf_opt_set_cache(pf_options *o, const pf_option_desc *d, const char *value, pf_error *err);
int pf_opt_set_debug(pf_options *o, const pf_option_desc *d, const char *value, pf_error *err);
int pf_opt_refuse_rw(pf_options *o, const pf_option_desc *d, const char *value, pf_error *err);

#endif
