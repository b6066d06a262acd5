/* mapping.c - an entry's mappings (see cache.h): opened and registered with the fault guard,
 * published atomically by a repair and retired until close, released by the one release
 * policy every sampler uses; and the fault guard itself, a SIGBUS handler.
 *
 * Why a handler that maps zero pages and counts the fault, rather than the alternatives:
 *  - pread of every box into a scratch buffer: the augmentation samplers read scattered
 *    corners of a rotated grid, not boxes; copying the grid's bounding box first would cost a
 *    full extra pass over up to (1.4 P)^3 voxels per sample, on the hot path of every read;
 *  - a size check (stat) before each use alone: a file truncated (or a sector failing)
 *    after the check still faults, so it narrows the window without closing it; it is kept
 *    as a complement (pf_case_check_size), for the one partial page a truncation leaves that
 *    reads as zeros without a fault;
 *  - sigsetjmp per read and siglongjmp out of the handler: every reader of mapped data would
 *    need a jump buffer (the sampler's stored locations, a case's preview, the summaries'
 *    location counts, ...) or die, and a jump out of a sampler leaks its scratch buffers.
 * Here the faulting read simply completes on zeros, wherever it is (nothing ever dies of it:
 * a preview or a summary read unguarded may show zeros once); the readers that serve bytes
 * bracket their reads with pf_case_read_begin/_end (three atomic loads per sample, plus the
 * stat: `pfbench gen` unchanged within noise, about 1 us per sample at worst, see
 * docs/performance.md) and fail that read with EIO, and the next use rebuilds the entry
 * (pf_cache_repair). */
#include "cache.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- the registry of mappings the handler may patch ----
 * The handler cannot take a lock, so the registry is lock-free for readers: fixed chunks of
 * slots, allocated on demand and never freed (reachable from g_chunks), each slot published
 * by its `live` field. Writers (map, close) serialise on g_lock. */
#define SLOTS 1024
#define CHUNKS 4096 /* up to 4 Mi mappings at once */

typedef struct guard_slot {
    _Atomic int live;              /* 0 free, 1 live */
    _Atomic uintptr_t lo, hi;      /* [lo, hi): the mapping, hi rounded up to a page */
    _Atomic unsigned *_Atomic faults; /* its case's fault count */
} guard_slot;

static guard_slot *_Atomic g_chunks[CHUNKS];
static _Atomic int g_n_chunks;
static int g_hint;                 /* the lowest slot that may be free (under g_lock) */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static struct sigaction g_prev;    /* the handler before ours (a sanitizer's, or default) */
static _Atomic uintptr_t g_page;   /* set before the handler is installed */
static int g_installed;
static _Atomic unsigned g_faults;  /* every fault counted on any case */

static guard_slot *slot_at(int i)
{
    return &atomic_load_explicit(&g_chunks[i / SLOTS], memory_order_acquire)[i % SLOTS];
}

static void pass_on(int sig, siginfo_t *si, void *uc)
{
    if (g_prev.sa_flags & SA_SIGINFO) {
        if (g_prev.sa_sigaction) {
            g_prev.sa_sigaction(sig, si, uc);
            return;
        }
    } else if (g_prev.sa_handler != SIG_DFL && g_prev.sa_handler != SIG_IGN) {
        g_prev.sa_handler(sig);
        return;
    }
    /* default action: restored, and a fault re-executes the access and takes it; a SIGBUS
     * sent by kill(2) is raised again (pending until this handler returns) */
    signal(sig, SIG_DFL);
    if (si->si_code <= 0)
        raise(sig);
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    const uintptr_t a = (uintptr_t)si->si_addr;
    const int n = atomic_load_explicit(&g_n_chunks, memory_order_acquire);
    if (si->si_code > 0) /* raised by the kernel for an access, not sent */
        for (int i = 0; i < n * SLOTS; i++) {
            guard_slot *s = slot_at(i);
            uintptr_t lo, hi, at;
            if (!atomic_load_explicit(&s->live, memory_order_acquire))
                continue;
            lo = atomic_load_explicit(&s->lo, memory_order_relaxed);
            hi = atomic_load_explicit(&s->hi, memory_order_relaxed);
            if (a < lo || a >= hi)
                continue;
            /* counted first: a reader that meets a zero page below has its fault counted */
            atomic_fetch_add_explicit(atomic_load_explicit(&s->faults, memory_order_relaxed), 1,
                                      memory_order_seq_cst);
            atomic_fetch_add_explicit(&g_faults, 1, memory_order_seq_cst);
            at = a & ~(atomic_load_explicit(&g_page, memory_order_relaxed) - 1);
            /* the raw system call: no library state in a signal handler */
            if ((long)syscall(SYS_mmap, (void *)at, (size_t)(hi - at), PROT_READ,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == (long)at)
                return; /* the access is retried and reads zeros */
            break;
        }
    pass_on(sig, si, uc);
}

static void install(void)
{
    struct sigaction sa, old;
    atomic_store(&g_page, (uintptr_t)sysconf(_SC_PAGESIZE));
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, &old) != 0)
        return;
    if (!((old.sa_flags & SA_SIGINFO) && old.sa_sigaction == on_sigbus))
        g_prev = old; /* never chain to ourselves */
    g_installed = 1;
}

static void install_once(void)
{
    pthread_mutex_lock(&g_lock);
    install();
    pthread_mutex_unlock(&g_lock);
}

void pf_fault_guard_install(void)
{
    pthread_once(&g_once, install_once);
    install_once();
}

unsigned pf_fault_count(void)
{
    return atomic_load_explicit(&g_faults, memory_order_acquire);
}

/* A slot for [lo, hi) counting faults on *faults; -1 when the registry is full (the mapping
 * is then unguarded, as every mapping was before). */
static int guard_register(uintptr_t lo, uintptr_t hi, _Atomic unsigned *faults)
{
    int i, n;
    pthread_once(&g_once, install_once);
    pthread_mutex_lock(&g_lock);
    if (!g_installed) {
        pthread_mutex_unlock(&g_lock);
        return -1;
    }
    n = atomic_load_explicit(&g_n_chunks, memory_order_relaxed);
    for (i = g_hint; i < n * SLOTS; i++)
        if (!atomic_load_explicit(&slot_at(i)->live, memory_order_relaxed))
            break;
    if (i == n * SLOTS) {
        guard_slot *chunk = n < CHUNKS ? calloc(SLOTS, sizeof *chunk) : NULL;
        if (!chunk) {
            pthread_mutex_unlock(&g_lock);
            return -1;
        }
        atomic_store_explicit(&g_chunks[n], chunk, memory_order_release);
        atomic_store_explicit(&g_n_chunks, n + 1, memory_order_release);
    }
    {
        guard_slot *s = slot_at(i);
        atomic_store_explicit(&s->lo, lo, memory_order_relaxed);
        atomic_store_explicit(&s->hi, hi, memory_order_relaxed);
        atomic_store_explicit(&s->faults, faults, memory_order_relaxed);
        atomic_store_explicit(&s->live, 1, memory_order_release);
    }
    g_hint = i + 1;
    pthread_mutex_unlock(&g_lock);
    return i;
}

static void guard_unregister(int i)
{
    if (i < 0)
        return;
    pthread_mutex_lock(&g_lock);
    atomic_store_explicit(&slot_at(i)->live, 0, memory_order_release);
    if (i < g_hint)
        g_hint = i;
    pthread_mutex_unlock(&g_lock);
}

/* ---- mappings ---- */

pf_case_map *pf_case_map_open(pf_case *c, int fd, pf_error *err)
{
    const pf_case_header *h = &c->hdr;
    const uintptr_t page = (uintptr_t)getpagesize();
    pf_case_map *m = calloc(1, sizeof *m);
    void *p;
    if (!m) {
        pf_fail(err, ENOMEM, "out of memory");
        return NULL;
    }
    p = mmap(NULL, h->file_size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        pf_fail(err, errno, "%s: cannot map: %s", c->path, strerror(errno));
        free(m);
        return NULL;
    }
    m->base = p;
    m->len = h->file_size;
    m->image = (const float *)(m->base + h->image_off);
    if (h->seg_bytes == 1)
        m->seg8 = (const int8_t *)(m->base + h->seg_off);
    else
        m->seg16 = (const int16_t *)(m->base + h->seg_off);
    m->locs = (const int32_t *)(m->base + h->locs_off);
    m->fg = (const float *)(m->base + h->fg_off);
    m->slot = guard_register((uintptr_t)p, ((uintptr_t)p + m->len + page - 1) & ~(page - 1),
                             &c->faults);
    return m;
}

void pf_case_publish(pf_case *c, pf_case_map *m, unsigned seen)
{
    /* the only writer is the case's opener or its repair (under c->lock) */
    m->older = atomic_load_explicit(&c->map, memory_order_relaxed);
    atomic_store_explicit(&c->locs, m->locs, memory_order_release);
    atomic_store_explicit(&c->map, m, memory_order_release);
    /* last: a reader that sees the fault covered sees the new mapping (pf_case_read_begin) */
    atomic_store_explicit(&c->faults_seen, seen, memory_order_release);
}

void pf_case_map_close(pf_case_map *m)
{
    while (m) {
        pf_case_map *older = m->older;
        guard_unregister(m->slot);
        if (m->base)
            munmap((void *)m->base, m->len);
        free(m);
        m = older;
    }
}

int pf_case_check_size(pf_case *c)
{
    struct stat sb;
    if (stat(c->path, &sb) != 0 || (uint64_t)sb.st_size >= c->hdr.file_size)
        return 0;
    atomic_fetch_add_explicit(&c->faults, 1, memory_order_seq_cst);
    atomic_fetch_add_explicit(&g_faults, 1, memory_order_seq_cst);
    return -1;
}

/* ---- the release policy ---- */

/* A page fault on a file mapping also maps the neighbouring pages the page cache holds, in
 * the aligned block of fault_around_bytes (64 KiB by default) around it: a range released
 * to page granularity would leave those behind at both ends, and they add up over a long
 * mount (RssFile of genx4 after 200 steps: 54 MiB). So ranges are widened to that block. */
#define FAULT_AROUND ((uintptr_t)64 * 1024)

static _Atomic size_t g_released; /* bytes handed back by release_range */

size_t pf_case_released_bytes(void)
{
    return atomic_load_explicit(&g_released, memory_order_relaxed);
}

static void release_range(const pf_case_map *m, const char *from, const char *to)
{
    const uintptr_t page = (uintptr_t)getpagesize();
    const uintptr_t a = FAULT_AROUND > page ? FAULT_AROUND : page;
    uintptr_t lo = (uintptr_t)from & ~(a - 1), hi = ((uintptr_t)to + a - 1) & ~(a - 1);
    const uintptr_t mlo = (uintptr_t)m->base, mhi = mlo + m->len;
    if (lo < mlo)
        lo = mlo;
    if (hi > mhi)
        hi = mhi;
    if (hi > lo && madvise((void *)lo, hi - lo, MADV_DONTNEED) == 0)
        atomic_fetch_add_explicit(&g_released, hi - lo, memory_order_relaxed);
}

static _Atomic size_t g_keep_budget, g_kept;

void pf_case_keep_budget(size_t bytes)
{
    atomic_store_explicit(&g_keep_budget, bytes, memory_order_relaxed);
}

size_t pf_case_kept_bytes(void)
{
    return atomic_load_explicit(&g_kept, memory_order_relaxed);
}

/* The first release of a case decides whether it is kept: its entry's bytes are admitted
 * against the budget (one compare-and-swap), then its decision is published. */
static int keep_decision(const pf_case *cc, const pf_case_map *m)
{
    pf_case *c = (pf_case *)cc; /* the decision is the one field a reader writes */
    int st = atomic_load_explicit(&c->keep, memory_order_acquire), expect = 0;
    size_t kept, budget;
    if (st)
        return st;
    budget = atomic_load_explicit(&g_keep_budget, memory_order_relaxed);
    kept = atomic_load_explicit(&g_kept, memory_order_relaxed);
    st = -1;
    while (kept + m->len <= budget && kept + m->len >= kept) {
        if (atomic_compare_exchange_weak_explicit(&g_kept, &kept, kept + m->len,
                                                  memory_order_relaxed, memory_order_relaxed)) {
            st = 1;
            break;
        }
    }
    if (!atomic_compare_exchange_strong_explicit(&c->keep, &expect, st, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        /* another thread decided first: its decision stands, an admission here is undone */
        if (st > 0)
            atomic_fetch_sub_explicit(&g_kept, m->len, memory_order_relaxed);
        st = expect;
    }
    return st;
}

void pf_case_release(const pf_case *c, const pf_case_map *m, int part, int64_t z0, int64_t z1,
                     int64_t y0, int64_t y1)
{
    const int64_t *S = c->hdr.shape;
    const size_t nvox = (size_t)(S[0] * S[1] * S[2]);
    if (!m->base || keep_decision(c, m) > 0)
        return;
    z0 = z0 < 0 ? 0 : z0;
    y0 = y0 < 0 ? 0 : y0;
    z1 = z1 > S[0] ? S[0] : z1;
    y1 = y1 > S[1] ? S[1] : y1;
    if (z1 <= z0 || y1 <= y0)
        return;
    /* one range per array: from row y0 of plane z0 to the end of row y1 - 1 of plane z1 - 1
     * (the rows between planes are included: they are what the next box most likely needs
     * least, and one madvise is cheaper than many) */
    for (int p = part == PF_PART_ALL ? 0 : part; ; p++) {
        const int seg = part == PF_PART_SEG || (part == PF_PART_ALL && p == (int)c->hdr.n_channels);
        const size_t elem = !seg ? sizeof(float) : m->seg8 ? sizeof(int8_t) : sizeof(int16_t);
        const char *b = !seg    ? (const char *)(m->image + (size_t)p * nvox)
                        : m->seg8 ? (const char *)m->seg8 : (const char *)m->seg16;
        release_range(m, b + (size_t)((z0 * S[1] + y0) * S[2]) * elem,
                      b + (size_t)(((z1 - 1) * S[1] + y1) * S[2]) * elem);
        if (part != PF_PART_ALL || seg)
            break;
    }
}
