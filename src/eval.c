/*
 * eval.c - scoring a model on a labelled dataset: exact-set and top-1 accuracy, micro and
 * macro F1, per-label precision/recall/F1, calibration (ECE), and for models with a none
 * label, in-scope accuracy, out-of-scope recall and AUROC.
 *
 * Predictions run in parallel over chunks of examples (one context per thread); the
 * metrics are then counted in example order, so results do not depend on threads.
 */
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 4096           /* examples predicted per parallel round */
#define CHUNK_ENTRIES (1u << 22) /* ... but at most this many answer entries (32 MiB) */
#define ECE_BINS 15

typedef struct eval_job {
    const intent_model *m;
    const intent_dataset *ds;
    intent_ctx **ctx;    /* [threads] */
    size_t lo, n;        /* the chunk: examples lo .. lo + n */
    float thr;
    intent_score *top;   /* [n][n_labels]: each example's answer, as intent_predict gives it */
    size_t *n_over;      /* [n] */
    int rc;
} eval_job;

static void eval_chunk(void *arg, uint32_t tid, uint32_t T) {
    eval_job *j = arg;
    size_t a = j->n * tid / T, b = j->n * (tid + 1) / T, N = j->m->n_labels, n_top;
    for (size_t i = a; i < b; i++) {
        size_t len;
        const char *text = intent_dataset_example(j->ds, j->lo + i, &len, NULL, NULL);
        if (intent_predict(j->m, j->ctx[tid], text, len, j->thr, j->top + i * N, N, &n_top, &j->n_over[i]))
            j->rc = INTENT_ERR_NOMEM;
    }
}

typedef struct counts {
    uint8_t *pred;         /* [n_labels] 1 if the label is predicted for this example */
    size_t exact, top1, top1_n, in_right, in_n, oos_right, oos_n;
    double bin_conf[ECE_BINS], bin_right[ECE_BINS];
    size_t bin_n[ECE_BINS];
    float *in_scores, *oos_scores; /* max confidences, for AUROC */
} counts;

/* Scores one example: its answer (top[n_labels], the first `over` apply) against its gold
 * label ids in model space (UNKNOWN for names the model lacks). */
static void score_one(const intent_model *m, const intent_score *ans, size_t over, const uint32_t *gold,
                      size_t n_gold, intent_eval *e, counts *c) {
    uint32_t top = ans[0].label, hit = 0;
    memset(c->pred, 0, m->n_labels);
    for (size_t i = 0; i < over; i++)
        c->pred[ans[i].label] = 1;
    for (uint32_t k = 0; k < m->n_labels; k++) {
        bool pred = c->pred[k], is_gold = false;
        for (size_t g = 0; g < n_gold; g++)
            is_gold |= gold[g] == k;
        hit += pred && is_gold;
        e->per_label[k].tp += pred && is_gold;
        e->per_label[k].fp += pred && !is_gold;
        e->per_label[k].fn += !pred && is_gold;
        e->per_label[k].support += is_gold;
    }
    c->exact += hit == n_gold && over == n_gold;
    bool top_right = false;
    for (size_t g = 0; g < n_gold; g++)
        top_right |= gold[g] == top;
    if (n_gold) {
        c->top1 += top_right;
        c->top1_n++;
    }
    float tc = isnan(ans[0].confidence) ? 0.0f : ans[0].confidence;
    int bin = (int)(tc * ECE_BINS);
    bin = bin < 0 ? 0 : bin >= ECE_BINS ? ECE_BINS - 1 : bin;
    c->bin_conf[bin] += tc;
    c->bin_right[bin] += top_right;
    c->bin_n[bin]++;
    if (!e->has_none)
        return;
    if (n_gold) {
        c->in_right += top_right && over > 0;
        c->in_scores[c->in_n++] = tc;
    } else {
        c->oos_right += over == 0;
        c->oos_scores[c->oos_n++] = tc;
    }
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* P(in-scope max confidence > out-of-scope max confidence), ties counting one half. */
static double auroc(float *in, size_t n_in, float *oos, size_t n_oos) {
    if (!n_in || !n_oos)
        return 0.0;
    qsort(in, n_in, sizeof *in, cmp_float);
    qsort(oos, n_oos, sizeof *oos, cmp_float);
    double wins = 0.0;
    size_t lo = 0, hi = 0; /* oos[0..lo) < x, oos[0..hi) <= x */
    for (size_t i = 0; i < n_in; i++) {
        while (lo < n_oos && oos[lo] < in[i])
            lo++;
        while (hi < n_oos && oos[hi] <= in[i])
            hi++;
        wins += (double)lo + 0.5 * (double)(hi - lo);
    }
    return wins / ((double)n_in * (double)n_oos);
}

static void finish(intent_eval *e, counts *c) {
    size_t tp = 0, fp = 0, fn = 0, n_macro = 0;
    double macro = 0.0;
    for (size_t k = 0; k < e->n_labels; k++) {
        intent_label_eval *l = &e->per_label[k];
        l->precision = l->tp + l->fp ? (double)l->tp / (l->tp + l->fp) : 0.0;
        l->recall = l->tp + l->fn ? (double)l->tp / (l->tp + l->fn) : 0.0;
        l->f1 = l->precision + l->recall > 0 ? 2 * l->precision * l->recall / (l->precision + l->recall) : 0.0;
        tp += l->tp;
        fp += l->fp;
        fn += l->fn;
        if (l->support || l->fp) { /* labels absent from both gold and predictions are left out */
            macro += l->f1;
            n_macro++;
        }
    }
    e->micro_f1 = tp ? 2.0 * tp / (2.0 * tp + fp + fn) : 0.0;
    e->macro_f1 = n_macro ? macro / n_macro : 0.0;
    size_t n = e->n_examples ? e->n_examples : 1;
    e->exact = (double)c->exact / n;
    e->top1 = c->top1_n ? (double)c->top1 / c->top1_n : 0.0;
    e->ece = 0.0;
    for (int b = 0; b < ECE_BINS; b++)
        if (c->bin_n[b])
            e->ece += fabs(c->bin_conf[b] - c->bin_right[b]) / n;
    if (e->has_none) {
        e->n_in_scope = c->in_n;
        e->n_out_of_scope = c->oos_n;
        e->in_scope_acc = c->in_n ? (double)c->in_right / c->in_n : 0.0;
        e->oos_recall = c->oos_n ? (double)c->oos_right / c->oos_n : 0.0;
        e->oos_auroc = auroc(c->in_scores, c->in_n, c->oos_scores, c->oos_n);
    }
}

/* Gold labels of example i in model space: sorted ids, UNKNOWN for names the model lacks;
 * the none label is dropped (an example with only it is out of scope). */
static size_t gold_of(const intent_dataset *ds, size_t i, const uint32_t *map, uint32_t *gold, size_t *n_unknown) {
    size_t n = 0;
    for (uint32_t j = ds->lab_off[i]; j < ds->lab_off[i + 1]; j++) {
        uint32_t id = map[ds->lab_ids[j]];
        if (id == INTENTI_DROP)
            continue;
        *n_unknown += id == INTENTI_UNKNOWN;
        gold[n++] = id;
    }
    return n;
}

typedef struct eval_state {
    intenti_team *team;
    intent_ctx **ctx;
    uint32_t T;
    uint32_t *map;
    size_t chunk;       /* examples a round: CHUNK, fewer for many labels or few examples */
    intent_score *top;  /* [chunk][n_labels] */
    size_t *n_over;     /* [chunk] */
    counts c;
} eval_state;

static int eval_setup(eval_state *s, const intent_model *m, const intent_dataset *ds, uint32_t threads,
                      intent_eval *out) {
    s->T = threads ? (threads > 256 ? 256 : threads) : intenti_n_cpus();
    if (intenti_team_new(s->T, &s->team))
        return INTENT_ERR_NOMEM;
    s->ctx = intenti_calloc(s->T, sizeof *s->ctx);
    s->map = intenti_malloc((ds->n_labels ? ds->n_labels : 1) * sizeof *s->map);
    s->chunk = CHUNK_ENTRIES / m->n_labels;
    s->chunk = s->chunk > CHUNK ? CHUNK : s->chunk < 1 ? 1 : s->chunk;
    s->chunk = s->chunk > ds->n ? (ds->n ? ds->n : 1) : s->chunk;
    s->top = intenti_malloc(s->chunk * m->n_labels * sizeof *s->top);
    s->n_over = intenti_malloc(s->chunk * sizeof *s->n_over);
    s->c.in_scores = intenti_malloc((ds->n ? ds->n : 1) * sizeof(float));
    s->c.oos_scores = intenti_malloc((ds->n ? ds->n : 1) * sizeof(float));
    s->c.pred = intenti_malloc(m->n_labels);
    out->per_label = intenti_calloc(m->n_labels, sizeof *out->per_label);
    if (!s->ctx || !s->map || !s->top || !s->n_over || !s->c.in_scores || !s->c.oos_scores || !s->c.pred ||
        !out->per_label)
        return INTENT_ERR_NOMEM;
    for (uint32_t t = 0; t < s->T; t++)
        if (intent_ctx_new(m, &s->ctx[t]))
            return INTENT_ERR_NOMEM;
    for (size_t i = 0; i < ds->n_labels; i++) {
        bool none = m->none_label && strcmp(ds->labels[i], m->none_label) == 0;
        long id = intent_model_label_id(m, ds->labels[i]);
        s->map[i] = none ? INTENTI_DROP : id < 0 ? INTENTI_UNKNOWN : (uint32_t)id;
    }
    return INTENT_OK;
}

static void eval_teardown(eval_state *s) {
    for (uint32_t t = 0; s->ctx && t < s->T; t++)
        intent_ctx_free(s->ctx[t]);
    intenti_free(s->ctx);
    intenti_team_free(s->team);
    intenti_free(s->map);
    intenti_free(s->top);
    intenti_free(s->n_over);
    intenti_free(s->c.in_scores);
    intenti_free(s->c.oos_scores);
    intenti_free(s->c.pred);
}

int intent_evaluate(const intent_model *m, const intent_dataset *ds, float threshold, uint32_t threads,
                    intent_eval *out, intent_error *err) {
    if (!m || !ds || !out)
        return intenti_err(err, INTENT_ERR_ARG, "intent_evaluate: NULL argument");
    memset(out, 0, sizeof *out);
    float thr = threshold < 0.0f || isnan(threshold) ? m->threshold : threshold;
    out->threshold = thr;
    out->n_labels = m->n_labels;
    out->n_examples = ds->n;
    out->has_none = m->none_label != NULL;
    eval_state s;
    memset(&s, 0, sizeof s);
    int rc = eval_setup(&s, m, ds, threads, out);
    uint32_t gold[INTENTI_LINE_LABELS];
    for (size_t lo = 0; !rc && lo < ds->n; lo += s.chunk) {
        eval_job job = {m, ds, s.ctx, lo, ds->n - lo < s.chunk ? ds->n - lo : s.chunk, thr, s.top, s.n_over, INTENT_OK};
        intenti_team_run(s.team, eval_chunk, &job);
        rc = job.rc;
        for (size_t i = 0; !rc && i < job.n; i++) {
            size_t n_gold = gold_of(ds, lo + i, s.map, gold, &out->n_unknown);
            score_one(m, s.top + i * m->n_labels, s.n_over[i], gold, n_gold, out, &s.c);
        }
    }
    if (!rc)
        finish(out, &s.c);
    eval_teardown(&s);
    if (rc) {
        intent_eval_free(out);
        return intenti_err(err, rc, "evaluation: %s", intent_status_str(rc));
    }
    return INTENT_OK;
}

void intent_eval_free(intent_eval *e) {
    if (!e)
        return;
    intenti_free(e->per_label);
    e->per_label = NULL;
}
