"""Models: load, save, predict (sync, batch, async), quantize, evaluate, stats.

DESIGN
  Threads. A model (intent_model) is immutable and shared by every thread; the scratch
  memory of a prediction (intent_ctx) is per thread: each thread that predicts gets its
  own, kept in a threading.local of the model, made on its first prediction and freed when
  the thread ends or the model is closed, whichever comes first (_Ctx.free runs once).
  ctypes releases the GIL during intent_predict, so threads predict in parallel in C.

  Closing. close() waits for the calls in flight on other threads (a counter under a lock,
  _Guard), then frees the contexts and the model; calls after it raise ValueError. So a
  model closed while an executor thread still predicts is never freed under it.

  Async. predict_async hands the call to an executor (one shared ThreadPoolExecutor with a
  thread per core, see set_executor) and awaits it: the event loop never runs the C call,
  so it never blocks on one. The executor is the one place to change when the library's
  own thread pool (intent_pool_submit with a callback, on another branch) lands: the
  callback would resolve the asyncio future with loop.call_soon_threadsafe instead.

  Stats. Each model counts its answers and their latency in Python (_stats.py); they will
  come from the library's stats once it has them, with the same keys.
"""
from __future__ import annotations

import asyncio
import ctypes
import os
import threading
import time
import weakref
from concurrent.futures import Executor, ThreadPoolExecutor
from ctypes import byref, c_size_t, c_void_p
from dataclasses import dataclass
from typing import (Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple,
                    Union)

from . import _lib, _stats
from ._lib import lib
from .dataset import Dataset, PathLike, as_dataset, encode
from .errors import check

# ---- results ------------------------------------------------------------------------


class Score(NamedTuple):
    """A label and its confidence (0..1, independent per label)."""
    label: str
    confidence: float


@dataclass(frozen=True)
class Prediction:
    """The answer for one text.

    labels: the labels that apply (confidence at or over the threshold), best first;
            empty when the text is out of scope.
    top:    the most confident labels, best first: all of labels, and at least as many as
            predict's top argument asked (1 by default), so it names the closest label
            even for an out-of-scope text.
    """
    text: str
    labels: Tuple[Score, ...]
    top: Tuple[Score, ...]

    @property
    def out_of_scope(self) -> bool:
        """True when no label applies."""
        return not self.labels

    @property
    def names(self) -> Tuple[str, ...]:
        """The names of the labels that apply, best first."""
        return tuple(s.label for s in self.labels)

    def __contains__(self, label: object) -> bool:
        return any(s.label == label for s in self.labels)

    def to_dict(self) -> Dict[str, Any]:
        """As `intent predict --json` writes it, plus out_of_scope."""
        return {"labels": list(self.names),
                "top": [{"label": s.label, "confidence": s.confidence} for s in self.top],
                "out_of_scope": self.out_of_scope}

    def __repr__(self) -> str:
        shown = ", ".join(f"{s.label} {s.confidence:.3f}" for s in self.labels) or \
            "out of scope" + (f"; closest {self.top[0].label} {self.top[0].confidence:.3f}"
                              if self.top else "")
        return f"<Prediction {self.text!r}: {shown}>"


# ---- the executor for predict_async --------------------------------------------------

_executor: Optional[Executor] = None
_executor_lock = threading.Lock()


def set_executor(executor: Optional[Executor]) -> None:
    """Sets the executor predict_async runs predictions on (None: the default one, a
    ThreadPoolExecutor with one thread per core, made on first use)."""
    global _executor
    with _executor_lock:
        _executor = executor


def _get_executor() -> Executor:
    global _executor
    ex = _executor
    if ex is None:
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(max_workers=os.cpu_count() or 2,
                                               thread_name_prefix="intent-predict")
            ex = _executor
    return ex


# ---- per-thread scratch, and the close guard ------------------------------------------


class _Ctx:
    """One thread's intent_ctx and result buffers."""
    __slots__ = ("h", "top", "n_top", "n_over", "p_top", "p_n_top", "p_n_over", "_lock",
                 "__weakref__")

    def __init__(self, model_h: int, n_labels: int) -> None:
        h = c_void_p()
        check(lib.intent_ctx_new(model_h, byref(h)))
        self.h: Optional[int] = h.value
        self.top = (_lib.Score * max(1, n_labels))()
        self.n_top, self.n_over = c_size_t(), c_size_t()
        self.p_top, self.p_n_top, self.p_n_over = self.top, byref(self.n_top), byref(self.n_over)
        self._lock = threading.Lock()

    def free(self) -> None:
        with self._lock:
            h, self.h = self.h, None
        if h is not None:
            lib.intent_ctx_free(h)

    def __del__(self) -> None:
        try:
            self.free()
        except Exception:
            pass


class _Guard:
    """Counts calls in flight so close() frees nothing under them. A raw lock (C-level
    acquire and release) per call; the Event exists only while a close waits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.busy = 0
        self.closed = False
        self._idle: Optional[threading.Event] = None

    def enter(self) -> None:
        with self._lock:
            if self.closed:
                raise ValueError("the model is closed")
            self.busy += 1

    def exit(self) -> None:
        with self._lock:
            self.busy -= 1
            idle = self._idle if not self.busy else None
        if idle is not None:
            idle.set()

    def close(self) -> bool:
        """Marks closed and waits for the calls in flight; False if closed already."""
        with self._lock:
            if self.closed:
                return False
            self.closed = True
            if not self.busy:
                return True
            idle = self._idle = threading.Event()
        idle.wait()
        return True


# Statistics of every model: models alive, and the counts of those closed.
_live_models: "weakref.WeakSet[Model]" = weakref.WeakSet()
_retired = _stats.Recorder()


def stats(model: Optional["Model"] = None) -> Dict[str, Any]:
    """Serving statistics: of model, or (None) of every model of this process since the
    package was imported. Keys as the library's intent_stats fields: answers, out_of_scope,
    errors, uptime_s, answers_per_s, mean_us, p50_us, p95_us, p99_us, max_us, latency_hist,
    per_label; "source" says who measured them ("python" for now: see _stats.py)."""
    if model is not None:
        return model.stats()
    return _stats.merged(_retired, [m._stats for m in list(_live_models)])


# ---- the model ------------------------------------------------------------------------


class Model:
    """A trained model (intent_model): load it, predict with it, from any thread.

    Make one with Model.load(path), Model.from_bytes(data) or intent.train(...). Close it
    with close() or a with block (garbage collection closes it too).
    """

    def __init__(self, handle: int) -> None:
        """Wraps an intent_model handle (owned from now on). Use load/from_bytes/train."""
        self._h: Optional[int] = handle
        self._guard = _Guard()
        self._local = threading.local()
        self._ctxs: "weakref.WeakSet[_Ctx]" = weakref.WeakSet()
        self._ctxs_lock = threading.Lock()
        n = lib.intent_model_n_labels(handle)
        self._labels: Tuple[str, ...] = tuple(_lib.text(lib.intent_model_label(handle, i)) or ""
                                               for i in range(n))
        self._ids = {name: i for i, name in enumerate(self._labels)}
        self._stats = _stats.Recorder()
        _live_models.add(self)

    # -- making and saving --

    @classmethod
    def load(cls, path: PathLike) -> "Model":
        """Loads a model file (mapped read-only where possible). A missing file raises
        FileError; a truncated, damaged, foreign or newer one FormatError, ChecksumError or
        VersionError, each with the library's message naming the file."""
        h, err = c_void_p(), _lib.new_struct(_lib.Error)
        check(lib.intent_model_load(os.fsencode(os.fspath(path)), byref(h), byref(err)), err)
        return cls(h.value)

    @classmethod
    def from_bytes(cls, data: Union[bytes, bytearray, memoryview]) -> "Model":
        """Loads a model from the bytes of a model file (copied)."""
        b = bytes(data)
        h, err = c_void_p(), _lib.new_struct(_lib.Error)
        check(lib.intent_model_load_mem(b, len(b), byref(h), byref(err)), err)
        return cls(h.value)

    def save(self, path: PathLike) -> None:
        """Writes the model file atomically (temporary file, fsync, rename)."""
        err = _lib.new_struct(_lib.Error)
        with self._use() as h:
            check(lib.intent_model_save(h, os.fsencode(os.fspath(path)), byref(err)), err)

    def to_bytes(self) -> bytes:
        """The model file's bytes (what save writes)."""
        p, n = c_void_p(), c_size_t()
        with self._use() as h:
            check(lib.intent_model_bytes(h, byref(p), byref(n)))
            return ctypes.string_at(p.value, n.value)

    def quantize(self) -> "Model":
        """An int8 copy of this model: about 4x smaller, accuracy usually within a few
        tenths of a point (check with evaluate). This model is unchanged."""
        out, err = c_void_p(), _lib.new_struct(_lib.Error)
        with self._use() as h:
            check(lib.intent_model_quantize(h, byref(out), byref(err)), err)
        return Model(out.value)

    # -- describing --

    @property
    def labels(self) -> Tuple[str, ...]:
        """The label names, by id."""
        return self._labels

    @property
    def n_labels(self) -> int:
        return len(self._labels)

    @property
    def threshold(self) -> float:
        """The stored decision threshold (tuned on the dev set in training)."""
        with self._use() as h:
            return _lib.f32(lib.intent_model_threshold(h))

    @property
    def none_label(self) -> Optional[str]:
        """The none label the model was trained with, or None."""
        with self._use() as h:
            return _lib.text(lib.intent_model_none_label(h))

    def describe(self) -> str:
        """A readable description of the model file (as `intent inspect` prints)."""
        with self._use() as h:
            need = lib.intent_model_describe(h, None, 0)
            buf = ctypes.create_string_buffer(need + 1)
            lib.intent_model_describe(h, buf, need + 1)
        return buf.value.decode("utf-8", "replace")

    def __repr__(self) -> str:
        if self._h is None:
            return "<intent.Model closed>"
        none = f", none label {self.none_label!r}" if self.none_label else ""
        return (f"<intent.Model {self.n_labels} labels, threshold {self.threshold:.3f}"
                f"{none}>")

    # -- predicting --

    def _ctx(self) -> _Ctx:
        c = getattr(self._local, "ctx", None)
        if c is None:
            c = _Ctx(self._h, len(self._labels))  # type: ignore[arg-type]
            self._local.ctx = c
            with self._ctxs_lock:
                self._ctxs.add(c)
        return c

    def _predict(self, text: Union[str, bytes], threshold: Optional[float],
                 top: Optional[int]) -> Prediction:
        """One prediction, in this thread, with the guard held by the caller."""
        b = encode(text)
        c = self._ctx()
        thr = -1.0 if threshold is None else float(threshold)
        want = 1 if top is None else int(top)
        if want < 0:
            raise ValueError("top must be 0 or more")
        n = len(self._labels)
        cap = min(n, max(want, 8))
        h = self._h
        # the labels that apply are top[0 .. min(n_over, n_top)): ask again for all of
        # them in the rare case that more than cap apply
        while True:
            rc = lib.intent_predict(h, c.h, b, len(b), thr, c.p_top, cap, c.p_n_top, c.p_n_over)
            if rc:
                check(rc, message=f"intent_predict: {_lib.status_str(rc)}")
            n_top, n_over = c.n_top.value, c.n_over.value
            if n_over <= n_top or cap >= n:
                break
            cap = n
        names, t = self._labels, c.top
        n_lab = min(n_over, n_top)
        scores = tuple(Score(names[t[i].label], t[i].confidence)
                       for i in range(min(n_top, max(want, n_lab))))
        return Prediction(text if isinstance(text, str) else b.decode("utf-8", "replace"),
                          scores[:n_lab], scores)

    def predict(self, text: Union[str, bytes], threshold: Optional[float] = None,
                top: Optional[int] = None) -> Prediction:
        """The labels that apply to text, each with its confidence.

        threshold: labels at or over it apply (None: the model's threshold).
        top: how many of the most confident labels Prediction.top lists at least (None: 1).
        Thread-safe; the C call runs without the GIL.
        """
        t0 = time.perf_counter_ns()
        self._guard.enter()
        try:
            p = self._predict(text, threshold, top)
        except Exception:
            self._stats.error()
            raise
        finally:
            self._guard.exit()
        self._stats.answer(time.perf_counter_ns() - t0, p.names)
        return p

    def predict_batch(self, texts: Iterable[Union[str, bytes]],
                      threshold: Optional[float] = None,
                      top: Optional[int] = None) -> List[Prediction]:
        """predict for each text, in order, in this thread. Answers are exactly predict's
        (compound commands are cut into clauses as predict does)."""
        out: List[Prediction] = []
        with self._use():
            for text in texts:
                t0 = time.perf_counter_ns()
                try:
                    p = self._predict(text, threshold, top)
                except Exception:
                    self._stats.error()
                    raise
                self._stats.answer(time.perf_counter_ns() - t0, p.names)
                out.append(p)
        return out

    async def predict_async(self, text: Union[str, bytes], threshold: Optional[float] = None,
                            top: Optional[int] = None) -> Prediction:
        """predict, run on an executor thread (see set_executor) so the event loop is never
        blocked; any number may be in flight at once."""
        t0 = time.perf_counter_ns()
        loop = asyncio.get_running_loop()
        try:
            p = await loop.run_in_executor(_get_executor(), self._predict_held, text,
                                           threshold, top)
        except Exception:
            self._stats.error()
            raise
        self._stats.answer(time.perf_counter_ns() - t0, p.names)
        return p

    def _predict_held(self, text: Union[str, bytes], threshold: Optional[float],
                      top: Optional[int]) -> Prediction:
        # the executor thread holds the guard itself: a cancelled await lets go of the
        # future, not of the model under a C call still running
        with self._use():
            return self._predict(text, threshold, top)

    async def predict_batch_async(self, texts: Sequence[Union[str, bytes]],
                                  threshold: Optional[float] = None,
                                  top: Optional[int] = None) -> List[Prediction]:
        """predict_batch on an executor thread (one hand-off for all the texts)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_get_executor(), self.predict_batch, list(texts),
                                          threshold, top)

    def label_id(self, name: str) -> int:
        """The id of a label; KeyError if the model has no such label."""
        return self._ids[name]

    # -- measuring --

    def evaluate(self, data: Union[Dataset, PathLike, Iterable[Tuple[str, Any]]],
                 threshold: Optional[float] = None, threads: int = 0,
                 format: str = "auto") -> Dict[str, Any]:
        """Scores the model on labelled data (a file, a Dataset or (text, labels) pairs).

        Returns a dict of intent_eval: n_examples, exact (label set right), top1, micro_f1,
        macro_f1, ece, threshold, n_unknown (gold labels the model does not know), has_none,
        and, for a model with a none label, n_in_scope, n_out_of_scope, in_scope_acc,
        oos_recall, oos_auroc (else None); per_label maps each label to its support, tp,
        fp, fn, precision, recall, f1. threads: 0 = all cores.
        """
        ds, made = as_dataset(data, format)
        ev, err = _lib.new_struct(_lib.Eval), _lib.new_struct(_lib.Error)
        try:
            with self._use() as h:
                thr = -1.0 if threshold is None else float(threshold)
                check(lib.intent_evaluate(h, ds._handle(), thr, threads, byref(ev),
                                          byref(err)), err)
            try:
                per = {}
                for i in range(ev.n_labels):
                    le = ev.per_label[i]
                    per[self._labels[i]] = {k: getattr(le, k) for k, _ in le._fields_}
                has_none = bool(ev.has_none)
                none_or = (lambda v: v if has_none else None)
                return {
                    "n_examples": ev.n_examples, "exact": ev.exact, "top1": ev.top1,
                    "micro_f1": ev.micro_f1, "macro_f1": ev.macro_f1, "ece": ev.ece,
                    "threshold": _lib.f32(ev.threshold), "n_unknown": ev.n_unknown,
                    "has_none": has_none,
                    "n_in_scope": none_or(ev.n_in_scope),
                    "n_out_of_scope": none_or(ev.n_out_of_scope),
                    "in_scope_acc": none_or(ev.in_scope_acc),
                    "oos_recall": none_or(ev.oos_recall),
                    "oos_auroc": none_or(ev.oos_auroc),
                    "per_label": per,
                }
            finally:
                lib.intent_eval_free(byref(ev))
        finally:
            if made:
                ds.close()

    def stats(self) -> Dict[str, Any]:
        """This model's serving statistics since it was made (see intent.stats)."""
        s = self._stats.snapshot()
        s["n_labels"] = len(self._labels)
        return s

    # -- life --

    class _Use:
        __slots__ = ("m",)

        def __init__(self, m: "Model") -> None:
            self.m = m

        def __enter__(self) -> int:
            self.m._guard.enter()
            return self.m._h  # type: ignore[return-value]

        def __exit__(self, *exc: object) -> None:
            self.m._guard.exit()

    def _use(self) -> "Model._Use":
        """with self._use() as handle: the model stays open for the block."""
        return Model._Use(self)

    @property
    def closed(self) -> bool:
        return self._h is None

    def close(self) -> None:
        """Waits for predictions in flight on other threads, then frees the model and the
        threads' scratch memory. Later calls raise ValueError. Closing twice is fine."""
        guard = getattr(self, "_guard", None)
        if guard is None or not guard.close():
            return
        with self._ctxs_lock:
            ctxs = list(self._ctxs)
        for c in ctxs:
            c.free()
        h, self._h = self._h, None
        if h is not None:
            lib.intent_model_free(h)
        self._stats.merge_into(_retired)
        _live_models.discard(self)

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass
