/* dataset.c - reading dataset.json and listing the cases of nnU-Net raw and Decathlon layouts
 * (see dataset.h). Every problem is reported with the file it concerns. */
#include "dataset.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "order.h"

void pf_dataset_free(pf_dataset *ds)
{
    if (!ds)
        return;
    for (int i = 0; i < ds->n_cases; i++) {
        pf_case_src *c = &ds->cases[i];
        free(c->id);
        for (int j = 0; j < c->n_images; j++)
            free(c->images[j]);
        free(c->images);
        free(c->label);
        free(c->missing);
    }
    free(ds->cases);
    for (int i = 0; i < ds->n_channels; i++)
        free(ds->channel_names[i]);
    free(ds->channel_names);
    for (int i = 0; i < ds->n_labels; i++)
        free(ds->label_names[i]);
    free(ds->label_names);
    free(ds->label_values);
    pf_dataset_free_regions(ds);
    free(ds->file_ending);
    free(ds->root);
    free(ds->name);
    memset(ds, 0, sizeof *ds);
}

static char *path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);
    if (!p)
        return NULL;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && !strcmp(s + ls - lx, suffix);
}

static int cmp_case(const void *a, const void *b)
{
    return strcmp(((const pf_case_src *)a)->id, ((const pf_case_src *)b)->id);
}

static int cmp_id_case(const void *key, const void *elem)
{
    return strcmp(key, ((const pf_case_src *)elem)->id);
}

int pf_dataset_find_case(const pf_dataset *ds, const char *id)
{
    size_t i = pf_lower_bound(id, ds->cases, (size_t)ds->n_cases, sizeof *ds->cases, cmp_id_case);
    return i < (size_t)ds->n_cases && strcmp(ds->cases[i].id, id) == 0 ? (int)i : -1;
}

int pf_dataset_has_label(const pf_dataset *ds, int value)
{
    for (int i = 0; i < ds->n_labels; i++)
        if (ds->label_values[i] == value)
            return 1;
    return 0;
}

/* channel_names {"0": "CT"} or modality {"0": "FLAIR"}: keys must be 0..n-1. */
static int read_channels(pf_dataset *ds, json_t *obj, const char *jpath, const char *key,
                         pf_error *err)
{
    size_t n = json_object_size(obj);
    if (!json_is_object(obj) || n == 0)
        return pf_fail(err, EINVAL, "%s: \"%s\" must be a non-empty object like {\"0\": \"CT\"}",
                       jpath, key);
    ds->channel_names = calloc(n, sizeof(char *));
    if (!ds->channel_names)
        return pf_fail(err, ENOMEM, "out of memory");
    ds->n_channels = (int)n;
    for (size_t i = 0; i < n; i++) {
        char k[32];
        json_t *v;
        snprintf(k, sizeof k, "%zu", i);
        v = json_object_get(obj, k);
        if (!v || !json_is_string(v))
            return pf_fail(err, EINVAL, "%s: \"%s\" needs a string entry \"%zu\" (channels are "
                           "numbered 0..%zu)", jpath, key, i, n - 1);
        if (!(ds->channel_names[i] = pf_strdup(json_string_value(v), err)))
            return -1;
    }
    return 0;
}

static pf_case_src *add_case(pf_dataset *ds, const char *id, pf_error *err)
{
    pf_case_src *c;
    char *own = pf_strdup(id, err);
    if (!own || pf_resize(&ds->cases, (size_t)ds->n_cases + 1, sizeof *ds->cases, err)) {
        free(own);
        return NULL;
    }
    c = &ds->cases[ds->n_cases++];
    memset(c, 0, sizeof *c);
    c->id = own;
    return c;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A missing file of case c: an error (returned, -1) unless keep (PF_DS_KEEP_INCOMPLETE), when
 * the message is added to c->missing as one line and listing goes on (0). */
__attribute__((format(printf, 4, 5)))
static int missing_file(pf_case_src *c, int keep, pf_error *err, const char *fmt, ...)
{
    pf_error e = {0};
    va_list ap;
    size_t old = c->missing ? strlen(c->missing) : 0, add;
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof e.msg, fmt, ap);
    va_end(ap);
    if (!keep)
        return pf_fail(err, ENOENT, "%s", e.msg);
    add = strlen(e.msg);
    if (pf_resize(&c->missing, old + add + 2, 1, err))
        return -1;
    if (old)
        c->missing[old++] = '\n';
    memcpy(c->missing + old, e.msg, add + 1);
    return 0;
}

/* PF_DS_KEEP_INCOMPLETE: a label without any image becomes a case whose images (the expected
 * paths) are missing. */
static int add_orphan_case(pf_dataset *ds, const char *id, const char *images_dir,
                           const char *labels_dir, const char *label_name, pf_error *err)
{
    pf_case_src *c = add_case(ds, id, err);
    char name[NAME_MAX + 64];
    if (!c)
        return -1;
    c->n_images = ds->n_channels;
    if (!(c->images = pf_calloc((size_t)ds->n_channels, sizeof(char *), err)))
        return -1;
    for (int ch = 0; ch < ds->n_channels; ch++) {
        snprintf(name, sizeof name, "%s_%04d%s", id, ch, ds->file_ending);
        if (!(c->images[ch] = path_join(images_dir, name)))
            return pf_fail(err, ENOMEM, "out of memory");
    }
    if (!(c->label = path_join(labels_dir, label_name)))
        return pf_fail(err, ENOMEM, "out of memory");
    return missing_file(c, 1, err, "%s: label has no image (expected imagesTr/%s_0000%s)",
                        c->label, id, ds->file_ending);
}

/* nnU-Net raw: imagesTr/{ID}_{CCCC}{ending} and labelsTr/{ID}{ending}. */
static int list_nnunet_cases(pf_dataset *ds, int keep, int *n_imaged, pf_error *err)
{
    char *images_dir = path_join(ds->root, "imagesTr");
    char *labels_dir = path_join(ds->root, "labelsTr");
    size_t lend = strlen(ds->file_ending);
    DIR *d;
    struct dirent *de;
    int rc = -1, n_listed;
    pf_dataset listed;

    d = opendir(images_dir);
    if (!d) {
        pf_fail(err, errno, "%s: cannot list: %s", images_dir, strerror(errno));
        goto out;
    }
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        size_t len = strlen(n);
        char id[NAME_MAX + 1];
        if (n[0] == '.' || !ends_with(n, ds->file_ending))
            continue;
        /* {ID}_{CCCC}{ending}: the channel suffix is '_' and four digits */
        if (len < lend + 6 || n[len - lend - 5] != '_') {
            pf_fail(err, EINVAL, "%s/%s: image name must end in _CCCC%s (channel number)",
                    images_dir, n, ds->file_ending);
            closedir(d);
            goto out;
        }
        memcpy(id, n, len - lend - 5);
        id[len - lend - 5] = '\0';
        {
            /* cases are appended unsorted while listing (one per channel file seen) */
            int found = 0;
            for (int i = 0; i < ds->n_cases && !found; i++)
                found = !strcmp(ds->cases[i].id, id);
            if (!found && !add_case(ds, id, err)) {
                closedir(d);
                goto out;
            }
        }
    }
    closedir(d);
    if (ds->n_cases > 1)
        qsort(ds->cases, (size_t)ds->n_cases, sizeof *ds->cases, cmp_case);

    for (int i = 0; i < ds->n_cases; i++) {
        pf_case_src *c = &ds->cases[i];
        char name[NAME_MAX + 64];
        c->n_images = ds->n_channels;
        c->images = calloc((size_t)ds->n_channels, sizeof(char *));
        for (int ch = 0; ch < ds->n_channels; ch++) {
            snprintf(name, sizeof name, "%s_%04d%s", c->id, ch, ds->file_ending);
            c->images[ch] = path_join(images_dir, name);
            if (!is_file(c->images[ch]) &&
                missing_file(c, keep, err, "%s: missing channel %d (%s) of case %s",
                             c->images[ch], ch, ds->channel_names[ch], c->id))
                goto out;
        }
        snprintf(name, sizeof name, "%s%s", c->id, ds->file_ending);
        c->label = path_join(labels_dir, name);
        if (!is_file(c->label) &&
            missing_file(c, keep, err, "%s: missing label of case %s (image %s has no label)",
                         c->label, c->id, c->images[0]))
            goto out;
    }
    /* labels without an image (keep: listed as cases whose images are all missing) */
    d = opendir(labels_dir);
    if (!d) {
        pf_fail(err, errno, "%s: cannot list: %s", labels_dir, strerror(errno));
        goto out;
    }
    *n_imaged = n_listed = ds->n_cases;
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        char id[NAME_MAX + 1];
        size_t len = strlen(n);
        if (n[0] == '.' || !ends_with(n, ds->file_ending))
            continue;
        memcpy(id, n, len - lend);
        id[len - lend] = '\0';
        listed = *ds;
        listed.n_cases = n_listed; /* the sorted part: cases added here come after it */
        if (pf_dataset_find_case(&listed, id) < 0) {
            if (!keep) {
                pf_fail(err, ENOENT, "%s/%s: label has no image (expected imagesTr/%s_0000%s)",
                        labels_dir, n, id, ds->file_ending);
                closedir(d);
                goto out;
            }
            if (add_orphan_case(ds, id, images_dir, labels_dir, n, err)) {
                closedir(d);
                goto out;
            }
        }
    }
    closedir(d);
    if (ds->n_cases > n_listed)
        qsort(ds->cases, (size_t)ds->n_cases, sizeof *ds->cases, cmp_case);
    rc = 0;
out:
    free(images_dir);
    free(labels_dir);
    return rc;
}

/* Decathlon: "training": [{"image": "./imagesTr/x.nii.gz", "label": "./labelsTr/x.nii.gz"}] */
static int list_msd_cases(pf_dataset *ds, json_t *training, const char *jpath, int keep,
                          pf_error *err)
{
    size_t i;
    json_t *e;
    if (!json_is_array(training))
        return pf_fail(err, EINVAL, "%s: \"training\" must be a list", jpath);
    json_array_foreach(training, i, e) {
        json_t *im = json_object_get(e, "image"), *lb = json_object_get(e, "label");
        const char *ims, *base;
        char id[NAME_MAX + 1];
        pf_case_src *c;
        if (!json_is_string(im) || !json_is_string(lb))
            return pf_fail(err, EINVAL, "%s: \"training\"[%zu] needs string \"image\" and "
                           "\"label\"", jpath, i);
        ims = json_string_value(im);
        if (strstr(ims, "..") || strstr(json_string_value(lb), ".."))
            return pf_fail(err, EINVAL, "%s: \"training\"[%zu]: paths must stay inside the "
                           "dataset folder", jpath, i);
        base = strrchr(ims, '/');
        base = base ? base + 1 : ims;
        snprintf(id, sizeof id, "%s", base);
        if (ends_with(id, ".nii.gz"))
            id[strlen(id) - 7] = '\0';
        else if (ends_with(id, ".nii"))
            id[strlen(id) - 4] = '\0';
        if (!id[0] || id[0] == '.')
            return pf_fail(err, EINVAL, "%s: \"training\"[%zu]: image \"%s\" gives no case id "
                           "(an empty or hidden file name)", jpath, i, ims);
        if (!(c = add_case(ds, id, err)))
            return -1;
        c->n_images = 1;
        c->images = calloc(1, sizeof(char *));
        c->images[0] = path_join(ds->root, ims[0] == '.' && ims[1] == '/' ? ims + 2 : ims);
        c->label = path_join(ds->root, json_string_value(lb)[0] == '.' &&
                                       json_string_value(lb)[1] == '/'
                                           ? json_string_value(lb) + 2
                                           : json_string_value(lb));
        if (!is_file(c->images[0]) &&
            missing_file(c, keep, err, "%s: image of case %s listed in %s does not exist",
                         c->images[0], id, jpath))
            return -1;
        if (!is_file(c->label) &&
            missing_file(c, keep, err, "%s: label of case %s listed in %s does not exist",
                         c->label, id, jpath))
            return -1;
    }
    if (ds->n_cases > 1)
        qsort(ds->cases, (size_t)ds->n_cases, sizeof *ds->cases, cmp_case);
    for (int k = 1; k < ds->n_cases; k++)
        if (!strcmp(ds->cases[k].id, ds->cases[k - 1].id))
            return pf_fail(err, EINVAL, "%s: case %s is listed twice", jpath, ds->cases[k].id);
    return 0;
}

int pf_dataset_open(const char *root, pf_dataset *ds, pf_error *err)
{
    return pf_dataset_open_ex(root, 0, ds, err);
}

int pf_dataset_open_ex(const char *root, unsigned flags, pf_dataset *ds, pf_error *err)
{
    const int keep = (flags & PF_DS_KEEP_INCOMPLETE) != 0;
    int n_imaged = 0; /* cases with an image (keep adds those of labels without one) */
    char real[PATH_MAX], *jpath = NULL;
    json_error_t jerr;
    json_t *j = NULL, *v;
    struct stat st;
    int rc = -1;
    const char *slash;

    memset(ds, 0, sizeof *ds);
    ds->ignore_label = -1;
    if (!realpath(root, real) || stat(real, &st) != 0)
        return pf_fail(err, errno, "%s: cannot open dataset folder: %s", root, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return pf_fail(err, ENOTDIR, "%s: not a folder (expected a dataset folder holding "
                       "dataset.json)", root);
    slash = strrchr(real, '/');
    if (!(ds->root = pf_strdup(real, err)) ||
        !(ds->name = pf_strdup(slash && slash[1] ? slash + 1 : real, err)))
        return -1;
    jpath = path_join(real, "dataset.json");
    if (!is_file(jpath)) {
        pf_fail(err, ENOENT, "%s: missing (an nnU-Net or Decathlon dataset folder has a "
                "dataset.json)", jpath);
        goto out;
    }
    j = json_load_file(jpath, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        pf_fail(err, EINVAL, "%s:%d:%d: malformed JSON: %s", jpath, jerr.line, jerr.column,
                jerr.text);
        goto out;
    }
    if (!json_is_object(j)) {
        pf_fail(err, EINVAL, "%s: must hold a JSON object", jpath);
        goto out;
    }
    if ((v = json_object_get(j, "channel_names"))) {
        ds->layout = PF_LAYOUT_NNUNET;
        if (read_channels(ds, v, jpath, "channel_names", err))
            goto out;
    } else if (json_object_get(j, "training") && (v = json_object_get(j, "modality"))) {
        ds->layout = PF_LAYOUT_MSD;
        if (read_channels(ds, v, jpath, "modality", err))
            goto out;
    } else {
        pf_fail(err, EINVAL, "%s: neither an nnU-Net dataset.json (\"channel_names\") nor a "
                "Decathlon one (\"training\" and \"modality\")", jpath);
        goto out;
    }
    if (pf_read_labels(ds, j, jpath, err))
        goto out;
    v = json_object_get(j, "file_ending");
    if (ds->layout == PF_LAYOUT_NNUNET) {
        if (!json_is_string(v)) {
            pf_fail(err, EINVAL, "%s: \"file_ending\" (e.g. \".nii.gz\") is required", jpath);
            goto out;
        }
        if (!(ds->file_ending = pf_strdup(json_string_value(v), err)))
            goto out;
        if (strcmp(ds->file_ending, ".nii.gz") && strcmp(ds->file_ending, ".nii")) {
            pf_fail(err, EINVAL, "%s: file_ending \"%s\" is not supported (patchfs reads "
                    ".nii and .nii.gz)", jpath, ds->file_ending);
            goto out;
        }
        if (list_nnunet_cases(ds, keep, &n_imaged, err))
            goto out;
        v = json_object_get(j, "numTraining");
        /* keep: a label without image counts as a case (its image missing) or not */
        if (json_is_integer(v) && json_integer_value(v) != n_imaged &&
            json_integer_value(v) != ds->n_cases) {
            pf_fail(err, EINVAL, "%s: \"numTraining\" is %lld but imagesTr holds %d cases",
                    jpath, (long long)json_integer_value(v), n_imaged);
            goto out;
        }
    } else {
        if (!(ds->file_ending = pf_strdup(".nii.gz", err)))
            goto out;
        if (list_msd_cases(ds, json_object_get(j, "training"), jpath, keep, err))
            goto out;
    }
    if (ds->n_cases == 0) {
        pf_fail(err, ENOENT, "%s: the dataset has no training cases", ds->root);
        goto out;
    }
    rc = 0;
out:
    if (j)
        json_decref(j);
    free(jpath);
    if (rc)
        pf_dataset_free(ds);
    return rc;
}

void pf_dataset_drop_cases(pf_dataset *ds, const unsigned char *drop)
{
    int k = 0;
    for (int i = 0; i < ds->n_cases; i++) {
        pf_case_src *c = &ds->cases[i];
        if (!drop[i]) {
            ds->cases[k++] = *c;
            continue;
        }
        free(c->id);
        for (int j = 0; j < c->n_images; j++)
            free(c->images[j]);
        free(c->images);
        free(c->label);
        free(c->missing);
    }
    ds->n_cases = k;
}
