/* export_case.c - `patchfs export`: predictions back to their cases' source geometry and
 * written as NIfTI (see infer.h, restore.h). This file decides what a case's channels are
 * (labels or regions) and where files go; restore.c does the arithmetic, nifti_write.c the
 * file. */
#include "patchfs/infer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "dataset.h"
#include "nifti_write.h"
#include "npz_stream.h"
#include "prediction.h"
#include "restore.h"

/* dataset.json's labels in ascending order without the ignore label (nnU-Net's
 * LabelManager.all_labels): a label dataset's channels, and the values a label map may hold.
 * The ignore label is never predicted: it has no channel, and no output holds it. */
static int dataset_labels(const pf_ctx *ctx, int *labels, int *max_label, int *ignore)
{
    const int *values;
    int n, k = 0;
    pf_ctx_labels(ctx, &values, &n, ignore);
    *max_label = 0;
    for (int i = 0; i < n; i++)
        if (values[i] != *ignore) {
            labels[k++] = values[i];
            *max_label = values[i] > *max_label ? values[i] : *max_label;
        }
    return k;
}

int pf_export_case(const pf_ctx *ctx, const char *id, const char *prediction, const char *out,
                   const char *probabilities, int force, int threads, pf_error *err)
{
    pf_case_geometry g;
    pf_prediction p;
    pf_npz_stream npz;
    pf_restore_spec s;
    int labels[32769], max_label, n_labels, ignore, n_regions, n_channels, bytes, rc = -1;
    const int *class_order;
    uint16_t order[PF_MAX_SEG_CHANNELS];
    int64_t src_shape[3];
    void *vol = NULL;

    /* refuse what cannot be written before any work */
    if (pf_output_check(out, force, err) ||
        (probabilities && pf_output_check(probabilities, force, err)))
        return -1;
    if (probabilities && !strcmp(probabilities, out))
        return pf_fail(err, EINVAL, "%s: the probabilities and the labels need two files", out);
    if (pf_ctx_case_geometry(ctx, id, &g, err))
        return -1;
    n_labels = dataset_labels(ctx, labels, &max_label, &ignore);
    /* nnU-Net: uint8 below 255 foreground labels (the regions' labels for a region dataset),
     * else uint16 */
    bytes = n_labels - 1 < 255 && max_label <= 255 ? 1 : 2;
    /* a region dataset (nnU-Net's has_regions): one channel per foreground region, sigmoid
     * > 0.5 writing regions_class_order's values in that order */
    n_regions = pf_ctx_regions(ctx, &class_order);
    if (n_regions > PF_MAX_SEG_CHANNELS) /* the dataset layer refuses more */
        return pf_fail(err, EINVAL, "dataset.json defines %d regions; export takes at most %d",
                       n_regions, PF_MAX_SEG_CHANNELS);
    for (int r = 0; r < n_regions; r++)
        order[r] = (uint16_t)class_order[r];
    n_channels = n_regions ? n_regions : n_labels;
    if (pf_prediction_open(&p, prediction, err))
        return -1;
    s = (pf_restore_spec){.g = &g, .case_id = id, .n_channels = n_channels,
                          .channel_label = labels, .n_labels = n_labels, .labels = labels,
                          .ignore_label = ignore, .threads = threads};
    if (n_regions)
        s.regions_class_order = order;
    if (pf_restore_check(&s, &p, err))
        goto out;
    if (probabilities && p.kind == PF_PRED_LABELS) {
        pf_fail(err, EINVAL, "%s: a label map has no probabilities to write", prediction);
        goto out;
    }
    pf_restore_source_shape(&g, src_shape);
    vol = calloc((size_t)(src_shape[0] * src_shape[1] * src_shape[2]), (size_t)bytes);
    if (!vol) {
        pf_fail(err, ENOMEM, "out of memory for case %s's source volume", id);
        goto out;
    }
    if (probabilities) {
        const int64_t shape[4] = {n_channels, src_shape[0], src_shape[1], src_shape[2]};
        if (pf_npz_stream_begin(&npz, probabilities, force, "probabilities", 4, shape, err))
            goto out;
        s.probabilities = &npz;
    }
    if (pf_restore(&s, &p, vol, bytes, err) ||
        pf_nifti_write_labels_like(g.image, vol, bytes, src_shape, out, force, err)) {
        if (probabilities)
            pf_npz_stream_abort(&npz);
        goto out;
    }
    if (probabilities && pf_npz_stream_commit(&npz, err)) {
        unlink(out); /* both or neither */
        goto out;
    }
    rc = 0;
out:
    free(vol);
    pf_prediction_close(&p);
    return rc;
}

int pf_infer_n_cases(const pf_ctx *ctx, int all)
{
    return all ? pf_ctx_n_cases(ctx) : pf_ctx_n_val(ctx);
}

const char *pf_infer_case(const pf_ctx *ctx, int all, int i)
{
    return all ? pf_ctx_case_id(ctx, i) : pf_ctx_val_id(ctx, i);
}

static int is_folder(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int pf_export_folder(const pf_ctx *ctx, const char *pred_dir, const char *out_dir,
                     const char *prob_dir, int all, int force, int threads,
                     pf_case_report_fn report, void *arg, int *exported, int *failed,
                     pf_error *err)
{
    const int n = pf_infer_n_cases(ctx, all);
    *exported = *failed = 0;
    if (!is_folder(pred_dir))
        return pf_fail(err, ENOTDIR, "%s: not a folder of predictions", pred_dir);
    for (int k = 0; k < 2; k++) {
        const char *dir = k ? prob_dir : out_dir;
        if (!dir)
            continue;
        if (!is_folder(dir))
            return pf_fail(err, ENOTDIR, "%s: output folder does not exist", dir);
        if (access(dir, W_OK | X_OK) != 0)
            return pf_fail(err, errno, "%s: output folder is not writable: %s", dir,
                           strerror(errno));
    }
    for (int i = 0; i < n; i++) {
        const char *id = pf_infer_case(ctx, all, i);
        char pred[4096], out[4096], prob[4096];
        pf_error e = {0};
        snprintf(pred, sizeof pred, "%s/%s.npy", pred_dir, id);
        snprintf(out, sizeof out, "%s/%s%s", out_dir, id, pf_ctx_file_ending(ctx));
        if (prob_dir)
            snprintf(prob, sizeof prob, "%s/%s.npz", prob_dir, id);
        if (access(pred, F_OK) != 0) {
            pf_fail(&e, ENOENT, "%s: missing prediction", pred);
        } else if (pf_export_case(ctx, id, pred, out, prob_dir ? prob : NULL, force, threads,
                                  &e) == 0) {
            (*exported)++;
            if (report)
                report(arg, id, NULL);
            continue;
        }
        (*failed)++;
        if (report)
            report(arg, id, e.msg);
    }
    return 0;
}
