/*
 * test_stress.c - 8 pool threads answering while the model is swapped 100 times between
 * two models with disjoint labels (A1, A2 and B1, B2). Run it under ThreadSanitizer:
 * make SANITIZE=thread test.
 *
 * What is checked: every request gets exactly one callback (none lost, none doubled),
 * through callbacks and futures, ending once with DRAIN and once with CANCEL; every answer
 * comes from one whole model: its labels all carry the letter of the model its version
 * says (A at odd versions, B at even), and its top label and confidence are bit for bit
 * what that model answers alone; direct readers holding leases see the same; replaced
 * models are all freed in the end; the stats add up.
 */
#include "tests.h"
#include "serve.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_WORKERS 8
#define N_SWAPS 100
#define N_CALLERS 3         /* threads submitting with callbacks */
#define MAX_REQS 400000      /* a bound only: swaps are paced by answers, not by time */
#define PER_SWAP 16         /* pool answers between two swaps, at least */
#define QUEUE_CAP 32
#define MIN_PER_CALLER 64   /* each submitter keeps going until the swaps are done and this */
#define WINDOW 16           /* futures outstanding per future submitter */

typedef struct top1 {
    uint32_t label;
    float conf;
} top1;

typedef struct stress {
    intent_service *svc;
    intent_pool *pool;
    const void *image[2]; /* model files of A and B */
    size_t image_len[2];
    top1 want[2][SERVE_N_TEXTS];
    _Atomic uint32_t *calls;  /* [MAX_REQS] callbacks per request */
    _Atomic uint32_t next;    /* next request index to hand out */
    _Atomic int swaps_done;
    _Atomic uint64_t answered, cancelled, direct, bad, busy;
    _Atomic uint8_t version_seen[N_SWAPS + 2];
    _Atomic int first_bad;    /* 0 until a message is kept */
    _Atomic int held;         /* workers held in gate callbacks */
    char bad_msg[256];
} stress;

static void bad_answer(stress *s, const char *what, uint64_t a, uint64_t b) {
    atomic_fetch_add(&s->bad, 1);
    int expected = 0;
    if (atomic_compare_exchange_strong(&s->first_bad, &expected, 1))
        snprintf(s->bad_msg, sizeof s->bad_msg, "%s (%llu, %llu)", what, (unsigned long long)a,
                 (unsigned long long)b);
}

/* The model a version must be: the service starts with A (1) and alternates. */
static int which_of(uint64_t version) { return version % 2 == 1 ? 0 : 1; }

static void check_whole(stress *s, uint64_t version, const char *const *labels, size_t n_top,
                        const intent_score *top, size_t text) {
    if (version < 1 || version > N_SWAPS + 1) {
        bad_answer(s, "version out of range", version, 0);
        return;
    }
    atomic_store(&s->version_seen[version], 1);
    int w = which_of(version);
    char letter = "AB"[w];
    if (n_top < 1)
        bad_answer(s, "no label", version, text);
    for (size_t i = 0; i < n_top; i++)
        if (!labels[i] || labels[i][0] != letter)
            bad_answer(s, "a label of the other model", version, i);
    const top1 *t = &s->want[w][text % SERVE_N_TEXTS];
    if (n_top >= 1 && (top[0].label != t->label || memcmp(&top[0].confidence, &t->conf, sizeof t->conf) != 0))
        bad_answer(s, "top label or confidence differs from the whole model's", version, text);
}

static void on_result(stress *s, const intent_result *r, uint32_t idx) {
    if (idx >= MAX_REQS) {
        bad_answer(s, "bad request index", idx, 0);
        return;
    }
    atomic_fetch_add(&s->calls[idx], 1);
    if (r->status == INTENT_ERR_CANCELLED) {
        atomic_fetch_add(&s->cancelled, 1);
        return;
    }
    if (r->status != INTENT_OK) {
        bad_answer(s, "answer status", (uint64_t)r->status, idx);
        return;
    }
    atomic_fetch_add(&s->answered, 1);
    check_whole(s, r->model_version, r->labels, r->n_top, r->top, idx);
}

typedef struct ticket {
    stress *s;
    uint32_t idx;
    bool gate;    /* hold the worker in the callback until the pool is being freed */
} ticket;

static ticket *tickets; /* [MAX_REQS], set per round; read-only while threads run */

static void on_answer(const intent_result *r, void *user) {
    ticket *t = user;
    on_result(t->s, r, t->idx);
    if (t->gate) {
        atomic_fetch_add(&t->s->held, 1);
        while (!intenti_pool_closing(t->s->pool)) {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
    }
}

static bool more(stress *s, int mine) {
    return !atomic_load(&s->swaps_done) || mine < MIN_PER_CALLER;
}

static void *caller(void *p) {
    stress *s = p;
    for (int mine = 0; more(s, mine); mine++) {
        uint32_t idx = atomic_fetch_add(&s->next, 1);
        if (idx >= MAX_REQS)
            break;
        const char *q = serve_text(idx);
        int rc;
        while ((rc = intent_pool_submit(s->pool, q, strlen(q), on_answer, &tickets[idx])) == INTENT_ERR_BUSY) {
            atomic_fetch_add(&s->busy, 1);
            sched_yield();
        }
        if (rc)
            bad_answer(s, "submit", (uint64_t)rc, idx);
    }
    return NULL;
}

static void settle(stress *s, intent_future *f, uint32_t idx) {
    intent_result r;
    int rc = intent_future_wait(f, -1, &r);
    if (rc)
        bad_answer(s, "future wait", (uint64_t)rc, idx);
    else
        on_result(s, &r, idx);
    intent_future_free(f);
}

static void *future_caller(void *p) {
    stress *s = p;
    intent_future *win[WINDOW];
    uint32_t win_idx[WINDOW];
    int n = 0;
    for (int mine = 0; more(s, mine); mine++) {
        uint32_t idx = atomic_fetch_add(&s->next, 1);
        if (idx >= MAX_REQS)
            break;
        if (n == WINDOW) { /* settle the oldest */
            settle(s, win[0], win_idx[0]);
            memmove(win, win + 1, (WINDOW - 1) * sizeof *win);
            memmove(win_idx, win_idx + 1, (WINDOW - 1) * sizeof *win_idx);
            n--;
        }
        const char *q = serve_text(idx);
        int rc;
        while ((rc = intent_pool_submit_future(s->pool, q, strlen(q), &win[n])) == INTENT_ERR_BUSY) {
            atomic_fetch_add(&s->busy, 1);
            sched_yield();
        }
        if (rc) {
            bad_answer(s, "submit future", (uint64_t)rc, idx);
            continue;
        }
        win_idx[n++] = idx;
    }
    for (int i = 0; i < n; i++)
        settle(s, win[i], win_idx[i]);
    return NULL;
}

/* Predicts on leases directly, as intent_service_predict users do. */
static void *direct_reader(void *p) {
    stress *s = p;
    intent_ctx *ctx;
    if (intent_ctx_new(NULL, &ctx)) {
        bad_answer(s, "ctx", 0, 0);
        return NULL;
    }
    for (size_t i = 0; !atomic_load(&s->swaps_done); i++) {
        intent_lease l;
        if (intent_service_acquire(s->svc, &l)) {
            bad_answer(s, "acquire", 0, 0);
            break;
        }
        intent_score top[4];
        size_t n_top, n_over;
        const char *q = serve_text(i);
        if (intent_service_predict(s->svc, &l, ctx, q, strlen(q), -1, top, 4, &n_top, &n_over)) {
            bad_answer(s, "service predict", 0, 0);
        } else {
            const char *names[4];
            size_t n = n_over < n_top ? n_over : n_top;
            n = n ? n : 1;
            for (size_t k = 0; k < n; k++)
                names[k] = intent_model_label(l.model, top[k].label);
            check_whole(s, l.version, names, n, top, i);
            atomic_fetch_add(&s->direct, 1);
        }
        intent_service_release(s->svc, &l);
    }
    intent_ctx_free(ctx);
    return NULL;
}

static void *swapper(void *p) {
    stress *s = p;
    for (uint64_t i = 1; i <= N_SWAPS; i++) {
        int w = which_of(i + 1);
        intent_model *m;
        uint64_t v = 0;
        if (intent_model_load_mem(s->image[w], s->image_len[w], &m, NULL)) {
            bad_answer(s, "load_mem", i, 0);
            break;
        }
        if (intent_service_swap(s->svc, m, &v)) {
            intent_model_free(m);
            bad_answer(s, "swap", i, 0);
            break;
        }
        if (v != i + 1)
            bad_answer(s, "swap version", v, i + 1);
        /* let the pool answer a few with this model (bounded wait, in case it cannot) */
        uint64_t until = atomic_load(&s->answered) + PER_SWAP;
        for (int spins = 0; atomic_load(&s->answered) < until && spins < 100000; spins++) {
            struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
        }
    }
    atomic_store(&s->swaps_done, 1);
    return NULL;
}

static void run_round(intent_model *a, intent_model *b, int mode) {
    stress *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->calls = calloc(MAX_REQS, sizeof *s->calls);
    tickets = calloc(MAX_REQS, sizeof *tickets);
    assert_non_null(s->calls);
    assert_non_null(tickets);
    for (uint32_t i = 0; i < MAX_REQS; i++)
        tickets[i] = (ticket){s, i, false};
    intent_model *models[2] = {a, b};
    intent_ctx *ctx;
    assert_int_equal(intent_ctx_new(NULL, &ctx), INTENT_OK);
    for (int w = 0; w < 2; w++) {
        assert_int_equal(intent_model_bytes(models[w], &s->image[w], &s->image_len[w]), INTENT_OK);
        for (size_t t = 0; t < SERVE_N_TEXTS; t++) {
            intent_score top[1];
            size_t n_top, n_over;
            const char *q = serve_text(t);
            assert_int_equal(intent_predict(models[w], ctx, q, strlen(q), -1, top, 1, &n_top, &n_over), INTENT_OK);
            s->want[w][t] = (top1){top[0].label, top[0].confidence};
        }
    }
    intent_ctx_free(ctx);

    assert_int_equal(intent_service_new(&s->svc), INTENT_OK);
    intent_model *first;
    assert_int_equal(intent_model_load_mem(s->image[0], s->image_len[0], &first, NULL), INTENT_OK);
    assert_int_equal(intent_service_swap(s->svc, first, NULL), INTENT_OK);
    assert_int_equal(intent_pool_new(s->svc, N_WORKERS, 32, 8, &s->pool), INTENT_OK);

    pthread_t callers[N_CALLERS], fut, direct, swap;
    for (int i = 0; i < N_CALLERS; i++)
        assert_int_equal(pthread_create(&callers[i], NULL, caller, s), 0);
    assert_int_equal(pthread_create(&fut, NULL, future_caller, s), 0);
    assert_int_equal(pthread_create(&direct, NULL, direct_reader, s), 0);
    assert_int_equal(pthread_create(&swap, NULL, swapper, s), 0);
    pthread_join(swap, NULL);
    for (int i = 0; i < N_CALLERS; i++)
        pthread_join(callers[i], NULL);
    pthread_join(fut, NULL);
    pthread_join(direct, NULL);
    /* The end: hold every worker in a gate callback, one at a time (a held worker takes
     * nothing more, so each gate lands on its own worker); fill the queue; then free the
     * pool, which must drain or cancel exactly those QUEUE_CAP requests. */
    uint32_t tail = 0;
    for (int g = 0; g < N_WORKERS + 1 + QUEUE_CAP; g++) {
        uint32_t idx = atomic_fetch_add(&s->next, 1);
        assert_true(idx < MAX_REQS);
        tickets[idx].gate = g < N_WORKERS;
        const char *q = serve_text(idx);
        int rc = intent_pool_submit(s->pool, q, strlen(q), on_answer, &tickets[idx]);
        if (g < N_WORKERS) {
            assert_int_equal(rc, INTENT_OK);
            for (int spins = 0; atomic_load(&s->held) <= g && spins < 1000000; spins++) {
                struct timespec ts = {0, 50000};
                nanosleep(&ts, NULL);
            }
            assert_int_equal(atomic_load(&s->held), g + 1);
        } else if (g < N_WORKERS + QUEUE_CAP) {
            assert_int_equal(rc, INTENT_OK);
            tail++;
        } else {
            assert_int_equal(rc, INTENT_ERR_BUSY); /* full: refused at once, not counted */
            atomic_fetch_sub(&s->next, 1);
            atomic_fetch_add(&s->busy, 1);
        }
    }
    intent_stats pst;
    assert_int_equal(intent_pool_stats(s->pool, &pst), INTENT_OK);
    intent_pool_free(s->pool, mode);

    if (atomic_load(&s->bad))
        fail_msg("%llu bad answers; first: %s", (unsigned long long)atomic_load(&s->bad), s->bad_msg);
    uint32_t n = atomic_load(&s->next);
    n = n < MAX_REQS ? n : MAX_REQS;
    for (uint32_t i = 0; i < n; i++)
        if (atomic_load(&s->calls[i]) != 1)
            fail_msg("request %u had %u callbacks", i, atomic_load(&s->calls[i]));
    uint64_t answered = atomic_load(&s->answered), cancelled = atomic_load(&s->cancelled);
    assert_int_equal(answered + cancelled, n);
    assert_int_equal(cancelled, mode == INTENT_POOL_CANCEL ? tail : 0);
    assert_true(answered >= 200);
    int versions = 0;
    for (size_t v = 0; v < N_SWAPS + 2; v++)
        versions += atomic_load(&s->version_seen[v]);
    assert_true(versions >= N_SWAPS / 2); /* answers really did span the swaps */

    intent_stats st;
    assert_int_equal(intent_service_stats(s->svc, &st), INTENT_OK);
    assert_int_equal(st.answers, answered + atomic_load(&s->direct));
    assert_int_equal(st.cancelled, cancelled);
    assert_int_equal(st.errors, 0);
    assert_int_equal(st.busy, atomic_load(&s->busy));
    assert_int_equal(st.model_version, N_SWAPS + 1);
    assert_int_equal(st.swaps, N_SWAPS + 1);
    assert_int_equal(st.models_alive, 1); /* every replaced model was freed */
    assert_int_equal(st.scratch_bytes, 0);
    assert_true(pst.batches > 0 && pst.mean_batch >= 1.0);
    if (getenv("INTENT_TEST_VERBOSE")) {
        char text[4096];
        pst.n_labels = 0; /* its per_label is freed below; print the pool's numbers */
        intent_stats_format(&pst, text, sizeof text);
        fprintf(stderr, "%s: %u requests (%llu cancelled), %llu direct, %d versions seen\n%s",
                mode == INTENT_POOL_DRAIN ? "drain" : "cancel", n, (unsigned long long)cancelled,
                (unsigned long long)atomic_load(&s->direct), versions, text);
    }
    intent_stats_free(&st);
    intent_stats_free(&pst);
    intent_service_free(s->svc);
    free(tickets);
    tickets = NULL;
    free(s->calls);
    free(s);
}

static void answer_while_swapping(void **state) {
    (void)state;
    intent_model *a = serve_model("A", 1), *b = serve_model("B", 2);
    assert_non_null(a);
    assert_non_null(b);
    run_round(a, b, INTENT_POOL_DRAIN);
    run_round(a, b, INTENT_POOL_CANCEL);
    intent_model_free(a);
    intent_model_free(b);
}

int test_stress(int *total) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(answer_while_swapping),
    };
    return RUN("stress", tests, total);
}
