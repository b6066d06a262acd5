/* test_tree.c - the virtual tree's grammar (tree.h): path resolution of valid and
 * non-canonical names, computed inode numbers (round trip, uniqueness, rejection of garbage),
 * and agreement of child listing (count, child_at, name) with lookup for every directory,
 * test/ and the tiles folders included. */
#include "testutil.h"

#include "patchfs/tree.h"

static char *const ids3[] = {"case_a", "case_b", "case_c"};
static char *const test_ids[] = {"new_x", "new_y"};
static const uint32_t case_tiles[] = {2, 1, 3}, test_tiles[] = {1, 2};

/* small limits for exhaustive walks (two test images) */
static const pf_tree small = {.epochs = 3, .steps = 4, .val_steps = 2, .samples = 2,
                              .n_cases = 3, .case_ids = ids3, .n_test = 2,
                              .test_ids = test_ids, .tiles = {case_tiles, test_tiles}};
/* nnU-Net's defaults for the boundary names (no test images: no test/) */
static const pf_tree big = {.epochs = 1000, .steps = 250, .val_steps = 50, .samples = 2,
                            .n_cases = 3, .case_ids = ids3, .tiles = {case_tiles, NULL}};

static int node_eq(const pf_node *a, const pf_node *b)
{
    return a->kind == b->kind && a->split == b->split && a->epoch == b->epoch &&
           a->step == b->step && a->sample == b->sample && a->case_idx == b->case_idx &&
           a->slot == b->slot && a->tile == b->tile;
}

/* slots of a step, case or sample folder (tree.h) */
enum { SLOT_DATA, SLOT_SEG, SLOT_META };

static pf_node mk(pf_node_kind kind, uint32_t split, uint32_t epoch, uint32_t step,
                  uint32_t case_idx, uint32_t slot)
{
    pf_node n = {.kind = kind, .split = split, .epoch = epoch, .step = step,
                 .case_idx = case_idx, .slot = slot};
    return n;
}

static void expect_resolves(const pf_tree *t, const char *path, pf_node want)
{
    pf_node got;
    memset(&got, 0xff, sizeof got);
    if (pf_tree_resolve(t, path, &got) != 0)
        fail_msg("'%s' should resolve", path);
    if (!node_eq(&got, &want))
        fail_msg("'%s' resolved to kind %d split %u epoch %u step %u case %u file %d", path,
                 got.kind, got.split, got.epoch, got.step, got.case_idx, got.slot);
}

static void expect_missing(const pf_tree *t, const char *path)
{
    pf_node got;
    if (pf_tree_resolve(t, path, &got) == 0)
        fail_msg("'%s' should not resolve (got kind %d)", path, got.kind);
}

static void test_resolve_valid(void **state)
{
    (void)state;
    expect_resolves(&big, "", pf_node_root());
    expect_resolves(&big, "/", pf_node_root());
    expect_resolves(&big, "README.txt", mk(PF_NODE_ROOT_FILE, 0, 0, 0, 0, 0));
    expect_resolves(&big, "/patchfs.json", mk(PF_NODE_ROOT_FILE, 0, 0, 0, 0, 1));
    expect_resolves(&big, "splits.json", mk(PF_NODE_ROOT_FILE, 0, 0, 0, 0, 2));
    expect_resolves(&big, "plans.json", mk(PF_NODE_ROOT_FILE, 0, 0, 0, 0, 4));
    expect_resolves(&big, "train", mk(PF_NODE_SPLIT_DIR, 0, 0, 0, 0, 0));
    expect_resolves(&big, "val/", mk(PF_NODE_SPLIT_DIR, 1, 0, 0, 0, 0));
    expect_resolves(&big, "cases", mk(PF_NODE_CASES_DIR, 0, 0, 0, 0, 0));
    expect_resolves(&big, "train/epoch_0", mk(PF_NODE_EPOCH_DIR, 0, 0, 0, 0, 0));
    expect_resolves(&big, "train/epoch_999", mk(PF_NODE_EPOCH_DIR, 0, 999, 0, 0, 0));
    expect_resolves(&big, "train/epoch_3/step_17/data.npy",
                    mk(PF_NODE_STEP_FILE, 0, 3, 17, 0, SLOT_DATA));
    expect_resolves(&big, "train/epoch_10/step_249/seg.npy",
                    mk(PF_NODE_STEP_FILE, 0, 10, 249, 0, SLOT_SEG));
    expect_resolves(&big, "val/epoch_999/step_49/meta.json",
                    mk(PF_NODE_STEP_FILE, 1, 999, 49, 0, SLOT_META));
    expect_resolves(&big, "//train//epoch_3///step_0//", mk(PF_NODE_STEP_DIR, 0, 3, 0, 0, 0));
    expect_resolves(&big, "cases/case_b", mk(PF_NODE_CASE_DIR, 0, 0, 0, 1, 0));
    expect_resolves(&big, "cases/case_c/properties.json",
                    mk(PF_NODE_CASE_FILE, 0, 0, 0, 2, SLOT_META));
    expect_resolves(&big, "/cases/case_a/data.npy",
                    mk(PF_NODE_CASE_FILE, 0, 0, 0, 0, SLOT_DATA));
    expect_resolves(&big, "gaussian.npy", mk(PF_NODE_ROOT_FILE, 0, 0, 0, 0, 5));
    expect_resolves(&big, "cases/case_c/tiles.json", mk(PF_NODE_CASE_FILE, 0, 0, 0, 2, 4));
    expect_resolves(&big, "cases/case_c/tiles", mk(PF_NODE_TILES_DIR, 0, 0, 0, 2, 0));
    {
        pf_node t = mk(PF_NODE_TILE_FILE, 0, 0, 0, 2, 0);
        t.tile = 2;
        expect_resolves(&big, "cases/case_c/tiles/2/data.npy", t);
        t.kind = PF_NODE_TILE_DIR;
        expect_resolves(&big, "cases/case_c/tiles/2", t);
    }
    expect_resolves(&small, "test", mk(PF_NODE_CASES_DIR, 1, 0, 0, 0, 0));
    expect_resolves(&small, "test/new_y", mk(PF_NODE_CASE_DIR, 1, 0, 0, 1, 0));
    expect_resolves(&small, "test/new_x/data.npy", mk(PF_NODE_CASE_FILE, 1, 0, 0, 0, SLOT_DATA));
    expect_resolves(&small, "test/new_x/tiles.json", mk(PF_NODE_CASE_FILE, 1, 0, 0, 0, 4));
}

static void test_resolve_invalid(void **state)
{
    static const char *const bad[] = {
        "train/epoch_01", "train/epoch_-1", "train/epoch_+1", "train/epoch_ 1", "train/epoch_",
        "train/epoch_1a", "train/epoch_0x1", "train/epoch_1000", "train/step_0",
        "train/epoch_0/step_250", "train/epoch_0/step_0250", "val/epoch_0/step_50",
        "train/epoch_99999999999999999999", "train/epoch_4294967296",
        "train/epoch_0/step_18446744073709551616", "cases/case_d", "cases/case",
        "cases/case_a_", "README.txt/x", "Train", "train/Epoch_0",
        "train/epoch_0/step_0/properties.json", "cases/case_a/meta.json",
        "train/epoch_0/step_0/data.npy/x", "nothing", "epoch_0", ".", "..", "train/..",
        "train/epoch_0/.", "test", "test/case_a", "cases/case_a/tiles/2",
        "cases/case_a/tiles/01", "cases/case_a/tiles/-1", "cases/case_a/tiles/0/seg.npy",
        "cases/case_b/tiles/1", "cases/case_a/tiles.npy", "gaussian.json",
    };
    char longname[400];
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_missing(&big, bad[i]);
    /* a component longer than any real name */
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    expect_missing(&big, longname);
    /* the same boundary names with the small limits */
    expect_missing(&small, "train/epoch_3");
    expect_missing(&small, "train/epoch_0/step_4");
    expect_missing(&small, "val/epoch_0/step_2");
    expect_resolves(&small, "train/epoch_2/step_3", mk(PF_NODE_STEP_DIR, 0, 2, 3, 0, 0));
    expect_resolves(&small, "val/epoch_2/step_1", mk(PF_NODE_STEP_DIR, 1, 2, 1, 0, 0));
    /* a test case has no labels; test/ holds only the test images */
    expect_missing(&small, "test/new_x/seg.npy");
    expect_missing(&small, "test/case_a");
    expect_missing(&small, "test/new_x/tiles/1");
    expect_missing(&small, "cases/new_x");
}

/* ---- exhaustive walk of the small tree ---- */

enum { MAX_NODES = 512 };

typedef struct walk {
    pf_node nodes[MAX_NODES];
    char paths[MAX_NODES][256];
    int n;
} walk;

static void walk_from(const pf_tree *t, walk *w, const pf_node *dir, const char *path)
{
    uint64_t count = pf_tree_child_count(t, dir);
    pf_node extra;
    assert_true(pf_node_is_dir(dir));
    for (uint64_t i = 0; i < count; i++) {
        pf_node child, looked, resolved, parent;
        char name[64], full[256];
        assert_int_equal(pf_tree_child_at(t, dir, i, &child), 0);
        pf_node_name(t, &child, name, sizeof name);
        assert_true(name[0] != '\0');
        /* the listed name looks up to the same node, its parent is dir, and the full path
         * resolves to it */
        assert_int_equal(pf_tree_lookup(t, dir, name, &looked), 0);
        assert_true(node_eq(&looked, &child));
        parent = pf_node_parent(&child);
        assert_true(node_eq(&parent, dir));
        snprintf(full, sizeof full, "%s/%s", path, name);
        assert_int_equal(pf_tree_resolve(t, full, &resolved), 0);
        assert_true(node_eq(&resolved, &child));
        assert_true(w->n < MAX_NODES);
        w->nodes[w->n] = child;
        memcpy(w->paths[w->n], full, sizeof full);
        w->n++;
        if (pf_node_is_dir(&child))
            walk_from(t, w, &child, full);
    }
    assert_int_not_equal(pf_tree_child_at(t, dir, count, &extra), 0);
}

static void walk_small(walk *w)
{
    pf_node root = pf_node_root();
    memset(w, 0, sizeof *w);
    w->nodes[0] = root;
    w->n = 1;
    walk_from(&small, w, &root, "");
}

/* Counted by hand from tree.h: root 1 + its 10 children; train: 3 epochs * (folder + summary
 * + 4 steps * (folder + 4 files + batch.npz + 2 samples * (folder + 4 files))) = 198; val:
 * 3 * (1 + 1 + 2 * 16) = 102; cases: 3 * (folder + 5 files + tiles/) + (2 + 1 + 3) tiles *
 * (folder + file) = 33; test: 2 * (folder + 4 files + tiles/) + (1 + 2) * 2 = 18. */
static void test_listing_agrees_with_lookup(void **state)
{
    static walk w;
    pf_node root = pf_node_root(), n;
    char name[64];
    (void)state;
    walk_small(&w);
    assert_int_equal(w.n, 1 + 10 + 198 + 102 + 33 + 18);
    assert_int_equal(pf_tree_child_count(&small, &root), 10);
    assert_int_equal(pf_tree_child_count(&big, &root), 9); /* no test/ */
    pf_node_name(&small, &root, name, sizeof name);
    assert_string_equal(name, "");
    /* listing order and names of the root and of a step folder, as tree.h documents */
    {
        static const char *const want[] = {"README.txt", "patchfs.json", "splits.json",
                                           "status.json", "plans.json", "gaussian.npy",
                                           "train", "val", "cases", "test"};
        for (int i = 0; i < 10; i++) {
            assert_int_equal(pf_tree_child_at(&small, &root, (uint64_t)i, &n), 0);
            pf_node_name(&small, &n, name, sizeof name);
            assert_string_equal(name, want[i]);
        }
    }
    assert_int_equal(pf_tree_resolve(&small, "val/epoch_1", &n), 0);
    assert_int_equal(pf_tree_child_count(&small, &n), 1 + 2);   /* summary.json + steps */
    assert_int_equal(pf_tree_resolve(&small, "train/epoch_1", &n), 0);
    assert_int_equal(pf_tree_child_count(&small, &n), 1 + 4);
    assert_int_equal(pf_tree_resolve(&small, "train/epoch_1/step_3", &n), 0);
    assert_int_equal(pf_tree_child_count(&small, &n), 4 + 1 + 2); /* 4 files, batch.npz, samples */
    {
        pf_node c;
        assert_int_equal(pf_tree_child_at(&small, &n, 4, &c), 0);
        pf_node_name(&small, &c, name, sizeof name);
        assert_string_equal(name, "batch.npz");
        assert_int_equal(pf_node_file(&c), PF_FILE_STEP_BATCH);
        assert_int_equal(pf_node_ds_level(&c), 0);
    }
    assert_int_equal(pf_tree_resolve(&small, "train/epoch_1/step_3/batch.npz", &n), 0);
    assert_int_equal(pf_node_file(&n), PF_FILE_STEP_BATCH);
    assert_int_equal(pf_node_from_ino(&small, pf_node_ino(&n), &n), 0);
    assert_int_equal(pf_node_file(&n), PF_FILE_STEP_BATCH);
    assert_int_not_equal(pf_tree_resolve(&small, "train/epoch_1/step_3/sample_0/batch.npz", &n), 0);
    assert_int_equal(pf_tree_resolve(&small, "train/epoch_1/step_3/sample_1/label.nii.gz", &n), 0);
    assert_int_equal(n.kind, PF_NODE_SAMPLE_FILE);
    assert_int_equal(pf_node_file(&n), PF_FILE_SAMPLE_LABEL_NII);
    assert_int_not_equal(pf_tree_resolve(&small, "train/epoch_1/step_3/sample_2", &n), 0);
    assert_int_not_equal(pf_tree_resolve(&small, "train/epoch_1/step_3/sample_01", &n), 0);
    assert_int_not_equal(pf_tree_resolve(&small, "train/epoch_1/step_3/sample_0/meta.json", &n), 0);
    assert_int_not_equal(pf_tree_resolve(&small, "train/summary.json", &n), 0);
    assert_int_equal(pf_tree_resolve(&small, "cases/case_b", &n), 0);
    pf_node_name(&small, &n, name, sizeof name);
    assert_string_equal(name, "case_b");
    assert_int_equal(pf_tree_child_count(&small, &n), 6); /* 5 files + tiles/ */
    assert_int_equal(pf_tree_resolve(&small, "test/new_y", &n), 0);
    assert_int_equal(pf_tree_child_count(&small, &n), 5); /* no seg.npy */
    {
        static const char *const want[] = {"data.npy", "properties.json", "preview.png",
                                           "tiles.json", "tiles"};
        for (int i = 0; i < 5; i++) {
            pf_node c;
            assert_int_equal(pf_tree_child_at(&small, &n, (uint64_t)i, &c), 0);
            pf_node_name(&small, &c, name, sizeof name);
            assert_string_equal(name, want[i]);
        }
    }
    /* files have no children */
    assert_int_equal(pf_tree_resolve(&small, "README.txt", &n), 0);
    assert_false(pf_node_is_dir(&n));
    assert_int_equal(pf_tree_child_count(&small, &n), 0);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_ino_round_trip(void **state)
{
    static walk w;
    uint64_t inos[MAX_NODES];
    (void)state;
    walk_small(&w);
    assert_int_equal(pf_node_ino(&w.nodes[0]), 1);
    assert_int_equal(PF_ROOT_INO, 1);
    for (int i = 0; i < w.n; i++) {
        pf_node back;
        inos[i] = pf_node_ino(&w.nodes[i]);
        if (i > 0)
            assert_true(inos[i] >= 2); /* 0 is invalid for FUSE and 1 is the root */
        if (pf_node_from_ino(&small, inos[i], &back) != 0)
            fail_msg("ino of %s does not map back", w.paths[i]);
        if (!node_eq(&back, &w.nodes[i]))
            fail_msg("ino of %s maps to a different node", w.paths[i]);
    }
    qsort(inos, (size_t)w.n, sizeof inos[0], cmp_u64);
    for (int i = 1; i < w.n; i++)
        assert_true(inos[i] != inos[i - 1]);
}

static int ino_is_listed(const walk *w, uint64_t ino)
{
    for (int i = 0; i < w->n; i++)
        if (pf_node_ino(&w->nodes[i]) == ino)
            return 1;
    return 0;
}

/* An accepted ino must be the ino of a node that exists: returns 1 (and prints the first few)
 * for a "phantom" ino that is accepted but names no node of the tree. */
static int phantom_ino(const walk *w, uint64_t ino)
{
    static int printed;
    pf_node n;
    if (pf_node_from_ino(&small, ino, &n) != 0 || ino_is_listed(w, ino))
        return 0;
    if (printed++ < 5)
        print_message("ino 0x%016llx accepted as kind %d split %u epoch %u step %u case %u "
                      "file %d, but no node of the tree has it\n", (unsigned long long)ino,
                      n.kind, n.split, n.epoch, n.step, n.case_idx, n.slot);
    return 1;
}

static void test_ino_garbage_rejected(void **state)
{
    static walk w;
    pf_node n;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    int phantoms = 0;
    (void)state;
    walk_small(&w);
    assert_int_not_equal(pf_node_from_ino(&small, 0, &n), 0);
    assert_int_not_equal(pf_node_from_ino(&small, 2, &n), 0);
    assert_int_not_equal(pf_node_from_ino(&small, UINT64_MAX, &n), 0);
    /* nodes past the limits, encoded by the library's own function */
    {
        const pf_node beyond[] = {
            mk(PF_NODE_STEP_DIR, 0, 0, 4, 0, 0),                 /* step >= steps */
            mk(PF_NODE_STEP_DIR, 1, 0, 2, 0, 0),                 /* step >= val_steps */
            mk(PF_NODE_STEP_FILE, 1, 2, 3, 0, SLOT_DATA),     /* val step 3 */
            mk(PF_NODE_EPOCH_DIR, 0, 3, 0, 0, 0),                /* epoch >= epochs */
            mk(PF_NODE_STEP_FILE, 0, 3, 0, 0, SLOT_SEG),
            mk(PF_NODE_CASE_DIR, 0, 0, 0, 3, 0),                 /* case >= n_cases */
            mk(PF_NODE_CASE_FILE, 0, 0, 0, 7, SLOT_DATA),
            mk(PF_NODE_SUMMARY, 1, 3, 0, 0, 0),                  /* epoch >= epochs */
            mk(PF_NODE_CASE_DIR, 1, 0, 0, 2, 0),                 /* case >= n_test */
            mk(PF_NODE_CASE_FILE, 1, 0, 0, 0, SLOT_SEG),         /* a test case's seg.npy */
            mk(PF_NODE_CASE_FILE, 0, 0, 0, 0, 5),                /* slot >= case files */
        };
        pf_node tile = mk(PF_NODE_TILE_FILE, 1, 0, 0, 1, 0);
        tile.tile = 1;
        assert_int_equal(pf_node_from_ino(&small, pf_node_ino(&tile), &n), 0);
        tile.tile = 2; /* tile >= the case's tiles */
        assert_int_not_equal(pf_node_from_ino(&small, pf_node_ino(&tile), &n), 0);
        tile.tile = 1u << 20; /* high bits of the tile field */
        assert_int_not_equal(pf_node_from_ino(&small, pf_node_ino(&tile), &n), 0);
        tile = mk(PF_NODE_CASES_DIR, 1, 0, 0, 0, 0); /* test/ of a tree without test images */
        assert_int_not_equal(pf_node_from_ino(&big, pf_node_ino(&tile), &n), 0);
        pf_node sample = mk(PF_NODE_SAMPLE_DIR, 0, 0, 0, 0, 0);
        for (size_t i = 0; i < sizeof beyond / sizeof beyond[0]; i++)
            if (pf_node_from_ino(&small, pf_node_ino(&beyond[i]), &n) == 0)
                fail_msg("node %zu past the tree's limits is accepted", i);
        sample.sample = 2; /* sample >= samples */
        assert_int_not_equal(pf_node_from_ino(&small, pf_node_ino(&sample), &n), 0);
    }
    /* low bits that no field uses (the three lowest) */
    for (uint64_t k = 12; k < 16; k++)
        assert_int_not_equal(pf_node_from_ino(&small, k << 60 | 5, &n), 0);
    assert_int_not_equal(pf_node_from_ino(&small, 1ULL << 28, &n), 0);
    /* random 64-bit values (splitmix64) */
    for (int i = 0; i < 100000; i++) {
        uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        phantoms += phantom_ino(&w, z);
    }
    assert_int_equal(phantoms, 0);
    /* every listed ino with one extra bit set must not name a second, phantom node */
    for (int i = 0; i < w.n; i++)
        for (int bit = 0; bit < 64; bit++)
            phantoms += phantom_ino(&w, pf_node_ino(&w.nodes[i]) ^ (1ULL << bit));
    if (phantoms)
        fail_msg("%d single-bit variants of real inos are accepted as phantom nodes", phantoms);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve_valid),
        cmocka_unit_test(test_resolve_invalid),
        cmocka_unit_test(test_listing_agrees_with_lookup),
        cmocka_unit_test(test_ino_round_trip),
        cmocka_unit_test(test_ino_garbage_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
