/*
 * text.c - the featurizer: UTF-8 text -> words -> hashed n-grams -> tf-idf vector.
 *
 * DESIGN
 *   1. Words are maximal runs of letters, marks and digits (Unicode categories L, M, N);
 *      everything else, invalid UTF-8 included, separates them. At most INTENT_MAX_TOKENS
 *      words are read.
 *   2. Each word is normalized on its own: ASCII is lowercased directly (the fast path);
 *      other words go through utf8proc as NFKC + case folding (+ accent stripping when
 *      the model asks), into a fixed buffer, cut at INTENT_MAX_WORD code points.
 *   3. Features, hashed into fs->buckets (hash.c, frozen): word 1..word_ngrams-grams (with
 *      <s> and </s> when INTENTI_FEAT_WORD_BOUNDS), and char n-grams of "<word>" of
 *      char_min..char_max code points. Each kind has its own hash tag.
 *   4. Distinct buckets are counted in an open-addressing table, or in a direct table of
 *      every bucket (serving), in first-seen order, so the output is deterministic; at
 *      most INTENT_MAX_FEATURES of them.
 *   5. intenti_weigh: w = tf' * idf[bucket], tf' = 1 + ln(tf) when sublinear, then L2.
 *   Every step works in caller-owned scratch (intenti_feats): nothing is allocated per text.
 */
#include "intent_impl.h"

#include <math.h>
#include <string.h>
#include <utf8proc.h>

int intenti_feats_init(intenti_feats *f) {
    memset(f, 0, sizeof *f);
    f->slot_key = intenti_calloc(INTENTI_SLOTS, sizeof *f->slot_key);
    f->slot_pos = intenti_calloc(INTENTI_SLOTS, sizeof *f->slot_pos);
    f->slot_of = intenti_calloc(INTENTI_MAX_FEATURES, sizeof *f->slot_of);
    f->ids = intenti_calloc(INTENTI_MAX_FEATURES + 1, sizeof *f->ids);
    f->vals = intenti_calloc(INTENTI_MAX_FEATURES + 1, sizeof *f->vals);
    for (uint32_t c = 1; c < INTENTI_TF1; c++)
        f->tf1[c] = 1.0f + logf((float)c);
    f->w = intenti_calloc(INTENT_MAX_WIDTH, sizeof *f->w);
    f->idx = intenti_calloc(INTENT_MAX_WIDTH, sizeof *f->idx);
    if (!f->slot_key || !f->slot_pos || !f->slot_of || !f->ids || !f->vals || !f->w || !f->idx) {
        intenti_feats_free(f);
        return INTENT_ERR_NOMEM;
    }
    return INTENT_OK;
}

int intenti_feats_direct(intenti_feats *f, uint32_t n) {
    if (n <= f->n_direct)
        return INTENT_OK;
    intenti_dd *dd = intenti_calloc(n, sizeof *dd);
    if (!dd)
        return INTENT_ERR_NOMEM;
    intenti_free(f->dd);
    f->dd = dd;
    f->n_direct = n;
    f->gen = 0;
    return INTENT_OK;
}

void intenti_feats_free(intenti_feats *f) {
    intenti_free(f->wc);
    intenti_free(f->dd);
    intenti_free(f->slot_key);
    intenti_free(f->slot_pos);
    intenti_free(f->slot_of);
    intenti_free(f->ids);
    intenti_free(f->vals);
    intenti_free(f->w);
    intenti_free(f->idx);
    memset(f, 0, sizeof *f);
}

const char *intenti_featspec_problem(const intenti_featspec *fs) {
    if (fs->buckets < 1 || fs->buckets > (1u << 30))
        return "buckets must be 1..1073741824";
    if (fs->word_ngrams > 3)
        return "word n-grams must be 0..3";
    if (fs->char_min > fs->char_max || fs->char_max > 8 || (fs->char_max && !fs->char_min))
        return "char n-grams must satisfy 1 <= min <= max <= 8, or be 0,0";
    if (!fs->word_ngrams && !fs->char_max)
        return "no features: word n-grams and char n-grams are both off";
    if (fs->flags & ~(uint32_t)INTENTI_FEAT_KNOWN)
        return "unknown featurizer flags";
    return NULL;
}

/* ---- words ---- */

static bool is_word_cp(int32_t cp) {
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return true;
    default:
        return false;
    }
}

/* NFKC + case fold of the UTF-8 word s[0..n) (valid, non-ASCII somewhere) into out
 * (INTENTI_WORD_CAP code points). Returns the code point count, cut at INTENT_MAX_WORD. */
static size_t normalize_unicode(const uint8_t *s, size_t n, uint32_t flags, int32_t *out) {
    utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
                            UTF8PROC_DECOMPOSE | UTF8PROC_IGNORE;
    if (flags & INTENTI_FEAT_STRIP_ACCENTS)
        opt |= UTF8PROC_STRIPMARK;
    /* Decompositions expand (U+FDFA gives 18 code points): if the word does not fit,
     * halve it (on a code point boundary) until it does. */
    for (;;) {
        utf8proc_ssize_t r = utf8proc_decompose_custom(s, (utf8proc_ssize_t)n, out,
                                                       INTENTI_WORD_CAP, opt, NULL, NULL);
        if (r >= 0 && r <= INTENTI_WORD_CAP) {
            r = utf8proc_normalize_utf32(out, r, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
            if (r < 0)
                return 0;
            return r > INTENT_MAX_WORD ? INTENT_MAX_WORD : (size_t)r;
        }
        if (r < 0 || n <= 1)
            return 0;
        size_t half = n / 2;
        while (half > 0 && (s[half] & 0xC0) == 0x80)
            half--;
        if (half == 0)
            return 0;
        n = half;
    }
}

/* ASCII letters and digits: the bytes of the fast path below. */
static bool ascii_word(uint8_t b) { return (uint8_t)((b | 0x20) - 'a') < 26 || (uint8_t)(b - '0') < 10; }

/* The fast path of a word of ASCII letters and digits, the common case: from s[*at],
 * lowercased (b | 0x20 lowercases a letter and keeps a digit) into buf, cut at
 * INTENT_MAX_WORD. Returns its length, with *at past it; or 0, *at untouched, when a
 * non-ASCII byte ends the run (the word may go on in other scripts: the general path
 * reads it). */
static size_t ascii_run(const uint8_t *s, size_t len, size_t *at, int32_t *buf) {
    size_t i = *at, n = 0;
    for (; i < len && ascii_word(s[i]); i++)
        if (n < INTENT_MAX_WORD)
            buf[n++] = s[i] | 0x20;
    if (i < len && s[i] >= 0x80)
        return 0;
    *at = i;
    return n;
}

void intenti_words(const intenti_featspec *fs, const char *text, size_t len, int32_t *buf,
                   intenti_word_fn fn, void *user) {
    const uint8_t *s = (const uint8_t *)text;
    size_t i = 0, n_words = 0;
    while (i < len && n_words < INTENT_MAX_TOKENS) {
        if (s[i] < 0x80) {
            if (!ascii_word(s[i])) {
                i++;
                continue;
            }
            size_t fast = ascii_run(s, len, &i, buf);
            if (fast) {
                fn(buf, fast, user);
                n_words++;
                continue;
            }
        }
        int32_t cp = s[i];
        size_t k = s[i] < 0x80 ? 1 : intenti_utf8_next(s + i, len - i, &cp);
        if (!k || !is_word_cp(cp)) {
            i += k ? k : 1;
            continue;
        }
        /* scan the word: [start, i), noting whether it is all ASCII */
        size_t start = i, n_cp = 0;
        bool ascii = true;
        while (i < len) {
            cp = s[i];
            k = s[i] < 0x80 ? 1 : intenti_utf8_next(s + i, len - i, &cp);
            if (!k || !is_word_cp(cp))
                break;
            ascii &= cp < 0x80;
            i += k;
            n_cp++;
        }
        size_t n;
        if (ascii) {
            n = n_cp > INTENT_MAX_WORD ? INTENT_MAX_WORD : n_cp;
            for (size_t j = 0; j < n; j++) {
                int32_t c = s[start + j];
                buf[j] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
            }
        } else {
            /* only the bytes of the first INTENT_MAX_WORD code points matter */
            size_t end = start, c = 0;
            while (end < i && c < INTENT_MAX_WORD) {
                end += intenti_utf8_next(s + end, i - end, &cp);
                c++;
            }
            n = normalize_unicode(s + start, end - start, fs->flags, buf);
        }
        if (n) {
            fn(buf, n, user);
            n_words++;
        }
    }
}

/* ---- counting distinct buckets ---- */

/* One bucket through the hash table (bucket spaces past the direct table's size). */
static void add_hashed(intenti_feats *f, uint32_t id) {
    uint32_t key = id + 1, mask = INTENTI_SLOTS - 1;
    uint32_t slot = (key * 0x9E3779B1u) >> 19 & mask; /* top bits of a Fibonacci hash */
    while (f->slot_key[slot]) {
        if (f->slot_key[slot] == key) {
            f->vals[f->slot_pos[slot]] += 1.0f;
            return;
        }
        slot = (slot + 1) & mask;
    }
    if (f->n == INTENTI_MAX_FEATURES)
        return; /* documented cap: later n-grams of a huge text are dropped */
    f->slot_key[slot] = key;
    f->slot_pos[slot] = f->n;
    f->slot_of[f->n] = slot;
    f->ids[f->n] = id;
    f->vals[f->n] = 1.0f;
    f->n++;
}

/* Adds k bucket ids. Direct (the table set up for this bucket space by intenti_extract):
 * whether a bucket was seen is random from one n-gram to the next, so nothing branches
 * on it: the next free entry of ids is written either way (unused unless the bucket is
 * new), and the count goes to the bucket's own entry. Past the cap the spare entry at
 * INTENTI_MAX_FEATURES takes new buckets and n stays (they are counted, unlisted).
 * The count, the generation and the tables are count_direct's parameters: through f, a
 * store to ids or dd might alias f->n as far as the compiler can tell, so it would store
 * and reload the count at every n-gram, a store-to-load forward on the one chain that
 * runs through all of a text's n-grams. The three arrays are distinct: restrict says so.
 * capped: whether these n-grams could reach the cap (inlined twice, so the common case
 * has no test of it). */
static inline __attribute__((always_inline)) uint32_t count_direct(intenti_dd *restrict dd, uint32_t *restrict ids,
                                                                    const uint32_t *restrict id, uint32_t k,
                                                                    uint32_t n, uint32_t gen, bool capped) {
    uint32_t first = gen << INTENTI_DD_CNT_BITS | 1u;
    for (uint32_t j = 0; j < k; j++) {
        uint32_t b = id[j];
        intenti_dd d = dd[b];
        uint32_t seen = d >> INTENTI_DD_CNT_BITS == gen;
        ids[n] = b;
        dd[b] = seen ? d + 1 : first;
        n += !seen & (!capped || n < INTENTI_MAX_FEATURES);
    }
    return n;
}

static inline void add_features(intenti_feats *f, const uint32_t *restrict id, uint32_t k) {
    if (!f->dd) {
        for (uint32_t j = 0; j < k; j++)
            add_hashed(f, id[j]);
        return;
    }
    /* the cap is tested per n-gram only when these k could reach it */
    if (f->n + k <= INTENTI_MAX_FEATURES)
        f->n = count_direct(f->dd, f->ids, id, k, f->n, f->gen, false);
    else
        f->n = count_direct(f->dd, f->ids, id, k, f->n, f->gen, true);
}

static inline void add_feature(intenti_feats *f, uint32_t id) { add_features(f, &id, 1); }

typedef struct extract_state {
    const intenti_featspec *fs;
    intenti_feats *f;
    uint32_t hist[2];   /* hashes of the previous words, most recent last */
    uint32_t n_hist;
    uint32_t n_words;
} extract_state;

/* Word n-grams of order 2..word_ngrams that end with the word hashed h. */
static void add_word_ngrams(extract_state *st, uint32_t h) {
    const intenti_featspec *fs = st->fs;
    uint32_t g = h;
    for (uint32_t k = 1; k < fs->word_ngrams && k <= st->n_hist; k++) {
        g = intenti_hash_pair(st->hist[2 - k], g);
        add_feature(st->f, intenti_bucket(g, fs->buckets));
    }
    st->hist[0] = st->hist[1];
    st->hist[1] = h;
    if (st->n_hist < 2)
        st->n_hist++;
}

/* Most char n-grams a word has: every start of "<word>", every length up to 8. */
#define WORD_NGRAMS_MAX ((INTENT_MAX_WORD + 2) * 8)

/* The char n-gram buckets of "<word>" (n code points, n <= INTENT_MAX_WORD) into
 * out[WORD_NGRAMS_MAX], in a fixed order; returns how many. */
static uint32_t char_ngram_ids(const intenti_featspec *fs, const int32_t *cp, size_t n, uint32_t *out) {
    int32_t m[INTENT_MAX_WORD + 2];
    size_t len = n + 2;
    m[0] = '<';
    memcpy(m + 1, cp, n * sizeof *m);
    m[n + 1] = '>';
    uint32_t start = intenti_fnv_step(INTENTI_FNV_BASIS ^ fs->seed, INTENTI_TAG_CHAR), k = 0;
    for (size_t i = 0; i < len; i++) {
        uint32_t h = start;
        for (size_t c = 0; c < fs->char_max && i + c < len; c++) {
            h = intenti_fnv_step(h, (uint32_t)m[i + c]);
            if (c + 1 >= fs->char_min)
                out[k++] = intenti_bucket(intenti_fmix32(h), fs->buckets);
        }
    }
    return k;
}

static void add_char_ngrams(const intenti_featspec *fs, intenti_feats *f, const int32_t *cp, size_t n) {
    uint32_t ids[WORD_NGRAMS_MAX];
    add_features(f, ids, char_ngram_ids(fs, cp, n, ids));
}

/* The word cache (serving contexts only): a word's char n-gram buckets depend on the
 * word and the featurizer alone, and most words of a command were seen in earlier ones,
 * so a small direct-mapped table of recent words saves hashing them again. Entries are
 * checked against the whole word, never trusted on the hash alone. */
static bool same_spec(const intenti_featspec *a, const intenti_featspec *b) {
    return a->seed == b->seed && a->buckets == b->buckets && a->char_min == b->char_min &&
           a->char_max == b->char_max && a->flags == b->flags;
}

static void cached_char_ngrams(const intenti_featspec *fs, intenti_feats *f, const int32_t *cp, size_t n,
                               uint32_t hw) {
    intenti_wordcache *e = &f->wc[hw & (INTENTI_WC_SLOTS - 1)];
    if (e->len == n && e->hash == hw && memcmp(e->cps, cp, n * sizeof *cp) == 0) {
        add_features(f, e->ids, e->n_ids);
        return;
    }
    uint32_t ids[WORD_NGRAMS_MAX], k = char_ngram_ids(fs, cp, n, ids);
    add_features(f, ids, k);
    e->len = 0; /* stays empty unless the word's buckets fit */
    if (k > INTENTI_WC_IDS)
        return;
    memcpy(e->ids, ids, k * sizeof *ids);
    memcpy(e->cps, cp, n * sizeof *cp);
    e->n_ids = (uint8_t)k;
    e->hash = hw;
    e->len = (uint8_t)n;
}

static void on_word(const int32_t *cp, size_t n, void *user) {
    extract_state *st = user;
    const intenti_featspec *fs = st->fs;
    st->n_words++;
    uint32_t h = intenti_hash_cps(fs->seed, INTENTI_TAG_WORD, cp, n);
    if (fs->word_ngrams) {
        add_feature(st->f, intenti_bucket(h, fs->buckets));
        add_word_ngrams(st, h);
    }
    if (!fs->char_max)
        return;
    if (st->f->wc && n <= INTENTI_WC_LEN)
        cached_char_ngrams(fs, st->f, cp, n, h);
    else
        add_char_ngrams(fs, st->f, cp, n);
}

int intenti_feats_cache(intenti_feats *f) {
    if (f->wc)
        return INTENT_OK;
    f->wc = intenti_calloc(INTENTI_WC_SLOTS, sizeof *f->wc);
    return f->wc ? INTENT_OK : INTENT_ERR_NOMEM;
}

/* Empties the hash table of the last text's entries (before compaction breaks the
 * links between slots and list positions). */
static void unhash(intenti_feats *f) {
    if (f->hashed)
        for (uint32_t i = 0; i < f->n; i++)
            f->slot_key[f->slot_of[i]] = 0;
    f->hashed = false;
}

void intenti_extract(const intenti_featspec *fs, intenti_feats *f, const char *text, size_t len) {
    unhash(f);
    f->n = 0;
    /* direct dedup when it covers this model's buckets, else the hash table */
    intenti_dd *keep_dd = f->dd;
    if (f->dd && fs->buckets > f->n_direct)
        f->dd = NULL;
    else if (f->dd && ++f->gen == INTENTI_DD_GENS) { /* wrapped: old marks could match again */
        memset(f->dd, 0, (size_t)f->n_direct * sizeof *f->dd);
        f->gen = 1;
    }
    f->hashed = f->dd == NULL;
    f->counts_in_dd = f->dd != NULL;
    if (f->wc && !same_spec(fs, &f->wc_fs)) { /* another model's words: forget them */
        memset(f->wc, 0, INTENTI_WC_SLOTS * sizeof *f->wc);
        f->wc_fs = *fs;
    }
    extract_state st = {fs, f, {0, 0}, 0, 0};
    bool bounds = (fs->flags & INTENTI_FEAT_WORD_BOUNDS) && fs->word_ngrams >= 2;
    if (bounds) {
        st.hist[1] = intenti_hash_cps(fs->seed, INTENTI_TAG_BOS, NULL, 0);
        st.n_hist = 1;
    }
    intenti_words(fs, text, len, f->word, on_word, &st);
    if (bounds && st.n_words > 0)
        add_word_ngrams(&st, intenti_hash_cps(fs->seed, INTENTI_TAG_EOS, NULL, 0));
    f->dd = keep_dd;
}

uint32_t intenti_weigh_row(const intenti_featspec *fs, const float *idf, uint32_t *ids,
                           float *vals, uint32_t n) {
    double sum = 0.0;
    bool sub = fs->flags & INTENTI_FEAT_SUBLINEAR;
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        float tf = vals[i];
        if (sub && tf > 1.0f)
            tf = 1.0f + logf(tf);
        float w = tf * idf[ids[i]];
        if (w == 0.0f)
            continue;
        ids[k] = ids[i];
        vals[k++] = w;
        sum += (double)w * w;
    }
    float inv = sum > 0.0 ? (float)(1.0 / sqrt(sum)) : 0.0f;
    for (uint32_t i = 0; i < k; i++)
        vals[i] *= inv;
    return k;
}

void intenti_feats_counts(intenti_feats *f) {
    if (!f->counts_in_dd)
        return;
    for (uint32_t j = 0; j < f->n; j++)
        f->vals[j] = (float)(f->dd[f->ids[j]] & INTENTI_DD_CNT_MASK);
    f->counts_in_dd = false;
}

void intenti_weigh(const intenti_featspec *fs, const float *idf, intenti_feats *f) {
    intenti_feats_counts(f);
    intenti_unhash(f);
    f->n = intenti_weigh_row(fs, idf, f->ids, f->vals, f->n);
}

void intenti_unhash(intenti_feats *f) { unhash(f); }
