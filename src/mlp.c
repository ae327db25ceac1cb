/*
 * mlp.c - network parameters, the training forward/backward pass of one example, Adam.
 * The inference forward pass is intenti_net_forward (model.c), shared with served models
 * so that what training measures on dev is exactly what a saved model answers.
 */
#include "mlp.h"

#include <math.h>
#include <string.h>

size_t intenti_mlp_wsize(const intenti_mlp *m, uint32_t l) {
    return (size_t)m->size[l] * m->size[l + 1];
}

int intenti_mlp_new(intenti_mlp *m, const uint32_t *size, uint32_t n_layers) {
    memset(m, 0, sizeof *m);
    m->n_layers = n_layers;
    memcpy(m->size, size, (n_layers + 1) * sizeof *size);
    for (uint32_t l = 0; l < n_layers; l++) {
        size_t bytes;
        if (!intenti_mul(intenti_mlp_wsize(m, l), sizeof(float), &bytes))
            goto fail;
        m->w[l] = intenti_aalloc(bytes);
        m->b[l] = intenti_aalloc(size[l + 1] * sizeof(float));
        if (!m->w[l] || !m->b[l])
            goto fail;
        memset(m->w[l], 0, bytes);
        memset(m->b[l], 0, size[l + 1] * sizeof(float));
    }
    return INTENT_OK;
fail:
    intenti_mlp_free(m);
    return INTENT_ERR_NOMEM;
}

void intenti_mlp_free(intenti_mlp *m) {
    for (uint32_t l = 0; l < INTENTI_MAX_LAYERS; l++) {
        intenti_afree(m->w[l]);
        intenti_afree(m->b[l]);
    }
    memset(m, 0, sizeof *m);
}

void intenti_mlp_init(intenti_mlp *m, intenti_rng *rng, const float *label_freq) {
    for (uint32_t l = 0; l < m->n_layers; l++) {
        bool last = l + 1 == m->n_layers;
        /* layer 0's input is an L2-normalized sparse vector, so its fan-in is taken as
         * its width; hidden layers feed ReLUs (He), the output a sigmoid (Glorot) */
        float fan_in = l == 0 ? (float)m->size[1] : (float)m->size[l];
        float a = last ? sqrtf(6.0f / (fan_in + (float)m->size[l + 1])) : sqrtf(6.0f / fan_in);
        /* Layer 0 starts at a tenth of that range: an n-gram seen in a few examples keeps
         * most of its random start, which a small start keeps from drowning what those
         * examples taught (few-shot sets gain 0.3-0.8 points; full sets are unchanged,
         * docs/ACCURACY.md). Not zero: ReLUs of a zero layer never turn on. */
        if (l == 0)
            a *= 0.1f;
        size_t n = intenti_mlp_wsize(m, l);
        for (size_t i = 0; i < n; i++)
            m->w[l][i] = (2.0f * intenti_rng_unit(rng) - 1.0f) * a;
    }
    uint32_t L = m->n_layers - 1;
    for (uint32_t k = 0; k < m->size[m->n_layers]; k++) {
        float f = label_freq[k] < 1e-4f ? 1e-4f : label_freq[k] > 0.5f ? 0.5f : label_freq[k];
        m->b[L][k] = logf(f / (1.0f - f));
    }
}

void intenti_mlp_copy(intenti_mlp *dst, const intenti_mlp *src) {
    for (uint32_t l = 0; l < src->n_layers; l++) {
        memcpy(dst->w[l], src->w[l], intenti_mlp_wsize(src, l) * sizeof(float));
        memcpy(dst->b[l], src->b[l], src->size[l + 1] * sizeof(float));
    }
}

void intenti_mlp_view(const intenti_mlp *m, intenti_net *net) {
    memset(net, 0, sizeof *net);
    net->n_layers = m->n_layers;
    for (uint32_t l = 0; l < m->n_layers; l++)
        net->layers[l] = (intenti_layer){m->size[l], m->size[l + 1], INTENTI_DT_F32, m->w[l], NULL, NULL, m->b[l]};
}

static uint32_t max_width(const intenti_mlp *m) {
    uint32_t w = 0;
    for (uint32_t l = 1; l <= m->n_layers; l++)
        w = m->size[l] > w ? m->size[l] : w;
    return w;
}

int intenti_mlp_ws_new(intenti_mlp_ws *ws, const intenti_mlp *m) {
    memset(ws, 0, sizeof *ws);
    size_t wmax = max_width(m) * sizeof(float);
    bool ok = (ws->on = intenti_aalloc(wmax)) && (ws->on_val = intenti_aalloc(wmax));
    for (uint32_t l = 0; ok && l < m->n_layers; l++) {
        size_t n = m->size[l + 1] * sizeof(float);
        ok = (ws->z[l] = intenti_aalloc(n)) && (ws->mask[l] = intenti_aalloc(n));
    }
    if (!ok) {
        intenti_mlp_ws_free(ws, m);
        return INTENT_ERR_NOMEM;
    }
    return INTENT_OK;
}

void intenti_mlp_ws_free(intenti_mlp_ws *ws, const intenti_mlp *m) {
    (void)m;
    for (uint32_t l = 0; l < INTENTI_MAX_LAYERS; l++) {
        intenti_afree(ws->z[l]);
        intenti_afree(ws->mask[l]);
    }
    intenti_afree(ws->on);
    intenti_afree(ws->on_val);
    memset(ws, 0, sizeof *ws);
}

/* ReLU then inverted dropout on a hidden layer; the mask is kept for backward. */
static void activate(float *z, float *a, float *mask, uint32_t n, float p, intenti_rng *rng) {
    float keep = 1.0f / (1.0f - p);
    for (uint32_t i = 0; i < n; i++) {
        mask[i] = (p > 0.0f && intenti_rng_unit(rng) < p) ? 0.0f : keep;
        a[i] = z[i] > 0.0f ? z[i] * mask[i] : 0.0f;
    }
}

static void forward(const intenti_mlp *m, intenti_mlp_ws *ws, const intenti_kern *k, const uint32_t *ids,
                    const float *vals, uint32_t n, float p, intenti_rng *rng, float *const *a) {
    uint32_t h = m->size[1];
    memcpy(ws->z[0], m->b[0], h * sizeof(float));
    k->accum(ws->z[0], h, m->w[0], ids, vals, n); /* the register-blocked sparse sum */
    for (uint32_t l = 1; l < m->n_layers; l++) {
        uint32_t n_in = m->size[l], n_out = m->size[l + 1], n_on = 0;
        activate(ws->z[l - 1], a[l - 1], ws->mask[l - 1], n_in, p, rng);
        for (uint32_t i = 0; i < n_in; i++) /* the units ReLU and dropout left on */
            if (a[l - 1][i] != 0.0f) {
                ws->on[n_on] = i;
                ws->on_val[n_on++] = a[l - 1][i];
            }
        memcpy(ws->z[l], m->b[l], n_out * sizeof(float));
        k->accum(ws->z[l], n_out, m->w[l], ws->on, ws->on_val, n_on);
    }
}

/* Adds w * scale * (softmax(z) - t) to d, t spreading 1 over the gold labels, and returns
 * w * the cross-entropy. This sharpens the ranking between labels that per-label sigmoids
 * learn only indirectly; the sigmoid loss still sets the absolute levels. */
static double softmax_delta(const float *z, uint32_t n_out, const uint32_t *lab, uint32_t n_lab, float w,
                            float scale, float *d) {
    float mx = z[0];
    for (uint32_t i = 1; i < n_out; i++)
        mx = z[i] > mx ? z[i] : mx;
    double sum = 0.0;
    for (uint32_t i = 0; i < n_out; i++)
        sum += exp((double)(z[i] - mx));
    double log_sum = log(sum), loss = 0.0;
    for (uint32_t i = 0; i < n_out; i++)
        d[i] += w * scale * (float)(exp((double)(z[i] - mx) - log_sum));
    for (uint32_t j = 0; j < n_lab; j++) {
        d[lab[j]] -= w * scale / (float)n_lab;
        loss -= ((double)(z[lab[j]] - mx) - log_sum) / n_lab;
    }
    return w * loss;
}

/* Output delta scale * (sigmoid(z) - y) and the example's BCE, computed stably;
 * y is 1 - smooth for gold labels, 0 for the others. */
static double output_delta(const float *z, uint32_t n_out, const uint32_t *lab, uint32_t n_lab,
                           float scale, float smooth, bool with_loss, float *d) {
    double loss = 0.0;
    for (uint32_t i = 0; i < n_out; i++) {
        float zi = z[i], e = expf(-fabsf(zi)); /* one exp serves the sigmoid and the loss */
        d[i] = scale * (zi >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e));
        if (with_loss)
            loss += (zi > 0.0f ? zi : 0.0f) + intenti_log1p_small(e);
    }
    float y = 1.0f - smooth;
    for (uint32_t j = 0; j < n_lab; j++) {
        d[lab[j]] -= scale * y;
        loss -= y * z[lab[j]];
    }
    return loss;
}

double intenti_mlp_example(const intenti_mlp *m, intenti_mlp_ws *ws, const intenti_kern *k, const uint32_t *ids,
                           const float *vals, uint32_t n, const uint32_t *lab, uint32_t n_lab, const intenti_xcfg *cfg,
                           intenti_rng *rng, const intenti_xout *out) {
    forward(m, ws, k, ids, vals, n, cfg->dropout, rng, out->a);
    uint32_t L = m->n_layers;
    float *d = out->d[L - 1];
    double loss = output_delta(ws->z[L - 1], m->size[L], lab, n_lab, cfg->scale, cfg->smooth, cfg->with_loss, d);
    if (cfg->softmax > 0.0f && n_lab > 0)
        loss += softmax_delta(ws->z[L - 1], m->size[L], lab, n_lab, cfg->softmax, cfg->scale, d);
    for (uint32_t l = L - 1; l >= 1; l--) { /* delta of layer l - 1 from layer l's */
        uint32_t n_in = m->size[l], n_out = m->size[l + 1];
        const float *a = out->a[l - 1], *mask = ws->mask[l - 1];
        float *dprev = out->d[l - 1];
        for (uint32_t i = 0; i < n_in; i++) /* ReLU off or dropped (a == 0): no gradient flows */
            dprev[i] = a[i] == 0.0f ? 0.0f : k->dot(m->w[l] + (size_t)i * n_out, d, n_out) * mask[i];
        d = dprev;
    }
    return cfg->with_loss ? loss : 0.0;
}
