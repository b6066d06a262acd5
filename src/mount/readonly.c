/* readonly.c - the write-type FUSE operations of the mount (see readonly.h). */
#define FUSE_USE_VERSION 312

#include "readonly.h"

#include <errno.h>

void pf_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *a, int to_set,
                   struct fuse_file_info *fi)
{
    (void)ino; (void)a; (void)to_set; (void)fi;
    fuse_reply_err(req, EROFS);
}
void pf_op_mknod(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m, dev_t r)
{
    (void)p; (void)n; (void)m; (void)r;
    fuse_reply_err(req, EROFS);
}
void pf_op_mkdir(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m)
{
    (void)p; (void)n; (void)m;
    fuse_reply_err(req, EROFS);
}
void pf_op_unlink(fuse_req_t req, fuse_ino_t p, const char *n)
{
    (void)p; (void)n;
    fuse_reply_err(req, EROFS);
}
void pf_op_symlink(fuse_req_t req, const char *l, fuse_ino_t p, const char *n)
{
    (void)l; (void)p; (void)n;
    fuse_reply_err(req, EROFS);
}
void pf_op_rename(fuse_req_t req, fuse_ino_t p, const char *n, fuse_ino_t np,
                  const char *nn, unsigned int f)
{
    (void)p; (void)n; (void)np; (void)nn; (void)f;
    fuse_reply_err(req, EROFS);
}
void pf_op_link(fuse_req_t req, fuse_ino_t i, fuse_ino_t np, const char *nn)
{
    (void)i; (void)np; (void)nn;
    fuse_reply_err(req, EROFS);
}
void pf_op_create(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m,
                  struct fuse_file_info *fi)
{
    (void)p; (void)n; (void)m; (void)fi;
    fuse_reply_err(req, EROFS);
}
void pf_op_write(fuse_req_t req, fuse_ino_t i, const char *b, size_t s, off_t o,
                 struct fuse_file_info *fi)
{
    (void)i; (void)b; (void)s; (void)o; (void)fi;
    fuse_reply_err(req, EROFS);
}
void pf_op_setxattr(fuse_req_t req, fuse_ino_t i, const char *n, const char *v, size_t s,
                    int f)
{
    (void)i; (void)n; (void)v; (void)s; (void)f;
    fuse_reply_err(req, EROFS);
}
void pf_op_removexattr(fuse_req_t req, fuse_ino_t i, const char *n)
{
    (void)i; (void)n;
    fuse_reply_err(req, EROFS);
}
