/* load.h - one case of a dataset decoded into memory, as the fingerprint and the cache build
 * read it: channels as float32 (scl_slope/inter applied), the label as int16, on the source
 * grid in array order Z, Y, X. Refused (naming the file): channels of different shapes or
 * affines, a label on another grid or affine, a label value dataset.json does not name, a
 * Decathlon image whose frames do not match the channels. */
#ifndef PATCHFS_LOAD_H
#define PATCHFS_LOAD_H

#include <stdint.h>

#include "dataset.h"
#include "error.h"
#include "nifti_load.h"

typedef struct pf_loaded_case {
    float *image;       /* (C, Z, Y, X) source volume */
    int16_t *seg;       /* (Z, Y, X) */
    int64_t shape[3];   /* Z, Y, X */
    pf_nifti_info info; /* of channel 0 */
} pf_loaded_case;

int pf_load_case(const pf_dataset *ds, int idx, pf_loaded_case *lc, pf_error *err);
void pf_loaded_case_free(pf_loaded_case *lc);

/* Called once per problem of pf_load_case_checked; the message names the file and problem. */
typedef void (*pf_problem_fn)(void *arg, const pf_error *problem);

/* pf_load_case for `patchfs check`: every problem is passed to problem() and checking goes on
 * wherever it can (files the listing found missing, pf_case_src.missing, are problems; a
 * channel that does not decode is still compared by its header; the label values are checked
 * whatever the grids); -1 if there was any, with the first in err, and lc then holds nothing.
 * Problems come in a fixed order: missing files, the channels, the label. problem NULL is
 * pf_load_case: the first problem stops. Out of memory is a problem with errnum ENOMEM. */
int pf_load_case_checked(const pf_dataset *ds, int idx, pf_loaded_case *lc,
                         pf_problem_fn problem, void *arg, pf_error *err);

#endif
