/*
 * bench_pool.c - `intent bench --pool`: answer the bench texts through the library's
 * async pool (intent_service + intent_pool) for a while and print the serving stats.
 *
 * The load is a closed loop: at most WINDOW_PER_THREAD requests per pool thread are in
 * flight, so the latency reported (submit to answer) includes a short queue, not the
 * unbounded one a flood would build.
 */
#include "cli.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#define WINDOW_PER_THREAD 64

static void on_answer(const intent_result *r, void *user) {
    (void)r;
    atomic_fetch_add_explicit((_Atomic uint64_t *)user, 1, memory_order_release);
}

int bench_pool(const char *model, char *const *texts, const size_t *lens, size_t n, uint32_t threads,
               double seconds, FILE *out) {
    intent_service *svc = NULL;
    intent_pool *pool = NULL;
    intent_error err;
    int rc = intent_service_new(&svc);
    if (!rc && (rc = intent_service_load(svc, model, &err)) != 0)
        fail_msg("bench", "%s", err.message);
    else if (!rc && (rc = intent_pool_new(svc, threads, 1024, 32, &pool)) != 0)
        fail_msg("bench", "cannot start the pool: %s", intent_status_str(rc));
    _Atomic uint64_t answered = 0;
    uint64_t submitted = 0, window = (uint64_t)threads * WINDOW_PER_THREAD;
    double end = mono_s() + seconds;
    while (!rc && (submitted % 256 || mono_s() < end)) {
        while (submitted - atomic_load_explicit(&answered, memory_order_acquire) >= window)
            sched_yield();
        size_t i = submitted % n;
        int s = intent_pool_submit(pool, texts[i], lens[i], on_answer, &answered);
        if (s == INTENT_OK)
            submitted++;
        else if (s == INTENT_ERR_BUSY)
            sched_yield(); /* counted in the stats as busy */
        else
            rc = s;
    }
    while (!rc && atomic_load_explicit(&answered, memory_order_acquire) < submitted)
        sched_yield();
    intent_stats st;
    if (!rc && (rc = intent_pool_stats(pool, &st)) == INTENT_OK) {
        size_t need = intent_stats_format(&st, NULL, 0);
        char *text = malloc(need + 1);
        if (text) {
            intent_stats_format(&st, text, need + 1);
            fprintf(out, "async pool      %u threads, up to %llu requests in flight, %.1f s:\n%s", threads,
                    (unsigned long long)window, seconds, text);
            free(text);
        }
        intent_stats_free(&st);
    } else if (rc) {
        fail_msg("bench", "pool: %s", intent_status_str(rc));
    }
    intent_pool_free(pool, INTENT_POOL_DRAIN);
    intent_service_free(svc);
    return rc ? -1 : 0;
}
