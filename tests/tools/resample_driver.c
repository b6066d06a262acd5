/* resample_driver.c - runs the resampling of resample.h on a .npy file, for the Python checks
 * (tests/integration/resample_check.py) and for timing against nnU-Net.
 *
 *   resample_driver [options] IN.npy OUT.npy
 *     --seg               IN holds labels (int8/uint8/int16/int32, values within int16);
 *                         OUT is int16 (int8 with --int8); default order 1
 *     --order N           interpolation order (image: 3, 1, 0; seg: 1, 0); image default 3
 *     --spacing A,B,C     the case's spacing, array order (default 1,1,1)
 *     --target A,B,C      target spacing (default: the case's)
 *     --shape Z,Y,X       output shape instead of the one the spacings give
 *     --force-sep N       nnU-Net's force_separate_z: -1 None (default), 0 False, 1 True
 *     --axis N            override the decision: separate-z along N (0..2), or none (-1)
 *     --threads N         run the units of each step on N threads
 *     --repeat N          resample N times, report the fastest
 *
 * IN is (Z, Y, X) or (C, Z, Y, X), C order; each channel is resampled on its own. One JSON
 * line on stdout: shapes, the separate-z decision, and the fastest run's wall-clock and
 * process CPU seconds (resampling only, no file I/O). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "resample.h"

typedef struct npy {
    char descr[8];
    int ndim;
    int64_t shape[4];
    void *data;
    size_t nbytes;
} npy;

static __attribute__((format(printf, 1, 2), noreturn)) void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "resample_driver: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(2);
}

static size_t descr_size(const char *d)
{
    if (!strcmp(d, "<f4") || !strcmp(d, "<i4"))
        return 4;
    if (!strcmp(d, "<f8"))
        return 8;
    if (!strcmp(d, "<i2"))
        return 2;
    if (!strcmp(d, "|i1") || !strcmp(d, "|u1"))
        return 1;
    return 0;
}

/* Minimal .npy reader: versions 1-3, little-endian, C order. */
static void npy_read(const char *path, npy *a)
{
    FILE *f = fopen(path, "rb");
    unsigned char pre[12];
    size_t hlen, n = 1, esz;
    char *h, *p;
    if (!f)
        die("cannot open %s", path);
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6))
        die("%s is not a .npy file", path);
    if (pre[6] == 1) {
        hlen = pre[8] | (size_t)pre[9] << 8;
    } else {
        if (fread(pre + 10, 1, 2, f) != 2)
            die("%s: short header", path);
        hlen = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    }
    h = calloc(1, hlen + 1);
    if (!h || fread(h, 1, hlen, f) != hlen)
        die("%s: short header", path);
    if (strstr(h, "'fortran_order': True"))
        die("%s: Fortran order is not supported", path);
    p = strstr(h, "'descr': '");
    if (!p || sscanf(p + 10, "%7[^']", a->descr) != 1 || !(esz = descr_size(a->descr)))
        die("%s: unsupported dtype", path);
    p = strstr(h, "'shape': (");
    if (!p)
        die("%s: no shape", path);
    p += 10;
    a->ndim = 0;
    while (*p && *p != ')') {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p) {
            p++;
            continue;
        }
        if (a->ndim == 4 || v < 1)
            die("%s: shape must be 3 or 4 positive axes", path);
        a->shape[a->ndim++] = v;
        p = end;
    }
    if (a->ndim < 3)
        die("%s: shape must be 3 or 4 positive axes", path);
    for (int i = 0; i < a->ndim; i++)
        n *= (size_t)a->shape[i];
    a->nbytes = n * esz;
    a->data = malloc(a->nbytes ? a->nbytes : 1);
    if (!a->data || fread(a->data, 1, a->nbytes, f) != a->nbytes)
        die("%s: short data", path);
    free(h);
    fclose(f);
}

static void npy_write(const char *path, const char *descr, int ndim, const int64_t *shape,
                      const void *data, size_t nbytes)
{
    char dict[256], hdr[320];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     descr);
    size_t total;
    FILE *f;
    for (int i = 0; i < ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%" PRId64 ", ", shape[i]);
    n -= 2;   /* numpy writes "(3, 4, 5)" */
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    total = (10 + (size_t)n + 1 + 63) / 64 * 64;
    memcpy(hdr, "\x93NUMPY\x01\x00", 8);
    hdr[8] = (char)((total - 10) & 0xff);
    hdr[9] = (char)((total - 10) >> 8);
    memcpy(hdr + 10, dict, (size_t)n);
    memset(hdr + 10 + n, ' ', total - 10 - (size_t)n);
    hdr[total - 1] = '\n';
    f = fopen(path, "wb");
    if (!f || fwrite(hdr, 1, total, f) != total || fwrite(data, 1, nbytes, f) != nbytes ||
        fclose(f))
        die("cannot write %s", path);
}

static void parse3d(const char *s, double v[3])
{
    if (sscanf(s, "%lf,%lf,%lf", &v[0], &v[1], &v[2]) != 3)
        die("expected three comma-separated numbers, got %s", s);
}

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- the units of one step on several threads ---- */

typedef struct pool {
    pf_resample *r;
    atomic_int next;
    atomic_int failed;
    pf_error err;
} pool;

static void *worker(void *arg)
{
    pool *p = arg;
    pf_error err = {0};
    int u;
    while ((u = atomic_fetch_add(&p->next, 1)) < p->r->units[p->r->step])
        if (pf_resample_unit(p->r, u, &err)) {
            if (!atomic_exchange(&p->failed, 1))
                p->err = err;
            break;
        }
    return NULL;
}

static int run_threads(pf_resample *r, int threads, pf_error *err)
{
    if (threads <= 1)
        return pf_resample_run(r, err);
    for (r->step = 0; r->step < r->nsteps; r->step++) {
        pool p = {.r = r};
        pthread_t t[64];
        int n = threads > 64 ? 64 : threads, started = 0;
        atomic_init(&p.next, 0);
        atomic_init(&p.failed, 0);
        for (int i = 1; i < n; i++)
            if (!pthread_create(&t[started], NULL, worker, &p))
                started++;
        worker(&p);
        for (int i = 0; i < started; i++)
            pthread_join(t[i], NULL);
        if (atomic_load(&p.failed)) {
            *err = p.err;
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    int seg = 0, order = -1, force = -1, axis_set = 0, axis = -1, threads = 1, repeat = 1;
    int int8 = 0, shape_set = 0, target_set = 0;
    double spacing[3] = {1, 1, 1}, target[3], shp[3];
    int64_t out_shape[3];
    const char *inp = NULL, *outp = NULL;
    pf_resample_geom g;
    pf_error err = {0};
    npy a = {0};
    int64_t nch;
    size_t nin, nout, esz_out;
    void *in, *out;
    double best = 1e300, best_cpu = 1e300;

    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--seg")) {
            seg = 1;
        } else if (!strcmp(o, "--int8")) {
            int8 = 1;
        } else if (o[0] == '-' && o[1] == '-' && !v) {
            die("%s needs a value", o);
        } else if (!strcmp(o, "--order")) {
            order = atoi(v), i++;
        } else if (!strcmp(o, "--spacing")) {
            parse3d(v, spacing), i++;
        } else if (!strcmp(o, "--target")) {
            parse3d(v, target), target_set = 1, i++;
        } else if (!strcmp(o, "--shape")) {
            parse3d(v, shp), shape_set = 1, i++;
        } else if (!strcmp(o, "--force-sep")) {
            force = atoi(v), i++;
        } else if (!strcmp(o, "--axis")) {
            axis = atoi(v), axis_set = 1, i++;
        } else if (!strcmp(o, "--threads")) {
            threads = atoi(v), i++;
        } else if (!strcmp(o, "--repeat")) {
            repeat = atoi(v), i++;
        } else if (o[0] == '-' && o[1] == '-') {
            die("unknown option %s", o);
        } else if (!inp) {
            inp = o;
        } else if (!outp) {
            outp = o;
        } else {
            die("unexpected argument %s", o);
        }
    }
    if (!inp || !outp)
        die("usage: resample_driver [options] IN.npy OUT.npy");
    if (!target_set)
        memcpy(target, spacing, sizeof target);
    if (order < 0)
        order = seg ? 1 : 3;
    if (repeat < 1)
        repeat = 1;
    npy_read(inp, &a);
    nch = a.ndim == 4 ? a.shape[0] : 1;
    if (shape_set)
        for (int i = 0; i < 3; i++)
            out_shape[i] = (int64_t)shp[i];
    if (pf_resample_geom_init(&g, a.shape + (a.ndim - 3), shape_set ? out_shape : NULL, spacing,
                              target, force, 0, &err))
        die("%s", err.msg);
    if (axis_set) {
        g.separate_z = axis >= 0;
        g.axis = axis >= 0 ? axis : -1;
    }
    nin = pf_resample_in_voxels(&g);
    nout = pf_resample_out_voxels(&g);

    /* the input as float32 (image) or int16 (labels) */
    {
        size_t n = nin * (size_t)nch;
        in = malloc(n * (seg ? 2 : 4));
        if (!in)
            die("out of memory");
        for (size_t i = 0; i < n; i++) {
            double v;
            if (!strcmp(a.descr, "<f4"))
                v = ((float *)a.data)[i];
            else if (!strcmp(a.descr, "<f8"))
                v = ((double *)a.data)[i];
            else if (!strcmp(a.descr, "<i4"))
                v = ((int32_t *)a.data)[i];
            else if (!strcmp(a.descr, "<i2"))
                v = ((int16_t *)a.data)[i];
            else if (!strcmp(a.descr, "|i1"))
                v = ((int8_t *)a.data)[i];
            else
                v = ((uint8_t *)a.data)[i];
            if (seg) {
                if (v != (int16_t)v)
                    die("label out of int16 range in %s", inp);
                ((int16_t *)in)[i] = (int16_t)v;
            } else {
                ((float *)in)[i] = (float)v;
            }
        }
    }
    esz_out = seg ? (int8 ? 1 : 2) : 4;
    out = malloc(nout * (size_t)nch * esz_out);
    if (!out)
        die("out of memory");

    for (int rep = 0; rep < repeat; rep++) {
        double t0 = clock_s(CLOCK_MONOTONIC), u0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), t, u;
        for (int64_t c = 0; c < nch; c++) {
            pf_resample r;
            int rc = seg ? pf_resample_seg_begin(&r, &g, order, (const int16_t *)in + c * nin,
                                                 (char *)out + c * nout * esz_out,
                                                 (int)esz_out, &err)
                         : pf_resample_image_begin(&r, &g, order, 0, (const float *)in + c * nin,
                                                   (float *)out + c * nout, &err);
            if (rc)
                die("%s", err.msg);
            rc = run_threads(&r, threads, &err);
            pf_resample_end(&r);
            if (rc)
                die("%s", err.msg);
        }
        t = clock_s(CLOCK_MONOTONIC) - t0;
        u = clock_s(CLOCK_PROCESS_CPUTIME_ID) - u0;
        best = t < best ? t : best;
        best_cpu = u < best_cpu ? u : best_cpu;
    }
    {
        int64_t shape[4];
        int nd = a.ndim;
        if (nd == 4)
            shape[0] = nch;
        memcpy(shape + (nd - 3), g.out_shape, sizeof g.out_shape);
        npy_write(outp, seg ? (int8 ? "|i1" : "<i2") : "<f4", nd, shape, out,
                  nout * (size_t)nch * esz_out);
    }
    printf("{\"in_shape\": [%" PRId64 ", %" PRId64 ", %" PRId64 "], \"out_shape\": [%" PRId64
           ", %" PRId64 ", %" PRId64 "], \"channels\": %" PRId64 ", \"separate_z\": %d, "
           "\"axis\": %d, \"seconds\": %.6f, \"cpu_seconds\": %.6f}\n",
           g.in_shape[0], g.in_shape[1], g.in_shape[2], g.out_shape[0], g.out_shape[1],
           g.out_shape[2], nch, g.separate_z, g.axis, best, best_cpu);
    free(a.data);
    free(in);
    free(out);
    return 0;
}
