/*
 * fuzz_data.c - fuzz target: bytes -> intent_dataset_read_mem, once per format (AUTO,
 * TSV, FASTTEXT, JSONL).
 *
 * Besides "no crash, no leak, no undefined behaviour", it checks what the header promises:
 * every example read has non-empty NUL-terminated text of the stated length and sorted,
 * distinct, valid label ids; a failed read says why and keeps nothing of the input (the
 * AUTO pass reads into a dataset that already holds one example, to test the rollback).
 */
#include "fuzz.h"
#include "intent_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_dataset(const intent_dataset *ds) {
    size_t n_labels = intent_dataset_n_labels(ds);
    for (size_t i = 0; i < n_labels; i++) {
        const char *name = intent_dataset_label(ds, i);
        CHECK(name && intenti_label_problem(name, strlen(name)) == NULL);
    }
    CHECK(intent_dataset_label(ds, n_labels) == NULL);
    for (size_t i = 0; i < intent_dataset_size(ds); i++) {
        size_t len, n;
        const uint32_t *ids;
        const char *text = intent_dataset_example(ds, i, &len, &ids, &n);
        CHECK(text && len > 0 && strlen(text) == len);
        CHECK(intenti_utf8_check(text, len) == len);
        CHECK(n >= 1);
        for (size_t j = 0; j < n; j++)
            CHECK(ids[j] < n_labels && (j == 0 || ids[j - 1] < ids[j]));
    }
    CHECK(intent_dataset_example(ds, intent_dataset_size(ds), &(size_t){0}, NULL, NULL) == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const int formats[] = {INTENT_FORMAT_AUTO, INTENT_FORMAT_TSV, INTENT_FORMAT_FASTTEXT,
                                  INTENT_FORMAT_JSONL};
    for (size_t f = 0; f < sizeof formats / sizeof *formats; f++) {
        intent_dataset *ds;
        if (intent_dataset_new(&ds) != INTENT_OK)
            return 0;
        size_t n0 = 0, labels0 = 0;
        if (formats[f] == INTENT_FORMAT_AUTO) {
            const char *lab[] = {"seed"};
            CHECK(intent_dataset_add(ds, "already here", 12, lab, 1) == INTENT_OK);
            n0 = labels0 = 1;
        }
        int rc = intent_dataset_read_mem(ds, "fuzz", (const char *)data, size, formats[f]);
        if (rc != INTENT_OK) {
            CHECK(rc == INTENT_ERR_PARSE || rc == INTENT_ERR_NOMEM);
            CHECK(intent_dataset_errmsg(ds)[0] != '\0');
            CHECK(intent_dataset_size(ds) == n0 && intent_dataset_n_labels(ds) == labels0);
        }
        check_dataset(ds);
        intent_dataset_free(ds);
    }
    return 0;
}
