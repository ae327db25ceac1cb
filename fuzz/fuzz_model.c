/*
 * fuzz_model.c - fuzz target: bytes -> intent_model_load_mem; a model that loads is
 * described, queried, asked to predict and evaluated on three examples.
 *
 * Almost every mutation breaks the CRC, so on its own the fuzzer would rarely get past
 * the checksum to the metadata and tensor checks behind it. Each input is therefore
 * loaded twice: as it is (magic, version, probes, size, trailer, CRC), and "re-signed",
 * with the file size field, the trailer and the CRC fixed up, so that every structural
 * check of src/model_io.c and src/model.c sees fuzzed bytes too.
 *
 * Besides "no crash, no leak, no undefined behaviour", it checks what the header promises:
 * a failed load leaves *out NULL and a message; top labels are valid ids, best first,
 * with confidences in [0, 1].
 */
#include "fuzz.h"
#include "intent_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const TEXTS[] = {
    "read me the document on my screen", "Café MÜSIC \xEF\xAC\x81le \xE6\x97\xA5\xE6\x9C\xAC", "",
};

static void check_top(const intent_model *m, const intent_score *top, size_t n_top, size_t cap) {
    CHECK(n_top <= cap && n_top <= intent_model_n_labels(m));
    for (size_t i = 0; i < n_top; i++) {
        CHECK(top[i].label < intent_model_n_labels(m));
        /* the mean of sigmoids; a little over 1 is float rounding of the 1/n_nets terms */
        CHECK(top[i].confidence >= 0.0f && top[i].confidence <= 1.001f);
        CHECK(i == 0 || top[i].confidence <= top[i - 1].confidence);
    }
}

/* Scores the model on three examples: eval's per-label counts, calibration bins and
 * AUROC see whatever confidences a damaged model gives. Labels named as in the seeds
 * (fuzz/corpus/model), plus one the model does not know. */
static void evaluate(const intent_model *m) {
    static intent_dataset *ds; /* made once, kept for the process */
    static const char TSV[] = "A\tturn on the lights\nB,X\tplay jazz\nnone\tasdf qwerty\n";
    if (!ds) {
        CHECK(intent_dataset_new(&ds) == INTENT_OK);
        CHECK(intent_dataset_read_mem(ds, "eval.tsv", TSV, sizeof TSV - 1, INTENT_FORMAT_TSV) == INTENT_OK);
    }
    intent_eval e;
    if (intent_evaluate(m, ds, -1.0f, 1, &e, NULL) != INTENT_OK)
        return;
    CHECK(e.n_examples == 3 && e.n_labels == intent_model_n_labels(m));
    /* written so that NaN fails them too */
    CHECK(e.exact >= 0.0 && e.exact <= 1.0 && e.micro_f1 >= 0.0 && e.micro_f1 <= 1.0);
    CHECK(e.ece >= 0.0 && e.ece <= 1.001 && e.oos_auroc >= 0.0 && e.oos_auroc <= 1.0);
    intent_eval_free(&e);
}

static void use(const intent_model *m) {
    char desc[1024], tiny[16];
    size_t need = intent_model_describe(m, desc, sizeof desc);
    CHECK(strlen(desc) == (need < sizeof desc ? need : sizeof desc - 1));
    intent_model_describe(m, tiny, sizeof tiny); /* output cut short */
    CHECK(strlen(tiny) < sizeof tiny);
    size_t n = intent_model_n_labels(m);
    CHECK(n >= 1);
    for (size_t i = 0; i < n && i < 8; i++) {
        const char *name = intent_model_label(m, i);
        CHECK(name && intent_model_label_id(m, name) == (long)i);
    }
    CHECK(intent_model_label(m, n) == NULL);
    float t = intent_model_threshold(m);
    CHECK(t >= 0.0f && t <= 1.0f);
    (void)intent_model_none_label(m);

    intent_ctx *ctx;
    if (intent_ctx_new(m, &ctx) != INTENT_OK)
        return;
    intent_score top[4];
    size_t n_top, n_over;
    for (size_t i = 0; i < sizeof TEXTS / sizeof *TEXTS; i++) {
        CHECK(intent_predict(m, ctx, TEXTS[i], strlen(TEXTS[i]), -1.0f, top, 4, &n_top, &n_over) == INTENT_OK);
        check_top(m, top, n_top, 4);
        CHECK(n_over <= n);
    }
    float *conf = malloc(2 * n * sizeof *conf);
    size_t lens[2] = {strlen(TEXTS[0]), strlen(TEXTS[1])};
    if (conf) {
        CHECK(intent_predict_batch(m, ctx, TEXTS, lens, 2, conf) == INTENT_OK);
        free(conf);
    }
    intent_ctx_free(ctx);
    evaluate(m);
}

static void load(const uint8_t *data, size_t size) {
    intent_model *m = (intent_model *)1; /* must come back NULL on failure */
    intent_error err = {0, ""};
    int rc = intent_model_load_mem(data, size, &m, &err);
    if (rc != INTENT_OK) {
        CHECK(m == NULL && err.status == rc && err.message[0] != '\0');
        return;
    }
    CHECK(m != NULL);
    const void *bytes;
    size_t len;
    CHECK(intent_model_bytes(m, &bytes, &len) == INTENT_OK && len == size);
    use(m);
    intent_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    load(data, size);
    if (size < INTENTI_HEADER_SIZE + INTENTI_TRAILER_SIZE)
        return 0;
    uint8_t *w = malloc(size);
    if (!w)
        return 0;
    memcpy(w, data, size);
    intenti_st64(w + 24, size);
    memcpy(w + size - 4, "TNI\x89", 4);
    intenti_st32(w + size - 8, intenti_crc32c(0, w, size - 8));
    if (memcmp(w, data, size) != 0) /* already valid: loaded above */
        load(w, size);
    free(w);
    return 0;
}
