#!/bin/sh
# tests/run.sh - runs every test suite and ends with one line: "N passed, N failed".
# Suites: the C tests (cmocka), the scalar-kernel rerun of some C tests, the SIMD kernel
# checks (NEON under qemu when a cross compiler is installed), the CLI tests, the example
# assistant's (tests/assistant.sh), the HTTP server's request handling (cmocka) and
# `intent serve` end to end (curl), the ONNX
# export's test (tests/test_onnx.py), the feedback log's kill -9 test, the fuzz corpora
# replayed (one pass per corpus file that runs clean), and the Python binding's tests
# (pytest, python/tests).
# BUILD names the build folder (make passes it).
BUILD=${BUILD:-build}
passed=0
failed=0

tally() { # reads "... N passed, M failed" from the last line of a log
    line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
    p=$(echo "$line" | sed -E 's/.*[^0-9]([0-9]+) passed.*/\1/; s/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    if [ -z "$line" ]; then p=0; f=1; echo "(no summary line: counted as one failure)"; fi
    # a non-zero exit with no failed test (a sanitizer report or a leak at exit) is one failure
    ex=$(sed -n 's/^exit status \([0-9]*\)$/\1/p' "$1" | tail -n 1)
    if [ -n "$line" ] && [ -n "$ex" ] && [ "$ex" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1; echo "(exit status $ex after 0 failed: counted as one failure)"; fi
    passed=$((passed + p)); failed=$((failed + f))
}

# pytally LOG: pytest -q's summary ("3 failed, 57 passed, 2 skipped, 1 error in 4.1s")
# as passed and failed; errors count as failures, skipped ones as neither.
pytally() {
    line=$(grep -E '^(=+ )?[0-9]+ [a-z]+.* in [0-9.]+s' "$1" | tail -n 1)
    p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+'); p=${p:-0}
    f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+'); f=${f:-0}
    e=$(echo "$line" | grep -oE '[0-9]+ errors?' | grep -oE '[0-9]+'); e=${e:-0}
    f=$((f + e))
    if [ -z "$line" ] || [ $((p + f)) -eq 0 ]; then
        f=1; echo "(no pytest summary, or no test ran: counted as one failure)"
    fi
    echo "$p passed, $f failed"
    passed=$((passed + p)); failed=$((failed + f))
}

log=$(mktemp); trap 'rm -f "$log"' EXIT

echo "== C tests ($BUILD/tests/run_tests)"
{ "$BUILD/tests/run_tests" 2>&1; echo "exit status $?"; } | tee "$log"; tally "$log"

echo "== C tests again with the scalar kernels (INTENT_FORCE_SCALAR=1, quick)"
{ INTENT_FORCE_SCALAR=1 INTENT_TEST_QUICK=1 "$BUILD/tests/run_tests" kern 2>&1; echo "exit status $?"; } | tee "$log"; tally "$log"
{ INTENT_FORCE_SCALAR=1 INTENT_TEST_QUICK=1 "$BUILD/tests/run_tests" predict 2>&1; echo "exit status $?"; } | tee "$log"; tally "$log"

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

echo "== examples/assistant: the pool and the component manager together (tests/assistant.sh)"
BUILD=$BUILD sh tests/assistant.sh 2>&1 | tee "$log"; tally "$log"

echo "== HTTP server: request handling without sockets ($BUILD/tests/http_check)"
{ "$BUILD/tests/http_check" 2>&1; echo "exit status $?"; } | tee "$log"; tally "$log"

echo "== HTTP server end to end: intent serve with curl (tests/serve.sh)"
BUILD=$BUILD sh tests/serve.sh 2>&1 | tee "$log"; tally "$log"

echo "== ONNX export: checker, NumPy evaluator, ONNX Runtime when in .ort/ (tests/test_onnx.py)"
if [ -x /usr/bin/python3 ]; then
    BUILD=$BUILD /usr/bin/python3 tests/test_onnx.py 2>&1 | tee "$log"; tally "$log"
else
    echo "skipped: /usr/bin/python3 is not installed"
fi

echo "== feedback log under kill -9 ($BUILD/tests/feedback_crash)"
"$BUILD/tests/feedback_crash" 2>&1 | tee "$log"; tally "$log"

echo "== fuzz corpora replayed (fuzz/corpus/*, $BUILD/fuzz/replay_*)"
fp=0; ff=0
for t in model data text http; do
    "$BUILD/fuzz/replay_$t" "fuzz/corpus/$t" >"$log" 2>&1
    grep -v '^[0-9]* passed' "$log" | head -n 40
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -z "$line" ]; then ff=$((ff + 1)); echo "replay_$t: no summary line: counted as one failure"; continue; fi
    echo "$t: $line"
    fp=$((fp + ${line%% passed*})); ff=$((ff + $(echo "$line" | sed -E 's/.* ([0-9]+) failed/\1/')))
done
echo "fuzz replay: $fp passed, $ff failed" | tee "$log"; tally "$log"

echo "== Python binding (python/tests, pytest, on $BUILD/libintent.so)"
# A sanitized library needs its runtimes loaded first into the (uninstrumented) Python;
# ThreadSanitizer's does not run under CPython, so that build skips the suite.
preload=""
case $BUILD in
    *san-*thread*) preload=skip ;;
    *san-*)
        for rt in asan ubsan; do
            case $rt:$BUILD in asan:*address*|ubsan:*undefined*)
                preload="$preload${preload:+:}$(${CC:-cc} -print-file-name=lib$rt.so)" ;; esac
        done ;;
esac
if [ "$preload" = skip ]; then
    echo "(skipped: the Python tests do not run under ThreadSanitizer)"
elif ! /usr/bin/python3 -c 'import pytest' 2>/dev/null; then
    echo "(skipped: no pytest for /usr/bin/python3; apt-get install python3-pytest)"
else
    LD_PRELOAD=$preload ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} \
        INTENT_LIBRARY="$(cd "$BUILD" && pwd)/libintent.so" \
        /usr/bin/python3 -m pytest -q -p no:cacheprovider python/tests 2>&1 | tee "$log"
    pytally "$log"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
