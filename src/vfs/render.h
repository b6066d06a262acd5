/* render.h - making the pixels of the tree's files, and the makers of the file table.
 *
 * A sample's arrays are made in one place (pf_render_sample and its parallel split in
 * render.c): the plain padded crop, or nnU-Net's augmentation of it, on several threads with
 * the same bytes. The pf_make_* functions each make one kind of file into a buffer from
 * pf_render_alloc_npy / malloc (released with pf_file_release). */
#ifndef PATCHFS_RENDER_H
#define PATCHFS_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "augment.h"
#include "context_i.h"
#include "npy.h"

/* Shape of a step array (B, C, Z, Y, X) or of one sample's (C, Z, Y, X); 2D configurations
 * drop Z. Slot 0 is data.npy, slot 1 seg.npy. Returns the number of dimensions. */
int pf_render_step_shape(const pf_ctx *ctx, const pf_node *n, int64_t shape[5]);
/* (C, Z, Y, X) of case idx's data.npy (data != 0) or seg.npy; split 0 cases/, 1 test/. */
void pf_render_case_shape(const pf_ctx *ctx, uint32_t split, uint32_t idx, int data,
                          int64_t shape[4]);
/* seg_dsK.npy's shape and its downsampled patch ds. */
void pf_render_ds_shape(const pf_ctx *ctx, const pf_node *n, int64_t shape[5], int *nd, int ds[3]);

size_t pf_render_patch_voxels(const pf_ctx *ctx);
/* data.npy's dtype: float32, or float16 with dtype=float16 (the files made in float32 first) */
pf_dtype pf_render_data_dtype(const pf_ctx *ctx);
/* A .npy buffer with its header written; *hdr bytes of header, *len in all. */
char *pf_render_alloc_npy(pf_dtype t, int ndim, const int64_t *shape, size_t *len, size_t *hdr,
                          pf_error *err);

/* The global batch of step node n (all positions; callers take the served ones). */
pf_sample *pf_render_batch(pf_ctx *ctx, const pf_node *n, pf_error *err);
/* Case idx ready to read: its digest checked once; a corrupt entry, or one whose reads failed
 * (truncated, a failing sector: those reads got EIO), rebuilt from the sources. */
int pf_render_use_case(pf_ctx *ctx, int idx, pf_error *err);
/* The same for a case of cases/ (split 0) or test/ (split 1). */
int pf_render_use_case_in(pf_ctx *ctx, uint32_t split, int idx, pf_error *err);
/* A guarded read of case idx's mapped data (cache.h) begins: the case rebuilt first if it
 * failed in an earlier read (pixels: its image digest checked once too, as every pixel read
 * does; else only the stored locations are read), EIO when found shorter than it was; else a
 * token for pf_render_read_end, which fails (EIO, "not served; the next use rebuilds it") when
 * a fault happened in between: what was read may hold zeros. */
int pf_render_read_begin(pf_ctx *ctx, uint32_t split, int idx, int pixels, unsigned *token,
                         pf_error *err);
int pf_render_read_end(const pf_ctx *ctx, uint32_t split, int idx, unsigned token,
                       pf_error *err);
/* The box [start, start + size) of a case of cases/ or test/, guarded (cache.h): image
 * (C, box) into img and labels into seg (either may be NULL); outside the case image 0, seg
 * -1. A case that failed in an earlier read is rebuilt first; a fault during it fails. */
int pf_render_read_case(pf_ctx *ctx, uint32_t split, int idx, const int64_t start[3],
                        const int size[3], float *img, int16_t *seg, pf_error *err);
/* Whether position b of step node n is augmented (training steps with aug=nnunet), and how. */
int pf_render_aug_params(const pf_ctx *ctx, const pf_node *n, int b, pf_aug_params *p);
/* img (C, P) and seg (P) of position b; either may be NULL. */
int pf_render_sample(pf_ctx *ctx, const pf_node *n, int b, const pf_sample *sm, float *img,
                     int16_t *seg, pf_error *err);

int pf_make_step_array(pf_ctx *ctx, const pf_node *n, char **out, size_t *len, pf_error *err);
/* Whether data.npy of step node n needs its positions' label maps (an augmented training step
 * of a dataset with use_mask_for_norm channels: nnU-Net's masking after the intensity
 * transforms), and data.npy made with them given: served position lo + i's label map as
 * served (mirrored, as seg.npy holds it; P voxels; only its sign is used, < 0 outside the
 * case) at mask + mask_per i, not rendered again. Same bytes as pf_make_step_array. */
int pf_render_needs_mask(const pf_ctx *ctx, const pf_node *n);
int pf_make_step_data_masked(pf_ctx *ctx, const pf_node *n, const int16_t *mask,
                             size_t mask_per, char **out, size_t *len, pf_error *err);
/* seg_dsK.npy of step node n from its seg.npy's bytes (seg, seg_len). */
int pf_make_step_ds_from(pf_ctx *ctx, const pf_node *n, const char *seg, size_t seg_len,
                         char **out, size_t *len, pf_error *err);
int pf_make_case_array(pf_ctx *ctx, const pf_node *n, char **out, size_t *len, pf_error *err);
/* Per served position of step node n (batch s): XXH3-64 of its image and of its seg bytes,
 * as sample_K/data.npy and seg.npy hold them; dg has one row per served position. */
int pf_render_digests(pf_ctx *ctx, const pf_node *n, const pf_sample *s, uint64_t (*dg)[2],
                      pf_error *err);
int pf_make_preview(pf_ctx *ctx, const pf_node *n, char **out, size_t *len, pf_error *err);
int pf_make_sample_nifti(pf_ctx *ctx, const pf_node *n, char **out, size_t *len, pf_error *err);

#endif
