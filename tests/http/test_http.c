/*
 * test_http.c - the HTTP server's request handling without sockets (cli/http.c,
 * cli/http_json.c, cli/metrics.c): UTF-8 and JSON checks, request parsing and each kind
 * of bad input, routing (404, 405, 401, 413), the shape of /predict answers (single,
 * batch, threshold, top, routing plans), feedback and a background retrain, reloads of a
 * good and a corrupt file, and the formats of /stats and /metrics. A program of its own
 * (it links the CLI's server files and cJSON); prints "N passed, M failed".
 */
#include "../../cli/http.h" /* first: cmocka's fail_msg macro would rename cli.h's function */
#include "../tests.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static intent_model *model;     /* trained once on examples/assistant.tsv */
static char model_path[256], bad_path[256], log_path[256];

static intent_model *copy_model(void) {
    const void *data;
    size_t len;
    intent_model *m = NULL;
    assert_int_equal(intent_model_bytes(model, &data, &len), INTENT_OK);
    assert_int_equal(intent_model_load_mem(data, len, &m, NULL), INTENT_OK);
    return m;
}

static void default_opts(serve_opts *o) {
    memset(o, 0, sizeof *o);
    o->model_path = model_path;
    o->quiet = true;
    o->lim.max_body = 1 << 20;
    o->lim.max_texts = 8;
    o->lim.max_text = 64;
}

static server *make_server(const serve_opts *o, registry *reg) {
    intent_service *svc;
    assert_int_equal(intent_service_new(&svc), INTENT_OK);
    assert_int_equal(intent_service_swap(svc, copy_model(), NULL), INTENT_OK);
    server *s;
    intent_error err;
    if (server_new(o, svc, reg, &s, &err))
        fail_msg("server_new: %s", err.message);
    return s;
}

/* One request; the response's body parsed as JSON (NULL when not JSON). */
typedef struct answer {
    http_response rs;
    cJSON *json;
} answer;

static answer ask(server *s, const char *method, const char *path, const char *body, const char *auth) {
    answer a;
    http_request rq = {method, path, auth, body, body ? strlen(body) : 0, false};
    http_handle(s, &rq, &a.rs);
    assert_non_null(a.rs.body);
    assert_true(a.rs.len > 0 && a.rs.body[a.rs.len - 1] == '\n');
    assert_int_equal(utf8_valid_prefix(a.rs.body, a.rs.len), a.rs.len);
    a.json = strcmp(a.rs.content_type, "application/json") == 0 ? cJSON_ParseWithLength(a.rs.body, a.rs.len) : NULL;
    if (strcmp(a.rs.content_type, "application/json") == 0 && !a.json)
        fail_msg("not JSON: %s", a.rs.body);
    return a;
}

static void done(answer *a) {
    cJSON_Delete(a->json);
    free(a->rs.body);
}

static const char *str_of(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double num_of(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* An error answer: this status and code. */
static void expect_error(server *s, const char *method, const char *path, const char *body, int status, const char *code) {
    answer a = ask(s, method, path, body, NULL);
    if (a.rs.status != status || strcmp(str_of(a.json, "error"), code) != 0)
        fail_msg("%s %s %s: got %d %s", method, path, body ? body : "", a.rs.status, a.rs.body);
    assert_true(strlen(str_of(a.json, "message")) > 0);
    done(&a);
}

/* ---- the pieces ---- */

static void http_utf8(void **state) {
    (void)state;
    static const struct {
        const char *s;
        size_t valid;
    } cases[] = {
        {"plain", 5},          {"caf\xc3\xa9", 5},       {"\xe2\x82\xac", 3},      {"\xf0\x9f\x98\x80", 4},
        {"a\xff", 1},          {"\xc0\x80", 0},          {"\xe0\x80\x80", 0},      {"\xed\xa0\x80", 0},
        {"\xf4\x90\x80\x80", 0}, {"ab\xe2\x82", 2},      {"\xc3", 0},              {"\xf5\x80\x80\x80", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        assert_int_equal(utf8_valid_prefix(cases[i].s, strlen(cases[i].s)), cases[i].valid);
}

static void http_json_out(void **state) {
    (void)state;
    sbuf b = {0};
    sb_json(&b, "a\"b\\c\n\x01\xc3\xa9\xff!", 11);
    assert_string_equal(b.p, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\\ufffd!\"");
    sb_free(&b);
    sb_num(&b, INFINITY, 6); /* JSON has no infinity */
    assert_string_equal(b.p, "0");
    sb_free(&b);
    for (int i = 0; i < 1000; i++) /* growth */
        sb_str(&b, "0123456789");
    assert_int_equal(b.len, 10000);
    assert_false(b.oom);
    sb_free(&b);
}

static void http_precheck(void **state) {
    (void)state;
    http_error e;
    assert_int_equal(json_precheck("{\"text\": \"ok \\\\u0000 is text\"}", 29, &e), 0);
    assert_int_equal(json_precheck("{\"text\": \"a\\u0000b\"}", 19, &e), -1);
    assert_string_equal(e.code, "bad_value");
    assert_int_equal(json_precheck("{\"text\": \"a\nb\"}", 14, &e), -1);
    assert_string_equal(e.code, "invalid_json");
    assert_int_equal(json_precheck("{\"text\": \"a\"}\0", 14, &e), -1);
    assert_string_equal(e.code, "invalid_json");
    assert_int_equal(json_precheck("{\"t\":\n\"x\"}", 10, &e), 0); /* whitespace outside strings */
}

static void http_parse(void **state) {
    (void)state;
    static const struct {
        const char *body;
        int status;
        const char *code;
    } bad[] = {
        {"", 400, "invalid_json"},
        {"{\"text\": \"x\"", 400, "invalid_json"},
        {"{\"text\": \"x\"} trailing", 400, "invalid_json"},
        {"[\"x\"]", 400, "wrong_type"},
        {"{\"text\": \"a\xff\"}", 400, "invalid_utf8"},
        {"{\"texts\": [\"ok\", \"\xc0\x80\"]}", 400, "invalid_utf8"},
        {"{}", 400, "missing_field"},
        {"{\"threshold\": 0.5}", 400, "missing_field"},
        {"{\"text\": 1}", 400, "wrong_type"},
        {"{\"texts\": \"x\"}", 400, "wrong_type"},
        {"{\"texts\": [\"x\", 2]}", 400, "wrong_type"},
        {"{\"text\": \"x\", \"threshold\": \"high\"}", 400, "wrong_type"},
        {"{\"text\": \"x\", \"top\": true}", 400, "wrong_type"},
        {"{\"text\": \"x\", \"threshold\": 1.5}", 400, "bad_value"},
        {"{\"text\": \"x\", \"threshold\": 1e999}", 400, "bad_value"},
        {"{\"text\": \"x\", \"top\": 2.5}", 400, "bad_value"},
        {"{\"text\": \"x\", \"top\": -1}", 400, "bad_value"},
        {"{\"text\": \"x\", \"texts\": [\"y\"]}", 400, "bad_value"},
        {"{\"text\": \"x\", \"text\": \"y\"}", 400, "bad_value"},
        {"{\"text\": \"x\", \"txt\": \"y\"}", 400, "unknown_field"},
        {"{\"texts\": [\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]}", 413, "too_many_texts"},
        {"{\"text\": \"0123456789012345678901234567890123456789012345678901234567890123456789\"}", 413,
         "text_too_long"},
    };
    body_limits lim = {1 << 20, 8, 64};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        predict_body p;
        http_error e;
        if (parse_predict(bad[i].body, strlen(bad[i].body), &lim, &p, &e) == 0)
            fail_msg("accepted: %s", bad[i].body);
        if (e.status != bad[i].status || strcmp(e.code, bad[i].code) != 0)
            fail_msg("%s: got %d %s (%s)", bad[i].body, e.status, e.code, e.message);
        assert_null(p.root);
    }
    predict_body p;
    http_error e;
    const char *ok = "{\"texts\": [\"caf\\u00e9\", \"\"], \"threshold\": 0.25, \"top\": 3}";
    assert_int_equal(parse_predict(ok, strlen(ok), &lim, &p, &e), 0);
    assert_true(p.batch);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.texts[0], "caf\xc3\xa9");
    assert_int_equal(p.lens[0], 5);
    assert_int_equal(p.lens[1], 0);
    assert_true(p.threshold == 0.25f);
    assert_int_equal(p.top, 3);
    predict_body_free(&p);

    feedback_body f;
    static const char *const fb_bad[] = {"{\"text\": \"x\"}", "{\"labels\": [\"A\"]}", "{\"text\": \"x\", \"labels\": \"A\"}",
                                         "{\"text\": \"x\", \"labels\": []}", "{\"text\": \"x\", \"labels\": [1]}",
                                         "{\"text\": \"x\", \"labels\": [\"A\"], \"why\": 1}"};
    static const char *const fb_code[] = {"missing_field", "missing_field", "wrong_type", "bad_value", "wrong_type",
                                          "unknown_field"};
    for (size_t i = 0; i < sizeof fb_bad / sizeof *fb_bad; i++) {
        assert_int_equal(parse_feedback(fb_bad[i], strlen(fb_bad[i]), &lim, &f, &e), -1);
        assert_string_equal(e.code, fb_code[i]);
    }
    const char *fb = "{\"labels\": [\"MUSIC\", \"VOICE\"], \"text\": \"sing\"}";
    assert_int_equal(parse_feedback(fb, strlen(fb), &lim, &f, &e), 0);
    assert_int_equal(f.n_labels, 2);
    assert_string_equal(f.labels[1], "VOICE");
    assert_string_equal(f.text, "sing");
    feedback_body_free(&f);
}

/* ---- the server ---- */

static void http_routes(void **state) {
    (void)state;
    serve_opts o;
    default_opts(&o);
    o.token = "s3cret";
    server *s = make_server(&o, NULL);
    expect_error(s, "GET", "/nope", NULL, 404, "not_found");
    expect_error(s, "GET", "/predict/", NULL, 404, "not_found");
    expect_error(s, "GET", "/predict", NULL, 405, "method_not_allowed");
    expect_error(s, "DELETE", "/stats", NULL, 405, "method_not_allowed");
    answer a = ask(s, "PUT", "/reload", NULL, NULL);
    assert_int_equal(a.rs.status, 405);
    assert_string_equal(a.rs.allow, "POST");
    done(&a);
    a = ask(s, "GET", "/healthz", NULL, NULL);
    assert_int_equal(a.rs.status, 200);
    assert_string_equal(str_of(a.json, "status"), "ok");
    assert_int_equal(num_of(a.json, "model_version"), 1);
    done(&a);
    a = ask(s, "HEAD", "/healthz", NULL, NULL);
    assert_int_equal(a.rs.status, 200);
    done(&a);
    /* the token guards /feedback, /retrain and /reload, and nothing else */
    for (int i = 0; i < 3; i++) {
        const char *path = i == 0 ? "/feedback" : i == 1 ? "/retrain" : "/reload";
        static const char *const wrong[] = {NULL, "Bearer nope", "Bearer s3cre", "Bearer s3cret2", "Basic s3cret", "s3cret"};
        for (size_t k = 0; k < sizeof wrong / sizeof *wrong; k++) {
            a = ask(s, "POST", path, "{}", wrong[k]);
            assert_int_equal(a.rs.status, 401);
            assert_true(a.rs.www_authenticate);
            assert_string_equal(str_of(a.json, "error"), "unauthorized");
            done(&a);
        }
    }
    a = ask(s, "POST", "/reload", NULL, "bearer s3cret"); /* the scheme is case-insensitive */
    assert_int_equal(a.rs.status, 200);
    assert_int_equal(num_of(a.json, "model_version"), 2);
    done(&a);
    a = ask(s, "POST", "/feedback", "{}", "Bearer s3cret"); /* no feedback log */
    assert_int_equal(a.rs.status, 404);
    assert_string_equal(str_of(a.json, "error"), "not_enabled");
    done(&a);
    a = ask(s, "POST", "/predict", "{\"text\": \"x\"}", NULL);
    assert_int_equal(a.rs.status, 200);
    done(&a);
    http_request rq = {"POST", "/predict", NULL, NULL, 0, true};
    http_handle(s, &rq, &a.rs);
    assert_int_equal(a.rs.status, 413);
    assert_non_null(strstr(a.rs.body, "body_too_large"));
    free(a.rs.body);
    server_free(s);
}

static void check_answer(const cJSON *r, uint32_t top, uint64_t version) {
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(r, "labels"), *t = cJSON_GetObjectItemCaseSensitive(r, "top");
    assert_true(cJSON_IsArray(labels) && cJSON_IsArray(t));
    int n_lab = cJSON_GetArraySize(labels), n_top = cJSON_GetArraySize(t);
    assert_int_equal(n_top, (int)top > n_lab ? (int)top : n_lab); /* max(top, labels), as intent predict --json */
    double last = 2;
    for (int i = 0; i < n_top; i++) {
        const cJSON *e = cJSON_GetArrayItem(t, i);
        double c = num_of(e, "confidence");
        assert_true(c >= 0 && c <= 1 && c <= last);
        last = c;
        assert_true(intent_model_label_id(model, str_of(e, "label")) >= 0);
        if (i < n_lab) /* the labels are the top ones */
            assert_string_equal(str_of(e, "label"), cJSON_GetArrayItem(labels, i)->valuestring);
    }
    assert_int_equal(num_of(r, "model_version"), version);
}

static void http_predict(void **state) {
    (void)state;
    serve_opts o;
    default_opts(&o);
    server *s = make_server(&o, NULL);
    answer a = ask(s, "POST", "/predict", "{\"text\": \"play some jazz\"}", NULL);
    assert_int_equal(a.rs.status, 200);
    check_answer(a.json, 1, 1);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(a.json, "labels"), 0)->valuestring, "MUSIC");
    assert_null(cJSON_GetObjectItem(a.json, "plan"));
    done(&a);
    a = ask(s, "POST", "/predict", "{\"text\": \"play some jazz\", \"top\": 3}", NULL);
    check_answer(a.json, 3, 1);
    done(&a);
    a = ask(s, "POST", "/predict", "{\"text\": \"play some jazz\", \"threshold\": 1}", NULL);
    check_answer(a.json, 1, 1);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(a.json, "labels")), 0); /* nothing is that sure */
    done(&a);
    a = ask(s, "POST", "/predict", "{\"text\": \"play some jazz\", \"threshold\": 0, \"top\": 0}", NULL);
    check_answer(a.json, 0, 1);
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(a.json, "labels")) >= 1);
    done(&a);
    a = ask(s, "POST", "/predict", "{\"texts\": [\"play some jazz\", \"read me the document on my screen\", \"\", "
                                  "\"\\u00fcber \\ud83d\\ude00\"], \"top\": 2}", NULL);
    assert_int_equal(a.rs.status, 200);
    const cJSON *res = cJSON_GetObjectItem(a.json, "results");
    assert_int_equal(cJSON_GetArraySize(res), 4);
    for (int i = 0; i < 4; i++)
        check_answer(cJSON_GetArrayItem(res, i), 2, 1);
    done(&a);
    a = ask(s, "POST", "/predict", "{\"texts\": []}", NULL);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(a.json, "results")), 0);
    done(&a);
    /* the same answers as intent_predict, confidence for confidence */
    a = ask(s, "POST", "/predict", "{\"text\": \"email the notes to the team\", \"top\": 4}", NULL);
    intent_ctx *ctx;
    intent_score sc[4];
    size_t n_top, n_over;
    assert_int_equal(intent_ctx_new(model, &ctx), INTENT_OK);
    assert_int_equal(intent_predict(model, ctx, "email the notes to the team", 27, -1, sc, 4, &n_top, &n_over), 0);
    for (int i = 0; i < 4; i++) {
        const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(a.json, "top"), i);
        assert_string_equal(str_of(e, "label"), intent_model_label(model, sc[i].label));
        assert_true(fabs(num_of(e, "confidence") - sc[i].confidence) < 1e-4);
    }
    intent_ctx_free(ctx);
    done(&a);
    expect_error(s, "POST", "/predict", "{\"text\": \"a\xff\"}", 400, "invalid_utf8");
    expect_error(s, "POST", "/predict", "nope", 400, "invalid_json");
    expect_error(s, "POST", "/predict", "{\"texts\": [\"x\", 2]}", 400, "wrong_type");
    expect_error(s, "POST", "/predict", "{\"top\": 2}", 400, "missing_field");
    server_free(s);
}

static void http_plan(void **state) {
    (void)state;
    registry reg;
    if (registry_read("examples/components.json", 0, &reg))
        fail_msg("examples/components.json did not load");
    serve_opts o;
    default_opts(&o);
    server *s = make_server(&o, &reg);
    answer a = ask(s, "POST", "/predict", "{\"text\": \"can you see my screen\"}", NULL);
    assert_int_equal(a.rs.status, 200);
    const cJSON *plan = cJSON_GetObjectItem(a.json, "plan");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(plan, "ok")));
    const cJSON *req = cJSON_GetObjectItem(plan, "required"), *load = cJSON_GetObjectItem(plan, "to_load");
    assert_true(cJSON_GetArraySize(req) >= 2);
    assert_int_equal(cJSON_GetArraySize(load), cJSON_GetArraySize(req)); /* nothing was loaded */
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(plan, "loaded")) && cJSON_IsArray(cJSON_GetObjectItem(plan, "to_unload")));
    done(&a);
    a = ask(s, "POST", "/predict", "{\"text\": \"can you see my screen\"}", NULL);
    plan = cJSON_GetObjectItem(a.json, "plan"); /* the second time, all of it is loaded */
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(plan, "to_load")), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(plan, "loaded")),
                     cJSON_GetArraySize(cJSON_GetObjectItem(plan, "required")));
    done(&a);
    a = ask(s, "GET", "/stats", NULL, NULL);
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(a.json, "components"), "loaded")) >= 2);
    done(&a);
    server_free(s);
    registry_free(&reg);
}

static int wait_retrain(server *s) {
    for (int i = 0; i < 6000 && intent_service_retraining(s->svc); i++)
        usleep(10000);
    return !intent_service_retraining(s->svc);
}

static void http_feedback(void **state) {
    (void)state;
    serve_opts o;
    default_opts(&o);
    o.feedback_path = log_path;
    o.retrain_every = 3;
    unlink(log_path);
    server *s = make_server(&o, NULL);
    expect_error(s, "POST", "/feedback", "{\"text\": \"water the roses\", \"labels\": [\"GARDEN\"]}", 400, "unknown_label");
    expect_error(s, "POST", "/feedback", "{\"text\": \"   \", \"labels\": [\"MUSIC\"]}", 400, "bad_value");
    expect_error(s, "POST", "/feedback", "{\"text\": \"x\", \"labels\": [\"MUSIC\"], \"extra\": 1}", 400, "unknown_field");
    static const char *const fb[] = {
        "{\"text\": \"crank up the tunes\", \"labels\": [\"MUSIC\"]}",
        "{\"text\": \"what's on my display\", \"labels\": [\"VISION\"]}",
        "{\"text\": \"water the roses\", \"labels\": [\"oos\"]}", /* the none label is known */
    };
    for (int i = 0; i < 3; i++) {
        answer a = ask(s, "POST", "/feedback", fb[i], NULL);
        assert_int_equal(a.rs.status, 200);
        assert_int_equal(num_of(a.json, "log_records"), i + 1);
        if (i == 2) /* the third starts a retrain (--retrain-every 3) */
            assert_string_equal(str_of(a.json, "retrain"), "started");
        done(&a);
    }
    assert_true(wait_retrain(s));
    answer a = ask(s, "GET", "/stats", NULL, NULL);
    const cJSON *rt = cJSON_GetObjectItem(a.json, "retrain");
    assert_int_equal(num_of(rt, "started"), 1);
    assert_int_equal(num_of(rt, "ok") + num_of(rt, "rejected"), 1);
    if (num_of(rt, "ok") == 1)
        assert_int_equal(num_of(a.json, "model_version"), 2);
    assert_int_equal(num_of(cJSON_GetObjectItem(a.json, "feedback"), "appended"), 3);
    done(&a);
    a = ask(s, "POST", "/retrain", NULL, NULL);
    assert_int_equal(a.rs.status, 202);
    assert_true(strcmp(str_of(a.json, "retrain"), "started") == 0 || strcmp(str_of(a.json, "retrain"), "already_running") == 0);
    done(&a);
    a = ask(s, "POST", "/predict", "{\"text\": \"play jazz\"}", NULL); /* answers go on meanwhile */
    assert_int_equal(a.rs.status, 200);
    done(&a);
    server_free(s); /* stops the retrain */
    unlink(log_path);
}

static void http_reload(void **state) {
    (void)state;
    serve_opts o;
    default_opts(&o);
    o.model_path = bad_path;
    server *s = make_server(&o, NULL);
    answer a = ask(s, "POST", "/reload", NULL, NULL);
    assert_int_equal(a.rs.status, 500);
    assert_string_equal(str_of(a.json, "error"), "reload_failed");
    assert_non_null(strstr(str_of(a.json, "message"), "still serving version 1"));
    assert_int_equal(num_of(a.json, "model_version"), 1);
    done(&a);
    a = ask(s, "GET", "/stats", NULL, NULL);
    assert_int_equal(num_of(cJSON_GetObjectItem(a.json, "model"), "load_failures"), 1);
    assert_non_null(strstr(str_of(cJSON_GetObjectItem(a.json, "model"), "last_error"), bad_path));
    done(&a);
    s->o.model_path = model_path;
    char msg[600];
    assert_int_equal(server_reload(s, msg, sizeof msg), INTENT_OK);
    a = ask(s, "POST", "/predict", "{\"text\": \"play jazz\"}", NULL);
    assert_int_equal(num_of(a.json, "model_version"), 2);
    done(&a);
    server_free(s);
}

/* The Prometheus text format, as tests/serve.sh checks it too: HELP and TYPE before the
 * samples of each metric, and every histogram's buckets cumulative, in increasing le
 * order, ending with +Inf, with _sum and a _count equal to the +Inf bucket. */
static void check_metrics(const char *text, size_t len) {
    assert_true(len > 0 && text[len - 1] == '\n');
    char line[1024], type_of[64] = "", hist_key[256] = "";
    double last_le = -1, last_cum = -1, inf_count = -1;
    int n_hist = 0, got_sum = 0;
    for (const char *at = text, *nl; at < text + len; at = nl + 1) {
        nl = memchr(at, '\n', (size_t)(text + len - at));
        assert_non_null(nl);
        assert_true(nl - at > 0 && nl - at < (long)sizeof line);
        memcpy(line, at, (size_t)(nl - at));
        line[nl - at] = '\0';
        if (strncmp(line, "# HELP ", 7) == 0)
            continue;
        char name[128], type[32];
        if (sscanf(line, "# TYPE %127s %31s", name, type) == 2) {
            snprintf(type_of, sizeof type_of, "%s", type);
            continue;
        }
        assert_true(line[0] != '#');
        assert_true(type_of[0]);
        if (strcmp(type_of, "histogram") != 0)
            continue;
        const char *le = strstr(line, "le=\"");
        if (strstr(line, "_bucket{")) {
            /* the series without le: a new one starts when it changes */
            char key[256];
            snprintf(key, sizeof key, "%.*s", (int)(le - line), line);
            if (strcmp(key, hist_key) != 0) {
                snprintf(hist_key, sizeof hist_key, "%s", key);
                last_le = last_cum = -1;
                inf_count = -1;
                n_hist++;
            }
            double cum = atof(strrchr(line, ' ') + 1);
            assert_true(cum >= last_cum);
            last_cum = cum;
            if (strncmp(le + 4, "+Inf\"", 5) == 0) {
                inf_count = cum;
            } else {
                double v = atof(le + 4);
                assert_true(v > last_le);
                assert_true(inf_count < 0);
                last_le = v;
            }
        } else if (strstr(line, "_sum")) {
            assert_true(inf_count >= 0);
            got_sum++;
        } else {
            assert_non_null(strstr(line, "_count"));
            assert_true(inf_count >= 0);
            assert_true(atof(strrchr(line, ' ') + 1) == inf_count);
        }
    }
    assert_true(n_hist >= 2);
    assert_int_equal(got_sum, n_hist);
}

static void http_reports(void **state) {
    (void)state;
    serve_opts o;
    default_opts(&o);
    server *s = make_server(&o, NULL);
    for (int i = 0; i < 5; i++) {
        answer a = ask(s, "POST", "/predict", "{\"text\": \"play some jazz\"}", NULL);
        http_record(s, ROUTE_PREDICT, a.rs.status, 0.0002 * i);
        done(&a);
    }
    http_record(s, ROUTE_OTHER, 404, 0.00001);
    http_record(s, ROUTE_STATS, 299, 20.0); /* an uncounted code, past the last bucket */
    answer a = ask(s, "GET", "/metrics", NULL, NULL);
    assert_int_equal(a.rs.status, 200);
    assert_non_null(strstr(a.rs.content_type, "text/plain"));
    check_metrics(a.rs.body, a.rs.len);
    assert_non_null(strstr(a.rs.body, "intent_http_requests_total{route=\"/predict\",code=\"200\"} 5\n"));
    assert_non_null(strstr(a.rs.body, "intent_http_requests_total{route=\"/stats\",code=\"other\"} 1\n"));
    assert_non_null(strstr(a.rs.body, "intent_http_request_duration_seconds_count{route=\"/predict\"} 5\n"));
    assert_non_null(strstr(a.rs.body, "intent_predictions_total 5\n"));
    assert_non_null(strstr(a.rs.body, "intent_label_answers_total{label=\"MUSIC\"} 5\n"));
    assert_non_null(strstr(a.rs.body, "intent_model_version 1\n"));
    assert_non_null(strstr(a.rs.body, "intent_feedback_total 0\n"));
    assert_non_null(strstr(a.rs.body, "intent_retrains_total{status=\"ok\"} 0\n"));
    done(&a);
    a = ask(s, "GET", "/stats", NULL, NULL);
    const cJSON *p = cJSON_GetObjectItem(a.json, "predictions");
    assert_int_equal(num_of(p, "answers"), 5);
    assert_true(num_of(cJSON_GetObjectItem(p, "latency_us"), "p99") > 0);
    assert_int_equal(num_of(cJSON_GetObjectItem(a.json, "labels"), "MUSIC"), 5);
    assert_int_equal(num_of(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(a.json, "http"), "by_route"), "/predict"), "200"), 5);
    done(&a);
    server_free(s);
}

static int setup(void **state) {
    (void)state;
    intent_dataset *ds = load_ds("examples/assistant.tsv");
    if (!ds)
        return -1;
    intent_train_opts o;
    intent_train_opts_init(&o);
    o.buckets = 2048;
    o.hidden[0] = 24;
    o.n_hidden = 1;
    o.epochs = 12;
    o.threads = 1;
    o.none_label = "oos";
    intent_error err;
    int rc = intent_train(ds, NULL, &o, &model, &err);
    intent_dataset_free(ds);
    if (rc) {
        fprintf(stderr, "training: %s\n", err.message);
        return -1;
    }
    tmp_path(model_path, sizeof model_path, "http.intent");
    tmp_path(bad_path, sizeof bad_path, "http-bad.intent");
    tmp_path(log_path, sizeof log_path, "http-feedback.log");
    FILE *f = fopen(bad_path, "wb");
    if (!f || intent_model_save(model, model_path, &err))
        return -1;
    const void *data;
    size_t len;
    intent_model_bytes(model, &data, &len);
    fwrite(data, 1, len / 2, f); /* truncated */
    fclose(f);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    unlink(model_path);
    unlink(bad_path);
    intent_model_free(model);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(http_utf8),     cmocka_unit_test(http_json_out), cmocka_unit_test(http_precheck),
        cmocka_unit_test(http_parse),    cmocka_unit_test(http_routes),   cmocka_unit_test(http_predict),
        cmocka_unit_test(http_plan),     cmocka_unit_test(http_feedback), cmocka_unit_test(http_reload),
        cmocka_unit_test(http_reports),
    };
    int n = (int)(sizeof tests / sizeof *tests);
    int failed = cmocka_run_group_tests_name("http", tests, setup, teardown);
    if (failed < 0 || failed > n) /* the setup failed: nothing ran */
        failed = n;
    fprintf(stderr, "HTTP handler tests: %d passed, %d failed\n", n - failed, failed);
    return failed ? 1 : 0;
}
