/*
 * cmd_export.c - `intent export`: a model's networks for other runtimes (ONNX).
 */
#include "cli.h"

#include <string.h>
#include <sys/stat.h>

static const char USAGE[] =
    "usage: intent export --model MODEL --onnx OUT.onnx\n"
    "\n"
    "Writes MODEL's networks as an ONNX graph (IR version 8, opset 13), atomically: input\n"
    "the features of one text (\"indices\" int64[n], \"weights\" float[n], as `intent\n"
    "featurize` prints them), output \"confidences\" float[labels]; the label names, the\n"
    "decision threshold and the featurizer settings are in its metadata. int8 weights are\n"
    "written as float. See docs/ONNX.md, also for Core ML and TensorRT.\n"
    "\n"
    "  --model MODEL   the model file (required)\n"
    "  --onnx FILE     where to write the ONNX model (required)\n";

int cmd_export(int argc, char **argv) {
    const char *model = NULL, *onnx = NULL;
    int help;
    const opt opts[] = {{"--model", OPT_STR, &model, 0, 0}, {"--onnx", OPT_STR, &onnx, 0, 0}};
    const char *pos[1];
    size_t n_pos;
    if (args_parse("export", argc, argv, 2, opts, sizeof opts / sizeof *opts, pos, 0, &n_pos, &help))
        return 2;
    if (help) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (!model || !onnx) {
        fail_msg("export", "--model and --onnx are required (see intent export --help)");
        return 2;
    }
    intent_model *m;
    intent_error err;
    if (intent_model_load(model, &m, &err)) {
        fail_msg("export", "%s", err.message);
        return 1;
    }
    int rc = intent_model_export_onnx(m, onnx, &err);
    if (rc) {
        fail_msg("export", "%s", err.message);
    } else {
        struct stat st;
        char h[32];
        fprintf(stderr, "%s -> %s (ONNX, %s)\n", model, onnx,
                human_bytes(stat(onnx, &st) == 0 ? (uint64_t)st.st_size : 0, h, sizeof h));
    }
    intent_model_free(m);
    return rc ? 1 : 0;
}
