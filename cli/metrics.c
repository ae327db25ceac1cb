/*
 * metrics.c - what `intent serve` reports: GET /stats (one JSON object) and GET /metrics
 * (the Prometheus text exposition format, version 0.0.4).
 *
 * Both read the service's snapshot (intent_service_stats: predictions, latency, model,
 * labels) and the server's own counters (requests by route and status, request latency,
 * feedback, retrains). Prometheus rules followed here, which promtool does not check and
 * tests/serve.sh does: every metric has HELP and TYPE lines; a histogram has cumulative
 * _bucket{le="..."} lines in increasing order ending with le="+Inf", then _sum and
 * _count (equal to the +Inf bucket); label values escape \, " and newline; the body
 * ends with a newline.
 */
#include "http.h"

#include <string.h>

#define RELAXED memory_order_relaxed

static const char *retrain_status_name(int st) {
    return st < 0 ? NULL : st == INTENT_OK ? "ok" : st == INTENT_ERR_REJECTED ? "rejected" : "failed";
}

/* ---- GET /stats ---- */

static void kv_u64(sbuf *b, const char *key, uint64_t v, bool comma) {
    sb_fmt(b, "%s\"%s\": %llu", comma ? ", " : "", key, (unsigned long long)v);
}

static void kv_num(sbuf *b, const char *key, double v) {
    sb_fmt(b, ", \"%s\": ", key);
    sb_num(b, v, 10);
}

int stats_json(server *s, sbuf *b) {
    intent_stats st;
    if (intent_service_stats(s->svc, &st))
        return -1;
    sb_str(b, "{");
    kv_u64(b, "model_version", st.model_version, false);
    sb_fmt(b, ", \"serving_fallback\": %s, \"uptime_s\": ", st.serving_fallback ? "true" : "false");
    sb_num(b, mono_s() - s->t0, 10);
    sb_str(b, ",\n \"model\": {\"path\": ");
    sb_jsonz(b, s->o.model_path ? s->o.model_path : "");
    kv_num(b, "loaded_at", st.loaded_at);
    kv_num(b, "load_ms", st.load_ms);
    kv_u64(b, "loads", st.loads, true);
    kv_u64(b, "load_failures", st.load_failures, true);
    kv_u64(b, "swaps", st.swaps, true);
    kv_u64(b, "models_alive", st.models_alive, true);
    sb_str(b, ", \"last_error\": ");
    sb_jsonz(b, st.last_error);
    sb_str(b, "},\n \"predictions\": {");
    kv_u64(b, "answers", st.answers, false);
    kv_u64(b, "out_of_scope", st.out_of_scope, true);
    kv_u64(b, "fallback", st.answers_fallback, true);
    kv_u64(b, "errors", st.errors, true);
    kv_num(b, "per_s", st.answers_per_s);
    sb_str(b, ", \"latency_us\": {\"mean\": ");
    sb_num(b, st.mean_us, 6);
    kv_num(b, "p50", st.p50_us);
    kv_num(b, "p95", st.p95_us);
    kv_num(b, "p99", st.p99_us);
    kv_num(b, "max", st.max_us);
    sb_str(b, "}},\n \"labels\": {");
    for (size_t i = 0; i < st.n_labels; i++) {
        sb_str(b, i ? ", " : "");
        sb_jsonz(b, st.per_label[i].label);
        sb_fmt(b, ": %llu", (unsigned long long)st.per_label[i].answers);
    }
    uint64_t total = 0;
    for (int r = 0; r < N_ROUTES; r++)
        for (int c = 0; c < HTTP_N_CODES; c++)
            total += atomic_load_explicit(&s->requests[r][c], RELAXED);
    sb_str(b, "},\n \"http\": {");
    kv_u64(b, "requests", total, false);
    sb_fmt(b, ", \"in_flight\": %ld, \"draining\": %s, \"by_route\": {", atomic_load(&s->in_flight),
           atomic_load(&s->draining) ? "true" : "false");
    bool first_route = true;
    for (int r = 0; r < N_ROUTES; r++) {
        bool first = true;
        for (int c = 0; c < HTTP_N_CODES; c++) {
            uint64_t n = atomic_load_explicit(&s->requests[r][c], RELAXED);
            if (!n)
                continue;
            if (first) {
                sb_fmt(b, "%s\"%s\": {", first_route ? "" : ", ", http_route_name[r]);
                first_route = first = false;
            } else {
                sb_str(b, ", ");
            }
            if (http_codes[c])
                sb_fmt(b, "\"%d\": %llu", http_codes[c], (unsigned long long)n);
            else
                sb_fmt(b, "\"other\": %llu", (unsigned long long)n);
        }
        if (!first)
            sb_str(b, "}");
    }
    sb_str(b, "}},\n \"feedback\": {\"log\": ");
    if (s->fb) {
        intent_feedback_stats fs;
        intent_feedback_get_stats(s->fb, &fs);
        sb_jsonz(b, s->o.feedback_path);
        kv_u64(b, "log_records", fs.n_records, true);
    } else {
        sb_str(b, "null");
    }
    kv_u64(b, "appended", atomic_load(&s->fb_appended), true);
    kv_u64(b, "pending", atomic_load(&s->fb_pending), true);
    kv_u64(b, "retrain_every", s->o.retrain_every, true);
    sb_fmt(b, "},\n \"retrain\": {\"running\": %s", intent_service_retraining(s->svc) ? "true" : "false");
    kv_u64(b, "started", atomic_load(&s->rt_started), true);
    kv_u64(b, "ok", atomic_load(&s->rt_ok), true);
    kv_u64(b, "rejected", atomic_load(&s->rt_rejected), true);
    kv_u64(b, "failed", atomic_load(&s->rt_failed), true);
    pthread_mutex_lock(&s->rt_mu);
    const char *last = retrain_status_name(s->rt_last_status);
    sb_str(b, ", \"last_status\": ");
    if (last) {
        sb_fmt(b, "\"%s\", \"last_message\": ", last);
        sb_jsonz(b, s->rt_last_message);
        kv_num(b, "last_seconds", s->rt_last_seconds);
    } else {
        sb_str(b, "null");
    }
    pthread_mutex_unlock(&s->rt_mu);
    sb_str(b, "},\n \"components\": ");
    if (s->reg) {
        intent_components *c = s->reg->comps;
        sb_str(b, "{\"memory_mb\": ");
        sb_num(b, (double)intent_components_memory(c) / 1048576.0, 6);
        kv_num(b, "budget_mb", (double)s->reg->budget / 1048576.0);
        sb_str(b, ", \"loaded\": [");
        bool first = true;
        for (size_t i = 0; i < intent_components_count(c); i++) {
            intent_component_info info;
            if (intent_components_info(c, i, &info) || info.state != INTENT_COMPONENT_LOADED)
                continue;
            sb_str(b, first ? "" : ", ");
            sb_jsonz(b, info.name);
            first = false;
        }
        sb_str(b, "]}");
    } else {
        sb_str(b, "null");
    }
    sb_str(b, ",\n \"memory_bytes\": {");
    kv_u64(b, "models", st.model_bytes, false);
    kv_u64(b, "scratch", st.scratch_bytes, true);
    kv_u64(b, "total", st.memory_bytes, true);
    sb_str(b, "}}\n");
    intent_stats_free(&st);
    return b->oom ? -1 : 0;
}

/* ---- GET /metrics ---- */

static void head(sbuf *b, const char *name, const char *type, const char *help) {
    sb_fmt(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped as the text format asks: \\, \" and \n. */
static void label_value(sbuf *b, const char *s) {
    sb_str(b, "\"");
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            sb_fmt(b, "\\%c", *s);
        else if (*s == '\n')
            sb_str(b, "\\n");
        else
            sb_add(b, s, 1);
    }
    sb_str(b, "\"");
}

static void sample(sbuf *b, const char *name, double v) {
    sb_fmt(b, "%s ", name);
    sb_num(b, v, 15);
    sb_str(b, "\n");
}

static void sample_u64(sbuf *b, const char *name, uint64_t v) {
    sb_fmt(b, "%s %llu\n", name, (unsigned long long)v);
}

/* The service's per-text latency histogram, at bucket edges that double from 1.024 us
 * (every 8th of its 194 log-spaced buckets, so the cumulative counts are exact). */
static void predict_histogram(sbuf *b, const intent_stats *st) {
    head(b, "intent_prediction_duration_seconds", "histogram",
         "Time the model took to answer one text (intent_service_predict).");
    uint64_t cum = 0, n = 0;
    for (size_t i = 0; i < INTENT_STATS_BUCKETS; i++)
        n += st->latency_hist[i];
    size_t next = 0;
    for (size_t edge = 1; edge < INTENT_STATS_BUCKETS; edge += 8) {
        while (next < edge)
            cum += st->latency_hist[next++];
        sb_str(b, "intent_prediction_duration_seconds_bucket{le=\"");
        sb_num(b, intent_stats_bucket_us(edge) / 1e6, 10);
        sb_fmt(b, "\"} %llu\n", (unsigned long long)cum);
    }
    sb_fmt(b, "intent_prediction_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)n);
    sample(b, "intent_prediction_duration_seconds_sum", st->mean_us * (double)n / 1e6);
    sample_u64(b, "intent_prediction_duration_seconds_count", n);
}

static void request_histograms(server *s, sbuf *b) {
    head(b, "intent_http_request_duration_seconds", "histogram",
         "Time from a request's headers to its response sent, by route.");
    for (int r = 0; r < N_ROUTES; r++) {
        uint64_t cum = 0;
        for (int k = 0; k <= HTTP_N_LAT; k++) {
            cum += atomic_load_explicit(&s->lat[r][k], RELAXED);
            sb_fmt(b, "intent_http_request_duration_seconds_bucket{route=\"%s\",le=\"", http_route_name[r]);
            if (k < HTTP_N_LAT)
                sb_num(b, http_lat_le[k], 6);
            else
                sb_str(b, "+Inf");
            sb_fmt(b, "\"} %llu\n", (unsigned long long)cum);
        }
        sb_fmt(b, "intent_http_request_duration_seconds_sum{route=\"%s\"} ", http_route_name[r]);
        sb_num(b, (double)atomic_load_explicit(&s->lat_sum_ns[r], RELAXED) / 1e9, 12);
        sb_fmt(b, "\nintent_http_request_duration_seconds_count{route=\"%s\"} %llu\n", http_route_name[r],
               (unsigned long long)cum);
    }
}

int metrics_text(server *s, sbuf *b) {
    intent_stats st;
    if (intent_service_stats(s->svc, &st))
        return -1;
    head(b, "intent_http_requests_total", "counter", "HTTP requests answered, by route and status code.");
    for (int r = 0; r < N_ROUTES; r++)
        for (int c = 0; c < HTTP_N_CODES; c++) {
            uint64_t n = atomic_load_explicit(&s->requests[r][c], RELAXED);
            if (!n)
                continue;
            sb_fmt(b, "intent_http_requests_total{route=\"%s\",code=\"", http_route_name[r]);
            if (http_codes[c])
                sb_fmt(b, "%d", http_codes[c]);
            else
                sb_str(b, "other");
            sb_fmt(b, "\"} %llu\n", (unsigned long long)n);
        }
    head(b, "intent_http_requests_in_flight", "gauge", "Requests begun and not yet answered.");
    sample(b, "intent_http_requests_in_flight", (double)atomic_load(&s->in_flight));
    request_histograms(s, b);

    head(b, "intent_predictions_total", "counter", "Texts answered with labels.");
    sample_u64(b, "intent_predictions_total", st.answers);
    head(b, "intent_predictions_out_of_scope_total", "counter", "Texts answered with no label (out of scope).");
    sample_u64(b, "intent_predictions_out_of_scope_total", st.out_of_scope);
    head(b, "intent_predictions_fallback_total", "counter", "Texts answered by the fallback model.");
    sample_u64(b, "intent_predictions_fallback_total", st.answers_fallback);
    head(b, "intent_prediction_errors_total", "counter", "Texts not answered (no model, out of memory).");
    sample_u64(b, "intent_prediction_errors_total", st.errors);
    predict_histogram(b, &st);
    head(b, "intent_label_answers_total", "counter",
         "Answers that gave each label, since the model answering now was served.");
    for (size_t i = 0; i < st.n_labels; i++) {
        sb_str(b, "intent_label_answers_total{label=");
        label_value(b, st.per_label[i].label);
        sb_fmt(b, "} %llu\n", (unsigned long long)st.per_label[i].answers);
    }

    head(b, "intent_model_version", "gauge", "Version of the model answering now (1 for the first loaded).");
    sample_u64(b, "intent_model_version", st.model_version);
    head(b, "intent_model_serving_fallback", "gauge", "1 while the fallback model answers.");
    sample_u64(b, "intent_model_serving_fallback", (uint64_t)st.serving_fallback);
    head(b, "intent_model_loaded_timestamp_seconds", "gauge", "When the model answering now began to (Unix time).");
    sample(b, "intent_model_loaded_timestamp_seconds", st.loaded_at);
    head(b, "intent_model_loads_total", "counter", "Model files loaded (start, reloads).");
    sample_u64(b, "intent_model_loads_total", st.loads);
    head(b, "intent_model_load_failures_total", "counter", "Model files that failed to load (the old model stayed).");
    sample_u64(b, "intent_model_load_failures_total", st.load_failures);
    head(b, "intent_model_swaps_total", "counter", "Models installed (loads and retrains).");
    sample_u64(b, "intent_model_swaps_total", st.swaps);

    head(b, "intent_feedback_total", "counter", "Feedback records appended by this server.");
    sample_u64(b, "intent_feedback_total", atomic_load(&s->fb_appended));
    if (s->fb) {
        intent_feedback_stats fs;
        intent_feedback_get_stats(s->fb, &fs);
        head(b, "intent_feedback_log_records", "gauge", "Whole records in the feedback log.");
        sample_u64(b, "intent_feedback_log_records", fs.n_records);
    }
    head(b, "intent_feedback_pending", "gauge", "Feedback records appended since the last retrain started.");
    sample_u64(b, "intent_feedback_pending", atomic_load(&s->fb_pending));
    head(b, "intent_retrains_total", "counter", "Background retrains ended, by outcome.");
    sb_fmt(b, "intent_retrains_total{status=\"ok\"} %llu\nintent_retrains_total{status=\"rejected\"} %llu\n"
              "intent_retrains_total{status=\"failed\"} %llu\n",
           (unsigned long long)atomic_load(&s->rt_ok), (unsigned long long)atomic_load(&s->rt_rejected),
           (unsigned long long)atomic_load(&s->rt_failed));
    head(b, "intent_retrain_running", "gauge", "1 while a background retrain runs.");
    sample_u64(b, "intent_retrain_running", (uint64_t)intent_service_retraining(s->svc));
    pthread_mutex_lock(&s->rt_mu);
    const char *last = retrain_status_name(s->rt_last_status);
    double last_s = s->rt_last_seconds;
    pthread_mutex_unlock(&s->rt_mu);
    if (last) {
        head(b, "intent_retrain_last_status", "gauge", "1 for the outcome of the last retrain that ended.");
        sb_fmt(b, "intent_retrain_last_status{status=\"%s\"} 1\n", last);
        head(b, "intent_retrain_last_duration_seconds", "gauge", "How long the last retrain that ended took.");
        sample(b, "intent_retrain_last_duration_seconds", last_s);
    }

    if (s->reg) {
        intent_components *c = s->reg->comps;
        head(b, "intent_components_memory_bytes", "gauge", "Memory of the components loaded, from the registry.");
        sample_u64(b, "intent_components_memory_bytes", intent_components_memory(c));
        head(b, "intent_component_loaded", "gauge", "1 for each component loaded, 0 otherwise.");
        for (size_t i = 0; i < intent_components_count(c); i++) {
            intent_component_info info;
            if (intent_components_info(c, i, &info))
                continue;
            sb_str(b, "intent_component_loaded{component=");
            label_value(b, info.name);
            sb_fmt(b, "} %d\n", info.state == INTENT_COMPONENT_LOADED);
        }
    }
    head(b, "intent_memory_bytes", "gauge", "Memory held by models and prediction scratch.");
    sample_u64(b, "intent_memory_bytes", st.memory_bytes);
    head(b, "intent_uptime_seconds", "gauge", "Seconds since the server started.");
    sample(b, "intent_uptime_seconds", mono_s() - s->t0);
    intent_stats_free(&st);
    return b->oom ? -1 : 0;
}
