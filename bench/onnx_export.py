#!/usr/bin/python3
"""An intent model's network as an ONNX graph, for the ONNX Runtime contender of
bench/compare.sh (bench/ort.js), built with python3-onnx from the NumPy weights.

Inputs, as the planned `intent export`: ``indices`` int64 [n][k] (bucket ids) and
``weights`` float [n][k] (their tf-idf weights, L2-normalized; pad with index 0, weight
0). Output ``confidences`` float [n][n_labels]. Per network:

    h = ReduceSum(Gather(W0, indices) * Unsqueeze(weights, 2), axis 1) + b0   [n][h1]
    h = MatMul(Relu(h), W) + b                                               per dense layer
    p = Sigmoid(h * (1 / T))

and the confidences are the mean of the networks' p. The featurizer runs outside the
graph: its settings, the idf and the decoding settings go to a JSON file beside it.
IR version 8, opset 13 (what python3-onnx 1.12's checker knows), checked with
onnx.checker.check_model(full_check=True).

Usage: /usr/bin/python3 bench/onnx_export.py MODEL OUT.onnx OUT.json
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pymodel  # noqa: E402


def build(mf: pymodel.ModelFile) -> Any:
    """An onnx.ModelProto: the graph of mf's ensemble (weights as initializers, int8 layers dequantized)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    mlp = pymodel.NumpyMLP(mf)
    n_labels = len(mf.meta["labels"])
    inits = [numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
             numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
             numpy_helper.from_array(np.array(1.0 / float(mlp.temperature), dtype=np.float32), "inv_t")]
    nodes = [helper.make_node("Unsqueeze", ["weights", "axis2"], ["w3"])]  # [n][k][1]
    outs = []
    for k, layers in enumerate(mlp.nets):
        p = f"net{k}"
        for l, (w, b) in enumerate(layers):
            inits.append(numpy_helper.from_array(np.ascontiguousarray(w, dtype=np.float32), f"{p}.l{l}.w"))
            inits.append(numpy_helper.from_array(np.ascontiguousarray(b, dtype=np.float32), f"{p}.l{l}.b"))
        nodes += [helper.make_node("Gather", [f"{p}.l0.w", "indices"], [f"{p}.rows"], axis=0),  # [n][k][h1]
                  helper.make_node("Mul", [f"{p}.rows", "w3"], [f"{p}.scaled"]),
                  helper.make_node("ReduceSum", [f"{p}.scaled", "axis1"], [f"{p}.sum"], keepdims=0),
                  helper.make_node("Add", [f"{p}.sum", f"{p}.l0.b"], [f"{p}.h0"])]
        h = f"{p}.h0"
        for l in range(1, len(layers)):
            nodes += [helper.make_node("Relu", [h], [f"{p}.a{l}"]),
                      helper.make_node("MatMul", [f"{p}.a{l}", f"{p}.l{l}.w"], [f"{p}.m{l}"]),
                      helper.make_node("Add", [f"{p}.m{l}", f"{p}.l{l}.b"], [f"{p}.h{l}"])]
            h = f"{p}.h{l}"
        nodes += [helper.make_node("Mul", [h, "inv_t"], [f"{p}.zt"]),
                  helper.make_node("Sigmoid", [f"{p}.zt"], [f"{p}.p"])]
        outs.append(f"{p}.p")
    if len(outs) == 1:
        nodes.append(helper.make_node("Identity", outs, ["confidences"]))
    else:
        inits.append(numpy_helper.from_array(np.array(1.0 / len(outs), dtype=np.float32), "inv_n"))
        nodes += [helper.make_node("Sum", outs, ["psum"]),
                  helper.make_node("Mul", ["psum", "inv_n"], ["confidences"])]
    graph = helper.make_graph(
        nodes, "intent",
        [helper.make_tensor_value_info("indices", TensorProto.INT64, ["n", "k"]),
         helper.make_tensor_value_info("weights", TensorProto.FLOAT, ["n", "k"])],
        [helper.make_tensor_value_info("confidences", TensorProto.FLOAT, ["n", n_labels])],
        inits)
    model = helper.make_model(graph, producer_name="intent bench/onnx_export.py",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def sidecar(mf: pymodel.ModelFile) -> dict[str, Any]:
    """What the featurizer and the decoder outside the graph need."""
    m, dec = mf.meta, pymodel.Decoder.from_model(mf)
    return {"seed": m["feat.seed"], "buckets": m["feat.buckets"], "word_ngrams": m["feat.word_ngrams"],
            "char_min": m["feat.char_min"], "char_max": m["feat.char_max"], "flags": m["feat.flags"],
            "labels": dec.labels, "threshold": dec.threshold, "max_labels": dec.max_labels,
            "min_labels": dec.min_labels, "idf": list(mf.floats("idf"))}


def main(argv: list[str]) -> int:
    """Writes the graph and its JSON sidecar."""
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    mf = pymodel.read_model(argv[1])
    with open(argv[2], "wb") as f:
        f.write(build(mf).SerializeToString())
    with open(argv[3], "w") as f:
        json.dump(sidecar(mf), f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
