/*
 * http.h - the HTTP server of `intent serve`, apart from its sockets: a request (method,
 * path, Authorization header, body) goes in, a response (status, content type, body)
 * comes out. cmd_serve.c carries requests between libmicrohttpd and http_handle; the
 * unit tests (tests/http/test_http.c) and the fuzz target (fuzz/fuzz_http.c) call
 * http_handle directly, without a socket.
 *
 *   http.c       the server's state, routing, the bearer token, and the endpoints
 *   http_json.c  an output buffer with JSON escaping; request bodies checked (UTF-8,
 *                control characters, NUL) and parsed with cJSON into plain structs
 *   metrics.c    GET /stats (JSON) and GET /metrics (Prometheus text format)
 *
 * The endpoints are documented in docs/HTTP.md.
 */
#ifndef INTENT_HTTP_H
#define INTENT_HTTP_H

#include "cli.h"

#include <pthread.h>
#include <stdatomic.h>

/* ---- output buffer (http_json.c) ---- */

/* A growable string. A failed allocation sets oom and drops later appends, so builders
 * check once at the end. p is malloc'ed (free() frees it: libmicrohttpd does) and always
 * NUL-terminated once anything was added. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

void sb_add(sbuf *b, const char *s, size_t n);
void sb_str(sbuf *b, const char *s);
void sb_fmt(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s[0..n) as a JSON string literal: escaped per RFC 8259, and any byte sequence that is
 * not valid UTF-8 written as U+FFFD, so the output is valid JSON whatever s holds. */
void sb_json(sbuf *b, const char *s, size_t n);
void sb_jsonz(sbuf *b, const char *s); /* NUL-terminated s */
/* A JSON number: %.*g of x, or 0 when x is not finite (JSON has no NaN or infinity). */
void sb_num(sbuf *b, double x, int digits);
void sb_free(sbuf *b);

/* ---- request bodies (http_json.c) ---- */

/* Why a request was refused: the HTTP status, a stable code for programs, a message for
 * people ("\"texts\"[2] must be a string"). */
typedef struct http_error {
    int status;        /* 400, 413, ... */
    const char *code;  /* "invalid_json", "invalid_utf8", "missing_field", "wrong_type", ... */
    char message[320];
} http_error;

/* Fills e and returns -1 (for `return http_fail(...)`). */
int http_fail(http_error *e, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Bytes of the longest prefix of s[0..n) that is valid UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF); n when all of it is. */
size_t utf8_valid_prefix(const char *s, size_t n);

/* The checks cJSON leaves out, on a whole body: no raw control character (U+0000 to
 * U+001F) inside a string and no NUL byte anywhere (both invalid JSON, which cJSON takes
 * and cuts strings at), and no \u0000 escape (valid JSON, but cJSON's NUL-terminated
 * strings would silently lose what follows it). Invalid UTF-8 is left to the field
 * checks, which can name the field. 0, or -1 with e filled. */
int json_precheck(const char *body, size_t len, http_error *e);

typedef struct body_limits {
    size_t max_body;   /* bytes of a body (the transport enforces it; see http_request) */
    size_t max_texts;  /* texts in one /predict request */
    size_t max_text;   /* bytes of one text */
} body_limits;

/* POST /predict: {"text": "..."} or {"texts": ["...", ...]}, optional "threshold"
 * (0..1) and "top" (0..INTENT_MAX_LABELS, default 1). */
typedef struct predict_body {
    void *root;           /* the cJSON tree the texts point into */
    const char **texts;   /* [n], NUL-terminated, valid UTF-8, lens[i] bytes */
    size_t *lens;
    size_t n;
    bool batch;           /* "texts" was given: answer {"results": [...]} */
    float threshold;      /* < 0: the model's own */
    uint32_t top;
} predict_body;

/* POST /feedback: {"text": "...", "labels": ["A", ...]}. */
typedef struct feedback_body {
    void *root;
    const char *text;
    size_t len;
    const char **labels;  /* [n_labels] */
    size_t n_labels;
} feedback_body;

/* Parse and check a body; 0, or -1 with e filled (400 or 413) and nothing to free. */
int parse_predict(const char *body, size_t len, const body_limits *lim, predict_body *out, http_error *e);
void predict_body_free(predict_body *p);
int parse_feedback(const char *body, size_t len, const body_limits *lim, feedback_body *out, http_error *e);
void feedback_body_free(feedback_body *f);

/* ---- the server (http.c) ---- */

enum http_route {
    ROUTE_PREDICT, ROUTE_FEEDBACK, ROUTE_RETRAIN, ROUTE_RELOAD, ROUTE_HEALTHZ, ROUTE_STATS,
    ROUTE_METRICS, ROUTE_OTHER, N_ROUTES
};
extern const char *const http_route_name[N_ROUTES]; /* "/predict", ..., "other" */
int http_route_of(const char *path);

/* Status codes counted one by one in the metrics; the rest as "other". */
#define HTTP_N_CODES 10
extern const int http_codes[HTTP_N_CODES]; /* 200, 202, ..., 0 = other */

/* Upper bounds (seconds) of the request latency histogram's buckets, then +Inf. */
#define HTTP_N_LAT 16
extern const double http_lat_le[HTTP_N_LAT];

typedef struct serve_opts {
    const char *model_path;   /* loaded at start; reloaded by POST /reload and SIGHUP */
    const char *feedback_path;/* the feedback log, or NULL: no /feedback and no /retrain */
    const char *data_path;    /* the original training data for retraining, or NULL */
    const char *retrain_out;  /* each accepted retrained model is also saved here, or NULL */
    const char *token;        /* bearer token for /feedback, /retrain, /reload, or NULL */
    uint32_t retrain_every;   /* start a retrain after this many new feedback records (0: never) */
    uint32_t retrain_threads; /* training threads of a retrain (0: all cores) */
    bool allow_new_labels;    /* /feedback may name labels the model does not have */
    bool quiet;               /* no log lines on stderr (tests, fuzzing) */
    body_limits lim;
} serve_opts;

/* One prediction scratch: a context and a score array, taken by one request at a time. */
typedef struct slot {
    intent_ctx *ctx;
    intent_score *scores;     /* [cap] */
    size_t cap;
    struct slot *next_free, *next_all;
} slot;

typedef struct server {
    serve_opts o;
    intent_service *svc;      /* owned */
    registry *reg;            /* borrowed, or NULL: no routing plans */
    intent_feedback *fb;      /* owned, or NULL */
    pthread_mutex_t slot_mu;  /* guards free_slots and all_slots */
    slot *free_slots, *all_slots;
    /* requests, by route and status (written by http_record) */
    _Atomic uint64_t requests[N_ROUTES][HTTP_N_CODES];
    _Atomic uint64_t lat[N_ROUTES][HTTP_N_LAT + 1]; /* per bucket, not cumulative; last: +Inf */
    _Atomic uint64_t lat_sum_ns[N_ROUTES];
    _Atomic long in_flight;   /* requests begun and not yet answered (cmd_serve.c) */
    _Atomic int draining;     /* SIGTERM: /healthz says 503, responses close their connection */
    /* feedback and retraining */
    _Atomic uint64_t fb_appended, fb_pending; /* this process's appends; since the last retrain start */
    _Atomic uint64_t rt_started, rt_ok, rt_rejected, rt_failed;
    pthread_mutex_t rt_mu;    /* guards the rt_last_* fields and rt_t0; held while starting one */
    int rt_last_status;       /* -1: none ended yet */
    char rt_last_message[512];
    double rt_last_seconds, rt_t0;
    double t0;                /* mono_s() when made */
} server;

/* Makes a server answering with svc (taken: freed by server_free, also on failure) and
 * reg (borrowed, may be NULL; must outlive the server). Opens the feedback log when
 * o->feedback_path is set. 0, or -1 with err filled. */
int server_new(const serve_opts *o, intent_service *svc, registry *reg, server **out, intent_error *err);
/* Frees the server: first its service (which stops a running retrain and waits for it),
 * then the rest. No request may be in flight. NULL is fine. */
void server_free(server *s);

typedef struct http_request {
    const char *method;        /* "GET", "POST", ... */
    const char *path;          /* without the query string */
    const char *authorization; /* the Authorization header, or NULL */
    const char *body;          /* len bytes (may be NULL when len is 0) */
    size_t len;
    bool too_large;            /* the body was over --max-body: answer 413 */
} http_request;

typedef struct http_response {
    int status;
    const char *content_type;  /* static */
    char *body;                /* malloc'ed (the caller frees or hands it on), or NULL */
    size_t len;
    const char *allow;         /* 405: the Allow header; else NULL */
    bool www_authenticate;     /* 401: send WWW-Authenticate: Bearer */
} http_response;

/* Answers one request. Thread-safe: any number of threads may call it at once. On an
 * allocation failure the response is 500 with body NULL (the caller sends a fixed text). */
void http_handle(server *s, const http_request *rq, http_response *rs);

/* Counts a finished request in the metrics: its route, status and the seconds from its
 * headers to its response sent. */
void http_record(server *s, int route, int status, double seconds);

/* Reloads the model file (POST /reload, SIGHUP). The old model keeps answering when the
 * new one fails; msg says what happened either way. Returns the intent status. */
int server_reload(server *s, char *msg, size_t cap);

/* Starts a background retrain; why is logged. Returns INTENT_OK, INTENT_ERR_BUSY (one is
 * running), INTENT_ERR_ARG (no feedback log) or INTENT_ERR_NOMEM. */
int server_retrain(server *s, const char *why);

/* Housekeeping, about once a second from the main thread: starts a retrain that is due
 * but could not start while another ran, and unloads idle components. */
void server_tick(server *s);

/* ---- reports (metrics.c) ---- */

/* GET /stats and GET /metrics bodies into b; 0, or -1 when out of memory. */
int stats_json(server *s, sbuf *b);
int metrics_text(server *s, sbuf *b);

#endif
