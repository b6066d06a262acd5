/* confusion.h - the confusion matrix of a reference and a predicted label map, counted in one
 * pass over the voxels whatever the number of labels (evaluate's inner loop).
 *
 * Each label value maps to a row (reference) and a column (prediction) index through tables
 * the caller builds once; a row may be one the caller then drops (the ignore label). The maps
 * are read as stored when they are uint8 and as int16 otherwise (pf_label_volume). */
#ifndef PATCHFS_CONFUSION_H
#define PATCHFS_CONFUSION_H

#include <stddef.h>
#include <stdint.h>

#include "nifti_load.h"

/* Label values 0..32767 (pf_label_volume's range). */
#define PF_CONFUSION_VALUES 32768

typedef struct pf_confusion_map {
    uint32_t row[PF_CONFUSION_VALUES]; /* label value -> row * cols (a row's first cell) */
    uint32_t col[PF_CONFUSION_VALUES]; /* label value -> column */
    size_t cells;                      /* rows * cols: the size of the matrix */
} pf_confusion_map;

/* Counts M[row[ref] + col[pred]] over the n voxels of ref and pred (same n): M, of map->cells
 * entries, is overwritten. 0, or -1 when out of memory. */
int pf_confusion_count(const pf_confusion_map *map, const pf_label_volume *ref,
                       const pf_label_volume *pred, uint64_t *M);

/* The fast path for the common case: uint8 maps, at most PF_SET_MAX scored sets (labels, or
 * regions: sets of label values) whose values, and the ignore label's, are all below 16.
 * Each voxel's value becomes a byte of set bits by a 16-entry table (a value from 16 up is in
 * no set), and each set's TP, n_ref and n_pred are bit counts of 32 voxels at a time (AVX2).
 * Counting the sets directly, not a matrix, is what makes a voxel a few vector operations. */
#define PF_SET_MAX 7

typedef struct pf_set_masks {
    uint8_t ref[16];  /* value -> bit s when the value is in set s; bit 7: the ignore label */
    uint8_t pred[16]; /* value -> bit s when the value is in set s */
    int n_sets;       /* 1..PF_SET_MAX */
} pf_set_masks;

typedef struct pf_set_counts {
    uint64_t tp[PF_SET_MAX], n_ref[PF_SET_MAX], n_pred[PF_SET_MAX];
    uint64_t counted; /* voxels whose reference is not the ignore label */
} pf_set_counts;

/* Counts the sets of m over ref and pred into c. 0, or -1 when this path does not apply (a
 * map is not uint8, the CPU has no AVX2 or PATCHFS_SIMD caps it below): the caller then
 * counts the matrix. Equal to the matrix's sums wherever it applies. */
int pf_confusion_count_sets(const pf_set_masks *m, const pf_label_volume *ref,
                            const pf_label_volume *pred, pf_set_counts *c);

#endif
