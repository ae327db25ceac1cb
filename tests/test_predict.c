/*
 * test_predict.c - prediction and decoding: ordering, thresholds, top-k, batch == single,
 * contexts shared across models, argument checks.
 */
#include "tests.h"

#include <math.h>
#include <string.h>

static const char *DATA =
    "LIGHT\tturn on the lights\nLIGHT\tlights on please\nLIGHT\tswitch the lamp on\n"
    "MUSIC\tplay some music\nMUSIC\tplay jazz\nMUSIC\tput on a song\n"
    "LIGHT,MUSIC\tlights on and play music\nWEATHER\twhat is the weather\nWEATHER\tweather tomorrow\n"
    "WEATHER\twill it rain\n";

/* Ten examples are too few to hold any out: the set is its own dev set. */
static intent_model *model(void) {
    intent_dataset *ds = ds_from_text(DATA);
    assert_non_null(ds);
    intent_train_opts o;
    intent_train_opts_init(&o);
    o.buckets = 4096;
    o.hidden[0] = 32;
    o.n_hidden = 1;
    o.lr = 0.01f;
    o.threads = 1;
    intent_model *m = NULL;
    intent_error err;
    assert_int_equal(intent_train(ds, ds, &o, &m, &err), INTENT_OK);
    intent_dataset_free(ds);
    return m;
}

static void decode_orders_and_counts(void **state) {
    (void)state;
    intent_model *m = model();
    float conf[3] = {0.2f, 0.9f, 0.6f};
    intent_score top[3];
    size_t n_top, n_over;
    assert_int_equal(intent_decode(m, conf, 0.5f, top, 3, &n_top, &n_over), INTENT_OK);
    assert_int_equal(n_top, 3);
    assert_int_equal(n_over, 2);
    assert_int_equal(top[0].label, 1);
    assert_int_equal(top[1].label, 2);
    assert_int_equal(top[2].label, 0);
    /* cap smaller than the labels over the threshold: n_over still counts them, but never
     * more than the most labels a training example had (2 here: "LIGHT,MUSIC") */
    assert_int_equal(intent_decode(m, conf, 0.1f, top, 1, &n_top, &n_over), INTENT_OK);
    assert_int_equal(n_top, 1);
    assert_int_equal(n_over, 2);
    assert_int_equal(top[0].label, 1);
    /* at the threshold counts as over */
    assert_int_equal(intent_decode(m, conf, 0.9f, top, 3, &n_top, &n_over), INTENT_OK);
    assert_int_equal(n_over, 1);
    /* nothing over: out of scope, but top still says what came closest */
    assert_int_equal(intent_decode(m, conf, 0.95f, top, 3, &n_top, &n_over), INTENT_OK);
    assert_int_equal(n_over, 0);
    assert_int_equal(top[0].label, 1);
    /* the model's own threshold when given < 0 */
    float t = intent_model_threshold(m);
    float at[3] = {t, t - 0.01f, 0.0f};
    assert_int_equal(intent_decode(m, at, -1.0f, top, 3, &n_top, &n_over), INTENT_OK);
    assert_int_equal(n_over, 1);
    /* NaN confidences are read as 0 */
    float nan3[3] = {NAN, 0.7f, NAN};
    assert_int_equal(intent_decode(m, nan3, 0.5f, top, 3, &n_top, &n_over), INTENT_OK);
    assert_int_equal(n_over, 1);
    assert_int_equal(top[0].label, 1);
    /* cap 0 is allowed */
    assert_int_equal(intent_decode(m, conf, 0.5f, NULL, 0, &n_top, &n_over), INTENT_OK);
    assert_int_equal(n_top, 0);
    assert_int_equal(n_over, 2);
    intent_model_free(m);
}

static void predicts_what_it_learned(void **state) {
    (void)state;
    intent_model *m = model();
    intent_ctx *ctx;
    assert_int_equal(intent_ctx_new(m, &ctx), INTENT_OK);
    intent_score top[3];
    size_t n_top, n_over;
    const char *q = "play some jazz music";
    assert_int_equal(intent_predict(m, ctx, q, strlen(q), -1, top, 3, &n_top, &n_over), INTENT_OK);
    assert_string_equal(intent_model_label(m, top[0].label), "MUSIC");
    assert_true(top[0].confidence > top[1].confidence);
    for (size_t i = 0; i < n_top; i++)
        assert_true(top[i].confidence >= 0.0f && top[i].confidence <= 1.0f);
    intent_ctx_free(ctx);
    intent_model_free(m);
}

static void batch_equals_single(void **state) {
    (void)state;
    intent_model *m = model();
    intent_ctx *ctx;
    assert_int_equal(intent_ctx_new(NULL, &ctx), INTENT_OK); /* grows on first use */
    const char *texts[] = {"lights", "", "jazz and lamp", "\xff\xfe", "will it rain tomorrow?"};
    size_t lens[5];
    for (int i = 0; i < 5; i++)
        lens[i] = strlen(texts[i]);
    float batch[5 * 3], one[3];
    assert_int_equal(intent_predict_batch(m, ctx, texts, lens, 5, batch), INTENT_OK);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(intent_predict_batch(m, ctx, &texts[i], &lens[i], 1, one), INTENT_OK);
        assert_memory_equal(one, batch + 3 * i, sizeof one);
    }
    intent_ctx_free(ctx);
    intent_model_free(m);
}

static void bad_arguments(void **state) {
    (void)state;
    intent_model *m = model();
    intent_ctx *ctx;
    assert_int_equal(intent_ctx_new(m, &ctx), INTENT_OK);
    intent_score top[2];
    size_t a, b;
    assert_int_equal(intent_predict(NULL, ctx, "x", 1, -1, top, 2, &a, &b), INTENT_ERR_ARG);
    assert_int_equal(intent_predict(m, NULL, "x", 1, -1, top, 2, &a, &b), INTENT_ERR_ARG);
    assert_int_equal(intent_predict(m, ctx, NULL, 1, -1, top, 2, &a, &b), INTENT_ERR_ARG);
    assert_int_equal(intent_predict(m, ctx, "x", 1, -1, NULL, 2, &a, &b), INTENT_ERR_ARG);
    assert_int_equal(intent_predict(m, ctx, "x", 1, -1, top, 2, NULL, &b), INTENT_ERR_ARG);
    assert_int_equal(intent_predict(m, ctx, NULL, 0, -1, top, 2, &a, &b), INTENT_OK);
    assert_int_equal(intent_ctx_new(m, NULL), INTENT_ERR_ARG);
    assert_null(intent_model_label(m, 99));
    assert_null(intent_model_label(NULL, 0));
    assert_int_equal(intent_model_n_labels(NULL), 0);
    intent_ctx_free(NULL);
    intent_model_free(NULL);
    assert_string_equal(intent_status_str(INTENT_ERR_CHECKSUM), "model file checksum mismatch");
    assert_string_equal(intent_status_str(12345), "unknown status");
    assert_string_equal(intent_version(), INTENT_VERSION_STRING);
    intent_ctx_free(ctx);
    intent_model_free(m);
}

int test_predict(int *total) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_orders_and_counts), cmocka_unit_test(predicts_what_it_learned),
        cmocka_unit_test(batch_equals_single), cmocka_unit_test(bad_arguments),
    };
    return RUN("predict", tests, total);
}
