/* entry_write.c - building one cache entry from the sources: decode every channel and the
 * label, check they share a grid, preprocess, and publish the entry atomically (written to a
 * temporary, fsync'd, renamed). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "entry.h"
#include "load.h"

const char pf_case_magic[8] = {'P', 'F', 'C', 'A', 'S', 'E', 0, 1};

/* ---- building one entry ---- */


typedef struct writer {
    int fd;
    uint64_t pos;
    XXH3_state_t *hash; /* digest of the part being written, or NULL */
    const char *path;
} writer;

static int w_bytes(writer *w, const void *p, size_t len, pf_error *err)
{
    const unsigned char *b = p;
    if (w->hash)
        XXH3_64bits_update(w->hash, p, len);
    while (len) {
        ssize_t k = write(w->fd, b, len);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return pf_fail(err, errno, "%s: cannot write cache entry: %s", w->path,
                           strerror(errno));
        }
        b += k;
        len -= (size_t)k;
        w->pos += (uint64_t)k;
    }
    return 0;
}

static int w_pad_to(writer *w, uint64_t off, pf_error *err)
{
    static const unsigned char zeros[4096];
    while (w->pos < off) {
        size_t k = (size_t)(off - w->pos < sizeof zeros ? off - w->pos : sizeof zeros);
        if (w_bytes(w, zeros, k, err))
            return -1;
    }
    return 0;
}

/* Writes the entry to a temporary file beside path, then fsync + rename: readers see either
 * no entry or a whole one. */
static int publish_entry(const char *path, pf_case_header *h, const float *image,
                         const int16_t *seg, const pf_class_row *rows, int nc,
                         const pf_class_locs *cl, const float *fg, pf_error *err)
{
    char tmp[4200];
    const uint64_t nvox = (uint64_t)(h->shape[0] * h->shape[1] * h->shape[2]);
    XXH3_state_t *st = XXH3_createState();
    writer w = {.fd = -1, .path = tmp};
    int rc = -1;

    snprintf(tmp, sizeof tmp, "%s.tmp.%d.XXXXXX", path, (int)getpid());
    if (!st)
        return pf_fail(err, ENOMEM, "out of memory");
    w.fd = mkstemp(tmp);
    if (w.fd < 0) {
        pf_fail(err, errno, "%s: cannot create cache entry: %s", tmp, strerror(errno));
        goto out;
    }
    if (w_pad_to(&w, h->image_off, err))
        goto out;
    XXH3_64bits_reset(st);
    w.hash = st;
    if (w_bytes(&w, image, nvox * h->n_channels * sizeof(float), err) ||
        w_pad_to(&w, h->seg_off, err) || w_bytes(&w, seg, nvox * sizeof(int16_t), err) ||
        w_pad_to(&w, h->meta_off, err))
        goto out;
    h->bulk_digest = XXH3_64bits_digest(st);
    XXH3_64bits_reset(st);
    if (w_bytes(&w, rows, (size_t)nc * sizeof *rows, err) || w_pad_to(&w, h->locs_off, err))
        goto out;
    for (int k = 0; k < nc; k++)
        if (w_bytes(&w, cl[k].locs, cl[k].n_locs * 3 * sizeof(int32_t), err))
            goto out;
    if (w_pad_to(&w, h->fg_off, err) ||
        w_bytes(&w, fg, (size_t)h->n_fg * h->n_channels * sizeof(float), err))
        goto out;
    h->meta_digest = XXH3_64bits_digest(st);
    h->file_size = w.pos;
    h->header_digest = 0;
    h->header_digest = XXH3_64bits(h, sizeof *h);
    if (pwrite(w.fd, h, sizeof *h, 0) != (ssize_t)sizeof *h) {
        pf_fail(err, errno ? errno : EIO, "%s: cannot write cache entry header: %s", tmp,
                strerror(errno));
        goto out;
    }
    if (fsync(w.fd) != 0) {
        pf_fail(err, errno, "%s: cannot flush cache entry: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(w.fd) != 0) {
        w.fd = -1;
        pf_fail(err, errno, "%s: cannot close cache entry: %s", tmp, strerror(errno));
        goto out;
    }
    w.fd = -1;
    if (rename(tmp, path) != 0) {
        pf_fail(err, errno, "%s: cannot publish cache entry: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (w.fd >= 0)
        close(w.fd);
    if (rc != 0)
        unlink(tmp);
    XXH3_freeState(st);
    return rc;
}

int pf_cache_build_entry(const pf_dataset *ds, int case_idx, const pf_options *o, uint64_t key,
                         const char *path, pf_error *err)
{
    pf_loaded_case lc;
    pf_case_header *h = calloc(1, sizeof *h);
    float *image = NULL, *fg = NULL;
    int16_t *seg = NULL;
    pf_class_locs *cl = NULL;
    pf_class_row *rows = NULL;
    int nc = 0, rc = -1;
    int64_t lo[3] = {0, 0, 0}, hi[3];
    uint64_t nvox, off, total_locs = 0;

    if (!h)
        return pf_fail(err, ENOMEM, "out of memory");
    if (ds->n_channels > PF_MAX_CHANNELS) {
        free(h);
        return pf_fail(err, EINVAL, "%s: %d channels; patchfs supports at most %d",
                       ds->root, ds->n_channels, PF_MAX_CHANNELS);
    }
    if (pf_load_case(ds, case_idx, &lc, err))
        goto out;
    memcpy(hi, lc.shape, sizeof hi);
    if (o->crop == PF_CROP_NONZERO)
        pf_nonzero_box(lc.image, ds->n_channels, lc.shape, lo, hi);
    image = pf_crop_float(lc.image, ds->n_channels, lc.shape, lo, hi);
    seg = pf_crop_i16(lc.seg, lc.shape, lo, hi);
    if (!image || !seg) {
        pf_fail(err, ENOMEM, "case %s: out of memory cropping", ds->cases[case_idx].id);
        goto out;
    }
    memcpy(h->magic, pf_case_magic, sizeof h->magic);
    h->version = PF_CACHE_VERSION;
    h->endian_tag = PF_ENDIAN_TAG;
    h->key = key;
    for (int d = 0; d < 3; d++) {
        h->shape[d] = hi[d] - lo[d];
        h->orig_shape[d] = lc.shape[d];
        h->crop_lo[d] = lo[d];
        h->spacing[d] = lc.info.spacing[2 - d];
    }
    memcpy(h->affine, lc.info.affine, sizeof h->affine);
    h->n_channels = (uint32_t)ds->n_channels;
    snprintf(h->id, sizeof h->id, "%s", ds->cases[case_idx].id);
    if (o->crop == PF_CROP_NONZERO && pf_mark_outside(image, ds->n_channels, h->shape, seg, err))
        goto out;
    if (pf_class_locations(seg, h->shape, ds->ignore_label, &nc, &cl, err))
        goto out;
    h->n_classes = (uint32_t)nc;
    pf_channel_stats(image, ds->n_channels, seg, h->shape, h->stats);
    fg = malloc((size_t)ds->n_channels * PF_FG_SAMPLES * sizeof *fg);
    if (!fg) {
        pf_fail(err, ENOMEM, "out of memory");
        goto out;
    }
    h->n_fg = (uint32_t)pf_foreground_samples(image, ds->n_channels, seg, h->shape, fg);
    rows = calloc((size_t)(nc ? nc : 1), sizeof *rows);
    if (!rows) {
        pf_fail(err, ENOMEM, "out of memory");
        goto out;
    }
    for (int k = 0; k < nc; k++) {
        rows[k].label = cl[k].label;
        rows[k].voxels = cl[k].voxels;
        rows[k].n_locs = cl[k].n_locs;
        rows[k].locs_index = total_locs;
        total_locs += cl[k].n_locs;
    }
    nvox = (uint64_t)(h->shape[0] * h->shape[1] * h->shape[2]);
    h->image_off = pf_round_up(sizeof *h, 4096);
    off = h->image_off + nvox * h->n_channels * sizeof(float);
    h->seg_off = pf_round_up(off, 64);
    h->meta_off = pf_round_up(h->seg_off + nvox * sizeof(int16_t), 64);
    h->classes_off = h->meta_off;
    h->locs_off = pf_round_up(h->classes_off + (uint64_t)nc * sizeof *rows, 64);
    h->fg_off = pf_round_up(h->locs_off + total_locs * 3 * sizeof(int32_t), 64);
    if (publish_entry(path, h, image, seg, rows, nc, cl, fg, err)) {
        rc = -2; /* the cache, not the case, is at fault */
        goto out;
    }
    rc = 0;
out:
    if (rc)
        pf_wrap(err, "case %s", ds->cases[case_idx].id);
    pf_loaded_case_free(&lc);
    free(image);
    free(seg);
    free(fg);
    free(rows);
    if (cl)
        pf_class_locations_free(nc, cl);
    free(h);
    return rc;
}

