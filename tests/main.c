/*
 * main.c - runs every C test group and prints "N passed, N failed" for tests/run.sh.
 */
#include "tests.h"

#include <stdio.h>
#include <string.h>

typedef int (*group_fn)(int *total);

int main(int argc, char **argv) {
    static const struct { const char *name; group_fn fn; } groups[] = {
        {"hash", test_hash}, {"text", test_text}, {"reader", test_reader}, {"kern", test_kern},
        {"grad", test_grad}, {"model_io", test_model_io}, {"predict", test_predict},
        {"train", test_train}, {"label_names", test_label_names}, {"calibrate", test_calibrate}, {"retrain", test_retrain}, {"bg", test_bg}, {"alloc", test_alloc}, {"data", test_data},
        {"feedback", test_feedback},
        {"components", test_components},
        {"onnx", test_onnx},
        {"serve", test_serve}, {"pool", test_pool}, {"stress", test_stress},
    };
    int total = 0, failed = 0;
    for (size_t i = 0; i < sizeof groups / sizeof *groups; i++) {
        if (argc > 1 && strcmp(argv[1], groups[i].name) != 0)
            continue;
        failed += groups[i].fn(&total);
    }
    fprintf(stderr, "C tests: %d passed, %d failed\n", total - failed, failed);
    return failed ? 1 : 0;
}
