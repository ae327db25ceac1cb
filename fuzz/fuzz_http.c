/*
 * fuzz_http.c - fuzz target: bytes -> one HTTP request -> http_handle (cli/http.c), the
 * request handling of `intent serve` without its sockets.
 *
 * Input: "METHOD PATH\n", then header lines ("Authorization: Bearer tok" is the one read),
 * an empty line, and the body; an input that starts with '{' or '[' is the body of a
 * POST /predict. A body over 4 KiB is answered as the transport would (413).
 *
 * At start-up (LLVMFuzzerInitialize; fuzz/replay.c calls it too) a tiny model is trained
 * and saved, and a component registry is built, so nothing is read from the repository.
 * Each input gets a fresh service and server (token "tok", a feedback log, the registry),
 * so a retrain it starts is stopped and joined, and every leak is its own.
 *
 * Besides "no crash, no leak, no undefined behaviour", it checks what docs/HTTP.md
 * promises: a known status; a body that ends with a newline and is valid UTF-8; JSON
 * bodies parse, and every 4xx/5xx carries "error" and "message" strings; 405 says Allow,
 * 401 asks for Bearer; a 200 /predict holds labels and top (or results).
 */
#include "fuzz.h"
#include "../cli/http.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char TRAIN[] =
    "MUSIC\tplay some jazz\nMUSIC\tnext song please\nMUSIC\tturn the music up\n"
    "VISION\twhat is on my screen\nVISION\tcan you see this\nVISION\tread the text in this picture\n"
    "FILES\topen my documents\nFILES\tshow the file report.pdf\nVISION,FILES\tread me the document on my screen\n"
    "oos\twater the plants\noos\tbook a flight to paris\n";

static const void *model_bytes;
static size_t model_len;
static intent_model *base;
static registry reg;
static char dir[256], model_path[300], log_path[300];
static pid_t owner;

static void cleanup(void) {
    if (getpid() != owner) /* a replay child: the parent cleans up */
        return;
    unlink(model_path);
    unlink(log_path);
    rmdir(dir);
}

static void build_registry(void) {
    static const char *const vis[] = {"VISION"}, *const fil[] = {"FILES"}, *const mus[] = {"MUSIC"};
    static const char *const dep[] = {"screen"};
    intent_component_spec sp[4];
    memset(sp, 0, sizeof sp);
    sp[0].name = "screen";
    sp[0].memory = 40u << 20;
    sp[1].name = "vision";
    sp[1].labels = vis;
    sp[1].n_labels = 1;
    sp[1].depends = dep;
    sp[1].n_depends = 1;
    sp[1].memory = 900u << 20;
    sp[1].idle_timeout_ms = 1000;
    sp[2].name = "files";
    sp[2].labels = fil;
    sp[2].n_labels = 1;
    sp[2].memory = 10u << 20;
    sp[3].name = "music";
    sp[3].labels = mus;
    sp[3].n_labels = 1;
    sp[3].memory = 200u << 20;
    reg.budget = 1000u << 20; /* vision and music cannot both stay */
    CHECK(intent_components_new(reg.budget, &reg.comps) == INTENT_OK);
    for (int i = 0; i < 4; i++)
        CHECK(intent_components_add(reg.comps, &sp[i]) == INTENT_OK);
    CHECK(intent_components_validate(reg.comps) == INTENT_OK);
    reg.n = 4;
    reg.cmds = calloc(4, sizeof *reg.cmds); /* no commands: a dry run */
    CHECK(reg.cmds);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    intent_dataset *ds;
    CHECK(intent_dataset_new(&ds) == INTENT_OK);
    CHECK(intent_dataset_read_mem(ds, "train.tsv", TRAIN, sizeof TRAIN - 1, INTENT_FORMAT_TSV) == INTENT_OK);
    intent_train_opts o;
    intent_train_opts_init(&o);
    o.buckets = 256;
    o.hidden[0] = 8;
    o.n_hidden = 1;
    o.epochs = 2;
    o.threads = 1;
    o.none_label = "oos";
    intent_error err;
    CHECK(intent_train(ds, NULL, &o, &base, &err) == INTENT_OK);
    intent_dataset_free(ds);
    CHECK(intent_model_bytes(base, &model_bytes, &model_len) == INTENT_OK);
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/intent-fuzz-http-XXXXXX", t && *t ? t : "/tmp");
    CHECK(mkdtemp(dir));
    snprintf(model_path, sizeof model_path, "%s/model.intent", dir);
    snprintf(log_path, sizeof log_path, "%s/feedback.log", dir);
    CHECK(intent_model_save(base, model_path, &err) == INTENT_OK);
    build_registry();
    owner = getpid();
    atexit(cleanup);
    return 0;
}

/* The next line of [*at, end) (without its newline) into buf; false at the end. */
static bool next_line(const char **at, const char *end, char *buf, size_t cap) {
    if (*at >= end)
        return false;
    const char *nl = memchr(*at, '\n', (size_t)(end - *at)), *stop = nl ? nl : end;
    size_t n = (size_t)(stop - *at);
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, *at, n);
    buf[n] = '\0'; /* a NUL inside only shortens it, as no HTTP parser would pass one */
    *at = nl ? nl + 1 : end;
    return true;
}

static void check_response(const http_request *rq, const http_response *rs) {
    static const int known[] = {200, 202, 400, 401, 404, 405, 413, 500, 503};
    bool ok = false;
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        ok |= rs->status == known[i];
    CHECK(ok);
    CHECK(rs->body && rs->len > 0 && rs->body[rs->len - 1] == '\n');
    CHECK(utf8_valid_prefix(rs->body, rs->len) == rs->len);
    CHECK(rs->content_type);
    CHECK((rs->status == 405) == (rs->allow != NULL));
    CHECK((rs->status == 401) == rs->www_authenticate);
    if (strcmp(rs->content_type, "application/json") != 0) {
        CHECK(strcmp(rq->path, "/metrics") == 0 && rs->status == 200);
        return;
    }
    cJSON *j = cJSON_ParseWithLength(rs->body, rs->len);
    CHECK(cJSON_IsObject(j));
    if (rs->status >= 400 && strcmp(rq->path, "/healthz") != 0) {
        CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "error")));
        CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "message")));
    }
    if (rs->status == 200 && strcmp(rq->path, "/predict") == 0) {
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(j, "results");
        const cJSON *one = res ? cJSON_GetArrayItem(res, 0) : j;
        CHECK(!res || cJSON_IsArray(res));
        if (one) {
            CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(one, "labels")));
            CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(one, "top")));
            CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(one, "plan")));
        }
    }
    cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *at = (const char *)data, *end = at + size;
    char method[512] = "POST", path[512] = "/predict", auth[512], line[512];
    bool has_auth = false;
    if (size == 0 || (data[0] != '{' && data[0] != '[')) {
        if (next_line(&at, end, line, sizeof line)) {
            char *sp = strchr(line, ' ');
            if (sp)
                *sp = '\0';
            snprintf(method, sizeof method, "%s", line);
            snprintf(path, sizeof path, "%s", sp ? sp + 1 : "/");
        }
        while (next_line(&at, end, line, sizeof line) && line[0]) {
            if (strncmp(line, "Authorization: ", 15) == 0) {
                snprintf(auth, sizeof auth, "%s", line + 15);
                has_auth = true;
            }
        }
    }
    serve_opts o;
    memset(&o, 0, sizeof o);
    o.model_path = model_path;
    o.feedback_path = log_path;
    o.token = "tok";
    o.quiet = true;
    o.retrain_threads = 1;
    o.lim.max_body = 4096;
    o.lim.max_texts = 16;
    o.lim.max_text = 256;
    intent_service *svc;
    intent_model *m;
    CHECK(intent_service_new(&svc) == INTENT_OK);
    CHECK(intent_model_load_mem(model_bytes, model_len, &m, NULL) == INTENT_OK);
    CHECK(intent_service_swap(svc, m, NULL) == INTENT_OK);
    server *s;
    intent_error err;
    CHECK(server_new(&o, svc, &reg, &s, &err) == 0);
    size_t len = (size_t)(end - at);
    http_request rq = {method, path, has_auth ? auth : NULL, at, len, len > o.lim.max_body};
    http_response rs;
    http_handle(s, &rq, &rs);
    check_response(&rq, &rs);
    http_record(s, http_route_of(path), rs.status, 1e-4);
    free(rs.body);
    intent_feedback_stats fs;
    bool big = s->fb && intent_feedback_get_stats(s->fb, &fs) == INTENT_OK && fs.n_records > 64;
    server_free(s); /* stops a retrain the input started */
    if (big) /* keep retrains and log scans quick over a long run */
        unlink(log_path);
    return 0;
}
