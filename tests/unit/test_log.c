/* test_log.c - the mount's log (log.h) with log=FILE: one line per message with time, pid and
 * priority; libfuse's messages (fuse_log) through the same file without doubled newlines; an
 * existing file appended to, never truncated, through a descriptor opened O_APPEND|O_CLOEXEC
 * (so several mounts may share it and no exec'd program inherits it); a long message cut but
 * still one line; errno left as it was; a file that cannot be opened reported with its path
 * and errno. Syslog (the default once daemonized) is checked by
 * tests/integration/reliability.sh. */
#define FUSE_USE_VERSION 312
#include "testutil.h"

#include <fcntl.h>
#include <fuse_log.h>
#include <regex.h>

#include "log.h"

static char *read_text(const char *path)
{
    size_t len;
    unsigned char *b = tu_read_file(path, &len);
    char *s = malloc(len + 1);
    assert_non_null(s);
    memcpy(s, b, len);
    s[len] = '\0';
    free(b);
    return s;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* the flags of the open descriptor on path, from /proc/self/fdinfo; -1 if none is open */
static long open_flags(const char *path)
{
    char link[64], target[PATH_MAX], info[64];
    for (int fd = 3; fd < 1024; fd++) {
        ssize_t n;
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        n = readlink(link, target, sizeof target - 1);
        if (n < 0)
            continue;
        target[n] = '\0';
        if (strcmp(target, path))
            continue;
        snprintf(info, sizeof info, "/proc/self/fdinfo/%d", fd);
        {
            /* proc files have no size: read by lines */
            FILE *f = fopen(info, "r");
            char line[256];
            long flags = -1;
            assert_non_null(f);
            while (fgets(line, sizeof line, f))
                if (!strncmp(line, "flags:", 6))
                    flags = strtol(line + 6, NULL, 8);
            fclose(f);
            return flags;
        }
    }
    return -1;
}

static void test_file(void **state)
{
    char dir[PATH_MAX], path[PATH_MAX], *text;
    pf_error err = {0};
    regex_t re;
    long flags;
    (void)state;
    tu_mkdtemp(dir, "log");
    tu_path(path, "%s/patchfs.log", dir);
    tu_write_text(path, "an earlier line\n");
    assert_int_equal(pf_log_open(path, &err), 0);
    flags = open_flags(path);
    assert_true(flags >= 0);
    assert_true(flags & O_APPEND);
    assert_true(flags & O_CLOEXEC);
    errno = EXDEV;
    pf_log(LOG_ERR, "cases/case_002/data.npy: read: %s", "cannot open cache entry");
    assert_int_equal(errno, EXDEV);
    fuse_log(FUSE_LOG_ERR, "fuse: failed to unmount %s: %s\n", "/mnt/x", "Invalid argument");
    pf_log(LOG_NOTICE, "Dataset mounted on /mnt/x");
    pf_log_close();
    /* after close: stderr again, the file untouched */
    pf_log(LOG_INFO, "not in the file");

    text = read_text(path);
    assert_int_equal(count_lines(text), 4);
    assert_int_equal(strncmp(text, "an earlier line\n", 16), 0);
    assert_int_equal(regcomp(&re,
                             "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                             "patchfs\\[[0-9]+\\]: error: cases/case_002/data\\.npy: read: "
                             "cannot open cache entry$",
                             REG_EXTENDED | REG_NEWLINE), 0);
    assert_int_equal(regexec(&re, text, 0, NULL, 0), 0);
    regfree(&re);
    assert_non_null(strstr(text, "]: error: fuse: failed to unmount /mnt/x: Invalid argument\n"));
    assert_non_null(strstr(text, "]: notice: Dataset mounted on /mnt/x\n"));
    assert_null(strstr(text, "not in the file"));
    free(text);

    /* appended to, not truncated, by the next mount; a long message stays one line */
    assert_int_equal(pf_log_open(path, &err), 0);
    {
        char big[4000];
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        pf_log(LOG_WARNING, "%s", big);
    }
    pf_log_close();
    text = read_text(path);
    assert_int_equal(count_lines(text), 5);
    assert_non_null(strstr(text, "xxx...\n"));
    free(text);
    assert_int_equal(open_flags(path), -1); /* closed */
    tu_rm_rf(dir);
}

static void test_open_fails(void **state)
{
    pf_error err = {0};
    (void)state;
    assert_int_equal(pf_log_open("/nonexistent/folder/patchfs.log", &err), -1);
    assert_int_equal(err.errnum, ENOENT);
    assert_non_null(strstr(err.msg, "/nonexistent/folder/patchfs.log"));
    assert_non_null(strstr(err.msg, "No such file or directory"));
    /* no file: stderr, and nothing to close */
    assert_int_equal(pf_log_open(NULL, &err), 0);
    pf_log(LOG_ERR, "to stderr (expected in the test output)");
    pf_log_close();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_open_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
