/* seg_target.h - a sample's label map made the training target: regions, the value outside
 * the case (see seg_target.c). */
#ifndef PATCHFS_SEG_TARGET_H
#define PATCHFS_SEG_TARGET_H

#include <stddef.h>
#include <stdint.h>

/* A label map of n voxels (buf's first n entries) made the training target in place. masks
 * (pf_dataset_region_masks) given: buf becomes channels x n, channel r 1 where the value's
 * mask has bit r, else 0; NULL: the label map stays. Either way -1 (outside the case) becomes
 * `outside` in every channel. */
void pf_seg_target(int16_t *buf, size_t n, const uint64_t *masks, int channels, int16_t outside);

#endif
