/* mirror_i.h - the mirroring as a walk over pairs of row runs, for a pass that does per-voxel
 * work on a channel and mirrors it in the same trip through memory (intensity_pass.c: the
 * intensity chain's last pass). Internal to the sample layer (mirror.c). */
#ifndef PATCHFS_MIRROR_I_H
#define PATCHFS_MIRROR_I_H

#include <stddef.h>

/* Per-voxel work on voxels [at, at + n) of a channel, v pointing at voxel at (its place before
 * the mirroring) */
typedef void pf_mirror_visit(float *v, size_t at, size_t n, void *arg);

/* Mirrors the (P0, P1, P2) channel v in place along the axes m[d] != 0, as the separate pass
 * (pf_aug_mirror_pass) does, and when visit is not NULL hands every voxel to it exactly once
 * beforehand, at its unmirrored place: by runs of whole rows (at most max(chunk / P2, 1) rows),
 * each run visited right before it and the run it exchanges places with are moved, so both are
 * still in cache. The visits come in no useful order; each run's voxels are its own. */
void pf_mirror_walk(float *v, const int P[3], const int m[3], size_t chunk, pf_mirror_visit *visit,
                    void *arg);

#endif
