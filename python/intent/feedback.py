"""The feedback log: corrected examples kept safe through crashes (intent_feedback_*).

    intent.feedback("fb.log", "read me the document on my screen", ["FILES", "VISION"])
    for r in intent.read_feedback("fb.log"): print(r.labels, r.text)
    model = intent.train(intent.Dataset.from_feedback("fb.log"), ...)

Each append is one write() made durable (fdatasync) before it returns, so it costs a disk
sync (hundreds of microseconds to milliseconds): in async code use FeedbackLog.append_async.
Any number of threads, handles and processes may append to one log; readers see the whole
records written before they started. The format and its guarantees: docs/FEEDBACK.md.
"""
from __future__ import annotations

import asyncio
import ctypes
import os
from ctypes import byref, c_size_t, c_uint64, c_void_p
from typing import Any, Dict, List, NamedTuple, Optional, Tuple, Union

from . import _lib
from ._lib import lib
from .dataset import Dataset, Labels, PathLike, encode, label_array
from .errors import check


class FeedbackRecord(NamedTuple):
    """One record of a log: the text, its correct labels (in the order appended), when it
    was appended (seconds since 1970, UTC) and its byte offset in the log."""
    text: str
    labels: Tuple[str, ...]
    time: float
    offset: int


class FeedbackLog(_lib.Handle):
    """An open feedback log (intent_feedback): append corrected examples.

    Opening creates the log if needed, and repairs a torn tail a crash left; a log damaged
    in the middle is refused (ChecksumError or FormatError naming the byte offset).
    Thread-safe. close() (or a with block, or garbage collection) closes it.
    """

    _WHAT = "feedback log"

    def __init__(self, path: PathLike) -> None:
        self.path = os.fspath(path)
        h, err = c_void_p(), _lib.new_struct(_lib.Error)
        check(lib.intent_feedback_open(os.fsencode(self.path), byref(h), byref(err)), err)
        self._h: Optional[int] = h.value

    def append(self, text: Union[str, bytes], labels: Labels) -> None:
        """Appends one record (durable when this returns). labels: names or "A,B". A bad
        text or label raises ArgumentError or LimitError before the file is touched."""
        b = encode(text)
        arr, n = label_array(labels)
        err = _lib.new_struct(_lib.Error)
        check(lib.intent_feedback_append(self._handle(), b, len(b), arr, n, byref(err)), err)

    async def append_async(self, text: Union[str, bytes], labels: Labels) -> None:
        """append on the event loop's default executor (the fdatasync does not block it)."""
        await asyncio.get_running_loop().run_in_executor(None, self.append, text, labels)

    def stats(self) -> Dict[str, int]:
        """n_records and bytes of the log as of this handle's last open or append, and
        torn_bytes, the bytes of torn tails this handle cut off."""
        st = _lib.new_struct(_lib.FeedbackStats)
        check(lib.intent_feedback_get_stats(self._handle(), byref(st)))
        return {"n_records": st.n_records, "bytes": st.bytes, "torn_bytes": st.torn_bytes}

    def close(self) -> None:
        h, self._h = getattr(self, "_h", None), None
        if h is not None:
            lib.intent_feedback_close(h)

    def __repr__(self) -> str:
        return f"<intent.FeedbackLog {self.path!r}{' closed' if self._h is None else ''}>"


def feedback(log_path: PathLike, text: Union[str, bytes], labels: Labels) -> None:
    """Appends one corrected example to the log at log_path (created if needed): opens,
    appends durably, closes. To append many, keep a FeedbackLog open."""
    with FeedbackLog(log_path) as log:
        log.append(text, labels)


def read_feedback(log_path: PathLike) -> List[FeedbackRecord]:
    """Every whole record of the log, in order. A torn tail (a crash mid-append) ends the
    log quietly; damage with whole records after it raises ChecksumError (or FormatError)
    naming its offset."""
    out: List[FeedbackRecord] = []
    state: Dict[str, BaseException] = {}

    def on_record(rp: Any, user: Any) -> int:
        try:
            r = rp.contents
            out.append(FeedbackRecord(
                ctypes.string_at(r.text, r.len).decode("utf-8", "replace"),
                tuple(_lib.text(r.labels[i]) or "" for i in range(r.n_labels)),
                r.time_ms / 1000.0, r.offset))
            return 0
        except BaseException as e:
            state["exc"] = e
            return 1

    fn = _lib.FEEDBACK_FN(on_record)
    err = _lib.new_struct(_lib.Error)
    rc = lib.intent_feedback_scan(os.fsencode(os.fspath(log_path)), fn, None, None, None,
                                  byref(err))
    if "exc" in state:
        raise state["exc"]
    check(rc, err)
    return out


def read_into(log_path: PathLike, ds: Dataset) -> Tuple[int, int]:
    """Appends the log's whole records to ds; returns (examples read, bytes skipped)."""
    n, skipped = c_size_t(), c_uint64()
    err = _lib.new_struct(_lib.Error)
    check(lib.intent_feedback_read(os.fsencode(os.fspath(log_path)), ds._handle(), byref(n),
                                   byref(skipped), byref(err)), err)
    return n.value, skipped.value
