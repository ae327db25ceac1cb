/*
 * http.c - the endpoints of `intent serve`, without sockets: routing, the bearer token,
 * POST /predict, /feedback, /retrain and /reload, GET /healthz, and the server's state
 * (GET /stats and /metrics are written by metrics.c). docs/HTTP.md describes the API.
 *
 * DESIGN
 *   Predictions run on the thread that handles the request (one of libmicrohttpd's pool
 *   threads), through intent_service_predict on a lease taken for the request, not
 *   through intent_pool. A prediction costs tens of microseconds; handing it to a pool
 *   would add a copy into the queue, a wake-up of a worker, and a second wake-up to
 *   resume the suspended connection on its libmicrohttpd thread, with the pool's threads
 *   competing for the same cores. The pool's batching saves only the lease per batch (a
 *   short mutex section); each text costs the same to answer either way. So the request
 *   thread answers at once: no queue, no hand-off, and a request's latency is the HTTP
 *   work plus its own prediction. Concurrency is --threads, and back-pressure comes from
 *   the connection limit and TCP rather than from a BUSY answer. Measured with `intent
 *   bench --pool` on the clinc150 model (2 cores): two threads calling intent_predict
 *   answer 327k texts/s, a 2-worker intent_pool 131k/s; the hand-off costs more than the
 *   prediction (p50 5.8 us on one thread).
 *   - The lease: one per request, so every text of a batch is answered by one model, and
 *     a model swapped in meanwhile (reload, retrain) is used from the next request on;
 *     the replaced one is freed when its last request is done.
 *   - Scratch: a free list of slots (an intent_ctx and a score array), one taken per
 *     request under a mutex held for a pointer swap. A slot is made the first time more
 *     requests are in flight than there are slots, so there are about as many as threads,
 *     and nothing is allocated per prediction after the first requests. (Thread-local
 *     contexts would need a destructor per thread and could not be freed at shutdown.)
 *   - Feedback appends are serialized by the log (one fdatasync each). The count since the
 *     last retrain starts one when --retrain-every is reached; if one is running then,
 *     server_tick starts the next once it has ended.
 *   - The retrain's end is reported by the service on its own thread (retrain_done): the
 *     figures go under rt_mu, for /stats and /metrics, and to stderr.
 */
#include "http.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RELAXED memory_order_relaxed

const char *const http_route_name[N_ROUTES] = {"/predict", "/feedback", "/retrain", "/reload",
                                               "/healthz", "/stats",    "/metrics", "other"};
const int http_codes[HTTP_N_CODES] = {200, 202, 400, 401, 404, 405, 413, 500, 503, 0};
const double http_lat_le[HTTP_N_LAT] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                        0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};

/* What each route takes: POST or GET (and HEAD), and whether the token guards it. */
static const struct {
    bool post, guarded;
} ROUTES[N_ROUTES] = {
    [ROUTE_PREDICT] = {true, false}, [ROUTE_FEEDBACK] = {true, true}, [ROUTE_RETRAIN] = {true, true},
    [ROUTE_RELOAD] = {true, true},   [ROUTE_HEALTHZ] = {false, false}, [ROUTE_STATS] = {false, false},
    [ROUTE_METRICS] = {false, false},
};

int http_route_of(const char *path) {
    for (int r = 0; r < ROUTE_OTHER; r++)
        if (strcmp(path, http_route_name[r]) == 0)
            return r;
    return ROUTE_OTHER;
}

static const char JSON[] = "application/json";

/* ---- responses ---- */

/* Hands b to rs as the body (an allocation failure on the way gives a 500 with no body). */
static void finish(http_response *rs, int status, sbuf *b, const char *type) {
    rs->content_type = type;
    if (b->oom || !b->p) {
        sb_free(b);
        rs->status = 500;
        return;
    }
    rs->status = status;
    rs->body = b->p;
    rs->len = b->len;
    memset(b, 0, sizeof *b);
}

static void fail_with(http_response *rs, const http_error *e) {
    sbuf b = {0};
    sb_str(&b, "{\"error\": ");
    sb_jsonz(&b, e->code);
    sb_str(&b, ", \"message\": ");
    sb_jsonz(&b, e->message);
    sb_str(&b, "}\n");
    finish(rs, e->status, &b, JSON);
}

static void fail(http_response *rs, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(http_response *rs, int status, const char *code, const char *fmt, ...) {
    http_error e = {status, code, ""};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    fail_with(rs, &e);
}

static uint64_t version_now(server *s) {
    intent_lease l;
    if (intent_service_acquire(s->svc, &l))
        return 0;
    uint64_t v = l.version;
    intent_service_release(s->svc, &l);
    return v;
}

/* ---- scratch slots ---- */

static void slot_put(server *s, slot *sl) {
    pthread_mutex_lock(&s->slot_mu);
    sl->next_free = s->free_slots;
    s->free_slots = sl;
    pthread_mutex_unlock(&s->slot_mu);
}

/* A slot sized for m, or NULL when out of memory. */
static slot *slot_take(server *s, const intent_model *m) {
    pthread_mutex_lock(&s->slot_mu);
    slot *sl = s->free_slots;
    if (sl)
        s->free_slots = sl->next_free;
    pthread_mutex_unlock(&s->slot_mu);
    if (!sl) {
        if (!(sl = calloc(1, sizeof *sl)))
            return NULL;
        pthread_mutex_lock(&s->slot_mu);
        sl->next_all = s->all_slots;
        s->all_slots = sl;
        pthread_mutex_unlock(&s->slot_mu);
    }
    size_t n = intent_model_n_labels(m);
    if (!sl->ctx && intent_ctx_new(m, &sl->ctx) != INTENT_OK)
        goto fail;
    if (sl->cap < n) { /* a model with more labels than the slot has seen */
        intent_score *sc = realloc(sl->scores, n * sizeof *sc);
        if (!sc)
            goto fail;
        sl->scores = sc;
        sl->cap = n;
    }
    return sl; /* the context grows by itself for a model with larger layers */
fail:
    slot_put(s, sl);
    return NULL;
}

/* ---- POST /predict ---- */

static void json_ids(sbuf *b, const intent_components *c, const char *key, const uint32_t *ids, size_t n) {
    sb_fmt(b, ", \"%s\": [", key);
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_str(b, ", ");
        sb_jsonz(b, intent_components_name(c, ids[i]));
    }
    sb_str(b, "]");
}

static uint64_t cost_of(intent_components *c, uint32_t id) {
    intent_component_info info;
    return intent_components_info(c, id, &info) ? 0 : info.memory;
}

/* ", \"plan\": {...}": the components the labels need, as `intent route --json` gives
 * them. The plan is carried out on the registry (acquire, then release at once), so
 * what one request loads stays loaded, idle, for the next; with --run-components the
 * registry's commands run here, on the request's thread. */
static void put_plan(sbuf *b, server *s, const intent_model *m, const intent_score *sc, size_t n_lab) {
    intent_components *c = s->reg->comps;
    intent_plan p;
    intent_error err;
    err.message[0] = '\0';
    int rc = intent_components_acquire_scores(c, m, sc, n_lab, &p, &err);
    if (rc == INTENT_ERR_LIMIT) { /* nothing was done: show the plan that does not fit */
        intent_plan_free(&p);
        rc = intent_components_plan_scores(c, m, sc, n_lab, &p, &err);
        if (!rc) {
            uint64_t need = 0;
            for (size_t i = 0; i < p.n_required; i++)
                need += cost_of(c, p.required[i]);
            snprintf(err.message, sizeof err.message, "over the budget: its components need %.6g MB of a %.6g MB budget",
                     (double)need / 1048576.0, (double)p.budget / 1048576.0);
            rc = INTENT_ERR_LIMIT;
        }
    }
    if (rc && rc != INTENT_ERR_COMPONENT && rc != INTENT_ERR_LIMIT) {
        sb_str(b, ", \"plan\": {\"ok\": false, \"error\": ");
        sb_jsonz(b, err.message);
        sb_str(b, "}");
        intent_plan_free(&p);
        return;
    }
    sb_str(b, ", \"plan\": {\"ok\": ");
    sb_str(b, rc ? "false" : "true");
    json_ids(b, c, "required", p.required, p.n_required);
    json_ids(b, c, "loaded", p.loaded, p.n_loaded);
    json_ids(b, c, "to_load", p.to_load, p.n_to_load);
    sb_str(b, ", \"to_unload\": [");
    for (size_t i = 0; i < p.n_to_unload; i++) {
        sb_str(b, i ? ", {\"component\": " : "{\"component\": ");
        sb_jsonz(b, intent_components_name(c, p.to_unload[i]));
        sb_fmt(b, ", \"why\": \"%s\"}", p.unload_why[i] == INTENT_UNLOAD_TIMEOUT ? "idle_timeout" : "budget");
    }
    sb_str(b, "], \"memory_mb\": {\"before\": ");
    sb_num(b, (double)p.memory_before / 1048576.0, 6);
    sb_str(b, ", \"after\": ");
    sb_num(b, (double)p.memory_after / 1048576.0, 6);
    sb_str(b, ", \"budget\": ");
    sb_num(b, (double)p.budget / 1048576.0, 6);
    sb_str(b, "}, \"failed\": [");
    for (size_t i = 0; i < p.n_load_failed; i++) {
        sb_str(b, i ? ", {\"component\": " : "{\"component\": ");
        sb_jsonz(b, intent_components_name(c, p.load_failed[i]));
        sb_fmt(b, ", \"status\": %d}", p.load_rc[i]);
    }
    sb_str(b, "]");
    json_ids(b, c, "unload_failed", p.unload_failed, p.n_unload_failed);
    sb_str(b, ", \"error\": ");
    if (rc)
        sb_jsonz(b, err.message);
    else
        sb_str(b, "null");
    sb_str(b, "}");
    intent_components_release(c, &p); /* the request is done with them: they go idle */
    intent_plan_free(&p);
}

/* One text's answer, as `intent predict --json` writes it, plus the model's version. */
static int answer(sbuf *b, server *s, const intent_lease *lease, slot *sl, const char *text, size_t len,
                  const predict_body *p) {
    const intent_model *m = lease->model;
    size_t n_labels = intent_model_n_labels(m), n_top, n_over;
    size_t cap = p->top > 8 ? p->top : 8;
    if (cap > n_labels)
        cap = n_labels;
    int rc = intent_service_predict(s->svc, lease, sl->ctx, text, len, p->threshold, sl->scores, cap, &n_top, &n_over);
    if (!rc && n_over > n_top) /* rare: more labels apply than were asked for */
        rc = intent_predict(m, sl->ctx, text, len, p->threshold, sl->scores, n_labels, &n_top, &n_over);
    if (rc)
        return rc;
    size_t n_lab = n_over < n_top ? n_over : n_top, n_show = p->top > n_lab ? p->top : n_lab;
    if (n_show > n_top)
        n_show = n_top;
    sb_str(b, "{\"labels\": [");
    for (size_t i = 0; i < n_lab; i++) {
        if (i)
            sb_str(b, ", ");
        sb_jsonz(b, intent_model_label(m, sl->scores[i].label));
    }
    sb_str(b, "], \"top\": [");
    for (size_t i = 0; i < n_show; i++) {
        sb_str(b, i ? ", {\"label\": " : "{\"label\": ");
        sb_jsonz(b, intent_model_label(m, sl->scores[i].label));
        sb_fmt(b, ", \"confidence\": %.4f}", (double)sl->scores[i].confidence);
    }
    sb_fmt(b, "], \"model_version\": %llu", (unsigned long long)lease->version);
    if (s->reg)
        put_plan(b, s, m, sl->scores, n_lab);
    sb_str(b, "}");
    return INTENT_OK;
}

static void do_predict(server *s, const http_request *rq, http_response *rs) {
    predict_body p;
    http_error e;
    if (parse_predict(rq->body, rq->len, &s->o.lim, &p, &e)) {
        fail_with(rs, &e);
        return;
    }
    intent_lease lease;
    if (intent_service_acquire(s->svc, &lease) != INTENT_OK) {
        predict_body_free(&p);
        fail(rs, 503, "no_model", "no model is served");
        return;
    }
    slot *sl = slot_take(s, lease.model);
    sbuf b = {0};
    int rc = sl ? INTENT_OK : INTENT_ERR_NOMEM;
    if (p.batch)
        sb_str(&b, "{\"results\": [");
    for (size_t i = 0; i < p.n && !rc; i++) {
        if (i)
            sb_str(&b, ", ");
        rc = answer(&b, s, &lease, sl, p.texts[i], p.lens[i], &p);
    }
    sb_str(&b, p.batch ? "]}\n" : "\n");
    if (sl)
        slot_put(s, sl);
    intent_service_release(s->svc, &lease);
    predict_body_free(&p);
    if (rc) {
        sb_free(&b);
        fail(rs, 500, "internal", "prediction failed: %s", intent_status_str(rc));
        return;
    }
    finish(rs, 200, &b, JSON);
}

/* ---- POST /feedback, /retrain, /reload ---- */

static void log_line(server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(server *s, const char *fmt, ...) {
    if (s->o.quiet)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "intent serve: %s\n", line); /* one call: lines of threads never mix */
}

static void not_enabled(http_response *rs, const char *what) {
    fail(rs, 404, "not_enabled", "%s needs a feedback log: start intent serve with --feedback LOG", what);
}

/* The first label of f the served model does not know (its none label counts as known),
 * or NULL. */
static const char *unknown_label(server *s, const feedback_body *f) {
    intent_lease l;
    if (intent_service_acquire(s->svc, &l))
        return NULL;
    const char *none = intent_model_none_label(l.model), *bad = NULL;
    for (size_t i = 0; i < f->n_labels && !bad; i++)
        if (intent_model_label_id(l.model, f->labels[i]) < 0 && !(none && strcmp(none, f->labels[i]) == 0))
            bad = f->labels[i];
    intent_service_release(s->svc, &l);
    return bad;
}

static void do_feedback(server *s, const http_request *rq, http_response *rs) {
    if (!s->fb) {
        not_enabled(rs, "POST /feedback");
        return;
    }
    feedback_body f;
    http_error e;
    if (parse_feedback(rq->body, rq->len, &s->o.lim, &f, &e)) {
        fail_with(rs, &e);
        return;
    }
    const char *bad = s->o.allow_new_labels ? NULL : unknown_label(s, &f);
    if (bad) {
        fail(rs, 400, "unknown_label",
             "label \"%.128s\" is not one of the model's (start intent serve with --allow-new-labels to teach new ones)",
             bad);
        feedback_body_free(&f);
        return;
    }
    intent_error err;
    int rc = intent_feedback_append(s->fb, f.text, f.len, f.labels, f.n_labels, &err);
    feedback_body_free(&f);
    if (rc == INTENT_ERR_ARG || rc == INTENT_ERR_LIMIT) {
        fail(rs, 400, "bad_value", "%s", err.message);
        return;
    }
    if (rc) {
        log_line(s, "feedback append failed: %s", err.message);
        fail(rs, 500, "feedback_failed", "%s", err.message);
        return;
    }
    atomic_fetch_add_explicit(&s->fb_appended, 1, RELAXED);
    uint64_t pending = atomic_fetch_add(&s->fb_pending, 1) + 1;
    const char *retrain = "null";
    if (s->o.retrain_every && pending >= s->o.retrain_every) {
        char why[64];
        snprintf(why, sizeof why, "%llu new feedback records", (unsigned long long)pending);
        rc = server_retrain(s, why);
        retrain = rc == INTENT_OK ? "\"started\"" : rc == INTENT_ERR_BUSY ? "\"already_running\"" : "\"failed\"";
    }
    intent_feedback_stats st;
    intent_feedback_get_stats(s->fb, &st);
    sbuf b = {0};
    sb_fmt(&b, "{\"appended\": true, \"log_records\": %llu, \"pending\": %llu, \"retrain\": %s}\n",
           (unsigned long long)st.n_records, (unsigned long long)atomic_load(&s->fb_pending), retrain);
    finish(rs, 200, &b, JSON);
}

static void do_retrain(server *s, http_response *rs) {
    if (!s->fb) {
        not_enabled(rs, "POST /retrain");
        return;
    }
    int rc = server_retrain(s, "POST /retrain");
    if (rc != INTENT_OK && rc != INTENT_ERR_BUSY) {
        fail(rs, 500, "internal", "the retrain could not start: %s", intent_status_str(rc));
        return;
    }
    sbuf b = {0};
    sb_fmt(&b, "{\"retrain\": \"%s\", \"model_version\": %llu}\n", rc ? "already_running" : "started",
           (unsigned long long)version_now(s));
    finish(rs, 202, &b, JSON);
}

static void do_reload(server *s, http_response *rs) {
    char msg[sizeof ((intent_error *)0)->message + 128];
    int rc = server_reload(s, msg, sizeof msg);
    sbuf b = {0};
    if (rc)
        sb_str(&b, "{\"error\": \"reload_failed\", \"message\": ");
    else
        sb_str(&b, "{\"reloaded\": true, \"message\": ");
    sb_jsonz(&b, msg);
    sb_fmt(&b, ", \"model_version\": %llu}\n", (unsigned long long)version_now(s));
    finish(rs, rc ? 500 : 200, &b, JSON);
}

/* ---- GET ---- */

static void do_healthz(server *s, http_response *rs) {
    sbuf b = {0};
    uint64_t v = version_now(s);
    int draining = atomic_load(&s->draining);
    sb_fmt(&b, "{\"status\": \"%s\", \"model_version\": %llu}\n", draining ? "draining" : v ? "ok" : "no_model",
           (unsigned long long)v);
    finish(rs, draining || !v ? 503 : 200, &b, JSON);
}

static void do_report(server *s, http_response *rs, bool metrics) {
    sbuf b = {0};
    if (metrics ? metrics_text(s, &b) : stats_json(s, &b))
        b.oom = true;
    finish(rs, 200, &b, metrics ? "text/plain; version=0.0.4; charset=utf-8" : JSON);
}

/* ---- routing ---- */

/* Whether h is "Bearer <the token>"; the comparison takes the same time wherever the
 * tokens differ. */
static bool auth_ok(const server *s, const char *h) {
    const char *tok = s->o.token;
    if (!tok)
        return true;
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    while (*h == ' ')
        h++;
    size_t n = strlen(h), k = strlen(tok);
    unsigned diff = n != k;
    for (size_t i = 0; i < k; i++)
        diff |= (unsigned)((unsigned char)tok[i] ^ (unsigned char)(i < n ? h[i] : 0));
    return diff == 0;
}

void http_handle(server *s, const http_request *rq, http_response *rs) {
    memset(rs, 0, sizeof *rs);
    int r = http_route_of(rq->path);
    const char *m = rq->method;
    if (r == ROUTE_OTHER) {
        fail(rs, 404, "not_found", "no endpoint %.200s (POST /predict, /feedback, /retrain, /reload; "
             "GET /healthz, /stats, /metrics)", rq->path);
        return;
    }
    bool ok_method = ROUTES[r].post ? strcmp(m, "POST") == 0 : strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    if (!ok_method) {
        fail(rs, 405, "method_not_allowed", "%s takes %s, not %.32s", rq->path, ROUTES[r].post ? "POST" : "GET", m);
        rs->allow = ROUTES[r].post ? "POST" : "GET, HEAD";
        return;
    }
    if (ROUTES[r].guarded && !auth_ok(s, rq->authorization)) {
        fail(rs, 401, "unauthorized", "%s needs the header \"Authorization: Bearer TOKEN\" with the server's token",
             rq->path);
        rs->www_authenticate = true;
        return;
    }
    if (rq->too_large) {
        fail(rs, 413, "body_too_large", "the body is over the limit of %zu bytes (--max-body)", s->o.lim.max_body);
        return;
    }
    switch (r) {
    case ROUTE_PREDICT: do_predict(s, rq, rs); break;
    case ROUTE_FEEDBACK: do_feedback(s, rq, rs); break;
    case ROUTE_RETRAIN: do_retrain(s, rs); break;
    case ROUTE_RELOAD: do_reload(s, rs); break;
    case ROUTE_HEALTHZ: do_healthz(s, rs); break;
    case ROUTE_STATS: do_report(s, rs, false); break;
    case ROUTE_METRICS: do_report(s, rs, true); break;
    }
}

void http_record(server *s, int route, int status, double seconds) {
    if (route < 0 || route >= N_ROUTES)
        route = ROUTE_OTHER;
    size_t c = 0;
    while (c < HTTP_N_CODES - 1 && http_codes[c] != status)
        c++;
    atomic_fetch_add_explicit(&s->requests[route][c], 1, RELAXED);
    if (!(seconds >= 0))
        seconds = 0;
    if (seconds > 1e6) /* keeps the nanoseconds within a uint64_t */
        seconds = 1e6;
    size_t k = 0;
    while (k < HTTP_N_LAT && seconds > http_lat_le[k])
        k++;
    atomic_fetch_add_explicit(&s->lat[route][k], 1, RELAXED);
    atomic_fetch_add_explicit(&s->lat_sum_ns[route], (uint64_t)(seconds * 1e9), RELAXED);
}

/* ---- reload, retrain ---- */

int server_reload(server *s, char *msg, size_t cap) {
    intent_error err;
    int rc = intent_service_load(s->svc, s->o.model_path, &err); /* logs through log_service */
    if (rc)
        snprintf(msg, cap, "%s", err.message);
    else
        snprintf(msg, cap, "%s: loaded as version %llu", s->o.model_path, (unsigned long long)version_now(s));
    return rc;
}

static void retrain_done(int status, const intent_retrain_report *rep, const char *message, uint64_t version,
                         void *user) {
    server *s = user;
    char figures[256] = "", saved[700] = "";
    if (rep)
        snprintf(figures, sizeof figures, " (%zu feedback and %zu data examples; exact-set accuracy on %zu held out: "
                 "%.2f%% before, %.2f%% after)", rep->n_feedback, rep->n_data, rep->n_heldout, 100.0 * rep->base_score,
                 100.0 * rep->new_score);
    if (status == INTENT_OK && s->o.retrain_out) { /* keep it for the next start */
        intent_lease l;
        intent_error err;
        if (intent_service_acquire(s->svc, &l) == INTENT_OK) {
            if (intent_model_save(l.model, s->o.retrain_out, &err))
                snprintf(saved, sizeof saved, "; not saved: %s", err.message);
            else
                snprintf(saved, sizeof saved, "; saved to %s", s->o.retrain_out);
            intent_service_release(s->svc, &l);
        }
    }
    pthread_mutex_lock(&s->rt_mu);
    double secs = mono_s() - s->rt_t0;
    s->rt_last_status = status;
    s->rt_last_seconds = secs;
    snprintf(s->rt_last_message, sizeof s->rt_last_message, "%s%s%s", message, figures, saved);
    pthread_mutex_unlock(&s->rt_mu);
    atomic_fetch_add(status == INTENT_OK ? &s->rt_ok : status == INTENT_ERR_REJECTED ? &s->rt_rejected : &s->rt_failed, 1);
    (void)version;
    log_line(s, "retrain %s after %.1f s: %s%s%s",
             status == INTENT_OK ? "done" : status == INTENT_ERR_REJECTED ? "rejected" : "failed", secs, message, figures,
             saved);
}

int server_retrain(server *s, const char *why) {
    if (!s->o.feedback_path)
        return INTENT_ERR_ARG;
    intent_retrain_opts o;
    intent_retrain_opts_init(&o);
    o.train.threads = s->o.retrain_threads;
    pthread_mutex_lock(&s->rt_mu);
    double t0 = mono_s();
    uint64_t pending = atomic_exchange(&s->fb_pending, 0);
    int rc = intent_service_retrain(s->svc, s->o.feedback_path, s->o.data_path, &o, retrain_done, s);
    if (rc == INTENT_OK) {
        s->rt_t0 = t0;
        atomic_fetch_add(&s->rt_started, 1);
    } else {
        atomic_fetch_add(&s->fb_pending, pending); /* still due */
    }
    pthread_mutex_unlock(&s->rt_mu);
    if (rc == INTENT_OK)
        log_line(s, "retrain started (%s) from model version %llu", why, (unsigned long long)version_now(s));
    return rc;
}

void server_tick(server *s) {
    uint32_t every = s->o.retrain_every;
    if (every && atomic_load(&s->fb_pending) >= every && !intent_service_retraining(s->svc))
        server_retrain(s, "feedback arrived while the last one ran");
    if (s->reg) {
        size_t n = 0;
        intent_error err;
        if (intent_components_unload_idle(s->reg->comps, &n, &err))
            log_line(s, "unloading idle components: %s", err.message);
        else if (n)
            log_line(s, "unloaded %zu idle component%s", n, n == 1 ? "" : "s");
    }
}

/* ---- life ---- */

static void log_service(int status, const char *message, void *user) {
    (void)status;
    log_line(user, "%s", message);
}

int server_new(const serve_opts *o, intent_service *svc, registry *reg, server **out, intent_error *err) {
    *out = NULL;
    server *s = calloc(1, sizeof *s);
    if (!s || pthread_mutex_init(&s->slot_mu, NULL) || pthread_mutex_init(&s->rt_mu, NULL)) {
        free(s); /* a mutex init fails only for want of memory */
        intent_service_free(svc);
        snprintf(err->message, sizeof err->message, "out of memory");
        return -1;
    }
    s->o = *o;
    s->svc = svc;
    s->reg = reg;
    s->rt_last_status = -1;
    s->t0 = mono_s();
    if (!o->quiet)
        intent_service_set_log(svc, log_service, s);
    if (o->feedback_path && intent_feedback_open(o->feedback_path, &s->fb, err) != INTENT_OK) {
        server_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void server_free(server *s) {
    if (!s)
        return;
    intent_service_free(s->svc); /* stops a retrain, whose end still reports to s */
    intent_feedback_close(s->fb);
    for (slot *sl = s->all_slots, *next; sl; sl = next) {
        next = sl->next_all;
        intent_ctx_free(sl->ctx);
        free(sl->scores);
        free(sl);
    }
    pthread_mutex_destroy(&s->slot_mu);
    pthread_mutex_destroy(&s->rt_mu);
    free(s);
}
