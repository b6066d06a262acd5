/* crc32.h - CRC-32 (IEEE 802.3, zlib's and zip's), fast.
 *
 * batch.npz needs the CRC-32 of every member: tens of megabytes per step. zlib's crc32 runs at
 * about 1 GB/s here, which would cost a step more CPU than its transport. Where the CPU has
 * carry-less multiplication (PCLMULQDQ, with SSE4.1), 64-byte blocks are folded with it (the
 * method of Intel's "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ"), about ten
 * times faster; elsewhere, and for the bytes that do not fill a block, zlib's crc32 is used.
 * Same value on every path (the unit test compares with zlib at every length and alignment). */
#ifndef PATCHFS_CRC32_H
#define PATCHFS_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* zlib's crc32(crc, buf, len): start with crc 0; chains like zlib's. */
uint32_t pf_crc32(uint32_t crc, const void *buf, size_t len);

#endif
