/* mirror.c - nnU-Net's mirroring of an augmented sample: image channels and seg reversed along
 * the drawn axes in one in-place pass (pf_aug_mirror_pass; tests and benches), rows reversed
 * four floats or eight labels at a time. Served samples are never mirrored by that pass: those
 * whose later transforms commute with it (and every seg) are written mirrored by their
 * samplers (resampled ones: pf_aug_mirror_in_grid, grid.h grid_out_row) or plain crop (the
 * others: pf_aug_mirror_in_crop, extract.h); the other images are mirrored in the intensity
 * chain's last pass, by the row-pair walk here (pf_mirror_walk, mirror_i.h). */
#include "augment.h"
#include "grid.h"
#include "mirror_i.h"

#include <string.h>

#include "vecmath.h"

/* a[i] <-> b[len - 1 - i] for all i (a != b), or the reversal of a (a == b), four or eight
 * elements at a time through reversed vector loads. */
typedef int16_t pf_v8s __attribute__((vector_size(16)));

static void swap_reversed_f(float *a, float *b, size_t len)
{
    size_t i = 0;
    if (a == b) {
        for (; 2 * i + 2 * PF_VL <= len; i += PF_VL) {
            pf_vf x = pf_vf_load(a + i), y = pf_vf_load(a + len - PF_VL - i);
            pf_vf_store(a + i, (pf_vf){y[3], y[2], y[1], y[0]});
            pf_vf_store(a + len - PF_VL - i, (pf_vf){x[3], x[2], x[1], x[0]});
        }
        for (; 2 * i + 1 < len; i++) {
            float t = a[i];
            a[i] = a[len - 1 - i];
            a[len - 1 - i] = t;
        }
        return;
    }
    for (; i + PF_VL <= len; i += PF_VL) {
        pf_vf x = pf_vf_load(a + i), y = pf_vf_load(b + len - PF_VL - i);
        pf_vf_store(a + i, (pf_vf){y[3], y[2], y[1], y[0]});
        pf_vf_store(b + len - PF_VL - i, (pf_vf){x[3], x[2], x[1], x[0]});
    }
    for (; i < len; i++) {
        float t = a[i];
        a[i] = b[len - 1 - i];
        b[len - 1 - i] = t;
    }
}

static inline pf_v8s load8s(const int16_t *p)
{
    pf_v8s v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* GCC builds the element-wise reversal {v[7], ..., v[0]} of eight int16 out of sixteen scalar
 * moves; with SSE2 it is three shuffles (the two halves exchanged, then the four words of each
 * reversed). */
static inline void store8s_reversed(int16_t *p, pf_v8s v)
{
#ifdef __SSE2__
    __m128i r = _mm_shuffle_epi32((__m128i)v, _MM_SHUFFLE(1, 0, 3, 2));
    r = _mm_shufflehi_epi16(_mm_shufflelo_epi16(r, _MM_SHUFFLE(0, 1, 2, 3)), _MM_SHUFFLE(0, 1, 2, 3));
    _mm_storeu_si128((__m128i *)(void *)p, r);
#else
    pf_v8s r = {v[7], v[6], v[5], v[4], v[3], v[2], v[1], v[0]};
    memcpy(p, &r, sizeof r);
#endif
}

static void swap_reversed_s(int16_t *a, int16_t *b, size_t len)
{
    size_t i = 0;
    if (a == b) {
        for (; 2 * i + 16 <= len; i += 8) {
            pf_v8s x = load8s(a + i), y = load8s(a + len - 8 - i);
            store8s_reversed(a + i, y);
            store8s_reversed(a + len - 8 - i, x);
        }
        for (; 2 * i + 1 < len; i++) {
            int16_t t = a[i];
            a[i] = a[len - 1 - i];
            a[len - 1 - i] = t;
        }
        return;
    }
    for (; i + 8 <= len; i += 8) {
        pf_v8s x = load8s(a + i), y = load8s(b + len - 8 - i);
        store8s_reversed(a + i, y);
        store8s_reversed(b + len - 8 - i, x);
    }
    for (; i < len; i++) {
        int16_t t = a[i];
        a[i] = b[len - 1 - i];
        b[len - 1 - i] = t;
    }
}

/* Reverses the mirrored axes of one (P0, P1, P2) volume of `elem`-byte elements in a single
 * pass, in place: output row (z, y) is input row (z', y') (each index flipped when its axis
 * is mirrored), reversed when X is mirrored. The row map is its own inverse, so each pair of
 * rows is swapped once. */
static void mirror_volume(void *data, size_t elem, const int P[3], const int m[3])
{
    const size_t len = (size_t)P[2], rowb = len * elem;
    unsigned char *v = data, tmp[4 * 1024];
    for (int z = 0; z < P[0]; z++)
        for (int y = 0; y < P[1]; y++) {
            const int z2 = m[0] ? P[0] - 1 - z : z, y2 = m[1] ? P[1] - 1 - y : y;
            const size_t r = (size_t)z * (size_t)P[1] + (size_t)y;
            const size_t r2 = (size_t)z2 * (size_t)P[1] + (size_t)y2;
            unsigned char *a = v + r * rowb, *b = v + r2 * rowb;
            if (r2 < r)
                continue; /* done with its partner */
            if (!m[2]) {
                for (size_t off = 0; r2 != r && off < rowb; off += sizeof tmp) {
                    size_t k = rowb - off < sizeof tmp ? rowb - off : sizeof tmp;
                    memcpy(tmp, a + off, k);
                    memcpy(a + off, b + off, k);
                    memcpy(b + off, tmp, k);
                }
            } else if (elem == 4) {
                swap_reversed_f((float *)a, (float *)b, len);
            } else {
                swap_reversed_s((int16_t *)a, (int16_t *)b, len);
            }
        }
}

/* a[i] <-> b[i] for all i (a != b) */
static void swap_f(float *a, float *b, size_t len)
{
    size_t i = 0;
    for (; i + PF_VL <= len; i += PF_VL) {
        pf_vf x = pf_vf_load(a + i);
        pf_vf_store(a + i, pf_vf_load(b + i));
        pf_vf_store(b + i, x);
    }
    for (; i < len; i++) {
        float t = a[i];
        a[i] = b[i];
        b[i] = t;
    }
}

/* Runs a and b of k rows each (voxel offsets; a == b: a run mirrored onto itself) exchanged:
 * row i of a with row i of b, or row k - 1 - i when Y is mirrored, reversed when X is; with
 * the visits before and after. */
static void walk_pair(float *v, size_t a, size_t b, int k, size_t len, const int m[3],
                      pf_mirror_visit *before, pf_mirror_visit *after, void *arg)
{
    const size_t n = (size_t)k * len;
    if (before) {
        before(v + a, a, n, arg);
        if (b != a)
            before(v + b, b, n, arg);
    }
    for (int i = 0; i < k; i++) {
        float *ra = v + a + (size_t)i * len;
        float *rb = v + b + (size_t)(m[1] && b != a ? k - 1 - i : i) * len;
        if (m[2])
            swap_reversed_f(ra, rb, len);
        else if (ra != rb)
            swap_f(ra, rb, len);
    }
    if (after) {
        after(v + a, a, n, arg);
        if (b != a)
            after(v + b, b, n, arg);
    }
}

/* Plane z goes with plane z2 (z2 = z unless Z is mirrored), each pair once (z <= z2). Row y of
 * a plane goes with row y of the other, or row P1 - 1 - y when Y is mirrored, so a run of rows
 * [y, y + k) goes with the run [P1 - y - k, P1 - y): in a plane paired with itself that is the
 * first half's runs with the second half's, and an odd middle row with itself. */
void pf_mirror_walk(float *v, const int P[3], const int m[3], size_t chunk, pf_mirror_visit *before,
                    pf_mirror_visit *after, void *arg)
{
    const size_t len = (size_t)P[2];
    const int rows = len < chunk ? (int)(chunk / len) : 1;
    for (int z = 0; z < P[0]; z++) {
        const int z2 = m[0] ? P[0] - 1 - z : z;
        const int halves = z2 == z && m[1];
        const int ny = halves ? P[1] / 2 : P[1];
        if (z2 < z)
            continue; /* done with its partner */
        for (int y = 0; y < ny; y += rows) {
            const int k = ny - y < rows ? ny - y : rows, y2 = m[1] ? P[1] - y - k : y;
            walk_pair(v, ((size_t)z * (size_t)P[1] + (size_t)y) * len,
                      ((size_t)z2 * (size_t)P[1] + (size_t)y2) * len, k, len, m, before, after,
                      arg);
        }
        if (halves && P[1] % 2) {
            const size_t mid = ((size_t)z * (size_t)P[1] + (size_t)(P[1] / 2)) * len;
            walk_pair(v, mid, mid, 1, len, m, before, after, arg);
        }
    }
}

void pf_reverse_floats(float *a, size_t n)
{
    swap_reversed_f(a, a, n);
}

void pf_reverse_labels(int16_t *a, size_t n)
{
    swap_reversed_s(a, a, n);
}

/* Whether the sample is mirrored and every transform after its crop or grid commutes bit for
 * bit with mirroring (augment.h, pf_aug_mirror_in_grid). */
static int mirror_commutes(const pf_aug_params *p)
{
    if (!(p->mirror[0] || p->mirror[1] || p->mirror[2]))
        return 0;
    if (p->noise || p->contrast || p->gamma_inv || p->gamma)
        return 0;
    for (int c = 0; c < PF_MAX_CHANNELS; c++)
        if (p->blur[c] || p->lowres[c])
            return 0;
    return 1;
}

void pf_aug_seg_params(pf_aug_params *p)
{
    p->noise = p->contrast = p->gamma_inv = p->gamma = 0;
    for (int c = 0; c < PF_MAX_CHANNELS; c++)
        p->blur[c] = p->lowres[c] = 0;
}

int pf_aug_mirror_in_grid(const pf_aug_params *p)
{
    return pf_aug_spatial(p) && mirror_commutes(p);
}

int pf_aug_mirror_in_crop(const pf_aug_params *p)
{
    return !pf_aug_spatial(p) && mirror_commutes(p);
}

void pf_aug_mirror(const pf_aug_params *p, int channels, const int patch[3], float *img,
                   int16_t *seg)
{
    if (pf_aug_mirror_in_grid(p) || pf_aug_mirror_in_crop(p))
        return; /* the samplers or the crop wrote it mirrored */
    pf_aug_mirror_pass(p, channels, patch, img, seg);
}

void pf_aug_mirror_pass(const pf_aug_params *p, int channels, const int patch[3], float *img,
                        int16_t *seg)
{
    const size_t n = (size_t)patch[0] * (size_t)patch[1] * (size_t)patch[2];
    if (!p->mirror[0] && !p->mirror[1] && !p->mirror[2])
        return;
    if (img)
        for (int c = 0; c < channels; c++)
            mirror_volume(img + (size_t)c * n, sizeof *img, patch, p->mirror);
    if (seg)
        mirror_volume(seg, sizeof *seg, patch, p->mirror);
}

