/* split.c - train/validation case lists per fold, nnU-Net-identical (see split.h). */
#include "split.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mt19937.h"

void pf_numpy_legacy_shuffle(unsigned seed, int n, int *perm)
{
    pf_mt19937 s;
    pf_mt_seed(&s, seed);
    for (int i = 0; i < n; i++)
        perm[i] = i;
    for (int i = n - 1; i >= 1; i--) {
        int j = (int)pf_mt_interval(&s, (uint64_t)i);
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

int pf_split_default(int n, int fold, unsigned char *is_val)
{
    int *perm = malloc((size_t)(n > 0 ? n : 1) * sizeof *perm);
    if (!perm)
        return -1;
    memset(is_val, 0, (size_t)n);
    if (fold < 5) {
        /* KFold: fold k validates perm[start_k : start_k + size_k], the first n % 5 folds
         * one case larger. */
        int start = 0;
        pf_numpy_legacy_shuffle(12345, n, perm);
        for (int k = 0; k < fold; k++)
            start += n / 5 + (k < n % 5);
        for (int i = 0; i < n / 5 + (fold < n % 5); i++)
            is_val[perm[start + i]] = 1;
    } else {
        /* nnU-Net's extra folds: RandomState(12345 + fold).choice(n, int(n * 0.8),
         * replace=False) trains, the rest validates; choice is permutation(n)[:k]. */
        int n_train = (int)((long long)n * 8 / 10);
        pf_numpy_legacy_shuffle((unsigned)(12345 + fold), n, perm);
        for (int i = 0; i < n; i++)
            is_val[i] = 1;
        for (int i = 0; i < n_train; i++)
            is_val[perm[i]] = 0;
    }
    free(perm);
    return 0;
}

void pf_split_free(pf_split_lists *s)
{
    free(s->train);
    free(s->val);
    memset(s, 0, sizeof *s);
}

static int from_mask(const pf_dataset *ds, const unsigned char *is_val, pf_split_lists *out,
                     pf_error *err)
{
    out->train = calloc((size_t)ds->n_cases, sizeof(int));
    out->val = calloc((size_t)ds->n_cases, sizeof(int));
    if (!out->train || !out->val)
        return pf_fail(err, ENOMEM, "out of memory");
    for (int i = 0; i < ds->n_cases; i++) {
        if (is_val[i])
            out->val[out->n_val++] = i;
        else
            out->train[out->n_train++] = i;
    }
    return 0;
}

static int from_splits_file(const pf_dataset *ds, const char *path, int fold,
                            int skip_unknown, pf_split_lists *out, pf_error *err)
{
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr), *entry;
    unsigned char *is_val = NULL, *is_train = NULL;
    int rc = -1;
    if (!j)
        return pf_fail(err, EINVAL, "%s:%d:%d: malformed JSON: %s", path, jerr.line,
                       jerr.column, jerr.text);
    if (!json_is_array(j) || json_array_size(j) == 0) {
        pf_fail(err, EINVAL, "%s: must be a list of {\"train\": [...], \"val\": [...]}", path);
        goto out;
    }
    if ((size_t)fold >= json_array_size(j)) {
        rc = 1; /* nnU-Net falls back to a random 80:20 split for folds past the file */
        goto out;
    }
    entry = json_array_get(j, (size_t)fold);
    is_val = calloc((size_t)ds->n_cases, 1);
    is_train = calloc((size_t)ds->n_cases, 1);
    for (int pass = 0; pass < 2; pass++) {
        const char *key = pass ? "val" : "train";
        json_t *list = json_object_get(entry, key), *id;
        size_t i;
        if (!json_is_array(list)) {
            pf_fail(err, EINVAL, "%s: fold %d has no \"%s\" list", path, fold, key);
            goto out;
        }
        json_array_foreach(list, i, id) {
            int idx = json_is_string(id) ? pf_dataset_find_case(ds, json_string_value(id)) : -1;
            if (idx < 0 && skip_unknown && json_is_string(id))
                continue; /* a case set aside by skip_bad */
            if (idx < 0) {
                pf_fail(err, EINVAL, "%s: fold %d \"%s\" names %s, which is not a case of the "
                        "dataset", path, fold, key,
                        json_is_string(id) ? json_string_value(id) : "a non-string");
                goto out;
            }
            (pass ? is_val : is_train)[idx] = 1;
        }
    }
    out->train = calloc((size_t)ds->n_cases, sizeof(int));
    out->val = calloc((size_t)ds->n_cases, sizeof(int));
    for (int i = 0; i < ds->n_cases; i++) {
        if (is_train[i])
            out->train[out->n_train++] = i;
        if (is_val[i])
            out->val[out->n_val++] = i;
    }
    if (out->n_train == 0 || out->n_val == 0) {
        pf_fail(err, EINVAL, "%s: fold %d has an empty train or val list", path, fold);
        goto out;
    }
    snprintf(out->source, sizeof out->source, "splits_final.json");
    rc = 0;
out:
    free(is_val);
    free(is_train);
    json_decref(j);
    return rc;
}

int pf_split_resolve(const pf_dataset *ds, int fold, pf_split_lists *out, pf_error *err)
{
    return pf_split_resolve_ex(ds, fold, 0, out, err);
}

int pf_split_resolve_ex(const pf_dataset *ds, int fold, int skip_unknown, pf_split_lists *out,
                        pf_error *err)
{
    char path[4096];
    unsigned char *is_val;
    int n = ds->n_cases, rc;
    FILE *f;

    memset(out, 0, sizeof *out);
    if (fold == -1) { /* all */
        out->train = calloc((size_t)n, sizeof(int));
        out->val = calloc((size_t)n, sizeof(int));
        if (!out->train || !out->val)
            return pf_fail(err, ENOMEM, "out of memory");
        for (int i = 0; i < n; i++)
            out->train[i] = out->val[i] = i;
        out->n_train = out->n_val = n;
        snprintf(out->source, sizeof out->source, "all");
        return 0;
    }
    snprintf(path, sizeof path, "%s/splits_final.json", ds->root);
    if ((f = fopen(path, "r"))) {
        fclose(f);
        rc = from_splits_file(ds, path, fold, skip_unknown, out, err);
        if (rc <= 0)
            return rc;
    }
    is_val = calloc((size_t)n, 1);
    if (!is_val)
        return pf_fail(err, ENOMEM, "out of memory");
    if (n < 5 && fold < 5) {
        /* sklearn's KFold needs 5 cases; below that fold k validates case k (and a single
         * case both trains and validates), so small datasets still mount. */
        if (fold >= n && n > 1) {
            free(is_val);
            return pf_fail(err, EINVAL, "fold %d does not exist: the dataset has only %d cases "
                           "(folds 0..%d, or fold=all)", fold, n, n - 1);
        }
        if (n == 1) {
            rc = from_mask(ds, is_val, out, err); /* train = [case] */
            if (rc == 0) {
                out->val[out->n_val++] = 0;
                snprintf(out->source, sizeof out->source, "single case");
            }
            free(is_val);
            return rc;
        }
        is_val[fold] = 1;
        snprintf(out->source, sizeof out->source, "leave-one-out (fewer than 5 cases)");
    } else {
        pf_split_default(n, fold, is_val);
        snprintf(out->source, sizeof out->source,
                 fold < 5 ? "nnU-Net 5-fold" : "nnU-Net random 80:20");
        if (n < 2) {
            free(is_val);
            return pf_fail(err, EINVAL, "fold %d needs at least 2 cases", fold);
        }
    }
    rc = from_mask(ds, is_val, out, err);
    free(is_val);
    if (rc == 0 && (out->n_train == 0 || out->n_val == 0))
        return pf_fail(err, EINVAL, "fold %d leaves no training or no validation case", fold);
    return rc;
}
