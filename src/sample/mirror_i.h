/* mirror_i.h - the mirroring as a walk over pairs of row runs, for a pass that does per-voxel
 * work on a channel and mirrors it in the same trip through memory (intensity_pass.c: the
 * intensity chain's last pass). Internal to the sample layer (mirror.c). */
#ifndef PATCHFS_MIRROR_I_H
#define PATCHFS_MIRROR_I_H

#include <stddef.h>

/* Per-voxel work on voxels [at, at + n) of a channel, v pointing at voxel at */
typedef void pf_mirror_visit(float *v, size_t at, size_t n, void *arg);

/* Mirrors the (P0, P1, P2) channel v in place along the axes m[d] != 0, as the separate pass
 * (pf_aug_mirror_pass) does, by runs of whole rows (at most max(chunk / P2, 1) rows) taken in
 * pairs that the mirroring exchanges. Around each exchange, while both runs are in cache:
 * before (when not NULL) gets each run at its place before the mirroring (at: the voxels'
 * indices before it), after (when not NULL) each run at its place after (at: their indices
 * after it). So every voxel goes through before once at its unmirrored index, then through
 * after once at its mirrored index. The runs come in no useful order. */
void pf_mirror_walk(float *v, const int P[3], const int m[3], size_t chunk, pf_mirror_visit *before,
                    pf_mirror_visit *after, void *arg);

#endif
