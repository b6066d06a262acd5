/* npy.h - .npy (NEP 1, version 1.0) headers whose length is a formula of the shape.
 *
 * The header is written exactly as numpy writes it ("{'descr': '<f4', 'fortran_order': False,
 * 'shape': (2, 1, 32, 32, 32), }" padded with spaces to a 64-byte boundary, ending in '\n'),
 * so `st_size` is known before any data exists. */
#ifndef PATCHFS_NPY_H
#define PATCHFS_NPY_H

#include <stddef.h>
#include <stdint.h>

#define PF_NPY_MAX_DIMS 8

typedef enum { PF_DT_F4, PF_DT_I2, PF_DT_F2 } pf_dtype; /* '<f4', '<i2', '<f2' */

size_t pf_dtype_size(pf_dtype t);

/* Writes the header into buf (capacity cap) and returns its length including the 10-byte
 * preamble, or 0 if it does not fit. The length is a multiple of 64. */
size_t pf_npy_header(char *buf, size_t cap, pf_dtype t, int ndim, const int64_t *shape);

/* Total file size: header + product(shape) * itemsize. */
uint64_t pf_npy_file_size(pf_dtype t, int ndim, const int64_t *shape);

#endif
