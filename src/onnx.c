/*
 * onnx.c - other runtimes: a text's features (intent_featurize) and a model's networks
 * as an ONNX graph (intent_model_export_onnx). docs/ONNX.md describes the graph.
 *
 * DESIGN
 *   An ONNX file is one protobuf message, ModelProto (onnx/onnx.proto; each field written
 *   below is commented with its name there). We write the few message types it needs by
 *   hand, no library: every field is a tag (number << 3 | wire type) and a varint (wire
 *   type 0) or a varint length and that many bytes (wire type 2: strings, bytes, nested
 *   messages). A nested message's length comes before its bytes, so each message is
 *   written by a function that runs twice: counting only (w->p == NULL), then writing.
 *   Messages nest at most 7 deep (model, graph, value info, type, tensor type, shape,
 *   dimension), so the innermost function runs 2^7 times, all but once counting; the
 *   weights, nearly all of the bytes, are touched in the one writing pass only. The
 *   first counting pass over the whole model gives the file's exact size: one
 *   allocation, one write. Fields go out in field-number order, as protobuf's own
 *   serializers write them, so onnx.load(f).SerializeToString() gives back the same bytes.
 *
 *   The graph is first laid out as plain arrays (initializers, nodes, metadata), then
 *   serialized; the math it spells out is model.c's serving path (intenti_model_forward),
 *   with the tf-idf weighting done by intent_featurize in front of it.
 */
#include "intent_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- features ---- */

int intent_featurize(const intent_model *m, intent_ctx *ctx, const char *text, size_t len,
                     uint32_t *ids, float *weights, size_t cap, size_t *n) {
    if (!m || !ctx || (!text && len) || (cap && (!ids || !weights)) || !n)
        return INTENT_ERR_ARG;
    intenti_feats *f = intenti_ctx_feats(ctx, m);
    if (!f)
        return INTENT_ERR_NOMEM;
    intenti_extract(&m->fs, f, text ? text : "", len);
    /* the serving path's own step: unseen buckets dropped, tf' in f->vals, 1 / norm */
    float inv_norm = intenti_model_prepare(m, f);
    size_t k = f->n < cap ? f->n : cap;
    for (size_t j = 0; j < k; j++) {
        ids[j] = f->ids[j];
        weights[j] = f->vals[j] * m->idf[f->ids[j]] * inv_norm;
    }
    *n = f->n;
    return f->n > cap ? INTENT_ERR_LIMIT : INTENT_OK;
}

/* ---- the graph, laid out ---- */

enum { ONNX_FLOAT = 1, ONNX_INT64 = 7 };           /* TensorProto.DataType */
enum { INIT_F32, INIT_I8, INIT_AXIS, INIT_SCALAR }; /* where an initializer's values come from */

#define NAME_CAP 32 /* "net15.l8.w": names here are short */

typedef struct init {
    char name[NAME_CAP];
    int kind;
    uint32_t n_dims, dims[2]; /* n_dims 0: a scalar */
    const float *f;           /* INIT_F32: [dims], row-major, as in the model file */
    const int8_t *q;          /* INIT_I8: [dims[0]][dims[1]], written as scale[row] * q */
    const float *qs;          /*          [dims[0]] */
    int64_t axis;             /* INIT_AXIS: the int64 vector [axis] */
    float x;                  /* INIT_SCALAR */
} init;

typedef struct node {
    const char *op;
    char in[INTENT_MAX_NETS][NAME_CAP]; /* two, except for Sum over the nets */
    uint32_t n_in;
    char out[NAME_CAP];       /* also the node's name: each value has one producer */
    bool keepdims0;           /* ReduceSum: attribute keepdims = 0 */
} node;

typedef struct vinfo {
    const char *name;
    int elem;
    const char *param;        /* a symbolic dimension, or NULL for dim_value */
    uint64_t value;
} vinfo;

typedef struct prop {
    const char *key;
    const char *val;          /* into graph.small or graph.labels */
    size_t len;
} prop;

#define N_PROPS 24 /* 22 written (add_props) */

typedef struct graph {
    const intent_model *m;
    init *inits;
    uint32_t n_inits;
    node *nodes;
    uint32_t n_nodes;
    vinfo inputs[2], output;
    prop props[N_PROPS];
    uint32_t n_props;
    char small[N_PROPS][64];  /* values of the short props */
    intenti_buf labels;       /* the labels as a JSON array */
    char words[INTENTI_CLAUSE_WORDS * 16]; /* the clause words, space-separated */
} graph;

static init *add_init(graph *g, const char *name, int kind) {
    init *t = &g->inits[g->n_inits++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->kind = kind;
    return t;
}

/* out = op(a[, b]) */
static node *add_node(graph *g, const char *op, const char *out, const char *a, const char *b) {
    node *d = &g->nodes[g->n_nodes++];
    memset(d, 0, sizeof *d);
    d->op = op;
    snprintf(d->out, sizeof d->out, "%s", out);
    snprintf(d->in[0], sizeof d->in[0], "%s", a);
    d->n_in = 1;
    if (b)
        snprintf(d->in[d->n_in++], sizeof d->in[1], "%s", b);
    return d;
}

/* The weights of layer l of net k, as the model file names them ("net0.l1.w"). */
static void add_layer(graph *g, uint32_t k, uint32_t l) {
    const intenti_layer *L = &g->m->nets[k].layers[l];
    char name[NAME_CAP];
    snprintf(name, sizeof name, "net%u.l%u.w", k, l);
    init *w = add_init(g, name, L->dtype == INTENTI_DT_F32 ? INIT_F32 : INIT_I8);
    w->n_dims = 2;
    w->dims[0] = L->n_in;
    w->dims[1] = L->n_out;
    w->f = L->w;
    w->q = L->q;
    w->qs = L->qs;
    snprintf(name, sizeof name, "net%u.l%u.b", k, l);
    init *b = add_init(g, name, INIT_F32);
    b->n_dims = 1;
    b->dims[0] = L->n_out;
    b->f = L->b;
}

/* Net k, from the inputs to its confidences in value `out`. Shapes: n features, widths
 * H_0 .. H_last = n_labels. */
static void add_net(graph *g, uint32_t k, const char *out) {
    const intenti_net *net = &g->m->nets[k];
    char a[NAME_CAP], b[NAME_CAP], h[NAME_CAP], w[NAME_CAP], bias[NAME_CAP];
    for (uint32_t l = 0; l < net->n_layers; l++)
        add_layer(g, k, l);
    snprintf(w, sizeof w, "net%u.l0.w", k);
    snprintf(a, sizeof a, "net%u.rows", k);
    add_node(g, "Gather", a, w, "indices");                 /* [n][H_0]: W0's rows */
    snprintf(b, sizeof b, "net%u.scaled", k);
    add_node(g, "Mul", b, a, "weights.col");                /* [n][H_0] * [n][1] */
    snprintf(a, sizeof a, "net%u.sum", k);
    node *r = add_node(g, "ReduceSum", a, b, "axis0");      /* [H_0]; zeros when n = 0 */
    r->keepdims0 = true;
    snprintf(bias, sizeof bias, "net%u.l0.b", k);
    snprintf(h, sizeof h, net->n_layers == 1 ? "net%u.logits" : "net%u.h0", k);
    add_node(g, "Add", h, a, bias);                         /* [H_0] */
    for (uint32_t l = 1; l < net->n_layers; l++) {
        snprintf(a, sizeof a, "net%u.a%u", k, l - 1);
        add_node(g, "Relu", a, h, NULL);                    /* [H_l-1] */
        snprintf(w, sizeof w, "net%u.l%u.w", k, l);
        snprintf(b, sizeof b, "net%u.mm%u", k, l);
        add_node(g, "MatMul", b, a, w);                     /* [H_l-1] x [H_l-1][H_l] */
        snprintf(bias, sizeof bias, "net%u.l%u.b", k, l);
        if (l + 1 == net->n_layers)
            snprintf(h, sizeof h, "net%u.logits", k);
        else
            snprintf(h, sizeof h, "net%u.h%u", k, l);
        add_node(g, "Add", h, b, bias);                     /* [H_l] */
    }
    snprintf(a, sizeof a, "net%u.scaled_logits", k);
    add_node(g, "Mul", a, h, "inv_temperature");            /* [n_labels] / T */
    add_node(g, "Sigmoid", out, a, NULL);
}

/* ---- metadata ---- */

static void add_prop(graph *g, const char *key, const char *fmt, ...) INTENTI_PRINTF(3, 4);
static void add_prop(graph *g, const char *key, const char *fmt, ...) {
    prop *p = &g->props[g->n_props];
    char *s = g->small[g->n_props++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s, sizeof g->small[0], fmt, ap);
    va_end(ap);
    *p = (prop){key, s, strlen(s)};
}

/* The shortest "%.Ng" that reads back as the same float. */
static void add_prop_f32(graph *g, const char *key, float v) {
    for (int digits = 6; digits < 9; digits++) {
        char s[64];
        snprintf(s, sizeof s, "%.*g", digits, (double)v);
        if (strtof(s, NULL) == v) {
            add_prop(g, key, "%s", s);
            return;
        }
    }
    add_prop(g, key, "%.9g", (double)v);
}

/* Label names as a JSON array. Names are valid UTF-8 without whitespace (intent.h), but
 * may hold quotes, backslashes or other control characters: escaped. */
static void labels_json(graph *g) {
    intenti_buf *b = &g->labels;
    intenti_buf_u8(b, '[');
    for (uint32_t i = 0; i < g->m->n_labels; i++) {
        if (i)
            intenti_buf_put(b, ", ", 2);
        intenti_buf_u8(b, '"');
        for (const unsigned char *p = (const unsigned char *)g->m->labels[i]; *p; p++) {
            if (*p == '"' || *p == '\\') {
                intenti_buf_u8(b, '\\');
                intenti_buf_u8(b, *p);
            } else if (*p < 0x20) {
                char e[8];
                snprintf(e, sizeof e, "\\u%04x", *p);
                intenti_buf_put(b, e, 6);
            } else {
                intenti_buf_u8(b, *p);
            }
        }
        intenti_buf_u8(b, '"');
    }
    intenti_buf_u8(b, ']');
    g->props[g->n_props++] = (prop){"labels", (const char *)b->data, b->len};
}

/* How intent_predict cuts compound commands (clause.c): the boundary characters, and
 * the boundary words separated by spaces. */
static void clause_props(graph *g) {
    const intenti_clausespec *cs = &g->m->clauses;
    add_prop(g, "clause_marks", "%.*s", (int)cs->n_marks, cs->marks);
    size_t at = 0; /* each word 1..15 letters: they fit (see graph.words) */
    for (uint32_t w = 0; w < cs->n_words; w++) {
        if (w)
            g->words[at++] = ' ';
        memcpy(g->words + at, cs->words[w], cs->word_len[w]);
        at += cs->word_len[w];
    }
    g->props[g->n_props++] = (prop){"clause_words", g->words, at};
}

static void add_props(graph *g) {
    const intent_model *m = g->m;
    const intenti_featspec *fs = &m->fs;
    labels_json(g);
    add_prop(g, "none_label", "%s", m->none_label ? m->none_label : "");
    add_prop_f32(g, "threshold", m->threshold);
    add_prop(g, "max_labels", "%u", m->max_labels);
    add_prop(g, "min_labels", "%u", m->min_labels);
    add_prop(g, "clause_max_labels", "%u", m->clauses.max_labels);
    clause_props(g);
    add_prop_f32(g, "temperature", m->temperature);
    add_prop(g, "nets", "%u", m->n_nets);
    add_prop(g, "feat.hash", "ih1");
    add_prop(g, "feat.seed", "%u", fs->seed);
    add_prop(g, "feat.buckets", "%u", fs->buckets);
    add_prop(g, "feat.word_ngrams", "%u", fs->word_ngrams);
    add_prop(g, "feat.char_min", "%u", fs->char_min);
    add_prop(g, "feat.char_max", "%u", fs->char_max);
    add_prop(g, "feat.flags", "%u", fs->flags);
    add_prop(g, "feat.sublinear_tf", "%d", !!(fs->flags & INTENTI_FEAT_SUBLINEAR));
    add_prop(g, "feat.strip_accents", "%d", !!(fs->flags & INTENTI_FEAT_STRIP_ACCENTS));
    add_prop(g, "feat.word_bounds", "%d", !!(fs->flags & INTENTI_FEAT_WORD_BOUNDS));
    add_prop(g, "intent_version", "%s", intent_version());
    add_prop(g, "model_crc32c", "%08x", intenti_ld32(m->image + m->image_len - 8));
}

/* Lays out the whole graph of m in g (arrays from the allocation hook). */
static int layout(graph *g, const intent_model *m) {
    memset(g, 0, sizeof *g);
    g->m = m;
    uint32_t n_layers = m->nets[0].n_layers; /* the same in every net (net.layers) */
    uint32_t per_net_nodes = 4 + 3 * (n_layers - 1) + 2;
    g->inits = intenti_calloc(2 * n_layers * m->n_nets + 4, sizeof *g->inits);
    g->nodes = intenti_calloc(per_net_nodes * m->n_nets + 3, sizeof *g->nodes);
    if (!g->inits || !g->nodes)
        return INTENT_ERR_NOMEM;

    init *t = add_init(g, "axis0", INIT_AXIS); /* opset 13: ReduceSum and Unsqueeze take */
    t->n_dims = 1;                             /* their axes as an input tensor */
    t->dims[0] = 1;
    t->axis = 0;
    t = add_init(g, "axis1", INIT_AXIS);
    t->n_dims = 1;
    t->dims[0] = 1;
    t->axis = 1;
    t = add_init(g, "inv_temperature", INIT_SCALAR);
    t->x = 1.0f / m->temperature; /* as intenti_model_forward: z * (1 / T) */
    add_node(g, "Unsqueeze", "weights.col", "weights", "axis1"); /* [n] -> [n][1] */

    if (m->n_nets == 1) {
        add_net(g, 0, "confidences");
    } else {
        char out[NAME_CAP];
        for (uint32_t k = 0; k < m->n_nets; k++) {
            snprintf(out, sizeof out, "net%u.confidences", k);
            add_net(g, k, out);
        }
        node *s = add_node(g, "Sum", "conf_sum", "net0.confidences", NULL); /* any number */
        for (uint32_t k = 1; k < m->n_nets; k++)                              /* of inputs */
            snprintf(s->in[s->n_in++], sizeof s->in[0], "net%u.confidences", k);
        t = add_init(g, "inv_nets", INIT_SCALAR);
        t->x = 1.0f / (float)m->n_nets;
        add_node(g, "Mul", "confidences", "conf_sum", "inv_nets");
    }
    g->inputs[0] = (vinfo){"indices", ONNX_INT64, "n", 0};
    g->inputs[1] = (vinfo){"weights", ONNX_FLOAT, "n", 0};
    g->output = (vinfo){"confidences", ONNX_FLOAT, NULL, m->n_labels};
    add_props(g);
    return g->labels.oom ? INTENT_ERR_NOMEM : INTENT_OK;
}

static void layout_free(graph *g) {
    intenti_free(g->inits);
    intenti_free(g->nodes);
    intenti_buf_free(&g->labels);
}

/* ---- protobuf ---- */

typedef struct pb {
    uint8_t *p;   /* NULL: count only */
    uint64_t n;   /* bytes so far */
} pb;
typedef void (*pb_fn)(pb *w, const void *arg);

static void put(pb *w, const void *d, size_t n) {
    if (w->p)
        memcpy(w->p + w->n, d, n);
    w->n += n;
}

static void varint(pb *w, uint64_t v) {
    uint8_t b[10];
    size_t k = 0;
    do {
        b[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    put(w, b, k);
}

static void tag(pb *w, uint32_t field, uint32_t wire) { varint(w, (uint64_t)field << 3 | wire); }

static void f_int(pb *w, uint32_t field, int64_t v) {
    tag(w, field, 0);
    varint(w, (uint64_t)v); /* negative int64: ten bytes, two's complement, as protobuf does */
}

static void f_bytes(pb *w, uint32_t field, const void *d, size_t n) {
    tag(w, field, 2);
    varint(w, n);
    put(w, d, n);
}

static void f_str(pb *w, uint32_t field, const char *s) { f_bytes(w, field, s, strlen(s)); }

/* A nested message: its length first, so fn runs once counting, then writing. */
static void f_msg(pb *w, uint32_t field, pb_fn fn, const void *arg) {
    pb c = {NULL, 0};
    fn(&c, arg);
    tag(w, field, 2);
    varint(w, c.n);
    fn(w, arg);
}

/* ---- the messages ---- */

static void st_f32(uint8_t *p, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    intenti_st32(p, u);
}

/* TensorProto.raw_data (#9): the values, little-endian. */
static void raw_data(pb *w, const init *t) {
    uint64_t count = 1;
    for (uint32_t d = 0; d < t->n_dims; d++)
        count *= t->dims[d];
    uint64_t bytes = count * (t->kind == INIT_AXIS ? 8 : 4);
    tag(w, 9, 2);
    varint(w, bytes);
    if (!w->p) {
        w->n += bytes;
        return;
    }
    uint8_t *o = w->p + w->n;
    switch (t->kind) {
    case INIT_F32:
        for (uint64_t i = 0; i < count; i++)
            st_f32(o + 4 * i, t->f[i]);
        break;
    case INIT_I8: {
        uint64_t cols = t->dims[1];
        for (uint64_t i = 0; i < count; i++)
            st_f32(o + 4 * i, t->qs[i / cols] * (float)t->q[i]);
        break;
    }
    case INIT_AXIS:
        intenti_st64(o, (uint64_t)t->axis);
        break;
    case INIT_SCALAR:
        st_f32(o, t->x);
        break;
    }
    w->n += bytes;
}

static void tensor_msg(pb *w, const void *arg) { /* TensorProto */
    const init *t = arg;
    for (uint32_t d = 0; d < t->n_dims; d++)
        f_int(w, 1, t->dims[d]);                                   /* dims */
    f_int(w, 2, t->kind == INIT_AXIS ? ONNX_INT64 : ONNX_FLOAT);   /* data_type */
    f_str(w, 8, t->name);                                          /* name */
    raw_data(w, t);
}

static void keepdims_msg(pb *w, const void *arg) { /* AttributeProto */
    (void)arg;
    f_str(w, 1, "keepdims");  /* name */
    f_int(w, 3, 0);           /* i */
    f_int(w, 20, 2);          /* type: INT */
}

static void node_msg(pb *w, const void *arg) { /* NodeProto */
    const node *d = arg;
    for (uint32_t i = 0; i < d->n_in; i++)
        f_str(w, 1, d->in[i]);  /* input */
    f_str(w, 2, d->out);        /* output */
    f_str(w, 3, d->out);        /* name */
    f_str(w, 4, d->op);         /* op_type */
    if (d->keepdims0)
        f_msg(w, 5, keepdims_msg, NULL);
}

static void dim_msg(pb *w, const void *arg) { /* TensorShapeProto.Dimension */
    const vinfo *v = arg;
    if (v->param)
        f_str(w, 2, v->param);  /* dim_param */
    else
        f_int(w, 1, (int64_t)v->value); /* dim_value */
}

static void shape_msg(pb *w, const void *arg) { f_msg(w, 1, dim_msg, arg); } /* one dim */

static void tensor_type_msg(pb *w, const void *arg) { /* TypeProto.Tensor */
    const vinfo *v = arg;
    f_int(w, 1, v->elem);       /* elem_type */
    f_msg(w, 2, shape_msg, v);  /* shape */
}

static void type_msg(pb *w, const void *arg) { f_msg(w, 1, tensor_type_msg, arg); } /* tensor_type */

static void value_info_msg(pb *w, const void *arg) { /* ValueInfoProto */
    const vinfo *v = arg;
    f_str(w, 1, v->name);
    f_msg(w, 2, type_msg, v);
}

static const char GRAPH_DOC[] =
    "One text's label confidences. Inputs: the text's features as intent_featurize (C) or "
    "`intent featurize --json` give them: indices, the hashed n-gram buckets seen in "
    "training, and weights, their L2-normalized tf-idf values (n may be 0). Output: "
    "confidences, one per label in the order of the \"labels\" metadata; labels at or over "
    "\"threshold\" apply (at most \"max_labels\"; none means out of scope when the model has a "
    "\"none_label\").";

static void graph_msg(pb *w, const void *arg) { /* GraphProto */
    const graph *g = arg;
    for (uint32_t i = 0; i < g->n_nodes; i++)
        f_msg(w, 1, node_msg, &g->nodes[i]);        /* node */
    f_str(w, 2, "intent");                          /* name */
    for (uint32_t i = 0; i < g->n_inits; i++)
        f_msg(w, 5, tensor_msg, &g->inits[i]);      /* initializer */
    f_str(w, 10, GRAPH_DOC);                        /* doc_string */
    for (uint32_t i = 0; i < 2; i++)
        f_msg(w, 11, value_info_msg, &g->inputs[i]); /* input */
    f_msg(w, 12, value_info_msg, &g->output);       /* output */
}

static void opset_msg(pb *w, const void *arg) { /* OperatorSetIdProto: the default domain */
    (void)arg;
    f_int(w, 2, 13);  /* version */
}

static void prop_msg(pb *w, const void *arg) { /* StringStringEntryProto */
    const prop *p = arg;
    f_str(w, 1, p->key);
    f_bytes(w, 2, p->val, p->len);
}

static void model_msg(pb *w, const void *arg) { /* ModelProto */
    const graph *g = arg;
    f_int(w, 1, 8);                        /* ir_version: 8 */
    f_str(w, 2, "intent");                 /* producer_name */
    f_str(w, 3, intent_version());         /* producer_version */
    f_str(w, 6, "intent text classifier: hashed n-gram tf-idf features -> MLP -> one "
                "sigmoid per label. See the graph's doc_string and docs/ONNX.md.");
    f_msg(w, 7, graph_msg, g);             /* graph */
    f_msg(w, 8, opset_msg, NULL);          /* opset_import */
    for (uint32_t i = 0; i < g->n_props; i++)
        f_msg(w, 14, prop_msg, &g->props[i]); /* metadata_props */
}

#define ONNX_MAX_BYTES 0x7fffffffu /* protobuf's limit on a message: 2 GiB - 1 */

int intenti_onnx_build(const intent_model *m, uint8_t **out, size_t *len, intent_error *err) {
    *out = NULL;
    *len = 0;
    graph g;
    int rc = layout(&g, m);
    if (rc) {
        layout_free(&g);
        return intenti_err(err, rc, "ONNX export: out of memory");
    }
    pb w = {NULL, 0};
    model_msg(&w, &g);
    if (w.n > ONNX_MAX_BYTES) {
        layout_free(&g);
        return intenti_err(err, INTENT_ERR_LIMIT,
                           "ONNX export: the graph would take %llu bytes, over protobuf's 2 GiB "
                           "(fewer buckets, narrower layers or fewer nets would fit)",
                           (unsigned long long)w.n);
    }
    uint64_t want = w.n;
    w = (pb){intenti_malloc((size_t)want), 0};
    if (!w.p) {
        layout_free(&g);
        return intenti_err(err, INTENT_ERR_NOMEM, "ONNX export: out of memory for %llu bytes",
                           (unsigned long long)want);
    }
    model_msg(&w, &g);
    layout_free(&g);
    *out = w.p;
    *len = (size_t)w.n;
    return INTENT_OK;
}

int intent_model_export_onnx(const intent_model *m, const char *path, intent_error *err) {
    if (!m || !path)
        return intenti_err(err, INTENT_ERR_ARG, "intent_model_export_onnx: NULL argument");
    uint8_t *data;
    size_t len;
    int rc = intenti_onnx_build(m, &data, &len, err);
    if (rc)
        return rc;
    rc = intenti_write_atomic(path, data, len, err);
    intenti_free(data);
    return rc;
}
