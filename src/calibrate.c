/*
 * calibrate.c - choices made on the dev set after training: the temperature that
 * calibrates confidences, and the decision threshold, both stored in the model.
 */
#include "train.h"

#include <math.h>
#include <string.h>

/* Is label k among the max_labels most confident of pr (ties to the lower id)? */
static bool in_top(const float *pr, uint32_t n_labels, uint32_t k, uint32_t max_labels) {
    uint32_t above = 0;
    for (uint32_t j = 0; j < n_labels && above < max_labels; j++)
        above += pr[j] > pr[k] || (pr[j] == pr[k] && j < k);
    return above < max_labels;
}

double intenti_exact(const intenti_prep *p, const float *probs, uint32_t n_labels, float t, uint32_t max_labels) {
    if (!p->n)
        return 0.0;
    size_t right = 0;
    for (uint32_t i = 0; i < p->n; i++) {
        const float *pr = probs + (size_t)i * n_labels;
        const uint32_t *g = p->lab + p->lab_off[i];
        uint32_t n_gold = p->lab_off[i + 1] - p->lab_off[i], hit = 0, over = 0;
        for (uint32_t k = 0; k < n_labels; k++)
            over += pr[k] >= t;
        if (over > max_labels)
            over = max_labels;
        for (uint32_t j = 0; j < n_gold; j++)
            hit += g[j] != INTENTI_UNKNOWN && pr[g[j]] >= t && in_top(pr, n_labels, g[j], max_labels);
        right += hit == n_gold && over == n_gold;
    }
    return (double)right / p->n;
}

void intenti_ensemble(const float *logits, uint32_t n_nets, size_t n, float T, float *probs) {
    float inv_t = 1.0f / T, inv_n = 1.0f / (float)n_nets;
    for (size_t i = 0; i < n; i++) {
        float s = 0.0f;
        for (uint32_t k = 0; k < n_nets; k++)
            s += 1.0f / (1.0f + expf(-logits[k * n + i] * inv_t));
        probs[i] = s * inv_n;
    }
}

/* Mean BCE of the dev set at temperature T (gold labels the model lacks are skipped). */
static double dev_bce(const intenti_prep *p, const float *logits, uint32_t n_nets, uint32_t n_labels, float T) {
    size_t n = (size_t)p->n * n_labels;
    double sum = 0.0;
    for (uint32_t i = 0; i < p->n; i++) {
        const uint32_t *g = p->lab + p->lab_off[i];
        uint32_t n_gold = p->lab_off[i + 1] - p->lab_off[i], j = 0;
        for (uint32_t c = 0; c < n_labels; c++) {
            float s = 0.0f;
            for (uint32_t k = 0; k < n_nets; k++)
                s += 1.0f / (1.0f + expf(-logits[k * n + (size_t)i * n_labels + c] / T));
            double pr = s / n_nets;
            pr = pr < 1e-7 ? 1e-7 : pr > 1 - 1e-7 ? 1 - 1e-7 : pr;
            while (j < n_gold && g[j] < c)
                j++;
            sum -= (j < n_gold && g[j] == c) ? log(pr) : log1p(-pr);
        }
    }
    return p->n ? sum / ((double)p->n * n_labels) : 0.0;
}

/* Golden-section search on log T: the loss is smooth and, in practice, unimodal in T. */
float intenti_fit_temperature(const intenti_prep *p, const float *logits, uint32_t n_nets, uint32_t n_labels) {
    if (!p->n)
        return 1.0f;
    const double phi = 0.6180339887498949;
    double lo = log(1.0 / 16.0), hi = log(16.0);
    double a = hi - phi * (hi - lo), b = lo + phi * (hi - lo);
    double fa = dev_bce(p, logits, n_nets, n_labels, (float)exp(a));
    double fb = dev_bce(p, logits, n_nets, n_labels, (float)exp(b));
    for (int it = 0; it < 24; it++) {
        if (fa < fb) {
            hi = b; b = a; fb = fa;
            a = hi - phi * (hi - lo);
            fa = dev_bce(p, logits, n_nets, n_labels, (float)exp(a));
        } else {
            lo = a; a = b; fa = fb;
            b = lo + phi * (hi - lo);
            fb = dev_bce(p, logits, n_nets, n_labels, (float)exp(b));
        }
    }
    /* round to 3 significant digits: a stable, readable value in the model */
    double T = exp((lo + hi) / 2);
    double mag = pow(10.0, floor(log10(T)) - 2);
    return (float)(nearbyint(T / mag) * mag);
}

float intenti_tune_threshold(const intenti_prep *p, const float *probs, uint32_t n_labels, uint32_t max_labels) {
    float best_t = 0.5f;
    double best = intenti_exact(p, probs, n_labels, best_t, max_labels);
    for (int i = 1; i <= 99; i++) {
        float th = (float)i / 100.0f;
        double s = intenti_exact(p, probs, n_labels, th, max_labels);
        if (s > best + 1e-12 || (fabs(s - best) <= 1e-12 && fabsf(th - 0.5f) < fabsf(best_t - 0.5f))) {
            best = s;
            best_t = th;
        }
    }
    return best_t;
}
