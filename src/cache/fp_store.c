/* fp_store.c - per-case fingerprint records in the cache folder (see fp_store.h).
 *
 * A record: a fixed header (magic, version, key, geometry, the number of distinct values per
 * channel, an XXH3 digest of everything after the header), then per channel the values
 * (float32) and their counts (uint64). Written to a temporary, fsync'd and renamed, like a
 * case entry. */
#include "fp_store.h"

#include <errno.h>
#include <fcntl.h>
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

static char *record_path(const pf_cache *c, const pf_dataset *ds, int idx, uint64_t key)
{
    char *p;
    if (asprintf(&p, "%s/fingerprint/%s.%016llx.pffp", c->dir, ds->cases[idx].id,
                 (unsigned long long)key) < 0)
        return NULL;
    return p;
}

static int read_all(int fd, void *buf, size_t len, uint64_t off)
{
    char *p = buf;
    while (len) {
        ssize_t k = pread(fd, p, len, (off_t)off);
        if (k <= 0) {
            if (k < 0 && errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        off += (uint64_t)k;
        len -= (size_t)k;
    }
    return 0;
}

int pf_fp_load(const pf_cache *c, const pf_dataset *ds, int idx, uint64_t n_samples,
               pf_case_fp *out, pf_error *err)
{
    const uint64_t key = record_key(c, idx, n_samples);
    char *path = record_path(c, ds, idx, key);
    fp_header h;
    struct stat sb;
    uint64_t off = sizeof h, need = sizeof h;
    XXH3_state_t *st = NULL;
    int fd, rc = 1;
    memset(out, 0, sizeof *out);
    if (!path)
        return pf_fail(err, ENOMEM, "out of memory");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        rc = e == ENOENT ? 1 : pf_fail(err, e, "%s: cannot open: %s", path, strerror(e));
        free(path);
        return rc;
    }
    if (fstat(fd, &sb) != 0 || read_all(fd, &h, sizeof h, 0) != 0 ||
        memcmp(h.magic, fp_magic, sizeof fp_magic) != 0 || h.version != FP_VERSION ||
        h.key != key || h.n_channels != (uint32_t)ds->n_channels || h.n_samples != n_samples)
        goto out;
    for (uint32_t ch = 0; ch < h.n_channels; ch++)
        need += h.n_values[ch] * (sizeof(float) + sizeof(uint64_t));
    if ((uint64_t)sb.st_size != need)
        goto out;
    out->n_channels = (int)h.n_channels;
    memcpy(out->spacing, h.spacing, sizeof out->spacing);
    memcpy(out->shape, h.shape, sizeof out->shape);
    memcpy(out->shape_after_crop, h.shape_after_crop, sizeof out->shape_after_crop);
    out->relative_size = h.relative_size;
    out->hist = calloc(h.n_channels, sizeof *out->hist);
    st = XXH3_createState();
    if (!out->hist || !st) {
        rc = pf_fail(err, ENOMEM, "out of memory");
        goto out;
    }
    XXH3_64bits_reset(st);
    for (uint32_t ch = 0; ch < h.n_channels; ch++) {
        pf_fg_hist *hi = &out->hist[ch];
        size_t n = (size_t)h.n_values[ch];
        hi->value = malloc((n ? n : 1) * sizeof *hi->value);
        hi->count = malloc((n ? n : 1) * sizeof *hi->count);
        if (!hi->value || !hi->count) {
            rc = pf_fail(err, ENOMEM, "out of memory");
            goto out;
        }
        hi->n = n;
        if (read_all(fd, hi->value, n * sizeof *hi->value, off) != 0 ||
            read_all(fd, hi->count, n * sizeof *hi->count, off + n * sizeof *hi->value) != 0)
            goto out;
        XXH3_64bits_update(st, hi->value, n * sizeof *hi->value);
        XXH3_64bits_update(st, hi->count, n * sizeof *hi->count);
        off += n * (sizeof *hi->value + sizeof *hi->count);
    }
    rc = XXH3_64bits_digest(st) == h.digest ? 0 : 1;
out:
    close(fd);
    XXH3_freeState(st);
    free(path);
    if (rc != 0)
        pf_case_fp_free(out);
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

static int publish(const char *path, const fp_header *h, const pf_case_fp *fp, pf_error *err)
{
    char tmp[4200];
    int fd;
    snprintf(tmp, sizeof tmp, "%s.tmp.%d.XXXXXX", path, (int)getpid());
    fd = mkstemp(tmp);
    if (fd < 0)
        return pf_fail(err, errno, "%s: cannot create fingerprint record: %s", tmp,
                       strerror(errno));
    if (write_all(fd, h, sizeof *h) != 0)
        goto fail;
    for (int ch = 0; ch < fp->n_channels; ch++)
        if (write_all(fd, fp->hist[ch].value, fp->hist[ch].n * sizeof(float)) != 0 ||
            write_all(fd, fp->hist[ch].count, fp->hist[ch].n * sizeof(uint64_t)) != 0)
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

int pf_fp_build(const pf_cache *c, const pf_dataset *ds, int idx, uint64_t n_samples,
                pf_case_fp *out, pf_error *err)
{
    const uint64_t key = record_key(c, idx, n_samples);
    char *path, *dir;
    pf_loaded_case lc;
    fp_header h;
    XXH3_state_t *st;
    int rc;
    if (pf_load_case(ds, idx, &lc, err) != 0) {
        pf_loaded_case_free(&lc);
        return -1;
    }
    rc = pf_case_fingerprint(&lc, ds->n_channels, n_samples, out, err);
    pf_loaded_case_free(&lc);
    if (rc != 0)
        return pf_wrap(err, "case %s", ds->cases[idx].id);
    memset(&h, 0, sizeof h);
    memcpy(h.magic, fp_magic, sizeof fp_magic);
    h.version = FP_VERSION;
    h.n_channels = (uint32_t)out->n_channels;
    h.key = key;
    h.n_samples = n_samples;
    memcpy(h.spacing, out->spacing, sizeof h.spacing);
    h.relative_size = out->relative_size;
    memcpy(h.shape, out->shape, sizeof h.shape);
    memcpy(h.shape_after_crop, out->shape_after_crop, sizeof h.shape_after_crop);
    st = XXH3_createState();
    if (!st)
        return pf_fail(err, ENOMEM, "out of memory");
    XXH3_64bits_reset(st);
    for (int ch = 0; ch < out->n_channels; ch++) {
        h.n_values[ch] = out->hist[ch].n;
        XXH3_64bits_update(st, out->hist[ch].value, out->hist[ch].n * sizeof(float));
        XXH3_64bits_update(st, out->hist[ch].count, out->hist[ch].n * sizeof(uint64_t));
    }
    h.digest = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    if (asprintf(&dir, "%s/fingerprint", c->dir) < 0)
        return pf_fail(err, ENOMEM, "out of memory");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        pf_fail(err, errno, "%s: cannot create: %s", dir, strerror(errno));
        free(dir);
        return -1;
    }
    free(dir);
    path = record_path(c, ds, idx, key);
    if (!path)
        return pf_fail(err, ENOMEM, "out of memory");
    rc = publish(path, &h, out, err);
    free(path);
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

int pf_fp_all(pf_cache *c, const pf_dataset *ds, const pf_options *o, int threads,
              pf_progress_fn progress, void *arg, pf_case_fp *out, pf_error *err)
{
    fp_job j = {.pass = {.c = c, .ds = ds, .skip_bad = o->skip_bad, .total = ds->n_cases,
                         .progress = progress, .arg = arg},
                .out = out, .n_samples = pf_fp_samples_per_case(ds->n_cases)};
    int rc;
    if (ds->n_channels > PF_MAX_CHANNELS)
        return pf_fail(err, EINVAL, "%s: %d channels; patchfs supports at most %d", ds->root,
                       ds->n_channels, PF_MAX_CHANNELS);
    if (!c->bad) {
        c->bad = calloc((size_t)ds->n_cases, sizeof *c->bad);
        if (!c->bad)
            return pf_fail(err, ENOMEM, "out of memory");
    }
    pthread_mutex_init(&j.pass.lock, NULL);
    rc = pf_parallel_for(0, ds->n_cases, threads, fp_one, &j, err);
    pthread_mutex_destroy(&j.pass.lock);
    return rc;
}
