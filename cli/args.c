/*
 * args.c - `--name value` / `--name=value` option parsing with range checks.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int number(const char *cmd, const opt *o, const char *v, double *out) {
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || isnan(d)) {
        fail_msg(cmd, "%s: \"%s\" is not a number", o->name, v);
        return -1;
    }
    if (d < o->min || d > o->max) {
        fail_msg(cmd, "%s: %s is outside %g..%g", o->name, v, o->min, o->max);
        return -1;
    }
    if ((o->kind == OPT_U32 || o->kind == OPT_U64) && d != floor(d)) {
        fail_msg(cmd, "%s: %s is not a whole number", o->name, v);
        return -1;
    }
    *out = d;
    return 0;
}

static int list(const char *cmd, const opt *o, const char *v) {
    u32_list *l = o->dst;
    l->n = 0;
    if (!*v) /* an empty list is allowed: e.g. --hidden "" for no hidden layer */
        return 0;
    const char *p = v;
    for (;;) {
        if (l->n == 16) {
            fail_msg(cmd, "%s: at most 16 values", o->name);
            return -1;
        }
        char *end;
        errno = 0;
        unsigned long x = strtoul(p, &end, 10);
        if (errno || end == p || x < o->min || x > o->max || *p == '-') {
            fail_msg(cmd, "%s: \"%s\" must be comma-separated numbers in %g..%g", o->name, v, o->min, o->max);
            return -1;
        }
        l->v[l->n++] = (uint32_t)x;
        if (*end == '\0')
            return 0;
        if (*end != ',') {
            fail_msg(cmd, "%s: \"%s\" must be comma-separated numbers", o->name, v);
            return -1;
        }
        p = end + 1;
    }
}

static int assign(const char *cmd, const opt *o, const char *v) {
    double d;
    switch (o->kind) {
    case OPT_STR: *(const char **)o->dst = v; return 0;
    case OPT_FLAG: *(int *)o->dst = 1; return 0;
    case OPT_U32_LIST: return list(cmd, o, v);
    case OPT_U32: if (number(cmd, o, v, &d)) return -1; *(uint32_t *)o->dst = (uint32_t)d; return 0;
    case OPT_U64: if (number(cmd, o, v, &d)) return -1; *(uint64_t *)o->dst = (uint64_t)d; return 0;
    case OPT_F32: if (number(cmd, o, v, &d)) return -1; *(float *)o->dst = (float)d; return 0;
    }
    return -1;
}

int args_parse(const char *cmd, int argc, char **argv, int first, const opt *opts, size_t n_opts,
               const char **pos, size_t cap, size_t *n_pos, int *help) {
    *n_pos = 0;
    *help = 0;
    bool only_pos = false;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] != '-') {
            if (*n_pos == cap) {
                fail_msg(cmd, "unexpected argument \"%s\"", a);
                return -1;
            }
            pos[(*n_pos)++] = a;
            continue;
        }
        if (a[2] == '\0') { /* "--": the rest are words */
            only_pos = true;
            continue;
        }
        if (strcmp(a, "--help") == 0) {
            *help = 1;
            return 0;
        }
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        const opt *o = NULL;
        for (size_t k = 0; k < n_opts && !o; k++)
            if (strlen(opts[k].name) == nl && strncmp(opts[k].name, a, nl) == 0)
                o = &opts[k];
        if (!o) {
            fail_msg(cmd, "unknown option %.*s (see intent %s --help)", (int)nl, a, cmd);
            return -1;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (o->kind == OPT_FLAG) {
            if (v) {
                fail_msg(cmd, "%s takes no value", o->name);
                return -1;
            }
        } else if (!v) {
            if (i + 1 >= argc) {
                fail_msg(cmd, "%s needs a value", o->name);
                return -1;
            }
            v = argv[++i];
        }
        if (assign(cmd, o, v))
            return -1;
    }
    return 0;
}
