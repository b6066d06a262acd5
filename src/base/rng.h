/* rng.h - counter-based random streams, addressed rather than sequential.
 *
 * A stream is named by (seed, split, epoch, step, position, purpose). Word i of the stream is
 * XXH3-64 of the 64-byte little-endian encoding of (domain, seed, split, epoch, step, position,
 * purpose, i). Any word of any stream can be computed alone, so any step can be produced in
 * any order by any thread with identical results. Integer draws use rejection (no modulo bias)
 * and no floating point, so they are identical on every compiler and CPU.
 *
 * The construction is part of the on-disk format: changing it changes every served byte, so it
 * is versioned (rng.c's PF_RNG_STREAMS_VERSION) and bumps PF_FORMAT_VERSION (patchfs.json
 * "format"), which also moves when served bytes change for other reasons (format 3:
 * nnU-Net's augmentation rules, docs/design.md). */
#ifndef PATCHFS_RNG_H
#define PATCHFS_RNG_H

#include <stdint.h>

#define PF_FORMAT_VERSION 3

/* What a draw is for; part of the stream key so purposes never share words. */
typedef enum {
    PF_PURPOSE_CASE = 1,       /* which case a batch position gets */
    PF_PURPOSE_CLASS = 2,      /* which foreground class a forced position targets */
    PF_PURPOSE_VOXEL = 3,      /* which stored voxel of that class */
    PF_PURPOSE_CROP = 4,       /* random crop start, one word per axis */
    PF_PURPOSE_FORCE = 5,      /* probabilistic oversampling decisions */
    PF_PURPOSE_AUG = 6,        /* augmentation parameters of a training sample */
    PF_PURPOSE_CLASS_LOCS = 16, /* preprocessing: which class voxels are stored */
    PF_PURPOSE_FG_SAMPLES = 17, /* preprocessing: CT foreground intensity samples */
} pf_purpose;

typedef struct pf_stream {
    uint64_t key[7]; /* domain, seed, split, epoch, step, position, purpose */
    uint64_t counter;
} pf_stream;

pf_stream pf_stream_make(uint64_t seed, uint64_t split, uint64_t epoch, uint64_t step,
                         uint64_t position, pf_purpose purpose);

/* Word `index` of the stream, independent of any other call. */
uint64_t pf_stream_word(const pf_stream *s, uint64_t index);

/* The next word (advances s->counter). */
uint64_t pf_stream_next(pf_stream *s);

/* Uniform integer in [0, n), n >= 1, by rejection of the biased low range. */
uint64_t pf_stream_below(pf_stream *s, uint64_t n);

/* Uniform integer in [lo, hi], lo <= hi. */
int64_t pf_stream_range(pf_stream *s, int64_t lo, int64_t hi);

#endif
