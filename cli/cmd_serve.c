/*
 * cmd_serve.c - `intent serve`: the HTTP server. This file holds the sockets side:
 * options, libmicrohttpd, signals, the drain at exit. What a request gets back is decided
 * by http_handle (http.c), which knows nothing of sockets.
 *
 * DESIGN
 *   libmicrohttpd runs in thread-pool mode: MHD_USE_EPOLL_INTERNAL_THREAD with
 *   MHD_OPTION_THREAD_POOL_SIZE >= 2 (its single-thread epoll mode stalled here with 128
 *   or more connections arriving at once; see ../shared/DEPENDENCIES.md). Each pool
 *   thread accepts and serves its own connections; the access handler collects a body up
 *   to --max-body (a Content-Length over it is answered 413 at once, before the body is
 *   read; a chunked body that grows past it is read to its end and dropped, then 413),
 *   then calls http_handle on the same thread and queues its answer.
 *   - In flight: a request counts from its first callback (headers read) to libmicrohttpd's
 *     "completed" notification (response sent, or the connection lost); that is also
 *     where its latency and status go to the metrics.
 *   - Signals: the handlers only write the signal's number into a non-blocking self-pipe;
 *     the main thread polls the pipe (and wakes once a second for server_tick) and does
 *     the work: SIGHUP reloads the model file, SIGTERM and SIGINT drain and stop.
 *   - Drain: MHD_quiesce_daemon stops accepting and shutdown() makes the kernel refuse
 *     new connections (the socket is closed only after MHD_stop_daemon, as the manual
 *     asks); responses from then on carry
 *     "Connection: close" and /healthz answers 503; the main thread waits until no request
 *     has been in flight for 50 ms (at most --drain-timeout seconds, or until a second
 *     signal), then stops the daemon, which closes the idle keep-alive connections. A
 *     request whose headers were still arriving when the daemon stopped is cut off, as an
 *     idle keep-alive connection may be by any HTTP server; clients retry those.
 */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char USAGE[] =
    "usage: intent serve --model MODEL [--components REGISTRY.json [--run-components]]\n"
    "                    [--feedback LOG [--data TRAIN] [--retrain-every N]] [--host 127.0.0.1]\n"
    "                    [--port 8080] [--threads N] [options]\n"
    "\n"
    "Answers over HTTP (JSON) with the model: POST /predict, POST /feedback, POST /retrain,\n"
    "POST /reload, GET /healthz, GET /stats, GET /metrics (Prometheus). See docs/HTTP.md.\n"
    "SIGHUP reloads the model file (a bad file leaves the served model in place); SIGTERM\n"
    "and SIGINT stop accepting, answer the requests in flight, and exit 0.\n"
    "\n"
    "  --model MODEL         the model file (required); POST /reload and SIGHUP read it again\n"
    "  --components FILE     a component registry (JSON, as for intent route): /predict also\n"
    "                        answers with the routing plan of each text\n"
    "  --run-components      run the registry's load and unload commands (/bin/sh, on the\n"
    "                        request's thread); without it plans are a dry run\n"
    "  --feedback LOG        the feedback log: enables POST /feedback and POST /retrain\n"
    "  --data FILE           the original training data, mixed into each retrain\n"
    "  --retrain-every N     retrain in the background after N new feedback records\n"
    "                        (default 0: only on POST /retrain)\n"
    "  --retrain-threads N   training threads of a retrain (default 1; 0 = all cores)\n"
    "  --retrain-out FILE    also save each accepted retrained model there (atomically)\n"
    "  --allow-new-labels    /feedback may name labels the model does not have\n"
    "  --token-file FILE     a bearer token (the file's first line) that POST /feedback,\n"
    "                        /retrain and /reload require; or set INTENT_SERVE_TOKEN\n"
    "  --host ADDR           the address to listen on (default 127.0.0.1; 0.0.0.0 or :: for all)\n"
    "  --port N              the port (default 8080; 0 picks a free one, printed at start)\n"
    "  --threads N           libmicrohttpd pool threads answering requests (default: one per\n"
    "                        core, at least 2)\n"
    "  --max-body BYTES      largest request body (default 1048576); larger ones get 413\n"
    "  --max-texts N         texts in one /predict request (default 1024)\n"
    "  --max-text BYTES      bytes of one text (default 65536)\n"
    "  --max-connections N   connections at once (default 1024)\n"
    "  --timeout S           close a connection idle this long (default 60)\n"
    "  --drain-timeout S     at SIGTERM, wait at most this long for requests in flight (default 30)\n"
    "  --quiet               no log lines on stderr after the start\n";

/* The self-pipe the signal handlers write to: process-wide by nature. */
static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig) {
    int saved = errno;
    unsigned char c = (unsigned char)sig;
    ssize_t n = write(sig_pipe[1], &c, 1); /* async-signal-safe; a full pipe drops it */
    (void)n;
    errno = saved;
}

static int signals_init(void) {
    if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC))
        return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL) || sigaction(SIGHUP, &sa, NULL))
        return -1;
    signal(SIGPIPE, SIG_IGN); /* a client gone: a failed send, not a dead server */
    return 0;
}

/* Waits up to ms for a signal; returns its number, or 0. */
static int next_signal(int ms) {
    struct pollfd p = {sig_pipe[0], POLLIN, 0};
    if (poll(&p, 1, ms) <= 0)
        return 0;
    unsigned char c;
    return read(sig_pipe[0], &c, 1) == 1 ? c : 0;
}

/* ---- requests ---- */

typedef struct req {
    double t0;          /* mono_s() at the first callback */
    int route, status;  /* status: 0 until a response is queued */
    bool too_large;
    char *body;
    size_t len, cap;
} req;

static enum MHD_Result respond(server *s, struct MHD_Connection *conn, req *r, const char *url, const char *method) {
    static const char OOM[] = "{\"error\": \"internal\", \"message\": \"out of memory\"}\n";
    http_request rq = {method, url, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
                       r->body, r->len, r->too_large};
    http_response rs;
    http_handle(s, &rq, &rs);
    struct MHD_Response *resp =
        rs.body ? MHD_create_response_from_buffer(rs.len, rs.body, MHD_RESPMEM_MUST_FREE)
                : MHD_create_response_from_buffer(sizeof OOM - 1, (void *)OOM, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(rs.body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rs.content_type ? rs.content_type : "application/json");
    if (rs.allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rs.allow);
    if (rs.www_authenticate)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (atomic_load(&s->draining))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)rs.status, resp);
    MHD_destroy_response(resp);
    r->status = rs.status;
    free(r->body); /* answered: the body is no longer needed */
    r->body = NULL;
    r->len = r->cap = 0;
    return ret;
}

/* Appends n bytes of body; past the cap the body is dropped and only its end awaited. */
static int add_body(server *s, req *r, const char *data, size_t n) {
    size_t max = s->o.lim.max_body;
    if (r->too_large)
        return 0;
    if (n > max - r->len) {
        r->too_large = true;
        free(r->body);
        r->body = NULL;
        r->len = r->cap = 0;
        return 0;
    }
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 1024;
        while (cap < r->len + n)
            cap *= 2;
        if (cap > max)
            cap = max;
        char *p = realloc(r->body, cap);
        if (!p)
            return -1;
        r->body = p;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    server *s = cls;
    req *r = *con_cls;
    (void)version;
    if (!r) { /* headers read: the request begins */
        if (!(r = calloc(1, sizeof *r)))
            return MHD_NO;
        r->t0 = mono_s();
        r->route = http_route_of(url);
        *con_cls = r;
        atomic_fetch_add(&s->in_flight, 1);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || end == cl || n > s->o.lim.max_body) { /* answer before reading the body */
                r->too_large = true;
                return respond(s, conn, r, url, method);
            }
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (add_body(s, r, upload, *upload_size))
            return MHD_NO; /* out of memory: drop the connection */
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->status)
        return MHD_YES; /* answered early (413): libmicrohttpd calls once more */
    return respond(s, conn, r, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    server *s = cls;
    req *r = *con_cls;
    (void)conn;
    (void)toe;
    if (!r)
        return;
    if (r->status)
        http_record(s, r->route, r->status, mono_s() - r->t0);
    free(r->body);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    const server *s = cls;
    if (s->o.quiet)
        return;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = '\0';
    fprintf(stderr, "intent serve: libmicrohttpd: %s\n", line);
}

/* ---- start, run, stop ---- */

typedef struct serve_cli {
    serve_opts o;
    const char *components, *token_file, *host;
    int run_components, allow_new, quiet;
    uint32_t port, threads, max_conn, timeout_s, drain_s;
    uint64_t max_body, max_texts, max_text;
    char token[512];
} serve_cli;

/* The token from --token-file (its first line) or INTENT_SERVE_TOKEN. 0, or -1 after
 * saying why. */
static int read_token(serve_cli *c) {
    const char *env = getenv("INTENT_SERVE_TOKEN");
    if (c->token_file) {
        FILE *f = fopen(c->token_file, "r");
        if (!f || !fgets(c->token, sizeof c->token, f)) {
            fail_msg("serve", "--token-file %s: %s", c->token_file, f ? "empty" : strerror(errno));
            if (f)
                fclose(f);
            return -1;
        }
        fclose(f);
    } else if (env && *env) {
        snprintf(c->token, sizeof c->token, "%s", env);
    } else {
        return 0;
    }
    c->token[strcspn(c->token, "\r\n")] = '\0';
    if (!c->token[0] || strlen(c->token) >= sizeof c->token - 1) {
        fail_msg("serve", "the token must be 1 to %zu characters on one line", sizeof c->token - 2);
        return -1;
    }
    for (const char *p = c->token; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            fail_msg("serve", "the token must be printable, without spaces");
            return -1;
        }
    c->o.token = c->token;
    return 0;
}

/* A component label the model never predicts is most likely a typo: say so. */
static void warn_unknown_labels(const serve_cli *c, const registry *reg, intent_service *svc) {
    intent_lease l;
    if (intent_service_acquire(svc, &l))
        return;
    for (size_t i = 0; i < intent_components_count(reg->comps); i++) {
        intent_component_info info;
        intent_components_info(reg->comps, i, &info);
        for (size_t j = 0; j < info.n_labels; j++)
            if (intent_model_label_id(l.model, info.labels[j]) < 0)
                fprintf(stderr, "intent serve: warning: %s: component %s: label \"%s\" is not a label of %s\n",
                        c->components, info.name, info.labels[j], c->o.model_path);
    }
    intent_service_release(svc, &l);
}

static struct MHD_Daemon *start_daemon(serve_cli *c, server *s, uint16_t *port) {
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%u", c->port);
    int gai = getaddrinfo(c->host, port_s, &hints, &ai);
    if (gai) {
        fail_msg("serve", "--host %s: %s", c->host, gai_strerror(gai));
        return NULL;
    }
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    errno = 0;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)c->port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, /* first */
        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)c->threads, MHD_OPTION_CONNECTION_LIMIT, (unsigned)c->max_conn,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)c->timeout_s, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    int e = errno;
    freeaddrinfo(ai);
    if (!d) {
        fail_msg("serve", "cannot listen on %s port %u%s%s", c->host, c->port, e ? ": " : "", e ? strerror(e) : "");
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    *port = info ? info->port : (uint16_t)c->port;
    return d;
}

/* Stops accepting, waits for the requests in flight, stops. */
static void drain(serve_cli *c, server *s, struct MHD_Daemon *d, int sig) {
    long n = atomic_load(&s->in_flight);
    fprintf(stderr, "intent serve: %s: no new connections; answering the %ld request%s in flight\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", n, n == 1 ? "" : "s");
    MHD_socket lfd = MHD_quiesce_daemon(d);
    /* Refuse new connections now rather than leave them waiting in the backlog until the
     * socket is closed: shutdown() on a listening socket stops it listening on Linux,
     * and the descriptor stays valid for the threads until MHD_stop_daemon. */
    if (lfd != MHD_INVALID_SOCKET)
        shutdown(lfd, SHUT_RDWR);
    atomic_store(&s->draining, 1);
    double until = mono_s() + c->drain_s, idle_since = -1;
    while (mono_s() < until) {
        if (atomic_load(&s->in_flight) > 0) {
            idle_since = -1;
        } else if (idle_since < 0) {
            idle_since = mono_s();
        } else if (mono_s() - idle_since >= 0.05) {
            break;
        }
        int again = next_signal(5);
        if (again == SIGTERM || again == SIGINT) {
            fprintf(stderr, "intent serve: %s again: stopping now\n", again == SIGINT ? "SIGINT" : "SIGTERM");
            break;
        }
    }
    n = atomic_load(&s->in_flight);
    if (n > 0)
        fprintf(stderr, "intent serve: %ld request%s still in flight: cut off\n", n, n == 1 ? "" : "s");
    MHD_stop_daemon(d);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
}

int cmd_serve(int argc, char **argv) {
    serve_cli c;
    memset(&c, 0, sizeof c);
    c.host = "127.0.0.1";
    c.port = 8080;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    c.threads = cores > 2 ? (uint32_t)(cores < 256 ? cores : 256) : 2;
    c.max_conn = 1024;
    c.timeout_s = 60;
    c.drain_s = 30;
    c.max_body = 1u << 20;
    c.max_texts = 1024;
    c.max_text = 65536;
    c.o.retrain_threads = 1;
    const opt opts[] = {
        {"--model", OPT_STR, &c.o.model_path, 0, 0},
        {"--components", OPT_STR, &c.components, 0, 0},
        {"--run-components", OPT_FLAG, &c.run_components, 0, 0},
        {"--feedback", OPT_STR, &c.o.feedback_path, 0, 0},
        {"--data", OPT_STR, &c.o.data_path, 0, 0},
        {"--retrain-every", OPT_U32, &c.o.retrain_every, 0, 1e9},
        {"--retrain-threads", OPT_U32, &c.o.retrain_threads, 0, 256},
        {"--retrain-out", OPT_STR, &c.o.retrain_out, 0, 0},
        {"--allow-new-labels", OPT_FLAG, &c.allow_new, 0, 0},
        {"--token-file", OPT_STR, &c.token_file, 0, 0},
        {"--host", OPT_STR, &c.host, 0, 0},
        {"--port", OPT_U32, &c.port, 0, 65535},
        {"--threads", OPT_U32, &c.threads, 2, 1024},
        {"--max-body", OPT_U64, &c.max_body, 2, 1ull << 30},
        {"--max-texts", OPT_U64, &c.max_texts, 1, 1e7},
        {"--max-text", OPT_U64, &c.max_text, 1, 1ull << 30},
        {"--max-connections", OPT_U32, &c.max_conn, 1, 1e6},
        {"--timeout", OPT_U32, &c.timeout_s, 0, 86400},
        {"--drain-timeout", OPT_U32, &c.drain_s, 0, 86400},
        {"--quiet", OPT_FLAG, &c.quiet, 0, 0},
    };
    const char *pos[1];
    size_t n_pos;
    int help;
    if (args_parse("serve", argc, argv, 2, opts, sizeof opts / sizeof *opts, pos, 0, &n_pos, &help))
        return 2;
    if (help) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (!c.o.model_path) {
        fail_msg("serve", "--model is required (see intent serve --help)");
        return 2;
    }
    if ((c.o.data_path || c.o.retrain_every || c.o.retrain_out) && !c.o.feedback_path) {
        fail_msg("serve", "--data, --retrain-every and --retrain-out need --feedback LOG");
        return 2;
    }
    if (c.run_components && !c.components) {
        fail_msg("serve", "--run-components needs --components FILE");
        return 2;
    }
    c.o.allow_new_labels = c.allow_new;
    c.o.quiet = c.quiet;
    c.o.lim.max_body = (size_t)c.max_body;
    c.o.lim.max_texts = (size_t)c.max_texts;
    c.o.lim.max_text = (size_t)c.max_text;
    if (read_token(&c))
        return 2;

    registry reg;
    memset(&reg, 0, sizeof reg);
    if (c.components && registry_read(c.components, c.run_components, &reg))
        return 1;
    intent_service *svc = NULL;
    server *s = NULL;
    intent_error err;
    int rc = 1;
    if (intent_service_new(&svc)) {
        fail_msg("serve", "out of memory");
        goto out;
    }
    if (intent_service_load(svc, c.o.model_path, &err)) {
        fail_msg("serve", "%s", err.message);
        intent_service_free(svc);
        goto out;
    }
    if (c.components)
        warn_unknown_labels(&c, &reg, svc);
    if (server_new(&c.o, svc, c.components ? &reg : NULL, &s, &err)) { /* takes svc */
        fail_msg("serve", "%s", err.message);
        goto out;
    }
    if (signals_init()) {
        fail_msg("serve", "cannot set up signals: %s", strerror(errno));
        goto out;
    }
    uint16_t port;
    struct MHD_Daemon *d = start_daemon(&c, s, &port);
    if (!d)
        goto out;
    fprintf(stderr, "intent serve: listening on http://%s%s%s:%u/ (%u threads; model %s%s%s%s%s%s)\n",
            strchr(c.host, ':') ? "[" : "", c.host, strchr(c.host, ':') ? "]" : "", port, c.threads, c.o.model_path,
            c.components ? ", components " : "", c.components ? c.components : "",
            c.o.feedback_path ? ", feedback " : "", c.o.feedback_path ? c.o.feedback_path : "",
            c.o.token ? ", token required" : "");
    int sig;
    for (;;) {
        sig = next_signal(1000);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        if (sig == SIGHUP) {
            char msg[640];
            if (!c.quiet)
                fprintf(stderr, "intent serve: SIGHUP: reloading %s\n", c.o.model_path);
            server_reload(s, msg, sizeof msg); /* the service logs the outcome */
        }
        server_tick(s);
    }
    drain(&c, s, d, sig);
    uint64_t answered = 0;
    for (int r = 0; r < N_ROUTES; r++)
        for (int k = 0; k < HTTP_N_CODES; k++)
            answered += atomic_load(&s->requests[r][k]);
    fprintf(stderr, "intent serve: stopped after %llu requests\n", (unsigned long long)answered);
    rc = 0;
out:
    server_free(s);
    if (c.components)
        registry_free(&reg);
    return rc;
}
