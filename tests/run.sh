#!/bin/sh
# tests/run.sh - runs every test suite and ends with one line: "N passed, N failed".
# Suites: the C tests (cmocka), the CLI tests, then the scalar-kernel rerun of the C tests,
# the ONNX export's Python test, and the feedback log's kill -9 test.
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

echo "== CLI tests"
BUILD=$BUILD sh tests/cli.sh 2>&1 | tee "$log"; tally "$log"

echo "== ONNX export: checker, NumPy evaluator, ONNX Runtime when in .ort/ (tests/test_onnx.py)"
if [ -x /usr/bin/python3 ]; then
    BUILD=$BUILD /usr/bin/python3 tests/test_onnx.py 2>&1 | tee "$log"; tally "$log"
else
    echo "skipped: /usr/bin/python3 is not installed"
fi

echo "== feedback log under kill -9 ($BUILD/tests/feedback_crash)"
"$BUILD/tests/feedback_crash" 2>&1 | tee "$log"; tally "$log"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
