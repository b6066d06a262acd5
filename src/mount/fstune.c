/* fstune.c - FUSE transport settings shared by the mount and the bench's ceiling server
 * (see fstune.h). */
#define FUSE_USE_VERSION 312

#include "fstune.h"

#include <fuse_lowlevel.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
    char *o = s;
    while (*s) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 4;
        } else {
            *o++ = *s++;
        }
    }
    *o = '\0';
}

void pf_tune_prepare(pf_tune *t, const char *mountpoint, int readahead_kb)
{
    char real[PATH_MAX], line[2 * PATH_MAX], found[32] = "";
    FILE *f;
    memset(t->bdi_path, 0, sizeof t->bdi_path);
    pthread_mutex_init(&t->lock, NULL);
    t->done = 0;
    t->readahead_kb = readahead_kb < 0 ? (geteuid() == 0 ? PF_TUNE_READAHEAD_KB : 0)
                                       : readahead_kb;
    if (t->readahead_kb == 0 || !realpath(mountpoint, real))
        return;
    f = fopen("/proc/self/mountinfo", "r");
    if (!f)
        return;
    /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT ...": the last line for the mountpoint is the newest */
    while (fgets(line, sizeof line, f)) {
        char devno[32], mp[PATH_MAX];
        if (sscanf(line, "%*s %*s %31s %*s %4095s", devno, mp) != 2)
            continue;
        unescape(mp);
        if (!strcmp(mp, real))
            snprintf(found, sizeof found, "%s", devno);
    }
    fclose(f);
    if (found[0])
        snprintf(t->bdi_path, sizeof t->bdi_path, "/sys/class/bdi/%s/read_ahead_kb", found);
}

void pf_tune_init(pf_tune *t, struct fuse_conn_info *conn)
{
    (void)t;
    /* more asynchronous (readahead) READs in flight than the kernel's default 12 */
    conn->max_background = PF_TUNE_MAX_BACKGROUND;
    conn->congestion_threshold = PF_TUNE_MAX_BACKGROUND * 3 / 4;
}

void pf_tune_once(pf_tune *t)
{
    FILE *f;
    if (__atomic_load_n(&t->done, __ATOMIC_ACQUIRE))
        return;
    pthread_mutex_lock(&t->lock);
    if (!t->done && t->bdi_path[0] && t->readahead_kb > 0) {
        f = fopen(t->bdi_path, "w");
        if (f) {
            fprintf(f, "%d\n", t->readahead_kb);
            fclose(f);
        }
    }
    __atomic_store_n(&t->done, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&t->lock);
}
