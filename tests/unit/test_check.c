/* test_check.c - what `patchfs check` and skip_bad rest on: listing a dataset whose cases miss
 * files (PF_DS_KEEP_INCOMPLETE) and checking one case with every problem listed
 * (pf_load_case_checked), the first-problem behaviour of the cache build unchanged. */
#include "testutil.h"

#include "dataset.h"
#include "load.h"

#define NX 6
#define NY 5
#define NZ 4
#define NV (NX * NY * NZ)

typedef struct fixture {
    char tmp[PATH_MAX], root[PATH_MAX];
    double image[NV], label[NV];
} fixture;

static int setup(void **state)
{
    static const char *ids[] = {"case_a", "case_b", "case_c"};
    fixture *f = calloc(1, sizeof *f);
    tu_raw_case rc[3];
    assert_non_null(f);
    tu_mkdtemp(f->tmp, "check");
    tu_path(f->root, "%s/Dataset009_Check", f->tmp);
    for (int i = 0; i < NV; i++) {
        f->image[i] = 1.0 + i % 7;
        f->label[i] = i % 3 == 0;
    }
    for (int k = 0; k < 3; k++)
        rc[k] = (tu_raw_case){.id = ids[k], .nx = NX, .ny = NY, .nz = NZ, .image = f->image,
                              .label = f->label};
    tu_write_raw_dataset(f->root, rc, 3, 2);
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

/* A missing label and a label without image: the first stops a strict listing; a keeping one
 * lists both cases, sorted, with what they miss. */
static void test_incomplete_listing(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];
    pf_dataset ds;
    pf_error err = {0};
    tu_path(path, "%s/labelsTr/case_b.nii.gz", f->root);
    assert_int_equal(unlink(path), 0);
    tu_path(path, "%s/labelsTr/case_0.nii.gz", f->root);
    tu_write_nifti(path, DT_UINT8, NX, NY, NZ, f->label);
    tu_path(path, "%s/dataset.json", f->root);
    assert_int_equal(pf_dataset_open(f->root, &ds, &err), -1);
    assert_non_null(strstr(err.msg, "labelsTr/case_b.nii.gz: missing label of case case_b"));

    assert_int_equal(pf_dataset_open_ex(f->root, PF_DS_KEEP_INCOMPLETE, &ds, &err), 0);
    assert_int_equal(ds.n_cases, 4);
    assert_string_equal(ds.cases[0].id, "case_0");
    assert_non_null(strstr(ds.cases[0].missing, "labelsTr/case_0.nii.gz: label has no image"));
    assert_non_null(strstr(ds.cases[0].images[0], "imagesTr/case_0_0000.nii.gz"));
    assert_null(ds.cases[1].missing);
    assert_string_equal(ds.cases[2].id, "case_b");
    assert_non_null(strstr(ds.cases[2].missing, "missing label of case case_b"));
    assert_null(strchr(ds.cases[2].missing, '\n'));
    assert_null(ds.cases[3].missing);
    assert_int_equal(pf_dataset_find_case(&ds, "case_c"), 3);
    pf_dataset_free(&ds);
}

typedef struct seen {
    int n;
    char msg[4][1024];
} seen;

static void collect(void *arg, const pf_error *e)
{
    seen *s = arg;
    if (s->n < 4)
        snprintf(s->msg[s->n], sizeof s->msg[0], "%s", e->msg);
    s->n++;
}

/* One case with an unreadable image and an undeclared label value: the build names the image
 * only; check gets both, image first, and nothing decoded is left behind. */
static void test_every_problem_of_a_case(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];
    double label[NV];
    pf_dataset ds;
    pf_loaded_case lc;
    pf_error err = {0};
    seen s = {0};
    tu_path(path, "%s/imagesTr/case_b_0000.nii.gz", f->root);
    tu_write_text(path, "not a nifti");
    memcpy(label, f->label, sizeof label);
    label[3] = 5;
    label[4] = 9;
    tu_path(path, "%s/labelsTr/case_b.nii.gz", f->root);
    tu_write_nifti(path, DT_UINT8, NX, NY, NZ, label);
    assert_int_equal(pf_dataset_open(f->root, &ds, &err), 0);

    assert_int_equal(pf_load_case(&ds, 1, &lc, &err), -1);
    assert_non_null(strstr(err.msg, "case_b_0000.nii.gz"));
    assert_null(lc.image);
    assert_null(lc.seg);

    assert_int_equal(pf_load_case_checked(&ds, 1, &lc, collect, &s, &err), -1);
    assert_int_equal(s.n, 2);
    assert_non_null(strstr(s.msg[0], "case_b_0000.nii.gz"));
    assert_non_null(strstr(s.msg[1], "labelsTr/case_b.nii.gz: label value 5 is not named"));
    assert_non_null(strstr(s.msg[1], "(nor are 9)"));
    assert_string_equal(err.msg, s.msg[0]);
    assert_null(lc.image);
    assert_null(lc.seg);

    /* a good case: no problem, the arrays */
    memset(&s, 0, sizeof s);
    assert_int_equal(pf_load_case_checked(&ds, 0, &lc, collect, &s, &err), 0);
    assert_int_equal(s.n, 0);
    assert_non_null(lc.image);
    assert_non_null(lc.seg);
    assert_int_equal(lc.shape[0], NZ);
    pf_loaded_case_free(&lc);
    pf_dataset_free(&ds);
}

/* A case the listing found incomplete: its missing files are its problems, its other files are
 * still checked. */
static void test_missing_file_and_more(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];
    pf_dataset ds;
    pf_loaded_case lc;
    pf_error err = {0};
    seen s = {0};
    tu_path(path, "%s/labelsTr/case_c.nii.gz", f->root);
    assert_int_equal(unlink(path), 0);
    tu_path(path, "%s/imagesTr/case_c_0000.nii.gz", f->root);
    tu_write_text(path, "");
    assert_int_equal(pf_dataset_open_ex(f->root, PF_DS_KEEP_INCOMPLETE, &ds, &err), 0);
    assert_int_equal(pf_load_case_checked(&ds, 2, &lc, collect, &s, &err), -1);
    assert_int_equal(s.n, 2);
    assert_non_null(strstr(s.msg[0], "case_c.nii.gz: missing label"));
    assert_non_null(strstr(s.msg[1], "case_c_0000.nii.gz"));
    /* the build stops at the first */
    assert_int_equal(pf_load_case(&ds, 2, &lc, &err), -1);
    assert_non_null(strstr(err.msg, "missing label"));
    pf_dataset_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_incomplete_listing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_problem_of_a_case, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file_and_more, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
