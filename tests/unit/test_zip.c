/* test_zip.c - the stored zip writer (base/zip.c) and batch.npz on it (vfs/npz.c), checked
 * against the zip specification (APPNOTE 6.3: record signatures, fields and the ZIP64 rules,
 * parsed here field by field) and read back by Python's zipfile (/usr/bin/python3, skipped
 * when absent): a small classic archive, and a ZIP64 one of more than 4 GiB laid out as a
 * sparse file (its big member a hole), so the ZIP64 branch is tested without writing GBs. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zlib.h>

#include "testutil.h"

#include "crc32.h"
#include "npz.h"
#include "zip.h"

#define PY "/usr/bin/python3"
#define GIB ((uint64_t)1 << 30)

static uint64_t rd(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* the archive's size by the specification's record sizes */
static uint64_t spec_size(const pf_zip_member *m, int n, int z64)
{
    uint64_t s = 22 + (z64 ? 56 + 20 : 0);
    for (int i = 0; i < n; i++)
        s += 30 + strlen(m[i].name) + (z64 ? 20 : 0) + m[i].len + 46 + strlen(m[i].name) +
             (z64 ? 28 : 0);
    return s;
}

/* Checks the directory and end records in tail (the bytes from l->directory to the end)
 * field by field against the specification. */
static void check_directory(const unsigned char *tail, const pf_zip_member *m, int n,
                            const pf_zip_layout *l)
{
    const unsigned char *p = tail, *end = tail + (l->size - l->directory) - 22;
    const int z64 = l->zip64;
    for (int i = 0; i < n; i++) {
        const size_t name = strlen(m[i].name);
        assert_int_equal(rd(p, 4), 0x02014b50);
        assert_int_equal(rd(p + 6, 2), z64 ? 45 : 20);   /* version needed */
        assert_int_equal(rd(p + 10, 2), 0);              /* stored */
        assert_int_equal(rd(p + 16, 4), m[i].crc);
        assert_int_equal(rd(p + 20, 4), z64 ? 0xffffffffu : m[i].len);
        assert_int_equal(rd(p + 24, 4), z64 ? 0xffffffffu : m[i].len);
        assert_int_equal(rd(p + 28, 2), name);
        assert_int_equal(rd(p + 30, 2), z64 ? 28 : 0);
        assert_int_equal(rd(p + 42, 4), z64 ? 0xffffffffu : m[i].offset);
        assert_memory_equal(p + 46, m[i].name, name);
        if (z64) {
            const unsigned char *x = p + 46 + name;
            assert_int_equal(rd(x, 2), 1); /* ZIP64 extended information */
            assert_int_equal(rd(x + 2, 2), 24);
            assert_true(rd(x + 4, 8) == m[i].len && rd(x + 12, 8) == m[i].len);
            assert_true(rd(x + 20, 8) == m[i].offset);
        }
        p += 46 + name + (z64 ? 28 : 0);
    }
    assert_true((uint64_t)(p - tail) == l->directory_len);
    if (z64) {
        const unsigned char *loc = end - 20;
        assert_int_equal(rd(p, 4), 0x06064b50);
        assert_true(rd(p + 4, 8) == 44);
        assert_true(rd(p + 24, 8) == (uint64_t)n && rd(p + 32, 8) == (uint64_t)n);
        assert_true(rd(p + 40, 8) == l->directory_len && rd(p + 48, 8) == l->directory);
        assert_int_equal(rd(loc, 4), 0x07064b50);
        assert_true(rd(loc + 8, 8) == l->directory + l->directory_len);
        assert_int_equal(rd(loc + 16, 4), 1);
    }
    assert_int_equal(rd(end, 4), 0x06054b50);
    assert_int_equal(rd(end + 8, 2), z64 ? 0xffff : n);
    assert_int_equal(rd(end + 10, 2), z64 ? 0xffff : n);
    assert_int_equal(rd(end + 12, 4), z64 ? 0xffffffffu : l->directory_len);
    assert_int_equal(rd(end + 16, 4), z64 ? 0xffffffffu : l->directory);
    assert_int_equal(rd(end + 20, 2), 0);
}

static void check_local(const unsigned char *p, const pf_zip_member *m, int z64)
{
    const size_t name = strlen(m->name);
    assert_int_equal(rd(p, 4), 0x04034b50);
    assert_int_equal(rd(p + 4, 2), z64 ? 45 : 20);
    assert_int_equal(rd(p + 14, 4), m->crc);
    assert_int_equal(rd(p + 18, 4), z64 ? 0xffffffffu : m->len);
    assert_int_equal(rd(p + 26, 2), name);
    assert_int_equal(rd(p + 28, 2), z64 ? 20 : 0);
    assert_memory_equal(p + 30, m->name, name);
    if (z64)
        assert_true(rd(p + 30 + name, 2) == 1 && rd(p + 32 + name, 2) == 16 &&
                    rd(p + 34 + name, 8) == m->len && rd(p + 42 + name, 8) == m->len);
}

/* Runs python's zipfile on path with the script; 0 when it exits 0, 77 when there is no python. */
static int python_check(const char *script, const char *path)
{
    pid_t pid;
    int st;
    if (access(PY, X_OK) != 0)
        return 77;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(PY, PY, "-c", script, path, (char *)NULL);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

/* batch.npz of real bytes: classic layout, the spec's fields, zipfile reads every member
 * back with its CRC, and pf_npz_size is the spec's formula */
static void test_classic(void **state)
{
    static const char *names[] = {"data.npy", "seg.npy", "seg_ds1.npy", "empty.npy"};
    const uint64_t lens[] = {300000, 70001, 9, 0};
    pf_npz_member m[4];
    pf_zip_member z[4];
    pf_zip_layout l;
    pf_error err = {0};
    char dir[PATH_MAX], path[PATH_MAX + 16], *out;
    uint64_t size, at = 0;
    (void)state;
    for (int i = 0; i < 4; i++) {
        char *d = malloc(lens[i] + 1);
        assert_non_null(d);
        for (uint64_t k = 0; k < lens[i]; k++)
            d[k] = (char)(k * 2654435761u >> (8 + i));
        m[i] = (pf_npz_member){.name = names[i], .data = d, .len = lens[i]};
        z[i] = (pf_zip_member){.name = names[i], .len = lens[i],
                               .crc = (uint32_t)crc32_z(0, (const Bytef *)d, lens[i])};
    }
    size = pf_npz_size(m, 4);
    pf_zip_plan(z, 4, 0, &l);
    assert_int_equal(l.zip64, 0);
    assert_true(size == spec_size(z, 4, 0) && size == l.size);
    out = malloc(size);
    assert_non_null(out);
    assert_int_equal(pf_npz_write(out, m, 4, 2, &err), 0);
    for (int i = 0; i < 4; i++) {
        assert_true(z[i].offset == at);
        check_local((unsigned char *)out + at, &z[i], 0);
        if (lens[i])
            assert_memory_equal(out + at + 30 + strlen(names[i]), m[i].data, lens[i]);
        at += 30 + strlen(names[i]) + lens[i];
    }
    assert_true(l.directory == at);
    check_directory((unsigned char *)out + at, z, 4, &l);
    tu_mkdtemp(dir, "zip");
    snprintf(path, sizeof path, "%s/b.npz", dir);
    tu_write_file(path, out, size);
    {
        const int rc = python_check(
            "import sys, zipfile\n"
            "z = zipfile.ZipFile(sys.argv[1])\n"
            "assert z.testzip() is None\n"
            "i = z.infolist()\n"
            "assert [x.filename for x in i] == ['data.npy', 'seg.npy', 'seg_ds1.npy', 'empty.npy']\n"
            "assert [x.file_size for x in i] == [300000, 70001, 9, 0]\n"
            "assert all(x.compress_type == zipfile.ZIP_STORED for x in i)\n"
            "assert all(x.date_time == (1980, 1, 1, 0, 0, 0) for x in i)\n"
            "d = z.read('seg_ds1.npy')\n"
            "assert d == bytes((k * 2654435761 >> 10) & 255 for k in range(9)), d\n",
            path);
        if (rc == 77)
            print_message("skip: no %s for the zipfile check\n", PY);
        else
            assert_int_equal(rc, 0);
    }
    tu_rm_rf(dir);
    for (int i = 0; i < 4; i++)
        free((void *)m[i].data);
    free(out);
}

/* when ZIP64 starts: the classic archive's size reaching 4 GiB - 1, or 65535 members */
static void test_zip64_threshold(void **state)
{
    pf_zip_member z[2] = {{.name = "a.npy"}, {.name = "b.npy"}};
    pf_npz_member m[2] = {{.name = "a.npy"}, {.name = "b.npy"}};
    pf_zip_layout l;
    const uint64_t fixed = spec_size(z, 2, 0); /* both members empty */
    (void)state;
    z[0].len = m[0].len = 0xffffffffULL - fixed - 1;
    pf_zip_plan(z, 2, 0, &l);
    assert_int_equal(l.zip64, 0);
    assert_true(l.size == 0xfffffffeULL && pf_npz_size(m, 2) == l.size);
    z[0].len = m[0].len = 0xffffffffULL - fixed;
    pf_zip_plan(z, 2, 0, &l);
    assert_int_equal(l.zip64, 1);
    assert_true(l.size == spec_size(z, 2, 1) && pf_npz_size(m, 2) == l.size);
    z[0].len = 10; /* forced, as --probabilities always is */
    pf_zip_plan(z, 2, 1, &l);
    assert_true(l.zip64 == 1 && l.size == spec_size(z, 2, 1));
}

/* A ZIP64 archive of 4.5 GiB as a sparse file: a big member (a hole of zeros), then small
 * members whose local headers lie past 4 GiB; the spec's fields, then zipfile reads it. */
static void test_zip64_sparse(void **state)
{
    static const char small[] = "\x93NUMPY past four GiB";
    pf_zip_member z[3] = {{.name = "big.npy", .len = 4 * GIB + GIB / 2 + 7},
                          {.name = "small.npy", .len = sizeof small - 1},
                          {.name = "tail.npy", .len = 0}};
    pf_zip_layout l;
    char dir[PATH_MAX], path[PATH_MAX + 16], head[128], *tail;
    unsigned char back[128];
    int fd;
    (void)state;
    z[0].crc = 0x12345678u; /* not read back: zipfile checks a CRC only at a member's end */
    z[1].crc = pf_crc32(0, small, sizeof small - 1);
    z[2].crc = 0;
    pf_zip_plan(z, 3, 0, &l);
    assert_int_equal(l.zip64, 1);
    assert_true(l.size == spec_size(z, 3, 1));
    assert_true(z[1].offset == 30 + 7 + 20 + z[0].len && z[1].offset > 0xffffffffULL);
    assert_true(z[2].offset == z[1].offset + 30 + 9 + 20 + z[1].len);
    tu_mkdtemp(dir, "zip64");
    snprintf(path, sizeof path, "%s/big.npz", dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    for (int i = 0; i < 3; i++) {
        const uint64_t hl = pf_zip_local_len(&z[i], 1);
        assert_true(hl == 30 + strlen(z[i].name) + 20);
        pf_zip_put_local(head, &z[i], 1);
        assert_int_equal(pwrite(fd, head, hl, (off_t)z[i].offset), (ssize_t)hl);
        assert_int_equal(pread(fd, back, hl, (off_t)z[i].offset), (ssize_t)hl);
        check_local(back, &z[i], 1);
    }
    assert_int_equal(pwrite(fd, small, sizeof small - 1, (off_t)(z[1].offset + 30 + 9 + 20)),
                     (ssize_t)(sizeof small - 1));
    tail = malloc(l.size - l.directory);
    assert_non_null(tail);
    pf_zip_put_directory(tail, z, 3, &l);
    check_directory((unsigned char *)tail, z, 3, &l);
    assert_int_equal(pwrite(fd, tail, l.size - l.directory, (off_t)l.directory),
                     (ssize_t)(l.size - l.directory));
    free(tail);
    close(fd);
    {
        char script[2048];
        int rc;
        snprintf(script, sizeof script,
                 "import sys, zipfile\n"
                 "z = zipfile.ZipFile(sys.argv[1])\n"
                 "i = z.infolist()\n"
                 "assert [x.filename for x in i] == ['big.npy', 'small.npy', 'tail.npy']\n"
                 "assert [x.file_size for x in i] == [%llu, %zu, 0], i\n"
                 "assert [x.header_offset for x in i] == [0, %llu, %llu], i\n"
                 "assert z.read('small.npy') == b'\\x93NUMPY past four GiB'\n"
                 "assert z.read('tail.npy') == b''\n"
                 "with z.open('big.npy') as f:\n"
                 "    assert f.read(4096) == bytes(4096)\n",
                 (unsigned long long)z[0].len, sizeof small - 1,
                 (unsigned long long)z[1].offset, (unsigned long long)z[2].offset);
        rc = python_check(script, path);
        if (rc == 77)
            print_message("skip: no %s for the zipfile check\n", PY);
        else
            assert_int_equal(rc, 0);
    }
    tu_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classic),
        cmocka_unit_test(test_zip64_threshold),
        cmocka_unit_test(test_zip64_sparse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
