"""The shared library and its C declarations, mirrored with ctypes.

Everything here follows include/intent.h field for field; python/tests/test_layout.py
compiles a small C program (when a C compiler is there) that checks the offset, size and
kind of every field below against the header, so a change on either side is caught.

Where the library looks (the first that exists wins):
  1. $INTENT_LIBRARY, a path to libintent.so (then nothing else is tried);
  2. libintent.so (or libintent.so.0) next to this package's files;
  3. build/libintent.so of the source tree this package sits in (python/../build);
  4. the system's loader: libintent.so.0 on the library path.

ctypes releases the GIL for the length of every foreign call, so a prediction or a
training run on one thread does not stop Python code on the others; callbacks from C
(training progress, feedback scans, component loads, pool answers, the end of a
background retrain) take the GIL back while they run, on the C thread that calls them.

DESIGN: the library may grow structs at their end in later minor versions (the status
enum "only grows", and so do the option structs). Structs the library writes into or
reads from are therefore allocated with SLACK zeroed bytes after them (new_struct()):
a newer library that writes a field this binding does not know writes into the slack,
and one that reads a field it added reads zero, the "not set" value.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_double, c_float,
                    c_int, c_long, c_size_t, c_uint8, c_uint32, c_uint64, c_void_p)
from pathlib import Path
from typing import List, Optional, Type, TypeVar

MAX_HIDDEN = 8          # INTENT_MAX_HIDDEN
STATS_BUCKETS = 194     # INTENT_STATS_BUCKETS
RESULT_MAX = 16         # INTENT_RESULT_MAX: labels a pool answer carries
POOL_MAX_THREADS = 256  # INTENT_POOL_MAX_THREADS
POOL_MAX_QUEUE = 1 << 20  # INTENT_POOL_MAX_QUEUE
POOL_MAX_BATCH = 1024   # INTENT_POOL_MAX_BATCH
POOL_DRAIN, POOL_CANCEL = 0, 1  # enum intent_pool_close
SLACK = 1024            # zeroed bytes after every struct handed to the library

# enum intent_format
FORMATS = {"auto": 0, "tsv": 1, "fasttext": 2, "ft": 2, "jsonl": 3, "json": 3}

# enum intent_component_state / intent_unload_reason
COMPONENT_STATES = {0: "unloaded", 1: "loading", 2: "loaded", 3: "unloading"}
UNLOAD_REASONS = {1: "timeout", 2: "budget"}


# ---- structs (include/intent.h) -------------------------------------------------------

class Error(Structure):
    _c_name_ = "intent_error"
    _fields_ = [("status", c_int), ("message", c_char * 512)]


class EpochReport(Structure):
    _c_name_ = "intent_epoch_report"
    _fields_ = [
        ("epoch", c_uint32), ("net", c_uint32),
        ("train_loss", c_double), ("dev_loss", c_double), ("dev_score", c_double),
        ("elapsed_s", c_double), ("best", c_int),
        ("t_features_s", c_double), ("t_backprop_s", c_double), ("t_update_s", c_double),
        ("t_eval_s", c_double), ("refit", c_int),
    ]


PROGRESS_FN = CFUNCTYPE(c_int, POINTER(EpochReport), c_void_p)   # intent_progress_fn


class TrainOpts(Structure):
    _c_name_ = "intent_train_opts"
    _fields_ = [
        ("hidden", c_uint32 * MAX_HIDDEN), ("n_hidden", c_uint32), ("n_nets", c_uint32),
        ("epochs", c_uint32), ("patience", c_uint32), ("lr", c_float), ("batch", c_uint32),
        ("dropout", c_float), ("input_dropout", c_float), ("weight_decay", c_float),
        ("label_smoothing", c_float), ("softmax_weight", c_float), ("average", c_float),
        ("dev_fraction", c_float),
        ("refit", c_int), ("label_names", c_int), ("seed", c_uint64), ("threads", c_uint32),
        ("buckets", c_uint32), ("word_ngrams", c_uint32), ("char_min", c_uint32),
        ("char_max", c_uint32), ("sublinear_tf", c_int), ("min_count", c_uint32),
        ("strip_accents", c_int),
        ("none_label", c_char_p), ("threshold", c_float), ("tune_threshold", c_int),
        ("calibrate", c_int), ("clause_decoding", c_int),
        ("progress", PROGRESS_FN), ("progress_user", c_void_p),
    ]


class Score(Structure):
    _c_name_ = "intent_score"
    _fields_ = [("label", c_uint32), ("confidence", c_float)]


class LabelEval(Structure):
    _c_name_ = "intent_label_eval"
    _fields_ = [("support", c_uint32), ("tp", c_uint32), ("fp", c_uint32), ("fn", c_uint32),
                ("precision", c_double), ("recall", c_double), ("f1", c_double)]


class Eval(Structure):
    _c_name_ = "intent_eval"
    _fields_ = [
        ("n_examples", c_size_t), ("exact", c_double), ("top1", c_double),
        ("micro_f1", c_double), ("macro_f1", c_double), ("ece", c_double),
        ("has_none", c_int), ("n_in_scope", c_size_t), ("n_out_of_scope", c_size_t),
        ("in_scope_acc", c_double), ("oos_recall", c_double), ("oos_auroc", c_double),
        ("threshold", c_float), ("n_unknown", c_size_t), ("n_labels", c_size_t),
        ("per_label", POINTER(LabelEval)),
    ]


class FeedbackStats(Structure):
    _c_name_ = "intent_feedback_stats"
    _fields_ = [("n_records", c_uint64), ("bytes", c_uint64), ("torn_bytes", c_uint64)]


class FeedbackRecord(Structure):
    _c_name_ = "intent_feedback_record"
    _fields_ = [("text", POINTER(c_char)), ("len", c_size_t),
                ("labels", POINTER(c_char_p)), ("n_labels", c_size_t),
                ("time_ms", c_uint64), ("offset", c_uint64)]


FEEDBACK_FN = CFUNCTYPE(c_int, POINTER(FeedbackRecord), c_void_p)  # intent_feedback_fn
COMPONENT_FN = CFUNCTYPE(c_int, c_char_p, c_void_p)                # intent_component_fn


class ComponentSpec(Structure):
    _c_name_ = "intent_component_spec"
    _fields_ = [("name", c_char_p), ("labels", POINTER(c_char_p)), ("n_labels", c_size_t),
                ("depends", POINTER(c_char_p)), ("n_depends", c_size_t),
                ("memory", c_uint64), ("idle_timeout_ms", c_uint64),
                ("load", COMPONENT_FN), ("unload", COMPONENT_FN), ("user", c_void_p)]


class Plan(Structure):
    _c_name_ = "intent_plan"
    _fields_ = [
        ("required", POINTER(c_uint32)), ("n_required", c_size_t),
        ("loaded", POINTER(c_uint32)), ("n_loaded", c_size_t),
        ("to_load", POINTER(c_uint32)), ("n_to_load", c_size_t),
        ("to_unload", POINTER(c_uint32)), ("n_to_unload", c_size_t),
        ("unload_why", POINTER(c_uint8)),
        ("load_failed", POINTER(c_uint32)), ("n_load_failed", c_size_t),
        ("load_rc", POINTER(c_int)),
        ("unload_failed", POINTER(c_uint32)), ("n_unload_failed", c_size_t),
        ("memory_before", c_uint64), ("memory_after", c_uint64), ("budget", c_uint64),
        ("held", c_int),
    ]


class ComponentInfo(Structure):
    _c_name_ = "intent_component_info"
    _fields_ = [("name", c_char_p), ("labels", POINTER(c_char_p)), ("n_labels", c_size_t),
                ("depends", POINTER(c_char_p)), ("n_depends", c_size_t),
                ("memory", c_uint64), ("idle_timeout_ms", c_uint64),
                ("state", c_int), ("holders", c_uint32), ("last_used_ms", c_uint64)]


# ---- retraining, serving, stats, the pool ----

class RetrainOpts(Structure):
    _c_name_ = "intent_retrain_opts"
    _fields_ = [("train", TrainOpts), ("feedback_repeat", c_uint32), ("max_drop", c_float)]


class RetrainReport(Structure):
    _c_name_ = "intent_retrain_report"
    _fields_ = [("n_feedback", c_size_t), ("n_data", c_size_t), ("n_heldout", c_size_t),
                ("n_new_labels", c_size_t), ("base_score", c_double), ("new_score", c_double),
                ("feedback_score", c_double), ("accepted", c_int)]


# intent_retrain_done_fn(status, report (may be NULL), message, version, user)
RETRAIN_DONE_FN = CFUNCTYPE(None, c_int, POINTER(RetrainReport), c_char_p, c_uint64, c_void_p)


class Lease(Structure):
    _c_name_ = "intent_lease"
    _fields_ = [("model", c_void_p), ("version", c_uint64), ("fallback", c_int),
                ("handle", c_void_p)]


class LabelCount(Structure):
    _c_name_ = "intent_label_count"
    _fields_ = [("label", c_char_p), ("answers", c_uint64)]


class Stats(Structure):
    _c_name_ = "intent_stats"
    _fields_ = [
        ("answers", c_uint64), ("answers_fallback", c_uint64), ("out_of_scope", c_uint64),
        ("errors", c_uint64), ("cancelled", c_uint64), ("busy", c_uint64),
        ("uptime_s", c_double), ("answers_per_s", c_double),
        ("mean_us", c_double), ("p50_us", c_double), ("p95_us", c_double),
        ("p99_us", c_double), ("max_us", c_double),
        ("latency_hist", c_uint64 * STATS_BUCKETS),
        ("model_version", c_uint64), ("serving_fallback", c_int), ("load_ms", c_double),
        ("loaded_at", c_double), ("loads", c_uint64), ("load_failures", c_uint64),
        ("swaps", c_uint64), ("models_alive", c_uint64), ("last_error", c_char * 512),
        ("model_bytes", c_uint64), ("scratch_bytes", c_uint64), ("memory_bytes", c_uint64),
        ("threads", c_uint32), ("queue_cap", c_uint32), ("queued", c_uint32),
        ("batches", c_uint64), ("mean_batch", c_double),
        ("n_labels", c_size_t), ("per_label", POINTER(LabelCount)),
    ]


class Result(Structure):
    _c_name_ = "intent_result"
    _fields_ = [("status", c_int), ("seq", c_uint64), ("model_version", c_uint64),
                ("fallback", c_int), ("n_over", c_size_t), ("n_top", c_size_t),
                ("top", Score * RESULT_MAX), ("labels", c_char_p * RESULT_MAX),
                ("batch", c_uint32), ("latency_us", c_double)]


RESULT_FN = CFUNCTYPE(None, POINTER(Result), c_void_p)             # intent_result_fn


STRUCTS = (Error, EpochReport, TrainOpts, Score, LabelEval, Eval, FeedbackStats,
           FeedbackRecord, ComponentSpec, Plan, ComponentInfo, RetrainOpts, RetrainReport,
           Lease, LabelCount, Stats, Result)

S = TypeVar("S", bound=Structure)
T = TypeVar("T", bound="Handle")


def new_struct(cls: Type[S]) -> S:
    """A zeroed instance of cls followed by SLACK zeroed bytes (see DESIGN above)."""
    buf = (c_char * (ctypes.sizeof(cls) + SLACK))()
    obj = cls.from_buffer(buf)
    obj._slack_buffer = buf  # keep the memory alive with the struct
    return obj


# ---- finding and loading the library ------------------------------------------------

_NAMES = ("libintent.dylib", "libintent.0.dylib") if sys.platform == "darwin" \
    else ("libintent.so", "libintent.so.0")


def candidates() -> List[str]:
    """The paths tried, in order (see the module docstring)."""
    env = os.environ.get("INTENT_LIBRARY")
    if env:
        return [env]
    here = Path(__file__).resolve().parent
    out = [str(here / n) for n in _NAMES]
    out += [str(here.parent.parent / "build" / n) for n in _NAMES]
    found = ctypes.util.find_library("intent")
    out.append(found or _NAMES[-1])
    return out


def _load() -> ctypes.CDLL:
    tried = []
    for path in candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(f"{path} (no such file)")
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path} ({e})")
    raise ImportError("intent: cannot load libintent (set INTENT_LIBRARY to its path, "
                      "or build it with `make`); tried: " + "; ".join(tried))


lib = _load()
path: str = getattr(lib, "_name", "?")

P = POINTER
_u32p, _sizep, _u64p = P(c_uint32), P(c_size_t), P(c_uint64)
_strv = P(c_char_p)  # const char *const *

_PROTOTYPES = {
    # name: (restype, [argtypes])
    "intent_status_str": (c_char_p, [c_int]),
    "intent_version": (c_char_p, []),
    "intent_kernel_name": (c_char_p, []),
    # datasets
    "intent_dataset_new": (c_int, [P(c_void_p)]),
    "intent_dataset_free": (None, [c_void_p]),
    "intent_dataset_add": (c_int, [c_void_p, c_char_p, c_size_t, _strv, c_size_t]),
    "intent_dataset_read_file": (c_int, [c_void_p, c_char_p, c_int]),
    "intent_dataset_read_mem": (c_int, [c_void_p, c_char_p, c_char_p, c_size_t, c_int]),
    "intent_dataset_size": (c_size_t, [c_void_p]),
    "intent_dataset_n_labels": (c_size_t, [c_void_p]),
    "intent_dataset_label": (c_char_p, [c_void_p, c_size_t]),
    "intent_dataset_example": (P(c_char), [c_void_p, c_size_t, _sizep, P(_u32p), _sizep]),
    "intent_dataset_errmsg": (c_char_p, [c_void_p]),
    # training
    "intent_train_opts_init": (None, [P(TrainOpts)]),
    "intent_train_opts_preset": (c_int, [P(TrainOpts), c_char_p]),
    "intent_train": (c_int, [c_void_p, c_void_p, P(TrainOpts), P(c_void_p), P(Error)]),
    # models
    "intent_model_load": (c_int, [c_char_p, P(c_void_p), P(Error)]),
    "intent_model_load_mem": (c_int, [c_char_p, c_size_t, P(c_void_p), P(Error)]),
    "intent_model_save": (c_int, [c_void_p, c_char_p, P(Error)]),
    "intent_model_bytes": (c_int, [c_void_p, P(c_void_p), _sizep]),
    "intent_model_free": (None, [c_void_p]),
    "intent_model_quantize": (c_int, [c_void_p, P(c_void_p), P(Error)]),
    "intent_model_n_labels": (c_size_t, [c_void_p]),
    "intent_model_label": (c_char_p, [c_void_p, c_size_t]),
    "intent_model_label_id": (c_long, [c_void_p, c_char_p]),
    "intent_model_none_label": (c_char_p, [c_void_p]),
    "intent_model_threshold": (c_float, [c_void_p]),
    "intent_model_describe": (c_size_t, [c_void_p, c_char_p, c_size_t]),
    # prediction
    "intent_ctx_new": (c_int, [c_void_p, P(c_void_p)]),
    "intent_ctx_free": (None, [c_void_p]),
    "intent_predict": (c_int, [c_void_p, c_void_p, c_char_p, c_size_t, c_float, P(Score),
                               c_size_t, _sizep, _sizep]),
    # evaluation
    "intent_evaluate": (c_int, [c_void_p, c_void_p, c_float, c_uint32, P(Eval), P(Error)]),
    "intent_eval_free": (None, [P(Eval)]),
    # feedback log
    "intent_feedback_open": (c_int, [c_char_p, P(c_void_p), P(Error)]),
    "intent_feedback_append": (c_int, [c_void_p, c_char_p, c_size_t, _strv, c_size_t,
                                       P(Error)]),
    "intent_feedback_get_stats": (c_int, [c_void_p, P(FeedbackStats)]),
    "intent_feedback_errmsg": (c_char_p, [c_void_p]),
    "intent_feedback_close": (None, [c_void_p]),
    "intent_feedback_scan": (c_int, [c_char_p, FEEDBACK_FN, c_void_p, _u64p, _u64p,
                                     P(Error)]),
    "intent_feedback_read": (c_int, [c_char_p, c_void_p, _sizep, _u64p, P(Error)]),
    # components
    "intent_components_new": (c_int, [c_uint64, P(c_void_p)]),
    "intent_components_free": (None, [c_void_p]),
    "intent_components_add": (c_int, [c_void_p, P(ComponentSpec)]),
    "intent_components_validate": (c_int, [c_void_p]),
    "intent_components_errmsg": (c_char_p, [c_void_p]),
    "intent_components_count": (c_size_t, [c_void_p]),
    "intent_components_name": (c_char_p, [c_void_p, c_size_t]),
    "intent_components_find": (c_long, [c_void_p, c_char_p]),
    "intent_components_info": (c_int, [c_void_p, c_size_t, P(ComponentInfo)]),
    "intent_components_memory": (c_uint64, [c_void_p]),
    "intent_components_set_loaded": (c_int, [c_void_p, c_size_t, c_uint64]),
    "intent_components_plan": (c_int, [c_void_p, _strv, c_size_t, P(Plan), P(Error)]),
    "intent_components_acquire": (c_int, [c_void_p, _strv, c_size_t, P(Plan), P(Error)]),
    "intent_components_plan_scores": (c_int, [c_void_p, c_void_p, P(Score), c_size_t,
                                              P(Plan), P(Error)]),
    "intent_components_acquire_scores": (c_int, [c_void_p, c_void_p, P(Score), c_size_t,
                                                 P(Plan), P(Error)]),
    "intent_components_release": (c_int, [c_void_p, P(Plan)]),
    "intent_components_unload_idle": (c_int, [c_void_p, _sizep, P(Error)]),
    "intent_plan_free": (None, [P(Plan)]),
    # retraining
    "intent_retrain_opts_init": (None, [P(RetrainOpts)]),
    # serving
    "intent_service_new": (c_int, [P(c_void_p)]),
    "intent_service_free": (None, [c_void_p]),
    "intent_service_swap": (c_int, [c_void_p, c_void_p, _u64p]),
    "intent_service_load": (c_int, [c_void_p, c_char_p, P(Error)]),
    "intent_service_last_error": (c_size_t, [c_void_p, c_char_p, c_size_t]),
    "intent_service_acquire": (c_int, [c_void_p, P(Lease)]),
    "intent_service_release": (None, [c_void_p, P(Lease)]),
    "intent_service_predict": (c_int, [c_void_p, P(Lease), c_void_p, c_char_p, c_size_t,
                                       c_float, P(Score), c_size_t, _sizep, _sizep]),
    "intent_service_retrain": (c_int, [c_void_p, c_char_p, c_char_p, P(RetrainOpts),
                                       RETRAIN_DONE_FN, c_void_p]),
    "intent_service_retraining": (c_int, [c_void_p]),
    "intent_service_stats": (c_int, [c_void_p, P(Stats)]),
    "intent_stats_free": (None, [P(Stats)]),
    "intent_stats_bucket_us": (c_double, [c_size_t]),
    "intent_stats_format": (c_size_t, [P(Stats), c_char_p, c_size_t]),
    # the pool
    "intent_pool_new": (c_int, [c_void_p, c_uint32, c_uint32, c_uint32, P(c_void_p)]),
    "intent_pool_submit": (c_int, [c_void_p, c_char_p, c_size_t, RESULT_FN, c_void_p]),
    "intent_pool_stats": (c_int, [c_void_p, P(Stats)]),
    "intent_pool_free": (None, [c_void_p, c_int]),
}

for _name, (_res, _args) in _PROTOTYPES.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args


def has(name: str) -> bool:
    """Whether the loaded library exports name (for functions of later versions)."""
    return hasattr(lib, name)


def text(b: Optional[bytes]) -> Optional[str]:
    """A C string from the library as str (UTF-8; the library checks its strings)."""
    return None if b is None else b.decode("utf-8", "replace")


def f32(v: float) -> float:
    """A float32 value as the shortest decimal that reads back as it (0.28, not
    0.2800000011920929), for values a person set or reads: options, thresholds."""
    for digits in range(6, 10):
        x = float(f"{v:.{digits}g}")
        if ctypes.c_float(x).value == v:
            return x
    return v


def status_str(status: int) -> str:
    return text(lib.intent_status_str(status)) or f"status {status}"


version: str = text(lib.intent_version()) or "?"
if not version.startswith("0."):
    raise ImportError(f"intent: {path} is version {version}; this binding speaks 0.x")


class Handle:
    """A Python object owning one library handle in self._h (None once closed).

    Subclasses set _WHAT (for the "closed" error) and define close(), which must be safe
    to call twice and on a half-made object (__init__ may have failed before _h was set).
    """
    _WHAT = "handle"
    _h: Optional[int] = None

    def _handle(self) -> int:
        if self._h is None:
            raise ValueError(f"the {self._WHAT} is closed")
        return self._h

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone already
            pass
