/* tiles.h - the sliding-window files of a case (cases/ID or test/ID): tiles.json, tiles/T/
 * data.npy, and the root's gaussian.npy, nnU-Net's tiling and importance map (tiling.h) over
 * the served grid. */
#ifndef PATCHFS_TILES_H
#define PATCHFS_TILES_H

#include <stddef.h>
#include <stdint.h>

#include "context_i.h"
#include "tiling.h"

/* The tiling of case idx of cases/ (split 0) or test/ (split 1) for the context's patch. */
void pf_case_tiling(const pf_ctx *ctx, uint32_t split, uint32_t idx, pf_tiling *t);
/* ctx->tile_counts for every case of cases/ and test/ (the tree's tile folders); refused
 * naming the case when one has more than PF_MAX_TILES tiles. */
int pf_tiles_count(pf_ctx *ctx, pf_error *err);

int pf_make_tiles_json(pf_ctx *ctx, const pf_node *n, char **buf, size_t *len, pf_error *err);
int pf_size_tile(pf_ctx *ctx, const pf_node *n, uint64_t *size, pf_error *err);
int pf_make_tile(pf_ctx *ctx, const pf_node *n, char **buf, size_t *len, pf_error *err);
int pf_size_gaussian(pf_ctx *ctx, const pf_node *n, uint64_t *size, pf_error *err);
int pf_make_gaussian(pf_ctx *ctx, const pf_node *n, char **buf, size_t *len, pf_error *err);

#endif
