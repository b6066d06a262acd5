/* labels.c - dataset.json's "labels" with nnU-Net's rules (its LabelManager): label values and
 * names, regions and "regions_class_order", and the ignore label; and what the rest of patchfs
 * asks of them (the seg channels, the classes a forced position can target, names for reports).
 * Every problem names dataset.json and the entry. */
#include "dataset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "options.h"

static int add_label(pf_dataset *ds, int value, const char *name, const char *jpath,
                     pf_error *err)
{
    if (value < 0 || value > 32767)
        return pf_fail(err, EINVAL, "%s: label \"%s\" has value %d; labels must be 0..32767",
                       jpath, name, value);
    if (pf_dataset_has_label(ds, value))
        return 0; /* regions may repeat a value */
    if (pf_resize(&ds->label_values, (size_t)ds->n_labels + 1, sizeof(int), err) ||
        pf_resize(&ds->label_names, (size_t)ds->n_labels + 1, sizeof(char *), err))
        return -1;
    ds->label_values[ds->n_labels] = value;
    if (!(ds->label_names[ds->n_labels] = pf_strdup(name, err)))
        return -1;
    ds->n_labels++;
    return 0;
}

void pf_dataset_free_regions(pf_dataset *ds)
{
    for (int r = 0; r < ds->n_regions; r++) {
        free(ds->region_names[r]);
        free(ds->region_labels[r]);
        free(ds->region_keys[r]);
    }
    free(ds->region_names);
    free(ds->region_labels);
    free(ds->region_keys);
    free(ds->region_n);
    free(ds->regions_class_order);
    ds->region_names = NULL;
    ds->region_labels = NULL;
    ds->region_keys = NULL;
    ds->region_n = NULL;
    ds->regions_class_order = NULL;
    ds->n_regions = ds->n_class_order = 0;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? -1 : x > y;
}

/* nnU-Net's key of a region (evaluate_predictions.py's label_or_region_to_key): str(int) or
 * str(tuple(list)), in the order and with the repeats dataset.json gives. */
static char *region_key(json_t *v, pf_error *err)
{
    char *key;
    size_t i, cap = json_is_integer(v) ? 1 : json_array_size(v), len = 0;
    json_t *e;
    if (!(key = pf_calloc(cap * 8 + 8, 1, err))) /* "32767, " per value, "(", ",)" and NUL */
        return NULL;
    if (json_is_integer(v)) {
        snprintf(key, 8, "%d", (int)json_integer_value(v));
        return key;
    }
    key[len++] = '(';
    json_array_foreach(v, i, e)
        len += (size_t)sprintf(key + len, "%s%d", i ? ", " : "", (int)json_integer_value(e));
    strcpy(key + len, cap == 1 ? ",)" : ")");
    return key;
}

/* One region: the distinct values of entry v (an integer or a list), ascending. A region of
 * background only is no region (nnU-Net filters it): *n = 0. */
static int add_region(pf_dataset *ds, const char *name, json_t *v, pf_error *err)
{
    int *vals = NULL, n = 0, fg = 0;
    size_t i;
    json_t *e;
    if (json_is_integer(v)) {
        if (!(vals = pf_calloc(1, sizeof *vals, err)))
            return -1;
        vals[n++] = (int)json_integer_value(v);
    } else {
        if (!(vals = pf_calloc(json_array_size(v), sizeof *vals, err)))
            return -1;
        json_array_foreach(v, i, e) vals[n++] = (int)json_integer_value(e);
        qsort(vals, (size_t)n, sizeof *vals, cmp_int);
        int k = 0;
        for (int j = 0; j < n; j++)
            if (k == 0 || vals[k - 1] != vals[j])
                vals[k++] = vals[j];
        n = k;
    }
    for (int j = 0; j < n; j++)
        fg |= vals[j] != 0;
    if (!fg) {
        free(vals);
        return 0;
    }
    const size_t m = (size_t)ds->n_regions + 1;
    if (pf_resize(&ds->region_names, m, sizeof *ds->region_names, err) ||
        pf_resize(&ds->region_labels, m, sizeof *ds->region_labels, err) ||
        pf_resize(&ds->region_keys, m, sizeof *ds->region_keys, err) ||
        pf_resize(&ds->region_n, m, sizeof *ds->region_n, err)) {
        free(vals);
        return -1;
    }
    /* counted as soon as its values are held, so that a failure below frees them */
    ds->region_labels[ds->n_regions] = vals;
    ds->region_n[ds->n_regions] = n;
    ds->region_names[ds->n_regions] = NULL;
    ds->region_keys[ds->n_regions++] = NULL;
    if (!(ds->region_names[ds->n_regions - 1] = pf_strdup(name, err)) ||
        !(ds->region_keys[ds->n_regions - 1] = region_key(v, err)))
        return -1;
    return 0;
}

/* nnU-Net: regions when any entry lists more than one value; then every entry but background
 * and "ignore" is a region, and "regions_class_order" needs one label value per region. */
static int read_regions(pf_dataset *ds, json_t *obj, json_t *order, const char *jpath,
                        pf_error *err)
{
    const char *name;
    json_t *v;
    int any = 0;
    json_object_foreach(obj, name, v) any |= json_is_array(v) && json_array_size(v) > 1;
    if (!any)
        return 0; /* nnU-Net ignores regions_class_order without regions */
    json_object_foreach(obj, name, v) {
        const int before = ds->n_regions;
        if (!strcmp(name, "ignore"))
            continue;
        if (add_region(ds, name, v, err))
            return -1;
        for (int j = 0; ds->n_regions > before && j < ds->region_n[before]; j++)
            if (ds->region_labels[before][j] == ds->ignore_label)
                return pf_fail(err, EINVAL, "%s: region \"%s\" lists %d, the value of the "
                               "ignore label: the ignore label cannot be part of a region "
                               "(nnU-Net refuses it)", jpath, name, ds->ignore_label);
    }
    if (ds->n_regions + (ds->ignore_label >= 0) > PF_MAX_SEG_CHANNELS)
        return pf_fail(err, EINVAL, "%s: \"labels\" defines %d regions; patchfs supports at "
                       "most %d seg channels", jpath, ds->n_regions, PF_MAX_SEG_CHANNELS);
    if (!order)
        return pf_fail(err, EINVAL, "%s: \"labels\" defines %d regions but \"regions_class_"
                       "order\" is missing (nnU-Net needs it: the label value each region "
                       "writes back, one per region)", jpath, ds->n_regions);
    if (!json_is_array(order) || json_array_size(order) != (size_t)ds->n_regions)
        return pf_fail(err, EINVAL, "%s: \"regions_class_order\" has %zu entries but \"labels\" "
                       "defines %d regions (one entry per region, background and \"ignore\" not "
                       "counted)", jpath, json_is_array(order) ? json_array_size(order) : 0,
                       ds->n_regions);
    if (!(ds->regions_class_order = pf_calloc((size_t)ds->n_regions, sizeof(int), err)))
        return -1;
    for (int r = 0; r < ds->n_regions; r++) {
        json_t *e = json_array_get(order, (size_t)r);
        if (!json_is_integer(e) || !pf_dataset_has_label(ds, (int)json_integer_value(e)) ||
            json_integer_value(e) == ds->ignore_label)
            return pf_fail(err, EINVAL, "%s: \"regions_class_order\" entry %d is not a label "
                           "value named in \"labels\"", jpath, r);
        ds->regions_class_order[r] = (int)json_integer_value(e);
    }
    ds->n_class_order = ds->n_regions;
    return 0;
}

/* nnU-Net: {"background": 0, "tumor": 1, "region": [1, 2], "ignore": 3}.
 * Decathlon: {"0": "background", "1": "tumor"}. */
int pf_read_labels(pf_dataset *ds, json_t *j, const char *jpath, pf_error *err)
{
    json_t *obj = json_object_get(j, "labels"), *v;
    const char *name;
    int highest = -1;
    ds->ignore_label = -1;
    if (!json_is_object(obj) || json_object_size(obj) == 0)
        return pf_fail(err, EINVAL, "%s: \"labels\" must be a non-empty object", jpath);
    ds->n_label_keys = (int)json_object_size(obj);
    json_object_foreach(obj, name, v) {
        if (json_is_integer(v)) {
            json_int_t raw = json_integer_value(v);
            int value = raw < 0 || raw > 32767 ? -1 : (int)raw;
            if (value < 0)
                return pf_fail(err, EINVAL, "%s: label \"%s\" has value %lld; labels must be "
                               "0..32767", jpath, name, (long long)raw);
            if (!strcmp(name, "ignore"))
                ds->ignore_label = value;
            else if (value > highest)
                highest = value;
            if (add_label(ds, value, name, jpath, err))
                return -1;
        } else if (json_is_array(v)) {
            size_t i;
            json_t *e;
            if (!strcmp(name, "ignore"))
                return pf_fail(err, EINVAL, "%s: label \"ignore\" must be one integer, not a "
                               "list (nnU-Net's rule: the ignore label cannot be a region)",
                               jpath);
            if (json_array_size(v) == 0)
                return pf_fail(err, EINVAL, "%s: label \"%s\" is an empty region ([]); a region "
                               "lists one or more label values", jpath, name);
            json_array_foreach(v, i, e) {
                if (!json_is_integer(e) || json_integer_value(e) < 0 ||
                    json_integer_value(e) > 32767)
                    return pf_fail(err, EINVAL, "%s: label region \"%s\" must list integers "
                                   "from 0 to 32767", jpath, name);
                if (json_integer_value(e) > highest)
                    highest = (int)json_integer_value(e);
                if (add_label(ds, (int)json_integer_value(e), name, jpath, err))
                    return -1;
            }
        } else if (json_is_string(v) && ds->layout == PF_LAYOUT_MSD) {
            uint64_t value;
            char *end;
            errno = 0;
            value = strtoull(name, &end, 10);
            if (errno || *end || end == name || value > 32767)
                return pf_fail(err, EINVAL, "%s: label key \"%s\" is not a label value",
                               jpath, name);
            if ((int)value > highest)
                highest = (int)value;
            if (add_label(ds, (int)value, json_string_value(v), jpath, err))
                return -1;
        } else {
            return pf_fail(err, EINVAL, "%s: label \"%s\" must be an integer or a list of "
                           "integers", jpath, name);
        }
    }
    /* sort values (names follow) */
    for (int i = 1; i < ds->n_labels; i++)
        for (int k = i; k > 0 && ds->label_values[k - 1] > ds->label_values[k]; k--) {
            int tv = ds->label_values[k];
            char *tn = ds->label_names[k];
            ds->label_values[k] = ds->label_values[k - 1];
            ds->label_names[k] = ds->label_names[k - 1];
            ds->label_values[k - 1] = tv;
            ds->label_names[k - 1] = tn;
        }
    if (ds->n_labels == 0 || ds->label_values[0] != 0)
        return pf_fail(err, EINVAL, "%s: \"labels\" must name background with value 0", jpath);
    if (read_regions(ds, obj, json_object_get(j, "regions_class_order"), jpath, err))
        return -1;
    /* nnU-Net: the ignore label is one above every other label value */
    if (ds->ignore_label >= 0 && ds->ignore_label != highest + 1)
        return pf_fail(err, EINVAL, "%s: label \"ignore\" has value %d but must be the highest "
                       "label value, one above the others (%d here; nnU-Net's rule)", jpath,
                       ds->ignore_label, highest + 1);
    return 0;
}

int pf_dataset_seg_channels(const pf_dataset *ds)
{
    return ds->n_regions ? ds->n_regions + (ds->ignore_label >= 0) : 1;
}

int pf_dataset_class_keys(const pf_dataset *ds, int *keys)
{
    int n = 0;
    if (ds->n_regions) {
        for (int r = 0; r < ds->n_regions; r++)
            keys[n++] = r + 1;
        return n;
    }
    for (int l = 0; l < ds->n_labels; l++)
        if (ds->label_values[l] > 0 && ds->label_values[l] != ds->ignore_label)
            keys[n++] = ds->label_values[l];
    return n;
}

const char *pf_dataset_class_name(const pf_dataset *ds, int key)
{
    if (key == PF_CLASS_ANNOTATED)
        return "annotated";
    if (ds->n_regions)
        return key >= 1 && key <= ds->n_regions ? ds->region_names[key - 1] : "?";
    for (int l = 0; l < ds->n_labels; l++)
        if (ds->label_values[l] == key)
            return ds->label_names[l];
    return "?";
}

int pf_dataset_region_masks(const pf_dataset *ds, uint64_t *masks)
{
    memset(masks, 0, PF_SEG_VALUES * sizeof *masks);
    for (int r = 0; r < ds->n_regions; r++)
        for (int j = 0; j < ds->region_n[r]; j++)
            masks[ds->region_labels[r][j] + 1] |= 1ull << r;
    if (ds->ignore_label >= 0)
        masks[ds->ignore_label + 1] |= 1ull << ds->n_regions;
    return pf_dataset_seg_channels(ds);
}

void pf_dataset_print_labels(const pf_dataset *ds, FILE *f)
{
    if (!ds->n_regions) {
        fprintf(f, "labels");
        for (int l = 0; l < ds->n_labels && l < 12; l++)
            fprintf(f, " %d=%s", ds->label_values[l], ds->label_names[l]);
        if (ds->n_labels > 12)
            fprintf(f, " ... (%d labels)", ds->n_labels);
        return;
    }
    fprintf(f, "regions");
    for (int r = 0; r < ds->n_regions && r < 12; r++) {
        fprintf(f, " %s=[", ds->region_names[r]);
        for (int j = 0; j < ds->region_n[r]; j++)
            fprintf(f, "%s%d", j ? "," : "", ds->region_labels[r][j]);
        fprintf(f, "]");
    }
    if (ds->n_regions > 12)
        fprintf(f, " ... (%d regions)", ds->n_regions);
    fprintf(f, " (regions_class_order");
    for (int r = 0; r < ds->n_class_order; r++)
        fprintf(f, "%s%d", r ? "," : " ", ds->regions_class_order[r]);
    fprintf(f, ")");
    if (ds->ignore_label >= 0)
        fprintf(f, " ignore=%d", ds->ignore_label);
}

int pf_dataset_check_class_weights(const pf_dataset *ds, const pf_options *o, pf_error *err)
{
    int *keys = pf_calloc((size_t)(ds->n_labels + ds->n_regions) + 1, sizeof *keys, err), rc;
    if (!keys)
        return -1;
    rc = pf_options_check_classes(o, keys, pf_dataset_class_keys(ds, keys), err);
    free(keys);
    return rc;
}

void pf_dataset_print_class(const pf_dataset *ds, FILE *f, int key, uint64_t voxels)
{
    if (ds->n_regions || key == PF_CLASS_ANNOTATED)
        fprintf(f, " %s:%llu", pf_dataset_class_name(ds, key), (unsigned long long)voxels);
    else
        fprintf(f, " %d:%llu", key, (unsigned long long)voxels);
}
