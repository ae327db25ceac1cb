#!/bin/sh
# tests/cli.sh - the `intent` command end to end: train, predict (stdin, arguments, JSON,
# streaming), eval, inspect, feedback, route (component plans), help and errors. Ends
# with "N passed, N failed".
BUILD=${BUILD:-build}
INTENT="$BUILD/intent"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
pass=0; fail=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "$2" ] && echo "     $2"; }
# check NAME COMMAND...: the command must succeed
check() { name=$1; shift; if "$@" >"$T/out" 2>"$T/err"; then ok "$name"; else bad "$name" "$(head -c 400 "$T/err")"; fi; }
# check_fails NAME EXPECTED_STDERR_SUBSTRING COMMAND...: must fail and say so
check_fails() {
    name=$1; want=$2; shift 2
    if "$@" >"$T/out" 2>"$T/err"; then bad "$name" "succeeded"; return; fi
    if grep -qF -- "$want" "$T/err"; then ok "$name"; else bad "$name" "stderr: $(head -c 300 "$T/err")"; fi
}
has() { grep -qF -- "$2" "$T/$1"; }

check "version" "$INTENT" --version
has out "intent 0." || bad "version text"
check "help" "$INTENT" --help
for c in train predict eval inspect; do check "$c --help" "$INTENT" $c --help; done
check_fails "unknown command" "unknown command" "$INTENT" frobnicate
check_fails "unknown option" "unknown option --nope" "$INTENT" train --nope
check_fails "missing --out" "--data and --out are required" "$INTENT" train --data examples/assistant.tsv
check_fails "bad number" "is not a number" "$INTENT" train --data x --out y --epochs many
check_fails "out of range" "outside" "$INTENT" train --data x --out y --dropout 2

M="$T/m.intent"
check "train" "$INTENT" train --data examples/assistant.tsv --out "$M" --none-label oos --buckets 8192 \
    --hidden 64,32 --lr 0.005 --threads 2
has err "epoch" && has err "trained 10 labels on 613 examples" && ok "train progress and summary" || bad "train progress"
[ -s "$M" ] && ok "model written" || bad "model written"
ls "$T" | grep -q tmp && bad "temporary file left" || ok "no temporary file left"

# label names: no example says "music" or "alarm"; the names do (unless --no-label-names)
printf '%s\n' 'play_music	put on some tunes' 'play_music	I want to hear a song' 'play_music	start my playlist' \
    'set_alarm	wake me up at seven' 'set_alarm	ring at six tomorrow' 'set_alarm	get me up early' >"$T/names.tsv"
check "train with label names" "$INTENT" train --data "$T/names.tsv" --dev "$T/names.tsv" --out "$T/names.intent" \
    --min-count 1 --lr 0.02 --quiet
check "train --no-label-names" "$INTENT" train --data "$T/names.tsv" --dev "$T/names.tsv" --out "$T/plain.intent" \
    --no-label-names --min-count 1 --lr 0.02 --quiet
check "predict a name's word" "$INTENT" predict --model "$T/names.intent" --json music
grep -q '"top": \[{"label": "play_music"' "$T/out" && ok "a label's name teaches its words" \
    || bad "a label's name teaches its words" "$(cat "$T/out")"

check "predict args" "$INTENT" predict --model "$M" read me the document on my screen
has out "FILES" && has out "VISION" && ok "predict args multi-label" || bad "predict args multi-label" "$(cat "$T/out")"
check "predict json" "$INTENT" predict --model "$M" --json --top 3 "play some jazz"
grep -q '^{"labels": \["MUSIC"\], "top": \[{"label": "MUSIC", "confidence": 0\.[0-9]*}, {' "$T/out" \
    && ok "predict json shape" || bad "predict json shape" "$(cat "$T/out")"
check "predict out of scope" "$INTENT" predict --model "$M" --json "water the plants in the garden"
grep -q '^{"labels": \[\], "top": \[{"label": ' "$T/out" && ok "out of scope: no labels, top kept" \
    || bad "out of scope json" "$(cat "$T/out")"

printf 'play jazz\n\nopen my documents folder\nwhat is the weather in paris\n' >"$T/in"
check "predict stdin" sh -c "\"$INTENT\" predict --model \"$M\" <\"$T/in\""
[ "$(wc -l <"$T/out")" -eq 4 ] && ok "one line out per line in" || bad "line count" "$(cat "$T/out")"
sed -n 1p "$T/out" | grep -q MUSIC && sed -n 3p "$T/out" | grep -q FILES && sed -n 4p "$T/out" | grep -q WEATHER \
    && ok "answers in order" || bad "answers in order" "$(cat "$T/out")"
cp "$T/out" "$T/plain"
check "predict --stats" sh -c "\"$INTENT\" predict --model \"$M\" --stats <\"$T/in\""
cmp -s "$T/out" "$T/plain" && has err "answers       4 in" && has err "p99" && has err "version 1 (primary)" \
    && has err "per label" && ok "stats on stderr, answers unchanged" || bad "predict --stats" "$(cat "$T/err")"

# streaming: answer line 1 before line 2 is even written
mkfifo "$T/fifo"
( printf 'play jazz\n'; sleep 2; printf 'open my files\n' ) >"$T/fifo" &
"$INTENT" predict --model "$M" <"$T/fifo" >"$T/stream" 2>&1 &
pid=$!
sleep 1
[ "$(wc -l <"$T/stream")" -eq 1 ] && ok "streams before input ends" || bad "streaming" "$(cat "$T/stream")"
wait $pid
[ "$(wc -l <"$T/stream")" -eq 2 ] && ok "stream completes" || bad "stream completes"

check "eval" "$INTENT" eval --model "$M" --data examples/assistant_test.tsv
has out "exact-set accuracy" && has out "out-of-scope recall" && has out "ECE" && has out "AUROC" \
    && ok "eval report" || bad "eval report"
check "eval json" "$INTENT" eval --model "$M" --data examples/assistant_test.tsv --json
/usr/bin/python3 -c "import json,sys; d=json.load(open('$T/out')); assert d['examples']==153 and 0<=d['exact']<=1 and 'oos_recall' in d" \
    && ok "eval json parses" || bad "eval json parses"

check "bench (with the pool pass)" "$INTENT" bench --model "$M" --data examples/assistant_test.tsv --threads 2 --seconds 0.05
has out "async pool" && has out "batches" && has out "per label" && grep -q '^latency  .*p99' "$T/out" \
    && ok "bench prints the serving stats" || bad "bench stats" "$(cat "$T/out")"

check "inspect" "$INTENT" inspect "$M"
has out "format 1.0" && has out "labels" && has out "net0.l0.w" && ok "inspect content" || bad "inspect content"

# reproducibility through the CLI
"$INTENT" train --data examples/assistant.tsv --out "$T/a" --buckets 2048 --hidden 16 --epochs 3 --threads 1 --quiet 2>/dev/null
"$INTENT" train --data examples/assistant.tsv --out "$T/b" --buckets 2048 --hidden 16 --epochs 3 --threads 2 --quiet 2>/dev/null
cmp -s "$T/a" "$T/b" && ok "same seed, byte-identical model" || bad "byte-identical model"

# data errors name FILE:LINE and fail
printf 'A\tfine\nno tab\n' >"$T/bad.tsv"
check_fails "tsv error" "$T/bad.tsv:2: no tab between labels and text" "$INTENT" train --data "$T/bad.tsv" --out "$T/x"
printf '{"text": "a", "labels": ["A"]}\n{"text": "b", "labels": [1]}\n' >"$T/bad.jsonl"
check_fails "jsonl error" "$T/bad.jsonl:2: \"labels\" must be an array of strings" "$INTENT" train --data "$T/bad.jsonl" --out "$T/x"
printf '__label__A text\n__label__B\n' >"$T/bad.ft"
check_fails "fasttext error" "$T/bad.ft:2: empty text" "$INTENT" train --data "$T/bad.ft" --out "$T/x"
[ -e "$T/x" ] && bad "no model on error" || ok "no model written on error"

# model errors
head -c 100 "$M" >"$T/cut"
check_fails "truncated model" "truncated" "$INTENT" predict --model "$T/cut" hello
echo "hello" >"$T/notmodel"
check_fails "foreign model" "not an intent model" "$INTENT" inspect "$T/notmodel"
check_fails "missing model" "No such file" "$INTENT" predict --model "$T/none" hello

# route: components from a registry
R=examples/components.json
check "route --help" "$INTENT" route --help
check "route text" "$INTENT" route --model "$M" --components "$R" "can you see my screen"
has out "labels     VISION" && has out "required   screen, camera, ocr, vision" \
    && has out "to load    screen 40 MB, camera 60 MB, ocr 150 MB, vision 1100 MB" \
    && has out "memory     0 MB -> 1350 MB of 3072 MB budget" && ok "route text plan" || bad "route text plan" "$(cat "$T/out")"
check "route json" "$INTENT" route --model "$M" --components "$R" --json --loaded music:1000,llm:5,tts "can you see my screen"
/usr/bin/python3 -c "
import json; d = json.load(open('$T/out'))
assert [l['label'] for l in d['labels']] == ['VISION'], d
assert d['required'] == ['screen', 'camera', 'ocr', 'vision'] and d['loaded'] == [] and d['to_load'] == d['required'], d
assert d['to_unload'] == [{'component': 'music', 'why': 'idle_timeout'}, {'component': 'llm', 'why': 'budget'}], d
assert d['memory_mb'] == {'before': 2584, 'after': 1470, 'budget': 3072} and d['ok'] is True and d['error'] is None, d
" && ok "route json plan (LRU, idle timeout, budget)" || bad "route json plan" "$(cat "$T/out")"
printf 'tell me a joke\ncan you see my screen\n' >"$T/cmds"
check "route stdin" sh -c "\"$INTENT\" route --model \"$M\" --components $R <\"$T/cmds\""
grep -q "to unload  llm 2400 MB (budget)" "$T/out" && [ "$(grep -c '^text' "$T/out")" -eq 2 ] \
    && ok "route stdin: state carries over, chat model unloaded for vision" || bad "route stdin" "$(cat "$T/out")"

# --run: commands run in load order, their output kept off stdout; a failed load fails
printf '{"components": [{"name": "screen", "load": "echo load $INTENT_COMPONENT >>%s/log"},
  {"name": "vision", "labels": ["VISION"], "depends": ["screen"], "load": "echo load vision >>%s/log; echo noise"}]}' \
    "$T" "$T" >"$T/run.json"
check "route --run" "$INTENT" route --model "$M" --components "$T/run.json" --run --json "can you see my screen"
[ "$(tr '\n' ' ' <"$T/log" 2>/dev/null)" = "load screen load vision " ] && ok "route --run loads in order" \
    || bad "route --run loads in order" "$(cat "$T/log")"
/usr/bin/python3 -c "import json; d = json.load(open('$T/out')); assert d['ok'] and d['to_load'] == ['screen', 'vision']" \
    && has err "noise" && ok "route --run output on stderr" || bad "route --run json" "$(cat "$T/out")"
printf '{"components": [{"name": "cam", "load": "exit 3"},
  {"name": "vision", "labels": ["VISION"], "depends": ["cam"], "load": "true"}]}' >"$T/fail.json"
if "$INTENT" route --model "$M" --components "$T/fail.json" --run "can you see my screen" >"$T/out" 2>"$T/err"; then
    bad "route failed load exits 1"
else
    has out "failed     cam (exit status 3)" && has out "vision (not loaded: a dependency did not load)" \
        && ok "route failed load reported" || bad "route failed load reported" "$(cat "$T/out")"
fi
printf '{"budget_mb": 100, "components": [{"name": "big", "labels": ["VISION"], "memory_mb": 500}]}' >"$T/big.json"
if "$INTENT" route --model "$M" --components "$T/big.json" "can you see my screen" >"$T/out" 2>"$T/err"; then
    bad "route over budget exits 1"
else
    has out "over the budget" && ok "route over budget" || bad "route over budget" "$(cat "$T/out")"
fi

# bad registries: "FILE: component NAME: what is wrong"
reg() { printf '%s' "$2" >"$T/bad.json"; check_fails "$1" "$T/bad.json: $3" "$INTENT" route --model "$M" --components "$T/bad.json" hi; }
reg "registry unknown dependency" '{"components": [{"name": "vision", "depends": ["camera"]}]}' 'component vision: unknown dependency "camera"'
reg "registry cycle" '{"components": [{"name": "a", "depends": ["b"]}, {"name": "b", "depends": ["a"]}]}' 'component a: dependency cycle a -> b -> a'
reg "registry duplicate" '{"components": [{"name": "a"}, {"name": "a"}]}' 'component a: a component of that name exists already'
reg "registry unknown key" '{"components": [{"name": "a", "memroy_mb": 1}]}' 'component a: unknown key "memroy_mb"'
reg "registry bad memory" '{"components": [{"name": "a", "memory_mb": -1}]}' 'component a: "memory_mb" must be a number'
reg "registry no name" '{"components": [{"labels": ["X"]}]}' 'component #1: "name" must be a non-empty string'
reg "registry labels type" '{"components": [{"name": "a", "labels": "VISION"}]}' 'component a: "labels" must be an array of strings'
printf '{"components": [\n  {"name": "a",}\n]}' >"$T/bad.json"
check_fails "registry bad JSON" "$T/bad.json:2: not valid JSON" "$INTENT" route --model "$M" --components "$T/bad.json" hi
check_fails "registry missing" "No such file" "$INTENT" route --model "$M" --components "$T/none.json" hi
check_fails "route --loaded unknown" '--loaded: no component "zz"' "$INTENT" route --model "$M" --components "$R" --loaded zz hi
check_fails "route needs --components" "--model and --components are required" "$INTENT" route --model "$M" hi

# feedback log: append, dump (TSV that train and eval read, JSON lines), errors, torn tail
F="$T/fb.log"
check "feedback --help" "$INTENT" feedback --help
check "feedback append" "$INTENT" feedback --log "$F" --labels MUSIC play some jazz
check "feedback append multi-label" "$INTENT" feedback --log "$F" --labels FILES,VISION "read me the document on my screen"
check "feedback dump" "$INTENT" feedback --log "$F" --dump
printf 'MUSIC\tplay some jazz\nFILES,VISION\tread me the document on my screen\n' >"$T/want"
cmp -s "$T/out" "$T/want" && ok "feedback dump is TSV" || bad "feedback dump is TSV" "$(cat "$T/out")"
has err "2 records, 0 bytes of torn tail skipped" && ok "feedback dump summary" || bad "feedback dump summary" "$(cat "$T/err")"
cp "$T/out" "$T/fb.tsv"
check "feedback dump reads as data" "$INTENT" eval --model "$M" --data "$T/fb.tsv"
check "feedback dump json" "$INTENT" feedback --log "$F" --dump --json
/usr/bin/python3 -c "import json; r=[json.loads(l) for l in open('$T/out')]; assert r[1]['labels']==['FILES','VISION'] and r[0]['text']=='play some jazz' and r[0]['time_ms']>0" \
    && ok "feedback json parses" || bad "feedback json parses" "$(cat "$T/out")"
check_fails "feedback bad label" "label 2: label contains whitespace" "$INTENT" feedback --log "$F" --labels "A,B C" hello
check_fails "feedback bad utf-8" "text is not valid UTF-8" "$INTENT" feedback --log "$F" --labels A "$(printf 'caf\351')"
check_fails "feedback needs labels" "give --labels" "$INTENT" feedback --log "$F" hello
check_fails "feedback needs a log" "--log is required" "$INTENT" feedback --labels A hello
check_fails "feedback dump alone" "--dump takes no --labels" "$INTENT" feedback --log "$F" --dump --labels A
check_fails "feedback not a log" "not an intent feedback log" "$INTENT" feedback --log "$T/notmodel" --dump
check_fails "feedback not a log (append)" "not an intent feedback log" "$INTENT" feedback --log "$T/notmodel" --labels A hi
check_fails "feedback missing log" "No such file" "$INTENT" feedback --log "$T/none.log" --dump
check "feedback dump after refusals" "$INTENT" feedback --log "$F" --dump
has err "2 records," && ok "refused feedback left no record" || bad "refused feedback left no record"
size=$(wc -c <"$F") # the last record is 72 bytes: 12 head, 8 time, 2 + 6 + 7 labels, 4 + 33 text
head -c $((size - 5)) "$F" >"$T/torn.log"
check "feedback torn tail dump" "$INTENT" feedback --log "$T/torn.log" --dump
has err "1 record, 67 bytes of torn tail skipped" && ok "torn tail skipped" || bad "torn tail skipped" "$(cat "$T/err")"
check "feedback torn tail repair" "$INTENT" feedback --log "$T/torn.log" --labels MUSIC more jazz
has err "cut off a torn last record (67 bytes)" && ok "torn tail cut" || bad "torn tail cut" "$(cat "$T/err")"
check "feedback after repair" "$INTENT" feedback --log "$T/torn.log" --dump
has err "2 records, 0 bytes" && has out "more jazz" && ok "appended after repair" || bad "appended after repair" "$(cat "$T/err")"

# retrain from a feedback log: a new label learned, a worse model refused
rm -f "$T/fb.log"
for t in "dim the lights in the kitchen" "make the living room lights dimmer" "turn the lights down to 30 percent" "dim the lamp a bit"; do
    "$INTENT" feedback --log "$T/fb.log" --labels LIGHTS "$t" >/dev/null 2>&1
done
check "retrain" "$INTENT" retrain --model "$M" --feedback "$T/fb.log" --data examples/assistant.tsv --out "$T/m2.intent" --max-drop 0.1 --quiet
has err "1 new labels" && ok "retrain summary" || bad "retrain summary" "$(cat "$T/err")"
check "retrained predict" "$INTENT" predict --model "$T/m2.intent" --top 2 "dim the lights in the hall"
has out "LIGHTS" && ok "retrained model knows the new label" || bad "new label" "$(cat "$T/out")"
rm -f "$T/bad.log"
# corrections that contradict the data: most training texts relabelled MUSIC
cut -f2 examples/assistant.tsv | head -n 150 | while IFS= read -r t; do
    "$INTENT" feedback --log "$T/bad.log" --labels MUSIC "$t" >/dev/null 2>&1
done
check_fails "retrain refused" "not made" "$INTENT" retrain --model "$M" --feedback "$T/bad.log" --data examples/assistant.tsv --out "$T/m3.intent" --max-drop 0 --repeat 4 --quiet
[ -e "$T/m3.intent" ] && bad "refused model not written" || ok "refused model not written"

# export (ONNX) and featurize; tests/test_onnx.py runs the graph
check "export --help" "$INTENT" export --help
check "featurize --help" "$INTENT" featurize --help
check "export onnx" "$INTENT" export --model "$M" --onnx "$T/m.onnx"
has err "(ONNX, " && [ -s "$T/m.onnx" ] && ok "onnx written" || bad "onnx written" "$(cat "$T/err")"
ls "$T" | grep -q tmp && bad "export left a temporary file" || ok "export left no temporary file"
check_fails "export needs --onnx" "--model and --onnx are required" "$INTENT" export --model "$M"
check_fails "export to a missing folder" "$T/no/m.onnx" "$INTENT" export --model "$M" --onnx "$T/no/m.onnx"
check_fails "export of a foreign file" "not an intent model" "$INTENT" export --model "$T/notmodel" --onnx "$T/x.onnx"
check "featurize" "$INTENT" featurize --model "$M" play some jazz
grep -Eq '^[0-9]+:[0-9.e-]+( [0-9]+:[0-9.e-]+)*$' "$T/out" && ok "featurize pairs" || bad "featurize pairs" "$(cat "$T/out")"
printf 'play some jazz\n\nopen my files\n' >"$T/fin"
check "featurize json" sh -c "\"$INTENT\" featurize --model \"$M\" --json --confidences <\"$T/fin\""
/usr/bin/python3 -c "
import json; r = [json.loads(l) for l in open('$T/out')]
assert len(r) == 3 and r[1] == {'ids': [], 'weights': [], 'confidences': r[1]['confidences']}, r
assert len(r[0]['ids']) == len(r[0]['weights']) > 3 and abs(sum(w * w for w in r[0]['weights']) - 1) < 1e-5
assert len(r[0]['confidences']) == 10 and all(0 < c < 1 for c in r[0]['confidences'])
" && ok "featurize json lines" || bad "featurize json lines" "$(cat "$T/out")"
check_fails "featurize needs --model" "--model is required" "$INTENT" featurize hello

echo "CLI tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
