#!/bin/sh
# tests/serve.sh - `intent serve` end to end, over HTTP with curl: predictions (single,
# batch, threshold, top, the same answers as `intent predict --json`), routing plans
# (examples/components.json, a dry run and --run-components), 400 for each kind of bad
# input, 413, 404, 405, the bearer token (401/200), feedback and a background retrain
# while predictions go on, /reload of a corrupt file (the model stays, the answer says
# why), SIGHUP, the /metrics format (cumulative histograms ending at +Inf, _sum, _count,
# trailing newline), and SIGTERM (requests in flight answered, new connections refused,
# exit 0). Ends with "serve tests: N passed, M failed".
BUILD=${BUILD:-build}
INTENT="$BUILD/intent"
PY=/usr/bin/python3
T=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "$2" ] && echo "     $2"; }

if ! command -v curl >/dev/null 2>&1 || [ ! -x $PY ]; then
    echo "(skipped: needs curl and $PY; apt-get install curl python3)"
    echo "serve tests: 0 passed, 0 failed"
    exit 0
fi

# start LOG ARGS...: intent serve on a free port; sets PID and U (waits for its "listening" line)
start() {
    log="$T/$1"; shift
    "$INTENT" serve --port 0 "$@" 2>"$log" &
    PID=$!
    port=""
    for _ in $(seq 400); do
        port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$log")
        [ -n "$port" ] && break
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.05
    done
    U="http://127.0.0.1:$port"
    [ -n "$port" ]
}
# stop: SIGTERM, then the exit status in $STATUS
stop() { kill -TERM "$PID"; wait "$PID"; STATUS=$?; PID=""; }
# req METHOD PATH [BODY_FILE] [curl args...]: the status in $T/code, the body in $T/body
req() {
    m=$1; p=$2; shift 2
    data=""
    if [ $# -gt 0 ]; then data=$1; shift; fi
    if [ -n "$data" ]; then
        curl -s -o "$T/body" -D "$T/head" -w '%{http_code}' -X "$m" --data-binary "@$data" "$@" "$U$p" >"$T/code"
    else
        curl -s -o "$T/body" -D "$T/head" -w '%{http_code}' -X "$m" "$@" "$U$p" >"$T/code"
    fi
}
# body TEXT: writes a request body to $T/req (printf: octal escapes such as \377 give raw bytes; dash has no \x)
body() { printf "$1" >"$T/req"; }
# json PYEXPR: the response body parsed as d satisfies PYEXPR
json() { $PY -c "import json,sys; d=json.load(open('$T/body')); sys.exit(0 if ($1) else 1)" 2>/dev/null; }
# expect NAME CODE [PYEXPR]
expect() {
    if [ "$(cat "$T/code")" = "$2" ] && { [ -z "$3" ] || json "$3"; }; then ok "$1"
    else bad "$1" "HTTP $(cat "$T/code"): $(head -c 300 "$T/body")"; fi
}

M="$T/m.intent"
"$INTENT" train --data examples/assistant.tsv --out "$M" --none-label oos --buckets 4096 --hidden 32 \
    --epochs 15 --threads 2 >/dev/null 2>&1 || bad "train the test model"
cp "$M" "$T/good.intent"
printf 's3cret-token\n' >"$T/token"

"$INTENT" serve --help >"$T/help" 2>&1 && grep -q -- "--max-body" "$T/help" && ok "serve --help" || bad "serve --help"
"$INTENT" serve --model "$M" --port 0 --threads 1 >/dev/null 2>"$T/err" && bad "--threads 1 refused" \
    || { grep -q "outside" "$T/err" && ok "--threads 1 refused (pool mode needs 2)" || bad "--threads 1" "$(cat "$T/err")"; }
"$INTENT" serve --model "$T/none.intent" --port 0 >/dev/null 2>"$T/err" && bad "missing model" \
    || { grep -q "No such file" "$T/err" && ok "missing model: says so, exits non-zero" || bad "missing model" "$(cat "$T/err")"; }

if ! start serve1.log --model "$M" --components examples/components.json --feedback "$T/fb.log" \
        --token-file "$T/token" --threads 2; then
    bad "server starts" "$(cat "$T/serve1.log")"
    echo "serve tests: $pass passed, $fail failed"; exit 1
fi
ok "server starts on a free port, 127.0.0.1 by default"

req GET /healthz; expect "GET /healthz" 200 "d['status'] == 'ok' and d['model_version'] == 1"

# ---- predictions ----
body '{"text": "play some jazz", "top": 3}'; req POST /predict "$T/req"
expect "predict single" 200 "d['labels'] == ['MUSIC'] and len(d['top']) == 3 and d['model_version'] == 1"
"$INTENT" predict --model "$M" --json --top 3 "play some jazz" >"$T/cli.json"
$PY -c "import json; a=json.load(open('$T/body')); b=json.load(open('$T/cli.json')); assert a['labels']==b['labels'] and a['top']==b['top']" \
    2>/dev/null && ok "same labels and confidences as intent predict --json" || bad "same as intent predict --json" "$(cat "$T/body") vs $(cat "$T/cli.json")"
body '{"texts": ["play some jazz", "can you see my screen", "water the plants in the garden"]}'; req POST /predict "$T/req"
expect "predict batch" 200 "len(d['results']) == 3 and d['results'][0]['labels'] == ['MUSIC'] and all(len(r['top']) >= 1 for r in d['results'])"
body '{"text": "play some jazz", "threshold": 1.0}'; req POST /predict "$T/req"
expect "predict threshold 1: no label, top kept" 200 "d['labels'] == [] and len(d['top']) == 1"
body '{"text": "play some jazz", "threshold": 0.0, "top": 0}'; req POST /predict "$T/req"
expect "predict threshold 0, top 0" 200 "len(d['labels']) >= 1 and len(d['top']) == len(d['labels'])"
body '{"text": "can you see my screen"}'; req POST /predict "$T/req"
expect "routing plan (examples/components.json)" 200 \
    "'VISION' in d['labels'] and d['plan']['ok'] and 'vision' in d['plan']['required'] and set(d['plan']['to_load']) <= set(d['plan']['required']) and 'to_unload' in d['plan'] and 'loaded' in d['plan']"
req POST /predict "$T/req"
expect "routing plan: loaded for the second command" 200 "d['plan']['to_load'] == [] and set(d['plan']['loaded']) == set(d['plan']['required'])"

# ---- bad requests ----
body '{"text": "play'; req POST /predict "$T/req"; expect "400 invalid JSON" 400 "d['error'] == 'invalid_json' and d['message']"
body '{"text": "play \377\376 jazz"}'; req POST /predict "$T/req"; expect "400 invalid UTF-8 in text" 400 "d['error'] == 'invalid_utf8' and 'text' in d['message']"
body '{"texts": ["ok", "\300\257"]}'; req POST /predict "$T/req"; expect "400 invalid UTF-8 (overlong) in texts[1]" 400 "d['error'] == 'invalid_utf8' and 'texts\"[1]' in d['message']"
body '{"top": 2}'; req POST /predict "$T/req"; expect "400 missing field" 400 "d['error'] == 'missing_field'"
body '{"text": 42}'; req POST /predict "$T/req"; expect "400 wrong type" 400 "d['error'] == 'wrong_type' and 'text' in d['message']"
body '{"texts": "one"}'; req POST /predict "$T/req"; expect "400 wrong type (texts)" 400 "d['error'] == 'wrong_type'"
body '{"text": "a", "threshold": 2}'; req POST /predict "$T/req"; expect "400 threshold out of range" 400 "d['error'] == 'bad_value'"
body '{"text": "a", "colour": "red"}'; req POST /predict "$T/req"; expect "400 unknown field" 400 "d['error'] == 'unknown_field'"
body '{"text": "a\\u0000b"}'; req POST /predict "$T/req"; expect "400 NUL in a text" 400 "d['error'] == 'bad_value'"
head -c 1100000 /dev/zero | tr '\0' 'a' >"$T/big"; req POST /predict "$T/big"
expect "413 body over --max-body" 413 "d['error'] == 'body_too_large'"
$PY -c "import json; print(json.dumps({'texts': ['x'] * 1025}))" >"$T/many"; req POST /predict "$T/many"
expect "413 too many texts" 413 "d['error'] == 'too_many_texts'"
req GET /nope; expect "404 unknown path" 404 "d['error'] == 'not_found'"
req GET /predict; expect "405 wrong method" 405 "d['error'] == 'method_not_allowed'"
grep -qi '^Allow: POST' "$T/head" && ok "405 says Allow: POST" || bad "405 Allow header" "$(cat "$T/head")"
req POST /stats; expect "405 POST /stats" 405

# ---- the token ----
req POST /reload; expect "401 without the token" 401 "d['error'] == 'unauthorized'"
grep -qi '^WWW-Authenticate: Bearer' "$T/head" && ok "401 says WWW-Authenticate: Bearer" || bad "WWW-Authenticate"
req POST /reload "" -H "Authorization: Bearer wrong"; expect "401 with a wrong token" 401
AUTH="Authorization: Bearer s3cret-token"
req POST /reload "" -H "$AUTH"; expect "200 with the token (reload)" 200 "d['reloaded'] and d['model_version'] == 2"
body '{"text": "turn it up", "labels": ["MUSIC"]}'; req POST /feedback "$T/req"; expect "401 feedback without the token" 401

# ---- feedback and a retrain while predictions go on ----
for t in "crank up the tunes" "blast some rock music" "put on my workout playlist" "what is on my display"; do
    lab=MUSIC; [ "$t" = "what is on my display" ] && lab=VISION
    body "{\"text\": \"$t\", \"labels\": [\"$lab\"]}"; req POST /feedback "$T/req" -H "$AUTH"
    [ "$(cat "$T/code")" = 200 ] || bad "feedback append" "$(cat "$T/body")"
done
expect "feedback appended" 200 "d['appended'] and d['log_records'] == 4"
body '{"text": "water the roses", "labels": ["GARDEN"]}'; req POST /feedback "$T/req" -H "$AUTH"
expect "feedback: unknown label refused" 400 "d['error'] == 'unknown_label' and 'GARDEN' in d['message']"
req GET /stats; v0=$($PY -c "import json; print(json.load(open('$T/body'))['model_version'])")
# predictions keep going, from another process, all through the retrain
( body_ok=0; n=0; while [ ! -f "$T/stop_load" ] && [ $n -lt 2000 ]; do
      c=$(curl -s -o /dev/null -w '%{http_code}' --data-binary '{"text": "play some jazz"}' "$U/predict")
      n=$((n + 1)); [ "$c" = 200 ] && body_ok=$((body_ok + 1)); done; echo "$n $body_ok" >"$T/load_result" ) &
LOADER=$!
sleep 0.2
req POST /retrain "" -H "$AUTH"; expect "POST /retrain: 202 started" 202 "d['retrain'] == 'started'"
req POST /retrain "" -H "$AUTH"
expect "POST /retrain again: 202, already running or started" 202 "d['retrain'] in ('already_running', 'started')"
for _ in $(seq 600); do
    req GET /stats
    json "not d['retrain']['running'] and d['retrain']['ok'] + d['retrain']['rejected'] + d['retrain']['failed'] >= 1" && break
    sleep 0.1
done
sleep 0.2; touch "$T/stop_load"; wait $LOADER
expect "retrain ended, accepted" 200 "d['retrain']['ok'] >= 1 and d['retrain']['last_status'] == 'ok'"
json "d['model_version'] > $v0" && ok "model_version went up in /stats ($v0 -> $($PY -c "import json; print(json.load(open('$T/body'))['model_version'])"))" \
    || bad "model_version after retrain" "$(head -c 400 "$T/body")"
read -r n okn <"$T/load_result"
[ "$n" -gt 0 ] && [ "$n" = "$okn" ] && ok "predictions during the retrain: $okn of $n answered 200" || bad "predictions during the retrain" "$okn of $n"
grep -q "retrain done after" "$T/serve1.log" && ok "retrain's end logged to stderr" || bad "retrain log"

# ---- reloads ----
req GET /stats; v1=$($PY -c "import json; print(json.load(open('$T/body'))['model_version'])")
printf 'this is not a model' >"$M"
req POST /reload "" -H "$AUTH"
expect "reload of a corrupt file: 500, the model stays, says why" 500 \
    "d['error'] == 'reload_failed' and 'not an intent model' in d['message'] and 'still serving version $v1' in d['message'] and d['model_version'] == $v1"
body '{"text": "play some jazz"}'; req POST /predict "$T/req"
expect "still answering after the failed reload" 200 "d['model_version'] == $v1"
cp "$T/good.intent" "$M"
kill -HUP "$PID"
for _ in $(seq 100); do req GET /stats; json "d['model_version'] == $v1 + 1" && break; sleep 0.05; done
expect "SIGHUP reloads the model file" 200 "d['model_version'] == $v1 + 1 and d['model']['load_failures'] == 1"

# ---- /metrics ----
req GET /metrics
[ "$(cat "$T/code")" = 200 ] && grep -qi '^Content-Type: text/plain; version=0.0.4' "$T/head" && ok "GET /metrics: text/plain 0.0.4" || bad "GET /metrics" "$(cat "$T/head")"
cat >"$T/check_metrics.py" <<'EOF'
# The Prometheus text format as promtool does not check it: HELP and TYPE for each
# metric, histograms with cumulative _bucket lines in increasing le order ending at +Inf,
# _sum, and _count equal to the +Inf bucket; the body ends with a newline.
import re, sys
t = open(sys.argv[1]).read()
assert t.endswith("\n"), "no trailing newline"
types, helps, hist, sums, counts, names = {}, set(), {}, {}, {}, set()
for line in t.splitlines():
    if line.startswith("# HELP "):
        helps.add(line.split()[2]); continue
    if line.startswith("# TYPE "):
        _, _, n, ty = line.split(); types[n] = ty; continue
    assert not line.startswith("#"), line
    m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
    assert m, "bad sample line: " + line
    name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
    pairs = re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels)
    assert ",".join('%s="%s"' % p for p in pairs) == labels, "bad labels: " + line
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    if types.get(base) == "histogram":
        key = (base, tuple(p for p in pairs if p[0] != "le"))
        if name.endswith("_bucket"):
            le = dict(pairs)["le"]
            hist.setdefault(key, []).append((float("inf") if le == "+Inf" else float(le), value))
        elif name.endswith("_sum"):
            sums[key] = value
        else:
            counts[key] = value
        names.add(base)
    else:
        assert name in types and name in helps, "no TYPE/HELP for " + name
        names.add(name)
assert hist, "no histogram"
for key, b in hist.items():
    les = [x[0] for x in b]; vals = [x[1] for x in b]
    assert les == sorted(les) and len(set(les)) == len(les), "le not increasing: %s" % (key,)
    assert les[-1] == float("inf"), "no +Inf bucket: %s" % (key,)
    assert all(vals[i] <= vals[i + 1] for i in range(len(vals) - 1)), "not cumulative: %s" % (key,)
    assert key in sums, "no _sum: %s" % (key,)
    assert counts.get(key) == vals[-1], "_count is not the +Inf bucket: %s" % (key,)
for need in sys.argv[2:]:
    assert need in names, "missing metric " + need
print("%d metrics, %d histogram series" % (len(names), len(hist)))
EOF
if $PY "$T/check_metrics.py" "$T/body" intent_http_requests_total intent_http_request_duration_seconds \
        intent_prediction_duration_seconds intent_predictions_total intent_predictions_out_of_scope_total \
        intent_predictions_fallback_total intent_label_answers_total intent_model_version intent_feedback_total \
        intent_retrains_total intent_model_load_failures_total >"$T/mcheck" 2>&1; then
    ok "metrics format: $(cat "$T/mcheck")"
else
    bad "metrics format" "$(tail -n 3 "$T/mcheck")"
fi
grep -q '^intent_http_requests_total{route="/predict",code="400"} [1-9]' "$T/body" && grep -q '^intent_feedback_total 4$' "$T/body" \
    && grep -q "^intent_model_version $((v1 + 1))\$" "$T/body" && grep -q '^intent_retrains_total{status="ok"} [1-9]' "$T/body" \
    && ok "metrics: requests by status, feedback, model version, retrains" || bad "metrics content" "$(grep -E 'feedback_total|model_version |retrains_total' "$T/body")"

# ---- SIGTERM: requests in flight are answered, new ones refused, exit 0 ----
$PY -c "import json; print(json.dumps({'texts': ['play some jazz and %d more words of padding text here' % i for i in range(1000)]}))" >"$T/slow"
curl -s -o "$T/slow_out" -w '%{http_code}' --limit-rate 40k --data-binary "@$T/slow" "$U/predict" >"$T/slow_code" &
SLOW=$!
sleep 0.5
kill -TERM "$PID"
sleep 0.3
curl -s -m 3 -o /dev/null "$U/healthz"; refused=$?
wait "$SLOW"
wait "$PID"; STATUS=$?; PID=""
[ "$(cat "$T/slow_code")" = 200 ] && $PY -c "import json; assert len(json.load(open('$T/slow_out'))['results']) == 1000" 2>/dev/null \
    && ok "SIGTERM: the request in flight was answered in full" || bad "SIGTERM in flight" "HTTP $(cat "$T/slow_code")"
[ "$refused" -eq 7 ] && ok "SIGTERM: new connections refused" || bad "SIGTERM: new connection" "curl exit $refused"
[ "$STATUS" -eq 0 ] && ok "SIGTERM: exit status 0" || bad "SIGTERM exit status $STATUS" "$(tail -n 5 "$T/serve1.log")"
grep -q "answering the 1 request in flight" "$T/serve1.log" && ok "SIGTERM: drain logged" || bad "drain log" "$(tail -n 5 "$T/serve1.log")"

# ---- no token, no feedback log: /feedback and /retrain say how to enable them ----
if start serve2.log --model "$M" --max-body 64; then
    body '{"text": "turn it up", "labels": ["MUSIC"]}'; req POST /feedback "$T/req"
    expect "no feedback log: 404 not_enabled" 404 "d['error'] == 'not_enabled' and '--feedback' in d['message']"
    body '{"text": "play some jazz and then some more jazz please, all night long"}'; req POST /predict "$T/req"
    expect "--max-body 64: 413" 413 "d['error'] == 'body_too_large'"
    req POST /reload; expect "no token: /reload is open" 200
    kill -INT "$PID"; wait "$PID"; STATUS=$?; PID=""
    [ "$STATUS" -eq 0 ] && ok "SIGINT: exit status 0" || bad "SIGINT exit status $STATUS"
else
    bad "second server starts" "$(cat "$T/serve2.log")"
fi

# ---- --run-components: the registry's commands run ----
if start serve3.log --model "$M" --components examples/components.json --run-components; then
    body '{"text": "can you see my screen"}'; req POST /predict "$T/req"
    expect "--run-components: plan carried out" 200 "d['plan']['ok'] and 'vision' in d['plan']['to_load']"
    stop
    grep -q "^load vision model" "$T/serve3.log" && ok "--run-components: the load command ran" \
        || bad "--run-components: load command" "$(tail -n 5 "$T/serve3.log")"
else
    bad "third server starts" "$(cat "$T/serve3.log")"
fi

echo "serve tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
