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

double intenti_exact(const intenti_prep *p, const float *probs, uint32_t n_labels, float t, uint32_t max_labels,
                     uint32_t min_labels) {
    if (!p->n)
        return 0.0;
    size_t right = 0;
    for (uint32_t i = 0; i < p->n; i++) {
        const float *pr = probs + (size_t)i * n_labels;
        const uint32_t *g = p->lab + p->lab_off[i];
        uint32_t n_gold = p->lab_off[i + 1] - p->lab_off[i], hit = 0, over = 0, top = 0;
        for (uint32_t k = 0; k < n_labels; k++) {
            over += pr[k] >= t;
            top = pr[k] > pr[top] ? k : top;
        }
        if (over == 0 && min_labels) { /* the decoder answers with the top label anyway */
            right += n_gold == 1 && g[0] == top;
            continue;
        }
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
    float inv_t = 1.0f / T;
    for (uint32_t i = 0; i < p->n; i++) {
        const uint32_t *g = p->lab + p->lab_off[i];
        uint32_t n_gold = p->lab_off[i + 1] - p->lab_off[i], j = 0;
        float row = 0.0f; /* float sums of a row, double across rows: enough for a minimum */
        for (uint32_t c = 0; c < n_labels; c++) {
            float s = 0.0f;
            for (uint32_t k = 0; k < n_nets; k++)
                s += 1.0f / (1.0f + expf(-logits[k * n + (size_t)i * n_labels + c] * inv_t));
            float pr = s / (float)n_nets;
            pr = pr < 1e-7f ? 1e-7f : pr > 1.0f - 1e-7f ? 1.0f - 1e-7f : pr;
            while (j < n_gold && g[j] < c)
                j++;
            row -= (j < n_gold && g[j] == c) ? logf(pr) : log1pf(-pr);
        }
        sum += row;
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
    for (int it = 0; it < 14; it++) { /* 0.618^14 of ln 256: T within 0.2% */
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

/* Exact-set accuracy at every threshold t = i/100 at once: for each example, the
 * thresholds at which the decoder's answer equals the gold set form one interval
 * (labels enter the answer from the most confident down as t falls), so each example
 * adds 1 to a range of a difference array. O(examples x labels x max_labels). */
static void exact_curve(const intenti_prep *p, const float *probs, uint32_t n_labels, uint32_t max_labels,
                        uint32_t min_labels, double *acc) {
    int diff[102] = {0};
    uint32_t order[INTENTI_LINE_LABELS + 2];
    for (uint32_t i = 0; i < p->n; i++) {
        const float *pr = probs + (size_t)i * n_labels;
        const uint32_t *g = p->lab + p->lab_off[i];
        uint32_t n_gold = p->lab_off[i + 1] - p->lab_off[i], want = n_gold + 1;
        want = want > n_labels ? n_labels : want;
        bool unknown = false;
        for (uint32_t j = 0; j < n_gold; j++)
            unknown |= g[j] == INTENTI_UNKNOWN;
        if (unknown || n_gold > max_labels)
            continue; /* never exactly right */
        /* the n_gold + 1 most confident labels, best first (ties to the lower id) */
        uint32_t top = 0;
        for (uint32_t k = 0; k < n_labels; k++) {
            uint32_t at = top < want ? top++ : want;
            if (at == want && !(pr[k] > pr[order[want - 1]]))
                continue;
            if (at == want)
                at = want - 1;
            while (at > 0 && pr[order[at - 1]] < pr[k]) {
                order[at] = order[at - 1];
                at--;
            }
            order[at] = k;
        }
        /* correct for t in (lo, hi] */
        float lo, hi;
        if (n_gold == 0) {
            if (min_labels)
                continue;
            lo = pr[order[0]];
            hi = 2.0f; /* any t above the best confidence */
        } else {
            bool same = true; /* are the n_gold best exactly the gold labels? */
            for (uint32_t j = 0; j < n_gold && same; j++) {
                bool in = false;
                for (uint32_t q = 0; q < n_gold; q++)
                    in |= order[j] == g[q];
                same = in;
            }
            if (!same)
                continue;
            hi = pr[order[n_gold - 1]];
            lo = n_gold < max_labels && n_gold < top ? pr[order[n_gold]] : -1.0f;
            if (n_gold == 1 && min_labels)
                hi = 2.0f; /* with nothing over t the top label is answered anyway */
        }
        /* grid indices i with lo < i/100 <= hi, compared as the decoder compares (floats) */
        int a = 1, b = 99;
        while (a <= 99 && !((float)a / 100.0f > lo))
            a++;
        while (b >= 1 && !((float)b / 100.0f <= hi))
            b--;
        if (a <= b) {
            diff[a]++;
            diff[b + 1]--;
        }
    }
    int run = 0;
    for (int i = 1; i <= 99; i++) {
        run += diff[i];
        acc[i] = p->n ? (double)run / p->n : 0.0;
    }
}

/* Exact-set accuracy is a step function of the threshold and, on a dev set of a few
 * thousand examples, a noisy one: the choice maximizes its mean over a window of
 * +-0.02 around each candidate, so it sits on a plateau rather than on a lucky spike. */
float intenti_tune_threshold(const intenti_prep *p, const float *probs, uint32_t n_labels, uint32_t max_labels,
                             uint32_t min_labels) {
    double acc[100];
    exact_curve(p, probs, n_labels, max_labels, min_labels, acc);
    float best_t = 0.5f;
    double best = -1.0;
    for (int i = 1; i <= 99; i++) {
        double sum = 0.0;
        int n = 0;
        for (int j = i - 2; j <= i + 2; j++)
            if (j >= 1 && j <= 99) {
                sum += acc[j];
                n++;
            }
        double s = sum / n;
        float th = (float)i / 100.0f;
        if (s > best + 1e-12 || (fabs(s - best) <= 1e-12 && fabsf(th - 0.5f) < fabsf(best_t - 0.5f))) {
            best = s;
            best_t = th;
        }
    }
    return best_t;
}

double intenti_exact_at(const intenti_prep *p, const float *probs, uint32_t n_labels, uint32_t max_labels,
                        uint32_t min_labels, int i) {
    double acc[100];
    exact_curve(p, probs, n_labels, max_labels, min_labels, acc);
    return acc[i];
}
