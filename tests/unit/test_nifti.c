/* test_nifti.c - reading NIfTI volumes (nifti_load.h): every supported datatype from .nii and
 * .nii.gz, NIfTI-1 and NIfTI-2, read back as float32 in storage order (x fastest, i.e. C order
 * (Z, Y, X)); scl_slope/scl_inter; label maps (integral values only, float-stored accepted);
 * and rejection, with a message naming the file, of NaN/Inf images, non-NIfTI files, absurd
 * header sizes (before any voxel memory) and truncated gzip data; the gzip forms a .nii.gz
 * can take (members, trailing bytes) and the label volumes evaluate reads. */
#include "testutil.h"

#include <zlib.h>

#include "nifti_load.h"

enum { NX = 4, NY = 3, NZ = 2, NV = NX * NY * NZ };

typedef struct fixture {
    char dir[PATH_MAX];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    tu_mkdtemp(f->dir, "nifti");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tu_rm_rf(f->dir);
    free(f);
    return 0;
}

/* Value at voxel (x, y, z) for a datatype: distinct per voxel, negative for signed types,
 * and one voxel (the last) at the type's extreme to check wide types convert exactly as a
 * C cast to float does. */
static double voxel_value(int dt, int x, int y, int z)
{
    int i = x + NX * (y + NY * z); /* NIfTI storage index: x fastest */
    int is_signed = dt == DT_INT8 || dt == DT_INT16 || dt == DT_INT32 || dt == DT_INT64 ||
                    dt == DT_FLOAT32 || dt == DT_FLOAT64;
    if (i == NV - 1)
        switch (dt) {
        case DT_UINT8: return 255;
        case DT_INT8: return -128;
        case DT_INT16: return -32768;
        case DT_UINT16: return 65535;
        case DT_INT32: return -2147483648.0;
        case DT_UINT32: return 4294967295.0;
        case DT_INT64: return -1099511627776.0; /* -2^40 */
        case DT_UINT64: return 18014398509481984.0; /* 2^54 */
        case DT_FLOAT32: return 3.25e30;
        case DT_FLOAT64: return -1.5e-3;
        default: break;
        }
    return x + 4 * y + 12 * z - (is_signed ? 12 : 0) + (dt == DT_FLOAT64 ? 0.125 : 0) +
           (dt == DT_FLOAT32 ? 0.5 : 0);
}

static void test_all_datatypes(void **state)
{
    const fixture *f = *state;
    static const int types[] = {DT_UINT8, DT_INT8, DT_INT16, DT_UINT16, DT_INT32,
                                DT_UINT32, DT_INT64, DT_UINT64, DT_FLOAT32, DT_FLOAT64};
    static const char *const exts[] = {".nii", ".nii.gz"};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
        for (int e = 0; e < 2; e++)
            for (int version = 1; version <= 2; version++) {
                const int dt = types[t];
                char path[PATH_MAX];
                double values[NV];
                tu_nifti_opts o = {.version = version, .spacing = {0.5, 0.75, 2.0}};
                pf_nifti_info info;
                pf_error err = {0};
                float *data = NULL;
                for (int z = 0; z < NZ; z++)
                    for (int y = 0; y < NY; y++)
                        for (int x = 0; x < NX; x++)
                            values[x + NX * (y + NY * z)] = voxel_value(dt, x, y, z);
                tu_path(path, "%s/v%d_%s%s", f->dir, version, pf_nifti_datatype_name(dt),
                        exts[e]);
                tu_write_nifti_ex(path, dt, NX, NY, NZ, 1, values, &o);
                if (pf_nifti_load_float(path, &info, &data, &err) != 0)
                    fail_msg("%s: %s", path, err.msg);
                assert_int_equal(info.nx, NX);
                assert_int_equal(info.ny, NY);
                assert_int_equal(info.nz, NZ);
                assert_int_equal(info.nt, 1);
                assert_int_equal(info.datatype, dt);
                assert_true(info.spacing[0] == 0.5 && info.spacing[1] == 0.75 &&
                            info.spacing[2] == 2.0);
                /* C order (Z, Y, X): index (z * NY + y) * NX + x holds voxel (x, y, z) */
                for (int z = 0; z < NZ; z++)
                    for (int y = 0; y < NY; y++)
                        for (int x = 0; x < NX; x++) {
                            float want = (float)voxel_value(dt, x, y, z);
                            float got = data[(z * NY + y) * NX + x];
                            if (got != want)
                                fail_msg("%s: voxel (%d, %d, %d) is %.9g, want %.9g", path, x,
                                         y, z, got, want);
                        }
                free(data);
            }
}

static void test_scaling_applied(void **state)
{
    const fixture *f = *state;
    static const int types[] = {DT_INT16, DT_UINT8, DT_FLOAT32};
    for (size_t t = 0; t < 3; t++) {
        char path[PATH_MAX];
        double values[NV];
        tu_nifti_opts o = {.slope = 2.0, .inter = -1.0};
        pf_nifti_info info;
        pf_error err = {0};
        float *data;
        int16_t *labels;
        for (int i = 0; i < NV; i++)
            values[i] = i;
        tu_path(path, "%s/scaled%zu.nii.gz", f->dir, t);
        tu_write_nifti_ex(path, types[t], NX, NY, NZ, 1, values, &o);
        assert_int_equal(pf_nifti_load_float(path, &info, &data, &err), 0);
        for (int i = 0; i < NV; i++)
            assert_true(data[i] == (float)(2.0 * i - 1.0));
        free(data);
        /* labels are scaled too: 2i - 1 is -1 at voxel 0, which is not a label */
        assert_int_equal(pf_nifti_load_labels(path, &info, &labels, &err), -1);
        assert_non_null(strstr(err.msg, path));
    }
}

/* A negative pixdim (a flipped axis written by some converters) gives its absolute value as
 * the spacing, as nnU-Net's readers report it (SimpleITK's spacing is never negative). */
static void test_negative_pixdim_spacing(void **state)
{
    const fixture *f = *state;
    char path[PATH_MAX];
    double values[NV];
    tu_nifti_opts o = {.spacing = {-1.5, 2.0, -3.25}};
    pf_nifti_info info;
    pf_error err = {0};
    for (int i = 0; i < NV; i++)
        values[i] = i;
    float pixdim[3];
    FILE *fp;
    tu_path(path, "%s/negative_pixdim.nii", f->dir);
    tu_write_nifti_ex(path, DT_FLOAT32, NX, NY, NZ, 1, values, &o);
    /* the writer may store |pixdim|: the header's pixdim[1..3] (bytes 80..91, a float32 each,
     * NIfTI-1) are set negative by hand, and checked to be so */
    fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 80, SEEK_SET), 0);
    assert_int_equal(fread(pixdim, sizeof(float), 3, fp), 3);
    assert_true(fabsf(pixdim[0]) == 1.5f && fabsf(pixdim[2]) == 3.25f);
    pixdim[0] = -1.5f;
    pixdim[2] = -3.25f;
    assert_int_equal(fseek(fp, 80, SEEK_SET), 0);
    assert_int_equal(fwrite(pixdim, sizeof(float), 3, fp), 3);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(pf_nifti_read_info(path, &info, &err), 0);
    assert_true(info.spacing[0] == 1.5 && info.spacing[1] == 2.0 && info.spacing[2] == 3.25);
}

static void write_labels(const fixture *f, const char *name, int dt, const double *values,
                         char *path)
{
    tu_path(path, "%s/%s", f->dir, name);
    tu_write_nifti(path, dt, NX, NY, NZ, values);
}

static void test_labels(void **state)
{
    const fixture *f = *state;
    char path[PATH_MAX];
    double values[NV];
    pf_nifti_info info;
    pf_error err = {0};
    int16_t *lab;
    for (int i = 0; i < NV; i++)
        values[i] = i % 3; /* 0.0, 1.0, 2.0 */
    write_labels(f, "float_ok.nii.gz", DT_FLOAT32, values, path);
    assert_int_equal(pf_nifti_load_labels(path, &info, &lab, &err), 0);
    for (int i = 0; i < NV; i++)
        assert_int_equal(lab[i], i % 3);
    free(lab);
    write_labels(f, "u8_ok.nii", DT_UINT8, values, path);
    assert_int_equal(pf_nifti_load_labels(path, &info, &lab, &err), 0);
    for (int i = 0; i < NV; i++)
        assert_int_equal(lab[i], i % 3);
    free(lab);
    /* 32767 is the largest label */
    values[5] = 32767;
    write_labels(f, "u16_max.nii.gz", DT_UINT16, values, path);
    assert_int_equal(pf_nifti_load_labels(path, &info, &lab, &err), 0);
    assert_int_equal(lab[5], 32767);
    free(lab);
    /* rejected, naming the file */
    {
        static const struct { const char *name; int dt; int at; double v; } bad[] = {
            {"half.nii.gz", DT_FLOAT32, 7, 1.5},
            {"neg.nii.gz", DT_FLOAT32, 0, -1.0},
            {"neg_i16.nii", DT_INT16, 23, -1.0},
            {"big.nii.gz", DT_UINT16, 3, 32768.0},
            {"f64.nii.gz", DT_FLOAT64, 11, 2.0000001},
        };
        for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
            for (int i = 0; i < NV; i++)
                values[i] = i % 3;
            values[bad[b].at] = bad[b].v;
            write_labels(f, bad[b].name, bad[b].dt, values, path);
            lab = NULL;
            memset(&err, 0, sizeof err);
            if (pf_nifti_load_labels(path, &info, &lab, &err) != -1)
                fail_msg("%s with a label %g was accepted", bad[b].name, bad[b].v);
            assert_null(lab);
            assert_non_null(strstr(err.msg, path));
        }
    }
    /* a 4D label map is refused */
    {
        double v4[NV * 2] = {0};
        tu_path(path, "%s/lab4d.nii.gz", f->dir);
        tu_write_nifti_ex(path, DT_UINT8, NX, NY, NZ, 2, v4, NULL);
        assert_int_equal(pf_nifti_load_labels(path, &info, &lab, &err), -1);
        assert_non_null(strstr(err.msg, path));
    }
}

static void test_non_finite_rejected(void **state)
{
    const fixture *f = *state;
    const double specials[] = {NAN, INFINITY, -INFINITY};
    for (int s = 0; s < 3; s++)
        for (int dt = 0; dt < 2; dt++) {
            char path[PATH_MAX];
            double values[NV];
            pf_nifti_info info;
            pf_error err = {0};
            float *data = NULL;
            for (int i = 0; i < NV; i++)
                values[i] = i;
            values[13] = specials[s]; /* x = 1, y = 0, z = 1 */
            tu_path(path, "%s/nonfinite%d_%d.nii.gz", f->dir, s, dt);
            tu_write_nifti(path, dt ? DT_FLOAT64 : DT_FLOAT32, NX, NY, NZ, values);
            if (pf_nifti_load_float(path, &info, &data, &err) != -1)
                fail_msg("%s: a %s voxel in a %s image was accepted and loaded as %g", path,
                         s == 0 ? "NaN" : "infinite", dt ? "float64" : "float32", data[13]);
            assert_null(data);
            assert_non_null(strstr(err.msg, path));
            assert_non_null(strstr(err.msg, s == 0 ? "NaN" : "infinite"));
            assert_non_null(strstr(err.msg, "x=1, y=0, z=1"));
        }
}

/* Finite stored values that scaling makes infinite (3e38 * 2 overflows float32) are caught. */
static void test_scaled_overflow_rejected(void **state)
{
    const fixture *f = *state;
    char path[PATH_MAX];
    double values[NV] = {0};
    tu_nifti_opts o = {.slope = 2.0, .inter = 0.0};
    pf_nifti_info info;
    pf_error err = {0};
    float *data = NULL;
    values[NV - 1] = 3e38;
    tu_path(path, "%s/overflow.nii.gz", f->dir);
    tu_write_nifti_ex(path, DT_FLOAT32, NX, NY, NZ, 1, values, &o);
    assert_int_equal(pf_nifti_load_float(path, &info, &data, &err), -1);
    assert_null(data);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "infinite"));
    assert_non_null(strstr(err.msg, "x=3, y=2, z=1"));
}

static void test_not_nifti(void **state)
{
    const fixture *f = *state;
    char path[PATH_MAX];
    pf_nifti_info info;
    pf_error err = {0};
    float *data = NULL;
    tu_path(path, "%s/x.nii", f->dir);
    tu_write_text(path, "this is a text file, not a NIfTI volume\n");
    assert_int_equal(pf_nifti_read_info(path, &info, &err), -1);
    assert_non_null(strstr(err.msg, path));
    memset(&err, 0, sizeof err);
    assert_int_equal(pf_nifti_load_float(path, &info, &data, &err), -1);
    assert_null(data);
    assert_non_null(strstr(err.msg, path));
    /* an empty file and a missing one */
    tu_path(path, "%s/empty.nii.gz", f->dir);
    tu_write_file(path, "", 0);
    assert_int_equal(pf_nifti_read_info(path, &info, &err), -1);
    assert_non_null(strstr(err.msg, path));
    tu_path(path, "%s/missing.nii.gz", f->dir);
    assert_int_equal(pf_nifti_read_info(path, &info, &err), -1);
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(err.errnum, ENOENT);
}

/* Writes a bare NIfTI-2 header (no voxel data) claiming nx * ny * nz float32 voxels. */
static void write_n2_header(const char *path, int64_t nx, int64_t ny, int64_t nz)
{
    const int64_t dims[8] = {3, nx, ny, nz, 1, 1, 1, 1};
    nifti_2_header *h = nifti_make_new_n2_header(dims, DT_FLOAT32);
    const char ext[4] = {0, 0, 0, 0};
    FILE *fp;
    assert_non_null(h);
    assert_int_equal(h->sizeof_hdr, 540);
    h->vox_offset = 544;
    memcpy(h->magic, "n+2\0\r\n\032\n", 8);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(h, sizeof *h, 1, fp), 1);
    assert_int_equal(fwrite(ext, 1, 4, fp), 4);
    fclose(fp);
    free(h);
}

static void test_absurd_header_rejected(void **state)
{
    const fixture *f = *state;
    char path[PATH_MAX];
    pf_nifti_info info;
    pf_error err = {0};
    float *data = NULL;
    /* 100000 per axis: beyond PF_NIFTI_MAX_DIM; the file holds no voxels at all, so only the
     * header check can produce a "header claims" message (not a truncation) */
    tu_path(path, "%s/huge.nii", f->dir);
    write_n2_header(path, 100000, 100000, 100000);
    assert_int_equal(pf_nifti_read_info(path, &info, &err), -1);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "header claims"));
    memset(&err, 0, sizeof err);
    assert_int_equal(pf_nifti_load_float(path, &info, &data, &err), -1);
    assert_null(data);
    assert_non_null(strstr(err.msg, "header claims"));
    /* each axis allowed, but 60000^3 float32 is far past PF_NIFTI_MAX_BYTES */
    tu_path(path, "%s/huge2.nii", f->dir);
    write_n2_header(path, 60000, 60000, 60000);
    memset(&err, 0, sizeof err);
    assert_int_equal(pf_nifti_read_info(path, &info, &err), -1);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "header claims"));
    assert_int_equal(err.errnum, EFBIG);
    /* a sane header written the same way reads fine (the helper itself is right) */
    tu_path(path, "%s/small_hdr.nii", f->dir);
    write_n2_header(path, 3, 4, 5);
    assert_int_equal(pf_nifti_read_info(path, &info, &err), 0);
    assert_int_equal(info.nx, 3);
    assert_int_equal(info.nz, 5);
}

/* pf_nifti_info.nifti_version reports the file's format. The files' versions are confirmed
 * first with libnifti's own nifti_read_header. */
static void test_reports_nifti_version(void **state)
{
    const fixture *f = *state;
    static const char *const exts[] = {".nii", ".nii.gz"};
    double values[NV] = {0};
    for (int version = 1; version <= 2; version++)
        for (int e = 0; e < 2; e++) {
            char path[PATH_MAX];
            tu_nifti_opts o = {.version = version};
            pf_nifti_info info;
            pf_error err = {0};
            int nver = 0;
            void *hdr;
            tu_path(path, "%s/ver%d%s", f->dir, version, exts[e]);
            tu_write_nifti_ex(path, DT_INT16, NX, NY, NZ, 1, values, &o);
            hdr = nifti_read_header(path, &nver, 1);
            assert_non_null(hdr);
            free(hdr);
            assert_int_equal(nver, version);
            assert_int_equal(pf_nifti_read_info(path, &info, &err), 0);
            if (info.nifti_version != version)
                fail_msg("%s is NIfTI-%d but pf_nifti_read_info reports nifti_version %d",
                         path, version, info.nifti_version);
        }
}

static void test_truncated_rejected(void **state)
{
    const fixture *f = *state;
    enum { S = 24 };
    static double values[S * S * S];
    static const char *const exts[] = {".nii.gz", ".nii"};
    uint64_t x = 12345;
    for (int i = 0; i < S * S * S; i++) { /* noise, so gzip cannot shrink it much */
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        values[i] = (double)(x >> 40);
    }
    for (int e = 0; e < 2; e++) {
        char path[PATH_MAX];
        unsigned char *bytes;
        size_t len;
        pf_nifti_info info;
        pf_error err = {0};
        float *data = NULL;
        tu_path(path, "%s/cut%s", f->dir, exts[e]);
        tu_write_nifti(path, DT_FLOAT32, S, S, S, values);
        assert_int_equal(pf_nifti_load_float(path, &info, &data, &err), 0);
        free(data);
        data = NULL;
        bytes = tu_read_file(path, &len);
        assert_true(len > 10000);
        tu_write_file(path, bytes, len / 2);
        free(bytes);
        assert_int_equal(pf_nifti_load_float(path, &info, &data, &err), -1);
        assert_null(data);
        assert_non_null(strstr(err.msg, path));
    }
}

/* One gzip member of data[0..n) appended to out at *len (zlib's deflate, gzip wrapper). */
static void gz_member(const void *data, size_t n, unsigned char *out, size_t *len, size_t cap)
{
    z_stream z = {0};
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (unsigned char *)(uintptr_t)data;
    z.avail_in = (uInt)n;
    z.next_out = out + *len;
    z.avail_out = (uInt)(cap - *len);
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *len = cap - z.avail_out;
    deflateEnd(&z);
}

/* The labels of path, read both ways (pf_nifti_load_labels, pf_nifti_read_label_volume into
 * v, kept between calls), equal want[] (values < 256 in a uint8 file: read as stored). */
static void expect_labels(const char *path, pf_label_volume *v, const int *want, int n, int u8)
{
    pf_nifti_info info;
    pf_error err = {0};
    int16_t *lab = NULL;
    if (pf_nifti_load_labels(path, &info, &lab, &err))
        fail_msg("%s: %s", path, err.msg);
    if (pf_nifti_read_label_volume(path, v, &err))
        fail_msg("%s: %s", path, err.msg);
    assert_int_equal(v->n, n);
    assert_true(u8 ? v->u8 != NULL && v->i16 == NULL : v->u8 == NULL && v->i16 != NULL);
    for (int i = 0; i < n; i++) {
        assert_int_equal(lab[i], want[i]);
        assert_int_equal(u8 ? v->u8[i] : v->i16[i], want[i]);
    }
    free(lab);
}

/* The gzip forms a .nii.gz can take, each read to the same labels: one member (libdeflate
 * decodes it whole), two members (`cat a.gz b.gz`), bytes after the last member that are not
 * gzip (zlib ignores them), a file longer than its voxels (read with zlib); a damaged member
 * is an error naming the file, whichever reader meets it. Other types convert to int16. */
static void test_gzip_forms(void **state)
{
    const fixture *f = *state;
    /* larger than zlib's read-ahead for the header (16 KiB): the stream is read to its end,
     * and its check met, only when the voxels are */
    enum { BX = 40, BY = 30, BZ = 30, N = BX * BY * BZ };
    static double values[N];
    static int want[N];
    static unsigned char gz[1 << 17], longer[N + 1024];
    char plain[PATH_MAX], path[PATH_MAX];
    unsigned char *raw;
    size_t n_raw, len;
    pf_label_volume v = {0};
    pf_error err = {0};
    for (int i = 0; i < N; i++)
        want[i] = (int)(values[i] = (i * 7 + i / 13) % 5);
    tu_path(plain, "%s/plain.nii", f->dir);
    tu_write_nifti(plain, DT_UINT8, BX, BY, BZ, values);
    expect_labels(plain, &v, want, N, 1);
    raw = tu_read_file(plain, &n_raw);
    tu_path(path, "%s/one.nii.gz", f->dir);
    tu_write_nifti(path, DT_UINT8, BX, BY, BZ, values);
    expect_labels(path, &v, want, N, 1);
    len = 0; /* two members, split inside the voxels */
    gz_member(raw, n_raw - 1000, gz, &len, sizeof gz);
    gz_member(raw + n_raw - 1000, 1000, gz, &len, sizeof gz);
    tu_path(path, "%s/two.nii.gz", f->dir);
    tu_write_file(path, gz, len);
    expect_labels(path, &v, want, N, 1);
    memset(gz + len, 0, 7); /* then zero padding */
    tu_write_file(path, gz, len + 7);
    expect_labels(path, &v, want, N, 1);
    /* a file longer than header + voxels: more data than the reader makes room for */
    assert_true(n_raw + 100 <= sizeof longer);
    memcpy(longer, raw, n_raw);
    memset(longer + n_raw, 9, 100);
    len = 0;
    gz_member(longer, n_raw + 100, gz, &len, sizeof gz);
    tu_path(path, "%s/longer.nii.gz", f->dir);
    tu_write_file(path, gz, len);
    expect_labels(path, &v, want, N, 1);
    /* a damaged member: its CRC-32 no longer matches */
    len = 0;
    gz_member(raw, n_raw, gz, &len, sizeof gz);
    gz[len - 6] ^= 0x5a;
    tu_path(path, "%s/crc.nii.gz", f->dir);
    tu_write_file(path, gz, len);
    assert_int_equal(pf_nifti_read_label_volume(path, &v, &err), -1);
    assert_non_null(strstr(err.msg, path));
    free(raw);
    /* int16 and float32 label maps: converted to int16 */
    tu_path(path, "%s/i16.nii.gz", f->dir);
    tu_write_nifti(path, DT_INT16, BX, BY, BZ, values);
    expect_labels(path, &v, want, N, 0);
    tu_path(path, "%s/f32.nii.gz", f->dir);
    tu_write_nifti(path, DT_FLOAT32, BX, BY, BZ, values);
    expect_labels(path, &v, want, N, 0);
    expect_labels(plain, &v, want, N, 1); /* and back: the kept buffers serve any type */
    pf_label_volume_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_all_datatypes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scaling_applied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_finite_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scaled_overflow_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_nifti, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absurd_header_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reports_nifti_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_negative_pixdim_spacing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_forms, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
