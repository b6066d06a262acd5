/* preprocess.c - cropping, hole filling, class locations and statistics (see preprocess.h). */
#include "preprocess.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

uint64_t pf_locs_count(uint64_t n)
{
    uint64_t a = n < PF_LOCS_MIN ? n : PF_LOCS_MIN;
    uint64_t b = (n * PF_LOCS_PERCENT + 99) / 100; /* ceil(0.01 * n) */
    return a > b ? a : b;
}

void pf_nonzero_box(const float *img, int nch, const int64_t shape[3], int64_t lo[3],
                    int64_t hi[3])
{
    const int64_t Z = shape[0], Y = shape[1], X = shape[2];
    int any = 0;
    for (int d = 0; d < 3; d++) {
        lo[d] = shape[d];
        hi[d] = 0;
    }
    for (int c = 0; c < nch; c++) {
        const float *ch = img + (size_t)c * (size_t)(Z * Y * X);
        for (int64_t z = 0; z < Z; z++)
            for (int64_t y = 0; y < Y; y++) {
                const float *row = ch + (size_t)((z * Y + y) * X);
                int64_t first = -1, last = -1;
                for (int64_t x = 0; x < X; x++)
                    if (row[x] != 0.0f) {
                        first = x;
                        break;
                    }
                if (first < 0)
                    continue;
                for (int64_t x = X - 1; x >= first; x--)
                    if (row[x] != 0.0f) {
                        last = x;
                        break;
                    }
                any = 1;
                if (z < lo[0]) lo[0] = z;
                if (z + 1 > hi[0]) hi[0] = z + 1;
                if (y < lo[1]) lo[1] = y;
                if (y + 1 > hi[1]) hi[1] = y + 1;
                if (first < lo[2]) lo[2] = first;
                if (last + 1 > hi[2]) hi[2] = last + 1;
            }
    }
    if (!any)
        for (int d = 0; d < 3; d++) {
            lo[d] = 0;
            hi[d] = shape[d];
        }
}

float *pf_crop_float(const float *img, int nch, const int64_t shape[3], const int64_t lo[3],
                     const int64_t hi[3])
{
    int64_t z2 = hi[0] - lo[0], y2 = hi[1] - lo[1], x2 = hi[2] - lo[2];
    float *out = malloc((size_t)(nch * z2 * y2 * x2) * sizeof *out), *dst = out;
    if (!out)
        return NULL;
    for (int c = 0; c < nch; c++)
        for (int64_t z = lo[0]; z < hi[0]; z++)
            for (int64_t y = lo[1]; y < hi[1]; y++) {
                const float *src = img + (size_t)(((c * shape[0] + z) * shape[1] + y) * shape[2]
                                                  + lo[2]);
                memcpy(dst, src, (size_t)x2 * sizeof *dst);
                dst += x2;
            }
    return out;
}

int16_t *pf_crop_i16(const int16_t *seg, const int64_t shape[3], const int64_t lo[3],
                     const int64_t hi[3])
{
    int64_t z2 = hi[0] - lo[0], y2 = hi[1] - lo[1], x2 = hi[2] - lo[2];
    int16_t *out = malloc((size_t)(z2 * y2 * x2) * sizeof *out), *dst = out;
    if (!out)
        return NULL;
    for (int64_t z = lo[0]; z < hi[0]; z++)
        for (int64_t y = lo[1]; y < hi[1]; y++) {
            memcpy(dst, seg + (size_t)((z * shape[1] + y) * shape[2] + lo[2]),
                   (size_t)x2 * sizeof *dst);
            dst += x2;
        }
    return out;
}

int pf_mark_outside(const float *img, int nch, const int64_t shape[3], int16_t *seg,
                    pf_error *err)
{
    const int64_t Z = shape[0], Y = shape[1], X = shape[2];
    const size_t n = (size_t)(Z * Y * X);
    /* state: 0 = background not yet reached, 1 = nonzero (inside), 2 = outside (reached) */
    unsigned char *state = calloc(n, 1);
    size_t *queue = malloc(n * sizeof *queue), head = 0, tail = 0;
    if (!state || !queue) {
        free(state);
        free(queue);
        return pf_fail(err, ENOMEM, "out of memory filling holes of %zu voxels", n);
    }
    for (int c = 0; c < nch; c++)
        for (size_t i = 0; i < n; i++)
            if (img[(size_t)c * n + i] != 0.0f)
                state[i] = 1;
    /* Background on the faces of the box touches the background outside it (the crop is the
     * bounding box of the nonzero voxels), so the flood starts there. */
    for (int64_t z = 0; z < Z; z++)
        for (int64_t y = 0; y < Y; y++)
            for (int64_t x = 0; x < X; x++) {
                size_t i;
                if (!(z == 0 || z == Z - 1 || y == 0 || y == Y - 1 || x == 0 || x == X - 1)) {
                    x = X - 2; /* jump to the far face of this row */
                    continue;
                }
                i = (size_t)((z * Y + y) * X + x);
                if (state[i] == 0) {
                    state[i] = 2;
                    queue[tail++] = i;
                }
            }
    while (head < tail) {
        size_t i = queue[head++];
        int64_t x = (int64_t)(i % (size_t)X), y = (int64_t)(i / (size_t)X % (size_t)Y);
        int64_t z = (int64_t)(i / (size_t)(X * Y));
        size_t nb[6];
        int k = 0;
        if (x > 0) nb[k++] = i - 1;
        if (x < X - 1) nb[k++] = i + 1;
        if (y > 0) nb[k++] = i - (size_t)X;
        if (y < Y - 1) nb[k++] = i + (size_t)X;
        if (z > 0) nb[k++] = i - (size_t)(X * Y);
        if (z < Z - 1) nb[k++] = i + (size_t)(X * Y);
        for (int j = 0; j < k; j++)
            if (state[nb[j]] == 0) {
                state[nb[j]] = 2;
                queue[tail++] = nb[j];
            }
    }
    for (size_t i = 0; i < n; i++)
        if (state[i] == 2 && seg[i] == 0)
            seg[i] = -1;
    free(state);
    free(queue);
    return 0;
}

void pf_class_locations_free(int n, pf_class_locs *classes)
{
    for (int i = 0; i < n; i++)
        free(classes[i].locs);
    free(classes);
}

int pf_class_locations(const int16_t *seg, const int64_t shape[3], int ignore_label,
                       int *n_classes, pf_class_locs **classes, pf_error *err)
{
    const size_t n = (size_t)(shape[0] * shape[1] * shape[2]);
    uint64_t *count = calloc(32768, sizeof *count), *seen = NULL;
    int *slot = NULL, nc = 0;
    unsigned char **keep = NULL;
    pf_class_locs *cl = NULL;

    *n_classes = 0;
    *classes = NULL;
    if (!count)
        return pf_fail(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (seg[i] > 0)
            count[seg[i]]++;
    for (int v = 1; v < 32768; v++)
        if (count[v] && v != ignore_label)
            nc++;
    if (nc == 0) {
        free(count);
        return 0;
    }
    cl = calloc((size_t)nc, sizeof *cl);
    slot = malloc(32768 * sizeof *slot);
    keep = calloc((size_t)nc, sizeof *keep);
    seen = calloc((size_t)nc, sizeof *seen);
    if (!cl || !slot || !keep || !seen)
        goto oom;
    for (int v = 1, k = 0; v < 32768; v++) {
        slot[v] = -1;
        if (!count[v] || v == ignore_label)
            continue;
        slot[v] = k;
        cl[k].label = v;
        cl[k].voxels = count[v];
        cl[k].n_locs = pf_locs_count(count[v]);
        cl[k].locs = malloc((size_t)cl[k].n_locs * 3 * sizeof(int32_t));
        if (!cl[k].locs)
            goto oom;
        if (cl[k].n_locs < count[v]) {
            /* Floyd's algorithm: a uniform k-subset of the class's voxel ordinals, marked in a
             * bitmap so the stored order is canonical (ascending). */
            uint64_t m = count[v], want = cl[k].n_locs;
            pf_stream s = pf_stream_make(PF_LOCS_SEED, 0, 0, 0, (uint64_t)v,
                                         PF_PURPOSE_CLASS_LOCS);
            keep[k] = calloc((size_t)(m + 7) / 8, 1);
            if (!keep[k])
                goto oom;
            for (uint64_t j = m - want; j < m; j++) {
                uint64_t t = pf_stream_below(&s, j + 1);
                if (keep[k][t >> 3] & (1u << (t & 7)))
                    t = j;
                keep[k][t >> 3] |= (unsigned char)(1u << (t & 7));
            }
        }
        k++;
    }
    slot[0] = -1;
    {
        uint64_t *filled = calloc((size_t)nc, sizeof *filled);
        if (!filled)
            goto oom;
        for (size_t i = 0; i < n; i++) {
            int k;
            uint64_t ord;
            if (seg[i] <= 0 || (k = slot[seg[i]]) < 0)
                continue;
            ord = seen[k]++;
            if (keep[k] && !(keep[k][ord >> 3] & (1u << (ord & 7))))
                continue;
            {
                int32_t *p = cl[k].locs + 3 * filled[k]++;
                p[2] = (int32_t)(i % (size_t)shape[2]);
                p[1] = (int32_t)(i / (size_t)shape[2] % (size_t)shape[1]);
                p[0] = (int32_t)(i / (size_t)(shape[2] * shape[1]));
            }
        }
        free(filled);
    }
    for (int k = 0; k < nc; k++)
        free(keep[k]);
    free(keep);
    free(seen);
    free(slot);
    free(count);
    *n_classes = nc;
    *classes = cl;
    return 0;
oom:
    if (keep)
        for (int k = 0; k < nc; k++)
            free(keep[k]);
    free(keep);
    free(seen);
    free(slot);
    free(count);
    if (cl)
        pf_class_locations_free(nc, cl);
    return pf_fail(err, ENOMEM, "out of memory computing class locations");
}

void pf_channel_stats(const float *img, int nch, const int16_t *seg, const int64_t shape[3],
                      pf_chan_stats *stats)
{
    const size_t n = (size_t)(shape[0] * shape[1] * shape[2]);
    for (int c = 0; c < nch; c++) {
        const float *ch = img + (size_t)c * n;
        double sum = 0, sum_m = 0, mn = INFINITY, mx = -INFINITY, var = 0, var_m = 0;
        size_t nm = 0;
        for (size_t i = 0; i < n; i++) {
            double v = ch[i];
            sum += v;
            if (seg[i] >= 0) {
                sum_m += v;
                nm++;
            }
            if (v < mn) mn = v;
            if (v > mx) mx = v;
        }
        stats[c].mean = n ? sum / (double)n : 0.0;
        stats[c].mean_mask = nm ? sum_m / (double)nm : 0.0;
        /* second pass for the variance: no catastrophic cancellation */
        for (size_t i = 0; i < n; i++) {
            double d = ch[i] - stats[c].mean;
            var += d * d;
            if (seg[i] >= 0) {
                double dm = ch[i] - stats[c].mean_mask;
                var_m += dm * dm;
            }
        }
        stats[c].std = n ? sqrt(var / (double)n) : 0.0;
        stats[c].std_mask = nm ? sqrt(var_m / (double)nm) : 0.0;
        stats[c].min = n ? mn : 0.0;
        stats[c].max = n ? mx : 0.0;
    }
}



int pf_class_locations_set(const int16_t *seg, const int64_t shape[3],
                           const unsigned char *member, int32_t key, uint64_t stream,
                           pf_class_locs *out, pf_error *err)
{
    const size_t n = (size_t)(shape[0] * shape[1] * shape[2]);
    unsigned char *keep = NULL;
    uint64_t m = 0, filled = 0, ord = 0;
    memset(out, 0, sizeof *out);
    out->label = key;
    for (size_t i = 0; i < n; i++)
        m += member[seg[i] + 1];
    if (m == 0)
        return 0;
    out->voxels = m;
    out->n_locs = pf_locs_count(m);
    out->locs = malloc((size_t)out->n_locs * 3 * sizeof(int32_t));
    if (!out->locs)
        return pf_fail(err, ENOMEM, "out of memory computing class locations");
    if (out->n_locs < m) {
        /* as pf_class_locations: Floyd's algorithm over the class's voxel ordinals */
        pf_stream s = pf_stream_make(PF_LOCS_SEED, 0, 0, 0, stream, PF_PURPOSE_CLASS_LOCS);
        if (!(keep = calloc((size_t)(m + 7) / 8, 1))) {
            free(out->locs);
            out->locs = NULL;
            return pf_fail(err, ENOMEM, "out of memory computing class locations");
        }
        for (uint64_t j = m - out->n_locs; j < m; j++) {
            uint64_t t = pf_stream_below(&s, j + 1);
            if (keep[t >> 3] & (1u << (t & 7)))
                t = j;
            keep[t >> 3] |= (unsigned char)(1u << (t & 7));
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!member[seg[i] + 1])
            continue;
        ord++;
        if (keep && !(keep[(ord - 1) >> 3] & (1u << ((ord - 1) & 7))))
            continue;
        int32_t *p = out->locs + 3 * filled++;
        p[2] = (int32_t)(i % (size_t)shape[2]);
        p[1] = (int32_t)(i / (size_t)shape[2] % (size_t)shape[1]);
        p[0] = (int32_t)(i / (size_t)(shape[2] * shape[1]));
    }
    free(keep);
    return 0;
}
