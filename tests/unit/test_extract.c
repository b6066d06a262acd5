/* test_extract.c - patch extraction (extract.h): pf_extract_image and pf_extract_seg compared
 * bitwise with a naive per-voxel reference written here, for boxes fully inside, overhanging
 * each face, overhanging all faces, entirely outside on every side, single voxels and the
 * whole volume; with a plain and a masked (use_mask_for_norm) channel; and NaN, infinities,
 * signed zeros and bounds through the vectorised normalisation. */
#include "testutil.h"

#include "extract.h"

enum { Z = 5, Y = 6, X = 7, NCH = 2 };

typedef struct fixture {
    pf_case c;
    pf_norm norms[NCH];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    float *img;
    int16_t *seg;
    assert_non_null(f);
    tu_case_init(&f->c, Z, Y, X, NCH, &img, &seg);
    for (int i = 0; i < Z * Y * X; i++) {
        /* distinct, non-trivial values: some below lo and above hi of each channel */
        img[i] = (float)(i % 37) * 7.25f - 60.0f;
        img[Z * Y * X + i] = (float)((i * 13) % 101) - 50.5f;
        seg[i] = (int16_t)(i % 5 == 0 ? -1 : i % 3); /* -1, 0, 1, 2 */
    }
    f->norms[0] = (pf_norm){.lo = -20.0f, .hi = 150.0f, .shift = 10.0f, .scale = 3.5f,
                            .masked = 0};
    f->norms[1] = (pf_norm){.lo = -30.0f, .hi = 30.0f, .shift = -3.0f, .scale = 7.0f,
                            .masked = 1};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tu_case_free(&f->c);
    free(f);
    return 0;
}

/* The specification, one voxel at a time. */
static void ref_image(const pf_case *c, const pf_norm *norms, const int64_t start[3],
                      const int P[3], float *out)
{
    const int64_t *S = c->hdr.shape;
    size_t k = 0;
    for (uint32_t ch = 0; ch < c->hdr.n_channels; ch++)
        for (int64_t z = start[0]; z < start[0] + P[0]; z++)
            for (int64_t y = start[1]; y < start[1] + P[1]; y++)
                for (int64_t x = start[2]; x < start[2] + P[2]; x++, k++) {
                    const pf_norm *nm = &norms[ch];
                    size_t i;
                    float v, t;
                    if (z < 0 || z >= S[0] || y < 0 || y >= S[1] || x < 0 || x >= S[2]) {
                        out[k] = 0.0f;
                        continue;
                    }
                    i = (size_t)((z * S[1] + y) * S[2] + x);
                    v = tu_case_image(c)[(size_t)ch * (size_t)(S[0] * S[1] * S[2]) + i];
                    if (nm->masked && tu_case_seg(c)[i] < 0) {
                        out[k] = v;
                        continue;
                    }
                    t = v < nm->lo ? nm->lo : v > nm->hi ? nm->hi : v;
                    out[k] = (t - nm->shift) / nm->scale;
                }
}

static void ref_seg(const pf_case *c, const int64_t start[3], const int P[3], int16_t *out)
{
    const int64_t *S = c->hdr.shape;
    size_t k = 0;
    for (int64_t z = start[0]; z < start[0] + P[0]; z++)
        for (int64_t y = start[1]; y < start[1] + P[1]; y++)
            for (int64_t x = start[2]; x < start[2] + P[2]; x++, k++)
                out[k] = (z < 0 || z >= S[0] || y < 0 || y >= S[1] || x < 0 || x >= S[2])
                             ? -1
                             : tu_case_seg(c)[(z * S[1] + y) * S[2] + x];
}

/* Extracts box (start, P) both ways and compares bitwise; the output buffers are pre-filled
 * with garbage so a voxel the library forgets to write is caught. */
static void check_box(const fixture *f, int64_t sz, int64_t sy, int64_t sx, int pz, int py,
                      int px)
{
    const int64_t start[3] = {sz, sy, sx};
    const int P[3] = {pz, py, px};
    size_t n = (size_t)pz * (size_t)py * (size_t)px;
    float *got = malloc(n * NCH * sizeof *got), *want = malloc(n * NCH * sizeof *want);
    int16_t *gseg = malloc(n * sizeof *gseg), *wseg = malloc(n * sizeof *wseg);
    assert_true(got && want && gseg && wseg);
    memset(got, 0x7f, n * NCH * sizeof *got);
    memset(gseg, 0x7f, n * sizeof *gseg);
    pf_extract_image(&f->c, f->norms, start, P, got);
    ref_image(&f->c, f->norms, start, P, want);
    pf_extract_seg(&f->c, start, P, gseg);
    ref_seg(&f->c, start, P, wseg);
    if (memcmp(got, want, n * NCH * sizeof *got) != 0)
        fail_msg("image differs for start (%lld, %lld, %lld) patch (%d, %d, %d)",
                 (long long)sz, (long long)sy, (long long)sx, pz, py, px);
    if (memcmp(gseg, wseg, n * sizeof *gseg) != 0)
        fail_msg("seg differs for start (%lld, %lld, %lld) patch (%d, %d, %d)",
                 (long long)sz, (long long)sy, (long long)sx, pz, py, px);
    free(got);
    free(want);
    free(gseg);
    free(wseg);
}

static void test_inside(void **state)
{
    const fixture *f = *state;
    check_box(f, 0, 0, 0, Z, Y, X); /* the whole volume */
    check_box(f, 1, 2, 3, 3, 3, 3);
    check_box(f, 0, 0, 0, 1, 1, 1);
    check_box(f, Z - 1, Y - 1, X - 1, 1, 1, 1);
    check_box(f, 2, 0, 1, 2, Y, 5);
}

static void test_overhang_each_face(void **state)
{
    const fixture *f = *state;
    check_box(f, -2, 1, 1, 4, 3, 3);     /* z low */
    check_box(f, 3, 1, 1, 4, 3, 3);      /* z high */
    check_box(f, 1, -3, 1, 3, 4, 3);     /* y low */
    check_box(f, 1, 4, 1, 3, 4, 3);      /* y high */
    check_box(f, 1, 1, -1, 3, 3, 4);     /* x low */
    check_box(f, 1, 1, 5, 3, 3, 4);      /* x high */
    check_box(f, 0, 0, -6, Z, Y, 7);     /* only the last x column inside */
    /* one voxel over each face */
    check_box(f, -1, 1, 1, 3, 3, 3);
    check_box(f, Z - 2, 1, 1, 3, 3, 3);
    check_box(f, 1, -1, 1, 3, 3, 3);
    check_box(f, 1, Y - 2, 1, 3, 3, 3);
    check_box(f, 1, 1, -1, 3, 3, 3);
    check_box(f, 1, 1, X - 2, 3, 3, 3);
    check_box(f, -4, 0, 0, 5, Y, X);     /* only the first z slice inside */
}

static void test_overhang_all_faces(void **state)
{
    const fixture *f = *state;
    check_box(f, -2, -2, -2, Z + 4, Y + 4, X + 4);
    check_box(f, -1, -3, -2, Z + 1, Y + 6, X + 9);
    check_box(f, -3, -1, -1, 8, 8, 12); /* a sampler-like patch bigger than the case */
}

static void test_entirely_outside(void **state)
{
    const fixture *f = *state;
    check_box(f, Z, 0, 0, 3, 3, 3);
    check_box(f, -3, 0, 0, 3, 3, 3);
    check_box(f, 0, Y + 5, 0, 2, 2, 2);
    check_box(f, 0, -2, 0, 2, 2, 2);
    check_box(f, 0, 0, X, 2, 2, 2);
    check_box(f, 0, 0, -10, 2, 2, 2);
    check_box(f, -100, -100, -100, 4, 4, 4);
    check_box(f, 100, 100, 100, 4, 4, 4);
    check_box(f, -5, 1, 100, 4, 4, 4); /* outside on two axes at once */
}

/* The masked channel keeps raw values where seg < 0; spot-check against the data itself. */
static void test_masked_values(void **state)
{
    const fixture *f = *state;
    const int64_t start[3] = {0, 0, 0};
    const int P[3] = {Z, Y, X};
    float *out = malloc((size_t)NCH * Z * Y * X * sizeof *out);
    int checked = 0;
    assert_non_null(out);
    pf_extract_image(&f->c, f->norms, start, P, out);
    for (int i = 0; i < Z * Y * X; i++) {
        float raw = tu_case_image(&f->c)[Z * Y * X + i], got = out[Z * Y * X + i];
        if (tu_case_seg(&f->c)[i] < 0) {
            assert_true(got == raw);
            checked++;
        } else {
            float t = raw < -30.0f ? -30.0f : raw > 30.0f ? 30.0f : raw;
            assert_true(got == (t + 3.0f) / 7.0f);
            assert_true(got >= (-30.0f + 3.0f) / 7.0f && got <= (30.0f + 3.0f) / 7.0f);
        }
        /* channel 0 is unmasked: clamped everywhere, to (lo - shift) / scale at least */
        assert_true(out[i] >= (-20.0f - 10.0f) / 3.5f && out[i] <= (150.0f - 10.0f) / 3.5f);
    }
    assert_true(checked > 0);
    free(out);
}

/* Rows long enough for the vectorised normalisation (and its scalar tail), with NaN, the
 * infinities, signed zeros and values exactly at lo and hi: bitwise equal to the reference. */
static void test_special_values(void **state)
{
    enum { SZ = 3, SY = 4, SX = 13 };
    static const float special[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, -30.0f, 30.0f,
                                    -30.000002f, 30.000002f, 1e-40f, -1e-40f, 3.0f, -3.0f};
    fixture f;
    float *img, *got, *want;
    int16_t *seg;
    const int64_t start[3] = {0, 0, 0};
    const int P[3] = {SZ, SY, SX};
    const size_t n = (size_t)SZ * SY * SX;
    (void)state;
    tu_case_init(&f.c, SZ, SY, SX, NCH, &img, &seg);
    for (size_t i = 0; i < n; i++) {
        img[i] = special[i % (sizeof special / sizeof special[0])];
        img[n + i] = special[(i * 7) % (sizeof special / sizeof special[0])];
        seg[i] = (int16_t)((i * 5) % 4 == 0 ? -1 : (i % 3 == 0 ? -32768 : (int)(i % 3)));
    }
    f.norms[0] = (pf_norm){.lo = -30.0f, .hi = 30.0f, .shift = 0.5f, .scale = 3.0f};
    f.norms[1] = (pf_norm){.lo = -30.0f, .hi = 30.0f, .shift = -0.0f, .scale = 0.1f, .masked = 1};
    got = malloc(n * NCH * sizeof *got);
    want = malloc(n * NCH * sizeof *want);
    assert_true(got && want);
    for (int masked0 = 0; masked0 < 2; masked0++) {
        f.norms[0].masked = masked0;
        memset(got, 0x7f, n * NCH * sizeof *got);
        pf_extract_image(&f.c, f.norms, start, P, got);
        ref_image(&f.c, f.norms, start, P, want);
        assert_memory_equal(got, want, n * NCH * sizeof *got);
        /* a box starting inside a row: unaligned source rows */
        {
            const int64_t st2[3] = {0, 1, 1};
            const int P2[3] = {SZ, SY - 1, SX - 2};
            size_t n2 = (size_t)SZ * (SY - 1) * (SX - 2);
            pf_extract_image(&f.c, f.norms, st2, P2, got);
            ref_image(&f.c, f.norms, st2, P2, want);
            assert_memory_equal(got, want, n2 * NCH * sizeof *got);
        }
    }
    free(got);
    free(want);
    tu_case_free(&f.c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overhang_each_face, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overhang_all_faces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entirely_outside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_masked_values, setup, teardown),
        cmocka_unit_test(test_special_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
