/*
 * registry.c - reads a component registry from JSON (parsed with cJSON; the library stays
 * libc-only) into an intent_components, and runs components' load and unload commands.
 *
 *   {"budget_mb": 3072,
 *    "components": [{"name": "vision", "labels": ["VISION"], "depends": ["screen", "ocr"],
 *                    "memory_mb": 900, "idle_timeout_s": 120,
 *                    "load": "systemctl --user start vision", "unload": "...",
 *                    "description": "image understanding"}, ...]}
 *
 * Only "name" is required; labels and depends default to none, memory_mb and idle_timeout_s
 * (0 = never unloaded for idleness) and budget_mb (0 = no budget) to 0. Unknown or
 * repeated keys are refused, so a typo never passes silently. Every problem is printed
 * as "FILE: component NAME: what is wrong" ("FILE:LINE: ..." for malformed JSON).
 */
#include "cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

#define MAX_FILE (16u << 20) /* bytes of a registry file */
#define MAX_MB 1e9           /* a petabyte: larger is a typo */
#define MAX_TIMEOUT_S 1e9

static void bad(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(const char *path, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", path);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Runs cmd with /bin/sh -c, its stdout sent to our stderr so that --json output stays one
 * clean object a line; INTENT_COMPONENT names the component. Returns the exit status (0
 * is success), 128 + signal when killed, 127 when it could not start. Thread-safe (intent
 * serve loads components from several threads): the child's environment is built here
 * rather than with setenv(), which is not. */
static int run_sh(const char *name, const char *cmd) {
    static const char VAR[] = "INTENT_COMPONENT=";
    if (!cmd)
        return 0;
    fflush(stdout);
    fflush(stderr);
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = malloc((n + 2) * sizeof *env), *var = malloc(sizeof VAR + strlen(name));
    if (!env || !var) {
        free(env);
        free(var);
        return 127;
    }
    snprintf(var, sizeof VAR + strlen(name), "%s%s", VAR, name);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], VAR, sizeof VAR - 1) != 0)
            env[k++] = environ[i];
    env[k++] = var;
    env[k] = NULL;
    posix_spawn_file_actions_t fa;
    int rc = posix_spawn_file_actions_init(&fa);
    pid_t pid;
    if (!rc) {
        posix_spawn_file_actions_adddup2(&fa, 2, 1);
        char *argv[] = {"sh", "-c", (char *)cmd, NULL};
        rc = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, env);
        posix_spawn_file_actions_destroy(&fa);
    }
    free(env);
    free(var);
    if (rc)
        return 127;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        ; /* EINTR */
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 127;
}

static int sh_load(const char *name, void *user) { return run_sh(name, ((registry_cmds *)user)->load); }
static int sh_unload(const char *name, void *user) { return run_sh(name, ((registry_cmds *)user)->unload); }

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        bad(path, "%s", strerror(errno));
        return NULL;
    }
    char *buf = malloc(MAX_FILE + 1);
    size_t n = buf ? fread(buf, 1, MAX_FILE + 1, f) : 0;
    int err = ferror(f);
    fclose(f);
    if (!buf || err || n > MAX_FILE) {
        bad(path, "%s", !buf ? "out of memory" : err ? "read error" : "larger than 16 MiB");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* A non-negative number no larger than max, else a message. */
static int number(const cJSON *v, double max, double *out) {
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 || v->valuedouble > max)
        return -1;
    *out = v->valuedouble;
    return 0;
}

/* An array of strings: fills *out (malloc'ed array of pointers into the JSON tree). */
static int strings(const cJSON *v, const char ***out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (!cJSON_IsArray(v))
        return -1;
    size_t cap = (size_t)cJSON_GetArraySize(v);
    const char **s = malloc((cap ? cap : 1) * sizeof *s);
    if (!s)
        return -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        if (!cJSON_IsString(e)) {
            free(s);
            return -1;
        }
        s[(*n)++] = e->valuestring;
    }
    *out = s;
    return 0;
}

static char *dup_str(const char *s) {
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* One component object -> r (index i). Returns 0, or -1 after printing the problem. */
static int component(const char *path, const cJSON *o, size_t i, registry *r) {
    char id[160];
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
    if (cJSON_IsString(nm) && *nm->valuestring)
        snprintf(id, sizeof id, "component %.128s", nm->valuestring);
    else
        snprintf(id, sizeof id, "component #%zu", i + 1);
    if (!cJSON_IsObject(o)) {
        bad(path, "%s: must be an object", id);
        return -1;
    }
    if (!cJSON_IsString(nm) || !*nm->valuestring) {
        bad(path, "%s: \"name\" must be a non-empty string", id);
        return -1;
    }
    static const char *KEYS[] = {"name", "labels", "depends", "memory_mb", "idle_timeout_s",
                                 "load", "unload", "description"};
    enum { N_KEYS = sizeof KEYS / sizeof *KEYS };
    const cJSON *val[N_KEYS] = {0};
    const cJSON *e;
    cJSON_ArrayForEach(e, o) {
        size_t k = 0;
        while (k < N_KEYS && strcmp(e->string, KEYS[k]) != 0)
            k++;
        if (k == N_KEYS) {
            bad(path, "%s: unknown key \"%s\" (known: name, labels, depends, memory_mb, "
                      "idle_timeout_s, load, unload, description)", id, e->string);
            return -1;
        }
        if (val[k]) {
            bad(path, "%s: \"%s\" given twice", id, e->string);
            return -1;
        }
        val[k] = e;
    }
    intent_component_spec s;
    memset(&s, 0, sizeof s);
    s.name = nm->valuestring;
    double mb = 0, secs = 0;
    const char **labels = NULL, **deps = NULL; /* malloc'ed; the strings are the tree's */
    if (val[1] && strings(val[1], &labels, &s.n_labels)) {
        bad(path, "%s: \"labels\" must be an array of strings", id);
        return -1;
    }
    int rc = -1;
    if (val[2] && strings(val[2], &deps, &s.n_depends))
        bad(path, "%s: \"depends\" must be an array of strings", id);
    else if (val[3] && number(val[3], MAX_MB, &mb))
        bad(path, "%s: \"memory_mb\" must be a number from 0 to %g", id, MAX_MB);
    else if (val[4] && number(val[4], MAX_TIMEOUT_S, &secs))
        bad(path, "%s: \"idle_timeout_s\" must be a number of seconds from 0 to %g (0: never)", id, MAX_TIMEOUT_S);
    else if ((val[5] && !cJSON_IsString(val[5])) || (val[6] && !cJSON_IsString(val[6])))
        bad(path, "%s: \"load\" and \"unload\" must be shell commands (strings)", id);
    else if (val[7] && !cJSON_IsString(val[7]))
        bad(path, "%s: \"description\" must be a string", id);
    else
        rc = 0;
    registry_cmds *cmd = &r->cmds[i];
    if (!rc) {
        cmd->load = val[5] ? dup_str(val[5]->valuestring) : NULL;
        cmd->unload = val[6] ? dup_str(val[6]->valuestring) : NULL;
        cmd->description = val[7] ? dup_str(val[7]->valuestring) : NULL;
        if ((val[5] && !cmd->load) || (val[6] && !cmd->unload) || (val[7] && !cmd->description)) {
            bad(path, "out of memory");
            rc = -1;
        }
    }
    if (!rc) {
        s.memory = (uint64_t)llround(mb * 1048576.0);
        s.idle_timeout_ms = (uint64_t)llround(secs * 1000.0);
        if (r->run) {
            s.load = sh_load;
            s.unload = sh_unload;
        }
        s.user = cmd;
        s.labels = labels;
        s.depends = deps;
        if (intent_components_add(r->comps, &s)) {
            bad(path, "%s", intent_components_errmsg(r->comps));
            rc = -1;
        }
    }
    free(labels);
    free(deps);
    return rc;
}

/* Line of the byte at p within buf (1-based). */
static size_t line_of(const char *buf, const char *p) {
    size_t line = 1;
    for (const char *q = buf; q < p; q++)
        line += *q == '\n';
    return line;
}

static int parse(const char *path, const cJSON *root, registry *r) {
    if (!cJSON_IsObject(root)) {
        bad(path, "must be a JSON object {\"budget_mb\": ..., \"components\": [...]}");
        return -1;
    }
    const cJSON *budget = NULL, *list = NULL, *desc = NULL, *e;
    cJSON_ArrayForEach(e, root) {
        const cJSON **slot = strcmp(e->string, "budget_mb") == 0    ? &budget
                             : strcmp(e->string, "components") == 0 ? &list
                             : strcmp(e->string, "description") == 0 ? &desc
                                                                     : NULL;
        if (!slot) {
            bad(path, "unknown key \"%s\" (known: budget_mb, components, description)", e->string);
            return -1;
        }
        if (*slot) {
            bad(path, "\"%s\" given twice", e->string);
            return -1;
        }
        *slot = e;
    }
    double mb = 0;
    if (budget && number(budget, MAX_MB, &mb)) {
        bad(path, "\"budget_mb\" must be a number from 0 to %g (0: no budget)", MAX_MB);
        return -1;
    }
    if (!cJSON_IsArray(list)) {
        bad(path, "\"components\" must be an array of component objects");
        return -1;
    }
    size_t n = (size_t)cJSON_GetArraySize(list);
    if (n > INTENT_MAX_COMPONENTS) {
        bad(path, "more than %d components", INTENT_MAX_COMPONENTS);
        return -1;
    }
    r->budget = (uint64_t)llround(mb * 1048576.0);
    r->cmds = calloc(n ? n : 1, sizeof *r->cmds);
    if (!r->cmds || intent_components_new(r->budget, &r->comps)) {
        bad(path, "out of memory");
        return -1;
    }
    size_t i = 0;
    cJSON_ArrayForEach(e, list) {
        r->n = i + 1; /* cmds[0..n) are freed by registry_free, even half-made */
        if (component(path, e, i++, r))
            return -1;
    }
    if (intent_components_validate(r->comps)) {
        bad(path, "%s", intent_components_errmsg(r->comps));
        return -1;
    }
    return 0;
}

int registry_read(const char *path, int run, registry *r) {
    memset(r, 0, sizeof *r);
    r->run = run;
    size_t len;
    char *buf = read_all(path, &len);
    if (!buf)
        return -1;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    int rc = -1;
    if (!root) {
        const char *at = end ? end : cJSON_GetErrorPtr();
        if (!at || at < buf || at > buf + len)
            at = buf + len;
        fprintf(stderr, "%s:%zu: not valid JSON\n", path, line_of(buf, at));
    } else {
        rc = parse(path, root, r);
    }
    cJSON_Delete(root);
    free(buf);
    if (rc)
        registry_free(r);
    return rc;
}

void registry_free(registry *r) {
    if (!r)
        return;
    for (size_t i = 0; r->cmds && i < r->n; i++) {
        free(r->cmds[i].load);
        free(r->cmds[i].unload);
        free(r->cmds[i].description);
    }
    free(r->cmds);
    intent_components_free(r->comps);
    memset(r, 0, sizeof *r);
}
