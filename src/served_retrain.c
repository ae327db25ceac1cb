/*
 * served_retrain.c - retraining the served model on a background thread.
 *
 * DESIGN: one retrain at a time per service. The job (paths, options, callback) is
 * copied into the service's slot under its mutex and a thread is started; the thread
 * leases the model served at that moment, retrains from it (retrain.c), releases the
 * lease, and installs the result with intent_service_swap — the swap is what makes the
 * new model visible, atomically, to every later acquire. The thread is joined by the
 * next retrain or by intent_service_free, which first asks it to stop: the training
 * progress callback returns "stop" once the cancel flag is set, so a stop takes at most
 * one epoch.
 */
#include "serve.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct intenti_bg {
    pthread_mutex_t mu;        /* guards running, joinable and the job */
    pthread_t th;
    bool running, joinable;
    _Atomic int cancel;
    intent_service *svc;
    char *log, *data;          /* owned copies */
    intent_retrain_opts o;
    intent_retrain_done_fn done;
    void *user;
};

int intenti_bg_new(intent_service *svc, intenti_bg **out) {
    intenti_bg *bg = intenti_calloc(1, sizeof *bg);
    if (!bg || pthread_mutex_init(&bg->mu, NULL) != 0) {
        intenti_free(bg);
        return INTENT_ERR_NOMEM;
    }
    bg->svc = svc;
    *out = bg;
    return INTENT_OK;
}

static void forget_job(intenti_bg *bg) {
    intenti_free(bg->log);
    intenti_free(bg->data);
    bg->log = bg->data = NULL;
}

void intenti_bg_free(intenti_bg *bg) {
    if (!bg)
        return;
    atomic_store(&bg->cancel, 1);
    pthread_mutex_lock(&bg->mu);
    bool join = (bg->running || bg->joinable) && !pthread_equal(bg->th, pthread_self());
    pthread_mutex_unlock(&bg->mu);
    if (join)
        pthread_join(bg->th, NULL);
    forget_job(bg);
    pthread_mutex_destroy(&bg->mu);
    intenti_free(bg);
}

static int stop_check(const intent_epoch_report *r, void *user) {
    (void)r;
    return atomic_load(&((intenti_bg *)user)->cancel);
}

/* Reads the feedback log and the data file; returns a status and fills err. */
static int read_inputs(intenti_bg *bg, intent_dataset **fb, intent_dataset **data, intent_error *err) {
    size_t n_read;
    uint64_t skipped;
    int rc = intent_dataset_new(fb);
    if (!rc)
        rc = intent_feedback_read(bg->log, *fb, &n_read, &skipped, err);
    if (!rc && bg->data) {
        rc = intent_dataset_new(data);
        if (!rc && (rc = intent_dataset_read_file(*data, bg->data, INTENT_FORMAT_AUTO)))
            intenti_err(err, rc, "%s", intent_dataset_errmsg(*data));
    }
    if (rc == INTENT_ERR_NOMEM)
        intenti_err(err, rc, "out of memory");
    return rc;
}

static void *work(void *arg) {
    intenti_bg *bg = arg;
    intent_error err = {0, ""};
    intent_dataset *fb = NULL, *data = NULL;
    intent_model *m = NULL;
    intent_retrain_report rep;
    bool trained = false;
    uint64_t version = 0;
    intent_lease lease;
    int rc = read_inputs(bg, &fb, &data, &err);
    if (!rc && (rc = intent_service_acquire(bg->svc, &lease)) != INTENT_OK)
        intenti_err(&err, rc, "no model is served: nothing to retrain");
    if (!rc) {
        bg->o.train.progress = stop_check;
        bg->o.train.progress_user = bg;
        rc = intent_retrain(lease.model, fb, data, &bg->o, &m, &rep, &err);
        trained = rc == INTENT_OK || rc == INTENT_ERR_REJECTED;
        intent_service_release(bg->svc, &lease);
    }
    if (!rc && (rc = intent_service_swap(bg->svc, m, &version)) != INTENT_OK) {
        intenti_err(&err, rc, "out of memory installing the new model");
        intent_model_free(m);
    } else if (!rc) {
        snprintf(err.message, sizeof err.message, "model version %llu serving", (unsigned long long)version);
    }
    intent_dataset_free(fb);
    intent_dataset_free(data);
    /* finished before the callback, so the callback (or anyone it wakes) may start the
     * next retrain at once; bg_start then detaches this thread rather than join itself */
    intent_retrain_done_fn done = bg->done;
    void *user = bg->user;
    pthread_mutex_lock(&bg->mu);
    bg->running = false;
    bg->joinable = true;
    pthread_mutex_unlock(&bg->mu);
    if (done)
        done(rc, trained ? &rep : NULL, err.message, version, user);
    return NULL;
}

int intenti_bg_start(intenti_bg *bg, const char *log, const char *data, const intent_retrain_opts *o,
                     intent_retrain_done_fn done, void *user) {
    pthread_mutex_lock(&bg->mu);
    if (bg->running || atomic_load(&bg->cancel)) {
        pthread_mutex_unlock(&bg->mu);
        return INTENT_ERR_BUSY;
    }
    if (bg->joinable) { /* the last one has ended: collect its thread */
        if (pthread_equal(bg->th, pthread_self()))
            pthread_detach(bg->th); /* started from its own done callback */
        else
            pthread_join(bg->th, NULL);
        bg->joinable = false;
    }
    forget_job(bg);
    bg->log = intenti_strndup(log, strlen(log));
    bg->data = data ? intenti_strndup(data, strlen(data)) : NULL;
    int rc = !bg->log || (data && !bg->data) ? INTENT_ERR_NOMEM : INTENT_OK;
    if (o)
        bg->o = *o;
    else
        intent_retrain_opts_init(&bg->o);
    bg->done = done;
    bg->user = user;
    if (!rc && pthread_create(&bg->th, NULL, work, bg) != 0)
        rc = INTENT_ERR_NOMEM;
    bg->running = rc == INTENT_OK;
    pthread_mutex_unlock(&bg->mu);
    return rc;
}

bool intenti_bg_running(intenti_bg *bg) {
    pthread_mutex_lock(&bg->mu);
    bool r = bg->running;
    pthread_mutex_unlock(&bg->mu);
    return r;
}
