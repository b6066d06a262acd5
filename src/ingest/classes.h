/* classes.h - the classes a case's stored locations are kept for: labels, regions, and the
 * annotated voxels of an ignore-label dataset (see classes.c). */
#ifndef PATCHFS_CLASSES_H
#define PATCHFS_CLASSES_H

#include "dataset.h"
#include "preprocess.h"

/* The class table of one preprocessed case (rows ascending by key; classes without a voxel
 * left out). Free with pf_class_locations_free. */
int pf_case_classes(const pf_dataset *ds, const int16_t *seg, const int64_t shape[3],
                    int *n_classes, pf_class_locs **classes, pf_error *err);

#endif
