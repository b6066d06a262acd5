/* export.c - gzipped NIfTI-1 patches with shifted affines (see export.h). */
#include "export.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <nifti1.h>
#include <zlib.h>

#define VOX_OFFSET 352 /* 348-byte header + 4-byte extension flag (no extensions) */
#define STORED_MAX 65535

static uint64_t payload_size(int channels, int is_label, const int64_t shape[3])
{
    uint64_t n = (uint64_t)shape[0] * (uint64_t)shape[1] * (uint64_t)shape[2];
    return VOX_OFFSET + n * (uint64_t)(is_label ? 1 : channels) * (is_label ? 2u : 4u);
}

/* gzip member of stored deflate blocks: 10-byte header, 5 bytes per block, 8-byte trailer */
static uint64_t gz_size(uint64_t n)
{
    uint64_t blocks = n ? (n + STORED_MAX - 1) / STORED_MAX : 1;
    return 10 + n + 5 * blocks + 8;
}

uint64_t pf_nifti_patch_size(int channels, int is_label, const int64_t shape[3])
{
    return gz_size(payload_size(channels, is_label, shape));
}

static void put_le16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void fill_header(const pf_nifti_patch *p, nifti_1_header *h)
{
    const double *A = p->affine;
    memset(h, 0, sizeof *h);
    h->sizeof_hdr = 348;
    h->dim[0] = (short)(p->is_label || p->channels == 1 ? 3 : 4);
    h->dim[1] = (short)p->shape[2];
    h->dim[2] = (short)p->shape[1];
    h->dim[3] = (short)p->shape[0];
    h->dim[4] = (short)(p->is_label ? 1 : p->channels);
    for (int i = 5; i < 8; i++)
        h->dim[i] = 1;
    h->datatype = p->is_label ? DT_INT16 : DT_FLOAT32;
    h->bitpix = p->is_label ? 16 : 32;
    h->pixdim[0] = 1.0f; /* qfac */
    h->pixdim[4] = 1.0f;
    h->vox_offset = VOX_OFFSET;
    h->xyzt_units = NIFTI_UNITS_MM;
    h->qform_code = NIFTI_XFORM_UNKNOWN;
    h->sform_code = NIFTI_XFORM_SCANNER_ANAT;
    /* NIfTI indexes (i, j, k) = (x, y, z); patchfs arrays are (z, y, x): world =
     * A [src_x src_y src_z 1] with src_zyx = origin + grid o_zyx. */
    for (int r = 0; r < 3; r++) {
        float *row = r == 0 ? h->srow_x : r == 1 ? h->srow_y : h->srow_z;
        double off = A[r * 4 + 3];
        for (int m = 0; m < 3; m++)
            off += A[r * 4 + m] * p->origin[2 - m];
        for (int q = 0; q < 3; q++) {
            double v = 0.0;
            for (int m = 0; m < 3; m++)
                v += A[r * 4 + m] * p->grid[2 - m][2 - q];
            row[q] = (float)v;
        }
        row[3] = (float)off;
    }
    /* voxel sizes: the length of each patch axis in the source's voxel units times spacing */
    for (int q = 0; q < 3; q++) {
        double len = 0.0;
        for (int m = 0; m < 3; m++)
            len += p->grid[m][2 - q] * p->grid[m][2 - q] * p->spacing[m] * p->spacing[m];
        h->pixdim[q + 1] = (float)sqrt(len);
    }
    memcpy(h->descrip, "patchfs patch", 14);
    memcpy(h->magic, "n+1", 4);
}

int pf_nifti_patch_gz(const pf_nifti_patch *p, char **out, size_t *len, pf_error *err)
{
    const uint64_t n = payload_size(p->channels, p->is_label, p->shape);
    const uint64_t total = gz_size(n);
    unsigned char *buf = malloc((size_t)total), *o = buf;
    unsigned char *payload = malloc((size_t)n);
    nifti_1_header h;
    uLong crc;
    if (!buf || !payload) {
        free(buf);
        free(payload);
        return pf_fail(err, ENOMEM, "out of memory for a %llu-byte NIfTI patch",
                       (unsigned long long)total);
    }
    fill_header(p, &h);
    memcpy(payload, &h, sizeof h);
    memset(payload + sizeof h, 0, VOX_OFFSET - sizeof h);
    memcpy(payload + VOX_OFFSET, p->data, (size_t)(n - VOX_OFFSET));
    /* gzip header: deflate, no flags, mtime 0, no extra flags, OS unknown */
    memcpy(o, "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10);
    o += 10;
    for (uint64_t done = 0;;) {
        unsigned chunk = (unsigned)(n - done < STORED_MAX ? n - done : STORED_MAX);
        int last = done + chunk == n;
        *o++ = (unsigned char)last; /* BFINAL, BTYPE = 00 (stored) */
        put_le16(o, chunk);
        put_le16(o + 2, (unsigned)(~chunk & 0xffff));
        o += 4;
        memcpy(o, payload + done, chunk);
        o += chunk;
        done += chunk;
        if (last)
            break;
    }
    crc = crc32(0L, Z_NULL, 0);
    for (uint64_t done = 0; done < n;) { /* crc32 takes a uInt length */
        uInt chunk = (uInt)(n - done < (1u << 30) ? n - done : (1u << 30));
        crc = crc32(crc, payload + done, chunk);
        done += chunk;
    }
    put_le32(o, (uint32_t)crc);
    put_le32(o + 4, (uint32_t)(n & 0xffffffffu));
    o += 8;
    free(payload);
    *out = (char *)buf;
    *len = (size_t)total;
    return 0;
}
