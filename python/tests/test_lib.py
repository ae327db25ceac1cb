"""Finding the library, and the exceptions' mapping of status codes."""
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import intent
from intent import _lib, errors

PYTHON_DIR = str(Path(__file__).resolve().parents[1])


def run_python(code, **env):
    e = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    e.pop("INTENT_LIBRARY", None)
    e.update(env)
    return subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True)


def test_library_found_in_the_source_tree():
    if not (Path(PYTHON_DIR).parent / "build" / "libintent.so").exists():
        pytest.skip("no plain build in build/ (a sanitizer build lives in a folder of its own)")
    p = run_python("import intent; print(intent.library_path, intent.__version__)")
    assert p.returncode == 0, p.stderr
    path, version = p.stdout.split()
    assert path.endswith("build/libintent.so") and version == intent.__version__


def test_intent_library_names_the_file():
    p = run_python("import intent; print(intent.library_path)", INTENT_LIBRARY=intent.library_path)
    assert p.returncode == 0 and p.stdout.strip() == intent.library_path
    p = run_python("import intent", INTENT_LIBRARY="/nonexistent/libintent.so")
    assert p.returncode != 0
    assert "ImportError" in p.stderr and "/nonexistent/libintent.so" in p.stderr
    assert "INTENT_LIBRARY" in p.stderr


def test_version_and_kernel():
    assert intent.__version__.startswith("0.")
    assert intent.kernel() in ("avx2", "scalar", "neon") or intent.kernel()


def test_status_codes_map_to_classes():
    cases = {1: (intent.ArgumentError, ValueError), 2: (intent.NoMemoryError, MemoryError),
             3: (intent.FileError, OSError), 4: (intent.ParseError, ValueError),
             5: (intent.FormatError, ValueError), 6: (intent.VersionError, intent.FormatError),
             7: (intent.ChecksumError, intent.FormatError), 8: (intent.LimitError, ValueError),
             9: (intent.EmptyError, ValueError), 10: (intent.Cancelled, intent.IntentError),
             11: (intent.ComponentError, intent.IntentError),
             12: (intent.RejectedError, intent.IntentError),
             13: (intent.BusyError, intent.IntentError), 14: (intent.TimedOut, TimeoutError),
             15: (intent.NoModelError, intent.IntentError)}
    for status, (cls, base) in cases.items():
        e = errors.error_for(status, "the message")
        assert type(e) is cls and isinstance(e, base) and isinstance(e, intent.IntentError)
        assert e.status == status and str(e) == "the message" == e.message
        assert e.status_name == _lib.status_str(status)
        back = pickle.loads(pickle.dumps(e))
        assert type(back) is cls and back.status == status and back.message == "the message"
    unknown = errors.error_for(999)
    assert type(unknown) is intent.IntentError and unknown.message  # the library's words
    assert errors.error_for(4).message == _lib.status_str(4)
    assert intent.FileError(3, "x").errno is None  # not read as (errno, strerror)
    assert intent.TimedOut(14, "x").errno is None


def test_new_struct_leaves_slack():
    s = _lib.new_struct(_lib.TrainOpts)
    assert len(bytes(s._slack_buffer)) == _lib.ctypes.sizeof(_lib.TrainOpts) + _lib.SLACK


@pytest.mark.parametrize("name", intent.__all__)
def test_public_names_have_docstrings(name):
    obj = getattr(intent, name)
    if callable(obj):
        assert obj.__doc__, name
