/*
 * test_train.c - training end to end: learns a small set, reaches a known accuracy on
 * the bundled example data, is byte-for-byte reproducible (also across thread counts),
 * handles the none label, and rejects bad options.
 */
#include "tests.h"

#include <stdio.h>
#include <string.h>

static const char *SEP =
    "ON\tturn on the lights\nON\tlights on\nON\tswitch it on\nOFF\tturn off the lights\nOFF\tlights off\n"
    "OFF\tswitch it off\nPLAY\tplay music\nPLAY\tplay a song\nPLAY\tstart the music\n"
    "ON,PLAY\tlights on and play music\n";

static double exact_on(const intent_model *m, const intent_dataset *ds) {
    intent_eval e;
    intent_error err;
    assert_int_equal(intent_evaluate(m, ds, -1.0f, 2, &e, &err), INTENT_OK);
    double x = e.exact;
    intent_eval_free(&e);
    return x;
}

static void learns_a_small_set(void **state) {
    (void)state;
    intent_dataset *ds = ds_from_text(SEP);
    intent_train_opts o;
    intent_train_opts_init(&o);
    o.buckets = 2048;
    o.hidden[0] = 32;
    o.n_hidden = 1;
    o.epochs = 60;
    o.patience = 0;
    o.lr = 0.02f;
    o.dropout = 0.0f;
    o.tune_threshold = 0;
    intent_model *m;
    intent_error err;
    /* its own train set as dev: it must fit it perfectly */
    assert_int_equal(intent_train(ds, ds, &o, &m, &err), INTENT_OK);
    assert_true(exact_on(m, ds) == 1.0);
    assert_int_equal(intent_model_n_labels(m), 3);
    intent_model_free(m);
    intent_dataset_free(ds);
}

static void reaches_known_accuracy_on_example_data(void **state) {
    (void)state;
    intent_dataset *train = load_ds("examples/assistant.tsv"), *test = load_ds("examples/assistant_test.tsv");
    assert_non_null(train);
    assert_non_null(test);
    intent_train_opts o;
    intent_train_opts_init(&o);
    o.buckets = 8192;
    o.hidden[0] = 64;
    o.hidden[1] = 32;
    o.n_hidden = 2;
    o.lr = 0.005f;
    o.none_label = "oos";
    intent_model *m;
    intent_error err;
    assert_int_equal(intent_train(train, NULL, &o, &m, &err), INTENT_OK);
    intent_eval e;
    assert_int_equal(intent_evaluate(m, test, -1.0f, 0, &e, &err), INTENT_OK);
    assert_true(e.has_none);
    assert_int_equal(e.n_out_of_scope, 26);
    assert_int_equal(e.n_in_scope, 127);
    assert_int_equal(e.n_unknown, 0);
    /* measured 0.80 / 0.93 / 0.81 / 0.96 when written; these bounds leave room for noise
     * from kernels and platforms, not for a broken trainer */
    if (e.exact < 0.65 || e.top1 < 0.85 || e.oos_recall < 0.5 || e.oos_auroc < 0.85)
        fail_msg("exact %.3f top1 %.3f oos recall %.3f auroc %.3f", e.exact, e.top1, e.oos_recall, e.oos_auroc);
    assert_true(e.micro_f1 > 0.8 && e.macro_f1 > 0.8);
    assert_true(e.ece >= 0.0 && e.ece < 0.3);
    intent_eval_free(&e);
    /* an out-of-scope command gets no label */
    intent_ctx *ctx;
    intent_score top[3];
    size_t n_top, n_over;
    assert_int_equal(intent_ctx_new(m, &ctx), INTENT_OK);
    assert_int_equal(intent_predict(m, ctx, "water the plants in the garden", 30, -1, top, 3, &n_top, &n_over), INTENT_OK);
    assert_int_equal(n_over, 0);
    assert_int_equal(intent_predict(m, ctx, "play some jazz", 14, -1, top, 3, &n_top, &n_over), INTENT_OK);
    assert_int_equal(n_over, 1);
    assert_string_equal(intent_model_label(m, top[0].label), "MUSIC");
    assert_string_equal(intent_model_none_label(m), "oos");
    assert_int_equal(intent_model_label_id(m, "oos"), -1);
    intent_ctx_free(ctx);
    intent_model_free(m);
    intent_dataset_free(train);
    intent_dataset_free(test);
}

static int same_bytes(const intent_model *a, const intent_model *b) {
    const void *pa, *pb;
    size_t la, lb;
    intent_model_bytes(a, &pa, &la);
    intent_model_bytes(b, &pb, &lb);
    return la == lb && memcmp(pa, pb, la) == 0;
}

static void reproducible_bytes(void **state) {
    (void)state;
    intent_dataset *ds = load_ds("examples/assistant.tsv");
    assert_non_null(ds);
    intent_model *a = train_small(ds, 7, 1), *b = train_small(ds, 7, 1), *c = train_small(ds, 7, 2),
                 *d = train_small(ds, 8, 2);
    assert_true(same_bytes(a, b));
    assert_true(same_bytes(a, c)); /* the shard design makes thread count irrelevant */
    assert_false(same_bytes(a, d));
    /* with weight averaging too, and it still learns the set */
    intent_train_opts o;
    intent_train_opts_init(&o);
    o.buckets = 2048;
    o.hidden[0] = 32;
    o.average = 1.0f;
    o.lr = 0.01f;
    intent_model *e1, *e2;
    intent_error err;
    o.threads = 1;
    assert_int_equal(intent_train(ds, ds, &o, &e1, &err), INTENT_OK);
    o.threads = 2;
    assert_int_equal(intent_train(ds, ds, &o, &e2, &err), INTENT_OK);
    assert_true(same_bytes(e1, e2));
    intent_eval ev;
    assert_int_equal(intent_evaluate(e1, ds, -1, 1, &ev, &err), INTENT_OK);
    assert_true(ev.top1 > 0.95);
    intent_eval_free(&ev);
    intent_model_free(e1);
    intent_model_free(e2);
    intent_model_free(a);
    intent_model_free(b);
    intent_model_free(c);
    intent_model_free(d);
    intent_dataset_free(ds);
}

static int stop_at_two(const intent_epoch_report *r, void *user) {
    int *calls = user;
    ++*calls;
    return r->epoch == 2;
}

static void progress_and_cancel(void **state) {
    (void)state;
    intent_dataset *ds = ds_from_text(SEP);
    intent_train_opts o;
    intent_train_opts_init(&o);
    o.buckets = 256;
    o.hidden[0] = 8;
    o.n_hidden = 1;
    int calls = 0;
    o.progress = stop_at_two;
    o.progress_user = &calls;
    intent_model *m = (intent_model *)&calls;
    intent_error err;
    assert_int_equal(intent_train(ds, NULL, &o, &m, &err), INTENT_ERR_CANCELLED);
    assert_null(m);
    assert_int_equal(calls, 2);
    intent_dataset_free(ds);
}

static void bad_options_and_empty_data(void **state) {
    (void)state;
    intent_dataset *ds = ds_from_text(SEP), *empty, *only_none = ds_from_text("oos\tsomething\noos\tother\n");
    assert_int_equal(intent_dataset_new(&empty), INTENT_OK);
    intent_train_opts o;
    intent_model *m;
    intent_error err;
    intent_train_opts_init(&o);
    assert_int_equal(intent_train(empty, NULL, &o, &m, &err), INTENT_ERR_EMPTY);
    o.none_label = "oos";
    assert_int_equal(intent_train(only_none, NULL, &o, &m, &err), INTENT_ERR_EMPTY);
    intent_train_opts_init(&o); o.lr = 0; assert_int_equal(intent_train(ds, NULL, &o, &m, &err), INTENT_ERR_ARG);
    intent_train_opts_init(&o); o.batch = 0; assert_int_equal(intent_train(ds, NULL, &o, &m, &err), INTENT_ERR_ARG);
    intent_train_opts_init(&o); o.dropout = 1.0f; assert_int_equal(intent_train(ds, NULL, &o, &m, &err), INTENT_ERR_ARG);
    intent_train_opts_init(&o); o.n_hidden = 9; assert_int_equal(intent_train(ds, NULL, &o, &m, &err), INTENT_ERR_ARG);
    intent_train_opts_init(&o); o.n_hidden = 2; o.hidden[1] = 0; assert_int_equal(intent_train(ds, NULL, &o, &m, &err), INTENT_ERR_ARG);
    assert_int_equal(intent_train_opts_preset(&o, "original"), INTENT_OK);
    assert_int_equal(o.n_hidden, 3);
    assert_int_equal(o.hidden[0], 256);
    assert_int_equal(o.hidden[2], 64);
    assert_int_equal(intent_train_opts_preset(&o, "ensemble"), INTENT_OK);
    assert_int_equal(o.n_nets, 3);
    assert_int_equal(intent_train_opts_preset(&o, "fastest"), INTENT_ERR_ARG);
    intent_train_opts_init(&o); o.buckets = 0; assert_int_equal(intent_train(ds, NULL, &o, &m, &err), INTENT_ERR_ARG);
    intent_train_opts_init(&o); o.char_min = 6; assert_int_equal(intent_train(ds, NULL, &o, &m, &err), INTENT_ERR_ARG);
    intent_train_opts_init(&o); o.none_label = "a b"; assert_int_equal(intent_train(ds, NULL, &o, &m, &err), INTENT_ERR_ARG);
    assert_non_null(strstr(err.message, "none label"));
    intent_train_opts_init(&o); o.n_nets = 0; assert_int_equal(intent_train(ds, NULL, &o, &m, &err), INTENT_ERR_ARG);
    assert_int_equal(intent_train(NULL, NULL, &o, &m, &err), INTENT_ERR_ARG);
    intent_dataset_free(ds);
    intent_dataset_free(empty);
    intent_dataset_free(only_none);
}

static void ensembles_and_no_hidden_layer(void **state) {
    (void)state;
    intent_dataset *ds = ds_from_text(SEP);
    intent_train_opts o;
    intent_train_opts_init(&o);
    o.buckets = 1024;
    o.n_hidden = 0; /* a linear model: sparse input straight to the sigmoids */
    o.n_nets = 3;
    o.lr = 0.05f;
    o.epochs = 40;
    o.dropout = 0.0f;
    intent_model *m;
    intent_error err;
    assert_int_equal(intent_train(ds, ds, &o, &m, &err), INTENT_OK);
    assert_true(exact_on(m, ds) >= 0.9);
    char desc[8192];
    intent_model_describe(m, desc, sizeof desc);
    assert_non_null(strstr(desc, "net2.l0.w"));
    intent_model_free(m);
    intent_dataset_free(ds);
}

static int count_refit(const intent_epoch_report *r, void *user) {
    int *n = user;
    n[0]++;
    n[1] += r->refit;
    return 0;
}

/* Few examples a label and no dev set: the stratified hold-out keeps every label in
 * training, and the refit trains on everything, so the set is learned whole. */
static void few_shot_without_dev(void **state) {
    (void)state;
    static char tsv[20 * 3 * 64];
    size_t at = 0;
    static const char *words[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
                                  "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
                                  "quebec", "romeo", "sierra", "tango"};
    for (int l = 0; l < 20; l++)
        for (int e = 0; e < 3; e++)
            at += (size_t)snprintf(tsv + at, sizeof tsv - at, "L%d\t%s command number %d please\n", l, words[l], e);
    intent_dataset *ds = ds_from_text(tsv);
    intent_train_opts o;
    intent_train_opts_init(&o);
    o.buckets = 4096;
    o.hidden[0] = 32;
    o.n_hidden = 1;
    o.lr = 0.01f;
    o.dev_fraction = 0.3f;
    int counts[2] = {0, 0};
    o.progress = count_refit;
    o.progress_user = counts;
    intent_model *m;
    intent_error err;
    assert_int_equal(intent_train(ds, NULL, &o, &m, &err), INTENT_OK);
    assert_true(counts[1] > 0 && counts[1] < counts[0]);
    intent_eval e;
    assert_int_equal(intent_evaluate(m, ds, -1, 1, &e, &err), INTENT_OK);
    assert_true(e.top1 == 1.0);
    intent_eval_free(&e);
    intent_model_free(m);
    o.refit = 0;
    counts[0] = counts[1] = 0;
    assert_int_equal(intent_train(ds, NULL, &o, &m, &err), INTENT_OK);
    assert_int_equal(counts[1], 0);
    intent_model_free(m);
    intent_dataset_free(ds);
}

int test_train(int *total) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(learns_a_small_set), cmocka_unit_test(reaches_known_accuracy_on_example_data),
        cmocka_unit_test(reproducible_bytes), cmocka_unit_test(progress_and_cancel),
        cmocka_unit_test(bad_options_and_empty_data), cmocka_unit_test(ensembles_and_no_hidden_layer),
        cmocka_unit_test(few_shot_without_dev),
    };
    return RUN("train", tests, total);
}
