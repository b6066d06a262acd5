/* aug_draw.c - nnU-Net's training augmentation, deterministic by path: which transforms a
 * sample gets and with what parameters, drawn from the sample's own stream (see augment.h and
 * ../shared/reference/nnunet-behaviour.md section 6). The transforms themselves: grid.c,
 * sample_image.c, sample_seg.c, intensity.c, mirror.c, deep_supervision.c. */
#include "augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detmath.h"
#include "rng.h"
#include "vecmath.h"

#define DEG (PF_PI / 180.0)

int pf_aug_in_plane(const pf_options *o, const int patch[3])
{
    int m = patch[1] > patch[2] ? patch[1] : patch[2];
    return o->patch_2d || (double)m / (double)patch[0] > 3.0;
}

int pf_aug_dummy_2d(const pf_options *o, const int patch[3])
{
    return !o->patch_2d && pf_aug_in_plane(o, patch);
}

double pf_aug_bg_contrast(double u_choice, double u_value, double lo, double hi)
{
    if (u_choice < 0.5 && lo < 1.0)
        return lo + (1.0 - lo) * u_value;
    lo = lo > 1.0 ? lo : 1.0;
    return lo + (hi - lo) * u_value;
}

/* nnU-Net's rotation range in degrees for this configuration (or the user's). */
static void rotation_range(const pf_options *o, const int patch[3], double *lo, double *hi)
{
    if (o->aug_rot_set) {
        *lo = o->aug_rot_lo;
        *hi = o->aug_rot_hi;
    } else if (o->patch_2d) {
        int a = patch[1] > patch[2] ? patch[1] : patch[2], b = patch[1] < patch[2] ? patch[1] : patch[2];
        *hi = (double)a / (double)b > 1.5 ? 15.0 : 180.0;
        *lo = -*hi;
    } else if (pf_aug_in_plane(o, patch)) {
        *lo = -180.0;
        *hi = 180.0;
    } else {
        *lo = -30.0;
        *hi = 30.0;
    }
}

void pf_aug_initial_patch(const pf_options *o, const int patch[3], int out[3])
{
    double lo, hi, a, c, s, f[3];
    rotation_range(o, patch, &lo, &hi);
    a = fmax(fabs(lo), fabs(hi));
    if (a > 90.0)
        a = 90.0;
    c = pf_cos(a * DEG);
    s = pf_sin(a * DEG);
    if (o->patch_2d) {
        /* rotate_coords_2d of (Y, X): [y c + x s, -y s + x c] */
        double y = patch[1], x = patch[2];
        f[0] = patch[0];
        f[1] = fmax(fabs(y * c + x * s), y);
        f[2] = fmax(fabs(-y * s + x * c), x);
        out[0] = patch[0];
        out[1] = (int)(f[1] / 0.85);
        out[2] = (int)(f[2] / 0.85);
        return;
    }
    for (int d = 0; d < 3; d++)
        f[d] = patch[d];
    {
        /* rotate_coords_3d with one axis at a time (row vector times rotation matrix) */
        const double v[3] = {patch[0], patch[1], patch[2]};
        double r[3][3] = {{v[0], v[1] * c + v[2] * s, -v[1] * s + v[2] * c},
                          {v[0] * c - v[2] * s, v[1], v[0] * s + v[2] * c},
                          {v[0] * c + v[1] * s, -v[0] * s + v[1] * c, v[2]}};
        for (int k = 0; k < 3; k++)
            for (int d = 0; d < 3; d++)
                f[d] = fmax(f[d], fabs(r[k][d]));
    }
    for (int d = 0; d < 3; d++)
        out[d] = (int)(f[d] / 0.85);
    if (pf_aug_in_plane(o, patch))
        out[0] = patch[0]; /* dummy 2D: the 3D rule, then initial_patch_size[0] = patch[0] */
}

/* A uniform double in [0, 1) from word `index` of the stream: fixed indices keep every
 * parameter where it is when a probability changes. */
static double u01(const pf_stream *s, uint64_t index)
{
    return (double)(pf_stream_word(s, index) >> 11) * 0x1p-53;
}

static double uniform(const pf_stream *s, uint64_t index, double lo, double hi)
{
    return lo + (hi - lo) * u01(s, index);
}

/* BGContrast((lo, hi)) for channel c of a block: its choice word 1 + 2c, its value word 2 + 2c */
static double bg_contrast(const pf_stream *s, uint64_t block, int c, double lo, double hi)
{
    return pf_aug_bg_contrast(u01(s, block + 1 + 2 * (uint64_t)c),
                              u01(s, block + 2 + 2 * (uint64_t)c), lo, hi);
}

/* Word indices of the augmentation stream: each transform owns a block, each channel a slot
 * of fixed width in it. The layout is part of the format (golden digests pin it): W_CHANNELS
 * is the number of channel slots each per-channel block was laid out for, not a limit that may
 * follow PF_MAX_CHANNELS; more channels than slots would make channels share draws. */
#define W_CHANNELS 64
#define W_BLUR_SLOT 8      /* per channel: the blur decision and three sigmas (4 used) */
#define W_LOWRES_SLOT 2    /* per channel: the decision and the zoom */
#define W_BLOCK (2 * W_CHANNELS + 2) /* brightness ... gamma: two words a channel, two more */
_Static_assert(PF_MAX_CHANNELS <= W_CHANNELS,
               "more channels than the augmentation stream has slots for: a new format");
enum { W_ROT = 0, W_SCALE = 8, W_NOISE = 16, W_MIRROR = 24, W_BLUR = 32,
       W_BRIGHT = W_BLUR + W_BLUR_SLOT * W_CHANNELS,
       W_CONTRAST = W_BRIGHT + W_BLOCK, W_LOWRES = W_CONTRAST + W_BLOCK,
       W_GAMMA_INV = W_LOWRES + W_BLOCK, W_GAMMA = W_GAMMA_INV + W_BLOCK };

void pf_aug_draw(const pf_options *o, int channels, const int patch[3], uint64_t seed,
                 uint32_t epoch, uint32_t step, uint32_t position, pf_aug_params *p)
{
    pf_stream s = pf_stream_make(seed, 0, epoch, step, position, PF_PURPOSE_AUG);
    const double *P = o->aug_p;
    double lo, hi;
    int pb[3];
    memset(p, 0, sizeof *p);
    p->dims = pf_aug_in_plane(o, patch) ? 2 : 3;
    p->dummy_2d = pf_aug_dummy_2d(o, patch);
    /* nnU-Net's grid turns about (Pb - 1) / 2 of the enlarged patch, the crop's centre is
     * start + (P - 1) / 2 (sampler.c: start = box + Pb // 2 - P // 2) */
    pf_aug_initial_patch(o, patch, pb);
    for (int d = 0; d < 3; d++)
        p->centre_shift[d] = (pb[d] % 2 ? 0.0 : -0.5) - (patch[d] % 2 ? 0.0 : -0.5);
    rotation_range(o, patch, &lo, &hi);
    if (u01(&s, W_ROT) < P[PF_AUG_P_ROTATION]) {
        p->rotate = 1;
        if (p->dims == 2) {
            p->angle[0] = uniform(&s, W_ROT + 1, lo, hi) * DEG;
        } else {
            for (int d = 0; d < 3; d++)
                p->angle[d] = uniform(&s, W_ROT + 1 + (uint64_t)d, lo, hi) * DEG;
        }
    }
    if (u01(&s, W_SCALE) < P[PF_AUG_P_SCALING]) {
        p->scale_on = 1;
        p->scale = uniform(&s, W_SCALE + 1, o->aug_scale_lo, o->aug_scale_hi);
    }
    if (u01(&s, W_NOISE) < P[PF_AUG_P_NOISE]) {
        p->noise = 1;
        p->noise_sigma = uniform(&s, W_NOISE + 1, 0.0, 0.1);
        p->noise_key = pf_stream_word(&s, W_NOISE + 2);
    }
    if (u01(&s, W_BLUR) < P[PF_AUG_P_BLUR])
        for (int c = 0; c < channels; c++)
            if (u01(&s, W_BLUR + 1 + W_BLUR_SLOT * (uint64_t)c) < P[PF_AUG_P_BLUR_CHANNEL]) {
                p->blur[c] = 1;
                for (int d = 0; d < 3; d++)
                    p->blur_sigma[c][d] = uniform(&s, W_BLUR + 2 + W_BLUR_SLOT * (uint64_t)c +
                                                          (uint64_t)d,
                                                  0.5, 1.0);
                if (o->patch_2d)
                    p->blur_sigma[c][0] = 0.0; /* 2D data; dummy 2D blurs after the return to 3D */
            }
    if (u01(&s, W_BRIGHT) < P[PF_AUG_P_BRIGHTNESS]) {
        p->bright = 1;
        for (int c = 0; c < channels; c++)
            p->bright_f[c] = bg_contrast(&s, W_BRIGHT, c, 0.75, 1.25);
    }
    if (u01(&s, W_CONTRAST) < P[PF_AUG_P_CONTRAST]) {
        p->contrast = 1;
        for (int c = 0; c < channels; c++)
            p->contrast_f[c] = bg_contrast(&s, W_CONTRAST, c, 0.75, 1.25);
    }
    if (u01(&s, W_LOWRES) < P[PF_AUG_P_LOWRES])
        for (int c = 0; c < channels; c++)
            if (u01(&s, W_LOWRES + 1 + W_LOWRES_SLOT * (uint64_t)c) < P[PF_AUG_P_LOWRES_CHANNEL]) {
                p->lowres[c] = 1;
                p->lowres_zoom[c] = uniform(&s, W_LOWRES + 2 + W_LOWRES_SLOT * (uint64_t)c, 0.5, 1.0);
            }
    if (u01(&s, W_GAMMA_INV) < P[PF_AUG_P_GAMMA_INVERT]) {
        p->gamma_inv = 1;
        for (int c = 0; c < channels; c++)
            p->gamma_inv_g[c] = bg_contrast(&s, W_GAMMA_INV, c, 0.7, 1.5);
    }
    if (u01(&s, W_GAMMA) < P[PF_AUG_P_GAMMA]) {
        p->gamma = 1;
        for (int c = 0; c < channels; c++)
            p->gamma_g[c] = bg_contrast(&s, W_GAMMA, c, 0.7, 1.5);
    }
    /* nnU-Net mirrors axes (0, 1, 2) of 3D patches, dummy 2D included; (Y, X) of 2D ones */
    for (int d = o->patch_2d ? 1 : 0; d < 3; d++)
        p->mirror[d] = u01(&s, W_MIRROR + (uint64_t)d) < P[PF_AUG_P_MIRROR];
}

int pf_aug_spatial(const pf_aug_params *p)
{
    return p->rotate || p->scale_on;
}

