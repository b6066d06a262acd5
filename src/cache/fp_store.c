/* fp_store.c - per-case fingerprint records in the cache folder (see fp_store.h).
 *
 * A record: a fixed header (magic, version, key, geometry, the number of distinct values per
 * channel, an XXH3 digest of everything after the header), then per channel the values
 * (float32) and their counts (uint64). Written to a temporary, fsync'd and renamed, like a
 * case entry. */
#include "fp_store.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "load.h"
#include "workers.h"

static const char fp_magic[8] = {'P', 'F', 'F', 'P', 'R', 'N', 'T', 1};
#define FP_VERSION 1

typedef struct fp_header {
    char magic[8];
    uint32_t version, n_channels;
    uint64_t key, n_samples, digest;
    double spacing[3], relative_size;
    int64_t shape[3], shape_after_crop[3];
    uint64_t n_values[PF_MAX_CHANNELS];
} fp_header;

static uint64_t record_key(const pf_cache *c, int idx, uint64_t n_samples)
{
    uint64_t k[3] = {c->src_keys[idx], n_samples, FP_VERSION};
    return XXH3_64bits(k, sizeof k);
}

uint64_t pf_fp_record_key(const pf_cache *c, int idx, uint64_t n_samples)
{
    return record_key(c, idx, n_samples);
}

static char *record_path(const pf_cache *c, const pf_dataset *ds, int idx, uint64_t key)
{
    char *p;
    if (asprintf(&p, "%s/fingerprint/%s.%016llx.pffp", c->dir, ds->cases[idx].id,
                 (unsigned long long)key) < 0)
        return NULL;
    return p;
}

/* Reads a whole file: 0, 1 when it does not exist, -1 with err. */
static int read_file(const char *path, unsigned char **buf, size_t *len, pf_error *err)
{
    struct stat sb;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    *buf = NULL;
    if (fd < 0)
        return errno == ENOENT ? 1 : pf_fail(err, errno, "%s: cannot open: %s", path,
                                             strerror(errno));
    if (fstat(fd, &sb) != 0 || !(*buf = malloc(sb.st_size ? (size_t)sb.st_size : 1))) {
        int e = errno ? errno : ENOMEM;
        close(fd);
        return pf_fail(err, e, "%s: cannot read: %s", path, strerror(e));
    }
    while (got < (size_t)sb.st_size) {
        ssize_t k = pread(fd, *buf + got, (size_t)sb.st_size - got, (off_t)got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break; /* shorter than its size: not a valid record, which the parser sees */
        got += (size_t)k;
    }
    close(fd);
    *len = got;
    return 0;
}

/* Parses one record from b[0, len): 0 with *out filled, 1 when it does not check out (magic,
 * version, key, samples, channels, length, digest), -1 when memory runs out. */
static int record_parse(const unsigned char *b, size_t len, uint64_t key, uint64_t n_samples,
                        int n_channels, pf_case_fp *out, pf_error *err)
{
    fp_header h;
    uint64_t need = sizeof h, off = sizeof h;
    XXH3_state_t *st;
    memset(out, 0, sizeof *out);
    if (len < sizeof h)
        return 1;
    memcpy(&h, b, sizeof h);
    if (memcmp(h.magic, fp_magic, sizeof fp_magic) != 0 || h.version != FP_VERSION ||
        h.key != key || h.n_channels != (uint32_t)n_channels || h.n_samples != n_samples ||
        h.n_channels > PF_MAX_CHANNELS)
        return 1;
    for (uint32_t ch = 0; ch < h.n_channels; ch++) {
        if (h.n_values[ch] > len)
            return 1;
        need += h.n_values[ch] * (sizeof(float) + sizeof(uint64_t));
    }
    if (need != len)
        return 1;
    out->n_channels = (int)h.n_channels;
    memcpy(out->spacing, h.spacing, sizeof out->spacing);
    memcpy(out->shape, h.shape, sizeof out->shape);
    memcpy(out->shape_after_crop, h.shape_after_crop, sizeof out->shape_after_crop);
    out->relative_size = h.relative_size;
    out->hist = calloc(h.n_channels ? h.n_channels : 1, sizeof *out->hist);
    st = XXH3_createState();
    if (!out->hist || !st) {
        XXH3_freeState(st);
        pf_case_fp_free(out);
        return pf_fail(err, ENOMEM, "out of memory");
    }
    XXH3_64bits_reset(st);
    for (uint32_t ch = 0; ch < h.n_channels; ch++) {
        pf_fg_hist *hi = &out->hist[ch];
        size_t n = (size_t)h.n_values[ch];
        hi->value = malloc((n ? n : 1) * sizeof *hi->value);
        hi->count = malloc((n ? n : 1) * sizeof *hi->count);
        if (!hi->value || !hi->count) {
            XXH3_freeState(st);
            pf_case_fp_free(out);
            return pf_fail(err, ENOMEM, "out of memory");
        }
        hi->n = n;
        memcpy(hi->value, b + off, n * sizeof *hi->value);
        memcpy(hi->count, b + off + n * sizeof *hi->value, n * sizeof *hi->count);
        XXH3_64bits_update(st, hi->value, n * sizeof *hi->value);
        XXH3_64bits_update(st, hi->count, n * sizeof *hi->count);
        off += n * (sizeof *hi->value + sizeof *hi->count);
    }
    if (XXH3_64bits_digest(st) != h.digest) {
        XXH3_freeState(st);
        pf_case_fp_free(out);
        return 1;
    }
    XXH3_freeState(st);
    return 0;
}

/* A record's bytes (malloc'd, *len), or NULL when out of memory. */
static unsigned char *record_bytes(uint64_t key, uint64_t n_samples, const pf_case_fp *fp,
                                   size_t *len)
{
    fp_header h;
    XXH3_state_t *st = XXH3_createState();
    unsigned char *b, *p;
    size_t n = sizeof h;
    if (!st)
        return NULL;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, fp_magic, sizeof fp_magic);
    h.version = FP_VERSION;
    h.n_channels = (uint32_t)fp->n_channels;
    h.key = key;
    h.n_samples = n_samples;
    memcpy(h.spacing, fp->spacing, sizeof h.spacing);
    h.relative_size = fp->relative_size;
    memcpy(h.shape, fp->shape, sizeof h.shape);
    memcpy(h.shape_after_crop, fp->shape_after_crop, sizeof h.shape_after_crop);
    XXH3_64bits_reset(st);
    for (int ch = 0; ch < fp->n_channels; ch++) {
        h.n_values[ch] = fp->hist[ch].n;
        XXH3_64bits_update(st, fp->hist[ch].value, fp->hist[ch].n * sizeof(float));
        XXH3_64bits_update(st, fp->hist[ch].count, fp->hist[ch].n * sizeof(uint64_t));
        n += fp->hist[ch].n * (sizeof(float) + sizeof(uint64_t));
    }
    h.digest = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    if (!(b = malloc(n)))
        return NULL;
    memcpy(b, &h, sizeof h);
    p = b + sizeof h;
    for (int ch = 0; ch < fp->n_channels; ch++) {
        memcpy(p, fp->hist[ch].value, fp->hist[ch].n * sizeof(float));
        p += fp->hist[ch].n * sizeof(float);
        memcpy(p, fp->hist[ch].count, fp->hist[ch].n * sizeof(uint64_t));
        p += fp->hist[ch].n * sizeof(uint64_t);
    }
    *len = n;
    return b;
}

int pf_fp_load(const pf_cache *c, const pf_dataset *ds, int idx, uint64_t n_samples,
               pf_case_fp *out, pf_error *err)
{
    const uint64_t key = record_key(c, idx, n_samples);
    char *path = record_path(c, ds, idx, key);
    unsigned char *b;
    size_t len = 0;
    int rc;
    memset(out, 0, sizeof *out);
    if (!path)
        return pf_fail(err, ENOMEM, "out of memory");
    rc = read_file(path, &b, &len, err);
    free(path);
    if (rc != 0)
        return rc;
    rc = record_parse(b, len, key, n_samples, ds->n_channels, out, err);
    free(b);
    return rc;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t k = write(fd, p, len);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

/* Writes the parts to a temporary beside path, fsync, rename. */
static int publish(const char *path, const void *const *parts, const size_t *lens, int n,
                   pf_error *err)
{
    char tmp[4200];
    int fd;
    if (pf_cache_temp_template(path, tmp, sizeof tmp) != 0)
        return pf_fail(err, ENAMETOOLONG, "%s: path too long", path);
    fd = mkstemp(tmp);
    if (fd < 0)
        return pf_fail(err, errno, "%s: cannot create fingerprint record: %s", tmp,
                       strerror(errno));
    errno = 0;
    for (int k = 0; k < n; k++)
        if (write_all(fd, parts[k], lens[k]) != 0)
            goto fail;
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        pf_fail(err, errno, "%s: cannot publish fingerprint record: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
fail:
    pf_fail(err, errno ? errno : EIO, "%s: cannot write fingerprint record: %s", tmp,
            strerror(errno ? errno : EIO));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return -1;
}

static int make_fp_folder(const pf_cache *c, pf_error *err)
{
    char *dir;
    if (asprintf(&dir, "%s/fingerprint", c->dir) < 0)
        return pf_fail(err, ENOMEM, "out of memory");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        pf_fail(err, errno, "%s: cannot create: %s", dir, strerror(errno));
        free(dir);
        return -1;
    }
    free(dir);
    return 0;
}

int pf_fp_build(const pf_cache *c, const pf_dataset *ds, int idx, uint64_t n_samples,
                pf_case_fp *out, pf_error *err)
{
    const uint64_t key = record_key(c, idx, n_samples);
    char *path;
    pf_loaded_case lc;
    unsigned char *b;
    size_t len;
    int rc;
    if (pf_load_case(ds, idx, &lc, err) != 0) {
        pf_loaded_case_free(&lc);
        return -1;
    }
    rc = pf_case_fingerprint(&lc, ds->n_channels, n_samples, out, err);
    pf_loaded_case_free(&lc);
    if (rc != 0)
        return pf_wrap(err, "case %s", ds->cases[idx].id);
    if (make_fp_folder(c, err) != 0)
        return -1;
    path = record_path(c, ds, idx, key);
    b = record_bytes(key, n_samples, out, &len);
    if (!path || !b) {
        free(path);
        free(b);
        return pf_fail(err, ENOMEM, "out of memory");
    }
    rc = publish(path, (const void *const[]){b}, (const size_t[]){len}, 1, err);
    free(path);
    free(b);
    return rc;
}

/* ---- the dataset's fingerprint entry ---- */

/* One file holding every case's record in case order (a case set aside by skip_bad: an empty
 * record), under a key over all the records' keys: a builder of a share of the cases (prepare
 * -o shard=R/W) reads the whole fingerprint in one file, and a missing or stale one (a source
 * or the case list changed) is told apart from one that is merely absent for some cases. */
static const char fpset_magic[8] = {'P', 'F', 'F', 'P', 'S', 'E', 'T', 1};

typedef struct fpset_header {
    char magic[8];
    uint32_t version, n_cases;
    uint64_t key, n_samples;
    uint64_t digest;               /* XXH3 of everything after the header */
} fpset_header;

uint64_t pf_fp_dataset_key(const pf_cache *c, uint64_t n_samples)
{
    XXH3_state_t *st = XXH3_createState();
    uint64_t head[3] = {FP_VERSION, n_samples, (uint64_t)c->n_cases}, key;
    if (!st)
        return 0;
    XXH3_64bits_reset(st);
    XXH3_64bits_update(st, head, sizeof head);
    for (int i = 0; i < c->n_cases; i++) {
        uint64_t k = record_key(c, i, n_samples);
        XXH3_64bits_update(st, &k, sizeof k);
    }
    key = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return key;
}

char *pf_fp_dataset_path(const pf_cache *c, uint64_t n_samples)
{
    char *p;
    if (asprintf(&p, "%s/fingerprint/dataset.%016llx.pffpset", c->dir,
                 (unsigned long long)pf_fp_dataset_key(c, n_samples)) < 0)
        return NULL;
    return p;
}

/* Loads the dataset entry into out[n_cases], set_aside[i] = 1 for empty records: 0, 1 when
 * missing or not checking out, -1 with err. */
static int fpset_load(const pf_cache *c, const pf_dataset *ds, uint64_t n_samples,
                      pf_case_fp *out, unsigned char *set_aside, pf_error *err)
{
    char *path = pf_fp_dataset_path(c, n_samples);
    unsigned char *b = NULL;
    size_t len = 0, off = sizeof(fpset_header);
    fpset_header h;
    int rc;
    if (!path)
        return pf_fail(err, ENOMEM, "out of memory");
    rc = read_file(path, &b, &len, err);
    free(path);
    if (rc != 0)
        return rc;
    rc = 1;
    if (len < sizeof h)
        goto out;
    memcpy(&h, b, sizeof h);
    if (memcmp(h.magic, fpset_magic, sizeof h.magic) != 0 || h.version != FP_VERSION ||
        h.n_cases != (uint32_t)ds->n_cases || h.n_samples != n_samples ||
        h.key != pf_fp_dataset_key(c, n_samples) ||
        XXH3_64bits(b + sizeof h, len - sizeof h) != h.digest)
        goto out;
    for (int i = 0; i < ds->n_cases; i++) {
        uint64_t n;
        int r;
        if (len - off < sizeof n)
            goto undo;
        memcpy(&n, b + off, sizeof n);
        off += sizeof n;
        if (n > len - off)
            goto undo;
        set_aside[i] = n == 0;
        r = n == 0 ? 0 : record_parse(b + off, (size_t)n, record_key(c, i, n_samples), n_samples,
                                      ds->n_channels, &out[i], err);
        if (r != 0) {
            rc = r;
            goto undo;
        }
        off += (size_t)n;
    }
    rc = off == len ? 0 : 1;
    if (rc == 0)
        goto out;
undo:
    for (int i = 0; i < ds->n_cases; i++)
        pf_case_fp_free(&out[i]);
out:
    free(b);
    return rc;
}

/* Writes the dataset entry from out[n_cases] (n_channels 0: set aside). */
static int fpset_write(const pf_cache *c, const pf_dataset *ds, uint64_t n_samples,
                       const pf_case_fp *out, pf_error *err)
{
    const int n = ds->n_cases;
    const void **parts = calloc(2 * (size_t)n + 1, sizeof *parts);
    size_t *lens = calloc(2 * (size_t)n + 1, sizeof *lens);
    uint64_t *sizes = calloc((size_t)n + 1, sizeof *sizes);
    unsigned char **recs = calloc((size_t)n + 1, sizeof *recs);
    fpset_header h;
    XXH3_state_t *st = XXH3_createState();
    char *path = pf_fp_dataset_path(c, n_samples);
    int rc = -1;
    if (!parts || !lens || !sizes || !recs || !st || !path) {
        pf_fail(err, ENOMEM, "out of memory");
        goto out;
    }
    memset(&h, 0, sizeof h);
    memcpy(h.magic, fpset_magic, sizeof h.magic);
    h.version = FP_VERSION;
    h.n_cases = (uint32_t)n;
    h.key = pf_fp_dataset_key(c, n_samples);
    h.n_samples = n_samples;
    XXH3_64bits_reset(st);
    parts[0] = &h;
    lens[0] = sizeof h;
    for (int i = 0; i < n; i++) {
        size_t len = 0;
        if (out[i].n_channels > 0 &&
            !(recs[i] = record_bytes(record_key(c, i, n_samples), n_samples, &out[i], &len))) {
            pf_fail(err, ENOMEM, "out of memory");
            goto out;
        }
        sizes[i] = len;
        parts[1 + 2 * i] = &sizes[i];
        lens[1 + 2 * i] = sizeof sizes[i];
        parts[2 + 2 * i] = recs[i] ? (const void *)recs[i] : (const void *)"";
        lens[2 + 2 * i] = len;
        XXH3_64bits_update(st, &sizes[i], sizeof sizes[i]);
        XXH3_64bits_update(st, parts[2 + 2 * i], len);
    }
    h.digest = XXH3_64bits_digest(st);
    rc = make_fp_folder(c, err) == 0 ? publish(path, parts, lens, 1 + 2 * n, err) : -1;
out:
    for (int i = 0; recs && i < n; i++)
        free(recs[i]);
    free(recs);
    free(parts);
    free(lens);
    free(sizes);
    free(path);
    XXH3_freeState(st);
    return rc;
}

typedef struct fp_job {
    pf_case_pass pass;
    uint64_t n_samples;
    pf_case_fp *out;
} fp_job;

static int fp_one(void *p, int i, pf_error *err)
{
    fp_job *j = p;
    int rc = pf_fp_load(j->pass.c, j->pass.ds, i, j->n_samples, &j->out[i], err);
    int built = rc == 1;
    if (built)
        rc = pf_fp_build(j->pass.c, j->pass.ds, i, j->n_samples, &j->out[i], err);
    /* records read back are not news: progress counts the built ones */
    return pf_case_pass_done(&j->pass, i, rc, built, err);
}

/* Whether the cache holds a dataset entry under some key (a stale one, when not current). */
static int other_entry_exists(const pf_cache *c)
{
    char *pattern;
    glob_t g;
    int found;
    if (asprintf(&pattern, "%s/fingerprint/dataset.*.pffpset", c->dir) < 0)
        return 0;
    found = glob(pattern, GLOB_NOSORT, NULL, &g) == 0;
    if (found)
        globfree(&g);
    free(pattern);
    return found;
}

/* Sets the cases the dataset entry lists as set aside (skip_bad) aside again. */
static int set_aside_listed(pf_cache *c, const pf_dataset *ds, const unsigned char *set_aside,
                            pf_error *err)
{
    for (int i = 0; i < ds->n_cases; i++)
        if (set_aside[i]) {
            pf_error e = {0};
            pf_fail(&e, EINVAL, "case %s: set aside (skip_bad) when the fingerprint was made; "
                    "'patchfs check' says why", ds->cases[i].id);
            c->bad[c->n_bad].idx = i;
            c->bad[c->n_bad++].err = e;
        }
    (void)err;
    return 0;
}

int pf_fp_all(pf_cache *c, const pf_dataset *ds, const pf_options *o, int threads,
              unsigned flags, pf_progress_fn progress, void *arg, pf_case_fp *out,
              pf_error *err)
{
    fp_job j = {.pass = {.c = c, .ds = ds, .skip_bad = o->skip_bad, .total = ds->n_cases,
                         .progress = progress, .arg = arg},
                .out = out, .n_samples = pf_fp_samples_per_case(ds->n_cases)};
    unsigned char *set_aside;
    int rc, any_aside = 0;
    if (ds->n_channels > PF_MAX_CHANNELS)
        return pf_fail(err, EINVAL, "%s: %d channels; patchfs supports at most %d", ds->root,
                       ds->n_channels, PF_MAX_CHANNELS);
    if (!c->bad) {
        c->bad = calloc((size_t)ds->n_cases + 1, sizeof *c->bad);
        if (!c->bad)
            return pf_fail(err, ENOMEM, "out of memory");
    }
    set_aside = calloc((size_t)ds->n_cases + 1, 1);
    if (!set_aside)
        return pf_fail(err, ENOMEM, "out of memory");
    /* the dataset entry first: one file instead of one per case */
    rc = fpset_load(c, ds, j.n_samples, out, set_aside, err);
    for (int i = 0; rc == 0 && i < ds->n_cases; i++)
        any_aside |= set_aside[i];
    if (rc == 0 && any_aside && !o->skip_bad) {
        /* made under skip_bad: without it, those cases must fail here with their reason */
        for (int i = 0; i < ds->n_cases; i++)
            pf_case_fp_free(&out[i]);
        rc = 1;
    }
    if (rc == 0) {
        set_aside_listed(c, ds, set_aside, err);
        free(set_aside);
        return 0;
    }
    free(set_aside);
    if (rc < 0)
        return -1;
    if (flags & PF_FP_ENTRY_ONLY) {
        char *path = pf_fp_dataset_path(c, j.n_samples);
        pf_fail(err, ENOENT, "%s: the dataset's fingerprint entry is %s: a shard of a prepare "
                "builds no fingerprint; run the fingerprint pass first, once: 'patchfs plan "
                "-o cache=%s%s %s > /dev/null' (docs/distributed.md)", path ? path : c->dir,
                other_entry_exists(c) ? "stale (the one in the cache was made before a source "
                "file or the case list changed, or is damaged)" : "missing",
                o->cache_dir ? o->cache_dir : "DIR", o->skip_bad ? ",skip_bad" : "", ds->root);
        free(path);
        return -1;
    }
    pthread_mutex_init(&j.pass.lock, NULL);
    rc = pf_parallel_for(0, ds->n_cases, threads, fp_one, &j, err);
    pthread_mutex_destroy(&j.pass.lock);
    if (rc == 0)
        rc = fpset_write(c, ds, j.n_samples, out, err);
    return rc;
}
