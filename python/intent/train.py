"""Training: intent.train(...) and await intent.train_async(...) (intent_train)."""
from __future__ import annotations

import asyncio
import functools
import threading
from concurrent.futures import Executor
from ctypes import byref, c_void_p
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

from . import _lib
from ._lib import lib
from .dataset import Dataset, Labels, PathLike, as_dataset
from .errors import ArgumentError, check
from .model import Model

Data = Union[Dataset, PathLike, Iterable[Tuple[str, Labels]]]


@dataclass(frozen=True)
class EpochReport:
    """What one training epoch did (intent_epoch_report), passed to a progress callback."""
    epoch: int               # 1-based
    net: int                 # which network of an ensemble, 0-based
    train_loss: float        # mean binary cross-entropy over the epoch's examples
    dev_loss: Optional[float]   # on the dev set (given or held out); None in the refit pass
    dev_score: Optional[float]  # exact label-set accuracy on the dev set, 0..1; None in refit
    elapsed_s: float         # since training started
    best: bool               # this epoch is the best so far (kept)
    refit: bool              # the pass that trains again on all examples (see option refit)
    t_features_s: float      # where the time went so far, seconds
    t_backprop_s: float
    t_update_s: float
    t_eval_s: float

    @classmethod
    def _from_c(cls, r: _lib.EpochReport) -> "EpochReport":
        refit = bool(r.refit)
        return cls(r.epoch, r.net, r.train_loss, None if refit else r.dev_loss,
                   None if refit else r.dev_score, r.elapsed_s, bool(r.best), refit,
                   r.t_features_s, r.t_backprop_s, r.t_update_s, r.t_eval_s)


Progress = Callable[[EpochReport], Optional[bool]]
"""Called after each epoch, on the training thread; a true return value stops training."""

# Options are the fields of intent_train_opts, by the same names, except hidden (a list of
# widths, giving hidden and n_hidden), none_label (an argument of its own) and progress.
_NOT_OPTIONS = {"hidden", "n_hidden", "none_label", "progress", "progress_user"}
_BOOLS = {"refit", "label_names", "sublinear_tf", "strip_accents", "tune_threshold", "calibrate",
          "clause_decoding"}
_FIELDS = {name: ctype for name, ctype in _lib.TrainOpts._fields_ if name not in _NOT_OPTIONS}
OPTIONS: Tuple[str, ...] = ("hidden",) + tuple(_FIELDS)
PRESETS = ("default", "original", "ensemble")


def set_option(o: _lib.TrainOpts, name: str, value: Any) -> None:
    """Sets the training option name (a field of intent_train_opts, or hidden) in o,
    checking its type and range."""
    if name == "hidden":
        widths = [value] if isinstance(value, int) else list(value)
        if len(widths) > _lib.MAX_HIDDEN:
            raise ValueError(f"hidden: at most {_lib.MAX_HIDDEN} hidden layers")
        for i, w in enumerate(widths):
            if not isinstance(w, int) or w < 0 or w >= 1 << 32:
                raise ValueError(f"hidden: {w!r} is not a layer width")
            o.hidden[i] = w
        o.n_hidden = len(widths)
        return
    ctype = _FIELDS.get(name)
    if ctype is None:
        raise TypeError(f"unknown training option {name!r} (known: {', '.join(OPTIONS)})")
    if name in _BOOLS:
        setattr(o, name, 1 if value else 0)
    elif ctype.__name__ in ("c_float", "c_double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name}: a number is needed, not {value!r}")
        setattr(o, name, float(value))
    else:  # an unsigned integer field: ctypes would wrap -1 to 4294967295 silently
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name}: an integer is needed, not {value!r}")
        bits = 8 * _lib.ctypes.sizeof(ctype)
        if not 0 <= value < 1 << bits:
            raise ValueError(f"{name}: {value} is out of range (0 .. {(1 << bits) - 1})")
        setattr(o, name, value)


def _options(preset: Optional[str], options: Dict[str, Any]) -> _lib.TrainOpts:
    o = _lib.new_struct(_lib.TrainOpts)
    lib.intent_train_opts_init(byref(o))
    if preset is not None:
        rc = lib.intent_train_opts_preset(byref(o), preset.encode("utf-8"))
        if rc:
            raise ArgumentError(rc, f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
    for name, value in options.items():
        set_option(o, name, value)
    return o


def default_options(preset: Optional[str] = None) -> Dict[str, Any]:
    """The training options and their values, as the library sets them (for a preset:
    "default", "original", "ensemble")."""
    o = _options(preset, {})
    out: Dict[str, Any] = {"hidden": [o.hidden[i] for i in range(o.n_hidden)]}
    for name in _FIELDS:
        v = getattr(o, name)
        out[name] = bool(v) if name in _BOOLS else \
            _lib.f32(v) if _FIELDS[name] is _lib.c_float else v
    return out


def train(data: Data, dev: Optional[Data] = None, none_label: Optional[str] = None, *,
          preset: Optional[str] = None, progress: Optional[Progress] = None,
          format: str = "auto", **options: Any) -> Model:
    """Learns a model from labelled examples.

    data, dev: a file (TSV, fastText or JSONL; see README "Data formats"), a Dataset, or
        (text, labels) pairs, labels a list of names or one "A,B" string. dev (optional)
        serves early stopping and threshold tuning; without it a stratified slice of data
        is held out (option dev_fraction), then the model is refit on everything.
    none_label: examples with this label train as "no label" (out of scope).
    preset: "default", "original" or "ensemble" (intent_train_opts_preset), applied
        before options.
    progress: called after each epoch with an EpochReport, on the training thread;
        returning True stops training (Cancelled is raised). An exception it raises stops
        training and is raised again here. Ctrl-C stops training at the next epoch too.
    options: fields of intent_train_opts by name (see default_options()): hidden=[96],
        epochs, patience, lr, batch, dropout, seed, threads, buckets, min_count, ...
        Same data, options and threads give a byte-identical model.

    Raises ParseError ("FILE:LINE: ...") for malformed data, FileError, EmptyError when
    there is nothing to learn, ArgumentError for bad option values, TypeError for
    unknown option names.
    """
    return _train(data, dev, none_label, preset, progress, format, None, options)


async def train_async(data: Data, dev: Optional[Data] = None,
                      none_label: Optional[str] = None, *, preset: Optional[str] = None,
                      progress: Optional[Progress] = None, format: str = "auto",
                      executor: Optional[Executor] = None, **options: Any) -> Model:
    """train on an executor thread (the event loop's default one unless executor is given),
    so the event loop keeps running. progress runs on that thread: use
    loop.call_soon_threadsafe to reach the loop from it. Cancelling the await stops
    training at the end of the current epoch."""
    loop = asyncio.get_running_loop()
    stop = threading.Event()
    call = functools.partial(_train, data, dev, none_label, preset, progress, format, stop,
                             options)
    fut = loop.run_in_executor(executor, call)
    try:
        return await fut
    except asyncio.CancelledError:
        stop.set()
        raise


def _train(data: Data, dev: Optional[Data], none_label: Optional[str], preset: Optional[str],
           progress: Optional[Progress], format: str, stop: Optional[threading.Event],
           options: Dict[str, Any]) -> Model:
    o = _options(preset, options)
    none_b = none_label.encode("utf-8") if none_label else None
    o.none_label = none_b  # none_b outlives the call
    state: Dict[str, BaseException] = {}

    def on_epoch(report: Any, user: Any) -> int:
        # an exception must not escape into C (ctypes would print it and return 0)
        try:
            if progress is not None and progress(EpochReport._from_c(report.contents)):
                return 1
            return 1 if stop is not None and stop.is_set() else 0
        except BaseException as e:  # KeyboardInterrupt too: stop, raise it after
            state["exc"] = e
            return 1

    callback = _lib.PROGRESS_FN(on_epoch)  # referenced until intent_train returns
    o.progress = callback
    made: List[Dataset] = []  # datasets made here from paths or pairs, closed after

    def dataset(d: Data) -> Dataset:
        ds, new = as_dataset(d, format)
        if new:
            made.append(ds)
        return ds

    h, err = c_void_p(), _lib.new_struct(_lib.Error)
    try:
        train_h = dataset(data)._handle()
        dev_h = dataset(dev)._handle() if dev is not None else None
        rc = lib.intent_train(train_h, dev_h, byref(o), byref(h), byref(err))
    finally:
        for ds in made:
            ds.close()
    del callback
    if "exc" in state:
        if h.value:
            lib.intent_model_free(h.value)
        raise state["exc"]
    check(rc, err)
    return Model(h.value)
