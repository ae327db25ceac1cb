/*
 * cmd_inspect.c - `intent inspect MODEL`: what a model file holds.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: intent inspect MODEL\n"
    "\n"
    "Checks MODEL (magic, version, checksum, every offset) and prints its header,\n"
    "metadata and tensors.\n";

int cmd_inspect(int argc, char **argv) {
    const char *pos[1];
    size_t n_pos;
    int help;
    if (args_parse("inspect", argc, argv, 2, NULL, 0, pos, 1, &n_pos, &help))
        return 2;
    if (help) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (n_pos != 1) {
        fail_msg("inspect", "give one model file (see intent inspect --help)");
        return 2;
    }
    intent_model *m;
    intent_error err;
    if (intent_model_load(pos[0], &m, &err)) {
        fail_msg("inspect", "%s", err.message);
        return 1;
    }
    size_t need = intent_model_describe(m, NULL, 0) + 1;
    char *buf = malloc(need);
    if (!buf) {
        intent_model_free(m);
        return 1;
    }
    intent_model_describe(m, buf, need);
    printf("%s: %s", pos[0], buf);
    free(buf);
    intent_model_free(m);
    return 0;
}
