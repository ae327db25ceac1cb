/*
 * kern.c - picks the kernel set once per process.
 */
#include "intent_impl.h"

#include <stdlib.h>
#include <string.h>

/* The sets this CPU can run, best first. AVX-512 leads: on the dedicated Xeon, against
 * AVX2 on the same host in seven runs (docs/SPEED.md), int8 models answered up to 15%
 * sooner and up to 20% more per second with it, never slower; float ones within noise.
 * (An earlier host had it the other way round for int8, 5.2 against 4.0 us, before the
 * kernels summed the rest of a layer in one pass.) INTENT_KERNEL=avx2 picks AVX2. */
static size_t usable(const intenti_kern **out) {
    size_t n = 0;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && intenti_kern_avx512())
        out[n++] = intenti_kern_avx512();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && intenti_kern_avx2())
        out[n++] = intenti_kern_avx2();
#elif defined(__aarch64__)
    if (intenti_kern_neon()) /* Advanced SIMD is part of every AArch64 CPU */
        out[n++] = intenti_kern_neon();
#endif
    out[n++] = &intenti_kern_ref;
    return n;
}

/* INTENT_FORCE_SCALAR=1 picks the reference; INTENT_KERNEL=name picks that set if this
 * CPU can run it (for comparisons); otherwise the best. */
static const intenti_kern *pick(void) {
    const char *force = getenv("INTENT_FORCE_SCALAR");
    if (force && *force && !(force[0] == '0' && force[1] == '\0'))
        return &intenti_kern_ref;
    const intenti_kern *sets[4];
    size_t n = usable(sets);
    const char *want = getenv("INTENT_KERNEL");
    for (size_t i = 0; want && i < n; i++)
        if (strcmp(sets[i]->name, want) == 0)
            return sets[i];
    return sets[0];
}

/* The choice is cached in an atomic pointer: racing first calls compute the same value. */
const intenti_kern *intenti_kern_get(void) {
    static const intenti_kern *chosen;
    const intenti_kern *k = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
    if (!k) {
        k = pick();
        __atomic_store_n(&chosen, k, __ATOMIC_RELEASE);
    }
    return k;
}

const char *intent_kernel_name(void) { return intenti_kern_get()->name; }
