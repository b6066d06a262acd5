/* to_labels.h - from per-channel network outputs to a label map, one channel at a time, on
 * the grid they were resampled to (nnU-Net's LabelManager.convert_logits_to_segmentation).
 *
 * Labels: the argmax over the channels, the first channel winning ties (numpy's argmax);
 * logits and probabilities give the same labels (softmax is monotonic), so no softmax is
 * computed for them. Channel k is the k-th label dataset.json names (ignore label excluded).
 * The running maximum keeps one float per voxel: K channels are never held at once.
 *
 * Regions (region-based training: dataset.json labels given as lists): channel k is
 * foreground region k in dataset.json order, sigmoid(x) > 0.5 writes regions_class_order[k],
 * later regions overwriting earlier ones (export_case.c chooses this for a region dataset).
 */
#ifndef PATCHFS_TO_LABELS_H
#define PATCHFS_TO_LABELS_H

#include <stddef.h>
#include <stdint.h>

/* Channel k of an argmax: k == 0 initialises (best = chan, arg = 0), later channels replace
 * where strictly greater. best may be chan itself for k == 0 (the channel resampled in place). */
void pf_argmax_step(float *best, uint16_t *arg, const float *chan, size_t n, int k);

/* Online softmax statistics for --probabilities: after every channel, max[i] is the largest
 * value so far and sum[i] = sum_k exp(x_k - max[i]). k == 0 initialises. */
void pf_softmax_step(float *max, float *sum, const float *chan, size_t n, int k);
/* Both at once (max doubles as argmax's best): what --probabilities runs on pass 1. */
void pf_argmax_softmax_step(float *max, float *sum, uint16_t *arg, const float *chan,
                            size_t n, int k);
/* Probability of one channel: exp(x - max) / sum, into out (may be chan). */
void pf_softmax_apply(float *out, const float *chan, const float *max, const float *sum,
                      size_t n);

/* Region k: where sigmoid(chan) > 0.5, seg = class_value (float32 sigmoid, as torch). Call
 * for k in the order of regions_class_order, seg zeroed first. */
void pf_regions_step(uint16_t *seg, const float *chan, size_t n, uint16_t class_value);
/* Sigmoid of one channel for --probabilities of a region dataset, into out (may be chan). */
void pf_sigmoid_apply(float *out, const float *chan, size_t n);

#endif
