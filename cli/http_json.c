/*
 * http_json.c - JSON for the HTTP server: an output buffer that escapes strings (and
 * never writes invalid UTF-8), and the request bodies of POST /predict and /feedback,
 * checked and parsed.
 *
 * DESIGN: cJSON parses, but it is lenient where a server must not be: it accepts
 * invalid UTF-8 and raw control characters inside strings, stops a string at a NUL (a
 * raw one, or the escape \u0000, silently dropping the rest), ignores what follows the
 * value, and keeps duplicate keys. So a body goes through json_precheck first (one pass
 * over the bytes: control characters, NUL), then cJSON, then a check that only
 * whitespace follows the value, then the field checks: known keys only, each once, of
 * the right type, strings valid UTF-8 (named in the message), numbers finite and in range.
 *
 * A wart, admitted: every cJSON parse resets a global error position (cJSON_GetErrorPtr's),
 * so request threads parsing at once race on two word-sized stores inside cJSON. Nothing
 * here reads it (the position comes back through return_parse_end), and the stores are
 * plain aligned words, so no request can see another's state; it is still a data race in
 * C11 terms, in a library we do not build (ThreadSanitizer does not see it). The
 * alternative, a mutex around every parse, would serialize the request threads for it.
 */
#include "http.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- output buffer ---- */

static size_t utf8_seq(const char *s, size_t n);

static bool sb_room(sbuf *b, size_t n) {
    if (b->oom)
        return false;
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return true;
    if (need < n) { /* overflow */
        b->oom = true;
        return false;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void sb_add(sbuf *b, const char *s, size_t n) {
    if (!sb_room(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

void sb_fmt(sbuf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        sb_add(b, tmp, (size_t)n);
        return;
    }
    if (!sb_room(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sb_num(sbuf *b, double x, int digits) {
    if (isfinite(x))
        sb_fmt(b, "%.*g", digits, x);
    else
        sb_add(b, "0", 1);
}

void sb_json(sbuf *b, const char *s, size_t n) {
    sb_add(b, "\"", 1);
    size_t i = 0;
    while (i < n) {
        size_t run = i; /* copy plain runs at once */
        while (run < n && (unsigned char)s[run] >= 0x20 && (unsigned char)s[run] < 0x80 && s[run] != '"' &&
               s[run] != '\\')
            run++;
        sb_add(b, s + i, run - i);
        i = run;
        if (i == n)
            break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) { /* a valid sequence as is, else one replacement character a byte */
            size_t k = utf8_seq(s + i, n - i);
            if (k)
                sb_add(b, s + i, k);
            else
                sb_add(b, "\\ufffd", 6);
            i += k ? k : 1;
            continue;
        }
        switch (c) {
        case '"': sb_add(b, "\\\"", 2); break;
        case '\\': sb_add(b, "\\\\", 2); break;
        case '\n': sb_add(b, "\\n", 2); break;
        case '\r': sb_add(b, "\\r", 2); break;
        case '\t': sb_add(b, "\\t", 2); break;
        default: sb_fmt(b, "\\u%04x", c);
        }
        i++;
    }
    sb_add(b, "\"", 1);
}

void sb_jsonz(sbuf *b, const char *s) { sb_json(b, s, strlen(s)); }

void sb_free(sbuf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- checks ---- */

int http_fail(http_error *e, int status, const char *code, const char *fmt, ...) {
    e->status = status;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* Bytes of the one UTF-8 sequence at s (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF), or 0 when it is not valid. n > 0. */
static size_t utf8_seq(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    unsigned char c = s[0], lo = 0x80, hi = 0xBF; /* range of the first continuation byte */
    size_t k; /* continuation bytes */
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        k = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        k = 2;
        lo = c == 0xE0 ? 0xA0 : 0x80; /* no overlong forms */
        hi = c == 0xED ? 0x9F : 0xBF; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 3;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF; /* nothing past U+10FFFF */
    } else
        return 0;
    if (n <= k || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t j = 2; j <= k; j++)
        if ((s[j] & 0xC0) != 0x80)
            return 0;
    return k + 1;
}

size_t utf8_valid_prefix(const char *s, size_t n) {
    size_t i = 0, k;
    while (i < n && (k = utf8_seq(s + i, n - i)) != 0)
        i += k;
    return i;
}

int json_precheck(const char *body, size_t len, http_error *e) {
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)body[i];
        if (c == 0)
            return http_fail(e, 400, "invalid_json", "the body holds a NUL byte (at byte %zu)", i);
        if (!in_str) {
            in_str = c == '"';
            continue;
        }
        if (c < 0x20)
            return http_fail(e, 400, "invalid_json",
                             "a raw control character 0x%02x inside a string (at byte %zu): escape it", c, i);
        if (c == '"') {
            in_str = false;
        } else if (c == '\\' && i + 1 < len) {
            i++;
            if (body[i] == 'u' && i + 4 < len && memcmp(body + i + 1, "0000", 4) == 0)
                return http_fail(e, 400, "bad_value", "a string holds \\u0000 (at byte %zu): NUL is not allowed", i - 1);
        }
    }
    return 0;
}

/* ---- fields ---- */

/* The body as a cJSON object, or -1 with e filled. */
static int parse_object(const char *body, size_t len, cJSON **out, http_error *e) {
    *out = NULL;
    if (json_precheck(body, len, e))
        return -1;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(len ? body : "", len, &end, 0);
    if (!root) {
        if (!len)
            return http_fail(e, 400, "invalid_json", "the body is empty: a JSON object is required");
        /* the position cJSON gives through end, not cJSON_GetErrorPtr(): that one is a
         * global, written by every thread */
        size_t off = end && end >= body && end <= body + len ? (size_t)(end - body) : len;
        return http_fail(e, 400, "invalid_json", "the body is not valid JSON (at byte %zu)", off);
    }
    for (const char *p = end; p && p < body + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(root);
            return http_fail(e, 400, "invalid_json", "the body goes on after its JSON value (at byte %zu)",
                             (size_t)(p - body));
        }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return http_fail(e, 400, "wrong_type", "the body must be a JSON object");
    }
    *out = root;
    return 0;
}

/* Puts each member of root into val[k] by name (names[k]); refuses unknown and repeated
 * keys. known: the list for the message. */
static int members(const cJSON *root, const char *const *names, size_t n, const cJSON **val, const char *known,
                   http_error *e) {
    memset(val, 0, n * sizeof *val);
    const cJSON *it;
    cJSON_ArrayForEach(it, root) {
        size_t k = 0;
        while (k < n && strcmp(it->string, names[k]) != 0)
            k++;
        char shown[64]; /* the key, cut and made printable for the message */
        size_t kl = strlen(it->string), ok = utf8_valid_prefix(it->string, kl < 40 ? kl : 40);
        snprintf(shown, sizeof shown, "%.*s%s", (int)ok, it->string, ok < kl ? "..." : "");
        if (k == n)
            return http_fail(e, 400, "unknown_field", "unknown field \"%s\" (known: %s)", shown, known);
        if (val[k])
            return http_fail(e, 400, "bad_value", "field \"%s\" given twice", shown);
        val[k] = it;
    }
    return 0;
}

/* A string field's text: valid UTF-8 and at most max bytes. what names it in messages. */
static int text_of(const cJSON *v, const char *what, size_t max, const char **s, size_t *len, http_error *e) {
    if (!cJSON_IsString(v))
        return http_fail(e, 400, "wrong_type", "%s must be a string", what);
    size_t n = strlen(v->valuestring), ok = utf8_valid_prefix(v->valuestring, n);
    if (ok < n)
        return http_fail(e, 400, "invalid_utf8", "%s is not valid UTF-8 (byte %zu of it, 0x%02x)", what, ok,
                         (unsigned char)v->valuestring[ok]);
    if (n > max)
        return http_fail(e, 413, "text_too_long", "%s is %zu bytes: more than the limit of %zu", what, n, max);
    *s = v->valuestring;
    *len = n;
    return 0;
}

int parse_predict(const char *body, size_t len, const body_limits *lim, predict_body *out, http_error *e) {
    memset(out, 0, sizeof *out);
    out->threshold = -1.0f;
    out->top = 1;
    cJSON *root;
    if (parse_object(body, len, &root, e))
        return -1;
    static const char *const names[] = {"text", "texts", "threshold", "top"};
    const cJSON *v[4];
    if (members(root, names, 4, v, "text, texts, threshold, top", e))
        goto fail;
    if (!v[0] && !v[1]) {
        http_fail(e, 400, "missing_field", "give \"text\" (a string) or \"texts\" (an array of strings)");
        goto fail;
    }
    if (v[0] && v[1]) {
        http_fail(e, 400, "bad_value", "give either \"text\" or \"texts\", not both");
        goto fail;
    }
    if (v[2]) {
        if (!cJSON_IsNumber(v[2])) {
            http_fail(e, 400, "wrong_type", "\"threshold\" must be a number");
            goto fail;
        }
        double t = v[2]->valuedouble;
        if (!isfinite(t) || t < 0 || t > 1) {
            http_fail(e, 400, "bad_value", "\"threshold\" must be from 0 to 1");
            goto fail;
        }
        out->threshold = (float)t;
    }
    if (v[3]) {
        if (!cJSON_IsNumber(v[3])) {
            http_fail(e, 400, "wrong_type", "\"top\" must be a number");
            goto fail;
        }
        double t = v[3]->valuedouble;
        if (!isfinite(t) || t < 0 || t > INTENT_MAX_LABELS || t != floor(t)) {
            http_fail(e, 400, "bad_value", "\"top\" must be a whole number from 0 to %d", INTENT_MAX_LABELS);
            goto fail;
        }
        out->top = (uint32_t)t;
    }
    size_t n = 1;
    if (v[1]) {
        if (!cJSON_IsArray(v[1])) {
            http_fail(e, 400, "wrong_type", "\"texts\" must be an array of strings");
            goto fail;
        }
        n = (size_t)cJSON_GetArraySize(v[1]);
        if (n > lim->max_texts) {
            http_fail(e, 413, "too_many_texts", "\"texts\" has %zu texts: more than the limit of %zu", n,
                      lim->max_texts);
            goto fail;
        }
        out->batch = true;
    }
    out->texts = malloc((n ? n : 1) * sizeof *out->texts);
    out->lens = malloc((n ? n : 1) * sizeof *out->lens);
    if (!out->texts || !out->lens) {
        http_fail(e, 500, "internal", "out of memory");
        goto fail;
    }
    if (v[0]) {
        if (text_of(v[0], "\"text\"", lim->max_text, &out->texts[0], &out->lens[0], e))
            goto fail;
    } else {
        const cJSON *it;
        size_t i = 0;
        cJSON_ArrayForEach(it, v[1]) {
            char what[48];
            snprintf(what, sizeof what, "\"texts\"[%zu]", i);
            if (text_of(it, what, lim->max_text, &out->texts[i], &out->lens[i], e))
                goto fail;
            i++;
        }
    }
    out->n = n;
    out->root = root;
    return 0;
fail:
    free(out->texts);
    free(out->lens);
    cJSON_Delete(root);
    memset(out, 0, sizeof *out);
    return -1;
}

void predict_body_free(predict_body *p) {
    free(p->texts);
    free(p->lens);
    cJSON_Delete(p->root);
    memset(p, 0, sizeof *p);
}

int parse_feedback(const char *body, size_t len, const body_limits *lim, feedback_body *out, http_error *e) {
    memset(out, 0, sizeof *out);
    cJSON *root;
    if (parse_object(body, len, &root, e))
        return -1;
    static const char *const names[] = {"text", "labels"};
    const cJSON *v[2];
    if (members(root, names, 2, v, "text, labels", e))
        goto fail;
    if (!v[0] || !v[1]) {
        http_fail(e, 400, "missing_field", "\"%s\" is required: {\"text\": \"...\", \"labels\": [\"A\", ...]}",
                  v[0] ? "labels" : "text");
        goto fail;
    }
    if (text_of(v[0], "\"text\"", lim->max_text, &out->text, &out->len, e))
        goto fail;
    if (!cJSON_IsArray(v[1])) {
        http_fail(e, 400, "wrong_type", "\"labels\" must be an array of strings");
        goto fail;
    }
    size_t n = (size_t)cJSON_GetArraySize(v[1]);
    if (n == 0 || n > INTENT_FEEDBACK_MAX_LABELS) {
        http_fail(e, 400, "bad_value", "\"labels\" must hold 1 to %d labels", INTENT_FEEDBACK_MAX_LABELS);
        goto fail;
    }
    out->labels = malloc(n * sizeof *out->labels);
    if (!out->labels) {
        http_fail(e, 500, "internal", "out of memory");
        goto fail;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, v[1]) {
        char what[48];
        size_t ln;
        snprintf(what, sizeof what, "\"labels\"[%zu]", out->n_labels);
        if (text_of(it, what, INTENT_MAX_LABEL_LEN, &out->labels[out->n_labels], &ln, e)) {
            if (e->status == 413) /* a label over the length limit is a bad value, not a big body */
                http_fail(e, 400, "bad_value", "%s is longer than %d bytes", what, INTENT_MAX_LABEL_LEN);
            goto fail;
        }
        out->n_labels++;
    }
    out->root = root;
    return 0;
fail:
    free(out->labels);
    cJSON_Delete(root);
    memset(out, 0, sizeof *out);
    return -1;
}

void feedback_body_free(feedback_body *f) {
    free(f->labels);
    cJSON_Delete(f->root);
    memset(f, 0, sizeof *f);
}
