/* prediction.c - a prediction .npy checked and mapped (see prediction.h). */
#include "prediction.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "minmax.h"

/* The value text after 'key': in numpy's header dict, or NULL. */
static const char *dict_value(const char *hdr, const char *key)
{
    char quoted[32];
    const char *k;
    snprintf(quoted, sizeof quoted, "'%s'", key);
    k = strstr(hdr, quoted);
    if (!k) {
        snprintf(quoted, sizeof quoted, "\"%s\"", key);
        k = strstr(hdr, quoted);
    }
    if (!k)
        return NULL;
    k += strlen(quoted);
    while (*k == ' ')
        k++;
    if (*k != ':')
        return NULL;
    k++;
    while (*k == ' ')
        k++;
    return k;
}

static int parse_descr(pf_prediction *p, const char *v, pf_error *err)
{
    static const struct { const char *d; int size, fl, sg; } types[] = {
        {"<f4", 4, 1, 1}, {"<f2", 2, 1, 1}, {"|u1", 1, 0, 0}, {"|i1", 1, 0, 1},
        {"<u2", 2, 0, 0}, {"<i2", 2, 0, 1}, {"<u4", 4, 0, 0}, {"<i4", 4, 0, 1},
        {"<u8", 8, 0, 0}, {"<i8", 8, 0, 1}, {"|b1", 1, 0, 0}};
    size_t n;
    if (!v || (*v != '\'' && *v != '"'))
        return pf_fail(err, EINVAL, "%s: .npy header has no dtype ('descr')", p->path);
    n = strcspn(v + 1, "'\"");
    if (n >= sizeof p->descr)
        n = sizeof p->descr - 1;
    memcpy(p->descr, v + 1, n);
    p->descr[n] = '\0';
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(p->descr, types[i].d)) {
            p->itemsize = types[i].size;
            p->is_float = types[i].fl;
            p->is_signed = types[i].sg;
            return 0;
        }
    return pf_fail(err, EINVAL, "%s: dtype '%s' is not a prediction: logits or probabilities "
                   "are float32 or float16 (little-endian), a label map an integer type",
                   p->path, p->descr);
}

static int parse_shape(pf_prediction *p, const char *v, pf_error *err)
{
    if (!v || *v != '(')
        return pf_fail(err, EINVAL, "%s: .npy header has no shape", p->path);
    v++;
    p->ndim = 0;
    for (;;) {
        char *end;
        long long x;
        while (*v == ' ' || *v == ',')
            v++;
        if (*v == ')')
            break;
        errno = 0;
        x = strtoll(v, &end, 10);
        if (end == v || errno || x < 0)
            return pf_fail(err, EINVAL, "%s: .npy header has a malformed shape", p->path);
        if (p->ndim == 4)
            return pf_fail(err, EINVAL, "%s: more than 4 dimensions; a prediction is (K, Z, Y, "
                           "X) or a label map (Z, Y, X)", p->path);
        p->shape[p->ndim++] = x;
        v = end;
    }
    return 0;
}

/* Reads and checks the header; the data offset in *offset. */
static int read_header(pf_prediction *p, int fd, size_t file_size, size_t *offset,
                       pf_error *err)
{
    unsigned char pre[12];
    size_t hlen, pre_len;
    char *hdr;
    int rc = -1;
    const char *fo;
    if (pread(fd, pre, sizeof pre, 0) != (ssize_t)sizeof pre || memcmp(pre, "\x93NUMPY", 6))
        return pf_fail(err, EINVAL, "%s: not a .npy file", p->path);
    if (pre[6] == 1) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
        pre_len = 10;
    } else if (pre[6] == 2 || pre[6] == 3) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 |
               (size_t)pre[11] << 24;
        pre_len = 12;
    } else {
        return pf_fail(err, EINVAL, "%s: .npy version %d is not known", p->path, pre[6]);
    }
    if (hlen > 1 << 20 || pre_len + hlen > file_size)
        return pf_fail(err, EINVAL, "%s: .npy header is truncated", p->path);
    hdr = malloc(hlen + 1);
    if (!hdr)
        return pf_fail(err, ENOMEM, "out of memory");
    if (pread(fd, hdr, hlen, (off_t)pre_len) != (ssize_t)hlen) {
        pf_fail(err, EIO, "%s: reading the .npy header: %s", p->path, strerror(errno));
        goto out;
    }
    hdr[hlen] = '\0';
    if (parse_descr(p, dict_value(hdr, "descr"), err) ||
        parse_shape(p, dict_value(hdr, "shape"), err))
        goto out;
    fo = dict_value(hdr, "fortran_order");
    if (!fo || strncmp(fo, "False", 5)) {
        pf_fail(err, EINVAL, "%s: the array is in Fortran order; write it in C order "
                "(np.ascontiguousarray)", p->path);
        goto out;
    }
    *offset = pre_len + hlen;
    rc = 0;
out:
    free(hdr);
    return rc;
}

int pf_prediction_open(pf_prediction *p, const char *path, pf_error *err)
{
    struct stat st;
    size_t offset = 0, need;
    int fd;
    uint64_t n = 1;
    memset(p, 0, sizeof *p);
    snprintf(p->path, sizeof p->path, "%s", path);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pf_fail(err, errno, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return pf_fail(err, EINVAL, "%s: not a regular file", path);
    }
    if (read_header(p, fd, (size_t)st.st_size, &offset, err)) {
        close(fd);
        return -1;
    }
    if (p->is_float && p->ndim != 4) {
        close(fd);
        return pf_fail(err, EINVAL, "%s: %s array with %d dimensions; logits or probabilities "
                       "are (K, Z, Y, X)", path, p->descr, p->ndim);
    }
    if (!p->is_float && p->ndim == 4 && p->shape[0] == 1) { /* seg.npy's (1, Z, Y, X) */
        memmove(p->shape, p->shape + 1, 3 * sizeof p->shape[0]);
        p->ndim = 3;
    }
    if (!p->is_float && p->ndim != 3) {
        close(fd);
        return pf_fail(err, EINVAL, "%s: %s array with %d dimensions; a label map is (Z, Y, X) "
                       "or (1, Z, Y, X) (logits or probabilities are float)", path, p->descr,
                       p->ndim);
    }
    p->kind = p->is_float ? PF_PRED_CHANNELS : PF_PRED_LABELS;
    p->channels = p->kind == PF_PRED_CHANNELS ? p->shape[0] : 1;
    for (int d = p->ndim - 3; d < p->ndim; d++)
        if (p->shape[d] == 0 || __builtin_mul_overflow(n, (uint64_t)p->shape[d], &n)) {
            close(fd);
            return pf_fail(err, EINVAL, "%s: empty or impossible shape", path);
        }
    p->voxels = (size_t)n;
    if (p->channels == 0 ||
        __builtin_mul_overflow(n, (uint64_t)p->channels * (uint64_t)p->itemsize, &n) ||
        n > (uint64_t)st.st_size || offset > (uint64_t)st.st_size - n) {
        char s[96];
        pf_shape_text(s, sizeof s, p->shape, p->ndim);
        close(fd);
        return pf_fail(err, EINVAL, "%s: truncated: a %s array of shape %s needs %llu bytes of "
                       "data, the file has %llu after its header", path, p->descr, s,
                       (unsigned long long)n, (unsigned long long)(st.st_size - (off_t)offset));
    }
    need = offset + (size_t)n;
    p->map = mmap(NULL, need, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p->map == MAP_FAILED) {
        p->map = NULL;
        return pf_fail(err, errno, "%s: mapping: %s", path, strerror(errno));
    }
    p->map_len = need;
    p->data = (const unsigned char *)p->map + offset;
    return 0;
}

void pf_prediction_close(pf_prediction *p)
{
    if (p->map)
        munmap(p->map, p->map_len);
    p->map = NULL;
}

void pf_shape_text(char *buf, size_t cap, const int64_t *shape, int ndim)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int d = 0; d < ndim && k < cap; d++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", d ? ", " : "(", (long long)shape[d]);
    if (k < cap)
        snprintf(buf + k, cap - k, ")");
}

float pf_half_to_float(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
    float f;
    if (e == 0) {
        /* zero or subnormal: m * 2^-24, exact in float */
        f = (float)m * 0x1p-24f;
        return sign ? -f : f;
    }
    if (e == 31)
        bits = sign | 0x7f800000u | (m << 13);
    else
        bits = sign | ((e + 112) << 23) | (m << 13);
    memcpy(&f, &bits, sizeof f);
    return f;
}

float pf_half_round(float f)
{
    /* round to 11 significant bits (ties to even) within float16's range: for normal results
     * add and subtract a power of two that pushes the extra bits out; subnormals are
     * multiples of 2^-24 */
    double a = fabs((double)f), r;
    int e;
    if (!(a < 65520.0)) /* beyond the largest float16 (65504), rounding gives infinity */
        return isnan(f) ? f : copysignf(INFINITY, f);
    if (a < 0x1p-14) {
        r = nearbyint(a * 0x1p24) * 0x1p-24;
    } else {
        frexp(a, &e);                  /* a = m * 2^e, m in [0.5, 1) */
        const double q = ldexp(1.0, e - 11);
        r = nearbyint(a / q) * q;      /* a / q < 2^11: exact, rint ties to even */
    }
    return copysignf((float)r, f);
}

static int first_bad(const float *v, size_t n, size_t *at)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) {
            *at = i;
            return 1;
        }
    return 0;
}

/* A flat voxel index as "z, y, x" on the channel's grid. */
static void voxel_text(const pf_prediction *p, size_t i, char *buf, size_t cap)
{
    const int64_t *s = p->shape + p->ndim - 3;
    const size_t x = i % (size_t)s[2], y = i / (size_t)s[2] % (size_t)s[1],
                 z = i / ((size_t)s[2] * (size_t)s[1]);
    snprintf(buf, cap, "(%zu, %zu, %zu)", z, y, x);
}

int pf_prediction_channel(const pf_prediction *p, int64_t c, float *scratch, const float **out,
                          pf_error *err)
{
    const unsigned char *src = p->data + (size_t)c * p->voxels * (size_t)p->itemsize;
    size_t at;
    char where[80];
    if (p->itemsize == 4 && ((uintptr_t)src & 3u) == 0) {
        *out = (const float *)src;
    } else if (p->itemsize == 4) {
        memcpy(scratch, src, p->voxels * sizeof *scratch);
        *out = scratch;
    } else {
        for (size_t i = 0; i < p->voxels; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            scratch[i] = pf_half_to_float(h);
        }
        *out = scratch;
    }
    if (first_bad(*out, p->voxels, &at)) {
        voxel_text(p, at, where, sizeof where);
        return pf_fail(err, EINVAL, "%s: channel %lld has %s at voxel %s: logits must be "
                       "finite", p->path, (long long)c, isnan((*out)[at]) ? "NaN" : "infinity",
                       where);
    }
    return 0;
}

int pf_prediction_labels(const pf_prediction *p, int16_t *out, pf_error *err)
{
    for (size_t i = 0; i < p->voxels; i++) {
        const unsigned char *b = p->data + i * (size_t)p->itemsize;
        int64_t v;
        char where[80];
        switch (p->itemsize) {
        case 1: v = p->is_signed ? (int64_t)(int8_t)b[0] : (int64_t)b[0]; break;
        case 2: {
            uint16_t u;
            memcpy(&u, b, 2);
            v = p->is_signed ? (int64_t)(int16_t)u : (int64_t)u;
            break;
        }
        case 4: {
            uint32_t u;
            memcpy(&u, b, 4);
            v = p->is_signed ? (int64_t)(int32_t)u : (int64_t)u;
            break;
        }
        default: {
            uint64_t u;
            memcpy(&u, b, 8);
            v = p->is_signed ? (int64_t)u : u > INT64_MAX ? INT64_MAX : (int64_t)u;
            break;
        }
        }
        if (v < -1 || v > 32767) {
            voxel_text(p, i, where, sizeof where);
            return pf_fail(err, EINVAL, "%s: label %lld at voxel %s; labels are -1 (outside "
                           "the case) to 32767", p->path, (long long)v, where);
        }
        out[i] = (int16_t)v;
    }
    return 0;
}

void pf_prediction_release(const pf_prediction *p, int64_t c)
{
    pf_prediction_release_range(p, c, 0, p->voxels);
}

void pf_prediction_release_range(const pf_prediction *p, int64_t c, size_t from, size_t to)
{
    const long page = sysconf(_SC_PAGESIZE);
    const unsigned char *base = p->data + (size_t)c * p->voxels * (size_t)p->itemsize;
    uintptr_t lo = (uintptr_t)(base + from * (size_t)p->itemsize);
    uintptr_t hi = (uintptr_t)(base + to * (size_t)p->itemsize);
    lo = (lo + (uintptr_t)page - 1) / (uintptr_t)page * (uintptr_t)page; /* whole pages inside */
    hi = hi / (uintptr_t)page * (uintptr_t)page;
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

const float *pf_prediction_row(const pf_prediction *p, int64_t c, int64_t z, int64_t y,
                               float *tmp)
{
    const int64_t ny = p->shape[p->ndim - 2], nx = p->shape[p->ndim - 1];
    const unsigned char *src = p->data + ((size_t)c * p->voxels + (size_t)((z * ny + y) * nx)) *
                                             (size_t)p->itemsize;
    if (p->itemsize == 4) {
        if (((uintptr_t)src & 3u) == 0)
            return (const float *)src;
        memcpy(tmp, src, (size_t)nx * sizeof *tmp);
        return tmp;
    }
    for (int64_t i = 0; i < nx; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);
        tmp[i] = pf_half_to_float(h);
    }
    return tmp;
}

int pf_prediction_plane_ranges(const pf_prediction *p, int64_t c, double *lo, double *hi,
                               pf_error *err)
{
    const int64_t nz = p->shape[p->ndim - 3], ny = p->shape[p->ndim - 2];
    const int64_t nx = p->shape[p->ndim - 1];
    float *tmp = malloc((size_t)nx * sizeof *tmp);
    int bad = 0;
    if (!tmp)
        return pf_fail(err, ENOMEM, "out of memory");
    for (int64_t z = 0; z < nz && !bad; z++) {
        float l = INFINITY, h = -INFINITY;
        for (int64_t y = 0; y < ny && !bad; y++) {
            float rl, rh;
            bad = pf_float_minmax(pf_prediction_row(p, c, z, y, tmp), (size_t)nx, &rl, &rh);
            l = rl < l ? rl : l;
            h = rh > h ? rh : h;
        }
        lo[z] = l;
        hi[z] = h;
    }
    free(tmp);
    if (bad) {
        /* the message of pf_prediction_channel, which finds the first bad voxel */
        float *scratch = malloc(p->voxels * sizeof *scratch);
        const float *unused;
        if (!scratch)
            return pf_fail(err, ENOMEM, "out of memory");
        bad = pf_prediction_channel(p, c, scratch, &unused, err);
        free(scratch);
        if (!bad) /* cannot happen: both read the same bytes */
            return pf_fail(err, EINVAL, "%s: channel %lld is not finite", p->path,
                           (long long)c);
        return -1;
    }
    return 0;
}
