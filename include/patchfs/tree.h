/* tree.h - the virtual tree's grammar: names <-> nodes <-> inode numbers. Pure, no I/O.
 *
 *   README.txt  patchfs.json  splits.json  status.json
 *   train/epoch_E/summary.json
 *   train/epoch_E/step_S/{data.npy, seg.npy, meta.json, preview.png}   E < epochs, S < steps
 *   train/epoch_E/step_S/seg_dsK.npy                        K = 1..ds (deep supervision)
 *   train/epoch_E/step_S/batch.npz                          the step's arrays in one file
 *   train/epoch_E/step_S/sample_K/{data.npy, seg.npy, image.nii.gz, label.nii.gz}
 *                                                           K < samples (positions served)
 *   val/epoch_E/...                                         S < val_steps
 *   cases/ID/{data.npy, seg.npy, properties.json, preview.png, tiles.json}
 *   cases/ID/tiles/T/data.npy                               T < the case's tiles
 *   test/ID/{data.npy, properties.json, preview.png, tiles.json}, test/ID/tiles/T/data.npy
 *                                                           (only when there are test images)
 *   gaussian.npy                                            the tiles' importance map
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
    PF_NODE_ROOT_FILE = 2, /* README.txt, patchfs.json, ... by slot (PF_ROOT_FILES) */
    PF_NODE_TILES_DIR = 3, /* cases/ID/tiles or test/ID/tiles */
    PF_NODE_TILE_DIR = 4,  /* .../tiles/T */
    PF_NODE_SPLIT_DIR = 5, /* train/ or val/ */
    PF_NODE_EPOCH_DIR,
    PF_NODE_STEP_DIR,
    PF_NODE_STEP_FILE,
    PF_NODE_CASES_DIR,     /* cases/ (split 0) or test/ (split 1); so are the case nodes below */
    PF_NODE_CASE_DIR,
    PF_NODE_CASE_FILE,
    PF_NODE_SAMPLE_DIR,
    PF_NODE_SAMPLE_FILE, /* data.npy, seg.npy, image.nii.gz or label.nii.gz of one position */
    PF_NODE_TILE_FILE = 14, /* .../tiles/T/data.npy */
    PF_NODE_SUMMARY = 15, /* epoch_E/summary.json */
} pf_node_kind;

/* A file node's place among its folder's files (its slot; it enters the inode number):
 *   step:   0 data.npy  1 seg.npy  2 meta.json        3 preview.png  4.. seg_ds1.npy, ...
 *           PF_STEP_BATCH_SLOT batch.npz (listed after the last seg_dsK.npy)
 *   case:   0 data.npy  1 seg.npy  2 properties.json  3 preview.png  4 tiles.json
 *           (a test case has no seg.npy)
 *   sample: 0 data.npy  1 seg.npy  2 image.nii.gz     3 label.nii.gz */
#define PF_FOLDER_FILES 4   /* fixed files of a step, case or sample folder */
#define PF_CASE_FILES 5     /* files of a case folder (its tiles/ folder besides) */
/* The root's files by slot: README.txt, patchfs.json, splits.json, status.json, plans.json,
 * gaussian.npy */
#define PF_ROOT_FILES 6
#define PF_MAX_TILES ((1u << 26) - 1) /* tiles of one case (26 bits of an inode number) */
#define PF_MAX_FILES 32     /* slots have 5 bits */
#define PF_STEP_BATCH_SLOT (PF_MAX_FILES - 1) /* a step's batch.npz (seg_dsK.npy stay below) */

/* What a file is: one number per kind of file, whatever folder it is in. The file table
 * (files.h) is indexed by it. */
typedef enum {
    PF_FILE_NONE = 0,          /* a folder */
    PF_FILE_README,
    PF_FILE_PATCHFS_JSON,
    PF_FILE_SPLITS_JSON,
    PF_FILE_STATUS,
    PF_FILE_PLANS_JSON,        /* nnUNetPlans.json of the dataset (the plan in use) */
    PF_FILE_SUMMARY,           /* epoch_E/summary.json */
    PF_FILE_STEP_DATA,
    PF_FILE_STEP_SEG,
    PF_FILE_STEP_META,
    PF_FILE_STEP_PREVIEW,
    PF_FILE_STEP_SEG_DS,       /* seg_dsK.npy; K from pf_node_ds_level */
    PF_FILE_STEP_BATCH,        /* batch.npz: data.npy, seg.npy, seg_dsK.npy in a stored zip */
    PF_FILE_SAMPLE_DATA,
    PF_FILE_SAMPLE_SEG,
    PF_FILE_SAMPLE_IMAGE_NII,
    PF_FILE_SAMPLE_LABEL_NII,
    PF_FILE_CASE_DATA,
    PF_FILE_CASE_SEG,
    PF_FILE_CASE_PROPERTIES,
    PF_FILE_CASE_PREVIEW,
    PF_FILE_GAUSSIAN,          /* gaussian.npy: nnU-Net's importance map for the patch */
    PF_FILE_CASE_TILES_JSON,   /* cases/ID/tiles.json, test/ID/tiles.json */
    PF_FILE_TILE_DATA,         /* .../tiles/T/data.npy: tile T of the padded case */
    PF_FILE_KINDS
} pf_file_kind;

typedef struct pf_node {
    pf_node_kind kind;
    uint32_t split;     /* 0 train, 1 val; case nodes: 0 cases/, 1 test/ */
    uint32_t epoch, step;
    uint32_t sample;    /* index among the positions this mount serves */
    uint32_t case_idx;
    uint32_t tile;      /* tile folders and files: the tile's index */
    uint32_t slot;      /* file nodes: index among the folder's files (above) */
} pf_node;

/* The kind of file a node is (PF_FILE_NONE for folders). */
pf_file_kind pf_node_file(const pf_node *n);
/* seg_dsK.npy: K (1 for seg_ds1.npy); 0 for every other node. */
int pf_node_ds_level(const pf_node *n);
/* The file of kind f in the same folder as file node n (e.g. a step's seg.npy from its
 * data.npy): 0, or -1 when n's folder has no such file. */
int pf_node_sibling(const pf_node *n, pf_file_kind f, pf_node *out);

typedef struct pf_tree {
    uint32_t epochs, steps, val_steps;
    uint32_t samples;      /* sample_K folders per step: the positions served (shard size) */
    uint32_t ds_files;     /* seg_dsK.npy files per step (deep supervision scales after 1) */
    int n_cases;
    char *const *case_ids; /* sorted ascending (strcmp) */
    int n_test;            /* test/: 0 when there are no test images (no test/ folder) */
    char *const *test_ids; /* sorted ascending */
    const uint32_t *tiles[2]; /* per case of cases/ (0) and test/ (1): its tiles */
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
