/* intensity_pass.c - nnU-Net's intensity transforms chained on a sample's (C, P) image in
 * nnU-Net's order (pf_aug_intensity, augment.h), with the masking that follows them when
 * use_mask_for_norm, and as few passes over memory as the chain allows.
 *
 * A channel of a 3D patch is megabytes (8 MiB at 128^3), far more than a core's L2, so every
 * separate pass over it streams it through the shared cache; the per-voxel steps (noise,
 * brightness, contrast's clamp, gamma's restoring, the masking) and the statistics that
 * contrast and gamma need are cheap next to that traffic. So they are not run one after the
 * other over the channel: each is queued (pass_ops) until something needs the whole channel
 * (blur, low resolution, gamma's power, a transform's statistics, the end), and then all the
 * queued steps and the statistics run together block by block (run_pass), a block staying in
 * L1 from the first step to the last. A voxel goes through the same operations in the same
 * order as transform by transform, and the statistics take the voxels in the same lanes in the
 * same order (pf_int_acc), so the bytes are those of the separate passes on every path. The
 * last pass also does the image's mirroring when it is not folded into the samplers or the
 * crop (pf_aug_intensity_mirrored): the channel walked by the pairs of rows it exchanges. */
#include "intensity_i.h"
#include "mirror_i.h"

#include <string.h>

#include "simd.h"
#include "vecmath.h"

/* ---- the per-voxel steps ---- */

void pf_int_scale(float *v, size_t n, float f, int wide)
{
    size_t i;
    for (i = WIDE(pf_int_scale_avx2(v, n, f)); i + PF_VL <= n; i += PF_VL)
        pf_vf_store(v + i, pf_vf_load(v + i) * f);
    for (; i < n; i++)
        v[i] *= f;
}

/* the original range is kept (as the lanes do it) */
void pf_int_contrast(float *v, size_t n, float mean, float f, float mn, float mx, int wide)
{
    size_t i;
    for (i = WIDE(pf_int_contrast_avx2(v, n, mean, f, mn, mx)); i + PF_VL <= n; i += PF_VL) {
        pf_vf t = (pf_vf_load(v + i) - mean) * f + mean;
        pf_vf_store(v + i, pf_vf_min(pf_vf_max(t, pf_vf_splat(mn)), pf_vf_splat(mx)));
    }
    for (; i < n; i++) {
        float t = (v[i] - mean) * f + mean;
        t = t > mn ? t : mn;
        v[i] = t < mx ? t : mx;
    }
}

void pf_int_restore_pass(float *v, size_t n, const pf_int_restore *r, int wide)
{
    const float m2 = r->m2, a = r->a, m1 = r->m1, sg = r->sg;
    size_t i;
    for (i = WIDE(pf_int_restore_avx2(v, n, m2, a, m1, sg)); i + PF_VL <= n; i += PF_VL)
        pf_vf_store(v + i, ((pf_vf_load(v + i) - m2) * a + m1) * sg);
    for (; i < n; i++)
        v[i] = ((v[i] - m2) * a + m1) * sg;
}

/* img = 0 where seg < 0 in the whole groups of lanes of n voxels, without a branch per voxel
 * (x & ~(seg < 0)), so an outline costs no mispredictions; returns the voxels done */
static size_t mask_lanes(float *img, const int16_t *seg, size_t n)
{
    typedef int16_t seg4 __attribute__((vector_size(2 * PF_VL)));
    size_t i;
    for (i = 0; i + PF_VL <= n; i += PF_VL) {
        seg4 s;
        memcpy(&s, seg + i, sizeof s);
        pf_vf_store(img + i, pf_vf_select(__builtin_convertvector(s, pf_vi) < 0, pf_vf_splat(0.0f),
                                          pf_vf_load(img + i)));
    }
    return i;
}

/* The voxels come in chunks of PF_MASK_CHUNK (intensity_i.h) whose seg alone says what to do:
 * no voxel outside, nothing (the image is not even read); all outside, zeros (+0, what
 * x & ~mask gives), written only where the chunk is not +0 already (the usual case when no
 * step ran before: the normalisation and the samplers write +0 outside the case), so no
 * cache line is dirtied for nothing; else voxel by voxel. A mask after no other step thus
 * costs the seg's reading and a reading of the outside, not a pass over the channel. */
void pf_int_mask(float *img, const int16_t *seg, size_t n, int wide)
{
    const uint64_t signs = 0x8000800080008000ull; /* the sign bits of four int16 in a word */
    size_t i;
    for (i = WIDE(pf_int_mask_avx2(img, seg, n)); i + PF_MASK_CHUNK <= n; i += PF_MASK_CHUNK) {
        uint64_t any = 0, all = signs;
        for (size_t j = 0; j < PF_MASK_CHUNK; j += 4) {
            uint64_t w;
            memcpy(&w, seg + i + j, sizeof w);
            any |= w;
            all &= w;
        }
        if ((any & signs) == 0)
            continue;
        if (all == signs) {
            uint32_t bits = 0;
            for (size_t j = 0; j < PF_MASK_CHUNK; j++) {
                uint32_t b;
                memcpy(&b, img + i + j, sizeof b);
                bits |= b;
            }
            if (bits != 0)
                memset(img + i, 0, PF_MASK_CHUNK * sizeof *img);
        } else {
            mask_lanes(img + i, seg + i, PF_MASK_CHUNK);
        }
    }
    for (i += mask_lanes(img + i, seg + i, n - i); i < n; i++)
        if (seg[i] < 0)
            img[i] = 0.0f;
}

/* ---- passes ---- */

/* The per-voxel steps waiting for the channel's next pass, in nnU-Net's order (a chain queues
 * at most one of contrast and restore: gamma's power, which needs the whole channel, comes
 * between them). */
typedef struct pass_ops {
    const pf_aug_params *noise; /* the noise of voxels first + i (counted over channels) */
    size_t first;
    int scale;
    float f;
    int contrast;
    float c_mean, c_f, c_mn, c_mx;
    int restore;
    pf_int_restore r;
    const int16_t *mask; /* 0 where mask[i] < 0 */
} pass_ops;

/* voxels per block: 16 KiB of float and 8 KiB of seg, in L1 from the first step to the last
 * (a multiple of 16, so the noise's blocks of 16 voxels are not cut, and of the statistics'
 * lane count) */
#define PASS_BLOCK 4096

static int queued(const pass_ops *o)
{
    return o->noise || o->scale || o->contrast || o->restore || o->mask;
}

/* The queued steps on voxels [at, at + len) of the channel, x pointing at voxel at: the noise
 * (keyed by the voxels' indices), then the others (the mask read at at). */
static void run_noise(float *x, size_t at, size_t len, const pass_ops *o, int wide)
{
    if (o->noise)
        pf_int_add_noise(o->noise, o->first + at, len, x, wide);
}

static void run_after_noise(float *x, size_t at, size_t len, const pass_ops *o, int wide)
{
    if (o->scale)
        pf_int_scale(x, len, o->f, wide);
    if (o->contrast)
        pf_int_contrast(x, len, o->c_mean, o->c_f, o->c_mn, o->c_mx, wide);
    if (o->restore)
        pf_int_restore_pass(x, len, &o->r, wide);
    if (o->mask)
        pf_int_mask(x, o->mask + at, len, wide);
}

/* The queued steps on channel v, block by block; with st the statistics of the result, taken
 * in the same pass. Empties the queue. */
static void run_pass(float *v, size_t n, pass_ops *o, pf_int_stats *st, int wide)
{
    pf_int_acc acc;
    if (!queued(o) && !st)
        return;
    for (size_t b = 0; b < n; b += PASS_BLOCK) {
        const size_t len = n - b < PASS_BLOCK ? n - b : PASS_BLOCK;
        float *x = v + b;
        run_noise(x, b, len, o, wide);
        run_after_noise(x, b, len, o, wide);
        if (st) {
            if (b == 0)
                pf_int_acc_init(&acc, x[0]);
            pf_int_acc_add(&acc, x, len, wide);
        }
    }
    if (st)
        *st = pf_int_acc_result(&acc);
    memset(o, 0, sizeof *o);
}

typedef struct steps_at {
    const pass_ops *o;
    int wide;
} steps_at;

static void visit_noise(float *x, size_t at, size_t len, void *arg)
{
    const steps_at *s = arg;
    run_noise(x, at, len, s->o, s->wide);
}

static void visit_after_noise(float *x, size_t at, size_t len, void *arg)
{
    const steps_at *s = arg;
    run_after_noise(x, at, len, s->o, s->wide);
}

/* The last pass with the mirroring along m folded in (o->mask: the seg as the result is laid
 * out, mirrored). The channel is walked by pairs of row runs that the mirroring exchanges
 * (pf_mirror_walk, runs of half a block so that a pair fits where a block did): each run's
 * noise added at its unmirrored place (keyed by its voxels' own indices), the pair exchanged,
 * then the other steps done at the mirrored place (the mask read there) while the pair is in
 * cache. Every voxel gets the same operations in the same order as in run_pass, each a
 * function of the voxel alone (the lanes' loops and their scalar tails compute the same
 * formula), the noise of its own index and the mask of its own voxel: the bytes of run_pass
 * then the separate mirroring, in one trip through memory instead of two. With nothing queued
 * it is the mirroring alone. Empties the queue. */
static void run_pass_mirrored(float *v, const int P[3], const int m[3], pass_ops *o, int wide)
{
    steps_at s = {o, wide};
    const int rest = o->scale || o->contrast || o->restore || o->mask;
    pf_mirror_walk(v, P, m, PASS_BLOCK / 2, o->noise ? visit_noise : NULL,
                   rest ? visit_after_noise : NULL, &s);
    memset(o, 0, sizeof *o);
}

/* ---- the chain ---- */

/* Channel c (v, n voxels) through the transforms p gives it, then zeroed where mask < 0 (mask
 * NULL: not masked), then mirrored along mirror (NULL: not mirrored); mask is laid out as the
 * result (mirrored when mirror). */
static int chain_channel(const pf_aug_params *p, const int patch[3], int c, size_t n, float *v,
                         const int16_t *mask, const int *mirror, int wide)
{
    pass_ops o;
    pf_int_stats st;
    memset(&o, 0, sizeof o);
    if (p->noise) {
        o.noise = p;
        o.first = (size_t)c * n;
    }
    if (p->blur[c]) {
        run_pass(v, n, &o, NULL, wide);
        if (pf_int_blur(v, patch, p->blur_sigma[c], wide) != 0)
            return -1;
    }
    if (p->bright) {
        o.scale = 1;
        o.f = (float)p->bright_f[c];
    }
    if (p->contrast) {
        run_pass(v, n, &o, &st, wide);
        o.contrast = 1;
        o.c_mean = (float)st.mean, o.c_f = (float)p->contrast_f[c];
        o.c_mn = st.mn, o.c_mx = st.mx;
    }
    if (p->lowres[c]) {
        run_pass(v, n, &o, NULL, wide);
        if (pf_int_lowres(v, patch, p->lowres_zoom[c], p->dims == 2, wide) != 0)
            return -1;
    }
    if (p->gamma_inv) {
        run_pass(v, n, &o, &st, wide);
        pf_int_gamma(v, n, p->gamma_inv_g[c], 1, st, wide, &o.r);
        o.restore = 1;
    }
    if (p->gamma) {
        run_pass(v, n, &o, &st, wide);
        pf_int_gamma(v, n, p->gamma_g[c], 0, st, wide, &o.r);
        o.restore = 1;
    }
    o.mask = mask;
    if (mirror)
        run_pass_mirrored(v, patch, mirror, &o, wide);
    else
        run_pass(v, n, &o, NULL, wide);
    return 0;
}

int pf_aug_intensity(const pf_aug_params *p, int channels, const int patch[3], float *img)
{
    return pf_aug_intensity_channels(p, patch, 0, channels, img);
}

int pf_aug_intensity_channels(const pf_aug_params *p, const int patch[3], int ch0, int ch1,
                              float *img)
{
    return pf_aug_intensity_masked(p, patch, ch0, ch1, img, NULL, NULL);
}

/* Every transform works on one channel at a time (the noise by global voxel index), so the
 * chain is applied channel by channel: the same bytes as transform by transform. */
static int chain(const pf_aug_params *p, const int patch[3], int ch0, int ch1, float *img,
                 const int16_t *seg, const unsigned char *masked, const int *mirror)
{
    const size_t n = (size_t)patch[0] * (size_t)patch[1] * (size_t)patch[2];
    const int wide = pf_simd_active() == PF_SIMD_AVX2;
    for (int c = ch0; c < ch1; c++)
        if (chain_channel(p, patch, c, n, img + (size_t)(c - ch0) * n,
                          seg && masked && masked[c] ? seg : NULL, mirror, wide) != 0)
            return -1;
    return 0;
}

int pf_aug_intensity_masked(const pf_aug_params *p, const int patch[3], int ch0, int ch1,
                            float *img, const int16_t *seg, const unsigned char *masked)
{
    return chain(p, patch, ch0, ch1, img, seg, masked, NULL);
}

/* The mirroring pf_aug_mirror would do afterwards (none when folded into the samplers or the
 * crop), done in the chain's last pass instead. */
int pf_aug_intensity_mirrored(const pf_aug_params *p, const int patch[3], int ch0, int ch1,
                              float *img, const int16_t *seg, const unsigned char *masked)
{
    const int *m = p->mirror;
    const int mirror = (m[0] || m[1] || m[2]) && !pf_aug_mirror_in_grid(p) &&
                       !pf_aug_mirror_in_crop(p);
    return chain(p, patch, ch0, ch1, img, seg, masked, mirror ? m : NULL);
}

void pf_aug_mask_outside(float *img, const int16_t *seg, size_t n)
{
    pf_int_mask(img, seg, n, pf_simd_active() == PF_SIMD_AVX2);
}
