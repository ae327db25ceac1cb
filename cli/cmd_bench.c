/*
 * cmd_bench.c - `intent bench`: how fast a model answers, and what it costs to hold.
 *
 * Single-query latency is timed per call (clock_gettime on the monotonic clock costs
 * ~20 ns, small against a microsecond answer); throughput counts answers per second of
 * intent_predict_batch over each thread count, each thread with its own context.
 */
#include "cli.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char USAGE[] =
    "usage: intent bench --model MODEL [--data FILE] [--threads N] [--seconds S] [--json] [--no-pool]\n"
    "\n"
    "Measures cold start (load + first answer), single-query latency (p50, p95, p99, max),\n"
    "batch throughput for 1..N threads, resident memory and model size, and names the\n"
    "kernels that ran. Texts come from FILE (labelled data: its texts are used; or plain\n"
    "lines with --plain), else from a few built-in commands.\n"
    "\n"
    "  --model MODEL   the model (required)\n"
    "  --data FILE     texts to answer (labelled TSV/fastText/JSONL)\n"
    "  --plain FILE    texts to answer, one a line\n"
    "  --threads N     largest thread count for throughput (default: all cores)\n"
    "  --seconds S     time per measurement (default 1)\n"
    "  --json          one JSON object\n"
    "  --no-pool       skip the last pass: answering through the async pool (intent_pool,\n"
    "                  --threads workers), which prints the serving stats\n";

typedef struct texts {
    char **s;
    size_t *len, n;
} texts;

static const char *BUILTIN[] = {
    "read me the document on my screen", "can you see my screen", "play some jazz",
    "what is the weather tomorrow", "remind me to call mum at six", "open my downloads folder",
    "turn the volume down a bit", "send an email to the team about the meeting",
};

static int add_text(texts *t, const char *s, size_t len) {
    char **ns = realloc(t->s, (t->n + 1) * sizeof *ns);
    size_t *nl = ns ? realloc(t->len, (t->n + 1) * sizeof *nl) : NULL;
    if (ns)
        t->s = ns;
    if (!nl)
        return -1;
    t->len = nl;
    t->s[t->n] = malloc(len + 1);
    if (!t->s[t->n])
        return -1;
    memcpy(t->s[t->n], s, len);
    t->s[t->n][len] = '\0';
    t->len[t->n++] = len;
    return 0;
}

static int load_texts(texts *t, const char *data, const char *plain) {
    if (data) {
        intent_dataset *ds;
        if (read_dataset("bench", data, NULL, &ds))
            return -1;
        for (size_t i = 0; i < intent_dataset_size(ds); i++) {
            size_t len;
            const char *s = intent_dataset_example(ds, i, &len, NULL, NULL);
            if (add_text(t, s, len))
                return -1;
        }
        intent_dataset_free(ds);
    } else if (plain) {
        FILE *fp = fopen(plain, "r");
        if (!fp) {
            fail_msg("bench", "%s: cannot open", plain);
            return -1;
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, fp)) > 0) {
            while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                n--;
            if (add_text(t, line, (size_t)n))
                break;
        }
        free(line);
        fclose(fp);
    } else {
        for (size_t i = 0; i < sizeof BUILTIN / sizeof *BUILTIN; i++)
            if (add_text(t, BUILTIN[i], strlen(BUILTIN[i])))
                return -1;
    }
    if (!t->n) {
        fail_msg("bench", "no texts to answer");
        return -1;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static long rss_kb(const char *field) {
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t fl = strlen(field);
    while (fp && fgets(line, sizeof line, fp))
        if (strncmp(line, field, fl) == 0)
            kb = strtol(line + fl, NULL, 10);
    if (fp)
        fclose(fp);
    return kb;
}

typedef struct latency {
    double p50, p95, p99, max, mean;
    size_t n;
} latency;

/* Times single queries, cycling through the texts, for about `seconds`. */
static int single(const intent_model *m, const texts *t, double seconds, latency *out) {
    intent_ctx *ctx;
    if (intent_ctx_new(m, &ctx))
        return -1;
    intent_score top[4];
    size_t nt, no, cap = 2000000, n = 0;
    double *us = malloc(cap * sizeof *us);
    if (!us) {
        intent_ctx_free(ctx);
        return -1;
    }
    for (size_t i = 0; i < 2000; i++) /* warm: caches, branch predictors, page faults */
        intent_predict(m, ctx, t->s[i % t->n], t->len[i % t->n], -1, top, 4, &nt, &no);
    double end = mono_s() + seconds, sum = 0;
    while (n < cap && (n % 256 || mono_s() < end)) {
        size_t i = n % t->n;
        double a = mono_s();
        intent_predict(m, ctx, t->s[i], t->len[i], -1, top, 4, &nt, &no);
        us[n] = (mono_s() - a) * 1e6;
        sum += us[n++];
    }
    qsort(us, n, sizeof *us, cmp_double);
    *out = (latency){us[n / 2], us[n * 95 / 100], us[n * 99 / 100], us[n - 1], sum / n, n};
    free(us);
    intent_ctx_free(ctx);
    return 0;
}

typedef struct worker {
    const intent_model *m;
    const texts *t;
    double seconds;
    size_t offset, answers;
} worker;

static void *throughput_worker(void *arg) {
    worker *w = arg;
    intent_ctx *ctx;
    enum { CHUNK = 64 };
    float *conf = malloc(CHUNK * intent_model_n_labels(w->m) * sizeof *conf);
    if (!conf || intent_ctx_new(w->m, &ctx)) {
        free(conf);
        return NULL;
    }
    const char *s[CHUNK];
    size_t len[CHUNK], i = w->offset;
    double end = mono_s() + w->seconds;
    while (mono_s() < end) {
        for (int k = 0; k < CHUNK; k++, i++) {
            s[k] = w->t->s[i % w->t->n];
            len[k] = w->t->len[i % w->t->n];
        }
        intent_predict_batch(w->m, ctx, s, len, CHUNK, conf);
        w->answers += CHUNK;
    }
    intent_ctx_free(ctx);
    free(conf);
    return NULL;
}

static double throughput(const intent_model *m, const texts *t, uint32_t threads, double seconds) {
    pthread_t th[256];
    worker w[256];
    for (uint32_t i = 0; i < threads; i++) {
        w[i] = (worker){m, t, seconds, i * 7919u, 0};
        pthread_create(&th[i], NULL, throughput_worker, &w[i]);
    }
    size_t total = 0;
    for (uint32_t i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += w[i].answers;
    }
    return total / seconds;
}

/* Cold start: load + first answer, median of several runs (the file stays in the page
 * cache, so this measures our work, not the disk). */
static double cold_start_ms(const char *path, const texts *t) {
    double runs[15];
    for (int r = 0; r < 15; r++) {
        double a = mono_s();
        intent_model *m;
        intent_ctx *ctx;
        intent_score top[2];
        size_t nt, no;
        if (intent_model_load(path, &m, NULL))
            return -1;
        intent_ctx_new(m, &ctx);
        intent_predict(m, ctx, t->s[0], t->len[0], -1, top, 2, &nt, &no);
        runs[r] = (mono_s() - a) * 1e3;
        intent_ctx_free(ctx);
        intent_model_free(m);
    }
    qsort(runs, 15, sizeof *runs, cmp_double);
    return runs[7];
}

typedef struct bench_cli {
    const char *model, *data, *plain;
    uint32_t threads;
    float seconds;
    int json;
    int no_pool;   /* --no-pool: skip answering through intent_pool with its stats (bench_pool.c) */
} bench_cli;

static void report(const bench_cli *c, const intent_model *m, size_t model_bytes, double cold_ms,
                   const latency *lat, const double *tput, uint32_t n_tput, long rss, long hwm) {
    if (c->json) {
        printf("{\"model\": ");
        json_str(stdout, c->model);
        printf(", \"model_bytes\": %zu, \"labels\": %zu, \"kernel\": \"%s\", \"cold_start_ms\": %.3f, "
               "\"latency_us\": {\"p50\": %.3f, \"p95\": %.3f, \"p99\": %.3f, \"max\": %.3f, \"mean\": %.3f, \"n\": %zu}, "
               "\"throughput\": [",
               model_bytes, intent_model_n_labels(m), intent_kernel_name(), cold_ms, lat->p50, lat->p95, lat->p99,
               lat->max, lat->mean, lat->n);
        for (uint32_t i = 0; i < n_tput; i++)
            printf("%s{\"threads\": %u, \"per_second\": %.0f}", i ? ", " : "", i + 1, tput[i]);
        printf("], \"rss_kb\": %ld, \"peak_rss_kb\": %ld}\n", rss, hwm);
        return;
    }
    char hb[32];
    printf("model           %s (%s, %zu labels)\n", c->model, human_bytes(model_bytes, hb, sizeof hb),
           intent_model_n_labels(m));
    printf("kernel          %s\n", intent_kernel_name());
    printf("cold start      %.3f ms (load + first answer, median of 15)\n", cold_ms);
    printf("latency         p50 %.2f us  p95 %.2f us  p99 %.2f us  max %.2f us  (%zu queries, one thread)\n",
           lat->p50, lat->p95, lat->p99, lat->max, lat->n);
    for (uint32_t i = 0; i < n_tput; i++)
        printf("throughput      %u thread%s: %.0f answers/s\n", i + 1, i ? "s" : " ", tput[i]);
    printf("memory          %ld KB resident, %ld KB peak\n", rss, hwm);
}

int cmd_bench(int argc, char **argv) {
    bench_cli c = {NULL, NULL, NULL, 0, 1.0f, 0, 0};
    int help;
    const opt opts[] = {
        {"--model", OPT_STR, &c.model, 0, 0}, {"--data", OPT_STR, &c.data, 0, 0}, {"--plain", OPT_STR, &c.plain, 0, 0},
        {"--threads", OPT_U32, &c.threads, 1, 256}, {"--seconds", OPT_F32, &c.seconds, 0.01, 600},
        {"--json", OPT_FLAG, &c.json, 0, 0}, {"--no-pool", OPT_FLAG, &c.no_pool, 0, 0},
    };
    const char *pos[1];
    size_t n_pos;
    if (args_parse("bench", argc, argv, 2, opts, sizeof opts / sizeof *opts, pos, 0, &n_pos, &help))
        return 2;
    if (help) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (!c.model) {
        fail_msg("bench", "--model is required (see intent bench --help)");
        return 2;
    }
    if (!c.threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        c.threads = n < 1 ? 1 : n > 256 ? 256 : (uint32_t)n;
    }
    texts t = {0};
    if (load_texts(&t, c.data, c.plain))
        return 1;
    intent_model *m;
    intent_error err;
    if (intent_model_load(c.model, &m, &err)) {
        fail_msg("bench", "%s", err.message);
        return 1;
    }
    double cold = cold_start_ms(c.model, &t);
    latency lat;
    double tput[256];
    int rc = single(m, &t, c.seconds, &lat);
    for (uint32_t i = 0; !rc && i < c.threads; i++)
        tput[i] = throughput(m, &t, i + 1, c.seconds);
    const void *bytes;
    size_t model_bytes;
    intent_model_bytes(m, &bytes, &model_bytes);
    if (!rc)
        report(&c, m, model_bytes, cold, &lat, tput, c.threads, rss_kb("VmRSS:"), rss_kb("VmHWM:"));
    if (!rc && !c.no_pool)
        rc = bench_pool(c.model, t.s, t.len, t.n, c.threads, c.seconds, c.json ? stderr : stdout);
    intent_model_free(m);
    for (size_t i = 0; i < t.n; i++)
        free(t.s[i]);
    free(t.s);
    free(t.len);
    return rc ? 1 : 0;
}
