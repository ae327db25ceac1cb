/*
 * out.c - small output helpers shared by the subcommands.
 */
#include "cli.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

void fail_msg(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "intent %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Escapes per RFC 8259; bytes >= 0x80 pass through (the library hands out valid UTF-8). */
void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int parse_format(const char *cmd, const char *s, int *fmt) {
    if (!s || strcmp(s, "auto") == 0) *fmt = INTENT_FORMAT_AUTO;
    else if (strcmp(s, "tsv") == 0) *fmt = INTENT_FORMAT_TSV;
    else if (strcmp(s, "fasttext") == 0) *fmt = INTENT_FORMAT_FASTTEXT;
    else if (strcmp(s, "jsonl") == 0) *fmt = INTENT_FORMAT_JSONL;
    else {
        fail_msg(cmd, "--format must be auto, tsv, fasttext or jsonl, not \"%s\"", s);
        return -1;
    }
    return 0;
}

/* Reads a labelled file; on failure prints the library's "FILE:LINE: ..." message. */
int read_dataset(const char *cmd, const char *path, const char *format, intent_dataset **out) {
    int fmt;
    *out = NULL;
    if (parse_format(cmd, format, &fmt))
        return -1;
    intent_dataset *ds;
    if (intent_dataset_new(&ds)) {
        fail_msg(cmd, "out of memory");
        return -1;
    }
    if (intent_dataset_read_file(ds, path, fmt)) {
        fprintf(stderr, "%s\n", intent_dataset_errmsg(ds));
        intent_dataset_free(ds);
        return -1;
    }
    *out = ds;
    return 0;
}

const char *human_bytes(uint64_t n, char *buf, size_t cap) {
    if (n >= (1u << 20))
        snprintf(buf, cap, "%.2f MB", n / 1048576.0);
    else if (n >= 1024)
        snprintf(buf, cap, "%.1f KB", n / 1024.0);
    else
        snprintf(buf, cap, "%llu bytes", (unsigned long long)n);
    return buf;
}
