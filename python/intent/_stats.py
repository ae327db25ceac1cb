"""Serving statistics measured in Python, shaped like the library's coming intent_stats.

The library on main has no statistics API yet (intent_service_stats / intent_pool_stats
are being added on another branch). Until it does, each Model records here what Python can
see of its own calls: answers, out-of-scope answers, errors, answers per label, and the
latency of each call as Python measured it, around the foreign call: for predict and each
text of predict_batch, the call (text encoding, the C prediction, building the result);
for predict_async, from the call to the answer (waiting for an executor thread included),
as the C pool will measure "submit to answer".

The histogram is the C one, bucket for bucket (194 log-spaced buckets: under 1.024 us,
then 8 per doubling up to 2^34 ns, then the rest), and percentiles are read from it the
same way (the upper edge of the bucket holding the rank, capped at the largest latency
seen), so numbers keep their meaning when the C stats take over. Keys of snapshot() are
the names of the C struct's fields; fields Python cannot know (pool queue, model memory)
are absent rather than made up. "source" says "python" now and will say "library" then.

Recording takes one lock per answer (about a microsecond against the 10-50 us of a Python
predict call); a snapshot copies the counters under that lock, so it is consistent.
"""
from __future__ import annotations

import math
import threading
import time
from collections import Counter
from typing import Any, Dict, Iterable, List

BUCKETS = 194


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


def _quantile_us(hist: List[int], n: int, q: float, max_ns: int) -> float:
    if n == 0:
        return 0.0
    rank = max(1, math.ceil(q * n))
    seen = 0
    for b, count in enumerate(hist):
        seen += count
        if seen >= rank:
            return min(bucket_lo_ns(b + 1), max_ns) / 1e3
    return max_ns / 1e3


class Recorder:
    """Counters of one model's answers (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        self.answers = self.out_of_scope = self.errors = 0
        self.sum_ns = self.max_ns = 0
        self.hist = [0] * BUCKETS
        self.per_label: Counter = Counter()

    def answer(self, ns: int, labels: Iterable[str]) -> None:
        """One answer that took ns nanoseconds and gave labels (none: out of scope)."""
        b = bucket(ns)
        with self._lock:
            self.answers += 1
            self.sum_ns += ns
            if ns > self.max_ns:
                self.max_ns = ns
            self.hist[b] += 1
            n = 0
            for label in labels:
                self.per_label[label] += 1
                n += 1
            if not n:
                self.out_of_scope += 1

    def error(self) -> None:
        with self._lock:
            self.errors += 1

    def merge_into(self, other: "Recorder") -> None:
        """Adds these counts to other's (a model closing hands its counts to the totals)."""
        with self._lock:
            snap = (self.answers, self.out_of_scope, self.errors, self.sum_ns, self.max_ns,
                    list(self.hist), Counter(self.per_label))
        with other._lock:
            other.answers += snap[0]
            other.out_of_scope += snap[1]
            other.errors += snap[2]
            other.sum_ns += snap[3]
            other.max_ns = max(other.max_ns, snap[4])
            for i, c in enumerate(snap[5]):
                other.hist[i] += c
            other.per_label.update(snap[6])

    def snapshot(self) -> Dict[str, Any]:
        """The counters as a dict with the field names of the C struct intent_stats."""
        with self._lock:
            hist = list(self.hist)
            answers, oos, errors = self.answers, self.out_of_scope, self.errors
            sum_ns, max_ns = self.sum_ns, self.max_ns
            per_label = dict(self.per_label)
        uptime = time.monotonic() - self._t0
        n = sum(hist)
        return {
            "source": "python",
            "answers": answers,
            "out_of_scope": oos,
            "errors": errors,
            "uptime_s": uptime,
            "answers_per_s": answers / uptime if uptime > 0 else 0.0,
            "mean_us": sum_ns / n / 1e3 if n else 0.0,
            "p50_us": _quantile_us(hist, n, 0.50, max_ns),
            "p95_us": _quantile_us(hist, n, 0.95, max_ns),
            "p99_us": _quantile_us(hist, n, 0.99, max_ns),
            "max_us": max_ns / 1e3,
            "latency_hist": hist,
            "per_label": per_label,
        }


def merged(base: Recorder, others: Iterable[Recorder]) -> Dict[str, Any]:
    """A snapshot of base's counts plus others', over base's uptime."""
    total = Recorder()
    total._t0 = base._t0
    base.merge_into(total)
    for r in others:
        r.merge_into(total)
    return total.snapshot()
