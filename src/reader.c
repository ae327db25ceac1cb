/*
 * reader.c - labelled examples from TSV, fastText or JSONL files, streamed line by line.
 *
 * A file of any size is read through one growing line buffer (a line may be up to
 * MAX_LINE bytes; a longer one is an error, never a silent cut). The first malformed
 * line stops the read with "FILE:LINE: what is wrong", and the dataset is rolled back to
 * what it held before, so a failed read keeps nothing of the file.
 */
#include "intent_impl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAX_LINE (16u << 20)
#define CHUNK (64u << 10)

typedef struct lines {
    FILE *fp;             /* file source, or NULL for memory */
    const char *mem;      /* memory source */
    size_t mem_len, mem_pos;
    char *buf;            /* file source: data in [pos, len), capacity cap */
    size_t cap, len, pos;
    bool eof;
    size_t line_no;
} lines;

enum { LINE_OK = 1, LINE_END = 0, LINE_TOO_LONG = -1, LINE_IO = -2, LINE_NOMEM = -3 };

static int fill(lines *l) {
    if (l->pos > 0) { /* compact: keep the partial line at the front */
        memmove(l->buf, l->buf + l->pos, l->len - l->pos);
        l->len -= l->pos;
        l->pos = 0;
    }
    if (l->len == l->cap) {
        if (l->cap > MAX_LINE)
            return LINE_TOO_LONG;
        size_t cap = l->cap ? l->cap * 2 : CHUNK;
        char *b = intenti_realloc(l->buf, cap);
        if (!b)
            return LINE_NOMEM;
        l->buf = b;
        l->cap = cap;
    }
    size_t got = fread(l->buf + l->len, 1, l->cap - l->len, l->fp);
    l->len += got;
    if (got == 0) {
        if (ferror(l->fp))
            return LINE_IO;
        l->eof = true;
    }
    return LINE_OK;
}

/* Next line without its "\n" or "\r\n". */
static int next_line(lines *l, const char **line, size_t *n) {
    const char *s;
    size_t k;
    if (!l->fp) {
        if (l->mem_pos >= l->mem_len)
            return LINE_END;
        s = l->mem + l->mem_pos;
        const char *nl = memchr(s, '\n', l->mem_len - l->mem_pos);
        k = nl ? (size_t)(nl - s) : l->mem_len - l->mem_pos;
        l->mem_pos += k + (nl != NULL);
    } else {
        char *nl;
        while (!(nl = l->len > l->pos ? memchr(l->buf + l->pos, '\n', l->len - l->pos) : NULL) && !l->eof) {
            int rc = fill(l);
            if (rc != LINE_OK)
                return rc;
        }
        if (!nl && l->pos == l->len)
            return LINE_END;
        s = l->buf + l->pos;
        k = nl ? (size_t)(nl - s) : l->len - l->pos;
        l->pos += k + (nl != NULL);
    }
    if (k > MAX_LINE)
        return LINE_TOO_LONG;
    if (l->line_no == 0 && k >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) { /* UTF-8 BOM */
        s += 3;
        k -= 3;
    }
    if (k && s[k - 1] == '\r')
        k--;
    l->line_no++;
    *line = s;
    *n = k;
    return LINE_OK;
}

static bool is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\v' && s[i] != '\f')
            return false;
    return true;
}

/* ---- per-format line parsers: fill names/lens and text; return NULL or a message ---- */

typedef struct parsed {
    const char *text;
    size_t text_len;
    const char *names[INTENTI_LINE_LABELS];
    size_t lens[INTENTI_LINE_LABELS];
    size_t n;
} parsed;

static const char *parse_tsv(const char *s, size_t n, parsed *p) {
    const char *tab = memchr(s, '\t', n);
    if (!tab)
        return "no tab between labels and text";
    size_t lab_len = (size_t)(tab - s);
    p->text = tab + 1;
    p->text_len = n - lab_len - 1;
    if (lab_len == 0)
        return "no labels before the tab";
    size_t i = 0;
    while (i <= lab_len) {
        const char *comma = memchr(s + i, ',', lab_len - i);
        size_t end = comma ? (size_t)(comma - s) : lab_len;
        if (p->n == INTENTI_LINE_LABELS)
            return "more than 256 labels on one example";
        p->names[p->n] = s + i;
        p->lens[p->n++] = end - i;
        i = end + 1;
    }
    return NULL;
}

static const char *parse_fasttext(const char *s, size_t n, parsed *p) {
    size_t i = 0;
    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (n - i < 9 || memcmp(s + i, "__label__", 9) != 0)
            break;
        size_t st = i + 9;
        i = st;
        while (i < n && s[i] != ' ' && s[i] != '\t')
            i++;
        if (p->n == INTENTI_LINE_LABELS)
            return "more than 256 labels on one example";
        p->names[p->n] = s + st;
        p->lens[p->n++] = i - st;
    }
    p->text = s + i;
    p->text_len = n - i;
    return p->n ? NULL : "no __label__ at the start of the line";
}

static const char *parse_jsonl(const char *s, size_t n, char *scratch, size_t cap, parsed *p) {
    intenti_jsonl j;
    const char *why = intenti_jsonl_parse(s, n, scratch, cap, &j);
    if (why)
        return why;
    p->text = j.text;
    p->text_len = j.text_len;
    for (size_t i = 0; i < j.n_labels; i++) {
        p->names[i] = j.labels[i];
        p->lens[i] = j.label_lens[i];
    }
    p->n = j.n_labels;
    return p->n ? NULL : "\"labels\" is empty";
}

/* Does s hold anything but whitespace (a JSON text may carry unescaped newlines)? */
static bool memchr_nonspace(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n' && s[i] != '\v' && s[i] != '\f')
            return true;
    return false;
}

/* Checks labels and text of a parsed line and adds it. Returns NULL or a message. */
static const char *add_parsed(intent_dataset *ds, const parsed *p, int *rc) {
    *rc = INTENT_ERR_PARSE;
    for (size_t i = 0; i < p->n; i++) {
        const char *why = intenti_label_problem(p->names[i], p->lens[i]);
        if (why)
            return why;
    }
    if (!memchr_nonspace(p->text, p->text_len))
        return "empty text";
    if (intenti_utf8_check(p->text, p->text_len) != p->text_len)
        return "text is not valid UTF-8";
    if (memchr(p->text, '\0', p->text_len))
        return "text contains a NUL byte";
    uint32_t ids[INTENTI_LINE_LABELS];
    for (size_t i = 0; i < p->n; i++) {
        *rc = intenti_dataset_intern(ds, p->names[i], p->lens[i], &ids[i]);
        if (*rc)
            return *rc == INTENT_ERR_LIMIT ? "more than 65535 labels" : "out of memory";
    }
    *rc = intenti_dataset_add_ids(ds, p->text, p->text_len, ids, p->n);
    if (*rc)
        return *rc == INTENT_ERR_LIMIT ? "too many examples" : "out of memory";
    return NULL;
}

static bool has_suffix(const char *name, const char *ext) {
    size_t n = strlen(name), e = strlen(ext);
    if (n < e)
        return false;
    for (size_t i = 0; i < e; i++) {
        char c = name[n - e + i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c != ext[i])
            return false;
    }
    return true;
}

static int format_by_name(const char *name) {
    if (has_suffix(name, ".tsv"))
        return INTENT_FORMAT_TSV;
    if (has_suffix(name, ".ft") || has_suffix(name, ".fasttext"))
        return INTENT_FORMAT_FASTTEXT;
    if (has_suffix(name, ".jsonl") || has_suffix(name, ".json") || has_suffix(name, ".ndjson"))
        return INTENT_FORMAT_JSONL;
    return INTENT_FORMAT_AUTO;
}

static int format_by_line(const char *s, size_t n) {
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i < n && s[i] == '{')
        return INTENT_FORMAT_JSONL;
    if (n - i >= 9 && memcmp(s + i, "__label__", 9) == 0)
        return INTENT_FORMAT_FASTTEXT;
    return INTENT_FORMAT_TSV;
}

typedef struct reader {
    intent_dataset *ds;
    const char *name;
    int format;
    char *scratch;  /* JSONL unescape buffer, grows with the longest line */
    size_t scratch_cap;
} reader;

static int line_error(reader *r, size_t line_no, int rc, const char *why) {
    snprintf(r->ds->errmsg, sizeof r->ds->errmsg, "%s:%zu: %s", r->name, line_no, why);
    return rc;
}

static int one_line(reader *r, const char *s, size_t n, size_t line_no) {
    if (r->format == INTENT_FORMAT_AUTO)
        r->format = format_by_line(s, n);
    parsed p;
    p.n = 0;
    const char *why;
    if (r->format == INTENT_FORMAT_JSONL) {
        if (n + 1 > r->scratch_cap) {
            char *b = intenti_realloc(r->scratch, n + 1);
            if (!b)
                return line_error(r, line_no, INTENT_ERR_NOMEM, "out of memory");
            r->scratch = b;
            r->scratch_cap = n + 1;
        }
        why = parse_jsonl(s, n, r->scratch, r->scratch_cap, &p);
    } else if (r->format == INTENT_FORMAT_FASTTEXT) {
        why = parse_fasttext(s, n, &p);
    } else {
        why = parse_tsv(s, n, &p);
    }
    int rc = INTENT_ERR_PARSE;
    if (!why)
        why = add_parsed(r->ds, &p, &rc);
    return why ? line_error(r, line_no, rc, why) : INTENT_OK;
}

static int read_lines(intent_dataset *ds, lines *l, const char *name, int format) {
    if (format < INTENT_FORMAT_AUTO || format > INTENT_FORMAT_JSONL) {
        snprintf(ds->errmsg, sizeof ds->errmsg, "%s: unknown format %d", name, format);
        return INTENT_ERR_ARG;
    }
    reader r = {ds, name, format == INTENT_FORMAT_AUTO ? format_by_name(name) : format, NULL, 0};
    size_t n0 = ds->n, labels0 = ds->n_labels;
    int rc = INTENT_OK;
    const char *s;
    size_t n;
    for (;;) {
        int got = next_line(l, &s, &n);
        if (got == LINE_END)
            break;
        if (got != LINE_OK) {
            rc = got == LINE_NOMEM ? INTENT_ERR_NOMEM : got == LINE_IO ? INTENT_ERR_IO : INTENT_ERR_PARSE;
            line_error(&r, l->line_no + 1, rc,
                       got == LINE_NOMEM ? "out of memory" : got == LINE_IO ? strerror(errno)
                                                                           : "line longer than 16 MiB");
            break;
        }
        if (is_blank(s, n))
            continue;
        rc = one_line(&r, s, n, l->line_no);
        if (rc)
            break;
    }
    intenti_free(r.scratch);
    if (rc)
        intenti_dataset_truncate(ds, n0, labels0);
    return rc;
}

int intent_dataset_read_file(intent_dataset *ds, const char *path, int format) {
    if (!ds || !path)
        return INTENT_ERR_ARG;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(ds->errmsg, sizeof ds->errmsg, "%s: %s", path, strerror(errno));
        return INTENT_ERR_IO;
    }
    lines l = {0};
    l.fp = fp;
    int rc = read_lines(ds, &l, path, format);
    intenti_free(l.buf);
    fclose(fp);
    return rc;
}

int intent_dataset_read_mem(intent_dataset *ds, const char *name, const char *data, size_t len,
                            int format) {
    if (!ds || (!data && len))
        return INTENT_ERR_ARG;
    lines l = {0};
    l.mem = data;
    l.mem_len = len;
    return read_lines(ds, &l, name ? name : "<memory>", format);
}
