/*
 * cmd_eval.c - `intent eval`: score a model on labelled examples.
 */
#include "cli.h"

#include <string.h>

static const char USAGE[] =
    "usage: intent eval --model MODEL --data TEST [--threshold T] [--json] [--threads N]\n"
    "\n"
    "Scores MODEL on TEST: exact label-set accuracy, top-1 accuracy, micro and macro F1,\n"
    "calibration error, a per-label table, and for a model with a none label, in-scope\n"
    "accuracy, out-of-scope recall and AUROC.\n"
    "\n"
    "  --model MODEL   the model file (required)\n"
    "  --data FILE     labelled examples (required; TSV, fastText or JSONL)\n"
    "  --format F      auto, tsv, fasttext or jsonl (default auto)\n"
    "  --threshold T   decision threshold (default: the model's)\n"
    "  --threads N     worker threads (default: all cores)\n"
    "  --json          one JSON object instead of the table\n";

static void print_json(const intent_model *m, const intent_eval *e) {
    printf("{\"examples\": %zu, \"threshold\": %.4f, \"exact\": %.6f, \"top1\": %.6f, \"micro_f1\": %.6f, "
           "\"macro_f1\": %.6f, \"ece\": %.6f, \"unknown_labels\": %zu",
           e->n_examples, (double)e->threshold, e->exact, e->top1, e->micro_f1, e->macro_f1, e->ece, e->n_unknown);
    if (e->has_none)
        printf(", \"in_scope\": %zu, \"out_of_scope\": %zu, \"in_scope_accuracy\": %.6f, "
               "\"oos_recall\": %.6f, \"oos_auroc\": %.6f",
               e->n_in_scope, e->n_out_of_scope, e->in_scope_acc, e->oos_recall, e->oos_auroc);
    fputs(", \"labels\": {", stdout);
    for (size_t k = 0; k < e->n_labels; k++) {
        const intent_label_eval *l = &e->per_label[k];
        fputs(k ? ", " : "", stdout);
        json_str(stdout, intent_model_label(m, k));
        printf(": {\"support\": %u, \"precision\": %.6f, \"recall\": %.6f, \"f1\": %.6f}", l->support,
               l->precision, l->recall, l->f1);
    }
    fputs("}}\n", stdout);
}

static void print_table(const intent_model *m, const intent_eval *e) {
    printf("%-28s %9s %9s %9s %9s\n", "label", "precision", "recall", "f1", "support");
    for (size_t k = 0; k < e->n_labels; k++) {
        const intent_label_eval *l = &e->per_label[k];
        printf("%-28s %9.4f %9.4f %9.4f %9u\n", intent_model_label(m, k), l->precision, l->recall, l->f1, l->support);
    }
    printf("\nexamples            %zu\n", e->n_examples);
    printf("threshold           %.2f\n", (double)e->threshold);
    printf("exact-set accuracy  %.2f%%\n", 100 * e->exact);
    printf("top-1 accuracy      %.2f%%\n", 100 * e->top1);
    printf("micro F1            %.4f\n", e->micro_f1);
    printf("macro F1            %.4f\n", e->macro_f1);
    printf("ECE (15 bins)       %.4f\n", e->ece);
    if (e->has_none) {
        printf("in-scope accuracy   %.2f%%  (%zu examples)\n", 100 * e->in_scope_acc, e->n_in_scope);
        printf("out-of-scope recall %.2f%%  (%zu examples)\n", 100 * e->oos_recall, e->n_out_of_scope);
        printf("out-of-scope AUROC  %.4f\n", e->oos_auroc);
    }
    if (e->n_unknown)
        printf("gold labels unknown to the model: %zu (counted as misses)\n", e->n_unknown);
}

int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *format = NULL;
    float threshold = -1.0f;
    uint32_t threads = 0;
    int json = 0, help;
    const opt opts[] = {
        {"--model", OPT_STR, &model, 0, 0}, {"--data", OPT_STR, &data, 0, 0}, {"--format", OPT_STR, &format, 0, 0},
        {"--threshold", OPT_F32, &threshold, 0, 1}, {"--threads", OPT_U32, &threads, 0, 256},
        {"--json", OPT_FLAG, &json, 0, 0},
    };
    const char *pos[1];
    size_t n_pos;
    if (args_parse("eval", argc, argv, 2, opts, sizeof opts / sizeof *opts, pos, 0, &n_pos, &help))
        return 2;
    if (help) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (!model || !data) {
        fail_msg("eval", "--model and --data are required (see intent eval --help)");
        return 2;
    }
    intent_model *m;
    intent_error err;
    if (intent_model_load(model, &m, &err)) {
        fail_msg("eval", "%s", err.message);
        return 1;
    }
    intent_dataset *ds;
    if (read_dataset("eval", data, format, &ds)) {
        intent_model_free(m);
        return 1;
    }
    intent_eval e;
    int rc = intent_evaluate(m, ds, threshold, threads, &e, &err);
    if (rc)
        fail_msg("eval", "%s", err.message);
    else if (json)
        print_json(m, &e);
    else
        print_table(m, &e);
    intent_eval_free(&e);
    intent_dataset_free(ds);
    intent_model_free(m);
    return rc ? 1 : 0;
}
