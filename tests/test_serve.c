/*
 * test_serve.c - the served model and its stats: histogram buckets and percentiles on
 * known latencies, swap freeing the old model after its last reader, failed loads
 * keeping the model (counted, kept, logged), the fallback model, a retrain in the
 * background while predictions go on, and argument checks.
 */
#include "tests.h"
#include "serve.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *TEXTS[SERVE_N_TEXTS] = {
    "turn on the lights", "play some jazz", "lights and music please", "what is the time",
    "dim the lamp", "next song", "", "switch the lights on and put on a song",
};

const char *serve_text(size_t i) { return TEXTS[i % SERVE_N_TEXTS]; }

/* Two labels, PREFIX1 (lights) and PREFIX2 (music); tiny and fast, even under sanitizers. */
static intent_model *train_prefixed(const char *prefix, uint64_t seed, intent_progress_fn progress, void *user) {
    static const char *const rows[][2] = {
        {"1", "turn on the lights"}, {"1", "switch the lamp on"}, {"1", "lights on please"},
        {"1", "dim the lights"},     {"2", "play some music"},    {"2", "play jazz"},
        {"2", "put on a song"},      {"2", "next song"},          {"1,2", "lights on and play music"},
        {"1", "lamp off"},
    };
    char tsv[1024];
    size_t at = 0;
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        if (strcmp(rows[i][0], "1,2") == 0)
            at += (size_t)snprintf(tsv + at, sizeof tsv - at, "%s1,%s2\t%s\n", prefix, prefix, rows[i][1]);
        else
            at += (size_t)snprintf(tsv + at, sizeof tsv - at, "%s%s\t%s\n", prefix, rows[i][0], rows[i][1]);
    }
    intent_dataset *ds = ds_from_text(tsv);
    if (!ds)
        return NULL;
    intent_train_opts o;
    intent_train_opts_init(&o);
    o.buckets = 512;
    o.hidden[0] = 8;
    o.n_hidden = 1;
    o.epochs = 8;
    o.lr = 0.02f;
    o.seed = seed;
    o.threads = 1;
    o.progress = progress;
    o.progress_user = user;
    intent_model *m = NULL;
    intent_error err;
    if (intent_train(ds, NULL, &o, &m, &err))
        fprintf(stderr, "serve_model: %s\n", err.message);
    intent_dataset_free(ds);
    return m;
}

intent_model *serve_model(const char *prefix, uint64_t seed) { return train_prefixed(prefix, seed, NULL, NULL); }

/* ---- stats ---- */

static void histogram_buckets(void **state) {
    (void)state;
    assert_int_equal(intenti_stats_bucket(0), 0);
    assert_int_equal(intenti_stats_bucket(1023), 0);
    assert_int_equal(intenti_stats_bucket(1024), 1);
    assert_int_equal(intenti_stats_bucket(1151), 1);
    assert_int_equal(intenti_stats_bucket(1152), 2);
    assert_int_equal(intenti_stats_bucket(2047), 8);
    assert_int_equal(intenti_stats_bucket(2048), 9);
    assert_int_equal(intenti_stats_bucket((1ull << 34) - 1), INTENT_STATS_BUCKETS - 2);
    assert_int_equal(intenti_stats_bucket(1ull << 34), INTENT_STATS_BUCKETS - 1);
    assert_int_equal(intenti_stats_bucket(UINT64_MAX), INTENT_STATS_BUCKETS - 1);
    assert_true(intent_stats_bucket_us(0) == 0.0);
    assert_true(fabs(intent_stats_bucket_us(1) - 1.024) < 1e-9);
    /* every bucket's lower edge maps back to it, and edges grow by at most 12.5% */
    for (size_t b = 1; b < INTENT_STATS_BUCKETS; b++) {
        uint64_t lo = (uint64_t)llround(intent_stats_bucket_us(b) * 1e3);
        assert_int_equal(intenti_stats_bucket(lo), b);
        assert_int_equal(intenti_stats_bucket(lo - 1), b - 1);
        if (b > 1)
            assert_true(intent_stats_bucket_us(b) <= intent_stats_bucket_us(b - 1) * 1.125 + 1e-9);
    }
    /* 10 s, the top of the range asked for, still has its own bucket */
    assert_true(intenti_stats_bucket(10000000000ull) < INTENT_STATS_BUCKETS - 1);
}

static void percentiles_on_known_latencies(void **state) {
    (void)state;
    intenti_stats *s = malloc(sizeof *s);
    assert_non_null(s);
    intenti_stats_init(s);
    intent_stats st;
    memset(&st, 0, sizeof st);
    intenti_stats_sum(s, &st);
    assert_int_equal(st.answers, 0);
    assert_true(st.p50_us == 0.0 && st.max_us == 0.0);
    /* 1, 2, ..., 1000 us, spread over shards; every 10th out of scope, every 4th fallback */
    for (unsigned i = 1; i <= 1000; i++)
        intenti_stats_answer(s, i, INTENT_OK, (uint64_t)i * 1000, i % 10 ? 1 : 0, i % 4 == 0);
    intenti_stats_answer(s, 3, INTENT_ERR_NO_MODEL, 5, 0, false);
    intenti_stats_event(s, 5, INTENTI_EV_BUSY);
    intenti_stats_event(s, 6, INTENTI_EV_CANCELLED);
    intenti_stats_event(s, 6, INTENTI_EV_CANCELLED);
    intenti_stats_sum(s, &st);
    assert_int_equal(st.answers, 1000);
    assert_int_equal(st.out_of_scope, 100);
    assert_int_equal(st.answers_fallback, 250);
    assert_int_equal(st.errors, 1);
    assert_int_equal(st.busy, 1);
    assert_int_equal(st.cancelled, 2);
    assert_true(fabs(st.mean_us - 500.5) < 1e-9);
    assert_true(st.max_us == 1000.0);
    /* exact quantiles are 500, 950, 990: reported as a bucket's upper edge, <= 12.5% high */
    assert_true(st.p50_us >= 500.0 && st.p50_us <= 500.0 * 1.125);
    assert_true(st.p95_us >= 950.0 && st.p95_us <= 950.0 * 1.125);
    assert_true(st.p99_us >= 990.0 && st.p99_us <= 1000.0);
    uint64_t n = 0;
    for (size_t b = 0; b < INTENT_STATS_BUCKETS; b++)
        n += st.latency_hist[b];
    assert_int_equal(n, 1000);
    assert_int_equal(st.latency_hist[0], 1); /* 1 us is under the first edge, 1.024 us */

    /* one latency only: every percentile is that latency exactly (capped by max) */
    intenti_stats_init(s);
    for (int i = 0; i < 100; i++)
        intenti_stats_answer(s, 0, INTENT_OK, 100000, 1, false);
    intenti_stats_sum(s, &st);
    assert_true(st.p50_us == 100.0 && st.p95_us == 100.0 && st.p99_us == 100.0 && st.max_us == 100.0);

    /* 98 fast answers and 2 slow ones: p50 and p95 fast, p99 slow */
    intenti_stats_init(s);
    for (int i = 0; i < 98; i++)
        intenti_stats_answer(s, 1, INTENT_OK, 10000, 1, false);   /* 10 us */
    intenti_stats_answer(s, 2, INTENT_OK, 50000000, 1, false);    /* 50 ms */
    intenti_stats_answer(s, 2, INTENT_OK, 80000000, 1, false);    /* 80 ms */
    intenti_stats_sum(s, &st);
    assert_true(st.p50_us >= 10.0 && st.p50_us <= 11.25);
    assert_true(st.p95_us >= 10.0 && st.p95_us <= 11.25);
    assert_true(st.p99_us >= 50000.0 && st.p99_us <= 50000.0 * 1.125);
    assert_true(st.max_us == 80000.0);
    free(s);
}

/* ---- the service ---- */

static int log_calls, log_fails;
static char log_last[600];
static void log_fn(int status, const char *message, void *user) {
    (void)user;
    log_calls++;
    log_fails += status != INTENT_OK;
    snprintf(log_last, sizeof log_last, "%s", message);
}

static void empty_service(void **state) {
    (void)state;
    intent_service *svc;
    assert_int_equal(intent_service_new(&svc), INTENT_OK);
    intent_lease l;
    assert_int_equal(intent_service_acquire(svc, &l), INTENT_ERR_NO_MODEL);
    assert_null(l.model);
    intent_service_release(svc, &l); /* an empty lease is fine */
    intent_stats st;
    assert_int_equal(intent_service_stats(svc, &st), INTENT_OK);
    assert_int_equal(st.model_version, 0);
    assert_int_equal(st.n_labels, 0);
    assert_null(st.per_label);
    char buf[2048];
    size_t need = intent_stats_format(&st, buf, sizeof buf);
    assert_true(need > 0 && need < sizeof buf);
    assert_non_null(strstr(buf, "none served"));
    /* a short buffer: cut, terminated, and the needed length still reported */
    char small[16];
    assert_int_equal(intent_stats_format(&st, small, sizeof small), need);
    assert_int_equal(strlen(small), sizeof small - 1);
    intent_stats_free(&st);
    intent_stats_free(NULL);
    intent_service_free(svc);
    intent_service_free(NULL);
}

static void swap_frees_old_after_last_reader(void **state) {
    (void)state;
    intent_model *a = serve_model("A", 1), *b = serve_model("B", 2);
    assert_non_null(a);
    assert_non_null(b);
    intent_service *svc;
    assert_int_equal(intent_service_new(&svc), INTENT_OK);
    uint64_t v = 0;
    assert_int_equal(intent_service_swap(svc, a, &v), INTENT_OK);
    assert_int_equal(v, 1);
    intent_lease la, lb;
    assert_int_equal(intent_service_acquire(svc, &la), INTENT_OK);
    assert_ptr_equal(la.model, a);
    assert_int_equal(la.version, 1);
    assert_int_equal(la.fallback, 0);
    intent_stats st;
    assert_int_equal(intent_service_stats(svc, &st), INTENT_OK);
    uint64_t bytes_one = st.model_bytes;
    assert_true(bytes_one > 0);
    assert_int_equal(st.models_alive, 1);
    intent_stats_free(&st);

    assert_int_equal(intent_service_swap(svc, b, &v), INTENT_OK);
    assert_int_equal(v, 2);
    /* the old model lives on for its reader, whole */
    assert_int_equal(intent_service_stats(svc, &st), INTENT_OK);
    assert_int_equal(st.models_alive, 2);
    assert_int_equal(st.model_version, 2);
    assert_int_equal(st.swaps, 2);
    assert_true(st.model_bytes > bytes_one);
    intent_stats_free(&st);
    intent_ctx *ctx;
    assert_int_equal(intent_ctx_new(NULL, &ctx), INTENT_OK);
    intent_score top[2];
    size_t n_top, n_over;
    assert_int_equal(intent_service_predict(svc, &la, ctx, "play jazz", 9, -1, top, 2, &n_top, &n_over), INTENT_OK);
    assert_int_equal(intent_model_label(la.model, top[0].label)[0], 'A');
    /* new readers get the new one */
    assert_int_equal(intent_service_acquire(svc, &lb), INTENT_OK);
    assert_ptr_equal(lb.model, b);
    assert_int_equal(lb.version, 2);
    /* the last reader of the old model frees it */
    intent_service_release(svc, &la);
    assert_null(la.handle);
    assert_int_equal(intent_service_stats(svc, &st), INTENT_OK);
    assert_int_equal(st.models_alive, 1);
    assert_true(st.model_bytes < bytes_one * 3 / 2);
    assert_int_equal(st.answers, 1);
    intent_stats_free(&st);
    /* the served model is not freed by its readers */
    intent_service_release(svc, &lb);
    assert_int_equal(intent_service_stats(svc, &st), INTENT_OK);
    assert_int_equal(st.models_alive, 1);
    assert_int_equal(st.n_labels, 2);
    assert_string_equal(st.per_label[0].label, "B1");
    intent_stats_free(&st);
    intent_ctx_free(ctx);
    intent_service_free(svc);
}

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void load_failure_keeps_model(void **state) {
    (void)state;
    char good[256], bad[256], missing[256];
    tmp_path(good, sizeof good, "serve-good.intent");
    tmp_path(bad, sizeof bad, "serve-bad.intent");
    tmp_path(missing, sizeof missing, "serve-missing.intent");
    intent_model *a = serve_model("A", 1);
    assert_non_null(a);
    intent_error err;
    assert_int_equal(intent_model_save(a, good, &err), INTENT_OK);
    const void *bytes;
    size_t len;
    assert_int_equal(intent_model_bytes(a, &bytes, &len), INTENT_OK);
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, bytes, len);
    copy[len / 2] ^= 0x5a;
    write_file(bad, copy, len);
    free(copy);
    intent_model_free(a);

    intent_service *svc;
    assert_int_equal(intent_service_new(&svc), INTENT_OK);
    log_calls = log_fails = 0;
    intent_service_set_log(svc, log_fn, NULL);
    assert_int_equal(intent_service_load(svc, good, &err), INTENT_OK);
    assert_int_equal(log_calls, 1);
    assert_non_null(strstr(log_last, "loaded as version 1"));
    char msg[600];
    assert_int_equal(intent_service_last_error(svc, msg, sizeof msg), 0);
    assert_string_equal(msg, "");

    assert_int_equal(intent_service_load(svc, missing, &err), INTENT_ERR_IO);
    assert_int_equal(err.status, INTENT_ERR_IO);
    assert_non_null(strstr(err.message, "serve-missing.intent"));
    assert_non_null(strstr(err.message, "still serving version 1"));
    assert_true(intent_service_last_error(svc, msg, sizeof msg) > 0);
    assert_string_equal(msg, err.message);
    assert_int_equal(log_fails, 1);
    assert_string_equal(log_last, err.message);

    int rc = intent_service_load(svc, bad, &err);
    assert_true(rc == INTENT_ERR_CHECKSUM || rc == INTENT_ERR_FORMAT);
    assert_non_null(strstr(err.message, "still serving version 1"));
    assert_int_equal(log_fails, 2);

    intent_lease l;
    assert_int_equal(intent_service_acquire(svc, &l), INTENT_OK);
    assert_int_equal(l.version, 1);
    assert_int_equal(l.fallback, 0);
    intent_service_release(svc, &l);
    intent_stats st;
    assert_int_equal(intent_service_stats(svc, &st), INTENT_OK);
    assert_int_equal(st.loads, 1);
    assert_int_equal(st.load_failures, 2);
    assert_int_equal(st.model_version, 1);
    assert_true(st.load_ms > 0.0);
    assert_true(st.loaded_at > 1.6e9);
    assert_string_equal(st.last_error, err.message);
    char text[4096];
    intent_stats_format(&st, text, sizeof text);
    assert_non_null(strstr(text, "version 1 (primary)"));
    assert_non_null(strstr(text, "2 failed loads"));
    assert_non_null(strstr(text, "last error"));
    intent_stats_free(&st);
    /* a good load after failures replaces the model */
    assert_int_equal(intent_service_load(svc, good, NULL), INTENT_OK);
    assert_int_equal(intent_service_acquire(svc, &l), INTENT_OK);
    assert_int_equal(l.version, 2);
    intent_service_release(svc, &l);
    intent_service_set_log(svc, NULL, NULL);
    intent_service_free(svc);
    unlink(good);
    unlink(bad);
}

static void fallback_when_none_loaded(void **state) {
    (void)state;
    char good[256], missing[256];
    tmp_path(good, sizeof good, "serve-fb-good.intent");
    tmp_path(missing, sizeof missing, "serve-fb-missing.intent");
    intent_model *a = serve_model("A", 1);
    assert_non_null(a);
    intent_error err;
    assert_int_equal(intent_model_save(a, good, &err), INTENT_OK);
    intent_model_free(a);

    intent_service *svc;
    assert_int_equal(intent_service_new(&svc), INTENT_OK);
    assert_int_equal(intent_service_set_fallback(svc, serve_model("F", 3)), INTENT_OK);
    assert_int_equal(intent_service_load(svc, missing, &err), INTENT_ERR_IO);
    assert_non_null(strstr(err.message, "serving the fallback model, version 1"));
    intent_lease l;
    assert_int_equal(intent_service_acquire(svc, &l), INTENT_OK);
    assert_int_equal(l.fallback, 1);
    assert_int_equal(l.version, 1);
    intent_ctx *ctx;
    assert_int_equal(intent_ctx_new(l.model, &ctx), INTENT_OK);
    intent_score top[2];
    size_t n_top, n_over;
    for (int i = 0; i < 3; i++)
        assert_int_equal(intent_service_predict(svc, &l, ctx, "lights", 6, -1, top, 2, &n_top, &n_over), INTENT_OK);
    assert_int_equal(intent_model_label(l.model, top[0].label)[0], 'F');
    intent_service_release(svc, &l);
    intent_stats st;
    assert_int_equal(intent_service_stats(svc, &st), INTENT_OK);
    assert_int_equal(st.serving_fallback, 1);
    assert_int_equal(st.answers, 3);
    assert_int_equal(st.answers_fallback, 3);
    assert_int_equal(st.load_failures, 1);
    intent_stats_free(&st);

    /* once a primary model loads, it answers; the fallback waits */
    assert_int_equal(intent_service_load(svc, good, &err), INTENT_OK);
    assert_int_equal(intent_service_acquire(svc, &l), INTENT_OK);
    assert_int_equal(l.fallback, 0);
    assert_int_equal(l.version, 2);
    assert_int_equal(intent_service_predict(svc, &l, ctx, "lights", 6, -1, top, 2, &n_top, &n_over), INTENT_OK);
    assert_int_equal(intent_model_label(l.model, top[0].label)[0], 'A');
    intent_service_release(svc, &l);
    assert_int_equal(intent_service_stats(svc, &st), INTENT_OK);
    assert_int_equal(st.answers, 4);
    assert_int_equal(st.answers_fallback, 3);
    assert_int_equal(st.models_alive, 2); /* primary and fallback */
    intent_stats_free(&st);
    /* a failed load now keeps the primary, not the fallback */
    assert_int_equal(intent_service_load(svc, missing, &err), INTENT_ERR_IO);
    assert_non_null(strstr(err.message, "still serving version 2"));
    assert_int_equal(intent_service_set_fallback(svc, NULL), INTENT_OK);
    assert_int_equal(intent_service_stats(svc, &st), INTENT_OK);
    assert_int_equal(st.models_alive, 1);
    intent_stats_free(&st);
    intent_ctx_free(ctx);
    intent_service_free(svc);
    unlink(good);
}

/* A retrain on another thread, swapped in when done, while this thread predicts. */
typedef struct retrain {
    intent_service *svc;
    _Atomic int done;
    _Atomic long predictions;
    int rc;
} retrain;

/* Each epoch waits for a prediction made meanwhile, so answers and training interleave
 * whatever the scheduler does (valgrind runs one thread at a time). */
static int wait_for_a_reader(const intent_epoch_report *rep, void *user) {
    (void)rep;
    retrain *r = user;
    long seen = atomic_load(&r->predictions);
    for (int spins = 0; atomic_load(&r->predictions) == seen && spins < 200000; spins++) {
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static void *retrain_thread(void *p) {
    retrain *r = p;
    intent_model *m = train_prefixed("B", 7, wait_for_a_reader, r);
    r->rc = m ? intent_service_swap(r->svc, m, NULL) : INTENT_ERR_NOMEM;
    if (r->rc)
        intent_model_free(m);
    atomic_store(&r->done, 1);
    return NULL;
}

static void retrain_in_background(void **state) {
    (void)state;
    retrain r = {.rc = -1};
    atomic_init(&r.done, 0);
    atomic_init(&r.predictions, 0);
    assert_int_equal(intent_service_new(&r.svc), INTENT_OK);
    assert_int_equal(intent_service_swap(r.svc, serve_model("A", 1), NULL), INTENT_OK);
    intent_ctx *ctx;
    assert_int_equal(intent_ctx_new(NULL, &ctx), INTENT_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, retrain_thread, &r), 0);
    long during = 0;
    int saw_b = 0;
    for (long i = 0; !saw_b && i < 10000000; i++) {
        int finished = atomic_load(&r.done);
        intent_lease l;
        assert_int_equal(intent_service_acquire(r.svc, &l), INTENT_OK);
        intent_score top[2];
        size_t n_top, n_over;
        const char *q = serve_text((size_t)i);
        assert_int_equal(intent_service_predict(r.svc, &l, ctx, q, strlen(q), -1, top, 2, &n_top, &n_over), INTENT_OK);
        char want = l.version == 1 ? 'A' : 'B';
        for (size_t k = 0; k < n_top; k++)
            assert_int_equal(intent_model_label(l.model, top[k].label)[0], want);
        saw_b = finished && l.version == 2;
        during += !finished;
        atomic_fetch_add(&r.predictions, 1);
        intent_service_release(r.svc, &l);
    }
    pthread_join(t, NULL);
    assert_int_equal(r.rc, INTENT_OK);
    assert_true(saw_b);
    assert_true(during >= 2); /* answers went on while the retrain ran, epoch after epoch */
    intent_ctx_free(ctx);
    intent_service_free(r.svc);
}

static void bad_arguments(void **state) {
    (void)state;
    intent_service *svc;
    intent_lease l;
    assert_int_equal(intent_service_new(NULL), INTENT_ERR_ARG);
    assert_int_equal(intent_service_new(&svc), INTENT_OK);
    assert_int_equal(intent_service_swap(NULL, NULL, NULL), INTENT_ERR_ARG);
    assert_int_equal(intent_service_swap(svc, NULL, NULL), INTENT_ERR_ARG);
    assert_int_equal(intent_service_load(svc, NULL, NULL), INTENT_ERR_ARG);
    assert_int_equal(intent_service_load(NULL, "x", NULL), INTENT_ERR_ARG);
    assert_int_equal(intent_service_set_fallback(NULL, NULL), INTENT_ERR_ARG);
    assert_int_equal(intent_service_acquire(NULL, &l), INTENT_ERR_ARG);
    assert_int_equal(intent_service_acquire(svc, NULL), INTENT_ERR_ARG);
    assert_int_equal(intent_service_predict(svc, &l, NULL, "x", 1, -1, NULL, 0, NULL, NULL), INTENT_ERR_ARG);
    assert_int_equal(intent_service_stats(svc, NULL), INTENT_ERR_ARG);
    intent_stats st;
    assert_int_equal(intent_service_stats(NULL, &st), INTENT_ERR_ARG);
    char buf[8];
    assert_int_equal(intent_service_last_error(NULL, buf, sizeof buf), 0);
    assert_int_equal(intent_stats_format(NULL, buf, sizeof buf), 0);
    assert_string_equal(intent_status_str(INTENT_ERR_BUSY), "busy: the queue is full");
    assert_string_equal(intent_status_str(INTENT_ERR_TIMEOUT), "timed out");
    assert_string_equal(intent_status_str(INTENT_ERR_NO_MODEL), "no model is served");
    intent_service_set_log(NULL, NULL, NULL);
    intent_service_release(NULL, NULL);
    intent_service_free(svc);
}

/* Every allocation of making a service, swapping, loading and a snapshot may fail. */
static int service_op(void *arg) {
    const char *path = arg;
    intent_service *svc;
    int rc = intent_service_new(&svc);
    if (rc)
        return rc;
    intent_error err;
    rc = intent_service_load(svc, path, &err);
    intent_stats st;
    if (!rc)
        rc = intent_service_stats(svc, &st);
    if (!rc)
        intent_stats_free(&st);
    intent_service_free(svc);
    return rc;
}

static void allocation_failures(void **state) {
    (void)state;
    char path[256];
    tmp_path(path, sizeof path, "serve-alloc.intent");
    intent_model *a = serve_model("A", 1);
    assert_non_null(a);
    assert_int_equal(intent_model_save(a, path, NULL), INTENT_OK);
    intent_model_free(a);
    long n;
    for (n = 1; n < 1000; n++) {
        fail_alloc_at(n);
        int rc = service_op(path);
        fail_alloc_at(0);
        if (rc == INTENT_OK)
            break;
        assert_int_equal(rc, INTENT_ERR_NOMEM);
    }
    assert_true(n > 3 && n < 1000);
    unlink(path);
}

int test_serve(int *total) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(histogram_buckets),
        cmocka_unit_test(percentiles_on_known_latencies),
        cmocka_unit_test(empty_service),
        cmocka_unit_test(swap_frees_old_after_last_reader),
        cmocka_unit_test(load_failure_keeps_model),
        cmocka_unit_test(fallback_when_none_loaded),
        cmocka_unit_test(retrain_in_background),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(allocation_failures),
    };
    return RUN("serve", tests, total);
}
