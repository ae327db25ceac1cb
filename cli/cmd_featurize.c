/*
 * cmd_featurize.c - `intent featurize`: the features of texts, as a model's first layer
 * (and its ONNX graph) reads them.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char USAGE[] =
    "usage: intent featurize --model MODEL [--json] [--confidences] [TEXT...]\n"
    "\n"
    "Prints the features of each line of stdin, one line each, in order (words given as\n"
    "arguments are one text): the hashed n-gram buckets the model knows, each with its\n"
    "L2-normalized tf-idf weight. They are the inputs \"indices\" and \"weights\" of the\n"
    "graph `intent export --onnx` writes.\n"
    "\n"
    "  --model MODEL   the model file (required)\n"
    "  --json          {\"ids\": [...], \"weights\": [...]} per line (default: ID:WEIGHT\n"
    "                  pairs separated by spaces; an empty line for no features)\n"
    "  --confidences   add every label's confidence for the whole text, in label order\n"
    "                  (what the ONNX graph answers; JSON \"confidences\": [...], else\n"
    "                  after a tab); weights and confidences are printed to float precision\n";

typedef struct featurize_cli {
    int json, conf;
    const intent_model *m;
    intent_ctx *ctx;
    uint32_t *ids;     /* [INTENT_MAX_FEATURES] */
    float *weights;    /* [INTENT_MAX_FEATURES] */
    float *confs;      /* [n_labels] */
} featurize_cli;

static int answer(void *user, const char *text, size_t len) {
    featurize_cli *c = user;
    size_t n, n_lab = intent_model_n_labels(c->m);
    int rc = intent_featurize(c->m, c->ctx, text, len, c->ids, c->weights, INTENT_MAX_FEATURES, &n);
    if (!rc && c->conf)
        rc = intent_predict_batch(c->m, c->ctx, &text, &len, 1, c->confs);
    if (rc) {
        fail_msg("featurize", "%s", intent_status_str(rc));
        return -1;
    }
    /* %.9g: enough digits to read back the same float */
    if (c->json) {
        fputs("{\"ids\": [", stdout);
        for (size_t j = 0; j < n; j++)
            printf(j ? ", %u" : "%u", c->ids[j]);
        fputs("], \"weights\": [", stdout);
        for (size_t j = 0; j < n; j++)
            printf(j ? ", %.9g" : "%.9g", (double)c->weights[j]);
        fputc(']', stdout);
        if (c->conf) {
            fputs(", \"confidences\": [", stdout);
            for (size_t i = 0; i < n_lab; i++)
                printf(i ? ", %.9g" : "%.9g", (double)c->confs[i]);
            fputc(']', stdout);
        }
        fputs("}\n", stdout);
        return 0;
    }
    for (size_t j = 0; j < n; j++)
        printf(j ? " %u:%.9g" : "%u:%.9g", c->ids[j], (double)c->weights[j]);
    if (c->conf) {
        fputc('\t', stdout);
        for (size_t i = 0; i < n_lab; i++)
            printf(i ? " %.9g" : "%.9g", (double)c->confs[i]);
    }
    fputc('\n', stdout);
    return 0;
}

int cmd_featurize(int argc, char **argv) {
    const char *model = NULL;
    featurize_cli c;
    memset(&c, 0, sizeof c);
    const opt opts[] = {
        {"--model", OPT_STR, &model, 0, 0}, {"--json", OPT_FLAG, &c.json, 0, 0},
        {"--confidences", OPT_FLAG, &c.conf, 0, 0},
    };
    const char *pos[256];
    size_t n_pos;
    int help;
    if (args_parse("featurize", argc, argv, 2, opts, sizeof opts / sizeof *opts, pos, 256, &n_pos, &help))
        return 2;
    if (help) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (!model) {
        fail_msg("featurize", "--model is required (see intent featurize --help)");
        return 2;
    }
    intent_model *m;
    intent_error err;
    if (intent_model_load(model, &m, &err)) {
        fail_msg("featurize", "%s", err.message);
        return 1;
    }
    c.m = m;
    c.ids = malloc(INTENT_MAX_FEATURES * sizeof *c.ids);
    c.weights = malloc(INTENT_MAX_FEATURES * sizeof *c.weights);
    c.confs = malloc(intent_model_n_labels(m) * sizeof *c.confs);
    int rc = !c.ids || !c.weights || !c.confs || intent_ctx_new(m, &c.ctx)
                 ? -1
                 : for_each_text("featurize", pos, n_pos, false, answer, &c);
    fflush(stdout);
    intent_ctx_free(c.ctx);
    free(c.ids);
    free(c.weights);
    free(c.confs);
    intent_model_free(m);
    return rc ? 1 : 0;
}
