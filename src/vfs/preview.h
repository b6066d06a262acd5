/* preview.h - preview.png of a batch or a case: one tile per sample (rows) and channel
 * (columns) showing one axial slice, intensities windowed to the tile's 1st-99th percentile,
 * labels as a translucent fill with solid outlines, padding outside the case hatched.
 *
 * The PNG is written by libpng without compression and without filters, so its size is a
 * function of the tile count and size only: `ls -l` needs no rendering. */
#ifndef PATCHFS_PREVIEW_H
#define PATCHFS_PREVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* One axial slice per tile row. image: (rows, C, H, W) float32; seg: (rows, H, W) int16;
 * pad: (rows, H, W), nonzero where the pixel lies outside the case. */
typedef struct pf_preview_input {
    int rows, channels, height, width;
    const float *image;
    const int16_t *seg;
    const unsigned char *pad;
} pf_preview_input;

int pf_preview_png(const pf_preview_input *in, char **png, size_t *len, pf_error *err);

/* Size of the PNG pf_preview_png writes for these dimensions (no pixels needed). */
int pf_preview_png_size(int rows, int channels, int height, int width, uint64_t *size,
                        pf_error *err);

#endif
