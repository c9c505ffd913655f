#!/usr/bin/env python3
"""Writes a ~100 MB ONNX MLP with random weights (for `make bench-convert`; not committed).

    .venv/bin/python tools/make_big_onnx.py OUT.onnx
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

width, layers = 2560, 4
rng = np.random.default_rng(0)
nodes, inits, prev = [], [], "x"
for i in range(layers):
    inits.append(numpy_helper.from_array(rng.standard_normal((width, width), dtype=np.float32) * 0.02, f"w{i}"))
    inits.append(numpy_helper.from_array(np.zeros(width, np.float32), f"b{i}"))
    nodes.append(helper.make_node("Gemm", [prev, f"w{i}", f"b{i}"], [f"h{i}"], name=f"fc{i}"))
    nodes.append(helper.make_node("Relu", [f"h{i}"], [f"r{i}"], name=f"relu{i}"))
    prev = f"r{i}"
graph = helper.make_graph(nodes, "big_mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", width])],
                          [helper.make_tensor_value_info(prev, TensorProto.FLOAT, ["N", width])], inits)
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10), sys.argv[1])
