/*
 * kern_avx2.c - AVX2 + FMA kernels (x86-64). Built with target attributes, so the rest
 * of the library runs on any x86-64; intenti_kern_get() only picks these when the CPU
 * reports both avx2 and fma. Loads are unaligned (callers pass arbitrary row offsets).
 */
#include "intent_impl.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

#define TARGET __attribute__((target("avx2,fma")))

TARGET static void axpy(float *y, const float *x, float a, size_t n) {
    __m256 va = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 y0 = _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
        __m256 y1 = _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8));
        _mm256_storeu_ps(y + i, y0);
        _mm256_storeu_ps(y + i + 8, y1);
    }
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) /* fmaf: one rounding, as in the vector body, so a result does not
                          depend on where a range starts (threads split ranges) */
        y[i] = fmaf(a, x[i], y[i]);
}

TARGET static void axpy_i8(float *y, const int8_t *q, float a, size_t n) {
    __m256 va = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i b = _mm_loadl_epi64((const __m128i *)(q + i));
        __m256 x = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, x, _mm256_loadu_ps(y + i)));
    }
    for (; i < n; i++)
        y[i] = fmaf(a, (float)q[i], y[i]);
}

TARGET static float dot(const float *a, const float *b, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s0 = _mm256_add_ps(s0, s1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float s = _mm_cvtss_f32(h);
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

TARGET static void relu(float *x, size_t n) {
    __m256 z = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_max_ps(_mm256_loadu_ps(x + i), z));
    for (; i < n; i++)
        x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* One Adam step on 8 parameters with gradient g (the settings broadcast in hp). */
typedef struct adam8_hp {
    __m256 b1, c1, b2, c2, lr, eps;
} adam8_hp;

TARGET static inline adam8_hp adam8_set(float lr_t, float b1, float b2, float eps) {
    return (adam8_hp){_mm256_set1_ps(b1), _mm256_set1_ps(1.0f - b1), _mm256_set1_ps(b2),
                      _mm256_set1_ps(1.0f - b2), _mm256_set1_ps(lr_t), _mm256_set1_ps(eps)};
}

TARGET static inline void adam8(float *w, float *m, float *v, __m256 g, const adam8_hp *h) {
    __m256 mi = _mm256_fmadd_ps(h->b1, _mm256_loadu_ps(m), _mm256_mul_ps(h->c1, g));
    __m256 vi = _mm256_fmadd_ps(h->b2, _mm256_loadu_ps(v), _mm256_mul_ps(h->c2, _mm256_mul_ps(g, g)));
    __m256 step = _mm256_div_ps(_mm256_mul_ps(h->lr, mi), _mm256_add_ps(_mm256_sqrt_ps(vi), h->eps));
    _mm256_storeu_ps(m, mi);
    _mm256_storeu_ps(v, vi);
    _mm256_storeu_ps(w, _mm256_sub_ps(_mm256_loadu_ps(w), step));
}

/* adam8 on the lanes of mask only (the others are neither read nor written). */
TARGET static inline void adam8_masked(float *w, float *m, float *v, __m256 g, const adam8_hp *h, __m256i mask) {
    __m256 mi = _mm256_fmadd_ps(h->b1, _mm256_maskload_ps(m, mask), _mm256_mul_ps(h->c1, g));
    __m256 vi = _mm256_fmadd_ps(h->b2, _mm256_maskload_ps(v, mask), _mm256_mul_ps(h->c2, _mm256_mul_ps(g, g)));
    __m256 step = _mm256_div_ps(_mm256_mul_ps(h->lr, mi), _mm256_add_ps(_mm256_sqrt_ps(vi), h->eps));
    _mm256_maskstore_ps(m, mask, mi);
    _mm256_maskstore_ps(v, mask, vi);
    _mm256_maskstore_ps(w, mask, _mm256_sub_ps(_mm256_maskload_ps(w, mask), step));
}

/* adam_sum on NB x 8 columns: the gradient is summed in NB registers over the k rows of
 * d, then applied; nothing is stored but the parameters and moments. */
#define ADAM_SUM_BLOCK(NAME, NB)                                                                   \
    TARGET static void NAME(float *w, float *m, float *v, const float *d, size_t stride,          \
                            const uint32_t *rows, const float *a, size_t k, const adam8_hp *h) {   \
        __m256 g[NB];                                                                              \
        _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++) g[b] = _mm256_setzero_ps();          \
        for (size_t j = 0; j < k; j++) {                                                           \
            const float *r = d + (size_t)rows[j] * stride;                                         \
            __m256 va = _mm256_set1_ps(a[j]);                                                      \
            _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++)                                  \
                g[b] = _mm256_fmadd_ps(va, _mm256_loadu_ps(r + 8 * b), g[b]);                      \
        }                                                                                          \
        _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++)                                      \
            adam8(w + 8 * b, m + 8 * b, v + 8 * b, g[b], h);                                       \
    }

ADAM_SUM_BLOCK(adam_sum_96, 12)
ADAM_SUM_BLOCK(adam_sum_64, 8)
ADAM_SUM_BLOCK(adam_sum_32, 4)
ADAM_SUM_BLOCK(adam_sum_16, 2)
ADAM_SUM_BLOCK(adam_sum_8, 1)

/* The last n < 8 columns as one masked vector: the same roundings as the full ones
 * (a scalar tail would cost a divide and a square root a column). */
TARGET static void adam_sum_tail(float *w, float *m, float *v, size_t n, const float *d, size_t stride,
                                 const uint32_t *rows, const float *a, size_t k, const adam8_hp *h) {
    __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 g = _mm256_setzero_ps();
    for (size_t j = 0; j < k; j++)
        g = _mm256_fmadd_ps(_mm256_set1_ps(a[j]), _mm256_maskload_ps(d + (size_t)rows[j] * stride, mask), g);
    adam8_masked(w, m, v, g, h, mask);
}

TARGET static void adam_sum(float *w, float *m, float *v, size_t n, const float *d, size_t stride,
                            const uint32_t *rows, const float *a, size_t k, const intenti_adam *p) {
    adam8_hp h = adam8_set(p->lr_t, p->b1, p->b2, p->eps);
    size_t c = 0;
    for (; c + 96 <= n; c += 96)
        adam_sum_96(w + c, m + c, v + c, d + c, stride, rows, a, k, &h);
    if (c + 64 <= n) { adam_sum_64(w + c, m + c, v + c, d + c, stride, rows, a, k, &h); c += 64; }
    if (c + 32 <= n) { adam_sum_32(w + c, m + c, v + c, d + c, stride, rows, a, k, &h); c += 32; }
    if (c + 16 <= n) { adam_sum_16(w + c, m + c, v + c, d + c, stride, rows, a, k, &h); c += 16; }
    if (c + 8 <= n) { adam_sum_8(w + c, m + c, v + c, d + c, stride, rows, a, k, &h); c += 8; }
    if (c < n)
        adam_sum_tail(w + c, m + c, v + c, n - c, d + c, stride, rows, a, k, &h);
}

/* The sparse-layer bodies. Columns go in blocks of up to 96 (12 accumulators of 8
 * floats: with the broadcast and the load that is 14 of the 16 ymm registers), then 64,
 * 32, 16, 8; every row is read once per block. Widths up to 96 take one pass. The tail
 * columns (w % 8) fall back to scalar fmaf, which rounds as the vector body does. */
#define I8X8(p) _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p))))
#define F32X8(p) _mm256_loadu_ps(p)

#define ACCUM_BLOCK(NAME, T, LOAD, NB)                                                              \
    TARGET static void NAME(float *h, size_t w, const T *base, const uint32_t *idx, const float *a,  \
                            size_t n) {                                                            \
        __m256 s[NB]; /* fully unrolled, so these live in registers */                            \
        _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++) s[b] = _mm256_loadu_ps(h + 8 * b);   \
        for (size_t j = 0; j < n; j++) {                                                           \
            const T *r = base + (size_t)idx[j] * w;                                                \
            INTENTI_PREFETCH_ROW(base, w, idx, j, n, 8 * NB * sizeof(T));                          \
            __m256 va = _mm256_set1_ps(a[j]);                                                      \
            _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++)                                  \
                s[b] = _mm256_fmadd_ps(va, LOAD(r + 8 * b), s[b]);                                 \
        }                                                                                          \
        _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++) _mm256_storeu_ps(h + 8 * b, s[b]);   \
    }

ACCUM_BLOCK(f32_96, float, F32X8, 12)
ACCUM_BLOCK(f32_64, float, F32X8, 8)
ACCUM_BLOCK(f32_32, float, F32X8, 4)
ACCUM_BLOCK(f32_16, float, F32X8, 2)
ACCUM_BLOCK(f32_8, float, F32X8, 1)
ACCUM_BLOCK(i8_96, int8_t, I8X8, 12)
ACCUM_BLOCK(i8_64, int8_t, I8X8, 8)
ACCUM_BLOCK(i8_32, int8_t, I8X8, 4)
ACCUM_BLOCK(i8_16, int8_t, I8X8, 2)
ACCUM_BLOCK(i8_8, int8_t, I8X8, 1)

/* Block c of the row starts at base + c: the row stride stays w, so each block kernel
 * gets base offset by c and the full width as its stride. */
#define ACCUM_DISPATCH(NAME, T, PREFIX, CVT)                                                        \
    TARGET static void NAME(float *h, size_t w, const T *base, const uint32_t *idx, const float *a, \
                            size_t n) {                                                           \
        size_t c = 0;                                                                             \
        for (; c + 96 <= w; c += 96)                                                              \
            PREFIX##_96(h + c, w, base + c, idx, a, n);                                           \
        if (c + 64 <= w) { PREFIX##_64(h + c, w, base + c, idx, a, n); c += 64; }                 \
        if (c + 32 <= w) { PREFIX##_32(h + c, w, base + c, idx, a, n); c += 32; }                 \
        if (c + 16 <= w) { PREFIX##_16(h + c, w, base + c, idx, a, n); c += 16; }                 \
        if (c + 8 <= w) { PREFIX##_8(h + c, w, base + c, idx, a, n); c += 8; }                    \
        if (c < w && w >= 8) { /* tail: the row's last 8 columns, keeping the new lanes */       \
            float t[8];                                                                           \
            _mm256_storeu_ps(t, _mm256_setzero_ps());                                             \
            PREFIX##_8(t, w, base + (w - 8), idx, a, n);                                          \
            for (size_t i = c; i < w; i++)                                                        \
                h[i] += t[i - (w - 8)];                                                           \
            c = w;                                                                                \
        }                                                                                         \
        for (; c < w; c++)                                                                        \
            for (size_t j = 0; j < n; j++)                                                        \
                h[c] = fmaf(a[j], CVT(base[(size_t)idx[j] * w + c]), h[c]);                       \
    }

#define AS_FLOAT(x) ((float)(x))
ACCUM_DISPATCH(accum, float, f32, AS_FLOAT)
ACCUM_DISPATCH(accum_i8, int8_t, i8, AS_FLOAT)

static const intenti_kern avx2 = {"avx2", axpy, axpy_i8, dot, relu, accum, accum_i8, adam_sum};

const intenti_kern *intenti_kern_avx2(void) { return &avx2; }
#else
const intenti_kern *intenti_kern_avx2(void) { return NULL; }
#endif
