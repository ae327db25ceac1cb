/*
 * test_components.c - the component manager: load order with dependencies, validation
 * errors (unknown dependency, cycles, duplicates), LRU unloading to fit the budget, idle
 * timeouts on a fake clock, failed loads reported and retried, concurrent acquirers that
 * never load a component twice, and allocation-failure loops.
 */
#include "tests.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- fixtures ---- */

static uint64_t fake_now(void *user) { return *(const uint64_t *)user; }

/* What the callbacks saw, per component id (callbacks get the component's name; the
 * registry is built so that its user pointer is the slot of the component). */
typedef struct slot {
    atomic_int loads, unloads;
    atomic_int in_memory;    /* 1 between a successful load and its unload */
    atomic_int users;        /* test threads holding it */
    atomic_int violations;   /* loaded twice, unloaded while not loaded or while in use */
    atomic_int fail_next;    /* the next loads fail with this many... */
    int fail_rc;             /* ...returning this */
    int unload_rc;           /* what unload returns */
    int slow_us;             /* load takes this long */
} slot;

static int cb_load(const char *name, void *user) {
    (void)name;
    slot *s = user;
    if (s->slow_us) {
        struct timespec ts = {0, (long)s->slow_us * 1000};
        nanosleep(&ts, NULL);
    }
    atomic_fetch_add(&s->loads, 1);
    if (atomic_load(&s->fail_next) > 0) {
        atomic_fetch_sub(&s->fail_next, 1);
        return s->fail_rc;
    }
    if (atomic_exchange(&s->in_memory, 1) != 0)
        atomic_fetch_add(&s->violations, 1);
    return 0;
}

static int cb_unload(const char *name, void *user) {
    (void)name;
    slot *s = user;
    atomic_fetch_add(&s->unloads, 1);
    if (s->unload_rc)
        return s->unload_rc;
    if (atomic_load(&s->users) != 0 || atomic_exchange(&s->in_memory, 0) != 1)
        atomic_fetch_add(&s->violations, 1);
    return 0;
}

/* Splits "a,b,c" into out[] (pointers into buf); returns the count. */
static size_t split(const char *csv, char *buf, size_t cap, const char **out, size_t max) {
    size_t n = 0;
    if (!csv || !*csv)
        return 0;
    snprintf(buf, cap, "%s", csv);
    for (char *p = buf; n < max;) {
        out[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

static int add(intent_components *c, const char *name, const char *labels, const char *deps,
               uint64_t memory, uint64_t timeout_ms, slot *s) {
    char lb[256], db[256];
    const char *l[16], *d[16];
    intent_component_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.name = name;
    sp.labels = l;
    sp.n_labels = split(labels, lb, sizeof lb, l, 16);
    sp.depends = d;
    sp.n_depends = split(deps, db, sizeof db, d, 16);
    sp.memory = memory;
    sp.idle_timeout_ms = timeout_ms;
    sp.load = s ? cb_load : NULL;
    sp.unload = s ? cb_unload : NULL;
    sp.user = s;
    return intent_components_add(c, &sp);
}

/* Names of a plan list joined by ',' into buf, for compact asserts. */
static const char *names(const intent_components *c, const uint32_t *ids, size_t n, char *buf,
                         size_t cap) {
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%s", i ? "," : "", intent_components_name(c, ids[i]));
    return buf;
}

#define LIST(c, p, field) names(c, (p).field, (p).n_##field, buf, sizeof buf)

/* The assistant's shape: vision added before what it depends on, shared audio. */
static intent_components *assistant(uint64_t budget, slot *slots, uint64_t *clock) {
    intent_components *c;
    assert_int_equal(intent_components_new(budget, &c), INTENT_OK);
    if (clock)
        intent_components_set_clock(c, fake_now, clock);
    assert_int_equal(add(c, "vision", "VISION", "ocr,screen", 300, 0, slots ? &slots[0] : NULL), INTENT_OK);
    assert_int_equal(add(c, "ocr", "", "screen", 100, 0, slots ? &slots[1] : NULL), INTENT_OK);
    assert_int_equal(add(c, "screen", "", "", 50, 0, slots ? &slots[2] : NULL), INTENT_OK);
    assert_int_equal(add(c, "audio", "", "", 20, 0, slots ? &slots[3] : NULL), INTENT_OK);
    assert_int_equal(add(c, "stt", "VOICE", "audio", 200, 0, slots ? &slots[4] : NULL), INTENT_OK);
    assert_int_equal(add(c, "tts", "VOICE", "audio", 150, 0, slots ? &slots[5] : NULL), INTENT_OK);
    assert_int_equal(add(c, "llm", "CHAT", "", 2000, 0, slots ? &slots[6] : NULL), INTENT_OK);
    assert_int_equal(add(c, "reader", "FILES,VISION", "tts", 10, 0, slots ? &slots[7] : NULL), INTENT_OK);
    assert_int_equal(intent_components_validate(c), INTENT_OK);
    return c;
}

/* ---- tests ---- */

static void plan_load_order(void **state) {
    (void)state;
    char buf[256];
    intent_components *c = assistant(0, NULL, NULL);
    intent_plan p;
    const char *vis[] = {"VISION"};
    assert_int_equal(intent_components_plan(c, vis, 1, &p, NULL), INTENT_OK);
    /* dependencies first; vision's own order (ocr, screen) is kept where it can be */
    assert_string_equal(LIST(c, p, required), "screen,ocr,vision,audio,tts,reader");
    assert_string_equal(LIST(c, p, to_load), "screen,ocr,vision,audio,tts,reader");
    assert_int_equal(p.n_loaded, 0);
    assert_int_equal(p.n_to_unload, 0);
    assert_int_equal(p.memory_before, 0);
    assert_int_equal(p.memory_after, 50 + 100 + 300 + 20 + 150 + 10);
    intent_plan_free(&p);

    const char *voice[] = {"nothing", "VOICE", "VOICE"}; /* unknown and repeated labels */
    assert_int_equal(intent_components_plan(c, voice, 3, &p, NULL), INTENT_OK);
    assert_string_equal(LIST(c, p, required), "audio,stt,tts");
    intent_plan_free(&p);

    /* already loaded ones are told apart, load order kept */
    assert_int_equal(intent_components_set_loaded(c, (size_t)intent_components_find(c, "screen"), 0), INTENT_OK);
    assert_int_equal(intent_components_set_loaded(c, (size_t)intent_components_find(c, "tts"), 0), INTENT_OK);
    assert_int_equal(intent_components_set_loaded(c, (size_t)intent_components_find(c, "tts"), 0), INTENT_ERR_ARG);
    assert_int_equal(intent_components_memory(c), 200);
    assert_int_equal(intent_components_plan(c, vis, 1, &p, NULL), INTENT_OK);
    assert_string_equal(LIST(c, p, loaded), "screen,tts");
    assert_string_equal(LIST(c, p, to_load), "ocr,vision,audio,reader");
    assert_int_equal(p.memory_before, 200);
    intent_plan_free(&p);

    /* no labels: nothing required */
    assert_int_equal(intent_components_plan(c, NULL, 0, &p, NULL), INTENT_OK);
    assert_int_equal(p.n_required, 0);
    intent_plan_free(&p);
    intent_components_free(c);
}

static void validation_errors(void **state) {
    (void)state;
    intent_components *c;
    intent_plan p;
    intent_error err;
    const char *l[] = {"A"};

    assert_int_equal(intent_components_new(0, &c), INTENT_OK);
    assert_int_equal(add(c, "vision", "VISION", "camera", 1, 0, NULL), INTENT_OK);
    /* not validated yet: plan refuses */
    assert_int_equal(intent_components_plan(c, l, 1, &p, &err), INTENT_ERR_ARG);
    assert_non_null(strstr(err.message, "not validated"));
    intent_plan_free(&p);
    assert_int_equal(intent_components_validate(c), INTENT_ERR_ARG);
    assert_string_equal(intent_components_errmsg(c), "component vision: unknown dependency \"camera\"");
    assert_int_equal(add(c, "camera", "", "", 1, 0, NULL), INTENT_OK); /* fixable: add it */
    assert_int_equal(intent_components_validate(c), INTENT_OK);
    assert_string_equal(intent_components_errmsg(c), "");
    assert_int_equal(add(c, "late", "", "", 1, 0, NULL), INTENT_ERR_ARG);
    assert_non_null(strstr(intent_components_errmsg(c), "component late: the registry is validated"));
    intent_components_free(c);

    assert_int_equal(intent_components_new(0, &c), INTENT_OK);
    assert_int_equal(add(c, "x", "", "", 1, 0, NULL), INTENT_OK);
    assert_int_equal(add(c, "a", "", "x,b", 1, 0, NULL), INTENT_OK);
    assert_int_equal(add(c, "b", "", "c", 1, 0, NULL), INTENT_OK);
    assert_int_equal(add(c, "c", "", "x,a", 1, 0, NULL), INTENT_OK);
    assert_int_equal(intent_components_validate(c), INTENT_ERR_ARG);
    assert_string_equal(intent_components_errmsg(c), "component a: dependency cycle a -> b -> c -> a");
    assert_int_equal(intent_components_validate(c), INTENT_ERR_ARG); /* still refused */
    intent_components_free(c);

    assert_int_equal(intent_components_new(0, &c), INTENT_OK);
    assert_int_equal(add(c, "self", "", "self", 1, 0, NULL), INTENT_OK);
    assert_int_equal(intent_components_validate(c), INTENT_ERR_ARG);
    assert_string_equal(intent_components_errmsg(c), "component self: dependency cycle self -> self");
    intent_components_free(c);

    assert_int_equal(intent_components_new(0, &c), INTENT_OK);
    assert_int_equal(add(c, "tts", "VOICE", "", 1, 0, NULL), INTENT_OK);
    assert_int_equal(add(c, "tts", "VOICE", "", 1, 0, NULL), INTENT_ERR_ARG);
    assert_string_equal(intent_components_errmsg(c), "component tts: a component of that name exists already");
    assert_int_equal(add(c, "two words", "", "", 1, 0, NULL), INTENT_ERR_ARG);
    assert_string_equal(intent_components_errmsg(c), "component #2: name contains whitespace");
    assert_int_equal(add(c, "", "", "", 1, 0, NULL), INTENT_ERR_ARG);
    assert_string_equal(intent_components_errmsg(c), "component #2: name is empty");
    assert_int_equal(add(c, "stt", "VOICE,", "", 1, 0, NULL), INTENT_ERR_ARG);
    assert_string_equal(intent_components_errmsg(c), "component stt: label \"\" is empty");
    assert_int_equal(add(c, "huge", "", "", INTENT_MAX_COMPONENT_MEMORY + 1, 0, NULL), INTENT_ERR_LIMIT);
    assert_int_equal(intent_components_count(c), 1); /* failures left it unchanged */
    assert_int_equal(intent_components_add(c, NULL), INTENT_ERR_ARG);
    assert_int_equal(intent_components_new(0, NULL), INTENT_ERR_ARG);
    assert_int_equal(intent_components_validate(c), INTENT_OK);
    assert_int_equal(intent_components_plan(c, l, 1, NULL, NULL), INTENT_ERR_ARG);
    assert_int_equal(intent_components_plan(c, NULL, 1, &p, NULL), INTENT_ERR_ARG);
    intent_plan_free(&p);
    assert_null(intent_components_name(c, 1));
    assert_int_equal(intent_components_find(c, "nope"), -1);
    intent_components_free(c);
    intent_components_free(NULL);
    intent_plan_free(NULL);
}

static void lru_unloads_to_fit_budget(void **state) {
    (void)state;
    char buf[256];
    slot s[4];
    memset(s, 0, sizeof s);
    uint64_t now = 0;
    intent_components *c;
    assert_int_equal(intent_components_new(1000, &c), INTENT_OK);
    intent_components_set_clock(c, fake_now, &now);
    assert_int_equal(add(c, "a", "A", "", 400, 0, &s[0]), INTENT_OK);
    assert_int_equal(add(c, "b", "B", "", 300, 0, &s[1]), INTENT_OK);
    assert_int_equal(add(c, "c", "C", "", 200, 0, &s[2]), INTENT_OK);
    assert_int_equal(add(c, "d", "D", "", 500, 0, &s[3]), INTENT_OK);
    assert_int_equal(intent_components_validate(c), INTENT_OK);

    const char *A[] = {"A"}, *B[] = {"B"}, *C[] = {"C"}, *D[] = {"D"}, *AD[] = {"A", "D"};
    intent_plan p;
    now = 1; assert_int_equal(intent_components_acquire(c, A, 1, &p, NULL), INTENT_OK);
    now = 2; intent_components_release(c, &p); intent_plan_free(&p);
    now = 3; assert_int_equal(intent_components_acquire(c, B, 1, &p, NULL), INTENT_OK);
    now = 4; intent_components_release(c, &p); intent_plan_free(&p);
    now = 5; assert_int_equal(intent_components_acquire(c, C, 1, &p, NULL), INTENT_OK);
    now = 6; intent_components_release(c, &p); intent_plan_free(&p);
    assert_int_equal(intent_components_memory(c), 900);

    /* D needs 500: 1400 > 1000, so the least recently used (a, 400) goes; 1000 fits */
    now = 10;
    assert_int_equal(intent_components_plan(c, D, 1, &p, NULL), INTENT_OK);
    assert_string_equal(LIST(c, p, to_unload), "a");
    assert_int_equal(p.unload_why[0], INTENT_UNLOAD_BUDGET);
    assert_int_equal(p.memory_after, 1000);
    intent_plan_free(&p);

    /* use a again: now b (4) and c (6) are the oldest, and both must go */
    now = 11; assert_int_equal(intent_components_acquire(c, A, 1, &p, NULL), INTENT_OK);
    assert_string_equal(LIST(c, p, loaded), "a");
    assert_int_equal(p.n_to_load, 0);
    now = 12; intent_components_release(c, &p); intent_plan_free(&p);
    now = 20;
    assert_int_equal(intent_components_acquire(c, D, 1, &p, NULL), INTENT_OK);
    assert_string_equal(LIST(c, p, to_unload), "b,c");
    assert_int_equal(p.memory_before, 900);
    assert_int_equal(p.memory_after, 900);
    assert_int_equal(atomic_load(&s[1].unloads), 1);
    assert_int_equal(atomic_load(&s[2].unloads), 1);
    assert_int_equal(atomic_load(&s[3].loads), 1);

    /* while d is held, only idle a can make room for B */
    intent_plan q, r;
    now = 21;
    assert_int_equal(intent_components_plan(c, B, 1, &q, NULL), INTENT_OK);
    assert_string_equal(LIST(c, q, to_unload), "a");
    intent_plan_free(&q);
    /* with a held too, nothing is idle: B loads anyway, over the budget */
    assert_int_equal(intent_components_acquire(c, AD, 2, &q, NULL), INTENT_OK); /* d held twice */
    assert_int_equal(intent_components_acquire(c, B, 1, &r, NULL), INTENT_OK);
    assert_int_equal(r.n_to_unload, 0);
    assert_int_equal(r.memory_after, 1200);
    now = 22; intent_components_release(c, &r); intent_plan_free(&r);
    now = 23; intent_components_release(c, &q); intent_plan_free(&q);
    now = 24; intent_components_release(c, &p); intent_plan_free(&p);
    assert_int_equal(intent_components_memory(c), 1200);
    /* idle housekeeping brings it back under: the oldest idle one (b, 22) goes */
    size_t n;
    now = 30;
    assert_int_equal(intent_components_unload_idle(c, &n, NULL), INTENT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(atomic_load(&s[1].unloads), 2);
    assert_int_equal(intent_components_memory(c), 900);

    /* a command whose own components exceed the budget is refused, nothing touched */
    intent_components_free(c);
    assert_int_equal(intent_components_new(600, &c), INTENT_OK);
    assert_int_equal(add(c, "big", "X", "", 700, 0, NULL), INTENT_OK);
    assert_int_equal(intent_components_validate(c), INTENT_OK);
    const char *X[] = {"X"};
    intent_error err;
    assert_int_equal(intent_components_acquire(c, X, 1, &p, &err), INTENT_ERR_LIMIT);
    assert_int_equal(p.held, 0);
    assert_int_equal(intent_components_memory(c), 0);
    intent_plan_free(&p);
    assert_int_equal(intent_components_plan(c, X, 1, &p, NULL), INTENT_OK);
    assert_true(p.memory_after > p.budget);
    intent_plan_free(&p);
    intent_components_free(c);
}

static void idle_timeout_on_fake_clock(void **state) {
    (void)state;
    char buf[256];
    slot s[3];
    memset(s, 0, sizeof s);
    uint64_t now = 100;
    intent_components *c;
    assert_int_equal(intent_components_new(0, &c), INTENT_OK);
    intent_components_set_clock(c, fake_now, &now);
    assert_int_equal(add(c, "x", "X", "", 10, 1000, &s[0]), INTENT_OK);
    assert_int_equal(add(c, "y", "Y", "", 10, 50, &s[1]), INTENT_OK);
    assert_int_equal(add(c, "z", "Z", "", 10, 0, &s[2]), INTENT_OK); /* never for idleness */
    assert_int_equal(intent_components_validate(c), INTENT_OK);
    const char *XZ[] = {"X", "Z"}, *Y[] = {"Y"};
    intent_plan p, q;
    assert_int_equal(intent_components_acquire(c, XZ, 2, &p, NULL), INTENT_OK);
    now = 200;
    intent_components_release(c, &p);
    intent_plan_free(&p);
    assert_int_equal(intent_components_acquire(c, Y, 1, &q, NULL), INTENT_OK); /* held */
    size_t n;
    now = 1199; /* x idle 999 ms: stays; y past its 50 ms but held: stays */
    assert_int_equal(intent_components_unload_idle(c, &n, NULL), INTENT_OK);
    assert_int_equal(n, 0);
    now = 1200;
    assert_int_equal(intent_components_plan(c, NULL, 0, &p, NULL), INTENT_OK);
    assert_string_equal(LIST(c, p, to_unload), "x");
    assert_int_equal(p.unload_why[0], INTENT_UNLOAD_TIMEOUT);
    intent_plan_free(&p);
    assert_int_equal(intent_components_unload_idle(c, &n, NULL), INTENT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(atomic_load(&s[0].unloads), 1);
    intent_component_info info;
    assert_int_equal(intent_components_info(c, 0, &info), INTENT_OK);
    assert_int_equal(info.state, INTENT_COMPONENT_UNLOADED);
    assert_int_equal(intent_components_info(c, 1, &info), INTENT_OK);
    assert_int_equal(info.holders, 1);
    assert_int_equal(intent_components_info(c, 3, &info), INTENT_ERR_ARG);
    intent_components_release(c, &q);
    intent_components_release(c, &q); /* twice: harmless */
    intent_plan_free(&q);
    now = 1250; /* y released at 1200 with a 50 ms timeout */
    assert_int_equal(intent_components_unload_idle(c, &n, NULL), INTENT_OK);
    assert_int_equal(n, 1);
    now = 1000000;
    assert_int_equal(intent_components_unload_idle(c, &n, NULL), INTENT_OK);
    assert_int_equal(n, 0); /* z has no timeout */
    assert_int_equal(intent_components_memory(c), 10);

    /* a failed unload keeps the component loaded and says so */
    s[2].unload_rc = 5;
    intent_components_free(c);
    assert_int_equal(intent_components_new(0, &c), INTENT_OK);
    intent_components_set_clock(c, fake_now, &now);
    assert_int_equal(add(c, "z", "Z", "", 10, 1, &s[2]), INTENT_OK);
    assert_int_equal(intent_components_validate(c), INTENT_OK);
    assert_int_equal(intent_components_acquire(c, XZ + 1, 1, &p, NULL), INTENT_OK);
    intent_components_release(c, &p);
    intent_plan_free(&p);
    now += 10;
    intent_error err;
    assert_int_equal(intent_components_unload_idle(c, &n, &err), INTENT_ERR_COMPONENT);
    assert_int_equal(n, 0);
    assert_non_null(strstr(err.message, "component z: unload failed"));
    assert_int_equal(intent_components_memory(c), 10);
    intent_components_free(c);
}

static void failed_load_is_retried(void **state) {
    (void)state;
    char buf[256];
    slot s[3];
    memset(s, 0, sizeof s);
    intent_components *c;
    assert_int_equal(intent_components_new(0, &c), INTENT_OK);
    assert_int_equal(add(c, "base", "", "", 5, 0, &s[0]), INTENT_OK);
    assert_int_equal(add(c, "flaky", "", "base", 10, 0, &s[1]), INTENT_OK);
    assert_int_equal(add(c, "app", "APP", "flaky", 20, 0, &s[2]), INTENT_OK);
    assert_int_equal(intent_components_validate(c), INTENT_OK);
    atomic_store(&s[1].fail_next, 1);
    s[1].fail_rc = 7;
    const char *L[] = {"APP"};
    intent_plan p;
    intent_error err;
    assert_int_equal(intent_components_acquire(c, L, 1, &p, &err), INTENT_ERR_COMPONENT);
    assert_string_equal(err.message, "component flaky: load failed (its load callback returned 7)");
    assert_string_equal(LIST(c, p, load_failed), "flaky,app");
    assert_int_equal(p.load_rc[0], 7);
    assert_int_equal(p.load_rc[1], 0); /* not tried: its dependency failed */
    assert_int_equal(p.held, 0);
    assert_int_equal(atomic_load(&s[2].loads), 0);
    assert_int_equal(intent_components_memory(c), 5); /* base loaded and kept, idle */
    intent_component_info info;
    intent_components_info(c, 1, &info);
    assert_int_equal(info.state, INTENT_COMPONENT_UNLOADED);
    assert_int_equal(info.holders, 0);
    intent_components_info(c, 0, &info);
    assert_int_equal(info.holders, 0);
    intent_plan_free(&p);

    /* the next acquire tries again, and base is not loaded a second time */
    assert_int_equal(intent_components_acquire(c, L, 1, &p, NULL), INTENT_OK);
    assert_string_equal(LIST(c, p, loaded), "base");
    assert_string_equal(LIST(c, p, to_load), "flaky,app");
    assert_int_equal(p.n_load_failed, 0);
    assert_int_equal(atomic_load(&s[0].loads), 1);
    assert_int_equal(atomic_load(&s[1].loads), 2);
    assert_int_equal(atomic_load(&s[2].loads), 1);
    assert_int_equal(p.memory_after, 35);
    intent_components_release(c, &p);
    intent_plan_free(&p);
    intent_components_free(c);
}

/* ---- concurrency ---- */

enum { N_THREADS = 8 };

typedef struct worker {
    intent_components *c;
    slot *slots;
    const char *const *labels;
    size_t n_labels;
    unsigned seed;
    int rounds;
    atomic_int *errors;
} worker;

/* Holds what acquire gave for a moment, checking that the callbacks saw it loaded. */
static void use(worker *w, const intent_plan *p, int hold) {
    for (size_t i = 0; i < p->n_required; i++)
        atomic_fetch_add(&w->slots[p->required[i]].users, 1);
    for (size_t i = 0; i < p->n_required; i++)
        if (!atomic_load(&w->slots[p->required[i]].in_memory))
            atomic_fetch_add(w->errors, 1);
    if (hold) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < p->n_required; i++)
        atomic_fetch_sub(&w->slots[p->required[i]].users, 1);
}

static void *same_labels(void *arg) {
    worker *w = arg;
    intent_plan p;
    if (intent_components_acquire(w->c, w->labels, w->n_labels, &p, NULL) != INTENT_OK)
        atomic_fetch_add(w->errors, 1);
    else
        use(w, &p, 1);
    intent_components_release(w->c, &p);
    intent_plan_free(&p);
    return NULL;
}

static void eight_threads_load_once(void **state) {
    (void)state;
    slot s[8];
    memset(s, 0, sizeof s);
    for (int i = 0; i < 8; i++)
        s[i].slow_us = 5000; /* long enough that every thread arrives during the loads */
    intent_components *c = assistant(0, s, NULL);
    static const char *labels[] = {"VISION", "VOICE"};
    atomic_int errors = 0;
    pthread_t th[N_THREADS];
    worker w[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        w[i] = (worker){c, s, labels, 2, (unsigned)i, 1, &errors};
        assert_int_equal(pthread_create(&th[i], NULL, same_labels, &w[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&errors), 0);
    for (int i = 0; i < 8; i++) {
        int want = i == 6 ? 0 : 1; /* everything but llm is needed, once */
        assert_int_equal(atomic_load(&s[i].loads), want);
        assert_int_equal(atomic_load(&s[i].violations), 0);
        intent_component_info info;
        intent_components_info(c, (size_t)i, &info);
        assert_int_equal(info.holders, 0);
    }
    intent_components_free(c);
}

/* Random commands on a budget that forces constant unloading, some loads failing. */
static void *random_labels(void *arg) {
    worker *w = arg;
    static const char *all[] = {"VISION", "VOICE", "CHAT", "FILES"};
    for (int r = 0; r < w->rounds; r++) {
        const char *ls[2];
        unsigned x = w->seed = w->seed * 1103515245u + 12345u;
        ls[0] = all[(x >> 16) % 4];
        ls[1] = all[(x >> 20) % 4];
        intent_plan p;
        int rc = intent_components_acquire(w->c, ls, 1 + (x >> 24) % 2, &p, NULL);
        if (rc == INTENT_OK)
            use(w, &p, (x >> 8) & 1);
        else if (rc != INTENT_ERR_COMPONENT)
            atomic_fetch_add(w->errors, 1);
        intent_components_release(w->c, &p);
        intent_plan_free(&p);
        if ((x & 7) == 0)
            intent_components_unload_idle(w->c, NULL, NULL);
    }
    return NULL;
}

static void threads_under_budget_pressure(void **state) {
    (void)state;
    slot s[8];
    memset(s, 0, sizeof s);
    for (int i = 0; i < 8; i++)
        s[i].slow_us = 50;
    atomic_store(&s[1].fail_next, 20); /* ocr fails its first 20 loads */
    s[1].fail_rc = 3;
    intent_components *c = assistant(2700, s, NULL); /* llm (2000) crowds out the rest */
    atomic_int errors = 0;
    pthread_t th[N_THREADS];
    worker w[N_THREADS];
    int rounds = quick_mode() ? 100 : 400;
    for (int i = 0; i < N_THREADS; i++) {
        w[i] = (worker){c, s, NULL, 0, 12345u + (unsigned)i * 7919u, rounds, &errors};
        assert_int_equal(pthread_create(&th[i], NULL, random_labels, &w[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&errors), 0);
    uint64_t mem = 0;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(atomic_load(&s[i].violations), 0);
        intent_component_info info;
        intent_components_info(c, (size_t)i, &info);
        assert_int_equal(info.holders, 0);
        int failed = i == 1 ? 20 - atomic_load(&s[1].fail_next) : 0;
        /* every successful load was matched by an unload, except what is loaded now */
        assert_int_equal(atomic_load(&s[i].loads) - failed - atomic_load(&s[i].unloads),
                         info.state == INTENT_COMPONENT_LOADED);
        assert_int_equal(atomic_load(&s[i].in_memory), info.state == INTENT_COMPONENT_LOADED);
        if (info.state == INTENT_COMPONENT_LOADED)
            mem += info.memory;
    }
    assert_int_equal(intent_components_memory(c), mem);
    assert_true(atomic_load(&s[6].unloads) > 0); /* the budget did force unloading */
    assert_int_equal(intent_components_unload_idle(c, NULL, NULL), INTENT_OK);
    assert_true(intent_components_memory(c) <= 2700); /* nothing held: back within budget */
    intent_components_free(c);
}

/* ---- with a model ---- */

static void plan_from_scores(void **state) {
    (void)state;
    char buf[256];
    intent_dataset *ds = ds_from_text("VISION\tlook at my screen\nVISION\twhat do you see\n"
                                      "VOICE\tsay it out loud\nVOICE\tread it to me\n");
    assert_non_null(ds);
    intent_model *m = train_small(ds, 1, 1);
    assert_non_null(m);
    intent_components *c = assistant(0, NULL, NULL);
    intent_score sc[1] = {{(uint32_t)intent_model_label_id(m, "VOICE"), 0.9f}};
    intent_plan p;
    assert_int_equal(intent_components_plan_scores(c, m, sc, 1, &p, NULL), INTENT_OK);
    assert_string_equal(LIST(c, p, required), "audio,stt,tts");
    intent_plan_free(&p);
    assert_int_equal(intent_components_acquire_scores(c, m, sc, 1, &p, NULL), INTENT_OK);
    assert_int_equal(p.held, 1);
    assert_int_equal(intent_components_memory(c), 370);
    intent_components_release(c, &p);
    intent_plan_free(&p);
    assert_int_equal(intent_components_plan_scores(c, NULL, NULL, 1, &p, NULL), INTENT_ERR_ARG);
    intent_plan_free(&p);
    intent_components_free(c);
    intent_model_free(m);
    intent_dataset_free(ds);
}

/* ---- allocation failures ---- */

static int build_and_run(void *arg) {
    (void)arg;
    slot s[4];
    memset(s, 0, sizeof s);
    uint64_t now = 0;
    intent_components *c;
    int rc = intent_components_new(500, &c);
    if (rc)
        return rc;
    intent_components_set_clock(c, fake_now, &now);
    if (!rc) rc = add(c, "app", "APP", "lib,net", 200, 10, &s[0]);
    if (!rc) rc = add(c, "lib", "LIB", "", 100, 10, &s[1]);
    if (!rc) rc = add(c, "net", "", "", 50, 0, &s[2]);
    if (!rc) rc = add(c, "big", "BIG", "lib", 300, 0, &s[3]);
    if (!rc) rc = intent_components_validate(c);
    const char *A[] = {"APP"}, *B[] = {"BIG"};
    intent_plan p;
    memset(&p, 0, sizeof p);
    if (!rc) rc = intent_components_plan(c, A, 1, &p, NULL);
    intent_plan_free(&p);
    if (!rc) rc = intent_components_acquire(c, A, 1, &p, NULL);
    intent_components_release(c, &p);
    intent_plan_free(&p);
    now = 5;
    if (!rc) rc = intent_components_acquire(c, B, 1, &p, NULL); /* unloads app (LRU, lowest id) */
    intent_components_release(c, &p);
    intent_plan_free(&p);
    now = 100;
    if (!rc) rc = intent_components_unload_idle(c, NULL, NULL);
    if (!rc && intent_components_memory(c) != 350) /* lib timed out: net + big */
        rc = INTENT_ERR_ARG;
    intent_components_free(c);
    for (int i = 0; i < 4; i++)
        if (atomic_load(&s[i].violations))
            return INTENT_ERR_ARG;
    return rc;
}

static void allocation_failures(void **state) {
    (void)state;
    long n;
    for (n = 1; n < 10000; n++) {
        fail_alloc_at(n);
        int rc = build_and_run(NULL);
        long used = alloc_count();
        fail_alloc_at(0);
        if (rc == INTENT_OK) {
            assert_true(used < n);
            break;
        }
        assert_int_equal(rc, INTENT_ERR_NOMEM);
    }
    assert_true(n > 10); /* there were that many allocations to fail */
    assert_int_equal(build_and_run(NULL), INTENT_OK);
}

int test_components(int *total) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plan_load_order),
        cmocka_unit_test(validation_errors),
        cmocka_unit_test(lru_unloads_to_fit_budget),
        cmocka_unit_test(idle_timeout_on_fake_clock),
        cmocka_unit_test(failed_load_is_retried),
        cmocka_unit_test(eight_threads_load_once),
        cmocka_unit_test(threads_under_budget_pressure),
        cmocka_unit_test(plan_from_scores),
        cmocka_unit_test(allocation_failures),
    };
    return RUN("components", tests, total);
}
