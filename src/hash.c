/*
 * hash.c - the feature hash and CRC-32C.
 *
 * The feature hash is part of the model format ("feat.hash" = "ih1"): changing a single
 * constant here changes every model's meaning, so it is frozen and pinned by test vectors
 * in tests/test_hash.c. It is FNV-1a over 32-bit code points (one step per code point,
 * not per byte), seeded and tagged by feature kind, finished with MurmurHash3's fmix32
 * so that the low and high bits both spread.
 */
#include "intent_impl.h"

#include <string.h>

uint32_t intenti_hash_cps(uint32_t seed, uint32_t tag, const int32_t *cp, size_t n) {
    uint32_t h = intenti_fnv_step(INTENTI_FNV_BASIS ^ seed, tag);
    for (size_t i = 0; i < n; i++)
        h = intenti_fnv_step(h, (uint32_t)cp[i]);
    return intenti_fmix32(h);
}

/* Combines two finished hashes (word n-grams). Order matters: (a, b) != (b, a). */
uint32_t intenti_hash_pair(uint32_t a, uint32_t b) {
    return intenti_fmix32(a * 0x9E3779B1u + b + 0x7F4A7C15u);
}

/* ---- CRC-32C ----
 * Software: slice-by-8 tables built on first use (a benign race: every thread writes the
 * same values, and `ready` is only set after). Hardware: SSE4.2 crc32 instructions, about
 * 8 bytes a cycle, which keeps checking a 2 MB model under a quarter millisecond. */
static uint32_t tab[8][256];
static volatile int ready;

static void build_tables(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
        tab[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            tab[t][i] = (tab[t - 1][i] >> 8) ^ tab[0][tab[t - 1][i] & 0xFF];
    __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
}

static uint32_t crc_soft(uint32_t crc, const uint8_t *p, size_t n) {
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE))
        build_tables();
    while (n >= 8) {
        uint32_t lo = intenti_ld32(p) ^ crc, hi = intenti_ld32(p + 4);
        crc = tab[7][lo & 0xFF] ^ tab[6][(lo >> 8) & 0xFF] ^ tab[5][(lo >> 16) & 0xFF] ^
              tab[4][lo >> 24] ^ tab[3][hi & 0xFF] ^ tab[2][(hi >> 8) & 0xFF] ^
              tab[1][(hi >> 16) & 0xFF] ^ tab[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc >> 8) ^ tab[0][(crc ^ *p++) & 0xFF];
    return crc;
}

#if defined(__x86_64__)
#include <nmmintrin.h>
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t n) {
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
        p += 8;
        n -= 8;
    }
    while (n--)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    return (uint32_t)c;
}
#endif

uint32_t intenti_crc32c(uint32_t crc, const void *data, size_t n) {
    crc = ~crc;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2"))
        return ~crc_hw(crc, data, n);
#endif
    return ~crc_soft(crc, data, n);
}
