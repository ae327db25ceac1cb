/*
 * test_pool.c - the async pool: answers and futures, a full queue says busy, drain and
 * cancel give exactly one callback per request, futures time out, batches form while a
 * worker is held up, texts are copied at submit, no model, argument checks, allocation
 * failures. A "gate" holds the one worker inside the first callback so the queue fills
 * deterministically.
 */
#include "tests.h"
#include "serve.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_REQ 64

/* What the callbacks saw; written by pool threads, read by the test after the pool is freed. */
typedef struct seen {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls[MAX_REQ];        /* callbacks per request tag */
    intent_result r[MAX_REQ];  /* the last result per tag (label names not kept) */
    int n;                     /* callbacks in all */
    /* the gate: the callback of tag 0 waits in it until opened */
    int entered, open;
} seen;

typedef struct tag {
    seen *s;
    int i;
} tag;

static void seen_init(seen *s) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
}

static void seen_fini(seen *s) {
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

static void on_answer(const intent_result *r, void *user) {
    tag *t = user;
    seen *s = t->s;
    pthread_mutex_lock(&s->mu);
    s->calls[t->i]++;
    s->r[t->i] = *r;
    s->n++;
    if (t->i == 0) { /* the gate */
        s->entered = 1;
        pthread_cond_broadcast(&s->cv);
        while (!s->open)
            pthread_cond_wait(&s->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
}

static void wait_entered(seen *s) {
    pthread_mutex_lock(&s->mu);
    while (!s->entered)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

static void open_gate(seen *s) {
    pthread_mutex_lock(&s->mu);
    s->open = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Opens the gate once intent_pool_free has begun, so free finds the queue still full. */
typedef struct opener {
    intent_pool *pool;
    seen *s;
} opener;

static void *open_when_closing(void *p) {
    opener *o = p;
    while (!intenti_pool_closing(o->pool)) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    open_gate(o->s);
    return NULL;
}

static intent_service *service_a(void) {
    intent_service *svc;
    assert_int_equal(intent_service_new(&svc), INTENT_OK);
    intent_model *m = serve_model("A", 1);
    assert_non_null(m);
    assert_int_equal(intent_service_swap(svc, m, NULL), INTENT_OK);
    return svc;
}

/* Submits tag i with text serve_text(i). */
static int put(intent_pool *p, tag *tags, seen *s, int i) {
    tags[i] = (tag){s, i};
    const char *q = serve_text((size_t)i);
    return intent_pool_submit(p, q, strlen(q), on_answer, &tags[i]);
}

static void answers_and_futures(void **state) {
    (void)state;
    intent_service *svc = service_a();
    intent_pool *p;
    assert_int_equal(intent_pool_new(svc, 3, 64, 4, &p), INTENT_OK);
    seen s;
    seen_init(&s);
    s.open = 1;
    tag tags[MAX_REQ];
    for (int i = 0; i < 20; i++)
        assert_int_equal(put(p, tags, &s, i), INTENT_OK);
    intent_future *f[5];
    for (int i = 0; i < 5; i++)
        assert_int_equal(intent_pool_submit_future(p, "play some jazz", 14, &f[i]), INTENT_OK);
    intent_result r;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(intent_future_wait(f[i], -1, &r), INTENT_OK);
        assert_int_equal(r.status, INTENT_OK);
        assert_int_equal(r.model_version, 1);
        assert_true(r.n_top >= 1 && r.n_top <= INTENT_RESULT_MAX);
        assert_string_equal(r.labels[0], "A2");
        assert_true(r.seq >= 21 && r.seq <= 25);
        /* waiting again gives the same answer at once */
        intent_result again;
        assert_int_equal(intent_future_wait(f[i], 0, &again), INTENT_OK);
        assert_int_equal(again.seq, r.seq);
    }
    intent_stats st;
    assert_int_equal(intent_pool_stats(p, &st), INTENT_OK);
    assert_int_equal(st.threads, 3);
    assert_int_equal(st.queue_cap, 64);
    assert_true(st.scratch_bytes > 64 * 192);
    assert_true(st.memory_bytes == st.model_bytes + st.scratch_bytes);
    intent_stats_free(&st);
    intent_pool_free(p, INTENT_POOL_DRAIN);
    /* the label names of a future outlive the pool and the model */
    assert_int_equal(intent_service_swap(svc, serve_model("B", 2), NULL), INTENT_OK);
    assert_int_equal(intent_future_wait(f[0], 0, &r), INTENT_OK);
    assert_string_equal(r.labels[0], "A2");
    for (int i = 0; i < 5; i++)
        intent_future_free(f[i]);
    uint64_t seqs = 0;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(s.calls[i], 1);
        assert_int_equal(s.r[i].status, INTENT_OK);
        assert_int_equal(s.r[i].model_version, 1);
        assert_true(s.r[i].seq >= 1 && s.r[i].seq <= 20);
        seqs |= 1ull << s.r[i].seq;
        assert_true(s.r[i].latency_us > 0.0);
        assert_true(s.r[i].batch >= 1 && s.r[i].batch <= 4);
        assert_true(s.r[i].n_top >= 1);
        assert_true(s.r[i].n_top == (s.r[i].n_over ? s.r[i].n_over : 1));
    }
    assert_int_equal(seqs, ((1ull << 21) - 1) & ~1ull); /* 1..20, each once */
    assert_int_equal(intent_service_stats(svc, &st), INTENT_OK);
    assert_int_equal(st.answers, 25);
    assert_int_equal(st.scratch_bytes, 0); /* the pool gave its scratch back */
    assert_int_equal(st.n_labels, 2);      /* per label of model B: nothing yet */
    assert_int_equal(st.per_label[0].answers + st.per_label[1].answers, 0);
    intent_stats_free(&st);
    seen_fini(&s);
    intent_service_free(svc);
}

static void busy_when_full(void **state) {
    (void)state;
    intent_service *svc = service_a();
    intent_pool *p;
    assert_int_equal(intent_pool_new(svc, 1, 4, 8, &p), INTENT_OK);
    seen s;
    seen_init(&s);
    tag tags[MAX_REQ];
    assert_int_equal(put(p, tags, &s, 0), INTENT_OK);
    wait_entered(&s); /* the worker is held in tag 0's callback: the queue is empty */
    for (int i = 1; i <= 4; i++)
        assert_int_equal(put(p, tags, &s, i), INTENT_OK);
    assert_int_equal(put(p, tags, &s, 5), INTENT_ERR_BUSY);
    intent_future *f = NULL;
    assert_int_equal(intent_pool_submit_future(p, "x", 1, &f), INTENT_ERR_BUSY);
    assert_null(f);
    intent_stats st;
    assert_int_equal(intent_pool_stats(p, &st), INTENT_OK);
    assert_int_equal(st.queued, 4);
    assert_int_equal(st.busy, 2);
    intent_stats_free(&st);
    open_gate(&s);
    intent_pool_free(p, INTENT_POOL_DRAIN);
    for (int i = 0; i <= 4; i++)
        assert_int_equal(s.calls[i], 1);
    assert_int_equal(s.calls[5], 0); /* refused: no callback */
    assert_int_equal(s.n, 5);
    seen_fini(&s);
    intent_service_free(svc);
}

/* Holds the worker, queues n more, frees the pool with mode while the queue is full. */
static void close_with_queue(int mode, seen *s, int n) {
    intent_service *svc = service_a();
    intent_pool *p;
    assert_int_equal(intent_pool_new(svc, 1, 64, 4, &p), INTENT_OK);
    tag tags[MAX_REQ];
    assert_int_equal(put(p, tags, s, 0), INTENT_OK);
    wait_entered(s);
    for (int i = 1; i <= n; i++)
        assert_int_equal(put(p, tags, s, i), INTENT_OK);
    intent_future *f;
    assert_int_equal(intent_pool_submit_future(p, "play jazz", 9, &f), INTENT_OK);
    opener o = {p, s};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, open_when_closing, &o), 0);
    intent_pool_free(p, mode);
    pthread_join(t, NULL);
    intent_result r;
    assert_int_equal(intent_future_wait(f, 0, &r), INTENT_OK); /* answered before free returned */
    assert_int_equal(r.status, mode == INTENT_POOL_CANCEL ? INTENT_ERR_CANCELLED : INTENT_OK);
    intent_future_free(f);
    intent_stats st;
    assert_int_equal(intent_service_stats(svc, &st), INTENT_OK);
    assert_int_equal(st.answers + st.cancelled, (uint64_t)n + 2);
    assert_int_equal(st.cancelled, mode == INTENT_POOL_CANCEL ? (uint64_t)n + 1 : 0);
    intent_stats_free(&st);
    intent_service_free(svc);
}

static void drain_answers_everything(void **state) {
    (void)state;
    seen s;
    seen_init(&s);
    close_with_queue(INTENT_POOL_DRAIN, &s, 10);
    assert_int_equal(s.n, 11);
    for (int i = 0; i <= 10; i++) {
        assert_int_equal(s.calls[i], 1);
        assert_int_equal(s.r[i].status, INTENT_OK);
    }
    seen_fini(&s);
}

static void cancel_cancels_the_queue(void **state) {
    (void)state;
    seen s;
    seen_init(&s);
    close_with_queue(INTENT_POOL_CANCEL, &s, 10);
    assert_int_equal(s.n, 11);
    assert_int_equal(s.calls[0], 1);
    assert_int_equal(s.r[0].status, INTENT_OK); /* it was being answered */
    for (int i = 1; i <= 10; i++) {
        assert_int_equal(s.calls[i], 1);
        assert_int_equal(s.r[i].status, INTENT_ERR_CANCELLED);
        assert_int_equal(s.r[i].n_top, 0);
        assert_int_equal(s.r[i].model_version, 0);
    }
    seen_fini(&s);
}

static void future_timeout(void **state) {
    (void)state;
    intent_service *svc = service_a();
    intent_pool *p;
    assert_int_equal(intent_pool_new(svc, 1, 8, 8, &p), INTENT_OK);
    seen s;
    seen_init(&s);
    tag tags[MAX_REQ];
    assert_int_equal(put(p, tags, &s, 0), INTENT_OK);
    wait_entered(&s);
    intent_future *f, *dropped;
    assert_int_equal(intent_pool_submit_future(p, "turn on the lights", 18, &f), INTENT_OK);
    assert_int_equal(intent_pool_submit_future(p, "next song", 9, &dropped), INTENT_OK);
    intent_result r;
    assert_int_equal(intent_future_wait(f, 0, &r), INTENT_ERR_TIMEOUT);
    double t0 = (double)intenti_now_ns();
    assert_int_equal(intent_future_wait(f, 30, &r), INTENT_ERR_TIMEOUT);
    assert_true(((double)intenti_now_ns() - t0) / 1e6 >= 29.0);
    intent_future_free(dropped); /* freed before its answer: the answer is dropped */
    open_gate(&s);
    assert_int_equal(intent_future_wait(f, 10000, &r), INTENT_OK);
    assert_int_equal(r.status, INTENT_OK);
    assert_string_equal(r.labels[0], "A1");
    assert_true(r.latency_us >= 30000.0);
    intent_pool_free(p, INTENT_POOL_DRAIN);
    intent_future_free(f);
    intent_future_free(NULL);
    seen_fini(&s);
    intent_service_free(svc);
}

static void batches_form_while_busy(void **state) {
    (void)state;
    intent_service *svc = service_a();
    intent_pool *p;
    assert_int_equal(intent_pool_new(svc, 1, 64, 4, &p), INTENT_OK);
    seen s;
    seen_init(&s);
    tag tags[MAX_REQ];
    assert_int_equal(put(p, tags, &s, 0), INTENT_OK);
    wait_entered(&s); /* a slow first request: the others pile up behind it */
    for (int i = 1; i <= 10; i++)
        assert_int_equal(put(p, tags, &s, i), INTENT_OK);
    open_gate(&s);
    intent_pool_free(p, INTENT_POOL_DRAIN);
    assert_int_equal(s.r[0].batch, 1);
    for (int i = 1; i <= 8; i++)
        assert_int_equal(s.r[i].batch, 4);
    assert_int_equal(s.r[9].batch, 2);
    assert_int_equal(s.r[10].batch, 2);
    for (int i = 0; i <= 10; i++) {
        assert_int_equal(s.calls[i], 1);
        assert_int_equal(s.r[i].seq, (uint64_t)i + 1); /* one worker: answered in submit order */
    }
    seen_fini(&s);
    intent_service_free(svc);
}

static void batch_stats(void **state) {
    (void)state;
    intent_service *svc = service_a();
    intent_pool *p;
    assert_int_equal(intent_pool_new(svc, 1, 64, 4, &p), INTENT_OK);
    seen s;
    seen_init(&s);
    tag tags[MAX_REQ];
    assert_int_equal(put(p, tags, &s, 0), INTENT_OK);
    wait_entered(&s);
    for (int i = 1; i <= 10; i++)
        assert_int_equal(put(p, tags, &s, i), INTENT_OK);
    intent_future *f;
    assert_int_equal(intent_pool_submit_future(p, "x", 1, &f), INTENT_OK);
    open_gate(&s);
    assert_int_equal(intent_future_wait(f, -1, NULL), INTENT_OK); /* FIFO: all before it are done */
    intent_future_free(f);
    intent_stats st;
    assert_int_equal(intent_pool_stats(p, &st), INTENT_OK);
    assert_int_equal(st.answers, 12);
    assert_int_equal(st.batches, 4); /* 1, then 4, 4, and 3 with the future */
    assert_true(st.mean_batch == 3.0);
    assert_int_equal(st.queued, 0);
    uint64_t labelled = 0;
    for (size_t i = 0; i < st.n_labels; i++)
        labelled += st.per_label[i].answers;
    assert_true(labelled >= st.answers - st.out_of_scope);
    char text[4096];
    intent_stats_format(&st, text, sizeof text);
    assert_non_null(strstr(text, "4 batches"));
    assert_non_null(strstr(text, "p99"));
    intent_stats_free(&st);
    intent_pool_free(p, INTENT_POOL_DRAIN);
    seen_fini(&s);
    intent_service_free(svc);
}

static void texts_are_copied(void **state) {
    (void)state;
    intent_service *svc = service_a();
    intent_pool *p;
    assert_int_equal(intent_pool_new(svc, 2, 16, 4, &p), INTENT_OK);
    /* short (in the queue slot) and long (on the heap) texts, overwritten after submit */
    char shortq[64], longq[1200];
    snprintf(shortq, sizeof shortq, "play some jazz");
    size_t at = 0;
    while (at + 16 < sizeof longq)
        at += (size_t)snprintf(longq + at, sizeof longq - at, "play jazz song ");
    intent_future *fs, *fl;
    assert_int_equal(intent_pool_submit_future(p, shortq, strlen(shortq), &fs), INTENT_OK);
    assert_int_equal(intent_pool_submit_future(p, longq, at, &fl), INTENT_OK);
    memset(shortq, 'x', sizeof shortq);
    memset(longq, 'x', sizeof longq);
    intent_result r;
    assert_int_equal(intent_future_wait(fs, -1, &r), INTENT_OK);
    assert_string_equal(r.labels[0], "A2");
    assert_int_equal(intent_future_wait(fl, -1, &r), INTENT_OK);
    assert_string_equal(r.labels[0], "A2");
    intent_future_free(fs);
    intent_future_free(fl);
    /* an empty text is a text */
    intent_future *fe;
    assert_int_equal(intent_pool_submit_future(p, NULL, 0, &fe), INTENT_OK);
    assert_int_equal(intent_future_wait(fe, -1, &r), INTENT_OK);
    assert_int_equal(r.status, INTENT_OK);
    assert_int_equal(r.n_top, r.n_over ? r.n_over : 1);
    intent_future_free(fe);
    intent_pool_free(p, INTENT_POOL_CANCEL);
    intent_service_free(svc);
}

static void no_model_answers_no_model(void **state) {
    (void)state;
    intent_service *svc;
    assert_int_equal(intent_service_new(&svc), INTENT_OK);
    intent_pool *p;
    assert_int_equal(intent_pool_new(svc, 2, 8, 2, &p), INTENT_OK);
    intent_future *f;
    assert_int_equal(intent_pool_submit_future(p, "lights", 6, &f), INTENT_OK);
    intent_result r;
    assert_int_equal(intent_future_wait(f, -1, &r), INTENT_OK);
    assert_int_equal(r.status, INTENT_ERR_NO_MODEL);
    assert_int_equal(r.n_top, 0);
    intent_future_free(f);
    /* a model arriving later is used by the next batch; scratch grows once */
    assert_int_equal(intent_service_swap(svc, serve_model("A", 1), NULL), INTENT_OK);
    assert_int_equal(intent_pool_submit_future(p, "lights", 6, &f), INTENT_OK);
    assert_int_equal(intent_future_wait(f, -1, &r), INTENT_OK);
    assert_int_equal(r.status, INTENT_OK);
    assert_string_equal(r.labels[0], "A1");
    intent_future_free(f);
    intent_stats st;
    assert_int_equal(intent_pool_stats(p, &st), INTENT_OK);
    assert_int_equal(st.errors, 1);
    assert_int_equal(st.answers, 1);
    intent_stats_free(&st);
    intent_pool_free(p, INTENT_POOL_DRAIN);
    intent_service_free(svc);
}

/* A callback that submits again, until a count: chains run on pool threads. */
typedef struct chain {
    intent_pool *pool;
    _Atomic int left, answered;
} chain;

static void on_chain(const intent_result *r, void *user) {
    chain *c = user;
    if (r->status == INTENT_OK)
        atomic_fetch_add(&c->answered, 1);
    if (atomic_fetch_sub(&c->left, 1) > 1)
        intent_pool_submit(c->pool, "next song", 9, on_chain, c);
}

static void callbacks_may_submit(void **state) {
    (void)state;
    intent_service *svc = service_a();
    chain c;
    atomic_init(&c.left, 50);
    atomic_init(&c.answered, 0);
    assert_int_equal(intent_pool_new(svc, 2, 8, 4, &c.pool), INTENT_OK);
    assert_int_equal(intent_pool_submit(c.pool, "play", 4, on_chain, &c), INTENT_OK);
    for (int i = 0; i < 100000 && atomic_load(&c.left) > 0; i++) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    intent_pool_free(c.pool, INTENT_POOL_DRAIN);
    assert_int_equal(atomic_load(&c.answered), 50);
    intent_service_free(svc);
}

static void bad_arguments(void **state) {
    (void)state;
    intent_service *svc = service_a();
    intent_pool *p;
    assert_int_equal(intent_pool_new(svc, 1, 1, 1, NULL), INTENT_ERR_ARG);
    assert_int_equal(intent_pool_new(NULL, 1, 1, 1, &p), INTENT_ERR_ARG);
    assert_null(p);
    assert_int_equal(intent_pool_new(svc, INTENT_POOL_MAX_THREADS + 1, 1, 1, &p), INTENT_ERR_LIMIT);
    assert_int_equal(intent_pool_new(svc, 1, 0, 1, &p), INTENT_ERR_LIMIT);
    assert_int_equal(intent_pool_new(svc, 1, INTENT_POOL_MAX_QUEUE + 1, 1, &p), INTENT_ERR_LIMIT);
    assert_int_equal(intent_pool_new(svc, 1, 1, 0, &p), INTENT_ERR_LIMIT);
    assert_int_equal(intent_pool_new(svc, 1, 1, INTENT_POOL_MAX_BATCH + 1, &p), INTENT_ERR_LIMIT);
    assert_int_equal(intent_pool_new(svc, 0, 1, 1, &p), INTENT_OK); /* 0: one thread per core */
    intent_future *f;
    assert_int_equal(intent_pool_submit(p, "x", 1, NULL, NULL), INTENT_ERR_ARG);
    assert_int_equal(intent_pool_submit(p, NULL, 1, on_answer, NULL), INTENT_ERR_ARG);
    assert_int_equal(intent_pool_submit(NULL, "x", 1, on_answer, NULL), INTENT_ERR_ARG);
    assert_int_equal(intent_pool_submit_future(p, "x", 1, NULL), INTENT_ERR_ARG);
    assert_int_equal(intent_pool_submit_future(p, NULL, 1, &f), INTENT_ERR_ARG);
    assert_null(f);
    assert_int_equal(intent_future_wait(NULL, 0, NULL), INTENT_ERR_ARG);
    intent_stats st;
    assert_int_equal(intent_pool_stats(NULL, &st), INTENT_ERR_ARG);
    assert_int_equal(intent_pool_stats(p, &st), INTENT_OK);
    assert_int_equal(st.threads, intenti_n_cpus());
    intent_stats_free(&st);
    intent_pool_free(p, INTENT_POOL_DRAIN);
    intent_pool_free(NULL, INTENT_POOL_CANCEL);
    intent_service_free(svc);
}

/* Every allocation of a pool's life may fail: making it, a long text, a future. */
static int pool_op(void *arg) {
    intent_service *svc = arg;
    intent_pool *p;
    int rc = intent_pool_new(svc, 2, 4, 2, &p);
    if (rc)
        return rc;
    char longq[300];
    memset(longq, 'a', sizeof longq);
    intent_future *f = NULL;
    rc = intent_pool_submit_future(p, longq, sizeof longq, &f);
    intent_result r;
    if (!rc)
        rc = intent_future_wait(f, -1, &r);
    if (!rc)
        rc = r.status;
    intent_stats st;
    if (!rc)
        rc = intent_pool_stats(p, &st);
    if (!rc)
        intent_stats_free(&st);
    intent_future_free(f);
    intent_pool_free(p, INTENT_POOL_DRAIN);
    return rc;
}

static void allocation_failures(void **state) {
    (void)state;
    intent_service *svc = service_a();
    long n;
    for (n = 1; n < 1000; n++) {
        fail_alloc_at(n);
        int rc = pool_op(svc);
        fail_alloc_at(0);
        if (rc == INTENT_OK)
            break;
        assert_int_equal(rc, INTENT_ERR_NOMEM);
    }
    assert_true(n > 5 && n < 1000);
    intent_service_free(svc);
}

int test_pool(int *total) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(answers_and_futures),
        cmocka_unit_test(busy_when_full),
        cmocka_unit_test(drain_answers_everything),
        cmocka_unit_test(cancel_cancels_the_queue),
        cmocka_unit_test(future_timeout),
        cmocka_unit_test(batches_form_while_busy),
        cmocka_unit_test(batch_stats),
        cmocka_unit_test(texts_are_copied),
        cmocka_unit_test(no_model_answers_no_model),
        cmocka_unit_test(callbacks_may_submit),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(allocation_failures),
    };
    return RUN("pool", tests, total);
}
