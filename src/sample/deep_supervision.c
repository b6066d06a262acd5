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
    /* the x sources from a table (an integer division per voxel and axis cost more than the
     * copy itself: about a tenth of a plain step's CPU), z and y once per row; a row longer
     * than the table is done in pieces */
    enum { PIECE = 512 };
    const size_t P1 = (size_t)patch[1], P2 = (size_t)patch[2], O1 = (size_t)out_shape[1],
                 O2 = (size_t)out_shape[2];
    int32_t sx[PIECE];
    for (size_t x0 = 0; x0 < O2; x0 += PIECE) {
        const size_t nx = O2 - x0 < PIECE ? O2 - x0 : PIECE;
        for (size_t x = 0; x < nx; x++)
            sx[x] = (int32_t)pf_nearest_exact((int64_t)(x0 + x), patch[2], out_shape[2]);
        for (int z = 0; z < out_shape[0]; z++) {
            const size_t sz = (size_t)pf_nearest_exact(z, patch[0], out_shape[0]);
            for (size_t y = 0; y < O1; y++) {
                const size_t sy = (size_t)pf_nearest_exact((int64_t)y, patch[1], out_shape[1]);
                const int16_t *row = seg + (sz * P1 + sy) * P2;
                int16_t *o = out + ((size_t)z * O1 + y) * O2 + x0;
                for (size_t x = 0; x < nx; x++)
                    o[x] = row[sx[x]];
            }
        }
    }
}
