/* testset.c - the images to predict: a dataset's own test images (nnU-Net raw imagesTs/, the
 * Decathlon "test" list) or a folder given with infer=DIR, listed as a dataset without labels
 * (see testset.h). Every problem names the file it concerns. */
#include "testset.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

static char *join(const char *a, const char *b)
{
    char *p;
    return asprintf(&p, "%s/%s", a, b) < 0 ? NULL : p;
}

static char *name_with(const char *name, const char *suffix, pf_error *err)
{
    char *p;
    if (asprintf(&p, "%s%s", name, suffix) < 0) {
        pf_fail(err, ENOMEM, "out of memory");
        return NULL;
    }
    return p;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
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

/* The case with this id, added (unsorted) when not there yet. */
static pf_case_src *case_of(pf_dataset *t, const char *id, pf_error *err)
{
    pf_case_src *c;
    for (int i = 0; i < t->n_cases; i++)
        if (!strcmp(t->cases[i].id, id))
            return &t->cases[i];
    if (pf_resize(&t->cases, (size_t)t->n_cases + 1, sizeof *t->cases, err))
        return NULL;
    c = &t->cases[t->n_cases++];
    memset(c, 0, sizeof *c);
    if (!(c->id = pf_strdup(id, err)))
        return NULL;
    return c;
}

/* What a test set shares with its training set: channels, labels, file ending. */
static int copy_description(const pf_dataset *tr, pf_dataset *t, pf_error *err)
{
    t->layout = tr->layout;
    t->ignore_label = tr->ignore_label;
    t->n_channels = tr->n_channels;
    t->n_labels = tr->n_labels;
    if (!(t->channel_names = pf_calloc((size_t)tr->n_channels, sizeof(char *), err)) ||
        !(t->label_names = pf_calloc((size_t)tr->n_labels + 1, sizeof(char *), err)) ||
        !(t->label_values = pf_calloc((size_t)tr->n_labels + 1, sizeof(int), err)) ||
        !(t->file_ending = pf_strdup(tr->file_ending, err)))
        return -1;
    for (int i = 0; i < tr->n_channels; i++)
        if (!(t->channel_names[i] = pf_strdup(tr->channel_names[i], err)))
            return -1;
    for (int i = 0; i < tr->n_labels; i++) {
        t->label_values[i] = tr->label_values[i];
        if (!(t->label_names[i] = pf_strdup(tr->label_names[i], err)))
            return -1;
    }
    return 0;
}

/* A folder of images named as imagesTr: {ID}_{CCCC}{ending} (one file per channel) in the
 * nnU-Net layout, {ID}{ending} (one 4D file) in the Decathlon one. */
static int list_folder(pf_dataset *t, const char *dir, pf_error *err)
{
    const size_t lend = strlen(t->file_ending);
    DIR *d = opendir(dir);
    struct dirent *de;
    if (!d)
        return pf_fail(err, errno, "%s: cannot list the test images: %s", dir, strerror(errno));
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        size_t len = strlen(n);
        char id[NAME_MAX + 1], *path;
        pf_case_src *c;
        long ch = 0;
        if (n[0] == '.' || !ends_with(n, t->file_ending))
            continue;
        if (t->layout == PF_LAYOUT_NNUNET) {
            /* (the name lives in d's buffer: the message is made before closedir) */
            if (len < lend + 6 || n[len - lend - 5] != '_' ||
                strspn(n + len - lend - 4, "0123456789") < 4) {
                pf_fail(err, EINVAL, "%s/%s: image name must end in _CCCC%s (channel number)",
                        dir, n, t->file_ending);
                closedir(d);
                return -1;
            }
            ch = strtol(n + len - lend - 4, NULL, 10);
            if (ch >= t->n_channels) {
                pf_fail(err, EINVAL, "%s/%s: channel %ld, but dataset.json names %d channel%s "
                        "(0..%d)", dir, n, ch, t->n_channels, t->n_channels == 1 ? "" : "s",
                        t->n_channels - 1);
                closedir(d);
                return -1;
            }
            len -= 5;
        }
        memcpy(id, n, len - lend);
        id[len - lend] = '\0';
        if (!(c = case_of(t, id, err)) ||
            (!c->images &&
             !(c->images = pf_calloc((size_t)t->n_channels, sizeof(char *), err)))) {
            closedir(d);
            return -1;
        }
        c->n_images = t->layout == PF_LAYOUT_NNUNET ? t->n_channels : 1;
        if (!(path = join(dir, n))) {
            closedir(d);
            return pf_fail(err, ENOMEM, "out of memory");
        }
        free(c->images[ch]);
        c->images[ch] = path;
    }
    closedir(d);
    if (t->n_cases > 1)
        qsort(t->cases, (size_t)t->n_cases, sizeof *t->cases, cmp_case);
    /* every channel of every case */
    for (int i = 0; i < t->n_cases; i++) {
        pf_case_src *c = &t->cases[i];
        for (int ch = 0; ch < c->n_images; ch++)
            if (!c->images[ch]) {
                char name[NAME_MAX + 64];
                snprintf(name, sizeof name, "%s_%04d%s", c->id, ch, t->file_ending);
                return pf_fail(err, ENOENT, "%s/%s: missing channel %d (%s) of test case %s",
                               dir, name, ch, t->channel_names[ch], c->id);
            }
    }
    return 0;
}

/* Decathlon: "test": ["./imagesTs/x.nii.gz", ...] in dataset.json. */
static int list_msd_test(pf_dataset *t, const char *root, pf_error *err)
{
    char *jpath = join(root, "dataset.json");
    json_t *j = jpath ? json_load_file(jpath, 0, NULL) : NULL, *list, *e;
    size_t i;
    int rc = -1;
    if (!jpath) {
        pf_fail(err, ENOMEM, "out of memory");
        goto out;
    }
    list = j ? json_object_get(j, "test") : NULL;
    if (!list) {
        rc = 0; /* no test images */
        goto out;
    }
    if (!json_is_array(list)) {
        pf_fail(err, EINVAL, "%s: \"test\" must be a list of image paths", jpath);
        goto out;
    }
    json_array_foreach(list, i, e) {
        const char *p = json_string_value(e), *base;
        char id[NAME_MAX + 1];
        pf_case_src *c;
        if (!p || strstr(p, "..")) {
            pf_fail(err, EINVAL, "%s: \"test\"[%zu] must be a path inside the dataset folder",
                    jpath, i);
            goto out;
        }
        base = strrchr(p, '/');
        snprintf(id, sizeof id, "%s", base ? base + 1 : p);
        if (ends_with(id, ".nii.gz"))
            id[strlen(id) - 7] = '\0';
        else if (ends_with(id, ".nii"))
            id[strlen(id) - 4] = '\0';
        if (!id[0] || id[0] == '.') {
            pf_fail(err, EINVAL, "%s: \"test\"[%zu]: \"%s\" gives no case id", jpath, i, p);
            goto out;
        }
        if (!(c = case_of(t, id, err)))
            goto out;
        if (c->images) {
            pf_fail(err, EINVAL, "%s: test case %s is listed twice", jpath, id);
            goto out;
        }
        c->n_images = 1;
        if (!(c->images = pf_calloc(1, sizeof(char *), err)) ||
            !(c->images[0] = join(root, p[0] == '.' && p[1] == '/' ? p + 2 : p))) {
            pf_fail(err, ENOMEM, "out of memory");
            goto out;
        }
        if (!is_file(c->images[0])) {
            pf_fail(err, ENOENT, "%s: test image %s listed in %s does not exist",
                    c->images[0], id, jpath);
            goto out;
        }
    }
    if (t->n_cases > 1)
        qsort(t->cases, (size_t)t->n_cases, sizeof *t->cases, cmp_case);
    rc = 0;
out:
    if (j)
        json_decref(j);
    free(jpath);
    return rc;
}

int pf_testset_open(const pf_dataset *train, const char *infer_dir, pf_dataset *t,
                    pf_error *err)
{
    char real[PATH_MAX], *own = NULL;
    int rc = -1;
    memset(t, 0, sizeof *t);
    if (copy_description(train, t, err))
        goto out;
    if (infer_dir && infer_dir[0]) {
        if (!realpath(infer_dir, real)) {
            pf_fail(err, errno, "%s: option 'infer': cannot open the folder of images: %s",
                    infer_dir, strerror(errno));
            goto out;
        }
        if (!is_dir(real)) {
            pf_fail(err, ENOTDIR, "%s: option 'infer': not a folder (expected a folder of "
                    "images named as imagesTr)", infer_dir);
            goto out;
        }
        /* its own cache folder: <cache>/<dataset>-infer-<hash of this path> */
        if (!(t->root = pf_strdup(real, err)) ||
            !(t->name = name_with(train->name, "-infer", err)) || list_folder(t, real, err))
            goto out;
        if (t->n_cases == 0) {
            pf_fail(err, ENOENT, "%s: option 'infer': no image named as imagesTr (*%s) in it",
                    real, t->file_ending);
            goto out;
        }
    } else {
        /* the entries sit beside the training set's: <cache>/<dataset>-test-<hash> */
        if (!(t->root = pf_strdup(train->root, err)) ||
            !(t->name = name_with(train->name, "-test", err)))
            goto out;
        if (train->layout == PF_LAYOUT_MSD) {
            if (list_msd_test(t, train->root, err))
                goto out;
        } else if (!(own = join(train->root, "imagesTs"))) {
            pf_fail(err, ENOMEM, "out of memory");
            goto out;
        } else if (is_dir(own) && list_folder(t, own, err)) {
            goto out;
        }
    }
    rc = 0;
out:
    free(own);
    if (rc)
        pf_dataset_free(t);
    return rc;
}
