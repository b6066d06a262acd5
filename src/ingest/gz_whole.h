/* gz_whole.h - a gzip file decoded whole in one call (libdeflate), the fast path of reading a
 * .nii.gz: about three times zlib's streaming inflate, its CRC check included.
 *
 * libdeflate decodes whole buffers only: the caller gives the output's size (a NIfTI header
 * says how many bytes it needs) and this either fills it, or says "use the streaming reader"
 * (a member longer than the room, bytes after the last member that are not gzip: zlib reads
 * those as it always has), or says the stream is damaged. */
#ifndef PATCHFS_GZ_WHOLE_H
#define PATCHFS_GZ_WHOLE_H

#include <stddef.h>

typedef enum pf_gz_result {
    PF_GZ_DECODED, /* every member decoded and checked (CRC-32, ISIZE): *got bytes (<= cap) */
    PF_GZ_STREAM,  /* read it with zlib's streaming reader: more than cap bytes of data, bytes
                    * after a member that are not gzip, not a gzip file, cannot be mapped */
    PF_GZ_DAMAGED, /* a member's deflate data or its CRC-32 / ISIZE check fails (corrupt, or
                    * cut short) */
} pf_gz_result;

/* Decodes the gzip file at path (every member, in order) into out[0..cap). */
pf_gz_result pf_gz_decode_whole(const char *path, void *out, size_t cap, size_t *got);

#endif
