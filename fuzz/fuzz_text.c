/*
 * fuzz_text.c - fuzz target: bytes -> the featurizer and intent_predict, as a text.
 *
 * Two tiny models are trained once at start-up (LLVMFuzzerInitialize; fuzz/replay.c calls
 * it too), so no model file has to be found at run time. Between them they take every
 * featurizer path: word 1-2-grams and char 2-5-grams with accents stripped and sublinear
 * tf (the defaults), and word 1-3-grams with char 1-8-grams, accents kept, raw tf, two
 * hidden layers, a two-net ensemble and 8192 buckets (so that the INTENT_MAX_FEATURES
 * cap can be reached). Small layers keep start-up in milliseconds. One context serves both.
 *
 * Besides "no crash, no leak, no undefined behaviour", it checks the featurizer's
 * promises (at most INTENT_MAX_FEATURES distinct buckets, all below fs.buckets, finite
 * weights of L2 norm 1 or an empty vector) and that a context keeps no state from one
 * call to the next: a text predicts the same bytes before and after a call on the other model.
 */
#include "fuzz.h"
#include "intent_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char TRAIN[] =
    "MUSIC\tplay some jazz\nMUSIC\tnext song please\nMUSIC\tmonte le son de la musique\n"
    "FILES\topen my documents\nFILES\tshow the file report.pdf\nFILES\tÖffne die Datei\n"
    "VISION\twhat is on my screen\nVISION\tread the text in this picture\n"
    "VISION,FILES\tread me the document on my screen\nWEATHER\tweather in Zürich tomorrow\n"
    "WEATHER\twill it rain today\nWEATHER\t天気 は どう\nMUSIC,WEATHER\tplay rain sounds\n"
    "CHAT\thello there\nCHAT\tcafé crème ou thé\nCHAT\tпривет как дела\n";

static intent_model *models[2];
static intent_ctx *ctx;
static intenti_feats feats;

static intent_model *train(int variant) {
    intent_dataset *ds;
    CHECK(intent_dataset_new(&ds) == INTENT_OK);
    CHECK(intent_dataset_read_mem(ds, "train.tsv", TRAIN, sizeof TRAIN - 1, INTENT_FORMAT_TSV) == INTENT_OK);
    intent_train_opts o;
    intent_train_opts_init(&o);
    o.buckets = 256;
    o.hidden[0] = 8;
    o.n_hidden = 1;
    o.epochs = 2;
    o.threads = 1;
    if (variant == 1) {
        o.buckets = 8192; /* more than INTENT_MAX_FEATURES, so a long text can reach that cap */
        o.hidden[1] = 8;
        o.n_hidden = 2;
        o.n_nets = 2;
        o.word_ngrams = 3;
        o.char_min = 1;
        o.char_max = 8;
        o.sublinear_tf = 0;
        o.strip_accents = 0;
    }
    intent_model *m = NULL;
    intent_error err;
    if (intent_train(ds, NULL, &o, &m, &err) != INTENT_OK) {
        fprintf(stderr, "fuzz_text: training the model failed: %s\n", err.message);
        abort();
    }
    intent_dataset_free(ds);
    return m;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    models[0] = train(0);
    models[1] = train(1);
    CHECK(intent_ctx_new(models[1], &ctx) == INTENT_OK);
    CHECK(intenti_feats_init(&feats) == INTENT_OK);
    return 0;
}

static void check_features(const intent_model *m, const char *text, size_t len) {
    intenti_extract(&m->fs, &feats, text, len);
    CHECK(feats.n <= INTENT_MAX_FEATURES);
    for (uint32_t i = 0; i < feats.n; i++)
        CHECK(feats.ids[i] < m->fs.buckets && feats.vals[i] >= 1.0f);
    intenti_weigh(&m->fs, m->idf, &feats);
    double sum = 0.0;
    for (uint32_t i = 0; i < feats.n; i++) {
        CHECK(isfinite(feats.vals[i]) && feats.vals[i] != 0.0f);
        sum += (double)feats.vals[i] * feats.vals[i];
    }
    CHECK(feats.n == 0 || fabs(sum - 1.0) < 1e-3);
}

static void predict(const intent_model *m, const char *text, size_t len, intent_score *top, size_t *n_top,
                    size_t *n_over) {
    CHECK(intent_predict(m, ctx, text, len, -1.0f, top, 4, n_top, n_over) == INTENT_OK);
    CHECK(*n_top == 4 && *n_over <= intent_model_n_labels(m));
    for (size_t i = 0; i < *n_top; i++)
        CHECK(top[i].label < intent_model_n_labels(m) && top[i].confidence >= 0.0f &&
              top[i].confidence <= 1.001f && (i == 0 || top[i].confidence <= top[i - 1].confidence));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    intent_score top[2][4], again[4];
    size_t n_top[2], n_over[2], n_top2, n_over2;
    for (int k = 0; k < 2; k++) {
        check_features(models[k], text, size);
        predict(models[k], text, size, top[k], &n_top[k], &n_over[k]);
    }
    /* again, in the other order: the context holds nothing over from the other model */
    for (int k = 1; k >= 0; k--) {
        predict(models[k], text, size, again, &n_top2, &n_over2);
        CHECK(n_top2 == n_top[k] && n_over2 == n_over[k] && memcmp(top[k], again, sizeof again) == 0);
    }
    return 0;
}
