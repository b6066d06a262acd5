/* fstune.h - FUSE transport settings shared by the mount (fs.c) and the bench's ceiling
 * server (tests/bench/ceiling.c), so both are measured with exactly the same settings:
 *
 *  - in the init callback: max_background and congestion_threshold raised from the kernel's
 *    12/9, so the kernel's asynchronous readahead keeps several READs in flight;
 *  - after the mount, when running as root: the mount's readahead (its bdi's read_ahead_kb)
 *    raised from 128 KiB, so page-cache reads arrive as 1 MiB READs, several in flight. The
 *    kernel lowers the bdi's readahead to what the INIT reply allows, so the value is written
 *    on the first request after INIT (pf_tune_once from lookup/getattr/open), not before. */
#ifndef PATCHFS_FSTUNE_H
#define PATCHFS_FSTUNE_H

#include <pthread.h>

struct fuse_conn_info;

#define PF_TUNE_READAHEAD_KB 4096
#define PF_TUNE_MAX_BACKGROUND 64

typedef struct pf_tune {
    char bdi_path[96];  /* /sys/class/bdi/MAJ:MIN/read_ahead_kb, "" if unknown */
    int readahead_kb;   /* to write; 0: leave the kernel's value */
    pthread_mutex_t lock;
    int done;
} pf_tune;

/* After fuse_session_mount: finds the mount's bdi (from /proc/self/mountinfo, without a FUSE
 * request). readahead_kb < 0 picks PF_TUNE_READAHEAD_KB when root, 0 leaves it alone. */
void pf_tune_prepare(pf_tune *t, const char *mountpoint, int readahead_kb);

/* From the init callback. */
void pf_tune_init(pf_tune *t, struct fuse_conn_info *conn);

/* From request handlers: writes the readahead once (cheap after the first call). */
void pf_tune_once(pf_tune *t);

#endif
