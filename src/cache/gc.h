/* gc.h - a dataset's cache folder seen from its current sources, without building anything:
 * which cases have a current entry (what `patchfs check` shows without preparing), and
 * removing the files nothing reaches any more (`patchfs gc`).
 *
 * The rule of gc (docs/usage.md): an entry is reached when its key is the key of a case of the
 * dataset as it is now (its files' path, size and mtime, dataset.json's labels, the cache
 * format) under the options given, or under the same options with another value of an option
 * that enters the key (today `crop`), so that the entries of another crop= stay. PF_GC_ALL
 * reaches only the options given. The fingerprint records (fingerprint/<id>.<key>.pffp and the
 * dataset's fingerprint/dataset.<key>.pffpset) are reached when their key is the key of the
 * current complete cases' fingerprint (their sources and the number of cases; no option
 * enters it). Temporaries of builders that are gone are removed too; anything else is left
 * alone. The test images' entries sit in a folder of their own, gc'd as a dataset of their
 * own (PF_GC_TEST_IMAGES). */
#ifndef PATCHFS_GC_H
#define PATCHFS_GC_H

#include <stdint.h>

#include "cache.h"
#include "dataset.h"
#include "error.h"
#include "options.h"

/* What check's table shows of case i's current entry. */
typedef struct pf_entry_brief {
    int present;              /* a current entry exists (header and metadata check out) */
    int64_t orig_shape[3], shape[3];
    double spacing[3];
    uint64_t file_size;
    uint32_t n_classes;
    pf_class_row *classes;    /* n_classes rows, malloc'd */
} pf_entry_brief;

/* Fills out[ds->n_cases] with the entries made with spec (NULL: the cache's default, the
 * cases' own grids); every file of every case of ds must exist. Creates nothing: without a
 * cache folder no case has an entry. 0, or -1 (out of memory, a source file that cannot be
 * stat'd). */
int pf_cache_briefs(const pf_dataset *ds, const pf_options *o, const pf_prep_spec *spec,
                    pf_entry_brief *out, pf_error *err);
void pf_entry_briefs_free(pf_entry_brief *b, int n);

#define PF_GC_DRY_RUN 1u /* list only */
#define PF_GC_ALL 2u     /* also the entries of other values of the key's options */
#define PF_GC_TEST_IMAGES 4u /* ds is a set of test images (testset.h): no fingerprint */

/* Called for every file removed (or that would be, dry run): its path, size and why. */
typedef void (*pf_gc_fn)(void *arg, const char *path, uint64_t bytes, const char *why);

typedef struct pf_gc_totals {
    int freed, kept;                 /* files */
    uint64_t bytes_freed, bytes_kept;
    int folder_missing;              /* the dataset has no cache folder */
} pf_gc_totals;

/* Removes what the current sources of ds no longer reach from ds's cache folder. Cases of ds
 * with missing files (pf_dataset_open_ex with PF_DS_KEEP_INCOMPLETE) reach nothing. 0, or -1
 * naming a file that could not be removed. */
int pf_cache_gc(const pf_dataset *ds, const pf_options *o, unsigned flags, pf_gc_fn fn,
                void *arg, pf_gc_totals *t, pf_error *err);

#endif
