/*
 * kern_check.c - every SIMD kernel set this CPU can run against the scalar reference,
 * without cmocka, so it also runs where only a cross compiler and an emulator are at hand
 * (NEON under qemu-aarch64; AVX-512 on machines that have it). Random sizes with odd tails,
 * unaligned pointers, mixed magnitudes. Prints "kern check: N passed, M failed".
 */
#include "checks.h"

#include <stdio.h>
#include <string.h>

static int passed, failed;

static void check(const char *set, const char *what, int ok) {
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("FAIL %s %s\n", set, what);
    }
}

static int runs(const char *name) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (strcmp(name, "avx2") == 0)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (strcmp(name, "avx512") == 0)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl");
#endif
    return strcmp(name, "neon") == 0;
}

int main(void) {
    const intenti_kern *sets[] = {intenti_kern_avx2(), intenti_kern_avx512(), intenti_kern_neon()};
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++) {
        if (!sets[i])
            continue;
        if (!runs(sets[i]->name)) {
            printf("kern check: %s is built but this CPU cannot run it: skipped\n", sets[i]->name);
            continue;
        }
        printf("kern check: %s against the scalar reference\n", sets[i]->name);
        int ok[N_KERN_CHECKS];
        kern_checks(sets[i], ok);
        for (int c = 0; c < N_KERN_CHECKS; c++)
            check(sets[i]->name, KERN_CHECKS[c], ok[c]);
    }
    printf("kern check: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
