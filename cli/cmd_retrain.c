/*
 * cmd_retrain.c - `intent retrain`: a new model that has learned the feedback log.
 */
#include "cli.h"

#include <string.h>

static const char USAGE[] =
    "usage: intent retrain --model MODEL --feedback LOG [--data TRAIN] --out MODEL2 [options]\n"
    "\n"
    "Starts from MODEL's weights and learns the examples in the feedback log (see intent\n"
    "feedback), with the original training data mixed in when --data is given so nothing\n"
    "else is forgotten; new labels are added. A slice of TRAIN is held out and both models\n"
    "are scored on it: if the new one is worse by more than --max-drop, MODEL2 is not\n"
    "written and the scores are printed. Without --data the feedback is the check.\n"
    "\n"
    "  --model MODEL      the model to start from (required)\n"
    "  --feedback LOG     the feedback log (required)\n"
    "  --data FILE        the original training data (TSV, fastText or JSONL)\n"
    "  --out MODEL2       where to write the new model (required; atomic)\n"
    "  --max-drop X       largest allowed fall in held-out exact-set accuracy (default 0.02)\n"
    "  --repeat N         each feedback example counts N times (default 4)\n"
    "  --epochs N, --lr X, --patience N, --seed N, --threads N, --dev-fraction X\n"
    "                     as for intent train (default patience 3)\n"
    "  --quiet            no progress lines\n";

static int progress(const intent_epoch_report *r, void *user) {
    if (!*(const int *)user)
        fprintf(stderr, "epoch %3u  loss %.5f  held-out exact %6.2f%%  %6.1fs%s\n", r->epoch, r->train_loss,
                100.0 * r->dev_score, r->elapsed_s, r->best ? "  *" : "");
    return 0;
}

static int load_inputs(const char *model, const char *log, const char *data, intent_model **m,
                       intent_dataset **fb, intent_dataset **ds) {
    intent_error err;
    if (intent_model_load(model, m, &err)) {
        fail_msg("retrain", "%s", err.message);
        return -1;
    }
    size_t n_read;
    uint64_t skipped;
    if (intent_dataset_new(fb) || intent_feedback_read(log, *fb, &n_read, &skipped, &err)) {
        fail_msg("retrain", "%s", *fb ? err.message : "out of memory");
        return -1;
    }
    if (skipped)
        fprintf(stderr, "%s: %llu bytes of a torn last record skipped\n", log, (unsigned long long)skipped);
    return data && read_dataset("retrain", data, NULL, ds) ? -1 : 0;
}

int cmd_retrain(int argc, char **argv) {
    const char *model = NULL, *log = NULL, *data = NULL, *out = NULL;
    int quiet = 0, help;
    intent_retrain_opts o;
    intent_retrain_opts_init(&o);
    const opt opts[] = {
        {"--model", OPT_STR, &model, 0, 0}, {"--feedback", OPT_STR, &log, 0, 0}, {"--data", OPT_STR, &data, 0, 0},
        {"--out", OPT_STR, &out, 0, 0}, {"--max-drop", OPT_F32, &o.max_drop, 0, 1},
        {"--repeat", OPT_U32, &o.feedback_repeat, 1, 1000}, {"--epochs", OPT_U32, &o.train.epochs, 1, 100000},
        {"--lr", OPT_F32, &o.train.lr, 1e-7, 10}, {"--patience", OPT_U32, &o.train.patience, 0, 100000},
        {"--seed", OPT_U64, &o.train.seed, 0, 1e18}, {"--threads", OPT_U32, &o.train.threads, 0, 256},
        {"--dev-fraction", OPT_F32, &o.train.dev_fraction, 0.001, 0.5}, {"--quiet", OPT_FLAG, &quiet, 0, 0},
    };
    const char *pos[1];
    size_t n_pos;
    if (args_parse("retrain", argc, argv, 2, opts, sizeof opts / sizeof *opts, pos, 0, &n_pos, &help))
        return 2;
    if (help) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (!model || !log || !out) {
        fail_msg("retrain", "--model, --feedback and --out are required (see intent retrain --help)");
        return 2;
    }
    o.train.progress = progress;
    o.train.progress_user = &quiet;
    intent_model *m = NULL, *m2 = NULL;
    intent_dataset *fb = NULL, *ds = NULL;
    intent_retrain_report rep;
    intent_error err;
    int rc = load_inputs(model, log, data, &m, &fb, &ds) ? 1 : 0;
    if (!rc) {
        int st = intent_retrain(m, fb, ds, &o, &m2, &rep, &err);
        if (!st)
            st = intent_model_save(m2, out, &err);
        if (st) {
            fail_msg("retrain", "%s", err.message);
            rc = 1;
        } else {
            fprintf(stderr, "retrained on %zu feedback and %zu data examples (%zu new labels): held-out exact-set "
                            "accuracy %.2f%% -> %.2f%% on %zu examples; feedback learned: %.2f%% -> %s\n",
                    rep.n_feedback, rep.n_data, rep.n_new_labels, 100 * rep.base_score, 100 * rep.new_score,
                    rep.n_heldout, 100 * rep.feedback_score, out);
        }
    }
    intent_model_free(m);
    intent_model_free(m2);
    intent_dataset_free(fb);
    intent_dataset_free(ds);
    return rc;
}
