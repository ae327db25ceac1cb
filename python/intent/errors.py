"""Exceptions: one class per status code of the library (enum intent_status).

Every failure of a library call raises an IntentError subclass whose message is the
library's own ("examples/bad.tsv:2: no tab between labels and text", "model.intent: CRC
mismatch ..."), and whose status is the C status code. Each class also derives from the
built-in exception a Python caller would expect to catch: ArgumentError is a ValueError,
FileError an OSError, NoMemoryError a MemoryError, and so on. Codes this binding does not
know yet (the enum only grows) raise IntentError itself.

Mistakes caught in Python before any C call (an unknown option name, a closed model) raise
the ordinary TypeError and ValueError.
"""
from __future__ import annotations

from typing import Dict, NoReturn, Optional, Type

from . import _lib


class IntentError(Exception):
    """A library call failed. status: the C status code; message: the library's message."""

    status: int
    message: str

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    @property
    def status_name(self) -> str:
        """The status as the library describes it, e.g. "malformed training or test data"."""
        return _lib.status_str(self.status)

    def __reduce__(self):  # so that exceptions cross process pools intact
        return (self.__class__, (self.status, self.message))


class ArgumentError(IntentError, ValueError):
    """INTENT_ERR_ARG: a bad argument (an invalid label name, an option out of range)."""


class NoMemoryError(IntentError, MemoryError):
    """INTENT_ERR_NOMEM: an allocation failed."""


class FileError(IntentError, OSError):
    """INTENT_ERR_IO: a file could not be opened, read or written."""

    def __new__(cls, status: int, message: str):  # OSError would read (status, message)
        return OSError.__new__(cls, message)    # as (errno, strerror)


class ParseError(IntentError, ValueError):
    """INTENT_ERR_PARSE: malformed training or test data; the message says FILE:LINE."""


class FormatError(IntentError, ValueError):
    """INTENT_ERR_FORMAT: a malformed, truncated or foreign model file or feedback log."""


class VersionError(FormatError):
    """INTENT_ERR_VERSION: a model file or log of a newer major version."""


class ChecksumError(FormatError):
    """INTENT_ERR_CHECKSUM: a damaged file (CRC mismatch)."""


class LimitError(IntentError, ValueError):
    """INTENT_ERR_LIMIT: a documented limit was exceeded (labels, sizes, the budget)."""


class EmptyError(IntentError, ValueError):
    """INTENT_ERR_EMPTY: nothing to learn from (no examples, no labels)."""


class Cancelled(IntentError):
    """INTENT_ERR_CANCELLED: stopped by a callback (a progress callback asked to stop), or
    by a shutdown (a model closed while a retrain or pool answers were pending)."""


class ComponentError(IntentError):
    """INTENT_ERR_COMPONENT: a component's load or unload failed. plan (Router) tells which."""

    plan = None  # the intent.router.Plan of the failed call, when there is one


class RejectedError(IntentError):
    """INTENT_ERR_REJECTED: a retrained model scored worse than allowed (max_drop) and was
    not made; the served model stays. report (Model.retrain_async) has the scores."""

    report = None  # the retrain's figures (a dict), when there are some


class BusyError(IntentError):
    """INTENT_ERR_BUSY: a queue is full (the pool's, after Model.predict_async waited
    busy_timeout seconds for room), or a background retrain is already running."""


class TimedOut(IntentError, TimeoutError):
    """INTENT_ERR_TIMEOUT: not done within the time given."""

    def __new__(cls, status: int, message: str):  # TimeoutError is an OSError: see FileError
        return TimeoutError.__new__(cls, message)


class NoModelError(IntentError):
    """INTENT_ERR_NO_MODEL: a service had no model to answer with."""


_BY_STATUS: Dict[int, Type[IntentError]] = {
    1: ArgumentError, 2: NoMemoryError, 3: FileError, 4: ParseError, 5: FormatError,
    6: VersionError, 7: ChecksumError, 8: LimitError, 9: EmptyError, 10: Cancelled,
    11: ComponentError, 12: RejectedError, 13: BusyError, 14: TimedOut, 15: NoModelError,
}


for _cls in (IntentError, *_BY_STATUS.values()):
    _cls.__module__ = "intent"  # tracebacks say intent.ParseError, the name users import


def error_for(status: int, message: Optional[str] = None) -> IntentError:
    """The exception for a status code, with message (the status description if empty)."""
    msg = message or _lib.status_str(status)
    return _BY_STATUS.get(status, IntentError)(status, msg)


def raise_for(status: int, message: Optional[str] = None) -> NoReturn:
    raise error_for(status, message)


def check(status: int, err: Optional[_lib.Error] = None, message: Optional[str] = None) -> None:
    """Raises for a non-zero status, with the message of err (an intent_error) or message."""
    if status:
        if err is not None and err.message:
            message = err.message.decode("utf-8", "replace")
        raise_for(status, message)
