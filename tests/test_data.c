/*
 * test_data.c - the real data sets (read from ../shared/data, never copied here): they
 * load with the expected counts, and a quick model on snips clears a sanity bar.
 * Skipped, with a note saying so, when the data folder is absent.
 */
#include "tests.h"

#include <stdio.h>

static void counts(const char *set, const char *split, size_t want_n, size_t want_labels) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s.tsv", data_dir(), set, split);
    intent_dataset *ds = load_ds(path);
    assert_non_null(ds);
    assert_int_equal(intent_dataset_size(ds), want_n);
    if (want_labels)
        assert_int_equal(intent_dataset_n_labels(ds), want_labels);
    intent_dataset_free(ds);
}

static void shared_sets_load(void **state) {
    (void)state;
    if (!have_data("clinc150") || !have_data("snips") || !have_data("mixsnips"))
        skip();
    counts("clinc150", "train", 15100, 151);
    counts("clinc150", "dev", 3100, 0);
    counts("clinc150", "test", 5500, 0);
    counts("snips", "train", 13084, 7);
    counts("snips", "test", 700, 0);
    counts("mixsnips", "train", 39776, 7);
    counts("mixsnips", "test", 2199, 0);
}

static void snips_quick_model(void **state) {
    (void)state;
    if (quick_mode() || !have_data("snips"))
        skip();
    char tr[512], te[512];
    snprintf(tr, sizeof tr, "%s/snips/train.tsv", data_dir());
    snprintf(te, sizeof te, "%s/snips/test.tsv", data_dir());
    intent_dataset *train = load_ds(tr), *test = load_ds(te);
    intent_train_opts o;
    intent_train_opts_init(&o);
    o.buckets = 8192;
    o.hidden[0] = 64;
    o.n_hidden = 1;
    o.epochs = 3;
    o.lr = 0.005f;
    intent_model *m;
    intent_error err;
    assert_int_equal(intent_train(train, NULL, &o, &m, &err), INTENT_OK);
    intent_eval e;
    assert_int_equal(intent_evaluate(m, test, -1, 0, &e, &err), INTENT_OK);
    if (e.top1 < 0.9)
        fail_msg("snips top-1 %.3f after 3 epochs", e.top1);
    intent_eval_free(&e);
    intent_model_free(m);
    intent_dataset_free(train);
    intent_dataset_free(test);
}

int test_data(int *total) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shared_sets_load), cmocka_unit_test(snips_quick_model),
    };
    return RUN("data", tests, total);
}
