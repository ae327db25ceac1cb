/*
 * cli.h - what the `intent` command's files share: option parsing, output helpers and
 * one entry point per subcommand. The CLI is a thin front over the library.
 */
#ifndef INTENT_CLI_H
#define INTENT_CLI_H

#include "intent.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- options (args.c) ---- */
enum opt_kind { OPT_STR, OPT_U32, OPT_U64, OPT_F32, OPT_FLAG, OPT_U32_LIST };

typedef struct opt {
    const char *name;     /* "--name" */
    enum opt_kind kind;
    void *dst;            /* const char **, uint32_t *, uint64_t *, float *, int *, u32_list * */
    double min, max;      /* accepted range for numbers */
} opt;

typedef struct u32_list {
    uint32_t v[16];
    uint32_t n;
} u32_list;

/* Parses argv[first..argc) against opts. Non-option words go to pos (cap of them).
 * "--help" sets *help. On error prints "intent CMD: ..." to stderr and returns -1. */
int args_parse(const char *cmd, int argc, char **argv, int first, const opt *opts, size_t n_opts,
               const char **pos, size_t cap, size_t *n_pos, int *help);

/* ---- output (out.c) ---- */
void json_str(FILE *f, const char *s);  /* a JSON string literal, escaped */
double mono_s(void);
int read_dataset(const char *cmd, const char *path, const char *format, intent_dataset **out);
int parse_format(const char *cmd, const char *s, int *fmt);
void fail_msg(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *human_bytes(uint64_t n, char *buf, size_t cap);

/* ---- line input with flush-before-block (lines.c) ---- */
typedef struct line_reader {
    int fd;
    char *buf;
    size_t cap, start, end;
    bool eof;
    FILE *flush;          /* flushed whenever the reader is about to block */
} line_reader;
void lines_init(line_reader *r, int fd, FILE *flush);
/* Next line without its newline; *len bytes, NUL-terminated. 1 = line, 0 = end, -1 = error. */
int lines_next(line_reader *r, char **line, size_t *len);
void lines_free(line_reader *r);

/* Calls fn(user, text, len) for the words of pos joined by spaces (one text), or, with
 * no words, for each line of stdin as it arrives (skipping empty ones if skip_empty).
 * fn returns 0, > 0 (a failure that does not stop the others) or < 0 (stop). Returns -1
 * if stopped or stdin failed (said as "intent CMD: ..."), else the OR of fn's returns. */
typedef int (*text_fn)(void *user, const char *text, size_t len);
int for_each_text(const char *cmd, const char *const *pos, size_t n_pos, bool skip_empty, text_fn fn, void *user);

/* ---- component registries from JSON (registry.c) ---- */
typedef struct registry_cmds {
    char *load, *unload;   /* shell commands, or NULL */
    char *description;     /* or NULL */
} registry_cmds;

typedef struct registry {
    intent_components *comps; /* validated */
    registry_cmds *cmds;      /* [n], by component id */
    size_t n;
    uint64_t budget;          /* bytes; 0 = none */
    int run;                  /* load/unload commands are attached as callbacks */
} registry;

/* Reads and validates a registry file. run: the components' load and unload commands run
 * (through /bin/sh, their stdout sent to stderr) when acquire loads or unloads them;
 * otherwise there are no callbacks and every load "succeeds" (a dry run). On error prints
 * "FILE: component NAME: what is wrong" to stderr and returns -1. */
int registry_read(const char *path, int run, registry *r);
void registry_free(registry *r);

/* ---- subcommands ---- */
int cmd_train(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_retrain(int argc, char **argv);
/* bench_pool.c: `intent bench --pool`, the serving stats of an intent_pool answering texts
 * for `seconds`; printed to out. Returns 0, or -1 after printing why. */
int bench_pool(const char *model, char *const *texts, const size_t *lens, size_t n, uint32_t threads,
               double seconds, FILE *out);
int cmd_feedback(int argc, char **argv);
int cmd_route(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_featurize(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif
