/* npz.c - batch.npz: stored zip of a step's .npy files (see npz.h). Layout (APPNOTE 6.3):
 * per member a local header (30 bytes + name [+ 20-byte ZIP64 extra]) and the bytes; then per
 * member a central header (46 + name [+ 28-byte ZIP64 extra]); [ZIP64 end record (56) and
 * locator (20)]; the end of central directory (22). */
#include "npz.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "crc32.h"
#include "workers.h"

#define LOCAL_FIXED 30
#define CENTRAL_FIXED 46
#define END_FIXED 22
#define Z64_LOCAL_EXTRA 20   /* id, size, uncompressed, compressed */
#define Z64_CENTRAL_EXTRA 28 /* id, size, uncompressed, compressed, local header offset */
#define Z64_END 56
#define Z64_LOCATOR 20
#define DOS_DATE 0x0021      /* 1980-01-01 */
#define U32_LIMIT 0xffffffffULL

static uint64_t plain_size(const pf_npz_member *m, int n, int z64)
{
    uint64_t s = END_FIXED + (z64 ? Z64_END + Z64_LOCATOR : 0);
    for (int i = 0; i < n; i++) {
        const uint64_t name = strlen(m[i].name);
        s += LOCAL_FIXED + name + (z64 ? Z64_LOCAL_EXTRA : 0) + m[i].len;
        s += CENTRAL_FIXED + name + (z64 ? Z64_CENTRAL_EXTRA : 0);
    }
    return s;
}

/* ZIP64 when any size or offset of the classic layout would not fit in 32 bits (the whole
 * archive below 4 GiB means every member, offset and the directory does). */
static int needs_zip64(const pf_npz_member *m, int n)
{
    return plain_size(m, n, 0) >= U32_LIMIT || n >= 0xffff;
}

uint64_t pf_npz_size(const pf_npz_member *m, int n)
{
    return plain_size(m, n, needs_zip64(m, n));
}

static char *put16(char *p, unsigned v)
{
    p[0] = (char)(v & 0xff);
    p[1] = (char)((v >> 8) & 0xff);
    return p + 2;
}

static char *put32(char *p, uint64_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (char)((v >> (8 * i)) & 0xff);
    return p + 4;
}

static char *put64(char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (char)((v >> (8 * i)) & 0xff);
    return p + 8;
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

/* the fields a local and a central header share, from "version needed" to the name length */
static char *common(char *p, int z64, uint32_t crc, uint64_t len, size_t name)
{
    p = put16(p, z64 ? 45 : 20); /* version needed: 4.5 for ZIP64, else 2.0 */
    p = put16(p, 0);             /* flags */
    p = put16(p, 0);             /* stored */
    p = put16(p, 0);             /* time 00:00:00 */
    p = put16(p, DOS_DATE);
    p = put32(p, crc);
    p = put32(p, z64 ? U32_LIMIT : len); /* compressed */
    p = put32(p, z64 ? U32_LIMIT : len); /* uncompressed */
    return put16(p, (unsigned)name);
}

/* the member's name, then in ZIP64 the extended information extra field: both sizes and, in
 * the central directory (OFFSET given), the local header's offset */
static char *name_and_zip64(char *p, int z64, const pf_npz_member *m, size_t name,
                            const uint64_t *offset)
{
    memcpy(p, m->name, name);
    p += name;
    if (!z64)
        return p;
    p = put16(p, 0x0001);
    p = put16(p, offset ? 24 : 16);
    p = put64(p, m->len);
    p = put64(p, m->len);
    return offset ? put64(p, *offset) : p;
}

int pf_npz_write(char *out, const pf_npz_member *m, int n, int threads, pf_error *err)
{
    const int z64 = needs_zip64(m, n);
    uint32_t crc[PF_NPZ_MAX_MEMBERS];
    uint64_t at[PF_NPZ_MAX_MEMBERS], cd, cd_len;
    char *p = out;
    if (n > PF_NPZ_MAX_MEMBERS)
        return pf_fail(err, EINVAL, "batch.npz: %d members, at most %d", n, PF_NPZ_MAX_MEMBERS);
    if (member_crcs(m, n, threads, crc, err) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        const size_t name = strlen(m[i].name);
        at[i] = (uint64_t)(p - out);
        p = put32(p, 0x04034b50);
        p = common(p, z64, crc[i], m[i].len, name);
        p = put16(p, z64 ? Z64_LOCAL_EXTRA : 0);
        p = name_and_zip64(p, z64, &m[i], name, NULL);
        memcpy(p, m[i].data, m[i].len);
        p += m[i].len;
    }
    cd = (uint64_t)(p - out);
    for (int i = 0; i < n; i++) {
        const size_t name = strlen(m[i].name);
        p = put32(p, 0x02014b50);
        p = put16(p, z64 ? 45 : 20); /* made by: MS-DOS attributes, version 2.0 / 4.5 */
        p = common(p, z64, crc[i], m[i].len, name);
        p = put16(p, z64 ? Z64_CENTRAL_EXTRA : 0);
        p = put16(p, 0); /* comment */
        p = put16(p, 0); /* disk */
        p = put16(p, 0); /* internal attributes */
        p = put32(p, 0); /* external attributes */
        p = put32(p, z64 ? U32_LIMIT : at[i]);
        p = name_and_zip64(p, z64, &m[i], name, &at[i]);
    }
    cd_len = (uint64_t)(p - out) - cd;
    if (z64) {
        const uint64_t end64 = (uint64_t)(p - out);
        p = put32(p, 0x06064b50);
        p = put64(p, Z64_END - 12); /* size of the rest of this record */
        p = put16(p, 45);
        p = put16(p, 45);
        p = put32(p, 0);
        p = put32(p, 0);
        p = put64(p, (uint64_t)n);
        p = put64(p, (uint64_t)n);
        p = put64(p, cd_len);
        p = put64(p, cd);
        p = put32(p, 0x07064b50);
        p = put32(p, 0);
        p = put64(p, end64);
        p = put32(p, 1);
    }
    p = put32(p, 0x06054b50);
    p = put16(p, 0);
    p = put16(p, 0);
    p = put16(p, z64 ? 0xffff : (unsigned)n);
    p = put16(p, z64 ? 0xffff : (unsigned)n);
    p = put32(p, z64 ? U32_LIMIT : cd_len);
    p = put32(p, z64 ? U32_LIMIT : cd);
    put16(p, 0);
    return 0;
}
