/* fp_store.h - the dataset fingerprint kept in the cache, one small file per case
 * (<cache dir>/fingerprint/<id>.<key>.pffp), so that a plan is made without decoding every
 * case again, and so that builders of several hosts (prepare -o shard=R/W) each fingerprint
 * their own share of a dataset into a shared folder. A record's key covers the case's source
 * files (path, size, mtime) and the number of samples drawn, so a changed source or case count
 * makes a new record; a record that does not check out (size, magic, digest) is rebuilt. */
#ifndef PATCHFS_FP_STORE_H
#define PATCHFS_FP_STORE_H

#include <stdint.h>

#include "cache.h"
#include "fingerprint.h"

/* Loads case idx's record: 0 when a valid one exists, 1 when there is none (or it does not
 * check out), -1 on an error reading the cache. */
int pf_fp_load(const pf_cache *c, const pf_dataset *ds, int idx, uint64_t n_samples,
               pf_case_fp *out, pf_error *err);

/* Computes case idx's fingerprint from its sources and publishes the record atomically. */
int pf_fp_build(const pf_cache *c, const pf_dataset *ds, int idx, uint64_t n_samples,
                pf_case_fp *out, pf_error *err);

/* Every case's record into out[n_cases] (freed with pf_case_fp_free each): from the dataset's
 * fingerprint entry (one file, fingerprint/dataset.<key>.pffpset, its key over every case's
 * record key) when it is current, else from the cases' records, built on up to `threads` pool
 * threads where missing, after which the dataset entry is written. With skip_bad, a case
 * that cannot be read is listed in c->bad instead of failing, and its record left empty
 * (n_channels 0; the dataset entry keeps it as set aside). PF_FP_ENTRY_ONLY: only the dataset
 * entry; missing or stale, it fails with a message saying what to run (a shard of a prepare
 * on many hosts must not fingerprint the whole dataset on each). */
#define PF_FP_ENTRY_ONLY 1u
int pf_fp_all(pf_cache *c, const pf_dataset *ds, const pf_options *o, int threads,
              unsigned flags, pf_progress_fn progress, void *arg, pf_case_fp *out,
              pf_error *err);

/* Case idx's record key (its sources, the samples drawn per case, the record format): its
 * record is fingerprint/<id>.<key>.pffp (what gc keeps). */
uint64_t pf_fp_record_key(const pf_cache *c, int idx, uint64_t n_samples);

/* The dataset entry's key (over every case's record key) and path (malloc'd). */
uint64_t pf_fp_dataset_key(const pf_cache *c, uint64_t n_samples);
char *pf_fp_dataset_path(const pf_cache *c, uint64_t n_samples);

#endif
