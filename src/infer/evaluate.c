/* evaluate.c - `patchfs evaluate`: nnU-Net's metrics of exported predictions against the
 * dataset's labels, and its summary.json (nnunetv2/evaluation/evaluate_predictions.py).
 *
 * Per case, one pass over the voxels counts a confusion matrix of (reference, prediction)
 * label indices, the ignore label's reference voxels left out; every label's (or region's:
 * a set of labels) TP, FP, FN and TN are sums of its cells, so the voxels are read once
 * whatever the number of labels. Dice = 2TP / (2TP + FP + FN), IoU = TP / (TP + FP + FN),
 * NaN when TP + FP + FN = 0. A region dataset is scored per foreground region (its keys
 * nnU-Net's str(region): "(1, 2, 3, 4)", "4"). The means are numpy's nanmean per label or
 * region and metric, over the cases in order; foreground_mean the mean of those means (label
 * 0 excluded); eval_summary.c writes them.
 *
 * Speed: label maps are read as stored (uint8 without a copy; pf_label_volume), the .nii.gz
 * decoded whole by libdeflate, into buffers kept from case to case; a case's reference and
 * prediction are read as two items of the worker pool's loop and the second to finish counts.
 * Up to 7 labels or regions of values below 16 (most datasets) are counted as sets with AVX2
 * (confusion.h), anything else as the matrix. The file does not depend on the thread count. */
#include "patchfs/infer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "confusion.h"
#include "dataset.h"
#include "eval_summary_i.h"
#include "nifti_load.h"
#include "split.h"
#include "workers.h"

/* The buffers a case's two label maps are read into, kept from case to case. */
typedef struct eval_slot {
    struct eval_slot *next; /* in the free list */
    pf_label_volume ref, pred;
} eval_slot;

/* A case's two reads run as two loop items, possibly at once on two threads (a fold with
 * fewer cases than threads still uses them all); the read that finishes second counts. */
typedef struct case_state {
    eval_slot *_Atomic slot; /* taken by the first of its reads to start */
    atomic_int reads_done;
    pf_error ref_err, pred_err;
} case_state;

typedef struct eval_job {
    const pf_dataset *ds;
    const int *cases;    /* dataset indices */
    int n_cases;
    const char *pred_dir;
    int n_labels;        /* label values that get an index; others count as "other" */
    int label_values[1024];
    int ignore;          /* -1: none */
    int n_regions;
    eval_region regions[1024];
    pf_confusion_map *map; /* label value -> confusion matrix row and column */
    pf_set_masks sets;   /* the fast path's tables (n_sets 0: it does not apply) */
    case_state *state;   /* per case */
    pthread_mutex_t slots_lock;
    eval_slot *free_slots; /* slots no case holds; every slot made is here at the end */
    case_counts *counts; /* n_cases * n_regions */
    char (*problem)[1024]; /* per case; "" when scored */
    char **pred_paths;
} eval_job;

/* The matrix's rows and columns are label indices 0..L-1 and L, any other value; the
 * reference's ignore label maps to row L + 1, counted and then left out, so the count has no
 * branch. */
static pf_confusion_map *make_map(const eval_job *j)
{
    const uint32_t L = (uint32_t)j->n_labels, C = L + 1;
    pf_confusion_map *m = malloc(sizeof *m);
    if (!m)
        return NULL;
    for (int v = 0; v < PF_CONFUSION_VALUES; v++) {
        m->row[v] = L * C;
        m->col[v] = L;
    }
    for (uint32_t l = 0; l < L; l++) {
        m->row[j->label_values[l]] = l * C;
        m->col[j->label_values[l]] = l;
    }
    if (j->ignore >= 0 && j->ignore < PF_CONFUSION_VALUES)
        m->row[j->ignore] = (L + 1) * C;
    m->cells = (size_t)(L + 2) * C;
    return m;
}

/* The set-count fast path's tables (confusion.h) when the dataset fits them: at most
 * PF_SET_MAX labels or regions, every value they hold and the ignore label below 16. */
static void make_sets(eval_job *j)
{
    pf_set_masks *m = &j->sets;
    memset(m, 0, sizeof *m);
    if (j->n_regions > PF_SET_MAX || j->ignore >= 16)
        return;
    for (int r = 0; r < j->n_regions; r++)
        for (int l = 0; l < j->n_labels; l++) {
            const int v = j->label_values[l];
            if (!j->regions[r].in[l])
                continue;
            if (v >= 16) {
                memset(m, 0, sizeof *m);
                return;
            }
            m->ref[v] |= (uint8_t)(1u << r);
            m->pred[v] |= (uint8_t)(1u << r);
        }
    if (j->ignore >= 0)
        m->ref[j->ignore] = 0x80; /* in no region (set_labels gives it no index) */
    m->n_sets = j->n_regions;
}

/* A case's counts from the set fast path: 0, or -1 when it does not apply. */
static int count_by_sets(eval_job *j, int k, const eval_slot *slot)
{
    pf_set_counts c;
    if (!j->sets.n_sets || pf_confusion_count_sets(&j->sets, &slot->ref, &slot->pred, &c))
        return -1;
    for (int r = 0; r < j->n_regions; r++)
        j->counts[(size_t)k * (size_t)j->n_regions + (size_t)r] = (case_counts){
            .tp = (int64_t)c.tp[r], .fp = (int64_t)(c.n_pred[r] - c.tp[r]),
            .fn = (int64_t)(c.n_ref[r] - c.tp[r]),
            .tn = (int64_t)(c.counted - c.n_ref[r] - c.n_pred[r] + c.tp[r])};
    return 0;
}

/* A slot from the free list, or a new one: as many exist as cases were in flight at once
 * (the loop hands indices out in order: about one per thread). NULL when out of memory. */
static eval_slot *take_slot(eval_job *j)
{
    eval_slot *s;
    pthread_mutex_lock(&j->slots_lock);
    s = j->free_slots;
    if (s)
        j->free_slots = s->next;
    pthread_mutex_unlock(&j->slots_lock);
    return s ? s : calloc(1, sizeof *s);
}

static void give_slot(eval_job *j, eval_slot *s)
{
    pthread_mutex_lock(&j->slots_lock);
    s->next = j->free_slots;
    j->free_slots = s;
    pthread_mutex_unlock(&j->slots_lock);
}

/* The case's slot: the first of its two reads to get here takes one, the other uses it. */
static eval_slot *case_slot(eval_job *j, case_state *cs)
{
    eval_slot *mine, *none = NULL, *s = atomic_load(&cs->slot);
    if (s)
        return s;
    mine = take_slot(j);
    if (!mine)
        return NULL;
    if (atomic_compare_exchange_strong(&cs->slot, &none, mine))
        return mine;
    give_slot(j, mine); /* the other read was first */
    return none;
}

/* Both maps read: every label's or region's counts, or the case's problem (the reference's
 * first: a missing prediction is both items' problem). */
static void score_case(eval_job *j, int k, case_state *cs, eval_slot *slot)
{
    const pf_case_src *c = &j->ds->cases[j->cases[k]];
    const int L = j->n_labels;
    const pf_nifti_info *ri, *pi;
    uint64_t *M = NULL, total = 0;
    pf_error err = {0};
    if (cs->ref_err.msg[0] || cs->pred_err.msg[0] || !slot) {
        snprintf(j->problem[k], sizeof j->problem[k], "%s",
                 cs->ref_err.msg[0] ? cs->ref_err.msg : cs->pred_err.msg);
        return;
    }
    ri = &slot->ref.info;
    pi = &slot->pred.info;
    if (ri->nx != pi->nx || ri->ny != pi->ny || ri->nz != pi->nz) {
        pf_fail(&err, EINVAL, "%s: shape %lldx%lldx%lld (x, y, z) is not the reference's "
                "%lldx%lldx%lld (%s)", j->pred_paths[k], (long long)pi->nx, (long long)pi->ny,
                (long long)pi->nz, (long long)ri->nx, (long long)ri->ny, (long long)ri->nz,
                c->label);
        goto out;
    }
    if (count_by_sets(j, k, slot) == 0)
        goto out;
    M = malloc(j->map->cells * sizeof *M);
    if (!M || pf_confusion_count(j->map, &slot->ref, &slot->pred, M)) {
        pf_fail(&err, ENOMEM, "out of memory");
        goto out;
    }
    /* rows 0..L, the ignored voxels' row L + 1 left out */
    for (int i = 0; i < (L + 1) * (L + 1); i++)
        total += M[i];
    for (int r = 0; r < j->n_regions; r++) {
        const unsigned char *in = j->regions[r].in;
        uint64_t tp = 0, n_ref = 0, n_pred = 0;
        for (int a = 0; a <= L; a++)
            for (int b = 0; b <= L; b++) {
                const uint64_t v = M[a * (L + 1) + b];
                tp += in[a] && in[b] ? v : 0;
                n_ref += in[a] ? v : 0;
                n_pred += in[b] ? v : 0;
            }
        j->counts[(size_t)k * (size_t)j->n_regions + (size_t)r] = (case_counts){
            .tp = (int64_t)tp, .fp = (int64_t)(n_pred - tp), .fn = (int64_t)(n_ref - tp),
            .tn = (int64_t)(total - n_ref - n_pred + tp)};
    }
out:
    if (err.msg[0])
        snprintf(j->problem[k], sizeof j->problem[k], "%s", err.msg);
    free(M);
}

/* Loop item i: case i / 2's reference (even i) or prediction (odd i) read into its slot. */
static int eval_read(void *arg, int i, pf_error *unused)
{
    eval_job *j = arg;
    const int k = i / 2, is_pred = i % 2;
    case_state *cs = &j->state[k];
    /* a missing prediction: the other cases still count, the reference is not read */
    const int missing = access(j->pred_paths[k], F_OK) != 0;
    eval_slot *slot = missing ? NULL : case_slot(j, cs);
    (void)unused;
    if (missing) {
        /* each item writes its own field (should the file appear between the two looks,
         * the case is still reported missing, never counted with one map unread) */
        pf_fail(is_pred ? &cs->pred_err : &cs->ref_err, ENOENT, "%s: missing prediction",
                j->pred_paths[k]);
    } else if (!slot) {
        pf_fail(is_pred ? &cs->pred_err : &cs->ref_err, ENOMEM, "out of memory");
    } else if (!is_pred) {
        pf_nifti_read_label_volume(j->ds->cases[j->cases[k]].label, &slot->ref, &cs->ref_err);
    } else {
        pf_nifti_read_label_volume(j->pred_paths[k], &slot->pred, &cs->pred_err);
    }
    /* acq_rel: the second read sees the first one's buffers and errors */
    if (atomic_fetch_add_explicit(&cs->reads_done, 1, memory_order_acq_rel) == 1) {
        slot = atomic_load(&cs->slot); /* NULL only when neither read got one */
        score_case(j, k, cs, slot);
        if (slot) {
            atomic_store(&cs->slot, NULL);
            give_slot(j, slot);
        }
    }
    return 0;
}

/* The index of label value v among j's labels, or -1. */
static int label_index(const eval_job *j, int v)
{
    for (int l = 0; l < j->n_labels; l++)
        if (j->label_values[l] == v)
            return l;
    return -1;
}

/* What nnU-Net scores (compute_metrics_on_folder2): a label dataset's foreground labels
 * (dataset.json's values without 0 and the ignore label), or a region dataset's foreground
 * regions in dataset.json order, keyed as nnU-Net's str(region). Every value (0 too, which a
 * region may list) gets a label index; the ignore label none: its voxels are dropped. */
static int set_labels(eval_job *j, const pf_dataset *ds, pf_error *err)
{
    j->ignore = ds->ignore_label;
    j->n_labels = j->n_regions = 0;
    for (int i = 0; i < ds->n_labels; i++) {
        if (ds->label_values[i] == ds->ignore_label)
            continue;
        if (j->n_labels == 1024)
            return pf_fail(err, EINVAL, "%s: more than 1024 labels", ds->root);
        j->label_values[j->n_labels] = ds->label_values[i];
        if (ds->label_values[i] != 0 && !ds->n_regions) {
            eval_region *r = &j->regions[j->n_regions++];
            snprintf(r->label_key, sizeof r->label_key, "%d", ds->label_values[i]);
            r->key = r->label_key;
            r->in[j->n_labels] = 1;
        }
        j->n_labels++;
    }
    for (int g = 0; g < ds->n_regions; g++) {
        eval_region *r = &j->regions[j->n_regions];
        int dup = 0;
        /* two entries listing the same values are one key of nnU-Net's dicts */
        for (int q = 0; q < j->n_regions; q++)
            dup |= !strcmp(j->regions[q].key, ds->region_keys[g]);
        if (dup)
            continue;
        if (j->n_regions == 1024)
            return pf_fail(err, EINVAL, "%s: more than 1024 regions", ds->root);
        r->key = ds->region_keys[g];
        for (int m = 0; m < ds->region_n[g]; m++) {
            const int l = label_index(j, ds->region_labels[g][m]);
            if (l < 0) /* the dataset layer refuses a region listing the ignore label */
                return pf_fail(err, EINVAL, "%s: region %s lists %d, which is no label to score",
                               ds->root, r->key, ds->region_labels[g][m]);
            r->in[l] = 1;
        }
        j->n_regions++;
    }
    if (!j->n_regions)
        return pf_fail(err, EINVAL, "%s: dataset.json names no foreground label", ds->root);
    return 0;
}

static int write_summary(const char *path, const char *text, int force, pf_error *err)
{
    pf_atomic_file f;
    if (pf_atomic_begin(&f, path, force, err))
        return -1;
    if (pf_atomic_write(&f, text, strlen(text), err)) {
        pf_atomic_abort(&f);
        return -1;
    }
    return pf_atomic_commit(&f, err);
}

int pf_evaluate(const char *dataset_dir, const pf_options *o, const char *pred_dir,
                const char *out, pf_case_report_fn report, void *arg, int *evaluated,
                int *failed, char **summary_path, pf_error *err)
{
    pf_dataset ds;
    pf_split_lists split = {0};
    eval_job *j = calloc(1, sizeof *j);
    int *all = NULL, *scored = NULL, rc = -1;
    char *path = NULL, *text = NULL;
    *evaluated = *failed = 0;
    *summary_path = NULL;
    if (!j)
        return pf_fail(err, ENOMEM, "out of memory");
    if (pf_dataset_open(dataset_dir, &ds, err)) {
        free(j);
        return -1;
    }
    pthread_mutex_init(&j->slots_lock, NULL);
    if (set_labels(j, &ds, err))
        goto out;
    if (out)
        path = strdup(out);
    else if (asprintf(&path, "%s/summary.json", pred_dir) < 0)
        path = NULL;
    if (!path) {
        pf_fail(err, ENOMEM, "out of memory");
        goto out;
    }
    if (pf_output_check(path, o->force, err))
        goto out;
    j->ds = &ds;
    j->pred_dir = pred_dir;
    if (o->cases_all) {
        all = malloc((size_t)ds.n_cases * sizeof *all);
        if (!all) {
            pf_fail(err, ENOMEM, "out of memory");
            goto out;
        }
        for (int i = 0; i < ds.n_cases; i++)
            all[i] = i;
        j->cases = all;
        j->n_cases = ds.n_cases;
    } else {
        if (pf_split_resolve(&ds, o->fold, &split, err))
            goto out;
        j->cases = split.val;
        j->n_cases = split.n_val;
    }
    j->counts = calloc((size_t)j->n_cases * (size_t)j->n_regions + 1, sizeof *j->counts);
    j->problem = calloc((size_t)j->n_cases + 1, sizeof *j->problem);
    j->pred_paths = calloc((size_t)j->n_cases + 1, sizeof *j->pred_paths);
    scored = malloc(((size_t)j->n_cases + 1) * sizeof *scored);
    if (!j->counts || !j->problem || !j->pred_paths || !scored) {
        pf_fail(err, ENOMEM, "out of memory");
        goto out;
    }
    for (int k = 0; k < j->n_cases; k++)
        if (asprintf(&j->pred_paths[k], "%s/%s%s", pred_dir, ds.cases[j->cases[k]].id,
                     ds.file_ending) < 0) {
            j->pred_paths[k] = NULL;
            pf_fail(err, ENOMEM, "out of memory");
            goto out;
        }
    j->state = calloc((size_t)j->n_cases + 1, sizeof *j->state);
    j->map = make_map(j);
    make_sets(j);
    if (!j->state || !j->map) {
        pf_fail(err, ENOMEM, "out of memory");
        goto out;
    }
    if (pf_parallel_for(0, 2 * j->n_cases, o->threads, eval_read, j, err))
        goto out;
    for (int k = 0; k < j->n_cases; k++) {
        if (j->problem[k][0]) {
            (*failed)++;
            if (report)
                report(arg, ds.cases[j->cases[k]].id, j->problem[k]);
        } else {
            scored[(*evaluated)++] = k;
        }
    }
    if (*evaluated == 0) {
        pf_fail(err, ENOENT, "%s: no prediction of the %d case%s to evaluate (%s%s each)",
                pred_dir, j->n_cases, j->n_cases == 1 ? "" : "s", "ID", ds.file_ending);
        goto out;
    }
    text = pf_eval_summary_text(&(eval_summary_in){
        .regions = j->regions, .n_regions = j->n_regions, .counts = j->counts, .scored = scored,
        .n_scored = *evaluated, .pred_paths = j->pred_paths, .ds = &ds, .cases = j->cases});
    if (!text) {
        pf_fail(err, ENOMEM, "out of memory");
        goto out;
    }
    if (write_summary(path, text, o->force, err))
        goto out;
    *summary_path = path;
    path = NULL;
    rc = 0;
out:
    if (j->pred_paths)
        for (int k = 0; k < j->n_cases; k++)
            free(j->pred_paths[k]);
    free(j->pred_paths);
    while (j->free_slots) {
        eval_slot *next = j->free_slots->next;
        pf_label_volume_free(&j->free_slots->ref);
        pf_label_volume_free(&j->free_slots->pred);
        free(j->free_slots);
        j->free_slots = next;
    }
    pthread_mutex_destroy(&j->slots_lock);
    free(j->state);
    free(j->map);
    free(j->counts);
    free(j->problem);
    free(j);
    free(all);
    free(scored);
    free(path);
    free(text);
    pf_split_free(&split);
    pf_dataset_free(&ds);
    return rc;
}
