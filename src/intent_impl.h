/*
 * intent_impl.h - declarations shared between the library's files; never installed.
 *
 * Cross-file internals are named intenti_<module>_<verb> and have hidden visibility, so
 * libintent.so exports only the intent_* API of include/intent.h.
 */
#ifndef INTENT_IMPL_H
#define INTENT_IMPL_H

#include "intent.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INTENTI_HIDDEN __attribute__((visibility("hidden")))
#define INTENTI_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* ---- allocation (alloc.c): every byte the library takes goes through the hook ---- */
INTENTI_HIDDEN void *intenti_malloc(size_t n);
INTENTI_HIDDEN void *intenti_calloc(size_t count, size_t size);
INTENTI_HIDDEN void *intenti_realloc(void *p, size_t n);
INTENTI_HIDDEN void intenti_free(void *p);
INTENTI_HIDDEN char *intenti_strndup(const char *s, size_t n);
/* 64-byte aligned block (for SIMD rows and mmap-like layouts); free with intenti_afree. */
INTENTI_HIDDEN void *intenti_aalloc(size_t n);
INTENTI_HIDDEN void intenti_afree(void *p);

/* Checked size math: return false on overflow, leaving *r unspecified. */
static inline bool intenti_mul(size_t a, size_t b, size_t *r) {
    return !__builtin_mul_overflow(a, b, r);
}
static inline bool intenti_add(size_t a, size_t b, size_t *r) {
    return !__builtin_add_overflow(a, b, r);
}

/* ---- errors (alloc.c) ---- */
/* Fills err (if not NULL) and returns status, so callers can `return intenti_err(...)`. */
INTENTI_HIDDEN int intenti_err(intent_error *err, int status, const char *fmt, ...)
    INTENTI_PRINTF(3, 4);
INTENTI_HIDDEN int intenti_verr(intent_error *err, int status, const char *fmt, va_list ap);

/* ---- growable byte buffer (alloc.c) ---- */
typedef struct intenti_buf {
    uint8_t *data;
    size_t len, cap;
    bool oom; /* sticky: set by the first failed growth; later appends do nothing */
} intenti_buf;
INTENTI_HIDDEN void intenti_buf_put(intenti_buf *b, const void *p, size_t n);
INTENTI_HIDDEN void intenti_buf_zeros(intenti_buf *b, size_t n);
INTENTI_HIDDEN void intenti_buf_u8(intenti_buf *b, uint8_t v);
INTENTI_HIDDEN void intenti_buf_u16(intenti_buf *b, uint16_t v);
INTENTI_HIDDEN void intenti_buf_u32(intenti_buf *b, uint32_t v);
INTENTI_HIDDEN void intenti_buf_u64(intenti_buf *b, uint64_t v);
INTENTI_HIDDEN void intenti_buf_f32(intenti_buf *b, float v);
INTENTI_HIDDEN void intenti_buf_free(intenti_buf *b);

/* Little-endian loads and stores, whatever the host. */
static inline uint16_t intenti_ld16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t intenti_ld32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t intenti_ld64(const uint8_t *p) {
    return (uint64_t)intenti_ld32(p) | (uint64_t)intenti_ld32(p + 4) << 32;
}
static inline float intenti_ldf32(const uint8_t *p) {
    uint32_t u = intenti_ld32(p);
    float f;
    __builtin_memcpy(&f, &u, 4);
    return f;
}
static inline void intenti_st32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void intenti_st64(uint8_t *p, uint64_t v) {
    intenti_st32(p, (uint32_t)v);
    intenti_st32(p + 4, (uint32_t)(v >> 32));
}

/* ---- hashing (hash.c): frozen, part of the model format ---- */
#define INTENTI_FNV_BASIS 2166136261u
#define INTENTI_FNV_PRIME 16777619u
static inline uint32_t intenti_fnv_step(uint32_t h, uint32_t cp) {
    return (h ^ cp) * INTENTI_FNV_PRIME;
}
static inline uint32_t intenti_fmix32(uint32_t h) {
    h ^= h >> 16; h *= 0x85ebca6bu;
    h ^= h >> 13; h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}
INTENTI_HIDDEN uint32_t intenti_hash_cps(uint32_t seed, uint32_t tag, const int32_t *cp, size_t n);
INTENTI_HIDDEN uint32_t intenti_hash_pair(uint32_t a, uint32_t b);
/* Maps a 32-bit hash onto [0, n) without division (Lemire's multiply-shift). */
static inline uint32_t intenti_bucket(uint32_t h, uint32_t n) {
    return (uint32_t)(((uint64_t)h * n) >> 32);
}
/* CRC-32C (Castagnoli), hardware-accelerated where the CPU has it. Start with crc = 0. */
INTENTI_HIDDEN uint32_t intenti_crc32c(uint32_t crc, const void *data, size_t n);

/* ---- random numbers (rng.c): xoshiro128+-free, splitmix64-seeded PCG32 ---- */
typedef struct intenti_rng { uint64_t state, inc; } intenti_rng;
INTENTI_HIDDEN void intenti_rng_seed(intenti_rng *r, uint64_t seed, uint64_t stream);
INTENTI_HIDDEN uint32_t intenti_rng_u32(intenti_rng *r);
INTENTI_HIDDEN uint32_t intenti_rng_below(intenti_rng *r, uint32_t n);
INTENTI_HIDDEN float intenti_rng_unit(intenti_rng *r); /* [0, 1) */
INTENTI_HIDDEN uint64_t intenti_splitmix64(uint64_t *x);

/* ---- UTF-8 (utf8.c) ---- */
/* Decodes one code point at s[0..n); returns its byte length (1..4) and sets *cp, or 0
 * for an invalid or truncated sequence (overlong forms, surrogates and > U+10FFFF are
 * invalid). */
INTENTI_HIDDEN size_t intenti_utf8_next(const uint8_t *s, size_t n, int32_t *cp);
/* Byte offset of the first invalid sequence, or n when all of s is valid. */
INTENTI_HIDDEN size_t intenti_utf8_check(const char *s, size_t n);
/* A label name: 1..INTENT_MAX_LABEL_LEN bytes, valid UTF-8, no whitespace, no ','. Returns
 * NULL if good, else what is wrong. */
INTENTI_HIDDEN const char *intenti_label_problem(const char *s, size_t n);

/* ---- featurizer (text.c, features.c) ---- */
enum {
    INTENTI_FEAT_SUBLINEAR = 1u << 0,  /* tf -> 1 + ln(tf) */
    INTENTI_FEAT_STRIP_ACCENTS = 1u << 1,
    INTENTI_FEAT_WORD_BOUNDS = 1u << 2, /* <s> and </s> words in word n-grams */
    INTENTI_FEAT_KNOWN = 0x7u
};
/* Hash tags: distinct feature kinds never share a hash by construction of the input. */
enum { INTENTI_TAG_WORD = 0x57, INTENTI_TAG_CHAR = 0x43, INTENTI_TAG_BOS = 0x42, INTENTI_TAG_EOS = 0x45 };

typedef struct intenti_featspec {
    uint32_t seed;
    uint32_t buckets;      /* 1..2^30 */
    uint32_t word_ngrams;  /* 1..3 */
    uint32_t char_min, char_max; /* 0,0 = none; else 1 <= min <= max <= 8 */
    uint32_t flags;        /* INTENTI_FEAT_* */
} intenti_featspec;

#define INTENTI_MAX_FEATURES INTENT_MAX_FEATURES
#define INTENTI_SLOTS (2 * INTENTI_MAX_FEATURES) /* dedup table, load factor <= 1/2 */
#define INTENTI_WORD_CAP (INTENT_MAX_WORD * 4 + 32) /* code points of a normalized word */

/* Scratch for featurizing one text at a time. Fixed size: no allocation per text. */
#define INTENTI_WC_SLOTS 512 /* word cache entries (a power of two) */
#define INTENTI_WC_LEN 12     /* words up to this many code points are cached */
#define INTENTI_WC_IDS 64     /* char n-gram buckets kept for a cached word */
typedef struct intenti_wordcache {
    uint32_t hash;        /* the word's hash (INTENTI_TAG_WORD) */
    uint8_t len, n_ids;   /* len 0: empty */
    int32_t cps[INTENTI_WC_LEN];
    uint32_t ids[INTENTI_WC_IDS];
} intenti_wordcache;

#define INTENTI_TF1 16 /* counts below this take 1 + ln(count) from a table */
/* Sub-linear tf of a bucket seen c times in a text: 1 + ln(c) from the table tf1 (made
 * with logf, as intenti_weigh_row computes it) below INTENTI_TF1, logf from there; c
 * itself when tf1 is NULL (raw counts). The one rule every serving weigh follows. */
static inline float intenti_tf_of(uint32_t c, const float *tf1) {
    if (!tf1)
        return (float)c;
    return c < INTENTI_TF1 ? tf1[c] : 1.0f + logf((float)c);
}
/* A direct dedup entry: the generation of the text that last saw the bucket (12 bits)
 * over its count in that text (20 bits: a text has fewer n-gram occurrences than that,
 * INTENT_MAX_TOKENS words of at most (INTENT_MAX_WORD + 2) * 8 char n-grams and a few
 * word n-grams each). */
typedef uint32_t intenti_dd;
#define INTENTI_DD_CNT_BITS 20
#define INTENTI_DD_CNT_MASK ((1u << INTENTI_DD_CNT_BITS) - 1u)
#define INTENTI_DD_GENS (1u << (32 - INTENTI_DD_CNT_BITS)) /* generations 1..4095 */
_Static_assert(INTENT_MAX_TOKENS * ((INTENT_MAX_WORD + 2) * 8 + 8) < (1 << INTENTI_DD_CNT_BITS),
               "a text's occurrences of one bucket fit the count bits");
typedef struct intenti_feats {
    uint32_t *slot_key;   /* [INTENTI_SLOTS] open addressing, key = id + 1, 0 = empty */
    uint32_t *slot_pos;   /* [INTENTI_SLOTS] index into ids/vals */
    uint32_t *slot_of;    /* [INTENTI_MAX_FEATURES] slot of each feature, to clear it */
    uint32_t *ids;        /* [INTENTI_MAX_FEATURES + 1] bucket ids, first-seen order (the
                             extra entry: where direct dedup writes a feature over the cap) */
    float *vals;          /* [INTENTI_MAX_FEATURES + 1] counts (see counts_in_dd), then
                             tf-idf weights */
    float *w;             /* [INTENTI_MAX_FEATURES] per-net layer-0 weights (serving) */
    uint32_t *idx;        /* [INTENT_MAX_WIDTH] non-zero units of a hidden layer (serving) */
    uint32_t n;           /* distinct features of the current text */
    bool hashed;          /* the hash table holds this text's entries (slot_of[0..n) valid);
                             it is emptied before the next text, or before compaction */
    /* Direct dedup, when set up (intenti_feats_direct): dd[b] >> INTENTI_DD_CNT_BITS ==
     * gen says bucket b was seen in this text, and the low bits count it. One look-up of
     * 4 bytes, nothing to clear between texts (but every 4,095th). The counts stay there
     * (counts_in_dd) until intenti_feats_counts copies them to vals, or prepare reads them. */
    intenti_dd *dd;       /* [n_direct] */
    uint32_t n_direct;
    uint32_t gen;         /* 1..INTENTI_DD_GENS - 1 */
    bool counts_in_dd;    /* the current text's counts are in dd, not yet in vals */
    intenti_wordcache *wc;  /* [INTENTI_WC_SLOTS] when set up (intenti_feats_cache), for wc_fs */
    intenti_featspec wc_fs;
    float tf1[INTENTI_TF1]; /* 1 + ln(c), computed with logf as intenti_weigh_row does */
    int32_t word[INTENTI_WORD_CAP];
} intenti_feats;

INTENTI_HIDDEN int intenti_feats_init(intenti_feats *f);
INTENTI_HIDDEN void intenti_feats_free(intenti_feats *f);
/* Sets up direct dedup for bucket spaces of up to n buckets (4 bytes each); keeps what
 * is there if it already covers n. Texts of larger spaces use the hash table. */
INTENTI_HIDDEN int intenti_feats_direct(intenti_feats *f, uint32_t n);
/* Sets up the word cache (about 160 KB): char n-grams of recent words are not hashed
 * again. Serving contexts use it; training featurizes each text once and does not. */
INTENTI_HIDDEN int intenti_feats_cache(intenti_feats *f);
INTENTI_HIDDEN const char *intenti_featspec_problem(const intenti_featspec *fs);
/* Text -> distinct bucket ids in f->ids with raw counts: in f->vals, or with direct dedup
 * in f->dd (f->counts_in_dd; intenti_feats_counts moves them to f->vals). */
INTENTI_HIDDEN void intenti_extract(const intenti_featspec *fs, intenti_feats *f,
                                    const char *text, size_t len);
/* Counts -> L2-normalized tf-idf weights in place. idf is [fs->buckets]. Features whose
 * weight is 0 (buckets never seen in training) are dropped. */
INTENTI_HIDDEN void intenti_weigh(const intenti_featspec *fs, const float *idf, intenti_feats *f);
/* The current text's counts into f->vals, if direct dedup left them in f->dd. */
INTENTI_HIDDEN void intenti_feats_counts(intenti_feats *f);
/* Empties the dedup hash table of the current text (call before reordering f->ids). */
INTENTI_HIDDEN void intenti_unhash(intenti_feats *f);
/* The same on plain arrays (ids[n], vals[n] counts); returns the new n. */
INTENTI_HIDDEN uint32_t intenti_weigh_row(const intenti_featspec *fs, const float *idf,
                                          uint32_t *ids, float *vals, uint32_t n);
/* Calls fn for every word of text after normalization (for tests and `intent featurize`). */
typedef void (*intenti_word_fn)(const int32_t *cp, size_t n, void *user);
INTENTI_HIDDEN void intenti_words(const intenti_featspec *fs, const char *text, size_t len,
                                  int32_t *buf, intenti_word_fn fn, void *user);

/* ---- clauses (clause.c) ---- */
#define INTENTI_MAX_CLAUSES 16
#define INTENTI_CLAUSE_WORDS 16
typedef struct intenti_clausespec {
    uint32_t max_labels;   /* labels one clause may give; 0: clause decoding off */
    char marks[16];        /* boundary characters */
    uint32_t n_marks;
    char words[INTENTI_CLAUSE_WORDS][16]; /* boundary words, lowercase ASCII */
    uint32_t word_len[INTENTI_CLAUSE_WORDS];
    uint32_t n_words;
} intenti_clausespec;
typedef struct intenti_span {
    size_t start, len;
} intenti_span;
/* Cuts s[0..n) into clauses (see clause.c); out has INTENTI_MAX_CLAUSES entries. */
INTENTI_HIDDEN size_t intenti_clauses(const intenti_clausespec *cs, const char *s, size_t n, intenti_span *out);
/* The default boundaries: ",;" and and, then, also. */
INTENTI_HIDDEN void intenti_clausespec_default(intenti_clausespec *cs, uint32_t max_labels);

/* ---- datasets (dataset.c) ---- */
struct intent_dataset {
    char **texts;        /* [n] owned, NUL-terminated */
    uint32_t *text_lens; /* [n] */
    uint32_t *lab_off;   /* [n + 1] offsets into lab_ids */
    uint32_t *lab_ids;   /* label ids of all examples, each example's sorted */
    size_t n, cap, n_lab_ids, cap_lab_ids;
    char **labels;       /* [n_labels] owned names */
    size_t n_labels, cap_labels;
    uint32_t *lab_hash;  /* open addressing over labels: slot -> id + 1, 0 = empty */
    size_t lab_hash_cap; /* power of two */
    char errmsg[512];
};
INTENTI_HIDDEN long intenti_dataset_find_label(const intent_dataset *ds, const char *name, size_t n);
/* Truncates the dataset back to n examples and n_labels labels (undoes a failed read). */
INTENTI_HIDDEN void intenti_dataset_truncate(intent_dataset *ds, size_t n, size_t n_labels);
/* label_names.c: a label name's words (out[2 * n + 1]); whether it has a letter or digit. */
INTENTI_HIDDEN bool intenti_label_words(const char *s, size_t n, char *out);
/* A copy of train, same label ids, with each label's name (but none_label's) as one more
 * example of it. The caller frees *out. */
INTENTI_HIDDEN int intenti_with_label_names(const intent_dataset *train, const char *none_label,
                                            intent_dataset **out);
INTENTI_HIDDEN int intenti_dataset_add_ids(intent_dataset *ds, const char *text, size_t len,
                                           const uint32_t *ids, size_t n_ids);
INTENTI_HIDDEN int intenti_dataset_intern(intent_dataset *ds, const char *name, size_t n,
                                          uint32_t *id);

/* ---- tiny JSON reader for JSONL lines (json.c) ---- */
/* Parses {"text": "...", "labels": ["a", ...]} (other keys ignored). On success text and
 * label strings are written unescaped into out (cap bytes, NUL-separated); returns NULL,
 * else a message. */
#define INTENTI_LINE_LABELS 256 /* labels of one example line */
typedef struct intenti_jsonl {
    const char *text; size_t text_len;
    const char *labels[INTENTI_LINE_LABELS];
    size_t label_lens[INTENTI_LINE_LABELS];
    size_t n_labels;
} intenti_jsonl;
INTENTI_HIDDEN const char *intenti_jsonl_parse(const char *line, size_t len, char *out,
                                               size_t cap, intenti_jsonl *r);

/* ---- model file (model_io.c) ---- */
enum { INTENTI_KV_U32 = 1, INTENTI_KV_U64 = 2, INTENTI_KV_F32 = 3, INTENTI_KV_F64 = 4,
       INTENTI_KV_STR = 5, INTENTI_KV_STRS = 6, INTENTI_KV_U32S = 7 };
enum { INTENTI_DT_F32 = 0, INTENTI_DT_I8 = 1 };

#define INTENTI_FILE_MAJOR 1
#define INTENTI_FILE_MINOR 0
#define INTENTI_HEADER_SIZE 64
#define INTENTI_TRAILER_SIZE 8
#define INTENTI_ALIGN 64

typedef struct intenti_kv {
    const char *key; size_t key_len;
    int type;
    const uint8_t *val; size_t val_len; /* raw little-endian value bytes, validated */
    uint32_t count;                     /* elements for arrays; bytes for STR */
} intenti_kv;

typedef struct intenti_tensor {
    const char *name; size_t name_len;
    int dtype;
    uint32_t n_dims;
    uint32_t dims[2];
    const uint8_t *data; /* 64-byte aligned, inside the file image */
    uint64_t offset, nbytes;
} intenti_tensor;

typedef struct intenti_fview {
    const uint8_t *base; size_t len;
    uint16_t major, minor;
    intenti_kv *kv; uint32_t n_kv;              /* owned array */
    intenti_tensor *tensors; uint32_t n_tensors; /* owned array */
} intenti_fview;

/* Validates a whole file image (header, CRC, metadata, tensor directory) and indexes it.
 * name is used in messages. The view borrows base. */
INTENTI_HIDDEN int intenti_fview_parse(intenti_fview *v, const uint8_t *base, size_t len,
                                       const char *name, intent_error *err);
INTENTI_HIDDEN void intenti_fview_free(intenti_fview *v);
INTENTI_HIDDEN const intenti_kv *intenti_fview_kv(const intenti_fview *v, const char *key, int type);
INTENTI_HIDDEN const intenti_tensor *intenti_fview_tensor(const intenti_fview *v, const char *name);
/* Element i of a STRS kv (validated in parse): pointer and length. */
INTENTI_HIDDEN const char *intenti_kv_str_at(const intenti_kv *kv, uint32_t i, size_t *len);

/* Builds a file image in memory. */
typedef struct intenti_fbuild {
    intenti_buf meta;
    uint32_t n_kv;
    struct intenti_fbuild_t {
        char name[64];
        int dtype;
        uint32_t n_dims, dims[2];
        const void *data;
        size_t nbytes;
    } *t;
    uint32_t n_t, cap_t;
    bool oom;
} intenti_fbuild;
INTENTI_HIDDEN void intenti_fb_u32(intenti_fbuild *b, const char *key, uint32_t v);
INTENTI_HIDDEN void intenti_fb_u64(intenti_fbuild *b, const char *key, uint64_t v);
INTENTI_HIDDEN void intenti_fb_f32(intenti_fbuild *b, const char *key, float v);
INTENTI_HIDDEN void intenti_fb_f64(intenti_fbuild *b, const char *key, double v);
INTENTI_HIDDEN void intenti_fb_str(intenti_fbuild *b, const char *key, const char *s);
INTENTI_HIDDEN void intenti_fb_strs(intenti_fbuild *b, const char *key, const char *const *s, uint32_t n);
INTENTI_HIDDEN void intenti_fb_u32s(intenti_fbuild *b, const char *key, const uint32_t *v, uint32_t n);
/* Copies a metadata entry of another file as it is (any type, known or not). */
INTENTI_HIDDEN void intenti_fb_kv(intenti_fbuild *b, const intenti_kv *kv);
/* Adds a tensor; data is borrowed until intenti_fb_finish. */
INTENTI_HIDDEN void intenti_fb_tensor(intenti_fbuild *b, const char *name, int dtype,
                                      uint32_t rows, uint32_t cols, const void *data);
/* Lays the file out; *out is a 64-byte aligned block (intenti_afree) of *len bytes. */
INTENTI_HIDDEN int intenti_fb_finish(intenti_fbuild *b, uint8_t **out, size_t *len);
INTENTI_HIDDEN void intenti_fb_free(intenti_fbuild *b);

#include "kern.h"

/* ---- the model (model.c) ---- */
typedef struct intenti_layer {
    uint32_t n_in, n_out;
    int dtype;            /* INTENTI_DT_F32 or INTENTI_DT_I8 */
    const float *w;       /* f32: [n_in][n_out], row-major (input-major: rows are axpy'd) */
    const int8_t *q;      /* i8:  [n_in][n_out] */
    const float *qs;      /* i8:  [n_in] row scales: w[i][j] = qs[i] * q[i][j] */
    const float *b;       /* [n_out] */
} intenti_layer;

typedef struct intenti_net {
    uint32_t n_layers;    /* hidden layers + 1 */
    intenti_layer layers[INTENT_MAX_HIDDEN + 1];
} intenti_net;

struct intent_model {
    uint8_t *image;       /* the file image: heap (aligned) or mmap */
    size_t image_len;
    bool mapped;
    intenti_fview view;
    intenti_featspec fs;
    const float *idf;     /* [fs.buckets] */
    uint32_t n_labels;
    const char **labels;  /* [n_labels] NUL-terminated copies, owned */
    char *label_mem;
    const char *none_label; /* owned copy or NULL */
    float threshold, temperature;
    uint32_t max_labels;  /* the decoder answers with at most this many labels */
    uint32_t min_labels;  /* and at least this many (0 or 1) */
    intenti_clausespec clauses;
    uint32_t n_nets;
    intenti_net nets[INTENT_MAX_NETS];
    uint32_t max_width;   /* widest layer output, for scratch sizing */
    intenti_rowinfo *rows[INTENT_MAX_NETS]; /* [fs.buckets] per net, owned */
    /* The batch path (intenti_model_batch): a single net's output layer as float
     * [n_in][n_out] for the kernel set's gemm; NULL where that path is not taken. It is
     * the layer's own rows (float layers) or batch_own, the int8 rows times their scales. */
    const float *batch_w;
    float *batch_own;
};

INTENTI_HIDDEN int intenti_model_from_image(uint8_t *image, size_t len, bool mapped,
                                            const char *name, intent_model **out,
                                            intent_error *err);
/* Forward pass of every net for one featurized text; writes n_labels confidences. */
INTENTI_HIDDEN void intenti_model_forward(const intent_model *m, intenti_feats *f,
                                          float *h0, float *h1, float *conf);
/* Serving path, for a text featurized by intenti_extract (raw counts):
 * intenti_model_prepare drops unseen buckets and applies sublinear tf in place and
 * returns 1 / the tf-idf norm; intenti_model_logits then runs net `net` (the weighting
 * is folded into layer 0) and returns its logits, a pointer into h0 or h1. */
INTENTI_HIDDEN float intenti_model_prepare(const intent_model *m, intenti_feats *f);
/* The batch path, for models with batch_w: intenti_model_hidden runs net 0 up to its
 * last hidden layer for one prepared text and writes that layer's ReLU outputs to out
 * [n_in of the output layer]; intenti_model_batch_out then turns rows of them into
 * confidences, rows at once. */
INTENTI_HIDDEN void intenti_model_hidden(const intent_model *m, intenti_feats *f, float inv_norm, float *h0,
                                         float *h1, float *out);
INTENTI_HIDDEN void intenti_model_batch_out(const intent_model *m, const float *hid, size_t ldh, float *z, size_t rows,
                                            float *conf);
INTENTI_HIDDEN const float *intenti_model_logits(const intent_model *m, uint32_t net, intenti_feats *f,
                                                 float inv_norm, float *h0, float *h1);
INTENTI_HIDDEN int intenti_model_rows(intent_model *m);
/* One net on sparse input (ids, vals, n): returns the logits, which lie in h0 or h1
 * (each at least as wide as the widest layer). */
INTENTI_HIDDEN const float *intenti_net_forward(const intenti_kern *k, const intenti_net *net,
                                                const uint32_t *ids, const float *vals, uint32_t n,
                                                float *h0, float *h1);

/* ---- threads (team.c): fork-join workers for training and evaluation ---- */
typedef struct intenti_team intenti_team;
typedef void (*intenti_team_fn)(void *arg, uint32_t tid, uint32_t n_threads);
INTENTI_HIDDEN int intenti_team_new(uint32_t n_threads, intenti_team **out);
/* Runs fn(arg, tid, n) on every thread (the caller is tid 0) and waits for all. */
INTENTI_HIDDEN void intenti_team_run(intenti_team *t, intenti_team_fn fn, void *arg);
INTENTI_HIDDEN uint32_t intenti_team_size(const intenti_team *t);
INTENTI_HIDDEN void intenti_team_free(intenti_team *t);
INTENTI_HIDDEN uint32_t intenti_n_cpus(void);

/* ---- other runtimes (model_file.c, predict.c, onnx.c) ---- */
/* Writes data to path atomically: a temporary file in the same folder, fsync, rename,
 * fsync of the folder. On failure path is untouched and no temporary file is left. */
INTENTI_HIDDEN int intenti_write_atomic(const char *path, const void *data, size_t len,
                                        intent_error *err);
/* The context's featurizer scratch, fitted to m first; NULL when it cannot grow. */
INTENTI_HIDDEN intenti_feats *intenti_ctx_feats(intent_ctx *c, const intent_model *m);
/* The ONNX file of m in memory: *out (intenti_free) of *len bytes. */
INTENTI_HIDDEN int intenti_onnx_build(const intent_model *m, uint8_t **out, size_t *len,
                                      intent_error *err);

#endif /* INTENT_IMPL_H */
