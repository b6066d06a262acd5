/* npz.c - batch.npz: stored zip of a step's .npy files (see npz.h); the archive's layout and
 * records are zip.h's, the members' CRC-32s are computed here on the worker pool. */
#include "npz.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "crc32.h"
#include "zip.h"
#include "workers.h"

/* the archive's members for zip.h: names and lengths (CRCs filled in when writing) */
static void as_zip(const pf_npz_member *m, int n, pf_zip_member *z)
{
    for (int i = 0; i < n; i++)
        z[i] = (pf_zip_member){.name = m[i].name, .len = m[i].len};
}

uint64_t pf_npz_size(const pf_npz_member *m, int n)
{
    pf_zip_member z[PF_NPZ_MAX_MEMBERS];
    pf_zip_layout l;
    if (n > PF_NPZ_MAX_MEMBERS)
        return 0;
    as_zip(m, n, z);
    pf_zip_plan(z, n, 0, &l);
    return l.size;
}

/* ---- CRC-32 of every member, in chunks on the worker pool ---- */

#define CRC_CHUNK ((uint64_t)4 << 20)

typedef struct crc_job {
    const pf_npz_member *m;
    int n;
    int first[PF_NPZ_MAX_MEMBERS + 1]; /* member i's chunks: [first[i], first[i + 1]) */
    uLong *crc;                        /* per chunk */
} crc_job;

static int crc_chunk(void *arg, int u, pf_error *err)
{
    crc_job *j = arg;
    int i = 0;
    uint64_t off, len;
    (void)err;
    while (u >= j->first[i + 1])
        i++;
    off = (uint64_t)(u - j->first[i]) * CRC_CHUNK;
    len = j->m[i].len - off < CRC_CHUNK ? j->m[i].len - off : CRC_CHUNK;
    j->crc[u] = pf_crc32(0, j->m[i].data + off, (size_t)len);
    return 0;
}

static int member_crcs(const pf_npz_member *m, int n, int threads, uint32_t *out, pf_error *err)
{
    crc_job j = {.m = m, .n = n};
    int chunks = 0;
    for (int i = 0; i < n; i++) {
        j.first[i] = chunks;
        chunks += m[i].len ? (int)((m[i].len + CRC_CHUNK - 1) / CRC_CHUNK) : 0;
    }
    j.first[n] = chunks;
    j.crc = calloc((size_t)chunks + 1, sizeof *j.crc);
    if (!j.crc)
        return pf_fail(err, ENOMEM, "out of memory");
    if (pf_parallel_for(0, chunks, threads, crc_chunk, &j, err) != 0) {
        free(j.crc);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        uLong c = crc32_z(0L, Z_NULL, 0);
        for (int u = j.first[i]; u < j.first[i + 1]; u++) {
            const uint64_t off = (uint64_t)(u - j.first[i]) * CRC_CHUNK;
            const uint64_t len = m[i].len - off < CRC_CHUNK ? m[i].len - off : CRC_CHUNK;
            c = crc32_combine64(c, j.crc[u], (z_off64_t)len);
        }
        out[i] = (uint32_t)c;
    }
    free(j.crc);
    return 0;
}

int pf_npz_write(char *out, const pf_npz_member *m, int n, int threads, pf_error *err)
{
    uint32_t crc[PF_NPZ_MAX_MEMBERS];
    pf_zip_member z[PF_NPZ_MAX_MEMBERS];
    pf_zip_layout l;
    if (n > PF_NPZ_MAX_MEMBERS)
        return pf_fail(err, EINVAL, "batch.npz: %d members, at most %d", n, PF_NPZ_MAX_MEMBERS);
    if (member_crcs(m, n, threads, crc, err) != 0)
        return -1;
    as_zip(m, n, z);
    pf_zip_plan(z, n, 0, &l);
    for (int i = 0; i < n; i++) {
        z[i].crc = crc[i];
        pf_zip_put_local(out + z[i].offset, &z[i], l.zip64);
        memcpy(out + z[i].offset + pf_zip_local_len(&z[i], l.zip64), m[i].data, m[i].len);
    }
    pf_zip_put_directory(out + l.directory, z, n, &l);
    return 0;
}
