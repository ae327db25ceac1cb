/*
 * mlp.h - the trainable network: parameters, one example's forward + backward, Adam.
 *
 * Shapes (L = n_layers = hidden layers + 1, size[0] = buckets, size[L] = labels):
 *   w[l]  [size[l]][size[l+1]]  input-major rows (the layout the model file keeps)
 *   b[l]  [size[l+1]]
 * Layer 0 takes the sparse tf-idf vector; hidden layers are ReLU with inverted dropout;
 * the last layer gives one logit per label (sigmoid + binary cross-entropy).
 */
#ifndef INTENT_MLP_H
#define INTENT_MLP_H

#include "intent_impl.h"

#define INTENTI_MAX_LAYERS (INTENT_MAX_HIDDEN + 1)

typedef struct intenti_mlp {
    uint32_t n_layers;
    uint32_t size[INTENTI_MAX_LAYERS + 1];
    float *w[INTENTI_MAX_LAYERS];
    float *b[INTENTI_MAX_LAYERS];
} intenti_mlp;

/* Per-worker scratch for one example at a time, plus that worker's gradient sums for
 * layers 1..L-1 (weights) and 0..L-1 (biases); layer 0's weight gradient is sparse and
 * is returned per example as its delta (see intenti_mlp_example). */
typedef struct intenti_mlp_ws {
    float *z[INTENTI_MAX_LAYERS];     /* pre-activations [size[l+1]] */
    float *a[INTENTI_MAX_LAYERS];     /* hidden outputs after ReLU and dropout */
    float *mask[INTENTI_MAX_LAYERS];  /* dropout multipliers: 0 or 1/(1-p) */
    float *d0, *d1;                   /* deltas, [max width] */
    uint32_t *on;                     /* [max width] units a layer passes on (non-zero) ... */
    float *on_val;                    /* ... and their values */
    float *gw[INTENTI_MAX_LAYERS];    /* gw[0] unused */
    float *gb[INTENTI_MAX_LAYERS];
    double loss;                      /* summed BCE of the examples seen since zeroing */
} intenti_mlp_ws;

/* Allocates zeroed parameters for the given sizes (n_layers + 1 of them). */
INTENTI_HIDDEN int intenti_mlp_new(intenti_mlp *m, const uint32_t *size, uint32_t n_layers);
INTENTI_HIDDEN void intenti_mlp_free(intenti_mlp *m);
/* Glorot/He uniform weights from rng; output biases set to the logit of label_freq. */
INTENTI_HIDDEN void intenti_mlp_init(intenti_mlp *m, intenti_rng *rng, const float *label_freq);
INTENTI_HIDDEN void intenti_mlp_copy(intenti_mlp *dst, const intenti_mlp *src);
/* A read-only inference view of the parameters (f32 layers). */
INTENTI_HIDDEN void intenti_mlp_view(const intenti_mlp *m, intenti_net *net);
/* Number of floats in layer l's weights. */
INTENTI_HIDDEN size_t intenti_mlp_wsize(const intenti_mlp *m, uint32_t l);

INTENTI_HIDDEN int intenti_mlp_ws_new(intenti_mlp_ws *ws, const intenti_mlp *m);
INTENTI_HIDDEN void intenti_mlp_ws_free(intenti_mlp_ws *ws, const intenti_mlp *m);
INTENTI_HIDDEN void intenti_mlp_ws_zero(intenti_mlp_ws *ws, const intenti_mlp *m);

/* How one example is trained. */
typedef struct intenti_xcfg {
    float dropout;   /* on hidden units */
    float smooth;    /* gold targets are 1 - smooth instead of 1 */
    float softmax;   /* weight of an extra softmax cross-entropy over the labels (gold
                        labels share the target mass; skipped for "no label" examples) */
    float scale;     /* gradients are multiplied by this (1 / batch size) */
    bool with_loss;  /* add the example's loss to ws->loss (it costs a log per label) */
} intenti_xcfg;

/* Forward + backward of one example: sparse input (ids, vals, n), gold labels
 * (lab[n_lab], ids into the output layer), dropout masks drawn from rng.
 * Adds scale * dLoss/dparam into ws (dense layers) and writes scale * dLoss/dz0 into
 * delta0 [size[1]], from which the caller forms layer 0's sparse gradient. */
INTENTI_HIDDEN void intenti_mlp_example(const intenti_mlp *m, intenti_mlp_ws *ws,
                                        const intenti_kern *k, const uint32_t *ids,
                                        const float *vals, uint32_t n, const uint32_t *lab,
                                        uint32_t n_lab, const intenti_xcfg *cfg, intenti_rng *rng,
                                        float *delta0);

#endif
