/*
 * cmd_quantize.c - `intent quantize`: an int8 copy of a model, about 4x smaller.
 */
#include "cli.h"

#include <string.h>

static const char USAGE[] =
    "usage: intent quantize --model MODEL --out MODEL8 [--data TEST]\n"
    "\n"
    "Writes an int8 copy of MODEL (each weight row as int8 with its own scale). With\n"
    "--data, scores both models on TEST and prints what the quantization cost.\n";

static void compare(const intent_model *a, const intent_model *b, const char *data) {
    intent_dataset *ds;
    if (read_dataset("quantize", data, NULL, &ds))
        return;
    intent_eval ea, eb;
    intent_error err;
    if (intent_evaluate(a, ds, -1, 0, &ea, &err) == INTENT_OK) {
        if (intent_evaluate(b, ds, -1, 0, &eb, &err) == INTENT_OK) {
            fprintf(stderr, "exact-set accuracy: float %.2f%%, int8 %.2f%% (%+.2f points)\n", 100 * ea.exact,
                    100 * eb.exact, 100 * (eb.exact - ea.exact));
            if (ea.has_none)
                fprintf(stderr, "in-scope accuracy: float %.2f%%, int8 %.2f%%; out-of-scope recall: float "
                                "%.2f%%, int8 %.2f%%\n",
                        100 * ea.in_scope_acc, 100 * eb.in_scope_acc, 100 * ea.oos_recall, 100 * eb.oos_recall);
            intent_eval_free(&eb);
        }
        intent_eval_free(&ea);
    }
    intent_dataset_free(ds);
}

int cmd_quantize(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *data = NULL;
    int help;
    const opt opts[] = {
        {"--model", OPT_STR, &model, 0, 0}, {"--out", OPT_STR, &out, 0, 0}, {"--data", OPT_STR, &data, 0, 0},
    };
    const char *pos[1];
    size_t n_pos;
    if (args_parse("quantize", argc, argv, 2, opts, sizeof opts / sizeof *opts, pos, 0, &n_pos, &help))
        return 2;
    if (help) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (!model || !out) {
        fail_msg("quantize", "--model and --out are required (see intent quantize --help)");
        return 2;
    }
    intent_model *m, *q = NULL;
    intent_error err;
    if (intent_model_load(model, &m, &err)) {
        fail_msg("quantize", "%s", err.message);
        return 1;
    }
    int rc = intent_model_quantize(m, &q, &err);
    if (!rc)
        rc = intent_model_save(q, out, &err);
    if (rc) {
        fail_msg("quantize", "%s", err.message);
    } else {
        const void *p;
        size_t la, lb;
        char ha[32], hb[32];
        intent_model_bytes(m, &p, &la);
        intent_model_bytes(q, &p, &lb);
        fprintf(stderr, "%s (%s) -> %s (%s)\n", model, human_bytes(la, ha, sizeof ha), out, human_bytes(lb, hb, sizeof hb));
        if (data)
            compare(m, q, data);
    }
    intent_model_free(q);
    intent_model_free(m);
    return rc ? 1 : 0;
}
