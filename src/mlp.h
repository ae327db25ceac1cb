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

#include <math.h>

#define INTENTI_MAX_LAYERS (INTENT_MAX_HIDDEN + 1)

typedef struct intenti_mlp {
    uint32_t n_layers;
    uint32_t size[INTENTI_MAX_LAYERS + 1];
    float *w[INTENTI_MAX_LAYERS];
    float *b[INTENTI_MAX_LAYERS];
} intenti_mlp;

/* Per-worker scratch for one example at a time. */
typedef struct intenti_mlp_ws {
    float *z[INTENTI_MAX_LAYERS];     /* pre-activations [size[l+1]] */
    float *mask[INTENTI_MAX_LAYERS];  /* dropout multipliers: 0 or 1/(1-p) */
    uint32_t *on;                     /* [max width] units a layer passes on (non-zero) ... */
    float *on_val;                    /* ... and their values */
} intenti_mlp_ws;

/* What one example's backward pass leaves, in the caller's storage: the hidden outputs
 * and the deltas from which every gradient is a sum over examples (gradient of w[l] row i:
 * sum of a[l-1][i] * d[l]; of b[l]: sum of d[l]; of layer 0's row of feature j: x_j * d[0]).
 * Keeping these instead of per-worker gradient sums lets the update form each parameter
 * row's gradient in registers, in example order, right where Adam needs it. */
typedef struct intenti_xout {
    float *a[INTENTI_MAX_LAYERS];     /* a[l], l < L - 1: hidden layer l's output after ReLU
                                         and dropout [size[l+1]] */
    float *d[INTENTI_MAX_LAYERS];     /* d[l]: scale * dLoss/dz of layer l [size[l+1]] */
} intenti_xout;

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

/* log(1 + e) for e = exp(-|z|) in (0, 1], the softplus part of a logistic loss. Most
 * logits of a many-label model are far from zero, so e is small, and there four terms of
 * the series are exact to float precision (the next term is below e^5 / 5) at a fraction
 * of log1pf's cost. */
static inline float intenti_log1p_small(float e) {
    if (e < 0.01f)
        return e * (1.0f - e * (0.5f - e * (1.0f / 3.0f - e * 0.25f)));
    return log1pf(e);
}

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
 * (lab[n_lab], ids into the output layer), dropout masks drawn from rng. Writes the
 * hidden outputs and scale * dLoss/dz of every layer into out; returns the example's loss
 * when cfg->with_loss, else 0. */
INTENTI_HIDDEN double intenti_mlp_example(const intenti_mlp *m, intenti_mlp_ws *ws, const intenti_kern *k,
                                          const uint32_t *ids, const float *vals, uint32_t n,
                                          const uint32_t *lab, uint32_t n_lab, const intenti_xcfg *cfg,
                                          intenti_rng *rng, const intenti_xout *out);

#endif
