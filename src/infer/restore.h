/* restore.h - a prediction on a case's served grid taken back to the case's source grid:
 * nnU-Net's convert_predicted_logits_to_segmentation_with_correct_shape.
 *
 *   1. each channel resampled from the served grid to the cropped source grid (the plan's
 *      resampling_fn_probabilities: order 1, nearest along a separate z axis, the "from"
 *      spacing the served grid's), with the core's resampler (src/ingest/resample.c);
 *   2. channels to labels (to_labels.h): argmax, or regions by sigmoid in their class order;
 *   3. the labels put into zeros at the crop box (bbox_used_for_cropping);
 *   4. the transpose undone (transpose_backward): the result is in the source array's order.
 *
 * A label map prediction (Z, Y, X) is resampled as nnU-Net resamples segmentations
 * (resampling_fn_seg: each label's indicator linearly, >= 0.5), then 3 and 4.
 *
 * Logits without probabilities take the streaming path (restore_stream.h): the source-grid
 * output, a slab of planes' running maximum and winners and a few planes of scratch; the same
 * values and labels. Otherwise, memory: the source-grid output, plus on the cropped grid the
 * channel being resampled, the running maximum and the winning channel (1-2 bytes a voxel),
 * plus the resampler's scratch: never K channels at once. With probabilities the softmax
 * needs every channel at a voxel, so the channels are resampled twice (once for the maximum
 * and the sum of exponentials, once to write each channel's probabilities) rather than
 * held. */
#ifndef PATCHFS_RESTORE_H
#define PATCHFS_RESTORE_H

#include <stdint.h>

#include "npz_stream.h"
#include "prediction.h"
#include "patchfs/context.h"

typedef struct pf_restore_spec {
    const pf_case_geometry *g;
    const char *case_id;
    int n_channels;               /* labels (dataset.json, ignore excluded) or regions */
    const int *channel_label;     /* labels: the label value of channel k */
    const uint16_t *regions_class_order; /* regions: the value written for region k; NULL:
                                          * channels are labels */
    int n_labels;                 /* a label map: the values it may hold, dataset.json's */
    const int *labels;            /* without the ignore label (NULL: channel_label's) */
    int ignore_label;             /* named when a label map holds it (-1 or 0: none) */
    int threads;                  /* resampling on up to this many pool threads (0: all) */
    pf_npz_stream *probabilities; /* begun by the caller, or NULL */
} pf_restore_spec;

/* The source array's shape (Z, Y, X as stored: shape_before_crop with the transpose undone). */
void pf_restore_source_shape(const pf_case_geometry *g, int64_t out[3]);

/* Checks p against the case (shape, channel count; messages give both shapes). */
int pf_restore_check(const pf_restore_spec *s, const pf_prediction *p, pf_error *err);

/* Fills out (source array shape, out_bytes 1 or 2 per voxel, zeroed by the caller) from p;
 * writes the probabilities' data into s->probabilities when given (not committed). */
int pf_restore(const pf_restore_spec *s, const pf_prediction *p, void *out, int out_bytes,
               pf_error *err);

#endif
