/* npz_stream.c - a stored zip64 member holding one .npy, streamed (see npz_stream.h); the
 * archive's layout and records are zip.h's, the CRC-32 crc32.h's, kept as the bytes go by. */
#include "npz_stream.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "crc32.h"
#include "npy.h"
#include "zip.h"

/* the archive's one member and its layout, always ZIP64 (as numpy's savez streams them) */
static void layout(const pf_npz_stream *w, pf_zip_member *m, pf_zip_layout *l)
{
    *m = (pf_zip_member){.name = w->name, .len = w->member_len, .crc = w->crc};
    pf_zip_plan(m, 1, 1, l);
}

int pf_npz_stream_begin(pf_npz_stream *w, const char *path, int force, const char *array,
                 int ndim, const int64_t *shape, pf_error *err)
{
    char lh[PF_ZIP_LOCAL_FIXED + sizeof w->name + PF_ZIP64_LOCAL_EXTRA];
    char hdr[512];
    pf_zip_member m;
    pf_zip_layout l;
    size_t hlen;
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%s.npy", array);
    hlen = pf_npy_header(hdr, sizeof hdr, PF_DT_F4, ndim, shape);
    if (!hlen)
        return pf_fail(err, EINVAL, "%s: array header too long", path);
    w->member_len = pf_npy_file_size(PF_DT_F4, ndim, shape);
    if (pf_atomic_begin(&w->f, path, force, err))
        return -1;
    /* the local header with crc 0 holds the member's place; commit writes it again */
    layout(w, &m, &l);
    pf_zip_put_local(lh, &m, l.zip64);
    if (pf_atomic_write(&w->f, lh, (size_t)pf_zip_local_len(&m, l.zip64), err) ||
        pf_npz_stream_write(w, hdr, hlen, err)) {
        pf_atomic_abort(&w->f);
        return -1;
    }
    return 0;
}

int pf_npz_stream_write(pf_npz_stream *w, const void *data, size_t len, pf_error *err)
{
    w->crc = pf_crc32(w->crc, data, len);
    w->written += len;
    return pf_atomic_write(&w->f, data, len, err);
}

int pf_npz_stream_commit(pf_npz_stream *w, pf_error *err)
{
    char lh[PF_ZIP_LOCAL_FIXED + sizeof w->name + PF_ZIP64_LOCAL_EXTRA];
    char tail[PF_ZIP_CENTRAL_FIXED + sizeof w->name + PF_ZIP64_CENTRAL_EXTRA + PF_ZIP64_END +
              PF_ZIP64_LOCATOR + PF_ZIP_END_FIXED];
    pf_zip_member m;
    pf_zip_layout l;
    size_t llen;
    if (w->written != w->member_len) {
        pf_fail(err, EIO, "%s: %llu of %llu array bytes written", w->f.path,
                (unsigned long long)w->written, (unsigned long long)w->member_len);
        pf_atomic_abort(&w->f);
        return -1;
    }
    layout(w, &m, &l);
    pf_zip_put_directory(tail, &m, 1, &l);
    if (pf_atomic_write(&w->f, tail, (size_t)(l.size - l.directory), err)) {
        pf_atomic_abort(&w->f);
        return -1;
    }
    /* the crc is known now: into the local header */
    pf_zip_put_local(lh, &m, l.zip64);
    llen = (size_t)pf_zip_local_len(&m, l.zip64);
    if (pwrite(w->f.fd, lh, llen, (off_t)m.offset) != (ssize_t)llen) {
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
