#!/bin/sh
# examples/demo.sh - `make demo`: on a fresh Debian/Ubuntu machine, install what is
# missing, build intent, train it on the bundled assistant commands and answer a few.
set -e
cd "$(dirname "$0")/.."

need=""
command -v cc >/dev/null 2>&1 || need="$need gcc libc6-dev"
command -v make >/dev/null 2>&1 || need="$need make"
[ -f /usr/include/utf8proc.h ] || need="$need libutf8proc-dev"
[ -f /usr/include/cjson/cJSON.h ] || need="$need libcjson-dev"
[ -f /usr/include/microhttpd.h ] || need="$need libmicrohttpd-dev"
if [ -n "$need" ]; then
    echo "== installing:$need"
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "need root or sudo to install:$need" >&2; exit 1; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
fi

echo "== building"
make -s all

echo "== training on examples/assistant.tsv (613 commands, 10 components + out-of-scope)"
./build/intent train --data examples/assistant.tsv --out build/assistant.intent --none-label oos

echo "== scoring on examples/assistant_test.tsv (153 unseen commands)"
./build/intent eval --model build/assistant.intent --data examples/assistant_test.tsv | tail -n 10

echo "== answering (labels over the threshold, then the closest when none applies)"
./build/intent predict --model build/assistant.intent --timing --top 2 <<'TEXTS'
read me the document on my screen
can you see my screen?
play something relaxing and turn the volume down
email the meeting notes to the team
what's the weather like in München tomorrow
remind me to call mum at 6
tell me a joke
order me a large pizza
TEXTS

echo "== routing: the components each command needs, within a 3 GiB budget (examples/components.json)"
./build/intent route --model build/assistant.intent --components examples/components.json <<'TEXTS'
tell me a joke
can you see my screen?
read me the document on my screen
play something relaxing
TEXTS
