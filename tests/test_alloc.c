/*
 * test_alloc.c - allocation-failure loops: make the 1st, 2nd, ... allocation fail until
 * the operation succeeds; every step must return an error (no crash), and the sanitizer
 * and valgrind runs check that nothing leaks on any of those paths.
 */
#include "tests.h"

#include <string.h>

static const char *DATA = "A\tturn on the lights\nB\tplay some music\nA,B\tlights and music\n"
                          "{bad line}\nC\tweather\n";
static const char *GOOD = "A\tturn on the lights\nB\tplay some music\nA,B\tlights and music\nC\tweather\nC\train\n";

/* Runs op with the n-th allocation failing, for n = 1, 2, ... until op succeeds.
 * Returns how many failure points there were. */
static long loop(int (*op)(void *), void *arg) {
    for (long n = 1; n < 100000; n++) {
        fail_alloc_at(n);
        int rc = op(arg);
        long used = alloc_count();
        fail_alloc_at(0);
        if (rc == INTENT_OK) {
            assert_true(used < n); /* it succeeded because it needed fewer allocations */
            return n - 1;
        }
        assert_true(rc == INTENT_ERR_NOMEM || rc == INTENT_ERR_PARSE || rc == INTENT_ERR_IO);
    }
    fail_msg("never succeeded");
    return 0;
}

static int read_op(void *arg) {
    (void)arg;
    intent_dataset *ds;
    int rc = intent_dataset_new(&ds);
    if (rc)
        return rc;
    rc = intent_dataset_read_mem(ds, "x.tsv", GOOD, strlen(GOOD), INTENT_FORMAT_AUTO);
    if (!rc && intent_dataset_size(ds) != 5)
        rc = INTENT_ERR_ARG;
    /* a failing read after a good one must roll back cleanly too */
    if (!rc) {
        int r2 = intent_dataset_read_mem(ds, "y.tsv", DATA, strlen(DATA), INTENT_FORMAT_AUTO);
        rc = r2 == INTENT_ERR_PARSE ? INTENT_OK : r2 == INTENT_OK ? INTENT_ERR_ARG : r2;
    }
    if (!rc && intent_dataset_size(ds) != 5)
        rc = INTENT_ERR_ARG;
    intent_dataset_free(ds);
    return rc;
}

static void dataset_reads(void **state) {
    (void)state;
    assert_true(loop(read_op, NULL) > 5);
}

static intent_train_opts tiny_opts(void) {
    intent_train_opts o;
    intent_train_opts_init(&o);
    o.buckets = 128;
    o.hidden[0] = 8;
    o.hidden[1] = 4;
    o.n_hidden = 2;
    o.epochs = 2;
    o.threads = 2;
    return o;
}

static int train_op(void *arg) {
    intent_train_opts o = tiny_opts();
    intent_model *m = NULL;
    intent_error err;
    int rc = intent_train(arg, NULL, &o, &m, &err);
    intent_model_free(m);
    return rc;
}

static void training(void **state) {
    (void)state;
    intent_dataset *ds = ds_from_text(GOOD);
    assert_true(loop(train_op, ds) > 20);
    intent_dataset_free(ds);
}

typedef struct loaded {
    const void *img;
    size_t len;
    intent_dataset *ds;
} loaded;

static int load_predict_op(void *arg) {
    loaded *l = arg;
    intent_model *m;
    intent_error err;
    int rc = intent_model_load_mem(l->img, l->len, &m, &err);
    if (rc)
        return rc;
    intent_ctx *ctx;
    rc = intent_ctx_new(m, &ctx);
    if (!rc) {
        intent_score top[2];
        size_t a, b;
        rc = intent_predict(m, ctx, "lights", 6, -1, top, 2, &a, &b);
        const char *t[2] = {"lights", "music"};
        size_t len[2] = {6, 5};
        float conf[2 * 3];
        if (!rc)
            rc = intent_predict_batch(m, ctx, t, len, 2, conf);
        intent_ctx_free(ctx);
    }
    if (!rc) {
        intent_eval e;
        rc = intent_evaluate(m, l->ds, -1, 2, &e, &err);
        intent_eval_free(&e);
    }
    intent_model_free(m);
    return rc;
}

static void loading_and_predicting(void **state) {
    (void)state;
    intent_dataset *ds = ds_from_text(GOOD);
    intent_train_opts o = tiny_opts();
    intent_model *m;
    intent_error err;
    assert_int_equal(intent_train(ds, NULL, &o, &m, &err), INTENT_OK);
    loaded l = {NULL, 0, ds};
    intent_model_bytes(m, &l.img, &l.len);
    assert_true(loop(load_predict_op, &l) > 5);
    intent_model_free(m);
    intent_dataset_free(ds);
}

/* Once a context is made for a model, predicting allocates nothing: single queries,
 * compound ones, and batches (the batch path's scratch included) with every allocation
 * set to fail. */
static void predicting_allocates_nothing(void **state) {
    (void)state;
    intent_dataset *ds = ds_from_text(GOOD);
    intent_train_opts o = tiny_opts();
    intent_model *m;
    intent_error err;
    assert_int_equal(intent_train(ds, NULL, &o, &m, &err), INTENT_OK);
    intent_ctx *ctx;
    assert_int_equal(intent_ctx_new(m, &ctx), INTENT_OK);
    const char *texts[] = {"lights", "play some music and then the lights", "weather"};
    size_t lens[3] = {strlen(texts[0]), strlen(texts[1]), strlen(texts[2])};
    float conf[3 * 3];
    intent_score top[2];
    size_t a, b;
    assert_int_equal(intent_model_n_labels(m), 3);
    fail_alloc_at(1);
    int r1 = intent_predict(m, ctx, texts[1], lens[1], -1, top, 2, &a, &b);
    int r2 = intent_predict_batch(m, ctx, texts, lens, 3, conf);
    long used = alloc_count();
    fail_alloc_at(0);
    assert_int_equal(r1, INTENT_OK);
    assert_int_equal(r2, INTENT_OK);
    assert_int_equal(used, 0);
    intent_ctx_free(ctx);
    intent_model_free(m);
    intent_dataset_free(ds);
}

int test_alloc(int *total) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dataset_reads), cmocka_unit_test(training), cmocka_unit_test(loading_and_predicting),
        cmocka_unit_test(predicting_allocates_nothing),
    };
    return RUN("alloc", tests, total);
}
