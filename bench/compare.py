#!/usr/bin/python3
"""bench/compare.sh's measuring half: intent beside its peers on one data set's test
texts, one run, one Markdown table (and the same as JSON).

Rows: intent through its C API (bench/driver.c) and its CLI (`intent predict`);
fastText's CLI and Python binding; scikit-learn; intent's own model served by pure
Python, NumPy, PyTorch eager (bench/contenders.py) and ONNX Runtime under Node
(bench/ort.js). A peer that cannot run is listed as missing, with the reason.

Noise: every contender runs once per round in a fresh process, rounds interleave the
contenders (each round in a rotated order), and the table gives the median over rounds;
ratios are taken within each round, then their median. Everything runs pinned to one CPU.

Usage: /usr/bin/python3 bench/compare.py [options]   (see --help; bench/compare.sh runs it)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
import pymodel  # noqa: E402

PY = "/usr/bin/python3"
ONE_TEXT = "what is the weather tomorrow"  # a CLI's cold start: exec, load, answer this, exit
COLD_RUNS = 3                              # ... median of this many a round
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass
class Row:
    """One contender: how to run one sample of it, and what the samples said."""
    key: str
    title: str
    kind: str                      # "api" (in-process) or "cli" (a whole process per run)
    sample: Optional[Callable[[], dict[str, Any]]] = None
    missing: Optional[str] = None  # why it cannot run
    samples: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def median(self, key: str) -> Optional[float]:
        """The median over rounds of one measurement, None where none was made."""
        vals = [s[key] for s in self.samples if s.get(key) is not None]
        return statistics.median(vals) if vals else None


# ---- running things ----

def run_json(cmd: list[str], timeout: float) -> dict[str, Any]:
    """Runs a contender that prints one JSON object; raises with its stderr on failure."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **ONE_THREAD})
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])}...: exit {p.returncode}: {p.stderr.strip()[-400:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def vm_hwm_kb(pid: int) -> Optional[int]:
    """Peak resident memory of a running process (VmHWM), None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def run_wall(cmd: list[str], stdin_path: Optional[str] = None, stdin_text: Optional[str] = None,
             timeout: float = 600, memory: bool = False) -> tuple[float, Optional[int]]:
    """Wall seconds of a whole process (exec to exit), output to /dev/null; with memory,
    also its peak resident memory in KB: VmHWM, read every 10 ms by a thread while it
    runs. (Not wait4's ru_maxrss: Linux carries the forking parent's high-water mark
    across exec into it, so a child of a 200 MB Python would read 200 MB.)"""
    peak: list[int] = []
    with tempfile.TemporaryFile() as err, open(stdin_path or os.devnull, "rb") as fin:
        start = time.perf_counter()
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin_text is not None else fin,
                             stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, **ONE_THREAD})
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                kb = vm_hwm_kb(p.pid)
                if kb is not None:
                    peak.append(kb)
                done.wait(0.01)
        watcher = threading.Thread(target=watch, daemon=True) if memory else None
        if watcher:
            watcher.start()
        if stdin_text is not None:
            assert p.stdin is not None
            p.stdin.write(stdin_text.encode())
            p.stdin.close()
        try:
            p.wait(timeout)
        finally:
            wall = time.perf_counter() - start
            done.set()
            if watcher:
                watcher.join()
        if p.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd[:2])}: exit {p.returncode}: {err.read().decode()[-400:]}")
    return wall, (max(peak) if peak else None)


def probe(cmd: list[str], timeout: float = 120) -> Optional[str]:
    """None if cmd succeeds, else the last line of what it said."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    if p.returncode == 0:
        return None
    lines = (p.stderr or p.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit {p.returncode}"


# ---- preparing: texts, models, exports ----

def prepare_texts(data: str, work: str, n_lines: int) -> tuple[str, str, int]:
    """The test texts one a line, and the same repeated to n_lines lines (for the CLIs)."""
    with open(os.path.join(data, "test.tsv"), encoding="utf-8") as f:
        texts = [line.rstrip("\n").split("\t", 1)[1] for line in f if line.strip()]
    path, lines = os.path.join(work, "texts.txt"), os.path.join(work, f"lines{n_lines}.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(t + "\n" for t in texts)
    with open(lines, "w", encoding="utf-8") as f:
        f.writelines(texts[i % len(texts)] + "\n" for i in range(n_lines))
    return path, lines, len(texts)


def prepare(step: str, out: str, cmd: list[str], reuse: bool, log: Callable[[str], None]) -> Optional[str]:
    """Makes out with cmd unless it exists and reuse is on; returns why it failed, if it did."""
    if reuse and os.path.exists(out):
        log(f"{step}: reusing {out}")
        return None
    log(f"{step} ...")
    t = time.perf_counter()
    why = probe(cmd, timeout=1800)
    if why is None:
        log(f"{step}: {time.perf_counter() - t:.1f} s -> {out}")
    return why


# ---- agreement with intent ----

def read_dump(path: str) -> list[list[float]]:
    """Confidences, one line a text."""
    with open(path) as f:
        return [[float(x) for x in line.split()] for line in f]


def agreement(intent_bin: str, model: str, texts: str, dumps: dict[str, str],
              c_dump: str) -> dict[str, Any]:
    """Each reimplementation's confidences against `intent predict --json` (printed with 4
    decimals) and against the C API's full-precision ones; and its labels against
    intent's."""
    mf = pymodel.read_model(model)
    dec = pymodel.Decoder.from_model(mf)
    n_lab = len(dec.labels)
    index = {name: i for i, name in enumerate(dec.labels)}
    with open(texts, "rb") as fin:
        out = subprocess.run([intent_bin, "predict", "--model", model, "--json", "--top", str(n_lab)],
                             stdin=fin, capture_output=True, text=True, check=True).stdout.splitlines()
    cli_conf, cli_labels = [], []
    for line in out:
        obj = json.loads(line)
        row = [0.0] * n_lab
        for e in obj["top"]:
            row[index[e["label"]]] = e["confidence"]
        cli_conf.append(row)
        cli_labels.append(obj["labels"])
    c_conf = read_dump(c_dump)
    result: dict[str, Any] = {"texts": len(cli_conf), "labels": n_lab, "tolerance": 1e-4}
    for key, path in dumps.items():
        conf = read_dump(path)
        if len(conf) != len(cli_conf):
            result[key] = {"error": f"{len(conf)} rows for {len(cli_conf)} texts"}
            continue
        vs_cli = max(abs(x - y) for r, s in zip(conf, cli_conf) for x, y in zip(r, s))
        vs_c = max(abs(x - y) for r, s in zip(conf, c_conf) for x, y in zip(r, s))
        same = sum(dec.decode(r) == lab for r, lab in zip(conf, cli_labels))
        result[key] = {"max_abs_vs_cli": vs_cli, "max_abs_vs_c_api": vs_c, "same_labels": same,
                       "ok": vs_cli <= 1e-4 and same == len(cli_conf)}
    return result


# ---- the table ----

def fmt_num(x: Optional[float], digits: int = 3) -> str:
    """A number to `digits` significant digits, thousands separated; "—" for none."""
    if x is None:
        return "—"
    if x >= 10 ** digits:
        return f"{x:,.0f}"
    return f"{x:.{max(0, digits - 1 - int(f'{x:e}'.split('e')[1]))}f}"


def fmt_bytes(b: Optional[float]) -> str:
    """Bytes as MB (decimal, as `intent` prints sizes)."""
    return "—" if b is None else f"{b / 1e6:.3g} MB" if b < 1e9 else f"{b / 1e9:.3g} GB"


def fmt_ratio(x: Optional[float]) -> str:
    """How many times intent is faster; 1× for intent's own rows."""
    if x is None:
        return "—"
    return f"{x:.2f}×" if x < 10 else f"{x:.0f}×"


def round_ratios(rows: dict[str, Row], key: str, ref: str, metric: str, invert: bool) -> Optional[float]:
    """Median over rounds of (row's metric / ref's metric) in the same round (inverted for
    throughput, so that > 1 always means intent is faster)."""
    a, b = rows[key], rows[ref]
    vals = []
    for s, t in zip(a.samples, b.samples):
        x, y = s.get(metric), t.get(metric)
        if x and y:
            vals.append(y / x if invert else x / y)
    return statistics.median(vals) if vals else None


def main() -> int:
    """Prepares, checks agreement, measures in rounds, prints the table, writes JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="data set folder (train.tsv, dev.tsv, test.tsv)")
    ap.add_argument("--work", default="build/bench", help="where models and results go")
    ap.add_argument("--intent", default="build/intent")
    ap.add_argument("--driver", default="build/bench/driver")
    ap.add_argument("--model", required=True, help="the intent model (trained by compare.sh)")
    ap.add_argument("--none-label", default="oos")
    ap.add_argument("--ort-module", default="build/npm/node_modules/onnxruntime-node")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.0, help="per latency or throughput measurement")
    ap.add_argument("--batch", type=int, default=256, help="texts per call on batch paths")
    ap.add_argument("--lines", type=int, default=100000, help="lines given to the CLIs")
    ap.add_argument("--cpu", type=int, default=-1, help="the CPU to pin to (default: the last allowed)")
    ap.add_argument("--reuse", action="store_true", help="keep peer models already in --work")
    ap.add_argument("--install-note", default="", help="what compare.sh could not install, and why")
    a = ap.parse_args()

    work = a.work
    os.makedirs(work, exist_ok=True)
    log = lambda msg: print(f"compare: {msg}", file=sys.stderr, flush=True)  # noqa: E731
    note = f" ({a.install_note})" if a.install_note else ""
    texts, lines, n_texts = prepare_texts(a.data, work, a.lines)
    S, B, timeout = a.seconds, a.batch, 120 + 20 * a.seconds

    rows: dict[str, Row] = {}

    def add(key: str, title: str, kind: str, missing: Optional[str] = None,
            sample: Optional[Callable[[], dict[str, Any]]] = None) -> None:
        rows[key] = Row(key, title, kind, sample, missing)

    # intent: the C API through bench/driver.c, the CLI over the 100k lines
    add("intent-api", "intent, C API", "api",
        sample=lambda: run_json([a.driver, a.model, texts, str(S), str(B)], timeout))

    def intent_cli() -> dict[str, Any]:
        wall, peak = run_wall([a.intent, "predict", "--model", a.model], stdin_path=lines, memory=True)
        cold = statistics.median(run_wall([a.intent, "predict", "--model", a.model, ONE_TEXT])[0]
                                 for _ in range(COLD_RUNS))
        return {"wall_s": wall, "per_second": a.lines / wall, "rss_kb": peak, "cold_ms": cold * 1e3,
                "model_bytes": os.path.getsize(a.model)}
    add("intent-cli", f"intent, CLI (`intent predict`, {a.lines // 1000}k lines)", "cli", sample=intent_cli)

    # fastText: CLI and Python binding, one model trained as bench/peers.py trains it
    ft_bin = os.path.join(work, "clinc150.ft.bin")
    ft_missing = None
    if not shutil.which("fasttext"):
        ft_missing = f"the `fasttext` command is not installed (Debian: apt-get install fasttext){note}"
    else:
        why = prepare("fastText training", ft_bin, [PY, f"{BENCH}/contenders.py", "train-fasttext", a.data, ft_bin],
                      a.reuse, log)
        ft_missing = f"training failed: {why}" if why else None

    def fasttext_cli() -> dict[str, Any]:
        wall, peak = run_wall(["fasttext", "predict", ft_bin, lines, "1"], memory=True)
        cold = statistics.median(run_wall(["fasttext", "predict", ft_bin, "-", "1"], stdin_text=ONE_TEXT + "\n")[0]
                                 for _ in range(COLD_RUNS))
        return {"wall_s": wall, "per_second": a.lines / wall, "rss_kb": peak, "cold_ms": cold * 1e3,
                "model_bytes": os.path.getsize(ft_bin)}
    add("fasttext-cli", f"fastText, CLI (`fasttext predict`, {a.lines // 1000}k lines)", "cli",
        ft_missing, fasttext_cli)

    def py_row(key: str, title: str, module: str, deb: str, model: Callable[[], Optional[str]],
               path: str) -> None:
        why = probe([PY, "-c", f"import {module}"])
        if why:
            add(key, title, "api", f"`import {module}` failed: {why} (Debian: apt-get install {deb}){note}")
            return
        failed = model()
        add(key, title, "api", failed,
            lambda: run_json([PY, f"{BENCH}/contenders.py", "run", key, path, texts, str(S), str(B)], timeout))

    py_row("fasttext-py", "fastText, Python binding", "fasttext", "python3-fasttext",
           lambda: ft_missing and f"no model to load: {ft_missing}", ft_bin)
    sk_pkl = os.path.join(work, "clinc150.sklearn.pkl")
    py_row("sklearn", "scikit-learn pipeline", "sklearn", "python3-sklearn",
           lambda: (lambda w: f"training failed: {w}" if w else None)(
               prepare("scikit-learn training", sk_pkl,
                       [PY, f"{BENCH}/contenders.py", "train-sklearn", a.data, sk_pkl], a.reuse, log)),
           sk_pkl)
    add("pure", "intent's model in pure Python", "api",
        sample=lambda: run_json([PY, f"{BENCH}/contenders.py", "run", "pure", a.model, texts, str(S), str(B)],
                                timeout))
    py_row("numpy", "intent's model in NumPy", "numpy", "python3-numpy", lambda: None, a.model)
    torch_pt = os.path.join(work, "clinc150.pt")
    py_row("torch", "intent's model in PyTorch eager", "torch", "python3-torch",
           lambda: (lambda w: f"export failed: {w}" if w else None)(
               prepare("PyTorch export", torch_pt, [PY, f"{BENCH}/contenders.py", "export-torch", a.model, torch_pt],
                       False, log)), torch_pt)

    # ONNX Runtime under Node, on a graph exported here
    onnx_path, sidecar = os.path.join(work, "clinc150.onnx"), os.path.join(work, "clinc150.onnx.json")
    ort_module = os.path.abspath(a.ort_module)
    ort_missing = None
    if not shutil.which("node"):
        ort_missing = f"`node` is not installed (Debian: apt-get install nodejs npm){note}"
    elif not os.path.isdir(ort_module):
        ort_missing = f"npm onnxruntime-node is not in {a.ort_module}{note}"
    elif why := probe(["node", "-e", f"require({json.dumps(ort_module)})"]):
        ort_missing = f"onnxruntime-node does not load (its native binaries may be absent): {why}"
    elif why := probe([PY, "-c", "import onnx, numpy"]):
        ort_missing = f"python3-onnx and python3-numpy are needed to export the graph: {why}{note}"
    elif why := prepare("ONNX export", onnx_path, [PY, f"{BENCH}/onnx_export.py", a.model, onnx_path, sidecar],
                        False, log):
        ort_missing = f"ONNX export failed: {why}"
    add("ort", "intent's model in ONNX Runtime (Node)", "api", ort_missing,
        lambda: run_json(["node", f"{BENCH}/ort.js", ort_module, onnx_path, sidecar, texts, str(S), str(B)], timeout))

    # agreement: the reimplementations against intent, on every test text
    log("agreement with intent ...")
    dumps: dict[str, str] = {}
    c_dump = os.path.join(work, "agree.c_api.txt")
    subprocess.run([a.driver, a.model, texts, "1", "1", "--dump", c_dump], check=True)
    for key, cmd in (("pure", [PY, f"{BENCH}/contenders.py", "run", "pure", a.model, texts, "1", "1"]),
                     ("numpy", [PY, f"{BENCH}/contenders.py", "run", "numpy", a.model, texts, "1", "1"]),
                     ("torch", [PY, f"{BENCH}/contenders.py", "run", "torch", torch_pt, texts, "1", "1"]),
                     ("ort", ["node", f"{BENCH}/ort.js", ort_module, onnx_path, sidecar, texts, "1", "1"])):
        if rows[key].missing:
            continue
        path = os.path.join(work, f"agree.{key}.txt")
        why = probe(cmd + ["--dump", path], timeout=1800)
        if why:
            rows[key].errors.append(f"dump failed: {why}")
        else:
            dumps[key] = path
    agree = agreement(a.intent, a.model, texts, dumps, c_dump)

    # measuring: pinned to one CPU, rounds of every contender in a fresh process
    allowed = sorted(os.sched_getaffinity(0))
    cpu = a.cpu if a.cpu >= 0 else allowed[-1]
    os.sched_setaffinity(0, {cpu})
    load_before = os.getloadavg()
    live = [r for r in rows.values() if not r.missing]
    for rnd in range(a.rounds):
        order = live[rnd % len(live):] + live[:rnd % len(live)]
        log(f"round {rnd + 1}/{a.rounds} on CPU {cpu}: " + ", ".join(r.key for r in order))
        for r in order:
            assert r.sample is not None
            try:
                r.samples.append(r.sample())
            except (RuntimeError, subprocess.TimeoutExpired, ValueError, OSError) as e:
                r.errors.append(str(e))
                r.samples.append({})
    reference = None
    try:
        reference = run_json([a.intent, "bench", "--model", a.model, "--plain", texts, "--threads", "1",
                              "--seconds", str(S), "--json"], timeout)
    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
        log(f"intent bench failed: {e}")
    load_after = os.getloadavg()

    # the table
    cpu_name = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                    platform.processor() or "?")
    kernel = next((s.get("kernel") for s in rows["intent-api"].samples if s.get("kernel")), "?")
    out: list[str] = []
    out.append(f"## intent and its peers, {os.path.basename(os.path.normpath(a.data))} test texts "
               f"({n_texts}), one CPU")
    out.append("")
    out.append("| contender | p50 µs | p99 µs | answers/s | model | memory | cold start | p50 ÷ intent's | "
               "intent's answers/s ÷ this |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    result_rows = []
    for r in rows.values():
        ref = "intent-cli" if r.kind == "cli" else "intent-api"
        med = {k: r.median(k) for k in ("p50_us", "p99_us", "per_second", "model_bytes", "rss_kb", "cold_ms",
                                        "featurize_p50_us", "wall_s")}
        p50_ratio = round_ratios(rows, r.key, "intent-api", "p50_us", False) if r.kind == "api" else None
        tput_ratio = round_ratios(rows, r.key, ref, "per_second", True)
        result_rows.append({"key": r.key, "title": r.title, "kind": r.kind, "missing": r.missing,
                            "median": med, "p50_vs_intent": p50_ratio, "intent_per_second_vs_this": tput_ratio,
                            "errors": r.errors, "samples": r.samples})
        if r.missing:
            continue
        if not any(r.samples):
            out.append(f"| {r.title} | failed: see below | | | | | | | |")
            continue
        mem = med["rss_kb"] * 1024 if med["rss_kb"] else None
        out.append(f"| {r.title} | {fmt_num(med['p50_us'])} | {fmt_num(med['p99_us'])} | "
                   f"{fmt_num(med['per_second'])} | {fmt_bytes(med['model_bytes'])} | "
                   f"{fmt_bytes(mem)}{' peak' if r.kind == 'cli' else ''} | {fmt_num(med['cold_ms'])} ms | "
                   f"{fmt_ratio(p50_ratio)} | {fmt_ratio(tput_ratio)} |")
    out.append("")
    cli_ratio = round_ratios(rows, "fasttext-cli", "intent-cli", "per_second", True) \
        if not rows["fasttext-cli"].missing else None
    if cli_ratio is not None:
        walls = (rows["intent-cli"].median("wall_s"), rows["fasttext-cli"].median("wall_s"))
        out.append(f"**`intent predict` vs `fasttext predict` on the same {a.lines:,} lines:** "
                   f"{walls[0]:.2f} s against {walls[1]:.2f} s wall (medians), intent "
                   f"{cli_ratio:.1f}× faster (median of per-round ratios; target ≥ 5×: "
                   f"{'met' if cli_ratio >= 5 else 'NOT met'}).")
        spread_r = [y["per_second"] / x["per_second"] for x, y in
                    zip(rows["fasttext-cli"].samples, rows["intent-cli"].samples)
                    if x.get("per_second") and y.get("per_second")]
        no_load = [(x["wall_s"] - x["cold_ms"] / 1e3) / (y["wall_s"] - y["cold_ms"] / 1e3) for x, y in
                   zip(rows["fasttext-cli"].samples, rows["intent-cli"].samples)
                   if x.get("wall_s") and y.get("wall_s")]
        if spread_r and no_load:
            out.append(f"Per round: {min(spread_r):.1f}–{max(spread_r):.1f}×. Without each program's start-up "
                       "(its one-text run, which for fastText is mostly loading its model, subtracted from its "
                       f"wall time): {statistics.median(no_load):.1f}×.")
        out.append("")
    elif rows["fasttext-cli"].missing:
        out.append(f"**`intent predict` vs `fasttext predict` on the same {a.lines:,} lines:** not run: fastText's CLI "
                   "is missing (below).")
        out.append("")
    out.append("Agreement of the reimplementations with intent on all "
               f"{agree['texts']} texts × {agree['labels']} confidences "
               "(vs `intent predict --json`, which prints 4 decimals; vs the C API at full precision; labels):")
    for key in ("pure", "numpy", "torch", "ort"):
        g = agree.get(key)
        if not g or "error" in g:
            continue
        out.append(f"- {rows[key].title}: max |Δ| {g['max_abs_vs_cli']:.1e} vs the CLI, "
                   f"{g['max_abs_vs_c_api']:.1e} vs the C API; same labels {g['same_labels']}/{agree['texts']}: "
                   f"{'OK' if g['ok'] else 'DISAGREES'} (tolerance 1e-4)")
    feats = {k: rows[k].median("featurize_p50_us") for k in ("pure", "ort") if not rows[k].missing}
    if feats.get("pure"):
        out.append("")
        out.append(f"Of those answers, featurizing alone takes p50 {fmt_num(feats['pure'])} µs in Python "
                   "(the same code for pure Python, NumPy and PyTorch)"
                   + (f" and {fmt_num(feats['ort'])} µs in JavaScript (ONNX Runtime's row)" if feats.get("ort") else "")
                   + f"; intent's whole answer takes {fmt_num(rows['intent-api'].median('p50_us'))} µs.")
    missing = [r for r in rows.values() if r.missing]
    out.append("")
    out.append("Missing: " + ("none." if not missing else ""))
    for r in missing:
        out.append(f"- {r.title}: {r.missing}")
    failed = [r for r in rows.values() if r.errors]
    for r in failed:
        out.append(f"- {r.title} had errors: {'; '.join(sorted(set(r.errors)))[:600]}")
    out.append("")
    out.append("How it was measured:")
    out.append(f"- Medians of {a.rounds} round{'s' if a.rounds != 1 else ''}; each round runs every contender once in a fresh process, in a "
               f"rotated order, all pinned to CPU {cpu} of {len(allowed)} ({cpu_name}; intent's kernel: {kernel}). "
               "Ratios are taken within each round, then their median; > 1 means intent is faster "
               "(CLI rows against intent's CLI, the others against intent's C API).")
    out.append(f"- p50/p99: single queries, text in -> labels out, cycling through the texts for {S:g} s.")
    out.append(f"- answers/s: batches of {B} where the contender has a batch path (intent_predict_batch + "
               "intent_decode; fastText's and scikit-learn's predict on a list; NumPy, PyTorch and ONNX Runtime "
               f"one forward per batch; pure Python has none); for the CLIs, {a.lines:,} lines through one "
               "process, wall time, model load included.")
    out.append("- memory: resident (VmRSS) after loading and warming up, interpreter and libraries included; "
               f"for the CLIs, peak resident (VmHWM) over the {a.lines:,} lines.")
    out.append("- cold start: imports + load + first answer in a fresh process (the interpreter's own start-up "
               "not counted); for the CLIs, exec to exit for one text (median of "
               f"{COLD_RUNS} a round).")
    out.append("")
    out.append(f"**Absolute numbers mean something only on a quiet machine; on a shared or noisy one "
               f"(load average {load_before[0]:.2f} before, {load_after[0]:.2f} after this run) read the ratios.**")
    spread = [s.get("p50_us") for s in rows["intent-api"].samples if s.get("p50_us")]
    if spread:
        out.append(f"Spread over rounds: intent's p50 {min(spread):.2f}–{max(spread):.2f} µs.")
    if reference:
        lat = reference["latency_us"]
        out.append(f"Cross-check, `intent bench --threads 1` on the same texts: p50 {lat['p50']:.2f} µs, "
                   f"p99 {lat['p99']:.2f} µs, {reference['throughput'][0]['per_second']:,.0f} answers/s "
                   f"(batches of 64), cold start {reference['cold_start_ms']:.2f} ms (median of 15 in one process).")
    text = "\n".join(out)
    print(text)
    with open(os.path.join(work, "compare.md"), "w") as f:
        f.write(text + "\n")
    report = {
        "data": os.path.abspath(a.data), "texts": n_texts, "lines": a.lines,
        "machine": {"cpu": cpu_name, "cpus_allowed": len(allowed), "pinned_cpu": cpu, "kernel": kernel,
                    "load_before": load_before, "load_after": load_after, "python": platform.python_version(),
                    "platform": platform.platform()},
        "settings": {"rounds": a.rounds, "seconds": S, "batch": B},
        "rows": result_rows, "cli_ratio_fasttext_over_intent": cli_ratio, "agreement": agree,
        "intent_bench_reference": reference,
        "note": "absolute numbers only mean something on a quiet machine; elsewhere read the ratios",
    }
    with open(os.path.join(work, "compare.json"), "w") as f:
        json.dump(report, f, indent=1)
    log(f"wrote {work}/compare.md and {work}/compare.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
