/*
 * cmd_feedback.c - `intent feedback`: append a corrected example to a feedback log, or
 * print the log (TSV or JSON lines) for inspection and retraining.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: intent feedback --log LOG --labels A,B TEXT...\n"
    "       intent feedback --log LOG --dump [--json]\n"
    "\n"
    "Appends one example, TEXT and its correct labels, to the feedback log LOG (created if\n"
    "missing); it is on disk when the command returns. Words given as TEXT are joined by\n"
    "spaces. A torn last record, left by a writer that crashed, is cut off first.\n"
    "\n"
    "--dump prints every whole record, one a line, as TSV (labels<TAB>text: intent train\n"
    "reads it); tabs and line breaks inside a text print as spaces. On stderr it says how\n"
    "many records it read and how many bytes of a torn tail it skipped.\n"
    "\n"
    "  --log LOG      the feedback log (required)\n"
    "  --labels A,B   the correct labels, comma-separated\n"
    "  --dump         print the log instead of appending\n"
    "  --json         with --dump: JSON lines {\"text\": ..., \"labels\": [...], \"time_ms\": ...},\n"
    "                 which keep tabs and line breaks\n";

static int print_tsv(const intent_feedback_record *r, void *user) {
    (void)user;
    for (size_t i = 0; i < r->n_labels; i++) {
        if (i)
            putchar(',');
        fputs(r->labels[i], stdout);
    }
    putchar('\t');
    for (size_t i = 0; i < r->len; i++) {
        char c = r->text[i];
        putchar(c == '\t' || c == '\n' || c == '\r' ? ' ' : c);
    }
    putchar('\n');
    return 0;
}

static int print_json(const intent_feedback_record *r, void *user) {
    (void)user;
    fputs("{\"text\": ", stdout);
    json_str(stdout, r->text);
    fputs(", \"labels\": [", stdout);
    for (size_t i = 0; i < r->n_labels; i++) {
        if (i)
            fputs(", ", stdout);
        json_str(stdout, r->labels[i]);
    }
    printf("], \"time_ms\": %llu}\n", (unsigned long long)r->time_ms);
    return 0;
}

static int dump(const char *path, int json) {
    uint64_t n = 0, skipped = 0;
    intent_error err;
    int rc = intent_feedback_scan(path, json ? print_json : print_tsv, NULL, &n, &skipped, &err);
    fflush(stdout);
    if (rc) {
        fail_msg("feedback", "%s", err.message);
        return 1;
    }
    fprintf(stderr, "intent feedback: %s: %llu record%s, %llu bytes of torn tail skipped\n", path,
            (unsigned long long)n, n == 1 ? "" : "s", (unsigned long long)skipped);
    return 0;
}

/* Splits "A,B" in place; empty names are kept so the library names the problem. */
static size_t split_labels(char *s, const char **out, size_t cap) {
    size_t n = 0;
    for (;;) {
        if (n == cap)
            return cap + 1;
        out[n++] = s;
        char *comma = strchr(s, ',');
        if (!comma)
            return n;
        *comma = '\0';
        s = comma + 1;
    }
}

static int append(const char *path, const char *label_arg, const char **words, size_t n_words) {
    size_t total = 1;
    for (size_t i = 0; i < n_words; i++)
        total += strlen(words[i]) + 1;
    char *text = malloc(total), *labels_copy = strdup(label_arg);
    const char **labels = malloc(sizeof *labels * INTENT_FEEDBACK_MAX_LABELS);
    int status = 1;
    intent_feedback *log = NULL;
    if (!text || !labels_copy || !labels) {
        fail_msg("feedback", "out of memory");
        goto out;
    }
    size_t len = 0;
    for (size_t i = 0; i < n_words; i++) {
        size_t n = strlen(words[i]);
        if (i)
            text[len++] = ' ';
        memcpy(text + len, words[i], n);
        len += n;
    }
    text[len] = '\0';
    size_t n_labels = split_labels(labels_copy, labels, INTENT_FEEDBACK_MAX_LABELS);
    if (n_labels > INTENT_FEEDBACK_MAX_LABELS) {
        fail_msg("feedback", "--labels: more than %d labels", INTENT_FEEDBACK_MAX_LABELS);
        goto out;
    }
    intent_error err;
    if (intent_feedback_open(path, &log, &err)) {
        fail_msg("feedback", "%s", err.message);
        goto out;
    }
    intent_feedback_stats st;
    intent_feedback_get_stats(log, &st);
    if (st.torn_bytes)
        fprintf(stderr, "intent feedback: %s: cut off a torn last record (%llu bytes) left by an "
                "interrupted append\n", path, (unsigned long long)st.torn_bytes);
    if (intent_feedback_append(log, text, len, labels, n_labels, &err)) {
        fail_msg("feedback", "%s", err.message);
        goto out;
    }
    status = 0;
out:
    intent_feedback_close(log);
    free(text);
    free(labels_copy);
    free(labels);
    return status;
}

int cmd_feedback(int argc, char **argv) {
    const char *log = NULL, *labels = NULL;
    int do_dump = 0, json = 0;
    const opt opts[] = {
        {"--log", OPT_STR, &log, 0, 0},
        {"--labels", OPT_STR, &labels, 0, 0},
        {"--dump", OPT_FLAG, &do_dump, 0, 0},
        {"--json", OPT_FLAG, &json, 0, 0},
    };
    const char *pos[256];
    size_t n_pos;
    int help;
    if (args_parse("feedback", argc, argv, 2, opts, sizeof opts / sizeof *opts, pos, 256, &n_pos, &help))
        return 2;
    if (help) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (!log) {
        fail_msg("feedback", "--log is required (see intent feedback --help)");
        return 2;
    }
    if (do_dump) {
        if (labels || n_pos) {
            fail_msg("feedback", "--dump takes no --labels and no text");
            return 2;
        }
        return dump(log, json);
    }
    if (json) {
        fail_msg("feedback", "--json goes with --dump");
        return 2;
    }
    if (!labels || !n_pos) {
        fail_msg("feedback", "give --labels and a text to append, or --dump (see intent feedback --help)");
        return 2;
    }
    return append(log, labels, pos, n_pos);
}
