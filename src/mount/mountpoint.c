/* mountpoint.c - checks of the mountpoint around mounting, from /proc/self/mountinfo (see
 * mountpoint.h). */
#include "mountpoint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

/* A mountinfo field into out, with the kernel's octal escapes (\040 space, \011 tab, \012
 * newline, \134 backslash) undone. Returns the rest of the line after the field. */
static char *field(char *p, char *out, size_t cap)
{
    size_t k = 0;
    while (*p == ' ')
        p++;
    for (; *p && *p != ' ' && *p != '\n'; p++) {
        char c = *p;
        if (c == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
            p[3] >= '0' && p[3] <= '7') {
            c = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
            p += 3;
        }
        if (k + 1 < cap)
            out[k++] = c;
    }
    if (cap)
        out[k] = '\0';
    return p;
}

/* "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue":
 * id, parent, major:minor, root, mount point, options, optional fields up to "-", then
 * type, source, super options. */
static int parse_line(char *line, pf_mount_entry *e)
{
    char skip[4096], *p;
    e->id = strtol(line, &p, 10);
    if (p == line)
        return -1;
    p = field(p, skip, sizeof skip);                        /* parent */
    p = field(p, skip, sizeof skip);                        /* major:minor */
    p = field(p, skip, sizeof skip);                        /* root */
    p = field(p, e->mountpoint, sizeof e->mountpoint);      /* mount point */
    p = field(p, skip, sizeof skip);                        /* mount options */
    do
        p = field(p, skip, sizeof skip);                    /* optional fields, "-" */
    while (skip[0] && strcmp(skip, "-"));
    if (!skip[0])
        return -1;
    p = field(p, e->fstype, sizeof e->fstype);
    field(p, e->source, sizeof e->source);
    return e->fstype[0] ? 0 : -1;
}

int pf_mountinfo_scan(FILE *f, const char *mountpoint, const char *fstype, pf_mount_entry *top)
{
    char *line = NULL;
    size_t cap = 0;
    int count = 0;
    pf_mount_entry *e = malloc(sizeof *e);
    if (!e)
        return 0;
    if (top)
        memset(top, 0, sizeof *top);
    /* mounts are listed in the order they were made: the last one at a path is on top */
    while (getline(&line, &cap, f) > 0) {
        if (parse_line(line, e) != 0 || strcmp(e->mountpoint, mountpoint))
            continue;
        if (top)
            *top = *e;
        if (!fstype || !strcmp(e->fstype, fstype))
            count++;
    }
    free(line);
    free(e);
    return count;
}

int pf_mounts_at(const char *mountpoint, const char *fstype, pf_mount_entry *top)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    int n;
    if (!f)
        return -1;
    n = pf_mountinfo_scan(f, mountpoint, fstype, top);
    fclose(f);
    return n;
}

int pf_mount_ours(const char *mountpoint, long *id)
{
    pf_mount_entry *top = malloc(sizeof *top);
    int n;
    *id = -1;
    if (!top)
        return 0;
    n = pf_mounts_at(mountpoint, PF_FSTYPE, top);
    if (n > 0 && !strcmp(top->fstype, PF_FSTYPE))
        *id = top->id;
    free(top);
    return n > 1 ? -1 : 0;
}

int pf_mount_id_present(long id)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char *line = NULL;
    size_t cap = 0;
    int found = 0;
    if (!f)
        return -1;
    while (!found && getline(&line, &cap, f) > 0)
        found = strtol(line, NULL, 10) == id;
    free(line);
    fclose(f);
    return found;
}

static int dead(pf_error *err, const char *given)
{
    return pf_fail(err, ENOTCONN, "%s: a previous mount died (transport endpoint not "
                   "connected); clear it with: fusermount3 -uz %s", given, given);
}

int pf_mountpoint_free(const char *given, const char *abs, pf_error *err)
{
    pf_mount_entry *top = malloc(sizeof *top);
    int rc = 0;
    if (!top)
        return pf_fail(err, ENOMEM, "out of memory");
    if (pf_mounts_at(abs, NULL, top) > 0 && !strcmp(top->fstype, PF_FSTYPE)) {
        struct statfs sf;
        /* statfs always asks the daemon (stat may be answered from attributes the kernel
         * cached for a day), so a dead one shows here */
        if (statfs(abs, &sf) != 0 && errno == ENOTCONN)
            rc = dead(err, given);
        else
            rc = pf_fail(err, EBUSY, "%s: already a live patchfs mount (%s on %s); mounting "
                         "again would stack a second one: unmount it first (fusermount3 -u "
                         "%s) or choose another mountpoint", given, top->source, abs, abs);
    }
    free(top);
    return rc;
}

int pf_mountpoint_prepare(const char *given, char **abs, pf_error *err)
{
    struct stat st;
    *abs = NULL;
    if (stat(given, &st) != 0) {
        if (errno == ENOTCONN)
            return dead(err, given);
        return pf_fail(err, errno, "%s: mountpoint unusable: %s", given, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        return pf_fail(err, ENOTDIR, "%s: mountpoint is not a folder", given);
    /* absolute and without symlinks: mountinfo lists mount points so, and the daemon unmounts
     * by this path after libfuse's daemonize moved it to / */
    if (!(*abs = realpath(given, NULL)))
        return pf_fail(err, errno, "%s: mountpoint unusable: %s", given, strerror(errno));
    if (pf_mountpoint_free(given, *abs, err) != 0) {
        free(*abs);
        *abs = NULL;
        return -1;
    }
    return 0;
}
