/*
 * components.h - the component registry's insides, shared by components.c (building,
 * validating, planning) and components_run.c (acquire, release, unloading). Never installed.
 *
 * DESIGN
 *   One mutex guards every component's run-time fields (state, holders, last_used,
 *   attempt) and the memory counters; the static fields (names, labels, dependencies,
 *   costs, callbacks) are written only before validation and read without the lock after.
 *   One condition variable is broadcast whenever a load or unload ends; waiters re-check
 *   the state of the component they wait for. Callbacks run with the lock released.
 *
 *   Memory, two sums of costs: `loaded` counts LOADED and UNLOADING components (what is
 *   in memory now: plans and intent_components_memory report it); `reserved` counts
 *   LOADED and LOADING ones (what will be in memory once the work in flight ends), and
 *   room is decided on it.
 */
#ifndef INTENT_COMPONENTS_H
#define INTENT_COMPONENTS_H

#include "intent_impl.h"

#include <pthread.h>

typedef struct intenti_comp {
    /* static: set by add/validate, read-only afterwards */
    char *name;
    char **labels;          /* [n_labels] owned */
    char **dep_names;       /* [n_deps] owned */
    uint32_t *deps;         /* [n_deps] ids, resolved by validate */
    uint32_t n_labels, n_deps;
    uint64_t memory, timeout_ms;
    intent_component_fn load, unload;
    void *user;
    /* run-time: under intent_components.mu */
    int state;              /* enum intent_component_state */
    uint32_t holders;       /* acquires holding it: never unloaded while > 0 */
    uint64_t last_used;     /* clock ms of the last load, acquire or release */
    uint64_t attempt;       /* load attempts started; waiters note which one they wait on */
    int last_rc;            /* what the last failed load callback returned */
} intenti_comp;

struct intent_components {
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* broadcast when any load or unload ends */
    intenti_comp *v;        /* [n] in order of addition: the component ids */
    uint32_t n, cap;
    uint32_t *order;        /* [n] every id, each after its dependencies (validate) */
    uint32_t *dep_mem;      /* every component's resolved deps, one block (validate) */
    bool valid;
    uint64_t budget;        /* 0 = none */
    uint64_t loaded;        /* bytes of LOADED + UNLOADING components */
    uint64_t reserved;      /* bytes of LOADED + LOADING components */
    intent_clock_fn clock;
    void *clock_user;
    char errmsg[512];
};

/* The labels of a command: names, or scores of a model. */
typedef struct intenti_labelset {
    const char *const *names;
    const intent_model *m;
    const intent_score *scores;
    size_t n;
} intenti_labelset;

static inline uint64_t intenti_comps_now(const intent_components *c) { return c->clock(c->clock_user); }

/* Allocates the lists of a plan for a registry of n components (one block); zeroes the
 * counts. mark gets an [n] scratch array of the same block. */
INTENTI_HIDDEN int intenti_plan_alloc(intent_plan *p, uint32_t n, uint8_t **mark);

/* Under c->mu: marks the components the labels need, with their dependencies (mark[i] =
 * 1), and fills p->required in load order. Returns the bytes of the required ones. */
INTENTI_HIDDEN uint64_t intenti_comps_required(const intent_components *c, const intenti_labelset *ls,
                                               uint8_t *mark, intent_plan *p);

/* Under c->mu: picks the idle components to unload (not marked, LOADED, no holder): those
 * past their timeout at now, then least recently used ones while `taken` bytes (what
 * will be in use, before these unloads) exceed the budget. Fills p->to_unload and
 * p->unload_why, least recently used first. Returns the bytes they free. */
INTENTI_HIDDEN uint64_t intenti_comps_victims(const intent_components *c, const uint8_t *mark,
                                              uint64_t now, uint64_t taken, intent_plan *p);

/* Starts a plan: clears *out, checks that the registry is validated and the arguments are
 * there, and allocates out's arrays and *mark (c->n bytes, inside out's allocation). */
INTENTI_HIDDEN int intenti_plan_begin(const intent_components *c, const intenti_labelset *ls,
                                      intent_plan *out, uint8_t **mark, intent_error *err);

#endif /* INTENT_COMPONENTS_H */
