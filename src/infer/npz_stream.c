/* npz_stream.c - a stored zip64 member holding one .npy, streamed (see npz_stream.h). */
#include "npz_stream.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "npy.h"

#define ZIP64_VERSION 45
#define DOS_DATE 0x0021 /* 1980-01-01: fixed, so the bytes depend on the array only */

static unsigned char *le16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    return p + 2;
}

static unsigned char *le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    return p + 4;
}

static unsigned char *le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    return p + 8;
}

/* The local file header (crc patched at commit); its length. */
static size_t local_header(const pf_npz_stream *w, unsigned char *b)
{
    const size_t nlen = strlen(w->name);
    unsigned char *p = b;
    p = le32(p, 0x04034b50u);
    p = le16(p, ZIP64_VERSION);
    p = le16(p, 0);            /* flags */
    p = le16(p, 0);            /* stored */
    p = le16(p, 0);            /* time */
    p = le16(p, DOS_DATE);
    p = le32(p, w->crc);
    p = le32(p, 0xffffffffu);  /* sizes in the zip64 extra field */
    p = le32(p, 0xffffffffu);
    p = le16(p, (unsigned)nlen);
    p = le16(p, 20);
    memcpy(p, w->name, nlen);
    p += nlen;
    p = le16(p, 0x0001);       /* zip64 extra: uncompressed, compressed */
    p = le16(p, 16);
    p = le64(p, w->member_len);
    p = le64(p, w->member_len);
    return (size_t)(p - b);
}

int pf_npz_stream_begin(pf_npz_stream *w, const char *path, int force, const char *array,
                 int ndim, const int64_t *shape, pf_error *err)
{
    unsigned char lh[128];
    char hdr[512];
    size_t hlen, llen;
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%s.npy", array);
    hlen = pf_npy_header(hdr, sizeof hdr, PF_DT_F4, ndim, shape);
    if (!hlen)
        return pf_fail(err, EINVAL, "%s: array header too long", path);
    w->member_len = pf_npy_file_size(PF_DT_F4, ndim, shape);
    if (pf_atomic_begin(&w->f, path, force, err))
        return -1;
    w->crc = (uint32_t)crc32(0L, Z_NULL, 0);
    llen = local_header(w, lh);
    if (pf_atomic_write(&w->f, lh, llen, err) || pf_npz_stream_write(w, hdr, hlen, err)) {
        pf_atomic_abort(&w->f);
        return -1;
    }
    return 0;
}

int pf_npz_stream_write(pf_npz_stream *w, const void *data, size_t len, pf_error *err)
{
    const unsigned char *p = data;
    size_t left = len;
    while (left) {
        const uInt n = left > (1u << 30) ? 1u << 30 : (uInt)left;
        w->crc = (uint32_t)crc32(w->crc, p, n);
        p += n;
        left -= n;
    }
    w->written += len;
    return pf_atomic_write(&w->f, data, len, err);
}

int pf_npz_stream_commit(pf_npz_stream *w, pf_error *err)
{
    unsigned char lh[128], cd[256], *p = cd;
    const size_t nlen = strlen(w->name);
    size_t llen;
    uint64_t cd_off, cd_len, eocd64_off;
    if (w->written != w->member_len) {
        pf_fail(err, EIO, "%s: %llu of %llu array bytes written", w->f.path,
                (unsigned long long)w->written, (unsigned long long)w->member_len);
        pf_atomic_abort(&w->f);
        return -1;
    }
    llen = local_header(w, lh);
    cd_off = llen + w->member_len;
    /* central directory */
    p = le32(p, 0x02014b50u);
    p = le16(p, ZIP64_VERSION | (3u << 8)); /* made by: unix */
    p = le16(p, ZIP64_VERSION);
    p = le16(p, 0);
    p = le16(p, 0);
    p = le16(p, 0);
    p = le16(p, DOS_DATE);
    p = le32(p, w->crc);
    p = le32(p, 0xffffffffu);
    p = le32(p, 0xffffffffu);
    p = le16(p, (unsigned)nlen);
    p = le16(p, 28);
    p = le16(p, 0);            /* comment */
    p = le16(p, 0);            /* disk */
    p = le16(p, 0);            /* internal attributes */
    p = le32(p, 0100644u << 16); /* external: a regular file, rw-r--r-- */
    p = le32(p, 0xffffffffu);  /* local header offset in the extra field */
    memcpy(p, w->name, nlen);
    p += nlen;
    p = le16(p, 0x0001);
    p = le16(p, 24);
    p = le64(p, w->member_len);
    p = le64(p, w->member_len);
    p = le64(p, 0);
    cd_len = (uint64_t)(p - cd);
    eocd64_off = cd_off + cd_len;
    /* zip64 end of central directory, its locator, the end of central directory */
    p = le32(p, 0x06064b50u);
    p = le64(p, 44);
    p = le16(p, ZIP64_VERSION | (3u << 8));
    p = le16(p, ZIP64_VERSION);
    p = le32(p, 0);
    p = le32(p, 0);
    p = le64(p, 1);
    p = le64(p, 1);
    p = le64(p, cd_len);
    p = le64(p, cd_off);
    p = le32(p, 0x07064b50u);
    p = le32(p, 0);
    p = le64(p, eocd64_off);
    p = le32(p, 1);
    p = le32(p, 0x06054b50u);
    p = le16(p, 0);
    p = le16(p, 0);
    p = le16(p, 1);
    p = le16(p, 1);
    p = le32(p, (uint32_t)cd_len);
    p = le32(p, 0xffffffffu);
    p = le16(p, 0);
    if (pf_atomic_write(&w->f, cd, (size_t)(p - cd), err)) {
        pf_atomic_abort(&w->f);
        return -1;
    }
    /* the crc is known now: into the local header */
    if (pwrite(w->f.fd, lh, llen, 0) != (ssize_t)llen) {
        pf_fail(err, errno, "%s: writing: %s", w->f.path, strerror(errno));
        pf_atomic_abort(&w->f);
        return -1;
    }
    return pf_atomic_commit(&w->f, err);
}

void pf_npz_stream_abort(pf_npz_stream *w)
{
    pf_atomic_abort(&w->f);
}
