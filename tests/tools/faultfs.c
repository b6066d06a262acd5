/* faultfs.c - a passthrough FUSE file system that fails reads on demand: the test stand-in for
 * a disk with a bad sector (tests/integration/reliability.sh, "a sector of a cache entry
 * failing while mounted").
 *
 *   faultfs BACKING MOUNTPOINT CONTROL -f [fuse options]
 *
 * Serves the folder BACKING at MOUNTPOINT (everything patchfs does with a cache folder:
 * create, write, fsync, rename, unlink, mkdir, readdir, stat, read, mmap). While the file
 * CONTROL exists and holds a non-empty first line, every READ of a file whose path contains
 * that line fails with EIO, as a failing sector does; reads of other files, and all reads
 * once CONTROL is gone, pass through. Built by the test itself (cc ... $(pkg-config fuse3)). */
#define FUSE_USE_VERSION 35
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static char backing[PATH_MAX], control[PATH_MAX];

static void real(char *out, const char *path)
{
    snprintf(out, PATH_MAX, "%s%s", backing, path);
}

/* Whether reads of path fail now: CONTROL's first line is a substring of it. */
static int failing(const char *path)
{
    char want[PATH_MAX] = "";
    FILE *f = fopen(control, "r");
    if (!f)
        return 0;
    if (!fgets(want, sizeof want, f))
        want[0] = '\0';
    fclose(f);
    want[strcspn(want, "\n")] = '\0';
    return want[0] && strstr(path, want) != NULL;
}

#define REAL(p) char p##_r[PATH_MAX]; real(p##_r, p)
#define RET(expr) return (expr) < 0 ? -errno : 0

static int ff_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    REAL(path);
    if (fi)
        RET(fstat((int)fi->fh, st));
    RET(lstat(path_r, st));
}

static int ff_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    DIR *d;
    struct dirent *de;
    REAL(path);
    (void)off, (void)fi, (void)flags;
    if (!(d = opendir(path_r)))
        return -errno;
    while ((de = readdir(d)))
        fill(buf, de->d_name, NULL, 0, 0);
    closedir(d);
    return 0;
}

static int ff_mkdir(const char *path, mode_t mode) { REAL(path); RET(mkdir(path_r, mode)); }
static int ff_unlink(const char *path) { REAL(path); RET(unlink(path_r)); }
static int ff_rmdir(const char *path) { REAL(path); RET(rmdir(path_r)); }

static int ff_rename(const char *from, const char *to, unsigned int flags)
{
    REAL(from);
    REAL(to);
    if (flags)
        return -EINVAL;
    RET(rename(from_r, to_r));
}

static int ff_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    REAL(path);
    if (fi)
        RET(fchmod((int)fi->fh, mode));
    RET(chmod(path_r, mode));
}

static int ff_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    REAL(path);
    if (fi)
        RET(ftruncate((int)fi->fh, size));
    RET(truncate(path_r, size));
}

static int ff_open(const char *path, struct fuse_file_info *fi)
{
    int fd;
    REAL(path);
    if ((fd = open(path_r, fi->flags)) < 0)
        return -errno;
    fi->fh = (uint64_t)fd;
    return 0;
}

static int ff_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    int fd;
    REAL(path);
    if ((fd = open(path_r, fi->flags, mode)) < 0)
        return -errno;
    fi->fh = (uint64_t)fd;
    return 0;
}

static int ff_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    ssize_t n;
    if (failing(path))
        return -EIO;
    n = pread((int)fi->fh, buf, size, off);
    return n < 0 ? -errno : (int)n;
}

static int ff_write(const char *path, const char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    ssize_t n = pwrite((int)fi->fh, buf, size, off);
    (void)path;
    return n < 0 ? -errno : (int)n;
}

static int ff_statfs(const char *path, struct statvfs *st) { REAL(path); RET(statvfs(path_r, st)); }

static int ff_release(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    close((int)fi->fh);
    return 0;
}

static int ff_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)path;
    RET(datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh));
}

static int ff_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
    REAL(path);
    if (fi)
        RET(futimens((int)fi->fh, tv));
    RET(utimensat(AT_FDCWD, path_r, tv, AT_SYMLINK_NOFOLLOW));
}

static const struct fuse_operations ops = {
    .getattr = ff_getattr, .readdir = ff_readdir, .mkdir = ff_mkdir, .unlink = ff_unlink,
    .rmdir = ff_rmdir, .rename = ff_rename, .chmod = ff_chmod, .truncate = ff_truncate,
    .open = ff_open, .create = ff_create, .read = ff_read, .write = ff_write,
    .statfs = ff_statfs, .release = ff_release, .fsync = ff_fsync, .utimens = ff_utimens,
};

int main(int argc, char **argv)
{
    if (argc < 4 || !realpath(argv[1], backing)) {
        fprintf(stderr, "usage: faultfs BACKING MOUNTPOINT CONTROL [fuse options]\n");
        return 2;
    }
    snprintf(control, sizeof control, "%s", argv[3]);
    /* fuse_main sees: faultfs MOUNTPOINT [fuse options] */
    argv[1] = argv[2];
    for (int i = 2; i + 2 < argc + 1; i++)
        argv[i] = argv[i + 2];
    return fuse_main(argc - 2, argv, &ops, NULL);
}
