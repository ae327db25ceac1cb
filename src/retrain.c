/*
 * retrain.c - learning from feedback: a warm start from a served model, a held-out guard,
 * and the two hooks the trainer calls to start from the old weights.
 *
 * DESIGN: the new model keeps the base's featurizer (same hash space, its idf where it
 * had one) and network shape, and its labels first, in order, so every old weight keeps
 * its meaning; labels the new examples add get fresh output columns. Feedback is
 * repeated so a handful of corrections weigh against thousands of old examples; the old
 * data, when given, keeps the rest from being forgotten. The guard compares the two
 * models on the same held-out examples, so a retrain that makes things worse is refused
 * with the figures, never written.
 */
#include "train.h"

#include <stdio.h>
#include <string.h>

void intent_retrain_opts_init(intent_retrain_opts *o) {
    memset(o, 0, sizeof *o);
    intent_train_opts_init(&o->train);
    o->train.patience = 3;
    o->train.average = 0.0f; /* an average would lag behind the corrections it must learn */
    o->feedback_repeat = 4;
    o->max_drop = 0.02f;
}

void intenti_warm_idf(const intent_model *warm, float *idf) {
    for (uint32_t b = 0; b < warm->fs.buckets; b++)
        if (warm->idf[b] > 0.0f)
            idf[b] = warm->idf[b];
}

static float weight(const intenti_layer *L, size_t i, size_t j) {
    return L->dtype == INTENTI_DT_F32 ? L->w[i * L->n_out + j] : L->qs[i] * (float)L->q[i * L->n_out + j];
}

void intenti_warm_init(const intent_model *warm, uint32_t k, intenti_mlp *net) {
    const intenti_net *src = &warm->nets[k < warm->n_nets ? k : 0];
    for (uint32_t l = 0; l < net->n_layers; l++) {
        const intenti_layer *L = &src->layers[l];
        size_t cols = net->size[l + 1]; /* >= L->n_out: the output layer may have grown */
        for (size_t i = 0; i < L->n_in; i++)
            for (size_t j = 0; j < L->n_out; j++)
                net->w[l][i * cols + j] = weight(L, i, j);
        memcpy(net->b[l], L->b, L->n_out * sizeof(float));
    }
}

/* Copies example i of src into dst; with base labels already interned, ids are by name. */
static int copy_example(intent_dataset *dst, const intent_dataset *src, size_t i) {
    uint32_t ids[INTENTI_LINE_LABELS];
    size_t n = 0;
    for (uint32_t j = src->lab_off[i]; j < src->lab_off[i + 1]; j++) {
        const char *name = src->labels[src->lab_ids[j]];
        int rc = intenti_dataset_intern(dst, name, strlen(name), &ids[n++]);
        if (rc)
            return rc;
    }
    return intenti_dataset_add_ids(dst, src->texts[i], src->text_lens[i], ids, n);
}

typedef struct sets {
    intent_dataset *train, *dev, *guard;
} sets;

/* Training set: the base's labels first, then data minus a held-out slice, then the
 * feedback `repeat` times. Dev (early stopping): the held-out slice and the feedback,
 * `repeat` times there too, so stopping waits until the feedback is learned: counted once,
 * 3 corrections beside 58 held-out examples moved the score too little, and a retrain
 * stopped at epoch 2 having learned none of them. Guard: the held-out slice alone (what
 * must not be forgotten), or the feedback when there is no data. */
static int make_sets(const intent_model *base, const intent_dataset *fb, const intent_dataset *data,
                     const intent_retrain_opts *o, sets *s) {
    int rc = intent_dataset_new(&s->train);
    if (!rc)
        rc = intent_dataset_new(&s->dev);
    if (!rc)
        rc = intent_dataset_new(&s->guard);
    uint32_t id;
    for (uint32_t i = 0; !rc && i < base->n_labels; i++)
        rc = intenti_dataset_intern(s->train, base->labels[i], strlen(base->labels[i]), &id);
    intenti_rng r;
    intenti_rng_seed(&r, o->train.seed, 7);
    size_t n_data = data ? data->n : 0;
    for (size_t i = 0; !rc && i < n_data; i++) {
        bool hold = n_data >= 2 && intenti_rng_unit(&r) < o->train.dev_fraction;
        rc = copy_example(hold ? s->dev : s->train, data, i);
        if (!rc && hold)
            rc = copy_example(s->guard, data, i);
    }
    for (uint32_t k = 0; !rc && k < o->feedback_repeat; k++)
        for (size_t i = 0; !rc && i < fb->n; i++)
            rc = copy_example(s->train, fb, i);
    bool no_slice = s->guard->n == 0;
    for (uint32_t k = 0; !rc && k < o->feedback_repeat; k++)
        for (size_t i = 0; !rc && i < fb->n; i++)
            rc = copy_example(s->dev, fb, i);
    for (size_t i = 0; !rc && no_slice && i < fb->n; i++) /* no data held out: the feedback is the check */
        rc = copy_example(s->guard, fb, i);
    return rc;
}

/* The options the trainer gets: the caller's, with the network, featurizer and none
 * label of the base model. */
static intent_train_opts warm_opts(const intent_model *base, const intent_retrain_opts *o) {
    intent_train_opts t = o->train;
    t.n_hidden = base->nets[0].n_layers - 1;
    for (uint32_t l = 0; l < t.n_hidden; l++)
        t.hidden[l] = base->nets[0].layers[l].n_out;
    t.n_nets = base->n_nets;
    t.buckets = base->fs.buckets;
    t.word_ngrams = base->fs.word_ngrams;
    t.char_min = base->fs.char_min;
    t.char_max = base->fs.char_max;
    t.sublinear_tf = (base->fs.flags & INTENTI_FEAT_SUBLINEAR) != 0;
    t.strip_accents = (base->fs.flags & INTENTI_FEAT_STRIP_ACCENTS) != 0;
    t.none_label = base->none_label;
    t.refit = 0;
    return t;
}

static double exact_of(const intent_model *m, const intent_dataset *ds, uint32_t threads, int *rc, intent_error *err) {
    intent_eval e;
    *rc = intent_evaluate(m, ds, -1.0f, threads, &e, err);
    double x = *rc ? 0.0 : e.exact;
    intent_eval_free(&e);
    return x;
}

int intent_retrain(const intent_model *base, const intent_dataset *feedback, const intent_dataset *data,
                   const intent_retrain_opts *o, intent_model **out, intent_retrain_report *rep, intent_error *err) {
    if (!base || !feedback || !o || !out)
        return intenti_err(err, INTENT_ERR_ARG, "intent_retrain: NULL argument");
    *out = NULL;
    intent_retrain_report r = {feedback->n, data ? data->n : 0, 0, 0, 0, 0, 0, 0};
    if (feedback->n == 0)
        return intenti_err(err, INTENT_ERR_EMPTY, "no feedback to learn from");
    if (o->feedback_repeat < 1 || o->feedback_repeat > 1000 || !(o->max_drop >= 0.0f && o->max_drop <= 1.0f))
        return intenti_err(err, INTENT_ERR_ARG, "feedback_repeat must be 1..1000 and max_drop 0..1");
    sets s = {NULL, NULL, NULL};
    intent_model *m = NULL;
    int rc = make_sets(base, feedback, data, o, &s);
    if (rc)
        intenti_err(err, rc, "retrain: %s", intent_status_str(rc));
    intent_train_opts t = warm_opts(base, o);
    if (!rc)
        rc = intenti_train_from(s.train, s.dev, &t, base, &m, err);
    if (!rc) {
        r.n_heldout = s.guard->n;
        r.n_new_labels = intent_model_n_labels(m) - base->n_labels;
        r.base_score = exact_of(base, s.guard, t.threads, &rc, err);
        if (!rc)
            r.new_score = exact_of(m, s.guard, t.threads, &rc, err);
        if (!rc)
            r.feedback_score = exact_of(m, feedback, t.threads, &rc, err);
    }
    /* worse by more than max_drop, and by more than two examples: on a small slice one
     * miss is several points, and is not evidence of forgetting */
    double drop = r.base_score - r.new_score, slack = r.n_heldout ? 2.0 / (double)r.n_heldout : 0.0;
    if (!rc && drop > o->max_drop && drop > slack + 1e-12) {
        rc = intenti_err(err, INTENT_ERR_REJECTED,
                         "retrained model scores %.2f%% on %zu held-out examples, %.2f points below the base "
                         "model's %.2f%% (allowed: %.2f): not made",
                         100 * r.new_score, r.n_heldout, 100 * (r.base_score - r.new_score), 100 * r.base_score,
                         100 * o->max_drop);
        intent_model_free(m);
        m = NULL;
    }
    r.accepted = rc == INTENT_OK;
    if (rep)
        *rep = r;
    intent_dataset_free(s.train);
    intent_dataset_free(s.dev);
    intent_dataset_free(s.guard);
    *out = m;
    return rc;
}
