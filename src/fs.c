/* fs.c - FUSE low-level operations for patchfs (see fs.h).
 *
 * Inode numbers are computed from tree nodes (tree.c), so lookup and getattr are arithmetic
 * and never generate pixel data. A file is generated once on open (memcache.c dedupes
 * concurrent openers), kept while open, and read from memory. Content never changes for a
 * path within a mount, hence long entry/attr timeouts and keep_cache. */
#define FUSE_USE_VERSION 312

#include "patchfs/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "patchfs/memcache.h"

#define PF_TIMEOUT 86400.0
#define GEN_RING 8192 /* generation times kept for status.json percentiles */

typedef struct pf_fs {
    pf_ctx *ctx;
    pf_memcache *mc;
    uint64_t mounted_at_ms;
    /* counters for status.json */
    pthread_mutex_t lock;
    uint64_t opens, bytes, reads, errors, gen_count, gen_max_us;
    uint32_t gen_us[GEN_RING];
} pf_fs;

static uint64_t now_us(int clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void count(pf_fs *fs, uint64_t *counter, uint64_t add)
{
    pthread_mutex_lock(&fs->lock);
    *counter += add;
    pthread_mutex_unlock(&fs->lock);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* pf_status_fn: a snapshot of the counters (percentiles over the last GEN_RING generations). */
static void fill_status(void *arg, pf_status *st)
{
    pf_fs *fs = arg;
    uint32_t *sorted = malloc(GEN_RING * sizeof *sorted);
    size_t n;
    size_t bytes;
    pthread_mutex_lock(&fs->lock);
    st->mounted_at_unix_ms = fs->mounted_at_ms;
    st->uptime_ms = now_us(CLOCK_REALTIME) / 1000 - fs->mounted_at_ms;
    st->files_opened = fs->opens;
    st->bytes_served = fs->bytes;
    st->read_requests = fs->reads;
    st->errors = fs->errors;
    st->generate_max_us = fs->gen_max_us;
    n = fs->gen_count < GEN_RING ? (size_t)fs->gen_count : GEN_RING;
    if (sorted)
        memcpy(sorted, fs->gen_us, n * sizeof *sorted);
    pthread_mutex_unlock(&fs->lock);
    pf_memcache_stats(fs->mc, &st->files_generated, &st->cache_hits, &bytes);
    st->memory_cache_bytes = bytes;
    if (sorted && n) {
        qsort(sorted, n, sizeof *sorted, cmp_u32);
        st->generate_p50_us = sorted[(n - 1) * 50 / 100];
        st->generate_p90_us = sorted[(n - 1) * 90 / 100];
        st->generate_p99_us = sorted[(n - 1) * 99 / 100];
    }
    free(sorted);
}

static pf_fs *fs_of(fuse_req_t req)
{
    return fuse_req_userdata(req);
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
    if (pf_file_size(fs->ctx, n, (uint64_t *)&st->st_size, &err) != 0) {
        fprintf(stderr, "patchfs: %s\n", err.msg);
        count(fs, &fs->errors, 1);
        return -err.errnum;
    }
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
    memset(&e, 0, sizeof e);
    e.attr_timeout = e.entry_timeout = PF_TIMEOUT;
    if (pf_node_from_ino(&fs->ctx->tree, parent, &dir) != 0 || !pf_node_is_dir(&dir)) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    if (pf_tree_lookup(&fs->ctx->tree, &dir, name, &child) != 0) {
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
    if (pf_node_from_ino(&fs->ctx->tree, ino, &n) != 0) {
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
    if (pf_node_from_ino(&fs->ctx->tree, ino, &dir) != 0 || !pf_node_is_dir(&dir)) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    buf = malloc(size);
    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    count = pf_tree_child_count(&fs->ctx->tree, &dir);
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
            pf_tree_child_at(&fs->ctx->tree, &dir, k - 2, &n);
            pf_node_name(&fs->ctx->tree, &n, name, sizeof name);
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

typedef struct gen_arg {
    pf_fs *fs;
    pf_node node;
} gen_arg;

static int generate(void *p, char **data, size_t *len, pf_error *err)
{
    gen_arg *g = p;
    uint64_t t0 = now_us(CLOCK_MONOTONIC), dt;
    int rc = pf_produce(g->fs->ctx, &g->node, data, len, err);
    dt = now_us(CLOCK_MONOTONIC) - t0;
    pthread_mutex_lock(&g->fs->lock);
    g->fs->gen_us[g->fs->gen_count++ % GEN_RING] = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
    if (dt > g->fs->gen_max_us)
        g->fs->gen_max_us = dt;
    pthread_mutex_unlock(&g->fs->lock);
    return rc;
}

/* status.json changes with every read: generated per open, never cached (its size is
 * constant, see produce.c). fh holds a private pf_buf marked by key 0. */
static void open_status(fuse_req_t req, pf_fs *fs, const pf_node *n, struct fuse_file_info *fi)
{
    pf_error err = {0};
    pf_buf *b = calloc(1, sizeof *b);
    if (!b || pf_produce(fs->ctx, n, &b->data, &b->len, &err) != 0) {
        free(b);
        count(fs, &fs->errors, 1);
        fuse_reply_err(req, b ? err.errnum : ENOMEM);
        return;
    }
    fi->fh = (uint64_t)(uintptr_t)b;
    fi->direct_io = 1;
    fi->keep_cache = 0;
    fi->noflush = 1;
    count(fs, &fs->opens, 1);
    if (fuse_reply_open(req, fi) != 0) {
        free(b->data);
        free(b);
    }
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    pf_fs *fs = fs_of(req);
    gen_arg g = {.fs = fs};
    pf_error err = {0};
    pf_buf *b;
    if (pf_node_from_ino(&fs->ctx->tree, ino, &g.node) != 0) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    if (pf_node_is_dir(&g.node)) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
        fuse_reply_err(req, EROFS);
        return;
    }
    if (g.node.kind == PF_NODE_STATUS) {
        open_status(req, fs, &g.node, fi);
        return;
    }
    b = pf_memcache_get(fs->mc, ino, generate, &g, &err);
    if (!b) {
        fprintf(stderr, "patchfs: %s\n", err.msg);
        count(fs, &fs->errors, 1);
        fuse_reply_err(req, err.errnum ? err.errnum : EIO);
        return;
    }
    count(fs, &fs->opens, 1);
    fi->fh = (uint64_t)(uintptr_t)b;
    fi->keep_cache = 1;
    fi->noflush = 1;
    fi->direct_io = fs->ctx->opt.direct_io ? 1 : 0;
    if (fuse_reply_open(req, fi) != 0)
        pf_memcache_release(fs->mc, b); /* the open was interrupted */
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    pf_buf *b = (pf_buf *)(uintptr_t)fi->fh;
    pf_fs *fs = fs_of(req);
    (void)ino;
    if (off < 0 || (size_t)off >= b->len)
        size = 0;
    else if (size > b->len - (size_t)off)
        size = b->len - (size_t)off;
    pthread_mutex_lock(&fs->lock);
    fs->reads++;
    fs->bytes += size;
    pthread_mutex_unlock(&fs->lock);
    fuse_reply_buf(req, size ? b->data + off : NULL, size);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    pf_buf *b = (pf_buf *)(uintptr_t)fi->fh;
    if (ino == pf_node_ino(&(pf_node){.kind = PF_NODE_STATUS})) {
        free(b->data);
        free(b);
    } else {
        pf_memcache_release(fs_of(req)->mc, b);
    }
    fuse_reply_err(req, 0);
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

/* Every write-type operation: the kernel already refuses them on a read-only mount; these
 * keep the answer EROFS even if the mount flags were changed. */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *a, int to_set,
                       struct fuse_file_info *fi)
{
    (void)ino; (void)a; (void)to_set; (void)fi;
    fuse_reply_err(req, EROFS);
}
static void op_mknod(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m, dev_t r)
{
    (void)p; (void)n; (void)m; (void)r;
    fuse_reply_err(req, EROFS);
}
static void op_mkdir(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m)
{
    (void)p; (void)n; (void)m;
    fuse_reply_err(req, EROFS);
}
static void op_unlink(fuse_req_t req, fuse_ino_t p, const char *n)
{
    (void)p; (void)n;
    fuse_reply_err(req, EROFS);
}
static void op_symlink(fuse_req_t req, const char *l, fuse_ino_t p, const char *n)
{
    (void)l; (void)p; (void)n;
    fuse_reply_err(req, EROFS);
}
static void op_rename(fuse_req_t req, fuse_ino_t p, const char *n, fuse_ino_t np,
                      const char *nn, unsigned int f)
{
    (void)p; (void)n; (void)np; (void)nn; (void)f;
    fuse_reply_err(req, EROFS);
}
static void op_link(fuse_req_t req, fuse_ino_t i, fuse_ino_t np, const char *nn)
{
    (void)i; (void)np; (void)nn;
    fuse_reply_err(req, EROFS);
}
static void op_create(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m,
                      struct fuse_file_info *fi)
{
    (void)p; (void)n; (void)m; (void)fi;
    fuse_reply_err(req, EROFS);
}
static void op_write(fuse_req_t req, fuse_ino_t i, const char *b, size_t s, off_t o,
                     struct fuse_file_info *fi)
{
    (void)i; (void)b; (void)s; (void)o; (void)fi;
    fuse_reply_err(req, EROFS);
}
static void op_setxattr(fuse_req_t req, fuse_ino_t i, const char *n, const char *v, size_t s,
                        int f)
{
    (void)i; (void)n; (void)v; (void)s; (void)f;
    fuse_reply_err(req, EROFS);
}
static void op_removexattr(fuse_req_t req, fuse_ino_t i, const char *n)
{
    (void)i; (void)n;
    fuse_reply_err(req, EROFS);
}

static const struct fuse_lowlevel_ops pf_ops = {
    .lookup = op_lookup,
    .getattr = op_getattr,
    .readdir = op_readdir,
    .open = op_open,
    .read = op_read,
    .release = op_release,
    .statfs = op_statfs,
    .setattr = op_setattr,
    .mknod = op_mknod,
    .mkdir = op_mkdir,
    .unlink = op_unlink,
    .rmdir = op_unlink,
    .symlink = op_symlink,
    .rename = op_rename,
    .link = op_link,
    .create = op_create,
    .write = op_write,
    .setxattr = op_setxattr,
    .removexattr = op_removexattr,
};

int pf_fs_serve(pf_ctx *ctx, const char *mountpoint)
{
    struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
    struct fuse_session *se = NULL;
    struct fuse_loop_config *cfg = NULL;
    pf_fs fs = {.ctx = ctx};
    char mopts[512];
    int rc = 1;

    pthread_mutex_init(&fs.lock, NULL);
    fs.mounted_at_ms = now_us(CLOCK_REALTIME) / 1000;
    ctx->status_fn = fill_status;
    ctx->status_arg = &fs;
    fs.mc = pf_memcache_new(ctx->opt.mem_bytes);
    if (!fs.mc) {
        fprintf(stderr, "patchfs: out of memory\n");
        return 1;
    }
    snprintf(mopts, sizeof mopts, "ro,nosuid,nodev,fsname=patchfs:%s,subtype=patchfs%s",
             ctx->ds.name, ctx->opt.allow_other ? ",allow_other,default_permissions" : "");
    if (fuse_opt_add_arg(&args, "patchfs") || fuse_opt_add_arg(&args, "-o") ||
        fuse_opt_add_arg(&args, mopts) || (ctx->opt.debug && fuse_opt_add_arg(&args, "-d"))) {
        fprintf(stderr, "patchfs: out of memory\n");
        goto out;
    }
    se = fuse_session_new(&args, &pf_ops, sizeof pf_ops, &fs);
    if (!se) {
        fprintf(stderr, "patchfs: cannot start a FUSE session\n");
        goto out;
    }
    if (fuse_set_signal_handlers(se) != 0) {
        fprintf(stderr, "patchfs: cannot install signal handlers\n");
        goto out_session;
    }
    if (fuse_session_mount(se, mountpoint) != 0) {
        fprintf(stderr, "patchfs: cannot mount on %s (is /dev/fuse usable, and is the "
                "mountpoint an existing folder that is not already mounted?)\n", mountpoint);
        goto out_signals;
    }
    if (!ctx->opt.foreground)
        fprintf(stderr, "patchfs: %s mounted on %s\n", ctx->ds.name, mountpoint);
    /* the mount is ready: only now does the parent return to the shell */
    if (fuse_daemonize(ctx->opt.foreground) != 0) {
        fprintf(stderr, "patchfs: cannot daemonize\n");
        goto out_unmount;
    }
    cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(cfg, (unsigned)(ctx->opt.threads > 0 ? ctx->opt.threads : 16));
    fuse_loop_cfg_set_clone_fd(cfg, 0);
    /* the loop returns the signal number after SIGINT/SIGTERM/SIGHUP: a clean exit */
    rc = fuse_session_loop_mt(se, cfg) < 0 ? 1 : 0;
    fuse_loop_cfg_destroy(cfg);
out_unmount:
    fuse_session_unmount(se);
out_signals:
    fuse_remove_signal_handlers(se);
out_session:
    fuse_session_destroy(se);
out:
    fuse_opt_free_args(&args);
    ctx->status_fn = NULL;
    pf_memcache_free(fs.mc);
    pthread_mutex_destroy(&fs.lock);
    return rc;
}
