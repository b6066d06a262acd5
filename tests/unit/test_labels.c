/* test_labels.c - regions and the ignore label with nnU-Net's rules: dataset.json read into
 * regions, regions_class_order and the ignore label (and every bad input refused with a
 * message naming dataset.json and the entry); the class table of a case (per region, the
 * annotated voxels) against a direct count; the training target (pf_seg_target) against a
 * per-voxel rule; the sampler centring non-forced positions on annotated voxels. */
#include "testutil.h"

#include "classes.h"
#include "dataset.h"
#include "sampler.h"
#include "seg_target.h"

typedef struct fixture {
    char tmp[PATH_MAX], root[PATH_MAX];
} fixture;

static int setup(void **state)
{
    static double image[24], label[24];
    fixture *f = calloc(1, sizeof *f);
    tu_raw_case rc = {.id = "c0", .nx = 4, .ny = 3, .nz = 2, .image = image, .label = label};
    assert_non_null(f);
    for (int i = 0; i < 24; i++)
        image[i] = 1.0 + i;
    tu_mkdtemp(f->tmp, "labels");
    tu_path(f->root, "%s/Dataset010_Labels", f->tmp);
    tu_write_raw_dataset(f->root, &rc, 1, 2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tu_rm_rf(f->tmp);
    free(f);
    return 0;
}

/* dataset.json with the given "labels" object text and extra members. */
static int open_with(const fixture *f, const char *labels, const char *extra, pf_dataset *ds,
                     pf_error *err)
{
    char path[PATH_MAX], json[2048];
    snprintf(json, sizeof json, "{\"channel_names\": {\"0\": \"MR\"}, \"labels\": %s, "
             "\"numTraining\": 1, \"file_ending\": \".nii.gz\"%s%s}", labels,
             extra ? ", " : "", extra ? extra : "");
    tu_path(path, "%s/dataset.json", f->root);
    tu_write_text(path, json);
    memset(err, 0, sizeof *err);
    return pf_dataset_open(f->root, ds, err);
}

static void test_brats_regions(void **state)
{
    fixture *f = *state;
    pf_dataset ds;
    pf_error err;
    int keys[16];
    uint64_t *masks = calloc(PF_SEG_VALUES, sizeof *masks);
    assert_non_null(masks);
    assert_int_equal(open_with(f, "{\"background\": 0, \"whole_tumor\": [1, 2, 3], "
                               "\"tumor_core\": [3, 2], \"enhancing_tumor\": 3}",
                               "\"regions_class_order\": [1, 2, 3]", &ds, &err), 0);
    assert_int_equal(ds.n_regions, 3);
    assert_string_equal(ds.region_names[0], "whole_tumor");
    assert_string_equal(ds.region_names[1], "tumor_core");
    assert_string_equal(ds.region_names[2], "enhancing_tumor");
    assert_int_equal(ds.region_n[1], 2); /* sorted: [2, 3] */
    assert_int_equal(ds.region_labels[1][0], 2);
    assert_int_equal(ds.region_labels[1][1], 3);
    assert_int_equal(ds.n_class_order, 3);
    assert_int_equal(ds.regions_class_order[2], 3);
    /* nnU-Net's summary.json keys: str() of the entry as written (a list as a tuple) */
    assert_string_equal(ds.region_keys[0], "(1, 2, 3)");
    assert_string_equal(ds.region_keys[1], "(3, 2)");
    assert_string_equal(ds.region_keys[2], "3");
    assert_int_equal(pf_dataset_seg_channels(&ds), 3);
    assert_int_equal(pf_dataset_class_keys(&ds, keys), 3);
    assert_int_equal(keys[0], 1);
    assert_int_equal(keys[2], 3);
    assert_string_equal(pf_dataset_class_name(&ds, 2), "tumor_core");
    pf_dataset_region_masks(&ds, masks);
    assert_int_equal(masks[0], 0);       /* -1 */
    assert_int_equal(masks[0 + 1], 0);   /* background */
    assert_int_equal(masks[1 + 1], 1);   /* whole only */
    assert_int_equal(masks[2 + 1], 3);   /* whole, core */
    assert_int_equal(masks[3 + 1], 7);   /* all three */
    pf_dataset_free(&ds);
    /* a label dataset keeps one channel and its labels as classes */
    assert_int_equal(open_with(f, "{\"background\": 0, \"a\": 1, \"b\": [2]}", NULL, &ds, &err),
                     0);
    assert_int_equal(ds.n_regions, 0);
    assert_int_equal(pf_dataset_seg_channels(&ds), 1);
    assert_int_equal(pf_dataset_class_keys(&ds, keys), 2);
    pf_dataset_free(&ds);
    /* regions with an ignore label: one more channel; ignore has its own bit */
    assert_int_equal(open_with(f, "{\"background\": 0, \"r\": [1, 2], \"s\": [2], "
                               "\"ignore\": 3}", "\"regions_class_order\": [1, 2]", &ds, &err),
                     0);
    assert_string_equal(ds.region_keys[1], "(2,)"); /* a one-value list: Python's (2,) */
    assert_int_equal(pf_dataset_seg_channels(&ds), 3);
    pf_dataset_region_masks(&ds, masks);
    assert_int_equal(masks[3 + 1], 4);
    pf_dataset_free(&ds);
    free(masks);
}

/* Each bad input fails with dataset.json and the entry in the message. */
static void test_bad_inputs(void **state)
{
    static const struct {
        const char *labels, *extra, *says;
    } bad[] = {
        {"{\"background\": 0, \"whole\": [1, 2], \"core\": 2}", NULL, "regions_class_order"},
        {"{\"background\": 0, \"whole\": [1, 2], \"core\": 2}", "\"regions_class_order\": [1]",
         "regions_class_order"},
        {"{\"background\": 0, \"whole\": [1, 2], \"core\": 2}",
         "\"regions_class_order\": [1, 7]", "regions_class_order\" entry 1"},
        {"{\"background\": 0, \"whole\": [1, 2], \"core\": []}", "\"regions_class_order\": [1]",
         "\"core\" is an empty region"},
        {"{\"background\": 0, \"a\": 1, \"ignore\": 5}", NULL, "\"ignore\" has value 5"},
        {"{\"background\": 0, \"a\": 1, \"b\": 3, \"ignore\": 2}", NULL, "\"ignore\" has value 2"},
        {"{\"background\": 0, \"a\": 1, \"ignore\": [2, 3]}", NULL, "\"ignore\" must be one"},
        {"{\"background\": 0, \"whole\": [1, 2], \"core\": 2, \"ignore\": 2}",
         "\"regions_class_order\": [1, 2]", "region \"whole\" lists 2"},
    };
    fixture *f = *state;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        pf_dataset ds;
        pf_error err;
        assert_int_equal(open_with(f, bad[i].labels, bad[i].extra, &ds, &err), -1);
        if (!strstr(err.msg, "dataset.json") || !strstr(err.msg, bad[i].says))
            fail_msg("case %zu: message '%s' lacks '%s'", i, err.msg, bad[i].says);
    }
}

/* The class table of a case: per region the voxels of its labels, the annotated voxels (any
 * value but the ignore label, -1 included) under key 0, each stored location of its class. */
static void test_case_classes(void **state)
{
    fixture *f = *state;
    const int64_t s[3] = {20, 30, 40};
    const size_t n = 24000;
    int16_t *seg = calloc(n, sizeof *seg);
    pf_class_locs *cl = NULL;
    pf_dataset ds;
    pf_error err;
    int nc = 0;
    assert_non_null(seg);
    for (size_t i = 0; i < n; i++) /* values -1..4, 4 the ignore label, most voxels ignored */
        seg[i] = (int16_t)(i % 7 == 0 ? -1 : i % 5 == 0 ? (int)(i / 5 % 4) : 4);
    assert_int_equal(open_with(f, "{\"background\": 0, \"whole\": [1, 2, 3], \"core\": [2, 3], "
                               "\"ignore\": 4}", "\"regions_class_order\": [1, 2]", &ds, &err), 0);
    assert_int_equal(pf_case_classes(&ds, seg, s, &nc, &cl, &err), 0);
    assert_int_equal(nc, 3);
    for (int k = 0; k < nc; k++) {
        uint64_t want = 0;
        assert_int_equal(cl[k].label, k); /* 0 annotated, 1 whole, 2 core */
        for (size_t i = 0; i < n; i++)
            want += k == 0 ? seg[i] != 4 : k == 1 ? seg[i] >= 1 && seg[i] <= 3
                                                  : seg[i] == 2 || seg[i] == 3;
        assert_int_equal(cl[k].voxels, want);
        assert_int_equal(cl[k].n_locs, pf_locs_count(want));
        for (uint64_t j = 0; j < cl[k].n_locs; j++) {
            const int32_t *v = cl[k].locs + 3 * j;
            int16_t x = seg[((size_t)v[0] * 30 + (size_t)v[1]) * 40 + (size_t)v[2]];
            assert_true(k == 0 ? x != 4 : k == 1 ? x >= 1 && x <= 3 : x == 2 || x == 3);
        }
    }
    pf_class_locations_free(nc, cl);
    pf_dataset_free(&ds);
    free(seg);
}

/* pf_seg_target in place against the per-voxel rule, for -1 and 0 outside. */
static void test_seg_target(void **state)
{
    fixture *f = *state;
    enum { N = 1000, R = 3 };
    int16_t label[N], buf[N * R];
    uint64_t *masks = calloc(PF_SEG_VALUES, sizeof *masks);
    pf_dataset ds;
    pf_error err;
    assert_non_null(masks);
    assert_int_equal(open_with(f, "{\"background\": 0, \"whole\": [1, 2, 3], \"core\": [2, 3], "
                               "\"ignore\": 4}", "\"regions_class_order\": [1, 2]", &ds, &err), 0);
    assert_int_equal(pf_dataset_region_masks(&ds, masks), R);
    for (int i = 0; i < N; i++)
        label[i] = (int16_t)(i * 7919 % 6 - 1); /* -1..4 */
    for (int outside = -1; outside <= 0; outside++) {
        memcpy(buf, label, sizeof label);
        pf_seg_target(buf, N, masks, R, (int16_t)outside);
        for (int i = 0; i < N; i++) {
            int v = label[i];
            int want[R] = {v >= 1 && v <= 3, v == 2 || v == 3, v == 4};
            for (int r = 0; r < R; r++)
                assert_int_equal(buf[r * N + i], v < 0 ? outside : want[r]);
        }
        /* a label map: only -1 changes */
        memcpy(buf, label, sizeof label);
        pf_seg_target(buf, N, NULL, 1, (int16_t)outside);
        for (int i = 0; i < N; i++)
            assert_int_equal(buf[i], label[i] < 0 ? outside : label[i]);
    }
    pf_dataset_free(&ds);
    free(masks);
}

/* With an ignore label: non-forced positions are centred on a stored annotated voxel (class 0)
 * and forced ones never pick class 0 while another class is present; a case without annotated
 * voxels is cropped at random; forced positions of a case with only annotated voxels are. */
static void test_sampler_ignore(void **state)
{
    pf_case cases[3];
    int train[3] = {0, 1, 2};
    pf_sampler s = {0};
    pf_sample out[8];
    static const int labels0[] = {0, 1}, nlocs0[] = {4, 2};
    static const int32_t locs0[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 2, 2, 2, 3, 3, 3};
    static const int labels2[] = {0}, nlocs2[] = {1};
    static const int32_t locs2[] = {5, 5, 5};
    int seen_centred = 0, seen_random = 0, seen_forced_fg = 0;
    (void)state;
    tu_case_init(&cases[0], 20, 20, 20, 1, NULL, NULL);
    tu_case_set_classes(&cases[0], 2, labels0, nlocs0, locs0);
    tu_case_init(&cases[1], 20, 20, 20, 1, NULL, NULL);
    tu_case_set_classes(&cases[1], 0, NULL, NULL, NULL);
    tu_case_init(&cases[2], 20, 20, 20, 1, NULL, NULL);
    tu_case_set_classes(&cases[2], 1, labels2, nlocs2, locs2);
    s.seed = 3;
    s.batch = 8;
    s.oversample = 0.5;
    s.patch[0] = s.patch[1] = s.patch[2] = 8;
    s.cases = cases;
    s.split_cases[PF_SPLIT_TRAIN] = train;
    s.n_split_cases[PF_SPLIT_TRAIN] = 3;
    s.has_ignore = 1;
    for (uint32_t step = 0; step < 200; step++) {
        assert_int_equal(pf_sample_step(&s, PF_SPLIT_TRAIN, 0, step, out), 0);
        for (int j = 0; j < 8; j++) {
            const pf_sample *o = &out[j];
            if (o->case_idx == 1) {
                assert_int_equal(o->label, -1);
                seen_random++;
                continue;
            }
            if (o->forced && o->case_idx == 0) {
                assert_int_equal(o->label, 1);
                seen_forced_fg++;
            } else {
                assert_int_equal(o->label, 0);
                seen_centred += !o->forced;
            }
            for (int d = 0; d < 3; d++) /* centred: start = max(lb, v - P // 2) */
                assert_int_equal(o->start[d], o->voxel[d] - 4 > 0 ? o->voxel[d] - 4 : 0);
        }
    }
    assert_true(seen_centred > 100 && seen_random > 100 && seen_forced_fg > 50);
    /* without the ignore flag the same cases give random crops at non-forced positions */
    s.has_ignore = 0;
    assert_int_equal(pf_sample_step(&s, PF_SPLIT_TRAIN, 0, 0, out), 0);
    for (int j = 0; j < 4; j++)
        assert_int_equal(out[j].label, -1);
    for (int i = 0; i < 3; i++)
        tu_case_free(&cases[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_brats_regions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_inputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_case_classes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seg_target, setup, teardown),
        cmocka_unit_test(test_sampler_ignore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
