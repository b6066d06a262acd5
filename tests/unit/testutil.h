/* testutil.h - small helpers shared by the unit tests: temporary folders and their removal,
 * whole-file read/write, writing small NIfTI volumes with libnifti (any datatype, NIfTI-1 or
 * NIfTI-2, .nii or .nii.gz), writing a tiny nnU-Net raw dataset, building in-memory
 * pf_case values for sampler and extract tests, and a seeded random stream.
 *
 * Header-only: every helper is `static inline` so each test binary links on its own and unused
 * helpers raise no warnings. Helpers that cannot continue fail the running test via cmocka. */
#ifndef PATCHFS_TESTUTIL_H
#define PATCHFS_TESTUTIL_H

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <nifti2_io.h>

#include "cache.h"

/* ---- random numbers (splitmix64), one stream per test binary ---- */

/* The stream's state; tu_rng_seed sets it (a binary seeds it once, in main, so its tests
 * draw the same values in every run). */
static inline uint64_t *tu_rng_state(void)
{
    static uint64_t state = 0x9e3779b97f4a7c15u;
    return &state;
}

static inline void tu_rng_seed(uint64_t seed)
{
    *tu_rng_state() = seed;
}

static inline uint64_t tu_next_u64(void)
{
    uint64_t z = (*tu_rng_state() += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* uniform in [lo, hi) */
static inline double tu_uniform(double lo, double hi)
{
    return lo + (hi - lo) * (double)(tu_next_u64() >> 11) * 0x1p-53;
}

/* uniform in [lo, hi] */
static inline int tu_irange(int lo, int hi)
{
    return lo + (int)(tu_next_u64() % (uint64_t)(hi - lo + 1));
}

/* ---- files and folders ---- */

/* Creates a fresh folder /tmp/pftest-<what>.XXXXXX into out (PATH_MAX bytes). */
static inline void tu_mkdtemp(char *out, const char *what)
{
    snprintf(out, PATH_MAX, "/tmp/pftest-%s.XXXXXX", what);
    assert_non_null(mkdtemp(out));
}

static inline int tu_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* rm -rf path (no-op when it does not exist). */
static inline void tu_rm_rf(const char *path)
{
    nftw(path, tu_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* snprintf into a PATH_MAX buffer, failing the test on truncation. */
static inline __attribute__((format(printf, 2, 3))) void tu_path(char *out, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(out, PATH_MAX, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && n < PATH_MAX);
}

static inline void tu_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static inline void tu_write_text(const char *path, const char *text)
{
    tu_write_file(path, text, strlen(text));
}

/* Whole file into a malloc'd buffer; *len receives its size. */
static inline unsigned char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* XOR one byte of a file at offset with mask (in place). */
static inline void tu_flip_byte(const char *path, long offset, unsigned char mask)
{
    FILE *f = fopen(path, "r+b");
    int c;
    assert_non_null(f);
    assert_int_equal(fseek(f, offset, SEEK_SET), 0);
    c = fgetc(f);
    assert_true(c != EOF);
    assert_int_equal(fseek(f, offset, SEEK_SET), 0);
    assert_true(fputc(c ^ mask, f) != EOF);
    assert_int_equal(fclose(f), 0);
}

/* ---- NIfTI ---- */

/* Stores value v as element i of a buffer of NIfTI datatype dt. */
static inline void tu_store(void *data, int dt, size_t i, double v)
{
    switch (dt) {
    case DT_UINT8: ((uint8_t *)data)[i] = (uint8_t)v; break;
    case DT_INT8: ((int8_t *)data)[i] = (int8_t)v; break;
    case DT_INT16: ((int16_t *)data)[i] = (int16_t)v; break;
    case DT_UINT16: ((uint16_t *)data)[i] = (uint16_t)v; break;
    case DT_INT32: ((int32_t *)data)[i] = (int32_t)v; break;
    case DT_UINT32: ((uint32_t *)data)[i] = (uint32_t)v; break;
    case DT_INT64: ((int64_t *)data)[i] = (int64_t)v; break;
    case DT_UINT64: ((uint64_t *)data)[i] = (uint64_t)v; break;
    case DT_FLOAT32: ((float *)data)[i] = (float)v; break;
    case DT_FLOAT64: ((double *)data)[i] = v; break;
    default: fail_msg("tu_store: unsupported datatype %d", dt);
    }
}

typedef struct tu_nifti_opts {
    int version;              /* 1 (default when 0) or 2 */
    double slope, inter;      /* scl_slope/scl_inter; slope 0 = none */
    double spacing[3];        /* x, y, z; all 0 = 1 mm */
} tu_nifti_opts;

/* Writes a volume nx*ny*nz*nt (nt 1 = 3D) whose storage-order values (x fastest) are
 * values[i], converted to datatype dt. The extension of path (.nii / .nii.gz) picks the
 * compression. */
static inline void tu_write_nifti_ex(const char *path, int dt, int64_t nx, int64_t ny,
                                     int64_t nz, int64_t nt, const double *values,
                                     const tu_nifti_opts *o)
{
    int64_t dims[8] = {nt > 1 ? 4 : 3, nx, ny, nz, nt > 1 ? nt : 1, 1, 1, 1};
    nifti_image *nim;
    size_t n = (size_t)(nx * ny * nz * (nt > 1 ? nt : 1));
    int version = o && o->version ? o->version : 1;

    nifti_set_debug_level(0);
    nim = nifti_make_new_nim(dims, dt, 1);
    assert_non_null(nim);
    for (size_t i = 0; i < n; i++)
        tu_store(nim->data, dt, i, values[i]);
    if (o && (o->spacing[0] || o->spacing[1] || o->spacing[2])) {
        nim->dx = nim->pixdim[1] = o->spacing[0];
        nim->dy = nim->pixdim[2] = o->spacing[1];
        nim->dz = nim->pixdim[3] = o->spacing[2];
    }
    nim->scl_slope = o ? o->slope : 0.0;
    nim->scl_inter = o ? o->inter : 0.0;
    if (version == 2) {
        /* libnifti 3.0.1's nifti_image_write always writes NIfTI-1 when the image fits, so a
         * NIfTI-2 file is written by hand: its header from the library, then the 4-byte
         * extension flag, then the voxels at offset 544 (gzip'd for .nii.gz). */
        nifti_2_header h;
        const char ext[4] = {0, 0, 0, 0};
        size_t len = strlen(path);
        znzFile fp;
        nim->nifti_type = NIFTI_FTYPE_NIFTI2_1;
        nim->iname_offset = 544;
        assert_int_equal(sizeof h, 540);
        assert_int_equal(nifti_convert_nim2n2hdr(nim, &h), 0);
        memcpy(h.magic, "n+2\0\r\n\032\n", 8);
        h.vox_offset = 544;
        fp = znzopen(path, "wb", len > 3 && !strcmp(path + len - 3, ".gz"));
        assert_false(znz_isnull(fp));
        assert_int_equal(znzwrite(&h, 1, sizeof h, fp), sizeof h);
        assert_int_equal(znzwrite(ext, 1, 4, fp), 4);
        assert_int_equal(znzwrite(nim->data, (size_t)nim->nbyper, n, fp), n);
        znzclose(fp);
    } else {
        nim->nifti_type = NIFTI_FTYPE_NIFTI1_1;
        assert_int_equal(nifti_set_filenames(nim, path, 0, 1), 0);
        nifti_image_write(nim);
    }
    nifti_image_free(nim);
    {
        struct stat sb;
        assert_int_equal(stat(path, &sb), 0);
    }
}

static inline void tu_write_nifti(const char *path, int dt, int64_t nx, int64_t ny, int64_t nz,
                                  const double *values)
{
    tu_write_nifti_ex(path, dt, nx, ny, nz, 1, values, NULL);
}

/* ---- a tiny nnU-Net raw dataset ---- */

/* One case of a single-channel dataset: image and label in storage order (x fastest). */
typedef struct tu_raw_case {
    const char *id;
    int64_t nx, ny, nz;
    const double *image;   /* float32 on disk */
    const double *label;   /* uint8 on disk */
    double spacing[3];     /* x, y, z in mm; all 0 = 1 mm */
} tu_raw_case;

/* Writes root/dataset.json (one "MR" channel, labels background=0 and 1..n_labels-1) and
 * imagesTr/<id>_0000.nii.gz, labelsTr/<id>.nii.gz for each case. */
static inline void tu_write_raw_dataset(const char *root, const tu_raw_case *cases, int n,
                                        int n_labels)
{
    char path[PATH_MAX], json[2048];
    int len;
    assert_true(mkdir(root, 0700) == 0 || errno == EEXIST);
    tu_path(path, "%s/imagesTr", root);
    assert_int_equal(mkdir(path, 0700), 0);
    tu_path(path, "%s/labelsTr", root);
    assert_int_equal(mkdir(path, 0700), 0);
    len = snprintf(json, sizeof json, "{\n  \"channel_names\": {\"0\": \"MR\"},\n"
                   "  \"labels\": {\"background\": 0");
    for (int k = 1; k < n_labels; k++)
        len += snprintf(json + len, sizeof json - (size_t)len, ", \"class%d\": %d", k, k);
    snprintf(json + len, sizeof json - (size_t)len,
             "},\n  \"numTraining\": %d,\n  \"file_ending\": \".nii.gz\"\n}\n", n);
    tu_path(path, "%s/dataset.json", root);
    tu_write_text(path, json);
    for (int i = 0; i < n; i++) {
        const tu_raw_case *c = &cases[i];
        tu_nifti_opts o = {.version = 1};
        memcpy(o.spacing, c->spacing, sizeof o.spacing);
        tu_path(path, "%s/imagesTr/%s_0000.nii.gz", root, c->id);
        tu_write_nifti_ex(path, DT_FLOAT32, c->nx, c->ny, c->nz, 1, c->image, &o);
        tu_path(path, "%s/labelsTr/%s.nii.gz", root, c->id);
        tu_write_nifti_ex(path, DT_UINT8, c->nx, c->ny, c->nz, 1, c->label, &o);
    }
}

/* ---- in-memory cases ---- */

/* A pf_case of shape (Z, Y, X) with nch zeroed channels and a zeroed seg, its arrays owned by
 * the case (free with tu_case_free) and published as its mapping (one not backed by a file:
 * base NULL, nothing to release or guard). Returns the writable image and seg through the
 * pointers (either may be NULL). */
static inline void tu_case_init(pf_case *c, int64_t Z, int64_t Y, int64_t X, int nch,
                                float **image, int16_t **seg)
{
    size_t n = (size_t)(Z * Y * X);
    float *im = calloc(n * (size_t)(nch > 0 ? nch : 1), sizeof *im);
    int16_t *sg = calloc(n ? n : 1, sizeof *sg);
    pf_case_map *m = calloc(1, sizeof *m);
    assert_non_null(im);
    assert_non_null(sg);
    assert_non_null(m);
    memset(c, 0, sizeof *c);
    c->hdr.shape[0] = Z;
    c->hdr.shape[1] = Y;
    c->hdr.shape[2] = X;
    c->hdr.n_channels = (uint32_t)nch;
    m->image = im;
    m->seg16 = sg;
    m->slot = -1;
    c->map = m;
    if (image)
        *image = im;
    if (seg)
        *seg = sg;
}

/* Sets the case's class table: class k has label labels[k] and n_locs[k] stored (z, y, x)
 * triples, taken in order from locs (3 * sum(n_locs) values). Copies everything. */
static inline void tu_case_set_classes(pf_case *c, int nc, const int *labels,
                                       const int *n_locs, const int32_t *locs)
{
    pf_class_row *rows = calloc((size_t)(nc ? nc : 1), sizeof *rows);
    uint64_t total = 0;
    int32_t *lc;
    assert_non_null(rows);
    for (int k = 0; k < nc; k++) {
        rows[k].label = labels[k];
        rows[k].voxels = (uint64_t)n_locs[k];
        rows[k].n_locs = (uint64_t)n_locs[k];
        rows[k].locs_index = total;
        total += (uint64_t)n_locs[k];
    }
    lc = malloc((size_t)(total ? total : 1) * 3 * sizeof *lc);
    assert_non_null(lc);
    if (total)
        memcpy(lc, locs, (size_t)total * 3 * sizeof *lc);
    c->hdr.n_classes = (uint32_t)nc;
    c->classes = rows;
    c->map->locs = lc;
    c->locs = lc;
}

/* The arrays of an in-memory case (what tu_case_init published). */
static inline const float *tu_case_image(const pf_case *c)
{
    return pf_case_map_get(c)->image;
}

static inline const int16_t *tu_case_seg(const pf_case *c)
{
    return pf_case_map_get(c)->seg16;
}

static inline void tu_case_free(pf_case *c)
{
    pf_case_map *m = c->map;
    free((void *)m->image);
    free((void *)m->seg16);
    free((void *)m->seg8);
    free((void *)m->locs);
    free(m);
    free((void *)c->classes);
    memset(c, 0, sizeof *c);
}

#endif
