/* entry.h - the on-disk layout of one cache entry, shared by the code that writes entries
 * (entry_write.c) and the code that checks and maps them (entry_read.c). Internal to the cache
 * layer. */
#ifndef PATCHFS_ENTRY_H
#define PATCHFS_ENTRY_H

#include <stdint.h>

#include "cache.h"

#define PF_ENDIAN_TAG 0x01020304u
extern const char pf_case_magic[8];

static inline uint64_t pf_round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

/* Whether the entry at path is complete and matches key (full: its image digest too). */
int pf_entry_valid(const char *path, uint64_t key, int full);
/* Checks cs->path's header and metadata, keeps the header and a copy of the class table in
 * cs and publishes a first mapping (at open). */
int pf_entry_map(pf_case *cs, uint64_t key, const char *id, pf_error *err);
/* After a repair: checks cs->path likewise and maps it (*out, not yet published); fails unless
 * its header equals cs->hdr. */
int pf_entry_remap(pf_case *cs, uint64_t key, pf_case_map **out, pf_error *err);

#endif
