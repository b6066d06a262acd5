/* test_aug_geometry.c - the augmentation's geometry and draws against nnU-Net's rules written
 * out here: the grid matrix is batchgeneratorsv2's Rz Ry Rx S (angle i turning the plane of
 * the other two axes; in-plane scaling for dummy 2D), the grid turns about (Pb - 1) / 2 of the
 * enlarged patch, so with zero angles and unit scale it reproduces the plain crop exactly when
 * Pb and P have the same parity (odd and even patches) and samples half a voxel off otherwise;
 * the dummy-2D rules (mirroring and blur on Z too, one in-plane angle); BGContrast draws. */
#include "testutil.h"

#include "augment.h"
#include "options.h"

/* ---- matrix order ---- */

typedef double mat3[3][3];

static void matmul(const mat3 a, const mat3 b, mat3 out)
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            out[i][j] = 0.0;
            for (int k = 0; k < 3; k++)
                out[i][j] += a[i][k] * b[k][j];
        }
}

/* batchgeneratorsv2's create_affine_matrix_3d(angles, scales), written from its definition
 * with libm: Rz(angles[2]) @ Ry(angles[1]) @ Rx(angles[0]) @ diag(scales); reversed: the
 * other order, Rx Ry Rz S (what patchfs did before format 3). */
static void nnunet_affine(const double a[3], const double s[3], int reversed, mat3 out)
{
    const double c0 = cos(a[0]), s0 = sin(a[0]), c1 = cos(a[1]), s1 = sin(a[1]);
    const double c2 = cos(a[2]), s2 = sin(a[2]);
    const mat3 Rx = {{1, 0, 0}, {0, c0, -s0}, {0, s0, c0}};
    const mat3 Ry = {{c1, 0, s1}, {0, 1, 0}, {-s1, 0, c1}};
    const mat3 Rz = {{c2, -s2, 0}, {s2, c2, 0}, {0, 0, 1}};
    const mat3 S = {{s[0], 0, 0}, {0, s[1], 0}, {0, 0, s[2]}};
    mat3 t, u;
    matmul(reversed ? Rx : Rz, Ry, t);
    matmul(t, reversed ? Rz : Rx, u);
    matmul(u, S, out);
}

static double max_diff(const mat3 a, const mat3 b)
{
    double w = 0.0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            w = fmax(w, fabs(a[i][j] - b[i][j]));
    return w;
}

static void test_matrix_is_nnunets(void **state)
{
    const double angles[4][3] = {
        {0.4, -0.2, 0.7}, {-0.5, 0.52, -0.31}, {0.1, 0.0, -0.45}, {0, 0, 0}};
    const int patch[3] = {12, 17, 15};
    const int64_t start[3] = {3, -2, 7};
    (void)state;
    for (int v = 0; v < 4; v++)
        for (int dims = 2; dims <= 3; dims++) {
            pf_aug_params p;
            double G[3][3], origin[3], k = 0.8 + 0.15 * v;
            const double s3[3] = {k, k, k}, s2[3] = {1.0, k, k};
            const double a2[3] = {angles[v][0], 0, 0};
            mat3 want, other;
            memset(&p, 0, sizeof p);
            p.dims = dims;
            p.rotate = 1;
            p.scale_on = 1;
            p.scale = k;
            p.centre_shift[0] = 0.5, p.centre_shift[1] = -0.5;
            memcpy(p.angle, dims == 3 ? angles[v] : a2, sizeof p.angle);
            pf_aug_grid(&p, start, patch, G, origin);
            nnunet_affine(p.angle, dims == 3 ? s3 : s2, 0, want);
            assert_true(max_diff((const double(*)[3])G, want) < 1e-12);
            /* the origin: grid centre (start + (P - 1) / 2 + shift) less G (P - 1) / 2 */
            for (int i = 0; i < 3; i++) {
                double o = (double)start[i] + (patch[i] - 1) / 2.0 + p.centre_shift[i];
                for (int j = 0; j < 3; j++)
                    o -= want[i][j] * (patch[j] - 1) / 2.0;
                assert_true(fabs(origin[i] - o) < 1e-9);
            }
            if (dims == 3 && v < 2) { /* the order matters for these angles: the test has power */
                nnunet_affine(p.angle, s3, 1, other);
                assert_true(max_diff(other, want) > 0.05);
            }
        }
}

/* ---- the identity transform and the grid's centre ---- */

static void parity_case(pf_case *c)
{
    float *im;
    int16_t *sg;
    tu_case_init(c, 22, 25, 27, 1, &im, &sg);
    for (int z = 0; z < 22; z++)
        for (int y = 0; y < 25; y++)
            for (int x = 0; x < 27; x++) {
                im[(z * 25 + y) * 27 + x] =
                    (float)(sin(0.37 * z) * 30.0 + cos(0.23 * y) * 20.0 + 0.9 * x);
                sg[(z * 25 + y) * 27 + x] = (int16_t)((x + y + z) % 3);
            }
}

/* Trilinear at q in double, 0 outside the case. */
static double trilinear(const pf_case *c, const double q[3])
{
    const int64_t *S = c->hdr.shape;
    double acc = 0.0, f[3];
    for (int d = 0; d < 3; d++)
        f[d] = floor(q[d]);
    for (int k = 0; k < 8; k++) {
        const int64_t i[3] = {(int64_t)f[0] + (k >> 2), (int64_t)f[1] + ((k >> 1) & 1),
                              (int64_t)f[2] + (k & 1)};
        double w = 1.0;
        for (int d = 0; d < 3; d++)
            w *= i[d] == (int64_t)f[d] ? 1.0 - (q[d] - f[d]) : q[d] - f[d];
        if (i[0] < 0 || i[1] < 0 || i[2] < 0 || i[0] >= S[0] || i[1] >= S[1] || i[2] >= S[2])
            continue;
        acc += w * tu_case_image(c)[(i[0] * S[1] + i[1]) * S[2] + i[2]];
    }
    return acc;
}

/* nnU-Net's initial patch for a cube P at 30 degrees and scale range (0.85, 1.25), written
 * out: the largest rotated extent P (cos 30 + sin 30), divided by 0.85, truncated. */
static int cube_initial_patch(int P)
{
    return (int)(P * (cos(M_PI / 6) + sin(M_PI / 6)) / 0.85);
}

/* Cubes of every parity combination of P and Pb: 20 -> 32 (even, even), 21 -> 33 (odd, odd),
 * 16 -> 25 (even, odd), 19 -> 30 (odd, even). The drawn parameters with zero angles and unit
 * scale: the enlarged box starts at b, the crop at b + Pb // 2 - P // 2 (the sampler's rule),
 * and the grid samples b + (Pb - 1) / 2 + (o - (P - 1) / 2), as nnU-Net's grid_sample does. */
static void test_identity_grid_both_parities(void **state)
{
    const int sizes[4] = {20, 21, 16, 19};
    const pf_norm nm = {-INFINITY, INFINITY, 0.0f, 1.0f, 0};
    pf_options o;
    pf_case c;
    (void)state;
    parity_case(&c);
    pf_options_init(&o);
    for (int v = 0; v < 4; v++) {
        const int P = sizes[v], patch[3] = {P, P, P}, Pb = cube_initial_patch(P);
        const int64_t b[3] = {-3, 2, 1};
        const size_t n = (size_t)P * P * P;
        int pb[3];
        int64_t start[3];
        float *grid_out = malloc(n * sizeof *grid_out), *crop = malloc(n * sizeof *crop);
        int16_t *sgrid = malloc(n * sizeof *sgrid), *scrop = malloc(n * sizeof *scrop);
        pf_aug_params p;
        double worst = 0.0;
        assert_non_null(grid_out);
        assert_non_null(crop);
        assert_non_null(sgrid);
        assert_non_null(scrop);
        pf_aug_initial_patch(&o, patch, pb);
        assert_int_equal(pb[0], Pb);
        assert_int_equal(pb[1], Pb);
        assert_int_equal(pb[2], Pb);
        pf_aug_draw(&o, 1, patch, 11, 0, 0, 0, &p);
        p.rotate = 1;
        p.angle[0] = p.angle[1] = p.angle[2] = 0.0;
        p.scale_on = 0;
        for (int d = 0; d < 3; d++)
            start[d] = b[d] + Pb / 2 - P / 2;
        pf_aug_sample_image(&c, &nm, start, patch, &p, grid_out);
        pf_aug_sample_seg(&c, start, patch, &p, 0, sgrid);
        pf_extract_image(&c, &nm, start, patch, crop);
        pf_extract_seg(&c, start, patch, scrop);
        if (P % 2 == Pb % 2) { /* the identity grid is the plain crop, bit for bit */
            assert_memory_equal(grid_out, crop, n * sizeof *crop);
            assert_memory_equal(sgrid, scrop, n * sizeof *scrop);
        } else {
            assert_memory_not_equal(grid_out, crop, n * sizeof *crop);
        }
        for (int z = 0; z < P; z++)
            for (int y = 0; y < P; y++)
                for (int x = 0; x < P; x++) {
                    const int oo[3] = {z, y, x};
                    double q[3];
                    for (int d = 0; d < 3; d++)
                        q[d] = (double)b[d] + (Pb - 1) / 2.0 + (oo[d] - (P - 1) / 2.0);
                    worst = fmax(worst, fabs(grid_out[((size_t)z * P + y) * P + x] -
                                             trilinear(&c, q)));
                }
        assert_true(worst < 1e-4);
        free(grid_out);
        free(crop);
        free(sgrid);
        free(scrop);
    }
    tu_case_free(&c);
}

/* ---- the draws ---- */

/* Dummy 2D (a 3D patch under a third as deep as wide): one in-plane angle in +-180 degrees,
 * mirroring on all three axes, blur sigmas on all three axes; a 2D patch: mirroring and blur
 * in-plane only; an isotropic 3D patch: three angles in +-30 degrees. Over 400 draws with every
 * probability 1 (mirror: 0.5 per axis, binomial bounds of 4 sigma). */
static void test_dummy_2d_draws(void **state)
{
    const int dummy[3] = {8, 40, 36}, flat[3] = {1, 40, 36}, iso[3] = {24, 28, 20};
    const int N = 400;
    pf_options o;
    (void)state;
    pf_options_init(&o);
    for (int k = 0; k < PF_AUG_N; k++)
        o.aug_p[k] = 1.0;
    o.aug_p[PF_AUG_P_MIRROR] = 0.5;
    for (int v = 0; v < 3; v++) {
        const int *patch = v == 0 ? dummy : v == 1 ? flat : iso;
        int mirrored[3] = {0, 0, 0};
        double amax = 0.0;
        o.patch_2d = v == 1;
        assert_int_equal(pf_aug_dummy_2d(&o, patch), v == 0);
        for (int i = 0; i < N; i++) {
            pf_aug_params p;
            pf_aug_draw(&o, 2, patch, 5, 1, (uint32_t)i, 0, &p);
            assert_int_equal(p.dummy_2d, v == 0);
            assert_int_equal(p.dims, v == 2 ? 3 : 2);
            for (int d = 0; d < 3; d++) {
                mirrored[d] += p.mirror[d];
                amax = fmax(amax, fabs(p.angle[d]));
            }
            if (v != 2)
                assert_true(p.angle[1] == 0.0 && p.angle[2] == 0.0);
            for (int c = 0; c < 2; c++) {
                assert_true(p.blur[c]);
                for (int d = v == 1 ? 1 : 0; d < 3; d++)
                    assert_true(p.blur_sigma[c][d] >= 0.5 && p.blur_sigma[c][d] <= 1.0);
                if (v == 1)
                    assert_true(p.blur_sigma[c][0] == 0.0);
            }
        }
        for (int d = 0; d < 3; d++) {
            if (v == 1 && d == 0) {
                assert_int_equal(mirrored[0], 0);
                continue;
            }
            assert_true(abs(mirrored[d] - N / 2) <= 4 * 10); /* sd sqrt(400 / 4) = 10 */
        }
        /* the range: near +-pi for in-plane patches (2D aspect 40:36 < 1.5), +-30 deg in 3D */
        if (v == 2)
            assert_true(amax <= M_PI / 6 + 1e-12 && amax > 0.9 * M_PI / 6);
        else
            assert_true(amax <= M_PI + 1e-12 && amax > 0.9 * M_PI);
    }
}

/* BGContrast: with probability 0.5 (lo < 1) U(lo, 1), else U(max(lo, 1), hi). */
static void test_bg_contrast(void **state)
{
    (void)state;
    assert_true(pf_aug_bg_contrast(0.2, 0.0, 0.7, 1.5) == 0.7);
    assert_true(fabs(pf_aug_bg_contrast(0.2, 0.5, 0.7, 1.5) - 0.85) < 1e-15);
    assert_true(pf_aug_bg_contrast(0.7, 0.0, 0.7, 1.5) == 1.0);
    assert_true(fabs(pf_aug_bg_contrast(0.7, 0.5, 0.7, 1.5) - 1.25) < 1e-15);
    /* lo >= 1: always the upper interval */
    assert_true(fabs(pf_aug_bg_contrast(0.2, 0.5, 1.2, 1.6) - 1.4) < 1e-15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix_is_nnunets),
        cmocka_unit_test(test_identity_grid_both_parities),
        cmocka_unit_test(test_dummy_2d_draws),
        cmocka_unit_test(test_bg_contrast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
