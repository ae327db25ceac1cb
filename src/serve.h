/*
 * serve.h - internals shared by the serving files: stats.c (lock-free counters and the
 * latency histogram), served.c (the swappable model) and pool.c (the async pool).
 */
#ifndef INTENT_SERVE_H
#define INTENT_SERVE_H

#include "intent_impl.h"

#include <stdatomic.h>

/* ---- stats (stats.c) ---- */

/* Counters are spread over shards so threads answering at once rarely write the same
 * cache line: a pool worker writes shard (worker id % INTENTI_SHARDS), any other thread
 * the shard its thread id hashes to. Every write is a relaxed atomic add, so shards may be
 * shared safely; a snapshot sums them with relaxed loads. */
#define INTENTI_SHARDS 16

typedef struct intenti_shard {
    _Atomic uint64_t answers, fallback, out_of_scope, errors, cancelled, busy;
    _Atomic uint64_t lat_sum_ns, lat_max_ns;
    _Atomic uint64_t hist[INTENT_STATS_BUCKETS];
    char pad[64]; /* keeps the next shard's hot counters off this one's last line */
} intenti_shard;

typedef struct intenti_stats {
    intenti_shard shard[INTENTI_SHARDS];
    uint64_t t0_ns;            /* monotonic time the stats began; set once */
} intenti_stats;

enum intenti_event { INTENTI_EV_BUSY, INTENTI_EV_CANCELLED };

INTENTI_HIDDEN uint64_t intenti_now_ns(void);        /* CLOCK_MONOTONIC */
INTENTI_HIDDEN double intenti_unix_s(void);          /* CLOCK_REALTIME */
INTENTI_HIDDEN void intenti_stats_init(intenti_stats *s);
/* The shard for the calling thread when it is not a pool worker. */
INTENTI_HIDDEN unsigned intenti_stats_thread_shard(void);
INTENTI_HIDDEN unsigned intenti_stats_bucket(uint64_t ns);
/* One answer: status OK (then n_over and fallback count) or an error status. */
INTENTI_HIDDEN void intenti_stats_answer(intenti_stats *s, unsigned shard, int status,
                                         uint64_t lat_ns, size_t n_over, bool fallback);
INTENTI_HIDDEN void intenti_stats_event(intenti_stats *s, unsigned shard, enum intenti_event ev);
/* Sums the shards into the request and latency fields of out (others untouched). */
INTENTI_HIDDEN void intenti_stats_sum(intenti_stats *s, intent_stats *out);

/* ---- the service (served.c) ---- */

/* Counts the labels of one answer against the model of lease (its per-label stats). */
INTENTI_HIDDEN void intenti_service_count_labels(const intent_lease *lease, const intent_score *top,
                                                 size_t n);
INTENTI_HIDDEN intenti_stats *intenti_service_stats_of(intent_service *svc);
/* Pools report the scratch they hold (may be negative to give back). */
INTENTI_HIDDEN void intenti_service_add_scratch(intent_service *svc, int64_t bytes);

/* ---- background retrain (served_retrain.c) ---- */
typedef struct intenti_bg intenti_bg;
INTENTI_HIDDEN int intenti_bg_new(intent_service *svc, intenti_bg **out);
/* Stops a running retrain (at its next epoch), waits for it, frees. NULL is fine. */
INTENTI_HIDDEN void intenti_bg_free(intenti_bg *bg);
INTENTI_HIDDEN int intenti_bg_start(intenti_bg *bg, const char *log, const char *data, const intent_retrain_opts *o,
                                    intent_retrain_done_fn done, void *user);
INTENTI_HIDDEN bool intenti_bg_running(intenti_bg *bg);

/* ---- scratch size of a context (predict.c) ---- */
INTENTI_HIDDEN size_t intenti_ctx_bytes(const intent_ctx *ctx);

/* ---- the pool (pool.c) ---- */

/* Whether intent_pool_free has begun (for tests that must act after it has). */
INTENTI_HIDDEN bool intenti_pool_closing(intent_pool *pool);

#endif /* INTENT_SERVE_H */
