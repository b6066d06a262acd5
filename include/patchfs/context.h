/* context.h - the core library's public API, part 1: a context opened on a dataset.
 *
 * pf_ctx_open reads the dataset, builds or checks the preprocessing cache, decides the
 * normalisation and prepares the tree; the context is then read-only and shared by every
 * thread. What it holds is private to the core (zlib's internal_state, libfuse's *_i.h): the
 * mount and the CLI see it through the functions below and through files.h, so no layer above
 * the core reaches into its fields. */
#ifndef PATCHFS_CONTEXT_H
#define PATCHFS_CONTEXT_H

#include "error.h"
#include "options.h"
#include "progress.h"
#include "patchfs/tree.h"

typedef struct pf_ctx pf_ctx;

#define PF_CTX_VERIFY_ALL 1u /* also check the image digests of existing cache entries */

/* Opens the dataset, builds missing cache entries (progress reported through the callback,
 * which may be NULL), maps them and prepares the small files. *out is NULL on failure. */
int pf_ctx_open(pf_ctx **out, const char *dataset_dir, const pf_options *o, unsigned flags,
                pf_progress_fn progress, void *arg, pf_error *err);
void pf_ctx_close(pf_ctx *ctx);

const pf_tree *pf_ctx_tree(const pf_ctx *ctx);
/* The options in effect (patch and batch resolved). */
const pf_options *pf_ctx_options(const pf_ctx *ctx);
const char *pf_ctx_dataset_name(const pf_ctx *ctx);
const char *pf_ctx_cache_dir(const pf_ctx *ctx);
int pf_ctx_n_cases(const pf_ctx *ctx);

/* skip_bad: the cases set aside and why; i < pf_ctx_n_skipped. */
int pf_ctx_n_skipped(const pf_ctx *ctx);
void pf_ctx_skipped(const pf_ctx *ctx, int i, const char **id, const char **reason);

/* `patchfs check`'s report: dataset, channels, fold, and one row per case; malloc'd text. */
char *pf_ctx_check_report(const pf_ctx *ctx);

#endif
