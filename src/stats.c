/*
 * stats.c - what a service answered, counted without locks: request counters, a
 * log-spaced latency histogram and its percentiles, and the readable stats block.
 *
 * DESIGN: writers (pool workers, intent_service_predict callers) only ever do relaxed
 * atomic adds into one of INTENTI_SHARDS shards, so recording costs a handful of
 * uncontended atomic instructions and never waits. A snapshot sums the shards with
 * relaxed loads: each counter is exact for the answers recorded before it was read, but
 * counters read while answers are being recorded may disagree by those few answers.
 * Percentiles come from the summed histogram, not from stored samples, so memory is
 * fixed whatever the traffic.
 */
#include "serve.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define RELAXED memory_order_relaxed

uint64_t intenti_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double intenti_unix_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void intenti_stats_init(intenti_stats *s) {
    memset(s, 0, sizeof *s); /* all-zero bytes are zero-valued atomics on every target we build for */
    s->t0_ns = intenti_now_ns();
}

unsigned intenti_stats_thread_shard(void) {
    /* pthread_t is an integer or a pointer on the platforms we support; either hashes */
    uint64_t t = (uint64_t)(uintptr_t)pthread_self();
    return intenti_fmix32((uint32_t)(t ^ (t >> 32))) % INTENTI_SHARDS;
}

/* Bucket of a latency: 0 below 2^10 ns; then for each doubling [2^k, 2^(k+1)), k = 10..33,
 * eight buckets split by the three bits after the leading one; 2^34 ns and over in the last.
 * Integer-only: a count-leading-zeros and a shift per answer. */
unsigned intenti_stats_bucket(uint64_t ns) {
    if (ns < 1024)
        return 0;
    unsigned msb = 63u - (unsigned)__builtin_clzll(ns);
    if (msb >= 34)
        return INTENT_STATS_BUCKETS - 1;
    unsigned sub = (unsigned)(ns >> (msb - 3)) & 7u;
    return 1 + (msb - 10) * 8 + sub;
}

/* Lower edge of bucket b in ns; b = INTENT_STATS_BUCKETS is "infinity" (UINT64_MAX). */
static uint64_t bucket_lo_ns(size_t b) {
    if (b == 0)
        return 0;
    if (b >= INTENT_STATS_BUCKETS)
        return UINT64_MAX;
    if (b == INTENT_STATS_BUCKETS - 1)
        return (uint64_t)1 << 34;
    size_t msb = 10 + (b - 1) / 8, sub = (b - 1) % 8;
    return (uint64_t)(8 + sub) << (msb - 3);
}

double intent_stats_bucket_us(size_t i) {
    return i < INTENT_STATS_BUCKETS ? (double)bucket_lo_ns(i) / 1e3 : INFINITY;
}

void intenti_stats_answer(intenti_stats *s, unsigned shard, int status, uint64_t lat_ns, size_t n_over,
                          bool fallback) {
    intenti_shard *sh = &s->shard[shard % INTENTI_SHARDS];
    if (status != INTENT_OK) {
        atomic_fetch_add_explicit(&sh->errors, 1, RELAXED);
        return;
    }
    atomic_fetch_add_explicit(&sh->answers, 1, RELAXED);
    if (fallback)
        atomic_fetch_add_explicit(&sh->fallback, 1, RELAXED);
    if (n_over == 0)
        atomic_fetch_add_explicit(&sh->out_of_scope, 1, RELAXED);
    atomic_fetch_add_explicit(&sh->lat_sum_ns, lat_ns, RELAXED);
    atomic_fetch_add_explicit(&sh->hist[intenti_stats_bucket(lat_ns)], 1, RELAXED);
    uint64_t max = atomic_load_explicit(&sh->lat_max_ns, RELAXED);
    while (lat_ns > max &&
           !atomic_compare_exchange_weak_explicit(&sh->lat_max_ns, &max, lat_ns, RELAXED, RELAXED))
        ; /* max is reloaded by a failed exchange */
}

void intenti_stats_event(intenti_stats *s, unsigned shard, enum intenti_event ev) {
    intenti_shard *sh = &s->shard[shard % INTENTI_SHARDS];
    atomic_fetch_add_explicit(ev == INTENTI_EV_BUSY ? &sh->busy : &sh->cancelled, 1, RELAXED);
}

/* The q-quantile (0 < q <= 1) of n answers: the upper edge of the bucket holding the
 * ceil(q * n)-th smallest, capped at the largest seen. */
static double quantile_us(const uint64_t *hist, uint64_t n, double q, uint64_t max_ns) {
    if (n == 0)
        return 0.0;
    uint64_t rank = (uint64_t)ceil(q * (double)n), seen = 0;
    if (rank < 1)
        rank = 1;
    for (size_t b = 0; b < INTENT_STATS_BUCKETS; b++) {
        seen += hist[b];
        if (seen >= rank) {
            uint64_t hi = bucket_lo_ns(b + 1);
            return (double)(hi < max_ns ? hi : max_ns) / 1e3;
        }
    }
    return (double)max_ns / 1e3;
}

void intenti_stats_sum(intenti_stats *s, intent_stats *out) {
    uint64_t sum_ns = 0, max_ns = 0;
    out->answers = out->answers_fallback = out->out_of_scope = 0;
    out->errors = out->cancelled = out->busy = 0;
    memset(out->latency_hist, 0, sizeof out->latency_hist);
    for (unsigned i = 0; i < INTENTI_SHARDS; i++) {
        intenti_shard *sh = &s->shard[i];
        out->answers += atomic_load_explicit(&sh->answers, RELAXED);
        out->answers_fallback += atomic_load_explicit(&sh->fallback, RELAXED);
        out->out_of_scope += atomic_load_explicit(&sh->out_of_scope, RELAXED);
        out->errors += atomic_load_explicit(&sh->errors, RELAXED);
        out->cancelled += atomic_load_explicit(&sh->cancelled, RELAXED);
        out->busy += atomic_load_explicit(&sh->busy, RELAXED);
        sum_ns += atomic_load_explicit(&sh->lat_sum_ns, RELAXED);
        uint64_t m = atomic_load_explicit(&sh->lat_max_ns, RELAXED);
        max_ns = m > max_ns ? m : max_ns;
        for (size_t b = 0; b < INTENT_STATS_BUCKETS; b++)
            out->latency_hist[b] += atomic_load_explicit(&sh->hist[b], RELAXED);
    }
    /* the histogram, not out->answers, is the population: they can differ in flight */
    uint64_t n = 0;
    for (size_t b = 0; b < INTENT_STATS_BUCKETS; b++)
        n += out->latency_hist[b];
    out->uptime_s = (double)(intenti_now_ns() - s->t0_ns) / 1e9;
    out->answers_per_s = out->uptime_s > 0 ? (double)out->answers / out->uptime_s : 0.0;
    out->mean_us = n ? (double)sum_ns / (double)n / 1e3 : 0.0;
    out->max_us = (double)max_ns / 1e3;
    out->p50_us = quantile_us(out->latency_hist, n, 0.50, max_ns);
    out->p95_us = quantile_us(out->latency_hist, n, 0.95, max_ns);
    out->p99_us = quantile_us(out->latency_hist, n, 0.99, max_ns);
}

/* ---- the readable block ---- */

typedef struct writer {
    char *buf;
    size_t cap, len; /* len counts what was needed, even past cap */
} writer;

static void put(writer *w, const char *fmt, ...) INTENTI_PRINTF(2, 3);
static void put(writer *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = w->len < w->cap ? w->cap - w->len : 0;
    int n = vsnprintf(room ? w->buf + w->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        w->len += (size_t)n;
}

static void put_bytes(writer *w, uint64_t n) {
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < sizeof unit / sizeof *unit) {
        v /= 1024.0;
        u++;
    }
    put(w, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

size_t intent_stats_format(const intent_stats *st, char *buf, size_t cap) {
    writer w = {buf, cap, 0};
    if (cap)
        buf[0] = '\0';
    if (!st)
        return 0;
    put(&w, "answers       %llu in %.2f s (%.1f/s); %llu out of scope; %llu errors, %llu cancelled, "
            "%llu busy\n",
        (unsigned long long)st->answers, st->uptime_s, st->answers_per_s,
        (unsigned long long)st->out_of_scope, (unsigned long long)st->errors,
        (unsigned long long)st->cancelled, (unsigned long long)st->busy);
    put(&w, "latency       p50 %.1f us, p95 %.1f us, p99 %.1f us, max %.1f us, mean %.1f us\n",
        st->p50_us, st->p95_us, st->p99_us, st->max_us, st->mean_us);
    put(&w, "fallback      %llu answers by the fallback model; %llu failed loads\n",
        (unsigned long long)st->answers_fallback, (unsigned long long)st->load_failures);
    if (st->model_version) {
        char when[32] = "?";
        time_t t = (time_t)st->loaded_at;
        struct tm tm;
        if (gmtime_r(&t, &tm))
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        put(&w, "model         version %llu (%s), ", (unsigned long long)st->model_version,
            st->serving_fallback ? "fallback" : "primary");
        if (st->load_ms > 0)
            put(&w, "loaded in %.1f ms, ", st->load_ms);
        else
            put(&w, "given by swap, ");
        put(&w, "serving since %s; %llu loads, %llu swaps, %llu alive\n", when, (unsigned long long)st->loads,
            (unsigned long long)st->swaps, (unsigned long long)st->models_alive);
    } else {
        put(&w, "model         none served\n");
    }
    if (st->last_error[0])
        put(&w, "last error    %s\n", st->last_error);
    put(&w, "memory        ");
    put_bytes(&w, st->memory_bytes);
    put(&w, " (models ");
    put_bytes(&w, st->model_bytes);
    put(&w, ", scratch ");
    put_bytes(&w, st->scratch_bytes);
    put(&w, ")\n");
    if (st->threads)
        put(&w, "pool          %u threads, %u of %u queued, %llu batches (%.2f requests each)\n",
            st->threads, st->queued, st->queue_cap, (unsigned long long)st->batches, st->mean_batch);
    if (st->n_labels) {
        put(&w, "per label    ");
        for (size_t i = 0; i < st->n_labels; i++)
            put(&w, " %s %llu", st->per_label[i].label, (unsigned long long)st->per_label[i].answers);
        put(&w, "\n");
    }
    return w.len;
}
