/* nifti_write.c - a label map written in a source image's geometry (see nifti_write.h). */
#include "nifti_write.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nifti2_io.h>

#include "atomic_file.h"
#include "gzip_runs.h"
#include "nifti_load.h"

static int ends_with(const char *s, const char *suffix)
{
    const size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* The header bytes for nim (the extension flag included): NIfTI-2 when the source was. */
static size_t header_bytes(nifti_image *nim, unsigned char *buf)
{
    if (nim->nifti_type == NIFTI_FTYPE_NIFTI2_1 || nim->nifti_type == NIFTI_FTYPE_NIFTI2_2) {
        nifti_2_header h;
        nim->nifti_type = NIFTI_FTYPE_NIFTI2_1;
        nim->iname_offset = (int64_t)sizeof h + 4;
        nifti_convert_nim2n2hdr(nim, &h);
        memcpy(buf, &h, sizeof h);
        memset(buf + sizeof h, 0, 4);
        return sizeof h + 4;
    } else {
        nifti_1_header h;
        nim->nifti_type = NIFTI_FTYPE_NIFTI1_1; /* one .nii file, whatever the source was */
        nim->iname_offset = (int64_t)sizeof h + 4;
        nifti_convert_nim2n1hdr(nim, &h);
        memcpy(buf, &h, sizeof h);
        memset(buf + sizeof h, 0, 4);
        return sizeof h + 4;
    }
}

/* The source's header made a label map's: geometry kept, value description reset. */
static nifti_image *label_header(const char *like, int bytes, const int64_t shape[3],
                                 pf_error *err)
{
    pf_nifti_info info;
    nifti_image *nim;
    if (pf_nifti_read_info(like, &info, err)) /* validates (and quiets libnifti) first */
        return NULL;
    if (info.nx != shape[2] || info.ny != shape[1] || info.nz != shape[0]) {
        pf_fail(err, EINVAL, "%s: grid %lldx%lldx%lld (x, y, z) is not the exported volume's "
                "%lldx%lldx%lld", like, (long long)info.nx, (long long)info.ny,
                (long long)info.nz, (long long)shape[2], (long long)shape[1],
                (long long)shape[0]);
        return NULL;
    }
    nim = nifti_image_read(like, 0);
    if (!nim) {
        pf_fail(err, EINVAL, "%s: not a readable NIfTI header", like);
        return NULL;
    }
    nifti_free_extensions(nim);
    nim->dim[0] = 3;
    for (int d = 4; d < 8; d++)
        nim->dim[d] = 1;
    nim->datatype = bytes == 1 ? DT_UINT8 : DT_UINT16;
    nifti_datatype_sizes(nim->datatype, &nim->nbyper, &nim->swapsize);
    nifti_update_dims_from_array(nim);
    nim->scl_slope = 1.0;
    nim->scl_inter = 0.0;
    nim->cal_min = nim->cal_max = 0.0;
    nim->intent_code = 0;
    nim->intent_p1 = nim->intent_p2 = nim->intent_p3 = 0.0;
    nim->intent_name[0] = '\0';
    nim->toffset = 0.0;
    return nim;
}

static int sink_atomic(void *f, const void *buf, size_t len, pf_error *err)
{
    return pf_atomic_write(f, buf, len, err);
}

/* A label map compresses as runs: gzip_runs.h's writer, several times faster than zlib's
 * level 1 (nibabel's default) and smaller on label maps. */
static int write_gz(pf_atomic_file *f, const unsigned char *hdr, size_t hlen, const void *data,
                    size_t len, pf_error *err)
{
    return pf_gzip_runs((const void *const[]){hdr, data}, (const size_t[]){hlen, len}, 2,
                        sink_atomic, f, err);
}

int pf_nifti_write_labels_like(const char *like, const void *data, int bytes,
                               const int64_t shape[3], const char *path, int force,
                               pf_error *err)
{
    unsigned char hdr[sizeof(nifti_2_header) + 4];
    const size_t len = (size_t)shape[0] * (size_t)shape[1] * (size_t)shape[2] * (size_t)bytes;
    nifti_image *nim;
    pf_atomic_file f;
    size_t hlen;
    int rc;
    if (!ends_with(path, ".nii") && !ends_with(path, ".nii.gz"))
        return pf_fail(err, EINVAL, "%s: a NIfTI output name ends in .nii.gz or .nii", path);
    nim = label_header(like, bytes, shape, err);
    if (!nim)
        return -1;
    hlen = header_bytes(nim, hdr);
    nifti_image_free(nim);
    if (pf_atomic_begin(&f, path, force, err))
        return -1;
    errno = 0;
    rc = ends_with(path, ".gz") ? write_gz(&f, hdr, hlen, data, len, err)
                                : pf_atomic_write(&f, hdr, hlen, err) ||
                                      pf_atomic_write(&f, data, len, err);
    if (rc) {
        pf_atomic_abort(&f);
        return -1;
    }
    return pf_atomic_commit(&f, err);
}
