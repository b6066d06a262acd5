/* rng.c - counter-based random streams on XXH3 (see rng.h for the construction). */
#include "rng.h"

#include <string.h>
#include <xxhash.h>

/* Domain separator: "patchfs" + the version of the streams' construction. It was the format
 * version up to format 2; format 3 changed what the augmentation does with its words, not the
 * streams, so the streams keep version 2 and plain batches stay byte for byte those of format
 * 2. A format that changes the construction bumps this. */
#define PF_RNG_STREAMS_VERSION 2
#define PF_RNG_DOMAIN (0x7061746368667300ULL | PF_RNG_STREAMS_VERSION)

pf_stream pf_stream_make(uint64_t seed, uint64_t split, uint64_t epoch, uint64_t step,
                         uint64_t position, pf_purpose purpose)
{
    pf_stream s;
    s.key[0] = PF_RNG_DOMAIN;
    s.key[1] = seed;
    s.key[2] = split;
    s.key[3] = epoch;
    s.key[4] = step;
    s.key[5] = position;
    s.key[6] = (uint64_t)purpose;
    s.counter = 0;
    return s;
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

uint64_t pf_stream_word(const pf_stream *s, uint64_t index)
{
    /* Explicit little-endian encoding: the same words on big-endian hosts. */
    unsigned char buf[64];
    for (int i = 0; i < 7; i++)
        put_le64(buf + 8 * i, s->key[i]);
    put_le64(buf + 56, index);
    return XXH3_64bits(buf, sizeof buf);
}

uint64_t pf_stream_next(pf_stream *s)
{
    return pf_stream_word(s, s->counter++);
}

uint64_t pf_stream_below(pf_stream *s, uint64_t n)
{
    /* Reject words below 2^64 mod n so every residue is equally likely. */
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t r = pf_stream_next(s);
        if (r >= threshold)
            return r % n;
    }
}

int64_t pf_stream_range(pf_stream *s, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)hi - (uint64_t)lo + 1;
    if (span == 0) /* the full 64-bit range */
        return (int64_t)pf_stream_next(s);
    return (int64_t)((uint64_t)lo + pf_stream_below(s, span));
}
