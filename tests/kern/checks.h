/*
 * checks.h - every kernel of a set against the scalar reference: random sizes with odd
 * tails, unaligned pointers, mixed magnitudes. Shared by the cmocka test (tests/test_kern.c)
 * and kern_check.c, which runs where only a cross compiler and an emulator are at hand.
 * kern_checks(k, ok) sets ok[i] to whether KERN_CHECKS[i] agrees.
 */
#ifndef INTENT_KERN_CHECKS_H
#define INTENT_KERN_CHECKS_H

#include "intent_impl.h"

#include <math.h>
#include <string.h>

#define MAXN 1100
#define N_KERN_CHECKS 11
static const char *const KERN_CHECKS[N_KERN_CHECKS] = {"axpy",    "axpy_i8", "dot",      "relu",  "accum",  "accum_i8",
                                                      "sigmoid", "adam_sum", "weigh", "list_on", "gemm"};

static float rnd(intenti_rng *r) {
    return (intenti_rng_unit(r) * 2.0f - 1.0f) * (intenti_rng_unit(r) < 0.1f ? 100.0f : 1.0f);
}

static float max_abs(const float *x, size_t n) {
    float m = 0.0f;
    for (size_t i = 0; i < n; i++)
        m = fabsf(x[i]) > m ? fabsf(x[i]) : m;
    return m;
}

static int close_enough(const float *a, const float *b, size_t n, float tol, float scale) {
    for (size_t i = 0; i < n; i++)
        if (!(fabsf(a[i] - b[i]) <= tol * (1.0f + scale)))
            return 0;
    return 1;
}

static void set_ok(const intenti_kern *k, int *ok) {
    static float x[MAXN + 16], y0[MAXN + 16], y1[MAXN + 16];
    static int8_t q[MAXN + 16];
    const intenti_kern *ref = &intenti_kern_ref;
    intenti_rng r;
    intenti_rng_seed(&r, 7, 0);
    for (int trial = 0; trial < 300; trial++) {
        size_t n = trial < 40 ? (size_t)trial : intenti_rng_below(&r, MAXN);
        size_t ox = intenti_rng_below(&r, 8), oy = intenti_rng_below(&r, 8);
        for (size_t i = 0; i < n + 16; i++) {
            x[i] = rnd(&r);
            y0[i] = y1[i] = rnd(&r);
            q[i] = (int8_t)(intenti_rng_below(&r, 256) - 128);
        }
        float a = rnd(&r), scale = max_abs(y0, n + 16) + fabsf(a) * max_abs(x, n + 16);
        ref->axpy(y0 + oy, x + ox, a, n);
        k->axpy(y1 + oy, x + ox, a, n);
        ok[0] &= close_enough(y1, y0, n + 16, 1e-6f, scale);
        scale = max_abs(y0, n + 16) + fabsf(a) * 128.0f;
        ref->axpy_i8(y0 + oy, q + ox, a, n);
        k->axpy_i8(y1 + oy, q + ox, a, n);
        ok[1] &= close_enough(y1, y0, n + 16, 1e-6f, scale);
        float d0 = ref->dot(x + ox, y0 + oy, n), d1 = k->dot(x + ox, y1 + oy, n);
        ok[2] &= fabsf(d0 - d1) <= 1e-3f * (1.0f + fabsf(d0)) + 1e-2f * sqrtf((float)n);
        ref->relu(y0 + oy, n);
        k->relu(y1 + oy, n);
        ok[3] &= close_enough(y1, y0, n + 16, 1e-6f, max_abs(y0, n + 16));
    }
}

/* Confidences against the reference: logits of every magnitude, the clamped range, NaN. */
static int sigmoid_ok(const intenti_kern *k) {
    static float z[MAXN + 16], y0[MAXN + 16], y1[MAXN + 16];
    intenti_rng r;
    intenti_rng_seed(&r, 11, 0);
    const float special[] = {0.0f, 79.9f, -79.9f, 80.5f, -80.5f, 200.0f, -200.0f, INFINITY, -INFINITY, NAN};
    int ok = 1;
    for (int trial = 0; trial < 200; trial++) {
        size_t n = trial < 40 ? (size_t)trial : intenti_rng_below(&r, MAXN);
        size_t oz = intenti_rng_below(&r, 8), oy = intenti_rng_below(&r, 8);
        for (size_t i = 0; i < n + 16; i++) {
            z[i] = rnd(&r) * 0.3f;
            if (intenti_rng_unit(&r) < 0.05f)
                z[i] = special[intenti_rng_below(&r, sizeof special / sizeof *special)];
            y0[i] = y1[i] = intenti_rng_unit(&r);
        }
        float s = 0.2f + 2.0f * intenti_rng_unit(&r), w = trial % 2 ? 1.0f : 0.25f;
        intenti_kern_ref.sigmoid(y0 + oy, z + oz, n, s, w);
        k->sigmoid(y1 + oy, z + oz, n, s, w);
        for (size_t i = 0; i < n + 16; i++)
            ok &= (isnan(y0[i]) || isnan(y1[i])) ? isnan(y0[i]) && isnan(y1[i])
                                                   : fabsf(y1[i] - y0[i]) <= 1e-6f * (fabsf(y0[i]) + w);
    }
    return ok;
}

static void accum_ok(const intenti_kern *k, int *ok) {
    enum { ROWS = 300, MAXW = 260 };
    static float basef[ROWS * MAXW + 8], h0[MAXW + 8], h1[MAXW + 8], a[64];
    static int8_t baseq[ROWS * MAXW + 8];
    uint32_t idx[64];
    intenti_rng r;
    intenti_rng_seed(&r, 21, 0);
    for (size_t i = 0; i < ROWS * MAXW + 8; i++) {
        basef[i] = rnd(&r);
        baseq[i] = (int8_t)(intenti_rng_below(&r, 255) - 127);
    }
    for (int trial = 0; trial < 400; trial++) {
        size_t w = 1 + intenti_rng_below(&r, MAXW), n = intenti_rng_below(&r, 64), off = intenti_rng_below(&r, 8);
        for (size_t j = 0; j < n; j++) {
            idx[j] = intenti_rng_below(&r, ROWS - 1);
            a[j] = rnd(&r);
        }
        for (size_t i = 0; i < w + 8; i++)
            h0[i] = h1[i] = rnd(&r);
        float scale = max_abs(h0, w);
        for (size_t j = 0; j < n; j++)
            scale += fabsf(a[j]) * 128.0f;
        intenti_kern_ref.accum(h0, w, basef + off, idx, a, n);
        k->accum(h1, w, basef + off, idx, a, n);
        ok[0] &= close_enough(h1, h0, w + 8, 1e-6f, scale); /* + 8: nothing past w written */
        intenti_kern_ref.accum_i8(h0, w, baseq + off, idx, a, n);
        k->accum_i8(h1, w, baseq + off, idx, a, n);
        ok[1] &= close_enough(h1, h0, w + 8, 1e-6f, scale);
    }
}

/* adam_sum: random widths and strides, rows that repeat, nothing written past the width. */
static int adam_sum_ok(const intenti_kern *k) {
    enum { ROWS = 40, MAXW = 260 };
    static float d[ROWS * (MAXW + 8)], w0[MAXW + 8], w1[MAXW + 8], m0[2 * MAXW + 16], m1[2 * MAXW + 16], a[64];
    uint32_t rows[64];
    intenti_rng r;
    intenti_rng_seed(&r, 33, 0);
    int ok = 1;
    for (int trial = 0; trial < 300; trial++) {
        size_t n = 1 + intenti_rng_below(&r, MAXW), stride = n + intenti_rng_below(&r, 8);
        size_t k_rows = intenti_rng_below(&r, 64), off = intenti_rng_below(&r, 8);
        for (size_t i = 0; i < ROWS * stride; i++)
            d[i] = rnd(&r);
        for (size_t j = 0; j < k_rows; j++) {
            rows[j] = intenti_rng_below(&r, ROWS - 1);
            a[j] = rnd(&r) * 0.1f;
        }
        for (size_t i = 0; i < n + 8; i++) {
            w0[i] = w1[i] = 0.0f; /* then w is minus the step, compared at the steps' scale */
            m0[i] = m1[i] = rnd(&r) * 0.01f;
            m0[n + 8 + i] = m1[n + 8 + i] = fabsf(rnd(&r)) * 0.01f;
        }
        intenti_adam p = {0.001f, 0.9f, 0.999f, 1e-7f, 0.001f};
        intenti_kern_ref.adam_sum(w0, m0, m0 + n + 8, n, d + off, stride, rows, a, k_rows, &p);
        k->adam_sum(w1, m1, m1 + n + 8, n, d + off, stride, rows, a, k_rows, &p);
        ok &= close_enough(w1, w0, n + 8, 1e-4f * max_abs(w0, n + 8), 0.0f) &&
              close_enough(m1, m0, 2 * n + 16, 1e-5f, max_abs(m0, 2 * n + 16));
    }
    return ok;
}

/* weigh: counts of 1..40 under random generation bits (so both the table and the logf
 * side of tf are taken), a fifth of the buckets unseen (idf 0), with and without
 * sublinear tf; the kept entries, their order and values must match exactly, the sum of
 * squares to rounding, and nothing past n may be written. */
static int weigh_ok(const intenti_kern *k) {
    enum { BUCKETS = 1000, MAXT = 300, PAD = 20 };
    static uint32_t dd[BUCKETS], ids0[MAXT + PAD], ids1[MAXT + PAD];
    static float vals0[MAXT + PAD], vals1[MAXT + PAD], w0[MAXT + PAD], w1[MAXT + PAD], tf1[INTENTI_TF1];
    static intenti_rowinfo ri[BUCKETS];
    for (uint32_t c = 1; c < INTENTI_TF1; c++)
        tf1[c] = 1.0f + logf((float)c);
    intenti_rng r;
    intenti_rng_seed(&r, 41, 0);
    int ok = 1;
    for (int trial = 0; trial < 300; trial++) {
        uint32_t n = trial < 40 ? (uint32_t)trial : (uint32_t)intenti_rng_below(&r, MAXT);
        bool rare = trial % 3 == 0; /* some counts of INTENTI_TF1 and more */
        for (uint32_t b = 0; b < BUCKETS; b++) {
            uint32_t c = rare && intenti_rng_unit(&r) < 0.05f ? 1 + intenti_rng_below(&r, 40) : 1 + intenti_rng_below(&r, 3);
            dd[b] = (uint32_t)intenti_rng_below(&r, INTENTI_DD_GENS) << INTENTI_DD_CNT_BITS | c;
            float idf = intenti_rng_unit(&r) < 0.2f ? 0.0f : 0.5f + 4.0f * intenti_rng_unit(&r);
            ri[b] = (intenti_rowinfo){idf, idf * rnd(&r)};
        }
        for (uint32_t j = 0; j < MAXT + PAD; j++) {
            ids0[j] = ids1[j] = (uint32_t)intenti_rng_below(&r, BUCKETS);
            vals0[j] = vals1[j] = w0[j] = w1[j] = -7.0f;
        }
        const float *t = trial % 2 ? tf1 : NULL;
        float s0, s1;
        uint32_t k0 = intenti_kern_ref.weigh(ids0, vals0, w0, n, dd, ri, t, &s0);
        uint32_t k1 = k->weigh(ids1, vals1, w1, n, dd, ri, t, &s1);
        ok &= k0 == k1 && fabsf(s0 - s1) <= 1e-5f * s0;
        for (uint32_t j = 0; ok && j < k0; j++)
            ok &= ids0[j] == ids1[j] && vals0[j] == vals1[j] && w0[j] == w1[j];
        for (uint32_t j = n; ok && j < MAXT + PAD; j++)
            ok &= ids0[j] == ids1[j] && vals1[j] == -7.0f && w1[j] == -7.0f;
    }
    return ok;
}

/* list_on: units negative, zero, positive and NaN, with and without row scales; the
 * list must match exactly and nothing past n may be written. */
static int list_on_ok(const intenti_kern *k) {
    enum { MAXT = 300, PAD = 20 };
    static float x[MAXT + PAD], scale[MAXT + PAD], a0[MAXT + PAD], a1[MAXT + PAD];
    static uint32_t idx0[MAXT + PAD], idx1[MAXT + PAD];
    intenti_rng r;
    intenti_rng_seed(&r, 43, 0);
    int ok = 1;
    for (int trial = 0; trial < 300; trial++) {
        uint32_t n = trial < 40 ? (uint32_t)trial : (uint32_t)intenti_rng_below(&r, MAXT);
        size_t off = intenti_rng_below(&r, 8);
        for (uint32_t i = 0; i < MAXT + PAD; i++) {
            float u = intenti_rng_unit(&r);
            x[i] = u < 0.1f ? 0.0f : u < 0.12f ? NAN : rnd(&r);
            scale[i] = intenti_rng_unit(&r);
            a0[i] = a1[i] = -7.0f;
            idx0[i] = idx1[i] = 7777;
        }
        const float *sc = trial % 2 ? scale + off : NULL;
        uint32_t k0 = intenti_kern_ref.list_on(x + off, sc, n, idx0, a0);
        uint32_t k1 = k->list_on(x + off, sc, n, idx1, a1);
        ok &= k0 == k1;
        for (uint32_t j = 0; ok && j < k0; j++)
            ok &= idx0[j] == idx1[j] && a0[j] == a1[j];
        for (uint32_t j = n; ok && j < MAXT + PAD; j++) /* past k: scratch up to n */
            ok &= idx1[j] == 7777 && a1[j] == -7.0f;
    }
    return ok;
}

/* gemm (where the set has one) against its definition, fmaf term by term in k order:
 * exactly equal, for row counts around the 4-row blocks, widths around the 16- and
 * 80-column blocks, padded row strides; nothing outside the rows' first n entries written. */
static int gemm_ok(const intenti_kern *k) {
    if (!k->gemm)
        return 1;
    enum { MAXR = 11, MAXK = 40, MAXC = 200, PAD = 5 };
    static float x[MAXR * (MAXK + PAD)], w[MAXK * MAXC], z0[MAXR * (MAXC + PAD)], z1[MAXR * (MAXC + PAD)];
    intenti_rng r;
    intenti_rng_seed(&r, 47, 0);
    int ok = 1;
    for (int trial = 0; trial < 300; trial++) {
        size_t rows = intenti_rng_below(&r, MAXR + 1), kk = intenti_rng_below(&r, MAXK + 1);
        size_t n = 1 + intenti_rng_below(&r, MAXC), ldx = kk + intenti_rng_below(&r, PAD);
        size_t ldz = n + intenti_rng_below(&r, PAD);
        for (size_t i = 0; i < MAXR * (MAXK + PAD); i++)
            x[i] = intenti_rng_unit(&r) < 0.4f ? 0.0f : rnd(&r);
        for (size_t i = 0; i < MAXK * MAXC; i++)
            w[i] = rnd(&r);
        for (size_t i = 0; i < MAXR * (MAXC + PAD); i++)
            z0[i] = z1[i] = rnd(&r);
        for (size_t a = 0; a < rows; a++)
            for (size_t c = 0; c < n; c++)
                for (size_t i = 0; i < kk; i++)
                    z0[a * ldz + c] = fmaf(x[a * ldx + i], w[i * n + c], z0[a * ldz + c]);
        k->gemm(z1, ldz, x, ldx, w, kk, n, rows);
        ok &= memcmp(z0, z1, sizeof z0) == 0;
    }
    return ok;
}

static void kern_checks(const intenti_kern *k, int ok[N_KERN_CHECKS]) {
    for (int i = 0; i < N_KERN_CHECKS; i++)
        ok[i] = 1;
    set_ok(k, ok);
    accum_ok(k, ok + 4);
    ok[6] = sigmoid_ok(k);
    ok[7] = adam_sum_ok(k);
    ok[8] = weigh_ok(k);
    ok[9] = list_on_ok(k);
    ok[10] = gemm_ok(k);
}

#endif
