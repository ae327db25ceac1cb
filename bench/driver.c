/*
 * driver.c - the intent C API under bench/compare.py's protocol, so that its row is
 * measured exactly as the Python and Node peers are (bench/contenders.py, ort.js):
 *
 *   1. the texts are read (one a line) before the clock starts;
 *   2. cold start: intent_model_load + intent_ctx_new + the first answer;
 *   3. warm-up: up to 2000 answers or a quarter of SECONDS; then resident memory
 *      (VmRSS), before any timing buffer exists;
 *   4. latency: single queries, text in -> labels out (intent_predict and the label
 *      names), cycling through the texts for SECONDS, each timed on the monotonic clock;
 *      p50 = sorted[n/2], p99 = sorted[n*99/100];
 *   5. throughput: BATCH texts at a time through intent_predict_batch + intent_decode
 *      (labels out for every text) for SECONDS.
 *
 * Prints one JSON object. With --dump FILE it instead writes every text's confidences
 * (all labels, model order, %.9g) to FILE, for the agreement check.
 *
 * usage: driver MODEL TEXTS SECONDS BATCH [--dump FILE]
 */
#include <intent.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long rss_kb(void) {
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (fp && fgets(line, sizeof line, fp))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (fp)
        fclose(fp);
    return kb;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct texts {
    char **s;
    size_t *len, n;
} texts;

static int read_texts(const char *path, texts *t) {
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    char *line = NULL;
    size_t cap = 0, room = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, fp)) > 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (t->n == room) {
            room = room ? 2 * room : 1024;
            char **s = realloc(t->s, room * sizeof *s);
            size_t *len = s ? realloc(t->len, room * sizeof *len) : NULL;
            if (s)
                t->s = s;
            if (!len)
                break;
            t->len = len;
        }
        t->s[t->n] = strndup(line, (size_t)n);
        if (!t->s[t->n])
            break;
        t->len[t->n++] = (size_t)n;
    }
    free(line);
    fclose(fp);
    return t->n ? 0 : -1;
}

/* Text in -> labels out: the names of the labels that apply. `sink` keeps the work from
 * being optimized away. */
static size_t answer(const intent_model *m, intent_ctx *ctx, const char *s, size_t len) {
    intent_score top[4];
    size_t n_top, n_over, sink = 0;
    intent_predict(m, ctx, s, len, -1.0f, top, 4, &n_top, &n_over);
    for (size_t i = 0; i < n_over && i < n_top; i++)
        sink += (size_t)intent_model_label(m, top[i].label)[0];
    return sink;
}

static int dump(const intent_model *m, intent_ctx *ctx, const texts *t, const char *path) {
    size_t n_lab = intent_model_n_labels(m);
    float *conf = malloc(n_lab * sizeof *conf);
    FILE *fp = fopen(path, "w");
    if (!conf || !fp) {
        free(conf);
        if (fp)
            fclose(fp);
        return -1;
    }
    for (size_t i = 0; i < t->n; i++) {
        const char *s = t->s[i];
        intent_predict_batch(m, ctx, &s, &t->len[i], 1, conf);
        for (size_t j = 0; j < n_lab; j++)
            fprintf(fp, j ? " %.9g" : "%.9g", (double)conf[j]);
        fputc('\n', fp);
    }
    free(conf);
    return fclose(fp) ? -1 : 0;
}

int main(int argc, char **argv) {
    if (argc != 5 && !(argc == 7 && strcmp(argv[5], "--dump") == 0)) {
        fputs("usage: driver MODEL TEXTS SECONDS BATCH [--dump FILE]\n", stderr);
        return 2;
    }
    double seconds = strtod(argv[3], NULL);
    size_t batch = strtoul(argv[4], NULL, 10);
    texts t = {0};
    if (read_texts(argv[2], &t) || batch < 1 || !(seconds > 0)) {
        fprintf(stderr, "driver: cannot read texts from %s (or bad SECONDS/BATCH)\n", argv[2]);
        return 1;
    }
    volatile size_t sink = 0;

    double t0 = mono_s();
    intent_model *m;
    intent_ctx *ctx;
    intent_error err;
    if (intent_model_load(argv[1], &m, &err) || intent_ctx_new(m, &ctx)) {
        fprintf(stderr, "driver: %s\n", err.message);
        return 1;
    }
    sink += answer(m, ctx, t.s[0], t.len[0]);
    double cold_ms = (mono_s() - t0) * 1e3;
    if (argc == 7)
        return dump(m, ctx, &t, argv[6]) ? 1 : 0;

    double end = mono_s() + seconds / 4;
    for (size_t i = 0; i < 2000 && mono_s() < end; i++)
        sink += answer(m, ctx, t.s[i % t.n], t.len[i % t.n]);
    long rss = rss_kb();

    size_t cap = (size_t)(seconds * 4e6) + 1024, n = 0; /* room for 0.25 us answers */
    double *us = malloc(cap * sizeof *us);
    size_t n_lab = intent_model_n_labels(m);
    float *conf = malloc(batch * n_lab * sizeof *conf);
    const char **bs = malloc(batch * sizeof *bs);
    size_t *bl = malloc(batch * sizeof *bl);
    if (!us || !conf || !bs || !bl)
        return 1;
    end = mono_s() + seconds;
    while (n < cap && (n % 64 || mono_s() < end)) {
        size_t i = n % t.n;
        double a = mono_s();
        sink += answer(m, ctx, t.s[i], t.len[i]);
        us[n++] = (mono_s() - a) * 1e6;
    }
    qsort(us, n, sizeof *us, cmp_double);

    size_t answers = 0, at = 0;
    double start = mono_s(), now = start;
    while (now - start < seconds) {
        for (size_t k = 0; k < batch; k++, at++) {
            bs[k] = t.s[at % t.n];
            bl[k] = t.len[at % t.n];
        }
        intent_predict_batch(m, ctx, bs, bl, batch, conf);
        for (size_t k = 0; k < batch; k++) {
            intent_score top[4];
            size_t n_top, n_over;
            intent_decode(m, conf + k * n_lab, -1.0f, top, 4, &n_top, &n_over);
            for (size_t i = 0; i < n_over && i < n_top; i++)
                sink += (size_t)intent_model_label(m, top[i].label)[0];
        }
        answers += batch;
        now = mono_s();
    }
    const void *bytes;
    size_t model_bytes;
    intent_model_bytes(m, &bytes, &model_bytes);
    printf("{\"cold_ms\": %.4f, \"p50_us\": %.4f, \"p99_us\": %.4f, \"n\": %zu, \"per_second\": %.1f, "
           "\"rss_kb\": %ld, \"model_bytes\": %zu, \"kernel\": \"%s\", \"sink\": %zu}\n",
           cold_ms, us[n / 2], us[n * 99 / 100], n, answers / (now - start), rss, model_bytes,
           intent_kernel_name(), (size_t)sink);
    free(us);
    free(conf);
    free(bs);
    free(bl);
    intent_ctx_free(ctx);
    intent_model_free(m);
    for (size_t i = 0; i < t.n; i++)
        free(t.s[i]);
    free(t.s);
    free(t.len);
    return 0;
}
