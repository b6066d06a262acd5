/* zip.c - a stored zip archive's layout and records (see zip.h). Per member a local header
 * (30 bytes + name [+ 20-byte ZIP64 extra]) and the bytes; then per member a central header
 * (46 + name [+ 28-byte ZIP64 extra]); [ZIP64 end record (56) and locator (20)]; the end of
 * central directory (22). All numbers little-endian. */
#include "zip.h"

#include <string.h>

#define DOS_DATE 0x0021 /* 1980-01-01: fixed, so the bytes depend on the members only */
#define U16_LIMIT 0xffffU
#define U32_LIMIT 0xffffffffULL
#define VERSION_CLASSIC 20 /* 2.0: stored members */
#define VERSION_ZIP64 45   /* 4.5: ZIP64 extensions */

static uint64_t local_len(size_t name, int z64)
{
    return PF_ZIP_LOCAL_FIXED + name + (z64 ? PF_ZIP64_LOCAL_EXTRA : 0);
}

static uint64_t central_len(size_t name, int z64)
{
    return PF_ZIP_CENTRAL_FIXED + name + (z64 ? PF_ZIP64_CENTRAL_EXTRA : 0);
}

static void place(pf_zip_member *m, int n, int z64, pf_zip_layout *l)
{
    uint64_t at = 0, dir = 0;
    for (int i = 0; i < n; i++) {
        const size_t name = strlen(m[i].name);
        m[i].offset = at;
        at += local_len(name, z64) + m[i].len;
        dir += central_len(name, z64);
    }
    l->zip64 = z64;
    l->directory = at;
    l->directory_len = dir;
    l->size = at + dir + PF_ZIP_END_FIXED + (z64 ? PF_ZIP64_END + PF_ZIP64_LOCATOR : 0);
}

void pf_zip_plan(pf_zip_member *m, int n, int force_zip64, pf_zip_layout *l)
{
    place(m, n, 0, l);
    /* the whole classic archive below 4 GiB means every size, offset and the directory fit */
    if (force_zip64 || l->size >= U32_LIMIT || (unsigned)n >= U16_LIMIT)
        place(m, n, 1, l);
}

uint64_t pf_zip_local_len(const pf_zip_member *m, int zip64)
{
    return local_len(strlen(m->name), zip64);
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

/* the fields a local and a central header share, from "version needed" to the name length */
static char *common(char *p, int z64, const pf_zip_member *m, size_t name)
{
    p = put16(p, z64 ? VERSION_ZIP64 : VERSION_CLASSIC); /* version needed */
    p = put16(p, 0);                                     /* flags */
    p = put16(p, 0);                                     /* stored */
    p = put16(p, 0);                                     /* time 00:00:00 */
    p = put16(p, DOS_DATE);
    p = put32(p, m->crc);
    p = put32(p, z64 ? U32_LIMIT : m->len); /* compressed */
    p = put32(p, z64 ? U32_LIMIT : m->len); /* uncompressed */
    return put16(p, (unsigned)name);
}

/* the member's name, then in ZIP64 the extended information extra field: both sizes and, in
 * the central directory (central), the local header's offset */
static char *name_and_zip64(char *p, int z64, const pf_zip_member *m, size_t name, int central)
{
    memcpy(p, m->name, name);
    p += name;
    if (!z64)
        return p;
    p = put16(p, 0x0001);
    p = put16(p, central ? 24 : 16);
    p = put64(p, m->len);
    p = put64(p, m->len);
    return central ? put64(p, m->offset) : p;
}

void pf_zip_put_local(char *out, const pf_zip_member *m, int zip64)
{
    const size_t name = strlen(m->name);
    char *p = put32(out, 0x04034b50);
    p = common(p, zip64, m, name);
    p = put16(p, zip64 ? PF_ZIP64_LOCAL_EXTRA : 0);
    name_and_zip64(p, zip64, m, name, 0);
}

void pf_zip_put_directory(char *out, const pf_zip_member *m, int n, const pf_zip_layout *l)
{
    const int z64 = l->zip64;
    char *p = out;
    for (int i = 0; i < n; i++) {
        const size_t name = strlen(m[i].name);
        p = put32(p, 0x02014b50);
        p = put16(p, z64 ? VERSION_ZIP64 : VERSION_CLASSIC); /* made by: MS-DOS attributes */
        p = common(p, z64, &m[i], name);
        p = put16(p, z64 ? PF_ZIP64_CENTRAL_EXTRA : 0);
        p = put16(p, 0); /* comment */
        p = put16(p, 0); /* disk */
        p = put16(p, 0); /* internal attributes */
        p = put32(p, 0); /* external attributes */
        p = put32(p, z64 ? U32_LIMIT : m[i].offset);
        p = name_and_zip64(p, z64, &m[i], name, 1);
    }
    if (z64) {
        const uint64_t end64 = l->directory + l->directory_len;
        p = put32(p, 0x06064b50);
        p = put64(p, PF_ZIP64_END - 12); /* size of the rest of this record */
        p = put16(p, VERSION_ZIP64);     /* made by */
        p = put16(p, VERSION_ZIP64);     /* needed */
        p = put32(p, 0);                 /* this disk */
        p = put32(p, 0);                 /* the directory's disk */
        p = put64(p, (uint64_t)n);
        p = put64(p, (uint64_t)n);
        p = put64(p, l->directory_len);
        p = put64(p, l->directory);
        p = put32(p, 0x07064b50); /* the locator */
        p = put32(p, 0);
        p = put64(p, end64);
        p = put32(p, 1); /* disks */
    }
    p = put32(p, 0x06054b50);
    p = put16(p, 0);
    p = put16(p, 0);
    p = put16(p, z64 ? U16_LIMIT : (unsigned)n);
    p = put16(p, z64 ? U16_LIMIT : (unsigned)n);
    p = put32(p, z64 ? U32_LIMIT : l->directory_len);
    p = put32(p, z64 ? U32_LIMIT : l->directory);
    put16(p, 0); /* comment */
}
