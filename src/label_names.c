/*
 * label_names.c - a label's name as one more training example of it.
 *
 * People name intents for what they mean ("play_music", "PlayMusic", "card-arrival"), and
 * a name's words are often the very words a command uses. Read as text, each name is one
 * example of its label: with 10 examples a label on clinc150 that is worth a point of
 * in-scope accuracy, with a hundred it changes nothing (docs/ACCURACY.md).
 *
 * DESIGN: the trainer gets a copy of the training set with the labels interned in the
 * same order (so every label keeps its id) and one example a label appended: its words,
 * cut at '_', '-', '.', '/', ':' and camel case. The none label has no words to teach;
 * a name with no letter or digit is skipped.
 *   Ownership: the caller frees the copy (intent_dataset_free).
 */
#include "intent_impl.h"

#include <string.h>

static bool is_sep(char c) { return c == '_' || c == '-' || c == '.' || c == '/' || c == ':'; }
static bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
static bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* The words of label name s (n bytes) into out[2 * n + 1], NUL-terminated: separators
 * become spaces, and a space goes before an upper-case letter that follows a lower-case
 * letter or a digit, or that starts a word after an acronym ("HTTPServer" -> "HTTP
 * Server"). Bytes past ASCII are copied as they are. Returns whether a letter or digit
 * was seen. */
bool intenti_label_words(const char *s, size_t n, char *out) {
    size_t k = 0;
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i], prev = i ? s[i - 1] : ' ', next = i + 1 < n ? s[i + 1] : ' ';
        if (is_sep(c)) {
            out[k++] = ' ';
            continue;
        }
        bool cut = is_upper(c) && (is_lower(prev) || is_digit(prev) || (is_upper(prev) && is_lower(next)));
        if (cut)
            out[k++] = ' ';
        out[k++] = c;
        any |= is_lower(c) || is_upper(c) || is_digit(c) || (unsigned char)c >= 0x80;
    }
    out[k] = '\0';
    return any;
}

int intenti_with_label_names(const intent_dataset *train, const char *none_label, intent_dataset **out) {
    intent_dataset *d;
    int rc = intent_dataset_new(&d);
    uint32_t id;
    for (size_t i = 0; !rc && i < train->n_labels; i++)
        rc = intenti_dataset_intern(d, train->labels[i], strlen(train->labels[i]), &id);
    for (size_t i = 0; !rc && i < train->n; i++)
        rc = intenti_dataset_add_ids(d, train->texts[i], train->text_lens[i], train->lab_ids + train->lab_off[i],
                                     train->lab_off[i + 1] - train->lab_off[i]);
    for (uint32_t i = 0; !rc && i < train->n_labels; i++) {
        const char *name = train->labels[i];
        char words[2 * INTENT_MAX_LABEL_LEN + 1];
        size_t len = strlen(name);
        if ((none_label && strcmp(name, none_label) == 0) || len > INTENT_MAX_LABEL_LEN ||
            !intenti_label_words(name, len, words))
            continue;
        rc = intenti_dataset_add_ids(d, words, strlen(words), &i, 1);
    }
    if (rc) {
        intent_dataset_free(d);
        return rc;
    }
    *out = d;
    return INTENT_OK;
}
