/*
 * feedback_log.c - appending to a feedback log: intent_feedback_open, _append, _close.
 * The format, and why a crash at any moment leaves a readable log, are in feedback.c.
 *
 * DESIGN
 *   A handle is one file descriptor (O_RDWR, not O_APPEND: a record goes at `end` with
 *   pwrite), a mutex that serializes the handle's threads, and `end`: the offset just
 *   after the last whole record, as this handle last saw it under the file lock.
 *
 *   Every append takes an exclusive flock on the file (so handles in other threads and
 *   processes are excluded too), then catches up: if the file is longer than `end`,
 *   others appended (their records are walked and counted), and whatever is not whole at
 *   the end is a torn tail left by a writer that died mid-record: it is cut off. Only then
 *   does the record go at the end: one pwrite, one fdatasync (which also makes the new
 *   file size durable; the folder entry was fsynced when the log was created). The flock
 *   is dropped after each append, so a long-lived handle (a server) keeps no one out.
 *   Lock order: the mutex, then the flock.
 *
 *   Failure. A write error cuts the partial record off again (ftruncate to `end`). If
 *   that fails too, or fdatasync fails (after which the kernel may have dropped the
 *   dirty pages, so what is on disk cannot be known), the handle turns `broken` and
 *   refuses appends; reopening rescans the log and repairs it.
 */
#include "feedback.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct intent_feedback {
    pthread_mutex_t mu;    /* guards everything below */
    int fd;
    char *path;            /* owned copy, for messages and the folder fsync */
    uint64_t end;          /* after the last whole record; 0 until the header is checked */
    uint64_t n_records;    /* whole records before `end` */
    uint64_t torn_bytes;   /* torn tails this handle cut off */
    bool broken;           /* an append failed so that the file's state is unknown */
    intenti_buf rec;       /* the record being appended (reused) */
    intenti_feedback_rd rd;/* read window for catching up (reused) */
    char errmsg[512];
};

static int lock_file(int fd, int op) {
    while (flock(fd, op) != 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

static int pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t at) {
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)at);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) { /* cannot happen for n > 0 on a regular file; do not spin */
            errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
        at += (uint64_t)w;
    }
    return 0;
}

/* Makes the new folder entry durable: fsync the folder that holds path. */
static int sync_dir(const char *path) {
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int n;
    if (!slash)
        n = snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        n = snprintf(dir, sizeof dir, "/");
    else
        n = snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (n < 0 || (size_t)n >= sizeof dir) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd), e = errno;
    close(fd);
    if (rc != 0 && (e == EINVAL || e == EROFS)) /* folders that cannot be synced */
        rc = 0;
    errno = e;
    return rc;
}

/* Checks the header, or writes it when the file is new (size 0) or its creation was
 * cut short (a beginning of a header); then end = the header's size. */
static int start(intent_feedback *h, uint64_t size, intent_error *err) {
    uint8_t hd[INTENTI_FEEDBACK_HEADER];
    size_t n = size < sizeof hd ? (size_t)size : sizeof hd;
    ssize_t got = pread(h->fd, hd, n, 0);
    if (got != (ssize_t)n)
        return intenti_err(err, INTENT_ERR_IO, "%s: cannot read the header: %s", h->path,
                           got < 0 ? strerror(errno) : "file shrank");
    bool prefix;
    int rc = intenti_feedback_check_header(hd, n, h->path, &prefix, err);
    if (rc)
        return rc;
    if (prefix) {
        intenti_feedback_header(hd);
        if (pwrite_all(h->fd, hd, sizeof hd, 0) != 0 || fdatasync(h->fd) != 0)
            return intenti_err(err, INTENT_ERR_IO, "%s: cannot write the header: %s", h->path, strerror(errno));
        if (sync_dir(h->path) != 0)
            return intenti_err(err, INTENT_ERR_IO, "%s: cannot fsync its folder: %s", h->path, strerror(errno));
    }
    h->end = INTENTI_FEEDBACK_HEADER;
    h->n_records = 0;
    return INTENT_OK;
}

/* Under the flock: brings end and n_records up to date with the file, cutting a torn
 * tail. O(1) when no one else wrote since this handle's last append. */
static int catch_up(intent_feedback *h, intent_error *err) {
    struct stat st;
    if (fstat(h->fd, &st) != 0)
        return intenti_err(err, INTENT_ERR_IO, "%s: %s", h->path, strerror(errno));
    uint64_t size = (uint64_t)st.st_size;
    if (h->end && size == h->end)
        return INTENT_OK;
    if (!h->end || size < h->end) { /* first look, or cut by someone else: start over */
        int rc = start(h, size, err);
        if (rc)
            return rc;
        if (size < h->end)
            size = h->end; /* the header was just written */
    }
    intenti_feedback_walk w;
    int rc = intenti_feedback_walk_records(&h->rd, h->end, size, h->path, NULL, NULL, &w, err);
    if (rc)
        return rc;
    h->end = w.end;
    h->n_records += w.n_records;
    if (w.stop == INTENTI_FEEDBACK_DAMAGED)
        return intenti_err(err, w.status, "%s: %s; the log is left as it is (%llu whole records "
                           "before it): move it aside to start a new one", h->path, w.why,
                           (unsigned long long)h->n_records);
    if (w.stop == INTENTI_FEEDBACK_TORN) {
        /* If the cut is not made durable, the next record overwrites the torn bytes
         * from `end` anyway, and anything left after it is again a torn tail. */
        if (ftruncate(h->fd, (off_t)h->end) != 0 || fdatasync(h->fd) != 0)
            return intenti_err(err, INTENT_ERR_IO, "%s: cannot cut the torn tail at %s: %s", h->path,
                               w.why, strerror(errno));
        h->torn_bytes += size - h->end;
    }
    return INTENT_OK;
}

int intent_feedback_open(const char *path, intent_feedback **out, intent_error *err) {
    if (!path || !out || !*path) {
        if (out)
            *out = NULL;
        return intenti_err(err, INTENT_ERR_ARG, "intent_feedback_open: %s", !path ? "NULL path" : !out ? "NULL out" : "empty path");
    }
    *out = NULL;
    intent_feedback *h = intenti_calloc(1, sizeof *h);
    if (!h)
        return intenti_err(err, INTENT_ERR_NOMEM, "%s: out of memory", path);
    h->fd = -1;
    h->path = intenti_strndup(path, strlen(path));
    if (!h->path) {
        intenti_free(h);
        return intenti_err(err, INTENT_ERR_NOMEM, "%s: out of memory", path);
    }
    if (pthread_mutex_init(&h->mu, NULL) != 0) {
        intenti_free(h->path);
        intenti_free(h);
        return intenti_err(err, INTENT_ERR_NOMEM, "%s: cannot make a mutex", path);
    }
    int rc = INTENT_OK;
    h->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
    struct stat st;
    if (h->fd < 0)
        rc = intenti_err(err, INTENT_ERR_IO, "%s: %s", path, strerror(errno));
    else if (fstat(h->fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = intenti_err(err, INTENT_ERR_IO, "%s: not a regular file", path);
    else if (lock_file(h->fd, LOCK_EX) != 0)
        rc = intenti_err(err, INTENT_ERR_IO, "%s: cannot lock: %s", path, strerror(errno));
    else {
        h->rd.fd = h->fd;
        rc = catch_up(h, err);
        lock_file(h->fd, LOCK_UN);
    }
    if (rc) {
        intent_feedback_close(h);
        return rc;
    }
    *out = h;
    return INTENT_OK;
}

static uint64_t now_ms(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Under the mutex and the flock, after catch_up: the record in h->rec goes at end. */
static int write_record(intent_feedback *h, intent_error *err) {
    if (pwrite_all(h->fd, h->rec.data, h->rec.len, h->end) != 0) {
        int e = errno;
        if (ftruncate(h->fd, (off_t)h->end) != 0)
            h->broken = true;
        return intenti_err(err, INTENT_ERR_IO, "%s: write: %s; the record was not appended%s", h->path,
                           strerror(e), h->broken ? ", nor could its start be cut off: reopen the log" : "");
    }
    if (fdatasync(h->fd) != 0) {
        int e = errno;
        if (ftruncate(h->fd, (off_t)h->end) != 0) { /* best effort: say "not appended" */
        }
        h->broken = true;
        return intenti_err(err, INTENT_ERR_IO, "%s: fdatasync: %s; the record was not appended, and "
                           "this handle appends no more: reopen the log", h->path, strerror(e));
    }
    h->end += h->rec.len;
    h->n_records++;
    return INTENT_OK;
}

int intent_feedback_append(intent_feedback *log, const char *text, size_t len,
                           const char *const *labels, size_t n_labels, intent_error *err) {
    if (!log)
        return intenti_err(err, INTENT_ERR_ARG, "intent_feedback_append: NULL log");
    char why[256];
    intent_error e = {0, ""};
    int rc = intenti_feedback_problem(text, len, labels, n_labels, why, sizeof why); /* no lock needed */
    pthread_mutex_lock(&log->mu);
    if (rc)
        intenti_err(&e, rc, "%s: %s", log->path, why);
    else if (log->broken)
        rc = intenti_err(&e, INTENT_ERR_IO, "%s: an earlier append failed and left the log in an "
                         "unknown state: reopen it", log->path);
    else if ((rc = intenti_feedback_encode(&log->rec, now_ms(), text, len, labels, n_labels)) != 0)
        intenti_err(&e, rc, "%s: out of memory", log->path);
    else if (lock_file(log->fd, LOCK_EX) != 0)
        rc = intenti_err(&e, INTENT_ERR_IO, "%s: cannot lock: %s", log->path, strerror(errno));
    else {
        rc = catch_up(log, &e);
        if (!rc)
            rc = write_record(log, &e);
        lock_file(log->fd, LOCK_UN);
    }
    if (rc) {
        memcpy(log->errmsg, e.message, sizeof log->errmsg);
        if (err)
            *err = e;
    }
    pthread_mutex_unlock(&log->mu);
    return rc;
}

int intent_feedback_get_stats(intent_feedback *log, intent_feedback_stats *out) {
    if (!log || !out)
        return INTENT_ERR_ARG;
    pthread_mutex_lock(&log->mu);
    out->n_records = log->n_records;
    out->bytes = log->end;
    out->torn_bytes = log->torn_bytes;
    pthread_mutex_unlock(&log->mu);
    return INTENT_OK;
}

const char *intent_feedback_errmsg(const intent_feedback *log) { return log ? log->errmsg : ""; }

void intent_feedback_close(intent_feedback *log) {
    if (!log)
        return;
    if (log->fd >= 0)
        close(log->fd); /* records are already durable; the flock is not held here */
    pthread_mutex_destroy(&log->mu);
    intenti_feedback_rd_free(&log->rd);
    intenti_buf_free(&log->rec);
    intenti_free(log->path);
    intenti_free(log);
}
