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

/* Columns in blocks of 64 (8 accumulators of 8 floats), every row per block; rows are
 * re-read once per block, which for the usual widths (<= 256) stays in L1. The tail
 * columns (w % 8) fall back to scalar fmaf, which rounds as the vector body does. */
#define BLOCK 64

TARGET static void accum(float *h, size_t w, const float *base, const uint32_t *idx, const float *a, size_t n) {
    size_t c = 0;
    for (; c + BLOCK <= w; c += BLOCK) {
        __m256 s0 = _mm256_loadu_ps(h + c), s1 = _mm256_loadu_ps(h + c + 8), s2 = _mm256_loadu_ps(h + c + 16),
               s3 = _mm256_loadu_ps(h + c + 24), s4 = _mm256_loadu_ps(h + c + 32), s5 = _mm256_loadu_ps(h + c + 40),
               s6 = _mm256_loadu_ps(h + c + 48), s7 = _mm256_loadu_ps(h + c + 56);
        for (size_t j = 0; j < n; j++) {
            const float *r = base + (size_t)idx[j] * w + c;
            __m256 va = _mm256_set1_ps(a[j]);
            s0 = _mm256_fmadd_ps(va, _mm256_loadu_ps(r), s0);
            s1 = _mm256_fmadd_ps(va, _mm256_loadu_ps(r + 8), s1);
            s2 = _mm256_fmadd_ps(va, _mm256_loadu_ps(r + 16), s2);
            s3 = _mm256_fmadd_ps(va, _mm256_loadu_ps(r + 24), s3);
            s4 = _mm256_fmadd_ps(va, _mm256_loadu_ps(r + 32), s4);
            s5 = _mm256_fmadd_ps(va, _mm256_loadu_ps(r + 40), s5);
            s6 = _mm256_fmadd_ps(va, _mm256_loadu_ps(r + 48), s6);
            s7 = _mm256_fmadd_ps(va, _mm256_loadu_ps(r + 56), s7);
        }
        _mm256_storeu_ps(h + c, s0); _mm256_storeu_ps(h + c + 8, s1); _mm256_storeu_ps(h + c + 16, s2);
        _mm256_storeu_ps(h + c + 24, s3); _mm256_storeu_ps(h + c + 32, s4); _mm256_storeu_ps(h + c + 40, s5);
        _mm256_storeu_ps(h + c + 48, s6); _mm256_storeu_ps(h + c + 56, s7);
    }
    for (; c + 8 <= w; c += 8) {
        __m256 s0 = _mm256_loadu_ps(h + c);
        for (size_t j = 0; j < n; j++)
            s0 = _mm256_fmadd_ps(_mm256_set1_ps(a[j]), _mm256_loadu_ps(base + (size_t)idx[j] * w + c), s0);
        _mm256_storeu_ps(h + c, s0);
    }
    for (; c < w; c++)
        for (size_t j = 0; j < n; j++)
            h[c] = fmaf(a[j], base[(size_t)idx[j] * w + c], h[c]);
}

/* 8 int8 weights -> 8 floats: vpmovsxbd reads the 8 bytes straight from memory. */
#define I8X8(p) _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p))))

TARGET static void accum_i8(float *h, size_t w, const int8_t *base, const uint32_t *idx, const float *a, size_t n) {
    size_t c = 0;
    for (; c + BLOCK <= w; c += BLOCK) {
        __m256 s0 = _mm256_loadu_ps(h + c), s1 = _mm256_loadu_ps(h + c + 8), s2 = _mm256_loadu_ps(h + c + 16),
               s3 = _mm256_loadu_ps(h + c + 24), s4 = _mm256_loadu_ps(h + c + 32), s5 = _mm256_loadu_ps(h + c + 40),
               s6 = _mm256_loadu_ps(h + c + 48), s7 = _mm256_loadu_ps(h + c + 56);
        for (size_t j = 0; j < n; j++) {
            const int8_t *r = base + (size_t)idx[j] * w + c;
            __m256 va = _mm256_set1_ps(a[j]);
            s0 = _mm256_fmadd_ps(va, I8X8(r), s0);
            s1 = _mm256_fmadd_ps(va, I8X8(r + 8), s1);
            s2 = _mm256_fmadd_ps(va, I8X8(r + 16), s2);
            s3 = _mm256_fmadd_ps(va, I8X8(r + 24), s3);
            s4 = _mm256_fmadd_ps(va, I8X8(r + 32), s4);
            s5 = _mm256_fmadd_ps(va, I8X8(r + 40), s5);
            s6 = _mm256_fmadd_ps(va, I8X8(r + 48), s6);
            s7 = _mm256_fmadd_ps(va, I8X8(r + 56), s7);
        }
        _mm256_storeu_ps(h + c, s0); _mm256_storeu_ps(h + c + 8, s1); _mm256_storeu_ps(h + c + 16, s2);
        _mm256_storeu_ps(h + c + 24, s3); _mm256_storeu_ps(h + c + 32, s4); _mm256_storeu_ps(h + c + 40, s5);
        _mm256_storeu_ps(h + c + 48, s6); _mm256_storeu_ps(h + c + 56, s7);
    }
    for (; c + 8 <= w; c += 8) {
        __m256 s0 = _mm256_loadu_ps(h + c);
        for (size_t j = 0; j < n; j++)
            s0 = _mm256_fmadd_ps(_mm256_set1_ps(a[j]), I8X8(base + (size_t)idx[j] * w + c), s0);
        _mm256_storeu_ps(h + c, s0);
    }
    for (; c < w; c++)
        for (size_t j = 0; j < n; j++)
            h[c] = fmaf(a[j], (float)base[(size_t)idx[j] * w + c], h[c]);
}

static const intenti_kern avx2 = {"avx2", axpy, axpy_i8, dot, relu, accum, accum_i8, adam};

const intenti_kern *intenti_kern_avx2(void) { return &avx2; }
#else
const intenti_kern *intenti_kern_avx2(void) { return NULL; }
#endif
