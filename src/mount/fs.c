/* fs.c - FUSE low-level operations for patchfs (see fs.h).
 *
 * Inode numbers are computed from tree nodes (tree.c), so lookup and getattr are arithmetic
 * and never generate pixel data. A file is generated on its first READ (memcache.c dedupes
 * concurrent readers), kept while open, and read from memory; open only records the node, so
 * reopening a file whose pages the kernel still caches (keep_cache) generates nothing even
 * after the memory cache dropped it. With prefetch=N, opening a step's array queues the next
 * steps' arrays for worker threads (prefetch.c). Content never changes for a path within a
 * mount, hence long entry/attr timeouts and keep_cache. Transport tuning: fstune.c.
 * Every error answered to a reader is logged (log.c) with the file's path in the tree, and
 * counted by kind in status.json. */
#define FUSE_USE_VERSION 312

#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "bufpool.h"
#include "counters.h"
#include "fstune.h"
#include "log.h"
#include "making.h"
#include "membudget.h"
#include "memcache.h"
#include "mountpoint.h"
#include "prefetch.h"
#include "readonly.h"
#include "workers.h"
#include "patchfs/files.h"

#define PF_TIMEOUT 86400.0

typedef struct pf_fs {
    pf_ctx *ctx;
    const pf_tree *tree;
    const pf_options *opt;
    pf_memcache *mc;
    pf_prefetch *pre;  /* NULL without prefetch= */
    int prefetch_depth;
    pf_tune tune;
    pf_counters counters; /* status.json */
    pf_maker maker;       /* making files into mc */
} pf_fs;

/* A snapshot of the mount's counters and its memory cache, for status.json. */
static void fill_status(pf_fs *fs, pf_status *st)
{
    size_t bytes;
    pf_counters_snapshot(&fs->counters, st);
    pf_memcache_stats(fs->mc, &st->files_generated, &st->cache_hits, &bytes);
    st->memory_cache_bytes = bytes;
}

static pf_fs *fs_of(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

/* A node's path in the tree ("train/epoch_0/step_3/data.npy"), for messages. */
static void node_path(pf_fs *fs, const pf_node *n, char *buf, size_t cap)
{
    pf_node chain[8];
    int depth = 0;
    size_t k = 0;
    for (pf_node p = *n; p.kind != PF_NODE_ROOT && depth < 8; p = pf_node_parent(&p))
        chain[depth++] = p;
    buf[0] = '\0';
    if (!depth)
        snprintf(buf, cap, "/");
    while (depth-- > 0 && k < cap) {
        char name[300];
        pf_node_name(fs->tree, &chain[depth], name, sizeof name);
        k += (size_t)snprintf(buf + k, cap - k, "%s%s", name, depth ? "/" : "");
    }
}

/* An error answered to a reader: logged with the node's path (the core's message names the
 * case or file behind it), counted by kind; returns the errno to answer. */
static int failed(pf_fs *fs, const pf_node *n, const char *what, int errnum, const char *msg)
{
    char path[1024];
    if (!errnum)
        errnum = EIO;
    node_path(fs, n, path, sizeof path);
    pf_log(LOG_ERR, "%s: %s: %s", path, what, msg);
    pf_counters_error(&fs->counters, errnum);
    return errnum;
}

static int fill_stat(pf_fs *fs, const pf_node *n, struct stat *st)
{
    pf_error err = {0};
    memset(st, 0, sizeof *st);
    st->st_ino = pf_node_ino(n);
    st->st_uid = getuid();
    st->st_gid = getgid();
    /* constant times: a path's content never changes, whatever the mount */
    if (pf_node_is_dir(n)) {
        st->st_mode = S_IFDIR | 0555;
        st->st_nlink = 2;
        return 0;
    }
    st->st_mode = S_IFREG | 0444;
    st->st_nlink = 1;
    if (pf_file_size(fs->ctx, n, (uint64_t *)&st->st_size, &err) != 0)
        return -failed(fs, n, "size", err.errnum, err.msg);
    st->st_blksize = 1 << 20;
    st->st_blocks = (st->st_size + 511) / 512;
    return 0;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    pf_fs *fs = fs_of(req);
    struct fuse_entry_param e;
    pf_node dir, child;
    int rc;
    pf_tune_once(&fs->tune);
    memset(&e, 0, sizeof e);
    e.attr_timeout = e.entry_timeout = PF_TIMEOUT;
    if (pf_node_from_ino(fs->tree, parent, &dir) != 0 || !pf_node_is_dir(&dir)) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    if (pf_tree_lookup(fs->tree, &dir, name, &child) != 0) {
        fuse_reply_entry(req, &e); /* ino 0: a cached negative entry */
        return;
    }
    if ((rc = fill_stat(fs, &child, &e.attr)) != 0) {
        fuse_reply_err(req, -rc);
        return;
    }
    e.ino = e.attr.st_ino;
    fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    pf_fs *fs = fs_of(req);
    struct stat st;
    pf_node n;
    int rc;
    (void)fi;
    pf_tune_once(&fs->tune);
    if (pf_node_from_ino(fs->tree, ino, &n) != 0) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    if ((rc = fill_stat(fs, &n, &st)) != 0) {
        fuse_reply_err(req, -rc);
        return;
    }
    fuse_reply_attr(req, &st, PF_TIMEOUT);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    pf_fs *fs = fs_of(req);
    pf_node dir;
    char *buf;
    size_t used = 0;
    uint64_t count;
    (void)fi;
    if (pf_node_from_ino(fs->tree, ino, &dir) != 0 || !pf_node_is_dir(&dir)) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    buf = malloc(size);
    if (!buf) {
        fuse_reply_err(req, failed(fs, &dir, "listing", ENOMEM, "out of memory"));
        return;
    }
    count = pf_tree_child_count(fs->tree, &dir);
    /* offsets: 0 -> ".", 1 -> "..", 2 + i -> child i; each entry carries the next offset */
    for (uint64_t k = (uint64_t)off; k < count + 2; k++) {
        struct stat st;
        char name[300];
        pf_node n;
        size_t need;
        memset(&st, 0, sizeof st);
        if (k == 0) {
            n = dir;
            snprintf(name, sizeof name, ".");
        } else if (k == 1) {
            n = pf_node_parent(&dir);
            snprintf(name, sizeof name, "..");
        } else {
            pf_tree_child_at(fs->tree, &dir, k - 2, &n);
            pf_node_name(fs->tree, &n, name, sizeof name);
        }
        st.st_ino = pf_node_ino(&n);
        st.st_mode = pf_node_is_dir(&n) ? S_IFDIR : S_IFREG;
        need = fuse_add_direntry(req, buf + used, size - used, name, &st, (off_t)(k + 1));
        if (need > size - used)
            break;
        used += need;
    }
    fuse_reply_buf(req, buf, used);
    free(buf);
}

/* What an open file's fh points to. The buffer is taken from the memory cache on the first
 * READ (status.json: made at open, private). */
typedef struct pf_open {
    pf_node node;
    uint64_t ino;
    int status;           /* status.json: buf is private, freed on release */
    pthread_mutex_t lock;
    pf_buf *buf;          /* NULL until the first READ */
    pf_buf own;           /* status.json's bytes */
} pf_open;

static pf_open *open_new(const pf_node *n)
{
    pf_open *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->node = *n;
    h->ino = pf_node_ino(n);
    pthread_mutex_init(&h->lock, NULL);
    return h;
}

static void open_free(pf_fs *fs, pf_open *h)
{
    if (h->status)
        free(h->own.data);
    else if (h->buf)
        pf_memcache_release(fs->mc, h->buf);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

/* Worker side of prefetch=N: make the file into the memory cache unless it is there. */
static void prefetch_one(void *arg, const pf_node *n)
{
    pf_fs *fs = arg;
    pf_error err = {0};
    pf_buf *b;
    if (pf_memcache_peek(fs->mc, pf_node_ino(n)))
        return;
    if ((b = pf_make_cached(&fs->maker, n, &err)))
        pf_memcache_release(fs->mc, b);
    /* a failure is reported when a reader reads the file */
}

static void prefetch_after(pf_fs *fs, const pf_node *opened)
{
    pf_node plan[2 * 64 + 1];
    int n;
    if (!fs->pre)
        return;
    n = pf_prefetch_plan(fs->tree, opened, fs->prefetch_depth, plan);
    for (int i = 0; i < n; i++)
        if (!pf_memcache_peek(fs->mc, pf_node_ino(&plan[i])))
            pf_prefetch_push(fs->pre, &plan[i]);
}

/* status.json changes with every read: made from the counters per open, never cached (its
 * size is constant, see pf_status_json). */
static void open_status(fuse_req_t req, pf_fs *fs, const pf_node *n, struct fuse_file_info *fi)
{
    pf_status st;
    pf_open *h = open_new(n);
    memset(&st, 0, sizeof st);
    fill_status(fs, &st);
    if (!h || !(h->own.data = pf_status_json(&st))) {
        if (h)
            open_free(fs, h);
        fuse_reply_err(req, failed(fs, n, "open", ENOMEM, "out of memory"));
        return;
    }
    h->own.len = strlen(h->own.data);
    h->status = 1;
    h->buf = &h->own;
    fi->fh = (uint64_t)(uintptr_t)h;
    fi->direct_io = 1;
    fi->keep_cache = 0;
    fi->noflush = 1;
    pf_counters_open(&fs->counters);
    if (fuse_reply_open(req, fi) != 0)
        open_free(fs, h);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    pf_fs *fs = fs_of(req);
    pf_node node;
    pf_open *h;
    pf_tune_once(&fs->tune);
    if (pf_node_from_ino(fs->tree, ino, &node) != 0) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    if (pf_node_is_dir(&node)) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
        fuse_reply_err(req, EROFS);
        return;
    }
    if (pf_file_flags(pf_node_file(&node)) & PF_FILE_LIVE) {
        open_status(req, fs, &node, fi);
        return;
    }
    h = open_new(&node);
    if (!h) {
        fuse_reply_err(req, failed(fs, &node, "open", ENOMEM, "out of memory"));
        return;
    }
    pf_counters_open(&fs->counters);
    fi->fh = (uint64_t)(uintptr_t)h;
    fi->keep_cache = 1;
    fi->noflush = 1;
    /* direct_io= for every open, or per open: a reader that opened with O_DIRECT copies
     * straight from the generated buffer into its own (no page-cache insertion, no second
     * copy out of it), while mmap readers and other opens keep the page cache */
    fi->direct_io = fs->opt->direct_io || (fi->flags & O_DIRECT) ? 1 : 0;
    if (fuse_reply_open(req, fi) != 0) {
        open_free(fs, h); /* the open was interrupted */
        return;
    }
    prefetch_after(fs, &node);
}

/* The open file's bytes, generated (or found in the memory cache) on first use. */
static pf_buf *open_buffer(pf_fs *fs, pf_open *h, pf_error *err)
{
    pf_buf *b = __atomic_load_n(&h->buf, __ATOMIC_ACQUIRE);
    if (b)
        return b;
    pthread_mutex_lock(&h->lock);
    if (!(b = h->buf)) {
        b = pf_make_cached(&fs->maker, &h->node, err);
        if (b)
            __atomic_store_n(&h->buf, b, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&h->lock);
    return b;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    pf_open *h = (pf_open *)(uintptr_t)fi->fh;
    pf_fs *fs = fs_of(req);
    pf_error err = {0};
    pf_buf *b = open_buffer(fs, h, &err);
    (void)ino;
    if (!b) {
        /* not remembered: the next read makes the file again (the memory cache keeps no
         * failure), so a cause that goes away (a cache entry back in place) heals. The log
         * and status.json keep the core's errno; the reader of an open file gets EIO (an
         * ENOENT about a cache entry would read as "no such file" for the file itself) */
        int errnum = failed(fs, &h->node, "read", err.errnum, err.msg);
        fuse_reply_err(req, errnum == ENOMEM ? ENOMEM : EIO);
        return;
    }
    if (off < 0 || (size_t)off >= b->len)
        size = 0;
    else if (size > b->len - (size_t)off)
        size = b->len - (size_t)off;
    pf_counters_read(&fs->counters, size);
    /* The reader can wake, close and release the file as soon as the kernel has copied the
     * reply, while this thread is still returning from writev: hold the buffer until then
     * (status.json's private buffer is freed only by its own release). */
    if (h->status) {
        /* status.json's buffer belongs to the handle, which its release frees: reply from a
         * copy (the file is small) */
        char copy[4096];
        if (size > sizeof copy)
            size = sizeof copy;
        memcpy(copy, b->data + (size ? off : 0), size);
        fuse_reply_buf(req, size ? copy : NULL, size);
        return;
    }
    pf_memcache_ref(fs->mc, b); /* h may be freed once the reply is sent; b stays until then */
    fuse_reply_buf(req, size ? b->data + off : NULL, size);
    pf_memcache_release(fs->mc, b);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    open_free(fs_of(req), (pf_open *)(uintptr_t)fi->fh);
    fuse_reply_err(req, 0);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
    pf_fs *fs = userdata;
    pf_tune_init(&fs->tune, conn);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
    struct statvfs sv;
    (void)ino;
    memset(&sv, 0, sizeof sv);
    sv.f_bsize = sv.f_frsize = 4096;
    sv.f_namemax = 255;
    sv.f_flag = ST_RDONLY | ST_NOSUID;
    fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops pf_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .getattr = op_getattr,
    .readdir = op_readdir,
    .open = op_open,
    .read = op_read,
    .release = op_release,
    .statfs = op_statfs,
    .setattr = pf_op_setattr,
    .mknod = pf_op_mknod,
    .mkdir = pf_op_mkdir,
    .unlink = pf_op_unlink,
    .rmdir = pf_op_unlink,
    .symlink = pf_op_symlink,
    .rename = pf_op_rename,
    .link = pf_op_link,
    .create = pf_op_create,
    .write = pf_op_write,
    .setxattr = pf_op_setxattr,
    .removexattr = pf_op_removexattr,
};

/* SIGINT, SIGTERM and SIGHUP unmount and end the daemon, whatever it inherited: libfuse's
 * fuse_set_signal_handlers installs its handler only over SIG_DFL, and a daemon started with
 * them ignored (`&` in a non-interactive shell, trap '' INT, nohup) or blocked would never
 * leave on them but by SIGKILL, its mount left dead. So they are set back to the default and
 * unblocked here, before libfuse's handlers are installed (and before anything is mounted:
 * until then the default action loses nothing). One exception: an ignored SIGHUP in the
 * foreground stays ignored - that is nohup's meaning, to outlive the terminal's hangup; a
 * daemonized mount has no terminal, so a SIGHUP it gets was sent on purpose. */
static void own_exit_signals(int foreground)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old;
        if (sigs[i] == SIGHUP && foreground)
            continue;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) {
            struct sigaction dfl;
            memset(&dfl, 0, sizeof dfl);
            dfl.sa_handler = SIG_DFL;
            sigemptyset(&dfl.sa_mask);
            sigaction(sigs[i], &dfl, NULL);
        }
        sigaddset(&set, sigs[i]);
    }
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

int pf_fs_serve(pf_ctx *ctx, const char *mountpoint)
{
    struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
    struct fuse_session *se = NULL;
    struct fuse_loop_config *cfg = NULL;
    pf_fs fs = {.ctx = ctx, .tree = pf_ctx_tree(ctx), .opt = pf_ctx_options(ctx)};
    const pf_options *opt = fs.opt;
    const char *name = pf_ctx_dataset_name(ctx);
    pf_error err = {0};
    pf_mem_split split;
    char mopts[512];
    long mount_id = -1;
    int rc = 1, loop;

    /* Generated files are megabytes: with glibc's adaptive threshold they would come from
     * per-thread arenas, which keep freed memory resident; a fixed threshold maps every large
     * buffer on its own and returns it on free, so the memory held is what the memory cache
     * counts (the mem= budget). */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    /* mem= shared by recycled buffers, cases kept mapped and the memory cache (membudget.c) */
    pf_counters_init(&fs.counters);
    split = pf_mem_split_apply(ctx, opt->mem_bytes);
    fs.mc = pf_memcache_new(split.files);
    fs.maker = (pf_maker){.ctx = ctx, .mc = fs.mc, .counters = &fs.counters};
    if (!fs.mc) {
        pf_log(LOG_ERR, "out of memory");
        pf_counters_destroy(&fs.counters);
        return 1;
    }

    snprintf(mopts, sizeof mopts, "ro,nosuid,nodev,fsname=patchfs:%s,subtype=patchfs%s",
             name, opt->allow_other ? ",allow_other,default_permissions" : "");
    if (fuse_opt_add_arg(&args, "patchfs") || fuse_opt_add_arg(&args, "-o") ||
        fuse_opt_add_arg(&args, mopts) || (opt->debug && fuse_opt_add_arg(&args, "-d"))) {
        pf_log(LOG_ERR, "out of memory");
        goto out;
    }
    se = fuse_session_new(&args, &pf_ops, sizeof pf_ops, &fs);
    if (!se) {
        pf_log(LOG_ERR, "cannot start a FUSE session");
        goto out;
    }
    own_exit_signals(opt->foreground);
    if (fuse_set_signal_handlers(se) != 0) {
        pf_log(LOG_ERR, "cannot install signal handlers");
        goto out_session;
    }
    /* again, just before mounting: the cache build may have taken minutes */
    if (pf_mountpoint_free(mountpoint, mountpoint, &err) != 0) {
        pf_log(LOG_ERR, "%s", err.msg);
        goto out_signals;
    }
    if (fuse_session_mount(se, mountpoint) != 0) {
        pf_log(LOG_ERR, "cannot mount on %s (is /dev/fuse usable, and is the mountpoint an "
               "existing folder that is not already mounted?)", mountpoint);
        goto out_signals;
    }
    if (pf_mount_ours(mountpoint, &mount_id) != 0) {
        pf_log(LOG_ERR, "%s: another patchfs mount started on it meanwhile; leaving it",
               mountpoint);
        goto out_unmount;
    }
    pf_tune_prepare(&fs.tune, mountpoint, -1);
    if (!opt->foreground)
        fprintf(stderr, "patchfs: %s mounted on %s\n", name, mountpoint);
    /* the mount is ready: only now does the parent return to the shell. fork keeps only this
     * thread: the worker pool (which built the cache) stops first and restarts on next use */
    pf_workers_stop();
    if (fuse_daemonize(opt->foreground) != 0) {
        pf_log(LOG_ERR, "cannot daemonize");
        goto out_unmount;
    }
    if (!opt->foreground)
        pf_log_daemonized(); /* stderr is /dev/null from here on */
    pf_log(LOG_NOTICE, "%s mounted on %s (pid %ld)", name, mountpoint, (long)getpid());
    pf_log(LOG_INFO, "mem=%zu MiB: %zu MiB recycled buffers, %zu MiB of cases kept mapped (of "
           "%zu MiB), %zu MiB generated files", opt->mem_bytes >> 20, split.pool >> 20,
           split.keep >> 20, split.cases >> 20, split.files >> 20);
    if (opt->prefetch > 0) {
        int depth = opt->prefetch > 64 ? 64 : opt->prefetch;
        int cores = pf_usable_cores();
        fs.prefetch_depth = depth;
        fs.pre = pf_prefetch_new(cores < 2 * depth ? cores : 2 * depth, 8 * depth + 8,
                                 prefetch_one, &fs);
        if (!fs.pre)
            pf_log(LOG_WARNING, "cannot start prefetching; serving without");
    }
    cfg = fuse_loop_cfg_create();
    if (!cfg) {
        pf_log(LOG_ERR, "out of memory");
        goto out_unmount;
    }
    fuse_loop_cfg_set_max_threads(cfg, (unsigned)(opt->threads > 0 ? opt->threads : 16));
    fuse_loop_cfg_set_clone_fd(cfg, 0);
    /* the loop returns the signal number after SIGINT/SIGTERM/SIGHUP: a clean exit */
    loop = fuse_session_loop_mt(se, cfg);
    if (loop < 0)
        pf_log(LOG_ERR, "serving %s stopped: %s", mountpoint, strerror(-loop));
    else if (loop > 0)
        pf_log(LOG_NOTICE, "signal %d: unmounting %s", loop, mountpoint);
    rc = loop < 0 ? 1 : 0;
    fuse_loop_cfg_destroy(cfg);
out_unmount:
    fuse_session_unmount(se);
    /* libfuse reports a failed unmount only in its log: a mount left behind is an error */
    if (mount_id >= 0 && pf_mount_id_present(mount_id) == 1) {
        pf_log(LOG_ERR, "%s: still mounted after unmounting; clear it with: fusermount3 -uz %s",
               mountpoint, mountpoint);
        rc = 1;
    } else if (mount_id >= 0 && rc == 0) {
        pf_log(LOG_NOTICE, "%s unmounted", mountpoint);
    }
out_signals:
    fuse_remove_signal_handlers(se);
out_session:
    fuse_session_destroy(se);
out:
    fuse_opt_free_args(&args);
    pf_prefetch_free(fs.pre);
    pf_memcache_free(fs.mc);
    pf_counters_destroy(&fs.counters);
    return rc;
}
