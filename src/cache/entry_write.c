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
#include "nifti_load.h"

const char pf_case_magic[8] = {'P', 'F', 'C', 'A', 'S', 'E', 0, 1};

/* ---- building one entry ---- */

typedef struct loaded_case {
    float *image;       /* (C, Z, Y, X) source volume */
    int16_t *seg;
    int64_t shape[3];   /* Z, Y, X */
    pf_nifti_info info; /* of channel 0 */
} loaded_case;

static int same_grid(const pf_nifti_info *a, const pf_nifti_info *b)
{
    return a->nx == b->nx && a->ny == b->ny && a->nz == b->nz;
}

/* Whether two voxel-to-world affines agree: each entry within 1e-3 of the other, relative to
 * its magnitude (sub-micrometre for millimetre offsets). Files of one case that disagree beyond
 * that are not aligned, and nnU-Net would train on misregistered labels. */
static int affine_mismatch(const double *a, const double *b, double *worst)
{
    *worst = 0.0;
    for (int i = 0; i < 12; i++) {
        double d = fabs(a[i] - b[i]) / (1.0 + fabs(a[i]));
        if (d > *worst)
            *worst = d;
    }
    return *worst > 1e-3;
}

static int load_case(const pf_dataset *ds, int idx, loaded_case *lc, pf_error *err)
{
    const pf_case_src *cs = &ds->cases[idx];
    pf_nifti_info info, linfo;
    size_t n = 0;

    memset(lc, 0, sizeof *lc);
    for (int f = 0; f < cs->n_images; f++) {
        float *data;
        if (pf_nifti_load_float(cs->images[f], &info, &data, err))
            return -1;
        if (f == 0) {
            int64_t frames = ds->layout == PF_LAYOUT_MSD ? ds->n_channels : 1;
            if (info.nt != frames) {
                free(data);
                return pf_fail(err, EINVAL, "%s: has %lld frames in its 4th dimension but "
                               "dataset.json names %lld channel%s", cs->images[f],
                               (long long)info.nt, (long long)frames, frames == 1 ? "" : "s");
            }
            lc->info = info;
            lc->shape[0] = info.nz;
            lc->shape[1] = info.ny;
            lc->shape[2] = info.nx;
            n = (size_t)(info.nx * info.ny * info.nz);
            lc->image = malloc(n * (size_t)ds->n_channels * sizeof(float));
            if (!lc->image) {
                free(data);
                return pf_fail(err, ENOMEM, "%s: out of memory", cs->images[f]);
            }
        } else if (!same_grid(&info, &lc->info) || info.nt != 1) {
            free(data);
            return pf_fail(err, EINVAL, "%s: shape %lldx%lldx%lld differs from channel 0 (%s, "
                           "%lldx%lldx%lld)", cs->images[f], (long long)info.nx,
                           (long long)info.ny, (long long)info.nz, cs->images[0],
                           (long long)lc->info.nx, (long long)lc->info.ny,
                           (long long)lc->info.nz);
        }
        memcpy(lc->image + (size_t)f * n, data, n * info.nt * sizeof(float));
        free(data);
        if (f > 0) {
            double worst;
            if (affine_mismatch(lc->info.affine, info.affine, &worst))
                return pf_fail(err, EINVAL, "%s: its affine differs from channel 0 (%s) by %.3g "
                               "(relative; tolerance 1e-3): the channels are not aligned",
                               cs->images[f], cs->images[0], worst);
        }
    }
    if (pf_nifti_load_labels(cs->label, &linfo, &lc->seg, err))
        return -1;
    {
        double worst;
        if (same_grid(&linfo, &lc->info) && affine_mismatch(lc->info.affine, linfo.affine, &worst))
            return pf_fail(err, EINVAL, "%s: its affine differs from the image's (%s) by %.3g "
                           "(relative; tolerance 1e-3): label and image are not aligned",
                           cs->label, cs->images[0], worst);
    }
    if (!same_grid(&linfo, &lc->info))
        return pf_fail(err, EINVAL, "%s: label shape %lldx%lldx%lld differs from image %s "
                       "(%lldx%lldx%lld)", cs->label, (long long)linfo.nx, (long long)linfo.ny,
                       (long long)linfo.nz, cs->images[0], (long long)lc->info.nx,
                       (long long)lc->info.ny, (long long)lc->info.nz);
    {
        /* every label value must be named in dataset.json */
        unsigned char seen[32768] = {0};
        for (size_t i = 0; i < n; i++)
            seen[lc->seg[i]] = 1;
        for (int v = 0; v < 32768; v++)
            if (seen[v] && !pf_dataset_has_label(ds, v))
                return pf_fail(err, EINVAL, "%s: label value %d is not named in dataset.json "
                               "\"labels\"", cs->label, v);
    }
    return 0;
}

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
    loaded_case lc;
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
    if (load_case(ds, case_idx, &lc, err))
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
    free(lc.image);
    free(lc.seg);
    free(image);
    free(seg);
    free(fg);
    free(rows);
    if (cl)
        pf_class_locations_free(nc, cl);
    free(h);
    return rc;
}

