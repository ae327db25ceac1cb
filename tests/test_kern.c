/*
 * test_kern.c - every SIMD kernel against the scalar reference: random sizes including
 * odd tails, unaligned pointers, values of mixed sign and magnitude.
 */
#include "tests.h"
#include "kern/checks.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void avx2_matches_reference(void **state) {
    (void)state;
    const intenti_kern *k = intenti_kern_avx2();
#if defined(__x86_64__)
    if (!k || !__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        skip();
#else
    if (!k)
        skip();
#endif
    int ok[N_KERN_CHECKS];
    kern_checks(k, ok);
    for (int c = 0; c < N_KERN_CHECKS; c++)
        if (!ok[c])
            fail_msg("avx2 %s differs from the reference", KERN_CHECKS[c]);
}

static void reference_is_self_consistent(void **state) {
    (void)state;
    float y[5] = {1, -2, 3, -4, 5}, x[5] = {1, 1, 1, 1, 1};
    intenti_kern_ref.axpy(y, x, 2.0f, 5);
    assert_float_equal(y[1], 0.0f, 0);
    intenti_kern_ref.relu(y, 5);
    assert_float_equal(y[3], 0.0f, 0);
    assert_float_equal(intenti_kern_ref.dot(x, y, 5), 3 + 0 + 5 + 0 + 7, 1e-6);
}

static void chosen_set_is_known(void **state) {
    (void)state;
    const intenti_kern *k = intenti_kern_get();
    assert_non_null(k);
    assert_true(strcmp(k->name, "scalar") == 0 || strcmp(k->name, "avx2") == 0 || strcmp(k->name, "avx512") == 0);
    const char *force = getenv("INTENT_FORCE_SCALAR");
    if (force && *force && strcmp(force, "0") != 0)
        assert_string_equal(k->name, "scalar");
}

int test_kern(int *total) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(avx2_matches_reference), cmocka_unit_test(reference_is_self_consistent),
        cmocka_unit_test(chosen_set_is_known),
    };
    return RUN("kern", tests, total);
}
