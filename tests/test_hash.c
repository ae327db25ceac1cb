/*
 * test_hash.c - the feature hash and CRC-32C against pinned vectors.
 *
 * The feature hash is part of the model format: these values were computed by an
 * independent implementation of the spec in hash.c (FNV-1a over code points, seeded and
 * tagged, MurmurHash3 fmix32) and must never change.
 */
#include "tests.h"

#include <string.h>

static uint32_t h(uint32_t seed, uint32_t tag, const char *ascii_or_utf32) {
    int32_t cp[64];
    size_t n = 0;
    const uint8_t *s = (const uint8_t *)ascii_or_utf32;
    size_t len = strlen(ascii_or_utf32), i = 0;
    while (i < len) {
        size_t k = intenti_utf8_next(s + i, len - i, &cp[n]);
        assert_true(k > 0);
        i += k;
        n++;
    }
    return intenti_hash_cps(seed, tag, cp, n);
}

static void feature_hash_vectors(void **state) {
    (void)state;
    assert_int_equal(h(0, INTENTI_TAG_WORD, "open"), 0x7bc38c0c);
    assert_int_equal(h(0, INTENTI_TAG_WORD, ""), 0x974204d1);
    assert_int_equal(h(12345, INTENTI_TAG_WORD, "files"), 0x7b2793ae);
    assert_int_equal(h(0, INTENTI_TAG_CHAR, "<op"), 0x942971d6);
    assert_int_equal(h(7, INTENTI_TAG_WORD, "caf\xc3\xa9"), 0x66ca2836);
    assert_int_equal(h(0, INTENTI_TAG_BOS, ""), 0x90025c5a);
    assert_int_equal(h(0, INTENTI_TAG_EOS, ""), 0x441947a7);
    assert_int_equal(intenti_hash_pair(h(0, INTENTI_TAG_WORD, "open"), h(0, INTENTI_TAG_WORD, "files")), 0x7d51d2b7);
    assert_int_equal(intenti_bucket(0x7bc38c0c, 1000), 483);
}

static void hash_is_order_and_seed_sensitive(void **state) {
    (void)state;
    uint32_t a = h(0, INTENTI_TAG_WORD, "ab"), b = h(0, INTENTI_TAG_WORD, "ba");
    assert_int_not_equal(a, b);
    assert_int_not_equal(h(0, INTENTI_TAG_WORD, "ab"), h(1, INTENTI_TAG_WORD, "ab"));
    assert_int_not_equal(h(0, INTENTI_TAG_WORD, "ab"), h(0, INTENTI_TAG_CHAR, "ab"));
    assert_int_not_equal(intenti_hash_pair(a, b), intenti_hash_pair(b, a));
}

static void bucket_stays_in_range(void **state) {
    (void)state;
    uint32_t n[] = {1, 2, 3, 1000, 32768, 1u << 30};
    for (size_t i = 0; i < sizeof n / sizeof *n; i++) {
        assert_true(intenti_bucket(0, n[i]) < n[i]);
        assert_true(intenti_bucket(UINT32_MAX, n[i]) < n[i]);
        assert_true(intenti_bucket(0x80000000u, n[i]) < n[i]);
    }
}

/* RFC 3720 (iSCSI) test vectors, plus the usual check value. */
static void crc32c_vectors(void **state) {
    (void)state;
    uint8_t buf[32];
    assert_int_equal(intenti_crc32c(0, "123456789", 9), 0xE3069283);
    assert_int_equal(intenti_crc32c(0, "", 0), 0);
    memset(buf, 0, 32);
    assert_int_equal(intenti_crc32c(0, buf, 32), 0x8A9136AA);
    memset(buf, 0xFF, 32);
    assert_int_equal(intenti_crc32c(0, buf, 32), 0x62A8AB43);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal(intenti_crc32c(0, buf, 32), 0x46DD794E);
    /* incremental == one shot, at every split point */
    for (size_t k = 0; k <= 32; k++)
        assert_int_equal(intenti_crc32c(intenti_crc32c(0, buf, k), buf + k, 32 - k), 0x46DD794E);
}

static void rng_is_seeded_and_bounded(void **state) {
    (void)state;
    intenti_rng a, b, c;
    intenti_rng_seed(&a, 42, 1);
    intenti_rng_seed(&b, 42, 1);
    intenti_rng_seed(&c, 42, 2);
    int same_c = 0;
    for (int i = 0; i < 1000; i++) {
        uint32_t x = intenti_rng_u32(&a);
        assert_int_equal(x, intenti_rng_u32(&b));
        same_c += x == intenti_rng_u32(&c);
        assert_true(intenti_rng_below(&a, 7) < 7);
        float u = intenti_rng_unit(&b);
        assert_true(u >= 0.0f && u < 1.0f);
        (void)intenti_rng_below(&b, 7);
        (void)intenti_rng_unit(&a);
    }
    assert_true(same_c < 5);
}

int test_hash(int *total) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(feature_hash_vectors), cmocka_unit_test(hash_is_order_and_seed_sensitive),
        cmocka_unit_test(bucket_stays_in_range), cmocka_unit_test(crc32c_vectors),
        cmocka_unit_test(rng_is_seeded_and_bounded),
    };
    return RUN("hash", tests, total);
}
