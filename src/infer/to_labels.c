/* to_labels.c - per-channel outputs to labels (see to_labels.h). */
#include "to_labels.h"

#include <math.h>

void pf_argmax_step(float *best, uint16_t *arg, const float *chan, size_t n, int k)
{
    if (k == 0) {
        for (size_t i = 0; i < n; i++) {
            best[i] = chan[i];
            arg[i] = 0;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const int gt = chan[i] > best[i];   /* strict: the first maximum wins, as numpy */
        best[i] = gt ? chan[i] : best[i];
        arg[i] = gt ? (uint16_t)k : arg[i];
    }
}

void pf_softmax_step(float *max, float *sum, const float *chan, size_t n, int k)
{
    if (k == 0) {
        for (size_t i = 0; i < n; i++) {
            max[i] = chan[i];
            sum[i] = 1.0f;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (chan[i] > max[i]) {
            sum[i] = sum[i] * expf(max[i] - chan[i]) + 1.0f;
            max[i] = chan[i];
        } else {
            sum[i] += expf(chan[i] - max[i]);
        }
    }
}

void pf_argmax_softmax_step(float *max, float *sum, uint16_t *arg, const float *chan,
                            size_t n, int k)
{
    if (k == 0) {
        pf_softmax_step(max, sum, chan, n, 0);
        for (size_t i = 0; i < n; i++)
            arg[i] = 0;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (chan[i] > max[i]) {
            sum[i] = sum[i] * expf(max[i] - chan[i]) + 1.0f;
            max[i] = chan[i];
            arg[i] = (uint16_t)k;
        } else {
            sum[i] += expf(chan[i] - max[i]);
        }
    }
}

void pf_softmax_apply(float *out, const float *chan, const float *max, const float *sum,
                      size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = expf(chan[i] - max[i]) / sum[i];
}

static float sigmoid(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

void pf_regions_step(uint16_t *seg, const float *chan, size_t n, uint16_t class_value)
{
    for (size_t i = 0; i < n; i++)
        if (sigmoid(chan[i]) > 0.5f)
            seg[i] = class_value;
}

void pf_sigmoid_apply(float *out, const float *chan, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = sigmoid(chan[i]);
}
