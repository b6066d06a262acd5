/* test_options.c - option parsing (options.h): the defaults documented in `patchfs --help`
 * and nnunet-behaviour.md, `-o` list parsing, the strict number grammar, and rejection of bad
 * values with a message naming the option (leaving the option unchanged). */
#include "testutil.h"

#include "options.h"

static void test_defaults(void **state)
{
    pf_options o;
    (void)state;
    pf_options_init(&o);
    /* `patchfs --help`: seed 0, batch 2, steps 250, val_steps 50, epochs 1000, oversample
     * 0.33, fold 0, normalize auto, crop nonzero, mem 512M, patch and threads automatic */
    assert_int_equal(o.seed, 0);
    assert_int_equal(o.batch, 2);
    assert_int_equal(o.steps, 250);
    assert_int_equal(o.val_steps, 50);
    assert_int_equal(o.epochs, 1000);
    assert_true(o.oversample == 0.33);
    assert_int_equal(o.fold, 0);
    assert_int_equal(o.normalize, PF_NORM_AUTO);
    assert_int_equal(o.crop, PF_CROP_NONZERO);
    assert_int_equal(o.mem_bytes, 512u * 1024 * 1024);
    assert_int_equal(o.patch[0], 0);
    assert_int_equal(o.patch[1], 0);
    assert_int_equal(o.patch[2], 0);
    assert_int_equal(o.threads, 0);
    assert_null(o.cache_dir);
    assert_int_equal(o.foreground + o.debug + o.allow_other + o.direct_io, 0);
    pf_options_free(&o);
}

static void test_parse_list(void **state)
{
    pf_options o;
    pf_error err = {0};
    (void)state;
    pf_options_init(&o);
    assert_int_equal(pf_options_parse_list(&o, "seed=7,patch=32x48x32,batch=4,oversample=0.5,"
                                               "fold=3,normalize=ct,crop=none,steps=10,"
                                               "val_steps=5,epochs=2,cache=/tmp/pfc,mem=64M,"
                                               "threads=8,allow_other,direct_io,foreground,"
                                               "debug,ro,nosuid,nodev,default_permissions",
                                           &err), 0);
    assert_int_equal(o.seed, 7);
    assert_int_equal(o.patch[0], 32);
    assert_int_equal(o.patch[1], 48);
    assert_int_equal(o.patch[2], 32);
    assert_int_equal(o.batch, 4);
    assert_true(o.oversample == 0.5);
    assert_int_equal(o.fold, 3);
    assert_int_equal(o.normalize, PF_NORM_CT);
    assert_int_equal(o.crop, PF_CROP_NONE);
    assert_int_equal(o.steps, 10);
    assert_int_equal(o.val_steps, 5);
    assert_int_equal(o.epochs, 2);
    assert_string_equal(o.cache_dir, "/tmp/pfc");
    assert_int_equal(o.mem_bytes, 64u * 1024 * 1024);
    assert_int_equal(o.threads, 8);
    assert_int_equal(o.allow_other, 1);
    assert_int_equal(o.direct_io, 1);
    assert_int_equal(o.foreground, 1);
    assert_int_equal(o.debug, 1);
    /* later values win; names print back */
    assert_int_equal(pf_options_parse_list(&o, "seed=18446744073709551615,fold=all,"
                                               "normalize=zscore,mem=1G,cache=/x", &err), 0);
    assert_int_equal(o.seed, UINT64_MAX);
    assert_int_equal(o.fold, PF_FOLD_ALL);
    assert_string_equal(pf_norm_mode_name(o.normalize), "zscore");
    assert_string_equal(pf_crop_mode_name(o.crop), "none");
    assert_int_equal(o.mem_bytes, (size_t)1 << 30);
    assert_string_equal(o.cache_dir, "/x");
    assert_int_equal(pf_options_set(&o, "fold", "0", &err), 0);
    assert_int_equal(o.fold, 0);
    assert_int_equal(pf_options_set(&o, "fold", "7", &err), 0); /* nnU-Net's extra folds */
    assert_int_equal(o.fold, 7);
    assert_int_equal(pf_options_set(&o, "patch", "1x4096x1", &err), 0);
    assert_int_equal(o.patch[1], 4096);
    assert_int_equal(pf_options_set(&o, "oversample", "0", &err), 0);
    assert_true(o.oversample == 0.0);
    assert_int_equal(pf_options_set(&o, "oversample", "1", &err), 0);
    assert_true(o.oversample == 1.0);
    pf_options_free(&o);
    assert_null(o.cache_dir);
}

/* Each bad option fails, names itself in the message and leaves the options unchanged. */
static void test_bad_values(void **state)
{
    static const struct { const char *key, *value, *named; } bad[] = {
        {"patch", "0x1x1", "patch"},
        {"patch", "32", "patch"},
        {"patch", "32x48x32x16", "patch"},
        {"patch", "x32x48", "patch"},
        {"patch", "032x48x32", "patch"},
        {"patch", "4097x1x1", "patch"},
        {"patch", "-1x2x3", "patch"},
        {"patch", "", "patch"},
        {"patch", NULL, "patch"},
        {"batch", "0", "batch"},
        {"batch", "4097", "batch"},
        {"batch", "2.5", "batch"},
        {"oversample", "1.5", "oversample"},
        {"oversample", "-0.1", "oversample"},
        {"oversample", "nan", "oversample"},
        {"oversample", "0.3x", "oversample"},
        {"oversample", "", "oversample"},
        {"fold", "x", "fold"},
        {"fold", "-1", "fold"},
        {"fold", "01", "fold"},
        {"fold", "", "fold"},
        {"fold", NULL, "fold"},
        {"seed", "-1", "seed"},
        {"seed", "+1", "seed"},
        {"seed", "18446744073709551616", "seed"},
        {"seed", "0x10", "seed"},
        {"seed", NULL, "seed"},
        {"steps", "0", "steps"},
        {"epochs", "1048576", "epochs"}, /* 2^20: past the 20-bit epoch index */
        {"steps", "4194304", "steps"},   /* 2^22: past the 22-bit step index */
        {"sampler", "random", "sampler"},
        {"oversample_mode", "sometimes", "oversample_mode"},
        {"class_weights", "1", "class_weights"},
        {"class_weights", "0:1", "class_weights"},
        {"class_weights", "1:-1", "class_weights"},
        {"class_weights", "1:0.1234567", "class_weights"},
        {"class_weights", "1:1,1:2", "class_weights"},
        {"class_weights", "1:1,2:x", "class_weights"},
        {"shard", "2/2", "shard"},
        {"shard", "0/0", "shard"},
        {"shard", "1", "shard"},
        {"shard", "-1/2", "shard"},
        {"val_steps", "1e3", "val_steps"},
        {"threads", "0", "threads"},
        {"mem", "12T", "mem"},
        {"mem", "-5M", "mem"},
        {"normalize", "foo", "normalize"},
        {"normalize", NULL, "normalize"},
        {"crop", "box", "crop"},
        {"cache", "", "cache"},
        {"allow_other", "1", "allow_other"},
        {"unknown", "1", "unknown"},
        {"rw", NULL, "rw"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pf_options o, ref;
        pf_error err = {0};
        pf_options_init(&o);
        pf_options_init(&ref);
        if (pf_options_set(&o, bad[i].key, bad[i].value, &err) != -1)
            fail_msg("%s=%s was accepted", bad[i].key, bad[i].value ? bad[i].value : "(none)");
        if (!strstr(err.msg, bad[i].named))
            fail_msg("message for %s=%s does not name the option: %s", bad[i].key,
                     bad[i].value ? bad[i].value : "(none)", err.msg);
        assert_true(err.errnum != 0);
        assert_memory_equal(&o, &ref, sizeof o);
        pf_options_free(&o);
    }
}

/* The same through the -o list parser. */
static void test_bad_values_in_list(void **state)
{
    static const char *const lists[] = {"seed=1,patch=0x1x1", "batch=0", "oversample=1.5",
                                        "fold=x", "seed=-1", "unknown=1,seed=3",
                                        "normalize=foo", "patch=32"};
    static const char *const named[] = {"patch", "batch", "oversample", "fold", "seed",
                                        "unknown", "normalize", "patch"};
    (void)state;
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        pf_options o;
        pf_error err = {0};
        pf_options_init(&o);
        assert_int_equal(pf_options_parse_list(&o, lists[i], &err), -1);
        if (!strstr(err.msg, named[i]))
            fail_msg("'%s': message does not name %s: %s", lists[i], named[i], err.msg);
        pf_options_free(&o);
    }
}

/* The patch value has exactly three sides: a trailing 'x' is not ZxYxX. */
static void test_patch_trailing_separator(void **state)
{
    pf_options o;
    pf_error err = {0};
    (void)state;
    pf_options_init(&o);
    if (pf_options_set(&o, "patch", "32x48x32x", &err) != -1)
        fail_msg("patch=32x48x32x was accepted as %dx%dx%d", o.patch[0], o.patch[1],
                 o.patch[2]);
    assert_int_equal(o.patch[0], 0);
    pf_options_free(&o);
}

static void test_parse_u64(void **state)
{
    uint64_t v = 99;
    (void)state;
    assert_int_equal(pf_parse_u64("0", 10, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(pf_parse_u64("10", 10, &v), 0);
    assert_int_equal(v, 10);
    assert_int_equal(pf_parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
    assert_int_equal(v, UINT64_MAX);
    v = 99;
    assert_int_not_equal(pf_parse_u64("11", 10, &v), 0);
    assert_int_not_equal(pf_parse_u64("18446744073709551616", UINT64_MAX, &v), 0);
    assert_int_not_equal(pf_parse_u64("99999999999999999999", UINT64_MAX, &v), 0);
    assert_int_not_equal(pf_parse_u64("00", 10, &v), 0);
    assert_int_not_equal(pf_parse_u64("01", 10, &v), 0);
    assert_int_not_equal(pf_parse_u64("+1", 10, &v), 0);
    assert_int_not_equal(pf_parse_u64("-1", 10, &v), 0);
    assert_int_not_equal(pf_parse_u64("", 10, &v), 0);
    assert_int_not_equal(pf_parse_u64(" 1", 10, &v), 0);
    assert_int_not_equal(pf_parse_u64("1 ", 10, &v), 0);
    assert_int_not_equal(pf_parse_u64(NULL, 10, &v), 0);
    assert_int_equal(v, 99); /* failures leave the output alone */
}

static void test_default_cache_dir(void **state)
{
    char *d;
    (void)state;
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    d = pf_default_cache_dir();
    assert_string_equal(d, "/xdg/patchfs");
    free(d);
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/someone", 1);
    d = pf_default_cache_dir();
    assert_string_equal(d, "/home/someone/.cache/patchfs");
    free(d);
}

/* Issue 3 options: 2D patches, sampling policies, class weights (with the -o list's commas)
 * and shards. */
static void test_sampling_options(void **state)
{
    pf_options o;
    pf_error err = {0};
    (void)state;
    pf_options_init(&o);
    assert_int_equal(o.policy, PF_POLICY_NNUNET);
    assert_int_equal(o.probabilistic, 0);
    assert_int_equal(o.shard_world, 0);
    assert_int_equal(pf_options_parse_list(&o, "patch=512x384,sampler=class,"
                                               "class_weights=1:1,2:4.5,3:0,oversample_mode=probabilistic,"
                                               "shard=1/3", &err), 0);
    assert_int_equal(o.patch_2d, 1);
    assert_int_equal(o.patch[0], 1);
    assert_int_equal(o.patch[1], 512);
    assert_int_equal(o.patch[2], 384);
    assert_int_equal(o.policy, PF_POLICY_CLASS);
    assert_int_equal(o.probabilistic, 1);
    assert_int_equal(o.n_class_weights, 3);
    assert_int_equal(o.class_weights[0].label, 1);
    assert_int_equal(o.class_weights[0].weight, 1000000);
    assert_int_equal(o.class_weights[1].label, 2);
    assert_int_equal(o.class_weights[1].weight, 4500000);
    assert_int_equal(o.class_weights[2].label, 3);
    assert_int_equal(o.class_weights[2].weight, 0);
    assert_int_equal(o.shard_rank, 1);
    assert_int_equal(o.shard_world, 3);
    /* a 3D patch after a 2D one is 3D again */
    assert_int_equal(pf_options_set(&o, "patch", "8x16x32", &err), 0);
    assert_int_equal(o.patch_2d, 0);
    assert_int_equal(o.patch[0], 8);
    /* --class_weights=... form; a bad pair leaves the old weights */
    assert_int_equal(pf_options_set(&o, "class_weights", "5:0.25", &err), 0);
    assert_int_equal(o.n_class_weights, 1);
    assert_int_equal(o.class_weights[0].weight, 250000);
    assert_int_equal(pf_options_set(&o, "class_weights", "6:1,7:y", &err), -1);
    assert_non_null(strstr(err.msg, "class_weights"));
    assert_int_equal(o.n_class_weights, 1);
    assert_int_equal(o.class_weights[0].label, 5);
    /* a bare LABEL:WEIGHT not following class_weights= is an unknown option */
    assert_int_equal(pf_options_parse_list(&o, "seed=1,2:4", &err), -1);
    assert_int_equal(pf_options_parse_list(&o, "sampler=uniform", &err), 0);
    assert_int_equal(o.policy, PF_POLICY_UNIFORM);
    assert_string_equal(pf_policy_name(o.policy), "uniform");
    pf_options_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_parse_list),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_bad_values_in_list),
        cmocka_unit_test(test_patch_trailing_separator),
        cmocka_unit_test(test_parse_u64),
        cmocka_unit_test(test_default_cache_dir),
        cmocka_unit_test(test_sampling_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
