/*
 * quantize.c - int8 copies of models: each row of every layer's weights (one bucket's
 * or one unit's fan-out) becomes int8 with its own scale, max|row| / 127, rounding to
 * nearest. The first layer's table is nearly all of a model (8192 x 96 of the default's
 * 8192 x 96 + 96 x labels); the dense layers are small, but int8 pays there too: a query
 * reads about half the output layer's rows (its live hidden units), 29 KB in float and
 * 7 KB in int8, which stays in L1 with the rest of what a query touches. On the
 * dedicated machine that made queries about 10% faster (docs/SPEED.md).
 *
 * The new file keeps every metadata entry of the old one (so provenance and unknown
 * newer keys survive) and every other tensor as it is.
 */
#include "intent_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct qbuf {
    int8_t *q[INTENT_MAX_NETS * (INTENT_MAX_HIDDEN + 1)];
    float *s[INTENT_MAX_NETS * (INTENT_MAX_HIDDEN + 1)];
    uint32_t n;
} qbuf;

static int quantize_layer(const intenti_layer *L, int8_t **q_out, float **s_out) {
    size_t n = (size_t)L->n_in * L->n_out;
    int8_t *q = intenti_aalloc(n ? n : 1);
    float *s = intenti_aalloc((L->n_in ? L->n_in : 1) * sizeof *s);
    if (!q || !s) {
        intenti_afree(q);
        intenti_afree(s);
        return INTENT_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < L->n_in; i++) {
        const float *row = L->w + (size_t)i * L->n_out;
        float mx = 0.0f;
        for (uint32_t j = 0; j < L->n_out; j++)
            mx = fabsf(row[j]) > mx ? fabsf(row[j]) : mx;
        float scale = mx > 0.0f && isfinite(mx) ? mx / 127.0f : 1.0f, inv = 1.0f / scale;
        s[i] = mx > 0.0f && isfinite(mx) ? scale : 0.0f;
        for (uint32_t j = 0; j < L->n_out; j++) {
            float v = nearbyintf(row[j] * inv);
            q[(size_t)i * L->n_out + j] = (int8_t)(v > 127.0f ? 127 : v < -127.0f ? -127 : isnan(v) ? 0 : v);
        }
    }
    *q_out = q;
    *s_out = s;
    return INTENT_OK;
}

/* Is this tensor a layer's weights or scales? Those are re-added by add_layers. */
static bool is_layer_tensor(const intenti_tensor *t) {
    return t->name_len >= 5 && memcmp(t->name, "net", 3) == 0 &&
           (memcmp(t->name + t->name_len - 2, ".w", 2) == 0 || memcmp(t->name + t->name_len - 2, ".s", 2) == 0);
}

static int add_layers(const intent_model *m, intenti_fbuild *b, qbuf *qb) {
    char name[64];
    for (uint32_t k = 0; k < m->n_nets; k++) {
        for (uint32_t l = 0; l < m->nets[k].n_layers; l++) {
            const intenti_layer *L = &m->nets[k].layers[l];
            snprintf(name, sizeof name, "net%u.l%u.w", k, l);
            if (L->dtype == INTENTI_DT_I8) { /* already int8: keep */
                intenti_fb_tensor(b, name, INTENTI_DT_I8, L->n_in, L->n_out, L->q);
                snprintf(name, sizeof name, "net%u.l%u.s", k, l);
                intenti_fb_tensor(b, name, INTENTI_DT_F32, L->n_in, 0, L->qs);
                continue;
            }
            int rc = quantize_layer(L, &qb->q[qb->n], &qb->s[qb->n]);
            if (rc)
                return rc;
            intenti_fb_tensor(b, name, INTENTI_DT_I8, L->n_in, L->n_out, qb->q[qb->n]);
            snprintf(name, sizeof name, "net%u.l%u.s", k, l);
            intenti_fb_tensor(b, name, INTENTI_DT_F32, L->n_in, 0, qb->s[qb->n]);
            qb->n++;
        }
    }
    return INTENT_OK;
}

int intent_model_quantize(const intent_model *m, intent_model **out, intent_error *err) {
    if (!m || !out)
        return intenti_err(err, INTENT_ERR_ARG, "intent_model_quantize: NULL argument");
    *out = NULL;
    intenti_fbuild b = {0};
    qbuf qb = {0};
    for (uint32_t i = 0; i < m->view.n_kv; i++)
        if (!(m->view.kv[i].key_len == 5 && memcmp(m->view.kv[i].key, "quant", 5) == 0))
            intenti_fb_kv(&b, &m->view.kv[i]);
    intenti_fb_str(&b, "quant", "int8, one scale per row");
    for (uint32_t i = 0; i < m->view.n_tensors; i++) {
        const intenti_tensor *t = &m->view.tensors[i];
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)t->name_len, t->name);
        if (!is_layer_tensor(t))
            intenti_fb_tensor(&b, name, t->dtype, t->dims[0], t->n_dims == 2 ? t->dims[1] : 0, t->data);
    }
    int rc = add_layers(m, &b, &qb);
    uint8_t *img = NULL;
    size_t len = 0;
    if (!rc)
        rc = intenti_fb_finish(&b, &img, &len);
    intenti_fb_free(&b);
    for (uint32_t i = 0; i < qb.n; i++) {
        intenti_afree(qb.q[i]);
        intenti_afree(qb.s[i]);
    }
    if (rc)
        return intenti_err(err, rc, "quantize: out of memory");
    return intenti_model_from_image(img, len, false, "<quantized model>", out, err);
}
