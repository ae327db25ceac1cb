/*
 * model.c - a model made from a validated file image: its featurizer, labels and
 * networks, and the forward pass that serves predictions.
 *
 * DESIGN: the model never copies weights. Layers point into the image (a 64-byte aligned
 * heap block or a read-only mmap of the file), so loading costs one CRC pass plus
 * parsing a few hundred bytes of metadata. Everything here is read-only after load, so
 * any number of threads may run intenti_model_forward at once on their own scratch.
 */
#include "intent_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static int need_u32(const intenti_fview *v, const char *key, uint32_t *out, const char *name,
                    intent_error *err) {
    const intenti_kv *kv = intenti_fview_kv(v, key, INTENTI_KV_U32);
    if (!kv)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: metadata \"%s\" (u32) is missing", name, key);
    *out = intenti_ld32(kv->val);
    return INTENT_OK;
}

static int read_featspec(intent_model *m, const char *name, intent_error *err) {
    const intenti_fview *v = &m->view;
    const intenti_kv *hash = intenti_fview_kv(v, "feat.hash", INTENTI_KV_STR);
    if (!hash || hash->count != 3 || memcmp(hash->val, "ih1", 3) != 0)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: metadata \"feat.hash\" is missing or not \"ih1\"", name);
    intenti_featspec *fs = &m->fs;
    int rc = need_u32(v, "feat.seed", &fs->seed, name, err);
    if (!rc) rc = need_u32(v, "feat.buckets", &fs->buckets, name, err);
    if (!rc) rc = need_u32(v, "feat.word_ngrams", &fs->word_ngrams, name, err);
    if (!rc) rc = need_u32(v, "feat.char_min", &fs->char_min, name, err);
    if (!rc) rc = need_u32(v, "feat.char_max", &fs->char_max, name, err);
    if (!rc) rc = need_u32(v, "feat.flags", &fs->flags, name, err);
    if (rc)
        return rc;
    const char *why = intenti_featspec_problem(fs);
    if (why)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: featurizer settings: %s", name, why);
    const intenti_tensor *idf = intenti_fview_tensor(v, "idf");
    if (!idf || idf->dtype != INTENTI_DT_F32 || idf->n_dims != 1 || idf->dims[0] != fs->buckets)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: tensor \"idf\" is missing or not f32[%u]", name, fs->buckets);
    m->idf = (const float *)idf->data;
    return INTENT_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Copies label names out of the STRS entry (which is not NUL-terminated), checking each. */
static int read_labels(intent_model *m, const char *name, intent_error *err) {
    const intenti_kv *kv = intenti_fview_kv(&m->view, "labels", INTENTI_KV_STRS);
    if (!kv || kv->count == 0 || kv->count > INTENT_MAX_LABELS)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: metadata \"labels\" is missing or has no labels", name);
    m->n_labels = kv->count;
    m->labels = intenti_calloc(kv->count, sizeof *m->labels);
    m->label_mem = intenti_malloc(kv->val_len); /* names + NULs fit in the entry's bytes */
    if (!m->labels || !m->label_mem)
        return intenti_err(err, INTENT_ERR_NOMEM, "%s: out of memory", name);
    size_t pos = 4, out = 0;
    for (uint32_t i = 0; i < kv->count; i++) {
        uint32_t sl = intenti_ld32(kv->val + pos);
        const char *s = (const char *)kv->val + pos + 4;
        const char *why = intenti_label_problem(s, sl);
        if (why)
            return intenti_err(err, INTENT_ERR_FORMAT, "%s: label %u: %s", name, i, why);
        memcpy(m->label_mem + out, s, sl);
        m->label_mem[out + sl] = '\0';
        m->labels[i] = m->label_mem + out;
        out += sl + 1;
        pos += 4 + sl;
    }
    /* duplicates: sort a copy of the names, compare neighbours; O(n log n) for any count */
    const char **sorted = intenti_malloc(m->n_labels * sizeof *sorted);
    if (!sorted)
        return intenti_err(err, INTENT_ERR_NOMEM, "%s: out of memory", name);
    memcpy(sorted, m->labels, m->n_labels * sizeof *sorted);
    qsort(sorted, m->n_labels, sizeof *sorted, cmp_str);
    for (uint32_t i = 1; i < m->n_labels; i++)
        if (strcmp(sorted[i], sorted[i - 1]) == 0) {
            intenti_err(err, INTENT_ERR_FORMAT, "%s: label \"%s\" appears twice", name, sorted[i]);
            intenti_free(sorted);
            return INTENT_ERR_FORMAT;
        }
    intenti_free(sorted);
    const intenti_kv *none = intenti_fview_kv(&m->view, "none_label", INTENTI_KV_STR);
    if (none) {
        if (intenti_label_problem((const char *)none->val, none->count))
            return intenti_err(err, INTENT_ERR_FORMAT, "%s: metadata \"none_label\" is not a valid label", name);
        m->none_label = intenti_strndup((const char *)none->val, none->count);
        if (!m->none_label)
            return intenti_err(err, INTENT_ERR_NOMEM, "%s: out of memory", name);
    }
    return INTENT_OK;
}

static const intenti_tensor *want(const intent_model *m, const char *tname, int dtype, uint32_t rows,
                                  uint32_t cols) {
    const intenti_tensor *t = intenti_fview_tensor(&m->view, tname);
    if (!t || t->dtype != dtype || t->dims[0] != rows || t->n_dims != (cols ? 2u : 1u) ||
        (cols && t->dims[1] != cols))
        return NULL;
    return t;
}

static int read_layer(intent_model *m, uint32_t k, uint32_t l, uint32_t n_in, uint32_t n_out,
                      const char *name, intent_error *err) {
    intenti_layer *L = &m->nets[k].layers[l];
    char tn[64];
    L->n_in = n_in;
    L->n_out = n_out;
    snprintf(tn, sizeof tn, "net%u.l%u.w", k, l);
    const intenti_tensor *w = intenti_fview_tensor(&m->view, tn);
    if (w && w->dtype == INTENTI_DT_F32 && want(m, tn, INTENTI_DT_F32, n_in, n_out)) {
        L->dtype = INTENTI_DT_F32;
        L->w = (const float *)w->data;
    } else if (w && w->dtype == INTENTI_DT_I8 && want(m, tn, INTENTI_DT_I8, n_in, n_out)) {
        char sn[64];
        snprintf(sn, sizeof sn, "net%u.l%u.s", k, l);
        const intenti_tensor *s = want(m, sn, INTENTI_DT_F32, n_in, 0);
        if (!s)
            return intenti_err(err, INTENT_ERR_FORMAT, "%s: tensor \"%s\" is missing or not f32[%u]", name, sn, n_in);
        L->dtype = INTENTI_DT_I8;
        L->q = (const int8_t *)w->data;
        L->qs = (const float *)s->data;
    } else {
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: tensor \"%s\" is missing or not [%u][%u]", name, tn, n_in, n_out);
    }
    snprintf(tn, sizeof tn, "net%u.l%u.b", k, l);
    const intenti_tensor *b = want(m, tn, INTENTI_DT_F32, n_out, 0);
    if (!b)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: tensor \"%s\" is missing or not f32[%u]", name, tn, n_out);
    L->b = (const float *)b->data;
    return INTENT_OK;
}

static int read_nets(intent_model *m, const char *name, intent_error *err) {
    uint32_t n_nets = 0;
    int rc = need_u32(&m->view, "net.count", &n_nets, name, err);
    if (rc)
        return rc;
    const intenti_kv *kv = intenti_fview_kv(&m->view, "net.layers", INTENTI_KV_U32S);
    if (n_nets < 1 || n_nets > INTENT_MAX_NETS)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: net.count %u is not 1..%d", name, n_nets, INTENT_MAX_NETS);
    if (!kv || kv->count < 2 || kv->count > INTENT_MAX_HIDDEN + 2)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: metadata \"net.layers\" is missing or has a bad length", name);
    uint32_t widths[INTENT_MAX_HIDDEN + 2];
    for (uint32_t i = 0; i < kv->count; i++) {
        widths[i] = intenti_ld32(kv->val + 4 + 4 * i);
        if (i > 0 && (widths[i] < 1 || widths[i] > INTENT_MAX_WIDTH))
            return intenti_err(err, INTENT_ERR_FORMAT, "%s: net.layers[%u] = %u is not 1..%d", name, i, widths[i], INTENT_MAX_WIDTH);
    }
    if (widths[0] != m->fs.buckets || widths[kv->count - 1] != m->n_labels)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: net.layers must run from %u buckets to %u labels", name,
                           m->fs.buckets, m->n_labels);
    m->n_nets = n_nets;
    m->max_width = m->n_labels;
    for (uint32_t k = 0; k < n_nets; k++) {
        m->nets[k].n_layers = kv->count - 1;
        for (uint32_t l = 0; l + 1 < kv->count; l++) {
            rc = read_layer(m, k, l, widths[l], widths[l + 1], name, err);
            if (rc)
                return rc;
            if (widths[l + 1] > m->max_width)
                m->max_width = widths[l + 1];
        }
    }
    return INTENT_OK;
}

/* Clause decoding (clause.c): absent means off; marks and words default when absent. */
static int read_clauses(intent_model *m, const char *name, intent_error *err) {
    const intenti_kv *cm = intenti_fview_kv(&m->view, "decode.clause_max_labels", INTENTI_KV_U32);
    intenti_clausespec *cs = &m->clauses;
    intenti_clausespec_default(cs, cm ? intenti_ld32(cm->val) : 0);
    if (cs->max_labels > m->max_labels)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: decode.clause_max_labels exceeds decode.max_labels", name);
    const intenti_kv *mk = intenti_fview_kv(&m->view, "decode.clause_marks", INTENTI_KV_STR);
    if (mk) {
        if (mk->count >= sizeof cs->marks)
            return intenti_err(err, INTENT_ERR_FORMAT, "%s: decode.clause_marks is longer than 15 bytes", name);
        memcpy(cs->marks, mk->val, mk->count);
        cs->n_marks = mk->count;
    }
    const intenti_kv *wd = intenti_fview_kv(&m->view, "decode.clause_words", INTENTI_KV_STRS);
    if (!wd)
        return INTENT_OK;
    if (wd->count > INTENTI_CLAUSE_WORDS)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: decode.clause_words has more than %d words", name, INTENTI_CLAUSE_WORDS);
    cs->n_words = wd->count;
    size_t pos = 4;
    for (uint32_t i = 0; i < wd->count; i++) {
        uint32_t sl = intenti_ld32(wd->val + pos);
        const char *w = (const char *)wd->val + pos + 4;
        bool ok = sl >= 1 && sl < sizeof cs->words[i];
        for (uint32_t j = 0; ok && j < sl; j++)
            ok = w[j] >= 'a' && w[j] <= 'z';
        if (!ok)
            return intenti_err(err, INTENT_ERR_FORMAT, "%s: decode.clause_words[%u] is not 1..15 lowercase letters", name, i);
        memcpy(cs->words[i], w, sl);
        cs->word_len[i] = sl;
        pos += 4 + sl;
    }
    return INTENT_OK;
}

static int read_decode(intent_model *m, const char *name, intent_error *err) {
    const intenti_kv *t = intenti_fview_kv(&m->view, "decode.threshold", INTENTI_KV_F32);
    const intenti_kv *T = intenti_fview_kv(&m->view, "decode.temperature", INTENTI_KV_F32);
    m->threshold = t ? intenti_ldf32(t->val) : 0.5f;
    m->temperature = T ? intenti_ldf32(T->val) : 1.0f;
    if (!(m->threshold >= 0.0f && m->threshold <= 1.0f))
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: decode.threshold is not in [0, 1]", name);
    if (!(m->temperature > 0.0f && m->temperature < 1e6f))
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: decode.temperature is not positive", name);
    const intenti_kv *ml = intenti_fview_kv(&m->view, "decode.max_labels", INTENTI_KV_U32);
    m->max_labels = ml ? intenti_ld32(ml->val) : m->n_labels;
    if (m->max_labels < 1 || m->max_labels > m->n_labels)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: decode.max_labels %u is not 1..%u", name, m->max_labels,
                           m->n_labels);
    const intenti_kv *mn = intenti_fview_kv(&m->view, "decode.min_labels", INTENTI_KV_U32);
    m->min_labels = mn ? intenti_ld32(mn->val) : 0;
    if (m->min_labels > 1)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: decode.min_labels %u is not 0 or 1", name, m->min_labels);
    return read_clauses(m, name, err);
}

/* The batch path's output layer (see batch_w): taken where the kernel set has a gemm and
 * the model is one net with a hidden layer; an ensemble, or a model with no hidden
 * layer, answers text by text. */
static int batch_weights(intent_model *m) {
    const intenti_net *nt = &m->nets[0];
    if (!intenti_kern_get()->gemm || m->n_nets != 1 || nt->n_layers < 2)
        return INTENT_OK;
    const intenti_layer *L = &nt->layers[nt->n_layers - 1];
    if (L->dtype == INTENTI_DT_F32) {
        m->batch_w = L->w;
        return INTENT_OK;
    }
    size_t bytes;
    if (!intenti_mul((size_t)L->n_in * L->n_out, sizeof(float), &bytes) || !(m->batch_own = intenti_aalloc(bytes)))
        return INTENT_ERR_NOMEM;
    for (uint32_t i = 0; i < L->n_in; i++)
        for (uint32_t c = 0; c < L->n_out; c++)
            m->batch_own[(size_t)i * L->n_out + c] = (float)L->q[(size_t)i * L->n_out + c] * L->qs[i];
    m->batch_w = m->batch_own;
    return INTENT_OK;
}

int intenti_model_from_image(uint8_t *image, size_t len, bool mapped, const char *name,
                             intent_model **out, intent_error *err) {
    *out = NULL;
    intent_model *m = intenti_calloc(1, sizeof *m);
    if (!m) {
        if (mapped)
            munmap(image, len);
        else
            intenti_afree(image);
        return intenti_err(err, INTENT_ERR_NOMEM, "%s: out of memory", name);
    }
    m->image = image;
    m->image_len = len;
    m->mapped = mapped;
    int rc = intenti_fview_parse(&m->view, image, len, name, err);
    if (!rc) rc = read_featspec(m, name, err);
    if (!rc) rc = read_labels(m, name, err);
    if (!rc) rc = read_nets(m, name, err);
    if (!rc) rc = read_decode(m, name, err);
    if (!rc && (intenti_model_rows(m) || batch_weights(m)))
        rc = intenti_err(err, INTENT_ERR_NOMEM, "%s: out of memory", name);
    if (rc) {
        intent_model_free(m);
        return rc;
    }
    *out = m;
    return INTENT_OK;
}

void intent_model_free(intent_model *m) {
    if (!m)
        return;
    intenti_fview_free(&m->view);
    for (uint32_t n = 0; n < INTENT_MAX_NETS; n++)
        intenti_afree(m->rows[n]);
    intenti_afree(m->batch_own);
    if (m->mapped)
        munmap(m->image, m->image_len);
    else
        intenti_afree(m->image);
    intenti_free(m->labels);
    intenti_free(m->label_mem);
    intenti_free((void *)m->none_label);
    intenti_free(m);
}

size_t intent_model_n_labels(const intent_model *m) { return m ? m->n_labels : 0; }

const char *intent_model_label(const intent_model *m, size_t i) {
    return m && i < m->n_labels ? m->labels[i] : NULL;
}

long intent_model_label_id(const intent_model *m, const char *name) {
    if (!m || !name)
        return -1;
    for (uint32_t i = 0; i < m->n_labels; i++)
        if (strcmp(m->labels[i], name) == 0)
            return (long)i;
    return -1;
}

const char *intent_model_none_label(const intent_model *m) { return m ? m->none_label : NULL; }
float intent_model_threshold(const intent_model *m) { return m ? m->threshold : 0.5f; }

int intent_model_bytes(const intent_model *m, const void **data, size_t *len) {
    if (!m || !data || !len)
        return INTENT_ERR_ARG;
    *data = m->image;
    *len = m->image_len;
    return INTENT_OK;
}

/* ---- forward pass ---- */

/* h[0..n_out) = b + sum_j x_j * W[id_j]: cost proportional to the features present. */
static void sparse_layer(const intenti_kern *k, const intenti_layer *L, const uint32_t *ids,
                         const float *vals, uint32_t n, float *h) {
    memcpy(h, L->b, L->n_out * sizeof *h);
    for (uint32_t j = 0; j < n; j++) {
        size_t row = (size_t)ids[j] * L->n_out;
        if (L->dtype == INTENTI_DT_F32)
            k->axpy(h, L->w + row, vals[j], L->n_out);
        else
            k->axpy_i8(h, L->q + row, vals[j] * L->qs[ids[j]], L->n_out);
    }
}

/* out = b + sum_i in_i * W[i], skipping the zeros ReLU leaves (often half of them). */
static void dense_layer(const intenti_kern *k, const intenti_layer *L, const float *in, float *out) {
    memcpy(out, L->b, L->n_out * sizeof *out);
    for (uint32_t i = 0; i < L->n_in; i++) {
        float x = in[i];
        if (x == 0.0f)
            continue;
        if (L->dtype == INTENTI_DT_F32)
            k->axpy(out, L->w + (size_t)i * L->n_out, x, L->n_out);
        else
            k->axpy_i8(out, L->q + (size_t)i * L->n_out, x * L->qs[i], L->n_out);
    }
}

/* The same for serving: ReLU, then the units left on listed (idx, a: scratch of n_in;
 * int8 rows fold each input's row scale into its value) and summed by the
 * register-blocked kernel. */
static void dense_serve(const intenti_kern *k, const intenti_layer *L, const float *in, float *out,
                        uint32_t *idx, float *a) {
    bool f32 = L->dtype == INTENTI_DT_F32;
    uint32_t n = k->list_on(in, f32 ? NULL : L->qs, L->n_in, idx, a);
    memcpy(out, L->b, L->n_out * sizeof *out);
    if (f32)
        k->accum(out, L->n_out, L->w, idx, a, n);
    else
        k->accum_i8(out, L->n_out, L->q, idx, a, n);
}

const float *intenti_net_forward(const intenti_kern *k, const intenti_net *net, const uint32_t *ids,
                                 const float *vals, uint32_t n, float *h0, float *h1) {
    float *a = h0, *b = h1;
    sparse_layer(k, &net->layers[0], ids, vals, n, a);
    for (uint32_t l = 1; l < net->n_layers; l++) {
        k->relu(a, net->layers[l - 1].n_out);
        dense_layer(k, &net->layers[l], a, b);
        float *t = a;
        a = b;
        b = t;
    }
    return a;
}

/* prepare_counts for counts in vals (bucket spaces past the direct table's size). */
static uint32_t weigh_counts(intenti_feats *f, const intenti_rowinfo *ri, const float *tf1, float *sumsq) {
    float sum = 0.0f;
    uint32_t k = 0;
    for (uint32_t j = 0; j < f->n; j++) {
        uint32_t id = f->ids[j], c = (uint32_t)f->vals[j];
        float tf = intenti_tf_of(c, tf1), idf = ri[id].idf;
        if (idf == 0.0f)
            continue;
        sum += (tf * idf) * (tf * idf);
        f->ids[k] = id;
        f->vals[k] = tf;
        f->w[k++] = tf * ri[id].gain;
    }
    *sumsq = sum;
    return k;
}

/* Raw counts (after intenti_extract) -> what layer 0 needs: unseen buckets (idf 0)
 * dropped, tf' = 1 + ln(tf) when sublinear, in place, and net 0's weights tf' * gain in
 * f->w; returns 1 / the L2 norm of the tf-idf vector, sqrt(sum_j (tf'_j idf_j)^2), or 0
 * for an empty one. The dedup table is emptied first, since compaction breaks its links
 * (as in intenti_weigh). Counts come from the direct dedup table where extraction left
 * them there (the weigh kernel), else from vals. */
static float prepare_counts(const intent_model *m, intenti_feats *f) {
    intenti_unhash(f);
    const float *tf1 = m->fs.flags & INTENTI_FEAT_SUBLINEAR ? f->tf1 : NULL;
    float sum;
    if (f->counts_in_dd) {
        f->n = intenti_kern_get()->weigh(f->ids, f->vals, f->w, f->n, f->dd, m->rows[0], tf1, &sum);
        f->counts_in_dd = false; /* vals hold tf' now */
    } else {
        f->n = weigh_counts(f, m->rows[0], tf1, &sum);
    }
    return sum > 0.0f ? 1.0f / sqrtf(sum) : 0.0f;
}

/* Layer 0 of a served model: h = b + inv_norm * sum_j tf'_j * gain_j * W[id_j], the
 * tf-idf weighting folded into each row's gain (idf, times the int8 scale). */
static void sparse_fused(const intenti_kern *k, const intent_model *m, uint32_t net, intenti_feats *f,
                         float inv_norm, float *h) {
    const intenti_layer *L = &m->nets[net].layers[0];
    const intenti_rowinfo *ri = m->rows[net];
    if (net > 0) /* net 0's weights were made by prepare_counts; the list was reused since */
        for (uint32_t j = 0; j < f->n; j++)
            f->w[j] = f->vals[j] * ri[f->ids[j]].gain;
    memset(h, 0, L->n_out * sizeof *h);
    if (L->dtype == INTENTI_DT_F32)
        k->accum(h, L->n_out, L->w, f->ids, f->w, f->n);
    else
        k->accum_i8(h, L->n_out, L->q, f->ids, f->w, f->n);
    float *restrict hr = h;
    const float *restrict b = L->b;
    for (uint32_t i = 0; i < L->n_out; i++) /* restrict: no aliasing, so it vectorizes */
        hr[i] = b[i] + hr[i] * inv_norm;
}

float intenti_model_prepare(const intent_model *m, intenti_feats *f) { return prepare_counts(m, f); }

/* Runs net `net` through its layers [0, end) and returns the last one's outputs (before
 * any ReLU), a pointer into h0 or h1. */
static const float *run_layers(const intent_model *m, uint32_t net, intenti_feats *f, float inv_norm, float *h0,
                               float *h1, uint32_t end) {
    const intenti_kern *k = intenti_kern_get();
    const intenti_net *nt = &m->nets[net];
    float *a = h0, *b = h1;
    sparse_fused(k, m, net, f, inv_norm, a);
    for (uint32_t l = 1; l < end; l++) {
        /* f->ids / f->w are free again once layer 0 is done: reuse them as the list */
        dense_serve(k, &nt->layers[l], a, b, f->idx, f->w);
        float *t = a;
        a = b;
        b = t;
    }
    return a;
}

const float *intenti_model_logits(const intent_model *m, uint32_t net, intenti_feats *f, float inv_norm,
                                  float *h0, float *h1) {
    return run_layers(m, net, f, inv_norm, h0, h1, m->nets[net].n_layers);
}

void intenti_model_hidden(const intent_model *m, intenti_feats *f, float inv_norm, float *h0, float *h1,
                          float *out) {
    uint32_t last = m->nets[0].n_layers - 1, n = m->nets[0].layers[last].n_in;
    memcpy(out, run_layers(m, 0, f, inv_norm, h0, h1, last), n * sizeof *out);
    intenti_kern_get()->relu(out, n);
}

/* Weights are not checked at load (a pass over all of them), and even finite ones can
 * overflow to inf - inf, so a damaged file can give NaN confidences. They are promised in
 * [0, 1], and intent_evaluate casts them to calibration bins, where NaN is undefined
 * behaviour: read NaN as 0, as intent_decode does. A select, not a branch: it vectorizes. */
static void nan_to_zero(float *conf, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        conf[i] = conf[i] == conf[i] ? conf[i] : 0.0f;
}

/* Confidences from logits: sigmoid(z / T), NaN read as 0. */
static void confidences(const intent_model *m, const float *z, float *conf) {
    for (uint32_t i = 0; i < m->n_labels; i++)
        conf[i] = 0.0f;
    intenti_kern_get()->sigmoid(conf, z, m->n_labels, 1.0f / m->temperature, 1.0f);
    nan_to_zero(conf, m->n_labels);
}

void intenti_model_batch_out(const intent_model *m, const float *hid, size_t ldh, float *z, size_t rows,
                             float *conf) {
    const intenti_layer *L = &m->nets[0].layers[m->nets[0].n_layers - 1];
    for (size_t r = 0; r < rows; r++)
        memcpy(z + r * L->n_out, L->b, L->n_out * sizeof *z);
    intenti_kern_get()->gemm(z, L->n_out, hid, ldh, m->batch_w, L->n_in, L->n_out, rows);
    for (size_t r = 0; r < rows; r++)
        confidences(m, z + r * L->n_out, conf + r * m->n_labels);
}

void intenti_model_forward(const intent_model *m, intenti_feats *f, float *h0, float *h1, float *conf) {
    float inv_t = 1.0f / m->temperature, inv_n = 1.0f / (float)m->n_nets;
    float inv_norm = prepare_counts(m, f);
    for (uint32_t i = 0; i < m->n_labels; i++)
        conf[i] = 0.0f;
    const intenti_kern *k = intenti_kern_get();
    for (uint32_t n = 0; n < m->n_nets; n++)
        k->sigmoid(conf, intenti_model_logits(m, n, f, inv_norm, h0, h1), m->n_labels, inv_t, inv_n);
    nan_to_zero(conf, m->n_labels);
}

/* Row info of layer 0 for each net: idf, and idf times the int8 row scale (or idf). */
int intenti_model_rows(intent_model *m) {
    for (uint32_t n = 0; n < m->n_nets; n++) {
        const intenti_layer *L = &m->nets[n].layers[0];
        m->rows[n] = intenti_aalloc((size_t)m->fs.buckets * sizeof(intenti_rowinfo));
        if (!m->rows[n])
            return INTENT_ERR_NOMEM;
        for (uint32_t b = 0; b < m->fs.buckets; b++) {
            float idf = m->idf[b], gain = L->dtype == INTENTI_DT_I8 ? idf * L->qs[b] : idf;
            m->rows[n][b] = (intenti_rowinfo){idf, gain};
        }
    }
    return INTENT_OK;
}
