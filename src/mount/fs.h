/* fs.h - the thin FUSE layer: maps inode numbers to tree nodes and serves what produce.c
 * makes. No sampling logic lives here. */
#ifndef PATCHFS_FS_H
#define PATCHFS_FS_H

#include "patchfs/produce.h"

/* Mounts ctx at mountpoint and serves until unmounted or signalled (SIGINT/SIGTERM/SIGHUP
 * unmount cleanly). Daemonizes once the mount is ready unless ctx->opt.foreground.
 * Returns a process exit code; messages go to stderr. */
int pf_fs_serve(pf_ctx *ctx, const char *mountpoint);

#endif
