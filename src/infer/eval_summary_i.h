/* eval_summary_i.h - evaluate's insides shared by its two files: what is scored, the counts,
 * and nnU-Net's summary.json written from them (eval_summary.c). */
#ifndef PATCHFS_EVAL_SUMMARY_I_H
#define PATCHFS_EVAL_SUMMARY_I_H

#include <stdint.h>

#include "dataset.h"

/* What is scored: labels (one value each) or regions (several: nnU-Net's region test, a
 * voxel is in the region when its label is one of the region's values). A region is a row of
 * the confusion matrix's sums like a label, so both cost the same. */
typedef struct eval_region {
    const char *key;        /* summary.json's key: label_key, or the dataset's region key */
    char label_key[8];      /* a label's key: "1" */
    unsigned char in[1025]; /* per label index (eval_job.label_values; n_labels: any other
                             * value): 1 when the region holds it */
} eval_region;

typedef struct case_counts {
    int64_t tp, fp, fn, tn;
} case_counts;

typedef struct eval_summary_in {
    const eval_region *regions; /* in dataset.json's order */
    int n_regions;
    const case_counts *counts;  /* per case (of cases) and region */
    const int *scored;          /* the cases scored, indices into cases, in order */
    int n_scored;
    char *const *pred_paths;    /* per case */
    const pf_dataset *ds;
    const int *cases;           /* dataset indices */
} eval_summary_in;

/* summary.json's text (malloc'd), or NULL when out of memory. */
char *pf_eval_summary_text(const eval_summary_in *in);

#endif
