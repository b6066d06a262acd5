/* to_labels.c - per-channel outputs to labels (see to_labels.h). */
#include "to_labels.h"

#include <math.h>
#include <string.h>

#include "vecmath.h"

void pf_argmax_step(float *best, uint16_t *arg, const float *chan, size_t n, int k)
{
    size_t i = 0;
    if (k == 0) {
        if (best != chan) /* the first channel is usually resampled into best itself */
            memcpy(best, chan, n * sizeof *best);
        memset(arg, 0, n * sizeof *arg);
        return;
    }
    /* branch-free, four voxels at a time: where the channels are close (boundaries, noisy
     * logits) winners change too often for a branch to predict; the winners' indices are
     * selected in 16-bit lanes from the comparison's mask */
    {
        typedef int16_t v4s __attribute__((vector_size(8)));
        const v4s kk = (v4s){0} + (int16_t)k;
        for (; i + PF_VL <= n; i += PF_VL) {
            const pf_vf v = pf_vf_load(chan + i), b = pf_vf_load(best + i);
            const pf_vi gt = v > b; /* strict: the first maximum wins, as numpy */
            const v4s m = __builtin_convertvector(gt, v4s);
            v4s a;
            pf_vf_store(best + i, pf_vf_select(gt, v, b));
            memcpy(&a, arg + i, sizeof a);
            a = (a & ~m) | (kk & m);
            memcpy(arg + i, &a, sizeof a);
        }
    }
    for (; i < n; i++)
        if (chan[i] > best[i]) {
            best[i] = chan[i];
            arg[i] = (uint16_t)k;
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
