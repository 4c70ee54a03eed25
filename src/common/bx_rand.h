/* bx_rand: splitmix64, the one small seeded generator every brix module
 * uses (routing tie-breaks, the engine's text and jitter, adapter placement,
 * the load generator's workloads, test payloads). Header-only: a state is a
 * uint64_t the caller owns; the same seed gives the same sequence on every
 * machine, which is what tests and benchmarks rely on. Not for secrets. */
#ifndef BX_RAND_H
#define BX_RAND_H

#include <stdint.h>

#define BX_RAND_GAMMA 0x9e3779b97f4a7c15ULL

/* splitmix64's output function of x + gamma: a well-mixed hash of x. */
static inline uint64_t bx_mix64(uint64_t x)
{
    x += BX_RAND_GAMMA;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* The next number of the sequence whose state is *s (advances it). */
static inline uint64_t bx_splitmix64(uint64_t *s)
{
    uint64_t r = bx_mix64(*s);
    *s += BX_RAND_GAMMA;
    return r;
}

#endif
