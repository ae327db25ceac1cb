/*
 * kern_branchless.h - scalar forms of weigh and list_on for kernel sets without vector
 * forms of them (AVX2, NEON): the reference's results, written without a data-dependent
 * branch. Whether a bucket is unseen, or a unit is on, is random from one entry to the
 * next, so each entry is written whatever it holds and the output advances by a
 * comparison: the CPU has nothing to mispredict. weigh's sum of squares is four partial
 * sums (entry j in sum j % 4), kept in registers by unrolling four entries a turn: one
 * sum would be a chain of dependent adds through all of a text's features.
 */
#ifndef INTENT_KERN_BRANCHLESS_H
#define INTENT_KERN_BRANCHLESS_H

#include "intent_impl.h"


/* One entry j of weigh, its square added to sum S. */
#define WEIGH_ONE(S)                                                                   \
    do {                                                                               \
        uint32_t id = ids[j], c = dd[id] & INTENTI_DD_CNT_MASK;                        \
        float idf = ri[id].idf, tf = intenti_tf_of(c, tf1);                            \
        S += (tf * idf) * (tf * idf); /* + 0 for an unseen bucket */                   \
        w[k] = tf * ri[id].gain;                                                       \
        ids[k] = id;                                                                   \
        vals[k] = tf;                                                                  \
        k += idf != 0.0f;                                                              \
        j++;                                                                           \
    } while (0)

static inline uint32_t intenti_weigh_branchless(uint32_t *restrict ids, float *restrict vals, float *restrict w,
                                                uint32_t n, const uint32_t *restrict dd,
                                                const intenti_rowinfo *restrict ri, const float *restrict tf1,
                                                float *sumsq) {
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    uint32_t j = 0, k = 0;
    while (j + 4 <= n) {
        WEIGH_ONE(s0);
        WEIGH_ONE(s1);
        WEIGH_ONE(s2);
        WEIGH_ONE(s3);
    }
    while (j < n)
        WEIGH_ONE(s0);
    *sumsq = (s0 + s1) + (s2 + s3);
    return k;
}
#undef WEIGH_ONE

static inline uint32_t intenti_list_on_branchless(const float *restrict x, const float *restrict scale, uint32_t n,
                                                  uint32_t *restrict idx, float *restrict a) {
    uint32_t k = 0;
    if (scale)
        for (uint32_t i = 0; i < n; i++) {
            idx[k] = i;
            a[k] = x[i] * scale[i];
            k += x[i] > 0.0f;
        }
    else
        for (uint32_t i = 0; i < n; i++) {
            idx[k] = i;
            a[k] = x[i];
            k += x[i] > 0.0f;
        }
    return k;
}

#endif
