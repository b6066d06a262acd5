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
/* The test images served under test/ (0: none) and their cache folder (NULL when none). */
int pf_ctx_n_test(const pf_ctx *ctx);
const char *pf_ctx_test_cache_dir(const pf_ctx *ctx);
/* Bytes of the mapped cache entries of all cases: what keeping every case mapped may hold. */
uint64_t pf_ctx_case_bytes(const pf_ctx *ctx);
/* The page policy's budget: cases stay mapped while their entries fit it (cache.h,
 * pf_case_keep_budget; process-wide); 0 releases every case's rows after use. */
void pf_ctx_keep_cases(pf_ctx *ctx, size_t bytes);

/* skip_bad: the cases set aside and why; i < pf_ctx_n_skipped. */
int pf_ctx_n_skipped(const pf_ctx *ctx);
void pf_ctx_skipped(const pf_ctx *ctx, int i, const char **id, const char **reason);

/* `patchfs plan`: nnU-Net's plan of the dataset as nnUNetPlans.json text (malloc'd), from
 * its fingerprint (kept in the cache, built where missing) or from plans=FILE; the same bytes
 * a mount serves as plans.json. Builds no case entry. */
int pf_plan_dataset(const char *dataset_dir, const pf_options *o, pf_progress_fn progress,
                    void *arg, char **json, pf_error *err);

/* `patchfs prepare -o shard=R/W`: builds (and fully checks) the entries of the cases whose
 * index i (in sorted id order) has i % W == R, into the shared cache folder, and nothing else:
 * the fingerprint comes from the dataset's fingerprint entry, which must be current (made by
 * a first pass: `patchfs plan`, a mount, `get` or an unsharded prepare over the same cache);
 * missing or stale, it fails with a message saying what to run. Nothing is mapped. */
typedef struct pf_shard_result {
    int n_cases, share, built, set_aside;
    char dir[4096];
} pf_shard_result;
int pf_prepare_shard(const char *dataset_dir, const pf_options *o, int rank, int world,
                     pf_progress_fn progress, void *arg, pf_shard_result *r, pf_error *err);

/* `patchfs check`'s report: dataset, channels, fold, and one row per case; malloc'd text. */
char *pf_ctx_check_report(const pf_ctx *ctx);

/* ---- examining a dataset and its cache without serving it (check, gc) ---- */

/* What pf_check found. */
typedef struct pf_check_result {
    int problems;        /* every problem found (each passed to problem()) */
    int bad_cases;       /* cases with at least one */
    int usable;          /* the options can serve the dataset: no problem, or skip_bad and only
                          * problems of cases, with a case left */
    int cache_complete;  /* every usable case has a current cache entry */
    char *report;        /* the per-case table from the cache entries and the sources
                          * (malloc'd); pf_ctx_check_report is the table of an opened context */
} pf_check_result;

/* `patchfs check` without building the cache: dataset.json and layout, every case's files
 * present, every channel and label decoded and checked as the cache build checks them (one
 * grid and affine, labels integral and named in dataset.json), the options against the labels,
 * and the fold. Every problem is passed to problem(parg, message), the message naming the case
 * and file, in case order. Cases that already have a current cache entry were checked when it
 * was built and are not decoded again. progress (may be NULL) is called per decoded case.
 * Nothing is written. 0 with *out filled, or -1 with err when the dataset cannot be listed at
 * all (dataset.json) or memory runs out. */
int pf_check(const char *dataset_dir, const pf_options *o, void (*problem)(void *, const char *),
             void *parg, pf_progress_fn progress, void *arg, pf_check_result *out,
             pf_error *err);

/* `patchfs gc`: removes from the dataset's cache folder what its current sources no longer
 * reach (docs/usage.md has the rule): entries of sources that changed or left, entries of
 * other option sets only with o->gc_all, temporaries of builders that are gone; with
 * o->dry_run nothing is removed. freed() is called per file (path, bytes, why). */
typedef struct pf_gc_result {
    int freed, kept;                  /* files */
    uint64_t bytes_freed, bytes_kept;
    int no_folder;                    /* the dataset has no cache folder (under these options) */
    char dir[4096];                   /* the folder */
} pf_gc_result;
int pf_gc(const char *dataset_dir, const pf_options *o,
          void (*freed)(void *, const char *path, uint64_t bytes, const char *why),
          void *arg, pf_gc_result *out, pf_error *err);

/* ---- a case's way back to its source (export of predictions) ---- */

/* Where a case served on the preprocessed grid came from, and how to go back: nnU-Net's
 * properties (shape_before_cropping, bbox_used_for_cropping,
 * shape_after_cropping_and_before_resampling, spacings, transpose_forward) and the plan's
 * resampling of probabilities and of labels. Axes in the transposed (preprocessed) order. */
typedef struct pf_case_geometry {
    int64_t shape[3];             /* the served grid (cases/ID/data.npy without channels) */
    int64_t shape_before_crop[3]; /* the source volume, transposed */
    int64_t crop_lo[3];           /* crop box start in it */
    int64_t crop_shape[3];        /* crop box size = the grid before resampling */
    double spacing[3];            /* of the served grid: what the export resamples from */
    double src_spacing[3];        /* of the source, transposed: what it resamples to */
    int transpose[3];             /* served axis d is source array axis transpose[d] */
    int prob_order, prob_order_z, prob_force_separate_z; /* resampling_fn_probabilities_kwargs */
    int seg_order, seg_order_z;   /* resampling_fn_seg_kwargs */
    const char *image;            /* the case's first image file (the geometry written back) */
    const char *label;            /* its label file (evaluation's reference) */
} pf_case_geometry;

/* The case `id`'s geometry; -1 with a message naming the case when it is not served. */
int pf_ctx_case_geometry(const pf_ctx *ctx, const char *id, pf_case_geometry *out,
                         pf_error *err);
/* The label values dataset.json names (ascending, background 0 first) and the ignore label
 * (-1: none); what a prediction's channels are, in order. */
void pf_ctx_labels(const pf_ctx *ctx, const int **values, int *n, int *ignore_label);
/* A region dataset's foreground regions (dataset.json order; 0 for a label dataset) and the
 * label value each writes back (regions_class_order): a region prediction's channels. */
int pf_ctx_regions(const pf_ctx *ctx, const int **class_order);
/* The dataset's file ending (".nii.gz"). */
const char *pf_ctx_file_ending(const pf_ctx *ctx);
/* The served case ids in order (i < pf_ctx_n_cases), and the fold's validation cases. */
const char *pf_ctx_case_id(const pf_ctx *ctx, int i);
int pf_ctx_n_val(const pf_ctx *ctx);
const char *pf_ctx_val_id(const pf_ctx *ctx, int i);

#endif
