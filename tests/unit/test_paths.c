/* test_paths.c - path options made absolute once (options.h: pf_path_absolute,
 * pf_options_resolve_paths): a relative cache= or log= names the folder of the directory the
 * command ran in, whatever directory the daemon later runs in; absolute paths are kept; "."
 * and leading "./" are the directory itself. log= is a row of the option table: it refuses an
 * empty or too long value, prints back as given, and shows in the serving options' JSON. */
#include "testutil.h"

#include <jansson.h>

#include "options.h"

static void test_absolute(void **state)
{
    char dir[PATH_MAX], real[PATH_MAX], cwd[PATH_MAX], want[PATH_MAX], *p;
    pf_error err = {0};
    (void)state;
    tu_mkdtemp(dir, "paths");
    assert_non_null(realpath(dir, real));
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    p = pf_path_absolute("cache", &err);
    tu_path(want, "%s/cache", real);
    assert_string_equal(p, want);
    free(p);
    p = pf_path_absolute(".//./cache/x", &err);
    tu_path(want, "%s/cache/x", real);
    assert_string_equal(p, want);
    free(p);
    p = pf_path_absolute(".", &err);
    assert_string_equal(p, real);
    free(p);
    p = pf_path_absolute("/abs/olute", &err);
    assert_string_equal(p, "/abs/olute");
    free(p);
    assert_int_equal(chdir("/"), 0);
    p = pf_path_absolute("c", &err);
    assert_string_equal(p, "/c");
    free(p);
    assert_int_equal(chdir(cwd), 0);
    tu_rm_rf(dir);
}

static void test_resolve_options(void **state)
{
    char dir[PATH_MAX], real[PATH_MAX], cwd[PATH_MAX], want[PATH_MAX];
    pf_options o;
    pf_error err = {0};
    (void)state;
    tu_mkdtemp(dir, "paths");
    assert_non_null(realpath(dir, real));
    assert_non_null(getcwd(cwd, sizeof cwd));
    pf_options_init(&o);
    assert_int_equal(pf_options_parse_list(&o, "cache=c/d,log=pf.log,seed=3", &err), 0);
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(pf_options_resolve_paths(&o, &err), 0);
    assert_int_equal(chdir("/"), 0); /* as the daemon: the paths no longer depend on it */
    tu_path(want, "%s/c/d", real);
    assert_string_equal(o.cache_dir, want);
    tu_path(want, "%s/pf.log", real);
    assert_string_equal(o.log_file, want);
    assert_int_equal(pf_options_resolve_paths(&o, &err), 0); /* idempotent */
    assert_string_equal(o.log_file, want);
    assert_int_equal(chdir(cwd), 0);
    pf_options_free(&o);
    /* unset paths stay unset */
    pf_options_init(&o);
    assert_int_equal(pf_options_resolve_paths(&o, &err), 0);
    assert_null(o.cache_dir);
    assert_string_equal(o.log_file, "");
    pf_options_free(&o);
    tu_rm_rf(dir);
}

static void test_log_option(void **state)
{
    pf_options o;
    pf_error err = {0};
    char text[PF_PATH_MAX + 16], *big;
    json_t *j;
    (void)state;
    pf_options_init(&o);
    assert_int_equal(pf_options_set(&o, "log", "", &err), -1);
    assert_non_null(strstr(err.msg, "option 'log'"));
    big = malloc(PF_PATH_MAX + 1);
    assert_non_null(big);
    memset(big, 'a', PF_PATH_MAX);
    big[PF_PATH_MAX] = '\0';
    assert_int_equal(pf_options_set(&o, "log", big, &err), -1);
    assert_int_equal(err.errnum, ENAMETOOLONG);
    free(big);
    assert_string_equal(o.log_file, "");
    assert_int_equal(pf_options_set(&o, "log", "/var/log/patchfs.log", &err), 0);
    assert_int_equal(pf_options_format(&o, pf_option_find("log"), text, sizeof text), 1);
    assert_string_equal(text, "/var/log/patchfs.log");
    assert_true(pf_option_find("log")->kind == PF_OPT_SERVING);
    j = pf_options_json(&o, PF_OPT_SERVING, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "log")), "/var/log/patchfs.log");
    json_decref(j);
    j = pf_options_json(&o, PF_OPT_CONTENT | PF_OPT_TREE, NULL);
    assert_null(json_object_get(j, "log")); /* never in patchfs.json or meta.json */
    json_decref(j);
    pf_options_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absolute),
        cmocka_unit_test(test_resolve_options),
        cmocka_unit_test(test_log_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
