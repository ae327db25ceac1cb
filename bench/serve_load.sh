#!/bin/sh
# bench/serve_load.sh - `intent serve` under load: wrk with 256 connections for 30 s
# against POST /predict, each request one clinc150 test text (bench/predict.lua), beside
# `intent predict --json` answering the same texts from stdin in one process.
#
# Trains a clinc150 model with the default settings (--none-label oos) into
# build/bench/clinc150.intent if it is absent, starts the server on a free port, warms it
# up, runs wrk, reads the server's own /stats, stops it with SIGTERM (it must exit 0), and
# prints requests/s, p50/p99 latency, errors and timeouts; build/bench/serve_load.txt
# keeps the summary. Exits 1 when any request failed or timed out.
#
# Usage: sh bench/serve_load.sh [DATA_DIR (default ../shared/data)]
# Environment: SERVE_DURATION (30s), SERVE_CONNECTIONS (256), SERVE_WRK_THREADS (4),
#   SERVE_THREADS (intent serve --threads; default its own: one per core, at least 2),
#   SERVE_MODEL (a model to use instead of training one).
# wrk runs on the same machine as the server, so they share its cores: the figures are
# for the whole machine, client included; read them beside the core count printed.
set -e
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data}
SET=$DATA/clinc150
OUT=build/bench
DURATION=${SERVE_DURATION:-30s}
CONNS=${SERVE_CONNECTIONS:-256}
WRK_THREADS=${SERVE_WRK_THREADS:-4}
MODEL=${SERVE_MODEL:-$OUT/clinc150.intent}
if [ ! -f "$SET/test.tsv" ]; then
    echo "bench/serve_load.sh: $SET/test.tsv is absent: point DATA_DIR at the folder holding clinc150/" >&2
    exit 1
fi
for tool in wrk curl; do
    command -v $tool >/dev/null 2>&1 || { echo "bench/serve_load.sh: needs $tool (apt-get install $tool)" >&2; exit 1; }
done
[ -x build/intent ] || make -s all
mkdir -p "$OUT"
if [ ! -f "$MODEL" ]; then
    echo "== training $MODEL on clinc150 (default settings, --none-label oos)" >&2
    build/intent train --data "$SET/train.tsv" --dev "$SET/dev.tsv" --out "$MODEL" --none-label oos 2>&1 | tail -n 1 >&2
fi
TEXTS=$OUT/serve_texts.txt
cut -f2 "$SET/test.tsv" >"$TEXTS"
n_texts=$(wc -l <"$TEXTS")
T=$(mktemp -d)
PID=""
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; rm -rf "$T"' EXIT

# ---- intent predict on the same texts: one process, stdin to stdout ----
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do cat "$TEXTS"; done >"$T/texts20"
n_lines=$((n_texts * 20))
t0=$(date +%s.%N)
build/intent predict --model "$MODEL" --json <"$T/texts20" >/dev/null
t1=$(date +%s.%N)
cli_rate=$(awk -v n="$n_lines" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')

# ---- the server ----
set -- --model "$MODEL" --port 0 --quiet
[ -n "$SERVE_THREADS" ] && set -- "$@" --threads "$SERVE_THREADS"
build/intent serve "$@" 2>"$T/serve.log" &
PID=$!
port=""
for _ in $(seq 200); do
    port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$T/serve.log")
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "$port" ] || { cat "$T/serve.log" >&2; exit 1; }
threads=$(sed -n 's|.*(\([0-9]*\) threads.*|\1|p' "$T/serve.log")
URL="http://127.0.0.1:$port/predict"
export SERVE_TEXTS="$TEXTS"
echo "== warming up (2 s), then wrk -t$WRK_THREADS -c$CONNS -d$DURATION --latency -s bench/predict.lua $URL" >&2
wrk -t2 -c16 -d2s -s bench/predict.lua "$URL" >/dev/null
wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency -s bench/predict.lua "$URL" >"$T/wrk.txt"
cat "$T/wrk.txt" >&2
curl -s "http://127.0.0.1:$port/stats" >"$T/stats.json"
kill -TERM "$PID"
status=0; wait "$PID" || status=$?
PID=""

# ---- the figures ----
rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$T/wrk.txt")
total=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$T/wrk.txt")
p50=$(awk '$1 == "50%" { print $2 }' "$T/wrk.txt")
p99=$(awk '$1 == "99%" { print $2 }' "$T/wrk.txt")
non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$T/wrk.txt")
sock=$(sed -n 's/^ *Socket errors: *//p' "$T/wrk.txt")
timeouts=$(echo "$sock" | sed -n 's/.*timeout \([0-9]*\).*/\1/p')
connect=$(echo "$sock" | sed -n 's/.*connect \([0-9]*\).*/\1/p')
readerr=$(echo "$sock" | sed -n 's/.*read \([0-9]*\).*/\1/p')
writeerr=$(echo "$sock" | sed -n 's/.*write \([0-9]*\).*/\1/p')
non2xx=${non2xx:-0}; timeouts=${timeouts:-0}; connect=${connect:-0}; readerr=${readerr:-0}; writeerr=${writeerr:-0}
errors=$((non2xx + connect + readerr + writeerr))
model_us=$(/usr/bin/python3 -c "import json; d=json.load(open('$T/stats.json'))['predictions']; l=d['latency_us']; print('%d answered; p50 %.1f us, p99 %.1f us' % (d['answers'], l['p50'], l['p99']))" 2>/dev/null || echo "(no /stats)")
{
    echo "machine: $(nproc) cores ($(sed -n 's/^model name\t*: //p' /proc/cpuinfo | head -n 1)), shared by wrk and the server"
    echo "intent serve --threads $threads, model $MODEL, $n_texts clinc150 test texts in turn, one a request"
    echo "wrk -t$WRK_THREADS -c$CONNS -d$DURATION against POST /predict:"
    echo "  requests/s    $rps ($total requests)"
    echo "  latency       p50 $p50, p99 $p99"
    echo "  errors        $errors (non-2xx $non2xx; socket connect $connect, read $readerr, write $writeerr)"
    echo "  timeouts      $timeouts"
    echo "  model time    $model_us (the server's /stats: intent_service_predict per text)"
    echo "  exit          $status after SIGTERM"
    echo "intent predict --json, the same texts x20 from stdin, one process: $cli_rate texts/s"
} | tee "$OUT/serve_load.txt"
[ "$errors" -eq 0 ] && [ "$timeouts" -eq 0 ] && [ "$status" -eq 0 ]
