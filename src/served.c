/*
 * served.c - the served model: a holder whose model can be replaced atomically while
 * threads predict with it, with a fallback model, load failures kept, and stats.
 *
 * DESIGN
 *   Each model a service is given is wrapped in a `served` record with a reference count:
 *   one reference for the service while the record is installed (as primary or fallback),
 *   one per lease. The mutex svc->mu guards only the two installed pointers, the version
 *   counter, the last error and the log function; it is never held across a file load, an
 *   allocation of a record or a prediction.
 *   - acquire: under mu, pick cur (else fb) and add a reference before unlocking, so the
 *     record cannot reach zero between being picked and being counted.
 *   - swap/load: build the record outside the lock; under mu, number it and exchange the
 *     pointer; after unlocking, drop the service's reference on the record it replaced.
 *   - release: one atomic decrement, acq_rel. Whoever takes the count to zero frees the
 *     record and its model; the acquire half orders every other holder's reads of the
 *     model before the free. So the old model goes when its last reader is done, on that
 *     reader's thread, and a reader sees one whole model for its whole lease.
 *   Per-label answer counts live in the record: they are indexed by that model's label ids.
 */
#include "serve.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define RELAXED memory_order_relaxed

typedef struct served {
    intent_model *model;          /* owned */
    _Atomic uint32_t refs;        /* the service's hold while installed, plus one per lease */
    uint64_t version;             /* written once under svc->mu before it is published */
    bool fallback;                /* installed as the fallback model */
    double load_ms, loaded_at;
    uint64_t bytes;               /* counted in svc->model_bytes while alive */
    _Atomic uint64_t *per_label;  /* [model->n_labels] answers per label */
    intent_service *svc;          /* to uncount bytes when freed; outlives every lease */
} served;

struct intent_service {
    pthread_mutex_t mu;           /* guards cur, fb, n_versions, last_error, log, log_user */
    served *cur, *fb;             /* installed records; each holds one reference */
    uint64_t n_versions;          /* versions handed out so far */
    char last_error[512];
    intent_log_fn log;
    void *log_user;
    _Atomic uint64_t loads, load_failures, swaps, models_alive, model_bytes;
    _Atomic int64_t scratch_bytes;
    intenti_stats stats;          /* per-answer counters: see stats.c */
    intenti_bg *bg;               /* the background retrain (served_retrain.c) */
};

/* Memory a model holds: its image (heap or mapped file) and the tables made at load. */
static uint64_t model_bytes(const intent_model *m) {
    uint64_t n = sizeof *m + m->image_len + (uint64_t)m->n_labels * (sizeof *m->labels + 8 /* counter */);
    for (uint32_t i = 0; i < m->n_labels; i++)
        n += strlen(m->labels[i]) + 1;
    n += (uint64_t)m->view.n_kv * sizeof *m->view.kv + (uint64_t)m->view.n_tensors * sizeof *m->view.tensors;
    for (uint32_t k = 0; k < m->n_nets; k++) /* per-bucket row tables made at load */
        if (m->rows[k])
            n += (uint64_t)m->fs.buckets * sizeof *m->rows[k];
    if (m->batch_own) /* the batch path's float output layer */
        n += (uint64_t)m->nets[0].layers[m->nets[0].n_layers - 1].n_in * m->n_labels * sizeof(float);
    return n;
}

static served *served_new(intent_service *svc, intent_model *m, bool fallback, double load_ms) {
    served *r = intenti_calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->per_label = intenti_calloc(m->n_labels, sizeof *r->per_label);
    if (!r->per_label) {
        intenti_free(r);
        return NULL;
    }
    r->model = m;
    atomic_init(&r->refs, 1);
    r->fallback = fallback;
    r->load_ms = load_ms;
    r->bytes = model_bytes(m);
    r->svc = svc;
    atomic_fetch_add_explicit(&svc->model_bytes, r->bytes, RELAXED);
    atomic_fetch_add_explicit(&svc->models_alive, 1, RELAXED);
    return r;
}

static void served_drop(served *r) {
    if (!r || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
        return;
    intent_service *svc = r->svc;
    atomic_fetch_sub_explicit(&svc->model_bytes, r->bytes, RELAXED);
    atomic_fetch_sub_explicit(&svc->models_alive, 1, RELAXED);
    intent_model_free(r->model);
    intenti_free(r->per_label);
    intenti_free(r);
}

int intent_service_new(intent_service **out) {
    if (!out)
        return INTENT_ERR_ARG;
    *out = NULL;
    intent_service *svc = intenti_calloc(1, sizeof *svc);
    if (!svc)
        return INTENT_ERR_NOMEM;
    if (pthread_mutex_init(&svc->mu, NULL) != 0) {
        intenti_free(svc);
        return INTENT_ERR_NOMEM;
    }
    intenti_stats_init(&svc->stats);
    if (intenti_bg_new(svc, &svc->bg)) {
        pthread_mutex_destroy(&svc->mu);
        intenti_free(svc);
        return INTENT_ERR_NOMEM;
    }
    *out = svc;
    return INTENT_OK;
}

int intent_service_retrain(intent_service *svc, const char *feedback_log, const char *data_path,
                           const intent_retrain_opts *o, intent_retrain_done_fn done, void *user) {
    if (!svc || !feedback_log)
        return INTENT_ERR_ARG;
    return intenti_bg_start(svc->bg, feedback_log, data_path, o, done, user);
}

int intent_service_retraining(intent_service *svc) { return svc && intenti_bg_running(svc->bg); }

void intent_service_free(intent_service *svc) {
    if (!svc)
        return;
    intenti_bg_free(svc->bg); /* a running retrain stops and is waited for first */
    served_drop(svc->cur);
    served_drop(svc->fb);
    pthread_mutex_destroy(&svc->mu);
    intenti_free(svc);
}

/* Installs m as primary or fallback; on failure the caller keeps m. */
static int install(intent_service *svc, intent_model *m, bool fallback, double load_ms, uint64_t *version) {
    served *r = served_new(svc, m, fallback, load_ms);
    if (!r)
        return INTENT_ERR_NOMEM;
    double now = intenti_unix_s();
    pthread_mutex_lock(&svc->mu);
    r->version = ++svc->n_versions;
    r->loaded_at = now;
    served **slot = fallback ? &svc->fb : &svc->cur;
    served *old = *slot;
    *slot = r;
    if (version)
        *version = r->version;
    pthread_mutex_unlock(&svc->mu);
    atomic_fetch_add_explicit(&svc->swaps, 1, RELAXED);
    served_drop(old); /* frees it now unless readers still hold it */
    return INTENT_OK;
}

int intent_service_swap(intent_service *svc, intent_model *m, uint64_t *version) {
    if (!svc || !m)
        return INTENT_ERR_ARG;
    return install(svc, m, false, 0.0, version);
}

int intent_service_set_fallback(intent_service *svc, intent_model *m) {
    if (!svc)
        return INTENT_ERR_ARG;
    if (m)
        return install(svc, m, true, 0.0, NULL);
    pthread_mutex_lock(&svc->mu);
    served *old = svc->fb;
    svc->fb = NULL;
    pthread_mutex_unlock(&svc->mu);
    served_drop(old);
    return INTENT_OK;
}

void intent_service_set_log(intent_service *svc, intent_log_fn fn, void *user) {
    if (!svc)
        return;
    pthread_mutex_lock(&svc->mu);
    svc->log = fn;
    svc->log_user = fn ? user : NULL;
    pthread_mutex_unlock(&svc->mu);
}

int intent_service_load(intent_service *svc, const char *path, intent_error *err) {
    if (!svc || !path)
        return intenti_err(err, INTENT_ERR_ARG, "intent_service_load: a service and a path are required");
    intent_error e;
    memset(&e, 0, sizeof e);
    intent_model *m = NULL;
    uint64_t t0 = intenti_now_ns(), version = 0;
    int rc = intent_model_load(path, &m, &e); /* the slow part: no lock held */
    double ms = (double)(intenti_now_ns() - t0) / 1e6;
    if (!rc) {
        rc = install(svc, m, false, ms, &version);
        if (rc) {
            intent_model_free(m);
            intenti_err(&e, rc, "%s: out of memory", path);
        }
    }
    char msg[sizeof e.message + 96]; /* the load's message plus what is served instead */
    if (rc) {
        atomic_fetch_add_explicit(&svc->load_failures, 1, RELAXED);
        pthread_mutex_lock(&svc->mu);
        const served *now = svc->cur ? svc->cur : svc->fb;
        if (!now)
            snprintf(msg, sizeof msg, "%s; no model is served", e.message);
        else
            snprintf(msg, sizeof msg, "%s; %s version %llu", e.message,
                     now == svc->cur ? "still serving" : "serving the fallback model,",
                     (unsigned long long)now->version);
        snprintf(svc->last_error, sizeof svc->last_error, "%.*s", (int)sizeof svc->last_error - 1, msg);
    } else {
        atomic_fetch_add_explicit(&svc->loads, 1, RELAXED);
        snprintf(msg, sizeof msg, "%s: loaded as version %llu in %.1f ms", path, (unsigned long long)version, ms);
        pthread_mutex_lock(&svc->mu);
    }
    intent_log_fn log = svc->log;
    void *log_user = svc->log_user;
    pthread_mutex_unlock(&svc->mu);
    if (log)
        log(rc, msg, log_user); /* outside the lock: it may call back into the service */
    if (rc)
        intenti_err(err, rc, "%.*s", (int)sizeof err->message - 1, msg);
    return rc;
}

size_t intent_service_last_error(intent_service *svc, char *buf, size_t cap) {
    if (cap)
        buf[0] = '\0';
    if (!svc)
        return 0;
    pthread_mutex_lock(&svc->mu);
    size_t n = strlen(svc->last_error);
    if (cap)
        snprintf(buf, cap, "%s", svc->last_error);
    pthread_mutex_unlock(&svc->mu);
    return n;
}

int intent_service_acquire(intent_service *svc, intent_lease *lease) {
    if (!lease)
        return INTENT_ERR_ARG;
    memset(lease, 0, sizeof *lease);
    if (!svc)
        return INTENT_ERR_ARG;
    pthread_mutex_lock(&svc->mu);
    served *r = svc->cur ? svc->cur : svc->fb;
    if (r)
        atomic_fetch_add_explicit(&r->refs, 1, RELAXED); /* under mu: r cannot be dropped meanwhile */
    pthread_mutex_unlock(&svc->mu);
    if (!r)
        return INTENT_ERR_NO_MODEL;
    lease->model = r->model;
    lease->version = r->version;
    lease->fallback = r->fallback;
    lease->handle = r;
    return INTENT_OK;
}

void intent_service_release(intent_service *svc, intent_lease *lease) {
    (void)svc; /* the record knows its service */
    if (!lease || !lease->handle)
        return;
    served_drop(lease->handle);
    memset(lease, 0, sizeof *lease);
}

void intenti_service_count_labels(const intent_lease *lease, const intent_score *top, size_t n) {
    served *r = lease->handle;
    for (size_t i = 0; i < n; i++)
        if (top[i].label < r->model->n_labels)
            atomic_fetch_add_explicit(&r->per_label[top[i].label], 1, RELAXED);
}

intenti_stats *intenti_service_stats_of(intent_service *svc) { return &svc->stats; }

void intenti_service_add_scratch(intent_service *svc, int64_t bytes) {
    atomic_fetch_add_explicit(&svc->scratch_bytes, bytes, RELAXED);
}

int intent_service_predict(intent_service *svc, const intent_lease *lease, intent_ctx *ctx, const char *text,
                           size_t len, float threshold, intent_score *top, size_t cap, size_t *n_top,
                           size_t *n_over) {
    if (!svc || !lease || !lease->handle)
        return INTENT_ERR_ARG;
    uint64_t t0 = intenti_now_ns();
    int rc = intent_predict(lease->model, ctx, text, len, threshold, top, cap, n_top, n_over);
    if (rc == INTENT_ERR_ARG)
        return rc; /* the caller's mistake, not an answer */
    uint64_t dt = intenti_now_ns() - t0;
    intenti_stats_answer(&svc->stats, intenti_stats_thread_shard(), rc, dt, rc ? 0 : *n_over, lease->fallback);
    if (!rc)
        intenti_service_count_labels(lease, top, *n_over < *n_top ? *n_over : *n_top);
    return rc;
}

/* ---- snapshot ---- */

int intent_service_stats(intent_service *svc, intent_stats *out) {
    if (!out)
        return INTENT_ERR_ARG;
    memset(out, 0, sizeof *out);
    if (!svc)
        return INTENT_ERR_ARG;
    intenti_stats_sum(&svc->stats, out);
    pthread_mutex_lock(&svc->mu);
    served *r = svc->cur ? svc->cur : svc->fb;
    if (r) {
        atomic_fetch_add_explicit(&r->refs, 1, RELAXED);
        out->model_version = r->version;
        out->serving_fallback = r->fallback;
        out->load_ms = r->load_ms;
        out->loaded_at = r->loaded_at;
    }
    memcpy(out->last_error, svc->last_error, sizeof out->last_error);
    pthread_mutex_unlock(&svc->mu);
    out->loads = atomic_load_explicit(&svc->loads, RELAXED);
    out->load_failures = atomic_load_explicit(&svc->load_failures, RELAXED);
    out->swaps = atomic_load_explicit(&svc->swaps, RELAXED);
    out->models_alive = atomic_load_explicit(&svc->models_alive, RELAXED);
    out->model_bytes = atomic_load_explicit(&svc->model_bytes, RELAXED);
    int64_t scratch = atomic_load_explicit(&svc->scratch_bytes, RELAXED);
    out->scratch_bytes = scratch > 0 ? (uint64_t)scratch : 0;
    out->memory_bytes = out->model_bytes + out->scratch_bytes;
    if (!r)
        return INTENT_OK;
    /* per-label counts with copies of the names, in one block: the model may be freed
     * before the snapshot is */
    const intent_model *m = r->model;
    size_t size = (size_t)m->n_labels * sizeof *out->per_label, names = 0;
    for (uint32_t i = 0; i < m->n_labels; i++)
        names += strlen(m->labels[i]) + 1;
    intent_label_count *pl = intenti_malloc(size + names);
    if (!pl) {
        served_drop(r);
        memset(out, 0, sizeof *out);
        return INTENT_ERR_NOMEM;
    }
    char *at = (char *)pl + size;
    for (uint32_t i = 0; i < m->n_labels; i++) {
        size_t n = strlen(m->labels[i]) + 1;
        memcpy(at, m->labels[i], n);
        pl[i].label = at;
        pl[i].answers = atomic_load_explicit(&r->per_label[i], RELAXED);
        at += n;
    }
    out->per_label = pl;
    out->n_labels = m->n_labels;
    served_drop(r);
    return INTENT_OK;
}

void intent_stats_free(intent_stats *st) {
    if (!st)
        return;
    intenti_free(st->per_label);
    memset(st, 0, sizeof *st);
}
