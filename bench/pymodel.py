#!/usr/bin/python3
"""intent's model file, featurizer and forward pass in Python: the peer that serves the
same model without the C library.

Everything here follows docs/FORMAT.md, not the C code:

* ``read_model`` parses the file with ``struct`` (header, metadata, tensor directory,
  trailer; the CRC-32C is not recomputed: in pure Python that alone would take about a
  second for a 3 MB model, far longer than loading it).
* ``Featurizer`` is "ih1": words are maximal runs of Unicode L/M/N code points; ASCII
  words are lowered, other words go through NFKD, ``str.casefold``, NFKD, accent
  stripping when the model's flags say so, removal of default-ignorable code points and
  NFC (what utf8proc's STABLE|COMPAT|CASEFOLD|DECOMPOSE|IGNORE[|STRIPMARK] then COMPOSE
  does); FNV-1a over code points + fmix32, Lemire's multiply-shift into buckets, word
  1..N-grams with <s>/</s>, char n-grams of "<word>", tf' = 1 + ln(tf), tf-idf, L2.
  Python's Unicode tables (14.0 in 3.11) may differ from utf8proc's (15.0) on a few
  recent code points.
* ``PureMLP`` runs the network on Python floats (rows of tuples); ``NumpyMLP`` runs it
  vectorized on float32 views of the file (gather rows, weighted sum, matmuls).
* ``Decoder`` picks the labels as intent_predict does: those at or over the threshold,
  most confident first, at most ``decode.max_labels``, or ``decode.min_labels`` (0 or
  1) when none is. Clause decoding (``decode.clause_max_labels``) is not implemented:
  such models are refused.

Usage: /usr/bin/python3 bench/pymodel.py MODEL [TEXT...]   (prints labels per text)
"""
from __future__ import annotations

import math
import mmap
import re
import struct
import sys
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

MAGIC = b"\x89INT\r\n\x1a\n"
TRAILER = b"TNI\x89"
FNV_BASIS, FNV_PRIME, M32 = 2166136261, 16777619, 0xFFFFFFFF
TAG_WORD, TAG_CHAR, TAG_BOS, TAG_EOS = 0x57, 0x43, 0x42, 0x45
FLAG_SUBLINEAR, FLAG_STRIP_ACCENTS, FLAG_WORD_BOUNDS = 1, 2, 4
MAX_TOKENS, MAX_FEATURES, MAX_WORD = 256, 4096, 64
WORD_CAP = MAX_WORD * 4 + 32  # code points a normalized word may take before halving

# Default_Ignorable_Code_Point (Unicode 15 DerivedCoreProperties.txt): utf8proc's IGNORE.
_IGNORABLE = ((0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
              (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
              (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
              (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
              (0xE0000, 0xE0FFF))
_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")


class FormatError(ValueError):
    """The file is not an intent model this reader understands."""


# ---- the file ----

@dataclass
class Tensor:
    """One tensor of the directory: dtype 0 = f32, 1 = i8; dims outermost first."""
    name: str
    dtype: int
    dims: tuple[int, ...]
    offset: int
    size: int


@dataclass
class ModelFile:
    """A parsed model file: its bytes (an mmap), metadata and tensor directory."""
    path: str
    buf: Any  # mmap.mmap or bytes
    meta: dict[str, Any]
    tensors: dict[str, Tensor]

    @property
    def size(self) -> int:
        """Bytes of the file."""
        return len(self.buf)

    def floats(self, name: str) -> tuple[float, ...]:
        """An f32 tensor as a flat tuple of Python floats."""
        t = self.tensors[name]
        if t.dtype != 0:
            raise FormatError(f"{self.path}: tensor {name} is not f32")
        return struct.unpack_from(f"<{t.size // 4}f", self.buf, t.offset)

    def rows(self, name: str) -> list[tuple[float, ...]]:
        """A 2-D weight tensor [n_in][n_out] as rows of floats; an i8 one dequantized with
        its row scales (``w[i][j] = s[i] * q[i][j]``)."""
        t = self.tensors[name]
        n_in, n_out = t.dims
        if t.dtype == 0:
            fmt = struct.Struct(f"<{n_out}f")
            return [fmt.unpack_from(self.buf, t.offset + 4 * n_out * i) for i in range(n_in)]
        scales = self.floats(name[:-1] + "s")
        fmt = struct.Struct(f"<{n_out}b")
        return [tuple(scales[i] * q for q in fmt.unpack_from(self.buf, t.offset + n_out * i))
                for i in range(n_in)]


def _kv_value(kind: int, v: bytes) -> Any:
    """Decodes one metadata value by its type code (docs/FORMAT.md, "Metadata entries")."""
    if kind == 1:
        return struct.unpack("<I", v)[0]
    if kind == 2:
        return struct.unpack("<Q", v)[0]
    if kind == 3:
        return struct.unpack("<f", v)[0]
    if kind == 4:
        return struct.unpack("<d", v)[0]
    if kind == 5:
        return v.decode("utf-8")
    if kind == 6:
        (n,), pos, out = struct.unpack_from("<I", v), 4, []
        for _ in range(n):
            (sl,) = struct.unpack_from("<I", v, pos)
            out.append(v[pos + 4:pos + 4 + sl].decode("utf-8"))
            pos += 4 + sl
        return out
    if kind == 7:
        (n,) = struct.unpack_from("<I", v)
        return list(struct.unpack_from(f"<{n}I", v, 4))
    return v  # a newer type: opaque


def read_model(path: str) -> ModelFile:
    """Maps the file read-only and parses its header, metadata and tensor directory."""
    with open(path, "rb") as f:
        buf: Any = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    if len(buf) < 72 or buf[:8] != MAGIC:
        raise FormatError(f"{path}: not an intent model")
    (major, _minor, probe, fprobe, _hsize, fsize, moff, mcount, msize, doff, dcount,
     dsize) = struct.unpack_from("<HHIIIQQIIQII", buf, 8)
    if major != 1:
        raise FormatError(f"{path}: format version {major}; this reader reads 1.x")
    if probe != 0x0A0B0C0D or fprobe != 0x3FC00000:
        raise FormatError(f"{path}: byte-order probes are wrong")
    if fsize != len(buf) or buf[-4:] != TRAILER:
        raise FormatError(f"{path}: truncated or trailing bytes")
    meta: dict[str, Any] = {}
    pos = moff
    for _ in range(mcount):
        (kl,) = struct.unpack_from("<H", buf, pos)
        key = bytes(buf[pos + 2:pos + 2 + kl]).decode("utf-8")
        kind, vl = struct.unpack_from("<BI", buf, pos + 2 + kl)
        start = pos + 2 + kl + 5
        meta[key] = _kv_value(kind, bytes(buf[start:start + vl]))
        pos = start + vl
    if pos != moff + msize:
        raise FormatError(f"{path}: metadata does not fill its {msize} bytes")
    tensors: dict[str, Tensor] = {}
    pos = doff
    for _ in range(dcount):
        (nl,) = struct.unpack_from("<H", buf, pos)
        name = bytes(buf[pos + 2:pos + 2 + nl]).decode("ascii")
        dtype, nd = struct.unpack_from("<BB", buf, pos + 2 + nl)
        dims = struct.unpack_from(f"<{nd}I", buf, pos + 4 + nl)
        off, size = struct.unpack_from("<QQ", buf, pos + 4 + nl + 4 * nd)
        if off + size > len(buf) - 8:
            raise FormatError(f"{path}: tensor {name} runs past the data")
        tensors[name] = Tensor(name, dtype, tuple(dims), off, size)
        pos += 4 + nl + 4 * nd + 16
    if pos != doff + dsize:
        raise FormatError(f"{path}: tensor directory does not fill its {dsize} bytes")
    if meta.get("feat.hash") != "ih1":
        raise FormatError(f"{path}: featurizer {meta.get('feat.hash')!r} is not \"ih1\"")
    if meta.get("decode.clause_max_labels", 0):
        raise FormatError(f"{path}: clause decoding is not implemented here")
    return ModelFile(path, buf, meta, tensors)


# ---- the featurizer, "ih1" ----

def fmix32(h: int) -> int:
    """MurmurHash3's finalizer on a 32-bit value."""
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & M32
    return h ^ (h >> 16)


def hash_cps(seed: int, tag: int, cps: Iterable[int]) -> int:
    """H(tag, c1..cn): FNV-1a over the tag and code points, then fmix32."""
    h = (((FNV_BASIS ^ seed) ^ tag) * FNV_PRIME) & M32
    for c in cps:
        h = ((h ^ c) * FNV_PRIME) & M32
    return fmix32(h)


def hash_pair(a: int, b: int) -> int:
    """Combines two finished hashes (word n-grams); order matters."""
    return fmix32((a * 0x9E3779B1 + b + 0x7F4A7C15) & M32)


def _ignorable(c: str) -> bool:
    o = ord(c)
    return any(lo <= o <= hi for lo, hi in _IGNORABLE)


def _is_word_char(c: str) -> bool:
    if c < "\x80":
        return c.isascii() and c.isalnum()
    return unicodedata.category(c)[0] in "LMN"


def normalize_word(word: str, strip_accents: bool) -> str:
    """A non-ASCII word's first 64 code points, case folded and NFKC-normalized (accents
    stripped when asked), cut to 64 code points. A decomposition longer than 288 code
    points halves the word's UTF-8 bytes (at a code point boundary) until it fits."""
    raw = word[:MAX_WORD].encode("utf-8")
    while raw:
        s = unicodedata.normalize("NFKD", raw.decode("utf-8"))
        s = unicodedata.normalize("NFKD", s.casefold())
        if strip_accents:
            s = "".join(c for c in s if unicodedata.category(c) not in ("Mn", "Mc", "Me"))
        s = "".join(c for c in s if not _ignorable(c))
        if len(s) <= WORD_CAP:
            return unicodedata.normalize("NFC", s)[:MAX_WORD]
        half = len(raw) // 2
        while half > 0 and (raw[half] & 0xC0) == 0x80:
            half -= 1
        raw = raw[:half]
    return ""


@dataclass
class Featurizer:
    """Text -> [(bucket, weight)]: the model's hashed n-grams, tf-idf weighted, L2 = 1."""
    seed: int
    buckets: int
    word_ngrams: int
    char_min: int
    char_max: int
    flags: int
    idf: Sequence[float]
    _bos: int = field(init=False)
    _eos: int = field(init=False)
    _char0: int = field(init=False)

    def __post_init__(self) -> None:
        self._bos = hash_cps(self.seed, TAG_BOS, ())
        self._eos = hash_cps(self.seed, TAG_EOS, ())
        self._char0 = (((FNV_BASIS ^ self.seed) ^ TAG_CHAR) * FNV_PRIME) & M32

    @classmethod
    def from_model(cls, mf: ModelFile) -> "Featurizer":
        """The featurizer a model file specifies, with its idf as Python floats."""
        m = mf.meta
        return cls(m["feat.seed"], m["feat.buckets"], m["feat.word_ngrams"], m["feat.char_min"],
                   m["feat.char_max"], m["feat.flags"], mf.floats("idf"))

    def words(self, text: str) -> list[list[int]]:
        """The text's normalized words as code point lists (at most 256 of them)."""
        if text.isascii():
            return [[ord(c) for c in w[:MAX_WORD].lower()]
                    for w in _ASCII_WORD.findall(text)[:MAX_TOKENS]]
        out: list[list[int]] = []
        strip = bool(self.flags & FLAG_STRIP_ACCENTS)
        i, n = 0, len(text)
        while i < n and len(out) < MAX_TOKENS:
            if not _is_word_char(text[i]):
                i += 1
                continue
            j = i
            while j < n and _is_word_char(text[j]):
                j += 1
            w = text[i:j]
            w = w[:MAX_WORD].lower() if w.isascii() else normalize_word(w, strip)
            if w:
                out.append([ord(c) for c in w])
            i = j
        return out

    def counts(self, text: str) -> dict[int, int]:
        """Raw bucket counts in first-seen order (at most 4096 distinct buckets)."""
        B, seed, ngrams = self.buckets, self.seed, self.word_ngrams
        cmin, cmax = self.char_min, self.char_max
        counts: dict[int, int] = {}

        def add(h: int) -> None:
            b = (h * B) >> 32
            if b in counts:
                counts[b] += 1
            elif len(counts) < MAX_FEATURES:
                counts[b] = 1

        hist: list[int] = []  # hashes of the previous words, most recent last
        bounds = bool(self.flags & FLAG_WORD_BOUNDS) and ngrams >= 2
        if bounds:
            hist.append(self._bos)

        def word_ngrams(h: int) -> None:
            g = h
            for k in range(1, min(ngrams - 1, len(hist)) + 1):
                g = hash_pair(hist[-k], g)
                add(g)
            hist.append(h)
            if len(hist) > 2:
                del hist[0]

        words = self.words(text)
        for w in words:
            if ngrams:
                h = hash_cps(seed, TAG_WORD, w)
                add(h)
                word_ngrams(h)
            if cmax:
                m = [0x3C] + w + [0x3E]
                L = len(m)
                for i in range(L):
                    h = self._char0
                    for k in range(min(cmax, L - i)):
                        h = ((h ^ m[i + k]) * FNV_PRIME) & M32
                        if k + 1 >= cmin:
                            add(fmix32(h))
        if bounds and words:
            word_ngrams(self._eos)
        return counts

    def features(self, text: str) -> tuple[list[int], list[float]]:
        """Bucket ids and their weights tf' * idf / norm; unseen buckets (idf 0) dropped."""
        idf, sub = self.idf, bool(self.flags & FLAG_SUBLINEAR)
        ids: list[int] = []
        ws: list[float] = []
        for b, tf in self.counts(text).items():
            w = (1.0 + math.log(tf) if sub and tf > 1 else tf) * idf[b]
            if w != 0.0:
                ids.append(b)
                ws.append(w)
        norm2 = sum(w * w for w in ws)
        inv = 1.0 / math.sqrt(norm2) if norm2 > 0.0 else 0.0
        return ids, [w * inv for w in ws]


# ---- decoding ----

@dataclass
class Decoder:
    """Confidences -> label names, as intent_predict decodes (no clause decoding)."""
    labels: list[str]
    threshold: float
    max_labels: int
    min_labels: int

    @classmethod
    def from_model(cls, mf: ModelFile) -> "Decoder":
        """The decoding settings of a model file, with their documented defaults."""
        m = mf.meta
        return cls(m["labels"], m.get("decode.threshold", 0.5), m.get("decode.max_labels", len(m["labels"])),
                   m.get("decode.min_labels", 0))

    def decode(self, conf: Sequence[float]) -> list[str]:
        """The labels that apply, most confident first (ties: lower label id first)."""
        over = sum(1 for p in conf if p >= self.threshold)
        n = self.min_labels if over == 0 else min(over, self.max_labels)
        if n == 0:
            return []
        if n == 1:
            best = max(range(len(conf)), key=conf.__getitem__)  # first of equals
            return [self.labels[best]]
        order = sorted(range(len(conf)), key=lambda i: (-conf[i], i))
        return [self.labels[i] for i in order[:n]]

    def decode_rows(self, conf: Any) -> list[list[str]]:
        """decode() for each row of a NumPy [n][n_labels] array, vectorized where it can be."""
        import numpy as np
        over = (conf >= self.threshold).sum(axis=1)
        n = np.where(over == 0, self.min_labels, np.minimum(over, self.max_labels))
        best = conf.argmax(axis=1)
        out: list[list[str]] = []
        for r in range(conf.shape[0]):
            if n[r] == 0:
                out.append([])
            elif n[r] == 1:
                out.append([self.labels[best[r]]])
            else:
                order = np.argsort(-conf[r], kind="stable")[:n[r]]
                out.append([self.labels[i] for i in order])
        return out


# ---- networks ----

def _layer_names(mf: ModelFile, k: int) -> list[tuple[str, str]]:
    n_layers = len(mf.meta["net.layers"]) - 1
    return [(f"net{k}.l{l}.w", f"net{k}.l{l}.b") for l in range(n_layers)]


class PureMLP:
    """The ensemble on Python floats: each layer's weights as rows of tuples."""

    def __init__(self, mf: ModelFile) -> None:
        self.temperature = mf.meta.get("decode.temperature", 1.0)
        self.nets = [[(mf.rows(w), mf.floats(b)) for w, b in _layer_names(mf, k)]
                     for k in range(mf.meta["net.count"])]

    def forward(self, ids: Sequence[int], vals: Sequence[float]) -> list[float]:
        """Confidences of every label for one text's features."""
        conf: list[float] = []
        inv_t, inv_n = 1.0 / self.temperature, 1.0 / len(self.nets)
        for layers in self.nets:
            w0, b0 = layers[0]
            h = list(b0)
            for i, v in zip(ids, vals):  # layer 0: b0 + sum_j x_j W0[id_j]
                h = [a + v * r for a, r in zip(h, w0[i])]
            for w, b in layers[1:]:      # ReLU, then b + sum_i relu(h)_i W[i]
                out = list(b)
                for x, row in zip(h, w):
                    if x > 0.0:
                        out = [o + x * r for o, r in zip(out, row)]
                h = out
            p = [inv_n / (1.0 + math.exp(-z * inv_t)) for z in h]
            conf = p if not conf else [a + b for a, b in zip(conf, p)]
        return conf


class NumpyMLP:
    """The ensemble in NumPy float32, on read-only views of the mapped file."""

    def __init__(self, mf: ModelFile) -> None:
        import numpy as np
        self.np = np
        self.temperature = np.float32(mf.meta.get("decode.temperature", 1.0))
        self.nets = [[(self._weights(mf, w), self._f32(mf, b)) for w, b in _layer_names(mf, k)]
                     for k in range(mf.meta["net.count"])]

    def _f32(self, mf: ModelFile, name: str) -> Any:
        t = mf.tensors[name]
        return self.np.frombuffer(mf.buf, dtype="<f4", count=t.size // 4, offset=t.offset).reshape(t.dims)

    def _weights(self, mf: ModelFile, name: str) -> Any:
        t = mf.tensors[name]
        if t.dtype == 0:
            return self._f32(mf, name)
        q = self.np.frombuffer(mf.buf, dtype="i1", count=t.size, offset=t.offset).reshape(t.dims)
        return q.astype("f4") * self._f32(mf, name[:-1] + "s")[:, None]

    def forward(self, ids: Sequence[int], vals: Sequence[float]) -> Any:
        """Confidences [n_labels] for one text's features."""
        np = self.np
        idx, x = np.asarray(ids, dtype=np.intp), np.asarray(vals, dtype=np.float32)
        conf = None
        for layers in self.nets:
            w0, b0 = layers[0]
            h = b0 + x @ w0[idx]  # [K] @ [K][H] -> [H]
            for w, b in layers[1:]:
                h = np.maximum(h, 0.0) @ w + b
            p = 1.0 / (1.0 + np.exp(-h / self.temperature))
            conf = p if conf is None else conf + p
        return conf / len(self.nets)

    def forward_batch(self, feats: Sequence[tuple[Sequence[int], Sequence[float]]]) -> Any:
        """Confidences [n][n_labels] for n texts' features: one gather, a segment sum per
        text (np.add.reduceat), then one matmul per dense layer."""
        np = self.np
        # each text gets one extra (bucket 0, weight 0) entry so that no segment is empty
        idx = np.fromiter((i for ids, _ in feats for i in (*ids, 0)), dtype=np.intp)
        x = np.fromiter((v for _, vals in feats for v in (*vals, 0.0)), dtype=np.float32)
        starts = np.cumsum([0] + [len(ids) + 1 for ids, _ in feats[:-1]])
        conf = None
        for layers in self.nets:
            w0, b0 = layers[0]
            h = np.add.reduceat(w0[idx] * x[:, None], starts, axis=0) + b0  # [n][H]
            for w, b in layers[1:]:
                h = np.maximum(h, 0.0) @ w + b
            p = 1.0 / (1.0 + np.exp(-h / self.temperature))
            conf = p if conf is None else conf + p
        return conf / len(self.nets)


def main(argv: list[str]) -> int:
    """Answers each text (arguments, else stdin lines) with its labels and top confidence."""
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    mf = read_model(argv[1])
    feat, mlp, dec = Featurizer.from_model(mf), PureMLP(mf), Decoder.from_model(mf)
    for text in argv[2:] or (line.rstrip("\n") for line in sys.stdin):
        conf = mlp.forward(*feat.features(text))
        print(",".join(dec.decode(conf)) or "(none)", f"{max(conf):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
