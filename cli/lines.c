/*
 * lines.c - reading lines from a file descriptor, flushing output before it blocks.
 *
 * `intent predict` must stream: a caller that writes one line and waits for the answer
 * must get it at once, while a caller piping 100k lines should not pay a flush per line.
 * Flushing exactly when no complete line is buffered gives both.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void lines_init(line_reader *r, int fd, FILE *flush) {
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->flush = flush;
}

void lines_free(line_reader *r) { free(r->buf); }

static int refill(line_reader *r) {
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end + 1 >= r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 65536;
        char *b = realloc(r->buf, cap);
        if (!b)
            return -1;
        r->buf = b;
        r->cap = cap;
    }
    if (r->flush)
        fflush(r->flush);
    for (;;) {
        ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            r->eof = true;
        r->end += (size_t)n;
        return 0;
    }
}

int lines_next(line_reader *r, char **line, size_t *len) {
    for (;;) {
        char *nl = r->end > r->start ? memchr(r->buf + r->start, '\n', r->end - r->start) : NULL;
        if (nl || (r->eof && r->end > r->start)) {
            char *s = r->buf + r->start;
            size_t n = nl ? (size_t)(nl - s) : r->end - r->start;
            r->start += n + (nl != NULL);
            if (n && s[n - 1] == '\r')
                n--;
            s[n] = '\0'; /* the '\n' slot, or the spare byte kept at the end */
            *line = s;
            *len = n;
            return 1;
        }
        if (r->eof)
            return 0;
        if (refill(r))
            return -1;
    }
}

/* The words of pos joined by spaces as one text; else each line of stdin, streaming. */
int for_each_text(const char *cmd, const char *const *pos, size_t n_pos, bool skip_empty, text_fn fn, void *user) {
    if (n_pos) {
        size_t total = 1;
        for (size_t i = 0; i < n_pos; i++)
            total += strlen(pos[i]) + 1;
        char *text = malloc(total);
        if (!text)
            return -1;
        size_t at = 0;
        for (size_t i = 0; i < n_pos; i++) {
            size_t n = strlen(pos[i]);
            memcpy(text + at, pos[i], n);
            at += n;
            text[at++] = ' ';
        }
        text[at ? at - 1 : 0] = '\0';
        int rc = fn(user, text, at ? at - 1 : 0);
        free(text);
        return rc < 0 ? -1 : rc;
    }
    line_reader r;
    lines_init(&r, STDIN_FILENO, stdout);
    char *line;
    size_t len;
    int got, rc = 0;
    while ((got = lines_next(&r, &line, &len)) == 1) {
        if (skip_empty && !len)
            continue;
        int one = fn(user, line, len);
        if (one < 0) {
            rc = -1;
            break;
        }
        rc |= one;
    }
    if (rc >= 0 && got < 0) {
        fail_msg(cmd, "reading stdin failed");
        rc = -1;
    }
    lines_free(&r);
    return rc;
}
