/* restore_stream.c - the export's streaming path (see restore_stream.h): logits resampled
 * plane by plane of the cropped grid and reduced to labels in the same pass. */
#include "restore_stream.h"

#include <errno.h>
#include <pthread.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "simd.h"
#include "to_labels.h"
#include "workers.h"

/* Voxels of the running maximum and winners one unit holds: a slab of output planes big
 * enough that recomputing its first source planes costs little, small enough to stay near
 * the caches and to give the pool several units. */
#define SLAB_VOXELS ((int64_t)1 << 19)

/* An axis's taps: for output sample o, source samples i0[o], i1[o] with weights w0[o], w1[o]
 * (scipy zoom order 1 with grid_mode and mode 'nearest', or nnU-Net's nearest neighbour
 * along a separate z axis: i1 = i0, w1 = 0), computed as src/ingest/resample_axis.c does. */
typedef struct lin_axis {
    int64_t n, m;
    int64_t *i0, *i1;
    double *w0, *w1;
} lin_axis;

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static int axis_init(lin_axis *a, int64_t n, int64_t m, int nearest, pf_error *err)
{
    const double zoom = (double)n / (double)m;
    a->n = n;
    a->m = m;
    a->i0 = malloc((size_t)m * sizeof *a->i0);
    a->i1 = malloc((size_t)m * sizeof *a->i1);
    a->w0 = malloc((size_t)m * sizeof *a->w0);
    a->w1 = malloc((size_t)m * sizeof *a->w1);
    if (!a->i0 || !a->i1 || !a->w0 || !a->w1)
        return pf_fail(err, ENOMEM, "out of memory");
    for (int64_t o = 0; o < m; o++) {
        double cc;
        if (nearest) {
            cc = zoom * ((double)o + 0.5) - 0.5;
            cc += 0.0;
            a->i0[o] = a->i1[o] = clamp64((int64_t)floor(cc + 0.5), 0, n - 1);
            a->w0[o] = 1.0;
            a->w1[o] = 0.0;
        } else {
            /* NI_ZoomShift with grid_mode; the same operations in the same order */
            cc = (double)o;
            cc += 0.5;
            cc *= zoom;
            cc -= 0.5;
            cc += 0.0;
            const int64_t start = (int64_t)floor(cc);
            const double x = cc - floor(cc);
            a->i0[o] = clamp64(start, 0, n - 1);
            a->i1[o] = clamp64(start + 1, 0, n - 1);
            a->w0[o] = 1.0 - x;
            a->w1[o] = 1.0;
            a->w1[o] -= a->w0[o];
        }
    }
    return 0;
}

static void axis_free(lin_axis *a)
{
    free(a->i0);
    free(a->i1);
    free(a->w0);
    free(a->w1);
}

typedef struct stream_job {
    const pf_restore_spec *s;
    const pf_prediction *p;
    lin_axis ax[3];
    int changes[3];
    int sepz;                 /* separate z along axis 0: nearest along it, 2D planes */
    int z_first;              /* 3D: the axis-0 pass before the in-plane passes */
    int half;                 /* float16 prediction: results rounded to float16 */
    int64_t n[3], m[3];       /* served and cropped shapes */
    double *lo, *hi;          /* value range per channel and served plane (n[0] each) */
    double *clo, *chi;        /* value range per channel */
    void *out;
    int out_bytes;
    int64_t ost[3];           /* strides of the served axes in the source array */
    int64_t slab;             /* output planes of one unit */
    const struct stream_kernels *k; /* the arithmetic loops for this CPU */
    pthread_mutex_t lock;     /* guards idle */
    struct unit_buf *idle;    /* scratch of finished units, taken by the next ones */
} stream_job;

/* Scratch of one unit. */
typedef struct unit_buf {
    float *best, *cur, *fplane, *t0, *t1;
    uint16_t *arg;
    double *zp, *mid, *dplane, *cache[2];
    struct unit_buf *next;    /* the job's list of idle scratch */
    int64_t cached[2];        /* the source plane in cache[k], -1: none */
} unit_buf;

/* The arithmetic loops, in a baseline and (x86-64) an AVX2 build: the same bits either way
 * (restore_stream_kernels.h). */
typedef struct stream_kernels {
    void (*pass_x)(const lin_axis *X, const double *r, int64_t rs, int nrows, double *out,
                   int64_t os);
    void (*pass_x_float)(const lin_axis *X, const float *r, int64_t rs, int nrows, double *out,
                         int64_t os);
    void (*pass_y)(const lin_axis *Y, const double *src, int64_t w, double *dst);
    void (*pass_y_clip)(const lin_axis *Y, const double *src, int64_t w, double lo, double hi,
                        float *dst);
    void (*pass_z_clip)(const double *p0, const double *p1, double w0, double w1, size_t n,
                        double lo, double hi, float *dst);
    void (*pass_z_float)(const float *r0, const float *r1, double w0, double w1, size_t n,
                         double *out);
    void (*clip_plane)(const double *v, size_t n, double lo, double hi, float *dst);
} stream_kernels;

#define KERNEL(name) name##_base
#define KERNEL_ATTR
#include "restore_stream_kernels.h"
#undef KERNEL
#undef KERNEL_ATTR
#if defined(__x86_64__) || defined(__i386__)
#define HAVE_AVX2_KERNELS 1
#define KERNEL(name) name##_avx2
#define KERNEL_ATTR __attribute__((target("avx2")))
#include "restore_stream_kernels.h"
#undef KERNEL
#undef KERNEL_ATTR
#endif

/* A float16 prediction's results rounded to float16 (the array nnU-Net resamples into has
 * the input's dtype). */
static void half_round_plane(float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = pf_half_round(dst[i]);
}

/* The rows of a served plane along axis 2 (n1 rows of m2 doubles): of src (n1 x n2 doubles)
 * or, src NULL, of plane z of channel c of the prediction. */
static void rows_x(const stream_job *j, unit_buf *u, const double *src, int64_t c, int64_t z,
                   double *rows)
{
    const int64_t n1 = j->n[1], n2 = j->n[2], m2 = j->m[2];
    const pf_prediction *p = j->p;
    const float *f = NULL;
    if (!src) {
        /* float32 rows straight from the mapping when they are aligned, else widened */
        f = pf_prediction_row(p, c, z, 0, u->t0);
        if (f == u->t0) {
            for (int64_t y = 0; y < n1; y++) {
                const float *r = pf_prediction_row(p, c, z, y, u->t0);
                for (int64_t x = 0; x < n2; x++)
                    u->zp[y * n2 + x] = (double)r[x];
            }
            src = u->zp;
            f = NULL;
        }
    }
    if (!j->changes[2]) { /* the axis keeps its length: a copy */
        for (int64_t y = 0; y < n1; y++)
            for (int64_t x = 0; x < n2; x++)
                rows[y * m2 + x] = src ? src[y * n2 + x] : (double)f[y * n2 + x];
    } else if (src) {
        j->k->pass_x(&j->ax[2], src, n2, (int)n1, rows, m2);
    } else {
        j->k->pass_x_float(&j->ax[2], f, n2, (int)n1, rows, m2);
    }
}

/* A served plane resized in 2D, along axis 2 then axis 1 (as the core's pf_rs_plane_2d):
 * into dst as doubles (fdst NULL), or clipped into fdst as float32. */
static void plane_xy(const stream_job *j, unit_buf *u, const double *src, int64_t c, int64_t z,
                     double *dst, double lo, double hi, float *fdst)
{
    const int64_t m2 = j->m[2];
    const size_t plane = (size_t)(j->m[1] * m2);
    if (j->changes[1]) {
        rows_x(j, u, src, c, z, u->mid);
        if (fdst)
            j->k->pass_y_clip(&j->ax[1], u->mid, m2, lo, hi, fdst);
        else
            j->k->pass_y(&j->ax[1], u->mid, m2, dst);
    } else {
        rows_x(j, u, src, c, z, dst);
        if (fdst)
            j->k->clip_plane(dst, plane, lo, hi, fdst);
    }
}

/* The in-plane resize of served plane z of channel c (doubles), from the unit's two-plane
 * cache. */
static const double *cached_plane(const stream_job *j, unit_buf *u, int64_t c, int64_t z,
                                  int64_t keep)
{
    int k;
    for (k = 0; k < 2; k++)
        if (u->cached[k] == z)
            return u->cache[k];
    k = u->cached[0] == keep ? 1 : 0; /* never evict the other plane the caller needs */
    plane_xy(j, u, NULL, c, z, u->cache[k], 0, 0, NULL);
    u->cached[k] = z;
    return u->cache[k];
}

/* Output plane o of channel c (m1 x m2 floats) into dst. */
static void channel_plane(const stream_job *j, unit_buf *u, int64_t c, int64_t o, float *dst)
{
    const lin_axis *Z = &j->ax[0];
    const int64_t i0 = Z->i0[o], i1 = Z->i1[o];
    const size_t plane = (size_t)(j->m[1] * j->m[2]);
    const double w0 = Z->w0[o], w1 = Z->w1[o];
    if (j->sepz) {
        /* the plane resized in 2D, clipped to its own range, shared by the output planes
         * whose nearest source it is */
        if (u->cached[0] != i0) {
            plane_xy(j, u, NULL, c, i0, u->dplane, j->lo[c * j->n[0] + i0],
                     j->hi[c * j->n[0] + i0], u->fplane);
            if (j->half)
                half_round_plane(u->fplane, plane);
            u->cached[0] = i0;
        }
        memcpy(dst, u->fplane, plane * sizeof *dst);
        return;
    }
    if (j->z_first) {
        /* along axis 0 first (in double), then the plane */
        const int64_t n1 = j->n[1], n2 = j->n[2];
        for (int64_t y = 0; y < n1; y++)
            j->k->pass_z_float(pf_prediction_row(j->p, c, i0, y, u->t0),
                               pf_prediction_row(j->p, c, i1, y, u->t1), w0, w1, (size_t)n2,
                               u->zp + y * n2);
        plane_xy(j, u, u->zp, c, 0, u->dplane, j->clo[c], j->chi[c], dst);
    } else if (!j->changes[0]) {
        /* the planes only */
        j->k->clip_plane(cached_plane(j, u, c, i0, -1), plane, j->clo[c], j->chi[c], dst);
    } else {
        /* the planes first, then along axis 0 */
        const double *p0 = cached_plane(j, u, c, i0, i1);
        const double *p1 = cached_plane(j, u, c, i1, i0);
        j->k->pass_z_clip(p0, p1, w0, w1, plane, j->clo[c], j->chi[c], dst);
    }
    if (j->half)
        half_round_plane(dst, plane);
}

/* The slab's labels into the source array at the crop box, transposed back. */
static void write_slab(const stream_job *j, const unit_buf *u, int64_t o0, int64_t o1)
{
    const pf_case_geometry *g = j->s->g;
    const int regions = j->s->regions_class_order != NULL;
    const int *map = j->s->channel_label;
    const uint16_t *a = u->arg;
    for (int64_t o = o0; o < o1; o++)
        for (int64_t y = 0; y < j->m[1]; y++) {
            int64_t at = (g->crop_lo[0] + o) * j->ost[0] + (g->crop_lo[1] + y) * j->ost[1] +
                         g->crop_lo[2] * j->ost[2];
            const int64_t st = j->ost[2];
            if (j->out_bytes == 1) {
                uint8_t *d = (uint8_t *)j->out + at;
                for (int64_t x = 0; x < j->m[2]; x++, a++)
                    d[x * st] = (uint8_t)(regions ? *a : map[*a]);
            } else {
                uint16_t *d = (uint16_t *)j->out + at;
                for (int64_t x = 0; x < j->m[2]; x++, a++)
                    d[x * st] = (uint16_t)(regions ? *a : map[*a]);
            }
        }
}

static void unit_free(unit_buf *u)
{
    if (!u)
        return;
    free(u->best);
    free(u->cur);
    free(u->fplane);
    free(u->t0);
    free(u->t1);
    free(u->arg);
    free(u->zp);
    free(u->mid);
    free(u->dplane);
    free(u->cache[0]);
    free(u->cache[1]);
    free(u);
}

/* Scratch for a unit of j->slab planes: an idle one, or a new one (NULL: out of memory). The
 * allocations are large, so reusing them spares the page faults of fresh mappings. */
static unit_buf *unit_take(stream_job *j)
{
    const size_t slab = (size_t)j->slab * (size_t)(j->m[1] * j->m[2]);
    const size_t plane = (size_t)(j->m[1] * j->m[2]);
    const size_t row = (size_t)(j->n[2] > j->m[2] ? j->n[2] : j->m[2]);
    const size_t rows = (size_t)(j->n[1] > j->m[1] ? j->n[1] : j->m[1]) * row;
    unit_buf *u;
    pthread_mutex_lock(&j->lock);
    u = j->idle;
    if (u)
        j->idle = u->next;
    pthread_mutex_unlock(&j->lock);
    if (u)
        return u;
    u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->best = malloc(slab * sizeof *u->best);
    u->arg = malloc(slab * sizeof *u->arg);
    u->cur = malloc(plane * sizeof *u->cur);
    u->fplane = malloc(plane * sizeof *u->fplane);
    u->t0 = malloc(row * sizeof *u->t0);
    u->t1 = malloc(row * sizeof *u->t1);
    u->zp = malloc((size_t)(j->n[1] * j->n[2]) * sizeof *u->zp);
    u->mid = malloc(rows * sizeof *u->mid);
    u->dplane = malloc(rows * sizeof *u->dplane);
    u->cache[0] = malloc(rows * sizeof *u->cache[0]);
    u->cache[1] = malloc(rows * sizeof *u->cache[1]);
    if (!u->best || !u->arg || !u->cur || !u->fplane || !u->t0 || !u->t1 || !u->zp ||
        !u->mid || !u->dplane || !u->cache[0] || !u->cache[1]) {
        unit_free(u);
        return NULL;
    }
    return u;
}

static void unit_give_back(stream_job *j, unit_buf *u)
{
    pthread_mutex_lock(&j->lock);
    u->next = j->idle;
    j->idle = u;
    pthread_mutex_unlock(&j->lock);
}

/* Unit `unit`: output planes [o0, o1), every channel, then their labels. */
static int run_unit(void *arg, int unit, pf_error *err)
{
    stream_job *j = arg;
    const pf_restore_spec *s = j->s;
    const uint16_t *order = s->regions_class_order;
    const int64_t o0 = (int64_t)unit * j->slab;
    const int64_t o1 = o0 + j->slab < j->m[0] ? o0 + j->slab : j->m[0];
    const size_t plane = (size_t)(j->m[1] * j->m[2]);
    const size_t src_plane = (size_t)(j->n[1] * j->n[2]);
    /* the served planes later units still need start at the next unit's first tap */
    const int64_t keep_from = o1 < j->m[0] ? j->ax[0].i0[o1] : j->n[0];
    const int64_t first = j->ax[0].i0[o0];
    unit_buf *u = unit_take(j);
    if (!u)
        return pf_fail(err, ENOMEM, "out of memory for case %s's export", s->case_id);
    if (order)
        memset(u->arg, 0, (size_t)(o1 - o0) * plane * sizeof *u->arg);
    for (int64_t c = 0; c < j->p->channels; c++) {
        u->cached[0] = u->cached[1] = -1;
        for (int64_t o = o0; o < o1; o++) {
            float *best = u->best + (size_t)(o - o0) * plane;
            uint16_t *a = u->arg + (size_t)(o - o0) * plane;
            if (order) {
                channel_plane(j, u, c, o, u->cur);
                pf_regions_step(a, u->cur, plane, order[c]);
            } else if (c == 0) {
                channel_plane(j, u, c, o, best);
                pf_argmax_step(best, a, best, plane, 0);
            } else {
                channel_plane(j, u, c, o, u->cur);
                pf_argmax_step(best, a, u->cur, plane, (int)c);
            }
        }
        if (keep_from > first)
            pf_prediction_release_range(j->p, c, (size_t)first * src_plane,
                                        (size_t)keep_from * src_plane);
    }
    write_slab(j, u, o0, o1);
    unit_give_back(j, u);
    return 0;
}

/* Per channel: the range of each served plane and of the whole channel; fails on NaN or
 * infinity. The channel's pages are handed back afterwards (read again plane by plane). */
static int range_unit(void *arg, int c, pf_error *err)
{
    stream_job *j = arg;
    double *lo = j->lo + (size_t)c * (size_t)j->n[0], *hi = j->hi + (size_t)c * (size_t)j->n[0];
    if (pf_prediction_plane_ranges(j->p, c, lo, hi, err))
        return -1;
    pf_prediction_release(j->p, c);
    j->clo[c] = INFINITY;
    j->chi[c] = -INFINITY;
    for (int64_t z = 0; z < j->n[0]; z++) {
        j->clo[c] = lo[z] < j->clo[c] ? lo[z] : j->clo[c];
        j->chi[c] = hi[z] > j->chi[c] ? hi[z] : j->chi[c];
    }
    return 0;
}

int pf_restore_stream_fits(const pf_restore_spec *s, const pf_prediction *p,
                           const pf_resample_geom *rg)
{
    return p->kind == PF_PRED_CHANNELS && !s->probabilities && s->g->prob_order == 1 &&
           s->g->prob_order_z == 0 && (!rg->separate_z || rg->axis == 0) &&
           (p->itemsize == 4 || p->itemsize == 2);
}

int pf_restore_stream(const pf_restore_spec *s, const pf_resample_geom *rg,
                      const pf_prediction *p, void *out, int out_bytes, pf_error *err)
{
    const pf_case_geometry *g = s->g;
    stream_job j = {.s = s, .p = p, .out = out, .out_bytes = out_bytes,
                    .lock = PTHREAD_MUTEX_INITIALIZER};
    int64_t ss[3], sst[3], units, plane;
    int rc = -1;
    for (int d = 0; d < 3; d++) {
        j.n[d] = rg->in_shape[d];
        j.m[d] = rg->out_shape[d];
        j.changes[d] = j.n[d] != j.m[d];
    }
    j.sepz = rg->separate_z;
    j.k = &kernels_base;
#ifdef HAVE_AVX2_KERNELS
    if (pf_simd_active() >= PF_SIMD_AVX2)
        j.k = &kernels_avx2;
#endif
    j.half = p->itemsize == 2;
    /* the core's choice of pass order: the smaller intermediate volume */
    j.z_first = !j.sepz && (j.changes[1] || j.changes[2]) && j.changes[0] &&
                j.m[0] * j.n[1] * j.n[2] < j.n[0] * j.m[1] * j.m[2];
    pf_restore_source_shape(g, ss);
    sst[2] = 1;
    sst[1] = ss[2];
    sst[0] = ss[1] * ss[2];
    for (int d = 0; d < 3; d++)
        j.ost[d] = sst[g->transpose[d]];
    plane = j.m[1] * j.m[2];
    /* at least 8 units where there are 8 planes, so that the pool has work to share */
    j.slab = SLAB_VOXELS / plane > 1 ? SLAB_VOXELS / plane : 1;
    if (j.slab > (j.m[0] + 7) / 8)
        j.slab = (j.m[0] + 7) / 8;
    units = (j.m[0] + j.slab - 1) / j.slab;
    j.lo = malloc((size_t)(p->channels * j.n[0]) * sizeof *j.lo);
    j.hi = malloc((size_t)(p->channels * j.n[0]) * sizeof *j.hi);
    j.clo = malloc((size_t)p->channels * sizeof *j.clo);
    j.chi = malloc((size_t)p->channels * sizeof *j.chi);
    if (!j.lo || !j.hi || !j.clo || !j.chi) {
        pf_fail(err, ENOMEM, "out of memory for case %s's export", s->case_id);
        goto out;
    }
    for (int d = 0; d < 3; d++)
        if (axis_init(&j.ax[d], j.n[d], j.m[d], j.sepz && d == 0, err))
            goto out;
    if (pf_parallel_for(0, (int)p->channels, s->threads, range_unit, &j, err) ||
        pf_parallel_for(0, (int)units, s->threads, run_unit, &j, err))
        goto out;
    rc = 0;
out:
    while (j.idle) {
        unit_buf *next = j.idle->next;
        unit_free(j.idle);
        j.idle = next;
    }
    pthread_mutex_destroy(&j.lock);
    for (int d = 0; d < 3; d++)
        axis_free(&j.ax[d]);
    free(j.lo);
    free(j.hi);
    free(j.clo);
    free(j.chi);
    return rc;
}
