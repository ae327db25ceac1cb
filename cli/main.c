/*
 * main.c - the `intent` command: dispatch to subcommands.
 */
#include "cli.h"

#include <string.h>

static const char USAGE[] =
    "usage: intent COMMAND [options]    (intent COMMAND --help for each)\n"
    "\n"
    "Learns which labels apply to short texts from labelled examples, and predicts them.\n"
    "\n"
    "commands:\n"
    "  train     learn a model from labelled examples\n"
    "  predict   label texts from stdin or arguments\n"
    "  eval      score a model on labelled examples\n"
    "  inspect   print what a model file holds\n"
    "  quantize  make an int8 copy of a model\n"
    "  bench     measure latency, throughput, cold start and memory\n"
    "  feedback  append a corrected example to a feedback log, or print the log\n"
    "  retrain   a new model that has learned the feedback log, checked before it is kept\n"
    "  route     the components a command needs: what to load and to unload\n"
    "  export    write a model's networks as an ONNX graph, for other runtimes\n"
    "  featurize print the features of texts (the ONNX graph's input)\n"
    "  serve     answer over HTTP: predictions, routing plans, feedback, reloads, metrics\n"
    "\n"
    "  --help     this text\n"
    "  --version  the version\n";

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
} command;

static const command COMMANDS[] = {
    {"train", cmd_train},       {"predict", cmd_predict}, {"eval", cmd_eval},       {"inspect", cmd_inspect},
    {"quantize", cmd_quantize}, {"bench", cmd_bench},     {"feedback", cmd_feedback}, {"retrain", cmd_retrain},
    {"route", cmd_route},
    {"export", cmd_export},
    {"featurize", cmd_featurize},
    {"serve", cmd_serve},
};

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("intent %s\n", intent_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof *COMMANDS; i++)
        if (strcmp(argv[1], COMMANDS[i].name) == 0)
            return COMMANDS[i].run(argc, argv);
    fprintf(stderr, "intent: unknown command \"%s\" (see intent --help)\n", argv[1]);
    return 2;
}
