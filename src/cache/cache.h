/* cache.h - the preprocessing cache: one file per case holding the cropped float32 channels,
 * the int16 segmentation, the stored class locations, intensity statistics and properties.
 *
 * An entry's file name carries its key, an XXH3 fingerprint of the source files' identity
 * (relative path, size, modification time) and of the options that shape preprocessing, so a
 * changed source or option simply names a different entry. Entries are written to a temporary
 * file, fsync'd and renamed into place: a crash never leaves a half-written entry under a
 * final name. Every entry carries XXH3 digests of its parts; a corrupt entry is never served.
 * When serving, entries are memory-mapped, so the daemon's memory does not grow with the
 * dataset. */
#ifndef PATCHFS_CACHE_H
#define PATCHFS_CACHE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "error.h"
#include "options.h"
#include "preprocess.h"
#include "prepare.h"
#include "progress.h"

#define PF_CACHE_VERSION 2
#define PF_MAX_CHANNELS 64

/* On-disk entry header (host byte order, checked by endian_tag). */
typedef struct pf_case_header {
    char magic[8];                 /* "PFCASE\0\1" */
    uint32_t version, endian_tag;
    uint64_t key;
    uint64_t header_digest;        /* XXH3 of this header with header_digest = 0 */
    uint64_t bulk_digest;          /* XXH3 of [image_off, meta_off) */
    uint64_t meta_digest;          /* XXH3 of [meta_off, file_size) */
    uint64_t file_size;
    int64_t shape[3];              /* preprocessed Z, Y, X (transposed, cropped, resampled) */
    int64_t orig_shape[3];         /* source shape, transposed (nnU-Net's shape_before_cropping) */
    int64_t crop_lo[3];            /* crop box start in the transposed source volume */
    double spacing[3];             /* of the preprocessed grid, Z, Y, X in mm */
    int64_t crop_shape[3];         /* after cropping, before resampling */
    double src_spacing[3];         /* source spacing, transposed */
    int32_t transpose[3];          /* transpose_forward the entry was made with */
    int32_t separate_z, z_axis;    /* the resampling's separate-z decision */
    float norm_shift[PF_MAX_CHANNELS], norm_scale[PF_MAX_CHANNELS]; /* what normalised it */
    double affine[16];             /* source voxel (i=x, j=y, k=z) -> world, row-major */
    uint32_t n_channels, n_classes;
    uint64_t image_off, seg_off, meta_off, classes_off, locs_off, fg_off;
    uint32_t n_fg, pad;            /* foreground intensity samples per channel */
    pf_chan_stats stats[PF_MAX_CHANNELS];
    char id[256];
} pf_case_header;

/* On-disk class table row. */
typedef struct pf_class_row {
    int32_t label, pad;
    uint64_t voxels, n_locs, locs_index; /* locs_index: first triple in the locs array */
} pf_class_row;

/* An opened (memory-mapped) cache entry. */
typedef struct pf_case {
    pf_case_header hdr;
    char *path;
    const unsigned char *map;
    size_t map_len;
    const float *image;            /* (C, Z, Y, X) */
    const int16_t *seg;            /* (Z, Y, X) */
    const pf_class_row *classes;
    const int32_t *locs;
    const float *fg;               /* (C, n_fg) */
    pthread_mutex_t lock;          /* guards the lazy check and a repair */
    int bulk_state;                /* 0 unchecked, 1 verified, -1 corrupt */
    void *retired_map;             /* a mapping replaced by a repair, unmapped at close */
    size_t retired_len;
} pf_case;

/* With skip_bad: a case whose entry could not be built, and why. */
typedef struct pf_bad_case {
    int idx;
    pf_error err;
} pf_bad_case;

typedef struct pf_cache {
    char *dir;                     /* <cache>/<dataset name>-<hash of its path> */
    int repairs;                   /* entries rebuilt at serve time after a failed digest */
    int n_cases;
    uint64_t *keys;                /* per case: its entry (sources and what shapes the entry) */
    uint64_t *src_keys;            /* per case: its source files alone */
    pf_case *cases;                /* per case, after pf_cache_open */
    uint64_t fingerprint;          /* XXH3 over all keys, in case order */
    pf_bad_case *bad;              /* skip_bad: cases set aside by pf_cache_build */
    int n_bad;
    const pf_prep_spec *spec;      /* how entries are preprocessed (pf_cache_bind_spec) */
    uint64_t *base_keys;           /* per case: keys before a spec is folded in */
    uint64_t spec_hash;            /* of the bound spec: entries are <id>.<base>.<spec>.pfcase */
    /* until a spec is bound: the cases' own grids, z-scored (what tests of the cache use) */
    pf_prep_spec default_spec;
    pf_channel_norm default_norm[PF_MAX_CHANNELS];
} pf_cache;

/* Sets how every entry is preprocessed (transpose, crop, normalisation, resampling) and folds
 * it into each entry's key, so entries of two configurations or plans never mix. spec must
 * outlive the cache. Call after pf_cache_init, before building. */
void pf_cache_bind_spec(pf_cache *c, const pf_prep_spec *spec);

/* The cache folder of a dataset under options o (cache=, else the default), malloc'd; NULL if
 * out of memory. Nothing is created. */
char *pf_cache_dir_of(const pf_dataset *ds, const pf_options *o);

/* Computes keys and the cache folder; creates the folder (mode 0700). */
int pf_cache_init(pf_cache *c, const pf_dataset *ds, const pf_options *o, pf_error *err);
/* Whether a file name is a temporary NAME.tmp.PID.XXXXXX whose builder process is gone. */
int pf_cache_is_dead_temporary(const char *name);

/* PF_CACHE_KEYS_ONLY: keys and folder name only; nothing is created or removed (check, gc).
 * Every file of every case of ds must exist. */
#define PF_CACHE_KEYS_ONLY 1u
int pf_cache_init_ex(pf_cache *c, const pf_dataset *ds, const pf_options *o, unsigned flags,
                     pf_error *err);

/* Builds every missing or invalid entry on up to `threads` threads of the worker pool (0: one
 * per usable core); returns -1 with the error of the lowest-numbered failing case. full_check also verifies the image digests of existing entries (what
 * `patchfs prepare` does), otherwise only headers and metadata are checked. *built receives
 * how many entries were written. */
int pf_cache_build(pf_cache *c, const pf_dataset *ds, const pf_options *o, int threads,
                   int full_check, pf_progress_fn progress, void *arg, int *built,
                   pf_error *err);


/* Maps every entry and checks header and metadata digests. */
int pf_cache_open(pf_cache *c, const pf_dataset *ds, pf_error *err);

/* Checks image + seg digests once per case (lazily: only cases a file needs are read). */
int pf_case_check_bulk(pf_case *cs, pf_error *err);

/* Rebuilds case idx's entry after a failed digest and maps the new one; the old mapping stays
 * valid until pf_cache_close, so concurrent readers are never left with a dangling pointer.
 * Readers only use a case after pf_case_check_bulk succeeds, which the new entry does. */
int pf_cache_repair(pf_cache *c, const pf_dataset *ds, int idx, pf_error *err);

void pf_cache_close(pf_cache *c);

/* Preprocesses one case and writes its entry atomically to path (exposed for tests).
 * Returns 0, -1 when the case is bad, -2 when writing to the cache failed. */
int pf_cache_build_entry(const pf_dataset *ds, int case_idx, const pf_prep_spec *spec,
                         uint64_t key, const char *path, pf_error *err);

/* Path of a case's entry file, malloc'd. */
char *pf_cache_entry_path(const pf_cache *c, const pf_dataset *ds, int case_idx);

#endif
