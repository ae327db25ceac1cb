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

TARGET static void adam(float *w, float *m, float *v, const float *g, size_t n, float lr_t, float b1,
                        float b2, float eps) {
    __m256 vb1 = _mm256_set1_ps(b1), vc1 = _mm256_set1_ps(1.0f - b1);
    __m256 vb2 = _mm256_set1_ps(b2), vc2 = _mm256_set1_ps(1.0f - b2);
    __m256 vlr = _mm256_set1_ps(lr_t), veps = _mm256_set1_ps(eps);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 gi = _mm256_loadu_ps(g + i);
        __m256 mi = _mm256_fmadd_ps(vb1, _mm256_loadu_ps(m + i), _mm256_mul_ps(vc1, gi));
        __m256 vi = _mm256_fmadd_ps(vb2, _mm256_loadu_ps(v + i), _mm256_mul_ps(vc2, _mm256_mul_ps(gi, gi)));
        __m256 step = _mm256_div_ps(_mm256_mul_ps(vlr, mi), _mm256_add_ps(_mm256_sqrt_ps(vi), veps));
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        _mm256_storeu_ps(w + i, _mm256_sub_ps(_mm256_loadu_ps(w + i), step));
    }
    for (; i < n; i++) { /* the same roundings as the vector body */
        m[i] = fmaf(b1, m[i], (1.0f - b1) * g[i]);
        v[i] = fmaf(b2, v[i], (1.0f - b2) * (g[i] * g[i]));
        w[i] -= (lr_t * m[i]) / (sqrtf(v[i]) + eps);
    }
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

/* d's columns c..c+8*NB in registers; every row read, updated and written once a block. */
#define OUTER_BLOCK(NAME, NB)                                                                      \
    TARGET static void NAME(float *g, size_t stride, const uint32_t *rows, const float *a, size_t n, \
                            const float *d) {                                                      \
        __m256 dv[NB];                                                                             \
        _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++) dv[b] = _mm256_loadu_ps(d + 8 * b);  \
        for (size_t j = 0; j < n; j++) {                                                           \
            float *r = g + (size_t)rows[j] * stride;                                               \
            __m256 va = _mm256_set1_ps(a[j]);                                                      \
            _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++)                                  \
                _mm256_storeu_ps(r + 8 * b, _mm256_fmadd_ps(va, dv[b], _mm256_loadu_ps(r + 8 * b))); \
        }                                                                                          \
    }

OUTER_BLOCK(outer_64, 8)
OUTER_BLOCK(outer_32, 4)
OUTER_BLOCK(outer_16, 2)
OUTER_BLOCK(outer_8, 1)

TARGET static void outer(float *g, size_t stride, const uint32_t *rows, const float *a, size_t n, const float *d,
                         size_t w) {
    size_t c = 0;
    for (; c + 64 <= w; c += 64)
        outer_64(g + c, stride, rows, a, n, d + c);
    if (c + 32 <= w) { outer_32(g + c, stride, rows, a, n, d + c); c += 32; }
    if (c + 16 <= w) { outer_16(g + c, stride, rows, a, n, d + c); c += 16; }
    if (c + 8 <= w) { outer_8(g + c, stride, rows, a, n, d + c); c += 8; }
    for (; c < w; c++)
        for (size_t j = 0; j < n; j++)
            g[(size_t)rows[j] * stride + c] = fmaf(a[j], d[c], g[(size_t)rows[j] * stride + c]);
}

static const intenti_kern avx2 = {"avx2", axpy, axpy_i8, dot, relu, accum, accum_i8, outer, adam};

const intenti_kern *intenti_kern_avx2(void) { return &avx2; }
#else
const intenti_kern *intenti_kern_avx2(void) { return NULL; }
#endif
