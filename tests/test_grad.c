/*
 * test_grad.c - finite-difference checks of the backward pass: the loss's gradient with
 * respect to the logits, then every parameter of every layer (sparse first layer, dense
 * hidden layers, output layer, all biases), with and without dropout.
 */
#include "tests.h"
#include "mlp.h"

#include <math.h>
#include <string.h>

static const uint32_t IDS[] = {1, 7, 13, 19};
static const float VALS[] = {0.5f, 0.7f, 0.3f, 0.4f};
static const uint32_t LAB[] = {0, 2};

typedef struct fixture {
    intenti_mlp m;
    intenti_mlp_ws ws;
    float p;       /* dropout */
    float smooth;  /* label smoothing */
    float softmax; /* weight of the softmax cross-entropy */
    float a[3][8], d[3][8];
    intenti_xout out; /* hidden outputs and deltas, in a and d */
} fixture;

/* Loss of the example under the current parameters; the dropout mask is fixed by
 * re-seeding the same stream every time. Leaves the outputs and deltas in f->out. */
static double loss_of(fixture *f) {
    intenti_rng r;
    intenti_rng_seed(&r, 3, 3);
    intenti_xcfg cfg = {f->p, f->smooth, f->softmax, 1.0f, true};
    for (int l = 0; l < 3; l++) {
        f->out.a[l] = f->a[l];
        f->out.d[l] = f->d[l];
    }
    return intenti_mlp_example(&f->m, &f->ws, &intenti_kern_ref, IDS, VALS, 4, LAB, 2, &cfg, &r, &f->out);
}

static void setup(fixture *f, float p) {
    uint32_t size[] = {20, 6, 5, 4};
    assert_int_equal(intenti_mlp_new(&f->m, size, 3), INTENT_OK);
    assert_int_equal(intenti_mlp_ws_new(&f->ws, &f->m), INTENT_OK);
    intenti_rng r;
    intenti_rng_seed(&r, 11, 0);
    float freq[4] = {0.3f, 0.2f, 0.1f, 0.4f};
    intenti_mlp_init(&f->m, &r, freq);
    for (uint32_t l = 0; l < 3; l++) /* non-zero biases so every path is exercised */
        for (uint32_t i = 0; i < size[l + 1]; i++)
            f->m.b[l][i] += 0.1f * (intenti_rng_unit(&r) - 0.3f);
    f->p = p;
    f->smooth = 0.0f;
    f->softmax = 0.0f;
}

static void teardown(fixture *f) {
    intenti_mlp_ws_free(&f->ws, &f->m);
    intenti_mlp_free(&f->m);
}

/* Compares analytic (given) and numeric gradients of parameter *w. Skips points where a
 * ReLU kink lies within the step (numeric derivative undefined there). */
static void check_param(fixture *f, float *w, float analytic, const char *what, size_t i) {
    const float h = 1e-3f;
    float keep = *w;
    *w = keep + h;
    double up = loss_of(f);
    *w = keep - h;
    double down = loss_of(f);
    *w = keep;
    double mid = loss_of(f);
    double numeric = (up - down) / (2.0 * h);
    double curvature = fabs(up + down - 2.0 * mid) / (h * h);
    if (curvature > 50.0)
        return; /* a kink inside [w-h, w+h] */
    if (fabs(numeric - analytic) > 2e-3 + 2e-2 * fabs(numeric))
        fail_msg("%s[%zu]: analytic %.6f, numeric %.6f", what, i, (double)analytic, numeric);
}

static void check_all(float p, float smooth, float softmax) {
    fixture f;
    setup(&f, p);
    f.smooth = smooth;
    f.softmax = softmax;
    loss_of(&f);
    /* the analytic gradients, from the outputs and deltas, before perturbing anything:
     * w[l] row i gets a[l-1][i] * d[l], b[l] gets d[l], layer 0's row of feature j x_j * d[0] */
    static float gw[3][64], gb[3][8], d0[8];
    for (uint32_t l = 1; l < 3; l++)
        for (uint32_t i = 0; i < f.m.size[l]; i++)
            for (uint32_t c = 0; c < f.m.size[l + 1]; c++)
                gw[l][i * f.m.size[l + 1] + c] = f.a[l - 1][i] * f.d[l][c];
    for (uint32_t l = 0; l < 3; l++)
        memcpy(gb[l], f.d[l], f.m.size[l + 1] * sizeof(float));
    memcpy(d0, f.d[0], 6 * sizeof(float));
    int checked = 0;
    for (uint32_t j = 0; j < 4; j++) /* layer 0: only the rows of present features move the loss */
        for (uint32_t c = 0; c < 6; c++, checked++)
            check_param(&f, &f.m.w[0][IDS[j] * 6 + c], VALS[j] * d0[c], "w0", IDS[j] * 6 + c);
    for (uint32_t c = 0; c < 6; c++) /* an absent row has zero gradient */
        check_param(&f, &f.m.w[0][2 * 6 + c], 0.0f, "w0 absent row", c);
    for (uint32_t l = 1; l < 3; l++)
        for (size_t i = 0; i < intenti_mlp_wsize(&f.m, l); i++, checked++)
            check_param(&f, &f.m.w[l][i], gw[l][i], l == 1 ? "w1" : "w2", i);
    for (uint32_t l = 0; l < 3; l++)
        for (uint32_t i = 0; i < f.m.size[l + 1]; i++, checked++)
            check_param(&f, &f.m.b[l][i], gb[l][i], "b", l * 100 + i);
    assert_true(checked > 60);
    teardown(&f);
}

static void gradients_match_finite_differences(void **state) {
    (void)state;
    check_all(0.0f, 0.0f, 0.0f);
}

static void gradients_with_dropout(void **state) {
    (void)state;
    check_all(0.3f, 0.0f, 0.0f);
}

static void gradients_with_label_smoothing(void **state) {
    (void)state;
    check_all(0.0f, 0.1f, 0.0f);
}

static void gradients_with_softmax_loss(void **state) {
    (void)state;
    check_all(0.0f, 0.0f, 0.7f);
}

/* dLoss/dz for BCE on logits is sigmoid(z) - y: checked through a net with no hidden
 * layer, where the bias of the output layer is the logit's offset. */
static void loss_gradient(void **state) {
    (void)state;
    uint32_t size[] = {20, 4};
    fixture f;
    memset(&f, 0, sizeof f);
    assert_int_equal(intenti_mlp_new(&f.m, size, 1), INTENT_OK);
    assert_int_equal(intenti_mlp_ws_new(&f.ws, &f.m), INTENT_OK);
    float z[4] = {-3.0f, 0.5f, 2.0f, 0.0f};
    memcpy(f.m.b[0], z, sizeof z);
    double loss = loss_of(&f);
    double want = 0.0;
    for (int k = 0; k < 4; k++) {
        double y = (k == 0 || k == 2) ? 1.0 : 0.0;
        want += log1p(exp(z[k])) - y * z[k];
        assert_float_equal(f.d[0][k], 1.0 / (1.0 + exp(-z[k])) - y, 1e-6);
    }
    assert_float_equal(loss, want, 1e-5);
    float gb[4];
    memcpy(gb, f.d[0], sizeof gb);
    for (uint32_t k = 0; k < 4; k++)
        check_param(&f, &f.m.b[0][k], gb[k], "logit", k);
    /* large logits stay finite */
    f.m.b[0][0] = -200.0f;
    f.m.b[0][1] = 200.0f;
    assert_true(isfinite(loss_of(&f)));
    teardown(&f);
}

int test_grad(int *total) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loss_gradient), cmocka_unit_test(gradients_match_finite_differences),
        cmocka_unit_test(gradients_with_dropout), cmocka_unit_test(gradients_with_label_smoothing),
        cmocka_unit_test(gradients_with_softmax_loss),
    };
    return RUN("grad", tests, total);
}
