/*
 * test_calibrate.c - the threshold curve (every threshold at once) against the direct
 * exact-set count at each threshold, on random confidences and gold sets, for the
 * decoding rules in use (at most max_labels, at least min_labels).
 */
#include "tests.h"
#include "train.h"

#include <stdlib.h>
#include <string.h>

static void random_case(intenti_rng *r, uint32_t n, uint32_t n_labels, uint32_t max_labels, intenti_prep *p,
                        float *probs, bool grid) {
    memset(p, 0, sizeof *p);
    p->n = n;
    p->lab_off = calloc(n + 1, sizeof *p->lab_off);
    p->lab = calloc((size_t)n * (max_labels + 1), sizeof *p->lab);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t g = intenti_rng_below(r, max_labels + 2); /* sometimes more than max_labels */
        g = g > n_labels ? n_labels : g;
        uint32_t start = k;
        while (k - start < g) {
            uint32_t l = intenti_rng_below(r, n_labels);
            bool dup = false;
            for (uint32_t j = start; j < k; j++)
                dup |= p->lab[j] == l;
            if (!dup)
                p->lab[k++] = l;
        }
        for (uint32_t a = start; a < k; a++) /* sorted, as the trainer keeps them */
            for (uint32_t b = a + 1; b < k; b++)
                if (p->lab[b] < p->lab[a]) {
                    uint32_t x = p->lab[a];
                    p->lab[a] = p->lab[b];
                    p->lab[b] = x;
                }
        if (g && intenti_rng_below(r, 20) == 0)
            p->lab[k - 1] = INTENTI_UNKNOWN;
        p->lab_off[i + 1] = k;
        for (uint32_t c = 0; c < n_labels; c++) {
            float v = intenti_rng_unit(r);
            probs[(size_t)i * n_labels + c] = grid ? (float)(int)(v * 200) / 200.0f + 1e-4f * (float)c : v;
        }
        for (uint32_t j = start; j < k; j++) /* gold labels tend to be confident */
            if (p->lab[j] != INTENTI_UNKNOWN && intenti_rng_below(r, 3))
                probs[(size_t)i * n_labels + p->lab[j]] = 0.5f + 0.5f * intenti_rng_unit(r);
    }
}

static void curve_matches_direct_count(void **state) {
    (void)state;
    intenti_rng r;
    intenti_rng_seed(&r, 77, 0);
    static float probs[300 * 12];
    for (int trial = 0; trial < 60; trial++) {
        uint32_t n_labels = 1 + intenti_rng_below(&r, 12), max_labels = 1 + intenti_rng_below(&r, n_labels);
        uint32_t min_labels = intenti_rng_below(&r, 2), n = 1 + intenti_rng_below(&r, 300);
        intenti_prep p;
        random_case(&r, n, n_labels, max_labels, &p, probs, trial % 2);
        for (int i = 1; i <= 99; i += 7) {
            double direct = intenti_exact(&p, probs, n_labels, (float)i / 100.0f, max_labels, min_labels);
            double curve = intenti_exact_at(&p, probs, n_labels, max_labels, min_labels, i);
            if (direct != curve)
                fail_msg("trial %d, t %.2f, labels %u, max %u, min %u: direct %.4f, curve %.4f", trial, i / 100.0,
                         n_labels, max_labels, min_labels, direct, curve);
        }
        free(p.lab_off);
        free(p.lab);
    }
}

int test_calibrate(int *total) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(curve_matches_direct_count)};
    return RUN("calibrate", tests, total);
}
