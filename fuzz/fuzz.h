/*
 * fuzz.h - what every fuzz target shares: the libFuzzer entry points and CHECK.
 *
 * CHECK aborts (with the file and line) on a broken promise, so libFuzzer and the
 * replay driver both see a crash and keep the input that caused it.
 */
#ifndef INTENT_FUZZ_H
#define INTENT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                            \
    do {                                                                                    \
        if (!(c)) {                                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);           \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

#endif /* INTENT_FUZZ_H */
