/*
 * train.h - what the training files share: featurized example sets and the trainer.
 */
#ifndef INTENT_TRAIN_H
#define INTENT_TRAIN_H

#include "mlp.h"

#define INTENTI_UNKNOWN UINT32_MAX /* a gold label the model does not have */
#define INTENTI_DROP (UINT32_MAX - 1) /* the none label: trains as "no label" */

/* A featurized example set, CSR-style. Feature values are L2-normalized tf-idf. */
typedef struct intenti_prep {
    uint32_t n;
    size_t *off;      /* [n] start of example i in ids/vals */
    uint32_t *nnz;    /* [n] its feature count */
    uint32_t *ids;    /* bucket ids */
    float *vals;
    uint32_t *lab_off;/* [n + 1] */
    uint32_t *lab;    /* model label ids per example, sorted, INTENTI_UNKNOWN last */
    size_t n_feats, n_lab;
} intenti_prep;

/* Featurizes examples idx[0..n) of ds. map[ds label id] gives the model label id,
 * INTENTI_DROP or INTENTI_UNKNOWN. With idf NULL the values stay raw counts (the first
 * pass, for document frequencies); else they are weighted and normalized. */
INTENTI_HIDDEN int intenti_prep_build(intenti_prep *p, const intent_dataset *ds, const uint32_t *idx,
                                      uint32_t n, const uint32_t *map, const intenti_featspec *fs,
                                      const float *idf, intenti_team *team);
INTENTI_HIDDEN void intenti_prep_free(intenti_prep *p);
/* idf[b] = ln((1 + n) / (1 + df[b])) + 1 for buckets seen in at least min_count examples
 * of p, 0 for the others (which the featurizer then drops). */
INTENTI_HIDDEN int intenti_prep_idf(const intenti_prep *p, uint32_t buckets, uint32_t min_count, float **idf);
/* Weighs raw counts in place (after intenti_prep_idf). */
INTENTI_HIDDEN void intenti_prep_weigh(intenti_prep *p, const intenti_featspec *fs, const float *idf);

/* ---- calibration and decoding choices (calibrate.c) ---- */
/* Exact label-set accuracy of probs [n][n_labels] at threshold t, keeping at most
 * max_labels labels per example (the most confident) and, with min_labels 1, the top
 * label when none is over t, as intent_decode does. */
INTENTI_HIDDEN double intenti_exact(const intenti_prep *p, const float *probs, uint32_t n_labels, float t,
                                    uint32_t max_labels, uint32_t min_labels);
/* The temperature T minimizing the dev set's binary cross-entropy of the ensemble
 * mean of sigmoid(z / T), searched over [1/16, 16]. logits is [n_nets][p->n][n_labels]. */
INTENTI_HIDDEN float intenti_fit_temperature(const intenti_prep *p, const float *logits, uint32_t n_nets,
                                             uint32_t n_labels);
/* The same as intenti_exact at t = i / 100 (1 <= i <= 99), by the curve tuning uses. */
INTENTI_HIDDEN double intenti_exact_at(const intenti_prep *p, const float *probs, uint32_t n_labels,
                                       uint32_t max_labels, uint32_t min_labels, int i);
/* probs = mean over nets of sigmoid(logits / T). */
INTENTI_HIDDEN void intenti_ensemble(const float *logits, uint32_t n_nets, size_t n, float T, float *probs);
/* The threshold in 0.01..0.99 with the best exact-set accuracy on p (out-of-scope
 * examples count as right when nothing is over it); ties go to the one nearest 0.5. */
INTENTI_HIDDEN float intenti_tune_threshold(const intenti_prep *p, const float *probs, uint32_t n_labels,
                                            uint32_t max_labels, uint32_t min_labels);

/* ---- warm starts (train.c, retrain.c) ---- */
/* intent_train, starting from warm's networks when warm is not NULL: its featurizer is
 * kept, the options' network must match it (retrain.c sees to that), and labels the
 * training set adds come after warm's, in the same order. */
INTENTI_HIDDEN int intenti_train_from(const intent_dataset *train, const intent_dataset *dev,
                                      const intent_train_opts *o, const intent_model *warm, intent_model **out,
                                      intent_error *err);
/* idf learned on the new data, but warm's own idf wherever warm has one. */
INTENTI_HIDDEN void intenti_warm_idf(const intent_model *warm, float *idf);
/* Copies warm's net k into a freshly initialized network (float, dequantizing int8);
 * output columns of labels warm lacks keep their fresh initialization. */
INTENTI_HIDDEN void intenti_warm_init(const intent_model *warm, uint32_t k, intenti_mlp *net);

#endif
