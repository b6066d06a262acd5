/* gzip_runs.h - a fast gzip writer for label maps (the export's .nii.gz).
 *
 * zlib at level 1 spends about 5 ns a byte on a label map, more than the export's whole
 * resampling; but a label map is runs of few values, which deflate codes well as literals and
 * distance-1 matches (zlib's Z_RLE strategy) with a Huffman code fitted to each block. This
 * writer does only that: runs are found a word at a time, each block of input gets its own
 * dynamic Huffman code (length-limited, canonical, RFC 1951), and the result is one ordinary
 * gzip member (RFC 1952) that any inflater reads (zlib, Python's gzip, nibabel). Typical label
 * maps come out smaller than at zlib's level 1 and several times faster. */
#ifndef PATCHFS_GZIP_RUNS_H
#define PATCHFS_GZIP_RUNS_H

#include <stddef.h>

#include "error.h"

/* Where the compressed bytes go: 0, or -1 with err set. */
typedef int (*pf_gz_sink)(void *arg, const void *buf, size_t len, pf_error *err);

/* One gzip member holding the concatenation of the n segments (seg[i], len[i] bytes),
 * written through sink in pieces of at most a few hundred KiB. 0, or -1 with err set (from
 * the sink, or out of memory). */
int pf_gzip_runs(const void *const *seg, const size_t *len, int n, pf_gz_sink sink, void *arg,
                 pf_error *err);

#endif
