/*
 * feedback_crash.c - the feedback log under kill -9.
 *
 * A child process appends records in a tight loop; the parent kills it with SIGKILL after
 * a random 0..20 ms and checks that the log reads back as a whole prefix of what was
 * appended: for each writer, records 0..k-1 in order, each byte for byte as written,
 * nothing else but perhaps a torn tail, and never fewer records than the previous check
 * saw. The next child reopens the log (which cuts a torn tail) and carries on from k. A
 * second phase runs two writers at once and kills them at different moments, so one
 * writer repairs what the other left. Some records are long (64..576 KiB), so that kills
 * land inside a write() now and then and leave a torn tail to repair.
 *
 * It lives in tests/crash/ because it is a program of its own (the Makefile links every
 * .c file directly in tests/ into run_tests). Each kill is one check; the last line is
 * "feedback crash: N passed, M failed", for tests/run.sh.
 *
 * usage: feedback_crash [ROUNDS]        default 40 single-writer rounds, 10 two-writer
 *                                      rounds and 30 page-cache rounds
 *        INTENT_CRASH_SEED=N            repeats a run (the seed is printed)
 */
#include "intent.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_WRITERS 3 /* writer 0 alone; writers 1 and 2 together */
#define TEXT_CAP (1u << 20)

/* The filler of every text is a window of this: "abc...zabc...", 1 MiB. */
static char pattern[TEXT_CAP + 26];

static size_t filler_len(int w, uint64_t k) {
    uint64_t h = (k + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)w * 0xC2B2AE3D27D4EB4Full;
    if (k % 4 == 3) /* long: a write() that takes a while, where a kill leaves a torn record */
        return (64u << 10) + (size_t)((h >> 8) % (448u << 10));
    return (size_t)((h >> 8) % 200);
}

/* Writes the text of record k of writer w into buf (TEXT_CAP bytes); returns its length. */
static size_t make_text(char *buf, int w, uint64_t k) {
    size_t n = (size_t)snprintf(buf, 64, "w%d seq %llu ", w, (unsigned long long)k);
    size_t f = filler_len(w, k);
    memcpy(buf + n, pattern + k % 26, f);
    return n + f;
}

static void make_labels(char lab[2][16], int w, uint64_t k) {
    snprintf(lab[0], 16, "W%d", w);
    snprintf(lab[1], 16, "K%u", (unsigned)(k % 7));
}

/* ---- checking ---- */

typedef struct check {
    uint64_t next[N_WRITERS]; /* records of each writer seen so far, in order */
    char *buf;                /* TEXT_CAP bytes */
    int only;                 /* count only this writer's records (-1: check all) */
    char problem[600];        /* the first thing wrong, "" if none */
} check;

static int check_record(const intent_feedback_record *r, void *user) {
    check *c = user;
    int w;
    unsigned long long k;
    if (sscanf(r->text, "w%d seq %llu ", &w, &k) != 2 || w < 0 || w >= N_WRITERS) {
        snprintf(c->problem, sizeof c->problem, "byte %llu: a record no writer wrote: \"%.40s\"",
                 (unsigned long long)r->offset, r->text);
        return 1;
    }
    if (c->only >= 0) { /* a writer counting its own records: trust, count */
        if (w == c->only)
            c->next[w]++;
        return 0;
    }
    if (k != c->next[w]) {
        snprintf(c->problem, sizeof c->problem, "byte %llu: writer %d record %llu where %llu was due",
                 (unsigned long long)r->offset, w, k, (unsigned long long)c->next[w]);
        return 1;
    }
    size_t len = make_text(c->buf, w, k);
    char lab[2][16];
    make_labels(lab, w, k);
    if (r->len != len || memcmp(r->text, c->buf, len) != 0 || r->n_labels != 2 ||
        strcmp(r->labels[0], lab[0]) != 0 || strcmp(r->labels[1], lab[1]) != 0) {
        snprintf(c->problem, sizeof c->problem, "byte %llu: writer %d record %llu differs from what was written",
                 (unsigned long long)r->offset, w, k);
        return 1;
    }
    c->next[w]++;
    return 0;
}

/* Reads the whole log; 0 if it is a clean prefix (counts in c->next), else -1. */
static int check_log(const char *path, check *c, uint64_t *skipped) {
    memset(c->next, 0, sizeof c->next);
    c->problem[0] = '\0';
    *skipped = 0;
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT)
        return 0; /* killed before it created the log: no records, which is a prefix */
    uint64_t n;
    intent_error err;
    int rc = intent_feedback_scan(path, check_record, c, &n, skipped, &err);
    if (rc) {
        if (!c->problem[0])
            snprintf(c->problem, sizeof c->problem, "%s", err.message);
        return -1;
    }
    return 0;
}

/* ---- the writer: a child process that appends until it is killed ---- */

/* pause_us between appends: writers 1 and 2 pause a little, as real ones do, because
 * flock is not fair and a writer appending non-stop would keep the other waiting. */
static void writer(const char *path, int w, unsigned pause_us) {
    intent_feedback *log;
    intent_error err;
    if (intent_feedback_open(path, &log, &err)) {
        fprintf(stderr, "writer %d: %s\n", w, err.message);
        _exit(3);
    }
    check c = {.buf = malloc(TEXT_CAP), .only = w};
    uint64_t skipped;
    if (!c.buf || check_log(path, &c, &skipped)) {
        fprintf(stderr, "writer %d: %s\n", w, c.buf ? c.problem : "out of memory");
        _exit(3);
    }
    for (uint64_t k = c.next[w];; k++) {
        size_t len = make_text(c.buf, w, k);
        char lab[2][16];
        make_labels(lab, w, k);
        const char *labels[2] = {lab[0], lab[1]};
        if (intent_feedback_append(log, c.buf, len, labels, 2, &err)) {
            fprintf(stderr, "writer %d: %s\n", w, err.message);
            _exit(4);
        }
        if (pause_us)
            usleep(pause_us);
    }
}

/* ---- the parent ---- */

static uint64_t rng_state;
static uint32_t rnd(uint32_t n) { /* xorshift64*, [0, n) */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32) % n;
}

static void sleep_us(uint32_t us) {
    struct timespec ts = {us / 1000000, (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static pid_t spawn(const char *path, int w) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        writer(path, w, w ? 300 : 0);
    return pid;
}

/* Kills pid; 0 if it died of the SIGKILL (not of an error of its own before). */
static int kill_writer(pid_t pid, char *problem, size_t cap) {
    int st;
    kill(pid, SIGKILL);
    if (waitpid(pid, &st, 0) != pid) {
        snprintf(problem, cap, "waitpid failed");
        return -1;
    }
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
        return 0;
    snprintf(problem, cap, "the writer ended by itself (status %d) before it was killed", st);
    return -1;
}

typedef struct tally {
    int passed, failed, torn;
    uint64_t prev[N_WRITERS];
} tally;

/* After a kill: the log must be a clean prefix, no shorter than before. */
static void after_kill(const char *path, check *c, tally *t, const char *what, int round, int killed_ok,
                       const char *kill_problem) {
    uint64_t skipped = 0;
    int ok = killed_ok == 0 && check_log(path, c, &skipped) == 0;
    for (int w = 0; ok && w < N_WRITERS; w++)
        if (c->next[w] < t->prev[w]) {
            snprintf(c->problem, sizeof c->problem, "writer %d: %llu records where %llu were before", w,
                     (unsigned long long)c->next[w], (unsigned long long)t->prev[w]);
            ok = 0;
        }
    if (ok) {
        t->passed++;
        t->torn += skipped > 0;
        memcpy(t->prev, c->next, sizeof t->prev);
    } else {
        t->failed++;
        printf("FAIL %s round %d: %s\n", what, round, killed_ok ? kill_problem : c->problem);
    }
}

/* Opens the log in this process (cutting any torn tail), appends record `next` of writer
 * 0, and checks the log is then clean and one record longer. *torn: bytes cut. */
static int reopen_and_append(const char *path, check *c, uint64_t next, uint64_t *torn) {
    intent_feedback *log;
    intent_error err;
    if (intent_feedback_open(path, &log, &err) != 0) {
        snprintf(c->problem, sizeof c->problem, "reopen: %s", err.message);
        return -1;
    }
    intent_feedback_stats st;
    intent_feedback_get_stats(log, &st);
    if (torn)
        *torn = st.torn_bytes;
    size_t len = make_text(c->buf, 0, next);
    char lab[2][16];
    make_labels(lab, 0, next);
    const char *labels[2] = {lab[0], lab[1]};
    int rc = intent_feedback_append(log, c->buf, len, labels, 2, &err);
    intent_feedback_close(log);
    if (rc) {
        snprintf(c->problem, sizeof c->problem, "append after reopening: %s", err.message);
        return -1;
    }
    uint64_t skipped;
    if (check_log(path, c, &skipped) != 0)
        return -1;
    if (skipped || c->next[0] != next + 1) {
        snprintf(c->problem, sizeof c->problem, "after reopening and appending: %llu records, %llu torn bytes",
                 (unsigned long long)c->next[0], (unsigned long long)skipped);
        return -1;
    }
    return 0;
}

/* The same kills on tmpfs, where fdatasync costs nothing and a writer spends its time in
 * write(): most kills land mid-record, so the torn-tail path runs on every test run (on
 * a disk, where fdatasync takes most of the time, only a few percent of kills do). Each
 * round uses a fresh log, since page-cache speed makes logs grow fast. */
static void page_cache_phase(check *c, tally *t, int rounds) {
    struct statvfs vfs;
    if (statvfs("/dev/shm", &vfs) != 0 || (uint64_t)vfs.f_bavail * vfs.f_frsize < (512ull << 20)) {
        printf("page cache only: skipped (no /dev/shm with 512 MiB free)\n");
        return;
    }
    char path[64], problem[256];
    snprintf(path, sizeof path, "/dev/shm/intent-crash-%d.log", (int)getpid());
    int torn = 0;
    uint64_t records = 0;
    for (int r = 0; r < rounds; r++) {
        unlink(path);
        pid_t pid = spawn(path, 0);
        sleep_us(rnd(20001));
        int k = kill_writer(pid, problem, sizeof problem);
        uint64_t skipped = 0, cut = 0;
        int ok = k == 0 && check_log(path, c, &skipped) == 0;
        uint64_t n = c->next[0];
        ok = ok && reopen_and_append(path, c, n, &cut) == 0;
        if (ok && cut != skipped) {
            snprintf(c->problem, sizeof c->problem, "reopening cut %llu bytes, the reader skipped %llu",
                     (unsigned long long)cut, (unsigned long long)skipped);
            ok = 0;
        }
        if (ok) {
            t->passed++;
            torn += skipped > 0;
            records += n;
        } else {
            t->failed++;
            printf("FAIL page cache round %d: %s\n", r, k ? problem : c->problem);
        }
    }
    unlink(path);
    printf("page cache only: %d kills, %llu records, %d torn tails seen and cut on reopening\n", rounds,
           (unsigned long long)records, torn);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 40; /* a test knob */
    const char *seed_env = getenv("INTENT_CRASH_SEED");
    uint64_t seed = seed_env && *seed_env ? strtoull(seed_env, NULL, 10)
                                          : (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
    rng_state = seed ? seed : 1;
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (char)('a' + i % 26);
    printf("feedback crash test: seed %llu (INTENT_CRASH_SEED repeats it)\n", (unsigned long long)seed);

    const char *tmp = getenv("TMPDIR");
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/intent-crash-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        printf("feedback crash: 0 passed, 1 failed\n");
        return 1;
    }
    snprintf(path, sizeof path, "%s/feedback.log", dir);
    check c = {.buf = malloc(TEXT_CAP), .only = -1};
    tally t = {0};
    char problem[256];

    /* phase 1: one writer, killed at random moments */
    for (int r = 0; r < rounds; r++) {
        pid_t pid = spawn(path, 0);
        sleep_us(rnd(20001));
        int k = kill_writer(pid, problem, sizeof problem);
        after_kill(path, &c, &t, "one writer", r, k, problem);
    }
    printf("one writer: %d kills, %llu records, %d torn tails seen (each cut by the next writer)\n", rounds,
           (unsigned long long)t.prev[0], t.torn);

    /* phase 2: two writers at once, killed at different moments */
    int torn_before = t.torn;
    for (int r = 0; r < rounds / 4; r++) {
        pid_t a = spawn(path, 1), b = spawn(path, 2);
        sleep_us(rnd(20001));
        int first = (int)rnd(2);
        int ka = kill_writer(first ? a : b, problem, sizeof problem);
        sleep_us(rnd(10001));
        int kb = kill_writer(first ? b : a, problem, sizeof problem);
        after_kill(path, &c, &t, "two writers", r, ka || kb, problem);
    }
    printf("two writers: %d rounds, %llu + %llu records, %d torn tails seen\n", rounds / 4,
           (unsigned long long)t.prev[1], (unsigned long long)t.prev[2], t.torn - torn_before);

    /* finally: reopening repairs, and one more append lands cleanly after the rest */
    if (reopen_and_append(path, &c, t.prev[0], NULL) == 0)
        t.passed++;
    else {
        t.failed++;
        printf("FAIL reopen and append: %s\n", c.problem);
    }
    page_cache_phase(&c, &t, rounds * 3 / 4);
    struct stat st;
    if (stat(path, &st) == 0)
        printf("log: %lld bytes\n", (long long)st.st_size);
    unlink(path);
    rmdir(dir);
    free(c.buf);
    printf("feedback crash: %d passed, %d failed\n", t.passed, t.failed);
    return t.failed ? 1 : 0;
}
