/* test_options.c - option parsing (options.h): the defaults documented in `patchfs --help`
 * and nnunet-behaviour.md, `-o` list parsing, the strict number grammar, and rejection of bad
 * values with a message naming the option (leaving the option unchanged); the option table
 * (every row parses its example and refuses its bad value, --help and docs/usage.md name
 * every option, values print back), the checks across options and their notes, and the
 * options JSON, which must equal what format 1 wrote into patchfs.json and meta.json. */
#include "testutil.h"

#include <jansson.h>

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
        {"foreground", "1", "foreground"},
        {"debug", "0", "debug"},
        {"skip_bad", "true", "skip_bad"},
        {"direct_io", "", "direct_io"},
        {"ro", "1", "ro"},
        {"mem", "10", "mem"},
        {"mem", "1023K", "mem"},
        {"seed", "", "seed"},
        {"aug_p_nothing", "0.5", "aug_p_nothing"},
        {"ds_scales", "0.5,1", "ds_scales"},
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

/* ---- the table ---- */

static size_t field_size_of(const pf_option_desc *d)
{
    return d->size;
}

/* Every row: its example parses (and marks it given), its bad value is refused with a message
 * naming it and leaves the options unchanged, a value row refuses a missing value and a flag
 * refuses every value, and the value prints back to text that parses to the same value. */
static void test_table_rows(void **state)
{
    size_t n;
    const pf_option_desc *t = pf_options_table(&n);
    (void)state;
    assert_true(n > 40 && n <= PF_OPT_MAX_ROWS);
    for (size_t i = 0; i < n; i++) {
        const pf_option_desc *d = &t[i];
        pf_options o, ref, back;
        pf_error err = {0};
        char text[512], again[512];
        int bare = d->type == PF_OT_FLAG || d->type == PF_OT_WORD;
        assert_ptr_equal(pf_option_find(d->name), d);
        for (size_t k = 0; k < i; k++)
            if (!strcmp(t[k].name, d->name))
                fail_msg("option %s has two rows", d->name);
        assert_non_null(d->help);
        assert_int_equal(pf_option_takes_value(d->name), !bare);
        if (d->type == PF_OT_ENUM)
            assert_non_null(d->names);
        /* 32-bit fields: the range fits an int */
        if ((d->type == PF_OT_UINT || d->type == PF_OT_SIZE) && field_size_of(d) == 4)
            assert_true(d->umax <= INT32_MAX);
        /* the bad value */
        pf_options_init(&o);
        pf_options_init(&ref);
        assert_non_null(d->bad);
        if (pf_options_set(&o, d->name, d->bad, &err) != -1)
            fail_msg("%s=%s was accepted", d->name, d->bad);
        if (!strstr(err.msg, d->name))
            fail_msg("message for %s=%s does not name it: %s", d->name, d->bad, err.msg);
        assert_memory_equal(&o, &ref, sizeof o);
        /* a value row without its value */
        if (!bare) {
            assert_int_equal(pf_options_set(&o, d->name, NULL, &err), -1);
            if (!strstr(err.msg, d->name) || !strstr(err.msg, "needs"))
                fail_msg("%s without a value: %s", d->name, err.msg);
            assert_memory_equal(&o, &ref, sizeof o);
        }
        /* the example */
        if (!strcmp(d->name, "rw")) {
            assert_int_equal(pf_options_set(&o, d->name, NULL, &err), -1);
            assert_int_equal(err.errnum, EROFS);
            pf_options_free(&o);
            pf_options_free(&ref);
            continue;
        }
        if (bare)
            assert_null(d->example);
        else
            assert_non_null(d->example);
        if (pf_options_set(&o, d->name, d->example, &err) != 0)
            fail_msg("%s=%s (its example) was refused: %s", d->name,
                     d->example ? d->example : "(none)", err.msg);
        assert_int_equal(pf_options_given(&o, d->name), 1);
        assert_int_equal(pf_options_given(&ref, d->name), 0);
        if (d->type != PF_OT_WORD)
            assert_memory_not_equal(&o, &ref, offsetof(pf_options, given));
        /* the value prints back */
        if (d->type != PF_OT_WORD) {
            assert_int_equal(pf_options_format(&o, d, text, sizeof text), 1);
            pf_options_init(&back);
            assert_int_equal(pf_options_set(&back, d->name, bare ? NULL : text, &err), 0);
            assert_int_equal(pf_options_format(&back, d, again, sizeof again), 1);
            assert_string_equal(text, again);
            if (d->type == PF_OT_SHAPE || d->type == PF_OT_ENUM || d->type == PF_OT_UINT)
                assert_string_equal(text, d->example);
            pf_options_free(&back);
        }
        pf_options_free(&o);
        pf_options_free(&ref);
    }
}

/* A default that prints as a value is the value pf_options_init sets: --help cannot show a
 * default the parser does not use. */
static void test_table_defaults(void **state)
{
    size_t n, checked = 0;
    const pf_option_desc *t = pf_options_table(&n);
    (void)state;
    for (size_t i = 0; i < n; i++) {
        pf_options def, o;
        pf_error err = {0};
        char text[256];
        if (t[i].type == PF_OT_FLAG || t[i].type == PF_OT_WORD)
            continue;
        pf_options_init(&def);
        if (pf_options_format(&def, &t[i], text, sizeof text) != 1)
            continue;
        pf_options_init(&o);
        if (pf_options_set(&o, t[i].name, text, &err) != 0)
            fail_msg("the default of %s, '%s', does not parse: %s", t[i].name, text, err.msg);
        memset(o.given, 0, sizeof o.given);
        assert_memory_equal(&o, &def, sizeof o);
        checked++;
    }
    assert_true(checked >= 25);
    /* and the automatic ones print nothing */
    {
        pf_options def;
        char text[64];
        pf_options_init(&def);
        assert_int_equal(pf_options_format(&def, pf_option_find("patch"), text, sizeof text), 0);
        assert_int_equal(pf_options_format(&def, pf_option_find("threads"), text, sizeof text), 0);
        assert_int_equal(pf_options_format(&def, pf_option_find("shard"), text, sizeof text), 0);
        assert_int_equal(pf_options_format(&def, pf_option_find("cache"), text, sizeof text), 0);
        assert_int_equal(pf_options_format(&def, pf_option_find("mem"), text, 3), -1);
    }
}

static char *help_text(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    pf_options_help(f);
    fclose(f);
    return buf;
}

/* --help names every option (the aug_p_ group by its names), with the defaults. */
static void test_help_lists_every_option(void **state)
{
    size_t n;
    const pf_option_desc *t = pf_options_table(&n);
    char *help = help_text();
    (void)state;
    for (size_t i = 0; i < n; i++) {
        const char *name = t[i].flags & PF_OPTF_GROUP ? t[i].name + strlen("aug_p_") : t[i].name;
        if (!strstr(help, name))
            fail_msg("--help does not name %s:\n%s", t[i].name, help);
    }
    assert_non_null(strstr(help, "aug_p_NAME=P"));
    assert_non_null(strstr(help, "seed=N "));
    assert_non_null(strstr(help, "sampler=nnunet|class|uniform"));
    assert_non_null(strstr(help, "(512M)"));
    assert_non_null(strstr(help, "(0.33)"));
    for (const char *p = help; *p;) {
        size_t len = strcspn(p, "\n");
        if (len > 100)
            fail_msg("--help line longer than 100 columns: %.*s", (int)len, p);
        p += len + (p[len] == '\n');
    }
    free(help);
}

/* docs/usage.md's option table names every option (run from the repository root, as make
 * unit does). */
static void test_docs_list_every_option(void **state)
{
    size_t n;
    const pf_option_desc *t = pf_options_table(&n);
    FILE *f = fopen("docs/usage.md", "r");
    char *doc;
    long len;
    (void)state;
    if (!f)
        skip();
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    doc = calloc(1, (size_t)len + 1);
    assert_non_null(doc);
    assert_int_equal(fread(doc, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    for (size_t i = 0; i < n; i++) {
        char quoted[80];
        snprintf(quoted, sizeof quoted, "`%s`",
                 t[i].flags & PF_OPTF_GROUP ? "aug_p_NAME" : t[i].name);
        if (!strstr(doc, quoted))
            fail_msg("docs/usage.md does not name %s", quoted);
    }
    free(doc);
}

/* --key value: which names take the next argument */
static void test_takes_value(void **state)
{
    (void)state;
    assert_int_equal(pf_option_takes_value("seed"), 1);
    assert_int_equal(pf_option_takes_value("class_weights"), 1);
    assert_int_equal(pf_option_takes_value("foreground"), 0);
    assert_int_equal(pf_option_takes_value("debug"), 0);
    assert_int_equal(pf_option_takes_value("nofail"), 0);
    assert_int_equal(pf_option_takes_value("nonsense"), 0);
}

/* debug implies foreground; flags refuse values, also in a -o list */
static void test_flags(void **state)
{
    pf_options o;
    pf_error err = {0};
    (void)state;
    pf_options_init(&o);
    assert_int_equal(pf_options_parse_list(&o, "debug", &err), 0);
    assert_int_equal(o.debug, 1);
    assert_int_equal(o.foreground, 1);
    assert_int_equal(pf_options_parse_list(&o, "seed=1,foreground=1", &err), -1);
    assert_non_null(strstr(err.msg, "'foreground' takes no value"));
    assert_int_equal(pf_options_parse_list(&o, "nofail,_netdev,ro,defaults", &err), 0);
    assert_int_equal(pf_options_parse_list(&o, "rw", &err), -1);
    assert_int_equal(err.errnum, EROFS);
    pf_options_free(&o);
}

/* A list option continues over -o items that name no option, and stops at one that does. */
static void test_list_continuation(void **state)
{
    pf_options o;
    pf_error err = {0};
    (void)state;
    pf_options_init(&o);
    assert_int_equal(pf_options_parse_list(&o, "ds_scales=1,0.5,0.25,skip_bad,"
                                               "class_weights=1:2,3:0.5,seed=4", &err), 0);
    assert_int_equal(o.n_ds, 3);
    assert_true(o.ds_scales[2] == 0.25);
    assert_int_equal(o.skip_bad, 1);
    assert_int_equal(o.n_class_weights, 2);
    assert_int_equal(o.class_weights[1].weight, 500000);
    assert_int_equal(o.seed, 4);
    /* an item that is neither is refused by the list, naming it */
    assert_int_equal(pf_options_parse_list(&o, "class_weights=1:1,bogus", &err), -1);
    assert_non_null(strstr(err.msg, "class_weights"));
    assert_non_null(strstr(err.msg, "bogus"));
    pf_options_free(&o);
}

static void test_format_changed(void **state)
{
    pf_options o;
    pf_error err = {0};
    char buf[512];
    (void)state;
    pf_options_init(&o);
    assert_int_equal(pf_options_format_changed(&o, PF_OPT_CONTENT | PF_OPT_TREE, buf,
                                               sizeof buf), 0);
    assert_string_equal(buf, "");
    assert_int_equal(pf_options_parse_list(&o, "seed=7,aug=nnunet,ds_scales=1,0.5,"
                                               "oversample_mode=probabilistic,mem=1G,skip_bad,"
                                               "aug_p_mirror=0.25,steps=9", &err), 0);
    assert_true(pf_options_format_changed(&o, PF_OPT_CONTENT, buf, sizeof buf) > 0);
    assert_string_equal(buf, "seed=7 oversample_mode=probabilistic aug=nnunet "
                             "aug_p_mirror=0.25 ds_scales=1,0.5 skip_bad");
    pf_options_format_changed(&o, PF_OPT_TREE | PF_OPT_SERVING, buf, sizeof buf);
    assert_string_equal(buf, "steps=9 mem=1G");
    pf_options_free(&o);
}

/* ---- arithmetic ---- */

static void test_forced_from_and_shard_span(void **state)
{
    /* docs/distributed.md's table: batch, world -> rank 0, 1, 2 spans */
    static const struct { int batch, world, span[3][2]; } split[] = {
        {2, 2, {{0, 1}, {1, 2}, {0, 0}}},
        {5, 2, {{0, 3}, {3, 5}, {0, 0}}},
        {5, 3, {{0, 2}, {2, 4}, {4, 5}}},
        {12, 4, {{0, 3}, {3, 6}, {6, 9}}},
    };
    pf_options o;
    int lo, hi;
    (void)state;
    pf_options_init(&o);
    /* nnU-Net's round-half-even: batch 2 forces 1, batch 1 none, batch 4 one (2.68 -> 3) */
    assert_int_equal(pf_options_forced_from(&o), 1);
    o.batch = 1;
    assert_int_equal(pf_options_forced_from(&o), 1);
    o.batch = 4;
    assert_int_equal(pf_options_forced_from(&o), 3);
    o.batch = 3;
    o.oversample = 0.5; /* 1.5 rounds to 2 (even) */
    assert_int_equal(pf_options_forced_from(&o), 2);
    assert_int_equal(pf_options_shard_span(&o, &lo, &hi), 0);
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 3);
    for (size_t i = 0; i < sizeof split / sizeof split[0]; i++) {
        o.batch = split[i].batch;
        o.shard_world = split[i].world;
        for (int r = 0; r < split[i].world && r < 3; r++) {
            o.shard_rank = r;
            assert_int_equal(pf_options_shard_span(&o, &lo, &hi), 0);
            assert_int_equal(lo, split[i].span[r][0]);
            assert_int_equal(hi, split[i].span[r][1]);
        }
    }
    o.batch = 1;
    o.shard_world = 2;
    o.shard_rank = 0;
    assert_int_equal(pf_options_shard_span(&o, &lo, &hi), -1);
}

/* ---- checks across options ---- */

static void test_validate(void **state)
{
    /* each refused combination, with the two options its message must name */
    static const struct { const char *list, *a, *b; } bad[] = {
        {"batch=2,shard=2/3", "shard", "batch"},
        {"batch=1,shard=0/2", "shard", "batch"},
        {"class_weights=1:1,2:4", "class_weights", "sampler"},
        {"sampler=uniform,class_weights=1:1", "class_weights", "sampler"},
        {"sampler=uniform,oversample=0.5", "oversample", "sampler"},
        {"oversample_mode=probabilistic,sampler=uniform", "oversample_mode", "sampler"},
        {"aug_p_mirror=1", "aug_p_mirror", "aug"},
        {"seg_interp=nearest", "seg_interp", "aug"},
        {"aug_rotation=-10:10", "aug_rotation", "aug"},
        {"aug_scaling=0.9:1.1,aug=none", "aug_scaling", "aug"},
        {"ds_scales=1,0.25,0.5", "ds_scales", "ds_scales"},
        {"ds_scales=1,0.5,0.5", "ds_scales", "ds_scales"},
    };
    static const char *const good[] = {
        "", "batch=3,shard=2/3", "sampler=class,class_weights=1:1,2:4", "sampler=uniform",
        "aug=nnunet,aug_p_mirror=1,seg_interp=nearest,aug_rotation=-10:10,aug_scaling=0.9:1.1",
        "ds_scales=1,0.5,0.25", "oversample=0.5,oversample_mode=probabilistic", "batch=1",
        "mem=1M", "fold=all,normalize=ct,crop=none,steps=1,epochs=1,val_steps=1",
    };
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pf_options o;
        pf_error err = {0};
        char a[64], b[64];
        pf_options_init(&o);
        if (pf_options_parse_list(&o, bad[i].list, &err) != 0)
            fail_msg("%s does not parse: %s", bad[i].list, err.msg);
        if (pf_options_validate(&o, &err) != -1)
            fail_msg("%s passed the checks", bad[i].list);
        snprintf(a, sizeof a, "option '%s'", bad[i].a);
        snprintf(b, sizeof b, "%s", bad[i].b);
        if (!strstr(err.msg, a) || !strstr(err.msg, b))
            fail_msg("%s: the message names not both %s and %s: %s", bad[i].list, bad[i].a,
                     bad[i].b, err.msg);
        assert_int_equal(err.errnum, EINVAL);
        pf_options_free(&o);
    }
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        pf_options o;
        pf_error err = {0};
        pf_options_init(&o);
        assert_int_equal(pf_options_parse_list(&o, good[i], &err), 0);
        if (pf_options_validate(&o, &err) != 0)
            fail_msg("%s was refused: %s", good[i], err.msg);
        pf_options_free(&o);
    }
}

typedef struct notes {
    int n;
    char text[4][512];
} notes;

static void collect(void *arg, const char *msg)
{
    notes *ns = arg;
    assert_true(msg[0] != '\0');
    assert_null(strchr(msg, '\n'));
    if (ns->n < 4)
        snprintf(ns->text[ns->n], sizeof ns->text[0], "%s", msg);
    ns->n++;
}

static void test_notes(void **state)
{
    static const struct { const char *list, *says; } noted[] = {
        {"batch=1", "batch=1 with oversample=0.33 forces no position"},
        {"batch=2,oversample=0.2", "round(2 x (1 - 0.2)) = 2"},
        {"batch=1,sampler=class", "never picks a class"},
        {"sampler=class,oversample=0", "never picks a class"},
        {"patch=128x128x128,mem=8M", "mem=8192K holds no step"},
        {"patch=32x32x32,mem=1M,prefetch=4", "prefetch=4 with mem=1024K"},
        {"ds_scales=1", "ds_scales=1 adds no seg_ds file"},
    };
    static const char *const quiet[] = {
        "", "batch=2", "batch=1,sampler=uniform", "batch=1,oversample_mode=probabilistic",
        "batch=1,oversample=0", "patch=32x32x32,mem=64M,prefetch=4", "mem=1M",
        "ds_scales=1,0.5", "batch=4,shard=1/4",
    };
    (void)state;
    for (size_t i = 0; i < sizeof noted / sizeof noted[0]; i++) {
        pf_options o;
        pf_error err = {0};
        notes ns = {0};
        pf_options_init(&o);
        assert_int_equal(pf_options_parse_list(&o, noted[i].list, &err), 0);
        assert_int_equal(pf_options_validate(&o, &err), 0);
        assert_int_equal(pf_options_notes(&o, collect, &ns), 1);
        assert_int_equal(ns.n, 1);
        if (!strstr(ns.text[0], noted[i].says))
            fail_msg("%s: note '%s' does not say '%s'", noted[i].list, ns.text[0], noted[i].says);
        pf_options_free(&o);
    }
    for (size_t i = 0; i < sizeof quiet / sizeof quiet[0]; i++) {
        pf_options o;
        pf_error err = {0};
        notes ns = {0};
        pf_options_init(&o);
        assert_int_equal(pf_options_parse_list(&o, quiet[i], &err), 0);
        if (pf_options_notes(&o, collect, &ns) != 0)
            fail_msg("%s: unexpected note: %s", quiet[i], ns.text[0]);
        pf_options_free(&o);
    }
}

static void test_check_classes(void **state)
{
    static const int labels[] = {0, 1, 2, 3};
    pf_options o;
    pf_error err = {0};
    (void)state;
    pf_options_init(&o);
    assert_int_equal(pf_options_check_classes(&o, labels, 4, &err), 0);
    assert_int_equal(pf_options_parse_list(&o, "sampler=class,class_weights=1:1,3:0", &err), 0);
    assert_int_equal(pf_options_check_classes(&o, labels, 4, &err), 0);
    assert_int_equal(pf_options_parse_list(&o, "class_weights=1:1,7:2", &err), 0);
    assert_int_equal(pf_options_check_classes(&o, labels, 4, &err), -1);
    assert_non_null(strstr(err.msg, "option 'class_weights': label 7"));
    assert_non_null(strstr(err.msg, "1, 2, 3"));
    assert_int_equal(pf_options_parse_list(&o, "class_weights=1:0,2:0,3:0", &err), 0);
    assert_int_equal(pf_options_check_classes(&o, labels, 4, &err), -1);
    assert_non_null(strstr(err.msg, "weight 0"));
    /* background is no class */
    assert_int_equal(pf_options_parse_list(&o, "class_weights=1:1", &err), 0);
    assert_int_equal(pf_options_check_classes(&o, labels, 1, &err), -1);
    assert_non_null(strstr(err.msg, "its classes: none"));
    pf_options_free(&o);
}

/* ---- JSON: byte for byte what format 2 writes (format 1's plus the configuration) ---- */

/* The "options" objects of patchfs.json and meta.json as produce.c wrote them before the
 * table (`patchfs get DATASET patchfs.json` and train/epoch_0/step_0/meta.json on datasets of
 * tests/tools/make_dataset.py), with the patch and initial patch the dataset decided. Compared
 * in compact form: the indented text is a function of the same tree (test_json_indented). */
static const struct {
    const char *list;
    unsigned which;
    pf_options_derived dv;
    const char *json;
} golden_json[] = {
    /* default: the options of meta.json */
    {"",
     PF_OPT_CONTENT, {{21, 32, 27}, {0, 0, 0}},
     "{\"seed\":0,\"patch\":[21,32,27],\"batch\":2,\"oversample\":0.33,\"forced_from\":1,"
     "\"fold\":0,"
     "\"configuration\":\"3d_fullres\",\"normalize\":\"auto\",\"crop\":\"nonzero\",\"sampler\":\"nnunet\"}"},
    /* default: the options of patchfs.json */
    {"",
     PF_OPT_CONTENT | PF_OPT_TREE, {{21, 32, 27}, {0, 0, 0}},
     "{\"seed\":0,\"patch\":[21,32,27],\"batch\":2,\"oversample\":0.33,\"forced_from\":1,"
     "\"steps\":250,\"val_steps\":50,\"epochs\":1000,\"fold\":0,"
     "\"configuration\":\"3d_fullres\",\"normalize\":\"auto\","
     "\"crop\":\"nonzero\",\"sampler\":\"nnunet\"}"},
    /* seg_outside=0: named (its default -1 never is, so earlier files keep their bytes) */
    {"seg_outside=0",
     PF_OPT_CONTENT, {{21, 32, 27}, {0, 0, 0}},
     "{\"seed\":0,\"patch\":[21,32,27],\"batch\":2,\"oversample\":0.33,\"forced_from\":1,"
     "\"fold\":0,"
     "\"configuration\":\"3d_fullres\",\"normalize\":\"auto\",\"crop\":\"nonzero\",\"sampler\":\"nnunet\","
     "\"seg_outside\":0}"},
    {"seg_outside=-1",
     PF_OPT_CONTENT, {{21, 32, 27}, {0, 0, 0}},
     "{\"seed\":0,\"patch\":[21,32,27],\"batch\":2,\"oversample\":0.33,\"forced_from\":1,"
     "\"fold\":0,"
     "\"configuration\":\"3d_fullres\",\"normalize\":\"auto\",\"crop\":\"nonzero\",\"sampler\":\"nnunet\"}"},
    /* golden: the options of patchfs.json */
    {"seed=7,batch=3,patch=16x24x24",
     PF_OPT_CONTENT | PF_OPT_TREE, {{16, 24, 24}, {0, 0, 0}},
     "{\"seed\":7,\"patch\":[16,24,24],\"batch\":3,\"oversample\":0.33,\"forced_from\":2,"
     "\"steps\":250,\"val_steps\":50,\"epochs\":1000,\"fold\":0,"
     "\"configuration\":\"3d_fullres\",\"normalize\":\"auto\","
     "\"crop\":\"nonzero\",\"sampler\":\"nnunet\"}"},
    /* aug: the options of patchfs.json */
    {"seed=7,batch=3,patch=16x24x24,aug=nnunet,ds_scales=1,0.5",
     PF_OPT_CONTENT | PF_OPT_TREE, {{16, 24, 24}, {30, 38, 33}},
     "{\"seed\":7,\"patch\":[16,24,24],\"batch\":3,\"oversample\":0.33,\"forced_from\":2,"
     "\"steps\":250,\"val_steps\":50,\"epochs\":1000,\"fold\":0,"
     "\"configuration\":\"3d_fullres\",\"normalize\":\"auto\","
     "\"crop\":\"nonzero\",\"sampler\":\"nnunet\",\"aug\":{\"policy\":\"nnunet\","
     "\"initial_patch\":[30,38,33],\"p\":{\"rotation\":0.2,\"scaling\":0.2,\"noise\":0.1,"
     "\"blur\":0.2,\"blur_channel\":0.5,\"brightness\":0.15,\"contrast\":0.15,"
     "\"lowres\":0.25,\"lowres_channel\":0.5,\"gamma_invert\":0.1,\"gamma\":0.3,"
     "\"mirror\":0.5},\"seg_interp\":\"linear\",\"scaling\":[0.7,1.4]},\"ds_scales\":[1.0,"
     "0.5]}"},
    /* augfull: the options of meta.json */
    {"seed=3,batch=3,aug=nnunet,aug_rotation=-30:45,aug_scaling=0.8:1.25,aug_p_mirror=1,"
     "aug_p_noise=0,seg_interp=nearest,ds_scales=1,0.5,0.25",
     PF_OPT_CONTENT, {{24, 39, 35}, {52, 61, 49}},
     "{\"seed\":3,\"patch\":[24,39,35],\"batch\":3,\"oversample\":0.33,\"forced_from\":2,"
     "\"fold\":0,"
     "\"configuration\":\"3d_fullres\",\"normalize\":\"auto\",\"crop\":\"nonzero\",\"sampler\":\"nnunet\","
     "\"aug\":{\"policy\":\"nnunet\",\"initial_patch\":[52,61,49],\"p\":{\"rotation\":0.2,"
     "\"scaling\":0.2,\"noise\":0.0,\"blur\":0.2,\"blur_channel\":0.5,\"brightness\":0.15,"
     "\"contrast\":0.15,\"lowres\":0.25,\"lowres_channel\":0.5,\"gamma_invert\":0.1,"
     "\"gamma\":0.3,\"mirror\":1.0},\"seg_interp\":\"nearest\",\"rotation_deg\":[-30.0,"
     "45.0],\"scaling\":[0.8,1.25]},\"ds_scales\":[1.0,0.5,0.25]}"},
    /* class: the options of meta.json */
    {"seed=4,batch=4,sampler=class,class_weights=1:1,2:4.5,3:0.000001",
     PF_OPT_CONTENT, {{24, 39, 35}, {0, 0, 0}},
     "{\"seed\":4,\"patch\":[24,39,35],\"batch\":4,\"oversample\":0.33,\"forced_from\":3,"
     "\"fold\":0,"
     "\"configuration\":\"3d_fullres\",\"normalize\":\"auto\",\"crop\":\"nonzero\",\"sampler\":\"class\","
     "\"class_weights\":{\"1\":1.0,\"2\":4.5,\"3\":1e-6}}"},
    /* prob: the options of patchfs.json */
    {"seed=6,batch=4,oversample_mode=probabilistic,oversample=0.4",
     PF_OPT_CONTENT | PF_OPT_TREE, {{24, 39, 35}, {0, 0, 0}},
     "{\"seed\":6,\"patch\":[24,39,35],\"batch\":4,\"oversample\":0.4,"
     "\"oversample_mode\":\"probabilistic\",\"steps\":250,\"val_steps\":50,\"epochs\":1000,"
     "\"fold\":0,"
     "\"configuration\":\"3d_fullres\",\"normalize\":\"auto\",\"crop\":\"nonzero\",\"sampler\":\"nnunet\"}"},
    /* uniform: the options of meta.json */
    {"seed=7,batch=3,sampler=uniform",
     PF_OPT_CONTENT, {{24, 39, 35}, {0, 0, 0}},
     "{\"seed\":7,\"patch\":[24,39,35],\"batch\":3,\"oversample\":0.33,\"fold\":0,"
     "\"configuration\":\"3d_fullres\",\"normalize\":\"auto\",\"crop\":\"nonzero\","
     "\"sampler\":\"uniform\"}"},
    /* shard: the options of meta.json */
    {"seed=9,batch=5,shard=1/3",
     PF_OPT_CONTENT, {{24, 39, 35}, {0, 0, 0}},
     "{\"seed\":9,\"patch\":[24,39,35],\"batch\":5,\"oversample\":0.33,\"forced_from\":3,"
     "\"fold\":0,"
     "\"configuration\":\"3d_fullres\",\"normalize\":\"auto\",\"crop\":\"nonzero\",\"sampler\":\"nnunet\","
     "\"shard\":{\"rank\":1,\"world\":3,\"positions\":[2,4]}}"},
    /* twod: the options of patchfs.json */
    {"seed=8,batch=3,patch=24x20,fold=all,normalize=zscore,crop=none",
     PF_OPT_CONTENT | PF_OPT_TREE, {{1, 24, 20}, {0, 0, 0}},
     "{\"seed\":8,\"patch\":[24,20],\"batch\":3,\"oversample\":0.33,\"forced_from\":2,"
     "\"steps\":250,\"val_steps\":50,\"epochs\":1000,\"fold\":\"all\","
     "\"configuration\":\"3d_fullres\",\"normalize\":\"zscore\",\"crop\":\"none\",\"sampler\":\"nnunet\"}"},
    /* bigseed: the options of patchfs.json */
    {"seed=18446744073709551615,oversample=0.333333333333333333333333333333333,steps=7,"
     "val_steps=3,epochs=9,fold=3",
     PF_OPT_CONTENT | PF_OPT_TREE, {{24, 39, 35}, {0, 0, 0}},
     "{\"seed\":\"18446744073709551615\",\"patch\":[24,39,35],\"batch\":2,"
     "\"oversample\":0.3333333333,\"forced_from\":1,\"steps\":7,\"val_steps\":3,"
     "\"epochs\":9,\"fold\":3,"
     "\"configuration\":\"3d_fullres\",\"normalize\":\"auto\",\"crop\":\"nonzero\","
     "\"sampler\":\"nnunet\"}"},
    /* twodaug: the options of meta.json */
    {"seed=1,batch=2,patch=20x24,aug=nnunet,shard=0/2,oversample=1",
     PF_OPT_CONTENT, {{1, 20, 24}, {1, 28, 28}},
     "{\"seed\":1,\"patch\":[20,24],\"batch\":2,\"oversample\":1.0,\"forced_from\":0,"
     "\"fold\":0,"
     "\"configuration\":\"3d_fullres\",\"normalize\":\"auto\",\"crop\":\"nonzero\",\"sampler\":\"nnunet\","
     "\"aug\":{\"policy\":\"nnunet\",\"initial_patch\":[1,28,28],\"p\":{\"rotation\":0.2,"
     "\"scaling\":0.2,\"noise\":0.1,\"blur\":0.2,\"blur_channel\":0.5,\"brightness\":0.15,"
     "\"contrast\":0.15,\"lowres\":0.25,\"lowres_channel\":0.5,\"gamma_invert\":0.1,"
     "\"gamma\":0.3,\"mirror\":0.5},\"seg_interp\":\"linear\",\"scaling\":[0.7,1.4]},"
     "\"shard\":{\"rank\":0,\"world\":2,\"positions\":[0,1]}}"},
};

static char *dump_compact(json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
}

static void test_json_equals_format2(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof golden_json / sizeof golden_json[0]; i++) {
        pf_options o;
        pf_error err = {0};
        json_t *j;
        char *got;
        pf_options_init(&o);
        assert_int_equal(pf_options_parse_list(&o, golden_json[i].list, &err), 0);
        assert_int_equal(pf_options_validate(&o, &err), 0);
        j = pf_options_json(&o, golden_json[i].which, &golden_json[i].dv);
        assert_non_null(j);
        got = dump_compact(j);
        if (strcmp(got, golden_json[i].json))
            fail_msg("options '%s':\n got  %s\n want %s", golden_json[i].list, got,
                     golden_json[i].json);
        free(got);
        json_decref(j);
        pf_options_free(&o);
    }
}

/* meta.json of `-o seed=9,batch=5,shard=1/3` as served, the "options" part, indented */
static void test_json_indented(void **state)
{
    static const char want[] =
    "{\n"
    "  \"options\": {\n"
    "    \"seed\": 9,\n"
    "    \"patch\": [\n"
    "      24,\n"
    "      39,\n"
    "      35\n"
    "    ],\n"
    "    \"batch\": 5,\n"
    "    \"oversample\": 0.33,\n"
    "    \"forced_from\": 3,\n"
    "    \"fold\": 0,\n"
    "    \"configuration\": \"3d_fullres\",\n"
    "    \"normalize\": \"auto\",\n"
    "    \"crop\": \"nonzero\",\n"
    "    \"sampler\": \"nnunet\",\n"
    "    \"shard\": {\n"
    "      \"rank\": 1,\n"
    "      \"world\": 3,\n"
    "      \"positions\": [\n"
    "        2,\n"
    "        4\n"
    "      ]\n"
    "    }\n"
    "  }\n"
    "}";
    pf_options o;
    pf_error err = {0};
    pf_options_derived dv = {{24, 39, 35}, {0, 0, 0}};
    json_t *w = json_object();
    char *got;
    (void)state;
    pf_options_init(&o);
    assert_int_equal(pf_options_parse_list(&o, "seed=9,batch=5,shard=1/3", &err), 0);
    json_object_set_new(w, "options", pf_options_json(&o, PF_OPT_CONTENT, &dv));
    got = json_dumps(w, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
    json_decref(w);
    pf_options_free(&o);
}

/* Without the dataset: the patch as given or "auto", no initial patch; serving options on
 * request only. */
static void test_json_without_dataset(void **state)
{
    pf_options o;
    pf_error err = {0};
    json_t *j;
    char *got;
    (void)state;
    pf_options_init(&o);
    j = pf_options_json(&o, PF_OPT_CONTENT, NULL);
    got = dump_compact(j);
    assert_non_null(strstr(got, "\"patch\":\"auto\""));
    free(got);
    json_decref(j);
    assert_int_equal(pf_options_parse_list(&o, "patch=8x16,aug=nnunet,mem=64M,direct_io", &err),
                     0);
    j = pf_options_json(&o, PF_OPT_CONTENT | PF_OPT_TREE | PF_OPT_SERVING, NULL);
    got = dump_compact(j);
    assert_non_null(strstr(got, "\"patch\":[8,16]"));
    assert_null(strstr(got, "initial_patch"));
    assert_non_null(strstr(got, "\"mem\":67108864"));
    assert_non_null(strstr(got, "\"direct_io\":true"));
    assert_non_null(strstr(got, "\"cache\":null"));
    assert_null(strstr(got, "skip_bad"));
    assert_null(strstr(got, "aug_p_"));
    free(got);
    json_decref(j);
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
        cmocka_unit_test(test_table_rows),
        cmocka_unit_test(test_table_defaults),
        cmocka_unit_test(test_help_lists_every_option),
        cmocka_unit_test(test_docs_list_every_option),
        cmocka_unit_test(test_takes_value),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_list_continuation),
        cmocka_unit_test(test_format_changed),
        cmocka_unit_test(test_forced_from_and_shard_span),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_notes),
        cmocka_unit_test(test_check_classes),
        cmocka_unit_test(test_json_equals_format2),
        cmocka_unit_test(test_json_indented),
        cmocka_unit_test(test_json_without_dataset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
