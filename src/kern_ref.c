/*
 * kern_ref.c - scalar reference kernels: the specification every SIMD set is tested against.
 */
#include "intent_impl.h"

#include <math.h>

static void axpy(float *y, const float *x, float a, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

static void axpy_i8(float *y, const int8_t *q, float a, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] += a * (float)q[i];
}

static float dot(const float *a, const float *b, size_t n) {
    float s = 0.0f;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void relu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}


static void adam_sum(float *w, float *m, float *v, size_t n, const float *d, size_t stride, const uint32_t *rows,
                     const float *a, size_t k, const intenti_adam *p) {
    for (size_t c = 0; c < n; c++) {
        float g = 0.0f;
        for (size_t j = 0; j < k; j++)
            g += a[j] * d[(size_t)rows[j] * stride + c];
        m[c] = p->b1 * m[c] + (1.0f - p->b1) * g;
        v[c] = p->b2 * v[c] + (1.0f - p->b2) * g * g;
        w[c] -= p->lr_t * m[c] / (sqrtf(v[c]) + p->eps);
    }
}

static void accum(float *h, size_t w, const float *base, const uint32_t *idx, const float *a, size_t n) {
    for (size_t j = 0; j < n; j++)
        axpy(h, base + (size_t)idx[j] * w, a[j], w);
}

static void accum_i8(float *h, size_t w, const int8_t *base, const uint32_t *idx, const float *a, size_t n) {
    for (size_t j = 0; j < n; j++)
        axpy_i8(h, base + (size_t)idx[j] * w, a[j], w);
}

static void sigmoid(float *y, const float *z, size_t n, float s, float w) {
    for (size_t i = 0; i < n; i++)
        y[i] += w / (1.0f + expf(-z[i] * s));
}

uint32_t intenti_weigh_ref(uint32_t *ids, float *vals, float *w, uint32_t n, const uint32_t *dd,
                           const intenti_rowinfo *ri, const float *tf1, float *sumsq) {
    float sum = 0.0f;
    uint32_t k = 0;
    for (uint32_t j = 0; j < n; j++) {
        uint32_t id = ids[j], c = dd[id] & INTENTI_DD_CNT_MASK;
        float tf = intenti_tf_of(c, tf1), idf = ri[id].idf;
        if (idf == 0.0f)
            continue;
        sum += (tf * idf) * (tf * idf);
        ids[k] = id;
        vals[k] = tf;
        w[k++] = tf * ri[id].gain;
    }
    *sumsq = sum;
    return k;
}

static uint32_t list_on(const float *x, const float *scale, uint32_t n, uint32_t *idx, float *a) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (x[i] > 0.0f) {
            idx[k] = i;
            a[k++] = scale ? x[i] * scale[i] : x[i];
        }
    return k;
}

const intenti_kern intenti_kern_ref = {"scalar", axpy,    axpy_i8,           dot,
                                       relu,     accum,   accum_i8,          adam_sum,
                                       sigmoid,  intenti_weigh_ref, list_on, NULL};
