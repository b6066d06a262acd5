/* cache.h - the preprocessing cache: one file per case holding the cropped float32 channels,
 * the segmentation (int8 when its labels fit, else int16), the stored class locations,
 * intensity statistics and properties.
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
#include <string.h>

#include "dataset.h"
#include "error.h"
#include "options.h"
#include "preprocess.h"
#include "prepare.h"
#include "progress.h"

/* 3: the segmentation stored as int8 when the case's labels fit (seg_bytes), as nnU-Net */
#define PF_CACHE_VERSION 3
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
    uint32_t n_fg;                 /* foreground intensity samples per channel */
    uint32_t seg_bytes;            /* 1: seg as int8 (every label in [-128, 127]); 2: int16 */
    pf_chan_stats stats[PF_MAX_CHANNELS];
    char id[256];
} pf_case_header;

/* On-disk class table row. */
typedef struct pf_class_row {
    int32_t label, pad;
    uint64_t voxels, n_locs, locs_index; /* locs_index: first triple in the locs array */
} pf_class_row;

/* One mapping of an entry file. Immutable once published (pf_case.map): a repair maps the
 * rebuilt file as a new one and swaps the pointer; the old one is retired (chained through
 * `older`), not unmapped, until pf_cache_close, so a reader still holding it never reads freed
 * memory. base is NULL for in-memory cases (tests): nothing to release or guard. */
typedef struct pf_case_map {
    const unsigned char *base;
    size_t len;
    const float *image;            /* (C, Z, Y, X) */
    /* the seg (Z, Y, X), one of the two (hdr.seg_bytes): read it through pf_seg_at */
    const int8_t *seg8;
    const int16_t *seg16;
    const int32_t *locs;           /* 3 per stored location, rows' locs_index into it */
    const float *fg;               /* (C, n_fg) */
    struct pf_case_map *older;     /* the mapping this one replaced (retired) */
    int slot;                      /* its registration with the fault guard (mapping.c); -1 none */
} pf_case_map;

/* An opened cache entry. hdr and classes are copies made at open and never written again:
 * readers use them without a lock. The pixels and locations are read through the current
 * mapping, one atomic load per sampler call (pf_case_map_get), and a read that must not
 * serve damaged bytes is bracketed by pf_case_read_begin/_end (see there). */
typedef struct pf_case {
    pf_case_header hdr;
    const pf_class_row *classes;   /* hdr.n_classes rows, ascending by label (a heap copy) */
    /* the current mapping's locations, published with it (for readers of the class table) */
    const int32_t *_Atomic locs;
    pf_case_map *_Atomic map;      /* the current mapping */
    _Atomic unsigned faults;       /* faults met in any mapping of this case (mapping.c) */
    _Atomic unsigned faults_seen;  /* `faults` when the current mapping was published */
    char *path;
    pthread_mutex_t lock;          /* guards the lazy check and a repair */
    int bulk_state;                /* 0 unchecked, 1 verified, -1 corrupt (under lock) */
    _Atomic int keep;              /* release policy: 0 undecided, 1 kept mapped, -1 released */
} pf_case;

/* The current mapping (acquire: everything published with it is visible). */
static inline const pf_case_map *pf_case_map_get(const pf_case *c)
{
    return __atomic_load_n((pf_case_map *const *)&c->map, __ATOMIC_ACQUIRE);
}

/* Label i of a mapping's seg, whichever width it is stored in. The branch is on a field that
 * is constant for the mapping, so inner loops predict it perfectly. */
static inline int16_t pf_seg_at(const pf_case_map *m, size_t i)
{
    return m->seg8 ? (int16_t)m->seg8[i] : m->seg16[i];
}

/* Labels [i, i + n) of a mapping's seg, widened to int16 into dst. */
static inline void pf_seg_row(const pf_case_map *m, size_t i, size_t n, int16_t *dst)
{
    if (m->seg8)
        for (size_t k = 0; k < n; k++)
            dst[k] = m->seg8[i + k];
    else
        memcpy(dst, m->seg16 + i, n * sizeof *dst);
}

/* Reading mapped case data safely. A cache entry can be truncated, or a sector of it fail,
 * while it is mapped: touching such a page raises SIGBUS, which used to kill the daemon. The
 * fault guard (mapping.c) catches SIGBUS in a registered mapping, maps zero pages over the rest
 * of it so that the faulting read completes, and counts the fault on its case. Readers
 * bracket what they read: pf_case_read_begin fails (-1) when the case has a fault that no
 * repair has covered yet (its mapping may hold zero pages: rebuild it first, pf_cache_repair),
 * else gives a token; pf_case_read_end fails (-1) when a fault happened in between (what was
 * read may hold zeros: fail that read with EIO). The hot path is three atomic loads per
 * sample; mapping.c says why this was chosen over pread or a jump out of the handler. */
static inline int pf_case_read_begin(const pf_case *c, unsigned *token)
{
    unsigned f = __atomic_load_n((const unsigned *)&c->faults, __ATOMIC_ACQUIRE);
    *token = f;
    return __atomic_load_n((const unsigned *)&c->faults_seen, __ATOMIC_ACQUIRE) == f ? 0 : -1;
}

static inline int pf_case_read_end(const pf_case *c, unsigned token)
{
    return __atomic_load_n((const unsigned *)&c->faults, __ATOMIC_ACQUIRE) == token ? 0 : -1;
}

/* A truncation no access has met yet: the entry file (by its path) shorter than its header
 * says counts as a fault, so the next pf_case_read_begin fails and the case is rebuilt. This
 * also covers the one page the guard cannot: the tail of the page holding the new end of
 * file reads as zeros without faulting. One stat(2) per call; 0 when the size is right (or the
 * file cannot be stat'ed: the mapping stays valid), -1 when a fault was counted. */
int pf_case_check_size(pf_case *c);

/* Faults counted on any case of the process so far (to tell a fault met during a read from
 * one an earlier read met). */
unsigned pf_fault_count(void);

/* Installs the guard's SIGBUS handler (again). The first mapping does it; a program that
 * replaces SIGBUS's handler afterwards (cmocka does, around each test) calls it again. */
void pf_fault_guard_install(void);

/* Whether the case has no uncovered fault (pf_case_read_begin without a read). */
static inline int pf_case_sound(const pf_case *c)
{
    unsigned t;
    return pf_case_read_begin(c, &t) == 0;
}

/* The release policy, one for every sampler. Entries are mapped, and every page a sampler
 * touches stays in the process's resident set until unmapped: a long mount's RSS would grow
 * towards the size of the dataset. A sampler that is done with a box of a case, at most every
 * PF_RELEASE_PLANES planes it produces, hands it back here: rows [y0, y1) of planes [z0, z1)
 * (clipped to the case) of image channel `part`, of the seg (PF_PART_SEG), or of all channels
 * and the seg (PF_PART_ALL) are unmapped with MADV_DONTNEED, which on a shared file mapping
 * drops page-table entries only (the bytes stay in the page cache; the next touch is a minor
 * fault). Cases without a mapping are left alone. */
#define PF_RELEASE_PLANES 16
#define PF_PART_SEG (-1)
#define PF_PART_ALL (-2)
void pf_case_release(const pf_case *c, const pf_case_map *m, int part, int64_t z0, int64_t z1,
                     int64_t y0, int64_t y1);

/* Which cases keep their pages: while the entries of the cases kept so far fit `bytes` (a
 * share of mem=, set by the mount), a case met by pf_case_release for the first time is kept
 * mapped and none of its rows are released (no page is faulted in twice); cases beyond the
 * budget release as above. First come, first kept; a decision is never revised, so what the
 * kept cases can hold is bounded by the budget. 0 (the default, and `patchfs get`): every
 * case releases. Applies to every cache of the process. */
void pf_case_keep_budget(size_t bytes);
/* The bytes of the cases kept so far (for status and tests). */
size_t pf_case_kept_bytes(void);
/* The bytes handed back to the kernel so far by released rows, every case of the process
 * (the ranges as widened to the fault-around block; for tests: what the policy did, which a
 * page count cannot tell apart from the kernel's own reclaim). */
size_t pf_case_released_bytes(void);

/* Maps the entry file fd, whose header equals c->hdr (checked by the caller), into a new
 * mapping registered with the fault guard (faults in it count on c). NULL with err set. */
pf_case_map *pf_case_map_open(pf_case *c, int fd, pf_error *err);
/* Publishes m as c's current mapping (at open, or after a repair: the previous one retired).
 * `seen` is c->faults sampled before the entry was (re)built: faults after it still count as
 * uncovered. */
void pf_case_publish(pf_case *c, pf_case_map *m, unsigned seen);
/* Unregisters and unmaps m and every mapping it retired; frees them. */
void pf_case_map_close(pf_case_map *m);

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
    int build_rank, build_world;   /* build_world > 0: pf_cache_build builds only the cases
                                    * i with i % build_world == build_rank (prepare's shard) */
    uint64_t *base_keys;           /* per case: keys before a spec is folded in */
    uint64_t spec_hash;            /* of the bound spec: entries are <id>.<base>.<spec>.pfcase */
    /* until a spec is bound: the cases' own grids, z-scored (what tests of the cache use) */
    pf_prep_spec default_spec;
    pf_channel_norm default_norm[PF_MAX_CHANNELS];
} pf_cache;

/* A pass over the cases on the worker pool (the fingerprint, the entries): what its units
 * share to set bad cases aside (skip_bad) and to report progress. */
typedef struct pf_case_pass {
    pf_cache *c;
    const pf_dataset *ds;
    int skip_bad;
    int total;                     /* what progress counts to */
    int done;                      /* atomic */
    pthread_mutex_t lock;          /* guards c->bad and the progress callback */
    pf_progress_fn progress;
    void *arg;
} pf_case_pass;

/* The outcome of a unit for case idx: rc 0 counts it done (reported to progress when
 * `report`); rc -1 with skip_bad sets the case aside unless memory ran out (rc -2, trouble
 * with the cache itself, always stops). Returns what the unit returns (0 or -1). */
int pf_case_pass_done(pf_case_pass *p, int idx, int rc, int report, const pf_error *err);

/* Sets how every entry is preprocessed (transpose, crop, normalisation, resampling) and folds
 * it into each entry's key, so entries of two configurations or plans never mix. spec must
 * outlive the cache. Call after pf_cache_init, before building. */
void pf_cache_bind_spec(pf_cache *c, const pf_prep_spec *spec);

/* The cache folder of a dataset under options o (cache=, else the default), malloc'd; NULL if
 * out of memory. Nothing is created. */
char *pf_cache_dir_of(const pf_dataset *ds, const pf_options *o);

/* Computes keys and the cache folder; creates the folder (mode 0700). */
int pf_cache_init(pf_cache *c, const pf_dataset *ds, const pf_options *o, pf_error *err);
/* Temporaries: every file of the cache is written to NAME.tmp.HOST.PID.XXXXXX beside its
 * final name and renamed. pf_cache_temp_template writes that template (for mkstemp) into out;
 * -1 when it does not fit. */
int pf_cache_temp_template(const char *path, char *out, size_t cap);
typedef enum pf_temp_state {
    PF_TEMP_NONE,        /* not a temporary's name */
    PF_TEMP_KEEP,        /* its builder is alive, or runs on another host (unknowable here) */
    PF_TEMP_DEAD,        /* this host's, and its builder is gone: removable */
    PF_TEMP_LEGACY_DEAD  /* an older build's name without a host, its PID not alive here */
} pf_temp_state;
pf_temp_state pf_cache_temporary_state(const char *name);

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

/* Rebuilds case idx's entry after a failed digest, or after a fault in its mapping (the entry
 * truncated or unreadable while in use), and publishes a mapping of the new file; the old one
 * stays mapped until pf_cache_close, so a concurrent reader is never left with a dangling
 * pointer. The rebuilt entry must equal the old one's header (and so its metadata): otherwise
 * the sources changed since the cache was opened, and the repair fails (hdr and classes stay
 * immutable). Readers use a case after pf_case_check_bulk succeeds and pf_case_read_begin
 * gives a token, which the new entry does. */
int pf_cache_repair(pf_cache *c, const pf_dataset *ds, int idx, pf_error *err);

void pf_cache_close(pf_cache *c);

/* Preprocesses one case and writes its entry atomically to path (exposed for tests).
 * Returns 0, -1 when the case is bad, -2 when writing to the cache failed. */
int pf_cache_build_entry(const pf_dataset *ds, int case_idx, const pf_prep_spec *spec,
                         uint64_t key, const char *path, pf_error *err);

/* Path of a case's entry file, malloc'd. */
char *pf_cache_entry_path(const pf_cache *c, const pf_dataset *ds, int case_idx);

#endif
