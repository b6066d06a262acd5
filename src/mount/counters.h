/* counters.h - the mount's live counters (status.json): files opened, reads, bytes, errors,
 * and generation times with their percentiles. Kept by the mount layer, which alone knows
 * them; the core only formats a snapshot (pf_status_json). Thread-safe. */
#ifndef PATCHFS_COUNTERS_H
#define PATCHFS_COUNTERS_H

#include <pthread.h>
#include <stdint.h>

#include "patchfs/files.h"

#define PF_GEN_RING 8192 /* generation times kept for the percentiles */

typedef struct pf_counters {
    pthread_mutex_t lock;
    uint64_t mounted_at_ms;
    uint64_t opens, bytes, reads, errors, gen_count, gen_max_us;
    uint64_t errors_io, errors_nomem, errors_other; /* errors by kind (pf_error_kind) */
    uint32_t gen_us[PF_GEN_RING];
} pf_counters;

void pf_counters_init(pf_counters *c);
void pf_counters_destroy(pf_counters *c);

void pf_counters_open(pf_counters *c);
/* One error answered to a reader, counted in errors and in the kind of errnum. */
void pf_counters_error(pf_counters *c, int errnum);
void pf_counters_read(pf_counters *c, uint64_t bytes);
/* One file generated in us microseconds. */
void pf_counters_generated(pf_counters *c, uint64_t us);

/* The kind an error is counted as in status.json: reading or writing storage failed
 * (EIO, ENOENT, EACCES, ENOSPC, ... on a cache entry or a source file), memory ran out, or
 * anything else (a bad dataset file met late, an invalid request). */
typedef enum { PF_ERR_IO, PF_ERR_NOMEM, PF_ERR_OTHER } pf_error_kind;
pf_error_kind pf_error_kind_of(int errnum);

/* A snapshot into st (the memory-cache fields are the caller's). */
void pf_counters_snapshot(pf_counters *c, pf_status *st);

/* Microseconds on clock (CLOCK_MONOTONIC for durations, CLOCK_REALTIME for dates). */
uint64_t pf_now_us(int clock);

#endif
