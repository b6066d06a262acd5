/* deep_supervision.c - the deep-supervision targets of a step: a sample's seg downsampled by
 * nearest-exact to round(patch * scale) per axis (seg_dsK.npy). */
#include "augment.h"

#include <math.h>

#include "detmath.h"

void pf_ds_shape(const int patch[3], const double scale[3], int is_2d, int out_shape[3])
{
    /* Python's round(size * scale): half to even, as nnU-Net's DownsampleSegForDSTransform;
     * rint rounds half to even in the default rounding mode */
    for (int a = 0; a < 3; a++) {
        out_shape[a] = (int)rint(patch[a] * scale[a]);
        if (out_shape[a] < 1 || (a == 0 && is_2d))
            out_shape[a] = a == 0 && is_2d ? patch[0] : 1;
    }
}

void pf_ds_seg(const int16_t *seg, const int patch[3], const int out_shape[3], int16_t *out)
{
    for (int z = 0; z < out_shape[0]; z++)
        for (int y = 0; y < out_shape[1]; y++)
            for (int x = 0; x < out_shape[2]; x++) {
                int64_t sz = pf_nearest_exact(z, patch[0], out_shape[0]);
                int64_t sy = pf_nearest_exact(y, patch[1], out_shape[1]);
                int64_t sx = pf_nearest_exact(x, patch[2], out_shape[2]);
                out[((size_t)z * (size_t)out_shape[1] + (size_t)y) * (size_t)out_shape[2] + (size_t)x] =
                    seg[((size_t)sz * (size_t)patch[1] + (size_t)sy) * (size_t)patch[2] + (size_t)sx];
            }
}

