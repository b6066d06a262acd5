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
/* Maps cs->path and checks header and metadata; fills cs's pointers. */
int pf_entry_map(pf_case *cs, uint64_t key, const char *id, pf_error *err);

#endif
