/* npz_stream.h - one float32 array streamed into a .npz (a zip of ARRAY.npy), as
 * np.savez(path, ARRAY=a) would hold it: np.load(path)['probabilities'] reads it.
 *
 * The array is written as it is made, a piece at a time, so a (K, Z, Y, X) array of source
 * volumes never sits in memory. Members are stored (not deflated: float probabilities barely
 * compress and deflate would cost more than the export) and always carry zip64 sizes, as
 * numpy's savez does, so arrays past 4 GiB work. Written atomically (atomic_file.h). */
#ifndef PATCHFS_NPZ_STREAM_H
#define PATCHFS_NPZ_STREAM_H

#include <stdint.h>

#include "atomic_file.h"
#include "error.h"

typedef struct pf_npz_stream {
    pf_atomic_file f;
    uint32_t crc;
    uint64_t member_len;          /* .npy header + data */
    uint64_t written;             /* of the member */
    char name[64];                /* "probabilities.npy" */
} pf_npz_stream;

int pf_npz_stream_begin(pf_npz_stream *w, const char *path, int force, const char *array,
                 int ndim, const int64_t *shape, pf_error *err);
/* The next len bytes of the array's data (float32, C order). */
int pf_npz_stream_write(pf_npz_stream *w, const void *data, size_t len, pf_error *err);
/* Fails unless exactly the array's bytes were written. */
int pf_npz_stream_commit(pf_npz_stream *w, pf_error *err);
void pf_npz_stream_abort(pf_npz_stream *w);

#endif
