/* cache.c - the cache of preprocessed cases (see cache.h): entry keys and paths, building the
 * missing entries on the worker pool, repairing a corrupt one, closing. One entry's format:
 * entry_write.c and entry_read.c. */
#include "cache.h"

#include <ctype.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "entry.h"
#include "workers.h"


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
    if (asprintf(&p, "%s/%s.%016llx.%016llx.pfcase", c->dir, ds->cases[case_idx].id,
                 (unsigned long long)c->base_keys[case_idx], (unsigned long long)c->spec_hash) < 0)
        return NULL;
    return p;
}

/* This host's name as it goes into temporaries' names: letters, digits and '-' kept, anything
 * else (the dots of a fully qualified name) as '_', so the name parses back unambiguously. */
static void host_tag(char *out, size_t cap)
{
    char host[256] = "";
    size_t k = 0;
    if (gethostname(host, sizeof host - 1) != 0 || !host[0])
        snprintf(host, sizeof host, "unknown");
    for (const char *c = host; *c && k + 1 < cap; c++)
        out[k++] = (isalnum((unsigned char)*c) || *c == '-') ? *c : '_';
    out[k] = '\0';
}

int pf_cache_temp_template(const char *path, char *out, size_t cap)
{
    char host[128];
    host_tag(host, sizeof host);
    return snprintf(out, cap, "%s.tmp.%s.%d.XXXXXX", path, host, (int)getpid()) < (int)cap
               ? 0 : -1;
}

/* A builder killed mid-entry leaves NAME.tmp.HOST.PID.XXXXXX behind: never used (only renamed
 * entries are). Whether its builder is gone can only be known on its own host (a PID means
 * nothing elsewhere), so only this host's dead builders' temporaries are removable: a shared
 * cache folder (NFS, Lustre) written by builders of many hosts never loses a temporary that a
 * live builder of another host is writing. A name of format 2's builders (NAME.tmp.PID.XXXXXX,
 * no host) is PF_TEMP_LEGACY_DEAD when its PID is not alive here: only gc removes those. */
pf_temp_state pf_cache_temporary_state(const char *name)
{
    const char *t = NULL, *dot[3] = {NULL, NULL, NULL};
    char mine[128];
    long pid;
    int nd = 0, dead;
    for (const char *p = strstr(name, ".tmp."); p; p = strstr(p + 1, ".tmp."))
        t = p; /* the last: an id may hold ".tmp." */
    if (!t)
        return PF_TEMP_NONE;
    /* after ".tmp.": HOST.PID.XXXXXX or PID.XXXXXX */
    for (const char *p = t + 5; *p; p++)
        if (*p == '.') {
            if (nd == 2)
                return PF_TEMP_NONE;
            dot[nd++] = p;
        }
    if (nd == 0)
        return PF_TEMP_NONE;
    pid = strtol(nd == 2 ? dot[0] + 1 : t + 5, NULL, 10);
    dead = pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH);
    if (nd == 1)
        return dead ? PF_TEMP_LEGACY_DEAD : PF_TEMP_KEEP;
    host_tag(mine, sizeof mine);
    if ((size_t)(dot[0] - (t + 5)) != strlen(mine) || strncmp(t + 5, mine, strlen(mine)) != 0)
        return PF_TEMP_KEEP; /* another host's: its builder may well be alive */
    return dead ? PF_TEMP_DEAD : PF_TEMP_KEEP;
}

static void remove_stale_temporaries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    if (!d)
        return;
    while ((de = readdir(d))) {
        char path[4200];
        if (pf_cache_temporary_state(de->d_name) == PF_TEMP_DEAD) {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

char *pf_cache_dir_of(const pf_dataset *ds, const pf_options *o)
{
    char *base = o->cache_dir ? strdup(o->cache_dir) : pf_default_cache_dir(), *dir = NULL;
    if (base && asprintf(&dir, "%s/%s-%016llx", base, ds->name,
                         (unsigned long long)XXH3_64bits(ds->root, strlen(ds->root))) < 0)
        dir = NULL;
    free(base);
    return dir;
}

int pf_cache_init(pf_cache *c, const pf_dataset *ds, const pf_options *o, pf_error *err)
{
    return pf_cache_init_ex(c, ds, o, 0, err);
}

int pf_cache_init_ex(pf_cache *c, const pf_dataset *ds, const pf_options *o, unsigned flags,
                     pf_error *err)
{
    XXH3_state_t *st = XXH3_createState();
    int rc = -1;

    memset(c, 0, sizeof *c);
    c->n_cases = ds->n_cases;
    c->keys = calloc((size_t)ds->n_cases, sizeof *c->keys);
    c->src_keys = calloc((size_t)ds->n_cases, sizeof *c->src_keys);
    c->dir = pf_cache_dir_of(ds, o);
    if (!st || !c->keys || !c->src_keys || !c->dir) {
        pf_fail(err, ENOMEM, "out of memory");
        goto out;
    }
    if (!(flags & PF_CACHE_KEYS_ONLY)) {
        if (mkdir_p(c->dir, err))
            goto out;
        remove_stale_temporaries(c->dir);
    }
    for (int i = 0; i < ds->n_cases; i++) {
        const pf_case_src *cs = &ds->cases[i];
        uint32_t words[6] = {PF_CACHE_VERSION, (uint32_t)o->crop, (uint32_t)ds->layout,
                             (uint32_t)ds->n_channels, (uint32_t)ds->ignore_label,
                             (uint32_t)ds->n_labels};
        uint64_t src[2] = {0, 0x7066667072696e74ull}, entry[2]; /* "pffprint" */
        /* the sources: the layout, labels, the case's identity and its files */
        XXH3_64bits_reset(st);
        XXH3_64bits_update(st, words + 2, sizeof words - 2 * sizeof *words);
        XXH3_64bits_update(st, ds->label_values, (size_t)ds->n_labels * sizeof(int));
        if (ds->n_regions || ds->ignore_label >= 0) {
            /* the class table holds regions and the annotated voxels: other entries than a
             * label dataset's (whose keys stay as they were) */
            XXH3_64bits_update(st, "classes:regions,annotated", 26);
            for (int r = 0; r < ds->n_regions; r++) {
                XXH3_64bits_update(st, &ds->region_n[r], sizeof(int));
                XXH3_64bits_update(st, ds->region_labels[r], (size_t)ds->region_n[r] * sizeof(int));
            }
        }
        XXH3_64bits_update(st, cs->id, strlen(cs->id) + 1);
        for (int j = 0; j < cs->n_images; j++)
            if (hash_file_identity(st, ds, cs->images[j], err))
                goto out;
        if (cs->label && hash_file_identity(st, ds, cs->label, err))
            goto out;
        src[0] = XXH3_64bits_digest(st);
        c->src_keys[i] = XXH3_64bits(src, sizeof src);  /* a fingerprint record's */
        entry[0] = src[0];                              /* an entry's: plus the cache format */
        entry[1] = ((uint64_t)words[0] << 32) | words[1]; /* and the crop */
        c->keys[i] = XXH3_64bits(entry, sizeof entry);
    }
    c->base_keys = malloc((size_t)(ds->n_cases ? ds->n_cases : 1) * sizeof *c->base_keys);
    if (!c->base_keys) {
        pf_fail(err, ENOMEM, "out of memory");
        goto out;
    }
    memcpy(c->base_keys, c->keys, (size_t)ds->n_cases * sizeof *c->keys);
    for (int d = 0; d < 3; d++)
        c->default_spec.transpose[d] = d;
    c->default_spec.crop = o->crop == PF_CROP_NONZERO;
    c->default_spec.order = 3;
    c->default_spec.seg_order = 1;
    c->default_spec.force_separate_z = -1;
    c->default_spec.n_channels = ds->n_channels < PF_MAX_CHANNELS ? ds->n_channels
                                                                  : PF_MAX_CHANNELS;
    for (int ch = 0; ch < PF_MAX_CHANNELS; ch++)
        c->default_norm[ch].scheme = PF_SCHEME_NONE; /* the sources' values */
    c->default_spec.norm = c->default_norm;
    pf_cache_bind_spec(c, &c->default_spec);
    rc = 0;
out:
    XXH3_freeState(st);
    return rc;
}

void pf_cache_bind_spec(pf_cache *c, const pf_prep_spec *spec)
{
    /* every number that shapes an entry, written out field by field (no padding bytes) */
    double v[3 + 2 * 64 * 5 + 16];
    size_t k = 0;
    c->spec = spec;
    for (int d = 0; d < 3; d++)
        v[k++] = spec->transpose[d];
    v[k++] = spec->crop;
    v[k++] = spec->resample;
    for (int d = 0; d < 3; d++)
        v[k++] = spec->target[d];
    v[k++] = spec->order;
    v[k++] = spec->order_z;
    v[k++] = spec->seg_order;
    v[k++] = spec->seg_order_z;
    v[k++] = spec->force_separate_z;
    v[k++] = spec->n_channels;
    for (int ch = 0; ch < spec->n_channels && ch < 64; ch++) {
        const pf_channel_norm *n = &spec->norm[ch];
        v[k++] = n->scheme;
        v[k++] = n->use_mask;
        v[k++] = n->scheme == PF_SCHEME_CT ? n->ct_mean : 0;
        v[k++] = n->scheme == PF_SCHEME_CT ? n->ct_std : 0;
        v[k++] = n->scheme == PF_SCHEME_CT ? n->ct_lo : 0;
        v[k++] = n->scheme == PF_SCHEME_CT ? n->ct_hi : 0;
    }
    c->spec_hash = XXH3_64bits(v, k * sizeof *v);
    for (int i = 0; i < c->n_cases; i++) {
        uint64_t both[2] = {c->base_keys[i], c->spec_hash};
        c->keys[i] = XXH3_64bits(both, sizeof both);
    }
    c->fingerprint = XXH3_64bits(c->keys, (size_t)c->n_cases * sizeof *c->keys);
}

/* ---- building many entries on worker threads ---- */

int pf_case_pass_done(pf_case_pass *p, int idx, int rc, int report, const pf_error *err)
{
    int d;
    if (rc != 0) {
        if (!(p->skip_bad && rc == -1 && err->errnum != ENOMEM))
            return -1;
        /* a bad case is set aside; trouble with the cache itself still stops */
        pthread_mutex_lock(&p->lock);
        p->c->bad[p->c->n_bad].idx = idx;
        p->c->bad[p->c->n_bad++].err = *err;
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    d = __atomic_add_fetch(&p->done, 1, __ATOMIC_RELAXED);
    if (p->progress && report) {
        pthread_mutex_lock(&p->lock);
        p->progress(p->arg, d, p->total, p->ds->cases[idx].id);
        pthread_mutex_unlock(&p->lock);
    }
    return 0;
}

typedef struct build_job {
    pf_case_pass pass;
    int *pending;
} build_job;

/* Builds pending entry k (pf_parallel_for's unit). */
static int build_one(void *p, int k, pf_error *err)
{
    build_job *j = p;
    const int idx = j->pending[k];
    char *path = pf_cache_entry_path(j->pass.c, j->pass.ds, idx);
    int rc;
    if (!path)
        return pf_fail(err, ENOMEM, "out of memory");
    rc = pf_cache_build_entry(j->pass.ds, idx, j->pass.c->spec, j->pass.c->keys[idx], path, err);
    free(path);
    return pf_case_pass_done(&j->pass, idx, rc, 1, err);
}

int pf_cache_build(pf_cache *c, const pf_dataset *ds, const pf_options *o, int threads,
                   int full_check, pf_progress_fn progress, void *arg, int *built,
                   pf_error *err)
{
    build_job j = {.pass = {.c = c, .ds = ds, .skip_bad = o->skip_bad, .progress = progress,
                            .arg = arg}};
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
        char *path;
        if (c->build_world > 0 && i % c->build_world != c->build_rank)
            continue; /* another shard's */
        path = pf_cache_entry_path(c, ds, i);
        if (!path || !pf_entry_valid(path, c->keys[i], full_check))
            j.pending[j.pass.total++] = i;
        free(path);
    }
    pthread_mutex_init(&j.pass.lock, NULL);
    rc = pf_parallel_for(0, j.pass.total, threads, build_one, &j, err);
    pthread_mutex_destroy(&j.pass.lock);
    *built = j.pass.done;
    free(j.pending);
    return rc;
}

int pf_cache_repair(pf_cache *c, const pf_dataset *ds, int idx, pf_error *err)
{
    pf_case *cs = &c->cases[idx];
    pf_case_map *m = NULL;
    unsigned seen;
    int rc = 0;
    pthread_mutex_lock(&cs->lock);
    if (cs->bulk_state > 0 && pf_case_sound(cs))
        goto out; /* another reader repaired it meanwhile */
    /* faults up to here are covered by the rebuilt entry; later ones (in the old mapping, by
     * a reader still on it) leave the case unsound, and cost one more repair */
    seen = __atomic_load_n((unsigned *)&cs->faults, __ATOMIC_ACQUIRE);
    if (pf_cache_build_entry(ds, idx, c->spec, c->keys[idx], cs->path, err) != 0 ||
        pf_entry_remap(cs, c->keys[idx], &m, err) != 0) {
        rc = -1;
        goto out;
    }
    /* the old mapping may still be read by a reader that began before: it stays mapped,
     * retired behind the new one, until close (one per repair; repairs are rare) */
    pf_case_publish(cs, m, seen);
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
            pf_case *cs = &c->cases[i];
            pf_case_map_close(__atomic_load_n((pf_case_map **)&cs->map, __ATOMIC_ACQUIRE));
            if (cs->path)
                pthread_mutex_destroy(&cs->lock);
            free((void *)cs->classes);
            free(cs->path);
        }
    free(c->cases);
    free(c->keys);
    free(c->src_keys);
    free(c->base_keys);
    free(c->dir);
    free(c->bad);
    memset(c, 0, sizeof *c);
}
