/* augment.h - nnU-Net's default training augmentation (nnUNetTrainer.get_training_transforms,
 * batchgeneratorsv2), in C and deterministic by path.
 *
 * Per sample, in nnU-Net's order: rotation and scaling (sampled straight from the mapped
 * volume: no enlarged intermediate patch), Gaussian noise, Gaussian blur, brightness,
 * contrast, low-resolution simulation, gamma on the inverted image, gamma, mirroring, and
 * with use_mask_for_norm the masked channels zeroed where the seg is < 0 (render.c masks in
 * pf_aug_intensity_mirrored, each voxel by its own label, wherever the mirroring puts both).
 * Dummy 2D (a 3D patch under a third as deep as wide): the spatial transform in-plane, the
 * rest 3D, as nnU-Net's Convert3DTo2D / Convert2DTo3D around its SpatialTransform.
 * Every parameter is drawn from the position's stream (purpose PF_PURPOSE_AUG) at a fixed word
 * index, and every transcendental value goes through detmath.h (double, parameters) or
 * vecmath.h (float, per voxel), so the augmented bytes of a path are the same on every machine.
 * aug_draw.c: parameters; grid.c, sample_image.c, sample_seg.c: the spatial transform;
 * intensity.c, intensity_pass.c: the intensity transforms and the masking; mirror.c;
 * deep_supervision.c. */
#ifndef PATCHFS_AUGMENT_H
#define PATCHFS_AUGMENT_H

#include <stdint.h>

#include "cache.h"
#include "extract.h"
#include "options.h"

typedef struct pf_aug_params {
    int dims;                       /* 3, or 2 for in-plane only (2D or anisotropic patches) */
    int dummy_2d;                   /* a 3D patch augmented as 2D (nnU-Net's do_dummy_2d_data_aug):
                                     * spatial transform in-plane, mirroring and blur on Z too */
    int rotate;
    double angle[3];                /* radians about array axes 0 (Z), 1 (Y), 2 (X) */
    int scale_on;
    double scale;                   /* > 1 zooms out; in-plane only when dims == 2 */
    double centre_shift[3];         /* the grid's centre minus the crop's centre (start +
                                     * (P - 1) / 2): nnU-Net turns about (Pb - 1) / 2 of the
                                     * enlarged patch Pb, half a voxel off when Pb and P differ
                                     * in parity; 0 keeps the crop's centre */
    int noise;
    double noise_sigma;
    uint64_t noise_key;
    int blur[PF_MAX_CHANNELS];
    double blur_sigma[PF_MAX_CHANNELS][3];
    int bright;
    double bright_f[PF_MAX_CHANNELS];
    int contrast;
    double contrast_f[PF_MAX_CHANNELS];
    int lowres[PF_MAX_CHANNELS];
    double lowres_zoom[PF_MAX_CHANNELS];
    int gamma_inv;
    double gamma_inv_g[PF_MAX_CHANNELS];
    int gamma;
    double gamma_g[PF_MAX_CHANNELS];
    int mirror[3];
} pf_aug_params;

/* In-plane only: 2D configurations, and 3D patches whose first axis is under a third of the
 * largest (nnU-Net's "dummy 2D" augmentation). */
int pf_aug_in_plane(const pf_options *o, const int patch[3]);
/* A 3D patch augmented as 2D (in-plane spatial transform; mirroring and blur still 3D). */
int pf_aug_dummy_2d(const pf_options *o, const int patch[3]);

/* nnU-Net's BGContrast draw of a factor in (lo, hi) from two uniforms in [0, 1): with
 * probability 0.5 (when lo < 1) U(lo, 1), else U(max(lo, 1), hi). */
double pf_aug_bg_contrast(double u_choice, double u_value, double lo, double hi);

/* nnU-Net's initial (enlarged) patch size for the rotation range and scale range
 * (0.85, 1.25) (get_patch_size); its difference to patch is the sampler's extra context. */
void pf_aug_initial_patch(const pf_options *o, const int patch[3], int out[3]);

/* Draws every parameter of one training sample. */
void pf_aug_draw(const pf_options *o, int channels, const int patch[3], uint64_t seed,
                 uint32_t epoch, uint32_t step, uint32_t position, pf_aug_params *p);

int pf_aug_spatial(const pf_aug_params *p);

/* Samples the transformed grid straight from the case: image trilinear (normalised first,
 * 0 outside), seg per-label linear + argmax (or nearest), -1 outside. start: the plain crop's
 * start; the grid turns about the crop's centre moved by p->centre_shift. */
void pf_aug_sample_image(const pf_case *c, const pf_norm *norms, const int64_t start[3],
                         const int patch[3], const pf_aug_params *p, float *out);
/* Output planes [z0, z1) of the seg only (out is the whole (P) array): the same bytes. */
void pf_aug_sample_seg_planes(const pf_case *c, const int64_t start[3], const int patch[3],
                              const pf_aug_params *p, int seg_nearest, int z0, int z1,
                              int16_t *out);
/* Output planes [z0, z1) of the image only (out is the whole (C, P) array): the same bytes
 * as pf_aug_sample_image there (the mount renders slabs in parallel). */
void pf_aug_sample_planes(const pf_case *c, const pf_norm *norms, const int64_t start[3],
                          const int patch[3], const pf_aug_params *p, int z0, int z1, float *out);
void pf_aug_sample_seg(const pf_case *c, const int64_t start[3], const int patch[3],
                       const pf_aug_params *p, int seg_nearest, int16_t *out);

/* The samplers without their shortcut for axis-aligned grids (scaling without rotation, done
 * separably with the same bytes); for tests and benchmarks. */
void pf_aug_sample_image_general(const pf_case *c, const pf_norm *norms, const int64_t start[3],
                                 const int patch[3], const pf_aug_params *p, float *out);
void pf_aug_sample_seg_general(const pf_case *c, const int64_t start[3], const int patch[3],
                               const pf_aug_params *p, int seg_nearest, int16_t *out);

/* Where each voxel of the final (augmented, mirrored) patch comes from: source (z, y, x) =
 * origin + G o for patch index o = (z, y, x). p NULL: a plain crop at start. */
void pf_aug_grid(const pf_aug_params *p, const int64_t start[3], const int patch[3],
                 double G[3][3], double origin[3]);

/* Intensity transforms and mirroring, in place on (C, P) image and (P) seg. */
int pf_aug_intensity(const pf_aug_params *p, int channels, const int patch[3], float *img);
/* The intensity transforms of channels [ch0, ch1) only, img holding channel ch0 first: the
 * same bytes as those channels of pf_aug_intensity. */
int pf_aug_intensity_channels(const pf_aug_params *p, const int patch[3], int ch0, int ch1,
                              float *img);
/* pf_aug_intensity_channels, then each channel c with masked[c] zeroed where seg < 0
 * (pf_aug_mask_outside; seg: the sample's seg as the image is laid out, i.e. before a
 * separate mirroring pass), in the chain's last pass: the same bytes as the two calls. seg or
 * masked NULL: no channel masked. */
int pf_aug_intensity_masked(const pf_aug_params *p, const int patch[3], int ch0, int ch1,
                            float *img, const int16_t *seg, const unsigned char *masked);
/* The image's whole second phase: the intensity transforms, the masking and the mirroring, in
 * place: the bytes of pf_aug_intensity_masked with the seg before mirroring, then the
 * channels' mirroring as pf_aug_mirror would do it (none when the samplers or the crop wrote
 * the sample mirrored). The mirroring is folded into the chain's last pass (each voxel's noise
 * added at its unmirrored index, the pair of rows exchanged, the other steps and the mask at
 * the mirrored place), one trip through memory fewer. seg: the sample's seg as served, i.e.
 * mirrored (the samplers or the crop write it so under pf_aug_seg_params), so that a step's
 * seg.npy can be the mask as it is. The image is then final: pf_aug_mirror is not called. */
int pf_aug_intensity_mirrored(const pf_aug_params *p, const int patch[3], int ch0, int ch1,
                              float *img, const int16_t *seg, const unsigned char *masked);
/* Mirroring, in place; nothing when the samplers or the crop mirrored the sample already
 * (pf_aug_mirror_in_grid, pf_aug_mirror_in_crop). Not on the serving path (render.c): there
 * the image is mirrored by pf_aug_intensity_mirrored, the seg by its samplers or crop. */
void pf_aug_mirror(const pf_aug_params *p, int channels, const int patch[3], float *img,
                   int16_t *seg);
/* The separate mirroring pass itself, whether or not a fold made it needless (tests, benches). */
void pf_aug_mirror_pass(const pf_aug_params *p, int channels, const int patch[3], float *img,
                        int16_t *seg);
/* Whether the samplers write this sample mirrored themselves (its mirroring folded into the
 * grid): a resampled sample with a mirrored axis whose later transforms all commute exactly
 * with mirroring (brightness and the masking act per voxel; the noise is keyed by voxel
 * index, blur and low resolution sum neighbours in index order, contrast and gamma sum the
 * channel in index order: those would give other bits on a mirrored array, so samples with
 * them are mirrored after them, as before). The bytes are the same either way. */
int pf_aug_mirror_in_grid(const pf_aug_params *p);
/* The same for a sample that takes no spatial transform: its plain crop is written mirrored
 * (pf_extract_image_mirrored, pf_extract_seg_mirrored), under the same rule. */
int pf_aug_mirror_in_crop(const pf_aug_params *p);
/* Turns p into the parameters as a sample's seg sees them (seg.npy, and the mask of its
 * image): the intensity transforms, which never touch labels, off. Its mirroring then always
 * commutes, so the samplers or the crop write it mirrored (no separate pass over the labels);
 * the bytes are the same, mirroring moving labels, never computing them. */
void pf_aug_seg_params(pf_aug_params *p);
/* nnU-Net's MaskImageTransform (use_mask_for_norm): one channel's voxels where seg < 0 set to
 * 0, after the intensity transforms (seg: the sample's seg laid out as img). */
void pf_aug_mask_outside(float *img, const int16_t *seg, size_t n);

/* Nearest ("nearest-exact") downsampling of a seg patch to round(P * scale) per axis
 * (deep-supervision targets); out_shape receives the size. */
void pf_ds_shape(const int patch[3], const double scale[3], int is_2d, int out_shape[3]);
void pf_ds_seg(const int16_t *seg, const int patch[3], const int out_shape[3], int16_t *out);

#endif
