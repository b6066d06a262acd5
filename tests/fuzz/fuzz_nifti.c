/* fuzz_nifti.c - libFuzzer target for the NIfTI loading path (nifti_load.h).
 *
 * Each input is a whole NIfTI file. It is written three ways into a per-process temporary
 * folder and read with pf_nifti_read_info, pf_nifti_load_float, pf_nifti_load_labels and
 * pf_nifti_read_label_volume:
 *   in.nii     the bytes as they are (uncompressed NIfTI-1/2 header + data);
 *   in.nii.gz  the bytes gzip-compressed (same content through zlib: differential check);
 *   raw.nii.gz the bytes as they are, when they start with the gzip magic (corrupt or
 *              truncated gzip streams).
 *
 * Properties checked (a violation aborts):
 *  - no out-of-bounds access, leak or undefined behaviour in patchfs on any input;
 *  - a failure leaves an error message that names the file, and no output array;
 *  - a success gives dimensions >= 1 within PF_NIFTI_MAX_DIM, a datatype patchfs supports,
 *    finite float voxels (NaN/Inf must be refused), labels in 0..32767 (3D only);
 *  - pf_nifti_read_info and the loaders report the same header information;
 *  - pf_nifti_read_label_volume (evaluate's reader) succeeds exactly when
 *    pf_nifti_load_labels does, with the same labels;
 *  - in.nii and in.nii.gz (same decompressed bytes) give the same result: both fail, or both
 *    succeed with identical information and identical voxels.
 *
 * Known open bug (tests/fuzz/regressions/fuzz_nifti/): a NIfTI-2 header whose dim[0] (in the
 * header's byte order) is above 7 crashes inside libnifti (nifti_convert_n2hdr2nim writes
 * past its 8-element dim array on the stack). With PF_FUZZ_SKIP_KNOWN=1 in the environment
 * such inputs are skipped, so a campaign can look for other bugs while that one is open. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "nifti_load.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[PATH_MAX];
static int g_skip_known;
static char g_nii[PATH_MAX], g_gz[PATH_MAX], g_raw[PATH_MAX];

static void die(const char *what, const char *path, const char *detail)
{
    fprintf(stderr, "fuzz_nifti: %s (%s)%s%s\n", what, path, detail ? ": " : "",
            detail ? detail : "");
    abort();
}

static void cleanup(void)
{
    unlink(g_nii);
    unlink(g_gz);
    unlink(g_raw);
    rmdir(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(g_dir, sizeof g_dir, "/tmp/pf-fuzz-nifti.XXXXXX");
    if (!mkdtemp(g_dir))
        die("mkdtemp failed", g_dir, NULL);
    snprintf(g_nii, sizeof g_nii, "%s/in.nii", g_dir);
    snprintf(g_gz, sizeof g_gz, "%s/in.nii.gz", g_dir);
    snprintf(g_raw, sizeof g_raw, "%s/raw.nii.gz", g_dir);
    atexit(cleanup);
    g_skip_known = getenv("PF_FUZZ_SKIP_KNOWN") && !strcmp(getenv("PF_FUZZ_SKIP_KNOWN"), "1");
    return 0;
}

/* The first bytes of the decompressed stream (or the bytes themselves if not gzip). */
static size_t head_bytes(const uint8_t *data, size_t size, uint8_t *out, size_t cap)
{
    z_stream zs;
    size_t n;
    if (size < 2 || data[0] != 0x1f || data[1] != 0x8b) {
        n = size < cap ? size : cap;
        memcpy(out, data, n);
        return n;
    }
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return 0;
    zs.next_in = (Bytef *)(uintptr_t)data;
    zs.avail_in = (uInt)size;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    inflate(&zs, Z_SYNC_FLUSH);
    n = cap - zs.avail_out;
    inflateEnd(&zs);
    return n;
}

/* A NIfTI-2 header (sizeof_hdr 540 in either byte order) whose dim[0], read in the byte order
 * sizeof_hdr gives (as libnifti swaps the header), is above 7. */
static int known_n2_dim0(const uint8_t *data, size_t size)
{
    uint8_t h[24];
    uint64_t d0 = 0;
    int le;
    if (head_bytes(data, size, h, sizeof h) < sizeof h)
        return 0;
    if (h[0] == 0x1c && h[1] == 0x02 && !h[2] && !h[3])
        le = 1;
    else if (h[3] == 0x1c && h[2] == 0x02 && !h[1] && !h[0])
        le = 0;
    else
        return 0;
    for (int i = 0; i < 8; i++)
        d0 = d0 << 8 | h[16 + (le ? 7 - i : i)];
    return (int64_t)d0 > 7;
}

static void write_plain(const char *path, const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) || close(fd) != 0)
        die("cannot write", path, strerror(errno));
}

static void write_gzip(const char *path, const uint8_t *data, size_t size)
{
    gzFile gz = gzopen(path, "wb1");
    if (!gz || (size && gzwrite(gz, data, (unsigned)size) != (int)size) || gzclose(gz) != Z_OK)
        die("cannot write", path, "gzip");
}

typedef struct result {
    int info_rc, float_rc, label_rc;
    pf_nifti_info info;
    float *img;
    int16_t *lab;
    size_t nvox;
} result;

static int same_info(const pf_nifti_info *a, const pf_nifti_info *b)
{
    return a->nx == b->nx && a->ny == b->ny && a->nz == b->nz && a->nt == b->nt &&
           a->datatype == b->datatype && a->nifti_version == b->nifti_version &&
           !memcmp(a->spacing, b->spacing, sizeof a->spacing) &&
           !memcmp(a->affine, b->affine, sizeof a->affine);
}

static void check_failure(int rc, const pf_error *err, const char *path, const void *out)
{
    if (rc != -1)
        die("return value neither 0 nor -1", path, NULL);
    if (!err->msg[0] || !strstr(err->msg, path))
        die("error message does not name the file", path, err->msg);
    if (out)
        die("output array set on failure", path, NULL);
}

static void check_info(const pf_nifti_info *in, const char *path)
{
    if (in->nx < 1 || in->ny < 1 || in->nz < 1 || in->nt < 1 || in->nx > PF_NIFTI_MAX_DIM ||
        in->ny > PF_NIFTI_MAX_DIM || in->nz > PF_NIFTI_MAX_DIM || in->nt > PF_NIFTI_MAX_DIM)
        die("accepted dimensions out of range", path, NULL);
    if (in->nifti_version != 1 && in->nifti_version != 2)
        die("nifti_version neither 1 nor 2", path, NULL);
    if (!pf_nifti_datatype_name(in->datatype))
        die("no name for the datatype", path, NULL);
}

static void run(const char *path, result *r)
{
    pf_error err;
    pf_nifti_info info;
    memset(r, 0, sizeof *r);

    memset(&err, 0, sizeof err);
    r->info_rc = pf_nifti_read_info(path, &r->info, &err);
    if (r->info_rc != 0)
        check_failure(r->info_rc, &err, path, NULL);
    else
        check_info(&r->info, path);

    memset(&err, 0, sizeof err);
    r->float_rc = pf_nifti_load_float(path, &info, &r->img, &err);
    if (r->float_rc != 0) {
        check_failure(r->float_rc, &err, path, r->img);
    } else {
        if (r->info_rc != 0 || !same_info(&info, &r->info))
            die("pf_nifti_load_float disagrees with pf_nifti_read_info", path, NULL);
        r->nvox = (size_t)(info.nx * info.ny * info.nz * info.nt);
        for (size_t i = 0; i < r->nvox; i++)
            if (!isfinite(r->img[i]))
                die("a non-finite voxel was accepted", path, NULL);
    }

    memset(&err, 0, sizeof err);
    r->label_rc = pf_nifti_load_labels(path, &info, &r->lab, &err);
    if (r->label_rc != 0) {
        check_failure(r->label_rc, &err, path, r->lab);
    } else {
        size_t n = (size_t)(info.nx * info.ny * info.nz);
        if (r->info_rc != 0 || !same_info(&info, &r->info))
            die("pf_nifti_load_labels disagrees with pf_nifti_read_info", path, NULL);
        if (info.nt != 1)
            die("a label map with several frames was accepted", path, NULL);
        for (size_t i = 0; i < n; i++) {
            if (r->lab[i] < 0)
                die("a negative label was accepted", path, NULL);
            /* every accepted label is the exact value loaded as float (same voxel) */
            if (r->float_rc == 0 && (float)r->lab[i] != r->img[i])
                die("label differs from the float value of the same voxel", path, NULL);
        }
    }

    /* evaluate's reader (buffers kept from input to input) agrees with the label loader */
    {
        static pf_label_volume v;
        int rc;
        memset(&err, 0, sizeof err);
        rc = pf_nifti_read_label_volume(path, &v, &err);
        if (rc != 0) {
            check_failure(rc, &err, path, NULL);
            if (r->label_rc == 0)
                die("pf_nifti_read_label_volume refused what pf_nifti_load_labels read", path,
                    err.msg);
        } else {
            if (r->label_rc != 0)
                die("pf_nifti_read_label_volume read what pf_nifti_load_labels refused", path,
                    NULL);
            if (!same_info(&v.info, &r->info) || (!v.u8 == !v.i16) ||
                v.n != (size_t)(v.info.nx * v.info.ny * v.info.nz))
                die("pf_nifti_read_label_volume's header or arrays disagree", path, NULL);
            for (size_t i = 0; i < v.n; i++)
                if ((v.u8 ? v.u8[i] : v.i16[i]) != r->lab[i])
                    die("pf_nifti_read_label_volume's labels differ", path, NULL);
        }
    }
}

static void release(result *r)
{
    free(r->img);
    free(r->lab);
}

static void compare(const result *a, const result *b, const char *what)
{
    if ((a->info_rc == 0) != (b->info_rc == 0) || (a->float_rc == 0) != (b->float_rc == 0) ||
        (a->label_rc == 0) != (b->label_rc == 0))
        die(".nii and .nii.gz of the same bytes differ in success", what, NULL);
    if (a->info_rc == 0 && !same_info(&a->info, &b->info))
        die(".nii and .nii.gz of the same bytes give different headers", what, NULL);
    if (a->float_rc == 0 && memcmp(a->img, b->img, a->nvox * sizeof(float)))
        die(".nii and .nii.gz of the same bytes give different voxels", what, NULL);
    if (a->label_rc == 0 &&
        memcmp(a->lab, b->lab, (size_t)(a->info.nx * a->info.ny * a->info.nz) * 2))
        die(".nii and .nii.gz of the same bytes give different labels", what, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    result plain, gz;
    if (g_skip_known && known_n2_dim0(data, size))
        return 0;
    write_plain(g_nii, data, size);
    run(g_nii, &plain);
    write_gzip(g_gz, data, size);
    run(g_gz, &gz);
    compare(&plain, &gz, "in.nii vs in.nii.gz");
    release(&plain);
    release(&gz);
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
        result raw;
        write_plain(g_raw, data, size);
        run(g_raw, &raw);
        release(&raw);
    }
    return 0;
}
