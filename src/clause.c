/*
 * clause.c - splitting a compound command into clauses, for multi-label decoding.
 *
 * "what's the weather in paris and then play some jazz" asks two things; read as one
 * bag of n-grams, each half's evidence blurs the other's. A model trained on multi-label
 * data stores how to cut texts (decode.clause_marks, decode.clause_words) and how many
 * labels one clause carried at most in training (decode.clause_max_labels); predict.c
 * then answers a text of several clauses with the union of each clause's labels.
 *
 * A clause boundary is a mark character (",;" by default) or a whole word from the list
 * ("and", "then", "also"), matched without regard to ASCII case. Clauses with no letter
 * or digit are dropped; at most INTENTI_MAX_CLAUSES are returned, the last one taking
 * the rest of the text.
 */
#include "intent_impl.h"

#include <string.h>

static bool alnum(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* Length of the clause word starting at s[i] (a word start), or 0. */
static size_t word_at(const intenti_clausespec *cs, const char *s, size_t n, size_t i) {
    for (uint32_t w = 0; w < cs->n_words; w++) {
        size_t k = cs->word_len[w];
        if (n - i < k || (i + k < n && alnum((unsigned char)s[i + k])))
            continue;
        size_t j = 0;
        while (j < k && (s[i + j] | 0x20) == cs->words[w][j])
            j++;
        if (j == k)
            return k;
    }
    return 0;
}

static bool has_alnum(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (alnum((unsigned char)s[i]))
            return true;
    return false;
}

size_t intenti_clauses(const intenti_clausespec *cs, const char *s, size_t n, intenti_span *out) {
    size_t count = 0, start = 0, i = 0;
    while (i <= n) {
        size_t cut = 0; /* bytes of the boundary at i */
        if (i == n)
            cut = 1;
        else if (memchr(cs->marks, s[i], cs->n_marks) && s[i])
            cut = 1;
        else if ((i == 0 || !alnum((unsigned char)s[i - 1])) && alnum((unsigned char)s[i]))
            cut = word_at(cs, s, n, i);
        if (!cut) {
            i++;
            continue;
        }
        if (has_alnum(s + start, i - start)) {
            if (count == INTENTI_MAX_CLAUSES) { /* too many: the last one keeps the rest */
                out[count - 1].len = n - out[count - 1].start;
                return count;
            }
            out[count++] = (intenti_span){start, i - start};
        }
        i += cut;
        start = i;
    }
    return count;
}

void intenti_clausespec_default(intenti_clausespec *cs, uint32_t max_labels) {
    static const char *const words[] = {"and", "then", "also"};
    memset(cs, 0, sizeof *cs);
    cs->max_labels = max_labels;
    memcpy(cs->marks, ",;", 2);
    cs->n_marks = 2;
    for (uint32_t w = 0; w < 3; w++) {
        cs->word_len[w] = (uint32_t)strlen(words[w]);
        memcpy(cs->words[w], words[w], cs->word_len[w]);
    }
    cs->n_words = 3;
}
