/*
 * test_onnx.c - other runtimes: intent_featurize gives what the serving path uses (a
 * plain forward pass over its output matches intent_predict_batch), and the ONNX file
 * is well-formed protobuf holding the model's weights (int8 ones dequantized), written
 * deterministically and atomically, through allocation failures too. The graph itself is
 * run by tests/test_onnx.py (NumPy, ONNX Runtime).
 */
#include "tests.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *DATA =
    "LIGHT\tturn on the lights\nLIGHT\tlights on please\nLIGHT\tswitch the lamp on\nLIGHT\tmake it brighter\n"
    "MUSIC\tplay some music\nMUSIC\tplay jazz\nMUSIC\tput on a song\nMUSIC\tstart the playlist\n"
    "WEATHER\twhat is the weather\nWEATHER\twill it rain\nWEATHER\tforecast for tomorrow\n"
    "LIGHT,MUSIC\tturn on the lights and play music\nnone\twater the plants\nnone\tfeed the cat\n";

static const char *TEXTS[] = {
    "turn on the lights", "play jazz and will it rain", "", "zqxj vvkw", "Will it RAIN tomorrow?",
    "play play play play some music music", "water the plants",
};
#define N_TEXTS (sizeof TEXTS / sizeof *TEXTS)

/* hidden: widths (0 terminated); nets: ensemble size; int8: quantized copy. */
static intent_model *make(const uint32_t *hidden, uint32_t nets, int int8) {
    intent_dataset *ds = ds_from_text(DATA);
    assert_non_null(ds);
    intent_train_opts o;
    intent_train_opts_init(&o);
    o.buckets = 2048;
    o.n_hidden = 0;
    while (hidden[o.n_hidden])
        o.hidden[o.n_hidden] = hidden[o.n_hidden], o.n_hidden++;
    o.n_nets = nets;
    o.epochs = 8;
    o.lr = 0.01f;
    o.threads = 1;
    o.none_label = "none";
    intent_model *m = NULL, *q = NULL;
    intent_error err;
    assert_int_equal(intent_train(ds, ds, &o, &m, &err), INTENT_OK);
    intent_dataset_free(ds);
    if (!int8)
        return m;
    assert_int_equal(intent_model_quantize(m, &q, &err), INTENT_OK);
    intent_model_free(m);
    return q;
}

static float weight(const intenti_layer *L, size_t i, size_t j) {
    size_t at = i * L->n_out + j;
    return L->dtype == INTENTI_DT_F32 ? L->w[at] : L->qs[i] * (float)L->q[at];
}

/* What the ONNX graph computes, written plainly (double sums): for each net
 * h = b0 + sum_j w_j W0[id_j], then ReLU / dense layers, sigmoid(z / T), mean. */
static void graph_forward(const intent_model *m, const uint32_t *ids, const float *w, size_t n, double *conf) {
    double a[256], b[256];
    for (uint32_t i = 0; i < m->n_labels; i++)
        conf[i] = 0.0;
    for (uint32_t k = 0; k < m->n_nets; k++) {
        const intenti_net *net = &m->nets[k];
        const intenti_layer *L = &net->layers[0];
        assert_true(m->max_width <= 256);
        for (uint32_t o = 0; o < L->n_out; o++) {
            a[o] = L->b[o];
            for (size_t j = 0; j < n; j++)
                a[o] += (double)w[j] * weight(L, ids[j], o);
        }
        for (uint32_t l = 1; l < net->n_layers; l++) {
            L = &net->layers[l];
            for (uint32_t o = 0; o < L->n_out; o++) {
                b[o] = L->b[o];
                for (uint32_t i = 0; i < L->n_in; i++)
                    b[o] += (a[i] > 0.0 ? a[i] : 0.0) * weight(L, i, o);
            }
            memcpy(a, b, L->n_out * sizeof *a);
        }
        for (uint32_t i = 0; i < m->n_labels; i++)
            conf[i] += 1.0 / (1.0 + exp(-a[i] / m->temperature)) / m->n_nets;
    }
}

static void check_features(const intent_model *m) {
    intent_ctx *ctx;
    assert_int_equal(intent_ctx_new(m, &ctx), INTENT_OK);
    uint32_t *ids = malloc(INTENT_MAX_FEATURES * sizeof *ids);
    float *w = malloc(INTENT_MAX_FEATURES * sizeof *w), conf[16];
    double want[16];
    assert_true(m->n_labels <= 16);
    for (size_t t = 0; t < N_TEXTS; t++) {
        size_t n, len = strlen(TEXTS[t]);
        assert_int_equal(intent_featurize(m, ctx, TEXTS[t], len, ids, w, INTENT_MAX_FEATURES, &n), INTENT_OK);
        double norm = 0.0;
        for (size_t j = 0; j < n; j++) {
            assert_true(ids[j] < m->fs.buckets);
            assert_true(m->idf[ids[j]] > 0.0f);          /* unseen buckets dropped */
            assert_true(w[j] > 0.0f);
            for (size_t i = 0; i < j; i++)
                assert_true(ids[i] != ids[j]);           /* each bucket once */
            norm += (double)w[j] * w[j];
        }
        if (n)
            assert_true(fabs(sqrt(norm) - 1.0) < 1e-5);  /* L2-normalized */
        if (len == 0)
            assert_int_equal(n, 0);
        /* the graph's math over these features is what intent_predict_batch answers */
        graph_forward(m, ids, w, n, want);
        const char *text = TEXTS[t];
        assert_int_equal(intent_predict_batch(m, ctx, &text, &len, 1, conf), INTENT_OK);
        for (uint32_t i = 0; i < m->n_labels; i++)
            assert_true(fabs(want[i] - conf[i]) < 1e-5);
    }
    free(ids);
    free(w);
    intent_ctx_free(ctx);
}

static void featurize_matches_serving(void **state) {
    (void)state;
    static const uint32_t h1[] = {24, 0}, h2[] = {24, 12, 0}, h0[] = {0};
    intent_model *m = make(h1, 1, 0);
    check_features(m);
    intent_model_free(m);
    m = make(h2, 2, 0); /* ensemble of two deeper nets */
    check_features(m);
    intent_model_free(m);
    m = make(h2, 1, 1); /* int8 */
    check_features(m);
    intent_model_free(m);
    m = make(h0, 1, 0); /* no hidden layer */
    check_features(m);
    intent_model_free(m);
}

static void featurize_limits(void **state) {
    (void)state;
    static const uint32_t h[] = {8, 0};
    intent_model *m = make(h, 1, 0);
    intent_ctx *ctx;
    assert_int_equal(intent_ctx_new(NULL, &ctx), INTENT_OK); /* grows for m on first use */
    uint32_t ids[4096];
    float w[4096], w2[2];
    uint32_t ids2[2];
    size_t n, n2;
    const char *t = "turn on the lights please";
    assert_int_equal(intent_featurize(m, ctx, t, strlen(t), ids, w, 4096, &n), INTENT_OK);
    assert_true(n > 2);
    /* too small: the first cap, and how many there are */
    assert_int_equal(intent_featurize(m, ctx, t, strlen(t), ids2, w2, 2, &n2), INTENT_ERR_LIMIT);
    assert_int_equal(n2, n);
    assert_int_equal(ids2[0], ids[0]);
    assert_true(w2[1] == w[1]);
    assert_int_equal(intent_featurize(m, ctx, t, strlen(t), NULL, NULL, 0, &n2), INTENT_ERR_LIMIT);
    assert_int_equal(n2, n);
    assert_int_equal(intent_featurize(m, ctx, NULL, 0, NULL, NULL, 0, &n2), INTENT_OK); /* empty */
    assert_int_equal(n2, 0);
    assert_int_equal(intent_featurize(NULL, ctx, t, 1, ids, w, 4096, &n), INTENT_ERR_ARG);
    assert_int_equal(intent_featurize(m, NULL, t, 1, ids, w, 4096, &n), INTENT_ERR_ARG);
    assert_int_equal(intent_featurize(m, ctx, NULL, 1, ids, w, 4096, &n), INTENT_ERR_ARG);
    assert_int_equal(intent_featurize(m, ctx, t, 1, NULL, w, 4096, &n), INTENT_ERR_ARG);
    assert_int_equal(intent_featurize(m, ctx, t, 1, ids, w, 4096, NULL), INTENT_ERR_ARG);
    intent_ctx_free(ctx);
    intent_model_free(m);
}

/* ---- a protobuf reader, enough to walk the file ---- */

typedef struct pbf {
    uint32_t num, wire;
    uint64_t v;               /* varint / fixed32 value */
    const uint8_t *p;         /* length-delimited bytes */
    size_t len;
} pbf;

static int rd_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    *v = 0;
    for (int s = 0; s < 64 && *p < end; s += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80))
            return 1;
    }
    return 0;
}

/* The next field of a message in [*p, end): 1, 0 at the end; fails the test when malformed. */
static int next(const uint8_t **p, const uint8_t *end, pbf *f) {
    if (*p == end)
        return 0;
    uint64_t key;
    assert_true(rd_varint(p, end, &key));
    f->num = (uint32_t)(key >> 3);
    f->wire = key & 7;
    assert_true(f->num > 0);
    if (f->wire == 0) {
        assert_true(rd_varint(p, end, &f->v));
    } else if (f->wire == 5) {
        assert_true(end - *p >= 4);
        f->v = intenti_ld32(*p);
        *p += 4;
    } else {
        assert_int_equal(f->wire, 2); /* nothing else is written */
        uint64_t n;
        assert_true(rd_varint(p, end, &n));
        assert_true(n <= (uint64_t)(end - *p));
        f->p = *p;
        f->len = (size_t)n;
        *p += n;
    }
    return 1;
}

static bool is_str(const pbf *f, const char *s) { return f->len == strlen(s) && memcmp(f->p, s, f->len) == 0; }

/* Checks one TensorProto against the model's weights; returns 1 if it was W0 of net 0. */
static int check_tensor(const intent_model *m, const uint8_t *p, const uint8_t *end) {
    pbf f, name = {0}, raw = {0};
    uint64_t dims[2], n_dims = 0, type = 0;
    while (next(&p, end, &f)) {
        if (f.num == 1) {
            assert_true(n_dims < 2);
            dims[n_dims++] = f.v;
        } else if (f.num == 2) {
            type = f.v;
        } else if (f.num == 8) {
            name = f;
        } else if (f.num == 9) {
            raw = f;
        }
    }
    assert_true(type == 1 || type == 7); /* FLOAT, INT64 */
    uint64_t count = 1;
    for (uint64_t d = 0; d < n_dims; d++)
        count *= dims[d];
    assert_int_equal(raw.len, count * (type == 7 ? 8 : 4));
    if (!is_str(&name, "net0.l0.w"))
        return 0;
    const intenti_layer *L = &m->nets[0].layers[0];
    assert_int_equal(n_dims, 2);
    assert_int_equal(dims[0], L->n_in);
    assert_int_equal(dims[1], L->n_out);
    for (size_t i = 0; i < L->n_in; i++)
        for (size_t j = 0; j < L->n_out; j++) {
            uint32_t u = intenti_ld32(raw.p + 4 * (i * L->n_out + j));
            float x;
            memcpy(&x, &u, 4);
            assert_true(x == weight(L, i, j)); /* bit for bit, int8 dequantized */
        }
    return 1;
}

static void check_file(const intent_model *m, const uint8_t *data, size_t len) {
    const uint8_t *p = data, *end = data + len;
    pbf f, g;
    int ir = 0, opset = 0, producer = 0, graph = 0, labels = 0;
    while (next(&p, end, &f)) {
        if (f.num == 1) {
            ir = (int)f.v;
        } else if (f.num == 2) {
            producer = is_str(&f, "intent");
        } else if (f.num == 8) { /* OperatorSetIdProto */
            const uint8_t *q = f.p;
            while (next(&q, f.p + f.len, &g))
                if (g.num == 2)
                    opset = (int)g.v;
                else
                    assert_true(g.num == 1 && g.len == 0); /* the default domain, or nothing */
        } else if (f.num == 14) { /* metadata */
            const uint8_t *q = f.p;
            pbf key = {0}, val = {0};
            while (next(&q, f.p + f.len, &g))
                *(g.num == 1 ? &key : &val) = g;
            if (is_str(&key, "labels")) {
                labels = 1;
                assert_true(val.len > 2 && val.p[0] == '[' && val.p[val.len - 1] == ']');
                assert_non_null(memmem(val.p, val.len, "\"LIGHT\"", 7));
            }
        } else if (f.num == 7) { /* GraphProto */
            graph = 1;
            const uint8_t *q = f.p;
            int nodes = 0, inits = 0, inputs = 0, outputs = 0, w0 = 0;
            while (next(&q, f.p + f.len, &g)) {
                if (g.num == 1) {
                    nodes++;
                    const uint8_t *r = g.p;
                    pbf h;
                    while (next(&r, g.p + g.len, &h)) /* a node's fields walk cleanly */
                        ;
                } else if (g.num == 5) {
                    inits++;
                    w0 += check_tensor(m, g.p, g.p + g.len);
                } else if (g.num == 11) {
                    inputs++;
                } else if (g.num == 12) {
                    outputs++;
                }
            }
            uint32_t L = m->nets[0].n_layers;
            assert_int_equal(inits, 2 * L * m->n_nets + 3 + (m->n_nets > 1));
            assert_int_equal(nodes, m->n_nets * (4 + 3 * (L - 1) + 2) + 1 + 2 * (m->n_nets > 1));
            assert_int_equal(inputs, 2);
            assert_int_equal(outputs, 1);
            assert_int_equal(w0, 1);
        }
    }
    assert_int_equal(ir, 8);
    assert_int_equal(opset, 13);
    assert_true(producer && graph && labels);
}

static void onnx_file(void **state) {
    (void)state;
    static const uint32_t h[] = {16, 8, 0};
    for (int variant = 0; variant < 2; variant++) {
        intent_model *m = make(h, variant ? 2 : 1, variant);
        uint8_t *a, *b;
        size_t la, lb;
        intent_error err;
        assert_int_equal(intenti_onnx_build(m, &a, &la, &err), INTENT_OK);
        check_file(m, a, la);
        assert_int_equal(intenti_onnx_build(m, &b, &lb, &err), INTENT_OK);
        assert_true(la == lb && memcmp(a, b, la) == 0); /* deterministic */
        intenti_free(b);
        /* the file written is the same bytes; no temporary file is left */
        char path[512];
        tmp_path(path, sizeof path, "model.onnx");
        assert_int_equal(intent_model_export_onnx(m, path, &err), INTENT_OK);
        FILE *fp = fopen(path, "rb");
        assert_non_null(fp);
        uint8_t *got = malloc(la + 1);
        assert_int_equal(fread(got, 1, la + 1, fp), la);
        fclose(fp);
        assert_memory_equal(got, a, la);
        free(got);
        unlink(path);
        intenti_free(a);
        /* errors: a folder that does not exist, NULL arguments */
        assert_int_equal(intent_model_export_onnx(m, "/nonexistent-intent-dir/m.onnx", &err), INTENT_ERR_IO);
        assert_non_null(strstr(err.message, "/nonexistent-intent-dir/m.onnx"));
        assert_int_equal(intent_model_export_onnx(NULL, path, &err), INTENT_ERR_ARG);
        assert_int_equal(intent_model_export_onnx(m, NULL, NULL), INTENT_ERR_ARG);
        intent_model_free(m);
    }
}

static void onnx_allocation_failures(void **state) {
    (void)state;
    static const uint32_t h[] = {8, 0};
    intent_model *m = make(h, 2, 0);
    long points = 0;
    for (long n = 1; n < 1000; n++) {
        uint8_t *data = NULL;
        size_t len;
        intent_error err;
        fail_alloc_at(n);
        int rc = intenti_onnx_build(m, &data, &len, &err);
        fail_alloc_at(0);
        if (rc == INTENT_OK) {
            intenti_free(data);
            break;
        }
        assert_int_equal(rc, INTENT_ERR_NOMEM);
        assert_null(data);
        points++;
    }
    assert_true(points >= 3);
    /* a context grown by intent_featurize */
    points = 0;
    for (long n = 1; n < 1000; n++) {
        intent_ctx *ctx = NULL;
        uint32_t ids[64];
        float w[64];
        size_t k;
        fail_alloc_at(n);
        int rc = intent_ctx_new(NULL, &ctx);
        if (!rc)
            rc = intent_featurize(m, ctx, "play jazz", 9, ids, w, 64, &k);
        fail_alloc_at(0);
        intent_ctx_free(ctx);
        if (rc == INTENT_OK)
            break;
        assert_int_equal(rc, INTENT_ERR_NOMEM);
        points++;
    }
    assert_true(points >= 1);
    intent_model_free(m);
}

int test_onnx(int *total) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(featurize_matches_serving), cmocka_unit_test(featurize_limits),
        cmocka_unit_test(onnx_file), cmocka_unit_test(onnx_allocation_failures),
    };
    return RUN("onnx", tests, total);
}
