//! The op set: plan-time shape and parameter resolution for every IR op, and the CPU kernels they run.
//!
//! `plan_node` turns one node plus its input shapes (and any values known at plan time) into either
//! plan-time values (shape arithmetic, folded constants) or a `Kernel` with every size fixed.

pub mod conv;
pub mod elementwise;
pub mod gemm;
pub mod layout;
pub mod norm;
pub mod pool;
pub mod reduce;

use conv::{resolve_axis, Conv, ConvGeometry, ConvTranspose, Window};
use elementwise::{Binary, Broadcast, Unary};
use gemm::{gemm_packed, pack_a_into, pack_b, pack_b_into, Activation, Bias, Packed, MR, NR};
use layout::{IndexMap, PadMode};
use pool::Pool;
use reduce::{Reduce, ReduceKind};

use std::cell::OnceCell;
use std::sync::Arc;

use crate::json::{Attr, Node};
use crate::tensor::{broadcast_shapes, normalize_axis, Data, Tensor};
use crate::Error;

/// One input of a node as the planner sees it.
#[derive(Clone, Copy)]
pub struct Input<'a> {
    pub shape: &'a [usize],
    pub value: Option<&'a Tensor>,
    /// The same value, shareable: kernels keep constant weights without copying them.
    pub shared: Option<&'a Arc<Tensor>>,
}

/// What planning a node produced.
pub enum Planned {
    /// Values computed at plan time (e.g. Shape, ConstantOfShape).
    Values(Vec<Tensor>),
    /// A kernel reading the node inputs at `reads`, writing outputs of `out_shapes`.
    Kernel { kernel: Kernel, reads: Vec<usize>, out_shapes: Vec<Vec<usize>> },
}

/// A CPU kernel with every size and constant operand fixed at plan time.
#[derive(Clone, Debug)]
pub enum Kernel {
    Unary(Unary),
    Binary(Binary, Broadcast),
    Where(Vec<usize>, [Vec<usize>; 3]),
    Map(IndexMap),
    Copy,
    Concat {
        outer: usize,
        blocks: Vec<usize>,
    },
    Split {
        outer: usize,
        block: usize,
        parts: Vec<usize>,
    },
    MatMul(Box<MatMul>),
    Conv(Box<ConvKernel>),
    ConvTranspose(Box<ConvTranspose>),
    Pool(Box<Pool>),
    GlobalPool {
        inner: usize,
        max: bool,
    },
    ChannelAffine {
        scale: Vec<f32>,
        shift: Vec<f32>,
        inner: usize,
    },
    /// BatchNormalization whose parameters arrive at run time: reads x, scale, B, mean, var.
    BatchNormRuntime {
        eps: f32,
        inner: usize,
    },
    Normalize {
        inner: usize,
        eps: f32,
        per_element: bool,
        scale_bias: Option<(Vec<f32>, Vec<f32>)>,
    },
    /// LayerNormalization whose scale (and bias) arrive at run time, broadcast over the normalized axes.
    LayerNormRuntime {
        inner: usize,
        eps: f32,
        scale_map: IndexMap,
        bias_map: Option<IndexMap>,
    },
    /// Clip whose bounds arrive at run time (reads x, then min and/or max).
    ClipRuntime {
        has_min: bool,
        has_max: bool,
    },
    /// An index map whose pad value arrives at run time (reads x, value).
    MapRuntimePad(IndexMap),
    Softmax {
        outer: usize,
        len: usize,
        inner: usize,
        log: bool,
    },
    Reduce(Box<Reduce>),
}

/// A matrix multiply (MatMul or Gemm) over broadcast batches.
#[derive(Clone, Debug)]
pub struct MatMul {
    pub(crate) m: usize,
    pub(crate) n: usize,
    pub(crate) k: usize,
    /// Per batch: element offsets into A, B and C.
    pub(crate) batches: Vec<(usize, usize, usize)>,
    pub(crate) a_strides: (usize, usize),
    pub(crate) b_strides: (usize, usize),
    /// A constant B (single batch matrix), packed with alpha folded in on first use.
    pub(crate) b_const: Option<ConstPanel>,
    pub(crate) alpha: f32,
    pub(crate) bias: MatBias,
    pub(crate) act: Activation,
}

/// A constant GEMM operand packed lazily, once: planning for shapes alone never pays for packing.
#[derive(Clone, Debug)]
pub(crate) struct ConstPanel {
    pub(crate) source: Arc<Tensor>,
    packed: OnceCell<Packed>,
}

impl ConstPanel {
    fn new(source: &Arc<Tensor>) -> Self {
        ConstPanel { source: Arc::clone(source), packed: OnceCell::new() }
    }
}

/// The additive term of a Gemm.
#[derive(Clone, Debug)]
pub(crate) enum MatBias {
    None,
    /// Constant per-column values (beta folded in), fused into the GEMM epilogue.
    Col(Vec<f32>),
    /// Any broadcastable C (const or read at run time as input 2), added after the product.
    Broadcast {
        beta: f32,
        map: IndexMap,
        constant: Option<Vec<f32>>,
    },
}

/// A convolution whose weights are packed at plan time, or at each run when they are not constant.
#[derive(Clone, Debug)]
pub struct ConvKernel {
    /// Constant weights and bias, packed into `prepared` on first use.
    pub(crate) constant: Option<(Arc<Tensor>, Vec<f32>)>,
    pub(crate) prepared: OnceCell<Conv>,
    pub(crate) geometry: ConvGeometry,
    pub(crate) act: Activation,
}

fn op_err(node: &Node, msg: impl std::fmt::Display) -> Error {
    Error::Op { op: node.op.clone(), node: node.name.clone(), msg: msg.to_string() }
}

/// An integer parameter given either as a constant input `idx` or as attribute `attr`.
fn int_param(node: &Node, inputs: &[Input], idx: usize, attr: &str) -> Result<Option<Vec<i64>>, Error> {
    if let Some(inp) = inputs.get(idx).filter(|_| node.input(idx).is_some()) {
        let v = inp
            .value
            .ok_or_else(|| op_err(node, format!("input {idx} ({}) must be known when planning", node.inputs[idx])))?;
        return Ok(Some(v.to_i64s()));
    }
    Ok(node.ints(attr).map(<[i64]>::to_vec).or_else(|| match node.attr(attr) {
        Some(Attr::Int(v)) => Some(vec![*v]),
        _ => None,
    }))
}

/// A float scalar parameter given as constant input `idx` or attribute `attr`.
fn float_param(node: &Node, inputs: &[Input], idx: usize, attr: &str, default: f32) -> Result<f32, Error> {
    if let Some(inp) = inputs.get(idx).filter(|_| node.input(idx).is_some()) {
        let v = inp
            .value
            .ok_or_else(|| op_err(node, format!("input {idx} ({}) must be known when planning", node.inputs[idx])))?;
        return v.to_f32s().first().copied().ok_or_else(|| op_err(node, format!("input {idx} is empty")));
    }
    Ok(node.float(attr, default))
}

fn const_f32(node: &Node, inputs: &[Input], idx: usize) -> Option<Vec<f32>> {
    node.input(idx).and_then(|_| inputs.get(idx)).and_then(|i| i.value).map(|v| v.to_f32s())
}

/// The activation a converter fused into Conv/Gemm/MatMul (`activation` attribute).
pub fn fused_activation(node: &Node) -> Result<Activation, Error> {
    Ok(match node.string("activation").unwrap_or("") {
        "" => Activation::None,
        "Relu" => Activation::Relu,
        "Clip" => Activation::Clip(
            node.float("activation_min", f32::NEG_INFINITY),
            node.float("activation_max", f32::INFINITY),
        ),
        "LeakyRelu" => Activation::LeakyRelu(node.float("activation_alpha", 0.01)),
        "Sigmoid" => Activation::Sigmoid,
        "Tanh" => Activation::Tanh,
        "HardSwish" => Activation::HardSwish,
        other => return Err(op_err(node, format!("unknown fused activation {other:?}"))),
    })
}

fn unary_of(node: &Node, inputs: &[Input]) -> Result<Option<Unary>, Error> {
    Ok(Some(match node.op.as_str() {
        "Relu" => Unary::Relu,
        "LeakyRelu" => Unary::LeakyRelu(node.float("alpha", 0.01)),
        "Elu" => Unary::Elu(node.float("alpha", 1.0)),
        "Selu" => Unary::Selu(node.float("alpha", 1.673_263_2), node.float("gamma", 1.050_701)),
        "Celu" => Unary::Celu(node.float("alpha", 1.0)),
        "ThresholdedRelu" => Unary::ThresholdedRelu(node.float("alpha", 1.0)),
        "Sigmoid" => Unary::Sigmoid,
        "HardSigmoid" => Unary::HardSigmoid(node.float("alpha", 0.2), node.float("beta", 0.5)),
        "HardSwish" => Unary::HardSwish,
        "Tanh" => Unary::Tanh,
        "Clip" => Unary::Clip(
            float_param(node, inputs, 1, "min", f32::NEG_INFINITY)?,
            float_param(node, inputs, 2, "max", f32::INFINITY)?,
        ),
        "Erf" => Unary::Erf,
        "Gelu" => match node.string("approximate").unwrap_or("none") {
            "tanh" => Unary::GeluTanh,
            _ => Unary::Gelu,
        },
        "Sqrt" => Unary::Sqrt,
        "Exp" => Unary::Exp,
        "Log" => Unary::Log,
        "Neg" => Unary::Neg,
        "Abs" => Unary::Abs,
        "Reciprocal" => Unary::Reciprocal,
        "Floor" => Unary::Floor,
        "Ceil" => Unary::Ceil,
        "Round" => Unary::Round,
        "Sign" => Unary::Sign,
        "Softplus" => Unary::Softplus,
        "Softsign" => Unary::Softsign,
        "Sin" => Unary::Sin,
        "Cos" => Unary::Cos,
        "Not" => Unary::Not,
        "Identity" | "Dropout" => Unary::Identity,
        "Cast" => match node.string("to").unwrap_or("float32") {
            "float16" => Unary::RoundF16,
            "bfloat16" => Unary::RoundBf16,
            "float32" | "float64" => Unary::Identity,
            "bool" => Unary::NonZero,
            _ => Unary::Trunc,
        },
        _ => return Ok(None),
    }))
}

fn binary_of(op: &str) -> Option<Binary> {
    Some(match op {
        "Add" | "Sum" => Binary::Add,
        "Sub" => Binary::Sub,
        "Mul" => Binary::Mul,
        "Div" => Binary::Div,
        "Pow" => Binary::Pow,
        "Max" => Binary::Max,
        "Min" => Binary::Min,
        "PRelu" => Binary::PRelu,
        "Equal" => Binary::Equal,
        "Less" => Binary::Less,
        "LessOrEqual" => Binary::LessOrEqual,
        "Greater" => Binary::Greater,
        "GreaterOrEqual" => Binary::GreaterOrEqual,
        "And" => Binary::And,
        "Or" => Binary::Or,
        "Xor" => Binary::Xor,
        _ => return None,
    })
}

/// Every op name `plan_node` accepts.
pub const SUPPORTED_OPS: &[&str] = &[
    "Abs",
    "Add",
    "And",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "Ceil",
    "Celu",
    "Clip",
    "Concat",
    "ConstantOfShape",
    "Conv",
    "ConvTranspose",
    "Cos",
    "Div",
    "Dropout",
    "Elu",
    "Equal",
    "Erf",
    "Exp",
    "Expand",
    "Flatten",
    "Floor",
    "Gather",
    "Gelu",
    "Gemm",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "Greater",
    "GreaterOrEqual",
    "HardSigmoid",
    "HardSwish",
    "Identity",
    "InstanceNormalization",
    "LayerNormalization",
    "LeakyRelu",
    "Less",
    "LessOrEqual",
    "Log",
    "LogSoftmax",
    "MatMul",
    "Max",
    "MaxPool",
    "Min",
    "Mod",
    "Mul",
    "Neg",
    "Not",
    "Or",
    "Pad",
    "Pow",
    "PRelu",
    "Range",
    "Reciprocal",
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "ReduceMax",
    "ReduceMean",
    "ReduceMin",
    "ReduceProd",
    "ReduceSum",
    "ReduceSumSquare",
    "Relu",
    "Reshape",
    "Round",
    "Selu",
    "Shape",
    "Sigmoid",
    "Sign",
    "Sin",
    "Size",
    "Slice",
    "Softmax",
    "Softplus",
    "Softsign",
    "Split",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Sum",
    "Tanh",
    "ThresholdedRelu",
    "Tile",
    "Transpose",
    "Unsqueeze",
    "Where",
    "Xor",
];

fn kernel(kernel: Kernel, reads: Vec<usize>, out_shapes: Vec<Vec<usize>>) -> Result<Planned, Error> {
    Ok(Planned::Kernel { kernel, reads, out_shapes })
}

/// Plans one node given its inputs' shapes and plan-time values. Errors name the node: an op without a kernel is
/// an [`Error::UnsupportedOp`], anything else an [`Error::Op`].
pub fn plan_node(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    plan_inner(node, inputs).map_err(|e| match e {
        Error::Op { .. } | Error::UnsupportedOp { .. } => e,
        other => op_err(node, other),
    })
}

fn need(node: &Node, inputs: &[Input], n: usize) -> Result<(), Error> {
    if inputs.len() < n || (0..n).any(|i| node.input(i).is_none()) {
        return Err(op_err(node, format!("expects at least {n} inputs, got {}", inputs.len())));
    }
    Ok(())
}

fn plan_inner(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    let op = node.op.as_str();
    if op == "Clip" && (1..3).any(|i| node.input(i).is_some() && inputs.get(i).is_some_and(|inp| inp.value.is_none())) {
        let (has_min, has_max) = (node.input(1).is_some(), node.input(2).is_some());
        let mut reads = vec![0];
        reads.extend((1..3).filter(|&i| node.input(i).is_some()));
        return kernel(Kernel::ClipRuntime { has_min, has_max }, reads, vec![inputs[0].shape.to_vec()]);
    }
    if let Some(u) = unary_of(node, inputs)? {
        need(node, inputs, 1)?;
        return kernel(Kernel::Unary(u), vec![0], vec![inputs[0].shape.to_vec()]);
    }
    if let Some(b) = binary_of(op) {
        if matches!(op, "Max" | "Min" | "Sum") && inputs.len() == 1 {
            return kernel(Kernel::Unary(Unary::Identity), vec![0], vec![inputs[0].shape.to_vec()]);
        }
        need(node, inputs, 2)?;
        if inputs.len() > 2 {
            return Err(op_err(
                node,
                "variadic form with more than 2 inputs is not supported; the converter splits it",
            ));
        }
        let out = broadcast_shapes(inputs[0].shape, inputs[1].shape).ok_or_else(|| {
            op_err(node, format!("shapes {:?} and {:?} do not broadcast", inputs[0].shape, inputs[1].shape))
        })?;
        let bc = Broadcast::new(inputs[0].shape, inputs[1].shape, out.clone());
        return kernel(Kernel::Binary(b, bc), vec![0, 1], vec![out]);
    }
    let x = inputs.first().map(|i| i.shape).unwrap_or(&[]);
    match op {
        "Mod" => {
            need(node, inputs, 2)?;
            let b = if node.int("fmod", 0) != 0 { Binary::FMod } else { Binary::Mod };
            let out = broadcast_shapes(inputs[0].shape, inputs[1].shape)
                .ok_or_else(|| op_err(node, "shapes do not broadcast"))?;
            let bc = Broadcast::new(inputs[0].shape, inputs[1].shape, out.clone());
            kernel(Kernel::Binary(b, bc), vec![0, 1], vec![out])
        }
        "Where" => {
            need(node, inputs, 3)?;
            let out = broadcast_shapes(inputs[0].shape, inputs[1].shape)
                .and_then(|s| broadcast_shapes(&s, inputs[2].shape))
                .ok_or_else(|| op_err(node, "condition, x and y do not broadcast"))?;
            let shapes = [inputs[0].shape.to_vec(), inputs[1].shape.to_vec(), inputs[2].shape.to_vec()];
            kernel(Kernel::Where(out.clone(), shapes), vec![0, 1, 2], vec![out])
        }
        "Shape" => {
            let rank = x.len() as i64;
            let clampi = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
            let start = clampi(node.int("start", 0));
            let end = clampi(node.int("end", rank));
            let dims: Vec<i64> = x[start..end.max(start)].iter().map(|&d| d as i64).collect();
            Ok(Planned::Values(vec![Tensor::i64(vec![dims.len()], dims)]))
        }
        "Size" => Ok(Planned::Values(vec![Tensor::i64(vec![], vec![x.iter().product::<usize>() as i64])])),
        "ConstantOfShape" => {
            let dims = int_param(node, inputs, 0, "")?.unwrap_or_default();
            let shape: Vec<usize> = dims.iter().map(|&d| d.max(0) as usize).collect();
            let n = shape.iter().product();
            let value = node.float("value", 0.0);
            Ok(Planned::Values(vec![match node.string("dtype").unwrap_or("float32") {
                "float32" | "float16" | "float64" => Tensor::f32(shape, vec![value; n]),
                _ => Tensor::i64(shape, vec![value as i64; n]),
            }]))
        }
        "Range" => {
            need(node, inputs, 3)?;
            let vals: Vec<&Tensor> = inputs[..3]
                .iter()
                .map(|i| i.value.ok_or_else(|| op_err(node, "inputs must be known when planning")))
                .collect::<Result<_, _>>()?;
            if vals.iter().all(|v| !v.is_float()) {
                let (s, l, d) = (vals[0].to_i64s()[0], vals[1].to_i64s()[0], vals[2].to_i64s()[0]);
                if d == 0 {
                    return Err(op_err(node, "delta must not be 0"));
                }
                let n = ((l - s) as f64 / d as f64).ceil().max(0.0) as usize;
                let v: Vec<i64> = (0..n as i64).map(|i| s + i * d).collect();
                Ok(Planned::Values(vec![Tensor::i64(vec![n], v)]))
            } else {
                let (s, l, d) = (vals[0].to_f32s()[0], vals[1].to_f32s()[0], vals[2].to_f32s()[0]);
                let n = ((l - s) / d).ceil().max(0.0) as usize;
                let v: Vec<f32> = (0..n).map(|i| s + i as f32 * d).collect();
                Ok(Planned::Values(vec![Tensor::f32(vec![n], v)]))
            }
        }
        "Reshape" => {
            need(node, inputs, 1)?;
            let target = int_param(node, inputs, 1, "shape")?.ok_or_else(|| op_err(node, "missing shape"))?;
            let out = layout::reshape_shape(x, &target, node.int("allowzero", 0) != 0)?;
            kernel(Kernel::Copy, vec![0], vec![out])
        }
        "Flatten" => {
            need(node, inputs, 1)?;
            let axis = node.int("axis", 1);
            let axis = if axis < 0 { axis + x.len() as i64 } else { axis };
            if axis < 0 || axis > x.len() as i64 {
                return Err(op_err(node, format!("axis {axis} out of range for rank {}", x.len())));
            }
            let a = axis as usize;
            kernel(Kernel::Copy, vec![0], vec![vec![x[..a].iter().product(), x[a..].iter().product()]])
        }
        "Squeeze" => {
            need(node, inputs, 1)?;
            let axes = int_param(node, inputs, 1, "axes")?;
            let out: Vec<usize> = match axes {
                Some(axes) => {
                    let axes: Vec<usize> =
                        axes.iter().map(|&a| normalize_axis(a, x.len(), "Squeeze")).collect::<Result<_, _>>()?;
                    if let Some(&a) = axes.iter().find(|&&a| x[a] != 1) {
                        return Err(op_err(node, format!("cannot squeeze axis {a} of size {} in {x:?}", x[a])));
                    }
                    x.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, &d)| d).collect()
                }
                None => x.iter().copied().filter(|&d| d != 1).collect(),
            };
            kernel(Kernel::Copy, vec![0], vec![out])
        }
        "Unsqueeze" => {
            need(node, inputs, 1)?;
            let axes = int_param(node, inputs, 1, "axes")?.ok_or_else(|| op_err(node, "missing axes"))?;
            let rank = x.len() + axes.len();
            let mut axes: Vec<usize> =
                axes.iter().map(|&a| normalize_axis(a, rank, "Unsqueeze")).collect::<Result<_, _>>()?;
            axes.sort_unstable();
            let mut out = x.to_vec();
            for a in axes {
                out.insert(a, 1);
            }
            kernel(Kernel::Copy, vec![0], vec![out])
        }
        "Transpose" => {
            need(node, inputs, 1)?;
            let (map, out) = layout::transpose(x, node.ints("perm"))?;
            kernel(Kernel::Map(map), vec![0], vec![out])
        }
        "Slice" => {
            need(node, inputs, 1)?;
            let starts = int_param(node, inputs, 1, "starts")?.ok_or_else(|| op_err(node, "missing starts"))?;
            let ends = int_param(node, inputs, 2, "ends")?.ok_or_else(|| op_err(node, "missing ends"))?;
            let axes = int_param(node, inputs, 3, "axes")?;
            let steps = int_param(node, inputs, 4, "steps")?;
            let (map, out) = layout::slice(x, &starts, &ends, axes.as_deref(), steps.as_deref())?;
            kernel(Kernel::Map(map), vec![0], vec![out])
        }
        "Gather" => {
            need(node, inputs, 2)?;
            let idx = inputs[1].value.ok_or_else(|| op_err(node, "indices must be known when planning"))?;
            let (map, out) = layout::gather(x, node.int("axis", 0), &idx.to_i64s(), inputs[1].shape)?;
            kernel(Kernel::Map(map), vec![0], vec![out])
        }
        "Expand" => {
            need(node, inputs, 2)?;
            let target = int_param(node, inputs, 1, "shape")?.unwrap_or_default();
            let (map, out) = layout::expand(x, &target)?;
            kernel(Kernel::Map(map), vec![0], vec![out])
        }
        "Tile" => {
            need(node, inputs, 2)?;
            let repeats = int_param(node, inputs, 1, "repeats")?.unwrap_or_default();
            let (map, out) = layout::tile(x, &repeats)?;
            kernel(Kernel::Map(map), vec![0], vec![out])
        }
        "Pad" => {
            need(node, inputs, 1)?;
            let pads = int_param(node, inputs, 1, "pads")?.ok_or_else(|| op_err(node, "missing pads"))?;
            let runtime_value = node.input(2).is_some() && inputs.get(2).is_some_and(|i| i.value.is_none());
            let value = if runtime_value { 0.0 } else { float_param(node, inputs, 2, "value", 0.0)? };
            let axes = int_param(node, inputs, 3, "axes_")?;
            let mode = match node.string("mode").unwrap_or("constant") {
                "constant" => PadMode::Constant,
                "reflect" => PadMode::Reflect,
                "edge" => PadMode::Edge,
                "wrap" => PadMode::Wrap,
                m => return Err(op_err(node, format!("unknown mode {m:?}"))),
            };
            let (map, out) = layout::pad(x, &pads, axes.as_deref(), mode, value)?;
            if runtime_value {
                kernel(Kernel::MapRuntimePad(map), vec![0, 2], vec![out])
            } else {
                kernel(Kernel::Map(map), vec![0], vec![out])
            }
        }
        "Concat" => {
            let present: Vec<usize> = (0..inputs.len()).filter(|&i| node.input(i).is_some()).collect();
            let shapes: Vec<&[usize]> = present.iter().map(|&i| inputs[i].shape).collect();
            let (out, outer, blocks) = layout::concat_shape(&shapes, node.int("axis", 0))?;
            kernel(Kernel::Concat { outer, blocks }, present, vec![out])
        }
        "Split" => {
            need(node, inputs, 1)?;
            let axis = node.int("axis", 0);
            let a = normalize_axis(axis, x.len(), "Split")?;
            let n_out = node.outputs.len();
            let sizes: Vec<usize> = match int_param(node, inputs, 1, "split")? {
                Some(s) => s.iter().map(|&v| v.max(0) as usize).collect(),
                None => {
                    let parts = node.int("num_outputs", n_out as i64).max(1) as usize;
                    let each = x[a].div_ceil(parts);
                    (0..parts).map(|i| each.min(x[a].saturating_sub(i * each))).collect()
                }
            };
            let sp = layout::split_shape(x, axis, &sizes)?;
            kernel(Kernel::Split { outer: sp.outer, block: sp.block, parts: sp.parts }, vec![0], sp.shapes)
        }
        "MatMul" => plan_matmul(node, inputs),
        "Gemm" => plan_gemm(node, inputs),
        "Conv" => plan_conv(node, inputs),
        "ConvTranspose" => plan_conv_transpose(node, inputs),
        "MaxPool" | "AveragePool" => plan_pool(node, inputs),
        "GlobalAveragePool" | "GlobalMaxPool" => {
            need(node, inputs, 1)?;
            if x.len() < 2 {
                return Err(op_err(node, format!("expects rank >= 2, got {x:?}")));
            }
            let inner = x[2..].iter().product();
            let mut out = x[..2].to_vec();
            out.extend(std::iter::repeat_n(1, x.len() - 2));
            kernel(Kernel::GlobalPool { inner, max: op == "GlobalMaxPool" }, vec![0], vec![out])
        }
        "BatchNormalization" => {
            need(node, inputs, 5)?;
            if x.len() < 2 {
                return Err(op_err(node, format!("expects rank >= 2, got {x:?}")));
            }
            let inner: usize = x[2..].iter().product();
            let eps = node.float("epsilon", 1e-5);
            let out_shapes = vec![x.to_vec()];
            match (1..5).map(|i| const_f32(node, inputs, i)).collect::<Option<Vec<_>>>() {
                Some(p) => {
                    let (scale, shift) = norm::batchnorm_coefficients(&p[0], &p[1], &p[2], &p[3], eps);
                    kernel(Kernel::ChannelAffine { scale, shift, inner }, vec![0], out_shapes)
                }
                None => kernel(Kernel::BatchNormRuntime { eps, inner }, vec![0, 1, 2, 3, 4], out_shapes),
            }
        }
        "InstanceNormalization" => {
            need(node, inputs, 3)?;
            let inner = x[2..].iter().product();
            let eps = node.float("epsilon", 1e-5);
            let sb = const_f32(node, inputs, 1).zip(const_f32(node, inputs, 2));
            let reads = if sb.is_some() { vec![0] } else { vec![0, 1, 2] };
            kernel(Kernel::Normalize { inner, eps, per_element: false, scale_bias: sb }, reads, vec![x.to_vec()])
        }
        "LayerNormalization" => {
            need(node, inputs, 1)?;
            let axis = normalize_axis(node.int("axis", -1), x.len(), "LayerNormalization")?;
            let inner: usize = x[axis..].iter().product();
            let eps = node.float("epsilon", 1e-5);
            let expand = |i: usize| -> Result<Option<Vec<f32>>, Error> {
                if node.input(i).is_none() {
                    return Ok(Some(Vec::new()));
                }
                let Some(v) = inputs.get(i).and_then(|inp| inp.value) else { return Ok(None) };
                let map = layout::broadcast_to(&v.shape, &x[axis..])?;
                let mut out = vec![0.0; inner];
                map.run_f32(&v.to_f32s(), &mut out);
                Ok(Some(out))
            };
            let mut out_shapes = vec![x.to_vec()];
            if node.outputs.iter().skip(1).any(|o| !o.is_empty()) {
                let stats: Vec<usize> = (0..x.len()).map(|d| if d < axis { x[d] } else { 1 }).collect();
                out_shapes.push(stats.clone());
                out_shapes.push(stats);
            }
            match (expand(1)?, expand(2)?) {
                (Some(scale), Some(bias)) => kernel(
                    Kernel::Normalize { inner, eps, per_element: true, scale_bias: Some((scale, bias)) },
                    vec![0],
                    out_shapes,
                ),
                _ => {
                    let scale_map = layout::broadcast_to(inputs[1].shape, &x[axis..])?;
                    let bias_map = match node.input(2) {
                        Some(_) => Some(layout::broadcast_to(inputs[2].shape, &x[axis..])?),
                        None => None,
                    };
                    let reads = if bias_map.is_some() { vec![0, 1, 2] } else { vec![0, 1] };
                    kernel(Kernel::LayerNormRuntime { inner, eps, scale_map, bias_map }, reads, out_shapes)
                }
            }
        }
        "Softmax" | "LogSoftmax" => {
            need(node, inputs, 1)?;
            let log = op == "LogSoftmax";
            let axis = normalize_axis(node.int("axis", -1), x.len(), op)?;
            let (outer, len, inner) = if node.int("coerce_2d", 0) != 0 {
                (x[..axis].iter().product(), x[axis..].iter().product(), 1)
            } else {
                (x[..axis].iter().product(), x[axis], x[axis + 1..].iter().product())
            };
            kernel(Kernel::Softmax { outer, len, inner, log }, vec![0], vec![x.to_vec()])
        }
        o if o.starts_with("Reduce") => plan_reduce(node, inputs),
        _ => Err(Error::UnsupportedOp { op: op.to_string(), node: node.name.clone(), supported: SUPPORTED_OPS }),
    }
}

fn plan_reduce(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    need(node, inputs, 1)?;
    let x = inputs[0].shape;
    let kind = match node.op.as_str() {
        "ReduceMean" => ReduceKind::Mean,
        "ReduceSum" => ReduceKind::Sum,
        "ReduceMax" => ReduceKind::Max,
        "ReduceMin" => ReduceKind::Min,
        "ReduceProd" => ReduceKind::Prod,
        "ReduceL1" => ReduceKind::L1,
        "ReduceL2" => ReduceKind::L2,
        "ReduceSumSquare" => ReduceKind::SumSquare,
        "ReduceLogSum" => ReduceKind::LogSum,
        "ReduceLogSumExp" => ReduceKind::LogSumExp,
        other => return Err(Error::UnsupportedOp { op: other.to_string(), node: node.name.clone(), supported: &[] }),
    };
    let axes = int_param(node, inputs, 1, "axes")?.unwrap_or_default();
    let axes: Vec<usize> = if axes.is_empty() {
        if node.int("noop_with_empty_axes", 0) != 0 {
            return kernel(Kernel::Unary(Unary::Identity), vec![0], vec![x.to_vec()]);
        }
        (0..x.len()).collect()
    } else {
        axes.iter().map(|&a| normalize_axis(a, x.len(), &node.op)).collect::<Result<_, _>>()?
    };
    let keep = node.int("keepdims", 1) != 0;
    let out: Vec<usize> =
        (0..x.len()).filter_map(|d| if axes.contains(&d) { keep.then_some(1) } else { Some(x[d]) }).collect();
    kernel(Kernel::Reduce(Box::new(Reduce::new(kind, x, &axes))), vec![0], vec![out])
}

fn window_attrs(
    node: &Node,
    spatial: &[usize],
    kernel_shape: &[usize],
    ceil_mode: bool,
) -> Result<(Window, usize, usize), Error> {
    let nd = spatial.len();
    if !(1..=2).contains(&nd) {
        return Err(op_err(node, format!("{nd}-D windows are not supported (1-D and 2-D are)")));
    }
    let get = |key: &str| -> Vec<usize> {
        node.ints(key).map(|v| v.iter().map(|&x| x.max(1) as usize).collect()).unwrap_or_else(|| vec![1; nd])
    };
    let strides = get("strides");
    let dil = get("dilations");
    let pads: Vec<i64> = node.ints("pads").map(<[i64]>::to_vec).unwrap_or_else(|| vec![0; 2 * nd]);
    if strides.len() != nd || dil.len() != nd || pads.len() != 2 * nd || kernel_shape.len() != nd {
        return Err(op_err(node, format!("strides/dilations/pads/kernel do not match {nd} spatial dims")));
    }
    let auto_pad = node.string("auto_pad").unwrap_or("NOTSET");
    let mut axes = Vec::new();
    for d in 0..nd {
        axes.push(resolve_axis(
            spatial[d],
            kernel_shape[d],
            strides[d],
            dil[d],
            (pads[d], pads[d + nd]),
            auto_pad,
            ceil_mode,
        )?);
    }
    let (h, kh, sh, dh, (pt, pb, oh)) =
        if nd == 2 { (spatial[0], kernel_shape[0], strides[0], dil[0], axes[0]) } else { (1, 1, 1, 1, (0, 0, 1)) };
    let l = nd - 1;
    let (pl, pr, ow) = axes[l];
    let win = Window { h, w: spatial[l], kh, kw: kernel_shape[l], sh, sw: strides[l], dh, dw: dil[l], pt, pl, oh, ow };
    Ok((win, pb, pr))
}

fn out_spatial(n: usize, c: usize, win: &Window, nd: usize) -> Vec<usize> {
    if nd == 2 {
        vec![n, c, win.oh, win.ow]
    } else {
        vec![n, c, win.ow]
    }
}

fn plan_conv(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    need(node, inputs, 2)?;
    let (x, w) = (inputs[0].shape, inputs[1].shape);
    if x.len() < 3 || w.len() != x.len() {
        return Err(op_err(node, format!("input {x:?} and weight {w:?} ranks do not match")));
    }
    let group = node.int("group", 1).max(1) as usize;
    let (n, c_in, c_out) = (x[0], x[1], w[0]);
    if c_in != w[1] * group || c_out % group != 0 {
        return Err(op_err(node, format!("input channels {c_in} do not match weight {w:?} with group {group}")));
    }
    let ks: Vec<usize> = w[2..].to_vec();
    let (win, _, _) = window_attrs(node, &x[2..], &ks, false)?;
    let act = fused_activation(node)?;
    let bias = if node.input(2).is_some() { const_f32(node, inputs, 2) } else { Some(vec![0.0; c_out]) };
    let out = out_spatial(n, c_out, &win, x.len() - 2);
    let geometry = ConvGeometry { n, c_in, c_out, group, win };
    match (inputs[1].shared, bias) {
        (Some(w), Some(bias)) => {
            let ck = ConvKernel { constant: Some((Arc::clone(w), bias)), prepared: OnceCell::new(), geometry, act };
            kernel(Kernel::Conv(Box::new(ck)), vec![0], vec![out])
        }
        _ => {
            let reads = if node.input(2).is_some() { vec![0, 1, 2] } else { vec![0, 1] };
            kernel(
                Kernel::Conv(Box::new(ConvKernel { constant: None, prepared: OnceCell::new(), geometry, act })),
                reads,
                vec![out],
            )
        }
    }
}

fn plan_conv_transpose(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    need(node, inputs, 2)?;
    let (x, w) = (inputs[0].shape, inputs[1].shape);
    let nd = x.len().saturating_sub(2);
    if !(1..=2).contains(&nd) || w.len() != x.len() {
        return Err(op_err(node, format!("input {x:?} / weight {w:?}: only 1-D and 2-D ConvTranspose is supported")));
    }
    let group = node.int("group", 1).max(1) as usize;
    let (n, c_in, c_out) = (x[0], x[1], w[1] * group);
    if w[0] != c_in {
        return Err(op_err(node, format!("weight {w:?} does not match {c_in} input channels")));
    }
    let get =
        |key: &str, d: usize| -> Vec<i64> { node.ints(key).map(<[i64]>::to_vec).unwrap_or_else(|| vec![d as i64; nd]) };
    let (strides, dil, outpad) = (get("strides", 1), get("dilations", 1), get("output_padding", 0));
    let pads = node.ints("pads").map(<[i64]>::to_vec).unwrap_or_else(|| vec![0; 2 * nd]);
    let auto_pad = node.string("auto_pad").unwrap_or("NOTSET");
    let out_shape = node.ints("output_shape").map(|v| v[v.len() - nd..].to_vec());
    let mut begin = vec![0usize; nd];
    let mut outs = vec![0usize; nd];
    for d in 0..nd {
        let (i, k, s, dl, op) = (x[2 + d] as i64, w[2 + d] as i64, strides[d], dil[d], outpad[d]);
        let full = s * (i - 1) + op + (k - 1) * dl + 1;
        let target = match (&out_shape, auto_pad) {
            (Some(o), _) => Some(o[d]),
            (None, "SAME_UPPER" | "SAME_LOWER") => Some(i * s),
            _ => None,
        };
        let (pb, o) = match target {
            Some(t) => {
                let total = full - t;
                let pb = if auto_pad == "SAME_UPPER" { total / 2 } else { total - total / 2 };
                (pb, t)
            }
            None => (pads[d], full - pads[d] - pads[d + nd]),
        };
        if o <= 0 {
            return Err(op_err(node, format!("output size {o} on spatial axis {d}")));
        }
        begin[d] = pb.max(0) as usize;
        outs[d] = o as usize;
    }
    let l = nd - 1;
    let win = Window {
        h: if nd == 2 { x[2] } else { 1 },
        w: x[2 + l],
        kh: if nd == 2 { w[2] } else { 1 },
        kw: w[2 + l],
        sh: if nd == 2 { strides[0] as usize } else { 1 },
        sw: strides[l] as usize,
        dh: if nd == 2 { dil[0] as usize } else { 1 },
        dw: dil[l] as usize,
        pt: if nd == 2 { begin[0] } else { 0 },
        pl: begin[l],
        oh: if nd == 2 { outs[0] } else { 1 },
        ow: outs[l],
    };
    let out = out_spatial(n, c_out, &win, nd);
    let weights = inputs[1].value.map(|v| v.to_f32s());
    let bias = if node.input(2).is_some() { const_f32(node, inputs, 2) } else { Some(vec![0.0; c_out]) };
    let mut reads = vec![0];
    if weights.is_none() || bias.is_none() {
        reads.push(1);
        if node.input(2).is_some() {
            reads.push(2);
        }
    }
    let ct = ConvTranspose {
        n,
        c_in,
        c_out,
        group,
        win,
        weights: weights.unwrap_or_default(),
        bias: bias.unwrap_or_default(),
    };
    kernel(Kernel::ConvTranspose(Box::new(ct)), reads, vec![out])
}

fn plan_pool(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    need(node, inputs, 1)?;
    let x = inputs[0].shape;
    if x.len() < 3 {
        return Err(op_err(node, format!("expects rank >= 3, got {x:?}")));
    }
    if node.outputs.iter().skip(1).any(|o| !o.is_empty()) {
        return Err(op_err(node, "the Indices output is not supported"));
    }
    let ks: Vec<usize> = node
        .ints("kernel_shape")
        .ok_or_else(|| op_err(node, "missing kernel_shape"))?
        .iter()
        .map(|&k| k.max(1) as usize)
        .collect();
    let (win, pb, pr) = window_attrs(node, &x[2..], &ks, node.int("ceil_mode", 0) != 0)?;
    let max = node.op == "MaxPool";
    let pool = Pool { planes: x[0] * x[1], win, max, count_include_pad: node.int("count_include_pad", 0) != 0, pb, pr };
    kernel(Kernel::Pool(Box::new(pool)), vec![0], vec![out_spatial(x[0], x[1], &win, x.len() - 2)])
}

fn matmul_batches(
    a_batch: &[usize],
    b_batch: &[usize],
    out_batch: &[usize],
    a_mat: usize,
    b_mat: usize,
    c_mat: usize,
) -> Vec<(usize, usize, usize)> {
    let a_st = crate::tensor::broadcast_strides(a_batch, out_batch);
    let b_st = crate::tensor::broadcast_strides(b_batch, out_batch);
    let count: usize = out_batch.iter().product();
    let ost = crate::tensor::strides(out_batch);
    (0..count)
        .map(|i| {
            let (mut ia, mut ib) = (0, 0);
            for d in 0..out_batch.len() {
                let q = i / ost[d] % out_batch[d];
                ia += q * a_st[d];
                ib += q * b_st[d];
            }
            (ia * a_mat, ib * b_mat, i * c_mat)
        })
        .collect()
}

fn plan_matmul(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    need(node, inputs, 2)?;
    let (mut a, mut b) = (inputs[0].shape.to_vec(), inputs[1].shape.to_vec());
    if a.is_empty() || b.is_empty() {
        return Err(op_err(node, "scalar operands are not allowed"));
    }
    let (a_vec, b_vec) = (a.len() == 1, b.len() == 1);
    if a_vec {
        a.insert(0, 1);
    }
    if b_vec {
        b.push(1);
    }
    let (m, k) = (a[a.len() - 2], a[a.len() - 1]);
    let (k2, n) = (b[b.len() - 2], b[b.len() - 1]);
    if k != k2 {
        return Err(op_err(node, format!("inner dimensions differ: {:?} x {:?}", inputs[0].shape, inputs[1].shape)));
    }
    let out_batch = broadcast_shapes(&a[..a.len() - 2], &b[..b.len() - 2])
        .ok_or_else(|| op_err(node, "batch dimensions do not broadcast"))?;
    let mut out = out_batch.clone();
    if !a_vec {
        out.push(m);
    }
    if !b_vec {
        out.push(n);
    }
    let act = fused_activation(node)?;
    let b_single = b.len() == 2 || b[..b.len() - 2].iter().all(|&d| d == 1);
    let a_batch = &a[..a.len() - 2];
    let fold_a = b_single && a_batch.iter().product::<usize>() == out_batch.iter().product::<usize>();
    let (mm, batches) = if fold_a {
        let batch: usize = out_batch.iter().product();
        (m * batch, vec![(0, 0, 0)])
    } else {
        (m, matmul_batches(a_batch, &b[..b.len() - 2], &out_batch, m * k, k * n, m * n))
    };
    let b_const = if b_single { inputs[1].shared.map(ConstPanel::new) } else { None };
    let bias = match const_f32(node, inputs, 2) {
        Some(c) if c.len() == n => MatBias::Col(c),
        Some(_) => return Err(op_err(node, "fused bias must have one value per output column")),
        None => MatBias::None,
    };
    let reads = if b_const.is_some() { vec![0] } else { vec![0, 1] };
    let mmk = MatMul { m: mm, n, k, batches, a_strides: (k, 1), b_strides: (n, 1), b_const, alpha: 1.0, bias, act };
    kernel(Kernel::MatMul(Box::new(mmk)), reads, vec![out])
}

fn plan_gemm(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    need(node, inputs, 2)?;
    let (a, b) = (inputs[0].shape, inputs[1].shape);
    if a.len() != 2 || b.len() != 2 {
        return Err(op_err(node, format!("expects 2-D operands, got {a:?} and {b:?}")));
    }
    let (ta, tb) = (node.int("transA", 0) != 0, node.int("transB", 0) != 0);
    let (m, k) = if ta { (a[1], a[0]) } else { (a[0], a[1]) };
    let (k2, n) = if tb { (b[1], b[0]) } else { (b[0], b[1]) };
    if k != k2 {
        return Err(op_err(node, format!("inner dimensions differ: A {a:?} (transA={ta}) and B {b:?} (transB={tb})")));
    }
    let alpha = node.float("alpha", 1.0);
    let beta = node.float("beta", 1.0);
    let a_strides = if ta { (1, m) } else { (k, 1) };
    let b_strides = if tb { (1, k) } else { (n, 1) };
    let b_const = inputs[1].shared.map(ConstPanel::new);
    let mut reads = vec![0];
    if b_const.is_none() {
        reads.push(1);
    }
    let bias = if node.input(2).is_none() || beta == 0.0 {
        MatBias::None
    } else {
        let c_shape = inputs[2].shape;
        let c_val = inputs[2].value.map(Tensor::to_f32s);
        let per_col = c_shape.iter().product::<usize>() == n
            && c_shape.last() == Some(&n)
            && c_shape.iter().rev().skip(1).all(|&d| d == 1);
        match c_val {
            Some(c) if per_col => MatBias::Col(c.iter().map(|v| v * beta).collect()),
            constant => {
                broadcast_shapes(c_shape, &[m, n])
                    .filter(|s| s == &[m, n])
                    .ok_or_else(|| op_err(node, format!("C {c_shape:?} does not broadcast to [{m}, {n}]")))?;
                if constant.is_none() {
                    reads.push(2);
                }
                MatBias::Broadcast { beta, map: layout::broadcast_to(c_shape, &[m, n])?, constant }
            }
        }
    };
    let act = fused_activation(node)?;
    let mm = MatMul { m, n, k, batches: vec![(0, 0, 0)], a_strides, b_strides, b_const, alpha, bias, act };
    kernel(Kernel::MatMul(Box::new(mm)), reads, vec![vec![m, n]])
}

impl MatMul {
    fn pack_const_b(&self, b: &Tensor) -> Packed {
        let mut data = b.to_f32s();
        if self.alpha != 1.0 {
            data.iter_mut().for_each(|x| *x *= self.alpha);
        }
        pack_b(&data, self.k, self.n, self.b_strides.0, self.b_strides.1)
    }

    fn scratch_len(&self) -> usize {
        let a = self.m.div_ceil(MR) * MR * self.k;
        let b = if self.b_const.is_some() { 0 } else { self.n.div_ceil(NR) * NR * self.k };
        a + b
    }

    /// Reads A, then B unless packed, then C when it is a run-time Gemm input.
    fn run(&self, ins: &[&[f32]], out: &mut [f32], scratch: &mut Vec<f32>) {
        let a = ins[0];
        let b = if self.b_const.is_none() { Some(ins[1]) } else { None };
        let c_in =
            if matches!(self.bias, MatBias::Broadcast { constant: None, .. }) { ins.last().copied() } else { None };
        if scratch.len() < self.scratch_len() {
            scratch.resize(self.scratch_len(), 0.0);
        }
        let (pa, pb_buf) = scratch.split_at_mut(self.m.div_ceil(MR) * MR * self.k);
        let fused_act = if matches!(self.bias, MatBias::Broadcast { .. }) { Activation::None } else { self.act };
        for &(ao, bo, co) in &self.batches {
            pack_a_into(&a[ao..], self.m, self.k, self.a_strides.0, self.a_strides.1, pa);
            let pb: &[f32] = match (&self.b_const, b) {
                (Some(c), _) => &c.packed.get_or_init(|| self.pack_const_b(&c.source)).data,
                (None, Some(b)) => {
                    pack_b_into(&b[bo..], self.k, self.n, self.b_strides.0, self.b_strides.1, pb_buf);
                    if self.alpha != 1.0 {
                        pb_buf.iter_mut().for_each(|x| *x *= self.alpha);
                    }
                    pb_buf
                }
                (None, None) => unreachable!("planner reads B when it is not packed"),
            };
            let c = &mut out[co..co + self.m * self.n];
            let bias = match &self.bias {
                MatBias::Col(v) => Bias::Col(v),
                _ => Bias::None,
            };
            gemm_packed(self.m, self.n, self.k, pa, pb, c, self.n, bias, fused_act);
        }
        if let MatBias::Broadcast { beta, map, constant } = &self.bias {
            let src = constant.as_deref().or(c_in).expect("planner reads C when it is not constant");
            for (o, &i) in out.iter_mut().zip(&map.map) {
                *o = self.act.apply(*o + beta * src[i as usize]);
            }
        }
    }
}

impl Kernel {
    fn epsilon(&self) -> f32 {
        match self {
            Kernel::Normalize { eps, .. } | Kernel::LayerNormRuntime { eps, .. } => *eps,
            _ => 0.0,
        }
    }

    /// Scratch floats this kernel needs at run time.
    pub fn scratch_len(&self) -> usize {
        match self {
            Kernel::MatMul(m) => m.scratch_len(),
            Kernel::Conv(c) => Conv::scratch_len_of(&c.geometry),
            _ => 0,
        }
    }

    /// Runs on float32 buffers: `ins` are the planned reads, `outs` the node outputs.
    pub fn run(&self, ins: &[&[f32]], outs: &mut [&mut [f32]], scratch: &mut Vec<f32>) {
        if let (Kernel::Normalize { inner, .. } | Kernel::LayerNormRuntime { inner, .. }, [_, mean, inv_std, ..]) =
            (self, &mut *outs)
        {
            norm::group_stats(ins[0], *inner, self.epsilon(), mean, inv_std);
        }
        let out = &mut *outs[0];
        match self {
            Kernel::Unary(u) => u.run(ins[0], out),
            Kernel::Binary(op, bc) => {
                let op = *op;
                bc.run(ins[0], ins[1], out, |a, b| op.f32(a, b))
            }
            Kernel::Where(shape, shapes) => {
                elementwise::where_run(shape, [&shapes[0], &shapes[1], &shapes[2]], ins[0], ins[1], ins[2], out, |c| {
                    c != 0.0
                })
            }
            Kernel::Map(m) => m.run_f32(ins[0], out),
            Kernel::Copy => out.copy_from_slice(ins[0]),
            Kernel::Concat { outer, blocks } => layout::concat_run(ins, *outer, blocks, out),
            Kernel::Split { outer, block, parts } => layout::split_run(ins[0], *outer, *block, parts, outs),
            Kernel::MatMul(m) => m.run(ins, out, scratch),
            Kernel::Conv(c) => match &c.constant {
                Some((w, bias)) => c
                    .prepared
                    .get_or_init(|| Conv::new(c.geometry, &w.to_f32s(), bias.clone(), c.act))
                    .run(ins[0], out, scratch),
                None => {
                    let bias = ins.get(2).map_or_else(|| vec![0.0; c.geometry.c_out], |b| b.to_vec());
                    Conv::new(c.geometry, ins[1], bias, c.act).run(ins[0], out, scratch)
                }
            },
            Kernel::ConvTranspose(c) if ins.len() == 1 => c.run(ins[0], out),
            Kernel::ConvTranspose(c) => {
                let bias = ins.get(2).map_or_else(|| vec![0.0; c.c_out], |b| b.to_vec());
                ConvTranspose { weights: ins[1].to_vec(), bias, ..(**c).clone() }.run(ins[0], out)
            }
            Kernel::Pool(p) => p.run(ins[0], out),
            Kernel::GlobalPool { inner, max } => pool::global_pool(ins[0], out, *inner, *max),
            Kernel::ChannelAffine { scale, shift, inner } => norm::channel_affine(ins[0], out, scale, shift, *inner),
            Kernel::BatchNormRuntime { eps, inner } => {
                let (scale, shift) = norm::batchnorm_coefficients(ins[1], ins[2], ins[3], ins[4], *eps);
                norm::channel_affine(ins[0], out, &scale, &shift, *inner)
            }
            Kernel::Normalize { inner, eps, per_element, scale_bias } => match scale_bias {
                Some((s, b)) => norm::normalize_groups(ins[0], out, *inner, *eps, s, b, *per_element),
                None => norm::normalize_groups(ins[0], out, *inner, *eps, ins[1], ins[2], *per_element),
            },
            Kernel::LayerNormRuntime { inner, eps, scale_map, bias_map } => {
                let mut scale = vec![0.0; *inner];
                scale_map.run_f32(ins[1], &mut scale);
                let bias = bias_map.as_ref().map_or_else(Vec::new, |m| {
                    let mut b = vec![0.0; *inner];
                    m.run_f32(ins[2], &mut b);
                    b
                });
                norm::normalize_groups(ins[0], out, *inner, *eps, &scale, &bias, true)
            }
            Kernel::ClipRuntime { has_min, has_max } => {
                let lo = if *has_min { ins[1][0] } else { f32::NEG_INFINITY };
                let hi = if *has_max { ins[ins.len() - 1][0] } else { f32::INFINITY };
                Unary::Clip(lo, hi).run(ins[0], out)
            }
            Kernel::MapRuntimePad(m) => IndexMap { map: Vec::new(), pad: ins[1][0] }.run_with(&m.map, ins[0], out),
            Kernel::Softmax { outer, len, inner, log } => norm::softmax(ins[0], out, *outer, *len, *inner, *log),
            Kernel::Reduce(r) => r.run(ins[0], out),
        }
    }

    /// Evaluates on float32 copies of integer inputs (mixed int/float arithmetic, int ops with a float kernel).
    fn eval_as_float(&self, node: &Node, ins: &[&Tensor], out_shapes: &[Vec<usize>]) -> Result<Vec<Tensor>, Error> {
        let floats: Vec<Tensor> = ins.iter().map(|t| Tensor::f32(t.shape.clone(), t.to_f32s())).collect();
        self.eval(node, &floats.iter().collect::<Vec<_>>(), out_shapes)
    }

    /// Evaluates at plan time on known values (float32 through `run`; int64 for shape arithmetic).
    pub fn eval(&self, node: &Node, ins: &[&Tensor], out_shapes: &[Vec<usize>]) -> Result<Vec<Tensor>, Error> {
        if node.op == "Cast" && !ins[0].is_float() {
            let v = &ins[0];
            return Ok(vec![match node.string("to").unwrap_or("float32") {
                "float32" | "float16" | "bfloat16" | "float64" => Tensor::f32(v.shape.clone(), v.to_f32s()),
                "bool" => Tensor::i64(v.shape.clone(), v.to_i64s().iter().map(|&x| i64::from(x != 0)).collect()),
                _ => (*v).clone(),
            }]);
        }
        if ins.iter().all(|t| t.is_float()) {
            let data: Vec<Vec<f32>> = ins.iter().map(|t| t.to_f32s()).collect();
            let refs: Vec<&[f32]> = data.iter().map(Vec::as_slice).collect();
            let mut outs: Vec<Vec<f32>> = out_shapes.iter().map(|s| vec![0.0; s.iter().product()]).collect();
            let mut out_refs: Vec<&mut [f32]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
            self.run(&refs, &mut out_refs, &mut Vec::new());
            let to_int = matches!(self, Kernel::Unary(Unary::Trunc | Unary::NonZero));
            return Ok(outs
                .into_iter()
                .zip(out_shapes)
                .map(|(v, s)| {
                    if to_int {
                        Tensor::i64(s.clone(), v.iter().map(|&x| x as i64).collect())
                    } else {
                        Tensor::f32(s.clone(), v)
                    }
                })
                .collect());
        }
        let ints: Vec<Vec<i64>> = ins.iter().map(|t| t.to_i64s()).collect();
        let one = |v: Vec<i64>| Ok(vec![Tensor::i64(out_shapes[0].clone(), v)]);
        match self {
            Kernel::Unary(Unary::Clip(..) | Unary::Relu) | Kernel::Pool(_) | Kernel::ClipRuntime { .. }
                if ints.iter().flatten().all(|v| v.unsigned_abs() < 1 << 24) =>
            {
                let outs = self.eval_as_float(node, ins, out_shapes)?;
                Ok(outs.into_iter().map(|t| Tensor::i64(t.shape.clone(), t.to_i64s())).collect())
            }
            Kernel::Unary(u) => match u {
                Unary::Identity | Unary::Trunc => one(ints[0].clone()),
                Unary::NonZero | Unary::Not => {
                    one(ints[0].iter().map(|&v| i64::from((v != 0) != (*u == Unary::Not))).collect())
                }
                Unary::Neg => one(ints[0].iter().map(|v| -v).collect()),
                Unary::Abs => one(ints[0].iter().map(|v| v.abs()).collect()),
                Unary::Sign => one(ints[0].iter().map(|v| v.signum()).collect()),
                _ => Err(op_err(node, "is not defined on int64 values")),
            },
            Kernel::Binary(op, bc) if ins.iter().all(|t| !t.is_float()) => {
                let mut out = vec![0; out_shapes[0].iter().product()];
                let op = *op;
                bc.run(&ints[0], &ints[1], &mut out, |a, b| op.i64(a, b));
                one(out)
            }
            Kernel::Binary(..) if matches!(node.op.as_str(), "Mul" | "Add" | "Sub" | "Div" | "Equal") => {
                self.eval_as_float(node, ins, out_shapes)
            }
            Kernel::Where(shape, shapes) if !ins[1].is_float() && !ins[2].is_float() => {
                let mut out = vec![0; shape.iter().product()];
                elementwise::where_run(
                    shape,
                    [&shapes[0], &shapes[1], &shapes[2]],
                    &ints[0],
                    &ints[1],
                    &ints[2],
                    &mut out,
                    |c| c != 0,
                );
                one(out)
            }
            Kernel::Where(..) => self.eval_as_float(node, ins, out_shapes),
            Kernel::Map(m) => one(m.run_i64(&ints[0])),
            Kernel::Copy => one(ints[0].clone()),
            Kernel::Concat { outer, blocks } => {
                let mut out = vec![0; out_shapes[0].iter().product()];
                let refs: Vec<&[i64]> = ints.iter().map(Vec::as_slice).collect();
                layout::concat_run(&refs, *outer, blocks, &mut out);
                one(out)
            }
            Kernel::Split { outer, block, parts } => {
                let mut outs: Vec<Vec<i64>> = out_shapes.iter().map(|s| vec![0; s.iter().product()]).collect();
                let mut refs: Vec<&mut [i64]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
                layout::split_run(&ints[0], *outer, *block, parts, &mut refs);
                Ok(outs.into_iter().zip(out_shapes).map(|(v, s)| Tensor::i64(s.clone(), v)).collect())
            }
            Kernel::Reduce(r) => one(r.run_i64(&ints[0])),
            _ => Err(op_err(node, "is not defined on int64 values")),
        }
    }
}

/// The element kind a node's outputs have when its inputs are all known.
pub fn data_kind(t: &Tensor) -> &'static str {
    match t.data {
        Data::F32(_) => "float32",
        Data::I64(_) => "int64",
    }
}
