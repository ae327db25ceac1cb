"""The ctypes structs against include/intent.h: a C program built from the declarations
in intent._lib prints, for every field, its offset and a word for its type, and the size of
every struct; they must match what ctypes computes. Needs a C compiler (skipped without)."""
import ctypes
import os
import shutil
import subprocess

import pytest

from intent import _lib

CC = os.environ.get("CC", "cc")

# The kind of a field, as C's _Generic sees its value (arrays decay to pointers).
C_KINDS = """
#define KIND(x) _Generic((x), \\
    int: "int", unsigned: "u32", float: "float", double: "double", \\
    unsigned long: "u64", unsigned long long: "u64", \\
    char *: "str", const char *: "str", const char *const *: "strv", char **: "strv", \\
    unsigned *: "u32p", unsigned char *: "u8p", int *: "intp", void *: "ptr", \\
    const intent_model *: "ptr", const char **: "strv", \\
    unsigned long *: "u64p", unsigned long long *: "u64p", \\
    intent_progress_fn: "progress_fn", intent_component_fn: "component_fn", \\
    intent_label_eval *: "label_eval_p", intent_label_count *: "label_count_p", \\
    intent_score *: "score_p", intent_train_opts: "train_opts", \\
    default: "other")
"""


def kind(ctype) -> str:
    """The kind word C_KINDS gives a field declared with this ctypes type."""
    simple = {ctypes.c_int: "int", ctypes.c_uint32: "u32", ctypes.c_float: "float",
              ctypes.c_double: "double", ctypes.c_uint64: "u64", ctypes.c_size_t: "u64",
              ctypes.c_char_p: "str", ctypes.c_void_p: "ptr"}
    if ctype in simple:
        return simple[ctype]
    if ctype is _lib.PROGRESS_FN:
        return "progress_fn"
    if ctype is _lib.COMPONENT_FN:
        return "component_fn"
    if ctype is _lib.TrainOpts:  # a struct inside a struct (intent_retrain_opts.train)
        return "train_opts"
    if issubclass(ctype, ctypes.Array):  # decays to a pointer to its element
        return {ctypes.c_char: "str", ctypes.c_uint32: "u32p", ctypes.c_uint64: "u64p",
                ctypes.c_char_p: "strv", _lib.Score: "score_p"}[ctype._type_]
    if issubclass(ctype, ctypes._Pointer):
        return {ctypes.c_char_p: "strv", ctypes.c_uint32: "u32p", ctypes.c_uint8: "u8p",
                ctypes.c_int: "intp", ctypes.c_char: "str",
                _lib.LabelEval: "label_eval_p", _lib.LabelCount: "label_count_p"}[ctype._type_]
    raise AssertionError(f"no kind for {ctype}")


@pytest.mark.skipif(shutil.which(CC) is None, reason="no C compiler to read the header with")
def test_structs_match_the_header(tmp_path):
    lines = ["#include <stddef.h>", "#include <stdio.h>", '#include "intent.h"', C_KINDS,
             "int main(void) {"]
    expect = []
    for s in _lib.STRUCTS:
        c = s._c_name_
        lines.append(f'    printf("{c} size %zu\\n", sizeof({c}));')
        expect.append(f"{c} size {ctypes.sizeof(s)}")
        for name, ctype in s._fields_:
            lines.append(f"    {{ {c} v; (void)v; printf(\"{c}.{name} %zu %s\\n\", "
                         f"offsetof({c}, {name}), KIND(v.{name})); }}")
            expect.append(f"{c}.{name} {getattr(s, name).offset} {kind(ctype)}")
    lines.append("    return 0;\n}\n")
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines))
    exe = tmp_path / "layout"
    include = _lib.Path(__file__).resolve().parents[2] / "include"
    subprocess.run([CC, "-std=c11", "-Wall", "-Werror", "-I", str(include), str(src),
                    "-o", str(exe)], check=True)
    got = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    assert got.splitlines() == expect


@pytest.mark.skipif(shutil.which(CC) is None, reason="no C compiler to read the header with")
def test_constants_match_the_header(tmp_path):
    consts = {"INTENT_MAX_HIDDEN": _lib.MAX_HIDDEN, "INTENT_STATS_BUCKETS": _lib.STATS_BUCKETS,
              "INTENT_RESULT_MAX": _lib.RESULT_MAX,
              "INTENT_POOL_MAX_THREADS": _lib.POOL_MAX_THREADS,
              "INTENT_POOL_MAX_QUEUE": _lib.POOL_MAX_QUEUE,
              "INTENT_POOL_MAX_BATCH": _lib.POOL_MAX_BATCH,
              "INTENT_POOL_DRAIN": _lib.POOL_DRAIN, "INTENT_POOL_CANCEL": _lib.POOL_CANCEL,
              "INTENT_ERR_BUSY": 13}
    src = tmp_path / "consts.c"
    src.write_text('#include <stdio.h>\n#include "intent.h"\nint main(void) {\n' +
                   "".join(f'    printf("{k} %llu\\n", (unsigned long long)({k}));\n'
                           for k in consts) + "    return 0;\n}\n")
    exe = tmp_path / "consts"
    include = _lib.Path(__file__).resolve().parents[2] / "include"
    subprocess.run([CC, "-std=c11", "-Wall", "-Werror", "-I", str(include), str(src), "-o",
                    str(exe)], check=True)
    got = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    assert got.splitlines() == [f"{k} {v}" for k, v in consts.items()]


def test_every_declared_function_is_exported():
    for name in _lib._PROTOTYPES:
        assert _lib.has(name), name
