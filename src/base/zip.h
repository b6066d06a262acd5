/* zip.h - the records of a zip archive of stored (uncompressed) members (PKWARE APPNOTE 6.3),
 * the one zip writer of patchfs: batch.npz (vfs/npz.c) and export's --probabilities
 * (infer/npz_stream.c) both lay out and write their archives with it.
 *
 * An archive here is the members one after another from offset 0, each a local header and its
 * bytes, then the central directory (one record per member) and the end records. Everything
 * but the CRC-32s is a formula of the members' names and lengths, so a layout is planned before
 * any byte exists (the file table needs batch.npz's size before its pixels). Fixed timestamps
 * (1980-01-01 00:00), version made by = version needed with MS-DOS attributes 0, no comments,
 * no extra fields unless ZIP64: then every member carries ZIP64 sizes (and, in the directory,
 * its offset), the classic fields that moved there hold 0xffff / 0xffffffff, and the ZIP64 end
 * record and its locator precede the end of central directory. */
#ifndef PATCHFS_ZIP_H
#define PATCHFS_ZIP_H

#include <stddef.h>
#include <stdint.h>

#define PF_ZIP_LOCAL_FIXED 30
#define PF_ZIP_CENTRAL_FIXED 46
#define PF_ZIP_END_FIXED 22
#define PF_ZIP64_LOCAL_EXTRA 20   /* id, size, uncompressed, compressed */
#define PF_ZIP64_CENTRAL_EXTRA 28 /* id, size, uncompressed, compressed, local header offset */
#define PF_ZIP64_END 56
#define PF_ZIP64_LOCATOR 20

typedef struct pf_zip_member {
    const char *name;   /* "data.npy" */
    uint64_t len;       /* its stored bytes */
    uint32_t crc;       /* their CRC-32 (crc32.h); only the records written need it */
    uint64_t offset;    /* of its local header: set by pf_zip_plan */
} pf_zip_member;

typedef struct pf_zip_layout {
    int zip64;
    uint64_t directory;     /* offset of the central directory */
    uint64_t directory_len; /* its length (without the end records) */
    uint64_t size;          /* of the whole archive */
} pf_zip_layout;

/* Places the members (sets each offset) and sizes the archive: ZIP64 when force_zip64, or when
 * a size, an offset or the member count would not fit the classic fields. */
void pf_zip_plan(pf_zip_member *m, int n, int force_zip64, pf_zip_layout *l);

/* Length of a member's local header; its bytes start at m->offset + this. */
uint64_t pf_zip_local_len(const pf_zip_member *m, int zip64);

/* Writes a member's local header into out (pf_zip_local_len bytes). */
void pf_zip_put_local(char *out, const pf_zip_member *m, int zip64);

/* Writes the central directory and the end records into out (l->size - l->directory bytes). */
void pf_zip_put_directory(char *out, const pf_zip_member *m, int n, const pf_zip_layout *l);

#endif
