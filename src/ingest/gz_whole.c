/* gz_whole.c - a gzip file decoded whole with libdeflate (see gz_whole.h). */
#include "gz_whole.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libdeflate.h>

/* The members one after another (gzip allows several, `cat a.gz b.gz`); what follows the last
 * one must be another member's magic or nothing: zlib's reader stops quietly at trailing
 * bytes that are not gzip, so those go to it rather than being judged here. */
static pf_gz_result decode_members(const uint8_t *in, size_t n_in, uint8_t *out, size_t cap,
                                   size_t *got)
{
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    size_t pos = 0, done = 0;
    pf_gz_result rc = PF_GZ_STREAM;
    if (!d)
        return PF_GZ_STREAM;
    while (pos < n_in) {
        size_t used = 0, made = 0;
        enum libdeflate_result r;
        if (n_in - pos < 2 || in[pos] != 0x1f || in[pos + 1] != 0x8b)
            goto out; /* trailing bytes that are not a member: zlib's rule decides */
        r = libdeflate_gzip_decompress_ex(d, in + pos, n_in - pos, out + done, cap - done,
                                          &used, &made);
        if (r != LIBDEFLATE_SUCCESS) {
            rc = r == LIBDEFLATE_INSUFFICIENT_SPACE ? PF_GZ_STREAM : PF_GZ_DAMAGED;
            goto out;
        }
        pos += used;
        done += made;
    }
    *got = done;
    rc = PF_GZ_DECODED;
out:
    libdeflate_free_decompressor(d);
    return rc;
}

pf_gz_result pf_gz_decode_whole(const char *path, void *out, size_t cap, size_t *got)
{
    struct stat st;
    void *map;
    pf_gz_result rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return PF_GZ_STREAM;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 18) {
        close(fd);
        return PF_GZ_STREAM;
    }
    /* mapped, not read: the compressed bytes are read once, straight from the page cache */
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return PF_GZ_STREAM;
    madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
    rc = decode_members(map, (size_t)st.st_size, out, cap, got);
    munmap(map, (size_t)st.st_size);
    return rc;
}
