/* counters.c - the mount's live counters (see counters.h). */
#include "counters.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t pf_now_us(int clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void pf_counters_init(pf_counters *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    c->mounted_at_ms = pf_now_us(CLOCK_REALTIME) / 1000;
}

void pf_counters_destroy(pf_counters *c)
{
    pthread_mutex_destroy(&c->lock);
}

static void add(pf_counters *c, uint64_t *counter, uint64_t v)
{
    pthread_mutex_lock(&c->lock);
    *counter += v;
    pthread_mutex_unlock(&c->lock);
}

void pf_counters_open(pf_counters *c)
{
    add(c, &c->opens, 1);
}

pf_error_kind pf_error_kind_of(int errnum)
{
    switch (errnum) {
    case ENOMEM:
        return PF_ERR_NOMEM;
    case EIO: case ENOENT: case EACCES: case EPERM: case ENOSPC: case EDQUOT: case EROFS:
    case ENXIO: case ENODEV: case ESTALE: case EBADF: case EMFILE: case ENFILE: case ENOTDIR:
        return PF_ERR_IO;
    default:
        return PF_ERR_OTHER;
    }
}

void pf_counters_error(pf_counters *c, int errnum)
{
    pf_error_kind k = pf_error_kind_of(errnum);
    pthread_mutex_lock(&c->lock);
    c->errors++;
    if (k == PF_ERR_IO)
        c->errors_io++;
    else if (k == PF_ERR_NOMEM)
        c->errors_nomem++;
    else
        c->errors_other++;
    pthread_mutex_unlock(&c->lock);
}

void pf_counters_read(pf_counters *c, uint64_t bytes)
{
    pthread_mutex_lock(&c->lock);
    c->reads++;
    c->bytes += bytes;
    pthread_mutex_unlock(&c->lock);
}

void pf_counters_generated(pf_counters *c, uint64_t us)
{
    pthread_mutex_lock(&c->lock);
    c->gen_us[c->gen_count++ % PF_GEN_RING] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    if (us > c->gen_max_us)
        c->gen_max_us = us;
    pthread_mutex_unlock(&c->lock);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Percentiles over the last PF_GEN_RING generations. */
void pf_counters_snapshot(pf_counters *c, pf_status *st)
{
    uint32_t *sorted = malloc(PF_GEN_RING * sizeof *sorted);
    size_t n;
    pthread_mutex_lock(&c->lock);
    st->mounted_at_unix_ms = c->mounted_at_ms;
    st->uptime_ms = pf_now_us(CLOCK_REALTIME) / 1000 - c->mounted_at_ms;
    st->files_opened = c->opens;
    st->bytes_served = c->bytes;
    st->read_requests = c->reads;
    st->errors = c->errors;
    st->errors_io = c->errors_io;
    st->errors_nomem = c->errors_nomem;
    st->errors_other = c->errors_other;
    st->generate_max_us = c->gen_max_us;
    n = c->gen_count < PF_GEN_RING ? (size_t)c->gen_count : PF_GEN_RING;
    if (sorted)
        memcpy(sorted, c->gen_us, n * sizeof *sorted);
    pthread_mutex_unlock(&c->lock);
    if (sorted && n) {
        qsort(sorted, n, sizeof *sorted, cmp_u32);
        st->generate_p50_us = sorted[(n - 1) * 50 / 100];
        st->generate_p90_us = sorted[(n - 1) * 90 / 100];
        st->generate_p99_us = sorted[(n - 1) * 99 / 100];
    }
    free(sorted);
}
