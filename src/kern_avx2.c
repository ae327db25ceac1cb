/*
 * kern_avx2.c - AVX2 + FMA kernels (x86-64). Built with target attributes, so the rest
 * of the library runs on any x86-64; intenti_kern_get() only picks these when the CPU
 * reports both avx2 and fma. Loads are unaligned (callers pass arbitrary row offsets).
 */
#include "intent_impl.h"
#include "kern_branchless.h"

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

/* The sparse-layer bodies. Columns go in blocks of 96 (12 accumulators of 8 floats: with
 * the broadcast and the load that is 14 of the 16 ymm registers), and the rest in one more
 * pass of as many accumulators as it needs, so every row is read once per block and no
 * pass is left with one or two dependency chains (a 150-label output layer takes two
 * passes, not five). When the rest is not a multiple of 8, its last vector is anchored at
 * the row's end, overlapping its neighbour: it starts at zero and only its new lanes are
 * added, so no load leaves the row and every column sums in row order as before. */
#define I8X8(p) _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p))))
#define F32X8(p) _mm256_loadu_ps(p)

/* Columns [0, rem) of a block, 8 * (NB - 1) < rem <= 8 * NB; `at` may be negative
 * (NB = 1, rem < 8): the last vector then reaches back into the previous block. */
#define ACCUM_BLOCK(NAME, T, LOAD, NB)                                                              \
    TARGET static void NAME(float *h, size_t w, const T *base, const uint32_t *idx, const float *a,  \
                            size_t n, size_t rem) {                                                \
        const bool whole = rem % 8 == 0;                                                           \
        const ptrdiff_t at = whole ? 8 * (NB - 1) : (ptrdiff_t)rem - 8; /* the last vector */     \
        __m256 s[NB]; /* fully unrolled, so these live in registers */                            \
        _Pragma("GCC unroll 16") for (int b = 0; b < NB - 1; b++) s[b] = _mm256_loadu_ps(h + 8 * b); \
        s[NB - 1] = whole ? _mm256_loadu_ps(h + at) : _mm256_setzero_ps();                         \
        for (size_t j = 0; j < n; j++) {                                                           \
            const T *r = base + (size_t)idx[j] * w;                                                \
            INTENTI_PREFETCH_ROW(base, w, idx, j, n, 8 * NB * sizeof(T));                          \
            __m256 va = _mm256_set1_ps(a[j]);                                                      \
            _Pragma("GCC unroll 16") for (int b = 0; b < NB - 1; b++)                              \
                s[b] = _mm256_fmadd_ps(va, LOAD(r + 8 * b), s[b]);                                 \
            s[NB - 1] = _mm256_fmadd_ps(va, LOAD(r + at), s[NB - 1]);                              \
        }                                                                                          \
        _Pragma("GCC unroll 16") for (int b = 0; b < NB - 1; b++) _mm256_storeu_ps(h + 8 * b, s[b]); \
        if (whole) {                                                                               \
            _mm256_storeu_ps(h + at, s[NB - 1]);                                                   \
            return;                                                                                \
        }                                                                                          \
        float t[8];                                                                                \
        _mm256_storeu_ps(t, s[NB - 1]);                                                            \
        for (int l = 0; l < 8; l++)                                                                \
            if (at + l >= 8 * (NB - 1))                                                            \
                h[at + l] += t[l];                                                                 \
    }

#define ACCUM_BLOCKS(PREFIX, T, LOAD)                                                               \
    ACCUM_BLOCK(PREFIX##_1, T, LOAD, 1) ACCUM_BLOCK(PREFIX##_2, T, LOAD, 2)                         \
    ACCUM_BLOCK(PREFIX##_3, T, LOAD, 3) ACCUM_BLOCK(PREFIX##_4, T, LOAD, 4)                         \
    ACCUM_BLOCK(PREFIX##_5, T, LOAD, 5) ACCUM_BLOCK(PREFIX##_6, T, LOAD, 6)                         \
    ACCUM_BLOCK(PREFIX##_7, T, LOAD, 7) ACCUM_BLOCK(PREFIX##_8, T, LOAD, 8)                         \
    ACCUM_BLOCK(PREFIX##_9, T, LOAD, 9) ACCUM_BLOCK(PREFIX##_10, T, LOAD, 10)                       \
    ACCUM_BLOCK(PREFIX##_11, T, LOAD, 11) ACCUM_BLOCK(PREFIX##_12, T, LOAD, 12)
ACCUM_BLOCKS(f32, float, F32X8)
ACCUM_BLOCKS(i8, int8_t, I8X8)

/* Block c of the row starts at base + c: the row stride stays w, so each block kernel
 * gets base offset by c and the full width as its stride. Rows narrower than one vector
 * go scalar (fmaf rounds as the vector body does). */
#define ACCUM_DISPATCH(NAME, T, PREFIX, CVT)                                                        \
    TARGET static void NAME(float *h, size_t w, const T *base, const uint32_t *idx, const float *a, \
                            size_t n) {                                                           \
        if (w < 8) {                                                                              \
            for (size_t c = 0; c < w; c++)                                                        \
                for (size_t j = 0; j < n; j++)                                                    \
                    h[c] = fmaf(a[j], CVT(base[(size_t)idx[j] * w + c]), h[c]);                   \
            return;                                                                               \
        }                                                                                         \
        size_t c = 0;                                                                             \
        for (; c + 96 <= w; c += 96)                                                              \
            PREFIX##_12(h + c, w, base + c, idx, a, n, 96);                                       \
        size_t rem = w - c;                                                                       \
        h += c;                                                                                   \
        base += c;                                                                                \
        switch ((rem + 7) / 8) {                                                                  \
        case 0: break;                                                                            \
        case 1: PREFIX##_1(h, w, base, idx, a, n, rem); break;                                    \
        case 2: PREFIX##_2(h, w, base, idx, a, n, rem); break;                                    \
        case 3: PREFIX##_3(h, w, base, idx, a, n, rem); break;                                    \
        case 4: PREFIX##_4(h, w, base, idx, a, n, rem); break;                                    \
        case 5: PREFIX##_5(h, w, base, idx, a, n, rem); break;                                    \
        case 6: PREFIX##_6(h, w, base, idx, a, n, rem); break;                                    \
        case 7: PREFIX##_7(h, w, base, idx, a, n, rem); break;                                    \
        case 8: PREFIX##_8(h, w, base, idx, a, n, rem); break;                                    \
        case 9: PREFIX##_9(h, w, base, idx, a, n, rem); break;                                    \
        case 10: PREFIX##_10(h, w, base, idx, a, n, rem); break;                                  \
        case 11: PREFIX##_11(h, w, base, idx, a, n, rem); break;                                  \
        default: PREFIX##_12(h, w, base, idx, a, n, rem); break;                                  \
        }                                                                                         \
    }

#define AS_FLOAT(x) ((float)(x))
ACCUM_DISPATCH(accum, float, f32, AS_FLOAT)
ACCUM_DISPATCH(accum_i8, int8_t, i8, AS_FLOAT)

/* e^x: clamped to [-80, 80] (operands ordered so NaN passes through max and min), then
 * x = k ln2 + r with |r| <= ln2 / 2 (ln2 in two parts, so r is exact), e^r by the Cephes
 * expf polynomial, 2^k put in the exponent bits: within about 2 ulp of expf. 80 keeps
 * 1 / (1 + e^x) clear of denormals. */
TARGET static inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_set1_ps(80.0f), _mm256_max_ps(_mm256_set1_ps(-80.0f), x));
    __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

TARGET static void sigmoid(float *y, const float *z, size_t n, float s, float w) {
    __m256 ns = _mm256_set1_ps(-s), vw = _mm256_set1_ps(w), one = _mm256_set1_ps(1.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_mul_ps(_mm256_loadu_ps(z + i), ns));
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_div_ps(vw, _mm256_add_ps(one, e))));
    }
    for (; i < n; i++)
        y[i] += w / (1.0f + expf(-z[i] * s));
}

/* gemm on R rows x NB vectors of 8 columns, the last vector's lanes those `last` marks:
 * R * NB accumulators in registers through all of k (4 x 3, 3 w vectors and a broadcast:
 * the 16 registers), each w vector loaded once for the R rows. */
#define GEMM_BLOCK(NAME, R, NB)                                                                     \
    TARGET static void NAME(float *z, size_t ldz, const float *x, size_t ldx, const float *w, size_t k, \
                            size_t n, __m256i last) {                                               \
        __m256 s[R][NB];                                                                            \
        _Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                                        \
            _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++) s[r][b] =                         \
                b == NB - 1 ? _mm256_maskload_ps(z + r * ldz + 8 * b, last) : _mm256_loadu_ps(z + r * ldz + 8 * b); \
        for (size_t i = 0; i < k; i++) {                                                            \
            __m256 wv[NB];                                                                          \
            _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++) wv[b] =                           \
                b == NB - 1 ? _mm256_maskload_ps(w + i * n + 8 * b, last) : _mm256_loadu_ps(w + i * n + 8 * b); \
            _Pragma("GCC unroll 16") for (int r = 0; r < R; r++) {                                  \
                __m256 xv = _mm256_broadcast_ss(x + r * ldx + i);                                   \
                _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++) s[r][b] =                     \
                    _mm256_fmadd_ps(xv, wv[b], s[r][b]);                                            \
            }                                                                                       \
        }                                                                                           \
        _Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                                        \
            _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++) {                                 \
                if (b == NB - 1)                                                                    \
                    _mm256_maskstore_ps(z + r * ldz + 8 * b, last, s[r][b]);                        \
                else                                                                                \
                    _mm256_storeu_ps(z + r * ldz + 8 * b, s[r][b]);                                 \
            }                                                                                       \
    }
GEMM_BLOCK(gemm4_3, 4, 3) GEMM_BLOCK(gemm4_2, 4, 2) GEMM_BLOCK(gemm4_1, 4, 1)
GEMM_BLOCK(gemm1_3, 1, 3) GEMM_BLOCK(gemm1_2, 1, 2) GEMM_BLOCK(gemm1_1, 1, 1)

/* Columns in blocks of 24, the last block as many vectors as it needs. */
#define GEMM_ROWS(NAME, R)                                                                          \
    TARGET static void NAME(float *z, size_t ldz, const float *x, size_t ldx, const float *w, size_t k, \
                            size_t n) {                                                             \
        const __m256i all = _mm256_set1_epi32(-1);                                                  \
        size_t c = 0;                                                                               \
        for (; c + 24 <= n; c += 24)                                                                \
            gemm##R##_3(z + c, ldz, x, ldx, w + c, k, n, all);                                      \
        if (c == n)                                                                                 \
            return;                                                                                 \
        size_t left = n - c, vecs = (left + 7) / 8, lanes = left - (vecs - 1) * 8;                  \
        __m256i last = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); \
        if (vecs == 3)                                                                              \
            gemm##R##_3(z + c, ldz, x, ldx, w + c, k, n, last);                                     \
        else if (vecs == 2)                                                                         \
            gemm##R##_2(z + c, ldz, x, ldx, w + c, k, n, last);                                     \
        else                                                                                        \
            gemm##R##_1(z + c, ldz, x, ldx, w + c, k, n, last);                                     \
    }
GEMM_ROWS(gemm_rows4, 4)
GEMM_ROWS(gemm_rows1, 1)

TARGET static void gemm(float *z, size_t ldz, const float *x, size_t ldx, const float *w, size_t k, size_t n,
                        size_t rows) {
    size_t r = 0;
    for (; r + 4 <= rows; r += 4)
        gemm_rows4(z + r * ldz, ldz, x + r * ldx, ldx, w, k, n);
    for (; r < rows; r++)
        gemm_rows1(z + r * ldz, ldz, x + r * ldx, ldx, w, k, n);
}

static const intenti_kern avx2 = {"avx2",     axpy,      axpy_i8,  dot, relu, accum, accum_i8, adam_sum, sigmoid,
                                  intenti_weigh_branchless, intenti_list_on_branchless, gemm};

const intenti_kern *intenti_kern_avx2(void) { return &avx2; }
#else
const intenti_kern *intenti_kern_avx2(void) { return NULL; }
#endif
