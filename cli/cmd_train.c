/*
 * cmd_train.c - `intent train`: learn a model from labelled examples and save it.
 */
#include "cli.h"

#include <string.h>

static const char USAGE[] =
    "usage: intent train --data TRAIN [--dev DEV] --out MODEL [options]\n"
    "\n"
    "Learns which labels apply to a text from labelled examples (TSV, fastText or JSONL;\n"
    "see --format) and writes MODEL. Progress per epoch goes to stderr.\n"
    "\n"
    "  --data FILE          training examples (required)\n"
    "  --dev FILE           examples for early stopping and threshold tuning\n"
    "                       (default: a held-out slice of --data)\n"
    "  --out MODEL          where to write the model (required; written atomically)\n"
    "  --none-label NAME    examples with this label train as \"no label\" (out of scope)\n"
    "  --format F           auto, tsv, fasttext or jsonl (default auto)\n"
    "  --preset NAME        default, original (the 256-128-64 design) or ensemble; the\n"
    "                       options below, given too, change the preset's values\n"
    "network and optimizer:\n"
    "  --hidden LIST        hidden layer widths (default 96)\n"
    "  --nets N             networks averaged in an ensemble (default 1)\n"
    "  --epochs N           at most N passes over the data (default 50)\n"
    "  --patience N         stop after N epochs without dev gain (default 4; 0 = never;\n"
    "                       a gain: 2% of the dev errors left fewer)\n"
    "  --lr X               Adam learning rate (default 0.003)\n"
    "  --batch N            examples per step (default 32)\n"
    "  --dropout X          dropout on hidden units (default 0.3)\n"
    "  --input-dropout X    share of input n-grams dropped per example (default 0)\n"
    "  --weight-decay X     decoupled weight decay (default 0)\n"
    "  --label-smoothing X  gold targets are 1 - X (default 0)\n"
    "  --softmax-weight X   add X times a softmax cross-entropy over the labels (default 0)\n"
    "  --average X          score and keep an average of the epochs' weights, about X epochs\n"
    "                       back (default 1; 0 keeps the weights themselves)\n"
    "  --dev-fraction X     held-out share when no --dev (default 0.1)\n"
    "  --no-refit           without --dev, keep the model trained on the rest instead of\n"
    "                       training again on all examples for the best epoch count\n"
    "  --no-label-names     do not train on each label's name as one example of it\n"
    "                       (\"PlayMusic\", \"play_music\" -> \"play music\")\n"
    "  --seed N             random seed (default 1)\n"
    "  --threads N          worker threads (default: all cores)\n"
    "features:\n"
    "  --buckets N          hash buckets (default 8192)\n"
    "  --word-ngrams N      word n-grams 1..N (default 2; 0 = none)\n"
    "  --char-ngrams A,B    char n-grams of A..B code points within words (default 2,5;\n"
    "                       0,0 = none)\n"
    "  --no-sublinear-tf    raw term counts instead of 1 + ln(count)\n"
    "  --min-count N        ignore n-grams seen in fewer than N training examples (default 2)\n"
    "  --keep-accents       do not fold accents (cafe != café)\n"
    "decoding:\n"
    "  --threshold X        decision threshold stored in the model (default 0.5)\n"
    "  --no-tune-threshold  keep --threshold instead of choosing it on the dev set\n"
    "  --no-calibrate       keep temperature 1 instead of fitting it on the dev set\n"
    "  --int8               store weights as int8 (about 4x smaller; see intent quantize)\n"
    "  --no-clauses         multi-label data: do not read compound commands clause by clause\n"
    "  --quiet              no progress lines\n";

typedef struct train_cli {
    const char *data, *dev, *out, *format;
    u32_list hidden, chars;
    int no_sub, keep_acc, no_tune, no_cal, no_refit, no_clauses, no_names, quiet, int8;
    float threshold;
    intent_train_opts o;
    intent_epoch_report last;
} train_cli;

static int progress(const intent_epoch_report *r, void *user) {
    train_cli *c = user;
    c->last = *r;
    if (!c->quiet) {
        if (c->o.n_nets > 1)
            fprintf(stderr, "net %u ", r->net + 1);
        if (r->refit)
            fprintf(stderr, "refit on all examples: epoch %3u  loss %.5f  %6.1fs\n", r->epoch, r->train_loss,
                    r->elapsed_s);
        else
            fprintf(stderr, "epoch %3u  loss %.5f  dev loss %.5f  dev exact %6.2f%%  %6.1fs%s\n", r->epoch,
                    r->train_loss, r->dev_loss, 100.0 * r->dev_score, r->elapsed_s, r->best ? "  *" : "");
    }
    return 0;
}

static int apply(train_cli *c) {
    intent_train_opts *o = &c->o;
    if (c->hidden.n != (uint32_t)-1) {
        if (c->hidden.n > INTENT_MAX_HIDDEN) {
            fail_msg("train", "--hidden: at most %d layers", INTENT_MAX_HIDDEN);
            return -1;
        }
        o->n_hidden = c->hidden.n;
        memcpy(o->hidden, c->hidden.v, c->hidden.n * sizeof *o->hidden);
    }
    if (c->chars.n != (uint32_t)-1) {
        if (c->chars.n != 2) {
            fail_msg("train", "--char-ngrams takes two numbers, MIN,MAX");
            return -1;
        }
        o->char_min = c->chars.v[0];
        o->char_max = c->chars.v[1];
    }
    o->sublinear_tf = !c->no_sub;
    o->strip_accents = !c->keep_acc;
    o->tune_threshold = !c->no_tune;
    o->calibrate = !c->no_cal;
    o->refit = !c->no_refit;
    o->clause_decoding = !c->no_clauses;
    o->label_names = !c->no_names;
    o->threshold = c->threshold;
    o->progress = progress;
    o->progress_user = c;
    return 0;
}

static void summary(const train_cli *c, const intent_model *m, const intent_dataset *train, double secs) {
    const void *bytes;
    size_t len;
    char hb[32];
    intent_model_bytes(m, &bytes, &len);
    fprintf(stderr, "trained %zu labels on %zu examples in %.2f s; threshold %.2f; model %s -> %s\n",
            intent_model_n_labels(m), intent_dataset_size(train), secs, intent_model_threshold(m),
            human_bytes(len, hb, sizeof hb), c->out);
    const intent_epoch_report *r = &c->last;
    fprintf(stderr, "time: features %.2f s, forward+backward %.2f s, updates %.2f s, dev scoring %.2f s\n",
            r->t_features_s, r->t_backprop_s, r->t_update_s, r->t_eval_s);
}

/* --preset sets every option, so it is applied before the others, wherever it stands. */
static int find_preset(int argc, char **argv, const char **name) {
    *name = "default";
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strncmp(argv[i], "--preset=", 9) == 0)
            *name = argv[i] + 9;
        else if (strcmp(argv[i], "--preset") == 0 && i + 1 < argc)
            *name = argv[++i];
    }
    return 0;
}

int cmd_train(int argc, char **argv) {
    train_cli c;
    memset(&c, 0, sizeof c);
    const char *preset;
    find_preset(argc, argv, &preset);
    if (intent_train_opts_preset(&c.o, preset)) {
        fail_msg("train", "--preset must be default, original or ensemble, not \"%s\"", preset);
        return 2;
    }
    c.threshold = c.o.threshold;
    c.hidden.n = c.chars.n = (uint32_t)-1;
    const opt opts[] = {
        {"--data", OPT_STR, &c.data, 0, 0}, {"--dev", OPT_STR, &c.dev, 0, 0}, {"--preset", OPT_STR, &preset, 0, 0},
        {"--out", OPT_STR, &c.out, 0, 0}, {"--none-label", OPT_STR, &c.o.none_label, 0, 0},
        {"--format", OPT_STR, &c.format, 0, 0}, {"--hidden", OPT_U32_LIST, &c.hidden, 1, INTENT_MAX_WIDTH},
        {"--nets", OPT_U32, &c.o.n_nets, 1, INTENT_MAX_NETS}, {"--epochs", OPT_U32, &c.o.epochs, 1, 100000},
        {"--patience", OPT_U32, &c.o.patience, 0, 100000}, {"--lr", OPT_F32, &c.o.lr, 1e-7, 10},
        {"--batch", OPT_U32, &c.o.batch, 1, 65536}, {"--dropout", OPT_F32, &c.o.dropout, 0, 0.95},
        {"--input-dropout", OPT_F32, &c.o.input_dropout, 0, 0.9}, {"--weight-decay", OPT_F32, &c.o.weight_decay, 0, 100},
        {"--label-smoothing", OPT_F32, &c.o.label_smoothing, 0, 0.5},
        {"--softmax-weight", OPT_F32, &c.o.softmax_weight, 0, 100}, {"--average", OPT_F32, &c.o.average, 0, 100}, {"--min-count", OPT_U32, &c.o.min_count, 1, 1000000},
        {"--dev-fraction", OPT_F32, &c.o.dev_fraction, 0.001, 0.5}, {"--seed", OPT_U64, &c.o.seed, 0, 1e18},
        {"--threads", OPT_U32, &c.o.threads, 0, 256}, {"--buckets", OPT_U32, &c.o.buckets, 1, 1 << 30},
        {"--word-ngrams", OPT_U32, &c.o.word_ngrams, 0, 3}, {"--char-ngrams", OPT_U32_LIST, &c.chars, 0, 8},
        {"--no-sublinear-tf", OPT_FLAG, &c.no_sub, 0, 0}, {"--keep-accents", OPT_FLAG, &c.keep_acc, 0, 0},
        {"--threshold", OPT_F32, &c.threshold, 0, 1}, {"--no-tune-threshold", OPT_FLAG, &c.no_tune, 0, 0},
        {"--no-calibrate", OPT_FLAG, &c.no_cal, 0, 0}, {"--no-refit", OPT_FLAG, &c.no_refit, 0, 0},
        {"--no-clauses", OPT_FLAG, &c.no_clauses, 0, 0}, {"--no-label-names", OPT_FLAG, &c.no_names, 0, 0},
        {"--quiet", OPT_FLAG, &c.quiet, 0, 0}, {"--int8", OPT_FLAG, &c.int8, 0, 0},
    };
    const char *pos[1];
    size_t n_pos;
    int help;
    if (args_parse("train", argc, argv, 2, opts, sizeof opts / sizeof *opts, pos, 0, &n_pos, &help))
        return 2;
    if (help) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (!c.data || !c.out) {
        fail_msg("train", "--data and --out are required (see intent train --help)");
        return 2;
    }
    if (apply(&c))
        return 2;
    intent_dataset *train = NULL, *dev = NULL;
    if (read_dataset("train", c.data, c.format, &train) || (c.dev && read_dataset("train", c.dev, c.format, &dev))) {
        intent_dataset_free(train);
        return 1;
    }
    double t0 = mono_s();
    intent_model *m = NULL;
    intent_error err;
    int rc = intent_train(train, dev, &c.o, &m, &err);
    if (!rc && c.int8) {
        intent_model *q = NULL;
        rc = intent_model_quantize(m, &q, &err);
        intent_model_free(m);
        m = q;
    }
    if (!rc)
        rc = intent_model_save(m, c.out, &err);
    if (rc)
        fail_msg("train", "%s", err.message);
    else
        summary(&c, m, train, mono_s() - t0);
    intent_model_free(m);
    intent_dataset_free(train);
    intent_dataset_free(dev);
    return rc ? 1 : 0;
}
