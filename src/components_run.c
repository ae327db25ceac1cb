/*
 * components_run.c - carrying plans out: acquire (unload idle components, load the missing
 * ones, each once however many threads need it), release, and idle housekeeping.
 *
 * DESIGN (the lock and the two memory sums are described in components.h)
 *   acquire works in three steps:
 *   1. Under the lock: find the required set, hold every required component (holders++:
 *      from now on nobody unloads it), pick the idle victims and mark them UNLOADING so
 *      no other caller picks or uses them.
 *   2. Without the lock: call the victims' unload callbacks.
 *   3. For each required component, dependencies first: LOADED - nothing to do;
 *      UNLOADING (picked by another caller before we held it) - wait, then load it;
 *      LOADING (another caller's load) - wait for that attempt and share its outcome;
 *      UNLOADED - mark it LOADING, call its load callback without the lock, mark it LOADED
 *      or back UNLOADED, wake every waiter.
 *   A held component is never unloaded, so a waiter that finds it anything but LOADED once
 *   the attempt it waited for has ended knows that attempt failed. Callbacks never run
 *   under the lock and nothing waits inside a callback, so every wait ends.
 */
#include "components.h"

#include <inttypes.h>
#include <string.h>

/* Under the lock: the victims chosen in p->to_unload become UNLOADING (still in memory,
 * no longer reserved). */
static void start_unloads(intent_components *c, const intent_plan *p) {
    for (size_t i = 0; i < p->n_to_unload; i++) {
        intenti_comp *k = &c->v[p->to_unload[i]];
        k->state = INTENT_COMPONENT_UNLOADING;
        c->reserved -= k->memory;
    }
}

/* Without the lock: unloads what start_unloads marked. A failed unload leaves the
 * component LOADED and is listed in p->unload_failed. Returns how many were unloaded. */
static size_t finish_unloads(intent_components *c, intent_plan *p) {
    size_t done = 0;
    for (size_t i = 0; i < p->n_to_unload; i++) {
        intenti_comp *k = &c->v[p->to_unload[i]];
        int rc = k->unload ? k->unload(k->name, k->user) : 0;
        pthread_mutex_lock(&c->mu);
        if (rc) {
            k->state = INTENT_COMPONENT_LOADED;
            c->reserved += k->memory;
            p->unload_failed[p->n_unload_failed++] = p->to_unload[i];
        } else {
            k->state = INTENT_COMPONENT_UNLOADED;
            c->loaded -= k->memory;
            done++;
        }
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
    return done;
}

/* Brings held component id to LOADED. mark[d] == 2 flags a dependency that failed in this
 * acquire. Returns true when loaded; else false with *rc = the failed callback's value
 * (this caller's, or that of the attempt it waited for), or 0 when a dependency failed. */
static bool bring_up(intent_components *c, uint32_t id, const uint8_t *mark, int *rc) {
    intenti_comp *k = &c->v[id];
    *rc = 0;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        if (k->state == INTENT_COMPONENT_LOADED)
            break;
        if (k->state == INTENT_COMPONENT_UNLOADING) {
            pthread_cond_wait(&c->cv, &c->mu);
            continue;
        }
        if (k->state == INTENT_COMPONENT_LOADING) {
            uint64_t gen = k->attempt;
            while (k->state == INTENT_COMPONENT_LOADING && k->attempt == gen)
                pthread_cond_wait(&c->cv, &c->mu);
            if (k->state != INTENT_COMPONENT_LOADED)
                *rc = k->last_rc;
            break;
        }
        /* UNLOADED: this caller loads it, unless a dependency is missing. Dependencies come
         * earlier in load order and are held, so each is LOADED or flagged as failed. */
        for (uint32_t j = 0; j < k->n_deps; j++)
            if (mark[k->deps[j]] == 2) {
                pthread_mutex_unlock(&c->mu);
                return false;
            }
        k->state = INTENT_COMPONENT_LOADING;
        k->attempt++;
        c->reserved += k->memory;
        pthread_mutex_unlock(&c->mu);
        int r = k->load ? k->load(k->name, k->user) : 0;
        uint64_t now = intenti_comps_now(c);
        pthread_mutex_lock(&c->mu);
        if (r == 0) {
            k->state = INTENT_COMPONENT_LOADED;
            k->last_used = now;
            c->loaded += k->memory;
        } else {
            k->state = INTENT_COMPONENT_UNLOADED; /* not cached: the next acquire retries */
            k->last_rc = r;
            c->reserved -= k->memory;
            *rc = r;
        }
        pthread_cond_broadcast(&c->cv);
        break;
    }
    bool ok = k->state == INTENT_COMPONENT_LOADED;
    pthread_mutex_unlock(&c->mu);
    return ok;
}

static int acquire(intent_components *c, const intenti_labelset *ls, intent_plan *out,
                   intent_error *err) {
    uint8_t *mark;
    int rc = intenti_plan_begin(c, ls, out, &mark, err);
    if (rc)
        return rc;
    uint64_t now = intenti_comps_now(c);

    /* 1. hold the required components, pick and mark the victims */
    pthread_mutex_lock(&c->mu);
    uint64_t bytes = intenti_comps_required(c, ls, mark, out);
    out->budget = c->budget;
    if (c->budget && bytes > c->budget) {
        pthread_mutex_unlock(&c->mu);
        return intenti_err(err, INTENT_ERR_LIMIT,
                           "components: this command needs %" PRIu64 " bytes of components, "
                           "more than the budget of %" PRIu64, bytes, c->budget);
    }
    uint64_t need = 0;
    for (size_t i = 0; i < out->n_required; i++) {
        intenti_comp *k = &c->v[out->required[i]];
        k->holders++;
        if (k->state == INTENT_COMPONENT_LOADED) {
            out->loaded[out->n_loaded++] = out->required[i];
            continue;
        }
        out->to_load[out->n_to_load++] = out->required[i];
        if (k->state != INTENT_COMPONENT_LOADING) /* a load in flight is reserved already */
            need += k->memory;
    }
    intenti_comps_victims(c, mark, now, c->reserved + need, out);
    start_unloads(c, out);
    out->memory_before = c->loaded;
    pthread_mutex_unlock(&c->mu);

    /* 2. make room */
    finish_unloads(c, out);

    /* 3. load, dependencies first */
    for (size_t i = 0; i < out->n_required; i++) {
        uint32_t id = out->required[i];
        int r;
        if (!bring_up(c, id, mark, &r)) {
            mark[id] = 2;
            out->load_rc[out->n_load_failed] = r;
            out->load_failed[out->n_load_failed++] = id;
        }
    }

    now = intenti_comps_now(c);
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < out->n_required; i++) {
        intenti_comp *k = &c->v[out->required[i]];
        k->holders--;
        if (!out->n_load_failed) { /* held for the caller until release */
            k->holders++;
            k->last_used = now;
        }
    }
    out->held = out->n_load_failed == 0;
    out->memory_after = c->loaded;
    pthread_mutex_unlock(&c->mu);
    if (!out->n_load_failed)
        return INTENT_OK;
    const char *name = c->v[out->load_failed[0]].name;
    if (out->load_rc[0])
        return intenti_err(err, INTENT_ERR_COMPONENT, "component %s: load failed (its load "
                           "callback returned %d)", name, out->load_rc[0]);
    return intenti_err(err, INTENT_ERR_COMPONENT, "component %s: not loaded: a dependency "
                       "did not load", name);
}

int intent_components_acquire(intent_components *c, const char *const *labels, size_t n_labels,
                              intent_plan *out, intent_error *err) {
    intenti_labelset ls = {labels, NULL, NULL, n_labels};
    return acquire(c, &ls, out, err);
}

int intent_components_acquire_scores(intent_components *c, const intent_model *m,
                                     const intent_score *scores, size_t n, intent_plan *out,
                                     intent_error *err) {
    intenti_labelset ls = {NULL, m, scores, n};
    return acquire(c, &ls, out, err);
}

int intent_components_release(intent_components *c, intent_plan *p) {
    if (!c || !p)
        return INTENT_ERR_ARG;
    if (!p->held)
        return INTENT_OK;
    uint64_t now = intenti_comps_now(c);
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < p->n_required; i++) {
        if (p->required[i] >= c->n)
            continue; /* not from this registry: nothing sane to do */
        intenti_comp *k = &c->v[p->required[i]];
        if (k->holders)
            k->holders--;
        k->last_used = now;
    }
    pthread_mutex_unlock(&c->mu);
    p->held = 0;
    return INTENT_OK;
}

int intent_components_unload_idle(intent_components *c, size_t *n_unloaded, intent_error *err) {
    if (n_unloaded)
        *n_unloaded = 0;
    if (!c)
        return intenti_err(err, INTENT_ERR_ARG, "components: registry is NULL");
    intent_plan p;
    uint8_t *mark; /* all zero: nothing is required */
    if (intenti_plan_alloc(&p, c->n, &mark))
        return intenti_err(err, INTENT_ERR_NOMEM, "components: out of memory");
    uint64_t now = intenti_comps_now(c);
    pthread_mutex_lock(&c->mu);
    intenti_comps_victims(c, mark, now, c->reserved, &p);
    start_unloads(c, &p);
    pthread_mutex_unlock(&c->mu);
    size_t done = finish_unloads(c, &p);
    if (n_unloaded)
        *n_unloaded = done;
    int rc = INTENT_OK;
    if (p.n_unload_failed)
        rc = intenti_err(err, INTENT_ERR_COMPONENT, "component %s: unload failed (its unload "
                         "callback returned non-zero); it stays loaded",
                         c->v[p.unload_failed[0]].name);
    intent_plan_free(&p);
    return rc;
}
