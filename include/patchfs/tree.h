/* tree.h - the virtual tree's grammar: names <-> nodes <-> inode numbers. Pure, no I/O.
 *
 *   README.txt  patchfs.json  splits.json  status.json
 *   train/epoch_E/summary.json
 *   train/epoch_E/step_S/{data.npy, seg.npy, meta.json, preview.png}   E < epochs, S < steps
 *   train/epoch_E/step_S/seg_dsK.npy                        K = 1..ds (deep supervision)
 *   train/epoch_E/step_S/sample_K/{data.npy, seg.npy, image.nii.gz, label.nii.gz}
 *                                                           K < samples (positions served)
 *   val/epoch_E/...                                         S < val_steps
 *   cases/ID/{data.npy, seg.npy, properties.json, preview.png}
 *
 * Numbers are canonical decimals (no sign, no leading zero, no overflow): "epoch_01",
 * "step_-1" and out-of-range steps do not exist. Inode numbers are computed from the node, so
 * no table is kept and lookups are O(1) (cases: O(log n)). */
#ifndef PATCHFS_TREE_H
#define PATCHFS_TREE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    PF_NODE_ROOT = 1,
    PF_NODE_README,
    PF_NODE_PATCHFS_JSON,
    PF_NODE_SPLITS_JSON,
    PF_NODE_SPLIT_DIR,   /* train/ or val/ */
    PF_NODE_EPOCH_DIR,
    PF_NODE_STEP_DIR,
    PF_NODE_STEP_FILE,
    PF_NODE_CASES_DIR,
    PF_NODE_CASE_DIR,
    PF_NODE_CASE_FILE,
    PF_NODE_SAMPLE_DIR,
    PF_NODE_SAMPLE_FILE, /* data.npy, seg.npy, image.nii.gz or label.nii.gz of one position */
    PF_NODE_STATUS,      /* status.json: live counters of the mount */
    PF_NODE_SUMMARY,     /* epoch_E/summary.json */
} pf_node_kind;

/* Files of a step, case or sample folder, by index:
 *   step:   data.npy  seg.npy  meta.json        preview.png
 *   case:   data.npy  seg.npy  properties.json  preview.png
 *   sample: data.npy  seg.npy  image.nii.gz     label.nii.gz */
typedef enum {
    PF_FILE_DATA = 0,
    PF_FILE_SEG = 1,
    PF_FILE_META = 2,
    PF_FILE_PREVIEW = 3,
    PF_FILE_NII_IMAGE = 2,
    PF_FILE_NII_LABEL = 3,
    PF_FILE_SEG_DS1 = 4,    /* step: seg_ds1.npy, seg_ds2.npy, ... follow */
} pf_file_kind;

#define PF_MAX_FILES 32     /* file numbers have 5 bits */

typedef struct pf_node {
    pf_node_kind kind;
    uint32_t split;     /* 0 train, 1 val */
    uint32_t epoch, step;
    uint32_t sample;    /* index among the positions this mount serves */
    uint32_t case_idx;
    pf_file_kind file;
} pf_node;

typedef struct pf_tree {
    uint32_t epochs, steps, val_steps;
    uint32_t samples;      /* sample_K folders per step: the positions served (shard size) */
    uint32_t ds_files;     /* seg_dsK.npy files per step (deep supervision scales after 1) */
    int n_cases;
    char *const *case_ids; /* sorted ascending (strcmp) */
} pf_tree;

#define PF_ROOT_INO 1

uint64_t pf_node_ino(const pf_node *n);
/* 0 if ino names a node that exists in this tree, -1 otherwise. */
int pf_node_from_ino(const pf_tree *t, uint64_t ino, pf_node *out);

int pf_node_is_dir(const pf_node *n);
pf_node pf_node_root(void);
pf_node pf_node_parent(const pf_node *n);

/* Child `name` of dir: 0, or -1 when it does not exist. */
int pf_tree_lookup(const pf_tree *t, const pf_node *dir, const char *name, pf_node *out);

/* Number of children of a directory, and child i in listing order. */
uint64_t pf_tree_child_count(const pf_tree *t, const pf_node *dir);
int pf_tree_child_at(const pf_tree *t, const pf_node *dir, uint64_t i, pf_node *out);

/* The node's own name (e.g. "step_17"); "" for the root. */
void pf_node_name(const pf_tree *t, const pf_node *n, char *buf, size_t cap);

/* Resolves "train/epoch_3/step_17/data.npy" (leading/trailing/double slashes tolerated). */
int pf_tree_resolve(const pf_tree *t, const char *path, pf_node *out);

#endif
