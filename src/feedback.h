/*
 * feedback.h - what the feedback log's two files share: the format constants, record
 * encoding, and the walker that finds the last whole record. feedback.c holds the format
 * (described byte by byte there) and the readers; feedback_log.c the appending handle.
 */
#ifndef INTENT_FEEDBACK_H
#define INTENT_FEEDBACK_H

#include "intent_impl.h"

#define INTENTI_FEEDBACK_MAJOR 1
#define INTENTI_FEEDBACK_MINOR 0
#define INTENTI_FEEDBACK_HEADER 16   /* file header bytes */
#define INTENTI_FEEDBACK_REC_HEAD 12 /* record magic, payload length, CRC */

/* The file header of this version, INTENTI_FEEDBACK_HEADER bytes. */
INTENTI_HIDDEN void intenti_feedback_header(uint8_t h[INTENTI_FEEDBACK_HEADER]);

/* Checks a header read from a file (h: n bytes, n may be short). Returns INTENT_OK,
 * INTENT_ERR_FORMAT or INTENT_ERR_VERSION with a message naming path; *prefix is set when
 * n < INTENTI_FEEDBACK_HEADER and the bytes are a beginning of our header (a creation cut
 * short), in which case the status is INTENT_OK. */
INTENTI_HIDDEN int intenti_feedback_check_header(const uint8_t *h, size_t n, const char *path,
                                               bool *prefix, intent_error *err);

/* Writes the record into b (emptied first); returns INTENT_ERR_NOMEM if b cannot grow. */
INTENTI_HIDDEN int intenti_feedback_encode(intenti_buf *b, uint64_t time_ms, const char *text,
                                         size_t len, const char *const *labels,
                                         size_t n_labels);

/* Checks what intent_feedback_append is given. Returns INTENT_OK, or INTENT_ERR_ARG /
 * INTENT_ERR_LIMIT with what is wrong written into why (cap bytes). Work: O(len). */
INTENTI_HIDDEN int intenti_feedback_problem(const char *text, size_t len,
                                            const char *const *labels, size_t n_labels,
                                            char *why, size_t cap);

/* A window of a file read with pread: bytes [off, off + len) of it are in data. It only
 * caches; intenti_feedback_rd_reset forgets the window (after the file changed). */
typedef struct intenti_feedback_rd {
    int fd;
    uint8_t *data;    /* owned, cap bytes */
    size_t cap, len;
    uint64_t off;
    int error;        /* errno of the last failed read */
} intenti_feedback_rd;
INTENTI_HIDDEN void intenti_feedback_rd_reset(intenti_feedback_rd *r);
INTENTI_HIDDEN void intenti_feedback_rd_free(intenti_feedback_rd *r);

/* One decoded record; pointers into the reader's window (valid until it moves). */
typedef struct intenti_feedback_rec {
    uint64_t offset;
    uint32_t size;                /* whole record, header included */
    uint64_t time_ms;
    uint32_t n_labels;
    const char *label[INTENT_FEEDBACK_MAX_LABELS];
    uint8_t label_len[INTENT_FEEDBACK_MAX_LABELS];
    const char *text;
    uint32_t text_len;
} intenti_feedback_rec;

typedef int (*intenti_feedback_visit)(const intenti_feedback_rec *rec, void *user);

/* Where a walk stopped. */
enum {
    INTENTI_FEEDBACK_END = 0,     /* at the end of the file, exactly after a whole record */
    INTENTI_FEEDBACK_TORN = 1,    /* at a torn tail: no whole record after it */
    INTENTI_FEEDBACK_DAMAGED = 2, /* at damage with a whole record after it (or a record whose
                               CRC holds but content is invalid) */
};

typedef struct intenti_feedback_walk {
    uint64_t end;       /* just after the last whole record: where the next one goes */
    uint64_t n_records; /* whole records walked */
    int stop;           /* INTENTI_FEEDBACK_* */
    int status;         /* for DAMAGED: INTENT_ERR_CHECKSUM or INTENT_ERR_FORMAT */
    char why[320];      /* for TORN and DAMAGED: what is wrong at `end` */
} intenti_feedback_walk;

/* Walks the records of r's file from byte `from` (a record boundary) to byte `size`,
 * calling visit (may be NULL) for each whole record, and classifies what stops it.
 * Returns INTENT_OK (see w->stop), INTENT_ERR_IO, INTENT_ERR_NOMEM (message naming path
 * in err), or visit's non-zero return as it is. w->end and w->n_records are set in
 * every case. Reads O(size - from) bytes, more only when classifying damage. */
INTENTI_HIDDEN int intenti_feedback_walk_records(intenti_feedback_rd *r, uint64_t from, uint64_t size,
                                           const char *path, intenti_feedback_visit visit,
                                           void *user, intenti_feedback_walk *w, intent_error *err);

#endif
