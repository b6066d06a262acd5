/* test_simd_extract.c - the plain crop (extract.h) gives the same bytes on every vector path
 * (base/simd.h: scalar, SSE2/NEON, AVX2; each path this CPU has is forced in turn with
 * pf_simd_force), and those bytes are the ones a per-voxel reading of the rule written here
 * gives: out = (clamp(v, lo, hi) - shift) / scale in float (v kept where the channel is masked
 * and the seg is < 0), 0.0 and label -1 outside the case. Random cases with int16 and int8
 * seg storage, rows of odd lengths (remainders of the 4-, 8- and 16-element loops), masked and
 * unmasked channels, unbounded and bounded clipping, NaNs of either sign and with payloads,
 * infinities, signed zeros; boxes inside, overhanging and wholly outside the case. The crop
 * written mirrored (pf_extract_*_mirrored) must equal the crop mirrored by index here, for
 * every axis combination; and pf_aug_mirror_in_crop takes exactly the unresampled samples
 * whose later transforms commute with mirroring. */
#include "testutil.h"

#include <math.h>

#include "augment.h"
#include "extract.h"
#include "simd.h"

static float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* An image value: mostly ordinary, sometimes one of the special values. */
static float random_value(void)
{
    switch (tu_irange(0, 19)) {
    case 0:
        return bits_float(0x7fc00000u); /* quiet NaN */
    case 1:
        return bits_float(0xffc00000u | (uint32_t)tu_irange(1, 0x3fffff)); /* negative, payload */
    case 2:
        return bits_float(0x7f800000u | (uint32_t)tu_irange(1, 0x3fffff)); /* signalling */
    case 3:
        return INFINITY;
    case 4:
        return -INFINITY;
    case 5:
        return -0.0f;
    case 6:
        return 0.0f;
    case 7:
        return (float)tu_uniform(-3e38, 3e38);
    default:
        return (float)tu_uniform(-500, 1500);
    }
}

/* A case of shape S, C channels, labels in [-3, 40] (int8 storage when narrow, else int16
 * with some that int8 could not hold). */
static void random_case(pf_case *c, const int64_t S[3], int C, int narrow)
{
    float *im;
    int16_t *sg;
    const size_t n = (size_t)(S[0] * S[1] * S[2]);
    tu_case_init(c, S[0], S[1], S[2], C, &im, &sg);
    for (size_t i = 0; i < n * (size_t)C; i++)
        im[i] = random_value();
    for (size_t i = 0; i < n; i++)
        sg[i] = (int16_t)(narrow || tu_irange(0, 9) ? tu_irange(-3, 40) : tu_irange(-30000, 30000));
    if (narrow) {
        int8_t *s8 = malloc(n);
        assert_non_null(s8);
        for (size_t i = 0; i < n; i++)
            s8[i] = (int8_t)sg[i];
        free((void *)c->map->seg16);
        c->map->seg16 = NULL;
        c->map->seg8 = s8;
    }
}

static pf_norm random_norm(void)
{
    pf_norm nm;
    const int bounded = tu_irange(0, 2);
    nm.lo = bounded ? (float)tu_uniform(-200, 300) : -INFINITY;
    nm.hi = bounded ? nm.lo + (float)tu_uniform(0, 900) : INFINITY;
    nm.shift = (float)tu_uniform(-100, 100);
    nm.scale = tu_irange(0, 5) ? (float)tu_uniform(0.01, 300) : (float)tu_uniform(1e-38, 1e-36);
    nm.masked = tu_irange(0, 1);
    return nm;
}

typedef struct coverage {
    long outside, masked_kept, nan_in, inf_in;
} coverage;

/* The crop by the rule, voxel by voxel, written at its mirrored place along flip's axes. */
static void reference(const pf_case *c, const pf_norm *norms, const int64_t start[3],
                      const int P[3], const int flip[3], float *img, int16_t *seg,
                      coverage *cov)
{
    const pf_case_map *m = c->map;
    const int64_t *S = c->hdr.shape;
    const size_t n = (size_t)P[0] * (size_t)P[1] * (size_t)P[2], nv = (size_t)(S[0] * S[1] * S[2]);
    for (int z = 0; z < P[0]; z++)
        for (int y = 0; y < P[1]; y++)
            for (int x = 0; x < P[2]; x++) {
                const int64_t q[3] = {start[0] + z, start[1] + y, start[2] + x};
                const int zo = flip[0] ? P[0] - 1 - z : z, yo = flip[1] ? P[1] - 1 - y : y,
                          xo = flip[2] ? P[2] - 1 - x : x;
                const size_t o = ((size_t)zo * (size_t)P[1] + (size_t)yo) * (size_t)P[2] + (size_t)xo;
                const int inside = q[0] >= 0 && q[0] < S[0] && q[1] >= 0 && q[1] < S[1] &&
                                   q[2] >= 0 && q[2] < S[2];
                const size_t s = inside ? (size_t)((q[0] * S[1] + q[1]) * S[2] + q[2]) : 0;
                const int label = !inside ? -1 : m->seg8 ? m->seg8[s] : m->seg16[s];
                seg[o] = (int16_t)label;
                cov->outside += !inside;
                for (uint32_t ch = 0; ch < c->hdr.n_channels; ch++) {
                    const pf_norm *nm = &norms[ch];
                    float v, t;
                    if (!inside) {
                        img[ch * n + o] = 0.0f;
                        continue;
                    }
                    v = m->image[ch * nv + s];
                    cov->nan_in += isnan(v) != 0;
                    cov->inf_in += isinf(v) != 0;
                    if (nm->masked && label < 0) {
                        img[ch * n + o] = v;
                        cov->masked_kept++;
                        continue;
                    }
                    t = v < nm->lo ? nm->lo : v;
                    t = t > nm->hi ? nm->hi : t;
                    img[ch * n + o] = (t - nm->shift) / nm->scale;
                }
            }
}

/* Every path, every mirroring, random cases and boxes: the rule's bytes. */
static void test_paths_match_rule(void **state)
{
    const pf_simd_level best = pf_simd_detect();
    coverage cov = {0, 0, 0, 0};
    (void)state;
    for (int trial = 0; trial < 40; trial++) {
        const int C = tu_irange(1, 3);
        const int64_t S[3] = {tu_irange(1, 7), tu_irange(1, 9), tu_irange(1, 70)};
        const int P[3] = {tu_irange(1, 6), tu_irange(1, 8), tu_irange(1, 53)};
        const size_t n = (size_t)P[0] * (size_t)P[1] * (size_t)P[2];
        pf_norm nm[3];
        int64_t start[3];
        pf_case c;
        float *ref = malloc(n * (size_t)C * sizeof *ref), *got = malloc(n * (size_t)C * sizeof *got);
        int16_t *rseg = malloc(n * sizeof *rseg), *gseg = malloc(n * sizeof *gseg);
        assert_true(ref && got && rseg && gseg);
        for (int ch = 0; ch < C; ch++)
            nm[ch] = random_norm();
        for (int d = 0; d < 3; d++) /* inside, overhanging either face, or wholly outside */
            start[d] = trial % 7 == 6 ? (int64_t)S[d] + tu_irange(0, 3)
                                      : tu_irange(-P[d] + 1 - (trial % 5 == 4), (int)S[d] - 1);
        random_case(&c, S, C, trial % 2);
        for (int combo = 0; combo < 8; combo++) {
            const int flip[3] = {combo & 1, (combo >> 1) & 1, (combo >> 2) & 1};
            reference(&c, nm, start, P, flip, ref, rseg, &cov);
            for (int level = PF_SIMD_SCALAR; level <= (int)best; level++) {
                assert_int_equal(pf_simd_force((pf_simd_level)level), level);
                memset(got, 0x5a, n * (size_t)C * sizeof *got);
                memset(gseg, 0x5a, n * sizeof *gseg);
                if (combo == 0) {
                    pf_extract_image(&c, nm, start, P, got);
                    pf_extract_seg(&c, start, P, gseg);
                    assert_memory_equal(ref, got, n * (size_t)C * sizeof *got);
                    assert_memory_equal(rseg, gseg, n * sizeof *gseg);
                    memset(got, 0x5a, n * (size_t)C * sizeof *got);
                    memset(gseg, 0x5a, n * sizeof *gseg);
                }
                pf_extract_image_mirrored(&c, nm, start, P, flip, got);
                pf_extract_seg_mirrored(&c, start, P, flip, gseg);
                assert_memory_equal(ref, got, n * (size_t)C * sizeof *got);
                assert_memory_equal(rseg, gseg, n * sizeof *gseg);
            }
        }
        tu_case_free(&c);
        free(ref);
        free(got);
        free(rseg);
        free(gseg);
    }
    pf_simd_force(best);
    /* the boxes met the special values, the mask rule and the outside */
    assert_true(cov.nan_in > 100);
    assert_true(cov.inf_in > 100);
    assert_true(cov.masked_kept > 1000);
    assert_true(cov.outside > 1000);
}

/* Long rows (wide enough for every loop width many times over) through a realistic case
 * shape, int8 and int16 labels, masked and not: every path gives the rule's bytes. */
static void test_long_rows(void **state)
{
    const pf_simd_level best = pf_simd_detect();
    coverage cov = {0, 0, 0, 0};
    (void)state;
    for (int trial = 0; trial < 4; trial++) {
        const int64_t S[3] = {6, 9, 203};
        const int P[3] = {4, 7, 131}, flip[3] = {0, 0, 0};
        const size_t n = (size_t)P[0] * (size_t)P[1] * (size_t)P[2];
        const int64_t start[3] = {1, trial - 1, trial == 3 ? 80 : 30};
        pf_norm nm[2] = {random_norm(), random_norm()};
        pf_case c;
        float *ref = malloc(n * 2 * sizeof *ref), *got = malloc(n * 2 * sizeof *got);
        int16_t *rseg = malloc(n * sizeof *rseg), *gseg = malloc(n * sizeof *gseg);
        assert_true(ref && got && rseg && gseg);
        nm[0].masked = trial & 1;
        nm[1].masked = !(trial & 1);
        random_case(&c, S, 2, trial >= 2);
        reference(&c, nm, start, P, flip, ref, rseg, &cov);
        for (int level = PF_SIMD_SCALAR; level <= (int)best; level++) {
            assert_int_equal(pf_simd_force((pf_simd_level)level), level);
            pf_extract_image(&c, nm, start, P, got);
            pf_extract_seg(&c, start, P, gseg);
            assert_memory_equal(ref, got, n * 2 * sizeof *got);
            assert_memory_equal(rseg, gseg, n * sizeof *gseg);
        }
        tu_case_free(&c);
        free(ref);
        free(got);
        free(rseg);
        free(gseg);
    }
    pf_simd_force(best);
}

/* Which samples the crop writes mirrored, and that pf_aug_mirror then leaves them alone. */
static void test_mirror_in_crop_rule(void **state)
{
    pf_aug_params p;
    const int P[3] = {2, 3, 5};
    float img[30], before[30];
    int16_t seg[30];
    (void)state;
    memset(&p, 0, sizeof p);
    p.dims = 3;
    assert_false(pf_aug_mirror_in_crop(&p)); /* nothing to mirror */
    p.mirror[2] = 1;
    assert_true(pf_aug_mirror_in_crop(&p));
    assert_false(pf_aug_mirror_in_grid(&p));
    p.bright = 1; /* per voxel: commutes */
    assert_true(pf_aug_mirror_in_crop(&p));
    for (int i = 0; i < 30; i++)
        img[i] = before[i] = (float)i, seg[i] = (int16_t)i;
    pf_aug_mirror(&p, 1, P, img, seg); /* the crop did it */
    assert_memory_equal(img, before, sizeof img);
    for (int i = 0; i < 30; i++)
        assert_int_equal(seg[i], i);
    p.rotate = 1; /* resampled: the samplers' business */
    assert_false(pf_aug_mirror_in_crop(&p));
    assert_true(pf_aug_mirror_in_grid(&p));
    p.rotate = 0;
    /* later transforms that sum or draw by index: mirrored after them */
    p.noise = 1;
    assert_false(pf_aug_mirror_in_crop(&p));
    pf_aug_mirror(&p, 1, P, img, seg);
    assert_true(img[0] == 4.0f && seg[0] == 4 && img[29] == 25.0f); /* each row reversed */
    p.noise = 0, p.blur[0] = 1;
    assert_false(pf_aug_mirror_in_crop(&p));
    p.blur[0] = 0, p.lowres[1] = 1;
    assert_false(pf_aug_mirror_in_crop(&p));
    p.lowres[1] = 0, p.contrast = 1;
    assert_false(pf_aug_mirror_in_crop(&p));
    p.contrast = 0, p.gamma = 1;
    assert_false(pf_aug_mirror_in_crop(&p));
    p.gamma = 0, p.gamma_inv = 1;
    assert_false(pf_aug_mirror_in_crop(&p));
}

int main(void)
{
    tu_rng_seed(0x2545f4914f6cdd1du); /* the stream these tests were written with */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_match_rule),
        cmocka_unit_test(test_long_rows),
        cmocka_unit_test(test_mirror_in_crop_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
