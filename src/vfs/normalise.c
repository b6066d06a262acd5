/* normalise.c - the channels' normalisation as the context reports it (see normalise.h). */
#include "normalise.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int pf_normalisation_set(pf_normalisation *nm, const pf_channel_norm *channel, int n_channels,
                         int n_cases, double median_relative_size, pf_error *err)
{
    memset(nm, 0, sizeof *nm);
    nm->channel = pf_calloc((size_t)n_channels, sizeof *nm->channel, err);
    nm->cases = pf_calloc((size_t)n_cases * (size_t)n_channels, sizeof *nm->cases, err);
    if (!nm->channel || !nm->cases) {
        pf_normalisation_free(nm);
        return -1;
    }
    memcpy(nm->channel, channel, (size_t)n_channels * sizeof *channel);
    for (size_t i = 0; i < (size_t)n_cases * (size_t)n_channels; i++)
        nm->cases[i] = (pf_norm){.lo = -INFINITY, .hi = INFINITY, .shift = 0.0f, .scale = 1.0f};
    nm->median_relative_size = median_relative_size;
    return 0;
}

void pf_normalisation_free(pf_normalisation *nm)
{
    free(nm->channel);
    free(nm->cases);
    memset(nm, 0, sizeof *nm);
}
