/*
 * test_text.c - normalization, tokenization, n-gram features and tf-idf weights.
 * The feature id lists are goldens from an independent implementation of the spec.
 */
#include "tests.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct words {
    char out[512];
    size_t len;
    int n;
} words;

/* Collects normalized words as UTF-8, space-separated. */
static void collect(const int32_t *cp, size_t n, void *user) {
    words *w = user;
    if (w->n++)
        w->out[w->len++] = ' ';
    for (size_t i = 0; i < n; i++) {
        uint32_t c = (uint32_t)cp[i];
        if (c < 0x80) w->out[w->len++] = (char)c;
        else if (c < 0x800) { w->out[w->len++] = (char)(0xC0 | c >> 6); w->out[w->len++] = (char)(0x80 | (c & 0x3F)); }
        else if (c < 0x10000) { w->out[w->len++] = (char)(0xE0 | c >> 12); w->out[w->len++] = (char)(0x80 | (c >> 6 & 0x3F)); w->out[w->len++] = (char)(0x80 | (c & 0x3F)); }
        else { w->out[w->len++] = (char)(0xF0 | c >> 18); w->out[w->len++] = (char)(0x80 | (c >> 12 & 0x3F)); w->out[w->len++] = (char)(0x80 | (c >> 6 & 0x3F)); w->out[w->len++] = (char)(0x80 | (c & 0x3F)); }
    }
    w->out[w->len] = '\0';
}

static const char *norm(uint32_t flags, const char *text) {
    static words w;
    static int32_t buf[INTENTI_WORD_CAP];
    memset(&w, 0, sizeof w);
    intenti_featspec fs = {0, 1024, 1, 0, 0, flags};
    intenti_words(&fs, text, strlen(text), buf, collect, &w);
    return w.out;
}

static void normalization_golden(void **state) {
    (void)state;
    uint32_t strip = INTENTI_FEAT_STRIP_ACCENTS;
    assert_string_equal(norm(0, "Open MY Files!"), "open my files");
    assert_string_equal(norm(strip, "Caf\xc3\xa9 na\xc3\xafve Z\xc3\xb6\x65"), "cafe naive zoe");
    assert_string_equal(norm(0, "Caf\xc3\xa9"), "caf\xc3\xa9");            /* NFC form kept */
    assert_string_equal(norm(0, "Cafe\xcc\x81"), "caf\xc3\xa9");           /* e + combining acute -> é */
    assert_string_equal(norm(0, "\xef\xbc\xa6\xef\xbd\x95\xef\xbd\x8c\xef\xbd\x8c"), "full"); /* fullwidth */
    assert_string_equal(norm(0, "\xef\xac\x81ne"), "fine");                /* ﬁ ligature */
    assert_string_equal(norm(0, "STRASSE Stra\xc3\x9f" "e"), "strasse strasse"); /* case folding ß */
    assert_string_equal(norm(0, "what's up? 2day,ok"), "what s up 2day ok");
    assert_string_equal(norm(0, "M\xc3\x9cNCHEN"), "m\xc3\xbcnchen");
    assert_string_equal(norm(0, "\xce\x9f\xce\xb4\xcf\x8c\xcf\x82"), "\xce\xbf\xce\xb4\xcf\x8c\xcf\x83"); /* Greek final sigma folds */
    assert_string_equal(norm(0, ""), "");
    assert_string_equal(norm(0, " \t!?-- "), "");
}

static void invalid_utf8_separates(void **state) {
    (void)state;
    assert_string_equal(norm(0, "open\xff" "files"), "open files");
    assert_string_equal(norm(0, "a\xc3"), "a");          /* truncated sequence */
    assert_string_equal(norm(0, "x\xed\xa0\x80y"), "x y"); /* surrogate */
    assert_string_equal(norm(0, "p\xc0\xafq"), "p q");   /* overlong '/' */
}

static void long_words_are_cut(void **state) {
    (void)state;
    char text[300];
    memset(text, 'a', 200);
    text[200] = '\0';
    const char *w = norm(0, text);
    assert_int_equal(strlen(w), INTENT_MAX_WORD);
}

static void extract(const intenti_featspec *fs, intenti_feats *f, const char *text) {
    intenti_extract(fs, f, text, strlen(text));
    intenti_feats_counts(f); /* direct dedup leaves them in its table */
}

static void feature_ids_golden(void **state) {
    (void)state;
    intenti_feats f;
    assert_int_equal(intenti_feats_init(&f), INTENT_OK);
    intenti_featspec fs = {0, 1u << 20, 2, 3, 3, INTENTI_FEAT_WORD_BOUNDS};
    static const uint32_t want[] = {506936, 172858, 606871, 435770, 983677, 195046, 758340, 836357, 471035,
                                    551705, 882403, 102306, 366278, 936522, 643799, 434798, 404048, 880487};
    extract(&fs, &f, "Open my files");
    assert_int_equal(f.n, sizeof want / sizeof *want);
    for (uint32_t i = 0; i < f.n; i++) {
        assert_int_equal(f.ids[i], want[i]);
        assert_true(f.vals[i] == 1.0f);
    }
    /* trigrams, repeats, small bucket space (collisions add up) */
    intenti_featspec fs2 = {99, 1000, 3, 2, 4, INTENTI_FEAT_WORD_BOUNDS};
    static const uint32_t want2[] = {364, 914, 932, 137, 958, 501, 673, 879, 964, 319, 109, 745, 900, 103, 192, 599,
                                     155, 213, 952, 223, 471, 725, 208, 569, 943, 841, 384, 444, 188, 977, 466, 115, 393};
    extract(&fs2, &f, "play PLAY jazz");
    assert_int_equal(f.n, sizeof want2 / sizeof *want2);
    float total = 0;
    for (uint32_t i = 0; i < f.n; i++) {
        assert_int_equal(f.ids[i], want2[i]);
        total += f.vals[i];
    }
    assert_int_equal(f.vals[0], 2); /* the unigram "play" occurs twice */
    /* every n-gram occurrence is counted once: 3 unigrams, 4 bigrams, 3 trigrams,
     * char 2..4-grams of <play> twice (5+4+3) and <jazz> once (5+4+3) */
    assert_true(fabsf(total - (3 + 4 + 3 + 2 * 12 + 12)) < 1e-6f);
    intenti_feats_free(&f);
}

static void extraction_is_repeatable(void **state) {
    (void)state;
    intenti_feats f;
    assert_int_equal(intenti_feats_init(&f), INTENT_OK);
    intenti_featspec fs = {5, 4096, 2, 2, 5, INTENTI_FEAT_WORD_BOUNDS | INTENTI_FEAT_SUBLINEAR};
    extract(&fs, &f, "turn the volume up and play some jazz");
    uint32_t n = f.n, ids[INTENTI_MAX_FEATURES];
    memcpy(ids, f.ids, n * sizeof *ids);
    extract(&fs, &f, "something else entirely");
    extract(&fs, &f, "turn the volume up and play some jazz");
    assert_int_equal(f.n, n);
    assert_memory_equal(f.ids, ids, n * sizeof *ids);
    intenti_feats_free(&f);
}

static void tfidf_weights(void **state) {
    (void)state;
    intenti_feats f;
    assert_int_equal(intenti_feats_init(&f), INTENT_OK);
    intenti_featspec fs = {0, 64, 1, 0, 0, INTENTI_FEAT_SUBLINEAR};
    float idf[64];
    for (int i = 0; i < 64; i++)
        idf[i] = 1.0f + (float)i / 8.0f;
    extract(&fs, &f, "a a a b");
    uint32_t a = f.ids[0], b = f.ids[1];
    intenti_weigh(&fs, idf, &f);
    assert_int_equal(f.n, 2);
    float wa = (1.0f + logf(3.0f)) * idf[a], wb = idf[b], norm = sqrtf(wa * wa + wb * wb);
    assert_float_equal(f.vals[0], wa / norm, 1e-6);
    assert_float_equal(f.vals[1], wb / norm, 1e-6);
    /* buckets never seen in training (idf 0) are dropped */
    idf[b] = 0.0f;
    extract(&fs, &f, "a a a b");
    intenti_weigh(&fs, idf, &f);
    assert_int_equal(f.n, 1);
    assert_float_equal(f.vals[0], 1.0f, 1e-6);
    /* nothing at all: no features, no NaN */
    extract(&fs, &f, "?!");
    intenti_weigh(&fs, idf, &f);
    assert_int_equal(f.n, 0);
    intenti_feats_free(&f);
}

static void feature_cap_holds(void **state) {
    (void)state;
    intenti_feats f;
    assert_int_equal(intenti_feats_init(&f), INTENT_OK);
    intenti_featspec fs = {0, 1u << 24, 2, 1, 8, 0};
    /* 256 distinct long words give far more than INTENT_MAX_FEATURES n-grams */
    static char text[256 * 20];
    size_t at = 0;
    for (int i = 0; i < 256; i++)
        at += (size_t)snprintf(text + at, sizeof text - at, "w%dxyzqrstuvab ", i * 7919);
    extract(&fs, &f, text);
    assert_int_equal(f.n, INTENT_MAX_FEATURES);
    intenti_feats_free(&f);
}

/* Direct dedup (serving contexts: counts kept in the table of every bucket) gives exactly
 * what the hash table gives: same buckets in the same order, same counts; on short texts,
 * texts of many repeats, and texts past the cap on distinct n-grams. */
static void direct_dedup_equals_table(void **state) {
    (void)state;
    intenti_feats a, b;
    assert_int_equal(intenti_feats_init(&a), INTENT_OK);
    assert_int_equal(intenti_feats_init(&b), INTENT_OK);
    static char huge[2][256 * 24];
    size_t at = 0;
    for (int i = 0; i < 256; i++) /* distinct words: past the cap on distinct n-grams */
        at += (size_t)snprintf(huge[0] + at, sizeof huge[0] - at, "w%dxyzqrstuvab ", i * 7919);
    at = 0;
    for (int i = 0; i < 256; i++) /* few words, long: occurrences past INTENTI_RAW_CAP */
        at += (size_t)snprintf(huge[1] + at, sizeof huge[1] - at, "%sabcdefghijklmnopq ", i % 3 ? "x" : "y");
    const char *texts[] = {"turn the volume up and play some jazz", "a a a b a b", "", "jazz jazz jazz jazz",
                           huge[0], huge[1], "play play the song the the song"};
    intenti_featspec specs[] = {{5, 4096, 2, 2, 5, INTENTI_FEAT_WORD_BOUNDS}, {0, 1u << 16, 3, 1, 8, 0}};
    for (int s = 0; s < 2; s++) {
        assert_int_equal(intenti_feats_direct(&a, specs[s].buckets), INTENT_OK);
        for (int round = 0; round < 2; round++)
            for (size_t t = 0; t < sizeof texts / sizeof *texts; t++) {
                extract(&specs[s], &a, texts[t]);
                extract(&specs[s], &b, texts[t]);
                assert_int_equal(a.n, b.n);
                assert_memory_equal(a.ids, b.ids, a.n * sizeof *a.ids);
                assert_memory_equal(a.vals, b.vals, a.n * sizeof *a.vals);
            }
    }
    /* the marks' generation is 12 bits: past 4,095 texts it wraps and the marks are
     * cleared; texts on both sides of every wrap still count right */
    for (uint32_t i = 0; i < 20000; i++) {
        const char *t = i % 2 ? "play play jazz" : "jazz and more jazz";
        extract(&specs[0], &a, t);
        uint32_t g = i % (INTENTI_DD_GENS - 1); /* texts since the last wrap */
        if (i % 997 == 0 || g < 3 || g > INTENTI_DD_GENS - 5) {
            extract(&specs[0], &b, t);
            assert_int_equal(a.n, b.n);
            assert_memory_equal(a.ids, b.ids, a.n * sizeof *a.ids);
            assert_memory_equal(a.vals, b.vals, a.n * sizeof *a.vals);
        }
    }
    intenti_feats_free(&a);
    intenti_feats_free(&b);
}

static void featspec_validation(void **state) {
    (void)state;
    intenti_featspec ok = {0, 1024, 2, 2, 5, 0};
    assert_null(intenti_featspec_problem(&ok));
    intenti_featspec bad[] = {
        {0, 0, 2, 2, 5, 0}, {0, 1024, 4, 2, 5, 0}, {0, 1024, 2, 5, 2, 0},
        {0, 1024, 2, 0, 5, 0}, {0, 1024, 2, 2, 9, 0}, {0, 1024, 0, 0, 0, 0}, {0, 1024, 1, 0, 0, 0x100},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_non_null(intenti_featspec_problem(&bad[i]));
}

int test_text(int *total) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(normalization_golden), cmocka_unit_test(invalid_utf8_separates),
        cmocka_unit_test(long_words_are_cut), cmocka_unit_test(feature_ids_golden),
        cmocka_unit_test(extraction_is_repeatable), cmocka_unit_test(tfidf_weights),
        cmocka_unit_test(feature_cap_holds), cmocka_unit_test(direct_dedup_equals_table), cmocka_unit_test(featspec_validation),
    };
    return RUN("text", tests, total);
}
