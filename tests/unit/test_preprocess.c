/* test_preprocess.c - per-case preprocessing (preprocess.h): the stored-location count,
 * the nonzero bounding box, crop_to_nonzero's hole filling and -1 marking (6-connected, as
 * scipy's binary_fill_holes), and the class locations (counts, labels, C order, no
 * duplicates, subsampling of large classes, determinism). */
#include "testutil.h"

#include "preprocess.h"

/* nnunet-behaviour.md section 2: max(min(10000, n), ceil(0.01 * n)), worked by hand. */
static void test_locs_count(void **state)
{
    static const struct { uint64_t n, want; } cases[] = {
        {0, 0}, {1, 1}, {9999, 9999}, {10000, 10000}, {10001, 10000},
        {1000000, 10000},   /* ceil(10000) = 10000 */
        {1000001, 10001},   /* ceil(10000.01) */
        {2000000, 20000}, {1234567, 12346}, /* ceil(12345.67) */
        {50000, 10000},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(pf_locs_count(cases[i].n), cases[i].want);
}

static size_t idx(const int64_t s[3], int64_t z, int64_t y, int64_t x)
{
    return (size_t)((z * s[1] + y) * s[2] + x);
}

static void test_nonzero_box(void **state)
{
    const int64_t s[3] = {6, 7, 8};
    const size_t n = 6 * 7 * 8;
    float *img = calloc(2 * n, sizeof *img);
    int64_t lo[3], hi[3];
    (void)state;
    assert_non_null(img);
    /* all zero: the whole volume */
    pf_nonzero_box(img, 2, s, lo, hi);
    for (int d = 0; d < 3; d++) {
        assert_int_equal(lo[d], 0);
        assert_int_equal(hi[d], s[d]);
    }
    /* one voxel: a 1-voxel box */
    img[idx(s, 2, 3, 4)] = 1.0f;
    pf_nonzero_box(img, 2, s, lo, hi);
    assert_int_equal(lo[0], 2);
    assert_int_equal(hi[0], 3);
    assert_int_equal(lo[1], 3);
    assert_int_equal(hi[1], 4);
    assert_int_equal(lo[2], 4);
    assert_int_equal(hi[2], 5);
    /* union over channels; negative values count as nonzero */
    img[n + idx(s, 4, 1, 6)] = -0.5f; /* channel 1 only */
    img[idx(s, 3, 5, 2)] = 7.0f;
    pf_nonzero_box(img, 2, s, lo, hi);
    assert_int_equal(lo[0], 2);
    assert_int_equal(hi[0], 5);
    assert_int_equal(lo[1], 1);
    assert_int_equal(hi[1], 6);
    assert_int_equal(lo[2], 2);
    assert_int_equal(hi[2], 7);
    /* reaching the far corner */
    img[idx(s, 5, 6, 7)] = 1e-30f;
    pf_nonzero_box(img, 2, s, lo, hi);
    assert_int_equal(hi[0], 6);
    assert_int_equal(hi[1], 7);
    assert_int_equal(hi[2], 8);
    free(img);
}

/* A hollow cube: nonzero shell [2, 6] on every axis of a 9^3 volume, zero cavity [3, 5]. */
static void test_mark_outside_hollow_cube(void **state)
{
    const int64_t s[3] = {9, 9, 9};
    const size_t n = 9 * 9 * 9;
    float *img = calloc(2 * n, sizeof *img);
    int16_t *seg = calloc(n, sizeof *seg);
    pf_error err = {0};
    (void)state;
    assert_true(img && seg);
    for (int z = 0; z < 9; z++)
        for (int y = 0; y < 9; y++)
            for (int x = 0; x < 9; x++) {
                int in_cube = z >= 2 && z <= 6 && y >= 2 && y <= 6 && x >= 2 && x <= 6;
                int in_cavity = z >= 3 && z <= 5 && y >= 3 && y <= 5 && x >= 3 && x <= 5;
                if (in_cube && !in_cavity) {
                    /* half the shell is nonzero in channel 0, the rest in channel 1 */
                    img[(x % 2 ? 0 : n) + idx(s, z, y, x)] = (float)(1 + x + y);
                    seg[idx(s, z, y, x)] = (int16_t)((x + y + z) % 3); /* 0, 1, 2 */
                }
            }
    seg[idx(s, 4, 4, 4)] = 2; /* a labelled voxel inside the cavity */
    assert_int_equal(pf_mark_outside(img, 2, s, seg, &err), 0);
    for (int z = 0; z < 9; z++)
        for (int y = 0; y < 9; y++)
            for (int x = 0; x < 9; x++) {
                int in_cube = z >= 2 && z <= 6 && y >= 2 && y <= 6 && x >= 2 && x <= 6;
                int in_cavity = z >= 3 && z <= 5 && y >= 3 && y <= 5 && x >= 3 && x <= 5;
                int16_t v = seg[idx(s, z, y, x)];
                if (!in_cube)
                    assert_int_equal(v, -1);                       /* outside */
                else if (in_cavity)
                    assert_int_equal(v, z == 4 && y == 4 && x == 4 ? 2 : 0); /* hole filled */
                else
                    assert_int_equal(v, (x + y + z) % 3);          /* labels kept */
            }
    free(img);
    free(seg);
}

/* 6-connectivity: background reached through a face is outside; background touching the
 * outside only along an edge or a corner is a hole. Labels outside the mask are kept (only
 * seg == 0 becomes -1). */
static void test_mark_outside_connectivity(void **state)
{
    const int64_t s[3] = {5, 5, 5};
    const size_t n = 125;
    float img[125];
    int16_t seg[125];
    pf_error err = {0};
    (void)state;
    for (size_t i = 0; i < n; i++) {
        img[i] = 1.0f;
        seg[i] = 1;
    }
    /* a diagonal chain from the corner: (0,0,0) - (1,1,1) - (2,2,2); the last two have six
     * nonzero face-neighbours each */
    img[idx(s, 0, 0, 0)] = 0.0f;
    img[idx(s, 1, 1, 1)] = 0.0f;
    img[idx(s, 2, 2, 2)] = 0.0f;
    /* a tunnel through a face: (3, 3, 4) on the x = 4 face, (3, 3, 3) behind it */
    img[idx(s, 3, 3, 4)] = 0.0f;
    img[idx(s, 3, 3, 3)] = 0.0f;
    /* an enclosed single voxel */
    img[idx(s, 1, 3, 1)] = 0.0f;
    for (size_t i = 0; i < n; i++)
        seg[i] = img[i] == 0.0f ? 0 : 1;
    seg[idx(s, 0, 0, 0)] = 3; /* background with a label: kept */
    assert_int_equal(pf_mark_outside(img, 1, s, seg, &err), 0);
    assert_int_equal(seg[idx(s, 0, 0, 0)], 3);
    assert_int_equal(seg[idx(s, 3, 3, 4)], -1); /* on the face */
    assert_int_equal(seg[idx(s, 3, 3, 3)], -1); /* face-connected to it */
    assert_int_equal(seg[idx(s, 1, 1, 1)], 0);  /* only edge/corner contact: a hole */
    assert_int_equal(seg[idx(s, 2, 2, 2)], 0);
    assert_int_equal(seg[idx(s, 1, 3, 1)], 0);  /* enclosed */
    for (size_t i = 0; i < n; i++)
        if (img[i] != 0.0f)
            assert_int_equal(seg[i], 1);
}

/* Six dead-end tunnels, one entering from each face of a 7^3 nonzero block: each inner
 * tunnel voxel is reachable only by one step in one of the six directions, so all six are
 * needed for the flood. (2, 2, 2) touches no tunnel and stays a hole. */
static void test_mark_outside_all_directions(void **state)
{
    const int64_t s[3] = {7, 7, 7};
    static const int tunnels[6][2][3] = {
        {{3, 3, 0}, {3, 3, 1}}, {{3, 3, 6}, {3, 3, 5}}, /* x faces, going +x and -x */
        {{3, 0, 3}, {3, 1, 3}}, {{3, 6, 3}, {3, 5, 3}}, /* y faces */
        {{0, 3, 3}, {1, 3, 3}}, {{6, 3, 3}, {5, 3, 3}}, /* z faces */
    };
    float img[343];
    int16_t seg[343];
    pf_error err = {0};
    (void)state;
    for (int i = 0; i < 343; i++) {
        img[i] = 2.0f;
        seg[i] = 0;
    }
    for (int t = 0; t < 6; t++)
        for (int k = 0; k < 2; k++)
            img[idx(s, tunnels[t][k][0], tunnels[t][k][1], tunnels[t][k][2])] = 0.0f;
    img[idx(s, 2, 2, 2)] = 0.0f;
    assert_int_equal(pf_mark_outside(img, 1, s, seg, &err), 0);
    for (int t = 0; t < 6; t++)
        for (int k = 0; k < 2; k++)
            if (seg[idx(s, tunnels[t][k][0], tunnels[t][k][1], tunnels[t][k][2])] != -1)
                fail_msg("tunnel %d voxel %d (%d, %d, %d) was not reached", t, k,
                         tunnels[t][k][0], tunnels[t][k][1], tunnels[t][k][2]);
    assert_int_equal(seg[idx(s, 2, 2, 2)], 0);
    for (int i = 0; i < 343; i++)
        if (img[i] != 0.0f)
            assert_int_equal(seg[i], 0);
}

/* ---- class locations ---- */

static void check_classes(const int16_t *seg, const int64_t s[3], int ignore, int nc,
                          const pf_class_locs *cl, const int *labels, const uint64_t *voxels)
{
    for (int k = 0; k < nc; k++) {
        uint64_t prev = 0;
        assert_int_equal(cl[k].label, labels[k]);
        assert_int_equal(cl[k].voxels, voxels[k]);
        assert_int_equal(cl[k].n_locs, pf_locs_count(voxels[k]));
        assert_true(cl[k].label != ignore);
        for (uint64_t i = 0; i < cl[k].n_locs; i++) {
            const int32_t *v = cl[k].locs + 3 * i;
            uint64_t lin;
            assert_true(v[0] >= 0 && v[0] < s[0] && v[1] >= 0 && v[1] < s[1] && v[2] >= 0 &&
                        v[2] < s[2]);
            lin = idx(s, v[0], v[1], v[2]);
            assert_int_equal(seg[lin], cl[k].label);
            if (i > 0)
                assert_true(lin > prev); /* ascending C order, hence no duplicates */
            prev = lin;
        }
    }
}

static void test_class_locations_small(void **state)
{
    const int64_t s[3] = {30, 30, 30};
    const size_t n = 27000;
    int16_t *seg = calloc(n, sizeof *seg);
    pf_class_locs *cl = NULL;
    int nc = -1;
    uint64_t cnt[6] = {0};
    pf_error err = {0};
    (void)state;
    assert_non_null(seg);
    for (size_t i = 0; i < n; i++) {
        if (i < 24000 && i % 2 == 0)
            seg[i] = 1;                 /* 12000 voxels: more than 10000 */
        else if (i % 97 == 1)
            seg[i] = 2;
        else if (i % 1000 == 3)
            seg[i] = 4;                 /* the ignore label */
        else if (i == 26999 || i == 5 || i == 12345)
            seg[i] = 5;
        else if (i % 11 == 0)
            seg[i] = -1;                /* outside: never a class */
    }
    for (size_t i = 0; i < n; i++)
        if (seg[i] > 0)
            cnt[seg[i]]++;
    assert_int_equal(cnt[1], 12000);
    assert_int_equal(cnt[5], 3);
    assert_int_equal(pf_class_locations(seg, s, 4, &nc, &cl, &err), 0);
    assert_int_equal(nc, 3); /* labels 1, 2, 5: 3 is absent, 4 ignored */
    {
        const int labels[] = {1, 2, 5};
        const uint64_t voxels[] = {cnt[1], cnt[2], cnt[5]};
        check_classes(seg, s, 4, nc, cl, labels, voxels);
    }
    assert_int_equal(cl[0].n_locs, 10000);
    assert_int_equal(cl[1].n_locs, cnt[2]); /* small classes store every voxel */
    assert_int_equal(cl[2].locs[0], 0);     /* 5 = (0, 0, 5) */
    assert_int_equal(cl[2].locs[2], 5);
    assert_int_equal(cl[2].locs[3 * 2], 29);
    assert_int_equal(cl[2].locs[3 * 2 + 1], 29);
    assert_int_equal(cl[2].locs[3 * 2 + 2], 29);
    pf_class_locations_free(nc, cl);
    /* no ignore label: 4 becomes a class too */
    assert_int_equal(pf_class_locations(seg, s, -1, &nc, &cl, &err), 0);
    assert_int_equal(nc, 4);
    assert_int_equal(cl[2].label, 4);
    assert_int_equal(cl[2].n_locs, cnt[4]);
    pf_class_locations_free(nc, cl);
    /* no foreground at all */
    memset(seg, 0, n * sizeof *seg);
    assert_int_equal(pf_class_locations(seg, s, -1, &nc, &cl, &err), 0);
    assert_int_equal(nc, 0);
    free(seg);
}

/* A class of 1,500,000 voxels stores ceil(1%) = 15000 of them, spread over the whole class,
 * and two runs store exactly the same ones. */
static void test_class_locations_large_and_deterministic(void **state)
{
    const int64_t s[3] = {120, 125, 125};
    const size_t n = 120 * 125 * 125; /* 1,875,000 */
    int16_t *seg = calloc(n, sizeof *seg);
    pf_class_locs *a = NULL, *b = NULL;
    int na, nb;
    uint64_t first_half = 0;
    pf_error err = {0};
    (void)state;
    assert_non_null(seg);
    for (size_t i = 0; i < 1500000; i++)
        seg[i] = 7;
    for (size_t i = 1500000; i < n; i += 3)
        seg[i] = 2;
    assert_int_equal(pf_class_locations(seg, s, -1, &na, &a, &err), 0);
    assert_int_equal(pf_class_locations(seg, s, -1, &nb, &b, &err), 0);
    assert_int_equal(na, 2);
    assert_int_equal(nb, 2);
    {
        const int labels[] = {2, 7};
        const uint64_t voxels[] = {125000, 1500000};
        check_classes(seg, s, -1, na, a, labels, voxels);
    }
    assert_int_equal(a[1].n_locs, 15000);
    assert_int_equal(a[0].n_locs, 10000); /* max(min(10000, 125000), 1250) */
    for (int k = 0; k < na; k++) {
        assert_int_equal(a[k].n_locs, b[k].n_locs);
        assert_memory_equal(a[k].locs, b[k].locs, a[k].n_locs * 3 * sizeof(int32_t));
    }
    /* a uniform subset: about half the stored voxels lie in the first half of the class */
    for (uint64_t i = 0; i < a[1].n_locs; i++)
        first_half += idx(s, a[1].locs[3 * i], a[1].locs[3 * i + 1], a[1].locs[3 * i + 2]) <
                      750000;
    assert_true(first_half > 7000 && first_half < 8000);
    pf_class_locations_free(na, a);
    pf_class_locations_free(nb, b);
    free(seg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_locs_count),
        cmocka_unit_test(test_nonzero_box),
        cmocka_unit_test(test_mark_outside_hollow_cube),
        cmocka_unit_test(test_mark_outside_connectivity),
        cmocka_unit_test(test_mark_outside_all_directions),
        cmocka_unit_test(test_class_locations_small),
        cmocka_unit_test(test_class_locations_large_and_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
