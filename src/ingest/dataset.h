/* dataset.h - what a segmentation dataset folder contains: its layout (nnU-Net raw or Medical
 * Segmentation Decathlon), dataset.json (channels, labels, file ending) and the sorted list of
 * training cases with the files each one is made of. No voxel is read here. */
#ifndef PATCHFS_DATASET_H
#define PATCHFS_DATASET_H

#include <stdint.h>

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
    int ignore_label;    /* -1 when dataset.json names none */
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

#endif
