/* test_simd_sampling.c - the augmented samplers give the same bytes on every vector path
 * (base/simd.h: scalar, SSE2/NEON, AVX2; each path this CPU has is forced in turn with
 * pf_simd_force). Random cases (int16 and int8 seg storage, clipped and unclipped
 * normalisation, the nnU-Net mask rule), random rotations and scales, patch widths that are
 * not a multiple of any lane count, boxes overhanging the case and lying wholly outside it, a
 * 2D case, are rendered through the default samplers (separable where the grid is
 * axis-aligned) and the general ones; every path's bytes must equal the scalar path's (run it
 * under valgrind to also check that no path reads outside the arrays: tiny cases put cells
 * at their very ends). The
 * scalar path is the plain per-voxel reading of the formulas; that it samples correctly is
 * test_augment.c's business (it compares the samplers with a double reference). */
#include "testutil.h"

#include "augment.h"
#include "grid.h"
#include "simd.h"

/* A case of shape S with C channels: smooth image plus noise, labels -1 (a slab outside the
 * nonzero region), 0 and blobs of 1..3 (large regions of one label and borders between them).
 * narrow: the labels stored as int8, as a cache entry whose labels fit does. */
static void random_case(pf_case *c, const int64_t S[3], int C, int narrow)
{
    float *im;
    int16_t *sg;
    const size_t n = (size_t)(S[0] * S[1] * S[2]);
    double centre[3][3], r2[3];
    tu_case_init(c, S[0], S[1], S[2], C, &im, &sg);
    for (int b = 0; b < 3; b++) {
        for (int d = 0; d < 3; d++)
            centre[b][d] = tu_uniform(0, (double)S[d]);
        r2[b] = tu_uniform(4, 40);
    }
    for (int ch = 0; ch < C; ch++)
        for (size_t i = 0; i < n; i++) {
            const int64_t z = (int64_t)i / (S[1] * S[2]), y = (int64_t)i / S[2] % S[1], x = (int64_t)i % S[2];
            im[(size_t)ch * n + i] = (float)(sin(0.3 * (double)z + ch) * 40.0 + cos(0.2 * (double)y) * 25.0 +
                                             0.7 * (double)x + tu_uniform(-3, 3) + 60.0 * ch);
        }
    for (size_t i = 0; i < n; i++) {
        const int64_t q[3] = {(int64_t)i / (S[1] * S[2]), (int64_t)i / S[2] % S[1], (int64_t)i % S[2]};
        int16_t l = 0;
        for (int b = 0; b < 3; b++) {
            double d2 = 0;
            for (int d = 0; d < 3; d++)
                d2 += ((double)q[d] - centre[b][d]) * ((double)q[d] - centre[b][d]);
            if (d2 < r2[b])
                l = (int16_t)(b + 1);
        }
        sg[i] = q[2] < 2 ? -1 : l;
    }
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

static pf_aug_params random_params(int dims, int variant)
{
    pf_aug_params p;
    memset(&p, 0, sizeof p);
    p.dims = dims;
    if (variant != 1) { /* 1: scaling only (axis-aligned: the separable samplers) */
        p.rotate = 1;
        p.angle[0] = tu_uniform(-3.14, 3.14);
        if (dims == 3) {
            p.angle[1] = tu_uniform(-1, 1);
            p.angle[2] = tu_uniform(-1, 1);
        }
    }
    p.scale_on = 1;
    p.scale = tu_uniform(0.7, 1.4);
    for (int d = dims == 2 ? 1 : 0; d < 3; d++)
        p.centre_shift[d] = tu_irange(0, 1) * 0.5;
    return p;
}

typedef struct rendered {
    float *img, *img_general;
    int16_t *seg[2], *seg_general[2]; /* linear, nearest */
} rendered;

static void render(const pf_case *c, const pf_norm *nm, const int64_t start[3], const int P[3],
                   const pf_aug_params *p, rendered *r)
{
    for (int nearest = 0; nearest < 2; nearest++) {
        pf_aug_sample_seg(c, start, P, p, nearest, r->seg[nearest]);
        pf_aug_sample_seg_general(c, start, P, p, nearest, r->seg_general[nearest]);
    }
    pf_aug_sample_image(c, nm, start, P, p, r->img);
    pf_aug_sample_image_general(c, nm, start, P, p, r->img_general);
}

static void rendered_alloc(rendered *r, size_t n, int C)
{
    r->img = malloc(n * (size_t)C * sizeof *r->img);
    r->img_general = malloc(n * (size_t)C * sizeof *r->img);
    assert_true(r->img && r->img_general);
    for (int k = 0; k < 2; k++) {
        r->seg[k] = malloc(n * sizeof *r->seg[k]);
        r->seg_general[k] = malloc(n * sizeof *r->seg[k]);
        assert_true(r->seg[k] && r->seg_general[k]);
    }
}

static void rendered_free(rendered *r)
{
    free(r->img), free(r->img_general);
    for (int k = 0; k < 2; k++)
        free(r->seg[k]), free(r->seg_general[k]);
}

/* What the renders went through, so the test knows it reached every branch. */
typedef struct coverage {
    size_t outside, inside, labels_mixed, masked_kept;
} coverage;

static void one_case(int dims, int narrow, int trial, coverage *cov)
{
    const int C = 2;
    const int tiny = trial % 5 == 4; /* a case of a few voxels: every read near its ends */
    const int64_t S[3] = {dims == 2 ? 1 : tiny ? tu_irange(2, 3) : tu_irange(6, 26),
                          tiny ? tu_irange(2, 4) : tu_irange(6, 30), tiny ? tu_irange(2, 5) : tu_irange(5, 34)};
    int P[3] = {dims == 2 ? 1 : tu_irange(1, 14), tu_irange(3, 17), tu_irange(1, 29)};
    const int masked = trial % 2;
    const pf_norm nm[2] = {{-INFINITY, INFINITY, (float)tu_uniform(-5, 5), (float)tu_uniform(5, 30), masked},
                           {(float)tu_uniform(-20, 10), (float)tu_uniform(40, 90), (float)tu_uniform(0, 3),
                            (float)tu_uniform(3, 9), masked}};
    const pf_aug_params p = random_params(dims, trial % 3);
    int64_t start[3];
    pf_case c;
    rendered ref, got;
    const pf_simd_level best = pf_simd_detect();
    size_t n;
    if (trial % 7 == 6)
        P[2] = 8 * tu_irange(1, 3); /* whole AVX2 groups */
    n = (size_t)P[0] * (size_t)P[1] * (size_t)P[2];
    for (int d = 0; d < 3; d++) /* overhanging every border; now and then wholly outside */
        start[d] = dims == 2 && d == 0 ? 0
                   : trial % 11 == 10 ? S[d] + 3
                                      : tu_irange(-P[d], (int)S[d]);
    random_case(&c, S, C, narrow);
    rendered_alloc(&ref, n, C);
    rendered_alloc(&got, n, C);
    assert_int_equal(pf_simd_force(PF_SIMD_SCALAR), PF_SIMD_SCALAR);
    render(&c, nm, start, P, &p, &ref);
    for (size_t i = 0; i < n; i++) {
        cov->outside += ref.seg_general[0][i] == -1 && ref.img_general[i] == 0.0f;
        cov->inside += ref.seg_general[0][i] >= 0;
    }
    for (int level = PF_SIMD_BASE; level <= (int)best; level++) {
        assert_int_equal(pf_simd_force((pf_simd_level)level), level);
        render(&c, nm, start, P, &p, &got);
        assert_memory_equal(ref.img, got.img, n * (size_t)C * sizeof *ref.img);
        assert_memory_equal(ref.img_general, got.img_general, n * (size_t)C * sizeof *ref.img);
        for (int k = 0; k < 2; k++) {
            assert_memory_equal(ref.seg[k], got.seg[k], n * sizeof *ref.seg[k]);
            assert_memory_equal(ref.seg_general[k], got.seg_general[k], n * sizeof *ref.seg[k]);
        }
    }
    /* the general samplers agree with the default ones too (the separable shortcut) */
    assert_memory_equal(ref.img, ref.img_general, n * (size_t)C * sizeof *ref.img);
    for (int k = 0; k < 2; k++)
        assert_memory_equal(ref.seg[k], ref.seg_general[k], n * sizeof *ref.seg[k]);
    for (size_t i = 0; i < n; i++) {
        /* a label between two others' values, or a raw value kept by the mask rule */
        cov->labels_mixed += ref.seg_general[0][i] != ref.seg_general[1][i];
        cov->masked_kept += masked && ref.seg_general[1][i] == -1 && ref.img_general[i] != 0.0f;
    }
    rendered_free(&ref);
    rendered_free(&got);
    tu_case_free(&c);
}

static void test_paths_same_bytes(void **state)
{
    coverage cov = {0};
    (void)state;
    print_message("paths compared with scalar: up to %s\n", pf_simd_name(pf_simd_detect()));
    for (int trial = 0; trial < 60; trial++)
        for (int narrow = 0; narrow < 2; narrow++)
            one_case(3, narrow, trial, &cov);
    for (int trial = 0; trial < 30; trial++)
        for (int narrow = 0; narrow < 2; narrow++)
            one_case(2, narrow, trial, &cov);
    pf_simd_force(pf_simd_detect());
    /* the renders reached voxels outside the case, inside it, label borders (where linear
     * and nearest disagree) and the mask rule's raw values */
    assert_true(cov.outside > 1000);
    assert_true(cov.inside > 1000);
    assert_true(cov.labels_mixed > 100);
    assert_true(cov.masked_kept > 100);
}

/* Mirroring folded into the samplers (pf_aug_mirror_in_grid) gives the bytes of sampling
 * unmirrored and mirroring after: every axis combination, every path, rotated and axis-aligned
 * grids, 3D and 2D, odd row lengths; and it is folded only where nothing order-dependent
 * follows. */
static void test_mirror_folded(void **state)
{
    const pf_simd_level best = pf_simd_detect();
    (void)state;
    for (int trial = 0; trial < 24; trial++) {
        const int dims = trial % 4 == 3 ? 2 : 3, C = 2;
        const int64_t S[3] = {dims == 2 ? 1 : tu_irange(8, 20), tu_irange(8, 24), tu_irange(8, 26)};
        const int P[3] = {dims == 2 ? 1 : tu_irange(2, 11), tu_irange(2, 13), tu_irange(1, 21)};
        const size_t n = (size_t)P[0] * (size_t)P[1] * (size_t)P[2];
        const pf_norm nm[2] = {{-INFINITY, INFINITY, 2.0f, 11.0f, trial % 2},
                               {-5.0f, 70.0f, 1.0f, 6.0f, trial % 2}};
        pf_aug_params plain = random_params(dims, trial % 3), mirrored, later;
        int64_t start[3];
        pf_case c;
        rendered ref, got;
        for (int d = 0; d < 3; d++)
            start[d] = dims == 2 && d == 0 ? 0 : tu_irange(-P[d] / 2, (int)S[d] - P[d] / 2);
        random_case(&c, S, C, trial % 5 == 1);
        rendered_alloc(&ref, n, C);
        rendered_alloc(&got, n, C);
        for (int combo = 1; combo < 8; combo++) {
            mirrored = plain;
            for (int a = 0; a < 3; a++)
                mirrored.mirror[a] = (combo >> a) & 1;
            assert_true(pf_aug_mirror_in_grid(&mirrored));
            later = mirrored; /* a mirroring the samplers do not take: applied after */
            later.rotate = later.scale_on = 0;
            assert_false(pf_aug_mirror_in_grid(&later));
            for (int level = PF_SIMD_SCALAR; level <= (int)best; level++) {
                pf_simd_force((pf_simd_level)level);
                render(&c, nm, start, P, &plain, &ref);
                pf_aug_mirror_pass(&later, C, P, ref.img, ref.seg[0]);
                pf_aug_mirror_pass(&later, C, P, ref.img_general, ref.seg[1]);
                pf_aug_mirror_pass(&later, 0, P, NULL, ref.seg_general[0]);
                pf_aug_mirror_pass(&later, 0, P, NULL, ref.seg_general[1]);
                render(&c, nm, start, P, &mirrored, &got);
                pf_aug_mirror(&mirrored, C, P, got.img, got.seg[0]); /* nothing left to do */
                assert_memory_equal(ref.img, got.img, n * (size_t)C * sizeof *ref.img);
                assert_memory_equal(ref.img_general, got.img_general, n * (size_t)C * sizeof *ref.img);
                for (int k = 0; k < 2; k++) {
                    assert_memory_equal(ref.seg[k], got.seg[k], n * sizeof *ref.seg[k]);
                    assert_memory_equal(ref.seg_general[k], got.seg_general[k], n * sizeof *ref.seg[k]);
                }
            }
        }
        rendered_free(&ref);
        rendered_free(&got);
        tu_case_free(&c);
    }
    pf_simd_force(best);
    /* transforms after the spatial one that do not commute bit for bit with mirroring */
    {
        pf_aug_params p = random_params(3, 0);
        p.mirror[1] = 1;
        assert_true(pf_aug_mirror_in_grid(&p));
        p.bright = 1; /* per voxel: commutes */
        assert_true(pf_aug_mirror_in_grid(&p));
        p.noise = 1;
        assert_false(pf_aug_mirror_in_grid(&p));
        p.noise = 0, p.blur[1] = 1;
        assert_false(pf_aug_mirror_in_grid(&p));
        p.blur[1] = 0, p.lowres[0] = 1;
        assert_false(pf_aug_mirror_in_grid(&p));
        p.lowres[0] = 0, p.contrast = 1;
        assert_false(pf_aug_mirror_in_grid(&p));
        p.contrast = 0, p.gamma = 1;
        assert_false(pf_aug_mirror_in_grid(&p));
        p.gamma = 0, p.gamma_inv = 1;
        assert_false(pf_aug_mirror_in_grid(&p));
    }
}

/* ---- the seg's linear rule against a per-label computation written here ----
 *
 * nnU-Net's rule (batchgeneratorsv2's spatial transform): each label's one-hot map is
 * interpolated linearly and the voxel takes the label of the largest value. At one output
 * voxel, with the cell's corner k (order 4 z + 2 y + x) weighted by the product of its three
 * axis weights (1 - w or w), a label's value is the sum of the weights of the corners
 * carrying it (in corner order, float); a corner outside the case carries -1; the largest
 * value wins, ties to the label met first in corner order. The samplers take shortcuts
 * (all eight corners alike, wholly outside the case, axis-aligned grids): every path must
 * give exactly these labels. */

/* Labels made for shortcuts and their edges: flat regions of one label, planes and blobs
 * meeting, a shell where neighbours differ (a cell sees up to eight labels), a slab of -1; labels drawn from a set that
 * reaches the storage type's extremes. */
static void label_case(pf_case *c, const int64_t S[3], int narrow, int flat, int busy)
{
    static const int16_t wide[] = {0, 1, 2, 300, -1, 32767, -32768, 7, -300, 1000};
    static const int16_t small[] = {0, 1, 2, 127, -1, -128, 5, 3, 100, -2};
    const int16_t *set = narrow ? small : wide;
    const size_t n = (size_t)(S[0] * S[1] * S[2]);
    const int K = tu_irange(2, 10), families = flat ? 0 : tu_irange(1, 3);
    double nrm[3][3], period[3], ctr[3], r2 = tu_uniform(2, 30);
    int16_t *sg;
    tu_case_init(c, S[0], S[1], S[2], 1, NULL, &sg);
    for (int b = 0; b < 3; b++) {
        for (int d = 0; d < 3; d++)
            nrm[b][d] = tu_uniform(-1, 1);
        period[b] = tu_uniform(3, 16);
    }
    for (int d = 0; d < 3; d++)
        ctr[d] = tu_uniform(0, (double)S[d]);
    for (size_t i = 0; i < n; i++) {
        const double q[3] = {(double)((int64_t)i / (S[1] * S[2])), (double)((int64_t)i / S[2] % S[1]),
                             (double)((int64_t)i % S[2])};
        int code = 0;
        double d2 = 0;
        for (int b = 0; b < families; b++) /* up to three families of parallel planes */
            code = code * 3 + (int)floor((nrm[b][0] * q[0] + nrm[b][1] * q[1] + nrm[b][2] * q[2]) / period[b]) % 3 + 2;
        for (int d = 0; d < 3; d++)
            d2 += (q[d] - ctr[d]) * (q[d] - ctr[d]);
        sg[i] = set[(code < 0 ? -code : code) % K];
        if (d2 < r2)
            sg[i] = set[(K + 1) % 10];
        else if (busy && d2 < 4 * r2) /* a shell where neighbours differ: many labels a cell */
            sg[i] = set[(int)(q[0] + 3 * q[1] + 7 * q[2]) % K];
        if (q[1] < 1 && !flat)
            sg[i] = -1;
    }
    if (narrow) {
        int8_t *s8 = malloc(n ? n : 1);
        assert_non_null(s8);
        for (size_t i = 0; i < n; i++)
            s8[i] = (int8_t)sg[i];
        free(sg);
        c->map->seg16 = NULL;
        c->map->seg8 = s8;
    }
}

typedef struct rule_coverage {
    size_t outside, one_label, labels[9], partly_outside;
} rule_coverage;

/* The rule at output voxel (z, y, x) of the grid of p (no mirroring): positions as the
 * samplers' row walk computes them (float: q0 + dq x, floored). */
static int16_t rule_reference(const pf_case *c, const pf_aug_params *p, const int64_t start[3],
                              const int P[3], int z, int y, int x, rule_coverage *cov)
{
    const int64_t *S = c->hdr.shape;
    const pf_case_map *m = pf_case_map_get(c);
    grid g;
    row_walk rw;
    int64_t f[3];
    float w[3], wsum[8];
    int16_t lab[8], seen[8];
    int n = 0, best = 0, out = 0;
    pf_grid_init(&g, p, start, P);
    pf_row_walk_init(&rw, &g, z, y);
    for (int d = 0; d < 3; d++) {
        const float q = rw.q0[d] + rw.dq[d] * (float)x, fl = floorf(q);
        f[d] = (int64_t)fl;
        w[d] = q - fl;
    }
    for (int k = 0; k < 8; k++) {
        const int64_t iz = f[0] + (k >> 2), iy = f[1] + ((k >> 1) & 1), ix = f[2] + (k & 1);
        const int inside = iz >= 0 && iy >= 0 && ix >= 0 && iz < S[0] && iy < S[1] && ix < S[2];
        const size_t i = inside ? (size_t)((iz * S[1] + iy) * S[2] + ix) : 0;
        lab[k] = !inside ? -1 : m->seg8 ? m->seg8[i] : m->seg16[i];
        out += !inside;
    }
    for (int k = 0; k < 8; k++) { /* the labels present, in corner order */
        int j = 0;
        while (j < n && seen[j] != lab[k])
            j++;
        if (j == n)
            seen[n++] = lab[k];
    }
    for (int j = 0; j < n; j++) { /* each label's interpolated one-hot value */
        wsum[j] = 0.0f;
        for (int k = 0; k < 8; k++)
            if (lab[k] == seen[j])
                wsum[j] += ((k >> 2) ? w[0] : 1.0f - w[0]) * (((k >> 1) & 1) ? w[1] : 1.0f - w[1]) *
                           ((k & 1) ? w[2] : 1.0f - w[2]);
        if (wsum[j] > wsum[best])
            best = j;
    }
    cov->outside += out == 8;
    cov->partly_outside += out > 0 && out < 8;
    cov->one_label += out < 8 && n == 1;
    cov->labels[n] += out == 0;
    return seen[best];
}

static void test_seg_rule_reference(void **state)
{
    const pf_simd_level best = pf_simd_detect();
    rule_coverage cov = {0};
    (void)state;
    for (int trial = 0; trial < 120; trial++) {
        const int dims = trial % 8 == 7 ? 2 : 3, narrow = trial % 2, flat = trial % 9 == 4;
        const int64_t S[3] = {dims == 2 ? 1 : tu_irange(2, 24), tu_irange(2, 28), tu_irange(2, 30)};
        int P[3] = {dims == 2 ? 1 : tu_irange(1, 12), tu_irange(1, 14), tu_irange(1, 27)};
        const pf_aug_params p = random_params(dims, trial % 3);
        const size_t n = (size_t)P[0] * (size_t)P[1] * (size_t)P[2];
        int16_t *ref = malloc(n * sizeof *ref), *got = malloc(n * sizeof *got);
        int64_t start[3];
        pf_case c;
        assert_true(ref && got);
        for (int d = 0; d < 3; d++)
            start[d] = dims == 2 && d == 0 ? 0 : tu_irange(-P[d] / 2 - 2, (int)S[d] - P[d] / 2 + 2);
        label_case(&c, S, narrow, flat, trial % 4 == 1);
        for (int z = 0; z < P[0]; z++)
            for (int y = 0; y < P[1]; y++)
                for (int x = 0; x < P[2]; x++)
                    ref[((size_t)z * (size_t)P[1] + (size_t)y) * (size_t)P[2] + (size_t)x] =
                        rule_reference(&c, &p, start, P, z, y, x, &cov);
        for (int level = PF_SIMD_SCALAR; level <= (int)best; level++) {
            pf_simd_force((pf_simd_level)level);
            pf_aug_sample_seg(&c, start, P, &p, 0, got);
            assert_memory_equal(ref, got, n * sizeof *ref);
            pf_aug_sample_seg_general(&c, start, P, &p, 0, got);
            assert_memory_equal(ref, got, n * sizeof *ref);
        }
        free(ref);
        free(got);
        tu_case_free(&c);
    }
    pf_simd_force(best);
    print_message("outside %zu partly %zu one %zu labels 2-6: %zu %zu %zu %zu %zu\n", cov.outside, cov.partly_outside, cov.one_label, cov.labels[2], cov.labels[3], cov.labels[4], cov.labels[5], cov.labels[6]);
    /* every kind of voxel was reached: wholly outside, partly outside, one label, and cells
     * inside the case with two to six labels */
    assert_true(cov.outside > 1000);
    assert_true(cov.partly_outside > 1000);
    assert_true(cov.one_label > 5000);
    for (int k = 2; k <= 6; k++)
        assert_true(cov.labels[k] > 20);
}

/* PATCHFS_SIMD caps the path; names round-trip. */
static void test_names(void **state)
{
    (void)state;
    for (int l = PF_SIMD_SCALAR; l <= PF_SIMD_AVX2; l++)
        assert_int_equal(pf_simd_parse(pf_simd_name((pf_simd_level)l)), l);
    assert_int_equal(pf_simd_parse("bogus"), -1);
    assert_int_equal(pf_simd_force(PF_SIMD_SCALAR), PF_SIMD_SCALAR);
    assert_int_equal(pf_simd_active(), PF_SIMD_SCALAR);
    assert_int_equal(pf_simd_force(PF_SIMD_AVX2), pf_simd_detect());
}

int main(void)
{
    tu_rng_seed(0x9e3779b97f4a7c15u); /* the stream these tests were written with */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_same_bytes),
        cmocka_unit_test(test_mirror_folded),
        cmocka_unit_test(test_seg_rule_reference),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
