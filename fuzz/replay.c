/*
 * replay.c - runs a fuzz target over corpus files without libFuzzer (and without clang),
 * so that `make test` replays the committed corpora with any compiler and sanitizer.
 *
 *   replay_model PATH...     files, or folders whose files are all run (sorted by name)
 *
 * Linked with one fuzz/fuzz_*.c; calls its LLVMFuzzerInitialize (if it has one) once,
 * then LLVMFuzzerTestOneInput once per file, in a forked child: a crash, a sanitizer
 * report (the sanitizers exit non-zero, leaks included) or a hang (REPLAY_TIMEOUT seconds)
 * fails that file and the rest still run. Each input lies in a buffer of exactly its
 * size, as libFuzzer gives it, so AddressSanitizer sees reads past its end.
 * The last line is "N passed, M failed"; the exit status is 0 only when M is 0.
 * REPLAY_NOFORK=1 runs everything in this process (for a debugger).
 */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define REPLAY_TIMEOUT 60

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int run_file(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (fseek(fp, 0, SEEK_END) == 0) {
        long n = ftell(fp);
        rewind(fp);
        if (n >= 0) {
            len = (size_t)n;
            buf = malloc(len ? len : 1);
        }
    }
    int ok = buf && fread(buf, 1, len, fp) == len;
    fclose(fp);
    if (ok)
        LLVMFuzzerTestOneInput(len ? buf : (const uint8_t *)"", len);
    free(buf);
    return ok ? 0 : -1;
}

/* 1 if the file passed, 0 if it failed; says why when it failed. */
static int one(const char *path, int fork_each) {
    fflush(stdout);
    if (!fork_each) {
        if (run_file(path) != 0) {
            printf("FAIL %s: cannot read\n", path);
            return 0;
        }
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        printf("FAIL %s: fork failed\n", path);
        return 0;
    }
    if (pid == 0) {
        alarm(REPLAY_TIMEOUT);
        exit(run_file(path) == 0 ? 0 : 3); /* exit, not _exit: LeakSanitizer checks at exit */
    }
    int st;
    if (waitpid(pid, &st, 0) != pid) {
        printf("FAIL %s: lost the child\n", path);
        return 0;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 1;
    if (WIFSIGNALED(st))
        printf("FAIL %s: %s\n", path, WTERMSIG(st) == SIGALRM ? "timeout" : strsignal(WTERMSIG(st)));
    else
        printf("FAIL %s: exit status %d%s\n", path, WEXITSTATUS(st), WEXITSTATUS(st) == 3 ? " (cannot read)" : "");
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of dir (not recursing; names starting with '.' skipped). */
static void folder(const char *dir, int fork_each, int *pass, int *fail) {
    DIR *d = opendir(dir);
    if (!d) {
        printf("FAIL %s: cannot open\n", dir);
        (*fail)++;
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **t = realloc(names, cap * sizeof *names);
            if (!t)
                break;
            names = t;
        }
        size_t need = strlen(dir) + strlen(e->d_name) + 2;
        if (!(names[n] = malloc(need)))
            break;
        snprintf(names[n++], need, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            *(one(names[i], fork_each) ? pass : fail) += 1;
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_FOLDER...\n", argv[0]);
        return 2;
    }
    const char *nf = getenv("REPLAY_NOFORK");
    int fork_each = !(nf && *nf && strcmp(nf, "0") != 0);
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    int pass = 0, fail = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            folder(argv[i], fork_each, &pass, &fail);
        else
            *(one(argv[i], fork_each) ? &pass : &fail) += 1;
    }
    printf("%d passed, %d failed\n", pass, fail);
    return fail ? 1 : 0;
}
