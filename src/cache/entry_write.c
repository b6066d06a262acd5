/* entry_write.c - building one cache entry from the sources: decode every channel and the
 * label, check they share a grid, preprocess, and publish the entry atomically (written to a
 * temporary, fsync'd, renamed). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "entry.h"
#include "classes.h"
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

/* The narrowest width that holds every label of seg (nnU-Net stores int8 unless a label is
 * above 127; -1, outside the crop's mask, fits either way). */
static uint32_t seg_width(const int16_t *seg, uint64_t nvox)
{
    int16_t lo = 0, hi = 0;
    for (uint64_t i = 0; i < nvox; i++) {
        lo = seg[i] < lo ? seg[i] : lo;
        hi = seg[i] > hi ? seg[i] : hi;
    }
    return lo >= INT8_MIN && hi <= INT8_MAX ? 1 : 2;
}

/* The seg at h->seg_bytes per label (narrowed in chunks: no second copy of the volume). */
static int w_seg(writer *w, const pf_case_header *h, const int16_t *seg, uint64_t nvox,
                 pf_error *err)
{
    int8_t chunk[16384];
    if (h->seg_bytes == 2)
        return w_bytes(w, seg, nvox * sizeof *seg, err);
    for (uint64_t i = 0; i < nvox; i += sizeof chunk) {
        const size_t n = nvox - i < sizeof chunk ? (size_t)(nvox - i) : sizeof chunk;
        for (size_t k = 0; k < n; k++)
            chunk[k] = (int8_t)seg[i + k];
        if (w_bytes(w, chunk, n, err))
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

    if (!st)
        return pf_fail(err, ENOMEM, "out of memory");
    if (pf_cache_temp_template(path, tmp, sizeof tmp) != 0) {
        XXH3_freeState(st);
        return pf_fail(err, ENAMETOOLONG, "%s: path too long", path);
    }
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
        w_pad_to(&w, h->seg_off, err) || w_seg(&w, h, seg, nvox, err) ||
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
        (h->n_fg && w_bytes(&w, fg, (size_t)h->n_fg * h->n_channels * sizeof(float), err)))
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

int pf_cache_build_entry(const pf_dataset *ds, int case_idx, const pf_prep_spec *spec,
                         uint64_t key, const char *path, pf_error *err)
{
    pf_loaded_case lc;
    pf_prepped pp;
    pf_case_header *h = calloc(1, sizeof *h);
    pf_class_locs *cl = NULL;
    pf_class_row *rows = NULL;
    int nc = 0, rc = -1;
    uint64_t nvox, off, total_locs = 0;

    memset(&lc, 0, sizeof lc);
    memset(&pp, 0, sizeof pp);
    if (!h)
        return pf_fail(err, ENOMEM, "out of memory");
    if (ds->n_channels > PF_MAX_CHANNELS) {
        free(h);
        return pf_fail(err, EINVAL, "%s: %d channels; patchfs supports at most %d",
                       ds->root, ds->n_channels, PF_MAX_CHANNELS);
    }
    /* nnU-Net's order: transpose, crop, normalise, resample; class locations afterwards */
    if (pf_load_case(ds, case_idx, &lc, err) ||
        pf_prepare_check_input(&lc, spec, &ds->cases[case_idx], err) ||
        pf_prepare_case(&lc, spec, &pp, err))
        goto out;
    memcpy(h->affine, lc.info.affine, sizeof h->affine);
    pf_loaded_case_free(&lc); /* the source volume is no longer needed */
    memcpy(h->magic, pf_case_magic, sizeof h->magic);
    h->version = PF_CACHE_VERSION;
    h->endian_tag = PF_ENDIAN_TAG;
    h->key = key;
    for (int d = 0; d < 3; d++) {
        h->shape[d] = pp.shape[d];
        h->orig_shape[d] = pp.shape_before_crop[d];
        h->crop_lo[d] = pp.crop_lo[d];
        h->crop_shape[d] = pp.shape_after_crop[d];
        h->spacing[d] = pp.target[d];
        h->src_spacing[d] = pp.spacing[d];
        h->transpose[d] = spec->transpose[d];
    }
    h->separate_z = pp.separate_z;
    h->z_axis = pp.z_axis;
    h->n_channels = (uint32_t)ds->n_channels;
    for (int c = 0; c < ds->n_channels; c++) {
        h->norm_shift[c] = pp.shift[c];
        h->norm_scale[c] = pp.scale[c];
    }
    snprintf(h->id, sizeof h->id, "%s", ds->cases[case_idx].id);
    if (pf_case_classes(ds, pp.seg, h->shape, &nc, &cl, err))
        goto out;
    h->n_classes = (uint32_t)nc;
    pf_channel_stats(pp.image, ds->n_channels, pp.seg, h->shape, h->stats);
    h->n_fg = 0; /* CT statistics come from the fingerprint (fp_store.c) */
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
    h->seg_bytes = seg_width(pp.seg, nvox);
    h->meta_off = pf_round_up(h->seg_off + nvox * h->seg_bytes, 64);
    h->classes_off = h->meta_off;
    h->locs_off = pf_round_up(h->classes_off + (uint64_t)nc * sizeof *rows, 64);
    h->fg_off = pf_round_up(h->locs_off + total_locs * 3 * sizeof(int32_t), 64);
    if (publish_entry(path, h, pp.image, pp.seg, rows, nc, cl, NULL, err)) {
        rc = -2; /* the cache, not the case, is at fault */
        goto out;
    }
    rc = 0;
out:
    if (rc)
        pf_wrap(err, "case %s", ds->cases[case_idx].id);
    pf_loaded_case_free(&lc);
    pf_prepped_free(&pp);
    free(rows);
    if (cl)
        pf_class_locations_free(nc, cl);
    free(h);
    return rc;
}

