/*
 * rng.c - seeded random numbers: PCG32 (O'Neill), seeded through splitmix64.
 *
 * Training is deterministic for a given seed, so every random draw (weight init, shuffles,
 * dropout masks, the held-out split) comes from a stream derived from the seed and a
 * fixed stream number, never from time or addresses.
 */
#include "intent_impl.h"

uint64_t intenti_splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void intenti_rng_seed(intenti_rng *r, uint64_t seed, uint64_t stream) {
    uint64_t s = seed ^ (stream * 0xD1B54A32D192ED03ull);
    r->inc = (intenti_splitmix64(&s) << 1) | 1u;
    r->state = intenti_splitmix64(&s);
    (void)intenti_rng_u32(r);
}

uint32_t intenti_rng_u32(intenti_rng *r) {
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ull + r->inc;
    uint32_t xs = (uint32_t)(((old >> 18) ^ old) >> 27);
    uint32_t rot = (uint32_t)(old >> 59);
    return (xs >> rot) | (xs << ((32 - rot) & 31));
}

/* Unbiased integer in [0, n), n >= 1 (Lemire's method with rejection). */
uint32_t intenti_rng_below(intenti_rng *r, uint32_t n) {
    uint64_t m = (uint64_t)intenti_rng_u32(r) * n;
    uint32_t lo = (uint32_t)m;
    if (lo < n) {
        uint32_t t = (0u - n) % n;
        while (lo < t) {
            m = (uint64_t)intenti_rng_u32(r) * n;
            lo = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

float intenti_rng_unit(intenti_rng *r) { return (float)(intenti_rng_u32(r) >> 8) * (1.0f / 16777216.0f); }
