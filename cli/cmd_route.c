/*
 * cmd_route.c - `intent route`: from a command's text to the components it needs: the
 * predicted labels, the required components in load order, what is loaded, what to load,
 * and which idle components to unload to stay within the memory budget.
 *
 * Each command is carried out on the registry (acquire, then release at once), so a
 * stream of commands on stdin shows the LRU and the budget at work. Without --run there
 * are no callbacks and every load "succeeds"; with --run the registry's shell commands run.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char USAGE[] =
    "usage: intent route --model MODEL --components REGISTRY.json [--json] [--threshold T]\n"
    "                    [--loaded NAME[:IDLE_S],...] [--run] [TEXT...]\n"
    "\n"
    "Predicts the labels of a command, then answers with the components they need (with\n"
    "their dependencies, in load order), those loaded already, what to load, and which idle\n"
    "components to unload (least recently used first, and any idle past its timeout) to\n"
    "stay within the registry's memory budget. Words given as arguments are one command;\n"
    "otherwise each line of stdin is one, in order, and what one loads stays loaded for the\n"
    "next.\n"
    "\n"
    "  --model MODEL        the model file (required)\n"
    "  --components FILE    the component registry, JSON (required; examples/components.json)\n"
    "  --threshold T        labels at or over T apply (default: the model's own)\n"
    "  --loaded LIST        components loaded before the first command, comma-separated,\n"
    "                       least recently used first; NAME:S says it has been idle S seconds\n"
    "  --run                run the load and unload commands of the registry (/bin/sh, their\n"
    "                       output on stderr); without it nothing runs and loads succeed\n"
    "  --json               one JSON object a command:\n"
    "                       {\"text\", \"labels\": [{\"label\", \"confidence\"}], \"required\",\n"
    "                        \"loaded\", \"to_load\", \"to_unload\": [{\"component\", \"why\"}],\n"
    "                        \"memory_mb\": {\"before\", \"after\", \"budget\"}, \"failed\",\n"
    "                        \"ok\", \"error\"}\n"
    "Exit status 1 when a command could not be served (a load failed, or over the budget).\n";

/* The registry's clock: monotonic milliseconds, shifted by about 31 years so that
 * "--loaded NAME:S" can set a last use S seconds back without going below zero. */
#define CLOCK_SHIFT_MS 1000000000000ull

static uint64_t cli_clock(void *user) {
    (void)user;
    return (uint64_t)(mono_s() * 1000.0) + CLOCK_SHIFT_MS;
}

typedef struct route_cli {
    const char *model, *components, *loaded;
    float threshold;
    int json, run;
    const intent_model *m;
    intent_ctx *ctx;
    intent_score *scores;  /* [n_labels] */
    registry reg;
    size_t n_done;         /* commands answered so far */
} route_cli;

static void print_mb(uint64_t bytes) { printf("%.6g", (double)bytes / 1048576.0); }

static const char *name_of(const route_cli *c, uint32_t id) {
    return intent_components_name(c->reg.comps, id);
}

static uint64_t cost_of(const route_cli *c, uint32_t id) {
    intent_component_info info;
    return intent_components_info(c->reg.comps, id, &info) ? 0 : info.memory;
}

/* ---- text ---- */

static void text_list(const route_cli *c, const char *head, const uint32_t *ids, size_t n, int costs) {
    printf("%-10s ", head);
    if (!n)
        fputs("(none)", stdout);
    for (size_t i = 0; i < n; i++) {
        printf("%s%s", i ? ", " : "", name_of(c, ids[i]));
        if (costs) {
            fputc(' ', stdout);
            print_mb(cost_of(c, ids[i]));
            fputs(" MB", stdout);
        }
    }
    fputc('\n', stdout);
}

static void print_text(const route_cli *c, const char *text, size_t n_top, size_t n_lab,
                       const intent_plan *p, int rc, const char *msg) {
    if (c->n_done)
        fputc('\n', stdout);
    printf("%-10s %s\n%-10s ", "text", text, "labels");
    if (!n_lab)
        printf("(none: out of scope%s", n_top ? "; closest " : ")");
    for (size_t i = 0; i < (n_lab ? n_lab : n_top ? 1 : 0); i++)
        printf("%s%s %.3f", i ? ", " : "", intent_model_label(c->m, c->scores[i].label),
               (double)c->scores[i].confidence);
    fputs(!n_lab && n_top ? ")\n" : "\n", stdout);
    text_list(c, "required", p->required, p->n_required, 0);
    text_list(c, "loaded", p->loaded, p->n_loaded, 0);
    text_list(c, "to load", p->to_load, p->n_to_load, 1);
    printf("%-10s ", "to unload");
    if (!p->n_to_unload)
        fputs("(none)", stdout);
    for (size_t i = 0; i < p->n_to_unload; i++) {
        printf("%s%s ", i ? ", " : "", name_of(c, p->to_unload[i]));
        print_mb(cost_of(c, p->to_unload[i]));
        printf(" MB (%s)", p->unload_why[i] == INTENT_UNLOAD_TIMEOUT ? "idle timeout" : "budget");
    }
    printf("\n%-10s ", "memory");
    print_mb(p->memory_before);
    fputs(" MB -> ", stdout);
    print_mb(p->memory_after);
    if (p->budget) {
        fputs(" MB of ", stdout);
        print_mb(p->budget);
        fputs(" MB budget", stdout);
        if (p->memory_after > p->budget)
            fputs(" (over)", stdout);
        fputc('\n', stdout);
    } else {
        fputs(" MB (no budget)\n", stdout);
    }
    for (size_t i = 0; i < p->n_load_failed; i++) {
        printf("%-10s %s (", i ? "" : "failed", name_of(c, p->load_failed[i]));
        if (p->load_rc[i])
            printf("exit status %d)\n", p->load_rc[i]);
        else
            fputs("not loaded: a dependency did not load)\n", stdout);
    }
    for (size_t i = 0; i < p->n_unload_failed; i++)
        printf("%-10s %s (still loaded)\n", i ? "" : "unload failed", name_of(c, p->unload_failed[i]));
    if (rc && !p->n_load_failed)
        printf("%-10s %s\n", "error", msg);
}

/* ---- JSON ---- */

static void json_ids(const route_cli *c, const char *key, const uint32_t *ids, size_t n) {
    printf(", \"%s\": [", key);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputs(", ", stdout);
        json_str(stdout, name_of(c, ids[i]));
    }
    fputc(']', stdout);
}

static void print_json(const route_cli *c, const char *text, size_t n_lab, const intent_plan *p,
                       int rc, const char *msg) {
    fputs("{\"text\": ", stdout);
    json_str(stdout, text);
    fputs(", \"labels\": [", stdout);
    for (size_t i = 0; i < n_lab; i++) {
        fputs(i ? ", {\"label\": " : "{\"label\": ", stdout);
        json_str(stdout, intent_model_label(c->m, c->scores[i].label));
        printf(", \"confidence\": %.4f}", (double)c->scores[i].confidence);
    }
    fputc(']', stdout);
    json_ids(c, "required", p->required, p->n_required);
    json_ids(c, "loaded", p->loaded, p->n_loaded);
    json_ids(c, "to_load", p->to_load, p->n_to_load);
    fputs(", \"to_unload\": [", stdout);
    for (size_t i = 0; i < p->n_to_unload; i++) {
        fputs(i ? ", {\"component\": " : "{\"component\": ", stdout);
        json_str(stdout, name_of(c, p->to_unload[i]));
        printf(", \"why\": \"%s\"}", p->unload_why[i] == INTENT_UNLOAD_TIMEOUT ? "idle_timeout" : "budget");
    }
    fputs("], \"memory_mb\": {\"before\": ", stdout);
    print_mb(p->memory_before);
    fputs(", \"after\": ", stdout);
    print_mb(p->memory_after);
    fputs(", \"budget\": ", stdout);
    print_mb(p->budget);
    fputs("}, \"failed\": [", stdout);
    for (size_t i = 0; i < p->n_load_failed; i++) {
        fputs(i ? ", {\"component\": " : "{\"component\": ", stdout);
        json_str(stdout, name_of(c, p->load_failed[i]));
        printf(", \"status\": %d}", p->load_rc[i]);
    }
    fputc(']', stdout);
    json_ids(c, "unload_failed", p->unload_failed, p->n_unload_failed);
    printf(", \"ok\": %s, \"error\": ", rc ? "false" : "true");
    if (rc)
        json_str(stdout, msg);
    else
        fputs("null", stdout);
    fputs("}\n", stdout);
}

/* ---- one command ---- */

static int answer(void *user, const char *text, size_t len) {
    route_cli *c = user;
    size_t n_top, n_over, n_labels = intent_model_n_labels(c->m);
    if (intent_predict(c->m, c->ctx, text, len, c->threshold, c->scores, n_labels, &n_top, &n_over)) {
        fail_msg("route", "prediction failed");
        return -1;
    }
    size_t n_lab = n_over < n_top ? n_over : n_top;
    intent_plan p;
    intent_error err;
    err.message[0] = '\0';
    int rc = intent_components_acquire_scores(c->reg.comps, c->m, c->scores, n_lab, &p, &err);
    if (rc == INTENT_ERR_LIMIT) { /* nothing was done: show the plan that does not fit */
        intent_plan_free(&p);
        intent_error e2;
        if (intent_components_plan_scores(c->reg.comps, c->m, c->scores, n_lab, &p, &e2)) {
            fail_msg("route", "%s", e2.message);
            return -1;
        }
        uint64_t need = 0;
        for (size_t i = 0; i < p.n_required; i++)
            need += cost_of(c, p.required[i]);
        snprintf(err.message, sizeof err.message, "over the budget: its components need %.6g MB "
                 "of a %.6g MB budget", (double)need / 1048576.0, (double)p.budget / 1048576.0);
    } else if (rc && rc != INTENT_ERR_COMPONENT) {
        fail_msg("route", "%s", err.message);
        intent_plan_free(&p);
        return -1;
    }
    char *t = malloc(len + 1); /* the text as one printable string */
    if (!t) {
        intent_plan_free(&p);
        return -1;
    }
    memcpy(t, text, len);
    t[len] = '\0';
    if (c->json)
        print_json(c, t, n_lab, &p, rc, err.message);
    else
        print_text(c, t, n_top, n_lab, &p, rc, err.message);
    free(t);
    fflush(stdout);
    c->n_done++;
    intent_components_release(c->reg.comps, &p); /* the command is done: its components idle */
    intent_plan_free(&p);
    return rc ? 1 : 0;
}

/* ---- setup ---- */

/* --loaded "a,b:120,c": marks them loaded, least recently used first; ":S" sets the idle
 * seconds, otherwise they are spaced 1 ms apart in the order given. */
static int mark_loaded(route_cli *c) {
    if (!c->loaded || !*c->loaded)
        return 0;
    size_t n = 1;
    for (const char *q = c->loaded; *q; q++)
        n += *q == ',';
    uint64_t now = cli_clock(NULL);
    const char *p = c->loaded;
    for (size_t i = 0; i < n; i++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        size_t nl = colon ? (size_t)(colon - p) : len;
        char name[INTENT_MAX_LABEL_LEN + 1];
        if (!nl || nl > INTENT_MAX_LABEL_LEN) {
            fail_msg("route", "--loaded: \"%.*s\" is not a component name", (int)len, p);
            return -1;
        }
        memcpy(name, p, nl);
        name[nl] = '\0';
        long id = intent_components_find(c->reg.comps, name);
        if (id < 0) {
            fail_msg("route", "--loaded: no component \"%s\" in %s", name, c->components);
            return -1;
        }
        uint64_t idle_ms = n - i; /* oldest first */
        if (colon) {
            char num[32];
            size_t k = len - nl - 1;
            char *e;
            double s = -1;
            if (k && k < sizeof num) {
                memcpy(num, colon + 1, k);
                num[k] = '\0';
                errno = 0;
                s = strtod(num, &e);
                if (errno || *e || !isfinite(s))
                    s = -1;
            }
            if (s < 0 || s > 1e9) {
                fail_msg("route", "--loaded: \"%.*s\": idle time must be seconds, 0 to 1e9", (int)len, p);
                return -1;
            }
            idle_ms = (uint64_t)llround(s * 1000.0);
        }
        if (intent_components_set_loaded(c->reg.comps, (size_t)id, now - idle_ms)) {
            fail_msg("route", "--loaded: %s given twice", name);
            return -1;
        }
        p += len + 1;
    }
    return 0;
}

/* A registry label the model never predicts is most likely a typo: say so, once each. */
static void warn_unknown_labels(const route_cli *c) {
    size_t n = intent_components_count(c->reg.comps);
    for (size_t i = 0; i < n; i++) {
        intent_component_info info;
        intent_components_info(c->reg.comps, i, &info);
        for (size_t j = 0; j < info.n_labels; j++)
            if (intent_model_label_id(c->m, info.labels[j]) < 0)
                fprintf(stderr, "intent route: warning: %s: component %s: label \"%s\" is not a label of %s\n",
                        c->components, info.name, info.labels[j], c->model);
    }
}

int cmd_route(int argc, char **argv) {
    route_cli c;
    memset(&c, 0, sizeof c);
    c.threshold = -1.0f;
    const opt opts[] = {
        {"--model", OPT_STR, &c.model, 0, 0},         {"--components", OPT_STR, &c.components, 0, 0},
        {"--threshold", OPT_F32, &c.threshold, 0, 1}, {"--loaded", OPT_STR, &c.loaded, 0, 0},
        {"--json", OPT_FLAG, &c.json, 0, 0},          {"--run", OPT_FLAG, &c.run, 0, 0},
    };
    const char *pos[256];
    size_t n_pos;
    int help;
    if (args_parse("route", argc, argv, 2, opts, sizeof opts / sizeof *opts, pos, 256, &n_pos, &help))
        return 2;
    if (help) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (!c.model || !c.components) {
        fail_msg("route", "--model and --components are required (see intent route --help)");
        return 2;
    }
    if (registry_read(c.components, c.run, &c.reg))
        return 1;
    intent_components_set_clock(c.reg.comps, cli_clock, NULL);
    intent_model *m = NULL;
    intent_error err;
    int rc = 1;
    if (mark_loaded(&c))
        goto done;
    if (intent_model_load(c.model, &m, &err)) {
        fail_msg("route", "%s", err.message);
        goto done;
    }
    c.m = m;
    warn_unknown_labels(&c);
    c.scores = malloc(intent_model_n_labels(m) * sizeof *c.scores);
    if (!c.scores || intent_ctx_new(m, &c.ctx)) {
        fail_msg("route", "out of memory");
        goto done;
    }
    rc = for_each_text("route", pos, n_pos, true, answer, &c);
    rc = rc ? 1 : 0;
done:
    fflush(stdout);
    intent_ctx_free(c.ctx);
    free(c.scores);
    intent_model_free(m);
    registry_free(&c.reg);
    return rc;
}
