/*
 * test_retrain.c - learning from feedback: a new label is learned without losing the
 * old ones, a retrain that makes things worse is refused with its figures, int8 bases
 * and retrains without data work.
 */
#include "tests.h"

#include <stdio.h>
#include <string.h>

/* Three intents, a few phrasings each, repeated with variations so a slice can be held out. */
static intent_dataset *base_data(void) {
    static char tsv[8192];
    static const char *on[] = {"turn on the lights", "lights on", "switch the lamp on", "put the lights on"};
    static const char *off[] = {"turn off the lights", "lights off", "switch the lamp off", "kill the lights"};
    static const char *play[] = {"play music", "play a song", "start the music", "put on some jazz"};
    static const char *rooms[] = {"", " in the kitchen", " in the bedroom", " please", " now"};
    size_t at = 0;
    for (int r = 0; r < 5; r++)
        for (int i = 0; i < 4; i++) {
            at += (size_t)snprintf(tsv + at, sizeof tsv - at, "ON\t%s%s\n", on[i], rooms[r]);
            at += (size_t)snprintf(tsv + at, sizeof tsv - at, "OFF\t%s%s\n", off[i], rooms[r]);
            at += (size_t)snprintf(tsv + at, sizeof tsv - at, "PLAY\t%s%s\n", play[i], rooms[r]);
        }
    return ds_from_text(tsv);
}

static const char *top_label(const intent_model *m, const char *text) {
    intent_ctx *ctx;
    intent_score top[2];
    size_t nt, no;
    assert_int_equal(intent_ctx_new(m, &ctx), INTENT_OK);
    assert_int_equal(intent_predict(m, ctx, text, strlen(text), -1, top, 2, &nt, &no), INTENT_OK);
    intent_ctx_free(ctx);
    return no ? intent_model_label(m, top[0].label) : "(none)";
}

static intent_retrain_opts fast_opts(void) {
    intent_retrain_opts o;
    intent_retrain_opts_init(&o);
    o.train.lr = 0.01f;
    o.train.threads = 1;
    o.train.dev_fraction = 0.2f;
    return o;
}

static void learns_a_new_label(void **state) {
    (void)state;
    intent_dataset *ds = base_data(), *fb = ds_from_text("DIM\tdim the lights\nDIM\tmake the lights dimmer\n"
                                                         "DIM\tlights down to thirty percent\nDIM\tdim the lamp\n");
    intent_model *m = small_model(ds), *m2;
    assert_int_equal(intent_model_n_labels(m), 3);
    intent_retrain_opts o = fast_opts();
    intent_retrain_report rep;
    intent_error err;
    assert_int_equal(intent_retrain(m, fb, ds, &o, &m2, &rep, &err), INTENT_OK);
    assert_int_equal(intent_model_n_labels(m2), 4);
    assert_string_equal(intent_model_label(m2, 3), "DIM"); /* old labels keep their ids */
    assert_string_equal(intent_model_label(m2, 0), intent_model_label(m, 0));
    assert_int_equal(rep.n_new_labels, 1);
    assert_int_equal(rep.n_feedback, 4);
    assert_true(rep.accepted && rep.n_heldout > 0);
    assert_true(rep.feedback_score == 1.0);
    assert_string_equal(top_label(m2, "dim the lights"), "DIM");
    assert_string_equal(top_label(m2, "switch the lamp on in the kitchen"), "ON");
    assert_string_equal(top_label(m2, "play a song now"), "PLAY");
    assert_true(intent_model_threshold(m2) == intent_model_threshold(m)); /* kept */
    intent_model_free(m2);
    /* an int8 base starts the same way */
    intent_model *q;
    assert_int_equal(intent_model_quantize(m, &q, &err), INTENT_OK);
    assert_int_equal(intent_retrain(q, fb, ds, &o, &m2, &rep, &err), INTENT_OK);
    assert_string_equal(top_label(m2, "dim the lights"), "DIM");
    intent_model_free(m2);
    intent_model_free(q);
    /* without data: the feedback itself is the check */
    assert_int_equal(intent_retrain(m, fb, NULL, &o, &m2, &rep, &err), INTENT_OK);
    assert_int_equal(rep.n_heldout, 4);
    assert_int_equal(rep.n_data, 0);
    intent_model_free(m2);
    intent_model_free(m);
    intent_dataset_free(fb);
    intent_dataset_free(ds);
}

/* Three corrections with a new label beside the bundled assistant's 613 examples, from
 * four bases: the retrain must not stop before it has learned them. It did, for two of
 * these bases, while the corrections counted once in the early-stopping score among 58
 * held-out examples: no gain after epoch 2, stopped, feedback learned 0%. */
static void learns_few_corrections_beside_much_data(void **state) {
    (void)state;
    intent_dataset *ds = load_ds("examples/assistant.tsv");
    assert_non_null(ds);
    intent_dataset *fb = ds_from_text("SHOPPING\torder me a large pizza\nSHOPPING\tbuy milk and eggs online\n"
                                      "SHOPPING\tadd batteries to my shopping cart\n");
    for (uint64_t seed = 1; seed <= 4; seed++) {
        intent_train_opts t;
        intent_train_opts_init(&t);
        t.none_label = "oos";
        t.seed = seed;
        t.threads = 1;
        intent_model *m, *m2;
        intent_error err;
        assert_int_equal(intent_train(ds, NULL, &t, &m, &err), INTENT_OK);
        intent_retrain_opts o;
        intent_retrain_opts_init(&o);
        o.train.threads = 1;
        o.max_drop = 0.2f;
        intent_retrain_report rep;
        assert_int_equal(intent_retrain(m, fb, ds, &o, &m2, &rep, &err), INTENT_OK);
        assert_true(rep.feedback_score >= 0.6);
        assert_string_equal(top_label(m2, "order me a large pizza"), "SHOPPING");
        intent_model_free(m2);
        intent_model_free(m);
    }
    intent_dataset_free(fb);
    intent_dataset_free(ds);
}

/* Feedback that contradicts the data: the held-out slice gets worse, so no model. */
static void refuses_a_worse_model(void **state) {
    (void)state;
    intent_dataset *ds = base_data();
    char tsv[2048];
    size_t at = 0;
    static const char *wrong[] = {"turn on the lights", "lights on", "switch the lamp on", "put the lights on",
                                  "turn on the lights please", "lights on now", "switch the lamp on in the kitchen"};
    for (int i = 0; i < 7; i++)
        at += (size_t)snprintf(tsv + at, sizeof tsv - at, "PLAY\t%s\n", wrong[i]);
    intent_dataset *fb = ds_from_text(tsv);
    intent_model *m = small_model(ds), *m2 = (intent_model *)ds;
    intent_retrain_opts o = fast_opts();
    o.feedback_repeat = 20;
    o.max_drop = 0.0f;
    intent_retrain_report rep;
    intent_error err;
    assert_int_equal(intent_retrain(m, fb, ds, &o, &m2, &rep, &err), INTENT_ERR_REJECTED);
    assert_null(m2);
    assert_false(rep.accepted);
    assert_true(rep.new_score < rep.base_score);
    assert_non_null(strstr(err.message, "not made"));
    assert_int_equal(intent_retrain(m, fb, ds, NULL, &m2, &rep, &err), INTENT_ERR_ARG);
    intent_dataset *empty;
    intent_dataset_new(&empty);
    assert_int_equal(intent_retrain(m, empty, ds, &o, &m2, &rep, &err), INTENT_ERR_EMPTY);
    intent_dataset_free(empty);
    intent_model_free(m);
    intent_dataset_free(fb);
    intent_dataset_free(ds);
}

int test_retrain(int *total) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(learns_a_new_label),
                                       cmocka_unit_test(learns_few_corrections_beside_much_data),
                                       cmocka_unit_test(refuses_a_worse_model)};
    return RUN("retrain", tests, total);
}
