/*
 * kern.h - the kernel table: the few loops that dominate inference and training.
 *
 * kern_ref.c is the specification (plain C, no tricks); kern_avx2.c (and later others)
 * must agree with it to float rounding, which tests/test_kern.c checks over random
 * sizes, odd tails and unaligned pointers. The set is chosen once per process by
 * intenti_kern_get(): the best the CPU supports, or the reference when the environment
 * variable INTENT_FORCE_SCALAR is set to anything but "0", or the set INTENT_KERNEL names
 * ("scalar", "avx2", "avx512", "neon") when the CPU can run it.
 */
#ifndef INTENT_KERN_H
#define INTENT_KERN_H

#include <stddef.h>
#include <stdint.h>

/* Adam settings of one step; lr_t includes the bias corrections of step t. */
typedef struct intenti_adam {
    float lr_t, b1, b2, eps;
    float lr;   /* without the corrections, for decoupled weight decay */
} intenti_adam;

/* Layer-0 weighting of one bucket, derived at load: its idf, and idf times the row's
 * int8 scale (idf alone for float rows). One look-up serves the norm and the row. */
typedef struct intenti_rowinfo {
    float idf, gain;
} intenti_rowinfo;

typedef struct intenti_kern {
    const char *name;
    /* y[0..n) += a * x[0..n) */
    void (*axpy)(float *y, const float *x, float a, size_t n);
    /* y[0..n) += a * (float)q[0..n) */
    void (*axpy_i8)(float *y, const int8_t *q, float a, size_t n);
    /* sum of a[i] * b[i] */
    float (*dot)(const float *a, const float *b, size_t n);
    /* x[i] = max(x[i], 0) */
    void (*relu)(float *x, size_t n);
    /* Sparse layer body: h[0..w) += sum_j a[j] * rows[j][0..w), where rows[j] is
     * base + idx[j] * w (float rows, or int8 rows in accum_i8). The accumulators stay
     * in registers across all n rows, which is what makes the first layer cheap. */
    void (*accum)(float *h, size_t w, const float *base, const uint32_t *idx, const float *a, size_t n);
    void (*accum_i8)(float *h, size_t w, const int8_t *base, const uint32_t *idx, const float *a, size_t n);
    /* Adam on one parameter row w[0..n) whose gradient is a weighted sum of rows of d:
     * g[c] = sum_j a[j] * d[rows[j] * stride + c], added in j order from zero; then
     * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; w -= lr_t * m / (sqrt(v) + eps). The
     * gradient lives in registers only: it is never written, so a sparse layer needs no
     * gradient table to clear, fill and read back. */
    void (*adam_sum)(float *w, float *m, float *v, size_t n, const float *d, size_t stride,
                     const uint32_t *rows, const float *a, size_t k, const intenti_adam *p);
    /* Confidences: y[i] += w / (1 + e^(-s z[i])). SIMD sets take e^x from a polynomial
     * (within a few ulp of expf; arguments clamped to +-80, NaN stays NaN). */
    void (*sigmoid)(float *y, const float *z, size_t n, float s, float w);
    /* Serving's tf-idf weighting of a text's n listed buckets, whose counts the direct
     * dedup table holds: c = dd[ids[j]] & INTENTI_DD_CNT_MASK (>= 1); tf = c, or 1 + ln c
     * when tf1 is given (tf1[c] below INTENTI_TF1, logf from there). Buckets of idf 0
     * (unseen in training) are dropped, the rest compacted in order: ids[k] = the bucket,
     * vals[k] = tf, w[k] = tf * gain. Returns k; *sumsq = sum of (tf * idf)^2, summed in
     * any order. Bucket ids must index dd and ri (callers bound them by the model's
     * buckets, at most 2^20). Entries of ids, vals and w past the k-th, up to n, may be
     * overwritten. */
    uint32_t (*weigh)(uint32_t *ids, float *vals, float *w, uint32_t n, const uint32_t *dd,
                      const intenti_rowinfo *ri, const float *tf1, float *sumsq);
    /* The units a ReLU leaves on: for each i with x[i] > 0 (NaN is off), in order,
     * idx[k] = i and a[k] = x[i] * scale[i] (x[i] when scale is NULL). Returns k.
     * idx and a hold n entries; those past the k-th may be overwritten. */
    uint32_t (*list_on)(const float *x, const float *scale, uint32_t n, uint32_t *idx, float *a);
    /* A dense layer over a batch of rows (NULL in sets without a register-blocked form):
     * z[r][c] = fmaf(x[r][k-1], w[k-1][c], ... fmaf(x[r][0], w[0][c], z[r][c])) for r < rows,
     * c < n: one fused multiply-add a term, in k order, exactly; so a row's result does
     * not depend on the other rows of the batch. x rows are ldx floats apart, z rows ldz;
     * w is [k][n], row-major. */
    void (*gemm)(float *z, size_t ldz, const float *x, size_t ldx, const float *w, size_t k, size_t n,
                 size_t rows);
} intenti_kern;
INTENTI_HIDDEN extern const intenti_kern intenti_kern_ref;
/* The reference's weigh, which the AVX-512 one falls back on for rare counts. */
INTENTI_HIDDEN uint32_t intenti_weigh_ref(uint32_t *ids, float *vals, float *w, uint32_t n, const uint32_t *dd,
                                          const intenti_rowinfo *ri, const float *tf1, float *sumsq);

/* The sparse-layer kernels read rows at random places of a table of megabytes, which the
 * hardware prefetcher cannot guess; the row INTENTI_PF_AHEAD places ahead in idx is asked
 * for while this one is summed, so its cache lines arrive before they are needed.
 * INTENTI_PREFETCH_ROW(base, w, idx, j, n, bytes): the first `bytes` of row idx[j + AHEAD]. */
#define INTENTI_PF_AHEAD 4
#define INTENTI_PREFETCH_ROW(base, w, idx, j, n, bytes)                                              \
    do {                                                                                          \
        if ((j) + INTENTI_PF_AHEAD < (n)) {                                                       \
            const char *p_ = (const char *)((base) + (size_t)(idx)[(j) + INTENTI_PF_AHEAD] * (w)); \
            _Pragma("GCC unroll 16") for (size_t o_ = 0; o_ < (bytes); o_ += 64)                  \
                __builtin_prefetch(p_ + o_, 0, 3);                                                \
        }                                                                                         \
    } while (0)
INTENTI_HIDDEN const intenti_kern *intenti_kern_avx2(void);   /* NULL if not built */
INTENTI_HIDDEN const intenti_kern *intenti_kern_avx512(void); /* NULL if not built */
INTENTI_HIDDEN const intenti_kern *intenti_kern_neon(void);   /* NULL if not built */
/* The kernel set chosen once for this CPU (INTENT_FORCE_SCALAR=1 picks the reference). */
INTENTI_HIDDEN const intenti_kern *intenti_kern_get(void);

#endif
