/* pfbench.c - timing helpers for `make bench` (tests/bench/bench.py):
 *
 *   pfbench gen DATASET OPTIONS EPOCH FIRST N
 *       generates data.npy and seg.npy of train steps FIRST..FIRST+N-1 of EPOCH to memory, as
 *       `patchfs get` does (pf_produce into a fresh buffer, freed; the one-time digest check
 *       of the cases is done before timing, as a mount does it once), then memcpy's the same
 *       number of bytes (same file sizes, between two pre-touched buffers). Prints
 *       "gen_s=... memcpy_s=... bytes=...". PFBENCH_KEEP=BYTES sets the page policy's budget
 *       (cases kept mapped, as a mount's share of mem=; default 0: every case releases).
 *   pfbench read [-b BLOCK] FILE...
 *       reads each file to its end with read() calls of BLOCK bytes (default: the whole file
 *       in one call, as np.load does) into a pre-touched buffer; prints "read_s=... bytes=...".
 *   pfbench memcpy BYTES
 *       one memcpy of BYTES between pre-touched buffers; prints "memcpy_s=...".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "options.h"
#include "context_i.h"
#include "patchfs/files.h"
#include "patchfs/tree.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *touched(size_t n)
{
    char *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "pfbench: out of memory\n");
        exit(1);
    }
    memset(p, 1, n);
    return p;
}

static int cmd_gen(int argc, char **argv)
{
    pf_options o;
    pf_ctx *ctx;
    pf_error err = {0};
    uint32_t epoch, first, n;
    size_t total = 0, sizes[2] = {0, 0};
    double t0, gen_s, memcpy_s;
    char *src, *dst;
    if (argc != 7) {
        fprintf(stderr, "usage: pfbench gen DATASET OPTIONS EPOCH FIRST N\n");
        return 2;
    }
    epoch = (uint32_t)strtoul(argv[4], NULL, 10);
    first = (uint32_t)strtoul(argv[5], NULL, 10);
    n = (uint32_t)strtoul(argv[6], NULL, 10);
    pf_options_init(&o);
    if (getenv("PFBENCH_KEEP"))
        pf_case_keep_budget((size_t)strtoull(getenv("PFBENCH_KEEP"), NULL, 10));
    if (pf_options_parse_list(&o, argv[3], &err) || pf_ctx_open(&ctx, argv[2], &o, 0, NULL, NULL, &err)) {
        fprintf(stderr, "pfbench: %s\n", err.msg);
        return 1;
    }
    pf_options_free(&o);
    /* the one-time digest check of every case (a mount pays it once per case) is not timed */
    for (int i = 0; i < ctx->ds.n_cases; i++)
        if (pf_case_check_bulk(&ctx->cache.cases[i], &err)) {
            fprintf(stderr, "pfbench: %s\n", err.msg);
            return 1;
        }
    t0 = now();
    for (uint32_t s = first; s < first + n; s++)
        for (int f = 0; f < 2; f++) {
            pf_node node = {.kind = PF_NODE_STEP_FILE, .split = 0, .epoch = epoch, .step = s,
                            .slot = (uint32_t)f}; /* data.npy, seg.npy */
            char *buf;
            size_t len;
            if (pf_produce(ctx, &node, &buf, &len, &err)) {
                fprintf(stderr, "pfbench: %s\n", err.msg);
                return 1;
            }
            sizes[f] = len;
            total += len;
            pf_file_release(buf);
        }
    gen_s = now() - t0;
    src = touched(sizes[0]);
    dst = touched(sizes[0]);
    t0 = now();
    for (uint32_t s = 0; s < n; s++)
        for (int f = 0; f < 2; f++) {
            memcpy(dst, src, sizes[f]);
            __asm__ volatile("" : : "r"(dst) : "memory");
        }
    memcpy_s = now() - t0;
    printf("gen_s=%.6f memcpy_s=%.6f bytes=%zu\n", gen_s, memcpy_s, total);
    free(src);
    free(dst);
    pf_ctx_close(ctx);
    return 0;
}

static int cmd_read(int argc, char **argv)
{
    size_t block = 0, cap = 0, total = 0;
    char *buf = NULL;
    double t0, elapsed = 0;
    int a = 2;
    if (a + 1 < argc && !strcmp(argv[a], "-b")) {
        block = strtoull(argv[a + 1], NULL, 10);
        a += 2;
    }
    for (; a < argc; a++) {
        struct stat st;
        size_t want, got = 0;
        int fd;
        t0 = now();
        fd = open(argv[a], O_RDONLY);
        if (fd < 0 || fstat(fd, &st) != 0) {
            fprintf(stderr, "pfbench: %s: %s\n", argv[a], strerror(errno));
            return 1;
        }
        want = block ? block : (size_t)st.st_size;
        if (want > cap) {
            /* growing the buffer (and touching it) is not timed */
            double t1 = now();
            pf_file_release(buf);
            buf = touched(want);
            cap = want;
            t0 += now() - t1;
        }
        for (;;) {
            ssize_t k = read(fd, buf, want);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0) {
                fprintf(stderr, "pfbench: %s: %s\n", argv[a], strerror(errno));
                return 1;
            }
            if (k == 0)
                break;
            got += (size_t)k;
        }
        close(fd);
        elapsed += now() - t0;
        if (got != (size_t)st.st_size) {
            fprintf(stderr, "pfbench: %s: read %zu of %lld bytes\n", argv[a], got,
                    (long long)st.st_size);
            return 1;
        }
        total += got;
    }
    printf("read_s=%.6f bytes=%zu\n", elapsed, total);
    pf_file_release(buf);
    return 0;
}

static int cmd_memcpy(int argc, char **argv)
{
    size_t n;
    char *src, *dst;
    double t0;
    if (argc != 3)
        return 2;
    n = strtoull(argv[2], NULL, 10);
    src = touched(n);
    dst = touched(n);
    t0 = now();
    memcpy(dst, src, n);
    __asm__ volatile("" : : "r"(dst) : "memory");
    printf("memcpy_s=%.6f\n", now() - t0);
    free(src);
    free(dst);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "gen"))
        return cmd_gen(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "read"))
        return cmd_read(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "memcpy"))
        return cmd_memcpy(argc, argv);
    fprintf(stderr, "usage: pfbench gen|read|memcpy ...\n");
    return 2;
}
