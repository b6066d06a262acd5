/* grid.c - the resampling grid of an augmented sample (see grid.h): its matrix and centre,
 * the row walk, the case geometry, the separable sampler's axis tables and plane pairs, and
 * the grid as an affine for the NIfTI patches (pf_aug_grid). */
#include "grid.h"

#include <math.h>
#include <stdlib.h>

#include "detmath.h"

/* M = R2(a2) R1(a1) R0(a0) S, acting on (z, y, x) offsets from the patch centre: Ri turns
 * the plane of the two other axes by ai, and S scales every axis, or the in-plane axes only
 * when dims == 2. This is batchgeneratorsv2's create_affine_matrix_3d (Rz Ry Rx S with Rx
 * built from the angle drawn for axis 0) on nnU-Net's (z, y, x) grid. Without rotation the
 * angles are 0 and pf_cos/pf_sin give exactly 1 and 0. */
static void grid_matrix(const pf_aug_params *p, double M[3][3])
{
    double c0 = pf_cos(p->angle[0]), s0 = pf_sin(p->angle[0]);
    double c1 = pf_cos(p->angle[1]), s1 = pf_sin(p->angle[1]);
    double c2 = pf_cos(p->angle[2]), s2 = pf_sin(p->angle[2]);
    double R0[3][3] = {{1, 0, 0}, {0, c0, -s0}, {0, s0, c0}};
    double R1[3][3] = {{c1, 0, s1}, {0, 1, 0}, {-s1, 0, c1}};
    double R2[3][3] = {{c2, -s2, 0}, {s2, c2, 0}, {0, 0, 1}};
    double T[3][3], k = p->scale_on ? p->scale : 1.0;
    const double S[3] = {p->dims == 2 ? 1.0 : k, k, k};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            T[i][j] = 0.0;
            for (int m = 0; m < 3; m++)
                T[i][j] += R2[i][m] * R1[m][j];
        }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            M[i][j] = 0.0;
            for (int m = 0; m < 3; m++)
                M[i][j] += T[i][m] * R0[m][j];
            M[i][j] *= S[j];
        }
}

void pf_grid_init(grid *g, const pf_aug_params *p, const int64_t start[3], const int patch[3])
{
    const int fold = pf_aug_mirror_in_grid(p);
    grid_matrix(p, g->M);
    for (int d = 0; d < 3; d++) {
        g->flip[d] = fold && p->mirror[d];
        g->h[d] = (patch[d] - 1) / 2.0;
        g->c[d] = (double)start[d] + g->h[d] + p->centre_shift[d];
    }
}

static void grid_at(const grid *g, int z, int y, int x, double out[3])
{
    double o[3] = {z - g->h[0], y - g->h[1], x - g->h[2]};
    for (int i = 0; i < 3; i++)
        out[i] = g->c[i] + g->M[i][0] * o[0] + g->M[i][1] * o[1] + g->M[i][2] * o[2];
}

void pf_row_walk_init(row_walk *rw, const grid *g, int z, int y)
{
    double q0[3];
    grid_at(g, z, y, 0, q0);
    for (int d = 0; d < 3; d++) {
        rw->q0[d] = (float)q0[d];
        rw->dq[d] = (float)g->M[d][2];
    }
    for (int k = 0; k < PF_VL; k++)
        rw->xs[k] = (float)k;
}

void pf_case_geom_init(case_geom *cg, const pf_case *c, const grid *g, const int patch[3])
{
    const int64_t *S = c->hdr.shape;
    const size_t stride[3] = {(size_t)(S[1] * S[2]), (size_t)S[2], 1};
    size_t off[3]; /* of a cell's second corner along each axis */
    cg->usable = S[0] * S[1] * S[2] < INT32_MAX;
    for (int d = 0; d < 3; d++) {
        cg->S[d] = (int32_t)S[d];
        cg->collapsed[d] = patch[d] == 1 && g->c[d] == floor(g->c[d]);
        for (int e = 0; e < 3; e++)
            if (e != d && g->M[d][e] != 0.0)
                cg->collapsed[d] = 0;
        off[d] = cg->collapsed[d] ? 0 : stride[d];
    }
    for (int j = 0; j < 8; j++)
        cg->corner[j] = ((j >> 2) ? off[0] : 0) + (((j >> 1) & 1) ? off[1] : 0) + ((j & 1) ? off[2] : 0);
}

void pf_grid_release(const pf_case *c, const pf_case_map *m, const grid *g, const int patch[3],
                     int z0, int z1, int image, int seg)
{
    int64_t lo[3], hi[3];
    if (z1 <= z0)
        return;
    /* the grid is affine: the box's eight corners bound every position of it; each cell reads
     * its far corner too (+ 1), and positions are computed in float (one voxel of margin) */
    for (int d = 0; d < 3; d++) {
        lo[d] = INT64_MAX;
        hi[d] = INT64_MIN;
    }
    for (int k = 0; k < 8; k++) {
        double q[3];
        grid_at(g, (k >> 2) ? z1 - 1 : z0, ((k >> 1) & 1) ? patch[1] - 1 : 0,
                (k & 1) ? patch[2] - 1 : 0, q);
        for (int d = 0; d < 3; d++) {
            double f = floor(q[d]);
            /* far outside the case: clamp before converting (release clips to the case) */
            f = f < -2.0 ? -2.0 : f > (double)c->hdr.shape[d] + 2.0 ? (double)c->hdr.shape[d] + 2.0 : f;
            lo[d] = (int64_t)f - 1 < lo[d] ? (int64_t)f - 1 : lo[d];
            hi[d] = (int64_t)f + 3 > hi[d] ? (int64_t)f + 3 : hi[d];
        }
    }
    if (image)
        for (int ch = 0; ch < (int)c->hdr.n_channels; ch++)
            pf_case_release(c, m, ch, lo[0], hi[0], lo[1], hi[1]);
    if (seg)
        pf_case_release(c, m, PF_PART_SEG, lo[0], hi[0], lo[1], hi[1]);
}

int pf_grid_axis_aligned(const grid *g)
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            if (i != j && g->M[i][j] != 0.0)
                return 0;
    return 1;
}

void pf_axis_tables_free(axis_tables *t)
{
    for (int d = 0; d < 3; d++) {
        free(t->f[d]);
        free(t->w[d]);
        free(t->in[d]);
    }
}

int pf_axis_tables_make(axis_tables *t, const grid *g, const case_geom *cg, const int patch[3])
{
    memset(t, 0, sizeof *t);
    for (int d = 0; d < 3; d++) {
        size_t n = (size_t)patch[d] + PF_VL;
        t->len[d] = patch[d];
        t->f[d] = calloc(n, sizeof *t->f[d]);
        t->w[d] = calloc(n, sizeof *t->w[d]);
        t->in[d] = calloc(n, 1);
        if (!t->f[d] || !t->w[d] || !t->in[d]) {
            pf_axis_tables_free(t);
            return -1;
        }
    }
    for (int d = 0; d < 3; d++)
        for (int o = 0; o < patch[d]; o += d == 2 ? PF_VL : 1) {
            row_walk rw;
            pf_vi f[3];
            pf_vf w[3];
            pf_row_walk_init(&rw, g, d == 0 ? o : 0, d == 1 ? o : 0);
            row_points(&rw, d == 2 ? o : 0, f, w);
            for (int k = 0; k < (d == 2 ? PF_VL : 1) && o + k < patch[d]; k++) {
                t->f[d][o + k] = f[d][k];
                t->w[d][o + k] = w[d][k];
                t->in[d][o + k] = f[d][k] >= 0 && f[d][k] < cg->S[d] - 1;
            }
        }
    t->ylo = INT32_MAX;
    t->yhi = -1;
    for (int y = 0; y < patch[1]; y++)
        if (t->in[1][y]) {
            t->ylo = t->f[1][y] < t->ylo ? t->f[1][y] : t->ylo;
            t->yhi = t->f[1][y] + 1 > t->yhi ? t->f[1][y] + 1 : t->yhi;
        }
    return 0;
}

void pf_plane_pair_get(plane_pair *pp, int32_t za, int *sa, int *sb)
{
    const int32_t zb = za + 1;
    *sa = pp->tag[0] == za ? 0 : pp->tag[1] == za ? 1 : -1;
    if (*sa < 0) {
        *sa = pp->tag[0] == zb ? 1 : 0; /* keep zb if it is there */
        pp->make(pp->arg, *sa, za);
        pp->tag[*sa] = za;
    }
    *sb = *sa ^ 1;
    if (pp->tag[*sb] != zb) {
        pp->make(pp->arg, *sb, zb);
        pp->tag[*sb] = zb;
    }
}

void pf_aug_grid(const pf_aug_params *p, const int64_t start[3], const int patch[3],
                 double G[3][3], double origin[3])
{
    memset(G, 0, 9 * sizeof(double));
    for (int d = 0; d < 3; d++) {
        G[d][d] = 1.0;
        origin[d] = (double)start[d];
    }
    if (!p)
        return;
    if (pf_aug_spatial(p)) {
        grid g;
        pf_grid_init(&g, p, start, patch);
        memcpy(G, g.M, sizeof g.M);
        for (int i = 0; i < 3; i++) {
            origin[i] = g.c[i];
            for (int j = 0; j < 3; j++)
                origin[i] -= g.M[i][j] * g.h[j];
        }
    }
    for (int a = 0; a < 3; a++)
        if (p->mirror[a])
            for (int i = 0; i < 3; i++) {
                origin[i] += G[i][a] * (patch[a] - 1);
                G[i][a] = -G[i][a];
            }
}

