/* prediction.h - a network's prediction of one case, as the client wrote it: a .npy on the
 * case's served (preprocessed) grid, either K channels of logits or probabilities
 * (K, Z, Y, X) float32/float16, or a label map (Z, Y, X) of integers ((1, Z, Y, X), the
 * shape of cases/ID/seg.npy, is taken as (Z, Y, X)).
 *
 * The file is memory-mapped, not read: the export takes one channel at a time and hands its
 * pages back afterwards (pf_prediction_release), so a K-channel prediction never sits in
 * memory whole. Headers are checked before anything is mapped: a bad .npy is refused with a
 * message naming the file and what is wrong. */
#ifndef PATCHFS_PREDICTION_H
#define PATCHFS_PREDICTION_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef enum { PF_PRED_CHANNELS, PF_PRED_LABELS } pf_pred_kind;

typedef struct pf_prediction {
    char path[4096];
    pf_pred_kind kind;
    char descr[8];              /* numpy's dtype string: "<f4", "<f2", "|u1", "<i2", ... */
    int itemsize, is_float, is_signed;
    int ndim;
    int64_t shape[4];           /* (K, Z, Y, X) or (Z, Y, X) */
    int64_t channels;           /* K (1 for a label map) */
    size_t voxels;              /* per channel */
    const unsigned char *data;  /* the array in the mapping */
    void *map;
    size_t map_len;
} pf_prediction;

/* Opens and maps path and checks its header: a .npy (version 1-3), little-endian, C order,
 * float32/float16 with 4 dimensions or an integer type with 3, complete. */
int pf_prediction_open(pf_prediction *p, const char *path, pf_error *err);
void pf_prediction_close(pf_prediction *p);

/* Shape as text "(4, 20, 30, 40)" for messages. */
void pf_shape_text(char *buf, size_t cap, const int64_t *shape, int ndim);

/* Channel c as float32: a pointer into the mapping (float32) or into scratch (float16
 * widened; scratch holds `voxels` floats). Fails naming the channel and voxel when a value
 * is NaN or infinite. */
int pf_prediction_channel(const pf_prediction *p, int64_t c, float *scratch, const float **out,
                          pf_error *err);

/* The label map as int16 into out (voxels values); values must be in [-1, 32767] (-1: outside
 * the nonzero region, as cases/ID/seg.npy). */
int pf_prediction_labels(const pf_prediction *p, int16_t *out, pf_error *err);

/* Hands channel c's pages back to the kernel (they stay in the page cache). */
void pf_prediction_release(const pf_prediction *p, int64_t c);

/* The same for voxels [from, to) of channel c (whole pages inside the range only). */
void pf_prediction_release_range(const pf_prediction *p, int64_t c, size_t from, size_t to);

/* Channel c's value range per plane of its first axis (lo[z], hi[z] for z < shape[-3]) read
 * straight from the mapping, float16 widened; fails as pf_prediction_channel does, naming
 * the first NaN or infinite voxel. */
int pf_prediction_plane_ranges(const pf_prediction *p, int64_t c, double *lo, double *hi,
                               pf_error *err);

/* Row y of plane z of channel c (shape[-1] values) as float32: a pointer into the mapping, or
 * into tmp (float16 widened, or float32 at an unaligned address). */
const float *pf_prediction_row(const pf_prediction *p, int64_t c, int64_t z, int64_t y,
                               float *tmp);

/* float16 <-> float32: widening is exact; pf_half_round rounds a float32 to the nearest
 * float16 (ties to even) and returns it widened, as numpy's astype(float16) does. */
float pf_half_to_float(uint16_t h);
float pf_half_round(float f);

#endif
