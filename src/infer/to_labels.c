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
    /* four voxels at a time: a later channel rarely wins (most voxels are background), so
     * the groups where none does cost one comparison; the rest go voxel by voxel */
    for (; i + PF_VL <= n; i += PF_VL) {
        const pf_vi gt = pf_vf_load(chan + i) > pf_vf_load(best + i);
        if (!(gt[0] | gt[1] | gt[2] | gt[3]))
            continue;
        for (size_t j = i; j < i + PF_VL; j++)
            if (chan[j] > best[j]) { /* strict: the first maximum wins, as numpy */
                best[j] = chan[j];
                arg[j] = (uint16_t)k;
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
