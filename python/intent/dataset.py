"""Datasets: labelled examples for training and evaluation (intent_dataset)."""
from __future__ import annotations

import ctypes
import os
from typing import Iterable, Iterator, List, NamedTuple, Optional, Tuple, Union

from . import _lib
from ._lib import lib
from .errors import check

PathLike = Union[str, "os.PathLike[str]"]
Labels = Union[str, Iterable[str]]
"""Labels of an example: a sequence of names, or one string of names joined by commas."""


class Example(NamedTuple):
    text: str
    labels: Tuple[str, ...]


def encode(text: Union[str, bytes]) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8")


def label_array(labels: Labels) -> Tuple["ctypes.Array[ctypes.c_char_p]", int]:
    """labels as a C array of names ("A,B" splits at commas; spaces around names go)."""
    if isinstance(labels, (str, bytes)):
        s = labels.decode("utf-8") if isinstance(labels, bytes) else labels
        names = [p.strip() for p in s.split(",")]
    else:
        names = [x if isinstance(x, str) else str(x) for x in labels]
    arr = (ctypes.c_char_p * max(1, len(names)))(*[n.encode("utf-8") for n in names])
    return arr, len(names)


def _fspath(path: PathLike) -> bytes:
    return os.fsencode(os.fspath(path))


def _format(fmt: Union[str, int]) -> int:
    if isinstance(fmt, int):
        return fmt
    try:
        return _lib.FORMATS[fmt.lower()]
    except KeyError:
        raise ValueError(f"unknown data format {fmt!r} (known: auto, tsv, fasttext, jsonl)") \
            from None


class Dataset(_lib.Handle):
    """Labelled examples, kept in the library (intent_dataset).

    Dataset(examples) takes (text, labels) pairs; Dataset.from_file reads a TSV, fastText
    or JSONL file (see README "Data formats"); Dataset.from_feedback reads a feedback log.
    A malformed line raises ParseError("FILE:LINE: what is wrong") and adds nothing of the
    file. A Dataset is used by one thread at a time; close() frees it (also at garbage
    collection, or at the end of a with block).
    """

    _WHAT = "dataset"

    def __init__(self, examples: Iterable[Tuple[Union[str, bytes], Labels]] = ()) -> None:
        h = ctypes.c_void_p()
        check(lib.intent_dataset_new(ctypes.byref(h)))
        self._h: Optional[int] = h.value
        for text, labels in examples:
            self.add(text, labels)

    # -- making --

    @classmethod
    def from_file(cls, path: PathLike, format: Union[str, int] = "auto") -> "Dataset":
        """Reads every example of a file; format: auto (by extension, else content), tsv,
        fasttext or jsonl."""
        ds = cls()
        ds.read_file(path, format)
        return ds

    @classmethod
    def from_string(cls, data: Union[str, bytes], name: str = "<string>",
                    format: Union[str, int] = "auto") -> "Dataset":
        """Reads examples from data, in one of the file formats; name is used in messages."""
        ds = cls()
        ds.read_string(data, name, format)
        return ds

    @classmethod
    def from_feedback(cls, log_path: PathLike) -> "Dataset":
        """The whole records of a feedback log (see intent.feedback), ready to train on."""
        from .feedback import read_into
        ds = cls()
        read_into(log_path, ds)
        return ds

    def add(self, text: Union[str, bytes], labels: Labels) -> None:
        """Appends one example: a non-empty text and at least one label."""
        b = encode(text)
        arr, n = label_array(labels)
        rc = lib.intent_dataset_add(self._handle(), b, len(b), arr, n)
        check(rc, message=self.errmsg)

    def extend(self, examples: Iterable[Tuple[Union[str, bytes], Labels]]) -> None:
        for text, labels in examples:
            self.add(text, labels)

    def read_file(self, path: PathLike, format: Union[str, int] = "auto") -> None:
        check(lib.intent_dataset_read_file(self._handle(), _fspath(path), _format(format)),
              message=self.errmsg)

    def read_string(self, data: Union[str, bytes], name: str = "<string>",
                    format: Union[str, int] = "auto") -> None:
        b = encode(data)
        check(lib.intent_dataset_read_mem(self._handle(), name.encode("utf-8"), b, len(b),
                                          _format(format)), message=self.errmsg)

    # -- reading --

    def __len__(self) -> int:
        return lib.intent_dataset_size(self._handle())

    @property
    def labels(self) -> Tuple[str, ...]:
        """Label names in order of first appearance."""
        h = self._handle()
        return tuple(_lib.text(lib.intent_dataset_label(h, i)) or ""
                     for i in range(lib.intent_dataset_n_labels(h)))

    def __getitem__(self, i: int) -> Example:
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("dataset index out of range")
        h = self._handle()
        ln, nl = ctypes.c_size_t(), ctypes.c_size_t()
        ids = ctypes.POINTER(ctypes.c_uint32)()
        p = lib.intent_dataset_example(h, i, ctypes.byref(ln), ctypes.byref(ids),
                                       ctypes.byref(nl))
        text = ctypes.string_at(p, ln.value).decode("utf-8", "replace")
        names = tuple(_lib.text(lib.intent_dataset_label(h, ids[k])) or ""
                      for k in range(nl.value))
        return Example(text, names)

    def __iter__(self) -> Iterator[Example]:
        for i in range(len(self)):
            yield self[i]

    def examples(self) -> List[Example]:
        return list(self)

    @property
    def errmsg(self) -> str:
        """The last error message of the dataset, "" if none."""
        return _lib.text(lib.intent_dataset_errmsg(self._handle())) or ""

    # -- life --

    def close(self) -> None:
        h, self._h = getattr(self, "_h", None), None
        if h is not None:
            lib.intent_dataset_free(h)

    def __repr__(self) -> str:
        if self._h is None:
            return "<intent.Dataset closed>"
        return f"<intent.Dataset {len(self)} examples, {len(self.labels)} labels>"


def as_dataset(data: Union["Dataset", PathLike, Iterable[Tuple[str, Labels]]],
               format: Union[str, int] = "auto") -> Tuple["Dataset", bool]:
    """data as a Dataset, and whether it was made here (then the caller closes it)."""
    if isinstance(data, Dataset):
        return data, False
    if isinstance(data, (str, bytes, os.PathLike)):
        return Dataset.from_file(data if not isinstance(data, bytes) else os.fsdecode(data),
                                 format), True
    return Dataset(data), True


__all__ = ["Dataset", "Example", "Labels"]
