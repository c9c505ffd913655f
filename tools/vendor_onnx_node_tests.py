#!/usr/bin/env python3
"""Vendors the ONNX backend node tests whose models use only the ops the converter covers into
tests/onnx_node/<test>/ (model.onnx + test_data_set_0/*.pb). The cases and their expected outputs come
from the `onnx` pip package's own definitions (onnx.backend.test.case.node, computed by its reference
implementations): recent wheels no longer ship the generated data directory, so it is generated here.

    python3 -m venv .venv && .venv/bin/pip install -r tools/requirements-onnx.txt
    .venv/bin/python tools/vendor_onnx_node_tests.py
"""
import pathlib
import shutil

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.test.case import node as node_cases

OPS = {
    "Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Exp", "Log", "Neg",
    "Abs", "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Clip",
    "Erf", "Gelu", "Softmax", "LogSoftmax", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
    "BatchNormalization", "InstanceNormalization", "LayerNormalization", "Flatten", "Reshape", "Transpose",
    "Concat", "Split", "Slice", "Squeeze", "Unsqueeze", "Pad", "ReduceMean", "ReduceSum", "ReduceMax",
    "ReduceMin", "Gather", "Shape", "Cast", "Constant", "ConstantOfShape", "Expand", "Where", "Identity",
    "Dropout", "ArgMax", "ArgMin",
}
MAX_BYTES = 2_000_000

root = pathlib.Path(__file__).resolve().parent.parent
dst = root / "tests/onnx_node"
shutil.rmtree(dst, ignore_errors=True)
dst.mkdir(parents=True)
kept, total = 0, 0
for case in sorted(node_cases.collect_testcases(), key=lambda c: c.name):
    model = case.model
    ops = {n.op_type for n in model.graph.node}
    if not ops or not ops <= OPS or any(n.domain not in ("", "ai.onnx") for n in model.graph.node):
        continue
    if not all(v.type.HasField("tensor_type") for v in list(model.graph.input) + list(model.graph.output)):
        continue
    inputs, outputs = case.data_sets[0]
    blobs = {"model.onnx": model.SerializeToString()}
    for kind, values, infos in (("input", inputs, model.graph.input), ("output", outputs, model.graph.output)):
        for j, (value, info) in enumerate(zip(values, infos)):
            proto = value if isinstance(value, onnx.TensorProto) else numpy_helper.from_array(np.asarray(value), info.name)
            blobs[f"test_data_set_0/{kind}_{j}.pb"] = proto.SerializeToString()
    size = sum(len(b) for b in blobs.values())
    if size > MAX_BYTES:
        continue
    out = dst / case.name
    (out / "test_data_set_0").mkdir(parents=True)
    for rel, blob in blobs.items():
        (out / rel).write_bytes(blob)
    kept += 1
    total += size
(dst / "ONNX_VERSION").write_text(onnx.__version__ + "\n")
print(f"vendored {kept} node tests ({total / 1e6:.1f} MB) from onnx {onnx.__version__} into {dst.relative_to(root)}")
