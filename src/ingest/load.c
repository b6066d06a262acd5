/* load.c - decoding one case of a dataset: every channel and the label, checked to share one
 * grid and one affine, every label value named in dataset.json (see load.h). One set of
 * checks for the cache build and the fingerprint (first problem stops) and `patchfs check`
 * (every problem listed). */
#include "load.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Where problems go: the first one into err; with fn, every one to fn and checking goes on. */
typedef struct checker {
    pf_problem_fn fn;
    void *arg;
    pf_error *err;
    int n;
} checker;

/* Records problem e: -1 (stop) without fn, 0 (go on) with it. */
static int problem(checker *k, const pf_error *e)
{
    if (k->n++ == 0 && k->err)
        *k->err = *e;
    if (!k->fn)
        return -1;
    k->fn(k->arg, e);
    return 0;
}

__attribute__((format(printf, 3, 4)))
static int problem_at(checker *k, int errnum, const char *fmt, ...)
{
    pf_error e = {.errnum = errnum};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof e.msg, fmt, ap);
    va_end(ap);
    return problem(k, &e);
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

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

void pf_loaded_case_free(pf_loaded_case *lc)
{
    free(lc->image);
    free(lc->seg);
    memset(lc, 0, sizeof *lc);
}

/* The label values dataset.json does not name: the first in the message, the others after. */
static int check_label_values(const pf_dataset *ds, const char *path, const int16_t *seg,
                              size_t n, checker *k)
{
    unsigned char *seen = calloc(32768, 1);
    char more[256] = "";
    size_t used = 0;
    int first = -1;
    if (!seen)
        return problem_at(k, ENOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++)
        seen[seg[i]] = 1; /* pf_nifti_load_labels: 0..32767 */
    for (int v = 0; v < 32768; v++) {
        if (!seen[v] || pf_dataset_has_label(ds, v))
            continue;
        if (first < 0)
            first = v;
        else if (used < sizeof more - 16)
            used += (size_t)snprintf(more + used, sizeof more - used, "%s%d", used ? ", " : "", v);
    }
    free(seen);
    if (first < 0)
        return 0;
    return problem_at(k, EINVAL, "%s: label value %d is not named in dataset.json \"labels\"%s%s%s",
                      path, first, used ? " (nor are " : "", more, used ? ")" : "");
}

int pf_load_case_checked(const pf_dataset *ds, int idx, pf_loaded_case *cd, pf_problem_fn fn,
                         void *arg, pf_error *err)
{
    const pf_case_src *cs = &ds->cases[idx];
    checker k = {.fn = fn, .arg = arg, .err = err};
    pf_nifti_info info, linfo, ref;
    pf_error e = {0};
    int ref_ch = -1; /* the channel the others are compared with: 0, or the first readable */
    int complete = 1; /* every channel decoded onto one grid */
    size_t n = 0;
    double worst;

    memset(cd, 0, sizeof *cd);
    for (const char *p = cs->missing; p && *p;) {
        const char *nl = strchrnul(p, '\n');
        pf_fail(&e, ENOENT, "%.*s", (int)(nl - p), p);
        if (problem(&k, &e))
            goto done;
        p = *nl ? nl + 1 : nl;
    }
    for (int f = 0; f < cs->n_images; f++) {
        float *data = NULL;
        if (cs->missing && !is_file(cs->images[f])) {
            complete = 0; /* listed above */
            continue;
        }
        if (pf_nifti_load_float(cs->images[f], &info, &data, &e)) {
            complete = 0;
            if (problem(&k, &e))
                goto done;
            if (pf_nifti_read_info(cs->images[f], &info, &e))
                continue; /* not even its header: nothing to compare */
        }
        if (ref_ch < 0) {
            int64_t frames = ds->layout == PF_LAYOUT_MSD ? ds->n_channels : 1;
            ref_ch = f;
            ref = info;
            cd->info = info;
            cd->shape[0] = info.nz;
            cd->shape[1] = info.ny;
            cd->shape[2] = info.nx;
            n = (size_t)(info.nx * info.ny * info.nz);
            if (info.nt != frames) {
                free(data);
                complete = 0;
                if (problem_at(&k, EINVAL, "%s: has %lld frames in its 4th dimension but "
                               "dataset.json names %lld channel%s", cs->images[f],
                               (long long)info.nt, (long long)frames, frames == 1 ? "" : "s"))
                    goto done;
                continue;
            }
            if (complete) {
                cd->image = malloc(n * (size_t)ds->n_channels * sizeof(float));
                if (!cd->image) {
                    free(data);
                    problem_at(&k, ENOMEM, "%s: out of memory", cs->images[f]);
                    goto done; /* no use going on */
                }
            }
        } else if (!same_grid(&info, &ref) || info.nt != 1) {
            free(data);
            complete = 0;
            if (problem_at(&k, EINVAL, "%s: shape %lldx%lldx%lld differs from channel %d (%s, "
                           "%lldx%lldx%lld)", cs->images[f], (long long)info.nx,
                           (long long)info.ny, (long long)info.nz, ref_ch, cs->images[ref_ch],
                           (long long)ref.nx, (long long)ref.ny, (long long)ref.nz))
                goto done;
            continue;
        }
        if (complete && data)
            memcpy(cd->image + (size_t)f * n, data, n * (size_t)info.nt * sizeof(float));
        free(data);
        if (f != ref_ch && affine_mismatch(ref.affine, info.affine, &worst) &&
            problem_at(&k, EINVAL, "%s: its affine differs from channel %d (%s) by %.3g "
                       "(relative; tolerance 1e-3): the channels are not aligned",
                       cs->images[f], ref_ch, cs->images[ref_ch], worst))
            goto done;
    }
    if (!cs->label) {
        /* an image to predict (testset.h): background everywhere, as nnU-Net's preprocessing
         * sees a case without segmentation (the crop marks the outside -1 all the same) */
        if (complete && ref_ch >= 0 &&
            !(cd->seg = calloc((size_t)(ref.nx * ref.ny * ref.nz), sizeof *cd->seg)))
            problem_at(&k, ENOMEM, "%s: out of memory", cs->images[ref_ch]);
        goto done;
    }
    if (cs->missing && !is_file(cs->label))
        goto done; /* listed above */
    if (pf_nifti_load_labels(cs->label, &linfo, &cd->seg, &e)) {
        if (problem(&k, &e) || pf_nifti_read_info(cs->label, &linfo, &e))
            goto done;
    }
    if (ref_ch >= 0) {
        if (same_grid(&linfo, &ref) && affine_mismatch(ref.affine, linfo.affine, &worst) &&
            problem_at(&k, EINVAL, "%s: its affine differs from the image's (%s) by %.3g "
                       "(relative; tolerance 1e-3): label and image are not aligned",
                       cs->label, cs->images[ref_ch], worst))
            goto done;
        if (!same_grid(&linfo, &ref) &&
            problem_at(&k, EINVAL, "%s: label shape %lldx%lldx%lld differs from image %s "
                       "(%lldx%lldx%lld)", cs->label, (long long)linfo.nx, (long long)linfo.ny,
                       (long long)linfo.nz, cs->images[ref_ch], (long long)ref.nx,
                       (long long)ref.ny, (long long)ref.nz))
            goto done;
    }
    /* every label value must be named in dataset.json (whatever the grids) */
    if (cd->seg)
        check_label_values(ds, cs->label, cd->seg,
                           (size_t)(linfo.nx * linfo.ny * linfo.nz), &k);
done:
    if (k.n || !complete || ref_ch < 0) {
        pf_loaded_case_free(cd);
        if (!k.n) /* not reached: a case without a readable channel had a problem */
            return pf_fail(err, EINVAL, "case %s: no readable image", cs->id);
        return -1;
    }
    return 0;
}

int pf_load_case(const pf_dataset *ds, int idx, pf_loaded_case *lc, pf_error *err)
{
    return pf_load_case_checked(ds, idx, lc, NULL, NULL, err);
}
