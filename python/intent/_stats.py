"""Serving statistics: the library's intent_stats as a dict, and totals over models.

Each Model is served by an intent_service of its own; Model.stats() is that service's
snapshot (intent_service_stats, or intent_pool_stats once predict_async has made the
pool), measured in C: latency is the C call for predict (intent_service_predict), and
submit to answer for predict_async (intent_pool_submit to the answer, queueing included,
the hand-off to the event loop not). Keys are the field names of struct intent_stats;
per_label maps the names of the model serving now to its answers since it began to.

intent.stats() adds up every model of the process: the counters of the live models'
snapshots, and those the closed models had when they closed (Totals). The histograms add
up bucket by bucket, and the totals' percentiles are read from the sum as the library
reads its own (the upper edge of the bucket holding the rank, capped at the largest
latency seen): bucket() and bucket_lo_ns() mirror src/stats.c, and the tests check them
against intent_stats_bucket_us.
"""
from __future__ import annotations

import math
import threading
import time
from collections import Counter
from typing import Any, Dict, Iterable, List

from . import _lib

BUCKETS = _lib.STATS_BUCKETS

# counters that add up over models
COUNTS = ("answers", "answers_fallback", "out_of_scope", "errors", "cancelled", "busy")


def bucket(ns: int) -> int:
    """The histogram bucket of a latency in nanoseconds (intenti_stats_bucket)."""
    if ns < 1024:
        return 0
    msb = ns.bit_length() - 1
    if msb >= 34:
        return BUCKETS - 1
    sub = (ns >> (msb - 3)) & 7
    return 1 + (msb - 10) * 8 + sub


def bucket_lo_ns(b: int) -> float:
    """The lower edge of bucket b in nanoseconds; b == BUCKETS is infinity."""
    if b == 0:
        return 0.0
    if b >= BUCKETS:
        return math.inf
    if b == BUCKETS - 1:
        return float(1 << 34)
    msb, sub = 10 + (b - 1) // 8, (b - 1) % 8
    return float((8 + sub) << (msb - 3))


def bucket_us(i: int) -> float:
    """The lower edge of bucket i in microseconds (as intent_stats_bucket_us)."""
    return bucket_lo_ns(i) / 1e3


def quantile_us(hist: List[int], q: float, max_us: float) -> float:
    """The q-quantile of a histogram as the library computes it."""
    n = sum(hist)
    if n == 0:
        return 0.0
    rank = max(1, math.ceil(q * n))
    seen = 0
    for b, count in enumerate(hist):
        seen += count
        if seen >= rank:
            return min(bucket_lo_ns(b + 1) / 1e3, max_us)
    return max_us


def snapshot(st: _lib.Stats) -> Dict[str, Any]:
    """An intent_stats as a dict: every field by its name (latency_hist a list, last_error
    a str, per_label {label: answers}), plus "source": "library"."""
    out: Dict[str, Any] = {"source": "library"}
    for name, _ in _lib.Stats._fields_:
        if name == "latency_hist":
            out[name] = list(st.latency_hist)
        elif name == "last_error":
            out[name] = st.last_error.decode("utf-8", "replace")
        elif name == "per_label":
            out[name] = {(_lib.text(st.per_label[i].label) or ""): st.per_label[i].answers
                         for i in range(st.n_labels)}
        else:
            out[name] = getattr(st, name)
    return out


class Totals:
    """The counts of closed models (thread-safe): added once, when a model closes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter = Counter()
        self.hist = [0] * BUCKETS
        self.sum_us = 0.0
        self.max_us = 0.0
        self.per_label: Counter = Counter()
        self.models = 0

    def add(self, s: Dict[str, Any]) -> None:
        with self._lock:
            for k in COUNTS:
                self.counts[k] += s[k]
            for i, c in enumerate(s["latency_hist"]):
                self.hist[i] += c
            self.sum_us += s["mean_us"] * sum(s["latency_hist"])
            self.max_us = max(self.max_us, s["max_us"])
            self.per_label.update(s["per_label"])
            self.models += 1


def merged(t0: float, retired: Totals, live: Iterable[Dict[str, Any]]) -> Dict[str, Any]:
    """The totals of the closed models plus the snapshots of the live ones, over the time
    since t0 (time.monotonic() when the package was imported)."""
    with retired._lock:
        counts = Counter(retired.counts)
        hist = list(retired.hist)
        sum_us, max_us = retired.sum_us, retired.max_us
        per_label = Counter(retired.per_label)
        models = retired.models
    for s in live:
        for k in COUNTS:
            counts[k] += s[k]
        for i, c in enumerate(s["latency_hist"]):
            hist[i] += c
        sum_us += s["mean_us"] * sum(s["latency_hist"])
        max_us = max(max_us, s["max_us"])
        per_label.update(s["per_label"])
        models += 1
    uptime = time.monotonic() - t0
    n = sum(hist)
    out: Dict[str, Any] = {"source": "library", "models": models}
    out.update({k: counts[k] for k in COUNTS})
    out.update({
        "uptime_s": uptime,
        "answers_per_s": counts["answers"] / uptime if uptime > 0 else 0.0,
        "mean_us": sum_us / n if n else 0.0,
        "p50_us": quantile_us(hist, 0.50, max_us),
        "p95_us": quantile_us(hist, 0.95, max_us),
        "p99_us": quantile_us(hist, 0.99, max_us),
        "max_us": max_us,
        "latency_hist": hist,
        "per_label": dict(per_label),
    })
    return out
