/* classes.c - which classes a case's stored locations are kept for (the cache entry's class
 * table): each foreground label of a label dataset, each region of a region dataset (keys
 * 1..R, nnU-Net's region keys in dataset.json order), and with an ignore label every annotated
 * voxel (key PF_CLASS_ANNOTATED = 0: any value but the ignore label, -1 included, as nnU-Net's
 * (-1, *all_labels) key), which non-forced positions are centred on. Rows ascending by key. */
#include "classes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Stream positions of the classes made of several values: above every label value. */
#define SET_STREAM_BASE 0x10000u

static int append(int *n, pf_class_locs **cl, const pf_class_locs *one, pf_error *err)
{
    if (one->voxels == 0)
        return 0; /* nnU-Net keeps an empty list; an absent row is the same for sampling */
    if (pf_resize(cl, (size_t)*n + 1, sizeof **cl, err))
        return -1;
    (*cl)[(*n)++] = *one;
    return 0;
}

int pf_case_classes(const pf_dataset *ds, const int16_t *seg, const int64_t shape[3],
                    int *n_classes, pf_class_locs **classes, pf_error *err)
{
    unsigned char *member;
    pf_class_locs one, *plain = NULL;
    int n = 0, n_plain = 0, rc = -1;
    *n_classes = 0;
    *classes = NULL;
    if (!ds->n_regions && ds->ignore_label < 0) /* a label dataset: as before regions */
        return pf_class_locations(seg, shape, -1, n_classes, classes, err);
    if (!(member = pf_calloc(PF_SEG_VALUES, 1, err)))
        return -1;
    if (ds->ignore_label >= 0) {
        memset(member, 1, PF_SEG_VALUES);
        member[ds->ignore_label + 1] = 0;
        if (pf_class_locations_set(seg, shape, member, PF_CLASS_ANNOTATED,
                                   SET_STREAM_BASE + PF_CLASS_ANNOTATED, &one, err))
            goto out;
        if (append(&n, classes, &one, err)) {
            free(one.locs);
            goto out;
        }
    }
    if (ds->n_regions) {
        for (int r = 0; r < ds->n_regions; r++) {
            memset(member, 0, PF_SEG_VALUES);
            for (int j = 0; j < ds->region_n[r]; j++)
                member[ds->region_labels[r][j] + 1] = 1;
            if (pf_class_locations_set(seg, shape, member, r + 1,
                                       SET_STREAM_BASE + (uint64_t)r + 1, &one, err))
                goto out;
            if (append(&n, classes, &one, err)) {
                free(one.locs);
                goto out;
            }
        }
    } else {
        if (pf_class_locations(seg, shape, ds->ignore_label, &n_plain, &plain, err) ||
            pf_resize(classes, (size_t)(n + n_plain) + 1, sizeof **classes, err))
            goto out;
        if (n_plain)
            memcpy(*classes + n, plain, (size_t)n_plain * sizeof *plain);
        n += n_plain;
        free(plain); /* the rows' locations now belong to *classes */
        plain = NULL;
    }
    rc = 0;
out:
    free(member);
    if (plain)
        pf_class_locations_free(n_plain, plain);
    if (rc) {
        pf_class_locations_free(n, *classes);
        *classes = NULL;
        n = 0;
    }
    *n_classes = n;
    return rc;
}
