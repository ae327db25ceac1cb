#!/usr/bin/python3
"""The Python contenders of bench/compare.sh: how each is trained or exported, loaded,
and asked "text in -> labels out", measured under one protocol.

Contenders (``run NAME``):
  fasttext-py  fastText's Python binding (Debian python3-fasttext): model.predict(text)
  sklearn      scikit-learn pipeline (TF-IDF + LinearSVC, bench/peers.py's settings):
               pipeline.predict([text])
  pure         intent's model file in pure Python (bench/pymodel.py): featurizer + MLP
  numpy        the same featurizer, the network in NumPy (gather, weighted sum, matmuls)
  torch        the same featurizer, the network in PyTorch eager: nn.EmbeddingBag with
               per_sample_weights, nn.Linear, one thread, inference_mode

Protocol (as bench/driver.c for intent and bench/ort.js for ONNX Runtime): the texts are
read first; cold start = imports + load + first answer, in this fresh process; warm-up
(up to 2000 answers or a quarter of SECONDS); resident memory (VmRSS) then; latency of
single queries cycling through the texts for SECONDS; throughput of BATCH texts at a
time for SECONDS where the contender has a batch path. Prints one JSON object; with
--dump FILE, writes every text's confidences instead (MLP contenders only).

Usage:
  contenders.py train-fasttext DATADIR OUT_BIN     fastText on DATADIR/train.tsv
  contenders.py train-sklearn DATADIR OUT_PKL      scikit-learn on DATADIR/train.tsv
  contenders.py export-torch MODEL OUT_PT          intent model -> torch.save'd tensors
  contenders.py run NAME MODEL TEXTS SECONDS BATCH [--dump FILE]
"""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (bench/peers.py: the peers' training settings)
import pymodel  # noqa: E402


def vm_rss_kb() -> int:
    """Resident memory of this process, from /proc/self/status (-1 where there is none)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def read_labelled(path: str) -> list[tuple[str, str]]:
    """(label, text) pairs of a single-label TSV data set."""
    rows = []
    for labels, text in peers.read(path):
        if len(labels) != 1:
            raise SystemExit(f"{path}: multi-label data; the speed benchmark expects one label a line")
        rows.append((next(iter(labels)), text))
    return rows


# ---- training and exports ----

def train_fasttext(datadir: str, out_bin: str) -> None:
    """fastText supervised on train.tsv with bench/peers.py's settings, lowercased as there."""
    with tempfile.TemporaryDirectory() as tmp:
        with open(f"{tmp}/train.ft", "w", encoding="utf-8") as f:
            for label, text in read_labelled(f"{datadir}/train.tsv"):
                f.write(f"__label__{label} {text.lower()}\n")
        out = out_bin[:-4] if out_bin.endswith(".bin") else out_bin
        subprocess.run(["fasttext", "supervised", "-input", f"{tmp}/train.ft", "-output", out]
                       + peers.FASTTEXT_ARGS, check=True)
        if os.path.exists(out + ".vec"):
            os.remove(out + ".vec")


def train_sklearn(datadir: str, out_pkl: str) -> None:
    """bench/peers.py's TF-IDF features + LinearSVC(C=0.5) as one pipeline, pickled."""
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC
    rows = read_labelled(f"{datadir}/train.tsv")
    pipe = make_pipeline(peers.sklearn_vectorizer(), LinearSVC(C=0.5))
    pipe.fit([t for _, t in rows], [label for label, _ in rows])
    with open(out_pkl, "wb") as f:
        pickle.dump(pipe, f, protocol=pickle.HIGHEST_PROTOCOL)


def export_torch(model: str, out_pt: str) -> None:
    """The intent model's featurizer settings, idf, labels, decoding and weights (float32,
    int8 layers dequantized) as one torch.save'd dict."""
    import numpy as np
    import torch
    mf = pymodel.read_model(model)
    mlp = pymodel.NumpyMLP(mf)
    spec = {k: mf.meta[k] for k in ("feat.seed", "feat.buckets", "feat.word_ngrams", "feat.char_min",
                                     "feat.char_max", "feat.flags")}
    dec = pymodel.Decoder.from_model(mf)
    blob = {
        "spec": spec,
        "labels": dec.labels,
        # floats as 0-d tensors: torch 1.13's weights_only loader refuses pickled floats
        "decode": {"threshold": torch.tensor(float(dec.threshold), dtype=torch.float64),
                   "temperature": torch.tensor(float(mlp.temperature), dtype=torch.float64),
                   "max_labels": dec.max_labels, "min_labels": dec.min_labels},
        "idf": torch.from_numpy(np.array(mf.floats("idf"), dtype=np.float32)),
        "nets": [[[torch.from_numpy(np.array(w)), torch.from_numpy(np.array(b))] for w, b in net]
                 for net in mlp.nets],
    }
    torch.save(blob, out_pt)


# ---- contenders: each loader imports its own libraries (cold start counts them) ----

class Contender:
    """What the protocol needs: answer(text) -> labels; optionally answer_batch(texts),
    confidences(text) (for --dump) and featurize(text) (timed alone)."""
    model_bytes: int = 0
    answer: Callable[[str], list[str]]
    answer_batch: Optional[Callable[[Sequence[str]], list[list[str]]]] = None
    confidences: Optional[Callable[[str], Sequence[float]]] = None
    featurize: Optional[Callable[[str], Any]] = None


def load_fasttext_py(path: str) -> Contender:
    """fastText's Python binding; texts lowercased as at training."""
    import fasttext
    fasttext.FastText.eprint = lambda *a, **k: None  # the load_model deprecation notice
    model = fasttext.load_model(path)
    none = "__label__oos"
    c = Contender()
    c.model_bytes = os.path.getsize(path)

    def answer(text: str) -> list[str]:
        label = model.predict(text.lower(), k=1)[0][0]
        return [] if label == none else [label[9:]]

    def answer_batch(texts: Sequence[str]) -> list[list[str]]:
        labels, _ = model.predict([t.lower() for t in texts], k=1)
        return [[] if ls[0] == none else [ls[0][9:]] for ls in labels]

    c.answer, c.answer_batch = answer, answer_batch
    return c


def load_sklearn(path: str) -> Contender:
    """The pickled pipeline: its own TF-IDF, then LinearSVC; "oos" answers no label.
    Unpickling imports scikit-learn, so cold start counts it."""
    with open(path, "rb") as f:
        pipe = pickle.load(f)
    c = Contender()
    c.model_bytes = os.path.getsize(path)

    def answer(text: str) -> list[str]:
        label = pipe.predict([text])[0]
        return [] if label == "oos" else [label]

    def answer_batch(texts: Sequence[str]) -> list[list[str]]:
        return [[] if label == "oos" else [label] for label in pipe.predict(list(texts))]

    c.answer, c.answer_batch = answer, answer_batch
    return c


def load_pure(path: str) -> Contender:
    """bench/pymodel.py: the file parsed with struct, the network on Python floats."""
    mf = pymodel.read_model(path)
    feat, mlp, dec = pymodel.Featurizer.from_model(mf), pymodel.PureMLP(mf), pymodel.Decoder.from_model(mf)
    c = Contender()
    c.model_bytes = mf.size
    c.featurize = feat.features
    c.confidences = lambda text: mlp.forward(*feat.features(text))
    c.answer = lambda text: dec.decode(mlp.forward(*feat.features(text)))
    return c


def load_numpy(path: str) -> Contender:
    """The network in NumPy float32 on views of the mapped file."""
    mf = pymodel.read_model(path)
    feat, mlp, dec = pymodel.Featurizer.from_model(mf), pymodel.NumpyMLP(mf), pymodel.Decoder.from_model(mf)
    c = Contender()
    c.model_bytes = mf.size
    c.featurize = feat.features
    c.confidences = lambda text: mlp.forward(*feat.features(text))
    c.answer = lambda text: dec.decode_rows(mlp.forward(*feat.features(text))[None, :])[0]
    c.answer_batch = lambda texts: dec.decode_rows(mlp.forward_batch([feat.features(t) for t in texts]))
    return c


def load_torch(path: str) -> Contender:
    """PyTorch eager from the torch.save'd export: EmbeddingBag(mode="sum") with
    per_sample_weights for layer 0, nn.Linear after; one thread; inference_mode."""
    import torch
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set
    blob = torch.load(path, weights_only=True)

    class Net(torch.nn.Module):
        """One network: sparse layer 0 + bias, then ReLU and a Linear per dense layer."""

        def __init__(self, layers: list[list[Any]]) -> None:
            super().__init__()
            w0, b0 = layers[0]
            self.emb = torch.nn.EmbeddingBag.from_pretrained(w0, mode="sum", freeze=True)
            self.b0 = torch.nn.Parameter(b0, requires_grad=False)
            self.dense = torch.nn.ModuleList()
            for w, b in layers[1:]:
                lin = torch.nn.Linear(w.shape[0], w.shape[1])
                lin.weight = torch.nn.Parameter(w.t().contiguous(), requires_grad=False)
                lin.bias = torch.nn.Parameter(b, requires_grad=False)
                self.dense.append(lin)

        def forward(self, ids: Any, offsets: Any, weights: Any) -> Any:
            h = self.emb(ids, offsets, per_sample_weights=weights) + self.b0  # [n][H]
            for lin in self.dense:
                h = lin(torch.relu(h))
            return h

    nets = [Net(layers).eval() for layers in blob["nets"]]
    inv_t = 1.0 / float(blob["decode"]["temperature"])
    s = blob["spec"]
    feat = pymodel.Featurizer(s["feat.seed"], s["feat.buckets"], s["feat.word_ngrams"], s["feat.char_min"],
                              s["feat.char_max"], s["feat.flags"], blob["idf"].tolist())
    d = blob["decode"]
    dec = pymodel.Decoder(blob["labels"], float(d["threshold"]), d["max_labels"], d["min_labels"])

    def forward(feats: Sequence[tuple[Sequence[int], Sequence[float]]]) -> Any:
        ids = torch.tensor([i for f in feats for i in f[0]], dtype=torch.long)
        w = torch.tensor([v for f in feats for v in f[1]], dtype=torch.float32)
        offsets, at = [], 0
        for f in feats:
            offsets.append(at)
            at += len(f[0])
        off = torch.tensor(offsets, dtype=torch.long)
        with torch.inference_mode():
            conf = sum(torch.sigmoid(net(ids, off, w) * inv_t) for net in nets) / len(nets)
        return conf.numpy()

    c = Contender()
    c.model_bytes = os.path.getsize(path)
    c.featurize = feat.features
    c.confidences = lambda text: forward([feat.features(text)])[0]
    c.answer = lambda text: dec.decode_rows(forward([feat.features(text)]))[0]
    c.answer_batch = lambda texts: dec.decode_rows(forward([feat.features(t) for t in texts]))
    return c


LOADERS: dict[str, Callable[[str], Contender]] = {
    "fasttext-py": load_fasttext_py, "sklearn": load_sklearn, "pure": load_pure, "numpy": load_numpy,
    "torch": load_torch,
}


# ---- the protocol ----

def percentile(sorted_us: Sequence[float], num: int, den: int) -> float:
    """sorted[n * num / den], as bench/driver.c and `intent bench` take percentiles."""
    return sorted_us[len(sorted_us) * num // den]


def measure(name: str, model: str, texts: list[str], seconds: float, batch: int) -> dict[str, Any]:
    """Cold start, memory, single-query latency and batch throughput of one contender."""
    clock = time.perf_counter_ns
    rss_start = vm_rss_kb()
    t0 = clock()
    c = LOADERS[name](model)
    c.answer(texts[0])
    cold_ms = (clock() - t0) / 1e6
    rss_loaded = vm_rss_kb()
    end = time.perf_counter() + seconds / 4
    for i in range(2000):
        if time.perf_counter() > end:
            break
        c.answer(texts[i % len(texts)])
    rss = vm_rss_kb()

    lat: list[int] = []
    n, end_ns = 0, clock() + int(seconds * 1e9)
    while n < 64 or clock() < end_ns:
        text = texts[n % len(texts)]
        a = clock()
        c.answer(text)
        lat.append(clock() - a)
        n += 1
    lat.sort()
    out: dict[str, Any] = {"cold_ms": cold_ms, "p50_us": percentile(lat, 1, 2) / 1e3,
                           "p99_us": percentile(lat, 99, 100) / 1e3, "n": n, "rss_kb": rss,
                           "rss_start_kb": rss_start, "rss_loaded_kb": rss_loaded, "model_bytes": c.model_bytes}
    del lat
    if c.answer_batch:
        answers, at, start = 0, 0, time.perf_counter()
        now = start
        while now - start < seconds:
            chunk = [texts[(at + k) % len(texts)] for k in range(batch)]
            at += batch
            c.answer_batch(chunk)
            answers += batch
            now = time.perf_counter()
        out["per_second"] = answers / (now - start)
    if c.featurize:  # the Python featurizer alone, to split featurizing from the network
        feat_ns: list[int] = []
        end_ns = clock() + int(seconds * 1e9 / 4)
        while len(feat_ns) < 64 or clock() < end_ns:
            text = texts[len(feat_ns) % len(texts)]
            a = clock()
            c.featurize(text)
            feat_ns.append(clock() - a)
        feat_ns.sort()
        out["featurize_p50_us"] = percentile(feat_ns, 1, 2) / 1e3
    return out


def dump(name: str, model: str, texts: list[str], path: str) -> None:
    """Every text's confidences (one line a text, the model's label order, %.9g)."""
    c = LOADERS[name](model)
    if not c.confidences:
        raise SystemExit(f"contenders.py: {name} has no confidences to dump")
    with open(path, "w") as f:
        for text in texts:
            f.write(" ".join(f"{float(p):.9g}" for p in c.confidences(text)) + "\n")


def main(argv: list[str]) -> int:
    """Command-line entry: see the module docstring."""
    if len(argv) == 4 and argv[1] == "train-fasttext":
        train_fasttext(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "train-sklearn":
        train_sklearn(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "export-torch":
        export_torch(argv[2], argv[3])
    elif len(argv) in (7, 9) and argv[1] == "run" and argv[2] in LOADERS:
        with open(argv[4], encoding="utf-8") as f:
            texts = [line.rstrip("\n") for line in f]
        if len(argv) == 9 and argv[7] == "--dump":
            dump(argv[2], argv[3], texts, argv[8])
        else:
            print(json.dumps(measure(argv[2], argv[3], texts, float(argv[5]), int(argv[6]))), flush=True)
    else:
        print(__doc__.split("Usage:")[1].rstrip(), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
