/* infer.h - the core library's public API, part 3: the end of a run. A network's predictions
 * on the served grid go back to the cases' source geometry (export), and exported label maps
 * are scored against the dataset's labels with nnU-Net's metrics (evaluate).
 *
 * Both follow nnU-Net (docs/inference.md): export is nnunetv2/inference/export_prediction.py
 * (resample back, argmax, insert at the crop box, transpose back, the source's geometry),
 * evaluate is nnunetv2/evaluation/evaluate_predictions.py (summary.json). */
#ifndef PATCHFS_INFER_H
#define PATCHFS_INFER_H

#include "error.h"
#include "options.h"
#include "patchfs/context.h"

/* `patchfs export DATASET CASE PREDICTION OUT.nii.gz`: PREDICTION is a .npy on case's served
 * grid, (K, Z, Y, X) float32/float16 logits or probabilities, one channel per label of
 * dataset.json (the ignore label has none; argmax), or for a region dataset one channel of
 * logits per foreground region (sigmoid > 0.5 writes regions_class_order's values in that
 * order), or a (Z, Y, X) integer label map. OUT is written atomically (refused if it exists
 * unless force); probabilities (NULL: none) gets the softmax (regions: sigmoid) on the source
 * grid as .npz ('probabilities', (K, Z, Y, X) in the source array's order). threads:
 * resampling threads (0: every usable core). */
int pf_export_case(const pf_ctx *ctx, const char *id, const char *prediction, const char *out,
                   const char *probabilities, int force, int threads, pf_error *err);

/* The cases a folder command works on: the fold's validation cases, or all (cases=all). */
int pf_infer_n_cases(const pf_ctx *ctx, int all);
const char *pf_infer_case(const pf_ctx *ctx, int all, int i);

/* Per case of a folder command: its id and what went wrong (NULL: done). */
typedef void (*pf_case_report_fn)(void *arg, const char *id, const char *problem);

/* `patchfs export DATASET PRED_DIR OUT_DIR`: every case of the set (all: cases=all) from
 * PRED_DIR/ID.npy to OUT_DIR/ID<file ending>; prob_dir (NULL: none) gets ID.npz. A case
 * that is missing or fails is reported and the rest still exported. *failed counts them.
 * -1 only when nothing can be done (the output folder is not writable). */
int pf_export_folder(const pf_ctx *ctx, const char *pred_dir, const char *out_dir,
                     const char *prob_dir, int all, int force, int threads,
                     pf_case_report_fn report, void *arg, int *exported, int *failed,
                     pf_error *err);

/* `patchfs evaluate DATASET PRED_DIR [OUT.json]`: PRED_DIR/ID<file ending> of every case of
 * the set (o->cases_all; o->fold) against the dataset's label files: per case and per label
 * (dataset.json's foreground labels) or region (a region dataset's foreground regions, keyed
 * "(1, 2, 3)" as nnU-Net), the ignore label's voxels excluded: TP, FP, FN, TN,
 * n_ref, n_pred, Dice, IoU, their means and the foreground mean, written as nnU-Net writes
 * summary.json (out NULL: PRED_DIR/summary.json; o->force replaces it). Missing predictions
 * are reported and left out; *failed counts them and cases that could not be read. */
int pf_evaluate(const char *dataset_dir, const pf_options *o, const char *pred_dir,
                const char *out, pf_case_report_fn report, void *arg, int *evaluated,
                int *failed, char **summary_path, pf_error *err);

#endif
