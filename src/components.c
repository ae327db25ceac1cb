/*
 * components.c - the component registry: building it, validating it (dependencies, cycles),
 * and planning a command (required components in load order, what to load, what idle
 * components to unload). Carrying a plan out is components_run.c.
 *
 * Sizes: registries are small (tens of components), so lookups are linear scans; the
 * worst case allowed (INTENT_MAX_COMPONENTS) stays in the tens of millions of compares,
 * once, at build time. A plan costs O(components x their labels x command labels).
 */
#include "components.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static uint64_t mono_ms(void *user) {
    (void)user;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void set_msg(intent_components *c, const char *fmt, ...) INTENTI_PRINTF(2, 3);
static void set_msg(intent_components *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
}

int intent_components_new(uint64_t budget, intent_components **out) {
    if (!out)
        return INTENT_ERR_ARG;
    *out = NULL;
    intent_components *c = intenti_calloc(1, sizeof *c);
    if (!c)
        return INTENT_ERR_NOMEM;
    if (pthread_mutex_init(&c->mu, NULL)) {
        intenti_free(c);
        return INTENT_ERR_NOMEM;
    }
    if (pthread_cond_init(&c->cv, NULL)) {
        pthread_mutex_destroy(&c->mu);
        intenti_free(c);
        return INTENT_ERR_NOMEM;
    }
    c->budget = budget;
    c->clock = mono_ms;
    *out = c;
    return INTENT_OK;
}

static void free_strs(char **s, uint32_t n) {
    if (!s)
        return;
    for (uint32_t i = 0; i < n; i++)
        intenti_free(s[i]);
    intenti_free(s);
}

static void comp_free(intenti_comp *k) {
    intenti_free(k->name);
    free_strs(k->labels, k->n_labels);
    free_strs(k->dep_names, k->n_deps);
}

void intent_components_free(intent_components *c) {
    if (!c)
        return;
    for (uint32_t i = 0; i < c->n; i++)
        comp_free(&c->v[i]);
    intenti_free(c->v);
    intenti_free(c->order);
    intenti_free(c->dep_mem);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    intenti_free(c);
}

void intent_components_set_clock(intent_components *c, intent_clock_fn now_ms, void *user) {
    if (!c)
        return;
    c->clock = now_ms ? now_ms : mono_ms;
    c->clock_user = now_ms ? user : NULL;
}

const char *intent_components_errmsg(const intent_components *c) { return c ? c->errmsg : ""; }

/* What is wrong with a name, worded for `what` ("name", "label", "dependency"), or NULL.
 * Hack, admitted: reuses the label checker and drops its leading "label " so the message
 * reads "name contains whitespace"; a message without that prefix is shown whole. */
static const char *name_problem(const char *s, size_t *len) {
    *len = s ? strlen(s) : 0;
    if (!s || !*len)
        return "is empty";
    const char *pr = intenti_label_problem(s, *len);
    if (pr && strncmp(pr, "label ", 6) == 0)
        pr += 6;
    return pr;
}

static long find(const intent_components *c, const char *name) {
    for (uint32_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].name, name) == 0)
            return (long)i;
    return -1;
}

/* Copies n strings (already checked) into an owned array; NULL on allocation failure. */
static char **copy_strs(const char *const *s, size_t n) {
    char **d = intenti_calloc(n ? n : 1, sizeof *d);
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(d[i] = intenti_strndup(s[i], strlen(s[i])))) {
            free_strs(d, (uint32_t)i);
            return NULL;
        }
    return d;
}

int intent_components_add(intent_components *c, const intent_component_spec *spec) {
    if (!c)
        return INTENT_ERR_ARG;
    c->errmsg[0] = '\0';
    if (!spec) {
        set_msg(c, "component spec is NULL");
        return INTENT_ERR_ARG;
    }
    size_t len;
    const char *pr = name_problem(spec->name, &len);
    if (pr) {
        set_msg(c, "component #%u: name %s", c->n + 1, pr);
        return INTENT_ERR_ARG;
    }
    const char *nm = spec->name;
    if (c->valid) {
        set_msg(c, "component %s: the registry is validated already; add components before "
                   "intent_components_validate", nm);
        return INTENT_ERR_ARG;
    }
    if (find(c, nm) >= 0) {
        set_msg(c, "component %s: a component of that name exists already", nm);
        return INTENT_ERR_ARG;
    }
    if (c->n >= INTENT_MAX_COMPONENTS) {
        set_msg(c, "component %s: more than %d components", nm, INTENT_MAX_COMPONENTS);
        return INTENT_ERR_LIMIT;
    }
    if (spec->memory > INTENT_MAX_COMPONENT_MEMORY) {
        set_msg(c, "component %s: memory over %llu bytes", nm, (unsigned long long)INTENT_MAX_COMPONENT_MEMORY);
        return INTENT_ERR_LIMIT;
    }
    if ((spec->n_labels && !spec->labels) || (spec->n_depends && !spec->depends) ||
        spec->n_labels > INTENT_MAX_COMPONENTS || spec->n_depends > INTENT_MAX_COMPONENTS) {
        set_msg(c, "component %s: labels or depends missing or too many (at most %d)", nm,
                INTENT_MAX_COMPONENTS);
        return INTENT_ERR_ARG;
    }
    for (size_t i = 0; i < spec->n_labels; i++)
        if ((pr = name_problem(spec->labels[i], &len))) {
            set_msg(c, "component %s: label \"%.128s\" %s", nm, spec->labels[i] ? spec->labels[i] : "", pr);
            return INTENT_ERR_ARG;
        }
    for (size_t i = 0; i < spec->n_depends; i++)
        if ((pr = name_problem(spec->depends[i], &len))) {
            set_msg(c, "component %s: dependency \"%.128s\" %s", nm, spec->depends[i] ? spec->depends[i] : "", pr);
            return INTENT_ERR_ARG;
        }
    /* Grow first, so a failure below leaves the registry as it was. */
    if (c->n == c->cap) {
        uint32_t cap = c->cap ? c->cap * 2 : 8;
        intenti_comp *v = intenti_realloc(c->v, (size_t)cap * sizeof *v);
        if (!v)
            goto nomem;
        c->v = v;
        c->cap = cap;
    }
    intenti_comp k;
    memset(&k, 0, sizeof k);
    k.n_labels = (uint32_t)spec->n_labels;
    k.n_deps = (uint32_t)spec->n_depends;
    k.name = intenti_strndup(nm, strlen(nm));
    k.labels = copy_strs(spec->labels, spec->n_labels);
    k.dep_names = copy_strs(spec->depends, spec->n_depends);
    if (!k.name || !k.labels || !k.dep_names) {
        if (!k.labels) k.n_labels = 0; /* copy_strs freed what it had made */
        if (!k.dep_names) k.n_deps = 0;
        comp_free(&k);
        goto nomem;
    }
    k.memory = spec->memory;
    k.timeout_ms = spec->idle_timeout_ms;
    k.load = spec->load;
    k.unload = spec->unload;
    k.user = spec->user;
    k.state = INTENT_COMPONENT_UNLOADED;
    c->v[c->n++] = k;
    return INTENT_OK;
nomem:
    set_msg(c, "component %s: out of memory", nm);
    return INTENT_ERR_NOMEM;
}

/* Writes "component A: dependency cycle A -> B -> ... -> A" for the ids stack[from..top]. */
static void cycle_msg(intent_components *c, const uint32_t *stack, uint32_t from, uint32_t top) {
    size_t at = 0, cap = sizeof c->errmsg;
    int k = snprintf(c->errmsg, cap, "component %s: dependency cycle ", c->v[stack[from]].name);
    at = k > 0 && (size_t)k < cap ? (size_t)k : cap - 1;
    for (uint32_t j = from; j <= top + 1 && at < cap - 1; j++) {
        uint32_t id = j <= top ? stack[j] : stack[from]; /* back to where it started */
        k = snprintf(c->errmsg + at, cap - at, "%s%s", j > from ? " -> " : "", c->v[id].name);
        at = k > 0 && (size_t)k < cap - at ? at + (size_t)k : cap - 1;
    }
}

/* Depth-first post-order over every component (roots in order of addition, dependencies
 * in the order given), iterative so a long chain cannot overflow the C stack. A component
 * met again while still on the stack closes a cycle. */
static int topo_sort(intent_components *c, uint32_t *order, uint32_t *stack, uint32_t *next,
                     uint8_t *color) {
    enum { WHITE = 0, GREY = 1, BLACK = 2 };
    uint32_t k = 0;
    memset(color, WHITE, c->n);
    for (uint32_t root = 0; root < c->n; root++) {
        if (color[root] != WHITE)
            continue;
        uint32_t sp = 0;
        stack[sp] = root;
        next[sp++] = 0;
        color[root] = GREY;
        while (sp) {
            const intenti_comp *t = &c->v[stack[sp - 1]];
            if (next[sp - 1] < t->n_deps) {
                uint32_t d = t->deps[next[sp - 1]++];
                if (color[d] == GREY) {
                    uint32_t j = 0;
                    while (stack[j] != d)
                        j++;
                    cycle_msg(c, stack, j, sp - 1);
                    return INTENT_ERR_ARG;
                }
                if (color[d] == WHITE) { /* sp < n: each component is on the stack once */
                    color[d] = GREY;
                    stack[sp] = d;
                    next[sp++] = 0;
                }
            } else {
                color[stack[sp - 1]] = BLACK;
                order[k++] = stack[--sp];
            }
        }
    }
    return INTENT_OK;
}

int intent_components_validate(intent_components *c) {
    if (!c)
        return INTENT_ERR_ARG;
    c->errmsg[0] = '\0';
    if (c->valid)
        return INTENT_OK;
    size_t n_deps = 0;
    for (uint32_t i = 0; i < c->n; i++)
        n_deps += c->v[i].n_deps; /* <= 4096 * 4096: no overflow */
    uint32_t *dep_mem = intenti_malloc(n_deps * sizeof *dep_mem);
    uint32_t *order = intenti_malloc((size_t)c->n * sizeof *order);
    uint32_t *scratch = intenti_malloc((size_t)c->n * (2 * sizeof(uint32_t) + 1));
    int rc = INTENT_OK;
    if (!dep_mem || !order || !scratch) {
        set_msg(c, "out of memory");
        rc = INTENT_ERR_NOMEM;
        goto done;
    }
    size_t at = 0;
    for (uint32_t i = 0; i < c->n && !rc; i++) {
        intenti_comp *k = &c->v[i];
        k->deps = dep_mem + at;
        for (uint32_t j = 0; j < k->n_deps; j++) {
            long id = find(c, k->dep_names[j]);
            if (id < 0) {
                set_msg(c, "component %s: unknown dependency \"%s\"", k->name, k->dep_names[j]);
                rc = INTENT_ERR_ARG;
                break;
            }
            dep_mem[at++] = (uint32_t)id;
        }
    }
    if (!rc)
        rc = topo_sort(c, order, scratch, scratch + c->n, (uint8_t *)(scratch + 2 * (size_t)c->n));
done:
    intenti_free(scratch);
    if (rc) {
        for (uint32_t i = 0; i < c->n; i++)
            c->v[i].deps = NULL;
        intenti_free(dep_mem);
        intenti_free(order);
        return rc;
    }
    c->dep_mem = dep_mem;
    c->order = order;
    c->valid = true;
    return INTENT_OK;
}

size_t intent_components_count(const intent_components *c) { return c ? c->n : 0; }

const char *intent_components_name(const intent_components *c, size_t id) {
    return c && id < c->n ? c->v[id].name : NULL;
}

long intent_components_find(const intent_components *c, const char *name) {
    return c && name ? find(c, name) : -1;
}

int intent_components_info(intent_components *c, size_t id, intent_component_info *out) {
    if (!c || !out || id >= c->n)
        return INTENT_ERR_ARG;
    const intenti_comp *k = &c->v[id];
    out->name = k->name;
    out->labels = (const char *const *)k->labels;
    out->n_labels = k->n_labels;
    out->depends = (const char *const *)k->dep_names;
    out->n_depends = k->n_deps;
    out->memory = k->memory;
    out->idle_timeout_ms = k->timeout_ms;
    pthread_mutex_lock(&c->mu);
    out->state = k->state;
    out->holders = k->holders;
    out->last_used_ms = k->last_used;
    pthread_mutex_unlock(&c->mu);
    return INTENT_OK;
}

uint64_t intent_components_memory(intent_components *c) {
    if (!c)
        return 0;
    pthread_mutex_lock(&c->mu);
    uint64_t m = c->loaded;
    pthread_mutex_unlock(&c->mu);
    return m;
}

int intent_components_set_loaded(intent_components *c, size_t id, uint64_t last_used_ms) {
    if (!c || id >= c->n)
        return INTENT_ERR_ARG;
    int rc = INTENT_ERR_ARG;
    pthread_mutex_lock(&c->mu);
    intenti_comp *k = &c->v[id];
    if (k->state == INTENT_COMPONENT_UNLOADED) {
        k->state = INTENT_COMPONENT_LOADED;
        k->last_used = last_used_ms;
        c->loaded += k->memory;
        c->reserved += k->memory;
        rc = INTENT_OK;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* ---- planning ---- */

void intent_plan_free(intent_plan *p) {
    if (!p)
        return;
    intenti_free(p->required);
    memset(p, 0, sizeof *p);
}

/* Layout of the block, for n components: six uint32_t lists of n (required, loaded,
 * to_load, to_unload, load_failed, unload_failed), load_rc [n] int, unload_why [n], then
 * the caller's scratch mark [n]. n <= INTENT_MAX_COMPONENTS: no overflow. */
int intenti_plan_alloc(intent_plan *p, uint32_t n, uint8_t **mark) {
    memset(p, 0, sizeof *p);
    size_t lists = 6 * (size_t)n * sizeof(uint32_t), rcs = (size_t)n * sizeof(int);
    uint8_t *b = intenti_malloc(lists + rcs + 2 * (size_t)n);
    if (!b)
        return INTENT_ERR_NOMEM;
    uint32_t *u = (uint32_t *)b;
    p->required = u;
    p->loaded = u + n;
    p->to_load = u + 2 * (size_t)n;
    p->to_unload = u + 3 * (size_t)n;
    p->load_failed = u + 4 * (size_t)n;
    p->unload_failed = u + 5 * (size_t)n;
    p->load_rc = (int *)(b + lists);
    p->unload_why = b + lists + rcs;
    *mark = b + lists + rcs + n;
    memset(*mark, 0, n);
    return INTENT_OK;
}

static const char *label_at(const intenti_labelset *ls, size_t i) {
    return ls->names ? ls->names[i] : intent_model_label(ls->m, ls->scores[i].label);
}

static bool wanted(const intenti_comp *k, const intenti_labelset *ls) {
    for (uint32_t j = 0; j < k->n_labels; j++)
        for (size_t i = 0; i < ls->n; i++) {
            const char *l = label_at(ls, i);
            if (l && strcmp(l, k->labels[j]) == 0)
                return true;
        }
    return false;
}

uint64_t intenti_comps_required(const intent_components *c, const intenti_labelset *ls,
                                uint8_t *mark, intent_plan *p) {
    for (uint32_t i = 0; i < c->n; i++)
        mark[i] = wanted(&c->v[i], ls);
    /* order has every dependency before its dependents, so walking it backwards reaches
     * each dependent before its dependencies: one pass closes the set. */
    for (uint32_t k = c->n; k-- > 0;) {
        const intenti_comp *t = &c->v[c->order[k]];
        if (mark[c->order[k]])
            for (uint32_t j = 0; j < t->n_deps; j++)
                mark[t->deps[j]] = 1;
    }
    uint64_t bytes = 0;
    p->n_required = 0;
    for (uint32_t k = 0; k < c->n; k++)
        if (mark[c->order[k]]) {
            p->required[p->n_required++] = c->order[k];
            bytes += c->v[c->order[k]].memory;
        }
    return bytes;
}

static bool expired(const intenti_comp *k, uint64_t now) {
    return k->timeout_ms && now >= k->last_used && now - k->last_used >= k->timeout_ms;
}

uint64_t intenti_comps_victims(const intent_components *c, const uint8_t *mark, uint64_t now,
                               uint64_t taken, intent_plan *p) {
    uint32_t *cand = p->to_unload;
    uint8_t *why = p->unload_why;
    size_t n = 0;
    /* Candidates by last use, oldest first (ties: lower id first). Insertion sort: the
     * idle set is small, and it keeps equal times in id order. */
    for (uint32_t i = 0; i < c->n; i++) {
        const intenti_comp *k = &c->v[i];
        if (mark[i] || k->state != INTENT_COMPONENT_LOADED || k->holders)
            continue;
        size_t j = n++;
        while (j > 0 && c->v[cand[j - 1]].last_used > k->last_used) {
            cand[j] = cand[j - 1];
            j--;
        }
        cand[j] = i;
    }
    uint64_t freed = 0;
    for (size_t j = 0; j < n; j++) {
        why[j] = expired(&c->v[cand[j]], now) ? INTENT_UNLOAD_TIMEOUT : 0;
        if (why[j])
            freed += c->v[cand[j]].memory;
    }
    for (size_t j = 0; j < n && c->budget && taken > c->budget && taken - freed > c->budget; j++)
        if (!why[j]) {
            why[j] = INTENT_UNLOAD_BUDGET;
            freed += c->v[cand[j]].memory;
        }
    p->n_to_unload = 0;
    for (size_t j = 0; j < n; j++)
        if (why[j]) {
            cand[p->n_to_unload] = cand[j];
            why[p->n_to_unload++] = why[j];
        }
    return freed;
}

static int check(const intent_components *c, const intenti_labelset *ls,
                 const intent_plan *out, intent_error *err) {
    if (!c || !out)
        return intenti_err(err, INTENT_ERR_ARG, "components: registry or plan is NULL");
    if (!c->valid)
        return intenti_err(err, INTENT_ERR_ARG, "components: the registry is not validated "
                                                 "(call intent_components_validate first)");
    if (ls->n && !ls->names && (!ls->m || !ls->scores))
        return intenti_err(err, INTENT_ERR_ARG, "components: labels are NULL");
    return INTENT_OK;
}

int intenti_plan_begin(const intent_components *c, const intenti_labelset *ls, intent_plan *out,
                       uint8_t **mark, intent_error *err) {
    if (out)
        memset(out, 0, sizeof *out);
    int rc = check(c, ls, out, err);
    if (rc || (rc = intenti_plan_alloc(out, c->n, mark)))
        return rc == INTENT_ERR_NOMEM ? intenti_err(err, rc, "components: out of memory") : rc;
    return INTENT_OK;
}

static int plan(intent_components *c, const intenti_labelset *ls, intent_plan *out,
                intent_error *err) {
    uint8_t *mark;
    int rc = intenti_plan_begin(c, ls, out, &mark, err);
    if (rc)
        return rc;
    uint64_t now = intenti_comps_now(c);
    pthread_mutex_lock(&c->mu);
    intenti_comps_required(c, ls, mark, out);
    uint64_t need = 0, adding = 0; /* bytes to reserve; bytes to add to what is loaded */
    for (size_t i = 0; i < out->n_required; i++) {
        const intenti_comp *k = &c->v[out->required[i]];
        if (k->state == INTENT_COMPONENT_LOADED) {
            out->loaded[out->n_loaded++] = out->required[i];
            continue;
        }
        out->to_load[out->n_to_load++] = out->required[i];
        adding += k->memory;
        if (k->state != INTENT_COMPONENT_LOADING) /* a load in flight is reserved already */
            need += k->memory;
    }
    uint64_t freed = intenti_comps_victims(c, mark, now, c->reserved + need, out);
    out->memory_before = c->loaded;
    out->memory_after = c->loaded - freed + adding;
    out->budget = c->budget;
    pthread_mutex_unlock(&c->mu);
    return INTENT_OK;
}

int intent_components_plan(intent_components *c, const char *const *labels, size_t n_labels,
                           intent_plan *out, intent_error *err) {
    intenti_labelset ls = {labels, NULL, NULL, n_labels};
    return plan(c, &ls, out, err);
}

int intent_components_plan_scores(intent_components *c, const intent_model *m,
                                  const intent_score *scores, size_t n, intent_plan *out,
                                  intent_error *err) {
    intenti_labelset ls = {NULL, m, scores, n};
    return plan(c, &ls, out, err);
}
