#!/usr/bin/env python3
"""fuzz/mkcorpus.py - writes the seed corpora fuzz/corpus/{model,data,text,http}/.

    python3 fuzz/mkcorpus.py [build/intent]

Run it from the repository root after `make`; it (re)writes its seeds and leaves other
files alone: the folders also hold inputs found by fuzzing (crash-* for the inputs of
fixed bugs, and SHA-1 names from `-merge=1` runs), and a seed dropped from this script
must be deleted by hand. The seeds are committed, so this is needed only to change them.

The model seeds start from a tiny model trained by build/intent. This script then reads
and rewrites that file with its own reader and writer, written from docs/FORMAT.md alone
(and it checks that rewriting the model unchanged gives the very same bytes), to make
variants the trainer never writes (an int8 network, a newer minor version, unknown keys,
types and tensors) and damaged files, most of them with a valid checksum so that the
loader's structural checks see them.
"""
import os
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")

# ---- the model format (docs/FORMAT.md) ----

MAGIC = b"\x89INT\r\n\x1a\n"
TAIL = b"TNI\x89"
U32, U64, F32, F64, STR, STRS, U32S = 1, 2, 3, 4, 5, 6, 7
DT_F32, DT_I8 = 0, 1


def crc32c(data):
    table = crc32c.table
    if not table:
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ (0x82F63B78 & -(c & 1))
            table.append(c)
    c = 0xFFFFFFFF
    for b in data:
        c = (c >> 8) ^ table[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF


crc32c.table = []


def align(x):
    return (x + 63) // 64 * 64


def read_model(d):
    """-> (minor, [(key, type, value bytes)], [(name, dtype, dims, data bytes)])"""
    (magic, major, minor, _, _, _, size, moff, nkv, mbytes, doff, nt, dbytes) = \
        struct.unpack_from("<8sHHIIIQQIIQII", d, 0)
    assert magic == MAGIC and major == 1 and size == len(d) and d[-4:] == TAIL
    assert struct.unpack_from("<I", d, size - 8)[0] == crc32c(d[:-8])
    kvs, p = [], moff
    for _ in range(nkv):
        (kl,) = struct.unpack_from("<H", d, p)
        key = d[p + 2:p + 2 + kl].decode()
        typ, vl = struct.unpack_from("<BI", d, p + 2 + kl)
        p += 2 + kl + 5
        kvs.append((key, typ, d[p:p + vl]))
        p += vl
    assert p == moff + mbytes
    tensors, p = [], doff
    for _ in range(nt):
        (nl,) = struct.unpack_from("<H", d, p)
        name = d[p + 2:p + 2 + nl].decode()
        p += 2 + nl
        dt, nd = struct.unpack_from("<BB", d, p)
        dims = list(struct.unpack_from("<%dI" % nd, d, p + 2))
        off, nb = struct.unpack_from("<QQ", d, p + 2 + 4 * nd)
        p += 2 + 4 * nd + 16
        tensors.append((name, dt, dims, d[off:off + nb]))
    assert p == doff + dbytes
    return minor, kvs, tensors


def write_model(kvs, tensors, minor=0, major=1):
    meta = b"".join(struct.pack("<H", len(k)) + k.encode() + struct.pack("<BI", t, len(v)) + v
                    for k, t, v in kvs)
    dir_size = sum(2 + len(n) + 2 + 4 * len(dims) + 16 for n, _, dims, _ in tensors)
    doff = 64 + len(meta)
    off, directory, data = align(doff + dir_size), b"", b""
    start = off
    for name, dt, dims, blob in tensors:
        off = align(off)
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BB", dt, len(dims))
        directory += struct.pack("<%dI" % len(dims), *dims) + struct.pack("<QQ", off, len(blob))
        data += b"\0" * (off - start - len(data)) + blob
        off += len(blob)
    size = off + 8
    head = MAGIC + struct.pack("<HHIIIQQIIQII", major, minor, 0x0A0B0C0D, 0x3FC00000, 64, size, 64,
                               len(kvs), len(meta), doff, len(tensors), len(directory))
    body = head + meta + directory
    body += b"\0" * (start - len(body)) + data
    return body + struct.pack("<I", crc32c(body)) + TAIL


def resign(d):
    """Fixes the size field, trailer and CRC of a damaged image, as fuzz_model.c does."""
    d = bytearray(d)
    struct.pack_into("<Q", d, 24, len(d))
    d[-4:] = TAIL
    struct.pack_into("<I", d, len(d) - 8, crc32c(bytes(d[:-8])))
    return bytes(d)


def u32(v):
    return struct.pack("<I", v)


def strs(names):
    return u32(len(names)) + b"".join(u32(len(s)) + s for s in names)


def set_kv(kvs, key, typ, val):
    out = [(k, t, v) for k, t, v in kvs if k != key]
    return out + [(key, typ, val)] if val is not None else out


def quantize(tensors):
    """Replaces every f32 weight matrix by int8 rows and f32 row scales (the .s tensors)."""
    out = []
    for name, dt, dims, blob in tensors:
        if not (name.endswith(".w") and len(dims) == 2):
            out.append((name, dt, dims, blob))
            continue
        rows, cols = dims
        w = struct.unpack("<%df" % (rows * cols), blob)
        q, s = b"", b""
        for r in range(rows):
            row = w[r * cols:(r + 1) * cols]
            scale = max(abs(x) for x in row) / 127 or 1.0
            q += bytes((round(x / scale) & 0xFF) for x in row)
            s += struct.pack("<f", scale)
        out += [(name, DT_I8, dims, q), (name[:-1] + "s", DT_F32, [rows], s)]
    return out


# ---- seeds ----

TRAIN = (
    "A\tturn on the lights\nA\tlights on please\nB\tplay some music\nB\tplay jazz\n"
    "A,B\tlights on and play music\nC\twhat is the weather\nC\tweather tomorrow\n"
    "none\tasdf qwerty\n"
)


def train(intent, extra):
    with tempfile.TemporaryDirectory() as t:
        data, model = os.path.join(t, "d.tsv"), os.path.join(t, "m.intent")
        with open(data, "w") as f:
            f.write(TRAIN)
        subprocess.run([intent, "train", "--data", data, "--out", model, "--buckets", "32",
                        "--epochs", "2", "--threads", "1", "--quiet"] + extra, check=True,
                       stderr=subprocess.DEVNULL)
        return open(model, "rb").read()


def model_seeds(intent):
    base = train(intent, ["--hidden", "4"])
    minor, kvs, ts = read_model(base)
    assert write_model(kvs, ts, minor) == base, "the writer of this script disagrees with src/model_io.c"
    seeds = {
        "valid.intent": base,
        "valid-2nets-2layers-none.intent": train(intent, ["--hidden", "4,3", "--nets", "2", "--none-label", "none",
                                                           "--word-ngrams", "3", "--char-ngrams", "1,8",
                                                           "--no-sublinear-tf", "--keep-accents"]),
        "valid-words-only.intent": train(intent, ["--hidden", "2", "--char-ngrams", "0,0", "--word-ngrams", "1"]),
        "valid-chars-only.intent": train(intent, ["--hidden", "", "--word-ngrams", "0"]),
        "i8.intent": write_model(kvs, quantize(ts)),
        "minor7-unknown-key-type-tensor.intent": write_model(
            kvs + [("x.future", 42, b"\1\2\3"), ("x.list", U32S, u32(2) + u32(7) + u32(9)),
                   ("x.f64", F64, struct.pack("<d", 0.25))],
            ts + [("x.extra", DT_I8, [3], b"abc")], minor=7),
        "no-optional-keys.intent": write_model(
            [kv for kv in kvs if not kv[0].startswith(("train.", "intent.", "decode."))], ts),
        "reordered.intent": write_model(kvs[::-1], ts[::-1]),
    }
    damaged = {
        "major2.intent": write_model(kvs, ts, major=2),
        "bad-crc.intent": base[:200] + bytes([base[200] ^ 1]) + base[201:],
        "bad-magic.intent": b"\x89INX" + base[4:],
        "bad-probe.intent": resign(base[:12] + b"\x0A\x0B\x0C\x0D" + base[16:]),
        "bad-trailer.intent": base[:-1] + b"\0",
        "trailing-byte.intent": base + b"\0",
        "empty.intent": b"",
        "magic-only.intent": MAGIC,
        "header-only.intent": base[:72],
        "cut-metadata.intent": base[:150],
        "cut-directory.intent": base[:struct.unpack_from("<Q", base, 48)[0] + 10],
        "cut-data.intent": base[:len(base) - 100],
        "cut-data-resigned.intent": resign(base[:len(base) - 100]),
        "wrong-hash.intent": write_model(set_kv(kvs, "feat.hash", STR, b"ih2"), ts),
        "buckets-type-u64.intent": write_model(set_kv(kvs, "feat.buckets", U64, struct.pack("<Q", 32)), ts),
        "bad-flags.intent": write_model(set_kv(kvs, "feat.flags", U32, u32(0x17)), ts),
        "bad-labels.intent": write_model(set_kv(kvs, "labels", STRS, strs([b"A", b"B b", b"C"])), ts),
        "dup-labels.intent": write_model(set_kv(kvs, "labels", STRS, strs([b"A", b"B", b"A"])), ts),
        "bad-none-label.intent": write_model(set_kv(kvs, "none_label", STR, b"x,y"), ts),
        "bad-threshold.intent": write_model(set_kv(kvs, "decode.threshold", F32, struct.pack("<f", float("nan"))), ts),
        "zero-temperature.intent": write_model(set_kv(kvs, "decode.temperature", F32, struct.pack("<f", 0.0)), ts),
        "layers-mismatch.intent": write_model(set_kv(kvs, "net.layers", U32S, u32(3) + u32(32) + u32(5) + u32(3)), ts),
        "net-count-2.intent": write_model(set_kv(kvs, "net.count", U32, u32(2)), ts),
        "missing-tensor.intent": write_model(kvs, [t for t in ts if t[0] != "net0.l1.b"]),
        "dup-key.intent": write_model(kvs + [kvs[1]], ts),
        "bad-utf8-str.intent": write_model(kvs + [("x.s", STR, b"\xC0\xAF")], ts),
        "bad-strs-count.intent": write_model(kvs + [("x.ss", STRS, u32(5) + u32(1) + b"a")], ts),
        "bad-u32s-count.intent": write_model(kvs + [("x.us", U32S, u32(9) + u32(1))], ts),
        "unknown-dtype.intent": write_model(kvs, ts + [("x.t", 7, [4], b"abcd")]),
        "i8-without-scales.intent": write_model(kvs, [t for t in quantize(ts) if not t[0].endswith(".s")]),
        "nan-weights.intent": write_model(kvs, [(n, dt, dims, b"\xff\xff\xff\x7f" * (len(b) // 4)) if n == "net0.l0.w"
                                                else (n, dt, dims, b) for n, dt, dims, b in ts]),
        "nan-output-bias.intent": write_model(kvs, [(n, dt, dims, b"\xff\xff\xff\x7f" * (len(b) // 4))
                                                    if n == "net0.l1.b" else (n, dt, dims, b) for n, dt, dims, b in ts]),
        "inf-idf.intent": write_model(kvs, [(n, dt, dims, b"\0\0\x80\x7f" * (len(b) // 4)) if n == "idf"
                                            else (n, dt, dims, b) for n, dt, dims, b in ts]),
    }
    seeds.update(damaged)
    # hand-damaged headers and directories with a valid checksum
    for name, at, val in [("hdr-size-8", 20, 8), ("kv-count-huge", 40, 0xFFFFFFFF), ("meta-size-huge", 44, 0xFFFFFF),
                          ("kv-count-short", 40, 3), ("tensor-count-huge", 56, 0xFFFFFFFF),
                          ("dir-size-huge", 60, 0xFFFFFF), ("dir-offset-0", 48, 0)]:
        d = bytearray(base)
        struct.pack_into("<I", d, at, val)
        seeds[name + ".intent"] = resign(bytes(d))
    # the first directory entry is "idf": u16 3, "idf", u8 dtype, u8 1, u32 B, u64 offset, u64 size
    doff = struct.unpack_from("<Q", base, 48)[0]
    for name, at, fmt, val in [("tensor-name-len-0", 0, "<H", 0), ("tensor-ndims-3", 6, "<B", 3),
                               ("tensor-dims-0", 7, "<I", 0), ("tensor-dtype-i8", 5, "<B", DT_I8),
                               ("tensor-offset-misaligned", 11, "<Q", struct.unpack_from("<Q", base, doff + 11)[0] + 1),
                               ("tensor-offset-into-directory", 11, "<Q", doff // 64 * 64)]:
        d = bytearray(base)
        struct.pack_into(fmt, d, doff + at, val)
        seeds[name + ".intent"] = resign(bytes(d))
    return seeds


def data_seeds():
    long_label = "L" * 129
    many = ",".join("l%d" % i for i in range(257))
    return {
        "tsv-valid.tsv": "MUSIC,SYSTEM\tpause the music and lock the computer\nFILES\topen my files\n",
        "tsv-crlf-bom-blank.tsv": "\ufeffA\thello\r\n\r\n  \t \nB,A,A\tworld\twith tab\r\n",
        "tsv-no-tab.tsv": "A\tok\nno tab here\n",
        "tsv-no-labels.tsv": "\ttext\n",
        "tsv-empty-label.tsv": "A,,B\ttext\n",
        "tsv-trailing-comma.tsv": "A,\ttext\n",
        "tsv-space-label.tsv": "A B\ttext\n",
        "tsv-long-label.tsv": long_label + "\ttext\n",
        "tsv-257-labels.tsv": many + "\ttext\n",
        "tsv-empty-text.tsv": "A\t \t\n",
        "tsv-nul-text.tsv": "A\tte\0xt\n",
        "tsv-bad-utf8.tsv": b"A\tcaf\xc3\n",
        "tsv-bad-utf8-label.tsv": b"\xff\xfe\ttext\n",
        "tsv-no-newline-at-end.tsv": "A\tlast line",
        "tsv-unicode.tsv": "MÜSIK\tspiel Musik ab\n日本\t天気 は どう\nΣ\tπ ≈ 3.14 \U0001F600\n",
        "ft-valid.ft": "__label__A __label__B read me the document\n__label__C\tweather\n",
        "ft-no-label.ft": "__label__A ok\njust text\n",
        "ft-only-labels.ft": "__label__A __label__B\n",
        "ft-empty-label.ft": "__label__ text\n",
        "ft-label-comma.ft": "__label__a,b text\n",
        "jsonl-valid.jsonl": '{"text": "read me the document", "labels": ["FILES", "VISION"]}\n'
                             '{"labels": ["A"], "id": 7, "meta": {"x": [1, 2.5e-3, true, false, null]}, "text": "t"}\n',
        "jsonl-escapes.jsonl": '{"text": "tab\\t nl\\n quote\\" bs\\\\ sl\\/ \\u00e9 \\ud83d\\ude00 \\b\\f\\r", '
                               '"labels": ["\\u0041"]}\n',
        "jsonl-lone-surrogate.jsonl": '{"text": "\\ud800", "labels": ["A"]}\n',
        "jsonl-low-surrogate.jsonl": '{"text": "\\udc00x", "labels": ["A"]}\n',
        "jsonl-u0000.jsonl": '{"text": "a\\u0000b", "labels": ["A"]}\n',
        "jsonl-bad-escape.jsonl": '{"text": "\\x41", "labels": ["A"]}\n',
        "jsonl-short-u.jsonl": '{"text": "\\u12", "labels": ["A"]}',
        "jsonl-control-char.jsonl": '{"text": "a\x01b", "labels": ["A"]}\n',
        "jsonl-unterminated.jsonl": '{"text": "abc\n',
        "jsonl-trailing.jsonl": '{"text": "a", "labels": ["A"]} x\n',
        "jsonl-dup-key.jsonl": '{"text": "a", "text": "b", "labels": ["A"]}\n',
        "jsonl-labels-not-array.jsonl": '{"text": "a", "labels": "A"}\n',
        "jsonl-label-number.jsonl": '{"text": "a", "labels": ["A", 1]}\n',
        "jsonl-empty-labels.jsonl": '{"text": "a", "labels": []}\n',
        "jsonl-missing-text.jsonl": '{"labels": ["A"]}\n',
        "jsonl-text-number.jsonl": '{"text": 5, "labels": ["A"]}\n',
        "jsonl-deep.jsonl": '{"x": ' + "[" * 70 + "]" * 70 + ', "text": "a", "labels": ["A"]}\n',
        "jsonl-deep-ok.jsonl": '{"x": ' + "[" * 60 + "]" * 60 + ', "text": "a", "labels": ["A"]}\n',
        "jsonl-empty-object.jsonl": "{}\n",
        "jsonl-bad-literal.jsonl": '{"x": tru, "text": "a", "labels": ["A"]}\n',
        "jsonl-bad-number.jsonl": '{"x": -, "text": "a", "labels": ["A"]}\n',
        "mixed-formats": 'A\tfirst line decides\n{"text": "a", "labels": ["A"]}\n__label__B b\n',
        "auto-json-first": '  {"text": "a", "labels": ["A"]}\nA\ttsv after json\n',
        "auto-ft-first": '\t__label__x hello\n__label__y world\n',
    }


def text_seeds():
    words = " ".join("w%dx%d" % (i, i * 7919 % 10007) for i in range(180))  # > 4096 n-grams in < 2 KB
    return {
        "ascii": "read me the document on my screen",
        "empty": "",
        "punct": "can't-stop_won't stop!!! ... 1,000.50 $5 a@b.c #tag",
        "accents": "Café crème, naïve façade — Ærøskøbing ÉCOLE",
        "cjk": "東京の天気はどうですか 今日は 雨",
        "cyrillic-greek": "ПРИВЕТ мир Σίσυφος ΣΟΦΟΣ",
        "arabic-rtl": "مرحبا بالعالم \u200f",
        "emoji-zwj": "play 👩‍👩‍👧 music 🎵🇫🇷 now",
        "combining": "e\u0301 a\u0300\u0301\u0302\u0303\u0304 Z\u0351\u0352\u0353\u0354\u0355\u0356",
        "ligatures-compat": "\ufb01le ｆｕｌｌｗｉｄｔｈ ① ² ㎏ ß İstanbul",
        "fdfa-expands": "\ufdfa" * 40,
        "ignorables": "zero\u200bwidth soft\u00adhyphen \ufeffbom \u2060join",
        "long-ascii-word": "a" * 300 + " tail",
        "long-unicode-word": "é" * 300 + " " + "\u0915\u094d" * 100,
        "invalid-utf8": b"abc \xff\xfe \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82 end\xc3",
        "nul-bytes": b"play\0music\0\0now",
        "many-words": " ".join(["go"] * 300),
        "many-features": words,
        "digits-scripts": "٣٤ ४२ 42 Ⅻ ½",
        "hangul": "안녕하세요 세계",
        "whitespace": "\t\n\r\v\f \u00a0\u2003\u3000",
    }


def http_seeds():
    """Requests for fuzz_http: "METHOD PATH", header lines, an empty line, the body."""
    auth = "Authorization: Bearer tok\n"

    def post(path, body, headers=""):
        return "POST %s\n%s\n%s" % (path, headers, body)

    return {
        "predict-one": post("/predict", '{"text": "read me the document on my screen"}'),
        "predict-bare": '{"text": "play some jazz", "top": 3}',
        "predict-batch": post("/predict", '{"texts": ["play some jazz", "can you see this", "", "caf\\u00e9 \\ud83d\\ude00"], '
                                          '"threshold": 0.3, "top": 2}'),
        "predict-empty-batch": post("/predict", '{"texts": []}'),
        "predict-threshold-0": post("/predict", '{"text": "open my documents and play jazz", "threshold": 0, "top": 0}'),
        "predict-bad-json": post("/predict", '{"text": "play'),
        "predict-trailing": post("/predict", '{"text": "play"} {}'),
        "predict-bad-utf8": post("/predict", b'{"text": "play \xff\xfe \xc0\xaf \xed\xa0\x80"}'.decode("latin-1")).encode("latin-1"),
        "predict-control": post("/predict", '{"text": "a\x01b"}'),
        "predict-nul-escape": post("/predict", '{"text": "a\\u0000b"}'),
        "predict-nul-byte": post("/predict", '{"text": "a"}\0'),
        "predict-missing": post("/predict", '{"threshold": 0.5}'),
        "predict-types": post("/predict", '{"text": ["x"], "top": "3", "threshold": null}'),
        "predict-range": post("/predict", '{"text": "x", "top": 1e9, "threshold": -0.5}'),
        "predict-both": post("/predict", '{"text": "x", "texts": ["y"]}'),
        "predict-dup": post("/predict", '{"text": "x", "text": "y"}'),
        "predict-unknown": post("/predict", '{"text": "x", "\\u00e9\u00e9": 1}'),
        "predict-too-many": post("/predict", '{"texts": [%s]}' % ", ".join(['"x"'] * 17)),
        "predict-long-text": post("/predict", '{"text": "%s"}' % ("word " * 60)),
        "predict-too-large": post("/predict", '{"text": "%s"}' % ("a" * 4200)),
        "predict-deep": post("/predict", '{"x": ' + "[" * 200 + "]" * 200 + "}"),
        "feedback": post("/feedback", '{"text": "crank up the tunes", "labels": ["MUSIC"]}', auth),
        "feedback-none-label": post("/feedback", '{"text": "book a table", "labels": ["oos", "MUSIC"]}', auth),
        "feedback-unknown-label": post("/feedback", '{"text": "water the roses", "labels": ["GARDEN"]}', auth),
        "feedback-bad-label": post("/feedback", '{"text": "x", "labels": ["a b", ""]}', auth),
        "feedback-blank": post("/feedback", '{"text": " \\t ", "labels": ["MUSIC"]}', auth),
        "feedback-no-token": post("/feedback", '{"text": "x", "labels": ["MUSIC"]}'),
        "feedback-wrong-token": post("/feedback", '{"text": "x", "labels": ["MUSIC"]}', "Authorization: Bearer tok2\n"),
        "retrain": post("/retrain", "", auth),
        "reload": post("/reload", "", auth),
        "reload-basic": post("/reload", "", "Authorization: Basic tok\n"),
        "healthz": "GET /healthz\n\n",
        "head-healthz": "HEAD /healthz\n\n",
        "stats": "GET /stats\n\n",
        "metrics": "GET /metrics\n\n",
        "not-found": "GET /predict/../stats\n\n",
        "wrong-method": "DELETE /predict\n\n",
        "get-predict": "GET /predict\n\n{}",
    }


def write_all(folder, seeds):
    path = os.path.join(OUT, folder)
    os.makedirs(path, exist_ok=True)
    for name, content in seeds.items():
        with open(os.path.join(path, name), "wb") as f:
            f.write(content if isinstance(content, bytes) else content.encode())


def main():
    intent = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "intent")
    write_all("model", model_seeds(intent))
    write_all("data", data_seeds())
    write_all("text", text_seeds())
    write_all("http", http_seeds())


if __name__ == "__main__":
    main()
