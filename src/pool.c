/*
 * pool.c - the async pool: a bounded queue of requests answered in batches by worker
 * threads with a service's model, through callbacks or futures.
 *
 * DESIGN
 *   Memory. Everything is taken in intent_pool_new: the ring of queue_cap request slots
 *   (each with room for a 192-byte text), and per worker a scratch context and a batch
 *   array of max_batch slots. A request costs no allocation unless its text is longer
 *   than a slot holds (one copy), or it is a future (the future itself).
 *
 *   Locking. One mutex, p->mu, guards the ring (head, count), next_seq, n_idle and
 *   closing. It is held only to put one request in (copying at most 192 bytes) or to move
 *   up to max_batch requests out; never during a prediction or a callback. Submit never
 *   waits for room: a full ring gives INTENT_ERR_BUSY at once.
 *
 *   Exactly one answer. A request enters the ring once (submit, under mu, refused once
 *   closing is set) and leaves it once (a worker moves it into its batch array under mu),
 *   and each request moved out gets exactly one callback, as an answer or a cancellation.
 *   Workers exit only when the ring is empty and closing is set, so after the join in
 *   intent_pool_free no accepted request is left without its callback.
 *
 *   Shutdown. intent_pool_free sets closing under mu and wakes every worker; with CANCEL
 *   it also sets the atomic flag `cancel`, which workers read before each request: the
 *   queued requests, and the unanswered rest of batches already taken, are cancelled.
 *   Callbacks may submit; once closing is set they get INTENT_ERR_CANCELLED.
 *
 *   Order. Requests leave the ring in submit order (FIFO, seq 1, 2, ...); a batch is
 *   answered in order; batches on different workers run in parallel, so callbacks of
 *   different batches may come in any order.
 *
 *   Batches and models. A worker takes min(max_batch, ceil(queued / (idle workers + 1)))
 *   requests, so a burst is shared among idle workers rather than taken by the first
 *   awake. It answers the whole batch on one lease: every answer of a batch comes from
 *   one whole model, and a swap takes effect from the next batch.
 *
 *   Stats. Worker i records into stats shard i (relaxed atomics, see stats.c).
 */
#include "serve.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#define RELAXED memory_order_relaxed
#define REQ_INLINE 192 /* text bytes a queue slot holds; longer texts are copied to the heap */

typedef struct req {
    intent_result_fn fn;
    void *user;
    char *heap;           /* owned copy of a text over REQ_INLINE bytes, else NULL */
    size_t len;
    uint64_t seq;
    uint64_t t_submit;    /* monotonic ns */
    char text[REQ_INLINE];
} req;

typedef struct worker {
    intent_pool *pool;
    uint32_t id;
    pthread_t thread;
    intent_ctx *ctx;      /* scratch: used by this worker only */
    req *batch;           /* [max_batch] requests taken from the ring */
    int64_t ctx_bytes;    /* ctx's size as last reported to the service */
} worker;

struct intent_pool {
    intent_service *svc;  /* borrowed; outlives the pool */
    uint32_t n_threads, cap, max_batch;
    pthread_mutex_t mu;
    pthread_cond_t work;  /* requests queued, or closing */
    req *ring;            /* [cap] */
    uint32_t head, count; /* guarded by mu: slots head .. head+count-1 (mod cap) wait */
    uint32_t n_idle;      /* guarded by mu: workers waiting on work */
    uint64_t next_seq;    /* guarded by mu */
    bool closing;         /* guarded by mu */
    _Atomic int cancel;   /* set by intent_pool_free(CANCEL); read per request */
    _Atomic int closed;   /* set when free begins (intenti_pool_closing) */
    _Atomic uint64_t batches, batched;
    worker *workers;      /* [n_threads] */
    uint32_t n_started;
    int64_t fixed_bytes;  /* ring and batch arrays, reported to the service */
};

struct intent_future {
    pthread_mutex_t mu;
    pthread_cond_t done_cv;  /* on CLOCK_MONOTONIC, for timed waits */
    _Atomic uint32_t refs;   /* the caller's, and the pool's until it has answered */
    bool done;               /* guarded by mu */
    intent_result r;         /* guarded by mu; r.labels point into names */
    char names[INTENT_RESULT_MAX][INTENT_MAX_LABEL_LEN + 1];
};

/* ---- answering ---- */

static void predict_one(worker *w, const intent_lease *lease, const req *q, intent_result *r) {
    const char *text = q->heap ? q->heap : q->text;
    size_t n_top, n_over;
    r->model_version = lease->version;
    r->fallback = lease->fallback;
    int rc = intent_predict(lease->model, w->ctx, text, q->len, -1.0f, r->top, INTENT_RESULT_MAX, &n_top,
                            &n_over);
    if (rc) {
        r->status = rc;
        return;
    }
    size_t n = n_over < n_top ? n_over : n_top;
    intenti_service_count_labels(lease, r->top, n);
    if (n == 0 && n_top > 0)
        n = 1; /* out of scope: still say which label came closest */
    r->n_over = n_over;
    r->n_top = n;
    for (size_t i = 0; i < n; i++)
        r->labels[i] = intent_model_label(lease->model, r->top[i].label);
}

/* Answers (or cancels) the k requests in w->batch, on one lease. */
static void answer_batch(worker *w, uint32_t k) {
    intent_pool *p = w->pool;
    intenti_stats *st = intenti_service_stats_of(p->svc);
    atomic_fetch_add_explicit(&p->batches, 1, RELAXED); /* counted as taken, before any callback */
    atomic_fetch_add_explicit(&p->batched, k, RELAXED);
    intent_lease lease;
    memset(&lease, 0, sizeof lease);
    int lease_rc = INTENT_OK;
    if (!atomic_load_explicit(&p->cancel, RELAXED))
        lease_rc = intent_service_acquire(p->svc, &lease);
    intent_result r;
    for (uint32_t i = 0; i < k; i++) {
        req *q = &w->batch[i];
        memset(&r, 0, sizeof r);
        r.seq = q->seq;
        r.batch = k;
        bool cancelled = atomic_load_explicit(&p->cancel, RELAXED) != 0;
        if (cancelled)
            r.status = INTENT_ERR_CANCELLED;
        else if (lease_rc)
            r.status = lease_rc;
        else
            predict_one(w, &lease, q, &r);
        uint64_t lat = intenti_now_ns() - q->t_submit;
        r.latency_us = (double)lat / 1e3;
        if (cancelled)
            intenti_stats_event(st, w->id, INTENTI_EV_CANCELLED);
        else
            intenti_stats_answer(st, w->id, r.status, lat, r.n_over, r.fallback);
        q->fn(&r, q->user);
        intenti_free(q->heap);
        q->heap = NULL;
    }
    intent_service_release(p->svc, &lease);
    int64_t b = (int64_t)intenti_ctx_bytes(w->ctx); /* a larger model grows the scratch once */
    if (b != w->ctx_bytes) {
        intenti_service_add_scratch(p->svc, b - w->ctx_bytes);
        w->ctx_bytes = b;
    }
}

static void *work(void *arg) {
    worker *w = arg;
    intent_pool *p = w->pool;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->count == 0 && !p->closing) {
            p->n_idle++;
            pthread_cond_wait(&p->work, &p->mu);
            p->n_idle--;
        }
        if (p->count == 0)
            break; /* closing, and nothing is left */
        uint32_t share = (p->count + p->n_idle) / (p->n_idle + 1); /* ceil(count / (idle + 1)) */
        uint32_t k = share < p->max_batch ? share : p->max_batch;
        for (uint32_t i = 0; i < k; i++) {
            const req *q = &p->ring[(p->head + i) % p->cap];
            /* the header, and only the text bytes in use */
            memcpy(&w->batch[i], q, offsetof(req, text) + (q->heap ? 0 : q->len));
        }
        p->head = (p->head + k) % p->cap;
        p->count -= k;
        if (p->count && p->n_idle)
            pthread_cond_signal(&p->work); /* more for someone else */
        pthread_mutex_unlock(&p->mu);
        answer_batch(w, k);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- making and freeing ---- */

static void pool_destroy(intent_pool *p) {
    int64_t give_back = p->fixed_bytes;
    for (uint32_t i = 0; p->workers && i < p->n_threads; i++) {
        give_back += p->workers[i].ctx_bytes;
        intent_ctx_free(p->workers[i].ctx);
        intenti_free(p->workers[i].batch);
    }
    intenti_service_add_scratch(p->svc, -give_back);
    intenti_free(p->workers);
    intenti_free(p->ring);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    intenti_free(p);
}

/* Stops and joins the started workers; queued requests are answered per p->cancel. */
static void stop(intent_pool *p) {
    atomic_store(&p->closed, 1);
    pthread_mutex_lock(&p->mu);
    p->closing = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (uint32_t i = 0; i < p->n_started; i++)
        pthread_join(p->workers[i].thread, NULL);
    p->n_started = 0;
}

int intent_pool_new(intent_service *svc, uint32_t n_threads, uint32_t queue_cap, uint32_t max_batch,
                    intent_pool **out) {
    if (!out)
        return INTENT_ERR_ARG;
    *out = NULL;
    if (!svc)
        return INTENT_ERR_ARG;
    if (n_threads == 0)
        n_threads = intenti_n_cpus();
    if (n_threads > INTENT_POOL_MAX_THREADS || queue_cap < 1 || queue_cap > INTENT_POOL_MAX_QUEUE ||
        max_batch < 1 || max_batch > INTENT_POOL_MAX_BATCH)
        return INTENT_ERR_LIMIT;
    intent_pool *p = intenti_calloc(1, sizeof *p);
    if (!p)
        return INTENT_ERR_NOMEM;
    p->svc = svc;
    p->n_threads = n_threads;
    p->cap = queue_cap;
    p->max_batch = max_batch;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    p->ring = intenti_calloc(queue_cap, sizeof *p->ring);
    p->workers = intenti_calloc(n_threads, sizeof *p->workers);
    int rc = p->ring && p->workers ? INTENT_OK : INTENT_ERR_NOMEM;
    p->fixed_bytes = (int64_t)(sizeof *p + (size_t)queue_cap * sizeof(req) +
                               (size_t)n_threads * (sizeof(worker) + (size_t)max_batch * sizeof(req)));
    intenti_service_add_scratch(svc, p->fixed_bytes); /* pool_destroy gives it back, whatever happens */
    /* size the scratch for the model served now, so the first answers allocate nothing */
    intent_lease lease;
    intent_service_acquire(svc, &lease); /* none served is fine: contexts grow on first use */
    for (uint32_t i = 0; !rc && i < n_threads; i++) {
        worker *w = &p->workers[i];
        w->pool = p;
        w->id = i;
        w->batch = intenti_calloc(max_batch, sizeof *w->batch);
        rc = w->batch ? intent_ctx_new(lease.model, &w->ctx) : INTENT_ERR_NOMEM;
        if (!rc) {
            w->ctx_bytes = (int64_t)intenti_ctx_bytes(w->ctx);
            intenti_service_add_scratch(svc, w->ctx_bytes);
        }
    }
    intent_service_release(svc, &lease);
    for (uint32_t i = 0; !rc && i < n_threads; i++) {
        if (pthread_create(&p->workers[i].thread, NULL, work, &p->workers[i]) != 0)
            rc = INTENT_ERR_NOMEM; /* EAGAIN: out of threads or memory for stacks */
        else
            p->n_started++;
    }
    if (rc) {
        stop(p); /* nothing was queued: the started workers just exit */
        pool_destroy(p);
        return rc;
    }
    *out = p;
    return INTENT_OK;
}

void intent_pool_free(intent_pool *p, int mode) {
    if (!p)
        return;
    if (mode == INTENT_POOL_CANCEL)
        atomic_store(&p->cancel, 1);
    stop(p);
    pool_destroy(p);
}

bool intenti_pool_closing(intent_pool *p) { return atomic_load(&p->closed) != 0; }

/* ---- submitting ---- */

static int submit(intent_pool *p, const char *text, size_t len, intent_result_fn fn, void *user) {
    char *heap = NULL;
    if (len > REQ_INLINE) { /* copied before taking the lock: it may be long */
        heap = intenti_malloc(len);
        if (!heap)
            return INTENT_ERR_NOMEM;
        memcpy(heap, text, len);
    }
    uint64_t t = intenti_now_ns();
    int rc = INTENT_OK;
    pthread_mutex_lock(&p->mu);
    if (p->closing) {
        rc = INTENT_ERR_CANCELLED;
    } else if (p->count == p->cap) {
        rc = INTENT_ERR_BUSY;
    } else {
        req *q = &p->ring[(p->head + p->count) % p->cap];
        q->fn = fn;
        q->user = user;
        q->heap = heap;
        q->len = len;
        q->seq = ++p->next_seq;
        q->t_submit = t;
        if (!heap && len)
            memcpy(q->text, text, len);
        p->count++;
        if (p->n_idle)
            pthread_cond_signal(&p->work);
    }
    pthread_mutex_unlock(&p->mu);
    if (rc) {
        intenti_free(heap);
        if (rc == INTENT_ERR_BUSY)
            intenti_stats_event(intenti_service_stats_of(p->svc), intenti_stats_thread_shard(), INTENTI_EV_BUSY);
    }
    return rc;
}

int intent_pool_submit(intent_pool *p, const char *text, size_t len, intent_result_fn fn, void *user) {
    if (!p || !fn || (!text && len))
        return INTENT_ERR_ARG;
    return submit(p, text, len, fn, user);
}

/* ---- futures ---- */

static void future_drop(intent_future *f) {
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
        return;
    pthread_cond_destroy(&f->done_cv);
    pthread_mutex_destroy(&f->mu);
    intenti_free(f);
}

/* The callback of a future's request: keeps the answer, with copies of the label names
 * (the model may be freed before the future is read). */
static void future_done(const intent_result *r, void *user) {
    intent_future *f = user;
    pthread_mutex_lock(&f->mu);
    f->r = *r;
    for (size_t i = 0; i < r->n_top; i++) {
        size_t n = strlen(r->labels[i]);
        n = n > INTENT_MAX_LABEL_LEN ? INTENT_MAX_LABEL_LEN : n; /* names are validated at load; belt and braces */
        memcpy(f->names[i], r->labels[i], n);
        f->names[i][n] = '\0';
        f->r.labels[i] = f->names[i];
    }
    f->done = true;
    pthread_cond_broadcast(&f->done_cv);
    pthread_mutex_unlock(&f->mu);
    future_drop(f);
}

int intent_pool_submit_future(intent_pool *p, const char *text, size_t len, intent_future **out) {
    if (!out)
        return INTENT_ERR_ARG;
    *out = NULL;
    if (!p || (!text && len))
        return INTENT_ERR_ARG;
    intent_future *f = intenti_calloc(1, sizeof *f);
    if (!f)
        return INTENT_ERR_NOMEM;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->done_cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&f->refs, 2);
    int rc = submit(p, text, len, future_done, f);
    if (rc) {
        atomic_store(&f->refs, 1);
        future_drop(f);
        return rc;
    }
    *out = f;
    return INTENT_OK;
}

int intent_future_wait(intent_future *f, long timeout_ms, intent_result *out) {
    if (!f)
        return INTENT_ERR_ARG;
    pthread_mutex_lock(&f->mu);
    if (timeout_ms < 0) {
        while (!f->done)
            pthread_cond_wait(&f->done_cv, &f->mu);
    } else if (timeout_ms > 0) {
        struct timespec dl;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        dl.tv_sec += timeout_ms / 1000;
        dl.tv_nsec += (timeout_ms % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
        while (!f->done)
            if (pthread_cond_timedwait(&f->done_cv, &f->mu, &dl) == ETIMEDOUT)
                break;
    }
    int rc = f->done ? INTENT_OK : INTENT_ERR_TIMEOUT;
    if (f->done && out)
        *out = f->r;
    pthread_mutex_unlock(&f->mu);
    return rc;
}

void intent_future_free(intent_future *f) {
    if (f)
        future_drop(f);
}

/* ---- stats ---- */

int intent_pool_stats(intent_pool *p, intent_stats *out) {
    if (!p) {
        if (out)
            memset(out, 0, sizeof *out);
        return INTENT_ERR_ARG;
    }
    int rc = intent_service_stats(p->svc, out);
    if (rc)
        return rc;
    pthread_mutex_lock(&p->mu);
    out->queued = p->count;
    pthread_mutex_unlock(&p->mu);
    out->threads = p->n_threads;
    out->queue_cap = p->cap;
    out->batches = atomic_load_explicit(&p->batches, RELAXED);
    uint64_t batched = atomic_load_explicit(&p->batched, RELAXED);
    out->mean_batch = out->batches ? (double)batched / (double)out->batches : 0.0;
    return INTENT_OK;
}
