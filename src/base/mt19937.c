/* mt19937.c - numpy's legacy MT19937 and its bounded integers (see mt19937.h). */
#include "mt19937.h"

void pf_mt_seed(pf_mt19937 *s, uint32_t seed)
{
    s->mt[0] = seed;
    for (int i = 1; i < 624; i++)
        s->mt[i] = 1812433253u * (s->mt[i - 1] ^ (s->mt[i - 1] >> 30)) + (uint32_t)i;
    s->pos = 624;
}

uint32_t pf_mt_next32(pf_mt19937 *s)
{
    uint32_t y;
    if (s->pos >= 624) {
        for (int i = 0; i < 624; i++) {
            y = (s->mt[i] & 0x80000000u) | (s->mt[(i + 1) % 624] & 0x7fffffffu);
            s->mt[i] = s->mt[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        s->pos = 0;
    }
    y = s->mt[s->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

uint64_t pf_mt_interval(pf_mt19937 *s, uint64_t max)
{
    uint64_t mask = max, v;
    if (max == 0)
        return 0;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    if (max <= 0xffffffffu) {
        while ((v = pf_mt_next32(s) & mask) > max)
            ;
        return v;
    }
    do {
        uint64_t hi = pf_mt_next32(s);
        v = ((hi << 32) | pf_mt_next32(s)) & mask;
    } while (v > max);
    return v;
}
