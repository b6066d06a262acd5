/* split.h - which cases train and which validate, for a fold.
 *
 * splits_final.json in the dataset folder wins when present. Otherwise the split is exactly
 * nnU-Net's default: sklearn KFold(5, shuffle=True, random_state=12345) over the sorted case
 * ids, which shuffles arange(n) with numpy's legacy MT19937 RandomState(12345). Folds past the
 * last are nnU-Net's random 80:20 splits (RandomState(12345 + fold)). fold=all trains and
 * validates on every case. */
#ifndef PATCHFS_SPLIT_H
#define PATCHFS_SPLIT_H

#include "dataset.h"
#include "error.h"

typedef struct pf_split_lists {
    int n_train, n_val;
    int *train, *val;     /* indices into ds->cases, ascending */
    char source[64];      /* "splits_final.json", "nnU-Net 5-fold", ... */
} pf_split_lists;

int pf_split_resolve(const pf_dataset *ds, int fold, pf_split_lists *out, pf_error *err);
/* skip_unknown: ids in splits_final.json that are not cases (set aside) are ignored. */
int pf_split_resolve_ex(const pf_dataset *ds, int fold, int skip_unknown, pf_split_lists *out,
                        pf_error *err);
void pf_split_free(pf_split_lists *s);

/* The raw default split for n sorted cases: fills is_val[i] for fold (exposed for tests). */
int pf_split_default(int n, int fold, unsigned char *is_val);

/* numpy legacy RandomState(seed).shuffle(arange(n)) into perm (exposed for tests). */
void pf_numpy_legacy_shuffle(unsigned seed, int n, int *perm);

#endif
