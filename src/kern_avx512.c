/*
 * kern_avx512.c - AVX-512 kernels (x86-64 with avx512f, avx512bw, avx512vl): the AVX2 set's
 * algorithms on 16-float registers, tails by masked loads and stores (so a tail element
 * gets the same single-rounding FMA as the body). Built with target attributes; chosen
 * only when the CPU reports all three extensions.
 */
#include "intent_impl.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define TARGET __attribute__((target("avx512f,avx512bw,avx512vl")))

TARGET static __mmask16 tail_mask(size_t left) { return (__mmask16)((1u << left) - 1u); }

TARGET static void axpy(float *y, const float *x, float a, size_t n) {
    __m512 va = _mm512_set1_ps(a);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 k = tail_mask(n - i);
        __m512 r = _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(k, x + i), _mm512_maskz_loadu_ps(k, y + i));
        _mm512_mask_storeu_ps(y + i, k, r);
    }
}

#define I8X16(p) _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p))))
#define I8X16_MASKED(k, p) _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, p)))

TARGET static void axpy_i8(float *y, const int8_t *q, float a, size_t n) {
    __m512 va = _mm512_set1_ps(a);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, I8X16(q + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 k = tail_mask(n - i);
        __m512 r = _mm512_fmadd_ps(va, I8X16_MASKED(k, q + i), _mm512_maskz_loadu_ps(k, y + i));
        _mm512_mask_storeu_ps(y + i, k, r);
    }
}

TARGET static float dot(const float *a, const float *b, size_t n) {
    __m512 s = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        s = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s);
    if (i < n) {
        __mmask16 k = tail_mask(n - i);
        s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, a + i), _mm512_maskz_loadu_ps(k, b + i), s);
    }
    return _mm512_reduce_add_ps(s);
}

TARGET static void relu(float *x, size_t n) {
    __m512 z = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, _mm512_max_ps(_mm512_loadu_ps(x + i), z));
    if (i < n) {
        __mmask16 k = tail_mask(n - i);
        _mm512_mask_storeu_ps(x + i, k, _mm512_max_ps(_mm512_maskz_loadu_ps(k, x + i), z));
    }
}

/* One block of NB x 16 columns (masked: the last vector keeps `last` lanes), every row. */
#define ACCUM_BLOCK(NAME, T, LOAD, LOADM, NB)                                                      \
    TARGET static void NAME(float *h, size_t w, const T *base, const uint32_t *idx, const float *a, \
                            size_t n, __mmask16 last) {                                            \
        __m512 s[NB];                                                                              \
        _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++) s[b] =                               \
            b == NB - 1 ? _mm512_maskz_loadu_ps(last, h + 16 * b) : _mm512_loadu_ps(h + 16 * b);   \
        for (size_t j = 0; j < n; j++) {                                                           \
            const T *r = base + (size_t)idx[j] * w;                                                \
            INTENTI_PREFETCH_ROW(base, w, idx, j, n, 16 * NB * sizeof(T));                         \
            __m512 va = _mm512_set1_ps(a[j]);                                                      \
            _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++) s[b] = _mm512_fmadd_ps(          \
                va, b == NB - 1 ? LOADM(last, r + 16 * b) : LOAD(r + 16 * b), s[b]);               \
        }                                                                                          \
        _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++) {                                    \
            if (b == NB - 1)                                                                       \
                _mm512_mask_storeu_ps(h + 16 * b, last, s[b]);                                     \
            else                                                                                   \
                _mm512_storeu_ps(h + 16 * b, s[b]);                                                \
        }                                                                                          \
    }

#define F32X16(p) _mm512_loadu_ps(p)
#define F32X16_MASKED(k, p) _mm512_maskz_loadu_ps(k, p)

#define ACCUM_BLOCKS(PREFIX, T, LOAD, LOADM)                                                         \
    ACCUM_BLOCK(PREFIX##_1, T, LOAD, LOADM, 1) ACCUM_BLOCK(PREFIX##_2, T, LOAD, LOADM, 2)            \
    ACCUM_BLOCK(PREFIX##_3, T, LOAD, LOADM, 3) ACCUM_BLOCK(PREFIX##_4, T, LOAD, LOADM, 4)            \
    ACCUM_BLOCK(PREFIX##_5, T, LOAD, LOADM, 5) ACCUM_BLOCK(PREFIX##_6, T, LOAD, LOADM, 6)            \
    ACCUM_BLOCK(PREFIX##_7, T, LOAD, LOADM, 7) ACCUM_BLOCK(PREFIX##_8, T, LOAD, LOADM, 8)            \
    ACCUM_BLOCK(PREFIX##_9, T, LOAD, LOADM, 9) ACCUM_BLOCK(PREFIX##_10, T, LOAD, LOADM, 10)
ACCUM_BLOCKS(f32, float, F32X16, F32X16_MASKED)
ACCUM_BLOCKS(i8, int8_t, I8X16, I8X16_MASKED)

/* Columns in blocks of 160 (10 zmm accumulators: with the broadcast and the row's vectors
 * in flight that still fits the 32 registers); the rest in one last block of as many
 * accumulators as it needs, its last vector masked to the width: every row is read once a
 * block, no scalar tail at all, and a 150-label output layer takes one pass, not two. */
#define FULL ((__mmask16)0xFFFF)
#define ACCUM_DISPATCH(NAME, T, PREFIX)                                                              \
    TARGET static void NAME(float *h, size_t w, const T *base, const uint32_t *idx, const float *a, \
                            size_t n) {                                                            \
        size_t c = 0;                                                                              \
        for (; c + 160 <= w; c += 160)                                                             \
            PREFIX##_10(h + c, w, base + c, idx, a, n, FULL);                                      \
        if (c == w)                                                                                \
            return;                                                                                \
        size_t left = w - c, vecs = (left + 15) / 16, lanes = left - (vecs - 1) * 16;              \
        __mmask16 last = lanes == 16 ? FULL : tail_mask(lanes);                                    \
        h += c;                                                                                    \
        base += c;                                                                                 \
        switch (vecs) {                                                                            \
        case 10: PREFIX##_10(h, w, base, idx, a, n, last); break;                                  \
        case 9: PREFIX##_9(h, w, base, idx, a, n, last); break;                                    \
        case 8: PREFIX##_8(h, w, base, idx, a, n, last); break;                                    \
        case 7: PREFIX##_7(h, w, base, idx, a, n, last); break;                                    \
        case 6: PREFIX##_6(h, w, base, idx, a, n, last); break;                                    \
        case 5: PREFIX##_5(h, w, base, idx, a, n, last); break;                                    \
        case 4: PREFIX##_4(h, w, base, idx, a, n, last); break;                                    \
        case 3: PREFIX##_3(h, w, base, idx, a, n, last); break;                                    \
        case 2: PREFIX##_2(h, w, base, idx, a, n, last); break;                                    \
        default: PREFIX##_1(h, w, base, idx, a, n, last); break;                                   \
        }                                                                                          \
    }

ACCUM_DISPATCH(accum, float, f32)
ACCUM_DISPATCH(accum_i8, int8_t, i8)

/* One Adam step on the lanes of k, gradient g (the settings broadcast in h). */
typedef struct adam16_hp {
    __m512 b1, c1, b2, c2, lr, eps;
} adam16_hp;

TARGET static inline adam16_hp adam16_set(float lr_t, float b1, float b2, float eps) {
    return (adam16_hp){_mm512_set1_ps(b1), _mm512_set1_ps(1.0f - b1), _mm512_set1_ps(b2),
                       _mm512_set1_ps(1.0f - b2), _mm512_set1_ps(lr_t), _mm512_set1_ps(eps)};
}

TARGET static inline void adam16(float *w, float *m, float *v, __m512 g, const adam16_hp *h, __mmask16 k) {
    __m512 mi = _mm512_fmadd_ps(h->b1, _mm512_maskz_loadu_ps(k, m), _mm512_mul_ps(h->c1, g));
    __m512 vi = _mm512_fmadd_ps(h->b2, _mm512_maskz_loadu_ps(k, v), _mm512_mul_ps(h->c2, _mm512_mul_ps(g, g)));
    __m512 step = _mm512_div_ps(_mm512_mul_ps(h->lr, mi), _mm512_add_ps(_mm512_sqrt_ps(vi), h->eps));
    _mm512_mask_storeu_ps(m, k, mi);
    _mm512_mask_storeu_ps(v, k, vi);
    _mm512_mask_storeu_ps(w, k, _mm512_sub_ps(_mm512_maskz_loadu_ps(k, w), step));
}

/* adam_sum on NB x 16 columns, the last vector masked to `last`: the gradient is summed
 * in NB registers over the k rows of d, then applied. */
#define ADAM_SUM_BLOCK(NAME, NB)                                                                   \
    TARGET static void NAME(float *w, float *m, float *v, const float *d, size_t stride,          \
                            const uint32_t *rows, const float *a, size_t k, const adam16_hp *h,    \
                            __mmask16 last) {                                                      \
        __m512 g[NB];                                                                              \
        _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++) g[b] = _mm512_setzero_ps();          \
        for (size_t j = 0; j < k; j++) {                                                           \
            const float *r = d + (size_t)rows[j] * stride;                                         \
            __m512 va = _mm512_set1_ps(a[j]);                                                      \
            _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++) g[b] = _mm512_fmadd_ps(          \
                va, b == NB - 1 ? _mm512_maskz_loadu_ps(last, r + 16 * b) : _mm512_loadu_ps(r + 16 * b), g[b]); \
        }                                                                                          \
        _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++)                                      \
            adam16(w + 16 * b, m + 16 * b, v + 16 * b, g[b], h, b == NB - 1 ? last : FULL);        \
    }

ADAM_SUM_BLOCK(adam_sum_6, 6)
ADAM_SUM_BLOCK(adam_sum_4, 4)
ADAM_SUM_BLOCK(adam_sum_2, 2)
ADAM_SUM_BLOCK(adam_sum_1, 1)

/* Blocks of 96 columns, then one last block whose last vector is masked, as accum does. */
TARGET static void adam_sum(float *w, float *m, float *v, size_t n, const float *d, size_t stride,
                            const uint32_t *rows, const float *a, size_t k, const intenti_adam *p) {
    adam16_hp h = adam16_set(p->lr_t, p->b1, p->b2, p->eps);
    size_t c = 0;
    for (; c + 96 <= n; c += 96)
        adam_sum_6(w + c, m + c, v + c, d + c, stride, rows, a, k, &h, FULL);
    if (c == n)
        return;
    size_t left = n - c, vecs = (left + 15) / 16, lanes = left - (vecs - 1) * 16;
    __mmask16 last = lanes == 16 ? FULL : tail_mask(lanes);
    w += c, m += c, v += c, d += c;
    switch (vecs) {
    case 6: adam_sum_6(w, m, v, d, stride, rows, a, k, &h, last); break;
    case 5: adam_sum_4(w, m, v, d, stride, rows, a, k, &h, FULL);
            adam_sum_1(w + 64, m + 64, v + 64, d + 64, stride, rows, a, k, &h, last); break;
    case 4: adam_sum_4(w, m, v, d, stride, rows, a, k, &h, last); break;
    case 3: adam_sum_2(w, m, v, d, stride, rows, a, k, &h, FULL);
            adam_sum_1(w + 32, m + 32, v + 32, d + 32, stride, rows, a, k, &h, last); break;
    case 2: adam_sum_2(w, m, v, d, stride, rows, a, k, &h, last); break;
    default: adam_sum_1(w, m, v, d, stride, rows, a, k, &h, last); break;
    }
}

/* e^x: clamped to [-80, 80] (operands ordered so NaN passes through max and min), then
 * x = k ln2 + r with |r| <= ln2 / 2 (ln2 in two parts, so r is exact), e^r by the Cephes
 * expf polynomial, 2^k put in the exponent bits: within about 2 ulp of expf. 80 keeps
 * 1 / (1 + e^x) clear of denormals. */
TARGET static inline __m512 exp16(__m512 x) {
    x = _mm512_min_ps(_mm512_set1_ps(80.0f), _mm512_max_ps(_mm512_set1_ps(-80.0f), x));
    __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(k), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

TARGET static void sigmoid(float *y, const float *z, size_t n, float s, float w) {
    __m512 ns = _mm512_set1_ps(-s), vw = _mm512_set1_ps(w), one = _mm512_set1_ps(1.0f);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xFFFF : tail_mask(n - i);
        __m512 e = exp16(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, z + i), ns));
        __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), _mm512_div_ps(vw, _mm512_add_ps(one, e)));
        _mm512_mask_storeu_ps(y + i, m, v);
    }
}

/* weigh, sixteen buckets a turn: their counts, idf and gain gathered, tf from the table
 * gathered too, the kept lanes compressed to the front of a register and stored masked.
 * The stores land at k <= j, on entries this turn or an earlier one has read. A turn
 * with a count of INTENTI_TF1 or more (a bucket that often in one text: rare) goes
 * through the reference, which packs it in place, then moves down to k. */
TARGET static uint32_t weigh(uint32_t *ids, float *vals, float *w, uint32_t n, const uint32_t *dd,
                             const intenti_rowinfo *ri, const float *tf1, float *sumsq) {
    const __m512i cnt_mask = _mm512_set1_epi32((int)INTENTI_DD_CNT_MASK), big = _mm512_set1_epi32(INTENTI_TF1);
    const float *idf_at = &ri->idf, *gain_at = &ri->gain;
    __m512 s = _mm512_setzero_ps(), zero = _mm512_setzero_ps();
    float rest = 0.0f;
    uint32_t k = 0;
    for (uint32_t j = 0; j < n; j += 16) {
        __mmask16 live = n - j >= 16 ? FULL : tail_mask(n - j);
        __m512i id = _mm512_maskz_loadu_epi32(live, ids + j);
        __m512i c = _mm512_and_si512(_mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, id, dd, 4), cnt_mask);
        if (tf1 && _mm512_mask_cmpge_epu32_mask(live, c, big)) {
            float part;
            uint32_t m = intenti_weigh_ref(ids + j, vals + j, w + j, n - j < 16 ? n - j : 16, dd, ri, tf1, &part);
            memmove(ids + k, ids + j, m * sizeof *ids);
            memmove(vals + k, vals + j, m * sizeof *vals);
            memmove(w + k, w + j, m * sizeof *w);
            rest += part;
            k += m;
            continue;
        }
        __m512 tf = tf1 ? _mm512_mask_i32gather_ps(zero, live, c, tf1, 4) : _mm512_cvtepu32_ps(c);
        __m512 idf = _mm512_mask_i32gather_ps(zero, live, id, idf_at, 8);
        __m512 gain = _mm512_mask_i32gather_ps(zero, live, id, gain_at, 8);
        __m512 t = _mm512_mul_ps(tf, idf);
        s = _mm512_fmadd_ps(t, t, s);
        __mmask16 keep = _mm512_mask_cmp_ps_mask(live, idf, zero, _CMP_NEQ_UQ); /* as idf != 0 */
        uint32_t m = (uint32_t)__builtin_popcount(keep);
        __mmask16 out = tail_mask(m);
        _mm512_mask_storeu_epi32(ids + k, out, _mm512_maskz_compress_epi32(keep, id));
        _mm512_mask_storeu_ps(vals + k, out, _mm512_maskz_compress_ps(keep, tf));
        _mm512_mask_storeu_ps(w + k, out, _mm512_maskz_compress_ps(keep, _mm512_mul_ps(tf, gain)));
        k += m;
    }
    *sumsq = _mm512_reduce_add_ps(s) + rest;
    return k;
}

/* list_on, sixteen units a turn: the positive lanes (an ordered compare: NaN is off)
 * compressed with their positions and stored masked. */
TARGET static uint32_t list_on(const float *x, const float *scale, uint32_t n, uint32_t *idx, float *a) {
    const __m512i step = _mm512_set1_epi32(16);
    __m512i pos = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i += 16, pos = _mm512_add_epi32(pos, step)) {
        __mmask16 live = n - i >= 16 ? FULL : tail_mask(n - i);
        __m512 v = _mm512_maskz_loadu_ps(live, x + i);
        __mmask16 on = _mm512_mask_cmp_ps_mask(live, v, _mm512_setzero_ps(), _CMP_GT_OQ);
        if (scale)
            v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(live, scale + i));
        uint32_t m = (uint32_t)__builtin_popcount(on);
        __mmask16 out = tail_mask(m);
        _mm512_mask_storeu_epi32(idx + k, out, _mm512_maskz_compress_epi32(on, pos));
        _mm512_mask_storeu_ps(a + k, out, _mm512_maskz_compress_ps(on, v));
        k += m;
    }
    return k;
}

/* gemm on R rows x NB vectors of 16 columns (the last masked to `last`): R * NB
 * accumulators in registers through all of k, each w vector loaded once for the R rows,
 * each x entry broadcast from memory. */
#define GEMM_BLOCK(NAME, R, NB)                                                                    \
    TARGET static void NAME(float *z, size_t ldz, const float *x, size_t ldx, const float *w, size_t k, \
                            size_t n, __mmask16 last) {                                             \
        __m512 s[R][NB];                                                                            \
        _Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                                        \
            _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++)                                   \
                s[r][b] = _mm512_maskz_loadu_ps(b == NB - 1 ? last : FULL, z + r * ldz + 16 * b);   \
        for (size_t i = 0; i < k; i++) {                                                            \
            __m512 wv[NB];                                                                          \
            _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++)                                   \
                wv[b] = _mm512_maskz_loadu_ps(b == NB - 1 ? last : FULL, w + i * n + 16 * b);       \
            _Pragma("GCC unroll 16") for (int r = 0; r < R; r++) {                                  \
                __m512 xv = _mm512_set1_ps(x[r * ldx + i]);                                         \
                _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++) s[r][b] =                     \
                    _mm512_fmadd_ps(xv, wv[b], s[r][b]);                                            \
            }                                                                                       \
        }                                                                                           \
        _Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                                        \
            _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++)                                   \
                _mm512_mask_storeu_ps(z + r * ldz + 16 * b, b == NB - 1 ? last : FULL, s[r][b]);    \
    }
#define GEMM_BLOCKS(R)                                                                              \
    GEMM_BLOCK(gemm##R##_1, R, 1) GEMM_BLOCK(gemm##R##_2, R, 2) GEMM_BLOCK(gemm##R##_3, R, 3)       \
    GEMM_BLOCK(gemm##R##_4, R, 4) GEMM_BLOCK(gemm##R##_5, R, 5)
GEMM_BLOCKS(4)
GEMM_BLOCKS(1)

/* Columns in blocks of 80 for R rows (4 x 5 accumulators, 5 w vectors and a broadcast:
 * 26 of the 32 registers), the last block as many vectors as it needs. */
#define GEMM_ROWS(NAME, R)                                                                          \
    TARGET static void NAME(float *z, size_t ldz, const float *x, size_t ldx, const float *w, size_t k, \
                            size_t n) {                                                             \
        size_t c = 0;                                                                               \
        for (; c + 80 <= n; c += 80)                                                                \
            gemm##R##_5(z + c, ldz, x, ldx, w + c, k, n, FULL);                                     \
        if (c == n)                                                                                 \
            return;                                                                                 \
        size_t left = n - c, vecs = (left + 15) / 16, lanes = left - (vecs - 1) * 16;               \
        __mmask16 last = lanes == 16 ? FULL : tail_mask(lanes);                                     \
        switch (vecs) {                                                                             \
        case 5: gemm##R##_5(z + c, ldz, x, ldx, w + c, k, n, last); break;                          \
        case 4: gemm##R##_4(z + c, ldz, x, ldx, w + c, k, n, last); break;                          \
        case 3: gemm##R##_3(z + c, ldz, x, ldx, w + c, k, n, last); break;                          \
        case 2: gemm##R##_2(z + c, ldz, x, ldx, w + c, k, n, last); break;                          \
        default: gemm##R##_1(z + c, ldz, x, ldx, w + c, k, n, last); break;                         \
        }                                                                                           \
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

static const intenti_kern avx512 = {"avx512", axpy,  axpy_i8, dot,    relu, accum, accum_i8, adam_sum,
                                    sigmoid,  weigh, list_on, gemm};

const intenti_kern *intenti_kern_avx512(void) { return &avx512; }
#else
const intenti_kern *intenti_kern_avx512(void) { return NULL; }
#endif
