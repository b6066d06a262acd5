/* gc.c - a dataset's cache folder seen from its current sources: check's view of the entries
 * and gc's removal of what nothing reaches (see gc.h for the rule). Nothing here builds. */
#include "gc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "entry.h"
#include "fp_store.h"

static int is_folder(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- check: the current entries ---- */

static void read_brief(const char *path, pf_entry_brief *b)
{
    pf_case_header h;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t len;
    if (fd < 0)
        return;
    if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
        goto out;
    len = (size_t)h.n_classes * sizeof *b->classes;
    b->classes = malloc(len ? len : 1);
    if (!b->classes || pread(fd, b->classes, len, (off_t)h.classes_off) != (ssize_t)len) {
        free(b->classes);
        b->classes = NULL;
        goto out;
    }
    b->present = 1;
    b->n_classes = h.n_classes;
    b->file_size = h.file_size;
    memcpy(b->orig_shape, h.orig_shape, sizeof b->orig_shape);
    memcpy(b->shape, h.shape, sizeof b->shape);
    memcpy(b->spacing, h.spacing, sizeof b->spacing);
out:
    close(fd);
}

int pf_cache_briefs(const pf_dataset *ds, const pf_options *o, const pf_prep_spec *spec,
                    pf_entry_brief *out, pf_error *err)
{
    char *dir = pf_cache_dir_of(ds, o);
    pf_cache c;
    int rc = -1;
    memset(out, 0, (size_t)ds->n_cases * sizeof *out);
    if (!dir)
        return pf_fail(err, ENOMEM, "out of memory");
    if (!is_folder(dir)) {
        free(dir);
        return 0;
    }
    free(dir);
    if (pf_cache_init_ex(&c, ds, o, PF_CACHE_KEYS_ONLY, err))
        goto out;
    if (spec)
        pf_cache_bind_spec(&c, spec);
    for (int i = 0; i < ds->n_cases; i++) {
        char *path = pf_cache_entry_path(&c, ds, i);
        if (!path) {
            pf_fail(err, ENOMEM, "out of memory");
            goto out;
        }
        if (pf_entry_valid(path, c.keys[i], 0))
            read_brief(path, &out[i]);
        free(path);
    }
    rc = 0;
out:
    pf_cache_close(&c);
    return rc;
}

void pf_entry_briefs_free(pf_entry_brief *b, int n)
{
    for (int i = 0; b && i < n; i++)
        free(b[i].classes);
}

/* ---- gc ---- */

/* A key some current case reaches, and under which value of the key's options. */
typedef struct live_key {
    uint64_t key;
    int crop;
} live_key;

typedef struct gc_run {
    const pf_dataset *ds;
    const pf_options *o;
    unsigned flags;
    pf_gc_fn fn;
    void *arg;
    pf_gc_totals *t;
    live_key *live;
    size_t n_live;
    uint64_t *fp_live;  /* the current fingerprint records' keys, sorted */
    size_t n_fp_live;
    uint64_t fp_dataset; /* the current dataset fingerprint entry's key */
    const char *what;    /* "case" or "test image" */
} gc_run;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_live(const void *a, const void *b)
{
    uint64_t x = ((const live_key *)a)->key, y = ((const live_key *)b)->key;
    return x < y ? -1 : x > y;
}

/* The keys the current cases reach under o and under every other value of the options that
 * enter an entry's key besides the sources. That is `crop` today: an option added to the key
 * in pf_cache_init must be enumerated here too, or gc takes the entries of its other values
 * for stale ones. Cases with a missing file reach nothing. */
static int live_keys(gc_run *g, pf_error *err)
{
    const pf_dataset *ds = g->ds;
    pf_dataset view = *ds; /* the complete cases, sharing ds's strings */
    int rc = -1;
    view.n_cases = 0;
    view.cases = calloc((size_t)ds->n_cases + 1, sizeof *view.cases);
    g->live = calloc((PF_CROP_NONE + 1) * (size_t)ds->n_cases + 1, sizeof *g->live);
    g->fp_live = calloc((size_t)ds->n_cases + 1, sizeof *g->fp_live);
    if (!view.cases || !g->live || !g->fp_live) {
        pf_fail(err, ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < ds->n_cases; i++)
        if (!ds->cases[i].missing)
            view.cases[view.n_cases++] = ds->cases[i];
    for (int crop = PF_CROP_NONZERO; crop <= PF_CROP_NONE; crop++) {
        pf_options v = *g->o;
        pf_cache c;
        int failed;
        v.crop = (pf_crop_mode)crop;
        failed = pf_cache_init_ex(&c, &view, &v, PF_CACHE_KEYS_ONLY, err);
        for (int i = 0; !failed && i < view.n_cases; i++) {
            g->live[g->n_live].key = c.base_keys[i];
            g->live[g->n_live++].crop = crop;
        }
        if (!failed && crop == PF_CROP_NONZERO) {
            /* the fingerprint: of the complete cases (what a mount fingerprints, skip_bad
             * setting the incomplete ones aside), whatever the options */
            const uint64_t samples = pf_fp_samples_per_case(view.n_cases);
            for (int i = 0; i < view.n_cases; i++)
                g->fp_live[g->n_fp_live++] = pf_fp_record_key(&c, i, samples);
            g->fp_dataset = pf_fp_dataset_key(&c, samples);
        }
        pf_cache_close(&c);
        if (failed)
            goto out;
    }
    qsort(g->live, g->n_live, sizeof *g->live, cmp_live);
    qsort(g->fp_live, g->n_fp_live, sizeof *g->fp_live, cmp_u64);
    rc = 0;
out:
    free(view.cases);
    return rc;
}

static const live_key *find_live(const gc_run *g, uint64_t key)
{
    live_key k = {.key = key};
    return bsearch(&k, g->live, g->n_live, sizeof *g->live, cmp_live);
}

/* "<id>.<16 hex digits>.<16 hex digits>.pfcase" (the entry's sources, then its preprocessing:
 * any preprocessing of current sources is reached) or format 1's "<id>.<16 hex>.pfcase" (key
 * 0: reached by nothing): the id (into id) and the key; 0 if the name is neither. */
static int parse_entry_name(const char *name, char *id, size_t cap, uint64_t *key)
{
    static const char suffix[] = ".pfcase";
    size_t len = strlen(name), ls = sizeof suffix - 1;
    char hex[17], *end;
    if (len < ls + 18 || strcmp(name + len - ls, suffix) || name[len - ls - 17] != '.')
        return 0;
    if (len >= ls + 35 && name[len - ls - 34] == '.' &&
        strspn(name + len - ls - 16, "0123456789abcdef") >= 16) {
        size_t idlen = len - ls - 34;
        memcpy(hex, name + idlen + 1, 16);
        hex[16] = '\0';
        if (strspn(hex, "0123456789abcdef") == 16 && idlen < cap) {
            *key = strtoull(hex, &end, 16);
            memcpy(id, name, idlen);
            id[idlen] = '\0';
            return 1;
        }
    }
    memcpy(hex, name + len - ls - 16, 16);
    hex[16] = '\0';
    if (strspn(hex, "0123456789abcdef") != 16)
        return 0;
    *key = 0; /* format 1's name: its key no longer addresses anything */
    if (len - ls - 17 >= cap)
        return 0;
    memcpy(id, name, len - ls - 17);
    id[len - ls - 17] = '\0';
    return 1;
}

/* Why entry (id, key) is no longer reached, or NULL when it is (and stays). */
static const char *entry_verdict(const gc_run *g, const char *id, uint64_t key, char *why,
                                 size_t cap)
{
    const live_key *k = find_live(g, key);
    int idx;
    if (k && (k->crop == (int)g->o->crop || !(g->flags & PF_GC_ALL)))
        return NULL; /* the options given, or others still valid */
    if (k) {
        snprintf(why, cap, "an entry of other options (crop=%s; -o all)",
                 pf_crop_mode_name((pf_crop_mode)k->crop));
        return why;
    }
    idx = pf_dataset_find_case(g->ds, id);
    if (idx < 0)
        snprintf(why, cap, "%s %s is no longer in the dataset", g->what, id);
    else if (g->ds->cases[idx].missing)
        snprintf(why, cap, "a file of %s %s is missing", g->what, id);
    else
        snprintf(why, cap, "stale: a source file of %s changed since it was built (size or "
                 "mtime), or dataset.json's labels, or the cache format", id);
    return why;
}

/* A fingerprint record, "<id>.<16 hex digits>.pffp", or the dataset's entry,
 * "dataset.<16 hex digits>.pffpset": why it is no longer reached, or NULL when it is or when
 * the name is neither (left alone). */
static const char *fingerprint_verdict(const gc_run *g, const char *name, char *why, size_t cap)
{
    static const char rec[] = ".pffp", set[] = ".pffpset";
    const size_t len = strlen(name);
    const int is_set = len > sizeof set - 1 && !strcmp(name + len - (sizeof set - 1), set);
    const size_t ls = is_set ? sizeof set - 1 : sizeof rec - 1;
    char hex[17], id[NAME_MAX + 1];
    uint64_t key;
    int idx;
    if (!is_set && (len <= ls || strcmp(name + len - ls, rec)))
        return NULL;
    if (len < ls + 18 || name[len - ls - 17] != '.')
        return NULL;
    memcpy(hex, name + len - ls - 16, 16);
    hex[16] = '\0';
    if (strspn(hex, "0123456789abcdef") != 16)
        return NULL;
    key = strtoull(hex, NULL, 16);
    memcpy(id, name, len - ls - 17);
    id[len - ls - 17] = '\0';
    if (is_set) {
        if (!strcmp(id, "dataset") && key == g->fp_dataset)
            return NULL;
        snprintf(why, cap, "a fingerprint of the dataset as it was (a source file, the case list "
                 "or dataset.json's labels changed since)");
        return why;
    }
    if (bsearch(&key, g->fp_live, g->n_fp_live, sizeof key, cmp_u64))
        return NULL;
    idx = pf_dataset_find_case(g->ds, id);
    if (idx < 0)
        snprintf(why, cap, "fingerprint record of case %s, no longer in the dataset", id);
    else if (g->ds->cases[idx].missing)
        snprintf(why, cap, "fingerprint record of case %s, a file of which is missing", id);
    else
        snprintf(why, cap, "stale fingerprint record of %s: a source file of it changed since "
                 "(size or mtime), or the number of cases, or dataset.json's labels", id);
    return why;
}

static int collect(gc_run *g, const char *path, uint64_t bytes, const char *why, pf_error *err)
{
    if (!(g->flags & PF_GC_DRY_RUN) && unlink(path) != 0) {
        if (errno == ENOENT)
            return 0; /* removed meanwhile */
        return pf_fail(err, errno, "%s: cannot remove: %s", path, strerror(errno));
    }
    g->t->freed++;
    g->t->bytes_freed += bytes;
    if (g->fn)
        g->fn(g->arg, path, bytes, why);
    return 0;
}

/* Scans a folder: entries at the top (depth 0), fingerprint records in fingerprint/, dead
 * temporaries at any depth up to 1. Names are visited in sorted order, so the listing is the
 * same on every run. */
static int scan(gc_run *g, const char *dir, int depth, int fingerprints, pf_error *err)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort), rc = 0;
    if (n < 0)
        return pf_fail(err, errno, "%s: cannot list the cache folder: %s", dir, strerror(errno));
    for (int i = 0; i < n && rc == 0; i++) {
        const char *name = names[i]->d_name;
        char path[PATH_MAX + 256], id[NAME_MAX + 1], why[NAME_MAX + 160];
        const char *verdict = NULL;
        struct stat st;
        uint64_t key;
        if (!strcmp(name, ".") || !strcmp(name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth == 0)
                rc = scan(g, path, 1,
                          !(g->flags & PF_GC_TEST_IMAGES) && !strcmp(name, "fingerprint"),
                          err);
            continue;
        }
        if (!S_ISREG(st.st_mode))
            continue;
        if (pf_cache_temporary_state(name) == PF_TEMP_DEAD)
            verdict = "temporary file of a cache builder of this host that is no longer running";
        else if (pf_cache_temporary_state(name) == PF_TEMP_LEGACY_DEAD)
            verdict = "temporary file of an older patchfs's builder (no host in its name) whose "
                      "process is not running here";
        else if (depth == 0 && !strstr(name, ".tmp.") &&
                 parse_entry_name(name, id, sizeof id, &key))
            verdict = entry_verdict(g, id, key, why, sizeof why);
        else if (fingerprints && !strstr(name, ".tmp."))
            verdict = fingerprint_verdict(g, name, why, sizeof why);
        if (verdict) {
            rc = collect(g, path, (uint64_t)st.st_size, verdict, err);
        } else {
            g->t->kept++;
            g->t->bytes_kept += (uint64_t)st.st_size;
        }
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int pf_cache_gc(const pf_dataset *ds, const pf_options *o, unsigned flags, pf_gc_fn fn,
                void *arg, pf_gc_totals *t, pf_error *err)
{
    gc_run g = {.ds = ds, .o = o, .flags = flags, .fn = fn, .arg = arg, .t = t,
                .what = flags & PF_GC_TEST_IMAGES ? "test image" : "case"};
    char *dir = pf_cache_dir_of(ds, o);
    int rc = -1;
    memset(t, 0, sizeof *t);
    if (!dir)
        return pf_fail(err, ENOMEM, "out of memory");
    if (!is_folder(dir)) {
        t->folder_missing = 1;
        free(dir);
        return 0;
    }
    if (live_keys(&g, err) == 0)
        rc = scan(&g, dir, 0, 0, err);
    free(g.live);
    free(g.fp_live);
    free(dir);
    return rc;
}
