/* maintain.c - examining a dataset and its cache without serving it: `patchfs check`'s
 * validation of every case (every problem listed, nothing built) and `patchfs gc` (see
 * context.h). The checks themselves are the cache build's (ingest/load.c); the cache's view
 * and its collection are in cache/gc.c. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "dataset.h"
#include "fp_store.h"
#include "gc.h"
#include "geometry.h"
#include "load.h"
#include "planner.h"
#include "prepare.h"
#include "preprocess.h"
#include "split.h"
#include "testset.h"
#include "workers.h"
#include "patchfs/context.h"

/* One case as check sees it. */
typedef struct case_row {
    char **problems;
    int n_problems;
    int oom;                /* a problem could not be recorded */
    int known;              /* the columns below are filled (decoded, or from its entry) */
    int from_entry;         /* ... from its current cache entry */
    int64_t orig[3], crop[3];
    double spacing[3];
    int n_classes;
    int32_t *labels;
    uint64_t *voxels;
    uint64_t bytes;         /* its entry's size, or about what building it writes */
} case_row;

static void row_free(case_row *r)
{
    for (int i = 0; i < r->n_problems; i++)
        free(r->problems[i]);
    free(r->problems);
    free(r->labels);
    free(r->voxels);
}

static int add_text(char ***list, int *n, const char *msg)
{
    char **p = realloc(*list, ((size_t)*n + 1) * sizeof *p);
    if (!p)
        return -1;
    *list = p;
    if (!(p[*n] = strdup(msg)))
        return -1;
    (*n)++;
    return 0;
}

static void on_problem(void *arg, const pf_error *e)
{
    case_row *r = arg;
    if (add_text(&r->problems, &r->n_problems, e->msg))
        r->oom = 1;
}

/* The columns of a decoded case: shapes before and after crop=, spacing, and the voxels of
 * every class in the cropped case (those the cache entry's class table will hold), and about
 * how many bytes its entry takes: 4 per channel and 2 per voxel of the cropped case, 12 per
 * stored class location, the intensity samples and a 4 KiB header. */
static int summarise(const pf_dataset *ds, const pf_options *o, const pf_loaded_case *lc,
                     case_row *r)
{
    int64_t lo[3] = {0, 0, 0}, hi[3];
    uint64_t *count = calloc(32768, sizeof *count), nvox = 1, locs = 0;
    const int64_t ny = lc->shape[1], nx = lc->shape[2];
    if (!count)
        return -1;
    memcpy(hi, lc->shape, sizeof hi);
    if (o->crop == PF_CROP_NONZERO)
        pf_nonzero_box(lc->image, ds->n_channels, lc->shape, lo, hi);
    for (int d = 0; d < 3; d++) {
        r->orig[d] = lc->shape[d];
        r->crop[d] = hi[d] - lo[d];
        r->spacing[d] = lc->info.spacing[2 - d];
        nvox *= (uint64_t)r->crop[d];
    }
    for (int64_t z = lo[0]; z < hi[0]; z++)
        for (int64_t y = lo[1]; y < hi[1]; y++) {
            const int16_t *row = lc->seg + (z * ny + y) * nx;
            for (int64_t x = lo[2]; x < hi[2]; x++)
                count[row[x]]++; /* pf_load_case: 0..32767 */
        }
    if (ds->n_regions) {
        /* a region's voxels: those of its labels */
        r->labels = calloc((size_t)ds->n_regions + 1, sizeof *r->labels);
        r->voxels = calloc((size_t)ds->n_regions + 1, sizeof *r->voxels);
        if (!r->labels || !r->voxels) {
            free(count);
            return -1;
        }
        for (int g = 0; g < ds->n_regions; g++) {
            uint64_t sum = 0;
            for (int k = 0; k < ds->region_n[g]; k++)
                sum += count[ds->region_labels[g][k]];
            if (!sum)
                continue;
            r->labels[r->n_classes] = g + 1;
            r->voxels[r->n_classes++] = sum;
            locs += pf_locs_count(sum);
        }
        free(count);
        goto sized;
    }
    for (int v = 1; v < 32768; v++)
        if (count[v] && v != ds->ignore_label)
            r->n_classes++;
    r->labels = calloc((size_t)r->n_classes + 1, sizeof *r->labels);
    r->voxels = calloc((size_t)r->n_classes + 1, sizeof *r->voxels);
    if (!r->labels || !r->voxels) {
        free(count);
        return -1;
    }
    for (int v = 1, k = 0; v < 32768; v++)
        if (count[v] && v != ds->ignore_label) {
            r->labels[k] = v;
            r->voxels[k++] = count[v];
            locs += pf_locs_count(count[v]);
        }
    free(count);
sized:
    /* an estimate on the source grid (resampling changes the voxel count) */
    r->bytes = 4096 + nvox * (4 * (uint64_t)ds->n_channels + 2) + 12 * locs;
    r->known = 1;
    return 0;
}

static int from_entry(const pf_entry_brief *b, case_row *r)
{
    r->labels = calloc((size_t)b->n_classes + 1, sizeof *r->labels);
    r->voxels = calloc((size_t)b->n_classes + 1, sizeof *r->voxels);
    if (!r->labels || !r->voxels)
        return -1;
    for (uint32_t k = 0; k < b->n_classes; k++) {
        r->labels[k] = b->classes[k].label;
        r->voxels[k] = b->classes[k].voxels;
    }
    r->n_classes = (int)b->n_classes;
    memcpy(r->orig, b->orig_shape, sizeof r->orig);
    memcpy(r->crop, b->shape, sizeof r->crop);
    memcpy(r->spacing, b->spacing, sizeof r->spacing);
    r->bytes = b->file_size;
    r->known = r->from_entry = 1;
    return 0;
}

typedef struct check_job {
    const pf_dataset *ds;
    const pf_options *o;
    case_row *rows;
    int *pending, n_pending;
    atomic_int done;
    pthread_mutex_t lock; /* the progress callback */
    pf_progress_fn progress;
    void *arg;
} check_job;

/* What a scheme requires of a decoded case (pf_prepare_check_input: rgb_to_0_1 channels in
 * [0, 255]), for the schemes the channel names choose (normalize=auto without plans=; a plan
 * file's schemes are checked when the entry is built). */
static void check_input(const check_job *j, int idx, const pf_loaded_case *lc, case_row *r)
{
    pf_channel_norm norm[PF_MAX_CHANNELS];
    pf_prep_spec spec = {.n_channels = j->ds->n_channels, .norm = norm};
    pf_error e = {0};
    if (j->o->normalize != PF_NORM_AUTO || j->o->plans_file[0] ||
        j->ds->n_channels > PF_MAX_CHANNELS)
        return;
    memset(norm, 0, sizeof norm);
    for (int c = 0; c < j->ds->n_channels; c++)
        norm[c].scheme = strcmp(pf_plan_norm_scheme(j->ds->channel_names[c]),
                                "RGBTo01Normalization") == 0 ? PF_SCHEME_RGB01 : PF_SCHEME_ZSCORE;
    if (pf_prepare_check_input(lc, &spec, &j->ds->cases[idx], &e) != 0)
        on_problem(r, &e);
}

/* Decodes and checks case pending[k] (pf_parallel_for's unit); its problems go to its row. */
static int check_one(void *p, int k, pf_error *err)
{
    check_job *j = p;
    const int idx = j->pending[k];
    case_row *r = &j->rows[idx];
    pf_loaded_case lc;
    pf_error first;
    int d;
    (void)err;
    if (pf_load_case_checked(j->ds, idx, &lc, on_problem, r, &first) == 0) {
        check_input(j, idx, &lc, r);
        if (summarise(j->ds, j->o, &lc, r))
            r->oom = 1;
        pf_loaded_case_free(&lc);
    }
    d = atomic_fetch_add(&j->done, 1) + 1;
    if (j->progress) {
        pthread_mutex_lock(&j->lock);
        j->progress(j->arg, d, j->n_pending, j->ds->cases[idx].id);
        pthread_mutex_unlock(&j->lock);
    }
    return 0;
}

static void fmt_bytes(char *buf, size_t cap, uint64_t b)
{
    if (b >= (uint64_t)1 << 30)
        snprintf(buf, cap, "%.1f GiB", (double)b / (double)(1u << 30));
    else if (b >= (uint64_t)1 << 20)
        snprintf(buf, cap, "%.1f MiB", (double)b / (double)(1u << 20));
    else
        snprintf(buf, cap, "%.1f KiB", (double)b / 1024.0);
}

typedef struct report_in {
    const pf_dataset *ds;
    const pf_options *o;
    const case_row *rows;
    const pf_check_result *res;
    const pf_split_lists *split; /* NULL when the fold was not resolved */
    const char *cache_dir;
    int n_ds_problems;           /* problems of the dataset as a whole (options, fold) */
} report_in;

/* The table of `patchfs check` from entries and sources: the columns of pf_ctx_check_report. */
static char *format_report(const report_in *in)
{
    const pf_dataset *ds = in->ds;
    char *text = NULL, size_text[32];
    size_t size = 0;
    int with_entry = 0, usable = 0;
    uint64_t to_build = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    fprintf(f, "dataset %s (%s layout): %d cases, %d channel%s, ", ds->name,
            ds->layout == PF_LAYOUT_MSD ? "Decathlon" : "nnU-Net", ds->n_cases, ds->n_channels,
            ds->n_channels == 1 ? "" : "s");
    pf_dataset_print_labels(ds, f);
    fprintf(f, "\nchannels:");
    for (int c = 0; c < ds->n_channels; c++)
        fprintf(f, " %s", ds->channel_names[c]);
    fprintf(f, "\n");
    if (in->split) {
        if (in->o->fold == PF_FOLD_ALL)
            fprintf(f, "fold all");
        else
            fprintf(f, "fold %d", in->o->fold);
        fprintf(f, ": %d train, %d val (%s)\n", in->split->n_train, in->split->n_val,
                in->split->source);
    }
    for (int i = 0; i < ds->n_cases; i++) {
        if (in->rows[i].n_problems)
            continue;
        usable++;
        if (in->rows[i].from_entry)
            with_entry++;
        else
            to_build += in->rows[i].bytes;
    }
    fmt_bytes(size_text, sizeof size_text, to_build);
    fprintf(f, "cache: %s: %d of %d usable cases have an entry", in->cache_dir, with_entry,
            usable);
    if (with_entry < usable)
        fprintf(f, "; building the others writes about %s (patchfs prepare, or check -o "
                "prepare)", size_text);
    fprintf(f, "\n\n%-28s %-15s %-15s %-20s %s\n", "case", "shape (ZYX)", "cropped",
            "spacing (ZYX mm)", "classes (label:voxels)");
    for (int i = 0; i < ds->n_cases; i++) {
        const case_row *r = &in->rows[i];
        char shape[32], crop[32], sp[48];
        if (r->n_problems) {
            fprintf(f, "%-28s %s: %s", ds->cases[i].id, in->o->skip_bad ? "SKIPPED" : "PROBLEM",
                    r->problems[0]);
            if (r->n_problems > 1)
                fprintf(f, " (and %d more)", r->n_problems - 1);
            fprintf(f, "\n");
            continue;
        }
        if (!r->known)
            continue; /* not reached: out of memory, reported */
        snprintf(shape, sizeof shape, "%lldx%lldx%lld", (long long)r->orig[0],
                 (long long)r->orig[1], (long long)r->orig[2]);
        snprintf(crop, sizeof crop, "%lldx%lldx%lld", (long long)r->crop[0],
                 (long long)r->crop[1], (long long)r->crop[2]);
        snprintf(sp, sizeof sp, "%.3gx%.3gx%.3g", r->spacing[0], r->spacing[1], r->spacing[2]);
        fprintf(f, "%-28s %-15s %-15s %-20s", ds->cases[i].id, shape, crop, sp);
        if (r->n_classes == 0)
            fprintf(f, " (no foreground)");
        for (int k = 0; k < r->n_classes; k++)
            pf_dataset_print_class(ds, f, r->labels[k], r->voxels[k]);
        fprintf(f, "\n");
    }
    if (in->res->usable)
        fprintf(f, "\nOK: %d cases usable%s\n", usable,
                in->res->bad_cases ? " (skip_bad)" : "");
    else
        fprintf(f, "\nNOT USABLE: %d problem%s in %d of %d cases%s (listed on stderr)\n",
                in->res->problems, in->res->problems == 1 ? "" : "s", in->res->bad_cases,
                ds->n_cases, in->n_ds_problems ? " and the dataset" : "");
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* The cases of ds without a missing file (complete_only), or without problems, as a dataset
 * sharing ds's strings (not for pf_dataset_free); map[k] (if map) is the index in ds. */
static int view_of(const pf_dataset *ds, const case_row *rows, int complete_only,
                   pf_dataset *view, int *map)
{
    *view = *ds;
    view->n_cases = 0;
    view->cases = calloc((size_t)ds->n_cases + 1, sizeof *view->cases);
    if (!view->cases)
        return -1;
    for (int i = 0; i < ds->n_cases; i++) {
        if (complete_only ? ds->cases[i].missing != NULL : rows[i].n_problems > 0)
            continue;
        if (map)
            map[view->n_cases] = i;
        view->cases[view->n_cases++] = ds->cases[i];
    }
    return 0;
}

/* The geometry of the options in use, when every case's fingerprint record is in the cache:
 * 1, or 0 (g untouched) when one is missing or anything fails. */
static int cached_geometry(const pf_dataset *ds, const pf_options *o, pf_geometry *g)
{
    pf_cache c;
    pf_error e = {0};
    pf_case_fp *fps = calloc((size_t)ds->n_cases + 1, sizeof *fps);
    int ok = fps && pf_cache_init_ex(&c, ds, o, PF_CACHE_KEYS_ONLY, &e) == 0;
    uint64_t n = pf_fp_samples_per_case(ds->n_cases);
    for (int i = 0; ok && i < ds->n_cases; i++)
        ok = pf_fp_load(&c, ds, i, n, &fps[i], &e) == 0;
    if (fps)
        pf_cache_close(&c);
    ok = ok && pf_geometry_decide(g, o, ds, fps, ds->n_cases, &e) == 0;
    for (int i = 0; fps && i < ds->n_cases; i++)
        pf_case_fp_free(&fps[i]);
    free(fps);
    return ok;
}

int pf_check(const char *dataset_dir, const pf_options *o, void (*problem)(void *, const char *),
             void *parg, pf_progress_fn progress, void *arg, pf_check_result *out,
             pf_error *err)
{
    pf_dataset ds, view = {0};
    case_row *rows = NULL;
    pf_entry_brief *briefs = NULL;
    int *map = NULL, n_ds_problems = 0, rc = -1, split_ok = 0, n_briefs = 0;
    char **ds_problems = NULL, *cache_dir = NULL;
    pf_split_lists split = {0};
    check_job j = {.o = o, .progress = progress, .arg = arg};
    pf_error e = {0};

    memset(out, 0, sizeof *out);
    if (pf_dataset_open_ex(dataset_dir, PF_DS_KEEP_INCOMPLETE, &ds, err))
        return -1;
    rows = calloc((size_t)ds.n_cases, sizeof *rows);
    map = calloc((size_t)ds.n_cases, sizeof *map);
    j.pending = calloc((size_t)ds.n_cases, sizeof *j.pending);
    cache_dir = pf_cache_dir_of(&ds, o);
    if (!rows || !map || !j.pending || !cache_dir || view_of(&ds, NULL, 1, &view, map))
        goto oom;
    /* the options against the labels, as pf_ctx_open checks them first */
    if (pf_dataset_check_class_weights(&ds, o, &e) &&
        add_text(&ds_problems, &n_ds_problems, e.msg))
        goto oom;
    /* the test images as a mount lists them (imagesTs, "test", infer=): a file a mount would
     * refuse is a problem of the dataset; they are not decoded here */
    {
        pf_dataset test;
        if (pf_testset_open(&ds, o->infer_dir, &test, &e) != 0) {
            if (add_text(&ds_problems, &n_ds_problems, e.msg))
                goto oom;
        } else {
            pf_dataset_free(&test);
        }
    }
    /* cases with a current entry were checked when it was built */
    briefs = calloc((size_t)view.n_cases + 1, sizeof *briefs);
    if (!briefs)
        goto oom;
    n_briefs = view.n_cases;
    {
        /* the entries of the configuration in use: its geometry needs the fingerprint, which
         * is used only when every record is already in the cache (check builds nothing) */
        pf_geometry geom;
        int have = cached_geometry(&view, o, &geom);
        int bad = pf_cache_briefs(&view, o, have ? &geom.spec : NULL, briefs, err);
        if (have)
            pf_geometry_free(&geom);
        if (bad)
            goto out;
    }
    for (int k = 0; k < view.n_cases; k++)
        if (briefs[k].present && from_entry(&briefs[k], &rows[map[k]]))
            goto oom;
    for (int i = 0; i < ds.n_cases; i++)
        if (!rows[i].from_entry)
            j.pending[j.n_pending++] = i;
    j.ds = &ds;
    j.rows = rows;
    pthread_mutex_init(&j.lock, NULL);
    pf_parallel_for(0, j.n_pending, o->threads > 0 ? o->threads : 0, check_one, &j, err);
    pthread_mutex_destroy(&j.lock);
    for (int i = 0; i < ds.n_cases; i++) {
        if (rows[i].oom)
            goto oom;
        out->problems += rows[i].n_problems;
        out->bad_cases += rows[i].n_problems > 0;
    }
    /* the fold, over the cases a mount would serve */
    if (!n_ds_problems && ds.n_cases > out->bad_cases && (!out->bad_cases || o->skip_bad)) {
        free(view.cases);
        if (view_of(&ds, rows, 0, &view, NULL))
            goto oom;
        if (pf_split_resolve_ex(&view, o->fold, out->bad_cases > 0, &split, &e) == 0)
            split_ok = 1;
        else if (add_text(&ds_problems, &n_ds_problems, e.msg))
            goto oom;
    } else if (o->skip_bad && ds.n_cases == out->bad_cases) {
        snprintf(e.msg, sizeof e.msg, "%s: no usable case left (all %d have problems)",
                 ds.root, ds.n_cases);
        if (add_text(&ds_problems, &n_ds_problems, e.msg))
            goto oom;
    }
    out->problems += n_ds_problems;
    out->usable = !n_ds_problems && ds.n_cases > out->bad_cases &&
                  (!out->bad_cases || o->skip_bad);
    out->cache_complete = 1;
    for (int i = 0; i < ds.n_cases; i++)
        if (!rows[i].n_problems && !rows[i].from_entry)
            out->cache_complete = 0;
    /* every problem, in order: the dataset's, then each case's */
    for (int i = 0; problem && i < n_ds_problems; i++)
        problem(parg, ds_problems[i]);
    for (int i = 0; problem && i < ds.n_cases; i++)
        for (int k = 0; k < rows[i].n_problems; k++) {
            char line[sizeof e.msg + 300];
            snprintf(line, sizeof line, "case %s: %s", ds.cases[i].id, rows[i].problems[k]);
            problem(parg, line);
        }
    {
        report_in in = {.ds = &ds, .o = o, .rows = rows, .res = out,
                        .split = split_ok ? &split : NULL, .cache_dir = cache_dir,
                        .n_ds_problems = n_ds_problems};
        if (!(out->report = format_report(&in)))
            goto oom;
    }
    rc = 0;
    goto out;
oom:
    rc = pf_fail(err, ENOMEM, "out of memory");
out:
    for (int i = 0; rows && i < ds.n_cases; i++)
        row_free(&rows[i]);
    for (int i = 0; i < n_ds_problems; i++)
        free(ds_problems[i]);
    free(ds_problems);
    pf_entry_briefs_free(briefs, n_briefs);
    free(briefs);
    free(view.cases);
    free(rows);
    free(map);
    free(j.pending);
    free(cache_dir);
    pf_split_free(&split);
    pf_dataset_free(&ds);
    return rc;
}

/* Adds one folder's totals to the result. */
static void add_totals(pf_gc_result *out, const pf_gc_totals *t)
{
    out->freed += t->freed;
    out->kept += t->kept;
    out->bytes_freed += t->bytes_freed;
    out->bytes_kept += t->bytes_kept;
}

int pf_gc(const char *dataset_dir, const pf_options *o,
          void (*freed)(void *, const char *path, uint64_t bytes, const char *why),
          void *arg, pf_gc_result *out, pf_error *err)
{
    const unsigned flags = (o->dry_run ? PF_GC_DRY_RUN : 0) | (o->gc_all ? PF_GC_ALL : 0);
    pf_dataset ds, tests[2];
    pf_gc_totals t;
    char *dir;
    int rc = -1, n_tests = 0, folders = 0;
    memset(out, 0, sizeof *out);
    if (pf_dataset_open_ex(dataset_dir, PF_DS_KEEP_INCOMPLETE, &ds, err))
        return -1;
    if (!(dir = pf_cache_dir_of(&ds, o))) {
        pf_dataset_free(&ds);
        return pf_fail(err, ENOMEM, "out of memory");
    }
    snprintf(out->dir, sizeof out->dir, "%s", dir);
    free(dir);
    /* the test images a mount with these options would serve, in folders of their own: the
     * dataset's imagesTs (or Decathlon "test" list), and infer=DIR's when given. Listed
     * before anything is removed: a list a mount would refuse stops gc, naming the file. */
    if (pf_testset_open(&ds, NULL, &tests[n_tests], err))
        goto out;
    n_tests++;
    if (o->infer_dir[0]) {
        if (pf_testset_open(&ds, o->infer_dir, &tests[n_tests], err))
            goto out;
        n_tests++;
    }
    if (pf_cache_gc(&ds, o, flags, freed, arg, &t, err))
        goto out;
    add_totals(out, &t);
    folders += !t.folder_missing;
    for (int k = 0; k < n_tests; k++) {
        if (pf_cache_gc(&tests[k], o, flags | PF_GC_TEST_IMAGES, freed, arg, &t, err))
            goto out;
        add_totals(out, &t);
        folders += !t.folder_missing;
    }
    out->no_folder = folders == 0;
    rc = 0;
out:
    for (int k = 0; k < n_tests; k++)
        pf_dataset_free(&tests[k]);
    pf_dataset_free(&ds);
    return rc;
}
