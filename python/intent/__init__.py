"""intent: which labels apply to a short text, from Python (ctypes over libintent).

    import intent
    model = intent.train("examples/assistant.tsv", none_label="oos")
    model.predict("read me the document on my screen")
    # <Prediction 'read me the document on my screen': VOICE 0.894, VISION 0.882, FILES 0.838>
    await model.predict_async("can you see my screen")       # the library's thread pool answers
    await model.retrain_async("fb.log", "examples/assistant.tsv")  # swapped in when done
    router = intent.Router(model, "examples/components.json")
    await router.analyze("Can you see my screen?")           # {'screen', 'camera', 'ocr', 'vision'}

No compiler is needed: the package loads libintent.so (from $INTENT_LIBRARY, next to the
package, or the source tree's build/; see intent._lib). Failures of the library raise
IntentError subclasses carrying its message (intent.errors). The C header
include/intent.h is the manual behind every call.
"""
from __future__ import annotations

from . import _lib
from .dataset import Dataset, Example
from .errors import (ArgumentError, BusyError, Cancelled, ChecksumError, ComponentError,
                     EmptyError, FileError, FormatError, IntentError, LimitError,
                     NoMemoryError, NoModelError, ParseError, RejectedError, TimedOut,
                     VersionError)
from .feedback import FeedbackLog, FeedbackRecord, feedback, read_feedback
from .model import Model, Prediction, Retrained, Score, set_executor, stats
from .router import ComponentInfo, Plan, Router
from .train import EpochReport, default_options, train, train_async

__version__ = _lib.version
"""The version of the loaded library (the binding follows it)."""

library_path: str = _lib.path
"""The file the library was loaded from."""


def kernel() -> str:
    """The kernel set the library chose for this CPU ("avx2", "scalar", ...)."""
    return _lib.text(_lib.lib.intent_kernel_name()) or "?"


__all__ = [
    "Model", "Prediction", "Score", "Dataset", "Example", "train", "train_async",
    "default_options", "EpochReport", "feedback", "read_feedback", "FeedbackLog",
    "FeedbackRecord", "Router", "Plan", "ComponentInfo", "stats", "set_executor", "kernel",
    "IntentError", "ArgumentError", "NoMemoryError", "FileError", "ParseError",
    "FormatError", "VersionError", "ChecksumError", "LimitError", "EmptyError", "Cancelled",
    "ComponentError", "RejectedError", "BusyError", "TimedOut", "NoModelError", "Retrained",
    "library_path",
]
