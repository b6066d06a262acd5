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
    uint32_t gen_us[PF_GEN_RING];
} pf_counters;

void pf_counters_init(pf_counters *c);
void pf_counters_destroy(pf_counters *c);

void pf_counters_open(pf_counters *c);
void pf_counters_error(pf_counters *c);
void pf_counters_read(pf_counters *c, uint64_t bytes);
/* One file generated in us microseconds. */
void pf_counters_generated(pf_counters *c, uint64_t us);

/* A snapshot into st (the memory-cache fields are the caller's). */
void pf_counters_snapshot(pf_counters *c, pf_status *st);

/* Microseconds on clock (CLOCK_MONOTONIC for durations, CLOCK_REALTIME for dates). */
uint64_t pf_now_us(int clock);

#endif
