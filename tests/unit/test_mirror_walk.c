/* test_mirror_walk.c - the mirroring's row-pair walk (pf_mirror_walk, mirror_i.h), on which the
 * intensity chain's last pass mirrors the image (pf_aug_intensity_mirrored): against a naive
 * per-voxel flip written here, every axis combination, odd and even sizes (a middle plane, a
 * middle row, a middle voxel mirrored onto themselves), runs of one row, several rows and a
 * whole plane; and the visits: every voxel handed to `before` exactly once at its own index
 * with its value from before the mirroring, then to `after` exactly once at its mirrored index
 * with what `before` made of it (the image's noise, then its other steps and mask). */
#include "testutil.h"

#include "mirror_i.h"

typedef struct visits {
    const int *P, *m;
    unsigned char *before, *after; /* per voxel index: visits */
    int bad;                       /* visits that saw a voxel other than the one expected */
} visits;

/* the index a voxel at `o` after the mirroring came from */
static size_t source(const int P[3], const int m[3], size_t o)
{
    const size_t x = o % (size_t)P[2], y = o / (size_t)P[2] % (size_t)P[1],
                 z = o / ((size_t)P[2] * (size_t)P[1]);
    const size_t sz = m[0] ? (size_t)P[0] - 1 - z : z, sy = m[1] ? (size_t)P[1] - 1 - y : y,
                 sx = m[2] ? (size_t)P[2] - 1 - x : x;
    return (sz * (size_t)P[1] + sy) * (size_t)P[2] + sx;
}

/* img[i] = i before the walk: before sees a voxel at its unmirrored place holding its own
 * index, and marks it (-i - 1); after sees at mirrored place o the mark of source(o) */
static void record_before(float *v, size_t at, size_t n, void *arg)
{
    visits *w = arg;
    for (size_t j = 0; j < n; j++) {
        w->before[at + j]++;
        w->bad += v[j] != (float)(at + j);
        v[j] = -v[j] - 1.0f;
    }
}

static void record_after(float *v, size_t at, size_t n, void *arg)
{
    visits *w = arg;
    for (size_t j = 0; j < n; j++) {
        const float src = (float)source(w->P, w->m, at + j);
        w->after[at + j]++;
        w->bad += v[j] != (w->before ? -src - 1.0f : src);
        v[j] = -2.0f * v[j]; /* what the walk leaves */
    }
}

/* visit: bit 0 before, bit 1 after */
static void check_walk(const int P[3], const int m[3], size_t chunk, int visit)
{
    const size_t n = (size_t)P[0] * (size_t)P[1] * (size_t)P[2];
    float *v = malloc(n * sizeof *v);
    unsigned char *seen = calloc(2 * n, 1);
    visits w = {P, m, visit & 1 ? seen : NULL, visit & 2 ? seen + n : NULL, 0};
    assert_non_null(v);
    assert_non_null(seen);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)i;
    pf_mirror_walk(v, P, m, chunk, visit & 1 ? record_before : NULL,
                   visit & 2 ? record_after : NULL, &w);
    for (int z = 0; z < P[0]; z++)
        for (int y = 0; y < P[1]; y++)
            for (int x = 0; x < P[2]; x++) {
                const int sz = m[0] ? P[0] - 1 - z : z, sy = m[1] ? P[1] - 1 - y : y,
                          sx = m[2] ? P[2] - 1 - x : x;
                const size_t o = ((size_t)z * (size_t)P[1] + (size_t)y) * (size_t)P[2] + (size_t)x;
                const size_t src =
                    ((size_t)sz * (size_t)P[1] + (size_t)sy) * (size_t)P[2] + (size_t)sx;
                float want = (float)src;
                if (visit & 1)
                    want = -want - 1.0f;
                if (visit & 2)
                    want = -2.0f * want;
                if (v[o] != want)
                    fail_msg("shape %dx%dx%d mirror %d%d%d chunk %zu visits %d: voxel %zu holds "
                             "%g, not %g", P[0], P[1], P[2], m[0], m[1], m[2], chunk, visit, o,
                             (double)v[o], (double)want);
                if (((visit & 1) && seen[o] != 1) || ((visit & 2) && seen[n + o] != 1))
                    fail_msg("shape %dx%dx%d mirror %d%d%d chunk %zu: voxel %zu visited %d, %d "
                             "times", P[0], P[1], P[2], m[0], m[1], m[2], chunk, o, seen[o],
                             seen[n + o]);
            }
    assert_int_equal(w.bad, 0);
    free(v);
    free(seen);
}

static void test_walk_is_the_flip(void **state)
{
    static const int shapes[][3] = {{5, 4, 7}, {4, 5, 6}, {3, 7, 21}, {2, 3, 37}, {1, 1, 9},
                                    {1, 6, 1}, {7, 1, 3}, {6, 9, 32}};
    (void)state;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int combo = 0; combo < 8; combo++) {
            const int m[3] = {combo & 1, combo >> 1 & 1, combo >> 2 & 1};
            const int *P = shapes[s];
            /* one row a run (chunk under a row), two, three, a whole plane and more */
            const size_t chunks[] = {1, 2 * (size_t)P[2], 3 * (size_t)P[2] + 1, 2048};
            for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++)
                for (int visit = 0; visit < 4; visit++)
                    check_walk(P, m, chunks[c], visit);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk_is_the_flip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
