/* readonly.h - every write-type FUSE operation of the mount, each answering EROFS. The kernel
 * already refuses them on a read-only mount; these keep the answer EROFS even if the mount
 * flags were changed (remount), and keep fs.c to the operations that serve. */
#ifndef PATCHFS_READONLY_H
#define PATCHFS_READONLY_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#endif
#include <fuse_lowlevel.h>
#include <sys/stat.h>

void pf_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *a, int to_set,
                   struct fuse_file_info *fi);
void pf_op_mknod(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m, dev_t r);
void pf_op_mkdir(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m);
void pf_op_unlink(fuse_req_t req, fuse_ino_t p, const char *n);
void pf_op_symlink(fuse_req_t req, const char *l, fuse_ino_t p, const char *n);
void pf_op_rename(fuse_req_t req, fuse_ino_t p, const char *n, fuse_ino_t np, const char *nn,
                  unsigned int f);
void pf_op_link(fuse_req_t req, fuse_ino_t i, fuse_ino_t np, const char *nn);
void pf_op_create(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m,
                  struct fuse_file_info *fi);
void pf_op_write(fuse_req_t req, fuse_ino_t i, const char *b, size_t s, off_t o,
                 struct fuse_file_info *fi);
void pf_op_setxattr(fuse_req_t req, fuse_ino_t i, const char *n, const char *v, size_t s, int f);
void pf_op_removexattr(fuse_req_t req, fuse_ino_t i, const char *n);

#endif
