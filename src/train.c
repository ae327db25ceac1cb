/*
 * train.c - intent_train: featurize, then Adam over mini-batches with early stopping on a
 * dev set, then tune the threshold and write the model image.
 *
 * DESIGN (determinism and threads)
 *   Forward/backward of an example leaves its hidden outputs and deltas in the batch's
 *   slots for that example (intenti_xout); every gradient is then a sum over examples,
 *   formed one parameter row at a time, in example order, by whichever thread owns the
 *   row. So every float is added in the same order for any thread count: same data +
 *   seed gives the same bytes. Dropout masks come from a stream keyed by (seed, net,
 *   epoch, example), not by thread. Layer 0 (buckets x width, most of the parameters)
 *   gets a sparse update: only the rows used by the batch's examples (lazy Adam).
 *
 * Phases of one step: A) forward/backward, threads taking ranges of examples; B) every
 * parameter row's gradient summed in registers and applied at once (Adam), threads
 * taking ranges of rows: of layer 0, the rows of a range of buckets, which the thread
 * first lists with the (example, feature value) pairs that touch them.
 */
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PREFETCH 4    /* rows ahead that the layer-0 update asks the memory for */
#define LOSS_SAMPLE 8 /* training loss from 1 example in 8: a log per label is not free */
/* Early stopping counts a new best epoch as progress only when its dev loss fell too, or
 * its dev score has risen, since the last progress, by at least this share of the dev
 * errors left then (clinc150: 2% of 17% errors, 11 of 3,100 examples; snips, at 1.4%
 * errors, any example). Past its first dozen epochs clinc150's dev loss rises while its
 * dev score creeps up a tenth of a point an epoch for another twenty, and test accuracy
 * stays flat: those epochs bought nothing but time. */
#define MIN_GAIN 0.02

/* One thread's share of the layer-0 rows a batch touches: those of its bucket range. */
typedef struct rowset {
    uint32_t *touched, n_touched; /* [max rows]: slot -> bucket, in bucket order */
    uint32_t *row_at;          /* [max rows + 1]: slot r's pairs are row_at[r] .. row_at[r + 1] */
    uint32_t *pair_ex;         /* [batch x max nnz]: the pairs' examples (in the batch) ... */
    float *pair_val;           /* ... and feature values, in example order within a slot */
    uint32_t *cand_ex, *cand_id; /* [batch x max nnz]: the batch's features in the range ... */
    float *cand_val;           /* ... (a first, branch-free pass) */
} rowset;

typedef struct trainer {
    const intent_train_opts *o;
    intenti_team *team;
    uint32_t T;
    const intenti_kern *k;
    intenti_featspec fs;
    uint32_t n_labels;
    const char **names;        /* [n_labels] borrowed from the train dataset */
    intenti_prep tr, dev;
    float *idf;
    intenti_mlp net, am, av;   /* parameters and Adam moments */
    intenti_mlp avg;           /* average of the epochs' weights (o->average > 0): scored and kept */
    float *mv0;                /* [buckets][2][width]: layer 0's Adam moments, m and v of a row
                                  side by side (am/av hold the other layers'), so the sparse
                                  update touches two memory regions a row instead of three */
    bool averaging;
    intenti_mlp best[INTENT_MAX_NETS];
    uint32_t best_epoch[INTENT_MAX_NETS];
    uint32_t *count, *slot;    /* [buckets]: pairs of the bucket in the batch, its slot in its rowset */
    uint64_t *bits;            /* [buckets / 64]: the batch touches the bucket (cleared after use) */
    rowset *rows;              /* [T] */
    intenti_xout *xo;          /* [batch] each example's outputs and deltas, pointing into ... */
    float *xbuf;               /* ... this: per example its vectors, xstride floats apart */
    size_t xstride;
    double *xloss;             /* [batch] each example's loss (0 when not sampled) */
    intenti_mlp_ws *ws;        /* [T] */
    uint32_t *ex_at;           /* [T + 1]: thread t's examples are ex_at[t] .. ex_at[t + 1] */
    uint32_t dense_cost;       /* an example's dense-layer work, in features' worth */
    uint32_t *col_ex;          /* [T][batch] per thread: the examples giving a dense row ... */
    float *col_val;            /* ... and their inputs to it */
    float *ones;               /* [batch] 1s: a bias row's gradient is the plain sum of deltas */
    uint32_t *all_ex;          /* [batch] 0, 1, ...: every example, for the bias rows */
    uint32_t *order;           /* [tr.n] shuffled example order */
    float *probs;              /* [dev.n][n_labels] the current net's, then the ensemble's */
    float *logits;             /* [n_nets][dev.n][n_labels] each kept net's dev logits */
    uint32_t max_labels;       /* most labels on one training example */
    uint32_t clause_max;       /* most labels on a one-clause example; 0: clause decoding off */
    uint32_t min_labels;       /* 1 when every training example has a label (no none label
                                  in use): the decoder then always answers with one */
    const uint32_t *fixed;     /* refit: net k trains exactly fixed[k] epochs, no dev scoring */
    const intent_model *warm;  /* retrain: start from this model (retrain.c) */
    bool all_train;            /* refit: the held-out examples train too */
    double *dev_loss;          /* [dev.n] */
    float *eval_buf;           /* [T][2][max width] */
    uint32_t max_width;
    /* the step in flight */
    const uint32_t *batch;
    const uint32_t **bx_ids;   /* [batch] each example's features after input dropout */
    const float **bx_vals;
    uint32_t *bx_n;
    uint32_t *drop_ids;        /* [batch][max nnz] storage for dropped-out copies */
    float *drop_vals;
    uint32_t max_nnz;
    uint32_t bs, epoch, net_k;
    uint64_t step;             /* Adam step of the current net */
    intenti_adam adam;
    /* timing */
    struct timespec t0;
    double t_feat, t_bp, t_upd, t_eval;
} trainer;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- options ---- */

void intent_train_opts_init(intent_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->hidden[0] = 96;
    o->n_hidden = 1;
    o->n_nets = 1;
    o->epochs = 50;
    o->patience = 4;
    o->lr = 0.003f;
    o->batch = 32;
    o->dropout = 0.3f;
    o->dev_fraction = 0.1f;
    o->seed = 1;
    o->threads = 0;
    o->buckets = 8192;
    o->word_ngrams = 2;
    o->char_min = 2;
    o->char_max = 5;
    o->sublinear_tf = 1;
    o->min_count = 2;
    o->strip_accents = 1;
    o->threshold = 0.5f;
    o->tune_threshold = 1;
    o->calibrate = 1;
    o->refit = 1;
    o->clause_decoding = 1;
    o->average = 1.0f;
    o->label_names = 1;
}

int intent_train_opts_preset(intent_train_opts *o, const char *name) {
    if (!o || !name)
        return INTENT_ERR_ARG;
    if (strcmp(name, "default") == 0) {
        intent_train_opts_init(o);
    } else if (strcmp(name, "original") == 0) {
        /* the design this project started from: 256-128-64 MLP, Adam at 0.001 */
        intent_train_opts_init(o);
        o->hidden[0] = 256;
        o->hidden[1] = 128;
        o->hidden[2] = 64;
        o->n_hidden = 3;
        o->lr = 0.001f;
        o->buckets = 32768;
        o->min_count = 1;
    } else if (strcmp(name, "ensemble") == 0) {
        intent_train_opts_init(o);
        o->n_nets = 3;
    } else {
        return INTENT_ERR_ARG;
    }
    return INTENT_OK;
}

static int check_opts(const intent_train_opts *o, intent_error *err) {
    if (o->n_hidden > INTENT_MAX_HIDDEN)
        return intenti_err(err, INTENT_ERR_ARG, "at most %d hidden layers", INTENT_MAX_HIDDEN);
    for (uint32_t i = 0; i < o->n_hidden; i++)
        if (o->hidden[i] < 1 || o->hidden[i] > INTENT_MAX_WIDTH)
            return intenti_err(err, INTENT_ERR_ARG, "hidden layer %u: width %u is not 1..%d", i + 1, o->hidden[i], INTENT_MAX_WIDTH);
    if (o->n_nets < 1 || o->n_nets > INTENT_MAX_NETS)
        return intenti_err(err, INTENT_ERR_ARG, "nets must be 1..%d", INTENT_MAX_NETS);
    if (o->epochs < 1 || o->epochs > 100000)
        return intenti_err(err, INTENT_ERR_ARG, "epochs must be 1..100000");
    if (!(o->lr > 0.0f && o->lr <= 10.0f))
        return intenti_err(err, INTENT_ERR_ARG, "learning rate must be in (0, 10]");
    if (o->batch < 1 || o->batch > 65536)
        return intenti_err(err, INTENT_ERR_ARG, "batch must be 1..65536");
    if (!(o->dropout >= 0.0f && o->dropout <= 0.95f))
        return intenti_err(err, INTENT_ERR_ARG, "dropout must be in [0, 0.95]");
    if (!(o->input_dropout >= 0.0f && o->input_dropout <= 0.9f))
        return intenti_err(err, INTENT_ERR_ARG, "input dropout must be in [0, 0.9]");
    if (!(o->weight_decay >= 0.0f && o->weight_decay <= 100.0f))
        return intenti_err(err, INTENT_ERR_ARG, "weight decay must be in [0, 100]");
    if (!(o->label_smoothing >= 0.0f && o->label_smoothing <= 0.5f))
        return intenti_err(err, INTENT_ERR_ARG, "label smoothing must be in [0, 0.5]");
    if (!(o->average >= 0.0f && o->average <= 100.0f))
        return intenti_err(err, INTENT_ERR_ARG, "average must be 0..100 epochs");
    if (!(o->softmax_weight >= 0.0f && o->softmax_weight <= 100.0f))
        return intenti_err(err, INTENT_ERR_ARG, "softmax weight must be in [0, 100]");
    if (o->min_count < 1 || o->min_count > 1000000)
        return intenti_err(err, INTENT_ERR_ARG, "min count must be 1..1000000");
    if (!(o->dev_fraction > 0.0f && o->dev_fraction <= 0.5f))
        return intenti_err(err, INTENT_ERR_ARG, "dev fraction must be in (0, 0.5]");
    if (!(o->threshold >= 0.0f && o->threshold <= 1.0f))
        return intenti_err(err, INTENT_ERR_ARG, "threshold must be in [0, 1]");
    if (o->none_label && intenti_label_problem(o->none_label, strlen(o->none_label)))
        return intenti_err(err, INTENT_ERR_ARG, "none label \"%s\": %s", o->none_label,
                           intenti_label_problem(o->none_label, strlen(o->none_label)));
    intenti_featspec fs = {0, o->buckets, o->word_ngrams, o->char_min, o->char_max, 0};
    const char *why = intenti_featspec_problem(&fs);
    if (why)
        return intenti_err(err, INTENT_ERR_ARG, "featurizer: %s", why);
    return INTENT_OK;
}

static void make_featspec(trainer *t) {
    const intent_train_opts *o = t->o;
    if (t->warm) { /* the featurizer is part of what a warm start keeps */
        t->fs = t->warm->fs;
        return;
    }
    t->fs = (intenti_featspec){(uint32_t)(o->seed * 0x9E3779B97F4A7C15ull >> 32), o->buckets,
                               o->word_ngrams, o->char_min, o->char_max, INTENTI_FEAT_WORD_BOUNDS};
    if (o->sublinear_tf)
        t->fs.flags |= INTENTI_FEAT_SUBLINEAR;
    if (o->strip_accents)
        t->fs.flags |= INTENTI_FEAT_STRIP_ACCENTS;
}

/* ---- labels and data ---- */

/* Model labels: the train set's, in order of first appearance, minus the none label. */
static int make_labels(trainer *t, const intent_dataset *train, uint32_t **map, intent_error *err) {
    *map = intenti_malloc((train->n_labels ? train->n_labels : 1) * sizeof **map);
    t->names = intenti_malloc((train->n_labels ? train->n_labels : 1) * sizeof *t->names);
    if (!*map || !t->names)
        return intenti_err(err, INTENT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < train->n_labels; i++) {
        bool none = t->o->none_label && strcmp(train->labels[i], t->o->none_label) == 0;
        (*map)[i] = none ? INTENTI_DROP : t->n_labels;
        if (!none)
            t->names[t->n_labels++] = train->labels[i];
    }
    if (!t->n_labels)
        return intenti_err(err, INTENT_ERR_EMPTY, "no labels to learn (only the none label)");
    return INTENT_OK;
}

/* Maps a dev set's label ids to the model's, by name. */
static int map_dev_labels(const trainer *t, const intent_dataset *dev, uint32_t **map) {
    *map = intenti_malloc((dev->n_labels ? dev->n_labels : 1) * sizeof **map);
    if (!*map)
        return INTENT_ERR_NOMEM;
    for (size_t i = 0; i < dev->n_labels; i++) {
        (*map)[i] = INTENTI_UNKNOWN;
        if (t->o->none_label && strcmp(dev->labels[i], t->o->none_label) == 0)
            (*map)[i] = INTENTI_DROP;
        for (uint32_t j = 0; j < t->n_labels && (*map)[i] == INTENTI_UNKNOWN; j++)
            if (strcmp(dev->labels[i], t->names[j]) == 0)
                (*map)[i] = j;
    }
    return INTENT_OK;
}

typedef struct keyed {
    uint32_t key, pos, idx;
} keyed;

static int cmp_keyed(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* A seeded held-out slice, stratified by each example's first label: every label keeps
 * at least one training example, and the dev share of each label is dev_fraction, the
 * fractions carried from label to label so that rare labels still give dev examples. */
static int held_out(const trainer *t, const intent_dataset *train, uint32_t *tr_idx, uint32_t *n_tr,
                    uint32_t *dev_idx, uint32_t *n_dev) {
    uint32_t n = (uint32_t)train->n;
    keyed *k = intenti_malloc(n * sizeof *k);
    if (!k)
        return INTENT_ERR_NOMEM;
    intenti_rng r;
    intenti_rng_seed(&r, t->o->seed, 1);
    for (uint32_t i = 0; i < n; i++)
        k[i] = (keyed){train->lab_ids[train->lab_off[i]], intenti_rng_u32(&r), i};
    qsort(k, n, sizeof *k, cmp_keyed);
    double carry = 0.5;
    *n_tr = *n_dev = 0;
    for (uint32_t a = 0, b; a < n; a = b) {
        for (b = a + 1; b < n && k[b].key == k[a].key; b++)
            ;
        carry += t->o->dev_fraction * (b - a);
        uint32_t take = (uint32_t)carry;
        take = take > b - a - 1 ? b - a - 1 : take;
        carry -= take;
        for (uint32_t i = a; i < b; i++) {
            if (i < b - take)
                tr_idx[(*n_tr)++] = k[i].idx;
            else
                dev_idx[(*n_dev)++] = k[i].idx;
        }
    }
    if (*n_dev == 0) /* every label has one example: the whole set is its own dev set */
        for (uint32_t i = 0; i < n; i++)
            dev_idx[(*n_dev)++] = i;
    intenti_free(k);
    return INTENT_OK;
}

/* Train and dev index lists: all of train and all of dev, or a held-out slice. */
static int split(const trainer *t, const intent_dataset *train, const intent_dataset *dev,
                 uint32_t **tr_idx, uint32_t *n_tr, uint32_t **dev_idx, uint32_t *n_dev) {
    uint32_t n = (uint32_t)train->n;
    *tr_idx = intenti_malloc(n * sizeof **tr_idx);
    *dev_idx = intenti_malloc((dev ? dev->n + 1 : n) * sizeof **dev_idx);
    if (!*tr_idx || !*dev_idx)
        return INTENT_ERR_NOMEM;
    if (!dev) {
        int rc = held_out(t, train, *tr_idx, n_tr, *dev_idx, n_dev);
        if (!rc && t->all_train) {
            for (uint32_t i = 0; i < n; i++)
                (*tr_idx)[i] = i;
            *n_tr = n;
        }
        return rc;
    }
    for (uint32_t i = 0; i < n; i++)
        (*tr_idx)[i] = i;
    for (uint32_t i = 0; i < dev->n; i++)
        (*dev_idx)[i] = i;
    *n_tr = n;
    *n_dev = (uint32_t)dev->n;
    return INTENT_OK;
}

/* Clause decoding (clause.c) is for models of multi-label data: it learns how many labels
 * one clause carries (mixsnips: 1, each clause one intent; component routing: several). */
static uint32_t clause_max(const trainer *t, const intent_dataset *train, const uint32_t *map) {
    if (!t->o->clause_decoding)
        return 0;
    intenti_clausespec cs;
    intenti_clausespec_default(&cs, 1);
    intenti_span sp[INTENTI_MAX_CLAUSES];
    uint32_t most = 0, one_clause = 0;
    for (size_t i = 0; i < train->n; i++) {
        uint32_t n = 0;
        for (uint32_t j = train->lab_off[i]; j < train->lab_off[i + 1]; j++)
            n += map[train->lab_ids[j]] != INTENTI_DROP;
        most = n > most ? n : most;
        if (intenti_clauses(&cs, train->texts[i], train->text_lens[i], sp) == 1 && n > one_clause)
            one_clause = n;
    }
    return most < 2 ? 0 : one_clause ? one_clause : most;
}

static int prepare(trainer *t, const intent_dataset *train, const intent_dataset *dev, intent_error *err) {
    double t0 = now_s();
    uint32_t *map = NULL, *dmap = NULL, *tr_idx = NULL, *dev_idx = NULL, n_tr = 0, n_dev = 0;
    int rc = make_labels(t, train, &map, err);
    if (rc)
        goto done;
    t->clause_max = clause_max(t, train, map);
    rc = split(t, train, dev, &tr_idx, &n_tr, &dev_idx, &n_dev);
    if (!rc && dev)
        rc = map_dev_labels(t, dev, &dmap);
    if (!rc)
        rc = intenti_prep_build(&t->tr, train, tr_idx, n_tr, map, &t->fs, NULL, t->team);
    if (!rc)
        rc = intenti_prep_idf(&t->tr, t->fs.buckets, t->o->min_count, &t->idf);
    if (!rc && t->warm)
        intenti_warm_idf(t->warm, t->idf);
    if (!rc) {
        intenti_prep_weigh(&t->tr, &t->fs, t->idf);
        rc = intenti_prep_build(&t->dev, dev ? dev : train, dev_idx, n_dev, dev ? dmap : map, &t->fs,
                                t->idf, t->team);
    }
    if (rc)
        intenti_err(err, rc, "%s", intent_status_str(rc));
done:
    intenti_free(map);
    intenti_free(dmap);
    intenti_free(tr_idx);
    intenti_free(dev_idx);
    t->t_feat += now_s() - t0;
    return rc;
}

/* ---- buffers ---- */

static int alloc_net(trainer *t) {
    const intent_train_opts *o = t->o;
    uint32_t size[INTENTI_MAX_LAYERS + 1], L = o->n_hidden + 1;
    size[0] = t->fs.buckets;
    for (uint32_t i = 0; i < o->n_hidden; i++)
        size[i + 1] = o->hidden[i];
    size[L] = t->n_labels;
    size_t rows_x_width;
    if (!intenti_mul(size[0], size[1], &rows_x_width) || rows_x_width > ((size_t)1 << 32))
        return INTENT_ERR_LIMIT;
    t->max_width = 0;
    for (uint32_t l = 1; l <= L; l++)
        t->max_width = size[l] > t->max_width ? size[l] : t->max_width;
    int rc = intenti_mlp_new(&t->net, size, L);
    if (!rc) rc = intenti_mlp_new(&t->am, size, L);
    if (!rc) rc = intenti_mlp_new(&t->av, size, L);
    if (!rc) {
        intenti_afree(t->am.w[0]);
        intenti_afree(t->av.w[0]);
        t->am.w[0] = t->av.w[0] = NULL;
        t->mv0 = intenti_aalloc(2 * rows_x_width * sizeof(float));
        rc = t->mv0 ? INTENT_OK : INTENT_ERR_NOMEM;
    }
    if (!rc && o->average > 0.0f) {
        rc = intenti_mlp_new(&t->avg, size, L);
        t->averaging = rc == INTENT_OK;
    }
    for (uint32_t k = 0; !rc && k < o->n_nets; k++)
        rc = intenti_mlp_new(&t->best[k], size, L);
    t->ws = rc ? NULL : intenti_calloc(t->T, sizeof *t->ws);
    t->ex_at = rc ? NULL : intenti_malloc((t->T + 1) * sizeof *t->ex_at);
    if (!rc && (!t->ws || !t->ex_at))
        rc = INTENT_ERR_NOMEM;
    for (uint32_t s = 0; !rc && s < t->T; s++)
        rc = intenti_mlp_ws_new(&t->ws[s], &t->net);
    return rc;
}

/* The batch's per-example outputs (intenti_xout), each vector 8-float aligned, and what
 * the dense update reads them with. */
static int alloc_xout(trainer *t) {
    uint32_t B = t->o->batch, L = t->net.n_layers;
    size_t per = 0;
    for (uint32_t l = 0; l < L; l++)
        per += (l + 1 < L ? 2 : 1) * (((size_t)t->net.size[l + 1] + 7) & ~(size_t)7);
    t->xo = intenti_malloc(B * sizeof *t->xo);
    t->xbuf = intenti_aalloc(B * per * sizeof(float));
    t->xloss = intenti_malloc(B * sizeof *t->xloss);
    t->col_ex = intenti_malloc((size_t)t->T * B * sizeof *t->col_ex);
    t->col_val = intenti_malloc((size_t)t->T * B * sizeof *t->col_val);
    t->ones = intenti_malloc(B * sizeof *t->ones);
    t->all_ex = intenti_malloc(B * sizeof *t->all_ex);
    if (!t->xo || !t->xbuf || !t->xloss || !t->col_ex || !t->col_val || !t->ones || !t->all_ex)
        return INTENT_ERR_NOMEM;
    t->xstride = per;
    float *at = t->xbuf;
    for (uint32_t e = 0; e < B; e++) {
        memset(&t->xo[e], 0, sizeof t->xo[e]);
        for (uint32_t l = 0; l < L; l++) {
            size_t n = ((size_t)t->net.size[l + 1] + 7) & ~(size_t)7;
            t->xo[e].d[l] = at;
            at += n;
            if (l + 1 < L) {
                t->xo[e].a[l] = at;
                at += n;
            }
        }
        t->ones[e] = 1.0f;
        t->all_ex[e] = e;
    }
    return INTENT_OK;
}

static int alloc_buffers(trainer *t) {
    uint32_t B = t->fs.buckets;
    size_t n_probs = (size_t)t->dev.n * t->n_labels;
    t->count = intenti_calloc(B, sizeof *t->count);
    t->bits = intenti_calloc((B + 63) / 64, sizeof *t->bits);
    t->slot = intenti_malloc(B * sizeof *t->slot);
    t->order = intenti_malloc((t->tr.n ? t->tr.n : 1) * sizeof *t->order);
    t->probs = intenti_malloc((n_probs ? n_probs : 1) * sizeof(float));
    t->logits = intenti_calloc(n_probs ? n_probs * t->o->n_nets : 1, sizeof(float));
    t->dev_loss = intenti_malloc((t->dev.n ? t->dev.n : 1) * sizeof(double));
    t->eval_buf = intenti_aalloc((size_t)t->T * 2 * t->max_width * sizeof(float));
    for (uint32_t i = 0; i < t->tr.n; i++)
        t->max_nnz = t->tr.nnz[i] > t->max_nnz ? t->tr.nnz[i] : t->max_nnz;
    /* the dense layers (about a hundred units times the labels, forward and back) cost
     * about what the sparse layer of an average example does */
    t->dense_cost = t->tr.n ? (uint32_t)(t->tr.n_feats / t->tr.n) : 1;
    size_t drop = t->o->input_dropout > 0.0f ? (size_t)t->o->batch * (t->max_nnz ? t->max_nnz : 1) : 1;
    t->bx_ids = intenti_malloc(t->o->batch * sizeof *t->bx_ids);
    t->bx_vals = intenti_malloc(t->o->batch * sizeof *t->bx_vals);
    t->bx_n = intenti_malloc(t->o->batch * sizeof *t->bx_n);
    t->drop_ids = intenti_malloc(drop * sizeof *t->drop_ids);
    t->drop_vals = intenti_malloc(drop * sizeof *t->drop_vals);
    if (!t->bx_ids || !t->bx_vals || !t->bx_n || !t->drop_ids || !t->drop_vals)
        return INTENT_ERR_NOMEM;
    size_t per_batch = (size_t)t->o->batch * (t->max_nnz ? t->max_nnz : 1);
    size_t max_rows = per_batch < B ? per_batch : B;
    t->rows = intenti_calloc(t->T, sizeof *t->rows);
    if (!t->rows)
        return INTENT_ERR_NOMEM;
    for (uint32_t i = 0; i < t->T; i++) {
        rowset *rs = &t->rows[i];
        rs->touched = intenti_malloc(max_rows * sizeof *rs->touched);
        rs->row_at = intenti_malloc((max_rows + 1) * sizeof *rs->row_at);
        rs->pair_ex = intenti_malloc(per_batch * sizeof *rs->pair_ex);
        rs->pair_val = intenti_malloc(per_batch * sizeof *rs->pair_val);
        rs->cand_ex = intenti_malloc(per_batch * sizeof *rs->cand_ex);
        rs->cand_id = intenti_malloc(per_batch * sizeof *rs->cand_id);
        rs->cand_val = intenti_malloc(per_batch * sizeof *rs->cand_val);
        if (!rs->touched || !rs->row_at || !rs->pair_ex || !rs->pair_val || !rs->cand_ex || !rs->cand_id ||
            !rs->cand_val)
            return INTENT_ERR_NOMEM;
    }
    if (!t->count || !t->bits || !t->slot || alloc_xout(t) || !t->order || !t->probs || !t->logits ||
        !t->dev_loss || !t->eval_buf)
        return INTENT_ERR_NOMEM;
    return INTENT_OK;
}

static void trainer_free(trainer *t) {
    intenti_team_free(t->team);
    intenti_prep_free(&t->tr);
    intenti_prep_free(&t->dev);
    intenti_free(t->idf);
    intenti_free(t->names);
    for (uint32_t s = 0; t->ws && s < t->T; s++)
        intenti_mlp_ws_free(&t->ws[s], &t->net);
    intenti_free(t->ws);
    intenti_free(t->ex_at);
    intenti_mlp_free(&t->net);
    intenti_mlp_free(&t->am);
    intenti_mlp_free(&t->av);
    intenti_mlp_free(&t->avg);
    intenti_afree(t->mv0);
    for (uint32_t k = 0; k < INTENT_MAX_NETS; k++)
        intenti_mlp_free(&t->best[k]);
    intenti_free(t->count);
    intenti_free(t->bits);
    intenti_free(t->slot);
    for (uint32_t i = 0; t->rows && i < t->T; i++) {
        rowset *rs = &t->rows[i];
        intenti_free(rs->touched);
        intenti_free(rs->row_at);
        intenti_free(rs->pair_ex);
        intenti_free(rs->pair_val);
        intenti_free(rs->cand_ex);
        intenti_free(rs->cand_id);
        intenti_free(rs->cand_val);
    }
    intenti_free(t->rows);
    intenti_free(t->xo);
    intenti_afree(t->xbuf);
    intenti_free(t->xloss);
    intenti_free(t->col_ex);
    intenti_free(t->col_val);
    intenti_free(t->ones);
    intenti_free(t->all_ex);
    intenti_free(t->order);
    intenti_free(t->probs);
    intenti_free(t->logits);
    intenti_free(t->dev_loss);
    intenti_free(t->bx_ids);
    intenti_free(t->bx_vals);
    intenti_free(t->bx_n);
    intenti_free(t->drop_ids);
    intenti_free(t->drop_vals);
    intenti_afree(t->eval_buf);
}

/* ---- one step ---- */

/* The batch's inputs: each example's features, or with input dropout a copy keeping
 * each feature with probability 1 - p, scaled by 1 / (1 - p) (keyed by example, so the
 * same for any thread count). */
static void batch_inputs(trainer *t) {
    const intenti_prep *p = &t->tr;
    float q = t->o->input_dropout, keep = 1.0f / (1.0f - q);
    for (uint32_t e = 0; e < t->bs; e++) {
        uint32_t i = t->batch[e];
        t->bx_ids[e] = p->ids + p->off[i];
        t->bx_vals[e] = p->vals + p->off[i];
        t->bx_n[e] = p->nnz[i];
        if (q <= 0.0f)
            continue;
        intenti_rng r;
        intenti_rng_seed(&r, t->o->seed + 0x2000u * t->net_k, ((uint64_t)t->epoch << 32) | i);
        uint32_t *ids = t->drop_ids + (size_t)e * t->max_nnz, n = 0;
        float *vals = t->drop_vals + (size_t)e * t->max_nnz;
        for (uint32_t j = 0; j < p->nnz[i]; j++) {
            if (intenti_rng_unit(&r) < q)
                continue;
            ids[n] = t->bx_ids[e][j];
            vals[n++] = t->bx_vals[e][j] * keep;
        }
        t->bx_ids[e] = ids;
        t->bx_vals[e] = vals;
        t->bx_n[e] = n;
    }
}

/* The batch cut into one range of examples a thread, of about equal work: an example
 * costs its features (the sparse layer) plus the same fixed share for the dense layers.
 * Batches mix short and long texts, so equal counts would leave threads waiting. */
static void split_examples(trainer *t) {
    uint64_t total = 0, done = 0;
    for (uint32_t e = 0; e < t->bs; e++)
        total += t->bx_n[e] + t->dense_cost;
    uint32_t tid = 1;
    t->ex_at[0] = 0;
    for (uint32_t e = 0; e < t->bs; e++) {
        for (; tid < t->T && done >= total * tid / t->T; tid++)
            t->ex_at[tid] = e;
        done += t->bx_n[e] + t->dense_cost;
    }
    for (; tid <= t->T; tid++)
        t->ex_at[tid] = t->bs;
}

/* Phase A: forward + backward of a range of examples, each into its own slots. */
static void phase_backprop(void *arg, uint32_t tid, uint32_t T) {
    trainer *t = arg;
    const intenti_prep *p = &t->tr;
    intenti_xcfg cfg = {t->o->dropout, t->o->label_smoothing, t->o->softmax_weight, 1.0f / (float)t->bs, false};
    (void)T;
    for (uint32_t e = t->ex_at[tid]; e < t->ex_at[tid + 1]; e++) {
        uint32_t i = t->batch[e];
        intenti_rng r;
        intenti_rng_seed(&r, t->o->seed + 0x1000u * t->net_k, ((uint64_t)t->epoch << 32) | i);
        cfg.with_loss = i % LOSS_SAMPLE == 0; /* the reported loss is estimated on a sample */
        t->xloss[e] = intenti_mlp_example(&t->net, &t->ws[tid], t->k, t->bx_ids[e], t->bx_vals[e], t->bx_n[e],
                                          p->lab + p->lab_off[i], p->lab_off[i + 1] - p->lab_off[i], &cfg, &r,
                                          &t->xo[e]);
    }
}

/* Decoupled weight decay (AdamW), on a row just updated. */
static void decay_row(const trainer *t, float *w, size_t n) {
    float decay = 1.0f - t->adam.lr * t->o->weight_decay;
    if (decay < 1.0f)
        for (size_t c = 0; c < n; c++)
            w[c] *= decay;
}

/* Dense layer l's weight row i: the examples whose unit i of layer l - 1 is on give its
 * gradient, sum of a[l-1][i] * d[l]. */
static void dense_row(trainer *t, uint32_t tid, uint32_t l, uint32_t i) {
    uint32_t *ex = t->col_ex + (size_t)tid * t->o->batch, k = 0, n = t->net.size[l + 1];
    float *val = t->col_val + (size_t)tid * t->o->batch;
    for (uint32_t e = 0; e < t->bs; e++)
        if (t->xo[e].a[l - 1][i] != 0.0f) {
            ex[k] = e;
            val[k++] = t->xo[e].a[l - 1][i];
        }
    size_t at = (size_t)i * n;
    t->k->adam_sum(t->net.w[l] + at, t->am.w[l] + at, t->av.w[l] + at, n, t->xo[0].d[l], t->xstride, ex, val, k,
                   &t->adam);
    decay_row(t, t->net.w[l] + at, n);
}

/* The dense part of phase B: the weight rows of layers 1.. and one bias row a layer, as
 * one list of jobs cut into a range a thread. */
static void update_dense(trainer *t, uint32_t tid, uint32_t T) {
    uint32_t L = t->net.n_layers, jobs = L;
    for (uint32_t l = 1; l < L; l++)
        jobs += t->net.size[l];
    for (uint32_t j = jobs * tid / T; j < jobs * (tid + 1) / T; j++) {
        if (j < L) { /* bias of layer j: the plain sum of its deltas */
            t->k->adam_sum(t->net.b[j], t->am.b[j], t->av.b[j], t->net.size[j + 1], t->xo[0].d[j], t->xstride,
                           t->all_ex, t->ones, t->bs, &t->adam);
            continue;
        }
        uint32_t l = 1, i = j - L;
        for (; i >= t->net.size[l]; l++)
            i -= t->net.size[l];
        dense_row(t, tid, l, i);
    }
}

/* The layer-0 rows of buckets lo..hi the batch touched, in bucket order (so the update
 * walks the table forwards, which the hardware prefetcher follows), and each row's
 * (example, value) pairs in example order: a counting sort, so every row's gradient is
 * summed in the order the examples come, for any thread count. The buckets of a range
 * belong to one thread, so count, slot and the bitmap's words are shared unlocked
 * (ranges start on multiples of 64 buckets). */
static void collect_rows(trainer *t, rowset *rs, uint32_t lo, uint32_t hi) {
    uint32_t n = 0;
    for (uint32_t e = 0; e < t->bs; e++) /* the batch's features in range, without branches */
        for (uint32_t j = 0; j < t->bx_n[e]; j++) {
            uint32_t id = t->bx_ids[e][j];
            rs->cand_ex[n] = e;
            rs->cand_id[n] = id;
            rs->cand_val[n] = t->bx_vals[e][j];
            n += id - lo < hi - lo;
        }
    for (uint32_t c = 0; c < n; c++) {
        uint32_t id = rs->cand_id[c];
        t->count[id]++;
        t->bits[id / 64] |= (uint64_t)1 << (id % 64);
    }
    rs->n_touched = 0;
    uint32_t at = 0;
    for (uint32_t word = lo / 64; word < (hi + 63) / 64; word++)
        for (uint64_t b = t->bits[word]; b; b &= b - 1) { /* set bits, lowest first */
            uint32_t id = word * 64 + (uint32_t)__builtin_ctzll(b);
            rs->row_at[rs->n_touched] = at;
            t->slot[id] = rs->n_touched;
            rs->touched[rs->n_touched++] = id;
            at += t->count[id];
            t->count[id] = 0;
        }
    for (uint32_t word = lo / 64; word < (hi + 63) / 64; word++)
        t->bits[word] = 0;
    for (uint32_t c = 0; c < n; c++) { /* fill from the slot starts: row_at[r] becomes r's end */
        uint32_t to = rs->row_at[t->slot[rs->cand_id[c]]]++;
        rs->pair_ex[to] = rs->cand_ex[c];
        rs->pair_val[to] = rs->cand_val[c];
    }
    for (uint32_t r = rs->n_touched; r > 0; r--) /* ends -> starts */
        rs->row_at[r] = rs->row_at[r - 1];
    rs->row_at[0] = 0;
}

/* Thread tid's bucket range: a multiple of 64 buckets, so no two share a bitmap word. */
static uint32_t bucket_at(const trainer *t, uint32_t tid, uint32_t T) {
    uint32_t words = (t->fs.buckets + 63) / 64, at = (uint32_t)((uint64_t)words * tid / T) * 64;
    return at < t->fs.buckets ? at : t->fs.buckets;
}

/* Checkpoint averaging: at the end of each epoch, avg = (1 - a) avg + a w with
 * a = 1 / (1 + average), the first epoch's weights as the start. Split by rows of every
 * layer across threads; once an epoch, so it costs one pass over the parameters. */
static void phase_average(void *arg, uint32_t tid, uint32_t T) {
    trainer *t = arg;
    float a = t->epoch == 1 ? 1.0f : 1.0f / (1.0f + t->o->average);
    for (uint32_t l = 0; l < t->net.n_layers; l++) {
        size_t n = intenti_mlp_wsize(&t->net, l), lo = n * tid / T, hi = n * (tid + 1) / T;
        for (size_t i = lo; i < hi; i++)
            t->avg.w[l][i] += a * (t->net.w[l][i] - t->avg.w[l][i]);
        if (tid == 0)
            for (uint32_t i = 0; i < t->net.size[l + 1]; i++)
                t->avg.b[l][i] += a * (t->net.b[l][i] - t->avg.b[l][i]);
    }
}

/* The sparse part of phase B: lazy Adam on the layer-0 rows in use, each row's gradient
 * (the sum of x_j * d[0] over its pairs) formed in registers and applied at once. */
static void update_sparse(trainer *t, uint32_t tid, uint32_t T) {
    size_t W = t->net.size[1];
    rowset *rs = &t->rows[tid];
    collect_rows(t, rs, bucket_at(t, tid, T), bucket_at(t, tid + 1, T));
    for (uint32_t r = 0; r < rs->n_touched; r++) {
        if (r + PREFETCH < rs->n_touched) { /* rows are scattered: ask for them early */
            size_t next = rs->touched[r + PREFETCH];
            const float *w = t->net.w[0] + next * W, *mv = t->mv0 + 2 * next * W;
            for (size_t c = 0; c < W; c += 16) {
                __builtin_prefetch(w + c, 1);
                __builtin_prefetch(mv + c, 1);
                __builtin_prefetch(mv + W + c, 1);
            }
        }
        float *w = t->net.w[0] + (size_t)rs->touched[r] * W, *m = t->mv0 + 2 * (size_t)rs->touched[r] * W;
        uint32_t at = rs->row_at[r], n = rs->row_at[r + 1] - at;
        t->k->adam_sum(w, m, m + W, W, t->xo[0].d[0], t->xstride, rs->pair_ex + at, rs->pair_val + at, n, &t->adam);
        decay_row(t, w, W);
    }
}

/* Phase B: every parameter row updated once, each thread taking its share of both kinds. */
static void phase_update(void *arg, uint32_t tid, uint32_t T) {
    update_dense(arg, tid, T);
    update_sparse(arg, tid, T);
}

static double train_step(trainer *t, const uint32_t *batch, uint32_t bs) {
    t->batch = batch;
    t->bs = bs;
    t->step++;
    double b1 = 0.9, b2 = 0.999, st = (double)t->step;
    t->adam = (intenti_adam){(float)(t->o->lr * sqrt(1.0 - pow(b2, st)) / (1.0 - pow(b1, st))),
                             (float)b1, (float)b2, 1e-7f, t->o->lr};
    double a = now_s();
    batch_inputs(t);
    split_examples(t);
    intenti_team_run(t->team, phase_backprop, t);
    double b = now_s();
    intenti_team_run(t->team, phase_update, t);
    t->t_bp += b - a;
    t->t_upd += now_s() - b;
    double loss = 0.0;
    for (uint32_t e = 0; e < bs; e++)
        loss += t->xloss[e];
    return loss;
}

/* ---- dev evaluation ---- */

static void phase_eval(void *arg, uint32_t tid, uint32_t T) {
    trainer *t = arg;
    const intenti_prep *p = &t->dev;
    intenti_net net;
    intenti_mlp_view(t->averaging ? &t->avg : &t->net, &net);
    float *h0 = t->eval_buf + (size_t)tid * 2 * t->max_width, *h1 = h0 + t->max_width;
    uint32_t lo = (uint32_t)((uint64_t)p->n * tid / T), hi = (uint32_t)((uint64_t)p->n * (tid + 1) / T);
    for (uint32_t i = lo; i < hi; i++) {
        const float *z = intenti_net_forward(t->k, &net, p->ids + p->off[i], p->vals + p->off[i], p->nnz[i], h0, h1);
        float *pr = t->probs + (size_t)i * t->n_labels;
        float *zs = t->logits + ((size_t)t->net_k * p->n + i) * t->n_labels;
        double loss = 0.0;
        for (uint32_t c = 0; c < t->n_labels; c++) {
            float e = expf(-fabsf(z[c])); /* one exp serves the sigmoid and the loss */
            zs[c] = z[c];
            pr[c] = z[c] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
            loss += (z[c] > 0.0f ? z[c] : 0.0f) + intenti_log1p_small(e);
        }
        for (uint32_t j = p->lab_off[i]; j < p->lab_off[i + 1]; j++)
            if (p->lab[j] != INTENTI_UNKNOWN)
                loss -= z[p->lab[j]];
        t->dev_loss[i] = loss / t->n_labels;
    }
}

static void evaluate_dev(trainer *t, double *loss, double *score) {
    double a = now_s();
    intenti_team_run(t->team, phase_eval, t);
    double sum = 0.0;
    for (uint32_t i = 0; i < t->dev.n; i++)
        sum += t->dev_loss[i];
    *loss = t->dev.n ? sum / t->dev.n : 0.0;
    *score = intenti_exact(&t->dev, t->probs, t->n_labels, 0.5f, t->max_labels, t->min_labels);
    t->t_eval += now_s() - a;
}

/* ---- one network ---- */

/* Label frequencies in the training set (for the output biases) and the most labels one
 * example carries (the decoder never answers with more). */
static void label_freq(trainer *t, float *freq) {
    t->max_labels = 1;
    t->min_labels = 1;
    for (uint32_t i = 0; i < t->tr.n; i++) {
        uint32_t n = t->tr.lab_off[i + 1] - t->tr.lab_off[i];
        t->max_labels = n > t->max_labels ? n : t->max_labels;
        if (n == 0)
            t->min_labels = 0;
    }
    for (uint32_t c = 0; c < t->n_labels; c++)
        freq[c] = 0.0f;
    for (size_t j = 0; j < t->tr.n_lab; j++)
        if (t->tr.lab[j] < t->n_labels)
            freq[t->tr.lab[j]] += 1.0f;
    for (uint32_t c = 0; c < t->n_labels; c++)
        freq[c] /= (float)(t->tr.n ? t->tr.n : 1);
}

static void reset_net(trainer *t, uint32_t k, const float *freq) {
    intenti_rng r;
    intenti_rng_seed(&r, t->o->seed, 100 + k);
    intenti_mlp_init(&t->net, &r, freq);
    if (t->warm)
        intenti_warm_init(t->warm, k, &t->net);
    memset(t->mv0, 0, 2 * intenti_mlp_wsize(&t->net, 0) * sizeof(float));
    for (uint32_t l = 0; l < t->net.n_layers; l++) {
        if (l == 0) {
            memset(t->am.b[0], 0, t->net.size[1] * sizeof(float));
            memset(t->av.b[0], 0, t->net.size[1] * sizeof(float));
            continue;
        }
        memset(t->am.w[l], 0, intenti_mlp_wsize(&t->net, l) * sizeof(float));
        memset(t->av.w[l], 0, intenti_mlp_wsize(&t->net, l) * sizeof(float));
        memset(t->am.b[l], 0, t->net.size[l + 1] * sizeof(float));
        memset(t->av.b[l], 0, t->net.size[l + 1] * sizeof(float));
    }
    t->step = 0;
    t->net_k = k;
}

/* The parameters that are scored and kept: the average when there is one. */
static const intenti_mlp *kept(trainer *t) { return t->averaging ? &t->avg : &t->net; }

static void shuffle(uint32_t *a, uint32_t n, intenti_rng *r) {
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = intenti_rng_below(r, i), x = a[i - 1];
        a[i - 1] = a[j];
        a[j] = x;
    }
}

/* One pass over the training examples in a fresh order; returns the summed loss. */
static double run_epoch(trainer *t, intenti_rng *r) {
    shuffle(t->order, t->tr.n, r);
    double loss = 0.0;
    for (uint32_t b = 0; b < t->tr.n; b += t->o->batch) {
        uint32_t bs = t->tr.n - b < t->o->batch ? t->tr.n - b : t->o->batch;
        loss += train_step(t, t->order + b, bs); /* summed BCE of the batch */
    }
    return loss;
}

static int report(trainer *t, uint32_t k, uint32_t ep, double loss, double dloss, double dscore, bool best) {
    if (!t->o->progress)
        return INTENT_OK;
    uint32_t sampled = (t->tr.n + LOSS_SAMPLE - 1) / LOSS_SAMPLE;
    intent_epoch_report rep = {ep, k, loss / (sampled ? sampled : 1) / t->n_labels, dloss, dscore,
                               now_s() - ((double)t->t0.tv_sec + t->t0.tv_nsec * 1e-9), best,
                               t->t_feat, t->t_bp, t->t_upd, t->t_eval, t->fixed != NULL};
    return t->o->progress(&rep, t->o->progress_user) ? INTENT_ERR_CANCELLED : INTENT_OK;
}

/* Whether dev score s is enough of a gain over ref, the score of the last progress. */
static bool enough_gain(double s, double ref) {
    return ref < 0.0 || s - ref >= MIN_GAIN * (1.0 - ref);
}

/* Trains net k until the dev score stops improving (or, refitting, for t->fixed[k]
 * epochs); leaves the kept net in t->best[k] and, unless refitting, its dev logits in
 * t->logits. Returns INTENT_ERR_CANCELLED if the callback says so. */
static int train_net(trainer *t, uint32_t k, const float *freq) {
    const intent_train_opts *o = t->o;
    reset_net(t, k, freq);
    intenti_rng r;
    intenti_rng_seed(&r, o->seed, 200 + k);
    for (uint32_t i = 0; i < t->tr.n; i++)
        t->order[i] = i;
    double best_score = -1.0, best_loss = INFINITY, ref = -1.0;
    uint32_t bad = 0, last = t->fixed ? t->fixed[k] : o->epochs;
    int rc = INTENT_OK;
    for (uint32_t ep = 1; ep <= last && !rc; ep++) {
        t->epoch = ep;
        double loss = run_epoch(t, &r), dloss = -1.0, dscore = -1.0;
        if (t->averaging)
            intenti_team_run(t->team, phase_average, t);
        bool better = t->fixed != NULL;
        if (!t->fixed) {
            evaluate_dev(t, &dloss, &dscore);
            better = dscore > best_score || (dscore == best_score && dloss < best_loss);
            /* the best is kept on any gain; patience restarts on progress (MIN_GAIN) */
            bool progress = better && (dloss < best_loss || enough_gain(dscore, ref));
            ref = progress ? dscore : ref;
            bad = progress ? 0 : bad + 1;
        }
        if (better) {
            best_score = dscore;
            best_loss = dloss;
            t->best_epoch[k] = ep;
            intenti_mlp_copy(&t->best[k], kept(t));
        }
        rc = report(t, k, ep, loss, dloss, dscore, better);
        if (o->patience && bad >= o->patience)
            break;
    }
    if (t->fixed)
        return rc;
    /* the kept network's dev logits, for the ensemble, temperature and threshold */
    intenti_mlp_copy(&t->net, &t->best[k]);
    if (t->averaging)
        intenti_mlp_copy(&t->avg, &t->best[k]);
    double dl, ds;
    evaluate_dev(t, &dl, &ds);
    return rc;
}

/* Temperature and threshold from the dev set: both are stored in the model. */
static void decode_choices(trainer *t, float *temperature, float *threshold) {
    const intent_train_opts *o = t->o;
    *temperature = o->calibrate ? intenti_fit_temperature(&t->dev, t->logits, o->n_nets, t->n_labels) : 1.0f;
    intenti_ensemble(t->logits, o->n_nets, (size_t)t->dev.n * t->n_labels, *temperature, t->probs);
    *threshold = o->tune_threshold ? intenti_tune_threshold(&t->dev, t->probs, t->n_labels, t->max_labels,
                                                            t->min_labels)
                                   : o->threshold;
}

/* ---- the model image ---- */

static uint32_t data_crc(const intent_dataset *ds) {
    uint32_t c = 0;
    for (size_t i = 0; i < ds->n; i++) {
        c = intenti_crc32c(c, ds->texts[i], ds->text_lens[i]);
        for (uint32_t j = ds->lab_off[i]; j < ds->lab_off[i + 1]; j++)
            c = intenti_crc32c(c, ds->labels[ds->lab_ids[j]], strlen(ds->labels[ds->lab_ids[j]]));
    }
    return c;
}

static void put_meta(intenti_fbuild *b, const trainer *t, const intent_dataset *train, float threshold,
                     float temperature) {
    const intent_train_opts *o = t->o;
    intenti_fb_str(b, "intent.writer", "intent " INTENT_VERSION_STRING);
    intenti_fb_str(b, "feat.hash", "ih1");
    intenti_fb_u32(b, "feat.seed", t->fs.seed);
    intenti_fb_u32(b, "feat.buckets", t->fs.buckets);
    intenti_fb_u32(b, "feat.word_ngrams", t->fs.word_ngrams);
    intenti_fb_u32(b, "feat.char_min", t->fs.char_min);
    intenti_fb_u32(b, "feat.char_max", t->fs.char_max);
    intenti_fb_u32(b, "feat.flags", t->fs.flags);
    intenti_fb_strs(b, "labels", t->names, t->n_labels);
    if (o->none_label)
        intenti_fb_str(b, "none_label", o->none_label);
    intenti_fb_u32(b, "net.count", o->n_nets);
    intenti_fb_u32s(b, "net.layers", t->net.size, t->net.n_layers + 1);
    intenti_fb_f32(b, "decode.threshold", threshold);
    intenti_fb_f32(b, "decode.temperature", temperature);
    intenti_fb_u32(b, "decode.max_labels", t->max_labels);
    intenti_fb_u32(b, "decode.min_labels", t->min_labels);
    if (t->clause_max) {
        static const char *const words[] = {"and", "then", "also"};
        intenti_fb_u32(b, "decode.clause_max_labels", t->clause_max < t->max_labels ? t->clause_max : t->max_labels);
        intenti_fb_str(b, "decode.clause_marks", ",;");
        intenti_fb_strs(b, "decode.clause_words", words, 3);
    }
    intenti_fb_u64(b, "train.examples", t->tr.n);
    intenti_fb_u64(b, "train.dev_examples", t->dev.n);
    intenti_fb_u32(b, "train.data_crc32c", data_crc(train));
    intenti_fb_u64(b, "train.seed", o->seed);
    intenti_fb_f32(b, "train.lr", o->lr);
    intenti_fb_u32(b, "train.batch", o->batch);
    intenti_fb_f32(b, "train.dropout", o->dropout);
    intenti_fb_u32s(b, "train.best_epochs", t->best_epoch, o->n_nets);
    intenti_fb_u32(b, "train.refit", t->fixed != NULL);
    intenti_fb_u32(b, "train.label_names", o->label_names != 0);
}

static int build_model(trainer *t, const intent_dataset *train, float temperature, float threshold,
                       intent_model **out, intent_error *err) {
    intenti_fbuild b = {0};
    put_meta(&b, t, train, threshold, temperature);
    intenti_fb_tensor(&b, "idf", INTENTI_DT_F32, t->fs.buckets, 0, t->idf);
    char name[64];
    for (uint32_t k = 0; k < t->o->n_nets; k++) {
        intenti_mlp *m = &t->best[k];
        /* rows of buckets never seen in training are never read (idf 0): keep them zero */
        for (uint32_t r = 0; r < t->fs.buckets; r++)
            if (t->idf[r] == 0.0f)
                memset(m->w[0] + (size_t)r * m->size[1], 0, m->size[1] * sizeof(float));
        for (uint32_t l = 0; l < m->n_layers; l++) {
            snprintf(name, sizeof name, "net%u.l%u.w", k, l);
            intenti_fb_tensor(&b, name, INTENTI_DT_F32, m->size[l], m->size[l + 1], m->w[l]);
            snprintf(name, sizeof name, "net%u.l%u.b", k, l);
            intenti_fb_tensor(&b, name, INTENTI_DT_F32, m->size[l + 1], 0, m->b[l]);
        }
    }
    uint8_t *img;
    size_t len;
    int rc = intenti_fb_finish(&b, &img, &len);
    intenti_fb_free(&b);
    if (rc)
        return intenti_err(err, rc, "out of memory writing the model");
    return intenti_model_from_image(img, len, false, "<trained model>", out, err);
}

/* One training run: featurize, allocate, train every net. */
static int run(trainer *t, const intent_dataset *train, const intent_dataset *dev, intent_error *err) {
    t->k = intenti_kern_get();
    t->T = t->o->threads ? (t->o->threads > 256 ? 256 : t->o->threads) : intenti_n_cpus();
    make_featspec(t);
    int rc = intenti_team_new(t->T, &t->team);
    if (rc)
        return intenti_err(err, rc, "cannot start %u threads", t->T);
    rc = prepare(t, train, dev, err);
    if (rc)
        return rc;
    rc = alloc_net(t);
    if (!rc)
        rc = alloc_buffers(t);
    if (rc)
        return intenti_err(err, rc, rc == INTENT_ERR_LIMIT ? "buckets x first hidden width is too large"
                                                           : "out of memory for the network");
    float *freq = intenti_malloc(t->n_labels * sizeof *freq);
    if (!freq)
        return intenti_err(err, INTENT_ERR_NOMEM, "out of memory");
    label_freq(t, freq);
    for (uint32_t k = 0; k < t->o->n_nets && !rc; k++)
        rc = train_net(t, k, freq);
    intenti_free(freq);
    return rc ? intenti_err(err, rc, "training cancelled") : INTENT_OK;
}

int intent_train(const intent_dataset *train, const intent_dataset *dev, const intent_train_opts *o,
                 intent_model **out, intent_error *err) {
    return intenti_train_from(train, dev, o, NULL, out, err);
}

int intenti_train_from(const intent_dataset *train, const intent_dataset *dev, const intent_train_opts *o,
                       const intent_model *warm, intent_model **out, intent_error *err) {
    if (!train || !o || !out)
        return intenti_err(err, INTENT_ERR_ARG, "intent_train: NULL argument");
    *out = NULL;
    int rc = check_opts(o, err);
    if (rc)
        return rc;
    if (train->n == 0)
        return intenti_err(err, INTENT_ERR_EMPTY, "no training examples");
    const intent_dataset *given = train; /* its CRC names the data in the model file */
    intent_dataset *named = NULL;         /* train with the label names added (opts.label_names) */
    if (o->label_names) {
        rc = intenti_with_label_names(train, o->none_label, &named);
        if (rc)
            return intenti_err(err, rc, "adding the label names: %s", rc == INTENT_ERR_NOMEM ? "out of memory" : "too many examples");
        train = named;
    }
    trainer t;
    memset(&t, 0, sizeof t);
    t.o = o;
    t.warm = warm;
    clock_gettime(CLOCK_MONOTONIC, &t.t0);
    float temperature = 1.0f, threshold = o->threshold;
    rc = run(&t, train, dev, err);
    if (!rc && warm) { /* retrain: a slice of old training data would bias a new choice */
        temperature = warm->temperature;
        threshold = warm->threshold;
    } else if (!rc) {
        decode_choices(&t, &temperature, &threshold);
    }
    /* Refit: with a held-out slice (no dev set given, and the slice was not the whole
     * set), train again on all the examples for each net's best epoch count, keeping the
     * temperature and threshold chosen on the slice. More data beats a dev set here. */
    bool refit = !rc && !dev && o->refit && t.tr.n < train->n;
    if (refit) {
        uint32_t epochs[INTENT_MAX_NETS];
        memcpy(epochs, t.best_epoch, sizeof epochs);
        trainer done = {.o = o, .t0 = t.t0, .fixed = epochs, .all_train = true, .warm = warm, .t_feat = t.t_feat,
                        .t_bp = t.t_bp, .t_upd = t.t_upd, .t_eval = t.t_eval};
        trainer_free(&t);
        t = done;
        memcpy(t.best_epoch, epochs, sizeof epochs);
        rc = run(&t, train, NULL, err);
    }
    if (!rc)
        rc = build_model(&t, given, temperature, threshold, out, err);
    trainer_free(&t);
    intent_dataset_free(named);
    return rc;
}
