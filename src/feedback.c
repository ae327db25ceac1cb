/*
 * feedback.c - the feedback log's format: encoding a record, walking to the last whole
 * one, and the readers intent_feedback_scan and intent_feedback_read. Appending is in
 * feedback_log.c; docs/FEEDBACK.md says what follows with examples.
 *
 * FORMAT (all integers little-endian)
 *   header, 16 bytes, written once when the log is created:
 *      0  8  magic "\x89IFB\r\n\x1a\n"
 *      8  2  major version, 1: a reader refuses any other
 *     10  2  minor version, 0: a reader reads every minor of its major
 *     12  4  CRC-32C of bytes 0..11
 *   then records, one after another from byte 16; each is 12 + P bytes:
 *      0  4  record magic "\xff" "FBR" (0xFF never occurs in UTF-8, so no text or label
 *            can contain a record head)
 *      4  4  P, payload bytes: 17 <= P <= INTENT_FEEDBACK_MAX_RECORD - 12
 *      8  4  CRC-32C of bytes 0..7 followed by the P payload bytes
 *     12  P  payload:
 *              0  8  time appended, milliseconds since 1970-01-01 UTC
 *              8  2  L, labels: 1..256
 *             10     L times: 1 byte n (1..128), then n bytes of label name (valid UTF-8,
 *                    no whitespace, no ',': intenti_label_problem)
 *              .  4  T, text bytes, >= 1
 *              .  T  text: valid UTF-8, no NUL byte, not blank
 *              .     nothing more in 1.0; a later minor version may add fields here, and
 *                    this reader skips them (P says where the record ends)
 *
 * DESIGN
 *   Crash safety. The writer puts each record with one pwrite() right after the last
 *   whole record and fdatasyncs it before returning, under an flock, so at any moment the
 *   file is: the header, whole records, and at most one partial record at the end - the
 *   one being written when its writer died (after kill -9, a prefix of it; after a power
 *   loss, possibly zeros or garbage). Readers stop there; the next writer cuts it off.
 *
 *   Torn tail or damage? The first record that is not whole ends the log only if no
 *   whole record follows it: a torn write is always the last thing in the file. When a
 *   whole record does follow, bytes in the middle were damaged (disk, an editor): that is
 *   an error naming the offset, and writers refuse to cut anything. To decide, the walker
 *   looks for the record magic after the bad spot and checks each hit as a record; after
 *   MAX_PROBES hits that are not records it stops looking and calls it damage, so what it
 *   cannot classify is never deleted. (Inside a record only the timestamp can hold 0xFF,
 *   so hits that are not record heads are rare.)
 *
 *   Bounds. P is checked against the cap and against the bytes left in the file before
 *   any payload is read, every field against P; the read window grows to the largest
 *   record seen (1 MiB at most). The file is read with pread, never mmapped, so a writer
 *   cutting a torn tail while a reader runs cannot fault the reader: a short read there
 *   is just more torn tail.
 */
#include "feedback.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint8_t LOG_MAGIC[8] = {0x89, 'I', 'F', 'B', '\r', '\n', 0x1A, '\n'};
static const uint8_t REC_MAGIC[4] = {0xFF, 'F', 'B', 'R'};

#define REC_HEAD INTENTI_FEEDBACK_REC_HEAD
#define MIN_PAYLOAD 17u  /* time 8, L 2, one 1-byte label 2, T 4, one text byte */
#define MAX_PAYLOAD (INTENT_FEEDBACK_MAX_RECORD - REC_HEAD)
#define READ_AHEAD (256u << 10) /* bytes pread at once when walking */
#define SEARCH_CHUNK (64u << 10)
#define MAX_PROBES 4096  /* record-magic hits checked when telling a torn tail from damage */

/* ---- header ---- */

void intenti_feedback_header(uint8_t h[INTENTI_FEEDBACK_HEADER]) {
    memcpy(h, LOG_MAGIC, 8);
    h[8] = INTENTI_FEEDBACK_MAJOR; h[9] = 0;
    h[10] = INTENTI_FEEDBACK_MINOR; h[11] = 0;
    intenti_st32(h + 12, intenti_crc32c(0, h, 12));
}

int intenti_feedback_check_header(const uint8_t *h, size_t n, const char *path, bool *prefix,
                                  intent_error *err) {
    *prefix = false;
    if (n < INTENTI_FEEDBACK_HEADER) {
        /* Only the magic is compared: whatever version a creation cut short meant to
         * write, there are no records yet and the writer writes a whole header. */
        if (memcmp(h, LOG_MAGIC, n < 8 ? n : 8) == 0) {
            *prefix = true;
            return INTENT_OK;
        }
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: not an intent feedback log (bad magic bytes)", path);
    }
    if (memcmp(h, LOG_MAGIC, 8) != 0)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: not an intent feedback log (bad magic bytes)", path);
    if (intenti_ld32(h + 12) != intenti_crc32c(0, h, 12))
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: feedback log header damaged (checksum mismatch)", path);
    unsigned major = intenti_ld16(h + 8), minor = intenti_ld16(h + 10);
    if (major > INTENTI_FEEDBACK_MAJOR)
        return intenti_err(err, INTENT_ERR_VERSION, "%s: feedback log version %u.%u is newer than this reader (%u.x)",
                           path, major, minor, INTENTI_FEEDBACK_MAJOR);
    if (major != INTENTI_FEEDBACK_MAJOR)
        return intenti_err(err, INTENT_ERR_FORMAT, "%s: unknown feedback log version %u.%u", path, major, minor);
    return INTENT_OK;
}

/* ---- a record: check what a caller gives, encode ---- */

static bool blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n' && s[i] != '\v' && s[i] != '\f')
            return false;
    return true;
}

/* The text rules of intent_dataset_add, so every record reads back into a dataset. */
static const char *text_problem(const char *text, size_t len) {
    if (len == 0 || blank(text, len))
        return "empty text";
    if (memchr(text, '\0', len))
        return "text contains a NUL byte";
    if (intenti_utf8_check(text, len) != len)
        return "text is not valid UTF-8";
    return NULL;
}

int intenti_feedback_problem(const char *text, size_t len, const char *const *labels,
                             size_t n_labels, char *why, size_t cap) {
    if (!text || (!labels && n_labels)) {
        snprintf(why, cap, "NULL %s", text ? "labels" : "text");
        return INTENT_ERR_ARG;
    }
    if (n_labels == 0) {
        snprintf(why, cap, "no labels");
        return INTENT_ERR_ARG;
    }
    if (n_labels > INTENT_FEEDBACK_MAX_LABELS) {
        snprintf(why, cap, "%zu labels, more than %d", n_labels, INTENT_FEEDBACK_MAX_LABELS);
        return INTENT_ERR_LIMIT;
    }
    size_t total = REC_HEAD + 8 + 2 + 4; /* bounded: labels add at most 256 * 129 */
    for (size_t i = 0; i < n_labels; i++) {
        if (!labels[i]) {
            snprintf(why, cap, "label %zu is NULL", i + 1);
            return INTENT_ERR_ARG;
        }
        size_t n = strnlen(labels[i], INTENT_MAX_LABEL_LEN + 1); /* never reads past a long one */
        const char *bad = intenti_label_problem(labels[i], n);
        if (bad) {
            snprintf(why, cap, "label %zu: %s", i + 1, bad);
            return INTENT_ERR_ARG;
        }
        total += 1 + n;
    }
    if (len > INTENT_FEEDBACK_MAX_RECORD - total) { /* before looking at len bytes */
        snprintf(why, cap, "a record of %zu text bytes and its labels is longer than %u bytes", len,
                 INTENT_FEEDBACK_MAX_RECORD);
        return INTENT_ERR_LIMIT;
    }
    const char *bad = text_problem(text, len);
    if (bad) {
        snprintf(why, cap, "%s", bad);
        return INTENT_ERR_ARG;
    }
    return INTENT_OK;
}

int intenti_feedback_encode(intenti_buf *b, uint64_t time_ms, const char *text, size_t len,
                            const char *const *labels, size_t n_labels) {
    b->len = 0;
    b->oom = false; /* a failed growth earlier left the old block intact */
    intenti_buf_put(b, REC_MAGIC, 4);
    intenti_buf_zeros(b, 8); /* P and CRC, filled below */
    intenti_buf_u64(b, time_ms);
    intenti_buf_u16(b, (uint16_t)n_labels);
    for (size_t i = 0; i < n_labels; i++) {
        size_t n = strlen(labels[i]); /* validated: 1..128 */
        intenti_buf_u8(b, (uint8_t)n);
        intenti_buf_put(b, labels[i], n);
    }
    intenti_buf_u32(b, (uint32_t)len);
    intenti_buf_put(b, text, len);
    if (b->oom)
        return INTENT_ERR_NOMEM;
    uint32_t p = (uint32_t)(b->len - REC_HEAD);
    intenti_st32(b->data + 4, p);
    intenti_st32(b->data + 8, intenti_crc32c(intenti_crc32c(0, b->data, 8), b->data + REC_HEAD, p));
    return INTENT_OK;
}

/* ---- reading window ---- */

enum { RD_OK, RD_SHORT, RD_IO, RD_NOMEM };

void intenti_feedback_rd_reset(intenti_feedback_rd *r) { r->len = 0; r->off = 0; }

void intenti_feedback_rd_free(intenti_feedback_rd *r) {
    intenti_free(r->data);
    r->data = NULL;
    r->cap = r->len = 0;
}

/* Bytes [off, off + n) of the file, n <= max(READ_AHEAD, INTENT_FEEDBACK_MAX_RECORD) and
 * off + n <= size; reads ahead up to READ_AHEAD within size. NULL with *st = RD_SHORT
 * when the file ends sooner (it shrank: a torn tail was cut meanwhile), RD_IO, RD_NOMEM. */
static const uint8_t *rd_get(intenti_feedback_rd *r, uint64_t off, size_t n, uint64_t size, int *st) {
    *st = RD_OK;
    if (off >= r->off && off - r->off <= r->len && r->len - (off - r->off) >= n)
        return r->data + (off - r->off);
    uint64_t left = size - off;
    size_t want = left < READ_AHEAD ? (size_t)left : READ_AHEAD;
    if (want < n)
        want = n;
    if (want > r->cap) {
        uint8_t *d = intenti_realloc(r->data, want);
        if (!d) {
            *st = RD_NOMEM;
            return NULL;
        }
        r->data = d;
        r->cap = want;
    }
    r->len = 0;
    r->off = off;
    while (r->len < want) {
        ssize_t got = pread(r->fd, r->data + r->len, want - r->len, (off_t)(off + r->len));
        if (got < 0) {
            if (errno == EINTR)
                continue;
            *st = RD_IO;
            r->error = errno;
            r->len = 0;
            return NULL;
        }
        if (got == 0)
            break;
        r->len += (size_t)got;
    }
    if (r->len < n) {
        *st = RD_SHORT;
        return NULL;
    }
    return r->data;
}

/* ---- one record ---- */

enum { REC_WHOLE, REC_TORN, REC_BAD, REC_INVALID, REC_FAIL };

/* Decodes a payload whose CRC holds; NULL if good, else what is wrong. */
static const char *decode(const uint8_t *p, uint32_t n, intenti_feedback_rec *rec) {
    rec->time_ms = intenti_ld64(p);
    rec->n_labels = intenti_ld16(p + 8);
    if (rec->n_labels == 0 || rec->n_labels > INTENT_FEEDBACK_MAX_LABELS)
        return "label count outside 1..256";
    uint32_t pos = 10;
    for (uint32_t i = 0; i < rec->n_labels; i++) {
        if (n - pos < 1)
            return "labels run past the record";
        uint8_t l = p[pos++];
        if (l > n - pos)
            return "labels run past the record";
        const char *bad = intenti_label_problem((const char *)p + pos, l);
        if (bad)
            return bad;
        rec->label[i] = (const char *)p + pos;
        rec->label_len[i] = l;
        pos += l;
    }
    if (n - pos < 4)
        return "text length runs past the record";
    uint32_t t = intenti_ld32(p + pos);
    pos += 4;
    if (t > n - pos)
        return "text runs past the record";
    rec->text = (const char *)p + pos;
    rec->text_len = t;
    const char *bad = text_problem(rec->text, t);
    return bad; /* bytes after the text: fields of a later minor version, skipped */
}

/* Looks at the record at off (off < size). REC_WHOLE fills rec; REC_TORN (it runs past
 * the end), REC_BAD (no magic, bad length, CRC mismatch) and REC_INVALID (CRC holds,
 * content does not) write why; REC_FAIL sets *fail to INTENT_ERR_IO or INTENT_ERR_NOMEM. */
static int rec_at(intenti_feedback_rd *r, uint64_t off, uint64_t size, intenti_feedback_rec *rec,
                  char *why, size_t cap, int *fail) {
    uint64_t left = size - off;
    int st;
    if (left < REC_HEAD) {
        snprintf(why, cap, "%llu bytes, less than a record head", (unsigned long long)left);
        return REC_TORN;
    }
    const uint8_t *p = rd_get(r, off, REC_HEAD, size, &st);
    if (!p)
        goto no_bytes;
    if (memcmp(p, REC_MAGIC, 4) != 0) {
        snprintf(why, cap, "no record magic");
        return REC_BAD;
    }
    uint32_t n = intenti_ld32(p + 4);
    if (n < MIN_PAYLOAD || n > MAX_PAYLOAD) {
        snprintf(why, cap, "record payload length %u outside %u..%u", n, MIN_PAYLOAD, MAX_PAYLOAD);
        return REC_BAD;
    }
    if (n > left - REC_HEAD) {
        snprintf(why, cap, "record of %u bytes runs past the end of the file (%llu bytes left)",
                 REC_HEAD + n, (unsigned long long)left);
        return REC_TORN;
    }
    p = rd_get(r, off, REC_HEAD + n, size, &st);
    if (!p)
        goto no_bytes;
    if (intenti_crc32c(intenti_crc32c(0, p, 8), p + REC_HEAD, n) != intenti_ld32(p + 8)) {
        snprintf(why, cap, "record checksum mismatch");
        return REC_BAD;
    }
    const char *bad = decode(p + REC_HEAD, n, rec);
    if (bad) {
        snprintf(why, cap, "record checksum holds but %s", bad);
        return REC_INVALID;
    }
    rec->offset = off;
    rec->size = REC_HEAD + n;
    return REC_WHOLE;
no_bytes:
    if (st == RD_SHORT) {
        snprintf(why, cap, "the file ends sooner (cut while being read)");
        return REC_TORN;
    }
    *fail = st == RD_NOMEM ? INTENT_ERR_NOMEM : INTENT_ERR_IO;
    return REC_FAIL;
}

/* Is there a record whose CRC holds anywhere in [from, size)? 1 yes (*at), 0 no, 2 gave
 * up after MAX_PROBES candidates, -1 REC_FAIL (*fail). O(size - from) with memmem. */
static int record_after(intenti_feedback_rd *r, uint64_t from, uint64_t size, uint64_t *at, int *fail) {
    intenti_feedback_rec rec;
    char why[160];
    unsigned probes = 0;
    uint64_t pos = from;
    while (pos < size && size - pos >= REC_HEAD + MIN_PAYLOAD) {
        uint64_t left = size - pos;
        size_t n = left < SEARCH_CHUNK ? (size_t)left : SEARCH_CHUNK;
        int st;
        const uint8_t *p = rd_get(r, pos, n, size, &st);
        if (!p) {
            if (st == RD_SHORT)
                return 0; /* the rest was cut meanwhile: nothing whole there */
            *fail = st == RD_NOMEM ? INTENT_ERR_NOMEM : INTENT_ERR_IO;
            return -1;
        }
        const uint8_t *hit = memmem(p, n, REC_MAGIC, 4);
        if (!hit) {
            pos += n - 3; /* n >= 29: progress; a magic across the seam is seen next time */
            continue;
        }
        uint64_t y = pos + (uint64_t)(hit - p);
        if (++probes > MAX_PROBES)
            return 2;
        int k = rec_at(r, y, size, &rec, why, sizeof why, fail);
        if (k == REC_FAIL)
            return -1;
        if (k == REC_WHOLE || k == REC_INVALID) {
            *at = y;
            return 1;
        }
        pos = y + 1;
    }
    return 0;
}

/* ---- walking ---- */

int intenti_feedback_walk_records(intenti_feedback_rd *r, uint64_t from, uint64_t size,
                                  const char *path, intenti_feedback_visit visit, void *user,
                                  intenti_feedback_walk *w, intent_error *err) {
    intenti_feedback_rec rec;
    intenti_feedback_rd_reset(r); /* the file may have changed since the last walk */
    w->end = from;
    w->n_records = 0;
    w->stop = INTENTI_FEEDBACK_END;
    w->status = INTENT_OK;
    w->why[0] = '\0';
    char why[160];
    int fail = INTENT_OK;
    while (w->end < size) {
        int k = rec_at(r, w->end, size, &rec, why, sizeof why, &fail);
        if (k == REC_WHOLE) {
            if (visit) {
                int rc = visit(&rec, user);
                if (rc)
                    return rc;
            }
            w->end += rec.size;
            w->n_records++;
            continue;
        }
        unsigned long long at = (unsigned long long)w->end;
        if (k == REC_FAIL)
            return intenti_err(err, fail, "%s: byte %llu: %s", path, at,
                               fail == INTENT_ERR_NOMEM ? "out of memory" : strerror(r->error));
        if (k == REC_INVALID) {
            w->stop = INTENTI_FEEDBACK_DAMAGED;
            w->status = INTENT_ERR_FORMAT;
            snprintf(w->why, sizeof w->why, "byte %llu: %s", at, why);
            return INTENT_OK;
        }
        uint64_t next = 0;
        int found = record_after(r, w->end + 1, size, &next, &fail);
        if (found < 0)
            return intenti_err(err, fail, "%s: byte %llu: %s", path, at,
                               fail == INTENT_ERR_NOMEM ? "out of memory" : strerror(r->error));
        if (found == 0) {
            w->stop = INTENTI_FEEDBACK_TORN;
            snprintf(w->why, sizeof w->why, "byte %llu: %s", at, why);
        } else {
            w->stop = INTENTI_FEEDBACK_DAMAGED;
            w->status = INTENT_ERR_CHECKSUM;
            if (found == 1)
                snprintf(w->why, sizeof w->why, "byte %llu: %s, and a whole record follows at byte %llu",
                         at, why, (unsigned long long)next);
            else
                snprintf(w->why, sizeof w->why, "byte %llu: %s, and the %llu bytes after it are not "
                         "plainly a torn record", at, why, (unsigned long long)(size - w->end));
        }
        return INTENT_OK;
    }
    return INTENT_OK;
}

/* ---- readers ---- */

/* Takes the size to read under a shared flock, so it falls between whole records
 * unless a writer died mid-record. */
static int open_for_reading(const char *path, int *fd_out, uint64_t *size, intent_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return intenti_err(err, INTENT_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return intenti_err(err, INTENT_ERR_IO, "%s: not a regular file", path);
    }
    int locked;
    while ((locked = flock(fd, LOCK_SH)) != 0 && errno == EINTR) {
    }
    /* without locks (ENOLCK, some network file systems) a reader still works: it may
     * count an append in progress as a torn tail */
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return intenti_err(err, INTENT_ERR_IO, "%s: %s", path, strerror(e));
    }
    if (locked == 0)
        flock(fd, LOCK_UN);
    *fd_out = fd;
    *size = (uint64_t)st.st_size;
    return INTENT_OK;
}

typedef struct scanner {
    intent_feedback_fn fn;
    void *user;
    char *mem;               /* NUL-terminated copies of the record's labels and text */
    size_t cap;
    const char *labels[INTENT_FEEDBACK_MAX_LABELS];
    int fn_rc;               /* what fn returned, when it stopped the scan */
    bool oom;
} scanner;

static int scan_visit(const intenti_feedback_rec *rec, void *user) {
    scanner *s = user;
    size_t need = (size_t)rec->text_len + 1;
    for (uint32_t i = 0; i < rec->n_labels; i++)
        need += (size_t)rec->label_len[i] + 1; /* <= 1 MiB + 257: no overflow */
    if (need > s->cap) {
        char *m = intenti_realloc(s->mem, need);
        if (!m) {
            s->oom = true;
            return INTENT_ERR_NOMEM;
        }
        s->mem = m;
        s->cap = need;
    }
    char *p = s->mem;
    for (uint32_t i = 0; i < rec->n_labels; i++) {
        memcpy(p, rec->label[i], rec->label_len[i]);
        p[rec->label_len[i]] = '\0';
        s->labels[i] = p;
        p += rec->label_len[i] + 1;
    }
    memcpy(p, rec->text, rec->text_len);
    p[rec->text_len] = '\0';
    intent_feedback_record out = {p, rec->text_len, s->labels, rec->n_labels, rec->time_ms, rec->offset};
    s->fn_rc = s->fn(&out, s->user);
    return s->fn_rc ? INTENT_ERR_CANCELLED : INTENT_OK;
}

int intent_feedback_scan(const char *path, intent_feedback_fn fn, void *user, uint64_t *n_records,
                         uint64_t *n_skipped, intent_error *err) {
    if (n_records)
        *n_records = 0;
    if (n_skipped)
        *n_skipped = 0;
    if (!path || !fn)
        return intenti_err(err, INTENT_ERR_ARG, "intent_feedback_scan: NULL argument");
    int fd = -1;
    uint64_t size = 0;
    int rc = open_for_reading(path, &fd, &size, err);
    if (rc)
        return rc;
    uint8_t h[INTENTI_FEEDBACK_HEADER];
    size_t hn = size < sizeof h ? (size_t)size : sizeof h;
    ssize_t got = pread(fd, h, hn, 0);
    if (got != (ssize_t)hn) {
        rc = intenti_err(err, INTENT_ERR_IO, "%s: cannot read the header: %s", path,
                         got < 0 ? strerror(errno) : "file shrank");
        close(fd);
        return rc;
    }
    bool prefix;
    rc = intenti_feedback_check_header(h, hn, path, &prefix, err);
    if (rc || prefix) { /* a prefix: a log being created, empty */
        if (!rc && n_skipped)
            *n_skipped = size;
        close(fd);
        return rc;
    }
    scanner s = {.fn = fn, .user = user};
    intenti_feedback_rd rd = {.fd = fd};
    intenti_feedback_walk w;
    rc = intenti_feedback_walk_records(&rd, INTENTI_FEEDBACK_HEADER, size, path, scan_visit, &s, &w, err);
    if (rc == INTENT_ERR_CANCELLED && s.fn_rc)
        intenti_err(err, rc, "%s: stopped by the callback at byte %llu", path, (unsigned long long)w.end);
    else if (s.oom)
        intenti_err(err, rc, "%s: out of memory", path);
    else if (!rc && w.stop == INTENTI_FEEDBACK_DAMAGED)
        rc = intenti_err(err, w.status, "%s: %s; the %llu whole records before it were read", path, w.why,
                         (unsigned long long)w.n_records);
    if (n_records)
        *n_records = w.n_records;
    if (n_skipped && rc != INTENT_ERR_CANCELLED && w.stop != INTENTI_FEEDBACK_END)
        *n_skipped = size - w.end;
    intenti_feedback_rd_free(&rd);
    intenti_free(s.mem);
    close(fd);
    return rc;
}

typedef struct reader {
    intent_dataset *ds;
    int status;      /* intent_dataset_add's, when it failed */
    char msg[400];
    size_t n;
} reader;

static int read_one(const intent_feedback_record *r, void *user) {
    reader *rd = user;
    rd->status = intent_dataset_add(rd->ds, r->text, r->len, r->labels, r->n_labels);
    if (rd->status) {
        snprintf(rd->msg, sizeof rd->msg, "byte %llu: %s", (unsigned long long)r->offset,
                 intent_dataset_errmsg(rd->ds));
        return 1;
    }
    rd->n++;
    return 0;
}

int intent_feedback_read(const char *path, intent_dataset *ds, size_t *n_read, uint64_t *n_skipped,
                         intent_error *err) {
    if (n_read)
        *n_read = 0;
    if (n_skipped)
        *n_skipped = 0;
    if (!path || !ds)
        return intenti_err(err, INTENT_ERR_ARG, "intent_feedback_read: NULL argument");
    reader rd = {.ds = ds};
    int rc = intent_feedback_scan(path, read_one, &rd, NULL, n_skipped, err);
    if (rc == INTENT_ERR_CANCELLED && rd.status)
        rc = intenti_err(err, rd.status, "%s: %s", path, rd.msg);
    if (n_read)
        *n_read = rd.n;
    return rc;
}
