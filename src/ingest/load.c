/* load.c - decoding one case of a dataset: every channel and the label, checked to share one
 * grid and one affine, every label value named in dataset.json (see load.h). */
#include "load.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

int pf_load_case(const pf_dataset *ds, int idx, pf_loaded_case *lc, pf_error *err)
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

void pf_loaded_case_free(pf_loaded_case *lc)
{
    free(lc->image);
    free(lc->seg);
    memset(lc, 0, sizeof *lc);
}
