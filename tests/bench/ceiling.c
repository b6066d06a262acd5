/* ceiling.c - the transport ceiling for `make bench`: a trivial FUSE low-level server that
 * serves files of given sizes from one pre-touched memory buffer, with the mount settings
 * patchfs uses (keep_cache, noflush, one-day entry/attr timeouts, the same init tuning, the
 * same raised readahead when root, optional direct_io, the same loop threads). Reading a
 * never-read file here costs only the FUSE round trips and copies: what patchfs can at best
 * reach for a step it has already generated.
 *
 *   ceiling MOUNTPOINT -n FILES -s SIZE[,SIZE...] [-D] [-t THREADS] [-r READAHEAD_KB] [-f]
 *
 * Files are /f<i>_<k> for i < FILES and k < number of sizes (e.g. -s DATA,SEG gives f0_0 with
 * DATA bytes and f0_1 with SEG bytes, like a step's data.npy and seg.npy). Daemonizes once the
 * mount is ready unless -f. Unmount with fusermount3 -u. */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fstune.h"

#define TIMEOUT 86400.0
#define MAX_SIZES 8

static char *g_buf;
static uint64_t g_files;
static size_t g_sizes[MAX_SIZES];
static int g_nsizes, g_direct_io;
static pf_tune g_tune;

/* ino 1 is the root; file (i, k) is 2 + i * nsizes + k */
static int file_of(fuse_ino_t ino, uint64_t *i, int *k)
{
    if (ino < 2 || ino - 2 >= g_files * (uint64_t)g_nsizes)
        return -1;
    *i = (ino - 2) / (uint64_t)g_nsizes;
    *k = (int)((ino - 2) % (uint64_t)g_nsizes);
    return 0;
}

static void fill(fuse_ino_t ino, struct stat *st)
{
    uint64_t i = 0;
    int k = 0;
    memset(st, 0, sizeof *st);
    st->st_ino = ino;
    st->st_uid = getuid();
    st->st_gid = getgid();
    if (ino == FUSE_ROOT_ID) {
        st->st_mode = S_IFDIR | 0555;
        st->st_nlink = 2;
        return;
    }
    file_of(ino, &i, &k);
    st->st_mode = S_IFREG | 0444;
    st->st_nlink = 1;
    st->st_size = (off_t)g_sizes[k];
    st->st_blksize = 1 << 20;
    st->st_blocks = (st->st_size + 511) / 512;
}

static void op_init(void *ud, struct fuse_conn_info *conn)
{
    (void)ud;
    pf_tune_init(&g_tune, conn);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct fuse_entry_param e;
    unsigned long long i;
    int k, used = 0;
    pf_tune_once(&g_tune);
    memset(&e, 0, sizeof e);
    e.attr_timeout = e.entry_timeout = TIMEOUT;
    if (parent == FUSE_ROOT_ID && sscanf(name, "f%llu_%d%n", &i, &k, &used) == 2 &&
        name[used] == '\0' && i < g_files && k >= 0 && k < g_nsizes) {
        e.ino = 2 + (fuse_ino_t)i * (fuse_ino_t)g_nsizes + (fuse_ino_t)k;
        fill(e.ino, &e.attr);
    }
    fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct stat st;
    uint64_t i;
    int k;
    (void)fi;
    pf_tune_once(&g_tune);
    if (ino != FUSE_ROOT_ID && file_of(ino, &i, &k)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    fill(ino, &st);
    fuse_reply_attr(req, &st, TIMEOUT);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    uint64_t i;
    int k;
    pf_tune_once(&g_tune);
    if (file_of(ino, &i, &k)) {
        fuse_reply_err(req, ino == FUSE_ROOT_ID ? EISDIR : ENOENT);
        return;
    }
    fi->fh = (uint64_t)k;
    fi->keep_cache = 1;
    fi->noflush = 1;
    fi->direct_io = (unsigned)g_direct_io;
    fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    size_t len = g_sizes[fi->fh];
    (void)ino;
    if (off < 0 || (size_t)off >= len)
        size = 0;
    else if (size > len - (size_t)off)
        size = len - (size_t)off;
    fuse_reply_buf(req, size ? g_buf + off : NULL, size);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    (void)fi;
    fuse_reply_err(req, 0);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    (void)ino;
    (void)size;
    (void)off;
    (void)fi;
    fuse_reply_buf(req, NULL, 0);
}

static const struct fuse_lowlevel_ops ops = {
    .init = op_init,
    .lookup = op_lookup,
    .getattr = op_getattr,
    .open = op_open,
    .read = op_read,
    .release = op_release,
    .readdir = op_readdir,
};

static int usage(void)
{
    fprintf(stderr, "usage: ceiling MOUNTPOINT -n FILES -s SIZE[,SIZE...] [-D] [-t THREADS] "
                    "[-r READAHEAD_KB] [-f]\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
    struct fuse_session *se;
    struct fuse_loop_config *cfg;
    const char *mnt = NULL;
    size_t max = 0;
    int threads = 16, foreground = 0, readahead_kb = -1, rc;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "-n") && a + 1 < argc) {
            g_files = strtoull(argv[++a], NULL, 10);
        } else if (!strcmp(argv[a], "-s") && a + 1 < argc) {
            char *p = argv[++a];
            while (*p && g_nsizes < MAX_SIZES) {
                g_sizes[g_nsizes++] = strtoull(p, &p, 10);
                if (*p == ',')
                    p++;
            }
        } else if (!strcmp(argv[a], "-D")) {
            g_direct_io = 1;
        } else if (!strcmp(argv[a], "-t") && a + 1 < argc) {
            threads = atoi(argv[++a]);
        } else if (!strcmp(argv[a], "-r") && a + 1 < argc) {
            readahead_kb = atoi(argv[++a]);
        } else if (!strcmp(argv[a], "-f")) {
            foreground = 1;
        } else if (argv[a][0] != '-' && !mnt) {
            mnt = argv[a];
        } else {
            return usage();
        }
    }
    if (!mnt || !g_files || !g_nsizes)
        return usage();
    for (int k = 0; k < g_nsizes; k++)
        max = g_sizes[k] > max ? g_sizes[k] : max;
    g_buf = malloc(max ? max : 1);
    if (!g_buf)
        return 1;
    for (size_t i = 0; i < max; i++) /* touched: serving never faults */
        g_buf[i] = (char)(i * 131u >> 7);
    if (fuse_opt_add_arg(&args, "ceiling") || fuse_opt_add_arg(&args, "-o") ||
        fuse_opt_add_arg(&args, "ro,nosuid,nodev,fsname=ceiling,subtype=ceiling"))
        return 1;
    se = fuse_session_new(&args, &ops, sizeof ops, NULL);
    if (!se || fuse_set_signal_handlers(se) || fuse_session_mount(se, mnt)) {
        fprintf(stderr, "ceiling: cannot mount on %s\n", mnt);
        return 1;
    }
    pf_tune_prepare(&g_tune, mnt, readahead_kb);
    if (fuse_daemonize(foreground))
        return 1;
    cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(cfg, (unsigned)threads);
    fuse_loop_cfg_set_clone_fd(cfg, 0);
    rc = fuse_session_loop_mt(se, cfg) < 0;
    fuse_loop_cfg_destroy(cfg);
    fuse_session_unmount(se);
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    fuse_opt_free_args(&args);
    free(g_buf);
    return rc;
}
