#!/usr/bin/env python3
"""Builds small ONNX fixtures with onnxruntime reference outputs into tests/fixtures/onnx/.

    .venv/bin/pip install -r tools/requirements-onnx.txt && .venv/bin/python tools/make_onnx_fixtures.py
"""
import pathlib

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

out = pathlib.Path(__file__).resolve().parent.parent / "tests/fixtures/onnx"
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(7)


def init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def convnet():
    """Conv+BN+Relu, MaxPool, depthwise Conv+Clip(0,6), a PyTorch-style dynamic flatten, Gemm, Softmax."""
    c1, c2 = 8, 8
    inits = [
        init("w1", rng.normal(0, 0.3, (c1, 1, 3, 3)).astype(np.float32)),
        init("b1", rng.normal(0, 0.1, c1).astype(np.float32)),
        init("bn_scale", rng.uniform(0.5, 1.5, c1).astype(np.float32)),
        init("bn_bias", rng.normal(0, 0.1, c1).astype(np.float32)),
        init("bn_mean", rng.normal(0, 0.1, c1).astype(np.float32)),
        init("bn_var", rng.uniform(0.5, 1.5, c1).astype(np.float32)),
        init("w2", rng.normal(0, 0.3, (c2, 1, 3, 3)).astype(np.float32)),
        init("b2", rng.normal(0, 0.1, c2).astype(np.float32)),
        init("w3", rng.normal(0, 0.1, (10, c2 * 7 * 7)).astype(np.float32)),
        init("b3", rng.normal(0, 0.1, 10).astype(np.float32)),
        init("zero", np.array([0], dtype=np.int64)),
        init("minus_one", np.array([-1], dtype=np.int64)),
        init("clip_min", np.array(0.0, dtype=np.float32)),
        init("clip_max", np.array(6.0, dtype=np.float32)),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "bn_scale", "bn_bias", "bn_mean", "bn_var"], ["bn1"], name="bn1", epsilon=1e-3),
        helper.make_node("Relu", ["bn1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], name="dwconv", group=c2, pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Clip", ["c2", "clip_min", "clip_max"], ["r2"], name="relu6"),
        helper.make_node("Shape", ["r2"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["n"], name="batch_dim", axis=0),
        helper.make_node("Concat", ["n", "minus_one"], ["flat_shape"], name="flat_shape", axis=0),
        helper.make_node("Reshape", ["r2", "flat_shape"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes, "convnet",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 10])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="webinfer-fixtures", ir_version=10)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, out / "convnet.onnx")
    session = ort.InferenceSession(str(out / "convnet.onnx"))
    for batch in (1, 3):
        x = rng.uniform(0, 1, (batch, 1, 28, 28)).astype(np.float32)
        np.save(out / f"convnet_input_b{batch}.npy", x)
        np.save(out / f"convnet_ort_b{batch}.npy", session.run(None, {"x": x})[0])


def unsupported():
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"), helper.make_node("Det", ["r"], ["y"], name="determinant")]
    graph = helper.make_graph(nodes, "unsupported", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), out / "unsupported_op.onnx")
    nodes = [helper.make_node("FancyActivation", ["x"], ["y"], name="custom", domain="com.example")]
    graph = helper.make_graph(nodes, "custom", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)]), out / "custom_domain.onnx")


convnet()
unsupported()
print("wrote", sorted(p.name for p in out.iterdir()))
