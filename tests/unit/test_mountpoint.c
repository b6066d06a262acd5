/* test_mountpoint.c - the mountpoint checks (mountpoint.h): mountinfo lines parsed with the
 * kernel's octal escapes and any number of optional fields, the topmost of stacked mounts
 * and the count of patchfs mounts at a path, mount ids looked up in this process's
 * mountinfo, and pf_mountpoint_prepare's refusals (missing, not a folder) and its absolute,
 * symlink-free result for a relative path. A live patchfs mountpoint being refused needs a
 * real mount: tests/integration/reliability.sh checks it. */
#include "testutil.h"

#include "mountpoint.h"

static const char mountinfo[] =
    "22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/root rw\n"
    "30 22 0:40 / /mnt/my\\040data rw,nosuid shared:5 master:2 - fuse.patchfs patchfs:D004 ro\n"
    "31 22 0:41 / /mnt/plain rw - tmpfs tmpfs rw\n"
    "32 31 0:42 / /mnt/plain ro,nosuid - fuse.patchfs patchfs:A ro\n"
    "33 31 0:43 / /mnt/plain ro,nosuid - fuse.patchfs patchfs:B ro\n"
    "34 22 0:44 / /mnt/other ro - fuse.sshfs host:/x rw\n"
    "35 22 0:45 / /mnt/back\\134slash ro - fuse.patchfs patchfs:C ro\n";

static int scan(const char *path, const char *type, pf_mount_entry *top)
{
    FILE *f = fmemopen((void *)mountinfo, sizeof mountinfo - 1, "r");
    int n;
    assert_non_null(f);
    n = pf_mountinfo_scan(f, path, type, top);
    fclose(f);
    return n;
}

static void test_scan(void **state)
{
    pf_mount_entry *e = malloc(sizeof *e);
    (void)state;
    assert_non_null(e);
    /* a space in the path (\040) and two optional fields before "-" */
    assert_int_equal(scan("/mnt/my data", PF_FSTYPE, e), 1);
    assert_int_equal(e->id, 30);
    assert_string_equal(e->fstype, "fuse.patchfs");
    assert_string_equal(e->source, "patchfs:D004");
    assert_int_equal(scan("/mnt/my\\040data", PF_FSTYPE, NULL), 0);
    /* stacked: two patchfs mounts over a tmpfs; the last listed is on top */
    assert_int_equal(scan("/mnt/plain", PF_FSTYPE, e), 2);
    assert_int_equal(e->id, 33);
    assert_string_equal(e->source, "patchfs:B");
    assert_int_equal(scan("/mnt/plain", NULL, e), 3);
    /* another FUSE file system, a backslash (\134), nothing mounted, a prefix of a path */
    assert_int_equal(scan("/mnt/other", PF_FSTYPE, e), 0);
    assert_string_equal(e->fstype, "fuse.sshfs");
    assert_int_equal(scan("/mnt/back\\slash", PF_FSTYPE, NULL), 1);
    assert_int_equal(scan("/mnt/none", NULL, e), 0);
    assert_int_equal(e->id, 0);
    assert_int_equal(scan("/mnt", NULL, NULL), 0);
    free(e);
}

/* the root file system is mounted; a negative id never is */
static void test_mount_ids(void **state)
{
    pf_mount_entry *e = malloc(sizeof *e);
    (void)state;
    assert_non_null(e);
    assert_true(pf_mounts_at("/", NULL, e) >= 1);
    assert_int_equal(pf_mount_id_present(e->id), 1);
    assert_int_equal(pf_mount_id_present(-5), 0);
    free(e);
}

static void test_prepare(void **state)
{
    char dir[PATH_MAX], path[PATH_MAX], cwd[PATH_MAX], *abs = (char *)1;
    pf_error err = {0};
    (void)state;
    tu_mkdtemp(dir, "mountpoint");
    tu_path(path, "%s/missing", dir);
    assert_int_equal(pf_mountpoint_prepare(path, &abs, &err), -1);
    assert_null(abs);
    assert_int_equal(err.errnum, ENOENT);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "mountpoint unusable"));

    tu_path(path, "%s/file", dir);
    tu_write_file(path, "x", 1);
    assert_int_equal(pf_mountpoint_prepare(path, &abs, &err), -1);
    assert_non_null(strstr(err.msg, "is not a folder"));

    /* relative, through a symlink: absolute and symlink-free, as mountinfo lists it */
    tu_path(path, "%s/real", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    tu_path(path, "%s/link", dir);
    assert_int_equal(symlink("real", path), 0);
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(pf_mountpoint_prepare("link", &abs, &err), 0);
    assert_int_equal(chdir(cwd), 0);
    assert_non_null(abs);
    assert_non_null(realpath(dir, cwd));
    tu_path(path, "%s/real", cwd);
    assert_string_equal(abs, path);
    /* nothing is mounted there */
    assert_int_equal(pf_mountpoint_free("link", abs, &err), 0);
    free(abs);
    tu_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_mount_ids),
        cmocka_unit_test(test_prepare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
