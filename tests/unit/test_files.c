/* test_files.c - the file table (files.c) against the tree (tree.c): every file node of a small
 * dataset, under several option sets (plain, augmented with deep supervision, 2D, sharded),
 * has a size equal to the length of what pf_produce makes for it; every file kind has its own
 * number and table row; folders are not files. The dataset has a test image smaller than the
 * patch (imagesTs), so test/ and padded tiles are walked too. */
#include "testutil.h"

#include "patchfs/context.h"
#include "patchfs/files.h"
#include "patchfs/tree.h"

#define NX 14
#define NY 12
#define NZ 9
#define NV (NX * NY * NZ)

typedef struct fixture {
    char tmp[PATH_MAX], root[PATH_MAX], cache[PATH_MAX];
} fixture;

static int setup(void **state)
{
    static const char *ids[3] = {"case_a", "case_b", "case_c"};
    fixture *f = calloc(1, sizeof *f);
    double *img = malloc(NV * sizeof *img), *lab = malloc(NV * sizeof *lab);
    tu_raw_case rc[3];
    assert_true(f && img && lab);
    tu_mkdtemp(f->tmp, "files");
    tu_path(f->root, "%s/Dataset001_Walk", f->tmp);
    tu_path(f->cache, "%s/cache", f->tmp);
    for (int i = 0; i < NV; i++) {
        img[i] = 1.0 + (double)((i * 37) % 101);
        lab[i] = (double)((i / 7) % 3);
    }
    for (int c = 0; c < 3; c++)
        rc[c] = (tu_raw_case){.id = ids[c], .nx = NX, .ny = NY, .nz = NZ, .image = img,
                              .label = lab, .spacing = {1.0, 1.0, 2.5}};
    tu_write_raw_dataset(f->root, rc, 3, 3);
    {
        char path[PATH_MAX];
        tu_nifti_opts no = {.version = 1, .spacing = {1.0, 1.0, 2.5}};
        tu_path(path, "%s/imagesTs", f->root);
        assert_int_equal(mkdir(path, 0700), 0);
        tu_path(path, "%s/imagesTs/new_small_0000.nii.gz", f->root);
        tu_write_nifti_ex(path, DT_FLOAT32, 6, 5, 4, 1, img, &no);
    }
    free(img);
    free(lab);
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

/* Visits every node below dir; checks each file; returns the number of files checked. */
static int walk(pf_ctx *ctx, const pf_node *dir, int kinds_seen[PF_FILE_KINDS])
{
    const pf_tree *t = pf_ctx_tree(ctx);
    uint64_t count = pf_tree_child_count(t, dir);
    int files = 0;
    for (uint64_t i = 0; i < count; i++) {
        pf_node n;
        char name[256];
        assert_int_equal(pf_tree_child_at(t, dir, i, &n), 0);
        pf_node_name(t, &n, name, sizeof name);
        if (pf_node_is_dir(&n)) {
            assert_int_equal(pf_node_file(&n), PF_FILE_NONE);
            files += walk(ctx, &n, kinds_seen);
        } else {
            pf_error err = {0};
            uint64_t size = 0;
            char *buf = NULL;
            size_t len = 0;
            pf_file_kind k = pf_node_file(&n);
            assert_true(k > PF_FILE_NONE && k < PF_FILE_KINDS);
            kinds_seen[k]++;
            if (pf_file_size(ctx, &n, &size, &err) != 0)
                fail_msg("size of %s: %s", name, err.msg);
            if (pf_produce(ctx, &n, &buf, &len, &err) != 0)
                fail_msg("making %s: %s", name, err.msg);
            if (size != (uint64_t)len)
                fail_msg("%s (kind %d): size %llu but %zu bytes made", name, (int)k,
                         (unsigned long long)size, len);
            /* arrays are exactly the files the table marks as such (.npy, batch.npz) */
            assert_int_equal((pf_file_flags(k) & PF_FILE_ARRAY) != 0,
                             strstr(name, ".npy") != NULL || strstr(name, ".npz") != NULL);
            assert_int_equal((pf_file_flags(k) & PF_FILE_LIVE) != 0, k == PF_FILE_STATUS);
            pf_file_release(buf);
            files++;
        }
    }
    return files;
}

static void walk_with(const fixture *f, const char *opts, int kinds_seen[PF_FILE_KINDS])
{
    pf_options o;
    pf_error err = {0};
    pf_ctx *ctx = NULL;
    pf_node root = pf_node_root(), dir;
    int files;
    pf_options_init(&o);
    o.cache_dir = strdup(f->cache);
    if (pf_options_parse_list(&o, opts, &err) != 0)
        fail_msg("options %s: %s", opts, err.msg);
    if (pf_ctx_open(&ctx, f->root, &o, 0, NULL, NULL, &err) != 0)
        fail_msg("pf_ctx_open (%s): %s", opts, err.msg);
    files = walk(ctx, &root, kinds_seen);
    assert_true(files > 20);
    print_message("%s: %d files\n", opts, files);
    /* the test image was walked (padded to the patch) */
    assert_int_equal(pf_tree_resolve(pf_ctx_tree(ctx), "test/new_small/tiles/0/data.npy", &dir),
                     0);
    /* a folder is not a file */
    assert_int_equal(pf_tree_resolve(pf_ctx_tree(ctx), "train/epoch_0/step_0", &dir), 0);
    assert_int_not_equal(pf_file_size(ctx, &dir, &(uint64_t){0}, &err), 0);
    assert_int_equal(err.errnum, EISDIR);
    pf_ctx_close(ctx);
    pf_options_free(&o);
}

static void test_every_node_size_equals_made_length(void **state)
{
    const fixture *f = *state;
    int seen[PF_FILE_KINDS] = {0};
    walk_with(f, "epochs=1,steps=2,val_steps=1,batch=2,patch=8x8x8", seen);
    walk_with(f, "epochs=1,steps=2,val_steps=1,batch=3,patch=8x9x7,aug=nnunet,"
                 "ds_scales=1,0.5,0.25,seed=5", seen);
    walk_with(f, "epochs=1,steps=1,val_steps=1,batch=2,patch=10x12", seen);
    walk_with(f, "epochs=1,steps=1,val_steps=1,batch=5,patch=8x8x8,shard=1/2", seen);
    /* every kind of file was met */
    for (int k = PF_FILE_NONE + 1; k < PF_FILE_KINDS; k++)
        if (!seen[k])
            fail_msg("file kind %d never met in the walks", k);
}

/* Each node maps to one kind, and a sibling of a kind maps back to it. */
static void test_kinds_and_siblings(void **state)
{
    pf_node n = {.kind = PF_NODE_STEP_FILE, .epoch = 1, .step = 2}, s;
    static const pf_file_kind step[] = {PF_FILE_STEP_DATA, PF_FILE_STEP_SEG, PF_FILE_STEP_META,
                                        PF_FILE_STEP_PREVIEW};
    (void)state;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pf_node_sibling(&n, step[i], &s), 0);
        assert_int_equal(pf_node_file(&s), step[i]);
        assert_int_equal(s.epoch, 1);
        assert_int_equal(s.step, 2);
    }
    assert_int_not_equal(pf_node_sibling(&n, PF_FILE_CASE_DATA, &s), 0);
    n.slot = PF_FOLDER_FILES + 2;
    assert_int_equal(pf_node_file(&n), PF_FILE_STEP_SEG_DS);
    assert_int_equal(pf_node_ds_level(&n), 3);
    n.kind = PF_NODE_CASE_FILE;
    n.slot = 2;
    assert_int_equal(pf_node_file(&n), PF_FILE_CASE_PROPERTIES);
    assert_int_equal(pf_node_ds_level(&n), 0);
    n.kind = PF_NODE_SAMPLE_FILE;
    assert_int_equal(pf_node_file(&n), PF_FILE_SAMPLE_IMAGE_NII);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_node_size_equals_made_length, setup, teardown),
        cmocka_unit_test(test_kinds_and_siblings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
