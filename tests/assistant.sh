#!/bin/sh
# tests/assistant.sh - examples/assistant end to end: labels, component plans (loads once
# under concurrency, budget unloads, idle unloads), busy queues, corrections and the
# background retrain swapped in, the stats block. Ends with "N passed, N failed".
BUILD=${BUILD:-build}
A="$BUILD/examples/assistant"
INTENT="$BUILD/intent"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
trap '' PIPE  # an assistant that died early must fail the test, not kill it through a FIFO
pass=0; fail=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "$2" ] && echo "     $2"; }
has() { grep -qF -- "$2" "$T/$1"; }
# expect NAME FILE STRING...: every string is in the file
expect() {
    name=$1; f=$2; shift 2
    for s in "$@"; do
        if ! has "$f" "$s"; then bad "$name" "no \"$s\" in: $(head -c 1500 "$T/$f")"; return; fi
    done
    ok "$name"
}
# lines FILE PATTERN: how many lines hold the fixed string
lines() { grep -cF -- "$2" "$T/$1"; }

"$A" --help >"$T/out" 2>&1 && has out "usage: assistant" && ok "help" || bad "help" "$(cat "$T/out")"
"$A" --threads 0 >"$T/out" 2>&1; [ $? -eq 2 ] && has out "bad option --threads 0" && ok "bad option refused" \
    || bad "bad option" "$(cat "$T/out")"
"$A" --model "$T/none.intent" x >"$T/out" 2>&1; [ $? -eq 1 ] && has out "none.intent" \
    && ok "missing model named" || bad "missing model" "$(cat "$T/out")"

M="$T/m.intent"
"$INTENT" train --data examples/assistant.tsv --out "$M" --none-label oos --threads 2 2>/dev/null \
    && ok "model for the tests" || bad "model for the tests"

# one thread: commands one after another, so the plans are deterministic
"$A" --model "$M" --feedback "$T/fb0.log" --threads 1 "can you see my screen" "tell me a joke" \
    "buy some bitcoin" >"$T/one" 2>&1
[ $? -eq 0 ] && ok "commands as arguments" || bad "commands as arguments" "$(cat "$T/one")"
expect "labels" one '[1] "can you see my screen" -> VISION' '[2] "tell me a joke" -> CHAT' \
    '[3] "buy some bitcoin" -> out of scope (closest' '[3] nothing to load' '(model v1, '
expect "plan and loads" one '[1] plan: need screen camera ocr vision; had -; loaded screen camera ocr vision; unloaded -' \
    '[load]    vision    1100 MB' '[1] handled: VISION by ocr vision'
expect "budget unloads the least recently used" one \
    '[2] plan: need llm; had -; loaded llm; unloaded screen (budget) camera (budget) ocr (budget) vision (budget)' \
    '[unload]  vision' '[2] handled: CHAT by llm'
expect "stats block" one '== stats' 'answers       3 in' '1 out of scope; 0 errors, 0 cancelled, 0 busy' \
    'latency       p50' 'model         version 1 (primary)' 'pool          1 threads, 0 of 64 queued, 3 batches' \
    'per label' 'VISION 1' 'CHAT 1'
[ ! -e "$T/fb0.log" ] && ok "no feedback log without corrections" || bad "feedback log made for nothing"

# four threads, six commands that need the vision stack at once: each component loads once
for i in 1 2 3 4 5 6; do echo "can you see my screen"; done >"$T/six"
"$A" --model "$M" --feedback "$T/fb1.log" --threads 4 <"$T/six" >"$T/many" 2>&1 || bad "exit status" "$?"
[ "$(lines many '[load]    vision')" -eq 1 ] && [ "$(lines many '[load]    screen')" -eq 1 ] \
    && ok "concurrent commands load each component once" || bad "loads once" "$(cat "$T/many")"
[ "$(lines many 'handled: VISION by ocr vision')" -eq 6 ] && has many 'answers       6 in' \
    && ok "every concurrent command handled" || bad "six handled" "$(cat "$T/many")"

# idle timeouts scaled down (weather's 900 s become 180 ms): housekeeping unloads it
( echo "what is the weather tomorrow"; sleep 2 ) | "$A" --model "$M" --feedback "$T/fb2.log" --idle-scale 0.0002 \
    >"$T/idle" 2>&1 || bad "exit status" "$?"
expect "idle components unloaded by housekeeping" idle '[load]    weather' '[unload]  weather' \
    '[unload]  network' '[idle]    unloaded 2 components'

# a full queue: one worker busy loading the chat model while 300 commands arrive
for i in $(seq 300); do echo "tell me a joke"; done >"$T/flood"
"$A" --model "$M" --feedback "$T/fb3.log" --threads 1 <"$T/flood" >"$T/busy" 2>&1 || bad "exit status" "$?"
n_busy=$(lines busy 'busy: the queue is full; say it again')
n_done=$(lines busy 'handled: CHAT by llm')
[ "$n_busy" -gt 0 ] && [ $((n_busy + n_done)) -eq 300 ] && has busy "$n_busy busy" \
    && ok "a full queue answers busy at once ($n_busy of 300), the rest are handled" \
    || bad "busy" "busy $n_busy handled $n_done; $(tail -n 12 "$T/busy")"

# corrections: bad ones refused, three good ones start a background retrain; the next
# command, written once the new model serves, is answered by version 2 with the new label
mkfifo "$T/in"
"$A" --feedback "$T/fb.log" --max-drop 0.2 <"$T/in" >"$T/rt" 2>&1 &
pid=$!
exec 3>"$T/in"
printf '%s\n' 'can you see my screen' '!VISION' '!VISION,,CHAT a bad label' \
    '!SHOPPING order me a large pizza' '!SHOPPING buy milk and eggs online' \
    '!SHOPPING add batteries to my shopping cart' 'what is the weather tomorrow' >&3
i=0
while [ $i -lt 600 ] && ! grep -q '^\[retrain\] [^s]' "$T/rt"; do sleep 0.2; i=$((i + 1)); done
printf '%s\n' 'order me a large pizza' >&3
exec 3>&-
wait $pid
[ $? -eq 0 ] && ok "assistant with corrections exits 0" || bad "exit status"
expect "default model trained at start" rt 'model: trained on examples/assistant.tsv' 'serving as version 1'
expect "bad corrections refused" rt '[feedback] usage: !LABEL' '[feedback] not saved:'
expect "corrections saved" rt '[feedback] saved SHOPPING <- "order me a large pizza" (1 of 3' \
    '(3 of 3 before a retrain)' '[retrain] started in the background after 3 new corrections'
expect "retrained model swapped in" rt '[retrain] model version 2 serving: learned 3 corrections (1 new label)'
expect "new model answers with the new label" rt '"order me a large pizza" -> SHOPPING' '(model v2, ' \
    'handled: SHOPPING by the assistant itself'
expect "answers went on during the retrain" rt '"what is the weather tomorrow" -> WEATHER'
expect "stats after the swap" rt 'model         version 2 (primary), given by swap' '2 swaps' 'SHOPPING 1'
[ "$("$INTENT" feedback --log "$T/fb.log" --dump 2>/dev/null | wc -l)" -eq 3 ] && ok "feedback log holds the 3 corrections" \
    || bad "feedback log" "$("$INTENT" feedback --log "$T/fb.log" --dump)"
# under SANITIZE=...: no report in any run (leaks at exit included)
if grep -l -e 'Sanitizer' -e 'runtime error' "$T/one" "$T/many" "$T/idle" "$T/busy" "$T/rt" >"$T/san" 2>/dev/null; then
    bad "sanitizer reports" "$(cat "$T/san")"
else
    ok "no sanitizer report"
fi

echo "assistant tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
