/* texts.h - the small text files of the tree, made from the context alone (no pixels), except
 * meta.json's digests, which the caller computes (render.c) and passes in. */
#ifndef PATCHFS_TEXTS_H
#define PATCHFS_TEXTS_H

#include <stdint.h>

#include <jansson.h>

#include "context_i.h"

/* Each returns malloc'd text, NULL when out of memory. */
char *pf_text_readme(const pf_ctx *ctx);
char *pf_text_patchfs_json(const pf_ctx *ctx);
char *pf_text_splits_json(const pf_ctx *ctx);
char *pf_text_properties_json(const pf_ctx *ctx, uint32_t split, uint32_t case_idx);
/* meta.json of step node n for the sampled batch s; digests: per served position, XXH3-64 of
 * its image and seg bytes, or NULL for zeros of the same width (how the size is known). */
char *pf_text_meta_json(const pf_ctx *ctx, const pf_node *n, const pf_sample *s,
                        const uint64_t (*digests)[2]);

/* meta.json of step node n, its digests rendered (with_digests) or zero (same size: how the
 * size is known without pixels). */
int pf_make_meta(pf_ctx *ctx, const pf_node *n, int with_digests, char **out, pf_error *err);

/* Serialises j (indent 2, key order kept, 10 significant digits) with a final newline, and
 * releases j. */
char *pf_text_dump(json_t *j);

#endif
