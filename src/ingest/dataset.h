/* dataset.h - what a segmentation dataset folder contains: its layout (nnU-Net raw or Medical
 * Segmentation Decathlon), dataset.json (channels, labels, file ending) and the sorted list of
 * training cases with the files each one is made of. No voxel is read here. */
#ifndef PATCHFS_DATASET_H
#define PATCHFS_DATASET_H

#include <stdint.h>
#include <stdio.h>

#include "error.h"

typedef enum { PF_LAYOUT_NNUNET, PF_LAYOUT_MSD } pf_layout;

typedef struct pf_case_src {
    char *id;
    int n_images;       /* nnU-Net: one file per channel; Decathlon: one 4D file */
    char **images;      /* absolute paths, in channel order */
    char *label;        /* absolute path */
    char *missing;      /* PF_DS_KEEP_INCOMPLETE: what is missing, one "FILE: problem" line per
                         * missing file ('\n'-separated); NULL when every file is there */
} pf_case_src;

typedef struct pf_dataset {
    char *root;          /* absolute path of the dataset folder */
    char *name;          /* its base name */
    pf_layout layout;
    int n_channels;
    char **channel_names;
    int n_labels;        /* distinct label values named in dataset.json, background included */
    int *label_values;   /* sorted ascending */
    char **label_names;
    int n_label_keys;    /* entries of "labels" (nnU-Net's planner counts these) */
    int ignore_label;    /* -1 when dataset.json names none; else the highest value (nnU-Net) */
    /* Regions (nnU-Net's rule: one label entry listing more than one value makes every entry
     * a region). 0 regions = a label dataset. Background entries and "ignore" are not regions. */
    int n_regions;       /* foreground regions, in dataset.json order */
    char **region_names;
    int *region_n;       /* values per region */
    int **region_labels; /* each region's label values, ascending, distinct */
    char **region_keys;  /* nnU-Net's summary.json key: Python's str() of the entry as written,
                          * "4" (an integer), "(1, 2, 3, 4)", "(4, 1)" or "(4,)" (a list) */
    int n_class_order;   /* "regions_class_order" as given; 0 when absent */
    int *regions_class_order;
    char *file_ending;
    int n_cases;
    pf_case_src *cases;  /* sorted by id (byte order, as Python's sorted()) */
} pf_dataset;

int pf_dataset_open(const char *root, pf_dataset *ds, pf_error *err);

/* With PF_DS_KEEP_INCOMPLETE, a case with a missing file (channel, label, or every image of a
 * label) is listed with pf_case_src.missing set instead of failing the whole dataset: for
 * `patchfs check` (every problem listed) and skip_bad (such cases set aside). Its paths are
 * the expected ones. dataset.json problems still fail. */
#define PF_DS_KEEP_INCOMPLETE 1u
int pf_dataset_open_ex(const char *root, unsigned flags, pf_dataset *ds, pf_error *err);
void pf_dataset_free(pf_dataset *ds);

/* Index of a case id, or -1. */
int pf_dataset_find_case(const pf_dataset *ds, const char *id);

/* Removes the cases marked in drop[] (n_cases entries), keeping the order. */
void pf_dataset_drop_cases(pf_dataset *ds, const unsigned char *drop);

/* Whether a label value is named in dataset.json. */
int pf_dataset_has_label(const pf_dataset *ds, int value);

/* labels.c: dataset.json's "labels" and "regions_class_order" (j: the whole object) read into
 * ds with nnU-Net's rules; problems name jpath and the entry. */
struct json_t;
int pf_read_labels(pf_dataset *ds, struct json_t *j, const char *jpath, pf_error *err);
void pf_dataset_free_regions(pf_dataset *ds);

/* The most channels a region dataset's seg.npy may have (regions, plus the ignore channel). */
#define PF_MAX_SEG_CHANNELS 64

/* Channels of a training seg.npy: 1 (the label map), or one per region plus, with an ignore
 * label, a last channel marking it (nnU-Net's target). */
int pf_dataset_seg_channels(const pf_dataset *ds);

/* The classes a forced position can target, as the keys the cache and sampler use: the label
 * values > 0 (but the ignore label) of a label dataset, 1..n_regions (dataset.json order) of a
 * region dataset. keys has room for n_labels + n_regions. Returns the count. Key 0 is the
 * annotated voxels of an ignore-label dataset (never forced). */
int pf_dataset_class_keys(const pf_dataset *ds, int *keys);
#define PF_CLASS_ANNOTATED 0
/* option class_weights against the dataset's class keys (pf_options_check_classes). */
struct pf_options;
int pf_dataset_check_class_weights(const pf_dataset *ds, const struct pf_options *o,
                                   pf_error *err);
/* A class key's name: the label's or region's name, "annotated" for key 0. */
const char *pf_dataset_class_name(const pf_dataset *ds, int key);

/* Per label value v (index v + 1, so -1 is index 0; PF_SEG_VALUES entries): bit r set when v
 * lies in region r, bit n_regions when v is the ignore label. Region datasets only. */
#define PF_SEG_VALUES 32769
int pf_dataset_region_masks(const pf_dataset *ds, uint64_t *masks);

/* "labels 0=background 1=liver" or "regions whole_tumor=[1,2,3] ..." for reports. */
void pf_dataset_print_labels(const pf_dataset *ds, FILE *f);
/* " 1:523" (a label's value), " tumor_core:523" (a region's name) or " annotated:523". */
void pf_dataset_print_class(const pf_dataset *ds, FILE *f, int key, uint64_t voxels);

#endif
