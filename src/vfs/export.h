/* export.h - viewer-ready patches: a sample's image or label as a gzipped NIfTI-1 file whose
 * affine is the source case's affine shifted to the patch origin, so the patch overlays
 * exactly on the source case in ITK-SNAP, 3D Slicer or FSLeyes.
 *
 * The gzip stream uses stored (uncompressed) deflate blocks written here, so the file's
 * bytes are fixed by the data and its size is a formula of the patch size: `ls -l` needs no
 * generation and every machine writes the same bytes. */
#ifndef PATCHFS_EXPORT_H
#define PATCHFS_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct pf_nifti_patch {
    int channels;          /* 1 for labels */
    int is_label;          /* int16 labels (-1 = outside the case) vs float32 image */
    int64_t shape[3];      /* Z, Y, X */
    double spacing[3];     /* Z, Y, X */
    double affine[16];     /* source voxel (i=x, j=y, k=z) -> world, row-major */
    double origin[3];      /* source voxel (z, y, x) of patch voxel (0, 0, 0); may be < 0 */
    double grid[3][3];     /* source (z, y, x) offset of one patch step along (z, y, x):
                            * the identity for a plain crop, rotation * scale (with mirrored
                            * columns negated) for an augmented sample */
    const void *data;      /* (C, Z, Y, X) float32 or (Z, Y, X) int16, as in the .npy files */
} pf_nifti_patch;

uint64_t pf_nifti_patch_size(int channels, int is_label, const int64_t shape[3]);

int pf_nifti_patch_gz(const pf_nifti_patch *p, char **out, size_t *len, pf_error *err);

#endif
