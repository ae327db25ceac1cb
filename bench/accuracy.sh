#!/bin/sh
# bench/accuracy.sh - intent beside fastText and scikit-learn on every data set, one table.
#
# Trains each on train.tsv (intent also reads dev.tsv for early stopping and its
# threshold), scores on test.tsv, and prints a Markdown table: each set whole, then a
# few-shot copy of each (bench/fewshot.py: 10, 20 and 30 examples a label set, the same
# test split) for users with only a handful of examples. Installs fastText and
# scikit-learn from Debian when run as root (or says what is missing).
# Usage: [SEEDS="1 2 3"] sh bench/accuracy.sh [DATA_DIR (default ../shared/data)] [extra intent train flags]
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
SEEDS=${SEEDS:-1 2 3} # intent's cells: the median over these seeds (one seed moves a score by up to half a point)
row() { # NAME DIR NONE_LABEL_OR_EMPTY [intent train flags...]
    name=$1; dir=$2; none=$3; set=$(basename "$dir"); shift 3
    nl=""; [ -n "$none" ] && nl="--none-label $none"
    for seed in $SEEDS; do
        s=$(date +%s.%N)
        ./build/intent train --data "$dir/train.tsv" --dev "$dir/dev.tsv" --out "$T/$set.intent" $nl --quiet --seed "$seed" "$@" 2>/dev/null
        e=$(date +%s.%N)
        ./build/intent eval --model "$T/$set.intent" --data "$dir/test.tsv" --json >"$T/$set.eval.$seed"
        echo "$e - $s" | bc >"$T/$set.secs.$seed"
    done
    /usr/bin/python3 bench/peers.py "$dir" $none >"$T/$set.peers"
    /usr/bin/python3 - "$name" "$T/$set" "$(stat -c %s "$T/$set.intent")" $SEEDS <<'PY'
import json, statistics, sys
name, stem, size, seeds = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
evs = [json.load(open(f"{stem}.eval.{k}")) for k in seeds]
ev = {key: statistics.median(e[key] for e in evs) for key in ("exact", "in_scope_accuracy", "oos_recall") if key in evs[0]}
secs = statistics.median(float(open(f"{stem}.secs.{k}").read()) for k in seeds)
pe = json.load(open(stem + ".peers"))
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
echo "| data set | metric | intent (median of seeds $SEEDS) | fastText | scikit-learn | intent train, model | fastText train, model | scikit-learn train |"
echo "|---|---|---|---|---|---|---|---|"
row clinc150 "$DATA/clinc150" oos "$@"
row snips "$DATA/snips" "" "$@"
row mixsnips "$DATA/mixsnips" "" "$@"
for few in clinc150:10:oos snips:20: mixsnips:30:; do
    set=${few%%:*}; k=${few#*:}; k=${k%%:*}; none=${few##*:}
    /usr/bin/python3 bench/fewshot.py "$DATA/$set" "$k" "$T/few/$set"
    row "$set, $k a label set" "$T/few/$set" "$none" "$@"
done
