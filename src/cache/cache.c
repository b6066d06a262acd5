/* cache.c - building, publishing and mapping preprocessed case entries (see cache.h). */
#include "cache.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "nifti_load.h"
#include "workers.h"

#define PF_ENDIAN_TAG 0x01020304u
static const char PF_CASE_MAGIC[8] = {'P', 'F', 'C', 'A', 'S', 'E', 0, 1};

static uint64_t round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

static int mkdir_p(const char *path, pf_error *err)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len >= sizeof buf)
        return pf_fail(err, ENAMETOOLONG, "%s: path too long", path);
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST)
                return pf_fail(err, errno, "%s: cannot create cache folder: %s", buf,
                               strerror(errno));
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    return 0;
}

static const char *relpath(const pf_dataset *ds, const char *path)
{
    size_t n = strlen(ds->root);
    return strncmp(path, ds->root, n) == 0 && path[n] == '/' ? path + n + 1 : path;
}

static int hash_file_identity(XXH3_state_t *st, const pf_dataset *ds, const char *path,
                              pf_error *err)
{
    struct stat sb;
    int64_t ident[3];
    const char *rel = relpath(ds, path);
    if (stat(path, &sb) != 0)
        return pf_fail(err, errno, "%s: cannot stat: %s", path, strerror(errno));
    ident[0] = (int64_t)sb.st_size;
    ident[1] = (int64_t)sb.st_mtim.tv_sec;
    ident[2] = (int64_t)sb.st_mtim.tv_nsec;
    XXH3_64bits_update(st, rel, strlen(rel) + 1);
    XXH3_64bits_update(st, ident, sizeof ident);
    return 0;
}

char *pf_cache_entry_path(const pf_cache *c, const pf_dataset *ds, int case_idx)
{
    char *p;
    if (asprintf(&p, "%s/%s.%016llx.pfcase", c->dir, ds->cases[case_idx].id,
                 (unsigned long long)c->keys[case_idx]) < 0)
        return NULL;
    return p;
}

/* A builder killed mid-entry leaves NAME.tmp.PID.XXXXXX behind: never used (only renamed
 * entries are), but removed here once its process is gone. */
static void remove_stale_temporaries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    if (!d)
        return;
    while ((de = readdir(d))) {
        const char *t = strstr(de->d_name, ".tmp.");
        char path[4200];
        long pid;
        if (!t)
            continue;
        pid = strtol(t + 5, NULL, 10);
        if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

int pf_cache_init(pf_cache *c, const pf_dataset *ds, const pf_options *o, pf_error *err)
{
    char *base = o->cache_dir ? strdup(o->cache_dir) : pf_default_cache_dir();
    XXH3_state_t *st = XXH3_createState();
    int rc = -1;

    memset(c, 0, sizeof *c);
    c->n_cases = ds->n_cases;
    c->keys = calloc((size_t)ds->n_cases, sizeof *c->keys);
    if (!base || !st || !c->keys) {
        pf_fail(err, ENOMEM, "out of memory");
        goto out;
    }
    if (asprintf(&c->dir, "%s/%s-%016llx", base, ds->name,
                 (unsigned long long)XXH3_64bits(ds->root, strlen(ds->root))) < 0) {
        c->dir = NULL;
        pf_fail(err, ENOMEM, "out of memory");
        goto out;
    }
    if (mkdir_p(c->dir, err))
        goto out;
    remove_stale_temporaries(c->dir);
    for (int i = 0; i < ds->n_cases; i++) {
        const pf_case_src *cs = &ds->cases[i];
        uint32_t words[6] = {PF_CACHE_VERSION, (uint32_t)o->crop, (uint32_t)ds->layout,
                             (uint32_t)ds->n_channels, (uint32_t)ds->ignore_label,
                             (uint32_t)ds->n_labels};
        XXH3_64bits_reset(st);
        XXH3_64bits_update(st, words, sizeof words);
        XXH3_64bits_update(st, ds->label_values, (size_t)ds->n_labels * sizeof(int));
        XXH3_64bits_update(st, cs->id, strlen(cs->id) + 1);
        for (int j = 0; j < cs->n_images; j++)
            if (hash_file_identity(st, ds, cs->images[j], err))
                goto out;
        if (hash_file_identity(st, ds, cs->label, err))
            goto out;
        c->keys[i] = XXH3_64bits_digest(st);
    }
    c->fingerprint = XXH3_64bits(c->keys, (size_t)ds->n_cases * sizeof *c->keys);
    rc = 0;
out:
    free(base);
    XXH3_freeState(st);
    return rc;
}

/* ---- building one entry ---- */

typedef struct loaded_case {
    float *image;       /* (C, Z, Y, X) source volume */
    int16_t *seg;
    int64_t shape[3];   /* Z, Y, X */
    pf_nifti_info info; /* of channel 0 */
} loaded_case;

static int same_grid(const pf_nifti_info *a, const pf_nifti_info *b)
{
    return a->nx == b->nx && a->ny == b->ny && a->nz == b->nz;
}

/* Whether two voxel-to-world affines agree: each entry within 1e-3 of the other, relative to
 * its magnitude (sub-micrometre for millimetre offsets). Files of one case that disagree beyond
 * that are not aligned, and nnU-Net would train on misregistered labels. */
static int affine_mismatch(const double *a, const double *b, double *worst)
{
    *worst = 0.0;
    for (int i = 0; i < 12; i++) {
        double d = fabs(a[i] - b[i]) / (1.0 + fabs(a[i]));
        if (d > *worst)
            *worst = d;
    }
    return *worst > 1e-3;
}

static int load_case(const pf_dataset *ds, int idx, loaded_case *lc, pf_error *err)
{
    const pf_case_src *cs = &ds->cases[idx];
    pf_nifti_info info, linfo;
    size_t n = 0;

    memset(lc, 0, sizeof *lc);
    for (int f = 0; f < cs->n_images; f++) {
        float *data;
        if (pf_nifti_load_float(cs->images[f], &info, &data, err))
            return -1;
        if (f == 0) {
            int64_t frames = ds->layout == PF_LAYOUT_MSD ? ds->n_channels : 1;
            if (info.nt != frames) {
                free(data);
                return pf_fail(err, EINVAL, "%s: has %lld frames in its 4th dimension but "
                               "dataset.json names %lld channel%s", cs->images[f],
                               (long long)info.nt, (long long)frames, frames == 1 ? "" : "s");
            }
            lc->info = info;
            lc->shape[0] = info.nz;
            lc->shape[1] = info.ny;
            lc->shape[2] = info.nx;
            n = (size_t)(info.nx * info.ny * info.nz);
            lc->image = malloc(n * (size_t)ds->n_channels * sizeof(float));
            if (!lc->image) {
                free(data);
                return pf_fail(err, ENOMEM, "%s: out of memory", cs->images[f]);
            }
        } else if (!same_grid(&info, &lc->info) || info.nt != 1) {
            free(data);
            return pf_fail(err, EINVAL, "%s: shape %lldx%lldx%lld differs from channel 0 (%s, "
                           "%lldx%lldx%lld)", cs->images[f], (long long)info.nx,
                           (long long)info.ny, (long long)info.nz, cs->images[0],
                           (long long)lc->info.nx, (long long)lc->info.ny,
                           (long long)lc->info.nz);
        }
        memcpy(lc->image + (size_t)f * n, data, n * info.nt * sizeof(float));
        free(data);
        if (f > 0) {
            double worst;
            if (affine_mismatch(lc->info.affine, info.affine, &worst))
                return pf_fail(err, EINVAL, "%s: its affine differs from channel 0 (%s) by %.3g "
                               "(relative; tolerance 1e-3): the channels are not aligned",
                               cs->images[f], cs->images[0], worst);
        }
    }
    if (pf_nifti_load_labels(cs->label, &linfo, &lc->seg, err))
        return -1;
    {
        double worst;
        if (same_grid(&linfo, &lc->info) && affine_mismatch(lc->info.affine, linfo.affine, &worst))
            return pf_fail(err, EINVAL, "%s: its affine differs from the image's (%s) by %.3g "
                           "(relative; tolerance 1e-3): label and image are not aligned",
                           cs->label, cs->images[0], worst);
    }
    if (!same_grid(&linfo, &lc->info))
        return pf_fail(err, EINVAL, "%s: label shape %lldx%lldx%lld differs from image %s "
                       "(%lldx%lldx%lld)", cs->label, (long long)linfo.nx, (long long)linfo.ny,
                       (long long)linfo.nz, cs->images[0], (long long)lc->info.nx,
                       (long long)lc->info.ny, (long long)lc->info.nz);
    {
        /* every label value must be named in dataset.json */
        unsigned char seen[32768] = {0};
        for (size_t i = 0; i < n; i++)
            seen[lc->seg[i]] = 1;
        for (int v = 0; v < 32768; v++)
            if (seen[v] && !pf_dataset_has_label(ds, v))
                return pf_fail(err, EINVAL, "%s: label value %d is not named in dataset.json "
                               "\"labels\"", cs->label, v);
    }
    return 0;
}

typedef struct writer {
    int fd;
    uint64_t pos;
    XXH3_state_t *hash; /* digest of the part being written, or NULL */
    const char *path;
} writer;

static int w_bytes(writer *w, const void *p, size_t len, pf_error *err)
{
    const unsigned char *b = p;
    if (w->hash)
        XXH3_64bits_update(w->hash, p, len);
    while (len) {
        ssize_t k = write(w->fd, b, len);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return pf_fail(err, errno, "%s: cannot write cache entry: %s", w->path,
                           strerror(errno));
        }
        b += k;
        len -= (size_t)k;
        w->pos += (uint64_t)k;
    }
    return 0;
}

static int w_pad_to(writer *w, uint64_t off, pf_error *err)
{
    static const unsigned char zeros[4096];
    while (w->pos < off) {
        size_t k = (size_t)(off - w->pos < sizeof zeros ? off - w->pos : sizeof zeros);
        if (w_bytes(w, zeros, k, err))
            return -1;
    }
    return 0;
}

/* Writes the entry to a temporary file beside path, then fsync + rename: readers see either
 * no entry or a whole one. */
static int publish_entry(const char *path, pf_case_header *h, const float *image,
                         const int16_t *seg, const pf_class_row *rows, int nc,
                         const pf_class_locs *cl, const float *fg, pf_error *err)
{
    char tmp[4200];
    const uint64_t nvox = (uint64_t)(h->shape[0] * h->shape[1] * h->shape[2]);
    XXH3_state_t *st = XXH3_createState();
    writer w = {.fd = -1, .path = tmp};
    int rc = -1;

    snprintf(tmp, sizeof tmp, "%s.tmp.%d.XXXXXX", path, (int)getpid());
    if (!st)
        return pf_fail(err, ENOMEM, "out of memory");
    w.fd = mkstemp(tmp);
    if (w.fd < 0) {
        pf_fail(err, errno, "%s: cannot create cache entry: %s", tmp, strerror(errno));
        goto out;
    }
    if (w_pad_to(&w, h->image_off, err))
        goto out;
    XXH3_64bits_reset(st);
    w.hash = st;
    if (w_bytes(&w, image, nvox * h->n_channels * sizeof(float), err) ||
        w_pad_to(&w, h->seg_off, err) || w_bytes(&w, seg, nvox * sizeof(int16_t), err) ||
        w_pad_to(&w, h->meta_off, err))
        goto out;
    h->bulk_digest = XXH3_64bits_digest(st);
    XXH3_64bits_reset(st);
    if (w_bytes(&w, rows, (size_t)nc * sizeof *rows, err) || w_pad_to(&w, h->locs_off, err))
        goto out;
    for (int k = 0; k < nc; k++)
        if (w_bytes(&w, cl[k].locs, cl[k].n_locs * 3 * sizeof(int32_t), err))
            goto out;
    if (w_pad_to(&w, h->fg_off, err) ||
        w_bytes(&w, fg, (size_t)h->n_fg * h->n_channels * sizeof(float), err))
        goto out;
    h->meta_digest = XXH3_64bits_digest(st);
    h->file_size = w.pos;
    h->header_digest = 0;
    h->header_digest = XXH3_64bits(h, sizeof *h);
    if (pwrite(w.fd, h, sizeof *h, 0) != (ssize_t)sizeof *h) {
        pf_fail(err, errno ? errno : EIO, "%s: cannot write cache entry header: %s", tmp,
                strerror(errno));
        goto out;
    }
    if (fsync(w.fd) != 0) {
        pf_fail(err, errno, "%s: cannot flush cache entry: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(w.fd) != 0) {
        w.fd = -1;
        pf_fail(err, errno, "%s: cannot close cache entry: %s", tmp, strerror(errno));
        goto out;
    }
    w.fd = -1;
    if (rename(tmp, path) != 0) {
        pf_fail(err, errno, "%s: cannot publish cache entry: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (w.fd >= 0)
        close(w.fd);
    if (rc != 0)
        unlink(tmp);
    XXH3_freeState(st);
    return rc;
}

int pf_cache_build_entry(const pf_dataset *ds, int case_idx, const pf_options *o, uint64_t key,
                         const char *path, pf_error *err)
{
    loaded_case lc;
    pf_case_header *h = calloc(1, sizeof *h);
    float *image = NULL, *fg = NULL;
    int16_t *seg = NULL;
    pf_class_locs *cl = NULL;
    pf_class_row *rows = NULL;
    int nc = 0, rc = -1;
    int64_t lo[3] = {0, 0, 0}, hi[3];
    uint64_t nvox, off, total_locs = 0;

    if (!h)
        return pf_fail(err, ENOMEM, "out of memory");
    if (ds->n_channels > PF_MAX_CHANNELS) {
        free(h);
        return pf_fail(err, EINVAL, "%s: %d channels; patchfs supports at most %d",
                       ds->root, ds->n_channels, PF_MAX_CHANNELS);
    }
    if (load_case(ds, case_idx, &lc, err))
        goto out;
    memcpy(hi, lc.shape, sizeof hi);
    if (o->crop == PF_CROP_NONZERO)
        pf_nonzero_box(lc.image, ds->n_channels, lc.shape, lo, hi);
    image = pf_crop_float(lc.image, ds->n_channels, lc.shape, lo, hi);
    seg = pf_crop_i16(lc.seg, lc.shape, lo, hi);
    if (!image || !seg) {
        pf_fail(err, ENOMEM, "case %s: out of memory cropping", ds->cases[case_idx].id);
        goto out;
    }
    memcpy(h->magic, PF_CASE_MAGIC, sizeof h->magic);
    h->version = PF_CACHE_VERSION;
    h->endian_tag = PF_ENDIAN_TAG;
    h->key = key;
    for (int d = 0; d < 3; d++) {
        h->shape[d] = hi[d] - lo[d];
        h->orig_shape[d] = lc.shape[d];
        h->crop_lo[d] = lo[d];
        h->spacing[d] = lc.info.spacing[2 - d];
    }
    memcpy(h->affine, lc.info.affine, sizeof h->affine);
    h->n_channels = (uint32_t)ds->n_channels;
    snprintf(h->id, sizeof h->id, "%s", ds->cases[case_idx].id);
    if (o->crop == PF_CROP_NONZERO && pf_mark_outside(image, ds->n_channels, h->shape, seg, err))
        goto out;
    if (pf_class_locations(seg, h->shape, ds->ignore_label, &nc, &cl, err))
        goto out;
    h->n_classes = (uint32_t)nc;
    pf_channel_stats(image, ds->n_channels, seg, h->shape, h->stats);
    fg = malloc((size_t)ds->n_channels * PF_FG_SAMPLES * sizeof *fg);
    if (!fg) {
        pf_fail(err, ENOMEM, "out of memory");
        goto out;
    }
    h->n_fg = (uint32_t)pf_foreground_samples(image, ds->n_channels, seg, h->shape, fg);
    rows = calloc((size_t)(nc ? nc : 1), sizeof *rows);
    if (!rows) {
        pf_fail(err, ENOMEM, "out of memory");
        goto out;
    }
    for (int k = 0; k < nc; k++) {
        rows[k].label = cl[k].label;
        rows[k].voxels = cl[k].voxels;
        rows[k].n_locs = cl[k].n_locs;
        rows[k].locs_index = total_locs;
        total_locs += cl[k].n_locs;
    }
    nvox = (uint64_t)(h->shape[0] * h->shape[1] * h->shape[2]);
    h->image_off = round_up(sizeof *h, 4096);
    off = h->image_off + nvox * h->n_channels * sizeof(float);
    h->seg_off = round_up(off, 64);
    h->meta_off = round_up(h->seg_off + nvox * sizeof(int16_t), 64);
    h->classes_off = h->meta_off;
    h->locs_off = round_up(h->classes_off + (uint64_t)nc * sizeof *rows, 64);
    h->fg_off = round_up(h->locs_off + total_locs * 3 * sizeof(int32_t), 64);
    if (publish_entry(path, h, image, seg, rows, nc, cl, fg, err)) {
        rc = -2; /* the cache, not the case, is at fault */
        goto out;
    }
    rc = 0;
out:
    if (rc)
        pf_wrap(err, "case %s", ds->cases[case_idx].id);
    free(lc.image);
    free(lc.seg);
    free(image);
    free(seg);
    free(fg);
    free(rows);
    if (cl)
        pf_class_locations_free(nc, cl);
    free(h);
    return rc;
}

/* ---- building many entries on worker threads ---- */

typedef struct build_job {
    pf_cache *c;
    const pf_dataset *ds;
    const pf_options *o;
    int *pending, n_pending;
    atomic_int done;
    pthread_mutex_t lock;      /* guards c->bad and the progress callback */
    pf_progress_fn progress;
    void *arg;
} build_job;

/* Builds pending entry k (pf_parallel_for's unit). */
static int build_one(void *p, int k, pf_error *err)
{
    build_job *j = p;
    const int idx = j->pending[k];
    char *path = pf_cache_entry_path(j->c, j->ds, idx);
    int rc, d;
    if (!path)
        return pf_fail(err, ENOMEM, "out of memory");
    rc = pf_cache_build_entry(j->ds, idx, j->o, j->c->keys[idx], path, err);
    free(path);
    if (rc != 0) {
        if (!(j->o->skip_bad && rc == -1 && err->errnum != ENOMEM))
            return -1;
        /* a bad case is set aside; trouble with the cache itself still stops */
        pthread_mutex_lock(&j->lock);
        j->c->bad[j->c->n_bad].idx = idx;
        j->c->bad[j->c->n_bad++].err = *err;
        pthread_mutex_unlock(&j->lock);
        return 0;
    }
    d = atomic_fetch_add(&j->done, 1) + 1;
    if (j->progress) {
        pthread_mutex_lock(&j->lock);
        j->progress(j->arg, d, j->n_pending, j->ds->cases[idx].id);
        pthread_mutex_unlock(&j->lock);
    }
    return 0;
}

static int entry_valid(const char *path, uint64_t key, int full);

int pf_cache_build(pf_cache *c, const pf_dataset *ds, const pf_options *o, int threads,
                   int full_check, pf_progress_fn progress, void *arg, int *built,
                   pf_error *err)
{
    build_job j = {.c = c, .ds = ds, .o = o, .progress = progress, .arg = arg};
    int rc;

    *built = 0;
    j.pending = calloc((size_t)ds->n_cases, sizeof(int));
    free(c->bad);
    c->n_bad = 0;
    c->bad = calloc((size_t)ds->n_cases, sizeof *c->bad);
    if (!j.pending || !c->bad) {
        free(j.pending);
        return pf_fail(err, ENOMEM, "out of memory");
    }
    for (int i = 0; i < ds->n_cases; i++) {
        char *path = pf_cache_entry_path(c, ds, i);
        if (!path || !entry_valid(path, c->keys[i], full_check))
            j.pending[j.n_pending++] = i;
        free(path);
    }
    pthread_mutex_init(&j.lock, NULL);
    rc = pf_parallel_for(0, j.n_pending, threads, build_one, &j, err);
    pthread_mutex_destroy(&j.lock);
    *built = atomic_load(&j.done);
    free(j.pending);
    return rc;
}

/* ---- opening entries ---- */

static int hash_range(int fd, uint64_t off, uint64_t len, uint64_t *digest)
{
    XXH3_state_t *st = XXH3_createState();
    size_t cap = 1 << 20;
    unsigned char *buf = malloc(cap);
    int rc = -1;
    if (!st || !buf)
        goto out;
    XXH3_64bits_reset(st);
    while (len) {
        size_t want = len < cap ? (size_t)len : cap;
        ssize_t k = pread(fd, buf, want, (off_t)off);
        if (k <= 0) {
            if (k < 0 && errno == EINTR)
                continue;
            goto out;
        }
        XXH3_64bits_update(st, buf, (size_t)k);
        off += (uint64_t)k;
        len -= (uint64_t)k;
    }
    *digest = XXH3_64bits_digest(st);
    rc = 0;
out:
    free(buf);
    XXH3_freeState(st);
    return rc;
}

/* Reads and checks a header: 0 ok, -1 with a reason in why. */
static int read_header(int fd, uint64_t key, pf_case_header *h, const char **why)
{
    struct stat sb;
    uint64_t d;
    if (pread(fd, h, sizeof *h, 0) != (ssize_t)sizeof *h) {
        *why = "shorter than its header";
        return -1;
    }
    if (memcmp(h->magic, PF_CASE_MAGIC, sizeof h->magic) || h->version != PF_CACHE_VERSION ||
        h->endian_tag != PF_ENDIAN_TAG) {
        *why = "not a patchfs cache entry of this version";
        return -1;
    }
    d = h->header_digest;
    h->header_digest = 0;
    if (XXH3_64bits(h, sizeof *h) != d) {
        *why = "header digest mismatch (corrupt)";
        return -1;
    }
    h->header_digest = d;
    if (h->key != key) {
        *why = "key mismatch";
        return -1;
    }
    if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size != h->file_size ||
        h->n_channels == 0 || h->n_channels > PF_MAX_CHANNELS) {
        *why = "size does not match its header (truncated)";
        return -1;
    }
    return 0;
}

static int check_meta(int fd, const pf_case_header *h, const char **why)
{
    uint64_t d;
    if (hash_range(fd, h->meta_off, h->file_size - h->meta_off, &d) != 0 || d != h->meta_digest) {
        *why = "metadata digest mismatch (corrupt)";
        return -1;
    }
    return 0;
}

static int entry_valid(const char *path, uint64_t key, int full)
{
    pf_case_header h;
    const char *why;
    uint64_t d;
    int fd = open(path, O_RDONLY | O_CLOEXEC), ok;
    if (fd < 0)
        return 0;
    ok = read_header(fd, key, &h, &why) == 0 && check_meta(fd, &h, &why) == 0;
    if (ok && full)
        ok = hash_range(fd, h.image_off, h.meta_off - h.image_off, &d) == 0 &&
             d == h.bulk_digest;
    close(fd);
    return ok;
}

static int map_entry(pf_case *cs, uint64_t key, const char *id, pf_error *err);

int pf_cache_open(pf_cache *c, const pf_dataset *ds, pf_error *err)
{
    c->cases = calloc((size_t)ds->n_cases, sizeof *c->cases);
    if (!c->cases)
        return pf_fail(err, ENOMEM, "out of memory");
    for (int i = 0; i < ds->n_cases; i++) {
        pf_case *cs = &c->cases[i];
        pthread_mutex_init(&cs->lock, NULL);
        cs->path = pf_cache_entry_path(c, ds, i);
        if (!cs->path)
            return pf_fail(err, ENOMEM, "out of memory");
        if (map_entry(cs, c->keys[i], ds->cases[i].id, err) != 0)
            return -1;
    }
    return 0;
}

int pf_case_check_bulk(pf_case *cs, pf_error *err)
{
    int state;
    pthread_mutex_lock(&cs->lock);
    if (cs->bulk_state == 0) {
        uint64_t d = 0;
        int fd = open(cs->path, O_RDONLY | O_CLOEXEC);
        /* pread rather than the mapping: hashing must not make the whole case resident */
        cs->bulk_state = fd >= 0 &&
                         hash_range(fd, cs->hdr.image_off, cs->hdr.meta_off - cs->hdr.image_off,
                                    &d) == 0 && d == cs->hdr.bulk_digest ? 1 : -1;
        if (fd >= 0)
            close(fd);
    }
    state = cs->bulk_state;
    pthread_mutex_unlock(&cs->lock);
    if (state < 0)
        return pf_fail(err, EIO, "%s: cache entry of case %s is corrupt (image digest "
                       "mismatch); it is not served", cs->path, cs->hdr.id);
    return 0;
}

/* Maps an entry file after checking its header and metadata; fills the case's pointers. */
static int map_entry(pf_case *cs, uint64_t key, const char *id, pf_error *err)
{
    const char *why = NULL;
    void *map;
    int fd = open(cs->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pf_fail(err, errno, "%s: cannot open cache entry of case %s: %s", cs->path, id,
                       strerror(errno));
    if (read_header(fd, key, &cs->hdr, &why) || check_meta(fd, &cs->hdr, &why)) {
        close(fd);
        return pf_fail(err, EIO, "%s: cache entry of case %s is unusable: %s (run "
                       "'patchfs prepare' to rebuild it)", cs->path, id, why);
    }
    map = mmap(NULL, cs->hdr.file_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return pf_fail(err, errno, "%s: cannot map: %s", cs->path, strerror(errno));
    cs->map = map;
    cs->map_len = cs->hdr.file_size;
    cs->image = (const float *)(cs->map + cs->hdr.image_off);
    cs->seg = (const int16_t *)(cs->map + cs->hdr.seg_off);
    cs->classes = (const pf_class_row *)(cs->map + cs->hdr.classes_off);
    cs->locs = (const int32_t *)(cs->map + cs->hdr.locs_off);
    cs->fg = (const float *)(cs->map + cs->hdr.fg_off);
    return 0;
}

int pf_cache_repair(pf_cache *c, const pf_dataset *ds, const pf_options *o, int idx,
                    pf_error *err)
{
    pf_case *cs = &c->cases[idx];
    pf_case fresh;
    int rc = 0;
    pthread_mutex_lock(&cs->lock);
    if (cs->bulk_state > 0)
        goto out; /* another reader repaired it meanwhile */
    if (pf_cache_build_entry(ds, idx, o, c->keys[idx], cs->path, err) != 0) {
        rc = -1;
        goto out;
    }
    memset(&fresh, 0, sizeof fresh);
    fresh.path = cs->path;
    if (map_entry(&fresh, c->keys[idx], ds->cases[idx].id, err) != 0) {
        rc = -1;
        goto out;
    }
    /* the corrupt mapping may still be referenced by a reader that failed its check: keep it
     * mapped until close (at most one per repair; repairs are rare) */
    if (cs->retired_map)
        munmap(cs->retired_map, cs->retired_len);
    cs->retired_map = (void *)cs->map;
    cs->retired_len = cs->map_len;
    cs->hdr = fresh.hdr;
    cs->map = fresh.map;
    cs->map_len = fresh.map_len;
    cs->image = fresh.image;
    cs->seg = fresh.seg;
    cs->classes = fresh.classes;
    cs->locs = fresh.locs;
    cs->fg = fresh.fg;
    cs->bulk_state = 1; /* just written from the sources */
    __atomic_add_fetch(&c->repairs, 1, __ATOMIC_RELAXED);
out:
    pthread_mutex_unlock(&cs->lock);
    return rc;
}

void pf_cache_close(pf_cache *c)
{
    if (c->cases)
        for (int i = 0; i < c->n_cases; i++) {
            if (c->cases[i].map)
                munmap((void *)c->cases[i].map, c->cases[i].map_len);
            if (c->cases[i].retired_map)
                munmap(c->cases[i].retired_map, c->cases[i].retired_len);
            if (c->cases[i].path)
                pthread_mutex_destroy(&c->cases[i].lock);
            free(c->cases[i].path);
        }
    free(c->cases);
    free(c->keys);
    free(c->dir);
    free(c->bad);
    memset(c, 0, sizeof *c);
}
