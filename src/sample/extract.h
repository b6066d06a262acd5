/* extract.h - cutting a box out of a mapped case into a batch buffer: the part of the box
 * inside the volume is copied (normalising image channels on the way), everything outside is
 * constant: image 0.0, segmentation -1. */
#ifndef PATCHFS_EXTRACT_H
#define PATCHFS_EXTRACT_H

#include <stdint.h>

#include "cache.h"

/* Per case and channel: out = (clamp(v, lo, hi) - shift) / scale in float32; with masked set,
 * voxels whose seg is < 0 keep their value (nnU-Net's use_mask_for_norm). */
typedef struct pf_norm {
    float lo, hi, shift, scale;
    int masked;
} pf_norm;

/* out: n_channels * P[0]*P[1]*P[2] floats. norms: one per channel. */
void pf_extract_image(const pf_case *c, const pf_norm *norms, const int64_t start[3],
                      const int patch[3], float *out);

/* out: P[0]*P[1]*P[2] int16. */
void pf_extract_seg(const pf_case *c, const int64_t start[3], const int patch[3],
                    int16_t *out);

/* The same crops written mirrored along the axes flip[d] != 0 names (flip NULL: none): the
 * bytes of the crop followed by nnU-Net's mirroring of those axes (pf_aug_mirror), each value
 * computed as unmirrored and only stored elsewhere. For augmented samples that take no
 * spatial transform and whose later transforms commute with mirroring
 * (pf_aug_mirror_in_crop), which then need no separate mirroring pass. */
void pf_extract_image_mirrored(const pf_case *c, const pf_norm *norms, const int64_t start[3],
                               const int patch[3], const int flip[3], float *out);
void pf_extract_seg_mirrored(const pf_case *c, const int64_t start[3], const int patch[3],
                             const int flip[3], int16_t *out);

#endif
