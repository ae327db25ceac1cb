/*
 * team.c - a fork-join team of worker threads for training and evaluation.
 *
 * DESIGN: intenti_team_run() publishes (fn, arg) under the mutex, bumps a generation
 * counter and wakes the workers; the caller runs as tid 0, then waits until every worker
 * has finished that generation. Work is split by tid, never by who comes first, so
 * results do not depend on scheduling. A team of 1 runs fn inline with no threads.
 */
#include "intent_impl.h"

#include <pthread.h>
#include <unistd.h>

struct intenti_team {
    uint32_t n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    uint64_t generation;
    uint32_t pending;    /* workers still running the current generation */
    bool quit;
    intenti_team_fn fn;
    void *arg;
};

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
    pthread_mutex_lock(&t->mu);
    for (;;) {
        while (!t->quit && t->generation == seen)
            pthread_cond_wait(&t->go, &t->mu);
        if (t->quit)
            break;
        seen = t->generation;
        intenti_team_fn fn = t->fn;
        void *arg = t->arg;
        pthread_mutex_unlock(&t->mu);
        fn(arg, tid, t->n);
        pthread_mutex_lock(&t->mu);
        if (--t->pending == 0)
            pthread_cond_signal(&t->done);
    }
    pthread_mutex_unlock(&t->mu);
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
    pthread_mutex_lock(&t->mu);
    t->fn = fn;
    t->arg = arg;
    t->pending = t->n - 1;
    t->generation++;
    pthread_cond_broadcast(&t->go);
    pthread_mutex_unlock(&t->mu);
    fn(arg, 0, t->n);
    pthread_mutex_lock(&t->mu);
    while (t->pending)
        pthread_cond_wait(&t->done, &t->mu);
    pthread_mutex_unlock(&t->mu);
}

uint32_t intenti_team_size(const intenti_team *t) { return t->n; }

void intenti_team_free(intenti_team *t) {
    if (!t)
        return;
    if (t->threads) {
        pthread_mutex_lock(&t->mu);
        t->quit = true;
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
