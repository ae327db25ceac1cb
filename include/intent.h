/*
 * intent.h - learn which labels apply to a short text, and predict them in microseconds.
 *
 * This header is the manual of libintent. The library learns from labelled example
 * commands ("read me the document on my screen" -> FILES, VISION, VOICE) and then tells,
 * for each new utterance, which labels apply, each with a confidence, or that none does
 * (out of scope). It needs libc, libm and pthreads only.
 *
 * BUILD
 *   make                      builds build/libintent.a, build/libintent.so and build/intent
 *   cc app.c -Iinclude build/libintent.a -lm -lpthread
 *   (or: pkg-config --cflags --libs intent)
 *
 * EXAMPLE (error handling shortened)
 *   intent_dataset *ds; intent_model *m; intent_ctx *ctx; intent_error err;
 *   intent_train_opts o; intent_score top[3]; size_t n_top, n_over;
 *   intent_dataset_new(&ds);
 *   if (intent_dataset_read_file(ds, "train.tsv", INTENT_FORMAT_AUTO))
 *       fprintf(stderr, "%s\n", intent_dataset_errmsg(ds));
 *   intent_train_opts_init(&o);
 *   if (intent_train(ds, NULL, &o, &m, &err)) fprintf(stderr, "%s\n", err.message);
 *   intent_model_save(m, "model.intent", &err);
 *   intent_ctx_new(m, &ctx);
 *   intent_predict(m, ctx, "open my files", 13, -1.0f, top, 3, &n_top, &n_over);
 *   for (size_t i = 0; i < n_over; i++)        // labels at or over the threshold
 *       printf("%s %.3f\n", intent_model_label(m, top[i].label), top[i].confidence);
 *   intent_ctx_free(ctx); intent_model_free(m); intent_dataset_free(ds);
 *
 * ERRORS
 *   Every fallible function returns an int status (enum intent_status; 0 is success, the
 *   list only grows). Functions that make a handle, or that work on a handle shared between
 *   threads (a model), take an optional `intent_error *` and write a message there that
 *   names what was wrong and where (file and line, file offset, field). Handles used by one
 *   thread at a time (datasets) keep their last message: intent_dataset_errmsg().
 *   The library never exits, aborts or prints; bad input from a file, a socket or a caller
 *   gives an error status, never a crash.
 *
 * OWNERSHIP
 *   Handles come back through out-parameters and are freed with their *_free function;
 *   *_free(NULL) does nothing. Pointers passed in are borrowed for the duration of the call
 *   unless a function says otherwise. Strings returned by accessors live as long as the
 *   handle they came from.
 *
 * THREADS
 *   A model is immutable once made: any number of threads may predict on one model at the
 *   same time, each with its own intent_ctx (scratch memory, one per thread). Datasets and
 *   contexts are used by one thread at a time. intent_set_allocator() must be called, if at
 *   all, before any other function. To replace a model while threads predict with it, or to
 *   answer on background threads, see "Serving" below (intent_service, intent_pool).
 *
 * LIMITS
 *   Texts: any length; the first INTENT_MAX_TOKENS words and the first INTENT_MAX_FEATURES
 *   distinct n-grams are used; a word longer than INTENT_MAX_WORD code points is cut there. Labels: at most INTENT_MAX_LABELS per model,
 *   names of 1..INTENT_MAX_LABEL_LEN bytes of UTF-8 with no whitespace or commas.
 *   Hidden layers: at most INTENT_MAX_HIDDEN, each 1..INTENT_MAX_WIDTH wide.
 */
#ifndef INTENT_H
#define INTENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(INTENT_STATIC_BUILD)
#define INTENT_API __attribute__((visibility("default")))
#else
#define INTENT_API
#endif

#define INTENT_VERSION_MAJOR 0
#define INTENT_VERSION_MINOR 1
#define INTENT_VERSION_PATCH 0
#define INTENT_VERSION_STRING "0.1.0"

#define INTENT_MAX_TOKENS 256       /* words of a text that are looked at */
#define INTENT_MAX_FEATURES 4096    /* distinct n-grams of a text that are used */
#define INTENT_MAX_WORD 64          /* code points of a word used for char n-grams */
#define INTENT_MAX_LABELS 65535     /* labels of a model */
#define INTENT_MAX_LABEL_LEN 128    /* bytes of a label name */
#define INTENT_MAX_HIDDEN 8         /* hidden layers */
#define INTENT_MAX_WIDTH 65536      /* units in a hidden layer */
#define INTENT_MAX_NETS 16          /* networks in an ensemble */

/* Status codes. 0 is success; new codes are only ever added at the end. */
enum intent_status {
    INTENT_OK = 0,
    INTENT_ERR_ARG = 1,       /* a bad argument from the caller */
    INTENT_ERR_NOMEM = 2,     /* an allocation failed */
    INTENT_ERR_IO = 3,        /* a file could not be opened, read or written */
    INTENT_ERR_PARSE = 4,     /* malformed training or test data */
    INTENT_ERR_FORMAT = 5,    /* malformed, truncated or foreign model file */
    INTENT_ERR_VERSION = 6,   /* model file of a newer major version */
    INTENT_ERR_CHECKSUM = 7,  /* model file damaged: CRC mismatch */
    INTENT_ERR_LIMIT = 8,     /* a documented limit was exceeded */
    INTENT_ERR_EMPTY = 9,     /* nothing to learn from (no examples, no labels) */
    INTENT_ERR_CANCELLED = 10, /* stopped by a callback or a shutdown */
    INTENT_ERR_COMPONENT = 11, /* a component's load or unload callback failed */
    INTENT_ERR_REJECTED = 12,  /* a retrained model scored worse than allowed: not made */
    INTENT_ERR_BUSY = 13,     /* a request queue is full: try again later */
    INTENT_ERR_TIMEOUT = 14,  /* not done within the time given */
    INTENT_ERR_NO_MODEL = 15  /* a service has no model to answer with */
};

/* A short English description of a status code; never NULL. */
INTENT_API const char *intent_status_str(int status);

/* The library's version, "MAJOR.MINOR.PATCH". */
INTENT_API const char *intent_version(void);

/* The kernel set chosen for this CPU at first use: "avx512", "avx2", "neon" or "scalar".
 * Set before the first call, the environment variable INTENT_FORCE_SCALAR=1 forces
 * "scalar", and INTENT_KERNEL=name picks that set if the CPU can run it. */
INTENT_API const char *intent_kernel_name(void);

/* Details of a failure, filled by functions that take one (may be passed as NULL).
 * status repeats the return code; message is NUL-terminated English naming the cause. */
typedef struct intent_error {
    int status;
    char message[512];
} intent_error;

/* ------------------------------------------------------------------------------------ */
/* Allocation hook                                                                       */

/* All memory the library takes goes through these three functions. realloc(NULL, n) must
 * act as malloc; free(NULL) must be harmless. user is passed back unchanged. */
typedef struct intent_allocator {
    void *(*malloc_fn)(size_t size, void *user);
    void *(*realloc_fn)(void *ptr, size_t size, void *user);
    void (*free_fn)(void *ptr, void *user);
    void *user;
} intent_allocator;

/* Replaces the allocator (NULL restores libc's). Process-wide: call it before anything
 * else, from one thread, and never while handles made with the old one are alive. */
INTENT_API void intent_set_allocator(const intent_allocator *a);

/* ------------------------------------------------------------------------------------ */
/* Datasets: labelled examples                                                           */

typedef struct intent_dataset intent_dataset;

/* File formats of labelled examples, one example a line, UTF-8:
 *   TSV       "labels<TAB>text", labels joined by ','            (.tsv)
 *   FASTTEXT  "__label__a __label__b text"                       (.ft, .fasttext)
 *   JSONL     {"text": "...", "labels": ["a", "b"]}              (.jsonl, .json)
 * AUTO picks by the file's extension, else by its first non-blank line. */
enum intent_format {
    INTENT_FORMAT_AUTO = 0,
    INTENT_FORMAT_TSV = 1,
    INTENT_FORMAT_FASTTEXT = 2,
    INTENT_FORMAT_JSONL = 3
};

INTENT_API int intent_dataset_new(intent_dataset **out);
INTENT_API void intent_dataset_free(intent_dataset *ds);

/* Appends one example. text: UTF-8, len bytes, not empty. labels: n_labels names (at least
 * one), each valid per LIMITS; repeated names count once. Copies everything. */
INTENT_API int intent_dataset_add(intent_dataset *ds, const char *text, size_t len,
                                  const char *const *labels, size_t n_labels);

/* Appends every example of a file (streamed: any size, any line length up to 16 MiB).
 * Blank lines are skipped. On a malformed line nothing of the file is kept and
 * intent_dataset_errmsg() says "FILE:LINE: what is wrong". Returns INTENT_ERR_PARSE,
 * INTENT_ERR_IO or INTENT_ERR_NOMEM on failure. */
INTENT_API int intent_dataset_read_file(intent_dataset *ds, const char *path, int format);

/* As intent_dataset_read_file, from memory; name is used in messages. AUTO looks at
 * the content only (and at name's extension, if name has one). */
INTENT_API int intent_dataset_read_mem(intent_dataset *ds, const char *name, const char *data,
                                       size_t len, int format);

INTENT_API size_t intent_dataset_size(const intent_dataset *ds);
INTENT_API size_t intent_dataset_n_labels(const intent_dataset *ds);
/* Name of label i (0 <= i < n_labels), in order of first appearance; NULL if out of range. */
INTENT_API const char *intent_dataset_label(const intent_dataset *ds, size_t i);
/* Example i: its text (NUL-terminated, *len bytes) and its label ids (sorted, *n_labels of
 * them). Returns NULL if i is out of range. Pointers live until the dataset changes. */
INTENT_API const char *intent_dataset_example(const intent_dataset *ds, size_t i, size_t *len,
                                              const uint32_t **label_ids, size_t *n_labels);
/* The last error message of the dataset, "" if none. */
INTENT_API const char *intent_dataset_errmsg(const intent_dataset *ds);

/* ------------------------------------------------------------------------------------ */
/* Training                                                                              */

typedef struct intent_model intent_model;

/* What one training epoch did, passed to the progress callback. */
typedef struct intent_epoch_report {
    uint32_t epoch;        /* 1-based */
    uint32_t net;          /* which network of an ensemble, 0-based */
    double train_loss;     /* mean binary cross-entropy a label, estimated on every 8th
                              training example (the loss is not needed for learning) */
    double dev_loss;       /* on the dev set (given or held out) */
    double dev_score;      /* exact label-set accuracy on the dev set, 0..1 */
    double elapsed_s;      /* since training started */
    int best;              /* 1 if this epoch is the best so far (kept) */
    /* where the time went so far, seconds (they add up to about elapsed_s) */
    double t_features_s;   /* normalizing, hashing, tf-idf of train and dev texts */
    double t_backprop_s;   /* forward + backward passes over training examples */
    double t_update_s;     /* gradient sums and Adam updates */
    double t_eval_s;       /* scoring the dev set after each epoch */
    int refit;             /* 1 in the refit pass (see intent_train_opts.refit): no dev
                              scores then (dev_loss and dev_score are -1) */
} intent_epoch_report;

/* Return non-zero to stop training (intent_train then returns INTENT_ERR_CANCELLED). */
typedef int (*intent_progress_fn)(const intent_epoch_report *r, void *user);

/* Training settings. Always start from intent_train_opts_init(), then change fields. */
typedef struct intent_train_opts {
    /* network */
    uint32_t hidden[INTENT_MAX_HIDDEN]; /* hidden layer widths; default 96 */
    uint32_t n_hidden;                  /* 0..INTENT_MAX_HIDDEN */
    uint32_t n_nets;                    /* networks averaged (ensemble), default 1 */
    /* optimizer */
    uint32_t epochs;        /* at most this many passes (default 50) */
    uint32_t patience;      /* stop after this many epochs without dev gain (default 4;
                               a gain: 2% of the dev errors left fewer) */
    float lr;               /* Adam learning rate (default 0.003) */
    uint32_t batch;         /* examples per step (default 32) */
    float dropout;          /* on hidden activations in training (default 0.3) */
    float input_dropout;    /* share of input n-grams dropped per example in training
                               (default 0) */
    float weight_decay;     /* decoupled (AdamW) weight decay per unit of lr (default 0) */
    float label_smoothing;  /* gold targets are 1 - this (default 0) */
    float softmax_weight;   /* weight of an added softmax cross-entropy over the labels,
                               which sharpens their ranking (default 0) */
    float average;          /* score and keep an average of the weights at the end of each
                               epoch, each new epoch weighing 1 / (1 + average): about
                               this many epochs back (0 = the weights themselves; default 1) */
    float dev_fraction;     /* held out of train when no dev set is given (default 0.1),
                               stratified by label; every label keeps a training example */
    int refit;              /* with a held-out slice: after early stopping, train again on
                               all examples for the best number of epochs (default 1) */
    int label_names;        /* each label's name also trains as one example of it, cut into
                               words at '_', '-', '.', '/', ':' and camel case ("PlayMusic",
                               "play_music" -> "play music"); not the none label. With 10
                               examples a label on clinc150 a point of in-scope accuracy,
                               with 100 nothing (default 1) */
    uint64_t seed;          /* everything random derives from it (default 1) */
    uint32_t threads;       /* worker threads; 0 = all cores (default 0) */
    /* featurizer */
    uint32_t buckets;       /* hash buckets of the sparse input (default 8192) */
    uint32_t word_ngrams;   /* word n-grams 1..word_ngrams (default 2) */
    uint32_t char_min;      /* char n-grams within words, char_min..char_max code points */
    uint32_t char_max;      /* (default 2..5; 0,0 turns them off) */
    int sublinear_tf;       /* 1 + log(tf) instead of tf (default 1) */
    uint32_t min_count;     /* n-grams in fewer training examples are ignored (default 2) */
    int strip_accents;      /* fold "café" to "cafe" (default 1) */
    /* decoding */
    const char *none_label; /* examples with this label train as "no label"; NULL: none */
    float threshold;        /* stored decision threshold (default 0.5) */
    int tune_threshold;     /* pick the threshold on the dev set (default 1) */
    int calibrate;          /* fit a temperature on the dev set so confidences are
                               calibrated (default 1) */
    int clause_decoding;    /* multi-label data: read compound commands clause by clause
                               (see intent_predict) (default 1) */
    /* reporting */
    intent_progress_fn progress; /* called after each epoch; may be NULL */
    void *progress_user;
} intent_train_opts;

INTENT_API void intent_train_opts_init(intent_train_opts *o);

/* Named settings: "default" (as intent_train_opts_init: one hidden layer of 96, 8192
 * buckets, lr 0.003, n-grams seen twice or more; the most accurate we measured, see the
 * README), "original" (the design intent started from: hidden 256,128,64, lr 0.001,
 * 32768 buckets), "ensemble" (the default, three networks averaged). Overwrites all of o.
 * Returns INTENT_ERR_ARG for an unknown name. */
INTENT_API int intent_train_opts_preset(intent_train_opts *o, const char *name);

/* Learns a model from train. dev (may be NULL) is used for early stopping and threshold
 * tuning; without it a seeded dev_fraction of train is held out. Same data, same options
 * and same thread count give a byte-identical model file. Returns INTENT_ERR_ARG for bad
 * options, INTENT_ERR_EMPTY when there is nothing to learn, INTENT_ERR_NOMEM,
 * INTENT_ERR_CANCELLED. */
INTENT_API int intent_train(const intent_dataset *train, const intent_dataset *dev,
                            const intent_train_opts *o, intent_model **out, intent_error *err);

/* ------------------------------------------------------------------------------------ */
/* Retraining: learn from feedback, starting from a model                                */

typedef struct intent_retrain_opts {
    intent_train_opts train;  /* epochs, patience, lr, batch, dropout, seed, threads,
                                 progress...; the network, the featurizer and the none
                                 label always come from the base model */
    uint32_t feedback_repeat; /* each feedback example counts this many times, in training
                                 and in the early-stopping score (default 4) */
    float max_drop;           /* refuse when held-out exact-set accuracy falls by more than
                                 this, 0..1 (default 0.02, two points) */
} intent_retrain_opts;

/* Defaults: intent_train_opts_init's, with patience 3 and no weight averaging (it would
 * lag behind the corrections), feedback_repeat 4, max_drop 0.02. */
INTENT_API void intent_retrain_opts_init(intent_retrain_opts *o);

typedef struct intent_retrain_report {
    size_t n_feedback, n_data;  /* examples of each kind used */
    size_t n_heldout;           /* examples both models were scored on */
    size_t n_new_labels;        /* labels the base model did not have */
    double base_score, new_score; /* exact-set accuracy of each on the held-out examples */
    double feedback_score;      /* the new model's exact-set accuracy on the feedback */
    int accepted;
} intent_retrain_report;

/* Makes a new model from base that also knows the feedback examples. Training starts
 * from base's weights (warm start) on the feedback (repeated feedback_repeat times) and,
 * when given, the original data (data, may be NULL), so the rest is not forgotten;
 * labels that only feedback or data carry are added. The decision threshold and
 * temperature are kept from base. A slice of data (dev_fraction, seeded) is held out;
 * training stops when that slice and the feedback stop improving. Both models are scored
 * on the slice (without data, on the feedback, which then says whether the feedback was
 * learned, not whether anything was forgotten); if the new one is worse by more than
 * max_drop and by more than two examples (so that on a small slice a single miss does not
 * refuse), no model is made: INTENT_ERR_REJECTED, with err saying the scores. rep (may
 * be NULL) gets the figures either way. base is only read; it may be served meanwhile. */
INTENT_API int intent_retrain(const intent_model *base, const intent_dataset *feedback, const intent_dataset *data,
                              const intent_retrain_opts *o, intent_model **out, intent_retrain_report *rep,
                              intent_error *err);

/* ------------------------------------------------------------------------------------ */
/* Models: load, save, describe                                                          */

/* Loads a model file, with mmap where possible. A truncated, damaged, foreign or newer
 * file gives INTENT_ERR_FORMAT, INTENT_ERR_CHECKSUM or INTENT_ERR_VERSION and a message
 * naming the file and what is wrong, never a crash. */
INTENT_API int intent_model_load(const char *path, intent_model **out, intent_error *err);

/* Loads a model from a buffer of len bytes; the buffer is copied. */
INTENT_API int intent_model_load_mem(const void *data, size_t len, intent_model **out,
                                     intent_error *err);

/* Writes the model atomically: to a temporary file in the same folder, fsynced, then
 * renamed over path. On failure path is untouched. */
INTENT_API int intent_model_save(const intent_model *m, const char *path, intent_error *err);

/* The model file's bytes (what save writes): *data points into the model, *len bytes. */
INTENT_API int intent_model_bytes(const intent_model *m, const void **data, size_t *len);

INTENT_API void intent_model_free(intent_model *m);

/* Makes an int8 copy of m: every layer's weights (the first layer's table, buckets x
 * width, is nearly all of a model) stored as int8 with one float scale per row (w =
 * scale * q, scale = max|row| / 127); biases and idf stay float. About 3.6x smaller and
 * faster to answer; accuracy usually within a few tenths of a point (measure with
 * intent_evaluate). m is unchanged. */
INTENT_API int intent_model_quantize(const intent_model *m, intent_model **out, intent_error *err);

INTENT_API size_t intent_model_n_labels(const intent_model *m);
/* Name of label i; NULL if out of range. */
INTENT_API const char *intent_model_label(const intent_model *m, size_t i);
/* Id of the label called name, or -1. */
INTENT_API long intent_model_label_id(const intent_model *m, const char *name);
/* The none label the model was trained with, or NULL. */
INTENT_API const char *intent_model_none_label(const intent_model *m);
/* The stored decision threshold. */
INTENT_API float intent_model_threshold(const intent_model *m);

/* Writes a readable description of the model file (header, metadata, tensors) into buf
 * (cap bytes, always NUL-terminated when cap > 0). Returns the length it needed. */
INTENT_API size_t intent_model_describe(const intent_model *m, char *buf, size_t cap);

/* ------------------------------------------------------------------------------------ */
/* Prediction                                                                            */

/* Per-thread scratch memory for prediction. Make one per thread; it serves any model.
 * It is sized for m at creation so predictions allocate nothing; a later model with
 * larger layers makes it grow once. */
typedef struct intent_ctx intent_ctx;
INTENT_API int intent_ctx_new(const intent_model *m, intent_ctx **out);
INTENT_API void intent_ctx_free(intent_ctx *ctx);

typedef struct intent_score {
    uint32_t label;    /* label id, see intent_model_label() */
    float confidence;  /* 0..1, independent per label (multi-label sigmoid) */
} intent_score;

/* Predicts text (UTF-8, len bytes; invalid bytes are read as separators).
 * top: caller array of cap entries, filled with the min(cap, n_labels) most confident
 *      labels, highest first; *n_top says how many.
 * *n_over: how many labels apply: those with confidence >= threshold (of all labels, not
 *      only those in top), but never more than the most labels one training example had
 *      (a model trained on single-label data answers with one label at most), and, for
 *      a model trained without a none label (so every example had a label), at least
 *      one: its most confident. 0 means out of scope. The labels that apply are top[0 .. min(n_over, n_top)).
 * Compound commands: a model trained on multi-label data cuts a text into clauses at
 * ',' ';' and the words "and", "then", "also"; with two or more clauses, each clause gives
 * its labels over the threshold (at most as many as one clause had in training), and the
 * answer is their union (the whole text's labels if no clause gives any). Confidences
 * are then the best of the whole text and its clauses. A text of one clause gets at most
 * as many labels as one clause had in training, too.
 * threshold < 0 uses the model's stored threshold.
 * Allocates nothing once ctx is sized for m. Thread-safe on a shared model. */
INTENT_API int intent_predict(const intent_model *m, intent_ctx *ctx, const char *text,
                              size_t len, float threshold, intent_score *top, size_t cap,
                              size_t *n_top, size_t *n_over);

/* Confidences of every label for n texts: conf is [n][n_labels], row-major.
 * texts[i] has lens[i] bytes. The output layer runs for up to 16 texts at once (one
 * read of its weights for all of them; models of one network with a hidden layer, on
 * CPUs with SIMD kernels): a text's row never depends on the other texts of the batch,
 * and agrees with intent_predict's confidences within float rounding. Allocates nothing
 * once ctx is sized for m. */
INTENT_API int intent_predict_batch(const intent_model *m, intent_ctx *ctx,
                                    const char *const *texts, const size_t *lens, size_t n,
                                    float *conf);

/* Picks labels from one row of confidences, as intent_predict does for a text it reads
 * whole (it knows nothing of the text's clauses). */
INTENT_API int intent_decode(const intent_model *m, const float *conf, float threshold,
                             intent_score *top, size_t cap, size_t *n_top, size_t *n_over);

/* ------------------------------------------------------------------------------------ */
/* Evaluation                                                                            */

typedef struct intent_label_eval {
    uint32_t support;       /* gold examples carrying the label */
    uint32_t tp, fp, fn;
    double precision, recall, f1;
} intent_label_eval;

typedef struct intent_eval {
    size_t n_examples;
    double exact;          /* predicted label set == gold label set */
    double top1;           /* most confident label is one of the gold labels (in-scope
                              examples only when the model has a none label) */
    double micro_f1, macro_f1;
    double ece;            /* expected calibration error, 15 equal-width bins, of the top
                              label's confidence against whether it is a gold label */
    /* with a none label (gold examples carrying it are out of scope): */
    int has_none;
    size_t n_in_scope, n_out_of_scope;
    double in_scope_acc;   /* top label right and at or over the threshold */
    double oos_recall;     /* out-of-scope examples given no label */
    double oos_auroc;      /* max confidence separating in-scope from out-of-scope */
    float threshold;       /* the threshold used */
    size_t n_unknown;      /* gold labels the model does not know (counted as misses) */
    size_t n_labels;       /* the model's labels: per_label has this many entries */
    intent_label_eval *per_label; /* owned; free with intent_eval_free */
} intent_eval;

/* Scores m on ds. threshold < 0 uses the model's. threads 0 = all cores. */
INTENT_API int intent_evaluate(const intent_model *m, const intent_dataset *ds, float threshold,
                               uint32_t threads, intent_eval *out, intent_error *err);
INTENT_API void intent_eval_free(intent_eval *e);

/* ------------------------------------------------------------------------------------ */
/* Feedback log: corrections to learn from, kept safe through crashes                    */

/* A feedback log is an append-only file of examples (a text and its correct labels) that
 * users or an application hand back, to be read into a dataset for retraining. Each record
 * is written with one write() and made durable (fdatasync) before intent_feedback_append
 * returns, and carries a CRC-32C, so a crash (kill -9, power loss) at any moment leaves the
 * log readable up to its last whole record; a record cut short by the crash (a "torn
 * tail") is detected, skipped by readers and cut off by the next writer. The format is
 * described byte by byte in src/feedback.c and docs/FEEDBACK.md.
 *
 * Several threads may append through one handle (appends are serialized, records never
 * interleave); several handles and several processes may append to one log (each append
 * takes an flock on the file and first catches up with what the others wrote). Readers
 * may run while writers append: they see the whole records written before they started.
 * A handle must not be used on both sides of a fork(); open one in the child instead.
 *
 * Status codes, besides INTENT_ERR_ARG, INTENT_ERR_NOMEM and INTENT_ERR_IO:
 *   INTENT_ERR_FORMAT    not a feedback log (bad magic or header), or a record whose
 *                        checksum holds but whose content is invalid
 *   INTENT_ERR_VERSION   a log of a newer major version
 *   INTENT_ERR_CHECKSUM  a damaged record with whole records after it: damage in the
 *                        middle of the log, which is never mistaken for a torn tail
 *   INTENT_ERR_LIMIT     a record over INTENT_FEEDBACK_MAX_RECORD bytes, or over
 *                        INTENT_FEEDBACK_MAX_LABELS labels
 * Messages name the log and the byte offset of the bad record. */

#define INTENT_FEEDBACK_MAX_RECORD (1u << 20) /* bytes of one record, text included */
#define INTENT_FEEDBACK_MAX_LABELS 256        /* labels of one record */

typedef struct intent_feedback intent_feedback;

/* Opens the log at path for appending, creating it (mode 0644 less the umask) with its
 * header if it does not exist; the header is fsynced, and so is the folder, when it is
 * written. An existing log is scanned to its last whole record (O(size of the log)); a
 * torn tail after it is cut off (ftruncate, fdatasync) and counted in
 * intent_feedback_stats.torn_bytes. A file shorter than the header that is a beginning of
 * one (a creation cut short) is completed. A log damaged in the middle is left untouched
 * and refused (INTENT_ERR_CHECKSUM; INTENT_ERR_FORMAT for a record whose checksum holds
 * but whose content is invalid): move it aside; intent_feedback_read still reads the
 * records before the damage.
 * *out: the handle, NULL on failure; close it with intent_feedback_close. path is copied.
 * err: may be NULL. */
INTENT_API int intent_feedback_open(const char *path, intent_feedback **out, intent_error *err);

/* Appends one record: text (UTF-8, len bytes, not blank, no NUL byte) and its correct
 * labels (labels[0 .. n_labels), 1..INTENT_FEEDBACK_MAX_LABELS names, each valid per
 * LIMITS at the top, kept in the order given), stamped with the current time. Everything
 * is validated before the file is touched (INTENT_ERR_ARG, INTENT_ERR_LIMIT). The record
 * is written with one write() at the end of the last whole record and fdatasynced; when
 * this returns INTENT_OK it is durable. When it returns an error the record is not in the
 * log: a partial write is cut off again; if even that or the fdatasync fails, the handle
 * refuses further appends (INTENT_ERR_IO) and the log must be reopened, which repairs it.
 * Before writing it checks what other writers added since this handle last looked, and
 * cuts a torn tail a crashed one left; older parts of the log are checked by
 * intent_feedback_open and by readers, not again on each append.
 * Thread-safe: appends on one handle are serialized by a mutex (and across handles and
 * processes by an flock), each a few hundred microseconds on a disk: one fdatasync each.
 * Borrows text and labels for the call. err: may be NULL; the message is also kept in
 * the handle (intent_feedback_errmsg). */
INTENT_API int intent_feedback_append(intent_feedback *log, const char *text, size_t len,
                                      const char *const *labels, size_t n_labels,
                                      intent_error *err);

/* What a handle knows of its log. */
typedef struct intent_feedback_stats {
    uint64_t n_records;  /* whole records in the log, as of the handle's last open or append */
    uint64_t bytes;      /* header and whole records: where the next record goes */
    uint64_t torn_bytes; /* bytes of torn tails this handle cut off (at open, or before an
                            append when another writer had crashed) */
} intent_feedback_stats;

/* Fills *out. Thread-safe. Returns INTENT_ERR_ARG for NULL arguments. */
INTENT_API int intent_feedback_get_stats(intent_feedback *log, intent_feedback_stats *out);

/* The message of the handle's last failed call, "" if none. The buffer belongs to the
 * handle and is rewritten by the next failure: with several threads appending, read the
 * intent_error each thread passes instead. */
INTENT_API const char *intent_feedback_errmsg(const intent_feedback *log);

/* Closes the log and frees the handle (records are already durable). NULL is fine. No
 * append may be running on the handle. */
INTENT_API void intent_feedback_close(intent_feedback *log);

/* One record as a reader sees it. Pointers live until the callback returns. */
typedef struct intent_feedback_record {
    const char *text;          /* UTF-8, NUL-terminated, len bytes */
    size_t len;
    const char *const *labels; /* n_labels NUL-terminated names, in the order appended */
    size_t n_labels;
    uint64_t time_ms;          /* when it was appended, ms since 1970-01-01 UTC */
    uint64_t offset;           /* byte offset of the record in the log */
} intent_feedback_record;

/* Called for each whole record, in log order. Return non-zero to stop. */
typedef int (*intent_feedback_fn)(const intent_feedback_record *r, void *user);

/* Reads the log at path from the start and calls fn for each whole record. Reading
 * stops at the end of the log as it was when the scan began (later appends are not
 * seen), or at the first record that is not whole:
 *   - a torn tail (no whole record after it) ends the log: INTENT_OK, and its length in
 *     *n_skipped (0 normally; a log being created counts as empty);
 *   - damage with whole records after it gives INTENT_ERR_CHECKSUM (or INTENT_ERR_FORMAT)
 *     and a message naming its byte offset; *n_skipped is the bytes from there to the end.
 * The records before the stop have been passed to fn in every case. fn returning non-zero
 * stops the scan with INTENT_ERR_CANCELLED. Memory: a 256 KiB read buffer, or one of the
 * largest record (1 MiB at most). The log is read with pread (no mmap), so a writer
 * cutting a torn tail meanwhile is safe. Scans share nothing: any number may run at once.
 * *n_records: the whole records fn returned 0 for. n_records, n_skipped, err: may be NULL. */
INTENT_API int intent_feedback_scan(const char *path, intent_feedback_fn fn, void *user,
                                    uint64_t *n_records, uint64_t *n_skipped,
                                    intent_error *err);

/* Appends every whole record of the log at path to ds (text and labels; the time is not
 * kept), as intent_feedback_scan reads them, so a model can be retrained on it directly.
 * *n_read: examples added (also on failure: those before the stop stay in ds).
 * *n_skipped: as for intent_feedback_scan. Errors of intent_feedback_scan, and those of
 * intent_dataset_add (INTENT_ERR_NOMEM, INTENT_ERR_LIMIT). n_read, n_skipped, err: may be
 * NULL. ds is used by this thread only during the call. */
INTENT_API int intent_feedback_read(const char *path, intent_dataset *ds, size_t *n_read,
                                    uint64_t *n_skipped, intent_error *err);

/* ------------------------------------------------------------------------------------ */
/* Components: what must be loaded to answer a command                                   */
/*
 * A registry of components (models, services, devices) that an assistant loads on demand:
 * each has a name, the labels that need it, the components it depends on, a memory cost,
 * an idle timeout, and load/unload callbacks. Given the labels of a command, the registry
 * answers with a plan: the components required (with their dependencies, in load order),
 * which are loaded already, what to load, and which idle components to unload, least
 * recently used first, to stay within a memory budget.
 *
 *   intent_components *reg; intent_plan p; intent_error err;
 *   intent_components_new(512ull << 20, &reg);          // 512 MiB budget
 *   intent_component_spec s = {0};
 *   s.name = "camera"; s.memory = 64ull << 20; s.load = start; s.unload = stop;
 *   intent_components_add(reg, &s);
 *   const char *lab[] = {"VISION"}, *dep[] = {"camera"};
 *   s.name = "vision"; s.labels = lab; s.n_labels = 1; s.depends = dep; s.n_depends = 1;
 *   intent_components_add(reg, &s);
 *   if (intent_components_validate(reg)) fprintf(stderr, "%s\n", intent_components_errmsg(reg));
 *   if (intent_components_acquire(reg, lab, 1, &p, &err) == INTENT_OK) {
 *       ... use camera and vision ...
 *       intent_components_release(reg, &p);
 *   }
 *   intent_plan_free(&p);
 *   intent_components_free(reg);
 *
 * LIFE OF A COMPONENT
 *   unloaded -> loading -> loaded -> unloading -> unloaded. Load and unload callbacks run
 *   outside the registry's lock, in the calling thread. A caller that needs a component
 *   another thread is loading waits for that load instead of starting a second one, and
 *   shares its outcome. A failed load (the callback returned non-zero) leaves the component
 *   unloaded, so a later acquire tries again. Components held by an acquire are never
 *   unloaded; the others are "idle" from their last release.
 *
 * THE BUDGET
 *   A target, not a hard cap: to make room, an acquire unloads idle components, least
 *   recently used first, only as many as needed; components idle past their timeout are
 *   unloaded whenever a plan is carried out. If the components held by other callers leave
 *   too little room, the acquire loads anyway and goes over the budget until they are
 *   released (a later acquire or intent_components_unload_idle() brings memory back down);
 *   only a command whose own components exceed the budget is refused (INTENT_ERR_LIMIT).
 *
 * THREADS
 *   Build the registry (new, set_clock, add, validate) from one thread. Once validated, any
 *   number of threads may plan, acquire, release, set_loaded and unload_idle at the same
 *   time. Callbacks must not call back into the same registry.
 *
 * LIMITS
 *   At most INTENT_MAX_COMPONENTS components, each of at most INTENT_MAX_COMPONENT_MEMORY
 *   bytes (so sums never overflow); names, labels and dependency names follow the label
 *   rules (1..INTENT_MAX_LABEL_LEN bytes of UTF-8, no whitespace or commas).
 */

#define INTENT_MAX_COMPONENTS 4096
#define INTENT_MAX_COMPONENT_MEMORY (1ull << 52) /* bytes: 4 PiB */

typedef struct intent_components intent_components;

/* Loads or unloads one component. name is the component's name; user is the spec's user
 * pointer. Return 0 on success; any other value is a failure, reported to the caller. */
typedef int (*intent_component_fn)(const char *name, void *user);

/* A monotonic clock in milliseconds (the registry's default reads CLOCK_MONOTONIC). */
typedef uint64_t (*intent_clock_fn)(void *user);

/* One component, as given to intent_components_add (everything is copied). */
typedef struct intent_component_spec {
    const char *name;                 /* unique in the registry */
    const char *const *labels;        /* the labels that need it; n_labels of them (may be 0:
                                         a component only others depend on) */
    size_t n_labels;
    const char *const *depends;       /* names of components that must be loaded first */
    size_t n_depends;
    uint64_t memory;                  /* bytes it takes once loaded */
    uint64_t idle_timeout_ms;         /* unload after this long unused; 0 = never for idleness */
    intent_component_fn load, unload; /* either may be NULL (nothing to do: always succeeds) */
    void *user;                       /* passed to load and unload */
} intent_component_spec;

/* States of a component (intent_component_info.state). */
enum intent_component_state {
    INTENT_COMPONENT_UNLOADED = 0,
    INTENT_COMPONENT_LOADING = 1,
    INTENT_COMPONENT_LOADED = 2,
    INTENT_COMPONENT_UNLOADING = 3
};

/* Why a component is in a plan's to_unload list. */
enum intent_unload_reason {
    INTENT_UNLOAD_TIMEOUT = 1, /* idle longer than its idle timeout */
    INTENT_UNLOAD_BUDGET = 2   /* least recently used, unloaded to make room */
};

/* An answer of plan or acquire. Components are named by id (0 .. count-1, in the order
 * they were added; intent_components_name() gives the name). Every list is in the order
 * it should be carried out. The caller owns it: free with intent_plan_free(), also after a
 * failed call. */
typedef struct intent_plan {
    uint32_t *required;  size_t n_required;  /* needed by the labels, with every dependency,
                                                dependencies first (deterministic) */
    uint32_t *loaded;    size_t n_loaded;    /* of required, those loaded already */
    uint32_t *to_load;   size_t n_to_load;   /* of required, those to load, in load order */
    uint32_t *to_unload; size_t n_to_unload; /* idle components not required, least
                                                recently used first */
    uint8_t *unload_why;                     /* [n_to_unload] enum intent_unload_reason */
    /* set by acquire only: */
    uint32_t *load_failed; size_t n_load_failed;     /* required ones that did not load */
    int *load_rc;        /* [n_load_failed] what the failed load callback returned (this
                            caller's, or that of another caller's load it waited for), or 0
                            when it was not called because a dependency did not load */
    uint32_t *unload_failed; size_t n_unload_failed; /* unload callback failed: still loaded */
    uint64_t memory_before;  /* bytes loaded when the plan was made */
    uint64_t memory_after;   /* plan: bytes loaded once it is carried out;
                                acquire: bytes loaded when it returned */
    uint64_t budget;         /* the registry's budget (0 = none) */
    int held;                /* acquire: 1 while the required components are held for the
                                caller (until intent_components_release) */
} intent_plan;

/* Details of one component, as intent_components_info() reports them. */
typedef struct intent_component_info {
    const char *name;
    const char *const *labels; size_t n_labels;   /* live as long as the registry */
    const char *const *depends; size_t n_depends;
    uint64_t memory, idle_timeout_ms;
    int state;               /* enum intent_component_state */
    uint32_t holders;        /* acquires currently holding it */
    uint64_t last_used_ms;   /* clock time of its last load, acquire or release */
} intent_component_info;

/* Makes an empty registry. budget: bytes that loaded components should stay within
 * (0 = no budget). Returns INTENT_ERR_ARG (out is NULL) or INTENT_ERR_NOMEM. */
INTENT_API int intent_components_new(uint64_t budget, intent_components **out);

/* Frees the registry. Calls no unload callback: unload what must be unloaded first (no
 * acquire may be in progress). NULL is fine. */
INTENT_API void intent_components_free(intent_components *c);

/* Replaces the clock (NULL restores CLOCK_MONOTONIC), e.g. with a fake one in tests.
 * Before the registry is shared between threads. */
INTENT_API void intent_components_set_clock(intent_components *c, intent_clock_fn now_ms,
                                            void *user);

/* Adds a component (copies the spec's strings and arrays). Returns INTENT_ERR_ARG for a
 * bad or duplicate name, a bad label or dependency name, or a registry already validated;
 * INTENT_ERR_LIMIT past INTENT_MAX_COMPONENTS or INTENT_MAX_COMPONENT_MEMORY;
 * INTENT_ERR_NOMEM. On failure the registry is unchanged and intent_components_errmsg()
 * says "component NAME: what is wrong". Dependencies may name components added later.
 * Not thread-safe. */
INTENT_API int intent_components_add(intent_components *c, const intent_component_spec *spec);

/* Checks the registry and fixes its order: every dependency must name a component and
 * dependencies must not form a cycle. Returns INTENT_ERR_ARG, with errmsg saying
 * "component NAME: unknown dependency "X"" or "component NAME: dependency cycle NAME ->
 * ... -> NAME", or INTENT_ERR_NOMEM. After success no component can be added; plan and
 * acquire need it, and calling it again does nothing. Not thread-safe. */
INTENT_API int intent_components_validate(intent_components *c);

/* The last message of add or validate, "" if none. Lives until the next add/validate. */
INTENT_API const char *intent_components_errmsg(const intent_components *c);

INTENT_API size_t intent_components_count(const intent_components *c);
/* Name of component id; NULL if out of range. */
INTENT_API const char *intent_components_name(const intent_components *c, size_t id);
/* Id of the component called name, or -1. */
INTENT_API long intent_components_find(const intent_components *c, const char *name);
/* A snapshot of component id (state, holders and last use may change right after).
 * Returns INTENT_ERR_ARG if id is out of range. Thread-safe. */
INTENT_API int intent_components_info(intent_components *c, size_t id,
                                      intent_component_info *out);
/* Bytes taken by loaded components now (one being unloaded counts until its unload
 * callback returns). Thread-safe. */
INTENT_API uint64_t intent_components_memory(intent_components *c);

/* Records that component id is loaded already (e.g. it was started outside this process)
 * without calling its load callback, last used at clock time last_used_ms (which orders
 * the LRU and starts the idle timeout). Returns INTENT_ERR_ARG if id is out of range or the
 * component is not unloaded. Thread-safe once validated. */
INTENT_API int intent_components_set_loaded(intent_components *c, size_t id,
                                            uint64_t last_used_ms);

/* Plans a command whose labels are labels[0..n_labels) (names; unknown names need no
 * component). Changes nothing and calls no callback; the plan reflects this moment only.
 * to_unload holds the idle components past their timeout and as many more as the budget
 * needs, least recently used first. memory_after > budget when it cannot fit.
 * Returns INTENT_ERR_ARG (not validated, NULL arguments) or INTENT_ERR_NOMEM; err (may be
 * NULL) gets the message. Thread-safe. */
INTENT_API int intent_components_plan(intent_components *c, const char *const *labels,
                                      size_t n_labels, intent_plan *out, intent_error *err);

/* As intent_components_plan, for the labels scores[0..n) of model m (e.g. the n_over
 * labels intent_predict says apply). */
INTENT_API int intent_components_plan_scores(intent_components *c, const intent_model *m,
                                             const intent_score *scores, size_t n,
                                             intent_plan *out, intent_error *err);

/* Carries out the plan for labels[0..n_labels): holds the required components (so no one
 * unloads them), unloads the idle ones chosen (those past their timeout, and the least
 * recently used ones the budget needs), then loads the missing ones in load order, each
 * once however many threads need it at the same time. *out describes what was decided and
 * what failed.
 * Returns:
 *   INTENT_OK            every required component is loaded and held for the caller:
 *                        call intent_components_release(c, out) when done with them.
 *   INTENT_ERR_COMPONENT a load failed (out->load_failed; components depending on it are
 *                        not loaded). Nothing stays held; those that loaded stay loaded.
 *                        A later call tries the failed ones again.
 *   INTENT_ERR_LIMIT     the required components alone exceed the budget; nothing done.
 *   INTENT_ERR_ARG, INTENT_ERR_NOMEM.
 * A failed unload callback does not fail the call: the component stays loaded and is
 * listed in out->unload_failed. err (may be NULL) gets the message. Blocks while other
 * threads load or unload components it needs. Thread-safe. */
INTENT_API int intent_components_acquire(intent_components *c, const char *const *labels,
                                         size_t n_labels, intent_plan *out, intent_error *err);

/* As intent_components_acquire, for the labels scores[0..n) of model m. */
INTENT_API int intent_components_acquire_scores(intent_components *c, const intent_model *m,
                                                const intent_score *scores, size_t n,
                                                intent_plan *out, intent_error *err);

/* Lets go of the components a successful acquire holds: they become idle, last used now.
 * Unloads nothing. A plan not held (from plan, a failed acquire, or released already) is
 * fine and does nothing. Returns INTENT_ERR_ARG for NULL arguments. Thread-safe. */
INTENT_API int intent_components_release(intent_components *c, intent_plan *p);

/* Housekeeping, e.g. once a second: unloads idle components past their idle timeout,
 * then, while more than the budget is loaded, idle ones least recently used first.
 * *n_unloaded (may be NULL) gets how many were unloaded. Returns INTENT_ERR_COMPONENT if
 * an unload callback failed (that component stays loaded; err names it), else INTENT_OK.
 * Thread-safe. */
INTENT_API int intent_components_unload_idle(intent_components *c, size_t *n_unloaded,
                                             intent_error *err);

/* Frees a plan's lists (one block) and zeroes it. Does not release it. NULL is fine. */
INTENT_API void intent_plan_free(intent_plan *p);

/* ------------------------------------------------------------------------------------ */
/* Other runtimes: a text's features, and the network as an ONNX graph                  */
/*
 * A model can be served outside this library: intent_model_export_onnx writes its
 * networks as an ONNX graph, and intent_featurize gives the graph's input for a text (the
 * featurizer, with its Unicode normalization and hashing, stays here: call it, or run
 * `intent featurize`, in front of the other runtime). See docs/ONNX.md.
 */

/* The input of a model's first layer for text, exactly as prediction computes it: the
 * distinct hashed n-grams of the text whose bucket was seen in training (idf > 0; the
 * others are dropped), each with its L2-normalized tf-idf weight
 *     weights[j] = tf'_j * idf_j / norm,   norm = sqrt(sum_j (tf'_j * idf_j)^2),
 * where tf' is 1 + ln(count) for a model trained with sublinear tf (the default), else
 * the count. Bucket ids are 0 .. buckets-1, each at most once, in the order the
 * featurizer first met them; an empty text, or one of unseen n-grams only, has none.
 * Network k of the model then computes h = b0 + sum_j weights[j] * W0[ids[j]], ReLU,
 * the dense layers, and the logits; a label's confidence is the mean over the networks
 * of sigmoid(logit / temperature) (intent_predict_batch's confidences).
 * ids, weights: caller arrays of cap entries (may be NULL when cap is 0).
 * *n: the number of features of the text (at most INTENT_MAX_FEATURES). When *n > cap,
 * the first cap are written and INTENT_ERR_LIMIT is returned: cap = INTENT_MAX_FEATURES
 * always suffices. Returns INTENT_ERR_ARG for NULL arguments, INTENT_ERR_NOMEM when ctx
 * cannot grow for m. Allocates nothing once ctx is sized for m. Thread-safe on a shared
 * model, one ctx per thread. */
INTENT_API int intent_featurize(const intent_model *m, intent_ctx *ctx, const char *text,
                                size_t len, uint32_t *ids, float *weights, size_t cap,
                                size_t *n);

/* Writes the model's networks as an ONNX model (IR version 8, opset 13, producer
 * "intent") to path, atomically as intent_model_save does (temporary file in the same
 * folder, fsync, rename; on failure path is untouched).
 * The graph, for one text:
 *   inputs   "indices"  int64[n]   bucket ids     } intent_featurize's output; n may be 0
 *            "weights"  float[n]   their weights  }
 *   output   "confidences" float[n_labels]: intent_predict_batch's confidences, i.e. the
 *            whole text's; the clause decoding intent_predict applies to compound
 *            commands of a multi-label model is not in the graph (decode with the
 *            threshold and max_labels of the metadata, or call intent_decode).
 *   per network: Gather(W0, indices) * Unsqueeze(weights) -> ReduceSum over axis 0 ->
 *   + b0 -> [Relu -> MatMul -> + b] per further layer -> * (1 / temperature) -> Sigmoid;
 *   networks of an ensemble are averaged (Sum, * 1 / count).
 * int8 weights are written dequantized, as float (scale * q). Metadata (string
 * key-value pairs): "labels" (a JSON array of the names, in label id order),
 * "none_label" ("" when none), "threshold", "max_labels", "min_labels", "temperature",
 * "nets", how intent_predict cuts compound commands ("clause_max_labels", 0 when it does
 * not; "clause_marks"; "clause_words", separated by spaces), the featurizer settings as the model file names them ("feat.hash" = "ih1",
 * "feat.seed", "feat.buckets", "feat.word_ngrams", "feat.char_min", "feat.char_max",
 * "feat.flags") with the flags spelled out ("feat.sublinear_tf", "feat.strip_accents",
 * "feat.word_bounds": "1" or "0"), "intent_version" and "model_crc32c" (of the model
 * file it came from, 8 hex digits). The whole file is held in memory while it is made.
 * Returns INTENT_ERR_ARG for NULL arguments, INTENT_ERR_LIMIT when the file would reach
 * 2 GiB (protobuf's limit; no external data files are written), INTENT_ERR_NOMEM,
 * INTENT_ERR_IO; err (may be NULL) gets the message. Thread-safe on a shared model. */
INTENT_API int intent_model_export_onnx(const intent_model *m, const char *path,
                                        intent_error *err);

/* ------------------------------------------------------------------------------------ */
/* Serving: a swappable model, an async thread pool, stats                               */
/*
 * An intent_service holds the model that answers now. A new model (a retrain finished in
 * the background, a file reloaded) replaces it atomically with intent_service_swap or
 * intent_service_load: a reader holds one whole model from acquire to release and never
 * sees a half-replaced one; the old model is freed by whichever thread releases it last.
 * Predictions go on throughout. A model that fails to load changes nothing served (or
 * leaves a fallback model answering); the failure is counted, logged and kept.
 *
 * An intent_pool answers texts on its own threads without blocking the caller: submit
 * returns at once, with INTENT_ERR_BUSY when the bounded queue is full. Waiting requests
 * are answered in batches, one model acquire per batch. Every accepted request gets
 * exactly one answer or one cancellation, through its callback or its future.
 *
 *   intent_service *svc; intent_pool *pool; intent_error err;
 *   intent_service_new(&svc);
 *   if (intent_service_load(svc, "model.intent", &err)) fprintf(stderr, "%s\n", err.message);
 *   intent_pool_new(svc, 4, 1024, 32, &pool);
 *   if (intent_pool_submit(pool, text, len, on_answer, user) == INTENT_ERR_BUSY) ...shed load
 *   ...                                     // any thread, any time: intent_service_load again
 *   intent_pool_free(pool, INTENT_POOL_DRAIN); intent_service_free(svc);
 *
 * Versions: each model a service is given (swap, load, fallback) gets the next version,
 * 1 for the first; answers and stats say which version answered.
 */

typedef struct intent_service intent_service;

/* A reader's hold on one whole model, from intent_service_acquire to _release. */
typedef struct intent_lease {
    const intent_model *model; /* the model to use; NULL when the lease is empty */
    uint64_t version;          /* its version in the service */
    int fallback;              /* 1: it is the fallback model (no primary model is served) */
    void *handle;              /* private to the library */
} intent_lease;

/* Receives what a service has to report: status INTENT_OK for news (a model loaded),
 * else the failure and what is served instead. Called on the thread that did the load,
 * outside any lock; message lives for the call only. */
typedef void (*intent_log_fn)(int status, const char *message, void *user);

/* Makes an empty service: until it is given a model, acquire gives INTENT_ERR_NO_MODEL. */
INTENT_API int intent_service_new(intent_service **out);

/* Frees the service and the models it holds. No lease may be held and no pool may use it
 * any more (free pools first). NULL is fine. */
INTENT_API void intent_service_free(intent_service *svc);

/* Makes m the served (primary) model, atomically. On success the service owns m; on
 * failure (INTENT_ERR_ARG, INTENT_ERR_NOMEM) the caller still does. The model it replaces
 * is freed once its last lease is released (maybe at once, maybe on another thread).
 * *version (may be NULL) receives m's version. Thread-safe, with everything. */
INTENT_API int intent_service_swap(intent_service *svc, intent_model *m, uint64_t *version);

/* Loads a model file (see intent_model_load) and swaps it in. On failure nothing served
 * changes: the primary model keeps answering, else the fallback model, else nothing; the
 * failure is counted (stats load_failures), kept (intent_service_last_error), given to
 * the log function, and written to err (may be NULL) with what is served instead.
 * Returns intent_model_load's status, or INTENT_ERR_ARG, INTENT_ERR_NOMEM. Thread-safe;
 * the file is read without holding any lock readers need. */
INTENT_API int intent_service_load(intent_service *svc, const char *path, intent_error *err);

/* Sets the fallback model, used only while no primary model is served (none loaded yet,
 * or none could be). The service owns m on success (INTENT_OK); m NULL removes the
 * fallback. Answers it gives are counted apart (stats answers_fallback). Thread-safe. */
INTENT_API int intent_service_set_fallback(intent_service *svc, intent_model *m);

/* Sets (fn NULL: removes) the log function. Thread-safe; takes effect for later events. */
INTENT_API void intent_service_set_log(intent_service *svc, intent_log_fn fn, void *user);

/* Copies the message of the last failed load into buf (cap bytes, NUL-terminated when cap
 * > 0; "" if no load failed). Returns the message's length. Thread-safe. */
INTENT_API size_t intent_service_last_error(intent_service *svc, char *buf, size_t cap);

/* Takes a lease on the model that answers now (the primary one, else the fallback one):
 * lease->model stays whole and alive until intent_service_release, whatever swaps happen
 * meanwhile. Returns INTENT_ERR_NO_MODEL (lease emptied) when there is none, or
 * INTENT_ERR_ARG. Thread-safe: costs one short mutex section and an atomic increment;
 * hold a lease for a batch of predictions, not for ever (it keeps a replaced model alive). */
INTENT_API int intent_service_acquire(intent_service *svc, intent_lease *lease);

/* Gives a lease back and empties it; an empty lease is fine. Lock-free; frees the model
 * when it was replaced and this was its last lease. */
INTENT_API void intent_service_release(intent_service *svc, intent_lease *lease);

/* intent_predict on lease->model, counted in the service's stats (latency of this call,
 * labels, out of scope, fallback). Parameters and returns as intent_predict. Recording
 * takes no lock: relaxed atomic adds on counters spread over shards. */
INTENT_API int intent_service_predict(intent_service *svc, const intent_lease *lease,
                                      intent_ctx *ctx, const char *text, size_t len,
                                      float threshold, intent_score *top, size_t cap,
                                      size_t *n_top, size_t *n_over);

/* ---- stats ---- */

/* Latency histogram: bucket 0 holds answers under 1.024 us, bucket INTENT_STATS_BUCKETS-1
 * those of 2^34 ns (17.2 s) or more; between, 8 log-spaced buckets per doubling (each
 * 9..12.5% wide). */
#define INTENT_STATS_BUCKETS 194

typedef struct intent_label_count {
    const char *label;   /* the label's name; lives as long as the stats */
    uint64_t answers;    /* answers that gave this label since its model was served (of the
                            labels an answer returned: at most INTENT_RESULT_MAX, or cap) */
} intent_label_count;

/* A snapshot of a service's (or a pool's) counters. Counts are exact once the threads
 * recording them are done; in flight, each counter is exact on its own but they may be
 * a few answers apart. */
typedef struct intent_stats {
    /* requests */
    uint64_t answers;          /* answered with labels (status INTENT_OK) */
    uint64_t answers_fallback; /* ... of them, by the fallback model */
    uint64_t out_of_scope;     /* ... of them, with no label at or over the threshold */
    uint64_t errors;           /* answered with an error status (no model, out of memory) */
    uint64_t cancelled;        /* cancelled by intent_pool_free(INTENT_POOL_CANCEL) */
    uint64_t busy;             /* submissions refused with INTENT_ERR_BUSY */
    double uptime_s;           /* since the service was made */
    double answers_per_s;      /* answers / uptime_s */
    /* latency: submit to answer for pool requests, the call for intent_service_predict.
     * Percentiles are the upper edge of their histogram bucket (at most 12.5% high),
     * never above max_us. */
    double mean_us, p50_us, p95_us, p99_us, max_us;
    uint64_t latency_hist[INTENT_STATS_BUCKETS]; /* see intent_stats_bucket_us */
    /* models */
    uint64_t model_version;    /* the version answering now; 0: none */
    int serving_fallback;      /* 1: that is the fallback model */
    double load_ms;            /* how long it took to load (0: given by swap) */
    double loaded_at;          /* when it began to answer, Unix time in seconds */
    uint64_t loads;            /* successful intent_service_load calls */
    uint64_t load_failures;    /* failed ones */
    uint64_t swaps;            /* models installed (loads, swaps, fallbacks) */
    uint64_t models_alive;     /* models held: served, fallback, replaced but still read */
    char last_error[512];      /* the last failed load's message, "" if none */
    /* memory, bytes */
    uint64_t model_bytes;      /* every model alive (file images, labels, tables) */
    uint64_t scratch_bytes;    /* pool queues and worker scratch */
    uint64_t memory_bytes;     /* model_bytes + scratch_bytes */
    /* pool (intent_pool_stats only; 0 otherwise) */
    uint32_t threads, queue_cap, queued;
    uint64_t batches;          /* batches taken by workers */
    double mean_batch;         /* requests per batch */
    /* answers per label of the model answering now, since it began to */
    size_t n_labels;
    intent_label_count *per_label; /* [n_labels], owned: intent_stats_free */
} intent_stats;

/* Called once when a background retrain ends, on its thread: status INTENT_OK (then
 * version is the new model's, already serving), INTENT_ERR_REJECTED (the new model was
 * worse; the served one stays), INTENT_ERR_CANCELLED (the service is being freed), or
 * another error; message says what happened; rep has the figures (NULL if training did
 * not start). */
typedef void (*intent_retrain_done_fn)(int status, const intent_retrain_report *rep, const char *message,
                                       uint64_t version, void *user);

/* Retrains the served model in the background and swaps the result in: a thread reads
 * the feedback log (and the data file, may be NULL), runs intent_retrain from the model
 * served at that moment, and on success installs the new model with
 * intent_service_swap; predictions go on throughout and never see a half model. Returns
 * at once: INTENT_OK (started), INTENT_ERR_BUSY (one is already running), INTENT_ERR_ARG,
 * INTENT_ERR_NOMEM. o may be NULL for the defaults; it and the paths are copied. done
 * (may be NULL) reports the end. intent_service_free stops a running retrain (at its
 * next epoch) and waits for it. Thread-safe. */
INTENT_API int intent_service_retrain(intent_service *svc, const char *feedback_log, const char *data_path,
                                      const intent_retrain_opts *o, intent_retrain_done_fn done, void *user);

/* Whether a background retrain is running. */
INTENT_API int intent_service_retraining(intent_service *svc);

/* Fills *out with a snapshot of the service's counters. Allocates per_label: free the
 * snapshot with intent_stats_free. Thread-safe; takes no lock the answering threads take
 * per answer. Returns INTENT_ERR_ARG, INTENT_ERR_NOMEM (out then holds nothing to free). */
INTENT_API int intent_service_stats(intent_service *svc, intent_stats *out);

/* Frees what a snapshot owns and zeroes it. NULL is fine. */
INTENT_API void intent_stats_free(intent_stats *st);

/* The lower edge of histogram bucket i, in microseconds (0 for bucket 0). */
INTENT_API double intent_stats_bucket_us(size_t i);

/* Writes a readable multi-line stats block into buf (cap bytes, NUL-terminated when
 * cap > 0). Returns the length it needed. */
INTENT_API size_t intent_stats_format(const intent_stats *st, char *buf, size_t cap);

/* ---- the pool ---- */

typedef struct intent_pool intent_pool;
typedef struct intent_future intent_future;

#define INTENT_POOL_MAX_THREADS 256
#define INTENT_POOL_MAX_QUEUE (1u << 20) /* requests waiting */
#define INTENT_POOL_MAX_BATCH 1024       /* requests a worker takes at once */
#define INTENT_RESULT_MAX 16             /* labels an answer carries */

/* One answer to one request. */
typedef struct intent_result {
    int status;              /* INTENT_OK; INTENT_ERR_CANCELLED (shut down before it was
                                answered); INTENT_ERR_NO_MODEL; INTENT_ERR_NOMEM */
    uint64_t seq;            /* the request's number in its pool: 1, 2, ... in submit order */
    uint64_t model_version;  /* the model that answered (0 if none) */
    int fallback;            /* 1: the fallback model answered */
    size_t n_over;           /* labels at or over the model's threshold; 0 = out of scope */
    size_t n_top;            /* entries in top and labels: min(n_over, INTENT_RESULT_MAX),
                                but at least 1 (the closest label, even out of scope);
                                0 when status is not INTENT_OK */
    intent_score top[INTENT_RESULT_MAX];        /* highest confidence first */
    const char *labels[INTENT_RESULT_MAX];      /* names of top[i].label */
    uint32_t batch;          /* how many requests were answered in this one's batch */
    double latency_us;       /* from submit to answer */
} intent_result;

/* Called once per request on a pool thread. r and the names in it live for the call only.
 * It may submit more requests; it must not free the pool, and should be quick (it holds
 * up the rest of its batch). */
typedef void (*intent_result_fn)(const intent_result *r, void *user);

/* What intent_pool_free does with requests still queued. */
enum intent_pool_close {
    INTENT_POOL_DRAIN = 0,   /* answer every one of them, then stop */
    INTENT_POOL_CANCEL = 1   /* answer none: each gets one INTENT_ERR_CANCELLED result */
};

/* Starts n_threads (1..INTENT_POOL_MAX_THREADS; 0 = one per core) answering requests with
 * svc's model. queue_cap (1..INTENT_POOL_MAX_QUEUE) requests may wait; a worker takes up to
 * max_batch (1..INTENT_POOL_MAX_BATCH) of them at once, fewer when other workers are idle.
 * svc is borrowed: it must outlive the pool. Memory is taken here, once: the queue
 * (about 256 bytes a slot) and a scratch context per thread. Returns INTENT_ERR_ARG,
 * INTENT_ERR_LIMIT (a count out of range), INTENT_ERR_NOMEM. */
INTENT_API int intent_pool_new(intent_service *svc, uint32_t n_threads, uint32_t queue_cap,
                               uint32_t max_batch, intent_pool **out);

/* Queues text (UTF-8, len bytes, copied: the caller's buffer is free again on return) and
 * returns at once; fn(result, user) will be called exactly once on a pool thread, unless
 * this returns an error. Never blocks on a full queue: returns INTENT_ERR_BUSY instead
 * (counted in stats busy). INTENT_ERR_CANCELLED once intent_pool_free has begun (only a
 * callback can see that), INTENT_ERR_NOMEM (texts over 192 bytes take one allocation),
 * INTENT_ERR_ARG. Thread-safe. */
INTENT_API int intent_pool_submit(intent_pool *pool, const char *text, size_t len,
                                  intent_result_fn fn, void *user);

/* As intent_pool_submit, with the answer kept in a future (*out; one allocation) to
 * wait for. The future is the caller's: free it with intent_future_free, answered or not;
 * it may outlive the pool. */
INTENT_API int intent_pool_submit_future(intent_pool *pool, const char *text, size_t len,
                                         intent_future **out);

/* Waits up to timeout_ms (< 0: for ever; 0: just looks) for the answer. INTENT_OK: *out
 * (may be NULL) holds it, out->status telling answered or cancelled; its label names live
 * until intent_future_free. INTENT_ERR_TIMEOUT: not answered yet. May be called again, from
 * any thread. */
INTENT_API int intent_future_wait(intent_future *f, long timeout_ms, intent_result *out);

/* Frees a future. If it is not answered yet, its answer is dropped when it comes. NULL is
 * fine. */
INTENT_API void intent_future_free(intent_future *f);

/* intent_service_stats of the pool's service, plus the pool's own fields (threads, queue,
 * batches). Free with intent_stats_free. Thread-safe. */
INTENT_API int intent_pool_stats(intent_pool *pool, intent_stats *out);

/* Stops the pool and frees it. mode INTENT_POOL_DRAIN answers every queued request first;
 * INTENT_POOL_CANCEL gives each queued request one INTENT_ERR_CANCELLED result (and the
 * rest of any batch a worker has taken). Either way every accepted request has had exactly
 * one callback when this returns. Blocks until the workers have finished. Call it from
 * outside the pool's threads, once, when no other thread submits. NULL is fine. */
INTENT_API void intent_pool_free(intent_pool *pool, int mode);

#ifdef __cplusplus
}
#endif
#endif /* INTENT_H */
