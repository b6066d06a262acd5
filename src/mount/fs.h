/* fs.h - the thin FUSE layer: maps inode numbers to tree nodes and serves what the core's
 * file table (files.h) makes. No sampling logic lives here. */
#ifndef PATCHFS_FS_H
#define PATCHFS_FS_H

#include "patchfs/context.h"

/* Mounts ctx at mountpoint (absolute: the daemon runs in /; see pf_mountpoint_prepare) and
 * serves until unmounted or signalled (SIGINT/SIGTERM/SIGHUP unmount cleanly). Daemonizes once
 * the mount is ready unless the options say foreground. Returns a process exit code, non-zero
 * also when the mount could not be removed at the end. Messages go to the log (log.h: open it
 * first, pf_log_open, so that a bad log= fails before the cache is built). */
int pf_fs_serve(pf_ctx *ctx, const char *mountpoint);

#endif
