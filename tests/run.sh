#!/bin/sh
# tests/run.sh - runs every test suite and ends with one line: "N passed, N failed".
# Suites: the C tests (cmocka), the scalar-kernel rerun of some C tests, the SIMD kernel
# checks (NEON under qemu when a cross compiler is installed), the CLI tests, the feedback
# log's kill -9 test, and the fuzz corpora replayed (one pass per corpus file that runs clean).
# BUILD names the build folder (make passes it).
BUILD=${BUILD:-build}
passed=0
failed=0

tally() { # reads "... N passed, M failed" from the last line of a log
    line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
    p=$(echo "$line" | sed -E 's/.*[^0-9]([0-9]+) passed.*/\1/; s/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    if [ -z "$line" ]; then p=0; f=1; echo "(no summary line: counted as one failure)"; fi
    passed=$((passed + p)); failed=$((failed + f))
}

log=$(mktemp); trap 'rm -f "$log"' EXIT

echo "== C tests ($BUILD/tests/run_tests)"
"$BUILD/tests/run_tests" 2>&1 | tee "$log"; tally "$log"

echo "== C tests again with the scalar kernels (INTENT_FORCE_SCALAR=1, quick)"
INTENT_FORCE_SCALAR=1 INTENT_TEST_QUICK=1 "$BUILD/tests/run_tests" kern 2>&1 | tee "$log"; tally "$log"
INTENT_FORCE_SCALAR=1 INTENT_TEST_QUICK=1 "$BUILD/tests/run_tests" predict 2>&1 | tee "$log"; tally "$log"

echo "== SIMD kernels against the scalar reference ($BUILD/tests/kern_check)"
"$BUILD/tests/kern_check" 2>&1 | tee "$log"; tally "$log"
if [ -x "$BUILD/tests/kern_check_neon" ] && command -v qemu-aarch64 >/dev/null 2>&1; then
    echo "== NEON kernels under qemu-aarch64"
    qemu-aarch64 "$BUILD/tests/kern_check_neon" 2>&1 | tee "$log"; tally "$log"
else
    echo "note: NEON kernels not checked here (install gcc-aarch64-linux-gnu and qemu-user)"
fi

echo "== CLI tests"
BUILD=$BUILD sh tests/cli.sh 2>&1 | tee "$log"; tally "$log"

echo "== feedback log under kill -9 ($BUILD/tests/feedback_crash)"
"$BUILD/tests/feedback_crash" 2>&1 | tee "$log"; tally "$log"

echo "== fuzz corpora replayed (fuzz/corpus/*, $BUILD/fuzz/replay_*)"
fp=0; ff=0
for t in model data text; do
    "$BUILD/fuzz/replay_$t" "fuzz/corpus/$t" >"$log" 2>&1
    grep -v '^[0-9]* passed' "$log" | head -n 40
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -z "$line" ]; then ff=$((ff + 1)); echo "replay_$t: no summary line: counted as one failure"; continue; fi
    echo "$t: $line"
    fp=$((fp + ${line%% passed*})); ff=$((ff + $(echo "$line" | sed -E 's/.* ([0-9]+) failed/\1/')))
done
echo "fuzz replay: $fp passed, $ff failed" | tee "$log"; tally "$log"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
