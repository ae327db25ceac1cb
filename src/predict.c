/*
 * predict.c - per-thread contexts, single and batch prediction, and decoding.
 *
 * The hot path (intent_predict) is: featurize into ctx scratch, run every net, pick the
 * top labels by insertion into the caller's array. It allocates nothing: all scratch is
 * sized when the context is made (or grown once for a larger model).
 */
#include "intent_impl.h"
#include "serve.h"

#include <math.h>
#include <string.h>

struct intent_ctx {
    intenti_feats feats;
    float *h0, *h1;       /* [width] ping-pong activations */
    float *conf;          /* [n_labels] */
    float *part, *agg;    /* [n_labels] a clause's confidences; best over text and clauses */
    uint8_t *sel;         /* [n_labels] labels chosen by some clause */
    uint32_t width;       /* capacity of the arrays above */
    float *hid, *z;       /* batch path: [batch_rows][batch_width] hidden outputs, logits */
    uint32_t batch_rows, batch_width;
};

static void batch_release(intent_ctx *c) {
    intenti_afree(c->hid);
    intenti_afree(c->z);
    c->hid = c->z = NULL;
    c->batch_rows = c->batch_width = 0;
}

/* Texts the batch path takes at a time: up to 16, fewer for very wide layers (its two
 * scratch blocks stay within 64 K floats each). */
static uint32_t batch_rows(uint32_t width) {
    uint32_t r = 65536 / (width ? width : 1);
    return r < 1 ? 1 : r > 16 ? 16 : r;
}

/* Sizes the batch path's scratch for m (models that take it: 2 x 16 x 150 floats for the
 * default model). */
static int batch_fit(intent_ctx *c, const intent_model *m) {
    if (m->max_width <= c->batch_width)
        return INTENT_OK;
    batch_release(c);
    uint32_t rows = batch_rows(m->max_width);
    size_t bytes = (size_t)rows * m->max_width * sizeof(float);
    c->hid = intenti_aalloc(bytes);
    c->z = intenti_aalloc(bytes);
    if (!c->hid || !c->z) {
        batch_release(c);
        return INTENT_ERR_NOMEM;
    }
    c->batch_rows = rows;
    c->batch_width = m->max_width;
    return INTENT_OK;
}

static void ctx_release(intent_ctx *c) {
    intenti_afree(c->h0);
    intenti_afree(c->h1);
    intenti_afree(c->conf);
    intenti_afree(c->part);
    intenti_afree(c->agg);
    intenti_afree(c->sel);
}

/* Direct dedup (text.c) for bucket spaces up to this size: 4 bytes a bucket per context. */
#define DIRECT_MAX (1u << 20)

static int ctx_fit(intent_ctx *c, const intent_model *m) {
    if (m->fs.buckets <= DIRECT_MAX && intenti_feats_direct(&c->feats, m->fs.buckets))
        return INTENT_ERR_NOMEM;
    if (intenti_feats_cache(&c->feats))
        return INTENT_ERR_NOMEM;
    if (m->batch_w && batch_fit(c, m))
        return INTENT_ERR_NOMEM;
    uint32_t need = m->max_width;
    if (need <= c->width)
        return INTENT_OK;
    intent_ctx n = {0};
    size_t bytes = (size_t)need * sizeof(float);
    n.h0 = intenti_aalloc(bytes);
    n.h1 = intenti_aalloc(bytes);
    n.conf = intenti_aalloc(bytes);
    n.part = intenti_aalloc(bytes);
    n.agg = intenti_aalloc(bytes);
    n.sel = intenti_aalloc(need);
    if (!n.h0 || !n.h1 || !n.conf || !n.part || !n.agg || !n.sel) {
        ctx_release(&n);
        return INTENT_ERR_NOMEM;
    }
    ctx_release(c);
    c->h0 = n.h0;
    c->h1 = n.h1;
    c->conf = n.conf;
    c->part = n.part;
    c->agg = n.agg;
    c->sel = n.sel;
    c->width = need;
    return INTENT_OK;
}

int intent_ctx_new(const intent_model *m, intent_ctx **out) {
    if (!out)
        return INTENT_ERR_ARG;
    *out = NULL;
    intent_ctx *c = intenti_calloc(1, sizeof *c);
    if (!c)
        return INTENT_ERR_NOMEM;
    int rc = intenti_feats_init(&c->feats);
    if (!rc && m)
        rc = ctx_fit(c, m);
    if (rc) {
        intent_ctx_free(c);
        return rc;
    }
    *out = c;
    return INTENT_OK;
}

void intent_ctx_free(intent_ctx *c) {
    if (!c)
        return;
    intenti_feats_free(&c->feats);
    ctx_release(c);
    batch_release(c);
    intenti_free(c);
}

/* What a context holds: the featurizer's tables (fixed ones, and the direct-dedup tables
 * and word cache it sets up on demand), and the rows ctx_fit sizes (five of floats and one
 * of bytes, each an aligned block). Keep in step with intenti_feats_init and ctx_fit. */
size_t intenti_ctx_bytes(const intent_ctx *c) {
    if (!c)
        return 0;
    const intenti_feats *f = &c->feats;
    size_t feats = 2 * INTENTI_SLOTS * sizeof(uint32_t) + INTENTI_MAX_FEATURES * (2 * sizeof(uint32_t) + sizeof(float)) +
                   (size_t)INTENT_MAX_WIDTH * (sizeof *f->w + sizeof *f->idx) + (size_t)f->n_direct * sizeof(intenti_dd) +
                   (f->wc ? INTENTI_WC_SLOTS * sizeof *f->wc : 0);
    size_t rows = c->width ? (size_t)c->width * (5 * sizeof(float) + 1) + 6 * (INTENTI_ALIGN + sizeof(void *)) : 0;
    size_t batch = c->batch_width ? 2 * ((size_t)c->batch_rows * c->batch_width * sizeof(float) + INTENTI_ALIGN + sizeof(void *)) : 0;
    return sizeof *c + feats + rows + batch;
}

static int run(const intent_model *m, intent_ctx *c, const char *text, size_t len, float *conf) {
    int rc = ctx_fit(c, m);
    if (rc)
        return rc;
    intenti_extract(&m->fs, &c->feats, text, len);
    intenti_model_forward(m, &c->feats, c->h0, c->h1, conf);
    return INTENT_OK;
}

/* Single net: decide on the logits (sigmoid is monotonic: p >= thr <=> z >= T logit(thr))
 * and take sigmoids of the entries returned only. */
static int decode_logits(const intent_model *m, const float *z, float threshold, intent_score *top, size_t cap,
                         size_t *n_top, size_t *n_over) {
    if (threshold < 0.0f || isnan(threshold))
        threshold = m->threshold;
    float zt = threshold <= 0.0f ? -INFINITY : threshold >= 1.0f ? INFINITY
                                                                 : m->temperature * logf(threshold / (1.0f - threshold));
    size_t k = 0, over = 0;
    for (uint32_t i = 0; i < m->n_labels; i++) /* branch-free: the compiler vectorizes it */
        over += z[i] >= zt;                      /* false for NaN */
    float kth = -INFINITY; /* what a logit must beat to enter a full top */
    for (uint32_t i = 0; i < m->n_labels; i++) {
        float v = z[i];
        if (k == cap && (cap == 0 || !(v > kth))) /* the common case (NaN included) */
            continue;
        if (v != v) /* NaN (a damaged model) reads as confidence 0 */
            v = -INFINITY;
        size_t j = k < cap ? k++ : k - 1;
        while (j > 0 && top[j - 1].confidence < v) {
            top[j] = top[j - 1];
            j--;
        }
        top[j] = (intent_score){i, v};
        if (k == cap)
            kth = top[k - 1].confidence;
    }
    for (size_t i = 0; i < k; i++)
        top[i].confidence = 1.0f / (1.0f + expf(-top[i].confidence / m->temperature));
    *n_top = k;
    *n_over = over == 0 ? m->min_labels : over < m->max_labels ? over : m->max_labels;
    return INTENT_OK;
}

int intent_decode(const intent_model *m, const float *conf, float threshold, intent_score *top,
                  size_t cap, size_t *n_top, size_t *n_over) {
    if (!m || !conf || (!top && cap) || !n_top || !n_over)
        return INTENT_ERR_ARG;
    if (threshold < 0.0f || isnan(threshold))
        threshold = m->threshold;
    size_t k = 0, over = 0;
    for (uint32_t i = 0; i < m->n_labels; i++) {
        float p = conf[i];
        if (isnan(p))
            p = 0.0f;
        over += p >= threshold;
        if (k < cap || (cap && p > top[k - 1].confidence)) {
            /* insertion keeps top[] sorted, highest first; ties keep the lower label id */
            size_t j = k < cap ? k++ : k - 1;
            while (j > 0 && top[j - 1].confidence < p) {
                top[j] = top[j - 1];
                j--;
            }
            top[j] = (intent_score){i, p};
        }
    }
    *n_top = k;
    *n_over = over == 0 ? m->min_labels : over < m->max_labels ? over : m->max_labels;
    return INTENT_OK;
}

/* Marks in c->sel the (up to clause max_labels) labels of one clause over the threshold,
 * most confident first, and keeps the best confidence of every label in c->agg. */
static void clause_labels(const intent_model *m, intent_ctx *c, float threshold) {
    for (uint32_t k = 0; k < m->n_labels; k++)
        c->agg[k] = c->part[k] > c->agg[k] ? c->part[k] : c->agg[k];
    for (uint32_t pick = 0; pick < m->clauses.max_labels; pick++) {
        uint32_t best = UINT32_MAX;
        for (uint32_t k = 0; k < m->n_labels; k++)
            if (c->part[k] >= threshold && (best == UINT32_MAX || c->part[k] > c->part[best]))
                best = k;
        if (best == UINT32_MAX)
            return;
        c->sel[best] = 1;
        c->part[best] = -1.0f; /* taken */
    }
}

/* Inserts (label, conf) into top[lo..*k), kept sorted highest first, at most cap long. */
static void insert_top(intent_score *top, size_t lo, size_t *k, size_t cap, uint32_t label, float conf) {
    if (*k == cap && (*k == lo || !(conf > top[*k - 1].confidence)))
        return;
    size_t j = *k < cap ? (*k)++ : *k - 1;
    while (j > lo && top[j - 1].confidence < conf) {
        top[j] = top[j - 1];
        j--;
    }
    top[j] = (intent_score){label, conf};
}

/* top: the chosen labels (at most max_labels: the most confident), best first, then the
 * others by their best confidence; *n_over = how many were chosen. */
static void clause_answer(const intent_model *m, intent_ctx *c, intent_score *top, size_t cap, size_t *n_top,
                          size_t *n_over) {
    size_t n_sel = 0;
    for (uint32_t i = 0; i < m->n_labels; i++)
        n_sel += c->sel[i];
    while (n_sel > m->max_labels) { /* drop the least confident chosen label */
        uint32_t worst = UINT32_MAX;
        for (uint32_t i = 0; i < m->n_labels; i++)
            if (c->sel[i] && (worst == UINT32_MAX || c->agg[i] < c->agg[worst]))
                worst = i;
        c->sel[worst] = 0;
        n_sel--;
    }
    size_t k = 0, base;
    for (uint32_t i = 0; i < m->n_labels; i++)
        if (c->sel[i])
            insert_top(top, 0, &k, cap, i, c->agg[i]);
    base = k;
    for (uint32_t i = 0; i < m->n_labels; i++)
        if (!c->sel[i])
            insert_top(top, base, &k, cap, i, c->agg[i]);
    *n_top = k;
    *n_over = n_sel;
}

/* A multi-label model reading a text of several clauses: each clause gives its own
 * labels (clause.c); the answer is their union, or the whole text's if none gives any. */
static int predict_clauses(const intent_model *m, intent_ctx *c, const char *text, size_t len, const intenti_span *sp,
                           size_t n_sp, float threshold, intent_score *top, size_t cap, size_t *n_top,
                           size_t *n_over) {
    if (threshold < 0.0f || isnan(threshold))
        threshold = m->threshold;
    int rc = run(m, c, text, len, c->conf);
    memcpy(c->agg, c->conf, m->n_labels * sizeof(float));
    memset(c->sel, 0, m->n_labels);
    for (size_t i = 0; !rc && i < n_sp; i++) {
        rc = run(m, c, text + sp[i].start, sp[i].len, c->part);
        clause_labels(m, c, threshold);
    }
    if (rc)
        return rc;
    bool any = false;
    for (uint32_t k = 0; k < m->n_labels && !any; k++)
        any = c->sel[k];
    if (!any)
        return intent_decode(m, c->conf, threshold, top, cap, n_top, n_over);
    clause_answer(m, c, top, cap, n_top, n_over);
    return INTENT_OK;
}

int intent_predict(const intent_model *m, intent_ctx *ctx, const char *text, size_t len,
                   float threshold, intent_score *top, size_t cap, size_t *n_top, size_t *n_over) {
    if (!m || !ctx || (!text && len) || (!top && cap) || !n_top || !n_over)
        return INTENT_ERR_ARG;
    /* fit first: growing the context replaces ctx->conf, which run() is handed */
    int rc = ctx_fit(ctx, m);
    if (rc)
        return rc;
    if (m->clauses.max_labels && text) {
        intenti_span sp[INTENTI_MAX_CLAUSES];
        size_t n_sp = intenti_clauses(&m->clauses, text, len, sp);
        if (n_sp >= 2)
            return predict_clauses(m, ctx, text, len, sp, n_sp, threshold, top, cap, n_top, n_over);
    }
    if (m->n_nets > 1) {
        rc = run(m, ctx, text ? text : "", len, ctx->conf);
        if (!rc)
            rc = intent_decode(m, ctx->conf, threshold, top, cap, n_top, n_over);
    } else {
        intenti_extract(&m->fs, &ctx->feats, text ? text : "", len);
        float inv_norm = intenti_model_prepare(m, &ctx->feats);
        const float *z = intenti_model_logits(m, 0, &ctx->feats, inv_norm, ctx->h0, ctx->h1);
        rc = decode_logits(m, z, threshold, top, cap, n_top, n_over);
    }
    /* One clause: as many labels as one clause carried in training, at most (mixsnips: 1;
     * without this a one-clause command took up to the 3 labels of a compound one). */
    if (m->clauses.max_labels && *n_over > m->clauses.max_labels)
        *n_over = m->clauses.max_labels;
    return rc;
}

/* The batch path: each text to its last hidden layer, then the output layer for up to
 * batch_rows texts at once (the kernel set's gemm: each output-layer weight is read once
 * for them all, not once a text). A text's confidences do not depend on the others. */
static int predict_rows(const intent_model *m, intent_ctx *c, const char *const *texts, const size_t *lens, size_t n,
                        float *conf) {
    int rc = ctx_fit(c, m);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i += c->batch_rows) {
        size_t rows = n - i < c->batch_rows ? n - i : c->batch_rows;
        for (size_t r = 0; r < rows; r++) {
            intenti_extract(&m->fs, &c->feats, texts[i + r] ? texts[i + r] : "", lens[i + r]);
            float inv_norm = intenti_model_prepare(m, &c->feats);
            intenti_model_hidden(m, &c->feats, inv_norm, c->h0, c->h1, c->hid + r * c->batch_width);
        }
        intenti_model_batch_out(m, c->hid, c->batch_width, c->z, rows, conf + i * m->n_labels);
    }
    return INTENT_OK;
}

int intent_predict_batch(const intent_model *m, intent_ctx *ctx, const char *const *texts,
                         const size_t *lens, size_t n, float *conf) {
    if (!m || !ctx || (n && (!texts || !lens || !conf)))
        return INTENT_ERR_ARG;
    for (size_t i = 0; i < n; i++)
        if (!texts[i] && lens[i])
            return INTENT_ERR_ARG;
    if (m->batch_w)
        return predict_rows(m, ctx, texts, lens, n, conf);
    for (size_t i = 0; i < n; i++) {
        int rc = run(m, ctx, texts[i] ? texts[i] : "", lens[i], conf + i * m->n_labels);
        if (rc)
            return rc;
    }
    return INTENT_OK;
}

intenti_feats *intenti_ctx_feats(intent_ctx *c, const intent_model *m) {
    return ctx_fit(c, m) ? NULL : &c->feats;
}
