"""Models: load, save, predict (sync, batch, async), serve (swap, reload, retrain in the
background), quantize, evaluate, stats.

DESIGN
  Serving. A Model is served by an intent_service of its own, made with it: the service
  owns the C model, and every call reads "the model served now" through a lease
  (intent_service_acquire ... release: one short mutex section and an atomic add), so
  swap, reload and a finished retrain_async replace the model atomically while calls are
  in flight, each of which sees one whole model; the model replaced is freed by the last
  call that still reads it. Label names are those of the model that answered (a retrain
  may add labels), cached per model version. The service is made eagerly, not on first
  use: it costs about 30 KB and no thread, and a lazily made one would leave a call begun
  before it reading the bare model that a swap could then free. The pool, which starts
  threads, is made on first use.

  Threads. The scratch memory of a prediction (intent_ctx) is per thread: each thread
  that predicts gets its own, kept in a threading.local of the model, made on its first
  prediction and freed when the thread ends or the model is closed, whichever comes first
  (_Ctx.free runs once). A context serves any model (it grows once for a larger one).
  ctypes releases the GIL during each C call, so threads predict in parallel in C.

  Async. predict_async submits the text to the model's intent_pool (see serve(); made on
  the first predict_async) and returns an awaitable at once. One C callback serves every
  request of every model (_RESULT_CB, alive for the life of the process, so a request in
  flight never outlives it); the request's number is the user pointer, mapping to its
  (loop, future, text) in _PENDING. The callback runs on a pool thread: it reads the
  answer (label names live for the call only) and hands it to the request's event loop
  with loop.call_soon_threadsafe; the loop never runs a prediction nor waits for one.
  A full queue (INTENT_ERR_BUSY) is retried after asyncio.sleep, from 0.5 ms doubling to
  20 ms, the loop running meanwhile, until busy_timeout seconds have passed; then
  BusyError is raised (busy_timeout=0: at once). The pool answers with the model's
  threshold and the labels that apply (at most INTENT_RESULT_MAX, 16); a call with a
  threshold of its own or top other than 1 runs intent_service_predict on an executor
  thread instead (set_executor), as predict_batch_async does.

  Retraining. retrain_async starts intent_service_retrain (a C thread reads the feedback
  log, retrains from the model served then, swaps the result in) and awaits its done
  callback, which reaches the loop as the pool's answers do (_RETRAIN_CB, _PENDING).

  Closing. close() refuses new calls and waits for those in flight (_Guard), frees the
  pool with INTENT_POOL_DRAIN (every queued request is answered first), keeps the final
  stats, and frees the service, which stops a running retrain at its next epoch (its
  awaitable raises Cancelled). Models still open when the interpreter exits are closed by
  an atexit hook, so no C thread calls into a finalized interpreter.

  Stats. From the library: intent_pool_stats once the pool exists, else
  intent_service_stats (see _stats.py).
"""
from __future__ import annotations

import asyncio
import atexit
import ctypes
import itertools
import os
import threading
import time
import weakref
from concurrent.futures import Executor, ThreadPoolExecutor
from ctypes import byref, c_size_t, c_uint64, c_void_p
from dataclasses import dataclass, field
from typing import (Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple,
                    Union)

from . import _lib, _stats
from ._lib import lib
from .dataset import Dataset, PathLike, as_dataset, encode
from .errors import BusyError, IntentError, check, error_for

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
    model_version: the version of the model that answered (1 for the model a Model was
            made with, then one more for each swap, reload or retrain swapped in); not
            compared by ==.
    """
    text: str
    labels: Tuple[Score, ...]
    top: Tuple[Score, ...]
    model_version: int = field(default=0, compare=False, repr=False)

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


@dataclass(frozen=True)
class Retrained:
    """A background retrain that ended with its model serving (Model.retrain_async).

    version: the new model's version (already answering); message: the library's words;
    report: n_feedback, n_data, n_heldout, n_new_labels, base_score, new_score (exact-set
    accuracy of the old and the new model on the held-out examples), feedback_score,
    accepted (intent_retrain_report).
    """
    version: int
    message: str
    report: Dict[str, Any]


# ---- the executor (predict_async with a threshold or top, predict_batch_async) -------

_executor: Optional[Executor] = None
_executor_lock = threading.Lock()


def set_executor(executor: Optional[Executor]) -> None:
    """Sets the executor that runs what the pool does not answer: predict_async with a
    threshold of its own or top other than 1, and predict_batch_async (None: the default,
    a ThreadPoolExecutor with one thread per core, made on first use)."""
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


# ---- answers from C threads to event loops --------------------------------------------


class _Request:
    """A predict_async or retrain_async awaiting its callback."""
    __slots__ = ("loop", "fut", "text")

    def __init__(self, loop: asyncio.AbstractEventLoop, fut: "asyncio.Future[Any]",
                 text: str) -> None:
        self.loop, self.fut, self.text = loop, fut, text


_PENDING: Dict[int, _Request] = {}   # request number (the C user pointer) -> request
_next_request = itertools.count(1)   # from 1: a user pointer of 0 reads as None
_on_c_thread = threading.local()     # .yes while a pool thread runs _on_result


def _resolve(fut: "asyncio.Future[Any]", outcome: Any) -> None:
    """On the loop: the awaitable gets its outcome, unless it was cancelled meanwhile."""
    if fut.done():
        return
    if isinstance(outcome, BaseException):
        fut.set_exception(outcome)
    else:
        fut.set_result(outcome)


def _hand_over(req: _Request, outcome: Any) -> None:
    try:
        req.loop.call_soon_threadsafe(_resolve, req.fut, outcome)
    except RuntimeError:  # the loop is closed: nobody awaits the answer any more
        pass


def _on_result(rp: Any, user: Optional[int]) -> None:
    """intent_result_fn, on a pool thread. Must not raise (ctypes would print and go on)."""
    req = _PENDING.pop(user or 0, None)
    if req is None:
        return
    _on_c_thread.yes = True
    try:
        r = rp.contents
        if r.status == 0:
            n_top = r.n_top
            lab, top = r.labels, r.top
            scores = tuple(Score((lab[i] or b"").decode("utf-8", "replace"), top[i].confidence)
                           for i in range(n_top))
            outcome: Any = Prediction(req.text, scores[:min(r.n_over, n_top)], scores,
                                      r.model_version)
        else:  # INTENT_ERR_CANCELLED, INTENT_ERR_NO_MODEL, INTENT_ERR_NOMEM
            outcome = error_for(r.status, f"{req.text!r}: {_lib.status_str(r.status)}")
    except BaseException as e:  # pragma: no cover - a bug here must still reach the await
        outcome = e
    _hand_over(req, outcome)
    _on_c_thread.yes = False


def _report(rp: Any) -> Dict[str, Any]:
    if not rp:
        return {}
    r = rp.contents
    return {name: (bool(getattr(r, name)) if name == "accepted" else getattr(r, name))
            for name, _ in _lib.RetrainReport._fields_}


def _on_retrained(status: int, rp: Any, message: Optional[bytes], version: int,
                  user: Optional[int]) -> None:
    """intent_retrain_done_fn, on the retrain's thread."""
    req = _PENDING.pop(user or 0, None)
    if req is None:
        return
    try:
        msg = (message or b"").decode("utf-8", "replace")
        report = _report(rp)
        if status == 0:
            outcome: Any = Retrained(version, msg, report)
        else:
            outcome = error_for(status, msg)
            outcome.report = report
    except BaseException as e:  # pragma: no cover
        outcome = e
    _hand_over(req, outcome)


_RESULT_CB = _lib.RESULT_FN(_on_result)
_RETRAIN_CB = _lib.RETRAIN_DONE_FN(_on_retrained)


# ---- per-thread scratch, and the close guard ------------------------------------------


class _Ctx:
    """One thread's intent_ctx, lease and result buffers."""
    __slots__ = ("h", "top", "n_top", "n_over", "p_n_top", "p_n_over", "lease", "p_lease",
                 "_lock", "__weakref__")

    def __init__(self, model_h: Optional[int]) -> None:
        h = c_void_p()
        check(lib.intent_ctx_new(model_h, byref(h)))
        self.h: Optional[int] = h.value
        self.top = (_lib.Score * 16)()
        self.n_top, self.n_over = c_size_t(), c_size_t()
        self.p_n_top, self.p_n_over = byref(self.n_top), byref(self.n_over)
        self.lease = _lib.new_struct(_lib.Lease)
        self.p_lease = byref(self.lease)
        self._lock = threading.Lock()

    def scores(self, n: int) -> "ctypes.Array[_lib.Score]":
        """The result buffer, grown to n entries (a later model may have more labels)."""
        if len(self.top) < n:
            self.top = (_lib.Score * n)()
        return self.top

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
_retired = _stats.Totals()
_t0 = time.monotonic()


def stats(model: Optional["Model"] = None) -> Dict[str, Any]:
    """Serving statistics: of model (Model.stats()), or (None) of every model of this
    process since the package was imported: answers, answers_fallback, out_of_scope,
    errors, cancelled, busy, uptime_s, answers_per_s, mean_us, p50_us, p95_us, p99_us,
    max_us, latency_hist, per_label, models (how many were added up); measured by the
    library ("source": "library"; see _stats.py)."""
    if model is not None:
        return model.stats()
    live = []
    for m in list(_live_models):
        try:
            live.append(m.stats())
        except ValueError:  # closed meanwhile: its counts are in _retired
            pass
    return _stats.merged(_t0, _retired, live)


@atexit.register
def _close_all() -> None:
    for m in list(_live_models):
        try:
            m.close()
        except Exception:
            pass


# ---- the model ------------------------------------------------------------------------

_BUSY = 13  # INTENT_ERR_BUSY


class Model:
    """A trained model, served: predict with it from any thread or event loop, replace it
    while it answers (swap, reload, retrain_async), read its serving stats.

    Make one with Model.load(path), Model.from_bytes(data) or intent.train(...). Close it
    with close() or a with block (garbage collection closes it too).
    """

    def __init__(self, handle: int) -> None:
        """Serves an intent_model handle (owned from now on). Use load/from_bytes/train."""
        self._svc: Optional[int] = None
        self._guard = _Guard()
        svc = c_void_p()
        rc = lib.intent_service_new(byref(svc))
        if rc == 0:
            rc = lib.intent_service_swap(svc.value, handle, None)  # the service owns it now
            if rc:
                lib.intent_service_free(svc.value)
        if rc:
            lib.intent_model_free(handle)
            check(rc)
        self._svc = svc.value
        self._pool: Optional[int] = None
        self._pool_lock = threading.Lock()
        self._final_stats: Optional[Dict[str, Any]] = None
        self._local = threading.local()
        self._ctxs: "weakref.WeakSet[_Ctx]" = weakref.WeakSet()
        self._ctxs_lock = threading.Lock()
        self._label_cache: Tuple[int, Tuple[str, ...], Dict[str, int]] = (0, (), {})
        self._retrain_key = 0  # the _PENDING key of the last retrain started (0: none)
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
        """Writes the model serving now to a file, atomically (temporary file, fsync,
        rename)."""
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

    def _names(self, lease: _lib.Lease) -> Tuple[int, Tuple[str, ...], Dict[str, int]]:
        """(version, label names, ids by name) of the leased model; cached per version."""
        cache = self._label_cache
        if cache[0] != lease.version:
            h = lease.model
            names = tuple(_lib.text(lib.intent_model_label(h, i)) or ""
                          for i in range(lib.intent_model_n_labels(h)))
            cache = (lease.version, names, {n: i for i, n in enumerate(names)})
            self._label_cache = cache  # one assignment: readers see the old or the new
        return cache

    @property
    def labels(self) -> Tuple[str, ...]:
        """The label names of the model serving now, by id."""
        with self._lease() as lease:
            return self._names(lease)[1]

    @property
    def n_labels(self) -> int:
        return len(self.labels)

    @property
    def model_version(self) -> int:
        """The version of the model serving now: 1 for the model this Model was made with,
        one more for each swap, reload or retrain swapped in."""
        with self._lease() as lease:
            return lease.version

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
        if self._svc is None:
            return "<intent.Model closed>"
        none = f", none label {self.none_label!r}" if self.none_label else ""
        return (f"<intent.Model {self.n_labels} labels, threshold {self.threshold:.3f}"
                f"{none}, version {self.model_version}>")

    # -- predicting --

    def _ctx(self, model_h: Optional[int]) -> _Ctx:
        c = getattr(self._local, "ctx", None)
        if c is None:
            c = _Ctx(model_h)
            self._local.ctx = c
            with self._ctxs_lock:
                self._ctxs.add(c)
        return c

    def _predict(self, text: Union[str, bytes], threshold: Optional[float],
                 top: Optional[int]) -> Prediction:
        """One prediction, in this thread, with the guard held by the caller: a lease on
        the model serving now, intent_service_predict (counted in the stats), release."""
        b = encode(text)
        thr = -1.0 if threshold is None else float(threshold)
        want = 1 if top is None else int(top)
        if want < 0:
            raise ValueError("top must be 0 or more")
        svc = self._svc
        c = getattr(self._local, "ctx", None) or self._ctx(None)
        rc = lib.intent_service_acquire(svc, c.p_lease)
        if rc:
            check(rc, message=f"intent_service_acquire: {_lib.status_str(rc)}")
        try:
            version, names, _ = self._names(c.lease)
            n = len(names)
            buf = c.scores(n)
            cap = min(n, max(want, 8))
            rc = lib.intent_service_predict(svc, c.p_lease, c.h, b, len(b), thr, buf, cap,
                                            c.p_n_top, c.p_n_over)
            if rc:
                check(rc, message=f"intent_predict: {_lib.status_str(rc)}")
            if c.n_over.value > c.n_top.value and cap < n:
                # more labels apply than there was room for (rare): all of them, with
                # intent_predict on the same model, so the answer is counted once
                rc = lib.intent_predict(c.lease.model, c.h, b, len(b), thr, buf, n, c.p_n_top,
                                        c.p_n_over)
                if rc:
                    check(rc, message=f"intent_predict: {_lib.status_str(rc)}")
            n_top, n_over = c.n_top.value, c.n_over.value
        finally:
            lib.intent_service_release(svc, c.p_lease)
        n_lab = min(n_over, n_top)
        scores = tuple(Score(names[buf[i].label], buf[i].confidence)
                       for i in range(min(n_top, max(want, n_lab))))
        return Prediction(text if isinstance(text, str) else b.decode("utf-8", "replace"),
                          scores[:n_lab], scores, version)

    def predict(self, text: Union[str, bytes], threshold: Optional[float] = None,
                top: Optional[int] = None) -> Prediction:
        """The labels that apply to text, each with its confidence, by the model serving now.

        threshold: labels at or over it apply (None: the model's threshold).
        top: how many of the most confident labels Prediction.top lists at least (None: 1).
        Thread-safe; the C call runs without the GIL.
        """
        self._guard.enter()
        try:
            return self._predict(text, threshold, top)
        finally:
            self._guard.exit()

    def predict_batch(self, texts: Iterable[Union[str, bytes]],
                      threshold: Optional[float] = None,
                      top: Optional[int] = None) -> List[Prediction]:
        """predict for each text, in order, in this thread. Answers are exactly predict's
        (compound commands are cut into clauses as predict does)."""
        self._guard.enter()
        try:
            return [self._predict(t, threshold, top) for t in texts]
        finally:
            self._guard.exit()

    def serve(self, threads: int = 0, queue: int = 1024, max_batch: int = 32) -> None:
        """Starts the pool predict_async answers on (intent_pool_new): threads (0: one per
        core), queue (requests that may wait; more get INTENT_ERR_BUSY), max_batch
        (requests a thread answers on one lease). Optional: the first predict_async starts
        one with these defaults. ValueError if the pool runs already."""
        with self._pool_lock:
            if self._pool is not None:
                raise ValueError("the pool runs already: serve() before the first predict_async")
            self._start_pool(threads, queue, max_batch)

    def _start_pool(self, threads: int, queue: int, max_batch: int) -> int:
        """Under _pool_lock."""
        self._guard.enter()
        try:
            out = c_void_p()
            rc = lib.intent_pool_new(self._svc, threads, queue, max_batch, byref(out))
            if rc:
                check(rc, message=f"intent_pool_new({threads} threads, queue {queue}, batch "
                                  f"{max_batch}): {_lib.status_str(rc)}")
            self._pool = out.value
            return out.value  # type: ignore[return-value]
        finally:
            self._guard.exit()

    def _pool_handle(self) -> int:
        pool = self._pool
        if pool is None:
            with self._pool_lock:
                pool = self._pool
                if pool is None:
                    pool = self._start_pool(0, 1024, 32)
        return pool

    async def predict_async(self, text: Union[str, bytes], threshold: Optional[float] = None,
                            top: Optional[int] = None, *,
                            busy_timeout: float = 5.0) -> Prediction:
        """predict, answered by the model's thread pool (intent_pool) without blocking the
        event loop; any number may be in flight at once. The answer is predict's (labels
        beyond the 16 most confident that apply are left out).

        busy_timeout: while the pool's queue is full, wait (asyncio.sleep, backing off to
        20 ms) and submit again for up to this many seconds, then raise BusyError; 0 raises
        at once, so a server can shed load.
        A threshold of its own or top other than 1 is answered on an executor thread
        instead (set_executor): the pool answers with the model's threshold only.
        """
        loop = asyncio.get_running_loop()
        if threshold is not None or top not in (None, 1):
            if top is not None and top < 0:
                raise ValueError("top must be 0 or more")
            return await loop.run_in_executor(_get_executor(), self._predict_held, text,
                                              threshold, top)
        b = encode(text)
        req = _Request(loop, loop.create_future(),
                       text if isinstance(text, str) else b.decode("utf-8", "replace"))
        key = next(_next_request)
        _PENDING[key] = req
        delay, deadline = 0.0005, None
        while True:
            self._guard.enter()
            try:
                rc = lib.intent_pool_submit(self._pool_handle(), b, len(b), _RESULT_CB, key)
            except BaseException:
                _PENDING.pop(key, None)
                raise
            finally:
                self._guard.exit()
            if rc == 0:
                break
            now = loop.time()
            if deadline is None:
                deadline = now + busy_timeout
            if rc != _BUSY or now >= deadline:
                _PENDING.pop(key, None)
                if rc == _BUSY:
                    raise BusyError(rc, f"the pool's queue stayed full for {busy_timeout:g} s "
                                        f"({_lib.status_str(rc)})")
                check(rc, message=f"intent_pool_submit: {_lib.status_str(rc)}")
            await asyncio.sleep(min(delay, max(0.0, deadline - now)))
            delay = min(delay * 2, 0.02)
        # a cancelled await drops the answer when it comes (_resolve); the request stays
        # queued: the pool answers every request it accepted
        return await req.fut

    def _predict_held(self, text: Union[str, bytes], threshold: Optional[float],
                      top: Optional[int]) -> Prediction:
        # the executor thread holds the guard itself: a cancelled await lets go of the
        # future, not of the model under a C call still running
        self._guard.enter()
        try:
            return self._predict(text, threshold, top)
        finally:
            self._guard.exit()

    async def predict_batch_async(self, texts: Sequence[Union[str, bytes]],
                                  threshold: Optional[float] = None,
                                  top: Optional[int] = None) -> List[Prediction]:
        """predict_batch on an executor thread (one hand-off for all the texts)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_get_executor(), self.predict_batch, list(texts),
                                          threshold, top)

    def label_id(self, name: str) -> int:
        """The id of a label in the model serving now; KeyError if it has no such label."""
        with self._lease() as lease:
            return self._names(lease)[2][name]

    # -- replacing the model while it answers --

    def swap(self, new: "Model") -> int:
        """Serves a copy of new's model from now on, atomically: calls in flight finish
        with the model they began with, later ones (and the pool's next batches) answer
        with the new one, and the old one is freed when its last reader is done. new is
        unchanged and stays the caller's to close. Returns the new model's version."""
        data = new.to_bytes()
        h, err = c_void_p(), _lib.new_struct(_lib.Error)
        check(lib.intent_model_load_mem(data, len(data), byref(h), byref(err)), err)
        version = c_uint64()
        self._guard.enter()
        try:
            rc = lib.intent_service_swap(self._svc, h.value, byref(version))
        finally:
            self._guard.exit()
        if rc:
            lib.intent_model_free(h.value)
            check(rc)
        return version.value

    def reload(self, path: PathLike) -> int:
        """Loads a model file and serves it, as swap does (intent_service_load). On failure
        (FileError, FormatError, ...) the model serving now goes on serving; the failure
        is counted in stats (load_failures, last_error). Returns the version serving after
        the load (the new model's, unless another swap came in between)."""
        err = _lib.new_struct(_lib.Error)
        self._guard.enter()
        try:
            check(lib.intent_service_load(self._svc, os.fsencode(os.fspath(path)),
                                          byref(err)), err)
        finally:
            self._guard.exit()
        return self.model_version

    async def retrain_async(self, feedback_log: PathLike, data: Optional[PathLike] = None,
                            **options: Any) -> Retrained:
        """Retrains the model serving now in the background and serves the result
        (intent_service_retrain): a C thread reads the feedback log (intent.feedback, or
        FeedbackLog) and data (the original training file, mixed in so nothing else is
        forgotten; None: the feedback only), learns from the served model's weights, and
        swaps the new model in; predict, predict_async and the pool answer throughout.

        options: fields of intent_retrain_opts by name: feedback_repeat (default 4),
        max_drop (default 0.02: the largest fall in held-out exact-set accuracy allowed),
        and the training fields that apply to a retrain (epochs, patience, lr, batch,
        dropout, seed, threads, dev_fraction, ...); the network, featurizer and none label
        are the served model's.
        Returns a Retrained (the new version, already serving). Raises RejectedError
        (.report has the scores) when the new model scored worse than allowed: the served
        one stays; BusyError at once when a retrain of this model runs already; Cancelled
        when the model is closed meanwhile; the log's or the data's errors (FileError,
        ParseError, ...). Cancelling the await does not stop the retrain: its model is
        swapped in all the same.
        """
        from .train import set_option  # train imports this module
        o = _lib.new_struct(_lib.RetrainOpts)
        lib.intent_retrain_opts_init(byref(o))
        for name, value in options.items():
            if name == "feedback_repeat":
                if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 1 << 32:
                    raise ValueError(f"feedback_repeat: {value!r} is not a count")
                o.feedback_repeat = value
            elif name == "max_drop":
                o.max_drop = float(value)
            elif name in ("hidden", "none_label", "progress"):
                raise TypeError(f"{name}: a retrain keeps the served model's")
            else:
                set_option(o.train, name, value)
        loop = asyncio.get_running_loop()
        req = _Request(loop, loop.create_future(), "")
        key = next(_next_request)
        _PENDING[key] = req
        log_b = os.fsencode(os.fspath(feedback_log))
        data_b = None if data is None else os.fsencode(os.fspath(data))
        give_up = loop.time() + 2.0
        while True:
            self._guard.enter()
            try:
                rc = lib.intent_service_retrain(self._svc, log_b, data_b, byref(o), _RETRAIN_CB,
                                                key)  # o and the paths are copied
            finally:
                self._guard.exit()
            if rc == 0:
                self._retrain_key = key
                break
            # The library calls the done callback just before its thread ends, and says
            # INTENT_ERR_BUSY until it has: a retrain whose await has already been
            # resolved is finishing, not running; wait for it rather than refuse.
            finishing = self._retrain_key not in _PENDING
            if rc == _BUSY and finishing and loop.time() < give_up:
                await asyncio.sleep(0.001)
                continue
            _PENDING.pop(key, None)
            if rc == _BUSY:
                raise BusyError(rc, "a retrain of this model runs already")
            check(rc, message=f"intent_service_retrain: {_lib.status_str(rc)}")
        return await req.fut

    @property
    def retraining(self) -> bool:
        """Whether a background retrain runs (retrain_async)."""
        self._guard.enter()
        try:
            return bool(lib.intent_service_retraining(self._svc))
        finally:
            self._guard.exit()

    # -- measuring --

    def evaluate(self, data: Union[Dataset, PathLike, Iterable[Tuple[str, Any]]],
                 threshold: Optional[float] = None, threads: int = 0,
                 format: str = "auto") -> Dict[str, Any]:
        """Scores the model serving now on labelled data (a file, a Dataset or (text,
        labels) pairs).

        Returns a dict of intent_eval: n_examples, exact (label set right), top1, micro_f1,
        macro_f1, ece, threshold, n_unknown (gold labels the model does not know), has_none,
        and, for a model with a none label, n_in_scope, n_out_of_scope, in_scope_acc,
        oos_recall, oos_auroc (else None); per_label maps each label to its support, tp,
        fp, fn, precision, recall, f1. threads: 0 = all cores.
        """
        ds, made = as_dataset(data, format)
        ev, err = _lib.new_struct(_lib.Eval), _lib.new_struct(_lib.Error)
        try:
            with self._lease() as lease:
                labels = self._names(lease)[1]
                thr = -1.0 if threshold is None else float(threshold)
                check(lib.intent_evaluate(lease.model, ds._handle(), thr, threads, byref(ev),
                                          byref(err)), err)
            try:
                per = {}
                for i in range(ev.n_labels):
                    le = ev.per_label[i]
                    per[labels[i]] = {k: getattr(le, k) for k, _ in le._fields_}
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

    def _snapshot(self) -> Tuple[Dict[str, Any], str]:
        """(stats as a dict, intent_stats_format's text), the guard held by the caller."""
        st = _lib.new_struct(_lib.Stats)
        pool = self._pool
        rc = lib.intent_pool_stats(pool, byref(st)) if pool is not None else \
            lib.intent_service_stats(self._svc, byref(st))
        check(rc, message=f"stats: {_lib.status_str(rc)}")
        try:
            need = lib.intent_stats_format(byref(st), None, 0)
            buf = ctypes.create_string_buffer(need + 1)
            lib.intent_stats_format(byref(st), buf, need + 1)
            return _stats.snapshot(st), buf.value.decode("utf-8", "replace")
        finally:
            lib.intent_stats_free(byref(st))

    def stats(self) -> Dict[str, Any]:
        """This model's serving statistics, from the library (intent_pool_stats once
        predict_async has started the pool, else intent_service_stats), as a dict keyed by
        the fields of struct intent_stats: answers, out_of_scope, errors, cancelled, busy,
        latency (mean_us, p50_us, p95_us, p99_us, max_us, latency_hist), model_version,
        swaps, loads, load_failures, last_error, memory, the pool (threads, queue_cap,
        queued, batches, mean_batch) and per_label (answers per label of the model
        serving now). After close(): the stats it had then."""
        if self._final_stats is not None:
            return dict(self._final_stats)
        self._guard.enter()
        try:
            return self._snapshot()[0]
        finally:
            self._guard.exit()

    def stats_text(self) -> str:
        """The stats as the library writes them (intent_stats_format), a few lines."""
        self._guard.enter()
        try:
            return self._snapshot()[1]
        finally:
            self._guard.exit()

    # -- life --

    class _Lease:
        """with model._lease() as lease: a lease on the model serving now (guard held)."""
        __slots__ = ("m", "lease")

        def __init__(self, m: "Model") -> None:
            self.m = m
            self.lease = _lib.new_struct(_lib.Lease)

        def __enter__(self) -> _lib.Lease:
            self.m._guard.enter()
            rc = lib.intent_service_acquire(self.m._svc, byref(self.lease))
            if rc:
                self.m._guard.exit()
                check(rc, message=f"intent_service_acquire: {_lib.status_str(rc)}")
            return self.lease

        def __exit__(self, *exc: object) -> None:
            lib.intent_service_release(self.m._svc, byref(self.lease))
            self.m._guard.exit()

    class _Use(_Lease):
        """with model._use() as handle: the intent_model serving now, held for the block."""
        __slots__ = ()

        def __enter__(self) -> int:  # type: ignore[override]
            return super().__enter__().model  # type: ignore[no-any-return]

    def _lease(self) -> "Model._Lease":
        return Model._Lease(self)

    def _use(self) -> "Model._Use":
        return Model._Use(self)

    @property
    def closed(self) -> bool:
        return self._svc is None

    def close(self) -> None:
        """Refuses new calls, waits for those in flight on other threads, answers what the
        pool has queued (the awaits get their answers), stops a background retrain (its
        await raises Cancelled), then frees the models, the pool and the threads' scratch
        memory. Later calls raise ValueError; stats() keeps the last numbers. Closing twice
        is fine."""
        guard = getattr(self, "_guard", None)
        if guard is None or not guard.close():
            return
        svc = self._svc
        if svc is None:
            return  # made half: __init__ failed
        pool_fields: Dict[str, Any] = {}
        pool, self._pool = self._pool, None
        if pool is not None:
            self._pool = pool  # for the snapshot of the pool's own fields
            try:
                pool_fields = {k: v for k, v in self._snapshot()[0].items()
                               if k in ("threads", "queue_cap", "batches", "mean_batch")}
            except IntentError:
                pass
            self._pool = None
            lib.intent_pool_free(pool, _lib.POOL_DRAIN)  # the GIL is released: callbacks run
        try:
            final = self._snapshot()[0]  # the service's, the drained answers counted
            final.update(pool_fields)
            self._final_stats = final
            _retired.add(final)
        except IntentError:
            pass
        with self._ctxs_lock:
            ctxs = list(self._ctxs)
        for c in ctxs:
            c.free()
        self._svc = None
        lib.intent_service_free(svc)  # stops and waits for a running retrain
        _live_models.discard(self)

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if getattr(self, "_pool", None) and getattr(_on_c_thread, "yes", False):
                # collected on one of the pool's own threads: freeing the pool there would
                # wait for that very thread; close from a thread of its own instead
                threading.Thread(target=self.close, daemon=True).start()
            else:
                self.close()
        except Exception:  # interpreter shutdown
            pass
