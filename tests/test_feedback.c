/*
 * test_feedback.c - the feedback log: round trip, validation, foreign and newer files,
 * a torn tail cut at every byte, every bit flipped, records whose checksum holds but
 * whose content does not, allocation failures, concurrent appends from threads, and
 * several handles on one log with a crashed writer between them. The kill -9 test is a
 * program of its own: tests/crash/feedback_crash.c.
 */
#include "tests.h"
#include "feedback.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---- */

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(n ? (size_t)n : 1);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* Makes path hold exactly p[0..n). Written in place and then cut, never truncated to
 * zero first: on ext4 that (auto_da_alloc) costs a flush per call. */
static void spit(const char *path, const void *p, size_t n) {
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, p, n, 0), (ssize_t)n);
    assert_int_equal(ftruncate(fd, (off_t)n), 0);
    close(fd);
}

static void append_raw(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static uint64_t file_size(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static void add(intent_feedback *log, const char *text, const char *l1, const char *l2) {
    const char *labels[2] = {l1, l2};
    intent_error err;
    int rc = intent_feedback_append(log, text, strlen(text), labels, l2 ? 2 : 1, &err);
    if (rc)
        fail_msg("append: %s", err.message);
}

/* A fresh log at path holding the given texts, each labelled "L<i>". */
static void make_log(const char *path, const char *const *texts, size_t n) {
    unlink(path);
    intent_feedback *log;
    intent_error err;
    assert_int_equal(intent_feedback_open(path, &log, &err), INTENT_OK);
    for (size_t i = 0; i < n; i++) {
        char lab[16];
        snprintf(lab, sizeof lab, "L%zu", i);
        add(log, texts[i], lab, NULL);
    }
    intent_feedback_close(log);
}

/* What a scan saw: texts, labels joined by ',', offsets. */
typedef struct seen {
    size_t n;
    char text[64][512];
    char labels[64][128];
    uint64_t offset[64], time_ms[64];
} seen;

static int collect(const intent_feedback_record *r, void *user) {
    seen *s = user;
    if (s->n == 64)
        return 1;
    assert_int_equal(strlen(r->text), r->len);
    snprintf(s->text[s->n], sizeof s->text[0], "%s", r->text);
    s->labels[s->n][0] = '\0';
    for (size_t i = 0; i < r->n_labels; i++) {
        size_t at = strlen(s->labels[s->n]);
        snprintf(s->labels[s->n] + at, sizeof s->labels[0] - at, "%s%s", i ? "," : "", r->labels[i]);
    }
    s->offset[s->n] = r->offset;
    s->time_ms[s->n] = r->time_ms;
    s->n++;
    return 0;
}

static int read_count(const char *path, size_t *n_read, uint64_t *skipped, intent_error *err) {
    intent_dataset *ds;
    assert_int_equal(intent_dataset_new(&ds), INTENT_OK);
    int rc = intent_feedback_read(path, ds, n_read, skipped, err);
    assert_int_equal(intent_dataset_size(ds), *n_read);
    intent_dataset_free(ds);
    return rc;
}

static uint64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *const TEXTS[] = {
    "turn on the lights", "play some jazz in the kitchen",
    "read me the document on my screen, s'il vous plaît — ünïcödé too",
    "what is the weather tomorrow in a long sentence that makes this last record the longest "
    "of the four, so that cutting it at every byte covers a good stretch of payload bytes",
};

/* ---- tests ---- */

static void round_trip(void **state) {
    (void)state;
    char path[256];
    tmp_path(path, sizeof path, "rt.ifb");
    unlink(path);
    intent_feedback *log;
    intent_error err;
    intent_feedback_stats st;
    uint64_t t0 = wall_ms();
    assert_int_equal(intent_feedback_open(path, &log, &err), INTENT_OK);
    assert_int_equal(intent_feedback_get_stats(log, &st), INTENT_OK);
    assert_true(st.n_records == 0 && st.bytes == INTENTI_FEEDBACK_HEADER && st.torn_bytes == 0);
    assert_int_equal(file_size(path), INTENTI_FEEDBACK_HEADER);
    add(log, "turn on the lights", "LIGHTS", NULL);
    add(log, "lights and music, ünïcödé", "MUSIC", "LIGHTS");
    add(log, "tab\there and\na line break", "X", NULL);
    assert_string_equal(intent_feedback_errmsg(log), "");
    intent_feedback_get_stats(log, &st);
    assert_int_equal(st.n_records, 3);
    assert_int_equal(st.bytes, file_size(path));
    intent_feedback_close(log);
    uint64_t t1 = wall_ms();

    seen s = {0};
    uint64_t n = 9, skipped = 9;
    assert_int_equal(intent_feedback_scan(path, collect, &s, &n, &skipped, &err), INTENT_OK);
    assert_true(n == 3 && s.n == 3 && skipped == 0);
    assert_string_equal(s.text[1], "lights and music, ünïcödé");
    assert_string_equal(s.labels[1], "MUSIC,LIGHTS"); /* the order given */
    assert_string_equal(s.text[2], "tab\there and\na line break");
    assert_int_equal(s.offset[0], INTENTI_FEEDBACK_HEADER);
    for (size_t i = 0; i < 3; i++) {
        assert_true(s.time_ms[i] >= t0 && s.time_ms[i] <= t1);
        assert_true(i == 0 || s.offset[i] > s.offset[i - 1]);
    }

    intent_dataset *ds;
    assert_int_equal(intent_dataset_new(&ds), INTENT_OK);
    size_t n_read;
    assert_int_equal(intent_feedback_read(path, ds, &n_read, &skipped, &err), INTENT_OK);
    assert_true(n_read == 3 && skipped == 0 && intent_dataset_size(ds) == 3);
    size_t len, n_lab;
    const uint32_t *ids;
    assert_string_equal(intent_dataset_example(ds, 1, &len, &ids, &n_lab), "lights and music, ünïcödé");
    assert_int_equal(n_lab, 2);
    assert_int_equal(intent_dataset_n_labels(ds), 3);

    /* reopened, it appends after what is there */
    assert_int_equal(intent_feedback_open(path, &log, &err), INTENT_OK);
    intent_feedback_get_stats(log, &st);
    assert_true(st.n_records == 3 && st.torn_bytes == 0);
    add(log, "one more", "LIGHTS", NULL);
    intent_feedback_close(log);
    assert_int_equal(intent_feedback_read(path, ds, &n_read, &skipped, &err), INTENT_OK);
    assert_int_equal(n_read, 4);
    assert_int_equal(intent_dataset_size(ds), 7); /* appended to what ds held */
    intent_dataset_free(ds);
    intent_feedback_close(NULL);
    unlink(path);
}

static void bad_input_is_refused(void **state) {
    (void)state;
    char path[256];
    tmp_path(path, sizeof path, "bad.ifb");
    unlink(path);
    intent_feedback *log;
    intent_error err;
    assert_int_equal(intent_feedback_open(NULL, &log, &err), INTENT_ERR_ARG);
    assert_null(log);
    assert_int_equal(intent_feedback_open("", &log, &err), INTENT_ERR_ARG);
    assert_int_equal(intent_feedback_open(path, &log, &err), INTENT_OK);
    const char *one[1] = {"A"};
    struct { const char *text; size_t len; const char *label; int rc; const char *msg; } cases[] = {
        {"ab\xff", 3, "A", INTENT_ERR_ARG, "text is not valid UTF-8"},
        {"\xc0\xaf", 2, "A", INTENT_ERR_ARG, "not valid UTF-8"},   /* overlong '/' */
        {"", 0, "A", INTENT_ERR_ARG, "empty text"},
        {" \t\n ", 4, "A", INTENT_ERR_ARG, "empty text"},
        {"a\0b", 3, "A", INTENT_ERR_ARG, "NUL byte"},
        {"fine", 4, "A B", INTENT_ERR_ARG, "label 1: label contains whitespace"},
        {"fine", 4, "A,B", INTENT_ERR_ARG, "label contains ','"},
        {"fine", 4, "", INTENT_ERR_ARG, "empty label"},
        {"fine", 4, "caf\xe9", INTENT_ERR_ARG, "label is not valid UTF-8"},
        {"fine", 4, "tab\there", INTENT_ERR_ARG, "whitespace"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *labels[1] = {cases[i].label};
        err.message[0] = '\0';
        assert_int_equal(intent_feedback_append(log, cases[i].text, cases[i].len, labels, 1, &err), cases[i].rc);
        if (!strstr(err.message, cases[i].msg) || !strstr(err.message, path))
            fail_msg("case %zu: message \"%s\"", i, err.message);
        assert_string_equal(intent_feedback_errmsg(log), err.message);
    }
    char long_label[200];
    memset(long_label, 'x', sizeof long_label - 1);
    long_label[sizeof long_label - 1] = '\0';
    const char *ll[1] = {long_label};
    assert_int_equal(intent_feedback_append(log, "fine", 4, ll, 1, &err), INTENT_ERR_ARG);
    assert_non_null(strstr(err.message, "longer than 128"));
    const char *with_null[2] = {"A", NULL};
    assert_int_equal(intent_feedback_append(log, "fine", 4, with_null, 2, &err), INTENT_ERR_ARG);
    assert_int_equal(intent_feedback_append(log, "fine", 4, one, 0, &err), INTENT_ERR_ARG);
    assert_int_equal(intent_feedback_append(log, NULL, 4, one, 1, &err), INTENT_ERR_ARG);
    assert_int_equal(intent_feedback_append(NULL, "fine", 4, one, 1, &err), INTENT_ERR_ARG);
    assert_int_equal(intent_feedback_append(log, "fine", 4, one, 1, NULL), INTENT_OK); /* err may be NULL */
    const char *many[INTENT_FEEDBACK_MAX_LABELS + 1];
    for (size_t i = 0; i <= INTENT_FEEDBACK_MAX_LABELS; i++)
        many[i] = "M";
    assert_int_equal(intent_feedback_append(log, "fine", 4, many, INTENT_FEEDBACK_MAX_LABELS + 1, &err),
                     INTENT_ERR_LIMIT);
    assert_int_equal(intent_feedback_append(log, "fine", 4, many, INTENT_FEEDBACK_MAX_LABELS, &err), INTENT_OK);

    /* the record cap, exactly: head 12, time 8, count 2, label "A" 2, text length 4 */
    size_t fits = INTENT_FEEDBACK_MAX_RECORD - 28;
    char *big = malloc(fits + 1);
    memset(big, 'a', fits + 1);
    assert_int_equal(intent_feedback_append(log, big, fits + 1, one, 1, &err), INTENT_ERR_LIMIT);
    assert_non_null(strstr(err.message, "longer than"));
    assert_int_equal(intent_feedback_append(log, big, fits, one, 1, &err), INTENT_OK);
    assert_int_equal(intent_feedback_append(log, big, SIZE_MAX, one, 1, &err), INTENT_ERR_LIMIT);
    free(big);

    intent_feedback_stats st;
    assert_int_equal(intent_feedback_get_stats(NULL, &st), INTENT_ERR_ARG);
    intent_feedback_get_stats(log, &st);
    assert_int_equal(st.n_records, 3); /* the refused ones left no trace */
    assert_int_equal(st.bytes, file_size(path));
    intent_feedback_close(log);
    size_t n_read;
    uint64_t skipped;
    assert_int_equal(read_count(path, &n_read, &skipped, &err), INTENT_OK);
    assert_int_equal(n_read, 3);
    unlink(path);
}

static void foreign_and_newer_files(void **state) {
    (void)state;
    char path[256];
    tmp_path(path, sizeof path, "foreign.ifb");
    intent_feedback *log;
    intent_error err;
    size_t n_read;
    uint64_t skipped;
    static const char junk[] = "A\tthis is a TSV file, not a feedback log\n";
    spit(path, junk, sizeof junk - 1);
    assert_int_equal(intent_feedback_open(path, &log, &err), INTENT_ERR_FORMAT);
    assert_null(log);
    assert_non_null(strstr(err.message, "not an intent feedback log"));
    assert_int_equal(file_size(path), sizeof junk - 1); /* untouched */
    assert_int_equal(read_count(path, &n_read, &skipped, &err), INTENT_ERR_FORMAT);
    spit(path, junk, 3); /* short and foreign */
    assert_int_equal(intent_feedback_open(path, &log, &err), INTENT_ERR_FORMAT);

    uint8_t h[INTENTI_FEEDBACK_HEADER];
    intenti_feedback_header(h);
    h[8] = 2; /* major 2, checksum made right */
    intenti_st32(h + 12, intenti_crc32c(0, h, 12));
    spit(path, h, sizeof h);
    assert_int_equal(intent_feedback_open(path, &log, &err), INTENT_ERR_VERSION);
    assert_non_null(strstr(err.message, "2.0 is newer"));
    assert_int_equal(read_count(path, &n_read, &skipped, &err), INTENT_ERR_VERSION);
    intenti_feedback_header(h);
    h[10] = 7; /* a newer minor is fine */
    intenti_st32(h + 12, intenti_crc32c(0, h, 12));
    spit(path, h, sizeof h);
    assert_int_equal(read_count(path, &n_read, &skipped, &err), INTENT_OK);
    h[11] ^= 1; /* checksum no longer holds */
    spit(path, h, sizeof h);
    assert_int_equal(intent_feedback_open(path, &log, &err), INTENT_ERR_FORMAT);
    assert_non_null(strstr(err.message, "header damaged"));

    /* a creation cut short: empty, or a beginning of the header */
    intenti_feedback_header(h);
    for (size_t cut = 0; cut < sizeof h; cut++) {
        spit(path, h, cut);
        assert_int_equal(read_count(path, &n_read, &skipped, &err), INTENT_OK);
        assert_true(n_read == 0 && skipped == cut);
        assert_int_equal(intent_feedback_open(path, &log, &err), INTENT_OK);
        intent_feedback_close(log);
        assert_int_equal(file_size(path), sizeof h);
        assert_int_equal(read_count(path, &n_read, &skipped, &err), INTENT_OK);
        assert_true(n_read == 0 && skipped == 0);
    }
    unlink(path);

    assert_int_equal(read_count(path, &n_read, &skipped, &err), INTENT_ERR_IO); /* missing */
    assert_non_null(strstr(err.message, path));
    const char *dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    assert_int_equal(intent_feedback_open(dir, &log, &err), INTENT_ERR_IO);
    assert_int_equal(read_count(dir, &n_read, &skipped, &err), INTENT_ERR_IO);
    char nested[300];
    snprintf(nested, sizeof nested, "%s/no-such-folder-here/x.ifb", dir);
    assert_int_equal(intent_feedback_open(nested, &log, &err), INTENT_ERR_IO);
    assert_int_equal(intent_feedback_scan(path, NULL, NULL, NULL, NULL, &err), INTENT_ERR_ARG);
}

static void torn_tail_at_every_byte(void **state) {
    (void)state;
    char path[256], work[256];
    tmp_path(path, sizeof path, "torn.ifb");
    tmp_path(work, sizeof work, "torn-work.ifb");
    make_log(path, TEXTS, 4);
    size_t len;
    uint8_t *img = slurp(path, &len);
    seen s = {0};
    intent_error err;
    assert_int_equal(intent_feedback_scan(path, collect, &s, NULL, NULL, &err), INTENT_OK);
    assert_int_equal(s.n, 4);
    uint64_t last = s.offset[3];

    /* the reader, at every length of the file: exactly the records wholly inside */
    for (size_t cut = INTENTI_FEEDBACK_HEADER; cut <= len; cut++) {
        spit(work, img, cut);
        seen got = {0};
        uint64_t n, skipped;
        assert_int_equal(intent_feedback_scan(work, collect, &got, &n, &skipped, &err), INTENT_OK);
        size_t want = 0;
        while (want < 4 && (want + 1 < 4 ? s.offset[want + 1] : len) <= cut)
            want++;
        assert_int_equal(n, want);
        uint64_t whole_end = want < 4 ? s.offset[want] : len;
        assert_int_equal(skipped, cut - whole_end);
        for (size_t i = 0; i < want; i++) {
            assert_string_equal(got.text[i], s.text[i]);
            assert_string_equal(got.labels[i], s.labels[i]);
        }
    }

    /* the writer: cuts the torn last record, then appends where it began */
    for (size_t cut = last + 1; cut < len; cut += (cut < last + 16 || cut > len - 16) ? 1 : 11) {
        spit(work, img, cut);
        intent_feedback *log;
        assert_int_equal(intent_feedback_open(work, &log, &err), INTENT_OK);
        intent_feedback_stats st;
        intent_feedback_get_stats(log, &st);
        assert_true(st.n_records == 3 && st.bytes == last && st.torn_bytes == cut - last);
        assert_int_equal(file_size(work), last);
        add(log, TEXTS[3], "L3", NULL);
        intent_feedback_close(log);
        size_t n_read;
        uint64_t skipped;
        assert_int_equal(read_count(work, &n_read, &skipped, &err), INTENT_OK);
        assert_true(n_read == 4 && skipped == 0);
        assert_int_equal(file_size(work), len);
    }
    free(img);
    unlink(path);
    unlink(work);
}

static void every_bit_flip_is_caught(void **state) {
    (void)state;
    char path[256], work[256];
    tmp_path(path, sizeof path, "flip.ifb");
    tmp_path(work, sizeof work, "flip-work.ifb");
    make_log(path, TEXTS, 4);
    size_t len;
    uint8_t *img = slurp(path, &len);
    seen s = {0};
    intent_error err;
    assert_int_equal(intent_feedback_scan(path, collect, &s, NULL, NULL, &err), INTENT_OK);
    uint8_t *bad = malloc(len);
    for (size_t b = 0; b < len * 8; b++) {
        memcpy(bad, img, len);
        bad[b / 8] ^= (uint8_t)(1u << (b % 8));
        spit(work, bad, len);
        seen got = {0};
        uint64_t n, skipped;
        int rc = intent_feedback_scan(work, collect, &got, &n, &skipped, &err);
        size_t at = b / 8;
        if (at < INTENTI_FEEDBACK_HEADER) {
            assert_true(rc == INTENT_ERR_FORMAT || rc == INTENT_ERR_VERSION);
            continue;
        }
        size_t k = 0; /* the record holding the flipped byte */
        while (k + 1 < 4 && s.offset[k + 1] <= at)
            k++;
        assert_int_equal(n, k); /* exactly the records before it, as they were */
        for (size_t i = 0; i < k; i++)
            assert_string_equal(got.text[i], s.text[i]);
        assert_int_equal(skipped, len - s.offset[k]);
        char where[64];
        snprintf(where, sizeof where, "byte %llu:", (unsigned long long)s.offset[k]);
        if (k == 3) { /* in the last record, damage looks like a torn tail */
            assert_int_equal(rc, INTENT_OK);
        } else {
            assert_int_equal(rc, INTENT_ERR_CHECKSUM);
            if (!strstr(err.message, where))
                fail_msg("flip at bit %zu: \"%s\" does not name %s", b, err.message, where);
            /* a writer refuses the log and leaves it as it is */
            if (b % 5 == 0) {
                intent_feedback *log;
                assert_int_equal(intent_feedback_open(work, &log, &err), INTENT_ERR_CHECKSUM);
                assert_non_null(strstr(err.message, "left as it is"));
                size_t now;
                uint8_t *after = slurp(work, &now);
                assert_true(now == len && memcmp(after, bad, len) == 0);
                free(after);
            }
        }
    }
    free(bad);
    free(img);
    unlink(path);
    unlink(work);
}

/* Records whose checksum holds: damage the checksum cannot see is still refused, and
 * payload bytes after the text (a later minor version's fields) are skipped. */
static void checksummed_records_are_still_checked(void **state) {
    (void)state;
    char path[256];
    tmp_path(path, sizeof path, "crcok.ifb");
    intenti_buf b = {0};
    const char *labels[1] = {"GOOD"};
    uint8_t h[INTENTI_FEEDBACK_HEADER];
    intenti_feedback_header(h);
    assert_int_equal(intenti_feedback_encode(&b, 1234, "hello", 5, labels, 1), INTENT_OK);
    size_t rec_len = b.len;
    uint8_t *one = malloc(rec_len);
    memcpy(one, b.data, rec_len);

    /* a label with a space in it, re-checksummed, in the middle */
    uint8_t *evil = malloc(rec_len);
    memcpy(evil, one, rec_len);
    evil[INTENTI_FEEDBACK_REC_HEAD + 8 + 2 + 1 + 1] = ' '; /* "GOOD" -> "G OD" */
    uint32_t p = intenti_ld32(evil + 4);
    intenti_st32(evil + 8, intenti_crc32c(intenti_crc32c(0, evil, 8), evil + 12, p));
    spit(path, h, sizeof h);
    append_raw(path, one, rec_len);
    append_raw(path, evil, rec_len);
    append_raw(path, one, rec_len);
    size_t n_read;
    uint64_t skipped;
    intent_error err;
    assert_int_equal(read_count(path, &n_read, &skipped, &err), INTENT_ERR_FORMAT);
    assert_int_equal(n_read, 1);
    assert_non_null(strstr(err.message, "checksum holds but label contains whitespace"));
    char where[32];
    snprintf(where, sizeof where, "byte %zu:", sizeof h + rec_len);
    assert_non_null(strstr(err.message, where));
    /* even as the last record: a whole record is no torn write */
    spit(path, h, sizeof h);
    append_raw(path, evil, rec_len);
    assert_int_equal(read_count(path, &n_read, &skipped, &err), INTENT_ERR_FORMAT);
    intent_feedback *log;
    assert_int_equal(intent_feedback_open(path, &log, &err), INTENT_ERR_FORMAT);

    /* extra payload bytes after the text, checksummed: read, and skipped */
    uint8_t *longer = malloc(rec_len + 5);
    memcpy(longer, one, rec_len);
    memcpy(longer + rec_len, "\x01\x02\x03\x04\x05", 5);
    intenti_st32(longer + 4, p + 5);
    intenti_st32(longer + 8, intenti_crc32c(intenti_crc32c(0, longer, 8), longer + 12, p + 5));
    spit(path, h, sizeof h);
    append_raw(path, longer, rec_len + 5);
    append_raw(path, one, rec_len);
    seen s = {0};
    assert_int_equal(intent_feedback_scan(path, collect, &s, NULL, &skipped, &err), INTENT_OK);
    assert_true(s.n == 2 && skipped == 0 && s.time_ms[0] == 1234);
    assert_string_equal(s.text[0], "hello");
    assert_string_equal(s.labels[0], "GOOD");

    /* a power cut's tail: zeros, or garbage holding the record magic, are torn tails */
    spit(path, h, sizeof h);
    append_raw(path, one, rec_len);
    uint8_t junk[3000] = {0};
    append_raw(path, junk, sizeof junk);
    assert_int_equal(read_count(path, &n_read, &skipped, &err), INTENT_OK);
    assert_true(n_read == 1 && skipped == sizeof junk);
    for (size_t i = 0; i + 4 <= sizeof junk; i += 97)
        memcpy(junk + i, one, 8); /* record heads whose records are not there */
    append_raw(path, junk, sizeof junk);
    assert_int_equal(read_count(path, &n_read, &skipped, &err), INTENT_OK);
    assert_true(n_read == 1 && skipped == 2 * sizeof junk);
    assert_int_equal(intent_feedback_open(path, &log, &err), INTENT_OK);
    intent_feedback_stats st;
    intent_feedback_get_stats(log, &st);
    assert_true(st.n_records == 1 && st.torn_bytes == 2 * sizeof junk);
    intent_feedback_close(log);
    assert_int_equal(file_size(path), sizeof h + rec_len);
    intenti_buf_free(&b);
    free(one);
    free(evil);
    free(longer);
    unlink(path);
}

static int scan_stop(const intent_feedback_record *r, void *user) {
    (void)r;
    return ++*(int *)user == 2;
}

static void scan_callback_can_stop(void **state) {
    (void)state;
    char path[256];
    tmp_path(path, sizeof path, "stop.ifb");
    make_log(path, TEXTS, 4);
    int calls = 0;
    uint64_t n, skipped;
    intent_error err;
    assert_int_equal(intent_feedback_scan(path, scan_stop, &calls, &n, &skipped, &err), INTENT_ERR_CANCELLED);
    assert_true(calls == 2 && n == 1 && skipped == 0);
    assert_non_null(strstr(err.message, "stopped by the callback"));
    unlink(path);
}

/* ---- allocation failures ---- */

typedef struct alloc_case {
    char path[256];
    uint8_t *image; /* a log of two records and a torn third */
    size_t len;
} alloc_case;

static int alloc_op(alloc_case *c) {
    spit(c->path, c->image, c->len);
    intent_feedback *log;
    intent_error err;
    int rc = intent_feedback_open(c->path, &log, &err);
    if (rc)
        return rc;
    const char *labels[2] = {"NEW", "LABELS"};
    rc = intent_feedback_append(log, "a third record", 14, labels, 2, &err);
    if (!rc)
        rc = intent_feedback_append(log, "a fourth", 8, labels, 1, &err);
    if (rc)
        assert_string_equal(intent_feedback_errmsg(log), err.message);
    intent_feedback_close(log);
    if (rc)
        return rc;
    intent_dataset *ds;
    rc = intent_dataset_new(&ds);
    if (rc)
        return rc;
    size_t n_read;
    uint64_t skipped;
    rc = intent_feedback_read(c->path, ds, &n_read, &skipped, &err);
    if (!rc && (n_read != 4 || skipped != 0))
        rc = INTENT_ERR_ARG;
    intent_dataset_free(ds);
    return rc;
}

static void allocation_failures(void **state) {
    (void)state;
    alloc_case c;
    tmp_path(c.path, sizeof c.path, "alloc.ifb");
    make_log(c.path, TEXTS, 3);
    uint8_t *img = slurp(c.path, &c.len);
    c.len -= 9; /* tear the third record */
    c.image = img;
    long n;
    for (n = 1; n < 10000; n++) {
        fail_alloc_at(n);
        int rc = alloc_op(&c);
        long used = alloc_count();
        fail_alloc_at(0);
        if (rc == INTENT_OK) {
            assert_true(used < n);
            break;
        }
        assert_int_equal(rc, INTENT_ERR_NOMEM);
    }
    assert_true(n > 5 && n < 10000);
    free(img);
    unlink(c.path);
}

/* ---- threads and handles ---- */

#define N_THREADS 8
#define PER_THREAD 40
#define PAD 24000 /* long records: more time spent encoding and writing, where races bite */

typedef struct worker {
    intent_feedback *log;
    pthread_barrier_t *go;
    int id, failures;
} worker;

static void *append_many(void *arg) {
    worker *w = arg;
    char *text = malloc(PAD + 64), label[16];
    snprintf(label, sizeof label, "T%d", w->id);
    const char *labels[2] = {label, "ANY"};
    pthread_barrier_wait(w->go);
    for (int i = 0; i < PER_THREAD; i++) {
        int n = snprintf(text, 64, "thread %d item %d ", w->id, i);
        size_t len = (size_t)n + (size_t)(i * 7919 + w->id * 104729) % PAD;
        memset(text + n, 'a' + w->id, len - (size_t)n);
        intent_error err;
        if (intent_feedback_append(w->log, text, len, labels, 2, &err))
            w->failures++;
    }
    free(text);
    return NULL;
}

typedef struct tally {
    int next[N_THREADS];
    int bad;
} tally;

static int check_order(const intent_feedback_record *r, void *user) {
    tally *t = user;
    int id, item;
    char label[16];
    if (sscanf(r->text, "thread %d item %d", &id, &item) != 2 || id < 0 || id >= N_THREADS ||
        item != t->next[id] || r->n_labels != 2)
        return t->bad++, 0;
    const char *pad = r->text + snprintf(NULL, 0, "thread %d item %d ", id, item);
    size_t want = (size_t)(pad - r->text) + (size_t)(item * 7919 + id * 104729) % PAD;
    if (r->len != want)
        return t->bad++, 0;
    for (const char *p = pad; p < r->text + r->len; p++)
        if (*p != 'a' + id)
            return t->bad++, 0;
    snprintf(label, sizeof label, "T%d", id);
    if (strcmp(r->labels[0], label) != 0 || strcmp(r->labels[1], "ANY") != 0)
        return t->bad++, 0;
    t->next[id]++;
    return 0;
}

static void threads_never_interleave(void **state) {
    (void)state;
    char path[256];
    tmp_path(path, sizeof path, "threads.ifb");
    unlink(path);
    intent_feedback *log;
    intent_error err;
    assert_int_equal(intent_feedback_open(path, &log, &err), INTENT_OK);
    pthread_t th[N_THREADS];
    worker w[N_THREADS];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, N_THREADS);
    for (int i = 0; i < N_THREADS; i++) {
        w[i] = (worker){log, &go, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, append_many, &w[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    pthread_barrier_destroy(&go);
    intent_feedback_stats st;
    intent_feedback_get_stats(log, &st);
    assert_int_equal(st.n_records, N_THREADS * PER_THREAD);
    intent_feedback_close(log);
    tally t = {{0}, 0};
    uint64_t n, skipped;
    assert_int_equal(intent_feedback_scan(path, check_order, &t, &n, &skipped, &err), INTENT_OK);
    assert_true(n == N_THREADS * PER_THREAD && skipped == 0 && t.bad == 0);
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(t.next[i], PER_THREAD);
    unlink(path);
}

/* Two handles on one log take turns, and one repairs what a crashed writer left. */
static void handles_share_a_log(void **state) {
    (void)state;
    char path[256];
    tmp_path(path, sizeof path, "shared.ifb");
    unlink(path);
    intent_feedback *a, *b;
    intent_error err;
    assert_int_equal(intent_feedback_open(path, &a, &err), INTENT_OK);
    assert_int_equal(intent_feedback_open(path, &b, &err), INTENT_OK);
    add(a, "one", "A", NULL);
    add(b, "two", "B", NULL);
    add(a, "three", "A", NULL);
    intent_feedback_stats st;
    intent_feedback_get_stats(a, &st);
    assert_int_equal(st.n_records, 3); /* a counted b's record when it caught up */
    seen s = {0};
    assert_int_equal(intent_feedback_scan(path, collect, &s, NULL, NULL, &err), INTENT_OK);
    assert_true(s.n == 3 && strcmp(s.text[1], "two") == 0 && strcmp(s.text[2], "three") == 0);

    /* a writer died mid-record: the next append through b cuts its remains */
    size_t len;
    uint8_t *img = slurp(path, &len);
    append_raw(path, img + s.offset[2], 20);
    add(b, "four", "B", NULL);
    intent_feedback_get_stats(b, &st);
    assert_true(st.n_records == 4 && st.torn_bytes == 20);
    size_t n_read;
    uint64_t skipped;
    assert_int_equal(read_count(path, &n_read, &skipped, &err), INTENT_OK);
    assert_true(n_read == 4 && skipped == 0);

    /* damage in what another handle wrote: refused, and the file left alone (a handle
     * checks the bytes written since it last looked; readers and open check them all) */
    add(b, "five", "B", NULL);
    add(b, "six", "B", NULL);
    seen s2 = {0};
    assert_int_equal(intent_feedback_scan(path, collect, &s2, NULL, NULL, &err), INTENT_OK);
    assert_true(s2.n == 6 && strcmp(s2.text[4], "five") == 0);
    uint64_t size = file_size(path);
    int fd = open(path, O_RDWR);
    uint8_t byte;
    assert_int_equal(pread(fd, &byte, 1, (off_t)s2.offset[4] + 14), 1);
    byte ^= 0x40;
    assert_int_equal(pwrite(fd, &byte, 1, (off_t)s2.offset[4] + 14), 1);
    const char *lab[1] = {"A"};
    assert_int_equal(intent_feedback_append(a, "seven", 5, lab, 1, &err), INTENT_ERR_CHECKSUM);
    char where[32];
    snprintf(where, sizeof where, "byte %llu:", (unsigned long long)s2.offset[4]);
    assert_non_null(strstr(err.message, where));
    assert_string_equal(intent_feedback_errmsg(a), err.message);
    assert_int_equal(file_size(path), size);
    byte ^= 0x40; /* mended: appends go on */
    assert_int_equal(pwrite(fd, &byte, 1, (off_t)s2.offset[4] + 14), 1);
    close(fd);
    add(a, "seven", "A", NULL);
    intent_feedback_get_stats(a, &st);
    assert_int_equal(st.n_records, 7);

    /* cut short behind the handles' backs (not by a writer): they start over */
    assert_int_equal(truncate(path, (off_t)s.offset[2]), 0);
    add(b, "three again", "B", NULL);
    intent_feedback_get_stats(b, &st);
    assert_true(st.n_records == 3 && st.bytes == file_size(path));
    intent_feedback_close(a);
    intent_feedback_close(b);
    free(img);
    unlink(path);
}

int test_feedback(int *total) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(bad_input_is_refused),
        cmocka_unit_test(foreign_and_newer_files),
        cmocka_unit_test(torn_tail_at_every_byte),
        cmocka_unit_test(every_bit_flip_is_caught),
        cmocka_unit_test(checksummed_records_are_still_checked),
        cmocka_unit_test(scan_callback_can_stop),
        cmocka_unit_test(allocation_failures),
        cmocka_unit_test(threads_never_interleave),
        cmocka_unit_test(handles_share_a_log),
    };
    return RUN("feedback", tests, total);
}
