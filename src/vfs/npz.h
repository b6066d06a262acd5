/* npz.h - batch.npz: a step's arrays in one uncompressed zip (entries stored), as np.savez
 * would write them and np.load reads them by name.
 *
 * Stored entries make the archive's size a formula of its members' sizes and names (the file
 * table needs exact sizes before any pixel exists), and each member's bytes are exactly the
 * .npy file the step folder serves beside it. The one thing that needs the pixels is each
 * member's CRC-32, computed from the rendered arrays (crc32.h, on the worker pool, in chunks
 * combined with zlib's crc32_combine). The layout and records are zip.h's: fixed timestamps,
 * no comments, ZIP64 only for an archive of 4 GiB or more. */
#ifndef PATCHFS_NPZ_H
#define PATCHFS_NPZ_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define PF_NPZ_MAX_MEMBERS 24

typedef struct pf_npz_member {
    const char *name;  /* "data.npy" */
    const char *data;  /* its bytes (NULL when only sizing) */
    uint64_t len;
} pf_npz_member;

/* The archive's exact size for members of these names and lengths. */
uint64_t pf_npz_size(const pf_npz_member *m, int n);

/* Writes the archive into out (pf_npz_size bytes), member CRCs computed with up to `threads`
 * threads of the worker pool (0: one per core). */
int pf_npz_write(char *out, const pf_npz_member *m, int n, int threads, pf_error *err);

#endif
