/*
 * json.c - a strict little JSON reader for one JSONL example line:
 *     {"text": "...", "labels": ["a", "b"]}     (other keys are skipped)
 *
 * Strings are unescaped into a caller buffer (an unescaped string is never longer than
 * its escaped form, so cap >= len + 1 per string always suffices). Nesting of skipped
 * values is capped at 64 levels; \u escapes must pair surrogates; raw control characters
 * are refused, as RFC 8259 says. UTF-8 validity is the caller's check.
 */
#include "intent_impl.h"

#include <string.h>

typedef struct jp {
    const char *s;
    size_t n, i;
    char *out;
    size_t cap, used;
    const char *err;
} jp;

static void ws(jp *p) {
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\r' || p->s[p->i] == '\n'))
        p->i++;
}

static bool fail(jp *p, const char *msg) {
    if (!p->err)
        p->err = msg;
    return false;
}

static bool eat(jp *p, char c) {
    ws(p);
    if (p->i < p->n && p->s[p->i] == c) {
        p->i++;
        return true;
    }
    return false;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool hex4(jp *p, uint32_t *v) {
    if (p->n - p->i < 4)
        return fail(p, "truncated \\u escape");
    *v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(p->s[p->i++]);
        if (h < 0)
            return fail(p, "bad \\u escape");
        *v = *v << 4 | (uint32_t)h;
    }
    return true;
}

static void put(jp *p, const char *b, size_t k) {
    if (p->used + k <= p->cap) /* cap is sized by the caller; this guards it anyway */
        memcpy(p->out + p->used, b, k);
    p->used += k;
}

static void put_cp(jp *p, uint32_t c) {
    char b[4];
    size_t k;
    if (c < 0x80) { b[0] = (char)c; k = 1; }
    else if (c < 0x800) { b[0] = (char)(0xC0 | c >> 6); b[1] = (char)(0x80 | (c & 0x3F)); k = 2; }
    else if (c < 0x10000) { b[0] = (char)(0xE0 | c >> 12); b[1] = (char)(0x80 | (c >> 6 & 0x3F)); b[2] = (char)(0x80 | (c & 0x3F)); k = 3; }
    else { b[0] = (char)(0xF0 | c >> 18); b[1] = (char)(0x80 | (c >> 12 & 0x3F)); b[2] = (char)(0x80 | (c >> 6 & 0x3F)); b[3] = (char)(0x80 | (c & 0x3F)); k = 4; }
    put(p, b, k);
}

static bool escape(jp *p) {
    if (p->i >= p->n)
        return fail(p, "unterminated string");
    char c = p->s[p->i++];
    const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
    const char *at = strchr(from, c);
    if (c && at) {
        put(p, to + (at - from), 1);
        return true;
    }
    if (c != 'u')
        return fail(p, "bad escape in string");
    uint32_t v, lo;
    if (!hex4(p, &v))
        return false;
    if (v >= 0xDC00 && v <= 0xDFFF)
        return fail(p, "lone low surrogate in \\u escape");
    if (v >= 0xD800 && v <= 0xDBFF) {
        if (p->n - p->i < 2 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u')
            return fail(p, "unpaired surrogate in \\u escape");
        p->i += 2;
        if (!hex4(p, &lo))
            return false;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return fail(p, "unpaired surrogate in \\u escape");
        v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
    }
    if (v == 0)
        return fail(p, "\\u0000 in string");
    put_cp(p, v);
    return true;
}

/* Parses a string at p->i; if keep, writes it NUL-terminated to out and sets *s, *len. */
static bool string(jp *p, bool keep, const char **s, size_t *len) {
    ws(p);
    if (p->i >= p->n || p->s[p->i] != '"')
        return fail(p, "expected a string");
    p->i++;
    size_t start = p->used;
    for (;;) {
        if (p->i >= p->n)
            return fail(p, "unterminated string");
        char c = p->s[p->i++];
        if (c == '"')
            break;
        if ((unsigned char)c < 0x20)
            return fail(p, "control character in string");
        if (c == '\\') {
            if (!escape(p))
                return false;
        } else {
            put(p, &c, 1);
        }
    }
    if (keep) {
        *s = p->out + start;
        *len = p->used - start;
        put(p, "", 1);
    } else {
        p->used = start;
    }
    return true;
}

static bool skip_value(jp *p, int depth);

static bool skip_container(jp *p, char close, bool object, int depth) {
    if (eat(p, close))
        return true;
    do {
        if (object) {
            const char *k;
            size_t kl;
            if (!string(p, false, &k, &kl) || !eat(p, ':'))
                return fail(p, "expected ':' after a key");
        }
        if (!skip_value(p, depth + 1))
            return false;
    } while (eat(p, ','));
    return eat(p, close) || fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
}

static bool literal(jp *p, const char *w) {
    size_t k = strlen(w);
    if (p->n - p->i >= k && memcmp(p->s + p->i, w, k) == 0) {
        p->i += k;
        return true;
    }
    return fail(p, "invalid JSON value");
}

static bool number(jp *p) {
    size_t st = p->i;
    if (p->i < p->n && p->s[p->i] == '-')
        p->i++;
    size_t digits = p->i;
    while (p->i < p->n && ((p->s[p->i] >= '0' && p->s[p->i] <= '9') || p->s[p->i] == '.' ||
                           p->s[p->i] == 'e' || p->s[p->i] == 'E' || p->s[p->i] == '+' || p->s[p->i] == '-'))
        p->i++;
    return (p->i > digits && p->i > st) || fail(p, "invalid JSON value");
}

static bool skip_value(jp *p, int depth) {
    if (depth > 64)
        return fail(p, "JSON nested too deeply");
    ws(p);
    if (p->i >= p->n)
        return fail(p, "missing value");
    char c = p->s[p->i];
    const char *s;
    size_t l;
    switch (c) {
    case '"': return string(p, false, &s, &l);
    case '{': p->i++; return skip_container(p, '}', true, depth);
    case '[': p->i++; return skip_container(p, ']', false, depth);
    case 't': return literal(p, "true");
    case 'f': return literal(p, "false");
    case 'n': return literal(p, "null");
    default: return number(p);
    }
}

static bool labels(jp *p, intenti_jsonl *r) {
    ws(p);
    if (!eat(p, '['))
        return fail(p, "\"labels\" must be an array of strings");
    if (eat(p, ']'))
        return true;
    do {
        if (r->n_labels == INTENTI_LINE_LABELS)
            return fail(p, "more than 256 labels on one example");
        ws(p);
        if (p->i < p->n && p->s[p->i] != '"')
            return fail(p, "\"labels\" must be an array of strings");
        if (!string(p, true, &r->labels[r->n_labels], &r->label_lens[r->n_labels]))
            return false;
        r->n_labels++;
    } while (eat(p, ','));
    return eat(p, ']') || fail(p, "expected ',' or ']' in \"labels\"");
}

static bool member(jp *p, intenti_jsonl *r, bool *seen_text, bool *seen_labels) {
    const char *k;
    size_t kl;
    size_t mark = p->used;
    if (!string(p, true, &k, &kl))
        return fail(p, "expected a key");
    bool is_text = kl == 4 && memcmp(k, "text", 4) == 0;
    bool is_labels = kl == 6 && memcmp(k, "labels", 6) == 0;
    p->used = mark; /* the key itself is not kept */
    if (!eat(p, ':'))
        return fail(p, "expected ':' after a key");
    if (is_text) {
        if (*seen_text)
            return fail(p, "duplicate key \"text\"");
        *seen_text = true;
        ws(p);
        if (p->i < p->n && p->s[p->i] != '"')
            return fail(p, "\"text\" must be a string");
        return string(p, true, &r->text, &r->text_len);
    }
    if (is_labels) {
        if (*seen_labels)
            return fail(p, "duplicate key \"labels\"");
        *seen_labels = true;
        return labels(p, r);
    }
    return skip_value(p, 1);
}

const char *intenti_jsonl_parse(const char *line, size_t len, char *out, size_t cap, intenti_jsonl *r) {
    jp p = {line, len, 0, out, cap, 0, NULL};
    memset(r, 0, sizeof *r);
    bool seen_text = false, seen_labels = false;
    if (!eat(&p, '{'))
        return "expected a JSON object";
    if (!eat(&p, '}')) {
        do {
            if (!member(&p, r, &seen_text, &seen_labels))
                return p.err ? p.err : "invalid JSON";
        } while (eat(&p, ','));
        if (!eat(&p, '}'))
            return "expected ',' or '}'";
    }
    ws(&p);
    if (p.i != p.n)
        return "trailing characters after the JSON object";
    if (p.used > p.cap)
        return "internal: unescape buffer too small";
    if (!seen_text)
        return "missing \"text\"";
    if (!seen_labels)
        return "missing \"labels\"";
    return NULL;
}
