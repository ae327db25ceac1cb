#!/bin/sh
# bench/accuracy.sh - intent beside fastText and scikit-learn on every data set, one table.
#
# Trains each on train.tsv (intent also reads dev.tsv for early stopping and its
# threshold), scores on test.tsv, and prints a Markdown table. Installs fastText and
# scikit-learn from Debian when run as root (or says what is missing).
# Usage: sh bench/accuracy.sh [DATA_DIR (default ../shared/data)] [extra intent train flags]
set -e
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data}
[ $# -gt 0 ] && shift
if [ ! -d "$DATA/clinc150" ]; then
    echo "bench/accuracy.sh: $DATA/clinc150 is absent: point DATA_DIR at the folder holding clinc150/, snips/, mixsnips/" >&2
    exit 1
fi
missing=""
command -v fasttext >/dev/null 2>&1 || missing="$missing fasttext"
/usr/bin/python3 -c "import sklearn" 2>/dev/null || missing="$missing python3-sklearn"
if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    else
        echo "bench/accuracy.sh: missing:$missing (apt-get install$missing)" >&2
        exit 1
    fi
fi
make -s all
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
row() { # SET NONE_LABEL_OR_EMPTY [intent train flags...]
    set=$1; none=$2; shift 2
    nl=""; [ -n "$none" ] && nl="--none-label $none"
    s=$(date +%s.%N)
    ./build/intent train --data "$DATA/$set/train.tsv" --dev "$DATA/$set/dev.tsv" --out "$T/$set.intent" $nl --quiet "$@" 2>/dev/null
    e=$(date +%s.%N)
    ./build/intent eval --model "$T/$set.intent" --data "$DATA/$set/test.tsv" --json >"$T/$set.eval"
    /usr/bin/python3 bench/peers.py "$DATA/$set" $none >"$T/$set.peers"
    /usr/bin/python3 - "$set" "$T/$set.eval" "$T/$set.peers" "$(echo "$e - $s" | bc)" "$(stat -c %s "$T/$set.intent")" <<'PY'
import json, sys
name, ev, pe, secs, size = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3])), float(sys.argv[4]), int(sys.argv[5])
ft, sk = pe["fasttext"], pe["sklearn"]
pct = lambda x: "%.1f" % (100 * x)
if "oos_recall" in ev:
    cell = lambda a, b: pct(a) + " / " + pct(b)
    print(f"| {name} | in-scope accuracy / out-of-scope recall | {cell(ev['in_scope_accuracy'], ev['oos_recall'])} | "
          f"{cell(ft['in_scope'], ft['oos_recall'])} | {cell(sk['in_scope'], sk['oos_recall'])} | "
          f"{secs:.1f} s, {size/1e6:.2f} MB | {ft['train_s']:.1f} s, {ft['model_bytes']/1e6:.0f} MB | {sk['train_s']:.1f} s |")
else:
    print(f"| {name} | exact label-set accuracy | {pct(ev['exact'])} | {pct(ft['exact'])} | {pct(sk['exact'])} | "
          f"{secs:.1f} s, {size/1e6:.2f} MB | {ft['train_s']:.1f} s, {ft['model_bytes']/1e6:.0f} MB | {sk['train_s']:.1f} s |")
PY
}
echo "| data set | metric | intent | fastText | scikit-learn | intent train, model | fastText train, model | scikit-learn train |"
echo "|---|---|---|---|---|---|---|---|"
row clinc150 oos "$@"
row snips "" "$@"
row mixsnips "" "$@"
