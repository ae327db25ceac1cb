/*
 * predict.c - per-thread contexts, single and batch prediction, and decoding.
 *
 * The hot path (intent_predict) is: featurize into ctx scratch, run every net, pick the
 * top labels by insertion into the caller's array. It allocates nothing: all scratch is
 * sized when the context is made (or grown once for a larger model).
 */
#include "intent_impl.h"

#include <math.h>
#include <string.h>

struct intent_ctx {
    intenti_feats feats;
    float *h0, *h1;       /* [width] ping-pong activations */
    float *conf;          /* [n_labels] */
    uint32_t width;       /* capacity of h0, h1 and conf */
};

static int ctx_fit(intent_ctx *c, const intent_model *m) {
    uint32_t need = m->max_width;
    if (need <= c->width)
        return INTENT_OK;
    float *h0 = intenti_aalloc((size_t)need * sizeof(float));
    float *h1 = intenti_aalloc((size_t)need * sizeof(float));
    float *cf = intenti_aalloc((size_t)need * sizeof(float));
    if (!h0 || !h1 || !cf) {
        intenti_afree(h0);
        intenti_afree(h1);
        intenti_afree(cf);
        return INTENT_ERR_NOMEM;
    }
    intenti_afree(c->h0);
    intenti_afree(c->h1);
    intenti_afree(c->conf);
    c->h0 = h0;
    c->h1 = h1;
    c->conf = cf;
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
    intenti_afree(c->h0);
    intenti_afree(c->h1);
    intenti_afree(c->conf);
    intenti_free(c);
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
    for (uint32_t i = 0; i < m->n_labels; i++) {
        float v = z[i];
        over += v >= zt; /* false for NaN */
        if ((k < cap && v == v) || (k && k == cap && v > top[k - 1].confidence)) {
            size_t j = k < cap ? k++ : k - 1;
            while (j > 0 && top[j - 1].confidence < v) {
                top[j] = top[j - 1];
                j--;
            }
            top[j] = (intent_score){i, v};
        }
    }
    for (size_t i = 0; i < k; i++)
        top[i].confidence = 1.0f / (1.0f + expf(-top[i].confidence / m->temperature));
    *n_top = k;
    *n_over = over < m->max_labels ? over : m->max_labels;
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
    *n_over = over < m->max_labels ? over : m->max_labels;
    return INTENT_OK;
}

int intent_predict(const intent_model *m, intent_ctx *ctx, const char *text, size_t len,
                   float threshold, intent_score *top, size_t cap, size_t *n_top, size_t *n_over) {
    if (!m || !ctx || (!text && len) || (!top && cap) || !n_top || !n_over)
        return INTENT_ERR_ARG;
    if (m->n_nets > 1) {
        int rc = run(m, ctx, text ? text : "", len, ctx->conf);
        return rc ? rc : intent_decode(m, ctx->conf, threshold, top, cap, n_top, n_over);
    }
    int rc = ctx_fit(ctx, m);
    if (rc)
        return rc;
    intenti_extract(&m->fs, &ctx->feats, text ? text : "", len);
    float inv_norm = intenti_model_prepare(m, &ctx->feats);
    const float *z = intenti_model_logits(m, 0, &ctx->feats, inv_norm, ctx->h0, ctx->h1);
    return decode_logits(m, z, threshold, top, cap, n_top, n_over);
}

int intent_predict_batch(const intent_model *m, intent_ctx *ctx, const char *const *texts,
                         const size_t *lens, size_t n, float *conf) {
    if (!m || !ctx || (n && (!texts || !lens || !conf)))
        return INTENT_ERR_ARG;
    for (size_t i = 0; i < n; i++) {
        if (!texts[i] && lens[i])
            return INTENT_ERR_ARG;
        int rc = run(m, ctx, texts[i] ? texts[i] : "", lens[i], conf + i * m->n_labels);
        if (rc)
            return rc;
    }
    return INTENT_OK;
}
