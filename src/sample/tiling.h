/* tiling.h - nnU-Net's sliding window over a whole preprocessed case, as its predictor tiles
 * it (predict_from_raw_data.py, sliding_window_prediction.py; nnunet-geometry.md section 7):
 * the case padded to at least the patch (pad_nd_image: the odd voxel after), per axis
 * n = ceil((S - P) / (P / 2)) + 1 tiles starting at round_half_even(i * (S - P) / (n - 1)),
 * z, y, x order with x innermost; a 2D configuration tiles every slice (z not padded). And the
 * Gaussian importance map the tiles' predictions are weighted with. Pure arithmetic. */
#ifndef PATCHFS_TILING_H
#define PATCHFS_TILING_H

#include <stdint.h>

#define PF_TILE_STEP 0.5 /* nnU-Net's default tile_step_size */

typedef struct pf_tiling {
    int patch[3];          /* Z, Y, X; 2D: patch[0] is 1 */
    int64_t pad_before[3]; /* voxels of padding before the case, per axis */
    int64_t padded[3];     /* the padded shape the starts are in */
    int64_t n[3];          /* starts per axis (2D: one per slice on z) */
    int is_2d;
} pf_tiling;

/* The starts of one axis of size S >= P (padded) for patch P and step fraction `step`,
 * written to starts (may be NULL); returns their number. */
int64_t pf_sliding_starts(int64_t size, int64_t patch, double step, int64_t *starts);

/* The tiling of a case of shape (Z, Y, X). 2D: patch[0] is ignored (1). */
void pf_tiling_init(pf_tiling *t, const int64_t shape[3], const int patch[3], int is_2d);
uint64_t pf_tiling_count(const pf_tiling *t);
/* Tile i's start in the padded case (z, y, x); i < pf_tiling_count. */
void pf_tiling_start(const pf_tiling *t, uint64_t i, int64_t start[3]);

/* nnU-Net's compute_gaussian(patch, sigma_scale=1/8, value_scaling_factor=10): a unit impulse
 * at patch // 2 through scipy's gaussian_filter (sigma = patch / 8 per axis, truncate 4,
 * constant mode), scaled to a maximum of 10, in float32 with zeros replaced by the smallest
 * nonzero value. nd axes (2 or 3) of sizes patch[0..nd); out holds their product. 0, or -1
 * when out of memory. */
int pf_importance_map(const int *patch, int nd, float *out);

#endif
