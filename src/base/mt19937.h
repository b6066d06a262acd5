/* mt19937.h - numpy's legacy random generator (np.random.RandomState(seed)), reproduced where
 * patchfs must make the same choices nnU-Net makes with it: the folds of its cross-validation
 * (KFold's shuffle) and the foreground voxels its fingerprint samples for CT statistics
 * (RandomState(1234).choice). MT19937 with init_genrand seeding, and numpy's masked rejection
 * for bounded integers. Not used for anything patchfs decides itself (rng.h is for that). */
#ifndef PATCHFS_MT19937_H
#define PATCHFS_MT19937_H

#include <stdint.h>

typedef struct pf_mt19937 {
    uint32_t mt[624];
    int pos;
} pf_mt19937;

/* RandomState(seed) for a seed below 2^32. */
void pf_mt_seed(pf_mt19937 *s, uint32_t seed);
uint32_t pf_mt_next32(pf_mt19937 *s);

/* A uniform integer in [0, max], as numpy's legacy bounded draws make it: a mask of max's
 * bit length, 32-bit words while max < 2^32 (64-bit words, high word first, beyond),
 * rejecting values above max. max = 0 consumes nothing. This is what shuffle's
 * random_interval and randint(0, max + 1) (so choice(n, replace=True)) draw. */
uint64_t pf_mt_interval(pf_mt19937 *s, uint64_t max);

#endif
