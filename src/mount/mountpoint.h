/* mountpoint.h - the mountpoint before and after mounting: a usable folder, made absolute once
 * (a daemon runs in /, so a relative path would name another folder at unmount), not already
 * served by a live patchfs mount (mounting again would stack a second daemon on it), and,
 * once unmounted, really gone. What is mounted where comes from /proc/self/mountinfo. */
#ifndef PATCHFS_MOUNTPOINT_H
#define PATCHFS_MOUNTPOINT_H

#include <stdio.h>

#include "error.h"

#define PF_FSTYPE "fuse.patchfs"

/* One line of mountinfo (proc(5)), its paths unescaped. */
typedef struct pf_mount_entry {
    long id;
    char mountpoint[4096];
    char fstype[64];
    char source[512];
} pf_mount_entry;

/* Reads mountinfo lines from f: the last (topmost) mount at mountpoint into *top, and how many
 * mounts of type fstype (NULL: any) are stacked there. Returns that count (0: none). */
int pf_mountinfo_scan(FILE *f, const char *mountpoint, const char *fstype, pf_mount_entry *top);

/* The same for this process's /proc/self/mountinfo; -1 if it cannot be read. */
int pf_mounts_at(const char *mountpoint, const char *fstype, pf_mount_entry *top);

/* Just after mounting on mountpoint: *id receives our mount's id (-1 if not found), to check
 * after unmounting that it is gone. Returns -1 if another patchfs mount is stacked there too
 * (two mounts raced past pf_mountpoint_free: the caller, on top, steps back), else 0. */
int pf_mount_ours(const char *mountpoint, long *id);

/* 1 if the mount with this id is still in /proc/self/mountinfo, 0 if not, -1 if unknown. */
int pf_mount_id_present(long id);

/* Before mounting on `given`: it must be an existing folder (a dead FUSE mount, whose stat
 * fails with ENOTCONN, is named as such with the command that clears it) that no live patchfs
 * mount serves. *abs receives its absolute, symlink-free path (malloc'd). 0, or -1 with a
 * message naming the mountpoint. */
int pf_mountpoint_prepare(const char *given, char **abs, pf_error *err);

/* Refuses a mountpoint a live patchfs mount serves (a second mount would stack on it).
 * 0, or -1 with a message naming it, what serves it and how to unmount it. */
int pf_mountpoint_free(const char *given, const char *abs, pf_error *err);

#endif
