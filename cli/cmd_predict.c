/*
 * cmd_predict.c - `intent predict`: answer texts from stdin (one a line) or arguments.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char USAGE[] =
    "usage: intent predict --model MODEL [--threshold T] [--top K] [--json] [--stats] [TEXT...]\n"
    "\n"
    "Answers each line of stdin with one line, in order, as soon as it is read; words given\n"
    "as arguments are answered as one text instead.\n"
    "\n"
    "  --model MODEL   the model file (required)\n"
    "  --threshold T   labels at or over T apply (default: the model's own, usually tuned)\n"
    "  --top K         also list the K most confident labels (default 1)\n"
    "  --json          {\"labels\": [...], \"top\": [{\"label\": ..., \"confidence\": ...}]}\n"
    "                  per line; \"top\" has max(K, labels) entries, at least one\n"
    "  --timing        add each answer's time (text in, labels out) to its line\n"
    "  --stats         at the end, print counts, answers per second, latency percentiles,\n"
    "                  answers per label, the model's version and load time and the memory\n"
    "                  in use to stderr\n";

typedef struct predict_cli {
    const char *model;
    float threshold;
    uint32_t top;
    int json, timing, stats;
    double took_us;        /* the last answer's time */
    const intent_model *m;
    intent_ctx *ctx;
    intent_service *svc;   /* with --stats: answers go through it and are counted */
    intent_lease lease;    /* on svc's one model, for the whole run */
    intent_score *scores;  /* [n_labels] */
    size_t cap;            /* entries asked for first: max(top, 8); all when more apply */
} predict_cli;

static void print_json(const predict_cli *c, size_t n_top, size_t n_over) {
    size_t n_lab = n_over < n_top ? n_over : n_top, n_show = c->top > n_lab ? c->top : n_lab;
    if (n_show > n_top)
        n_show = n_top;
    fputs("{\"labels\": [", stdout);
    for (size_t i = 0; i < n_lab; i++) {
        if (i)
            fputs(", ", stdout);
        json_str(stdout, intent_model_label(c->m, c->scores[i].label));
    }
    fputs("], \"top\": [", stdout);
    for (size_t i = 0; i < n_show; i++) {
        fputs(i ? ", {\"label\": " : "{\"label\": ", stdout);
        json_str(stdout, intent_model_label(c->m, c->scores[i].label));
        printf(", \"confidence\": %.4f}", (double)c->scores[i].confidence);
    }
    if (c->timing)
        printf("], \"micros\": %.2f}\n", c->took_us);
    else
        fputs("]}\n", stdout);
}

static void print_text(const predict_cli *c, size_t n_top, size_t n_over) {
    size_t n_lab = n_over < n_top ? n_over : n_top;
    if (!n_lab)
        fputs("(none)", stdout);
    for (size_t i = 0; i < n_lab; i++)
        printf("%s%s %.3f", i ? "  " : "", intent_model_label(c->m, c->scores[i].label),
               (double)c->scores[i].confidence);
    if (!n_lab || c->top > n_lab) {
        size_t n_show = c->top > n_top ? n_top : c->top;
        fputs("\ttop:", stdout);
        for (size_t i = 0; i < n_show; i++)
            printf(" %s %.3f", intent_model_label(c->m, c->scores[i].label), (double)c->scores[i].confidence);
    }
    if (c->timing)
        printf("\t(%.1f us)", c->took_us);
    fputc('\n', stdout);
}

static int answer(void *user, const char *text, size_t len) {
    predict_cli *c = user;
    size_t n_top, n_over;
    double t0 = c->timing ? mono_s() : 0.0;
    int rc = c->svc ? intent_service_predict(c->svc, &c->lease, c->ctx, text, len, c->threshold, c->scores, c->cap,
                                             &n_top, &n_over)
                    : intent_predict(c->m, c->ctx, text, len, c->threshold, c->scores, c->cap, &n_top, &n_over);
    if (!rc && n_over > n_top) /* rare: more labels apply than were asked for */
        rc = intent_predict(c->m, c->ctx, text, len, c->threshold, c->scores, intent_model_n_labels(c->m),
                            &n_top, &n_over);
    if (c->timing)
        c->took_us = (mono_s() - t0) * 1e6;
    if (rc) {
        fail_msg("predict", "prediction failed");
        return -1;
    }
    if (c->json)
        print_json(c, n_top, n_over);
    else
        print_text(c, n_top, n_over);
    return 0;
}

/* --stats: the model is loaded into a service, so load time, version and every answer
 * are counted. */
static int load_served(predict_cli *c, intent_error *err) {
    int rc = intent_service_new(&c->svc);
    if (rc) {
        snprintf(err->message, sizeof err->message, "%s", intent_status_str(rc));
        return rc;
    }
    rc = intent_service_load(c->svc, c->model, err);
    return rc ? rc : intent_service_acquire(c->svc, &c->lease);
}

static void print_stats(predict_cli *c) {
    intent_stats st;
    if (intent_service_stats(c->svc, &st))
        return;
    size_t need = intent_stats_format(&st, NULL, 0);
    char *text = malloc(need + 1);
    if (text) {
        intent_stats_format(&st, text, need + 1);
        fputs(text, stderr);
        free(text);
    }
    intent_stats_free(&st);
}

int cmd_predict(int argc, char **argv) {
    predict_cli c;
    memset(&c, 0, sizeof c);
    c.threshold = -1.0f;
    c.top = 1;
    const opt opts[] = {
        {"--model", OPT_STR, &c.model, 0, 0}, {"--threshold", OPT_F32, &c.threshold, 0, 1},
        {"--top", OPT_U32, &c.top, 0, INTENT_MAX_LABELS}, {"--json", OPT_FLAG, &c.json, 0, 0},
        {"--timing", OPT_FLAG, &c.timing, 0, 0}, {"--stats", OPT_FLAG, &c.stats, 0, 0},
    };
    const char *pos[256];
    size_t n_pos;
    int help;
    if (args_parse("predict", argc, argv, 2, opts, sizeof opts / sizeof *opts, pos, 256, &n_pos, &help))
        return 2;
    if (help) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (!c.model) {
        fail_msg("predict", "--model is required (see intent predict --help)");
        return 2;
    }
    intent_model *m = NULL;
    intent_error err;
    if (c.stats ? load_served(&c, &err) : intent_model_load(c.model, &m, &err)) {
        fail_msg("predict", "%s", err.message);
        intent_service_free(c.svc);
        return 1;
    }
    c.m = c.svc ? c.lease.model : m;
    c.cap = c.top > 8 ? c.top : 8;
    if (c.cap > intent_model_n_labels(c.m))
        c.cap = intent_model_n_labels(c.m);
    c.scores = malloc(intent_model_n_labels(c.m) * sizeof *c.scores);
    int rc = !c.scores || intent_ctx_new(c.m, &c.ctx) ? -1 : for_each_text("predict", pos, n_pos, false, answer, &c);
    fflush(stdout);
    if (c.svc)
        print_stats(&c);
    intent_ctx_free(c.ctx);
    free(c.scores);
    intent_service_release(c.svc, &c.lease);
    intent_service_free(c.svc);
    intent_model_free(m);
    return rc ? 1 : 0;
}
