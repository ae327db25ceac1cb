/*
 * test_bg.c - retraining the served model in the background: predictions go on, the new
 * model is swapped in whole, one retrain at a time, and freeing the service stops one.
 */
#include "tests.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct outcome {
    _Atomic int done, status;
    _Atomic uint64_t version;
    char message[512];
} outcome;

static void on_done(int status, const intent_retrain_report *rep, const char *message, uint64_t version, void *user) {
    outcome *o = user;
    (void)rep;
    snprintf(o->message, sizeof o->message, "%s", message);
    atomic_store(&o->version, version);
    atomic_store(&o->status, status);
    atomic_store(&o->done, 1);
}

static intent_service *served(const intent_dataset *ds) {
    intent_model *m = small_model(ds);
    intent_service *svc;
    assert_int_equal(intent_service_new(&svc), INTENT_OK);
    assert_int_equal(intent_service_swap(svc, m, NULL), INTENT_OK);
    return svc;
}

static void write_feedback(const char *path) {
    intent_feedback *log;
    intent_error err;
    remove(path);
    assert_int_equal(intent_feedback_open(path, &log, &err), INTENT_OK);
    const char *texts[] = {"dim the lights", "make the lights dimmer", "lights down to thirty percent", "dim the lamp"};
    const char *labels[] = {"DIM"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(intent_feedback_append(log, texts[i], strlen(texts[i]), labels, 1, &err), INTENT_OK);
    intent_feedback_close(log);
}

static const char *DATA = "ON\tturn on the lights\nON\tlights on\nON\tswitch the lamp on\nOFF\tturn off the lights\n"
                          "OFF\tlights off\nOFF\tswitch the lamp off\nPLAY\tplay music\nPLAY\tplay a song\n"
                          "PLAY\tstart the music\nON\tput the lights on\nOFF\tkill the lights\nPLAY\tput on some jazz\n";

static void retrains_while_serving(void **state) {
    (void)state;
    intent_dataset *ds = ds_from_text(DATA);
    intent_service *svc = served(ds);
    char log[256];
    tmp_path(log, sizeof log, "bg.log");
    write_feedback(log);
    intent_retrain_opts ro;
    intent_retrain_opts_init(&ro);
    ro.train.lr = 0.01f;
    ro.train.threads = 1;
    ro.max_drop = 1.0f; /* this test is about the swap, not the guard */
    outcome out = {0};
    assert_int_equal(intent_service_retrain(svc, log, NULL, &ro, on_done, &out), INTENT_OK);
    assert_int_equal(intent_service_retrain(svc, log, NULL, &ro, on_done, &out), INTENT_ERR_BUSY);
    intent_ctx *ctx;
    assert_int_equal(intent_ctx_new(NULL, &ctx), INTENT_OK);
    long answers = 0;
    uint64_t seen = 0;
    while (!atomic_load(&out.done)) { /* answers go on, each from one whole model */
        intent_lease lease;
        assert_int_equal(intent_service_acquire(svc, &lease), INTENT_OK);
        assert_true(lease.version >= seen);
        seen = lease.version;
        intent_score top[2];
        size_t nt, no;
        assert_int_equal(intent_service_predict(svc, &lease, ctx, "lights on", 9, -1, top, 2, &nt, &no), INTENT_OK);
        assert_true(top[0].label < intent_model_n_labels(lease.model));
        intent_service_release(svc, &lease);
        answers++;
    }
    if (atomic_load(&out.status) != INTENT_OK)
        fail_msg("retrain ended with %d: %s", atomic_load(&out.status), out.message);
    assert_int_equal(atomic_load(&out.version), 2);
    assert_true(answers > 0);
    intent_lease lease;
    assert_int_equal(intent_service_acquire(svc, &lease), INTENT_OK);
    assert_int_equal(lease.version, 2);
    assert_int_equal(intent_model_label_id(lease.model, "DIM"), 3);
    intent_service_release(svc, &lease);
    assert_false(intent_service_retraining(svc));
    /* a second one may start now */
    atomic_store(&out.done, 0);
    assert_int_equal(intent_service_retrain(svc, log, NULL, &ro, on_done, &out), INTENT_OK);
    intent_ctx_free(ctx);
    intent_service_free(svc); /* stops it (or it has finished) and waits */
    assert_true(atomic_load(&out.done));
    assert_true(atomic_load(&out.status) == INTENT_OK || atomic_load(&out.status) == INTENT_ERR_CANCELLED);
    intent_dataset_free(ds);
    remove(log);
}

static void reports_errors(void **state) {
    (void)state;
    intent_service *svc;
    assert_int_equal(intent_service_new(&svc), INTENT_OK);
    outcome out = {0};
    char log[256];
    tmp_path(log, sizeof log, "bg2.log");
    write_feedback(log);
    assert_int_equal(intent_service_retrain(svc, log, NULL, NULL, on_done, &out), INTENT_OK);
    while (!atomic_load(&out.done))
        usleep(1000);
    assert_int_equal(atomic_load(&out.status), INTENT_ERR_NO_MODEL);
    atomic_store(&out.done, 0);
    assert_int_equal(intent_service_retrain(svc, "/nonexistent/log", NULL, NULL, on_done, &out), INTENT_OK);
    while (!atomic_load(&out.done))
        usleep(1000);
    assert_int_not_equal(atomic_load(&out.status), INTENT_OK);
    assert_non_null(strstr(out.message, "/nonexistent/log"));
    assert_int_equal(intent_service_retrain(svc, NULL, NULL, NULL, on_done, &out), INTENT_ERR_ARG);
    intent_service_free(svc);
    remove(log);
}

int test_bg(int *total) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(retrains_while_serving), cmocka_unit_test(reports_errors)};
    return RUN("bg", tests, total);
}
