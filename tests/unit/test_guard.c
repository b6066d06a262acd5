/* test_guard.c - cache entries that fail while mapped (issue 13, items 5 and 7): an entry
 * truncated under an open context gives EIO to the read that meets it, never a SIGBUS that
 * kills the process, and the next use rebuilds it and serves the original bytes (case arrays,
 * step arrays, and the stored locations the sampler reads); repairs run while other threads
 * read (a corrupt entry met by several readers at once, entries truncated again and again),
 * with no data race: `make test-tsan` runs this file under ThreadSanitizer, where the old
 * repair (rewriting the header and pointers the sampler reads) was reported. */
#include "testutil.h"

#include <pthread.h>
#include <sys/stat.h>

#include "cache.h"
#include "context_i.h"
#include "dataset.h"
#include "extract.h"
#include "patchfs/files.h"

enum { NX = 40, NY = 32, NZ = 24, NV = NX * NY * NZ, N_CASES = 3, THREADS = 4 };
static const char *const ids[N_CASES] = {"case_a", "case_b", "case_c"};
#define OPTS "seed=5,batch=4,oversample=1,patch=16x24x20,steps=8,threads=1,sample_threads=2"

/* Files the tests read, and their bytes as first produced. */
static const char *const files[] = {
    "cases/case_b/data.npy", "cases/case_b/seg.npy", "train/epoch_0/step_0/data.npy",
    "train/epoch_0/step_1/seg.npy", "train/epoch_0/step_2/meta.json",
    "train/epoch_0/step_3/data.npy", "train/epoch_1/step_4/seg.npy", "cases/case_a/seg.npy",
};
enum { N_FILES = sizeof files / sizeof *files };

/* The dataset and a first cache are made once (group_setup, slow under ThreadSanitizer);
 * each test opens a context on a copy of that cache, which it may damage. */
static struct {
    char tmp[PATH_MAX], root[PATH_MAX], cache[PATH_MAX];
    double *images[N_CASES], *labels[N_CASES];
} group;

typedef struct fixture {
    char tmp[PATH_MAX];
    pf_options opt;
    pf_ctx *ctx;
    char *ref[N_FILES];
    size_t ref_len[N_FILES];
} fixture;

static void open_options(pf_options *o, const char *cache)
{
    pf_error err = {0};
    pf_options_init(o);
    if (pf_options_parse_list(o, OPTS, &err) != 0)
        fail_msg("options: %s", err.msg);
    o->cache_dir = strdup(cache);
}

static int group_setup(void **state)
{
    tu_raw_case rc[N_CASES];
    pf_error err = {0};
    pf_options o;
    pf_ctx *ctx;
    (void)state;
    tu_mkdtemp(group.tmp, "guard");
    tu_path(group.root, "%s/Dataset001_Guard", group.tmp);
    tu_path(group.cache, "%s/cache", group.tmp);
    for (int c = 0; c < N_CASES; c++) {
        group.images[c] = malloc(NV * sizeof(double));
        group.labels[c] = malloc(NV * sizeof(double));
        assert_true(group.images[c] && group.labels[c]);
        for (int i = 0; i < NV; i++) {
            int x = i % NX, y = i / NX % NY, z = i / (NX * NY);
            group.images[c][i] = 1.0 + (double)((x * 7 + y * 3 + z * 5 + c) % 23);
            group.labels[c][i] = (x - 20) * (x - 20) + (y - 16) * (y - 16) < 30 + 20 * c
                                     ? 1 + (z > 12) : 0;
        }
        rc[c] = (tu_raw_case){.id = ids[c], .nx = NX, .ny = NY, .nz = NZ,
                              .image = group.images[c], .label = group.labels[c],
                              .spacing = {1.0, 1.0, 1.0}};
    }
    tu_write_raw_dataset(group.root, rc, N_CASES, 3);
    open_options(&o, group.cache);
    if (pf_ctx_open(&ctx, group.root, &o, 0, NULL, NULL, &err) != 0)
        fail_msg("pf_ctx_open: %s", err.msg);
    pf_ctx_close(ctx);
    pf_options_free(&o);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    for (int c = 0; c < N_CASES; c++) {
        free(group.images[c]);
        free(group.labels[c]);
    }
    tu_rm_rf(group.tmp);
    return 0;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    pf_error err = {0};
    char cache[PATH_MAX], cmd[3 * PATH_MAX];
    assert_non_null(f);
    tu_mkdtemp(f->tmp, "guard");
    tu_path(cache, "%s/cache", f->tmp);
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", group.cache, cache);
    assert_int_equal(system(cmd), 0);
    open_options(&f->opt, cache);
    if (pf_ctx_open(&f->ctx, group.root, &f->opt, 0, NULL, NULL, &err) != 0)
        fail_msg("pf_ctx_open: %s", err.msg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->ctx)
        pf_ctx_close(f->ctx);
    pf_options_free(&f->opt);
    for (int i = 0; i < N_FILES; i++)
        pf_file_release(f->ref[i]);
    tu_rm_rf(f->tmp);
    free(f);
    return 0;
}

static int produce(pf_ctx *ctx, const char *path, char **buf, size_t *len, pf_error *err)
{
    pf_node n;
    if (pf_tree_resolve(&ctx->tree, path, &n) != 0)
        fail_msg("no such file: %s", path);
    return pf_produce(ctx, &n, buf, len, err);
}

static void read_references(fixture *f)
{
    pf_error err = {0};
    for (int i = 0; i < N_FILES; i++)
        if (produce(f->ctx, files[i], &f->ref[i], &f->ref_len[i], &err) != 0)
            fail_msg("%s: %s", files[i], err.msg);
}

/* Produces file i and compares it with its reference; 0, or -1 with EIO for a read that met
 * a failed entry (any other error fails the test). */
static int check_file(fixture *f, int i)
{
    pf_error err = {0};
    char *buf;
    size_t len;
    if (produce(f->ctx, files[i], &buf, &len, &err) != 0) {
        if (err.errnum != EIO || !strstr(err.msg, "failed while mapped"))
            fail_msg("%s: unexpected error (%d): %s", files[i], err.errnum, err.msg);
        return -1;
    }
    if (len != f->ref_len[i] || memcmp(buf, f->ref[i], len) != 0)
        fail_msg("%s: bytes differ from the original", files[i]);
    pf_file_release(buf);
    return 0;
}

static const char *entry(const fixture *f, int c)
{
    return f->ctx->cache.cases[c].path;
}

/* A file served with its original bytes at the latest on the second read: the first read
 * after an entry failed gets EIO, the next rebuilds it. */
static void served_eventually(fixture *f, int i)
{
    if (check_file(f, i) != 0)
        assert_int_equal(check_file(f, i), 0);
}

/* An entry truncated under an open context: a read through the mapping meets SIGBUS, which
 * the guard turns into a counted fault (the read completes; its token says it failed); a
 * read through pf_produce finds the file shorter first and fails with EIO; either way the
 * next use rebuilds the entry and serves the original bytes, and other cases never fail. */
static void test_truncated_case_array(void **state)
{
    fixture *f = *state;
    pf_case *c;
    struct stat sb, again;
    const int64_t start[3] = {0, 0, 0};
    int whole[3];
    int16_t *seg;
    unsigned token;
    pf_fault_guard_install(); /* cmocka installs its own SIGBUS handler around each test */
    read_references(f);
    c = &f->ctx->cache.cases[1];
    assert_int_equal(stat(entry(f, 1), &sb), 0);
    for (int d = 0; d < 3; d++)
        whole[d] = (int)c->hdr.shape[d];
    seg = malloc((size_t)(whole[0] * whole[1] * whole[2]) * sizeof *seg);
    assert_non_null(seg);
    /* everything after the header gone: every page of the pixels faults */
    assert_int_equal(truncate(entry(f, 1), (off_t)c->hdr.image_off), 0);
    assert_int_equal(pf_case_read_begin(c, &token), 0);
    pf_extract_seg(c, start, whole, seg);                 /* SIGBUS: it used to kill us */
    assert_int_equal(pf_case_read_end(c, token), -1);
    assert_false(pf_case_sound(c));
    assert_int_equal(check_file(f, 1), 0);                /* the next use rebuilds it */
    assert_int_equal(f->ctx->cache.repairs, 1);
    assert_true(pf_case_sound(c));
    /* found shorter before reading: EIO for that read, rebuilt by the next */
    assert_int_equal(truncate(entry(f, 1), (off_t)c->hdr.meta_off + 10), 0);
    assert_int_equal(check_file(f, 1), -1);
    assert_int_equal(check_file(f, 1), 0);
    assert_int_equal(f->ctx->cache.repairs, 2);
    assert_int_equal(check_file(f, 0), 0);
    assert_int_equal(check_file(f, 7), 0);                /* other cases never failed */
    assert_int_equal(f->ctx->cache.repairs, 2);
    assert_int_equal(stat(entry(f, 1), &again), 0);
    assert_int_equal(again.st_size, sb.st_size);
    free(seg);
}

/* Every position forced (oversample=1): each reads a stored location of its case. With the
 * locations truncated away (from the page they start in), the sampler reports the position
 * (it used to be killed); the files of steps are served with their original bytes once the
 * cases are rebuilt. */
static void test_truncated_locations(void **state)
{
    fixture *f = *state;
    pf_sample s[4];
    int bad = 0, step;
    pf_fault_guard_install();
    read_references(f);
    for (int c = 0; c < N_CASES; c++)
        assert_int_equal(truncate(entry(f, c),
                                  (off_t)(f->ctx->cache.cases[c].hdr.locs_off & ~(uint64_t)4095)),
                         0);
    for (step = 0; step < 8 && !bad; step++)
        bad = pf_sample_step(&f->ctx->sampler, PF_SPLIT_TRAIN, 0, (uint32_t)step, s);
    assert_true(bad > 0);
    for (int i = 2; i < N_FILES; i++)
        served_eventually(f, i);
    assert_true(f->ctx->cache.repairs >= 1);
    for (step = 0; step < 8; step++)
        assert_int_equal(pf_sample_step(&f->ctx->sampler, PF_SPLIT_TRAIN, 0, (uint32_t)step, s),
                         0);
}

/* ---- readers and repairs at once ---- */

typedef struct reader {
    fixture *f;
    pthread_t th;
    int seed, rounds, eio;
} reader;

static void *read_loop(void *p)
{
    reader *r = p;
    for (int k = 0; k < r->rounds; k++)
        r->eio += check_file(r->f, (r->seed + k * 5) % N_FILES) != 0;
    return NULL;
}

static void run_readers(fixture *f, int rounds, void (*meanwhile)(fixture *))
{
    reader r[THREADS];
    for (int t = 0; t < THREADS; t++) {
        r[t] = (reader){.f = f, .seed = t * 3, .rounds = rounds};
        assert_int_equal(pthread_create(&r[t].th, NULL, read_loop, &r[t]), 0);
    }
    if (meanwhile)
        meanwhile(f);
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(r[t].th, NULL), 0);
}

/* A corrupt entry met by several readers at once: one rebuilds it while the others sample
 * (reading headers, class tables and locations) and wait; all get the original bytes. */
static void test_corrupt_entry_concurrent_readers(void **state)
{
    fixture *f = *state;
    pf_error err = {0};
    char path[PATH_MAX];
    long off;
    pf_fault_guard_install();
    read_references(f);
    snprintf(path, sizeof path, "%s", entry(f, 1));
    off = (long)f->ctx->cache.cases[1].hdr.image_off + 100;
    pf_ctx_close(f->ctx);
    tu_flip_byte(path, off, 0x55);
    if (pf_ctx_open(&f->ctx, group.root, &f->opt, 0, NULL, NULL, &err) != 0)
        fail_msg("pf_ctx_open: %s", err.msg);
    run_readers(f, 12, NULL);
    assert_int_equal(f->ctx->cache.repairs, 1);
}

static void truncate_thrice(fixture *f)
{
    for (int k = 0; k < 3; k++) {
        usleep(20000);
        for (int c = 0; c < N_CASES; c++)
            truncate(entry(f, c), (off_t)(c == 1 ? f->ctx->cache.cases[c].hdr.image_off
                                                 : f->ctx->cache.cases[c].hdr.meta_off));
    }
}

/* Entries truncated again and again while four threads read: reads fail with EIO or give the
 * original bytes, never others, and the process lives; afterwards everything is served. */
static void test_truncation_under_readers(void **state)
{
    fixture *f = *state;
    pf_fault_guard_install();
    read_references(f);
    run_readers(f, 24, truncate_thrice);
    for (int i = 0; i < N_FILES; i++)
        served_eventually(f, i);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_truncated_case_array, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_locations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_entry_concurrent_readers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation_under_readers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
