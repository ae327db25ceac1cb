/*
 * test_label_names.c - label names as training examples (intent_train_opts.label_names):
 * how a name is cut into words, the training copy it makes, and that a model learns from
 * the names alone what no example said.
 */
#include "tests.h"

#include <string.h>

static void words_of_names(void **state) {
    (void)state;
    static const struct { const char *name, *words; } cases[] = {
        {"PlayMusic", "Play Music"},         {"play_music", "play music"},
        {"HTTPServer", "HTTP Server"},       {"card-arrival.v2", "card arrival v2"},
        {"a1B", "a1 B"},                     {"ALARM", "ALARM"},
        {"café_au_lait", "café au lait"},   {"get/weather:now", "get weather now"},
        {"x", "x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[2 * INTENT_MAX_LABEL_LEN + 1];
        assert_true(intenti_label_words(cases[i].name, strlen(cases[i].name), out));
        assert_string_equal(out, cases[i].words);
    }
    char out[16];
    assert_false(intenti_label_words("_-_", 3, out)); /* no letter or digit: no example */
    assert_string_equal(out, "   ");
}

/* The copy: same labels in the same order, the examples as they were, then one example a
 * label but the none label's; the caller's set is left alone. */
static void copy_adds_a_name_a_label(void **state) {
    (void)state;
    intent_dataset *ds = ds_from_text("lights_on\tturn on the lights\noos\twhat is love\n"
                                      "lights_on,PlayMusic\tlights on and some music\n_\tunderscore\n");
    intent_dataset *named;
    assert_int_equal(intenti_with_label_names(ds, "oos", &named), INTENT_OK);
    assert_int_equal(intent_dataset_size(ds), 4);
    assert_int_equal(intent_dataset_size(named), 4 + 2); /* not oos, not "_" */
    assert_int_equal(intent_dataset_n_labels(named), intent_dataset_n_labels(ds));
    for (size_t i = 0; i < intent_dataset_n_labels(ds); i++)
        assert_string_equal(intent_dataset_label(named, i), intent_dataset_label(ds, i));
    const uint32_t *ids;
    size_t len, n_ids;
    assert_string_equal(intent_dataset_example(named, 2, &len, &ids, &n_ids), "lights on and some music");
    assert_int_equal(n_ids, 2);
    assert_string_equal(intent_dataset_example(named, 4, &len, &ids, &n_ids), "lights on");
    assert_int_equal(n_ids, 1);
    assert_string_equal(intent_dataset_label(named, ids[0]), "lights_on");
    assert_string_equal(intent_dataset_example(named, 5, &len, &ids, &n_ids), "Play Music");
    assert_string_equal(intent_dataset_label(named, ids[0]), "PlayMusic");
    intent_dataset_free(named);
    intent_dataset_free(ds);
}

static const char *top_of(intent_model *m, intent_ctx *ctx, const char *text) {
    intent_score s[1];
    size_t n = 0, over = 0;
    assert_int_equal(intent_predict(m, ctx, text, strlen(text), -1.0f, s, 1, &n, &over), INTENT_OK);
    assert_int_equal(n, 1);
    return intent_model_label(m, s[0].label);
}

/* No example says "music", "alarm" or "weather": only the names do. With them, each of
 * those words alone goes to its label (by chance all three would be right 1 time in 27). */
static void names_teach_their_words(void **state) {
    (void)state;
    intent_dataset *ds = ds_from_text("play_music\tput on some tunes\nplay_music\tI want to hear a song\n"
                                      "play_music\tstart my playlist\nset_alarm\twake me up at seven\n"
                                      "set_alarm\tring at six tomorrow\nset_alarm\tget me up early\n"
                                      "check_weather\tis it going to rain\ncheck_weather\thow hot is it outside\n"
                                      "check_weather\tdo I need an umbrella\n");
    intent_train_opts o;
    intent_train_opts_init(&o);
    o.buckets = 4096;
    o.hidden[0] = 32;
    o.n_hidden = 1;
    o.lr = 0.02f;
    o.min_count = 1;
    o.threads = 1;
    intent_model *m;
    intent_error err;
    assert_int_equal(intent_train(ds, ds, &o, &m, &err), INTENT_OK);
    assert_int_equal(intent_model_n_labels(m), 3);
    intent_ctx *ctx;
    assert_int_equal(intent_ctx_new(m, &ctx), INTENT_OK);
    assert_string_equal(top_of(m, ctx, "music"), "play_music");
    assert_string_equal(top_of(m, ctx, "alarm"), "set_alarm");
    assert_string_equal(top_of(m, ctx, "weather"), "check_weather");
    intent_ctx_free(ctx);
    intent_model_free(m);
    intent_dataset_free(ds);
}

int test_label_names(int *total) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(words_of_names),
        cmocka_unit_test(copy_adds_a_name_a_label),
        cmocka_unit_test(names_teach_their_words),
    };
    return RUN("label_names", tests, total);
}
