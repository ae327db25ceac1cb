/*
 * dataset.c - labelled examples in memory: texts, label sets, and the label table.
 *
 * Texts are owned copies; each example's label ids are kept sorted and unique in one
 * shared array (lab_off/lab_ids, CSR-style). Label names are interned through a small
 * open-addressing table, so adding an example costs O(labels of the example).
 */
#include "intent_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EXAMPLES (UINT32_MAX / 2)
#define MAX_TEXT_BYTES (16u << 20)

int intent_dataset_new(intent_dataset **out) {
    if (!out)
        return INTENT_ERR_ARG;
    *out = NULL;
    intent_dataset *ds = intenti_calloc(1, sizeof *ds);
    if (!ds)
        return INTENT_ERR_NOMEM;
    ds->lab_off = intenti_calloc(1, sizeof *ds->lab_off);
    if (!ds->lab_off) {
        intenti_free(ds);
        return INTENT_ERR_NOMEM;
    }
    *out = ds;
    return INTENT_OK;
}

void intent_dataset_free(intent_dataset *ds) {
    if (!ds)
        return;
    for (size_t i = 0; i < ds->n; i++)
        intenti_free(ds->texts[i]);
    for (size_t i = 0; i < ds->n_labels; i++)
        intenti_free(ds->labels[i]);
    intenti_free(ds->texts);
    intenti_free(ds->text_lens);
    intenti_free(ds->lab_off);
    intenti_free(ds->lab_ids);
    intenti_free(ds->labels);
    intenti_free(ds->lab_hash);
    intenti_free(ds);
}

static uint32_t name_hash(const char *s, size_t n) {
    uint32_t h = INTENTI_FNV_BASIS;
    for (size_t i = 0; i < n; i++)
        h = intenti_fnv_step(h, (uint8_t)s[i]);
    return intenti_fmix32(h);
}

long intenti_dataset_find_label(const intent_dataset *ds, const char *name, size_t n) {
    if (!ds->lab_hash_cap)
        return -1;
    size_t mask = ds->lab_hash_cap - 1;
    for (size_t s = name_hash(name, n) & mask;; s = (s + 1) & mask) {
        uint32_t v = ds->lab_hash[s];
        if (!v)
            return -1;
        const char *l = ds->labels[v - 1];
        if (strlen(l) == n && memcmp(l, name, n) == 0)
            return (long)(v - 1);
    }
}

static void rehash(intent_dataset *ds, uint32_t *table, size_t cap) {
    for (size_t i = 0; i < ds->n_labels; i++) {
        size_t s = name_hash(ds->labels[i], strlen(ds->labels[i])) & (cap - 1);
        while (table[s])
            s = (s + 1) & (cap - 1);
        table[s] = (uint32_t)i + 1;
    }
}

/* Keeps the table at most half full. */
static int grow_label_hash(intent_dataset *ds) {
    if ((ds->n_labels + 1) * 2 <= ds->lab_hash_cap)
        return INTENT_OK;
    size_t cap = ds->lab_hash_cap ? ds->lab_hash_cap * 2 : 64;
    uint32_t *t = intenti_calloc(cap, sizeof *t);
    if (!t)
        return INTENT_ERR_NOMEM;
    rehash(ds, t, cap);
    intenti_free(ds->lab_hash);
    ds->lab_hash = t;
    ds->lab_hash_cap = cap;
    return INTENT_OK;
}

/* Grows an array of elem-sized items to hold need of them; *cap is in items. */
static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap)
        return INTENT_OK;
    size_t c = *cap ? *cap : 16, bytes;
    while (c < need)
        c *= 2;
    if (!intenti_mul(c, elem, &bytes))
        return INTENT_ERR_NOMEM;
    void *q = intenti_realloc(*p, bytes);
    if (!q)
        return INTENT_ERR_NOMEM;
    *p = q;
    *cap = c;
    return INTENT_OK;
}

int intenti_dataset_intern(intent_dataset *ds, const char *name, size_t n, uint32_t *id) {
    long found = intenti_dataset_find_label(ds, name, n);
    if (found >= 0) {
        *id = (uint32_t)found;
        return INTENT_OK;
    }
    if (ds->n_labels >= INTENT_MAX_LABELS)
        return INTENT_ERR_LIMIT;
    if (grow((void **)&ds->labels, &ds->cap_labels, ds->n_labels + 1, sizeof *ds->labels) ||
        grow_label_hash(ds))
        return INTENT_ERR_NOMEM;
    char *copy = intenti_strndup(name, n);
    if (!copy)
        return INTENT_ERR_NOMEM;
    ds->labels[ds->n_labels] = copy;
    size_t mask = ds->lab_hash_cap - 1, s = name_hash(name, n) & mask;
    while (ds->lab_hash[s])
        s = (s + 1) & mask;
    ds->lab_hash[s] = (uint32_t)ds->n_labels + 1;
    *id = (uint32_t)ds->n_labels++;
    return INTENT_OK;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static bool blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n' && s[i] != '\v' && s[i] != '\f')
            return false;
    return true;
}

/* The text problems shared by every reader; NULL when the text is fine. */
static const char *text_problem(const char *text, size_t len) {
    if (blank(text, len))
        return "empty text";
    if (len > MAX_TEXT_BYTES)
        return "text longer than 16 MiB";
    if (memchr(text, '\0', len))
        return "text contains a NUL byte";
    if (intenti_utf8_check(text, len) != len)
        return "text is not valid UTF-8";
    return NULL;
}

/* Appends an example whose label ids are already interned (any order, repeats allowed). */
int intenti_dataset_add_ids(intent_dataset *ds, const char *text, size_t len, const uint32_t *ids,
                            size_t n_ids) {
    if (ds->n >= MAX_EXAMPLES || ds->n_lab_ids + n_ids >= UINT32_MAX)
        return INTENT_ERR_LIMIT;
    size_t cap_texts = ds->cap, cap_lens = ds->cap, cap_off = ds->cap ? ds->cap + 1 : 0;
    if (grow((void **)&ds->texts, &cap_texts, ds->n + 1, sizeof *ds->texts) ||
        grow((void **)&ds->text_lens, &cap_lens, ds->n + 1, sizeof *ds->text_lens) ||
        grow((void **)&ds->lab_off, &cap_off, ds->n + 2, sizeof *ds->lab_off) ||
        grow((void **)&ds->lab_ids, &ds->cap_lab_ids, ds->n_lab_ids + n_ids, sizeof *ds->lab_ids))
        return INTENT_ERR_NOMEM;
    /* the three per-example arrays grow in step; keep the smallest as the shared cap */
    ds->cap = cap_texts < cap_lens ? cap_texts : cap_lens;
    if (cap_off - 1 < ds->cap)
        ds->cap = cap_off - 1;
    char *copy = intenti_strndup(text, len);
    if (!copy)
        return INTENT_ERR_NOMEM;
    uint32_t *dst = ds->lab_ids + ds->n_lab_ids;
    memcpy(dst, ids, n_ids * sizeof *ids);
    qsort(dst, n_ids, sizeof *dst, cmp_u32);
    size_t k = 0;
    for (size_t i = 0; i < n_ids; i++)
        if (k == 0 || dst[k - 1] != dst[i])
            dst[k++] = dst[i];
    ds->n_lab_ids += k;
    ds->texts[ds->n] = copy;
    ds->text_lens[ds->n] = (uint32_t)len;
    ds->n++;
    ds->lab_off[ds->n] = (uint32_t)ds->n_lab_ids;
    return INTENT_OK;
}

int intent_dataset_add(intent_dataset *ds, const char *text, size_t len,
                       const char *const *labels, size_t n_labels) {
    if (!ds || !text || (!labels && n_labels))
        return INTENT_ERR_ARG;
    const char *why = text_problem(text, len);
    if (!why && n_labels == 0)
        why = "no labels";
    if (!why && n_labels > INTENTI_LINE_LABELS)
        why = "more than 256 labels on one example";
    for (size_t i = 0; !why && i < n_labels; i++)
        why = labels[i] ? intenti_label_problem(labels[i], strlen(labels[i])) : "NULL label";
    if (why) {
        snprintf(ds->errmsg, sizeof ds->errmsg, "%s", why);
        return INTENT_ERR_ARG;
    }
    uint32_t ids[INTENTI_LINE_LABELS];
    size_t n_before = ds->n_labels;
    for (size_t i = 0; i < n_labels; i++) {
        int rc = intenti_dataset_intern(ds, labels[i], strlen(labels[i]), &ids[i]);
        if (rc) {
            intenti_dataset_truncate(ds, ds->n, n_before);
            snprintf(ds->errmsg, sizeof ds->errmsg, "%s", intent_status_str(rc));
            return rc;
        }
    }
    int rc = intenti_dataset_add_ids(ds, text, len, ids, n_labels);
    if (rc) {
        intenti_dataset_truncate(ds, ds->n, n_before);
        snprintf(ds->errmsg, sizeof ds->errmsg, "%s", intent_status_str(rc));
    }
    return rc;
}

void intenti_dataset_truncate(intent_dataset *ds, size_t n, size_t n_labels) {
    while (ds->n > n)
        intenti_free(ds->texts[--ds->n]);
    ds->n_lab_ids = ds->lab_off[ds->n];
    if (ds->n_labels > n_labels) {
        while (ds->n_labels > n_labels)
            intenti_free(ds->labels[--ds->n_labels]);
        memset(ds->lab_hash, 0, ds->lab_hash_cap * sizeof *ds->lab_hash);
        rehash(ds, ds->lab_hash, ds->lab_hash_cap);
    }
}

size_t intent_dataset_size(const intent_dataset *ds) { return ds ? ds->n : 0; }
size_t intent_dataset_n_labels(const intent_dataset *ds) { return ds ? ds->n_labels : 0; }

const char *intent_dataset_label(const intent_dataset *ds, size_t i) {
    return ds && i < ds->n_labels ? ds->labels[i] : NULL;
}

const char *intent_dataset_example(const intent_dataset *ds, size_t i, size_t *len,
                                   const uint32_t **label_ids, size_t *n_labels) {
    if (!ds || i >= ds->n)
        return NULL;
    if (len)
        *len = ds->text_lens[i];
    if (label_ids)
        *label_ids = ds->lab_ids + ds->lab_off[i];
    if (n_labels)
        *n_labels = ds->lab_off[i + 1] - ds->lab_off[i];
    return ds->texts[i];
}

const char *intent_dataset_errmsg(const intent_dataset *ds) { return ds ? ds->errmsg : ""; }
