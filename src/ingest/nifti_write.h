/* nifti_write.h - a label map written as NIfTI in the geometry of a source image: the
 * prediction's way back to where the case came from.
 *
 * The header is the source's (libnifti's reading of it): the same NIfTI version, dimensions
 * and pixdim, qform and sform with their codes, xyzt units, so world coordinates match voxel
 * for voxel (what nnU-Net's SimpleITK writer keeps: spacing, origin, direction). Only what
 * describes the values changes: datatype uint8 or uint16, no scaling (slope 1, intercept 0),
 * no intent, no calibration range, no extensions, and a 4D Decathlon image's time axis goes
 * (labels are 3D). Written atomically (atomic_file.h), gzipped when the name ends in .gz by
 * gzip_runs.h's writer (runs and per-block Huffman codes: faster than zlib's level 1, which
 * is nibabel's default, and smaller on label maps; any gzip reader reads it). */
#ifndef PATCHFS_NIFTI_WRITE_H
#define PATCHFS_NIFTI_WRITE_H

#include <stdint.h>

#include "error.h"

/* data: (Z, Y, X) C order (x fastest, NIfTI's order), uint8 (bytes 1) or uint16 (bytes 2);
 * shape must equal the source image's first three dimensions. */
int pf_nifti_write_labels_like(const char *like, const void *data, int bytes,
                               const int64_t shape[3], const char *path, int force,
                               pf_error *err);

#endif
