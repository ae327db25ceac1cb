/*
 * helpers.c - test helpers: data locations, tiny datasets and models, a failing allocator.
 */
#include "tests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *data_dir(void) {
    const char *d = getenv("INTENT_DATA_DIR");
    return d && *d ? d : "../shared/data";
}

int have_data(const char *set) {
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s/train.tsv", data_dir(), set);
    if (stat(p, &st) != 0) {
        fprintf(stderr, "note: %s is absent: data set tests on %s are skipped "
                        "(set INTENT_DATA_DIR to the folder holding clinc150/, snips/, mixsnips/)\n", p, set);
        return 0;
    }
    return 1;
}

int quick_mode(void) {
    const char *q = getenv("INTENT_TEST_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

intent_dataset *load_ds(const char *path) {
    intent_dataset *ds;
    if (intent_dataset_new(&ds))
        return NULL;
    if (intent_dataset_read_file(ds, path, INTENT_FORMAT_AUTO)) {
        fprintf(stderr, "%s\n", intent_dataset_errmsg(ds));
        intent_dataset_free(ds);
        return NULL;
    }
    return ds;
}

intent_dataset *ds_from_text(const char *tsv) {
    intent_dataset *ds;
    if (intent_dataset_new(&ds))
        return NULL;
    if (intent_dataset_read_mem(ds, "mem.tsv", tsv, strlen(tsv), INTENT_FORMAT_TSV)) {
        fprintf(stderr, "%s\n", intent_dataset_errmsg(ds));
        intent_dataset_free(ds);
        return NULL;
    }
    return ds;
}

/* A fast small model: few buckets, small layers; enough to learn the demo data. */
intent_model *train_small(const intent_dataset *ds, uint64_t seed, uint32_t threads) {
    intent_train_opts o;
    intent_train_opts_init(&o);
    o.buckets = 4096;
    o.hidden[0] = 32;
    o.hidden[1] = 16;
    o.n_hidden = 2;
    o.epochs = 30;
    o.lr = 0.01f;
    o.seed = seed;
    o.threads = threads;
    intent_model *m = NULL;
    intent_error err;
    if (intent_train(ds, NULL, &o, &m, &err))
        fprintf(stderr, "train_small: %s\n", err.message);
    return m;
}

void tmp_path(char *buf, size_t cap, const char *name) {
    const char *t = getenv("TMPDIR");
    snprintf(buf, cap, "%s/intent-test-%d-%s", t && *t ? t : "/tmp", (int)getpid(), name);
}

/* ---- failing allocator ---- */

/* atomic: library threads (training teams, pool workers) allocate concurrently */
static _Atomic long fail_at, count;

static void *f_malloc(size_t n, void *u) {
    (void)u;
    if (fail_at && ++count == fail_at)
        return NULL;
    return malloc(n);
}
static void *f_realloc(void *p, size_t n, void *u) {
    (void)u;
    if (fail_at && ++count == fail_at)
        return NULL;
    return realloc(p, n);
}
static void f_free(void *p, void *u) {
    (void)u;
    free(p);
}

void fail_alloc_at(long n) {
    fail_at = n;
    count = 0;
    if (n) {
        intent_allocator a = {f_malloc, f_realloc, f_free, NULL};
        intent_set_allocator(&a);
    } else {
        intent_set_allocator(NULL);
    }
}

long alloc_count(void) { return count; }

intent_model *small_model(const intent_dataset *ds) {
    intent_train_opts o;
    intent_train_opts_init(&o);
    o.buckets = 2048;
    o.hidden[0] = 32;
    o.lr = 0.01f;
    o.threads = 1;
    intent_model *m;
    intent_error err;
    assert_int_equal(intent_train(ds, NULL, &o, &m, &err), INTENT_OK);
    return m;
}
