/*
 * tests.h - shared by the test files: cmocka, the library's internals, and helpers.
 * Every test file defines one `int test_<name>(int *total)` that runs its group and
 * returns the number of failed tests; main.c adds them up.
 */
#ifndef INTENT_TESTS_H
#define INTENT_TESTS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "intent_impl.h"

#define RUN(name, tests, total)                                                                    \
    (*(total) += (int)(sizeof(tests) / sizeof((tests)[0])), cmocka_run_group_tests_name(name, tests, NULL, NULL))

/* helpers.c */
const char *data_dir(void);          /* ../shared/data, or $INTENT_DATA_DIR */
int have_data(const char *set);      /* prints why and returns 0 when the set is absent */
int quick_mode(void);                /* INTENT_TEST_QUICK=1: skip the slow, big-data tests */
intent_dataset *load_ds(const char *path);
intent_dataset *ds_from_text(const char *tsv);   /* a dataset from TSV text */
intent_model *small_model(const intent_dataset *ds); /* 2,048 buckets, 32 hidden, 1 thread */
intent_model *train_small(const intent_dataset *ds, uint64_t seed, uint32_t threads);
void tmp_path(char *buf, size_t cap, const char *name);
/* The allocation hook that fails the n-th allocation (n = 0: never). */
void fail_alloc_at(long n);
long alloc_count(void);

int test_hash(int *total);
int test_text(int *total);
int test_reader(int *total);
int test_kern(int *total);
int test_grad(int *total);
int test_model_io(int *total);
int test_train(int *total);
int test_label_names(int *total);
int test_predict(int *total);
int test_alloc(int *total);
int test_data(int *total);
int test_calibrate(int *total);
int test_retrain(int *total);
int test_bg(int *total);
int test_feedback(int *total);
int test_components(int *total);
int test_onnx(int *total);
int test_serve(int *total);
int test_pool(int *total);
int test_stress(int *total);

/* test_serve.c: two-label models (PREFIX1 lights, PREFIX2 music) and texts for the serving
 * tests; tiny enough to train in milliseconds under sanitizers */
#define SERVE_N_TEXTS 8
intent_model *serve_model(const char *prefix, uint64_t seed);
const char *serve_text(size_t i);   /* text i % SERVE_N_TEXTS */

#endif
