/*
 * test_model_io.c - the model file: round trip, atomic save, and robustness: every
 * truncation, random byte flips, foreign files, newer versions, and hand-made damage
 * with a valid checksum give a clean error, never a crash.
 */
#include "tests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *TINY =
    "A\tturn on the lights\nA\tlights on please\nB\tplay some music\nB\tplay jazz\n"
    "A,B\tlights on and play music\nC\twhat is the weather\nC\tweather tomorrow\n";

static intent_model *tiny_model(void) {
    intent_dataset *ds = ds_from_text(TINY);
    assert_non_null(ds);
    intent_train_opts o;
    intent_train_opts_init(&o);
    o.buckets = 64;
    o.hidden[0] = 8;
    o.n_hidden = 1;
    o.epochs = 3;
    o.threads = 1;
    intent_model *m = NULL;
    intent_error err;
    assert_int_equal(intent_train(ds, NULL, &o, &m, &err), INTENT_OK);
    intent_dataset_free(ds);
    return m;
}

static uint8_t *image_of(const intent_model *m, size_t *len) {
    const void *p;
    assert_int_equal(intent_model_bytes(m, &p, len), INTENT_OK);
    uint8_t *copy = malloc(*len);
    memcpy(copy, p, *len);
    return copy;
}

static void resign(uint8_t *img, size_t len) { intenti_st32(img + len - 8, intenti_crc32c(0, img, len - 8)); }

static int load(const uint8_t *img, size_t len, intent_error *err) {
    intent_model *m = NULL;
    int rc = intent_model_load_mem(img, len, &m, err);
    if (rc == INTENT_OK)
        intent_model_free(m);
    else
        assert_null(m);
    return rc;
}

static void round_trip_keeps_predictions(void **state) {
    (void)state;
    intent_model *m = tiny_model();
    char path[256];
    intent_error err;
    tmp_path(path, sizeof path, "rt.intent");
    assert_int_equal(intent_model_save(m, path, &err), INTENT_OK);
    intent_model *m2;
    assert_int_equal(intent_model_load(path, &m2, &err), INTENT_OK);
    const void *a, *b;
    size_t la, lb;
    intent_model_bytes(m, &a, &la);
    intent_model_bytes(m2, &b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    intent_ctx *ctx;
    assert_int_equal(intent_ctx_new(m, &ctx), INTENT_OK);
    const char *texts[] = {"lights on", "play jazz now", "weather", "", "zzz"};
    for (int i = 0; i < 5; i++) {
        float c1[3], c2[3];
        size_t len = strlen(texts[i]);
        assert_int_equal(intent_predict_batch(m, ctx, &texts[i], &len, 1, c1), INTENT_OK);
        assert_int_equal(intent_predict_batch(m2, ctx, &texts[i], &len, 1, c2), INTENT_OK);
        assert_memory_equal(c1, c2, sizeof c1);
    }
    assert_int_equal(intent_model_n_labels(m2), 3);
    assert_string_equal(intent_model_label(m2, 1), "B");
    assert_int_equal(intent_model_label_id(m2, "C"), 2);
    assert_int_equal(intent_model_label_id(m2, "D"), -1);
    char desc[4096];
    size_t need = intent_model_describe(m2, desc, sizeof desc);
    assert_true(need < sizeof desc);
    assert_non_null(strstr(desc, "feat.buckets"));
    assert_non_null(strstr(desc, "net0.l0.w"));
    intent_ctx_free(ctx);
    intent_model_free(m);
    intent_model_free(m2);
    remove(path);
}

static void save_is_atomic(void **state) {
    (void)state;
    intent_model *m = tiny_model();
    char path[256];
    intent_error err;
    tmp_path(path, sizeof path, "atomic.intent");
    FILE *fp = fopen(path, "w");
    fputs("old contents", fp);
    fclose(fp);
    /* a save that cannot happen leaves the old file alone */
    assert_int_equal(intent_model_save(m, "/nonexistent-dir/x.intent", &err), INTENT_ERR_IO);
    assert_non_null(strstr(err.message, "/nonexistent-dir/x.intent"));
    assert_int_equal(intent_model_save(m, path, &err), INTENT_OK);
    intent_model *m2;
    assert_int_equal(intent_model_load(path, &m2, &err), INTENT_OK);
    intent_model_free(m2);
    /* no temporary files left behind */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s.tmp.* >/dev/null 2>&1", path);
    assert_int_not_equal(system(cmd), 0);
    intent_model_free(m);
    remove(path);
}

static void every_truncation_fails_cleanly(void **state) {
    (void)state;
    intent_model *m = tiny_model();
    size_t len;
    uint8_t *img = image_of(m, &len);
    intent_error err;
    for (size_t n = 0; n < len; n++) {
        int rc = load(img, n, &err);
        if (rc == INTENT_OK)
            fail_msg("a model cut to %zu of %zu bytes loaded", n, len);
        assert_true(strlen(err.message) > 0);
    }
    assert_int_equal(load(img, len, &err), INTENT_OK);
    /* and through a real file, which takes the mmap path */
    char path[256];
    tmp_path(path, sizeof path, "trunc.intent");
    for (size_t n = 0; n < len; n += 97) {
        FILE *fp = fopen(path, "wb");
        fwrite(img, 1, n, fp);
        fclose(fp);
        intent_model *x = NULL;
        assert_int_not_equal(intent_model_load(path, &x, &err), INTENT_OK);
        assert_null(x);
        assert_non_null(strstr(err.message, path));
    }
    remove(path);
    free(img);
    intent_model_free(m);
}

static void byte_flips_are_caught(void **state) {
    (void)state;
    intent_model *m = tiny_model();
    size_t len;
    uint8_t *img = image_of(m, &len);
    intent_error err;
    intenti_rng r;
    intenti_rng_seed(&r, 5, 0);
    for (int i = 0; i < 2000; i++) {
        size_t at = intenti_rng_below(&r, (uint32_t)len);
        uint8_t x = (uint8_t)(1u << intenti_rng_below(&r, 8));
        img[at] ^= x;
        assert_int_not_equal(load(img, len, &err), INTENT_OK);
        img[at] ^= x;
    }
    free(img);
    intent_model_free(m);
}

static void foreign_files_are_refused(void **state) {
    (void)state;
    intent_error err;
    const char *text = "this is not a model at all, just some text that is long enough to have a header";
    assert_int_equal(load((const uint8_t *)text, strlen(text), &err), INTENT_ERR_FORMAT);
    assert_non_null(strstr(err.message, "not an intent model"));
    assert_int_equal(intent_model_load("/nonexistent/m.intent", &(intent_model *){NULL}, &err), INTENT_ERR_IO);
    assert_int_equal(intent_model_load("/tmp", &(intent_model *){NULL}, &err), INTENT_ERR_IO);
    assert_int_equal(intent_model_load_mem(NULL, 0, &(intent_model *){NULL}, &err), INTENT_ERR_FORMAT);
}

/* Damage with a valid checksum: the structural checks themselves must hold. */
static void structural_damage_is_named(void **state) {
    (void)state;
    intent_model *m = tiny_model();
    size_t len;
    uint8_t *img = image_of(m, &len), *w = malloc(len);
    intent_error err;
    struct { size_t at; uint32_t val; int rc; const char *msg; } cases[] = {
        {8, 2, INTENT_ERR_VERSION, "format version 2.0"},
        {12, 0x0D0C0B0A, INTENT_ERR_FORMAT, "byte-order"},
        {20, 8, INTENT_ERR_FORMAT, "header size"},
        {40, 0xFFFFFFFF, INTENT_ERR_FORMAT, "metadata entries"},
        {44, 0xFFFFFF, INTENT_ERR_FORMAT, "metadata area"},
        {56, 0xFFFFFFFF, INTENT_ERR_FORMAT, "tensors"},
        {60, 0xFFFFFF, INTENT_ERR_FORMAT, "tensor directory"},
        {40, 3, INTENT_ERR_FORMAT, "stray bytes after the metadata"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        memcpy(w, img, len);
        if (cases[i].at == 8)
            w[8] = (uint8_t)cases[i].val;
        else
            intenti_st32(w + cases[i].at, cases[i].val);
        resign(w, len);
        assert_int_equal(load(w, len, &err), cases[i].rc);
        if (!strstr(err.message, cases[i].msg))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.message, cases[i].msg);
    }
    /* a renamed key: required metadata missing */
    memcpy(w, img, len);
    uint8_t *k = memmem(w, len, "feat.buckets", 12);
    assert_non_null(k);
    k[0] = 'x';
    resign(w, len);
    assert_int_equal(load(w, len, &err), INTENT_ERR_FORMAT);
    assert_non_null(strstr(err.message, "feat.buckets"));
    /* a tensor whose name no longer matches */
    memcpy(w, img, len);
    k = memmem(w, len, "net0.l0.b", 9);
    assert_non_null(k);
    k[8] = 'q';
    resign(w, len);
    assert_int_equal(load(w, len, &err), INTENT_ERR_FORMAT);
    assert_non_null(strstr(err.message, "net0.l0.b"));
    /* a newer minor version of the same major still loads */
    memcpy(w, img, len);
    w[10] = 7;
    resign(w, len);
    assert_int_equal(load(w, len, &err), INTENT_OK);
    free(w);
    free(img);
    intent_model_free(m);
}

/* Random damage with a recomputed checksum: anything may be wrong, nothing may crash. */
static void fuzzed_images_never_crash(void **state) {
    (void)state;
    intent_model *m = tiny_model();
    size_t len;
    uint8_t *img = image_of(m, &len), *w = malloc(len);
    intent_error err;
    intenti_rng r;
    intenti_rng_seed(&r, 9, 0);
    int loaded = 0;
    for (int i = 0; i < 3000; i++) {
        memcpy(w, img, len);
        int flips = 1 + (int)intenti_rng_below(&r, 4);
        for (int f = 0; f < flips; f++) {
            /* bias towards the header and directories, where the structure lives */
            size_t span = intenti_rng_below(&r, 2) ? 512 : len - 8;
            w[intenti_rng_below(&r, (uint32_t)(span < len - 8 ? span : len - 8))] = (uint8_t)intenti_rng_u32(&r);
        }
        resign(w, len);
        intent_model *x = NULL;
        if (intent_model_load_mem(w, len, &x, &err) == INTENT_OK) {
            loaded++;
            intent_ctx *ctx;
            size_t nt, no;
            intent_score s[4];
            if (intent_ctx_new(x, &ctx) == INTENT_OK) {
                intent_predict(x, ctx, "lights on", 9, -1, s, 4, &nt, &no);
                intent_ctx_free(ctx);
            }
            intent_model_free(x);
        }
    }
    (void)loaded; /* damage to weights or idf values loads fine, and must predict safely */
    free(w);
    free(img);
    intent_model_free(m);
}

int test_model_io(int *total) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_keeps_predictions), cmocka_unit_test(save_is_atomic),
        cmocka_unit_test(every_truncation_fails_cleanly), cmocka_unit_test(byte_flips_are_caught),
        cmocka_unit_test(foreign_files_are_refused), cmocka_unit_test(structural_damage_is_named),
        cmocka_unit_test(fuzzed_images_never_crash),
    };
    return RUN("model_io", tests, total);
}
