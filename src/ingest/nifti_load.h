/* nifti_load.h - reading NIfTI-1/2 volumes (.nii, .nii.gz) through libnifti into the two
 * array types patchfs works with: float32 images (scl_slope/scl_inter applied) and int16
 * label maps (integral values checked); and, for evaluate, label maps as stored (uint8) in
 * buffers kept from file to file.
 *
 * Headers are parsed by libnifti; a .nii.gz's data is decoded whole by libdeflate where it
 * can be (gz_whole.h), else streamed by zlib. Arrays keep NIfTI storage order (x fastest),
 * i.e. C-order (T, Z, Y, X): no reorientation. Headers are validated before any voxel memory
 * is allocated, so a header claiming an absurd size is rejected instead of exhausting memory. */
#ifndef PATCHFS_NIFTI_LOAD_H
#define PATCHFS_NIFTI_LOAD_H

#include <stdint.h>

#include "error.h"

/* Largest volume accepted, in voxels per 3D frame and bytes overall; beyond this a header is
 * taken to be corrupt rather than a real scan. */
#define PF_NIFTI_MAX_DIM 65536
#define PF_NIFTI_MAX_BYTES ((int64_t)32 << 30)

typedef struct pf_nifti_info {
    int64_t nx, ny, nz, nt; /* nt = number of 3D frames (channels in the Decathlon layout) */
    double spacing[3];      /* x, y, z (|pixdim 1..3|) */
    double affine[16];      /* voxel (i,j,k,1) -> world, row-major; sform, else qform, else pixdim */
    int datatype;           /* NIfTI DT_* code */
    int nifti_version;      /* 1 or 2 */
} pf_nifti_info;

/* Reads the header only and validates it (dimensions, datatype, size limits). */
int pf_nifti_read_info(const char *path, pf_nifti_info *info, pf_error *err);

/* Reads a whole image as float32, scl_slope/scl_inter applied. *data has nt*nz*ny*nx floats,
 * malloc'd. NaN or infinite values are an error naming the file. */
int pf_nifti_load_float(const char *path, pf_nifti_info *info, float **data, pf_error *err);

/* Reads a label map as int16. Values must be integral and in [0, 32767] (float-stored 0.0/1.0
 * is accepted). Only 3D (nt == 1). */
int pf_nifti_load_labels(const char *path, pf_nifti_info *info, int16_t **data, pf_error *err);

/* A label map read for counting, with buffers kept from one read to the next (one struct per
 * thread: reading many files allocates, and faults pages in, once). Unscaled uint8 voxels are
 * used as stored, in the decoded file (no copy, no check: every byte is a label); any other
 * type is converted to int16 and checked as pf_nifti_load_labels does. */
typedef struct pf_label_volume {
    pf_nifti_info info;
    const uint8_t *u8;   /* n voxels: one of u8 and i16 is set after a read */
    const int16_t *i16;
    size_t n;
    void *file;          /* the decoded file (header and voxels) */
    size_t file_cap;
    int16_t *conv;       /* the int16 labels of a file of another type */
    size_t conv_cap;
} pf_label_volume;

/* Reads path into v (zero it before the first read). 0, or -1 with an error naming the file. */
int pf_nifti_read_label_volume(const char *path, pf_label_volume *v, pf_error *err);
void pf_label_volume_free(pf_label_volume *v);

const char *pf_nifti_datatype_name(int datatype);

#endif
