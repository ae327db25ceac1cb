/*
 * team.c - a fork-join team of worker threads for training and evaluation.
 *
 * DESIGN: intenti_team_run() publishes (fn, arg), bumps a generation counter and wakes
 * the workers; the caller runs as tid 0, then waits until every worker has finished that
 * generation. Work is split by tid, never by who comes first, so results do not depend
 * on scheduling. A team of 1 runs fn inline with no threads.
 *   Training runs two short jobs a step (tens of microseconds each), thousands of times:
 *   a sleep and a wake-up through the kernel each time would cost as much as the work.
 *   So a waiter (a worker for the next job, the caller for the workers) first polls the
 *   counter for up to SPIN_NS, and only then sleeps on the condition variable. Between
 *   polls it yields the processor rather than spinning on it: when the machine has more
 *   runnable threads than cores (another program, or more threads than cores), a spinning
 *   waiter would take the time of the very thread it waits for. The counters are atomics;
 *   the mutex only orders sleeping against waking.
 */
#include "intent_impl.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#define SPIN_NS 100000 /* how long a waiter polls before it sleeps */

struct intenti_team {
    uint32_t n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    _Atomic uint64_t generation;
    _Atomic uint32_t pending; /* workers still running the current generation */
    _Atomic bool quit;
    intenti_team_fn fn;       /* written before the generation is bumped */
    void *arg;
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Polls until done(t, x) holds or SPIN_NS pass; returns whether it holds. */
static bool spin_until(intenti_team *t, bool (*done)(intenti_team *, uint64_t), uint64_t x) {
    uint64_t start = 0;
    for (uint32_t i = 0;; i++) {
        if (done(t, x))
            return true;
        sched_yield();
        if (i % 8 == 7) { /* the clock every few polls: SPIN_NS need not be exact */
            uint64_t now = now_ns();
            if (!start)
                start = now;
            else if (now - start > SPIN_NS)
                return false;
        }
    }
}

static bool new_job(intenti_team *t, uint64_t seen) {
    return atomic_load_explicit(&t->generation, memory_order_acquire) != seen ||
           atomic_load_explicit(&t->quit, memory_order_acquire);
}

static bool all_done(intenti_team *t, uint64_t unused) {
    (void)unused;
    return atomic_load_explicit(&t->pending, memory_order_acquire) == 0;
}

typedef struct worker_arg {
    intenti_team *t;
    uint32_t tid;
} worker_arg;

static void *worker(void *p) {
    worker_arg *wa = p;
    intenti_team *t = wa->t;
    uint32_t tid = wa->tid;
    intenti_free(wa);
    uint64_t seen = 0;
    for (;;) {
        if (!spin_until(t, new_job, seen)) {
            pthread_mutex_lock(&t->mu);
            while (!new_job(t, seen))
                pthread_cond_wait(&t->go, &t->mu);
            pthread_mutex_unlock(&t->mu);
        }
        if (atomic_load_explicit(&t->quit, memory_order_acquire))
            break;
        seen = atomic_load_explicit(&t->generation, memory_order_acquire);
        t->fn(t->arg, tid, t->n);
        if (atomic_fetch_sub_explicit(&t->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&t->mu); /* the caller may be asleep: it checks under mu */
            pthread_cond_signal(&t->done);
            pthread_mutex_unlock(&t->mu);
        }
    }
    return NULL;
}

uint32_t intenti_n_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (uint32_t)n;
}

int intenti_team_new(uint32_t n, intenti_team **out) {
    *out = NULL;
    if (n < 1)
        n = 1;
    intenti_team *t = intenti_calloc(1, sizeof *t);
    if (!t)
        return INTENT_ERR_NOMEM;
    t->n = n;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->go, NULL);
    pthread_cond_init(&t->done, NULL);
    t->threads = intenti_calloc(n, sizeof *t->threads);
    if (!t->threads) {
        intenti_team_free(t);
        return INTENT_ERR_NOMEM;
    }
    for (uint32_t i = 1; i < n; i++) {
        worker_arg *wa = intenti_malloc(sizeof *wa);
        if (!wa || (*wa = (worker_arg){t, i}, pthread_create(&t->threads[i], NULL, worker, wa)) != 0) {
            intenti_free(wa);
            t->n = i; /* only threads 1..i-1 exist: free joins just those */
            intenti_team_free(t);
            return INTENT_ERR_NOMEM;
        }
    }
    *out = t;
    return INTENT_OK;
}

void intenti_team_run(intenti_team *t, intenti_team_fn fn, void *arg) {
    if (t->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    t->fn = fn;
    t->arg = arg;
    atomic_store_explicit(&t->pending, t->n - 1, memory_order_relaxed);
    pthread_mutex_lock(&t->mu); /* a worker may be asleep: it checks under mu */
    atomic_fetch_add_explicit(&t->generation, 1, memory_order_release);
    pthread_cond_broadcast(&t->go);
    pthread_mutex_unlock(&t->mu);
    fn(arg, 0, t->n);
    if (!spin_until(t, all_done, 0)) {
        pthread_mutex_lock(&t->mu);
        while (!all_done(t, 0))
            pthread_cond_wait(&t->done, &t->mu);
        pthread_mutex_unlock(&t->mu);
    }
}

uint32_t intenti_team_size(const intenti_team *t) { return t->n; }

void intenti_team_free(intenti_team *t) {
    if (!t)
        return;
    if (t->threads) {
        pthread_mutex_lock(&t->mu);
        atomic_store_explicit(&t->quit, true, memory_order_release);
        pthread_cond_broadcast(&t->go);
        pthread_mutex_unlock(&t->mu);
        for (uint32_t i = 1; i < t->n; i++)
            pthread_join(t->threads[i], NULL);
    }
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->go);
    pthread_cond_destroy(&t->done);
    intenti_free(t->threads);
    intenti_free(t);
}
