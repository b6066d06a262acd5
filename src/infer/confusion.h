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

#endif
