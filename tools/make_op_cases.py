#!/usr/bin/env python3
"""Targeted op cases with onnxruntime reference outputs, in the ONNX node-test layout, into tests/onnx_ops/:
odd GEMM/conv sizes, batch 1 and 7, broadcasting corners, fused patterns. Run by the same harness as the
ONNX backend node tests (crates/backend-tests/tests/onnx_node.rs).

    .venv/bin/python tools/make_op_cases.py
"""
import pathlib
import shutil

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

root = pathlib.Path(__file__).resolve().parent.parent / "tests/onnx_ops"
shutil.rmtree(root, ignore_errors=True)
rng = np.random.default_rng(11)


def case(name, nodes, inputs, outputs, feeds, inits=()):
    graph = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)
    out = root / name / "test_data_set_0"
    out.mkdir(parents=True)
    (root / name / "model.onnx").write_bytes(model.SerializeToString())
    session = ort.InferenceSession(model.SerializeToString())
    results = session.run(None, feeds)
    for i, (info, value) in enumerate(zip(inputs, feeds.values())):
        (out / f"input_{i}.pb").write_bytes(numpy_helper.from_array(value, info.name).SerializeToString())
    for i, (info, value) in enumerate(zip(outputs, results)):
        (out / f"output_{i}.pb").write_bytes(numpy_helper.from_array(value, info.name).SerializeToString())


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def tinfo(name, shape):
    if shape is None:
        info = onnx.ValueInfoProto(name=name)
        info.type.tensor_type.elem_type = TensorProto.FLOAT
        return info
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


# GEMM/MatMul at sizes that straddle the 4x8 micro-tile, with constant weights (packed path) and batch 1/7.
for m, k, n in [(1, 1, 1), (1, 3, 5), (7, 17, 9), (7, 33, 65), (13, 64, 8), (5, 129, 31)]:
    w, b = f32(k, n), f32(n)
    case(f"gemm_const_{m}x{k}x{n}", [helper.make_node("Gemm", ["x", "w", "b"], ["y"], alpha=0.7, beta=1.3)],
         [tinfo("x", [m, k])], [tinfo("y", [m, n])], {"x": f32(m, k)},
         [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    case(f"matmul_relu_bias_{m}x{k}x{n}",
         [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "b"], ["a"]), helper.make_node("Relu", ["a"], ["y"])],
         [tinfo("x", ["N", k])], [tinfo("y", ["N", n])], {"x": f32(m, k)},
         [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])

# Batched MatMul with broadcast batch dims, both operands at run time.
for a_shape, b_shape in [([7, 3, 5], [5, 4]), ([2, 1, 3, 6], [4, 6, 2]), ([5], [5, 3]), ([3, 5], [5]), ([1, 4, 9], [7, 9, 3])]:
    name = "matmul_" + "x".join(map(str, a_shape)) + "_by_" + "x".join(map(str, b_shape))
    case(name, [helper.make_node("MatMul", ["a", "b"], ["y"])], [tinfo("a", a_shape), tinfo("b", b_shape)], [tinfo("y", None)],
         {"a": f32(*a_shape), "b": f32(*b_shape)})

# Conv: odd spatial sizes, strides, dilations, groups, depthwise, pointwise, asymmetric pads, batch 1 and 7,
# with BatchNorm and activations to fold and fuse.
conv_cases = [
    ("conv3x3_b7", 7, 3, 5, 11, 13, 3, dict(pads=[1, 1, 1, 1])),
    ("conv3x3_stride2_b1", 1, 4, 6, 9, 10, 3, dict(pads=[1, 1, 1, 1], strides=[2, 2])),
    ("conv5x5_dilated", 2, 3, 4, 15, 12, 5, dict(pads=[4, 4, 4, 4], dilations=[2, 2])),
    ("conv_grouped", 3, 6, 9, 8, 8, 3, dict(group=3, pads=[1, 0, 1, 2])),
    ("conv_depthwise_b7", 7, 8, 8, 13, 9, 3, dict(group=8, pads=[1, 1, 1, 1], strides=[2, 1])),
    ("conv_pointwise", 2, 16, 24, 7, 7, 1, dict()),
    ("conv_same_upper", 1, 3, 4, 10, 7, 4, dict(auto_pad="SAME_UPPER", strides=[2, 2])),
    ("conv1d", 7, 3, 5, 21, None, 3, dict(pads=[1, 2], strides=[2])),
]
for name, n, ci, co, h, w, k, attrs in conv_cases:
    group = attrs.get("group", 1)
    spatial = [h] if w is None else [h, w]
    kernel = [k] * len(spatial)
    weight = f32(co, ci // group, *kernel) * 0.3
    bias = f32(co)
    scale, shift, mean, var = rng.uniform(0.5, 1.5, co).astype(np.float32), f32(co), f32(co), rng.uniform(0.5, 2, co).astype(np.float32)
    inits = [numpy_helper.from_array(v, nm) for v, nm in [(weight, "w"), (bias, "b"), (scale, "s"), (shift, "t"), (mean, "m"), (var, "v")]]
    act = helper.make_node("Clip", ["bn"], ["y"], min=0.0, max=6.0) if "depthwise" in name else helper.make_node("LeakyRelu", ["bn"], ["y"], alpha=0.1)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], **attrs),
             helper.make_node("BatchNormalization", ["c", "s", "t", "m", "v"], ["bn"], epsilon=1e-3), act]
    if "depthwise" in name:
        nodes[-1] = helper.make_node("Clip", ["bn", "lo", "hi"], ["y"])
        inits += [numpy_helper.from_array(np.array(0.0, np.float32), "lo"), numpy_helper.from_array(np.array(6.0, np.float32), "hi")]
    case(name, nodes, [tinfo("x", ["N", ci, *spatial])], [tinfo("y", None)], {"x": f32(n, ci, *spatial)}, inits)

# Broadcasting corners for every binary op.
shapes = [([2, 3, 4], [4]), ([2, 3, 4], [3, 1]), ([1], [2, 3]), ([2, 1, 4], [1, 3, 1]), ([5, 1, 1, 3], [1, 2, 1]), ([], [3, 2]), ([3, 1, 2], [3, 4, 2])]
for op in ["Add", "Sub", "Mul", "Div", "Max", "Min", "PRelu"]:
    for i, (a, b) in enumerate(shapes):
        if op == "PRelu" and np.broadcast_shapes(tuple(a), tuple(b)) != tuple(a):
            continue
        bval = f32(*b) if op != "Div" else (np.abs(f32(*b)) + 0.5)
        case(f"bcast_{op.lower()}_{i}", [helper.make_node(op, ["a", "b"], ["y"])], [tinfo("a", a), tinfo("b", b)], [tinfo("y", None)],
             {"a": f32(*a), "b": bval.astype(np.float32)})

# Pooling and softmax at odd sizes and batch 7.
case("maxpool_3x3_s2_ceil_b7", [helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)],
     [tinfo("x", [7, 3, 10, 9])], [tinfo("y", None)], {"x": f32(7, 3, 10, 9)})
case("avgpool_pads_exclude_b7", [helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])],
     [tinfo("x", [7, 2, 9, 11])], [tinfo("y", None)], {"x": f32(7, 2, 9, 11)})
case("softmax_axis1_b7", [helper.make_node("Softmax", ["x"], ["y"], axis=1)], [tinfo("x", [7, 10, 3])], [tinfo("y", None)], {"x": f32(7, 10, 3) * 5})
case("global_avg_then_gemm", [helper.make_node("GlobalAveragePool", ["x"], ["g"]), helper.make_node("Flatten", ["g"], ["f"]),
                              helper.make_node("Gemm", ["f", "w", "b"], ["y"], transB=1)],
     [tinfo("x", ["N", 6, 5, 7])], [tinfo("y", None)], {"x": f32(7, 6, 5, 7)},
     [numpy_helper.from_array(f32(4, 6), "w"), numpy_helper.from_array(f32(4), "b")])

# Patterns the converter folds into Conv: per-channel Mul/Add after a depthwise conv (tf2onnx's BatchNorm),
# then Relu6; a zero Pad before a strided conv; and a non-zero Pad that must stay a Pad.
case("depthwise_mul_add_relu6_b7",
     [helper.make_node("Conv", ["x", "w"], ["c"], group=6, pads=[1, 1, 1, 1]), helper.make_node("Mul", ["c", "s"], ["m"]),
      helper.make_node("Add", ["m", "t"], ["a"]), helper.make_node("Clip", ["a", "lo", "hi"], ["y"])],
     [tinfo("x", ["N", 6, 9, 8])], [tinfo("y", None)], {"x": f32(7, 6, 9, 8) * 3},
     [numpy_helper.from_array(f32(6, 1, 3, 3), "w"), numpy_helper.from_array(f32(6, 1, 1), "s"),
      numpy_helper.from_array(f32(1, 6, 1, 1), "t"), numpy_helper.from_array(np.array(0, np.float32), "lo"),
      numpy_helper.from_array(np.array(6, np.float32), "hi")])
case("zero_pad_then_conv_s2_b7",
     [helper.make_node("Pad", ["x", "pads"], ["p"]), helper.make_node("Conv", ["p", "w", "b"], ["y"], strides=[2, 2])],
     [tinfo("x", ["N", 3, 10, 9])], [tinfo("y", None)], {"x": f32(7, 3, 10, 9)},
     [numpy_helper.from_array(np.array([0, 0, 0, 1, 0, 0, 1, 1], np.int64), "pads"),
      numpy_helper.from_array(f32(4, 3, 3, 3), "w"), numpy_helper.from_array(f32(4), "b")])
case("valued_pad_then_conv_b7",
     [helper.make_node("Pad", ["x", "pads", "v"], ["p"]), helper.make_node("Conv", ["p", "w"], ["y"])],
     [tinfo("x", ["N", 2, 6, 7])], [tinfo("y", None)], {"x": f32(7, 2, 6, 7)},
     [numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads"),
      numpy_helper.from_array(np.array(0.5, np.float32), "v"), numpy_helper.from_array(f32(3, 2, 3, 3), "w")])
print("wrote", len(list(root.iterdir())), "op cases to", root)
