#!/bin/sh
# bench/compare.sh - intent beside its peers on speed and cost: one run, one table.
#
# Contenders, all answering the clinc150 test texts (text in -> labels out): intent
# through its C API (bench/driver.c) and its CLI; fastText's CLI and Python binding;
# scikit-learn (bench/peers.py's settings); intent's own model served by pure Python
# (bench/pymodel.py), NumPy, PyTorch eager and ONNX Runtime under Node (bench/ort.js).
# Columns: p50 and p99 latency, answers/s on a batch path, model size, resident memory,
# cold start, and each one's ratio to intent. `intent predict` and `fasttext predict`
# also race over the same 100k lines. Peers that cannot run are listed as missing, with
# the reason; nothing is dropped silently.
#
# Run as root, it installs what is missing: Debian packages (fasttext python3-fasttext
# python3-sklearn python3-numpy python3-torch python3-onnx) and npm onnxruntime-node into
# build/npm (ignored by git). Otherwise it says what is missing and goes on without it.
# It trains an intent model (default settings, --none-label oos), a fastText model and a
# scikit-learn model, then bench/compare.py measures, pinned to one CPU, in rounds, and
# prints a Markdown table; build/bench/compare.md and build/bench/compare.json keep it.
# Absolute numbers mean something only on a quiet machine; elsewhere read the ratios.
#
# Usage: sh bench/compare.sh [DATA_DIR (default ../shared/data)]
# Environment: BENCH_ROUNDS (5), BENCH_SECONDS (1, per measurement), BENCH_BATCH (256),
#   BENCH_LINES (100000), BENCH_CPU (the last allowed CPU), BENCH_REUSE=1 (keep the
#   models of an earlier run in build/bench), BENCH_NO_INSTALL=1 (install nothing).
set -e
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data}
SET=$DATA/clinc150
OUT=build/bench
NPM_DIR=build/npm
ORT_VERSION=1.30.0
if [ ! -f "$SET/test.tsv" ]; then
    echo "bench/compare.sh: $SET/test.tsv is absent: point DATA_DIR at the folder holding clinc150/" >&2
    exit 1
fi
mkdir -p "$OUT"

# ---- what is there, and what can be installed ----
has_py() { /usr/bin/python3 -c "import $1" >/dev/null 2>&1; }
missing=""
command -v fasttext >/dev/null 2>&1 || missing="$missing fasttext"
has_py fasttext || missing="$missing python3-fasttext"
has_py sklearn || missing="$missing python3-sklearn"
has_py numpy || missing="$missing python3-numpy"
has_py torch || missing="$missing python3-torch"
has_py onnx || missing="$missing python3-onnx"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
note=""
if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ] && [ -z "$BENCH_NO_INSTALL" ]; then
        echo "bench/compare.sh: installing$missing" >&2
        apt-get update -qq >/dev/null 2>&1 || true
        # all at once; if that fails (one package unknown here), one at a time
        # shellcheck disable=SC2086
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null 2>&1; then
            for p in $missing; do
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null 2>&1 ||
                    note="$note apt-get install $p failed;"
            done
        fi
    else
        note="not installed:$missing (run as root to install them, or apt-get install$missing)"
        echo "bench/compare.sh: $note" >&2
    fi
fi
if [ ! -d "$NPM_DIR/node_modules/onnxruntime-node" ] && command -v npm >/dev/null 2>&1 &&
    [ -z "$BENCH_NO_INSTALL" ]; then
    echo "bench/compare.sh: npm install onnxruntime-node@$ORT_VERSION into $NPM_DIR" >&2
    mkdir -p "$NPM_DIR"
    ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix "$NPM_DIR" --no-audit --no-fund --loglevel=error \
        "onnxruntime-node@$ORT_VERSION" >"$OUT/npm.log" 2>&1 ||
        note="$note npm install onnxruntime-node@$ORT_VERSION failed (offline?), see $OUT/npm.log;"
fi

# ---- intent: build, and train once ----
make -s all "build/bench/driver"
if [ -n "$BENCH_REUSE" ] && [ -f "$OUT/clinc150.intent" ]; then
    echo "bench/compare.sh: reusing $OUT/clinc150.intent" >&2
else
    echo "bench/compare.sh: training intent on $SET (default settings, --none-label oos) ..." >&2
    ./build/intent train --data "$SET/train.tsv" --dev "$SET/dev.tsv" --out "$OUT/clinc150.intent" \
        --none-label oos --quiet
fi

# ---- measure ----
reuse=""
[ -n "$BENCH_REUSE" ] && reuse="--reuse"
exec /usr/bin/python3 bench/compare.py --data "$SET" --work "$OUT" --model "$OUT/clinc150.intent" \
    --intent build/intent --driver build/bench/driver --ort-module "$NPM_DIR/node_modules/onnxruntime-node" \
    --rounds "${BENCH_ROUNDS:-5}" --seconds "${BENCH_SECONDS:-1}" --batch "${BENCH_BATCH:-256}" \
    --lines "${BENCH_LINES:-100000}" --cpu "${BENCH_CPU:--1}" --install-note "$note" $reuse
