/* test_simd_intensity.c - every vector path gives the same bytes (issue 17 item 4).
 *
 * The intensity transforms pick their loops at run time (simd.h): eight lanes with AVX2, four
 * (SSE2 / NEON) otherwise. Here each transform alone, and all of them in nnU-Net's order, run
 * under every path this CPU has (pf_simd_force) on the same input, and the outputs must be
 * bit-identical to the scalar level's. Inputs cover what the arithmetic is sensitive to:
 * random values, zeros, +0 and -0 mixed (which a min or max keeps depends on the order of the
 * comparisons), only negatives, a constant channel, a huge and a tiny range, runs of equal
 * values (gamma takes a repeated group's result from the group before), and patch sizes
 * that are not multiples of 8 (remainders of both loop widths; a channel's noise starting
 * inside a block). vecmath8.h's functions are also compared lane by lane with vecmath.h's. */
#include "testutil.h"

#include "augment.h"
#include "intensity_i.h"
#include "simd.h"
#include "vecmath.h"
#include "vecmath8.h"

static uint32_t next_u32(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 32);
}

/* ---- vecmath8.h against vecmath.h ---- */

#ifdef PF_HAVE_AVX2
#define N_PROBE 4096

PF_AVX2 static void probe8(const float *x, float *out)
{
    for (int i = 0; i < N_PROBE; i += 8) {
        pf_vf8 v = pf_vf8_load(x + i), c, s, u = v - pf_vf8_floor(v);
        pf_vf8_store(out + 0 * N_PROBE + i, pf_vf8_log2(pf_vf8_max(v, pf_vf8_splat(1e-30f))));
        pf_vf8_store(out + 1 * N_PROBE + i, pf_vf8_exp2(pf_vf8_min(pf_vf8_max(v, pf_vf8_splat(-126.0f)),
                                                                 pf_vf8_splat(127.0f))));
        pf_vf8_cossin_turn(u, &c, &s);
        pf_vf8_store(out + 2 * N_PROBE + i, c);
        pf_vf8_store(out + 3 * N_PROBE + i, s);
        pf_vf8_store(out + 4 * N_PROBE + i, pf_vf8_floor(v));
        pf_vf8_store(out + 5 * N_PROBE + i, pf_vf8_sqrt(v * v));
        pf_vf8_store(out + 6 * N_PROBE + i, pf_vf8_min(v, pf_vf8_load(x + (i + 8) % N_PROBE)));
        pf_vf8_store(out + 7 * N_PROBE + i, pf_vf8_max(v, pf_vf8_load(x + (i + 8) % N_PROBE)));
    }
}

static void probe4(const float *x, float *out)
{
    for (int i = 0; i < N_PROBE; i += 4) {
        pf_vf v = pf_vf_load(x + i), c, s, u = v - pf_vf_floor(v);
        pf_vf_store(out + 0 * N_PROBE + i, pf_vf_log2(pf_vf_max(v, pf_vf_splat(1e-30f))));
        pf_vf_store(out + 1 * N_PROBE + i, pf_vf_exp2(pf_vf_min(pf_vf_max(v, pf_vf_splat(-126.0f)),
                                                              pf_vf_splat(127.0f))));
        pf_vf_cossin_turn(u, &c, &s);
        pf_vf_store(out + 2 * N_PROBE + i, c);
        pf_vf_store(out + 3 * N_PROBE + i, s);
        pf_vf_store(out + 4 * N_PROBE + i, pf_vf_floor(v));
        pf_vf_store(out + 5 * N_PROBE + i, pf_vf_sqrt(v * v));
        /* the same neighbour as the eight-lane probe: lanes of the next group of 8 */
        pf_vf_store(out + 6 * N_PROBE + i,
                    pf_vf_min(v, pf_vf_load(x + ((i / 8) * 8 + 8) % N_PROBE + i % 8)));
        pf_vf_store(out + 7 * N_PROBE + i,
                    pf_vf_max(v, pf_vf_load(x + ((i / 8) * 8 + 8) % N_PROBE + i % 8)));
    }
}
#endif

static void test_vecmath8_matches_vecmath(void **state)
{
    (void)state;
#ifdef PF_HAVE_AVX2
    if (pf_simd_detect() < PF_SIMD_AVX2) {
        skip();
        return;
    }
    {
        float *x = malloc(N_PROBE * sizeof *x), *a = malloc(8 * N_PROBE * sizeof *a),
              *b = malloc(8 * N_PROBE * sizeof *b);
        uint64_t s = 42;
        assert_non_null(x && a && b);
        for (int i = 0; i < N_PROBE; i++) {
            const uint32_t h = next_u32(&s);
            switch (i % 4) {
            case 0: /* wide range: tiny to huge, both signs */
                x[i] = ldexpf((float)(h & 0xffff) / 65536.0f + 0.5f, (int)(h >> 16) % 200 - 100);
                break;
            case 1: /* exp2's argument range and quarter-turn boundaries */
                x[i] = (float)((int32_t)h % 256000) / 1000.0f;
                break;
            case 2:
                x[i] = (h & 1) ? 0.0f : -0.0f;
                break;
            default:
                x[i] = (float)(h % 9) * 0.25f - 1.0f;
            }
            if (h & 0x80000000u)
                x[i] = -x[i];
        }
        probe8(x, a);
        probe4(x, b);
        assert_memory_equal(a, b, 8 * N_PROBE * sizeof *a);
        free(x);
        free(a);
        free(b);
    }
#else
    skip();
#endif
}

/* ---- the transforms on every path ---- */

enum { IN_RANDOM, IN_ZEROS, IN_SIGNED_ZEROS, IN_NEGATIVE, IN_CONSTANT, IN_HUGE, IN_TINY, IN_RUNS,
       IN_KINDS };

static void fill(float *v, size_t n, int kind, uint64_t seed)
{
    uint64_t s = seed;
    size_t run_end = 0;
    for (size_t i = 0; i < n; i++) {
        const uint32_t h = next_u32(&s);
        const float u = (float)(h >> 8) * 0x1p-24f; /* [0, 1) */
        switch (kind) {
        case IN_RANDOM:
            v[i] = 4.0f * u - 2.0f;
            break;
        case IN_ZEROS:
            v[i] = 0.0f;
            break;
        case IN_SIGNED_ZEROS: /* mostly zeros of both signs, a few values either side */
            v[i] = h % 7 == 0 ? u - 0.5f : (h & 1) ? 0.0f : -0.0f;
            break;
        case IN_NEGATIVE:
            v[i] = -1.0f - 3.0f * u;
            break;
        case IN_CONSTANT:
            v[i] = 3.5f;
            break;
        case IN_HUGE:
            v[i] = (u - 0.5f) * 1e30f;
            break;
        case IN_RUNS: /* runs of 1 to 40 equal values (a background): gamma reuses a group's result */
            if (i >= run_end) {
                run_end = i + 1 + h % 40;
                v[i] = h % 3 == 0 ? 0.0f : 2.0f * u - 1.0f;
            } else {
                v[i] = v[i - 1];
            }
            break;
        default: /* IN_TINY */
            v[i] = 1.0f + u * 1e-6f;
        }
    }
}

enum { T_NOISE, T_BLUR, T_BRIGHT, T_CONTRAST, T_LOWRES, T_GAMMA_INV, T_GAMMA, T_ALL, T_COUNT };

static pf_aug_params params_for(int t, int dims, uint64_t seed)
{
    pf_aug_params p;
    uint64_t s = seed;
    memset(&p, 0, sizeof p);
    p.dims = dims;
    p.noise = t == T_NOISE || t == T_ALL;
    p.noise_sigma = 0.1, p.noise_key = 0x123456789abcull ^ seed;
    p.bright = t == T_BRIGHT || t == T_ALL;
    p.contrast = t == T_CONTRAST || t == T_ALL;
    p.gamma_inv = t == T_GAMMA_INV || t == T_ALL;
    p.gamma = t == T_GAMMA || t == T_ALL;
    for (int c = 0; c < 3; c++) {
        const double u = (double)next_u32(&s) / 4294967296.0;
        p.blur[c] = t == T_BLUR || t == T_ALL;
        p.blur_sigma[c][0] = 0.5 + 1.8 * u; /* up to the largest radius (7) */
        p.blur_sigma[c][1] = 0.6, p.blur_sigma[c][2] = 1.0 - 0.4 * u;
        p.bright_f[c] = 0.7 + 0.6 * u, p.contrast_f[c] = 0.65 + 0.85 * u;
        p.lowres[c] = t == T_LOWRES || t == T_ALL, p.lowres_zoom[c] = 0.5 + 0.5 * u;
        p.gamma_inv_g[c] = 0.7 + 0.8 * u, p.gamma_g[c] = 1.5 - 0.8 * u;
    }
    return p;
}

static const int shapes[][3] = {{9, 13, 11}, {1, 1, 1}, {1, 1, 7}, {2, 3, 5},
                                {4, 8, 8},   {3, 17, 19}, {1, 20, 23}};

/* every path's bytes against the scalar level's, for one shape, input kind and transform */
static void check_paths(const int P[3], int kind, int t, int dims, pf_simd_level best)
{
    const int C = 3;
    const size_t nv = (size_t)P[0] * (size_t)P[1] * (size_t)P[2], n = nv * (size_t)C;
    const pf_aug_params p = params_for(t, dims, (uint64_t)kind * 131 + (uint64_t)t);
    float *in = malloc(n * sizeof *in), *ref = malloc(n * sizeof *ref), *out = malloc(n * sizeof *out);
    assert_non_null(in && ref && out);
    fill(in, n, kind, 7 + (uint64_t)kind);
    for (int level = PF_SIMD_SCALAR; level <= (int)best; level++) {
        float *dst = level == PF_SIMD_SCALAR ? ref : out;
        assert_int_equal(pf_simd_force((pf_simd_level)level), level);
        memcpy(dst, in, n * sizeof *in);
        /* channel 0 through the whole-sample call, channels 1-2 on their own (the noise of a
         * channel starting at voxel nv, inside a block when nv is not a multiple of 8) */
        assert_int_equal(pf_aug_intensity(&p, 1, P, dst), 0);
        assert_int_equal(pf_aug_intensity_channels(&p, P, 1, C, dst + nv), 0);
        if (level != PF_SIMD_SCALAR && memcmp(ref, out, n * sizeof *out) != 0) {
            size_t i = 0;
            while (memcmp(&ref[i], &out[i], sizeof *out) == 0)
                i++;
            fail_msg("path %s differs from scalar: shape %dx%dx%d input %d transform %d at %zu: "
                     "%a vs %a", pf_simd_name((pf_simd_level)level), P[0], P[1], P[2], kind, t, i,
                     (double)out[i], (double)ref[i]);
        }
    }
    free(in);
    free(ref);
    free(out);
}

static void test_transforms_same_bytes_on_every_path(void **state)
{
    const pf_simd_level best = pf_simd_detect();
    (void)state;
    printf("paths compared: scalar .. %s\n", pf_simd_name(best));
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int kind = 0; kind < IN_KINDS; kind++)
            for (int t = 0; t < T_COUNT; t++)
                check_paths(shapes[s], kind, t, 3, best);
    /* in-plane low resolution (2D configurations) */
    for (int kind = 0; kind < IN_KINDS; kind++)
        check_paths(shapes[0], kind, T_ALL, 2, best);
    pf_simd_force(best);
}

/* A 128x128x16 two-channel sample with every transform: the sizes the served files have
 * (whole rows of 128, every loop long), same bytes on every path. */
static void test_large_sample_same_bytes(void **state)
{
    static const int P[3] = {16, 128, 128};
    const pf_simd_level best = pf_simd_detect();
    (void)state;
    for (int kind = IN_RANDOM; kind <= IN_SIGNED_ZEROS; kind += 2)
        check_paths(P, kind, T_ALL, 3, best);
    pf_simd_force(best);
}

/* The masking after the transforms (use_mask_for_norm): 0 where the seg is < 0, the voxel's
 * bits untouched elsewhere, on every path; runs of seg wholly outside, wholly inside (which the
 * masking skips by chunks) and mixed, cut at every remainder; runs outside already +0 (whose
 * writing the masking skips) with a -0 among them. */
static void test_mask_outside_every_path(void **state)
{
    const size_t n = 1000003;
    float *in = malloc(n * sizeof *in), *out = malloc(n * sizeof *out);
    int16_t *seg = malloc(n * sizeof *seg);
    uint64_t s = 5;
    (void)state;
    assert_non_null(in && out && seg);
    fill(in, n, IN_SIGNED_ZEROS, 3);
    for (size_t i = 0; i < 5000; i++) /* +0 already (skipped), but for one -0 (written) */
        in[i] = i == 1234 ? -0.0f : 0.0f;
    for (size_t i = 0; i < n; i++) { /* runs all outside, runs all inside, mixed runs */
        const uint32_t h = next_u32(&s);
        seg[i] = (int16_t)(i % 1000 < 300 ? -1 : i % 1000 < 600 ? (int)(h % 4)
                           : h % 5 == 0 ? -(int)(h % 7) - 1 : (int)(h % 4));
        if (i % 11 == 0 && i % 1000 >= 600)
            seg[i] = (int16_t)(h & 1 ? -32768 : 32767);
        if (i % 1000 == 450 && i % 3000 == 450) /* one outside voxel in a run inside */
            seg[i] = -1;
    }
    for (int level = PF_SIMD_SCALAR; level <= (int)pf_simd_detect(); level++) {
        pf_simd_force((pf_simd_level)level);
        for (size_t len = n; len + 20 > n; len -= 7) { /* remainders of both widths */
            memcpy(out, in, n * sizeof *in);
            pf_aug_mask_outside(out, seg, len);
            for (size_t i = 0; i < n; i++) {
                const float want = i < len && seg[i] < 0 ? 0.0f : in[i];
                if (memcmp(&out[i], &want, sizeof want) != 0)
                    fail_msg("%s: voxel %zu of %zu", pf_simd_name((pf_simd_level)level), i, len);
            }
        }
    }
    pf_simd_force(pf_simd_detect());
    free(in);
    free(out);
    free(seg);
}

/* ---- the channel statistics ---- */

/* The running sums, minima and maxima (pf_int_acc) with the eight-lane kernel, whose minima
 * and maxima run in four chains over contiguous runs, against the four-lane loop's one chain:
 * the same bits, fed in blocks as the passes feed them. Inputs where the chains' order shows:
 * zeros of both signs at the minimum (all >= 0) or at the maximum (all <= 0), anywhere or only
 * early (the last one in an early run), infinities, NaNs (one anywhere: the kernel falls back
 * to one chain). */
static void test_stats_runs_same_bits(void **state)
{
    static const size_t lens[] = {1, 7, 8, 31, 32, 33, 127, 4096, 4100, 9001};
    float *v = malloc(9001 * sizeof *v);
    uint64_t s = 77;
    (void)state;
    assert_non_null(v);
#ifdef PF_HAVE_AVX2
    if (pf_simd_detect() < PF_SIMD_AVX2) {
        free(v);
        skip();
        return;
    }
#endif
    for (int kind = 0; kind < 8; kind++)
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            const size_t n = lens[li];
            pf_int_acc a[2];
            for (size_t i = 0; i < n; i++) {
                const uint32_t h = next_u32(&s);
                const float u = (float)(h >> 8) * 0x1p-24f;
                const float z = (h & 1) ? 0.0f : -0.0f;
                v[i] = kind == 0 ? (h % 3 ? z : u)                 /* min: a zero */
                       : kind == 1 ? (h % 3 ? z : -u)              /* max: a zero */
                       : kind == 2 ? (h % 97 == 0 ? (h & 2 ? 1.0f : -1.0f) / 0.0f : u - 0.5f)
                       : kind == 3 ? (i == (size_t)(h >> 4) % n ? __builtin_nanf("") : z)
                       : kind == 4 ? (h % 5 == 0 ? __builtin_nanf("") : u) /* NaNs */
                       : kind == 5 ? (float)(h % 4) - 1.5f         /* few values, ties */
                       : kind == 6 ? (i < n / 3 ? z : 1.0f + u)    /* the last zero early */
                                   : (i < n / 3 ? z : -1.0f - u);
            }
            for (int wide = 0; wide < 2; wide++) {
                pf_int_acc_init(&a[wide], v[0]);
                for (size_t b = 0; b < n; b += 4096) /* blocks as run_pass cuts them */
                    pf_int_acc_add(&a[wide], v + b, n - b < 4096 ? n - b : 4096, wide);
            }
            if (memcmp(&a[0].s, &a[1].s, sizeof a[0].s) ||
                memcmp(&a[0].q, &a[1].q, sizeof a[0].q) ||
                memcmp(&a[0].mn, &a[1].mn, sizeof a[0].mn) ||
                memcmp(&a[0].mx, &a[1].mx, sizeof a[0].mx) || a[0].n != a[1].n)
                fail_msg("statistics differ: kind %d, %zu values: min %a %a %a %a / %a %a %a %a",
                         kind, n, (double)a[0].mn[0], (double)a[0].mn[1], (double)a[0].mn[2],
                         (double)a[0].mn[3], (double)a[1].mn[0], (double)a[1].mn[1],
                         (double)a[1].mn[2], (double)a[1].mn[3]);
        }
    free(v);
}

/* ---- the chain fused against transform by transform ---- */

enum { SEG_INSIDE, SEG_OUTSIDE, SEG_MIXED, SEG_KINDS };

static void fill_seg(int16_t *seg, size_t n, int kind, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        const uint32_t h = next_u32(&s);
        seg[i] = (int16_t)(kind == SEG_INSIDE ? (int)(h % 3) : kind == SEG_OUTSIDE ? -1
                           : (i / 97) % 3 == 0 ? -1 : (i / 97) % 3 == 1 ? (int)(h % 3)
                           : h % 4 == 0 ? -(int)(h % 5) - 1 : (int)(h % 3));
    }
}

/* The transforms of bit set `on` (bit t: transform t of T_NOISE .. T_GAMMA) on C channels of
 * img, one transform at a time (each call has nothing to fuse: a pass per step, as before the
 * fusing), then the channels with masked[c] zeroed where seg < 0 by a loop written here. */
static void one_by_one(int on, const int P[3], int C, const int16_t *seg,
                       const unsigned char *masked, uint64_t seed, float *img)
{
    const size_t nv = (size_t)P[0] * (size_t)P[1] * (size_t)P[2];
    for (int t = T_NOISE; t <= T_GAMMA; t++)
        if (on >> t & 1) {
            const pf_aug_params p = params_for(t, 3, seed);
            assert_int_equal(pf_aug_intensity(&p, C, P, img), 0);
        }
    for (int c = 0; c < C; c++)
        for (size_t i = 0; masked[c] && i < nv; i++)
            if (seg[i] < 0)
                img[(size_t)c * nv + i] = 0.0f;
}

/* params_for's values with the transforms of `on` */
static pf_aug_params params_of_set(int on, uint64_t seed)
{
    pf_aug_params p = params_for(T_ALL, 3, seed);
    p.noise = on >> T_NOISE & 1, p.bright = on >> T_BRIGHT & 1, p.contrast = on >> T_CONTRAST & 1;
    p.gamma_inv = on >> T_GAMMA_INV & 1, p.gamma = on >> T_GAMMA & 1;
    for (int c = 0; c < 3; c++)
        p.blur[c] = on >> T_BLUR & 1, p.lowres[c] = on >> T_LOWRES & 1;
    return p;
}

/* Every subset of the transforms, masked or not, seg wholly inside, wholly outside or mixed,
 * on every path: pf_aug_intensity_masked (the per-voxel steps and the statistics fused into
 * block passes, the masking in the last) gives the bytes of the transforms one by one and the
 * masking after them. The channels (8241 voxels: two whole blocks of the passes and a cut one)
 * are rendered as channel 0 and channels 1-2 (a channel's noise starting inside a block). */
static void test_fused_chain_same_bytes(void **state)
{
    static const int shapes_fused[][3] = {{3, 41, 67}, {2, 5, 7}};
    static const unsigned char masked_sets[][3] = {{0, 0, 0}, {1, 0, 1}, {1, 1, 1}};
    const pf_simd_level best = pf_simd_detect();
    const int C = 3;
    (void)state;
    for (size_t sh = 0; sh < 2; sh++) {
        const int *P = shapes_fused[sh];
        const size_t nv = (size_t)P[0] * (size_t)P[1] * (size_t)P[2], n = nv * (size_t)C;
        float *in = malloc(n * sizeof *in), *ref = malloc(n * sizeof *ref),
              *out = malloc(n * sizeof *out), *scalar = malloc(n * sizeof *scalar);
        int16_t *seg = malloc(nv * sizeof *seg);
        assert_non_null(in && ref && out && scalar && seg);
        for (int on = 0; on < 1 << (T_GAMMA + 1); on++) {
            const uint64_t seed = (uint64_t)on * 7 + sh;
            const int kind = on % 3 == 0 ? IN_RANDOM : on % 3 == 1 ? IN_SIGNED_ZEROS : IN_RUNS;
            const pf_aug_params p = params_of_set(on, seed);
            fill(in, n, kind, seed);
            for (int sk = 0; sk < SEG_KINDS; sk++) {
                const unsigned char *masked = masked_sets[(on + sk) % 3];
                fill_seg(seg, nv, sk, seed + 1);
                for (int level = PF_SIMD_SCALAR; level <= (int)best; level++) {
                    assert_int_equal(pf_simd_force((pf_simd_level)level), level);
                    memcpy(ref, in, n * sizeof *in);
                    one_by_one(on, P, C, seg, masked, seed, ref);
                    memcpy(out, in, n * sizeof *in);
                    assert_int_equal(pf_aug_intensity_masked(&p, P, 0, 1, out, seg, masked), 0);
                    assert_int_equal(pf_aug_intensity_masked(&p, P, 1, C, out + nv, seg, masked),
                                     0);
                    if (memcmp(ref, out, n * sizeof *out) != 0) {
                        size_t i = 0;
                        while (memcmp(&ref[i], &out[i], sizeof *out) == 0)
                            i++;
                        fail_msg("%s: fused differs from one by one: shape %d transforms %#x "
                                 "seg %d at %zu: %a vs %a", pf_simd_name((pf_simd_level)level),
                                 (int)sh, on, sk, i, (double)out[i], (double)ref[i]);
                    }
                    if (level == PF_SIMD_SCALAR)
                        memcpy(scalar, out, n * sizeof *out);
                    else if (memcmp(scalar, out, n * sizeof *out) != 0)
                        fail_msg("%s differs from scalar: shape %d transforms %#x seg %d",
                                 pf_simd_name((pf_simd_level)level), (int)sh, on, sk);
                }
            }
        }
        free(in);
        free(ref);
        free(out);
        free(scalar);
        free(seg);
    }
    pf_simd_force(best);
}

/* The image's mirroring folded into the chain's last pass (pf_aug_intensity_mirrored, given
 * the seg as served: mirrored) gives the bytes of the chain masked by the seg before mirroring
 * then the separate mirroring pass (pf_aug_intensity_masked then pf_aug_mirror, as render.c
 * did), for every mirror-axis combination, with and without a spatial transform (which
 * decides whether the mirroring is folded into the samplers instead), on every path. The
 * shapes: X not a multiple of 8 or 16 (the steps' tails inside rows, a row's noise starting
 * inside a block), multiples of 4 and 8 but not 16, odd and even numbers
 * of planes and rows (a middle plane and a middle row mirrored onto themselves), a single row,
 * rows longer than the walk's run. Transform sets with nothing left for the last pass (blur or
 * low resolution alone, unmasked) are among them: the mirroring alone. */
static void test_mirror_in_last_pass_same_bytes(void **state)
{
    static const int shapes_m[][3] = {{3, 41, 67}, {2, 5, 7}, {4, 7, 20}, {5, 6, 24},
                                      {1, 9, 33}, {2, 3, 2051}, {1, 1, 13}};
    static const unsigned char masked_sets[][3] = {{0, 0, 0}, {1, 0, 1}, {1, 1, 1}};
    const pf_simd_level best = pf_simd_detect();
    const int C = 3;
    int moved = 0, runs = 0;
    (void)state;
    for (size_t sh = 0; sh < sizeof shapes_m / sizeof shapes_m[0]; sh++) {
        const int *P = shapes_m[sh];
        const size_t nv = (size_t)P[0] * (size_t)P[1] * (size_t)P[2], n = nv * (size_t)C;
        float *in = malloc(n * sizeof *in), *ref = malloc(n * sizeof *ref),
              *out = malloc(n * sizeof *out), *scalar = malloc(n * sizeof *scalar);
        int16_t *seg = malloc(nv * sizeof *seg), *seg_ref = malloc(nv * sizeof *seg);
        assert_non_null(in && ref && out && scalar && seg && seg_ref);
        for (int mi = 0; mi < 8; mi++)
            for (int on = mi % 3; on < 1 << (T_GAMMA + 1); on += 3) {
                const uint64_t seed = (uint64_t)on * 11 + (uint64_t)mi * 5 + sh;
                const int kind = on % 3 == 0 ? IN_RANDOM : on % 3 == 1 ? IN_SIGNED_ZEROS : IN_RUNS;
                const int sk = (on / 3 + mi) % SEG_KINDS;
                const unsigned char *masked = masked_sets[(on + mi) % 3];
                pf_aug_params p = params_of_set(on, seed);
                p.mirror[0] = mi & 1, p.mirror[1] = mi >> 1 & 1, p.mirror[2] = mi >> 2 & 1;
                p.rotate = on % 2, p.angle[0] = 0.3; /* resampled or a plain crop */
                fill(in, n, kind, seed);
                fill_seg(seg, nv, sk, seed + 1);
                for (int level = PF_SIMD_SCALAR; level <= (int)best; level++) {
                    assert_int_equal(pf_simd_force((pf_simd_level)level), level);
                    memcpy(ref, in, n * sizeof *in);
                    memcpy(seg_ref, seg, nv * sizeof *seg);
                    assert_int_equal(pf_aug_intensity_masked(&p, P, 0, C, ref, seg, masked), 0);
                    pf_aug_mirror(&p, C, P, ref, seg_ref); /* seg_ref: the seg as served */
                    memcpy(out, in, n * sizeof *in);
                    /* channel 0 alone, channels 1-2 together, as render.c may split them */
                    assert_int_equal(pf_aug_intensity_mirrored(&p, P, 0, 1, out, seg_ref, masked),
                                     0);
                    assert_int_equal(
                        pf_aug_intensity_mirrored(&p, P, 1, C, out + nv, seg_ref, masked), 0);
                    if (memcmp(ref, out, n * sizeof *out) != 0) {
                        size_t i = 0;
                        while (memcmp(&ref[i], &out[i], sizeof *out) == 0)
                            i++;
                        fail_msg("%s: mirrored in the last pass differs from mirrored after: "
                                 "shape %dx%dx%d mirror %d transforms %#x seg %d at %zu: %a vs %a",
                                 pf_simd_name((pf_simd_level)level), P[0], P[1], P[2], mi, on, sk,
                                 i, (double)out[i], (double)ref[i]);
                    }
                    if (level == PF_SIMD_SCALAR)
                        memcpy(scalar, out, n * sizeof *out);
                    else if (memcmp(scalar, out, n * sizeof *out) != 0)
                        fail_msg("%s differs from scalar: shape %zu mirror %d transforms %#x",
                                 pf_simd_name((pf_simd_level)level), sh, mi, on);
                }
                /* the walk did move voxels (not both sides doing nothing) */
                if (mi != 0 && !pf_aug_mirror_in_grid(&p) && !pf_aug_mirror_in_crop(&p)) {
                    assert_int_equal(pf_aug_intensity_masked(&p, P, 0, C, in, seg, masked), 0);
                    runs++;
                    moved += memcmp(in, out, n * sizeof *out) != 0;
                }
            }
        free(in);
        free(ref);
        free(out);
        free(scalar);
        free(seg);
        free(seg_ref);
    }
    /* all but mirrorings that leave everything in place (a lone row along Z or Y, all masked) */
    printf("mirrored in the last pass: %d samples, %d changed by it\n", runs, moved);
    assert_true(runs > 1000 && moved > runs / 2);
    pf_simd_force(best);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vecmath8_matches_vecmath),
        cmocka_unit_test(test_transforms_same_bytes_on_every_path),
        cmocka_unit_test(test_large_sample_same_bytes),
        cmocka_unit_test(test_mask_outside_every_path),
        cmocka_unit_test(test_fused_chain_same_bytes),
        cmocka_unit_test(test_mirror_in_last_pass_same_bytes),
        cmocka_unit_test(test_stats_runs_same_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
