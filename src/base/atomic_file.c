/* atomic_file.c - outputs written to a temporary and renamed (see atomic_file.h). */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The folder of path (".", when it has none) into buf. */
static void folder_of(const char *path, char *buf, size_t cap)
{
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", path);
    snprintf(buf, cap, "%s", dirname(copy));
}

int pf_output_check(const char *path, int force, pf_error *err)
{
    char dir[4096];
    struct stat st;
    if (!path || !*path)
        return pf_fail(err, EINVAL, "an output file name is empty");
    if (strlen(path) >= 4096)
        return pf_fail(err, ENAMETOOLONG, "%.200s...: output name too long", path);
    if (lstat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return pf_fail(err, EISDIR, "%s: is a folder", path);
        if (!force)
            return pf_fail(err, EEXIST, "%s: exists (--force replaces it)", path);
    }
    folder_of(path, dir, sizeof dir);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return pf_fail(err, ENOENT, "%s: folder %s does not exist", path, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return pf_fail(err, errno, "%s: folder %s is not writable: %s", path, dir,
                       strerror(errno));
    return 0;
}

int pf_atomic_begin(pf_atomic_file *f, const char *path, int force, pf_error *err)
{
    mode_t um;
    f->fd = -1;
    f->force = force;
    if (pf_output_check(path, force, err))
        return -1;
    snprintf(f->path, sizeof f->path, "%s", path);
    snprintf(f->tmp, sizeof f->tmp, "%s.tmp.%ld.XXXXXX", path, (long)getpid());
    f->fd = mkstemp(f->tmp);
    if (f->fd < 0)
        return pf_fail(err, errno, "%s: cannot write in its folder (a temporary beside it: "
                       "%s)", path, strerror(errno));
    um = umask(0);
    umask(um);
    if (fchmod(f->fd, 0644 & ~um) != 0) {
        pf_fail(err, errno, "%s: %s", f->tmp, strerror(errno));
        pf_atomic_abort(f);
        return -1;
    }
    return 0;
}

int pf_atomic_write(pf_atomic_file *f, const void *buf, size_t len, pf_error *err)
{
    const char *p = buf;
    while (len) {
        ssize_t w = write(f->fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return pf_fail(err, w < 0 ? errno : EIO, "%s: writing: %s", f->path,
                           w < 0 ? strerror(errno) : "no progress");
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int pf_atomic_commit(pf_atomic_file *f, pf_error *err)
{
    int rc;
    if (fsync(f->fd) != 0) {
        pf_fail(err, errno, "%s: writing: %s", f->path, strerror(errno));
        pf_atomic_abort(f);
        return -1;
    }
    rc = close(f->fd);
    f->fd = -1;
    if (rc != 0) {
        pf_fail(err, errno, "%s: writing: %s", f->path, strerror(errno));
        pf_atomic_abort(f);
        return -1;
    }
    if (f->force) {
        rc = rename(f->tmp, f->path);
    } else {
        /* no-replace: a file that appeared meanwhile is not overwritten */
        rc = renameat2(AT_FDCWD, f->tmp, AT_FDCWD, f->path, RENAME_NOREPLACE);
        if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) { /* file system without it */
            rc = link(f->tmp, f->path);
            if (rc == 0)
                unlink(f->tmp);
        }
    }
    if (rc != 0) {
        pf_fail(err, errno, "%s: %s", f->path,
                errno == EEXIST ? "appeared while it was written (--force replaces it)"
                                : strerror(errno));
        pf_atomic_abort(f);
        return -1;
    }
    f->tmp[0] = '\0';
    return 0;
}

void pf_atomic_abort(pf_atomic_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    if (f->tmp[0])
        unlink(f->tmp);
    f->tmp[0] = '\0';
}
