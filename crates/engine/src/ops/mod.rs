//! Op semantics, one file per op family. Each family file holds its ops' planning (shapes, attributes,
//! constant operands → a [`Kernel`] or plan-time values), the kernel's parameters and its CPU kernel; the
//! WebGPU encoder for the family sits beside its `.wgsl` in `crate::gpu`. [`OPS`] is the dispatch table from
//! op name to family planner.
//!
//! | family | ops |
//! |---|---|
//! | [`elementwise`] | unary activations and math, Cast, broadcasting binary ops, Mod, Where |
//! | [`shape`] | Shape, Size, ConstantOfShape, Range (plan-time values) |
//! | [`layout`] | Reshape, Flatten, (Un)Squeeze, Transpose, Slice, Gather, Expand, Tile, Pad, Concat, Split |
//! | [`gemm`] | MatMul, Gemm (and the packed GEMM every matrix product uses) |
//! | [`conv`] | Conv, ConvTranspose |
//! | [`pool`] | MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool |
//! | [`norm`] | BatchNormalization, InstanceNormalization, LayerNormalization, Softmax, LogSoftmax |
//! | [`reduce`] | Reduce*, ArgMax, ArgMin |

pub mod conv;
pub mod elementwise;
mod eval;
pub mod gemm;
pub mod layout;
pub mod norm;
pub(crate) mod params;
pub mod pool;
pub mod reduce;
pub mod shape;

use std::sync::Arc;

use conv::{Conv, ConvKernel, ConvTranspose};
use elementwise::{Binary, Broadcast, Unary};
use layout::IndexMap;
use pool::Pool;
use reduce::Reduce;

pub use eval::data_kind;
pub use gemm::{ConstPanel, MatBias, MatMul};
pub use params::fused_activation;

use crate::json::Node;
use crate::tensor::Tensor;
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

/// A kernel with every size and constant operand fixed at plan time.
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

/// Plans one node of one op: its inputs' shapes and plan-time values in, a kernel or known values out.
pub type Planner = fn(&Node, &[Input]) -> Result<Planned, Error>;

/// The dispatch table: every op the engine runs, and the family planner that plans it.
pub const OPS: &[(&str, Planner)] = &[
    ("Abs", elementwise::plan_unary),
    ("Add", elementwise::plan_binary),
    ("And", elementwise::plan_binary),
    ("ArgMax", reduce::plan_arg_reduce),
    ("ArgMin", reduce::plan_arg_reduce),
    ("AveragePool", pool::plan_pool),
    ("BatchNormalization", norm::plan_batchnorm),
    ("Cast", elementwise::plan_unary),
    ("Ceil", elementwise::plan_unary),
    ("Celu", elementwise::plan_unary),
    ("Clip", elementwise::plan_unary),
    ("Concat", layout::plan_concat),
    ("ConstantOfShape", shape::plan_constant_of_shape),
    ("Conv", conv::plan_conv),
    ("ConvTranspose", conv::plan_conv_transpose),
    ("Cos", elementwise::plan_unary),
    ("Div", elementwise::plan_binary),
    ("Dropout", elementwise::plan_unary),
    ("Elu", elementwise::plan_unary),
    ("Equal", elementwise::plan_binary),
    ("Erf", elementwise::plan_unary),
    ("Exp", elementwise::plan_unary),
    ("Expand", layout::plan_expand),
    ("Flatten", layout::plan_flatten),
    ("Floor", elementwise::plan_unary),
    ("Gather", layout::plan_gather),
    ("Gelu", elementwise::plan_unary),
    ("Gemm", gemm::plan_gemm),
    ("GlobalAveragePool", pool::plan_global_pool),
    ("GlobalMaxPool", pool::plan_global_pool),
    ("Greater", elementwise::plan_binary),
    ("GreaterOrEqual", elementwise::plan_binary),
    ("HardSigmoid", elementwise::plan_unary),
    ("HardSwish", elementwise::plan_unary),
    ("Identity", elementwise::plan_unary),
    ("InstanceNormalization", norm::plan_instance_norm),
    ("LayerNormalization", norm::plan_layer_norm),
    ("LeakyRelu", elementwise::plan_unary),
    ("Less", elementwise::plan_binary),
    ("LessOrEqual", elementwise::plan_binary),
    ("Log", elementwise::plan_unary),
    ("LogSoftmax", norm::plan_softmax),
    ("MatMul", gemm::plan_matmul),
    ("Max", elementwise::plan_binary),
    ("MaxPool", pool::plan_pool),
    ("Min", elementwise::plan_binary),
    ("Mod", elementwise::plan_mod),
    ("Mul", elementwise::plan_binary),
    ("Neg", elementwise::plan_unary),
    ("Not", elementwise::plan_unary),
    ("Or", elementwise::plan_binary),
    ("Pad", layout::plan_pad),
    ("Pow", elementwise::plan_binary),
    ("PRelu", elementwise::plan_binary),
    ("Range", shape::plan_range),
    ("Reciprocal", elementwise::plan_unary),
    ("ReduceL1", reduce::plan_reduce),
    ("ReduceL2", reduce::plan_reduce),
    ("ReduceLogSum", reduce::plan_reduce),
    ("ReduceLogSumExp", reduce::plan_reduce),
    ("ReduceMax", reduce::plan_reduce),
    ("ReduceMean", reduce::plan_reduce),
    ("ReduceMin", reduce::plan_reduce),
    ("ReduceProd", reduce::plan_reduce),
    ("ReduceSum", reduce::plan_reduce),
    ("ReduceSumSquare", reduce::plan_reduce),
    ("Relu", elementwise::plan_unary),
    ("Reshape", layout::plan_reshape),
    ("Round", elementwise::plan_unary),
    ("Selu", elementwise::plan_unary),
    ("Shape", shape::plan_shape),
    ("Sigmoid", elementwise::plan_unary),
    ("Sign", elementwise::plan_unary),
    ("Sin", elementwise::plan_unary),
    ("Size", shape::plan_size),
    ("Slice", layout::plan_slice),
    ("Softmax", norm::plan_softmax),
    ("Softplus", elementwise::plan_unary),
    ("Softsign", elementwise::plan_unary),
    ("Split", layout::plan_split),
    ("Sqrt", elementwise::plan_unary),
    ("Squeeze", layout::plan_squeeze),
    ("Sub", elementwise::plan_binary),
    ("Sum", elementwise::plan_binary),
    ("Tanh", elementwise::plan_unary),
    ("ThresholdedRelu", elementwise::plan_unary),
    ("Tile", layout::plan_tile),
    ("Transpose", layout::plan_transpose),
    ("Unsqueeze", layout::plan_unsqueeze),
    ("Where", elementwise::plan_where),
    ("Xor", elementwise::plan_binary),
];

/// Every op name [`plan_node`] accepts, in [`OPS`] order.
pub fn supported_ops() -> impl Iterator<Item = &'static str> {
    OPS.iter().map(|(name, _)| *name)
}

/// Plans one node given its inputs' shapes and plan-time values. Errors name the node: an op without a kernel is
/// an [`Error::UnsupportedOp`] (listing the supported ops), anything else an [`Error::Op`].
pub fn plan_node(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    let Some((_, planner)) = OPS.iter().find(|(name, _)| *name == node.op) else {
        let supported = supported_ops().collect();
        return Err(Error::UnsupportedOp { op: node.op.clone(), node: node.name.clone(), supported });
    };
    planner(node, inputs).map_err(|e| match e {
        Error::Op { .. } | Error::UnsupportedOp { .. } => e,
        other => params::op_err(node, other),
    })
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
            Kernel::Where(shape, shapes) => elementwise::where_select(shape, shapes, ins, out),
            Kernel::Map(m) => m.run_f32(ins[0], out),
            Kernel::Copy => out.copy_from_slice(ins[0]),
            Kernel::Concat { outer, blocks } => layout::concat_run(ins, *outer, blocks, out),
            Kernel::Split { outer, block, parts } => layout::split_run(ins[0], *outer, *block, parts, outs),
            Kernel::MatMul(m) => m.run(ins, out, scratch),
            Kernel::Conv(c) => c.run(ins, out, scratch),
            Kernel::ConvTranspose(c) => c.run_reading(ins, out),
            Kernel::Pool(p) => p.run(ins[0], out),
            Kernel::GlobalPool { inner, max } => pool::global_pool(ins[0], out, *inner, *max),
            Kernel::ChannelAffine { scale, shift, inner } => norm::channel_affine(ins[0], out, scale, shift, *inner),
            Kernel::BatchNormRuntime { eps, inner } => norm::batchnorm_runtime(ins, out, *eps, *inner),
            Kernel::Normalize { inner, eps, per_element, scale_bias } => match scale_bias {
                Some((s, b)) => norm::normalize_groups(ins[0], out, *inner, *eps, s, b, *per_element),
                None => norm::normalize_groups(ins[0], out, *inner, *eps, ins[1], ins[2], *per_element),
            },
            Kernel::LayerNormRuntime { inner, eps, scale_map, bias_map } => {
                norm::layer_norm_runtime(ins, out, *inner, *eps, scale_map, bias_map.as_ref())
            }
            Kernel::ClipRuntime { has_min, has_max } => elementwise::clip_runtime(ins, out, *has_min, *has_max),
            Kernel::MapRuntimePad(m) => IndexMap { map: Vec::new(), pad: ins[1][0] }.run_with(&m.map, ins[0], out),
            Kernel::Softmax { outer, len, inner, log } => norm::softmax(ins[0], out, *outer, *len, *inner, *log),
            Kernel::Reduce(r) => r.run(ins[0], out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Attr;

    pub(crate) fn node(op: &str, inputs: usize, attrs: &[(&str, Attr)]) -> Node {
        Node {
            name: format!("{op}_0"),
            op: op.into(),
            inputs: (0..inputs).map(|i| format!("in{i}")).collect(),
            outputs: vec!["out".into()],
            attrs: attrs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        }
    }

    pub(crate) fn shape_input(shape: &[usize]) -> Input<'_> {
        Input { shape, value: None, shared: None }
    }

    #[test]
    fn the_dispatch_table_is_sorted_and_has_no_duplicates() {
        let names: Vec<&str> = supported_ops().collect();
        let mut sorted = names.clone();
        sorted.sort_by_key(|n| n.to_ascii_lowercase());
        sorted.dedup();
        assert_eq!(names, sorted);
        assert!(names.len() >= 90, "{} ops", names.len());
    }

    #[test]
    fn an_unknown_op_is_an_unsupported_op_error_naming_the_node() {
        let err = plan_node(&node("NoSuchOp", 1, &[]), &[shape_input(&[2])]).err().unwrap();
        assert!(
            matches!(&err, Error::UnsupportedOp { op, node, .. } if op == "NoSuchOp" && node == "NoSuchOp_0"),
            "{err}"
        );
        assert!(err.to_string().contains("supported ops: Abs, Add, And, ArgMax"), "{err}");
        assert_eq!(err.name(), "UnsupportedOpError");
    }

    #[test]
    fn every_table_entry_reaches_its_family_planner() {
        for (name, _) in OPS {
            if let Err(e) = plan_node(&node(name, 0, &[]), &[]) {
                assert!(!matches!(e, Error::UnsupportedOp { .. }), "{name}: {e}");
                assert!(e.to_string().contains(name), "{name}: the error should name the op: {e}");
            }
        }
    }

    #[test]
    fn a_planner_error_names_op_and_node() {
        let err = plan_node(&node("Add", 2, &[]), &[shape_input(&[2, 3]), shape_input(&[4])]).err().unwrap();
        let msg = err.to_string();
        assert!(msg.starts_with("Add node \"Add_0\""), "{msg}");
        assert!(msg.contains("[2, 3]") && msg.contains("[4]"), "{msg}");
    }
}
