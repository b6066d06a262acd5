/* entry_read.c - checking and mapping cache entries: header and metadata digests at open, the
 * image digest once before first use (pf_case_check_bulk). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "entry.h"

/* ---- opening entries ---- */

/* -1 with errno set when reading failed (ENOMEM, EIO, ...), or with errno 0 when the file
 * ends early (a truncated entry: its content is wrong, not unreadable). */
static int hash_range(int fd, uint64_t off, uint64_t len, uint64_t *digest)
{
    XXH3_state_t *st = XXH3_createState();
    size_t cap = 1 << 20;
    unsigned char *buf = malloc(cap);
    int rc = -1, saved = ENOMEM;
    if (!st || !buf)
        goto out;
    XXH3_64bits_reset(st);
    while (len) {
        size_t want = len < cap ? (size_t)len : cap;
        ssize_t k = pread(fd, buf, want, (off_t)off);
        if (k <= 0) {
            if (k < 0 && errno == EINTR)
                continue;
            saved = k < 0 ? errno : 0;
            goto out;
        }
        XXH3_64bits_update(st, buf, (size_t)k);
        off += (uint64_t)k;
        len -= (uint64_t)k;
    }
    *digest = XXH3_64bits_digest(st);
    rc = saved = 0;
out:
    free(buf);
    XXH3_freeState(st);
    errno = saved;
    return rc;
}

/* Reads and checks a header: 0 ok, -1 with a reason in why. */
static int read_header(int fd, uint64_t key, pf_case_header *h, const char **why)
{
    struct stat sb;
    uint64_t d;
    if (pread(fd, h, sizeof *h, 0) != (ssize_t)sizeof *h) {
        *why = "shorter than its header";
        return -1;
    }
    if (memcmp(h->magic, pf_case_magic, sizeof h->magic) || h->version != PF_CACHE_VERSION ||
        h->endian_tag != PF_ENDIAN_TAG) {
        *why = "not a patchfs cache entry of this version";
        return -1;
    }
    d = h->header_digest;
    h->header_digest = 0;
    if (XXH3_64bits(h, sizeof *h) != d) {
        *why = "header digest mismatch (corrupt)";
        return -1;
    }
    h->header_digest = d;
    if (h->key != key) {
        *why = "key mismatch";
        return -1;
    }
    if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size != h->file_size ||
        h->n_channels == 0 || h->n_channels > PF_MAX_CHANNELS) {
        *why = "size does not match its header (truncated)";
        return -1;
    }
    if ((h->seg_bytes != 1 && h->seg_bytes != 2) || h->seg_off > h->meta_off ||
        (uint64_t)(h->shape[0] * h->shape[1] * h->shape[2]) * h->seg_bytes >
            h->meta_off - h->seg_off) {
        *why = "its segmentation does not fit its header";
        return -1;
    }
    return 0;
}

static int check_meta(int fd, const pf_case_header *h, const char **why)
{
    uint64_t d;
    if (hash_range(fd, h->meta_off, h->file_size - h->meta_off, &d) != 0 || d != h->meta_digest) {
        *why = "metadata digest mismatch (corrupt)";
        return -1;
    }
    return 0;
}

int pf_entry_valid(const char *path, uint64_t key, int full)
{
    pf_case_header h;
    const char *why;
    uint64_t d;
    int fd = open(path, O_RDONLY | O_CLOEXEC), ok;
    if (fd < 0)
        return 0;
    ok = read_header(fd, key, &h, &why) == 0 && check_meta(fd, &h, &why) == 0;
    if (ok && full)
        ok = hash_range(fd, h.image_off, h.meta_off - h.image_off, &d) == 0 &&
             d == h.bulk_digest;
    close(fd);
    return ok;
}

int pf_cache_open(pf_cache *c, const pf_dataset *ds, pf_error *err)
{
    c->cases = calloc((size_t)ds->n_cases, sizeof *c->cases);
    if (!c->cases)
        return pf_fail(err, ENOMEM, "out of memory");
    for (int i = 0; i < ds->n_cases; i++) {
        pf_case *cs = &c->cases[i];
        pthread_mutex_init(&cs->lock, NULL);
        cs->path = pf_cache_entry_path(c, ds, i);
        if (!cs->path)
            return pf_fail(err, ENOMEM, "out of memory");
        if (pf_entry_map(cs, c->keys[i], ds->cases[i].id, err) != 0)
            return -1;
    }
    return 0;
}

int pf_case_check_bulk(pf_case *cs, pf_error *err)
{
    int state, errnum = 0;
    const char *what = "open";
    pthread_mutex_lock(&cs->lock);
    if (cs->bulk_state == 0) {
        uint64_t d = 0;
        int fd = open(cs->path, O_RDONLY | O_CLOEXEC), rc = -1;
        /* pread rather than the mapping: hashing must not make the whole case resident */
        if (fd >= 0) {
            what = "read";
            rc = hash_range(fd, cs->hdr.image_off, cs->hdr.meta_off - cs->hdr.image_off, &d);
        }
        /* an entry that cannot be opened or read (ENOENT, EACCES, EIO, ENOMEM) is not known
         * to be corrupt: the state stays unchecked, so the next use tries again */
        if (fd < 0 || (rc != 0 && errno != 0))
            errnum = errno;
        else
            cs->bulk_state = rc == 0 && d == cs->hdr.bulk_digest ? 1 : -1;
        if (fd >= 0)
            close(fd);
    }
    state = cs->bulk_state;
    pthread_mutex_unlock(&cs->lock);
    if (errnum)
        return pf_fail(err, errnum, "%s: cannot %s cache entry of case %s: %s", cs->path, what,
                       cs->hdr.id, strerror(errnum));
    if (state < 0)
        return pf_fail(err, EIO, "%s: cache entry of case %s is corrupt (image digest "
                       "mismatch); it is not served", cs->path, cs->hdr.id);
    return 0;
}

/* Opens an entry and checks its header (into *h) and metadata: the open descriptor, or -1. */
static int open_checked(const char *path, uint64_t key, const char *id, pf_case_header *h,
                        pf_error *err)
{
    const char *why = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pf_fail(err, errno, "%s: cannot open cache entry of case %s: %s", path, id,
                       strerror(errno));
    if (read_header(fd, key, h, &why) || check_meta(fd, h, &why)) {
        close(fd);
        return pf_fail(err, EIO, "%s: cache entry of case %s is unusable: %s (run "
                       "'patchfs prepare' to rebuild it)", path, id, why);
    }
    return fd;
}

/* The class table, copied once (pread, not through the mapping: it is read without a guard
 * by every layer above, so it must not live in a file that can be truncated under it). */
static int copy_classes(int fd, pf_case *cs, pf_error *err)
{
    const size_t len = (size_t)cs->hdr.n_classes * sizeof(pf_class_row);
    pf_class_row *rows = malloc(len ? len : 1);
    if (!rows)
        return pf_fail(err, ENOMEM, "out of memory");
    if (len) {
        ssize_t k = pread(fd, rows, len, (off_t)cs->hdr.classes_off);
        if (k != (ssize_t)len) {
            int e = k < 0 ? errno : EIO;
            free(rows);
            return pf_fail(err, e, "%s: cannot read the class table of case %s: %s", cs->path,
                           cs->hdr.id, strerror(e));
        }
    }
    cs->classes = rows;
    return 0;
}

int pf_entry_map(pf_case *cs, uint64_t key, const char *id, pf_error *err)
{
    pf_case_map *m = NULL;
    int fd = open_checked(cs->path, key, id, &cs->hdr, err);
    if (fd < 0)
        return -1;
    if (copy_classes(fd, cs, err) == 0)
        m = pf_case_map_open(cs, fd, err);
    close(fd);
    if (!m)
        return -1;
    pf_case_publish(cs, m, 0);
    return 0;
}

int pf_entry_remap(pf_case *cs, uint64_t key, pf_case_map **out, pf_error *err)
{
    pf_case_header h;
    int fd = open_checked(cs->path, key, cs->hdr.id, &h, err);
    if (fd < 0)
        return -1;
    /* the header holds the metadata's digest: equal headers, equal class tables and
     * locations, so what readers hold (hdr, classes) stays true */
    if (memcmp(&h, &cs->hdr, sizeof h) != 0) {
        close(fd);
        return pf_fail(err, EIO, "%s: the rebuilt cache entry of case %s differs from the one "
                       "in use (its sources changed since the dataset was opened): remount to "
                       "serve them", cs->path, cs->hdr.id);
    }
    *out = pf_case_map_open(cs, fd, err);
    close(fd);
    return *out ? 0 : -1;
}
