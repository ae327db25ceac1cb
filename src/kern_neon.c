/*
 * kern_neon.c - NEON (Advanced SIMD) kernels for AArch64, the AVX2 set's algorithms on
 * 4-float registers. AArch64 has 32 vector registers, so a 96-column block keeps its
 * 24 accumulators in registers. Tails use scalar fmaf, which rounds as vfmaq does.
 * Built and tested on x86 with gcc-aarch64-linux-gnu and qemu-aarch64 (tests/kern_check.c).
 */
#include "intent_impl.h"
#include "kern_branchless.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#include <math.h>

static void axpy(float *y, const float *x, float a, size_t n) {
    float32x4_t va = vdupq_n_f32(a);
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, vfmaq_f32(vld1q_f32(y + i), vld1q_f32(x + i), va));
    for (; i < n; i++)
        y[i] = fmaf(a, x[i], y[i]);
}

/* 8 int8 -> two float32x4 */
static inline void i8x8(const int8_t *p, float32x4_t *lo, float32x4_t *hi) {
    int16x8_t w = vmovl_s8(vld1_s8(p));
    *lo = vcvtq_f32_s32(vmovl_s16(vget_low_s16(w)));
    *hi = vcvtq_f32_s32(vmovl_s16(vget_high_s16(w)));
}

static void axpy_i8(float *y, const int8_t *q, float a, size_t n) {
    float32x4_t va = vdupq_n_f32(a), lo, hi;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        i8x8(q + i, &lo, &hi);
        vst1q_f32(y + i, vfmaq_f32(vld1q_f32(y + i), lo, va));
        vst1q_f32(y + i + 4, vfmaq_f32(vld1q_f32(y + i + 4), hi, va));
    }
    for (; i < n; i++)
        y[i] = fmaf(a, (float)q[i], y[i]);
}

static float dot(const float *a, const float *b, size_t n) {
    float32x4_t s = vdupq_n_f32(0.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        s = vfmaq_f32(s, vld1q_f32(a + i), vld1q_f32(b + i));
    float r = vaddvq_f32(s);
    for (; i < n; i++)
        r += a[i] * b[i];
    return r;
}

static void relu(float *x, size_t n) {
    float32x4_t z = vdupq_n_f32(0.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(x + i, vmaxq_f32(vld1q_f32(x + i), z));
    for (; i < n; i++)
        x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* One block of NB x 8 columns over every row (NB float32x4 pairs). */
#define ACCUM_F32(NAME, NB)                                                                         \
    static void NAME(float *h, size_t w, const float *base, const uint32_t *idx, const float *a, size_t n) { \
        float32x4_t s[2 * NB];                                                                     \
        _Pragma("GCC unroll 32") for (int b = 0; b < 2 * NB; b++) s[b] = vld1q_f32(h + 4 * b);     \
        for (size_t j = 0; j < n; j++) {                                                           \
            const float *r = base + (size_t)idx[j] * w;                                            \
            INTENTI_PREFETCH_ROW(base, w, idx, j, n, 8 * NB * sizeof(float));                      \
            float32x4_t va = vdupq_n_f32(a[j]);                                                    \
            _Pragma("GCC unroll 32") for (int b = 0; b < 2 * NB; b++)                              \
                s[b] = vfmaq_f32(s[b], vld1q_f32(r + 4 * b), va);                                  \
        }                                                                                          \
        _Pragma("GCC unroll 32") for (int b = 0; b < 2 * NB; b++) vst1q_f32(h + 4 * b, s[b]);     \
    }

#define ACCUM_I8(NAME, NB)                                                                          \
    static void NAME(float *h, size_t w, const int8_t *base, const uint32_t *idx, const float *a, size_t n) { \
        float32x4_t s[2 * NB];                                                                     \
        _Pragma("GCC unroll 32") for (int b = 0; b < 2 * NB; b++) s[b] = vld1q_f32(h + 4 * b);     \
        for (size_t j = 0; j < n; j++) {                                                           \
            const int8_t *r = base + (size_t)idx[j] * w;                                           \
            INTENTI_PREFETCH_ROW(base, w, idx, j, n, 8 * NB);                                      \
            float32x4_t va = vdupq_n_f32(a[j]), lo, hi;                                            \
            _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++) {                                \
                i8x8(r + 8 * b, &lo, &hi);                                                         \
                s[2 * b] = vfmaq_f32(s[2 * b], lo, va);                                            \
                s[2 * b + 1] = vfmaq_f32(s[2 * b + 1], hi, va);                                    \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 32") for (int b = 0; b < 2 * NB; b++) vst1q_f32(h + 4 * b, s[b]);     \
    }

ACCUM_F32(f32_96, 12)
ACCUM_F32(f32_32, 4)
ACCUM_F32(f32_8, 1)
ACCUM_I8(i8_96, 12)
ACCUM_I8(i8_32, 4)
ACCUM_I8(i8_8, 1)

#define ACCUM_DISPATCH(NAME, T, PREFIX)                                                              \
    static void NAME(float *h, size_t w, const T *base, const uint32_t *idx, const float *a, size_t n) { \
        size_t c = 0;                                                                              \
        for (; c + 96 <= w; c += 96)                                                               \
            PREFIX##_96(h + c, w, base + c, idx, a, n);                                            \
        for (; c + 32 <= w; c += 32)                                                               \
            PREFIX##_32(h + c, w, base + c, idx, a, n);                                            \
        for (; c + 8 <= w; c += 8)                                                                 \
            PREFIX##_8(h + c, w, base + c, idx, a, n);                                             \
        for (; c < w; c++)                                                                         \
            for (size_t j = 0; j < n; j++)                                                         \
                h[c] = fmaf(a[j], (float)base[(size_t)idx[j] * w + c], h[c]);                      \
    }

ACCUM_DISPATCH(accum, float, f32)
ACCUM_DISPATCH(accum_i8, int8_t, i8)

/* One Adam step on 4 parameters with gradient g. */
static inline void adam4(float *w, float *m, float *v, float32x4_t g, const float32x4_t hp[6]) {
    float32x4_t mi = vfmaq_f32(vmulq_f32(hp[1], g), hp[0], vld1q_f32(m));
    float32x4_t vi = vfmaq_f32(vmulq_f32(hp[3], vmulq_f32(g, g)), hp[2], vld1q_f32(v));
    float32x4_t step = vdivq_f32(vmulq_f32(hp[4], mi), vaddq_f32(vsqrtq_f32(vi), hp[5]));
    vst1q_f32(m, mi);
    vst1q_f32(v, vi);
    vst1q_f32(w, vsubq_f32(vld1q_f32(w), step));
}

/* b1, 1 - b1, b2, 1 - b2, lr_t, eps: what adam4 takes. */
static inline void adam4_set(float32x4_t hp[6], float lr_t, float b1, float b2, float eps) {
    hp[0] = vdupq_n_f32(b1), hp[1] = vdupq_n_f32(1.0f - b1), hp[2] = vdupq_n_f32(b2);
    hp[3] = vdupq_n_f32(1.0f - b2), hp[4] = vdupq_n_f32(lr_t), hp[5] = vdupq_n_f32(eps);
}

/* The scalar tail: the same roundings as the vector body. */
static inline void adam1(float *w, float *m, float *v, float g, float lr_t, float b1, float b2, float eps) {
    *m = fmaf(b1, *m, (1.0f - b1) * g);
    *v = fmaf(b2, *v, (1.0f - b2) * (g * g));
    *w -= (lr_t * *m) / (sqrtf(*v) + eps);
}

/* adam_sum on NB x 4 columns: the gradient summed in NB registers, then applied. */
#define ADAM_SUM_BLOCK(NAME, NB)                                                                   \
    static void NAME(float *w, float *m, float *v, const float *d, size_t stride, const uint32_t *rows, \
                     const float *a, size_t k, const float32x4_t hp[6]) {                          \
        float32x4_t g[NB];                                                                         \
        _Pragma("GCC unroll 32") for (int b = 0; b < NB; b++) g[b] = vdupq_n_f32(0.0f);            \
        for (size_t j = 0; j < k; j++) {                                                           \
            const float *r = d + (size_t)rows[j] * stride;                                         \
            float32x4_t va = vdupq_n_f32(a[j]);                                                    \
            _Pragma("GCC unroll 32") for (int b = 0; b < NB; b++)                                  \
                g[b] = vfmaq_f32(g[b], vld1q_f32(r + 4 * b), va);                                  \
        }                                                                                          \
        _Pragma("GCC unroll 32") for (int b = 0; b < NB; b++)                                      \
            adam4(w + 4 * b, m + 4 * b, v + 4 * b, g[b], hp);                                      \
    }

ADAM_SUM_BLOCK(adam_sum_96, 24)
ADAM_SUM_BLOCK(adam_sum_32, 8)
ADAM_SUM_BLOCK(adam_sum_4, 1)

static void adam_sum(float *w, float *m, float *v, size_t n, const float *d, size_t stride, const uint32_t *rows,
                     const float *a, size_t k, const intenti_adam *p) {
    float32x4_t hp[6];
    adam4_set(hp, p->lr_t, p->b1, p->b2, p->eps);
    size_t c = 0;
    for (; c + 96 <= n; c += 96)
        adam_sum_96(w + c, m + c, v + c, d + c, stride, rows, a, k, hp);
    for (; c + 32 <= n; c += 32)
        adam_sum_32(w + c, m + c, v + c, d + c, stride, rows, a, k, hp);
    for (; c + 4 <= n; c += 4)
        adam_sum_4(w + c, m + c, v + c, d + c, stride, rows, a, k, hp);
    for (; c < n; c++) {
        float g = 0.0f;
        for (size_t j = 0; j < k; j++)
            g = fmaf(a[j], d[(size_t)rows[j] * stride + c], g);
        adam1(w + c, m + c, v + c, g, p->lr_t, p->b1, p->b2, p->eps);
    }
}

/* e^x: clamped to [-80, 80] (operands ordered so NaN passes through max and min), then
 * x = k ln2 + r with |r| <= ln2 / 2 (ln2 in two parts, so r is exact), e^r by the Cephes
 * expf polynomial, 2^k put in the exponent bits: within about 2 ulp of expf. 80 keeps
 * 1 / (1 + e^x) clear of denormals. */
static inline float32x4_t exp4(float32x4_t x) {
    x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-80.0f)), vdupq_n_f32(80.0f)); /* FMAX/FMIN keep NaN */
    float32x4_t k = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
    float32x4_t r = vfmsq_f32(x, k, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, k, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    p = vaddq_f32(vfmaq_f32(r, p, vmulq_f32(r, r)), vdupq_n_f32(1.0f));
    int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(k), vdupq_n_s32(127)), 23);
    return vmulq_f32(p, vreinterpretq_f32_s32(e));
}

static void sigmoid(float *y, const float *z, size_t n, float s, float w) {
    float32x4_t ns = vdupq_n_f32(-s), vw = vdupq_n_f32(w), one = vdupq_n_f32(1.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t e = exp4(vmulq_f32(vld1q_f32(z + i), ns));
        vst1q_f32(y + i, vaddq_f32(vld1q_f32(y + i), vdivq_f32(vw, vaddq_f32(one, e))));
    }
    for (; i < n; i++)
        y[i] += w / (1.0f + expf(-z[i] * s));
}

/* gemm on R rows x NB vectors of 4 columns: R * NB accumulators in registers through
 * all of k, each w vector loaded once for the R rows. */
#define GEMM_BLOCK(NAME, R, NB)                                                                     \
    static void NAME(float *z, size_t ldz, const float *x, size_t ldx, const float *w, size_t k, size_t n) { \
        float32x4_t s[R][NB];                                                                       \
        _Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                                        \
            _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++) s[r][b] = vld1q_f32(z + r * ldz + 4 * b); \
        for (size_t i = 0; i < k; i++) {                                                            \
            float32x4_t wv[NB];                                                                     \
            _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++) wv[b] = vld1q_f32(w + i * n + 4 * b); \
            _Pragma("GCC unroll 16") for (int r = 0; r < R; r++) {                                  \
                float xv = x[r * ldx + i];                                                          \
                _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++) s[r][b] =                     \
                    vfmaq_n_f32(s[r][b], wv[b], xv);                                                \
            }                                                                                       \
        }                                                                                           \
        _Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                                        \
            _Pragma("GCC unroll 16") for (int b = 0; b < NB; b++) vst1q_f32(z + r * ldz + 4 * b, s[r][b]); \
    }
GEMM_BLOCK(gemm4_4, 4, 4) GEMM_BLOCK(gemm4_1, 4, 1) GEMM_BLOCK(gemm1_4, 1, 4) GEMM_BLOCK(gemm1_1, 1, 1)

/* Columns in blocks of 16, then of 4, then the last few one by one (fmaf: the same
 * rounding as a lane's). */
#define GEMM_ROWS(NAME, R)                                                                          \
    static void NAME(float *z, size_t ldz, const float *x, size_t ldx, const float *w, size_t k, size_t n) { \
        size_t c = 0;                                                                               \
        for (; c + 16 <= n; c += 16)                                                                \
            gemm##R##_4(z + c, ldz, x, ldx, w + c, k, n);                                           \
        for (; c + 4 <= n; c += 4)                                                                  \
            gemm##R##_1(z + c, ldz, x, ldx, w + c, k, n);                                           \
        for (; c < n; c++)                                                                          \
            for (int r = 0; r < R; r++)                                                             \
                for (size_t i = 0; i < k; i++)                                                      \
                    z[r * ldz + c] = fmaf(x[r * ldx + i], w[i * n + c], z[r * ldz + c]);            \
    }
GEMM_ROWS(gemm_rows4, 4)
GEMM_ROWS(gemm_rows1, 1)

static void gemm(float *z, size_t ldz, const float *x, size_t ldx, const float *w, size_t k, size_t n,
                 size_t rows) {
    size_t r = 0;
    for (; r + 4 <= rows; r += 4)
        gemm_rows4(z + r * ldz, ldz, x + r * ldx, ldx, w, k, n);
    for (; r < rows; r++)
        gemm_rows1(z + r * ldz, ldz, x + r * ldx, ldx, w, k, n);
}

static const intenti_kern neon = {"neon",     axpy,      axpy_i8,  dot, relu, accum, accum_i8, adam_sum, sigmoid,
                                  intenti_weigh_branchless, intenti_list_on_branchless, gemm};

const intenti_kern *intenti_kern_neon(void) { return &neon; }
#else
const intenti_kern *intenti_kern_neon(void) { return NULL; }
#endif
