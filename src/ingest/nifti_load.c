/* nifti_load.c - NIfTI-1/2 decoding via libnifti with explicit validation (see nifti_load.h). */
#include "nifti_load.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nifti2_io.h>

#include "gz_whole.h"

static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;

/* libnifti prints its own diagnostics to stderr; patchfs reports errors itself, naming the
 * file, so the library is kept quiet. */
static void make_quiet(void)
{
    nifti_set_debug_level(0);
}

const char *pf_nifti_datatype_name(int datatype)
{
    return nifti_datatype_string(datatype);
}

static int supported_datatype(int dt)
{
    switch (dt) {
    case DT_UINT8: case DT_INT8: case DT_INT16: case DT_UINT16: case DT_INT32: case DT_UINT32:
    case DT_INT64: case DT_UINT64: case DT_FLOAT32: case DT_FLOAT64: case DT_FLOAT128:
        return 1;
    default:
        return 0;
    }
}

/* Check the file can be opened at all, so "permission denied" is reported as such rather than
 * as a malformed header. */
static int check_readable(const char *path, pf_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pf_fail(err, errno, "%s: cannot open: %s", path, strerror(errno));
    close(fd);
    return 0;
}

/* 1 or 2 from the header's first field (sizeof_hdr: 348 or 540, in either byte order);
 * libnifti reports NIfTI-2 files read through its NIfTI-1 path as version 1. */
static int header_version(const char *fname)
{
    unsigned char b[4] = {0};
    znzFile fp = znzopen(fname, "rb", nifti_is_gzfile(fname));
    uint32_t le, be;
    if (znz_isnull(fp))
        return 1;
    if (znzread(b, 1, 4, fp) != 4) {
        znzclose(fp);
        return 1;
    }
    znzclose(fp);
    le = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    be = (uint32_t)b[3] | (uint32_t)b[2] << 8 | (uint32_t)b[1] << 16 | (uint32_t)b[0] << 24;
    return le == 540 || be == 540 ? 2 : 1;
}

static int fill_info(const char *path, const nifti_image *nim, pf_nifti_info *info,
                     pf_error *err)
{
    int64_t frames = 1;
    memset(info, 0, sizeof *info);
    if (nim->dim[0] < 2 || nim->dim[0] > 7)
        return pf_fail(err, EINVAL, "%s: a %lld-dimensional image is not a volume", path,
                       (long long)nim->dim[0]);
    for (int i = 1; i <= nim->dim[0]; i++)
        if (nim->dim[i] < 1 || nim->dim[i] > PF_NIFTI_MAX_DIM)
            return pf_fail(err, EINVAL, "%s: header claims dimension %d of size %lld "
                           "(accepted: 1 to %d)", path, i, (long long)nim->dim[i],
                           PF_NIFTI_MAX_DIM);
    for (int i = 5; i <= nim->dim[0]; i++)
        if (nim->dim[i] != 1)
            return pf_fail(err, EINVAL, "%s: %lld-dimensional image (dimension %d has size "
                           "%lld); patchfs reads 3D volumes and 4D channel stacks", path,
                           (long long)nim->dim[0], i, (long long)nim->dim[i]);
    if (!supported_datatype(nim->datatype))
        return pf_fail(err, EINVAL, "%s: unsupported voxel type %s", path,
                       nifti_datatype_string(nim->datatype));
    info->nx = nim->nx;
    info->ny = nim->dim[0] >= 2 ? nim->ny : 1;
    info->nz = nim->dim[0] >= 3 ? nim->nz : 1;
    info->nt = nim->dim[0] >= 4 ? nim->nt : 1;
    frames = info->nt;
    if ((double)info->nx * (double)info->ny * (double)info->nz * (double)frames *
            (double)nim->nbyper > (double)PF_NIFTI_MAX_BYTES)
        return pf_fail(err, EFBIG, "%s: header claims %lld x %lld x %lld x %lld voxels of %d "
                       "bytes, more than the %lld GiB patchfs accepts (corrupt header?)", path,
                       (long long)info->nx, (long long)info->ny, (long long)info->nz,
                       (long long)frames, nim->nbyper, (long long)(PF_NIFTI_MAX_BYTES >> 30));
    /* a negative pixdim (some converters flip an axis that way) is a spacing of its absolute
     * value, as nnU-Net's readers give it; the orientation is the affine's */
    info->spacing[0] = fabs(nim->dx);
    info->spacing[1] = fabs(nim->dy);
    info->spacing[2] = fabs(nim->dz);
    info->datatype = nim->datatype;
    info->nifti_version = header_version(nim->fname);
    if (nim->sform_code > 0) {
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 4; c++)
                info->affine[r * 4 + c] = nim->sto_xyz.m[r][c];
    } else if (nim->qform_code > 0) {
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 4; c++)
                info->affine[r * 4 + c] = nim->qto_xyz.m[r][c];
    } else {
        info->affine[0] = nim->dx;
        info->affine[5] = nim->dy;
        info->affine[10] = nim->dz;
        info->affine[15] = 1.0;
    }
    return 0;
}

static uint64_t rd(const unsigned char *p, int n, int swap)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[swap ? n - 1 - i : i] << (8 * i);
    return v;
}

/* Checks the raw header before libnifti parses it: libnifti 3.0.1 writes past its dim array
 * for a NIfTI-2 header with dim[0] > 7. */
static int precheck_header(const char *path, pf_error *err)
{
    unsigned char h[544];
    int64_t dim0, dims[8] = {0}, nbytes = 1;
    size_t got;
    int swap, v2;
    uint32_t le, be;
    znzFile fp = znzopen(path, "rb", nifti_is_gzfile(path));
    if (znz_isnull(fp))
        return pf_fail(err, EIO, "%s: cannot open", path);
    got = znzread(h, 1, sizeof h, fp);
    znzclose(fp);
    if (got < 348 || got > sizeof h)
        return pf_fail(err, EINVAL, "%s: not a readable NIfTI-1/NIfTI-2 file (shorter than a "
                       "header)", path);
    le = (uint32_t)rd(h, 4, 0);
    be = (uint32_t)rd(h, 4, 1);
    if (le != 348 && le != 540 && be != 348 && be != 540)
        return pf_fail(err, EINVAL, "%s: not a readable NIfTI-1/NIfTI-2 file (bad header size "
                       "field)", path);
    swap = le != 348 && le != 540;
    v2 = (swap ? be : le) == 540;
    if (v2 && got < 540)
        return pf_fail(err, EINVAL, "%s: NIfTI-2 header is truncated", path);
    dim0 = v2 ? (int64_t)rd(h + 16, 8, swap) : (int16_t)rd(h + 40, 2, swap);
    if (dim0 < 1 || dim0 > 7)
        return pf_fail(err, EINVAL, "%s: header claims %lld dimensions (NIfTI allows 1 to 7)",
                       path, (long long)dim0);
    for (int i = 1; i <= dim0; i++) {
        dims[i] = v2 ? (int64_t)rd(h + 16 + 8 * i, 8, swap) : (int16_t)rd(h + 40 + 2 * i, 2, swap);
        if (dims[i] < 1 || dims[i] > PF_NIFTI_MAX_DIM)
            return pf_fail(err, EINVAL, "%s: header claims dimension %d of size %lld (accepted: "
                           "1 to %d)", path, i, (long long)dims[i], PF_NIFTI_MAX_DIM);
        nbytes *= dims[i];
        if (nbytes > PF_NIFTI_MAX_BYTES)
            return pf_fail(err, EFBIG, "%s: header claims more than %lld GiB of voxels (corrupt "
                           "header?)", path, (long long)(PF_NIFTI_MAX_BYTES >> 30));
    }
    return 0;
}

/* Opens and validates the header; the caller frees with nifti_image_free. */
static nifti_image *open_header(const char *path, pf_nifti_info *info, pf_error *err)
{
    nifti_image *nim;
    pthread_once(&quiet_once, make_quiet);
    if (check_readable(path, err) || precheck_header(path, err))
        return NULL;
    nim = nifti_image_read(path, 0);
    if (!nim) {
        pf_fail(err, EINVAL, "%s: not a readable NIfTI-1/NIfTI-2 file (bad or truncated header)",
                path);
        return NULL;
    }
    if (fill_info(path, nim, info, err)) {
        nifti_image_free(nim);
        return NULL;
    }
    return nim;
}

int pf_nifti_read_info(const char *path, pf_nifti_info *info, pf_error *err)
{
    nifti_image *nim = open_header(path, info, err);
    if (!nim)
        return -1;
    nifti_image_free(nim);
    return 0;
}

/* The header's voxel bytes of path into dst (nvox * nbyper bytes), in file byte order:
 * zlib's streaming reader (libnifti's znz), which names a short or damaged stream. */
static int stream_voxels(const char *path, const nifti_image *nim, void *dst, pf_error *err)
{
    const size_t nbytes = (size_t)nim->nvox * (size_t)nim->nbyper;
    size_t done = 0;
    znzFile fp = znzopen(nim->iname, "rb", nifti_is_gzfile(nim->iname));
    if (znz_isnull(fp))
        return pf_fail(err, errno ? errno : EIO, "%s: cannot open voxel data", path);
    if (znzseek(fp, (znz_off_t)nim->iname_offset, SEEK_SET) < 0) {
        znzclose(fp);
        return pf_fail(err, EIO, "%s: voxel data is truncated (no data at offset %lld)", path,
                       (long long)nim->iname_offset);
    }
    while (done < nbytes) {
        size_t want = nbytes - done < ((size_t)1 << 24) ? nbytes - done : (size_t)1 << 24;
        size_t got = znzread((char *)dst + done, 1, want, fp);
        if (got == 0 || got > want) { /* end of file, or a decompression error (negative) */
            znzclose(fp);
            return pf_fail(err, EIO, "%s: voxel data is truncated or corrupt (read %zu of %zu "
                           "bytes)", path, done, nbytes);
        }
        done += got;
    }
    znzclose(fp);
    return 0;
}

/* The bytes kept in front of the voxels in a read buffer: the header and extensions, which
 * the whole-file decode writes there. A vox_offset beyond 1 MiB (absurd, or extensions that
 * large) gets no room and is streamed, so a header cannot make patchfs allocate its offset. */
static size_t header_room(const nifti_image *nim)
{
    return nim->iname_offset > 0 && nim->iname_offset <= ((int64_t)1 << 20)
               ? (size_t)nim->iname_offset
               : 0;
}

/* The voxels into buf + room (buf holds room + nvox * nbyper bytes, room = header_room): a
 * .nii.gz decoded whole by libdeflate when it can be (gz_whole.h), anything else streamed. A
 * stream libdeflate finds damaged is streamed too, for zlib's message (how many bytes there
 * were); when zlib reads the voxels anyway, the damage is after them, and still an error. */
static int file_bytes(const char *path, const nifti_image *nim, uint8_t *buf, size_t room,
                      pf_error *err)
{
    const size_t need = room + (size_t)nim->nvox * (size_t)nim->nbyper;
    size_t got = 0;
    pf_gz_result r = PF_GZ_STREAM;
    if (nifti_is_gzfile(nim->iname) && nim->iname_offset == (int64_t)room) {
        r = pf_gz_decode_whole(nim->iname, buf, need, &got);
        if (r == PF_GZ_DECODED && got >= need)
            return 0;
    }
    if (stream_voxels(path, nim, buf + room, err))
        return -1;
    if (r == PF_GZ_DAMAGED)
        return pf_fail(err, EIO, "%s: gzip data is damaged after the voxels (a deflate error "
                       "or a CRC-32 mismatch)", path);
    return 0;
}

static void to_native_order(nifti_image *nim, void *voxels)
{
    if (nim->swapsize > 1 && nim->byteorder != nifti_short_order())
        nifti_swap_Nbytes(nim->nvox, nim->swapsize, voxels);
}

/* Reads the voxel bytes ourselves rather than with nifti_image_load: libnifti silently
 * replaces NaN and infinite floats by 0, which would hide a broken image. The whole file is
 * decoded into one buffer and the voxels moved to its start (a copy costs a fraction of the
 * inflate that a whole-buffer decoder saves). */
static int read_voxels(const char *path, nifti_image *nim, pf_error *err)
{
    const size_t nbytes = (size_t)nim->nvox * (size_t)nim->nbyper;
    const size_t off = header_room(nim), need = off + nbytes;
    uint8_t *buf = malloc(need ? need : 1);
    if (!buf)
        return pf_fail(err, ENOMEM, "%s: out of memory for %zu bytes of voxels", path, nbytes);
    if (file_bytes(path, nim, buf, off, err) != 0) {
        free(buf);
        return -1;
    }
    memmove(buf, buf + off, nbytes);
    nim->data = buf;
    to_native_order(nim, nim->data);
    return 0;
}

/* Compares the data size the header claims with what the file can hold (the file size for
 * .nii; gzip's ISIZE for large .nii.gz), so a tiny file claiming a huge volume is reported
 * as truncated before any allocation. Uses libnifti's parse, as the reader does. */
static int check_data_size(const char *path, const nifti_image *nim, pf_error *err)
{
    const int64_t need = nim->iname_offset + nim->nvox * (int64_t)nim->nbyper;
    struct stat st;
    if (!nifti_is_gzfile(nim->iname)) {
        if (stat(nim->iname, &st) == 0 && (int64_t)st.st_size < need)
            return pf_fail(err, EIO, "%s: voxel data is truncated (the file has %lld bytes, the "
                           "header needs %lld)", path, (long long)st.st_size, (long long)need);
    } else if (need > ((int64_t)256 << 20) && need < ((int64_t)1 << 32)) {
        /* gzip's trailer holds the uncompressed size mod 2^32 (of the last member: only
         * trusted for large claims, where allocating first would be the real harm) */
        unsigned char t[4];
        FILE *f = fopen(nim->iname, "rb");
        int short_stream = f && fseek(f, -4, SEEK_END) == 0 && fread(t, 1, 4, f) == 4 &&
                           (int64_t)rd(t, 4, 0) < need;
        if (f)
            fclose(f);
        if (short_stream)
            return pf_fail(err, EIO, "%s: voxel data is truncated (the gzip stream holds %lld "
                           "bytes, the header needs %lld)", path, (long long)rd(t, 4, 0),
                           (long long)need);
    }
    return 0;
}

static nifti_image *load_all(const char *path, pf_nifti_info *info, pf_error *err)
{
    nifti_image *nim = open_header(path, info, err);
    if (!nim)
        return NULL;
    if (check_data_size(path, nim, err) != 0) {
        nifti_image_free(nim);
        return NULL;
    }
    if (read_voxels(path, nim, err) != 0) {
        nifti_image_free(nim);
        return NULL;
    }
    return nim;
}

/* Value of voxel i as double, whatever the stored type. */
static inline double voxel_at(const nifti_image *nim, size_t i)
{
    const void *d = nim->data;
    switch (nim->datatype) {
    case DT_UINT8: return ((const uint8_t *)d)[i];
    case DT_INT8: return ((const int8_t *)d)[i];
    case DT_INT16: return ((const int16_t *)d)[i];
    case DT_UINT16: return ((const uint16_t *)d)[i];
    case DT_INT32: return ((const int32_t *)d)[i];
    case DT_UINT32: return ((const uint32_t *)d)[i];
    case DT_INT64: return (double)((const int64_t *)d)[i];
    case DT_UINT64: return (double)((const uint64_t *)d)[i];
    case DT_FLOAT32: return ((const float *)d)[i];
    case DT_FLOAT64: return ((const double *)d)[i];
    case DT_FLOAT128: return (double)((const long double *)d)[i];
    default: return 0.0;
    }
}

int pf_nifti_load_float(const char *path, pf_nifti_info *info, float **data, pf_error *err)
{
    nifti_image *nim = load_all(path, info, err);
    size_t n;
    float *out;
    double slope, inter;
    int scaled;
    if (!nim)
        return -1;
    n = (size_t)(info->nx * info->ny * info->nz * info->nt);
    out = malloc(n * sizeof *out);
    if (!out) {
        nifti_image_free(nim);
        return pf_fail(err, ENOMEM, "%s: out of memory for %zu voxels", path, n);
    }
    /* NIfTI: scl_slope == 0 (or not finite) means "no scaling". */
    slope = nim->scl_slope;
    inter = nim->scl_inter;
    scaled = isfinite(slope) && slope != 0.0 && isfinite(inter) && !(slope == 1.0 && inter == 0.0);
    if (nim->datatype == DT_FLOAT32 && !scaled) {
        memcpy(out, nim->data, n * sizeof *out);
    } else {
        for (size_t i = 0; i < n; i++) {
            double v = voxel_at(nim, i);
            out[i] = (float)(scaled ? v * slope + inter : v);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(out[i])) {
            int64_t x = (int64_t)(i % (size_t)info->nx);
            int64_t y = (int64_t)(i / (size_t)info->nx % (size_t)info->ny);
            int64_t z = (int64_t)(i / (size_t)(info->nx * info->ny) % (size_t)info->nz);
            pf_fail(err, EINVAL, "%s: voxel (x=%lld, y=%lld, z=%lld) is %s; images must be "
                    "finite", path, (long long)x, (long long)y, (long long)z,
                    isnan(out[i]) ? "NaN" : "infinite");
            free(out);
            nifti_image_free(nim);
            return -1;
        }
    }
    nifti_image_free(nim);
    *data = out;
    return 0;
}

/* The common unscaled label types in one typed loop each (the general path reads every voxel
 * through a switch, as a double: most of the time of an evaluation). 0 when every value was
 * in range and out is filled, -1 otherwise (the general path then names the first bad one). */
static int labels_fast(const nifti_image *nim, size_t n, int16_t *out)
{
    int bad = 0;
    switch (nim->datatype) {
    case DT_UINT8: {
        const uint8_t *v = nim->data;
        for (size_t i = 0; i < n; i++)
            out[i] = (int16_t)v[i];
        return 0;
    }
    case DT_INT16: {
        const int16_t *v = nim->data;
        for (size_t i = 0; i < n; i++) {
            bad |= v[i] < 0;
            out[i] = v[i];
        }
        return bad ? -1 : 0;
    }
    case DT_UINT16: {
        const uint16_t *v = nim->data;
        for (size_t i = 0; i < n; i++) {
            bad |= v[i] > 32767;
            out[i] = (int16_t)v[i];
        }
        return bad ? -1 : 0;
    }
    default:
        return -1;
    }
}

static int scaled_labels(const nifti_image *nim)
{
    const double slope = nim->scl_slope, inter = nim->scl_inter;
    return isfinite(slope) && slope != 0.0 && isfinite(inter) && !(slope == 1.0 && inter == 0.0);
}

/* nim->data's n voxels as int16 labels into out, scl_slope/inter applied; a value that is not
 * a whole number from 0 to 32767 is an error naming the file and the voxel. */
static int convert_labels(const char *path, const nifti_image *nim, const pf_nifti_info *info,
                          size_t n, int16_t *out, pf_error *err)
{
    const int scaled = scaled_labels(nim);
    if (!scaled && labels_fast(nim, n, out) == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        double v = voxel_at(nim, i);
        if (scaled)
            v = v * nim->scl_slope + nim->scl_inter;
        if (!(v >= 0.0 && v <= 32767.0) || v != floor(v)) {
            int64_t x = (int64_t)(i % (size_t)info->nx);
            int64_t y = (int64_t)(i / (size_t)info->nx % (size_t)info->ny);
            int64_t z = (int64_t)(i / (size_t)(info->nx * info->ny));
            return pf_fail(err, EINVAL, "%s: label value %g at voxel (x=%lld, y=%lld, z=%lld) "
                           "is not a whole number from 0 to 32767", path, v, (long long)x,
                           (long long)y, (long long)z);
        }
        out[i] = (int16_t)v;
    }
    return 0;
}

int pf_nifti_load_labels(const char *path, pf_nifti_info *info, int16_t **data, pf_error *err)
{
    nifti_image *nim = load_all(path, info, err);
    size_t n;
    int16_t *out;
    if (!nim)
        return -1;
    if (info->nt != 1) {
        nifti_image_free(nim);
        return pf_fail(err, EINVAL, "%s: a label map must be 3D, this one has %lld frames",
                       path, (long long)info->nt);
    }
    n = (size_t)(info->nx * info->ny * info->nz);
    out = malloc(n * sizeof *out);
    if (!out) {
        nifti_image_free(nim);
        return pf_fail(err, ENOMEM, "%s: out of memory for %zu voxels", path, n);
    }
    if (convert_labels(path, nim, info, n, out, err)) {
        free(out);
        nifti_image_free(nim);
        return -1;
    }
    nifti_image_free(nim);
    *data = out;
    return 0;
}

/* Grows *buf to at least need bytes (contents not kept), with room to spare: the next file
 * of a dataset is often a little larger, and a buffer kept is one whose pages are already
 * faulted in. Large buffers are aligned for transparent huge pages and asked to get them
 * (a 2 MiB page is one fault where 4 KiB pages are 512). */
static int reserve(void **buf, size_t *cap, size_t need)
{
    const size_t huge = (size_t)2 << 20;
    size_t want;
    void *p = NULL;
    if (*cap >= need)
        return 0;
    free(*buf);
    *buf = NULL;
    *cap = 0;
    want = need + need / 4;
    if (want >= huge) {
        want = (want + huge - 1) / huge * huge;
        if (posix_memalign(&p, huge, want) != 0)
            return -1;
        madvise(p, want, MADV_HUGEPAGE); /* a hint: refused (THP off), the pages are small */
    } else if (!(p = malloc(want ? want : 1))) {
        return -1;
    }
    *buf = p;
    *cap = want;
    return 0;
}

int pf_nifti_read_label_volume(const char *path, pf_label_volume *v, pf_error *err)
{
    nifti_image *nim = open_header(path, &v->info, err);
    size_t n, off, need;
    uint8_t *voxels;
    int rc = -1;
    v->u8 = NULL;
    v->i16 = NULL;
    v->n = 0;
    if (!nim)
        return -1;
    if (check_data_size(path, nim, err))
        goto out;
    if (v->info.nt != 1) {
        pf_fail(err, EINVAL, "%s: a label map must be 3D, this one has %lld frames", path,
                (long long)v->info.nt);
        goto out;
    }
    n = (size_t)(v->info.nx * v->info.ny * v->info.nz);
    off = header_room(nim);
    need = off + n * (size_t)nim->nbyper;
    if (reserve(&v->file, &v->file_cap, need)) {
        pf_fail(err, ENOMEM, "%s: out of memory for %zu bytes", path, need);
        goto out;
    }
    if (file_bytes(path, nim, v->file, off, err))
        goto out;
    voxels = (uint8_t *)v->file + off;
    if (nim->datatype == DT_UINT8 && !scaled_labels(nim)) {
        v->u8 = voxels; /* every byte is a label: no check, no copy */
    } else {
        /* wider values are read aligned: vox_offset need not be a multiple of their size */
        voxels = memmove(v->file, voxels, n * (size_t)nim->nbyper);
        to_native_order(nim, voxels);
        if (reserve((void **)&v->conv, &v->conv_cap, n * sizeof *v->conv)) {
            pf_fail(err, ENOMEM, "%s: out of memory for %zu voxels", path, n);
            goto out;
        }
        nim->data = voxels; /* lent to the converter, taken back before the free */
        rc = convert_labels(path, nim, &v->info, n, v->conv, err);
        nim->data = NULL;
        if (rc)
            goto out;
        v->i16 = v->conv;
    }
    v->n = n;
    rc = 0;
out:
    if (rc) /* a header claiming far more than its file holds leaves no large buffer kept */
        pf_label_volume_free(v);
    nifti_image_free(nim);
    return rc;
}

void pf_label_volume_free(pf_label_volume *v)
{
    free(v->file);
    free(v->conv);
    memset(v, 0, sizeof *v);
}
