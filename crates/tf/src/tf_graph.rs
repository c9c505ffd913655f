//! TensorFlow GraphDef nodes (from a TF.js graph model or a frozen SavedModel) translated into the IR.

use std::collections::{HashMap, HashSet};

use crate::{BatchNormParams, Builder, ConvSpec, ModelGraph, Padding, PoolWindow};
use webinfer_format::json::{Attr, DType, Dim};
use webinfer_format::tensor::Tensor;
use webinfer_format::Error;

/// One attribute value of a TensorFlow node.
#[derive(Clone, Debug, PartialEq)]
pub enum TfAttr {
    S(Vec<u8>),
    I(i64),
    F(f32),
    B(bool),
    Type(String),
    /// Dimensions (-1 unknown); `None` for unknown rank.
    Shape(Option<Vec<i64>>),
    List {
        s: Vec<Vec<u8>>,
        i: Vec<i64>,
        f: Vec<f32>,
    },
    Tensor(Option<Tensor>),
    Other,
}

/// One TensorFlow node. Inputs are `node`, `node:k` or `^node` (control edges, ignored).
#[derive(Clone, Debug, Default)]
pub struct TfNode {
    pub name: String,
    pub op: String,
    pub inputs: Vec<String>,
    pub attrs: HashMap<String, TfAttr>,
}

/// A TensorFlow graph with its constant values (TF.js stores them in the weights, not the nodes).
#[derive(Clone, Debug, Default)]
pub struct TfGraph {
    pub nodes: Vec<TfNode>,
    pub consts: HashMap<String, Tensor>,
    /// Graph inputs as (placeholder node, input name); empty: every reachable Placeholder.
    pub inputs: Vec<(String, String)>,
    /// Graph outputs as (tensor `node` or `node:k`, output name).
    pub outputs: Vec<(String, String)>,
    /// Names the model in messages (a file or URL).
    pub source: String,
}

/// Every TensorFlow op this translator reads.
pub const SUPPORTED_OPS: &[&str] = &[
    "Abs",
    "Add",
    "AddV2",
    "AvgPool",
    "BiasAdd",
    "Cast",
    "ConcatV2",
    "Const",
    "Conv2D",
    "DepthwiseConv2dNative",
    "Elu",
    "Exp",
    "ExpandDims",
    "FusedBatchNorm",
    "FusedBatchNormV2",
    "FusedBatchNormV3",
    "FusedDepthwiseConv2dNative",
    "Identity",
    "IdentityN",
    "LeakyRelu",
    "Log",
    "LogSoftmax",
    "MatMul",
    "Max",
    "MaxPool",
    "Maximum",
    "Mean",
    "Min",
    "Minimum",
    "Mul",
    "Neg",
    "NoOp",
    "Pack",
    "Pad",
    "PadV2",
    "Placeholder",
    "Pow",
    "Prod",
    "RealDiv",
    "Reciprocal",
    "Relu",
    "Relu6",
    "Reshape",
    "Rsqrt",
    "Selu",
    "Shape",
    "Sigmoid",
    "Snapshot",
    "Softmax",
    "Softplus",
    "Softsign",
    "Sqrt",
    "Square",
    "Squeeze",
    "StopGradient",
    "StridedSlice",
    "Sub",
    "Sum",
    "Swish",
    "Tanh",
    "Transpose",
    "_FusedConv2D",
    "_FusedMatMul",
];

impl TfNode {
    fn attr(&self, key: &str) -> Option<&TfAttr> {
        self.attrs.get(key)
    }

    fn string(&self, key: &str) -> Option<String> {
        match self.attr(key) {
            Some(TfAttr::S(s)) => Some(String::from_utf8_lossy(s).into_owned()),
            _ => None,
        }
    }

    fn int(&self, key: &str, default: i64) -> i64 {
        match self.attr(key) {
            Some(TfAttr::I(i)) => *i,
            _ => default,
        }
    }

    fn float(&self, key: &str, default: f32) -> f32 {
        match self.attr(key) {
            Some(TfAttr::F(f)) => *f,
            _ => default,
        }
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.attr(key), Some(TfAttr::B(true)))
    }

    fn ints(&self, key: &str) -> Vec<i64> {
        match self.attr(key) {
            Some(TfAttr::List { i, .. }) => i.clone(),
            _ => Vec::new(),
        }
    }

    fn strings(&self, key: &str) -> Vec<String> {
        match self.attr(key) {
            Some(TfAttr::List { s, .. }) => s.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect(),
            _ => Vec::new(),
        }
    }

    /// Data inputs (control edges dropped).
    fn data_inputs(&self) -> impl DoubleEndedIterator<Item = &String> {
        self.inputs.iter().filter(|i| !i.starts_with('^'))
    }
}

/// The producing node of a tensor reference (`node`, `node:k`, `^node`).
pub fn producer_of(reference: &str) -> &str {
    let r = reference.trim_start_matches('^');
    match r.rsplit_once(':') {
        Some((node, k)) if k.chars().all(|c| c.is_ascii_digit()) => node,
        _ => r,
    }
}

/// The value id of a tensor reference: `node` for output 0, `node:k` otherwise.
fn value_id(reference: &str) -> String {
    match reference.rsplit_once(':') {
        Some((node, "0")) => node.to_string(),
        _ => reference.to_string(),
    }
}

struct Ctx<'a> {
    b: Builder,
    graph: &'a TfGraph,
}

impl Ctx<'_> {
    fn err(&self, node: &TfNode, msg: impl std::fmt::Display) -> Error {
        Error::Op { op: node.op.clone(), node: node.name.clone(), msg: format!("{msg} (in {})", self.graph.source) }
    }

    fn input(&self, node: &TfNode, i: usize) -> Result<String, Error> {
        node.data_inputs().nth(i).map(|r| value_id(r)).ok_or_else(|| self.err(node, format!("missing input {i}")))
    }

    fn const_input(&self, node: &TfNode, i: usize, what: &str) -> Result<std::sync::Arc<Tensor>, Error> {
        let id = self.input(node, i)?;
        self.b.constant_of(&id).ok_or_else(|| self.err(node, format!("{what} ({id:?}) must be a constant")))
    }

    fn const_scalar(&self, node: &TfNode, i: usize, what: &str) -> Result<i64, Error> {
        match self.const_input(node, i, what)?.to_i64s()[..] {
            [v] => Ok(v),
            ref v => Err(self.err(node, format!("{what} must be one integer, got {} values", v.len()))),
        }
    }

    fn const_floats(&self, node: &TfNode, i: usize, what: &str) -> Result<Vec<f32>, Error> {
        Ok(self.const_input(node, i, what)?.to_f32s())
    }

    fn nhwc_pair(&self, node: &TfNode, key: &str) -> Result<[i64; 2], Error> {
        let v = node.ints(key);
        match v.len() {
            0 => Ok([1, 1]),
            4 => Ok([v[1], v[2]]),
            _ => Err(self.err(node, format!("{key} {v:?} is not a 4-element NHWC list"))),
        }
    }

    fn padding(&self, node: &TfNode) -> Result<Padding, Error> {
        let p = node.string("padding").unwrap_or_else(|| "VALID".into());
        if p == "EXPLICIT" {
            let e = node.ints("explicit_paddings");
            if e.len() != 8 {
                return Err(self.err(node, format!("explicit_paddings {e:?} is not 8 values")));
            }
            return Ok(Padding::Explicit([e[2], e[4], e[3], e[5]]));
        }
        Padding::parse(&p, &node.name)
    }

    fn check_nhwc(&self, node: &TfNode) -> Result<(), Error> {
        match node.string("data_format").as_deref() {
            None | Some("NHWC") => Ok(()),
            Some(other) => Err(self.err(node, format!("data_format {other:?} is not supported (NHWC only)"))),
        }
    }

    fn translate(&mut self, node: &TfNode) -> Result<(), Error> {
        let id = node.name.clone();
        let name = node.name.as_str();
        let op = node.op.as_str();
        match op {
            "Placeholder" => {
                let shape = match node.attr("shape") {
                    Some(TfAttr::Shape(Some(dims))) => dims
                        .iter()
                        .map(|&d| if d < 0 { Dim::Symbol("batch".into()) } else { Dim::Fixed(d as u64) })
                        .collect(),
                    _ => return Err(self.err(node, "the input's shape (rank) must be known")),
                };
                let dtype = match node.attr("dtype") {
                    Some(TfAttr::Type(t)) if t == "DT_INT32" || t == "DT_INT64" => DType::Int64,
                    _ => DType::Float32,
                };
                let label =
                    self.graph.inputs.iter().find(|(n, _)| n == name).map_or(name, |(_, l)| l.as_str()).to_string();
                self.b.input(&id, &label, dtype, shape);
            }
            "Const" => {
                let t = match self.graph.consts.get(name) {
                    Some(t) => t.clone(),
                    None => match node.attr("value") {
                        Some(TfAttr::Tensor(Some(t))) => t.clone(),
                        _ => return Err(self.err(node, "has no value (not in the weights manifest either)")),
                    },
                };
                self.b.constant(&id, t);
            }
            "Identity" | "Snapshot" | "StopGradient" => {
                let x = self.input(node, 0)?;
                self.b.alias(&id, &x)?;
            }
            "IdentityN" => {
                for (k, r) in node.data_inputs().enumerate() {
                    let target = if k == 0 { id.clone() } else { format!("{id}:{k}") };
                    self.b.alias(&target, &value_id(r))?;
                }
            }
            "NoOp" => {}
            "Conv2D" | "_FusedConv2D" | "DepthwiseConv2dNative" | "FusedDepthwiseConv2dNative" => self.conv(node)?,
            "MatMul" | "_FusedMatMul" => self.matmul(node)?,
            "BiasAdd" => {
                self.check_nhwc(node)?;
                let (x, b) = (self.input(node, 0)?, self.input(node, 1)?);
                self.b.binary(&id, name, "Add", &x, &b)?;
            }
            "Add" | "AddV2" | "Sub" | "Mul" | "RealDiv" | "Maximum" | "Minimum" | "Pow" => {
                let ir = match op {
                    "Add" | "AddV2" => "Add",
                    "RealDiv" => "Div",
                    "Maximum" => "Max",
                    "Minimum" => "Min",
                    o => o,
                };
                let (a, b) = (self.input(node, 0)?, self.input(node, 1)?);
                self.b.binary(&id, name, ir, &a, &b)?;
            }
            "Square" => {
                let x = self.input(node, 0)?;
                self.b.binary(&id, name, "Mul", &x, &x)?;
            }
            "Rsqrt" => {
                let x = self.input(node, 0)?;
                let root = format!("{id}/sqrt");
                self.b.unary(&root, &root, "Sqrt", &x, vec![])?;
                self.b.unary(&id, name, "Reciprocal", &root, vec![])?;
            }
            "Relu" | "Relu6" | "Elu" | "Sigmoid" | "Tanh" | "Selu" | "Softplus" | "Softsign" | "Exp" => {
                let x = self.input(node, 0)?;
                self.b.activation(&id, name, op, &x)?;
            }
            "Swish" => {
                let x = self.input(node, 0)?;
                self.b.activation(&id, name, "swish", &x)?;
            }
            "LeakyRelu" => {
                let x = self.input(node, 0)?;
                self.b.unary(&id, name, "LeakyRelu", &x, vec![("alpha", Attr::Float(node.float("alpha", 0.2)))])?;
            }
            "Abs" | "Neg" | "Sqrt" | "Log" | "Reciprocal" => {
                let x = self.input(node, 0)?;
                self.b.unary(&id, name, op, &x, vec![])?;
            }
            "Softmax" => {
                let x = self.input(node, 0)?;
                self.b.softmax(&id, name, &x, -1)?;
            }
            "LogSoftmax" => {
                let x = self.input(node, 0)?;
                let xp = self.b.plain(&x)?;
                let out = self.b.node(name, "LogSoftmax", vec![xp], vec![("axis", Attr::Int(-1))]);
                let rank = self.b.rank(&x);
                self.b.define(&id, out, rank, false);
            }
            "MaxPool" | "AvgPool" => {
                self.check_nhwc(node)?;
                let x = self.input(node, 0)?;
                let (k, s, p) = (self.nhwc_pair(node, "ksize")?, self.nhwc_pair(node, "strides")?, self.padding(node)?);
                self.b.pool2d(&id, name, &x, op == "MaxPool", PoolWindow { kernel: k, strides: s, padding: p })?;
            }
            "Mean" | "Sum" | "Max" | "Min" | "Prod" => {
                let x = self.input(node, 0)?;
                let axes = self.const_input(node, 1, "reduction_indices")?.to_i64s();
                let ir = format!("Reduce{}", if op == "Prod" { "Prod" } else { op });
                self.b.reduce(&id, name, &ir, &x, &axes, node.flag("keep_dims"))?;
            }
            "FusedBatchNorm" | "FusedBatchNormV2" | "FusedBatchNormV3" => {
                self.check_nhwc(node)?;
                if node.flag("is_training") {
                    return Err(self.err(node, "training mode is not supported"));
                }
                let x = self.input(node, 0)?;
                let p: Vec<Vec<f32>> =
                    (1..5).map(|i| self.const_floats(node, i, "batch norm parameter")).collect::<Result<_, _>>()?;
                let [g, b, m, v] = <[Vec<f32>; 4]>::try_from(p).expect("four parameters");
                self.b.batchnorm(
                    &id,
                    name,
                    &x,
                    BatchNormParams {
                        gamma: Some(g),
                        beta: Some(b),
                        mean: m,
                        var: v,
                        eps: node.float("epsilon", 1e-3),
                    },
                )?;
            }
            "Reshape" => {
                let x = self.b.plain(&self.input(node, 0)?)?;
                let shape_id = self.input(node, 1)?;
                let shape = self.b.plain(&shape_id)?;
                let rank = self.b.constant_of(&shape_id).map(|t| t.len());
                let out = self.b.node(name, "Reshape", vec![x, shape], vec![("allowzero", Attr::Int(1))]);
                self.b.define(&id, out, rank, false);
            }
            "Squeeze" => {
                let x = self.input(node, 0)?;
                let axes = node.ints("squeeze_dims");
                let xp = self.b.plain(&x)?;
                let rank = self.b.rank(&x);
                let (attrs, out_rank) = if axes.is_empty() {
                    (vec![], None)
                } else {
                    (vec![("axes", Attr::Ints(axes.clone()))], rank.map(|r| r.saturating_sub(axes.len())))
                };
                let out = self.b.node(name, "Squeeze", vec![xp], attrs);
                self.b.define(&id, out, out_rank, false);
            }
            "ExpandDims" => {
                let x = self.input(node, 0)?;
                let axis = self.const_input(node, 1, "axis")?.to_i64s();
                let xp = self.b.plain(&x)?;
                let rank = self.b.rank(&x).map(|r| r + 1);
                let out = self.b.node(name, "Unsqueeze", vec![xp], vec![("axes", Attr::Ints(axis))]);
                self.b.define(&id, out, rank, false);
            }
            "ConcatV2" => {
                let n = node.data_inputs().count();
                if n < 2 {
                    return Err(self.err(node, format!("ConcatV2 needs its parts and an axis, got {n} input(s)")));
                }
                let axis = self.const_scalar(node, n - 1, "axis")?;
                let parts: Vec<String> = (0..n - 1).map(|i| self.input(node, i)).collect::<Result<_, _>>()?;
                self.b.concat(&id, name, &parts, axis)?;
            }
            "Pack" => {
                let axis = node.int("axis", 0);
                let n = node.data_inputs().count();
                let rank = self.b.rank(&self.input(node, 0)?).map(|r| r + 1);
                let mut parts = Vec::new();
                for i in 0..n {
                    let xp = self.b.plain(&self.input(node, i)?)?;
                    parts.push(self.b.node(
                        &format!("{name}/expand{i}"),
                        "Unsqueeze",
                        vec![xp],
                        vec![("axes", Attr::Ints(vec![axis]))],
                    ));
                }
                let out = self.b.node(name, "Concat", parts, vec![("axis", Attr::Int(axis))]);
                self.b.define(&id, out, rank, false);
            }
            "Pad" | "PadV2" => {
                let x = self.input(node, 0)?;
                let p = self.const_input(node, 1, "paddings")?.to_i64s();
                let pads: Vec<(i64, i64)> = p.chunks_exact(2).map(|c| (c[0], c[1])).collect();
                let value = if op == "PadV2" { self.const_floats(node, 2, "constant_values")?[0] } else { 0.0 };
                self.b.pad(&id, name, &x, &pads, value)?;
            }
            "Transpose" => {
                let x = self.input(node, 0)?;
                let perm = self.const_input(node, 1, "perm")?.to_i64s();
                let xp = self.b.plain(&x)?;
                let rank = Some(perm.len());
                let out = self.b.node(name, "Transpose", vec![xp], vec![("perm", Attr::Ints(perm))]);
                self.b.define(&id, out, rank, false);
            }
            "Shape" => {
                let x = self.input(node, 0)?;
                let rank = self.b.rank(&x);
                let out = if self.b.is_nchw(&x) {
                    let xp = self.b.nchw(&x, op, name)?;
                    let shape = self.b.node(&format!("{name}/nchw"), "Shape", vec![xp], vec![]);
                    let order = self.b.param(&format!("{name}/order"), Tensor::i64(vec![4], vec![0, 2, 3, 1]));
                    self.b.node(name, "Gather", vec![shape, order], vec![("axis", Attr::Int(0))])
                } else {
                    let xp = self.b.plain(&x)?;
                    self.b.node(name, "Shape", vec![xp], vec![])
                };
                self.b.define(&id, out, rank.map(|_| 1), false);
            }
            "Cast" => {
                let x = self.input(node, 0)?;
                let to = match node.attr("DstT") {
                    Some(TfAttr::Type(t)) => match t.as_str() {
                        "DT_FLOAT" | "DT_DOUBLE" | "DT_HALF" => "float32",
                        "DT_BOOL" => "bool",
                        "DT_INT32" => "int32",
                        _ => "int64",
                    },
                    _ => "float32",
                };
                self.b.unary(&id, name, "Cast", &x, vec![("to", Attr::String(to.into()))])?;
            }
            "StridedSlice" => self.strided_slice(node)?,
            _ => {
                return Err(Error::Unsupported(format!(
                    "{}: unsupported TensorFlow op {op:?} in node {name:?}; supported ops: {}",
                    self.graph.source,
                    SUPPORTED_OPS.join(", ")
                )))
            }
        }
        Ok(())
    }

    fn conv(&mut self, node: &TfNode) -> Result<(), Error> {
        self.check_nhwc(node)?;
        let depthwise = node.op.contains("Depthwise");
        let (x, filter) = (self.input(node, 0)?, self.input(node, 1)?);
        let fused = node.strings("fused_ops");
        let mut bias: Option<Vec<f32>> = None;
        let mut activation: Option<String> = None;
        let mut rest = fused.iter().map(String::as_str).peekable();
        let filter_scale: Option<Vec<f32>>;
        match rest.peek() {
            Some(&"BiasAdd") => {
                rest.next();
                bias = Some(self.const_floats(node, 2, "bias")?);
                filter_scale = None;
            }
            Some(&"FusedBatchNorm") => {
                rest.next();
                let p: Vec<Vec<f32>> =
                    (2..6).map(|i| self.const_floats(node, i, "batch norm parameter")).collect::<Result<_, _>>()?;
                let (scale, shift) = webinfer_engine::ops::norm::batchnorm_coefficients(
                    &p[0],
                    &p[1],
                    &p[2],
                    &p[3],
                    node.float("epsilon", 1e-3),
                );
                bias = Some(shift);
                filter_scale = Some(scale);
            }
            _ => filter_scale = None,
        }
        let mut leaky = None;
        match rest.next() {
            Some("LeakyRelu") => leaky = Some(node.float("leakyrelu_alpha", 0.2)),
            Some(act) => activation = Some(act.to_string()),
            None => {}
        }
        if let Some(extra) = rest.next() {
            return Err(self.err(node, format!("fused op sequence {fused:?} is not supported (at {extra:?})")));
        }
        let filter_id = match filter_scale {
            Some(scale) => {
                let f = self.const_input(node, 1, "filter")?;
                let mut v = f.to_f32s();
                let c = scale.len();
                v.iter_mut().enumerate().for_each(|(i, x)| *x *= scale[i % c]);
                let scaled = format!("{}/bn_scaled_filter", node.name);
                self.b.constant(&scaled, Tensor::f32(f.shape.clone(), v));
                scaled
            }
            None => filter,
        };
        let (strides, dilations, padding) =
            (self.nhwc_pair(node, "strides")?, self.nhwc_pair(node, "dilations")?, self.padding(node)?);
        let act_name = activation.as_deref();
        let pre = if leaky.is_some() { format!("{}/preactivation", node.name) } else { node.name.clone() };
        let spec = ConvSpec { strides, dilations, padding, depthwise, groups: 1, bias, activation: act_name };
        self.b.conv2d(&pre, &node.name, &x, &filter_id, spec)?;
        if let Some(alpha) = leaky {
            self.b.unary(
                &node.name,
                &format!("{}/leaky_relu", node.name),
                "LeakyRelu",
                &pre,
                vec![("alpha", Attr::Float(alpha))],
            )?;
        }
        Ok(())
    }

    fn matmul(&mut self, node: &TfNode) -> Result<(), Error> {
        let (mut a, mut w) = (self.input(node, 0)?, self.input(node, 1)?);
        if node.flag("transpose_a") {
            let t = format!("{}/a_t", node.name);
            let ap = self.b.plain(&a)?;
            let out = self.b.node(&t, "Transpose", vec![ap], vec![("perm", Attr::Ints(vec![1, 0]))]);
            self.b.define(&t, out, Some(2), false);
            a = t;
        }
        if node.flag("transpose_b") {
            let t = format!("{}/b_t", node.name);
            match self.b.constant_of(&w) {
                Some(c) => {
                    let moved = super::permute(&c, &[1, 0])?;
                    self.b.constant(&t, moved);
                }
                None => {
                    let wp = self.b.plain(&w)?;
                    let out = self.b.node(&t, "Transpose", vec![wp], vec![("perm", Attr::Ints(vec![1, 0]))]);
                    self.b.define(&t, out, Some(2), false);
                }
            }
            w = t;
        }
        let fused = node.strings("fused_ops");
        let (bias, act) = match fused.as_slice() {
            [] => (None, None),
            [b] if b == "BiasAdd" => (Some(self.input(node, 2)?), None),
            [b, act] if b == "BiasAdd" => (Some(self.input(node, 2)?), Some(act.clone())),
            other => return Err(self.err(node, format!("fused op sequence {other:?} is not supported"))),
        };
        match act.as_deref() {
            Some("LeakyRelu") => {
                let pre = format!("{}/preactivation", node.name);
                self.b.matmul(&pre, &node.name, &a, &w, bias.as_deref(), None)?;
                let alpha = node.float("leakyrelu_alpha", 0.2);
                self.b.unary(
                    &node.name,
                    &format!("{}/leaky_relu", node.name),
                    "LeakyRelu",
                    &pre,
                    vec![("alpha", Attr::Float(alpha))],
                )
            }
            act => self.b.matmul(&node.name, &node.name, &a, &w, bias.as_deref(), act),
        }
    }

    fn strided_slice(&mut self, node: &TfNode) -> Result<(), Error> {
        let x = self.input(node, 0)?;
        let begin = self.const_input(node, 1, "begin")?.to_i64s();
        let end = self.const_input(node, 2, "end")?.to_i64s();
        let strides = self.const_input(node, 3, "strides")?.to_i64s();
        if node.int("ellipsis_mask", 0) != 0 || node.int("new_axis_mask", 0) != 0 {
            return Err(self.err(node, "ellipsis_mask and new_axis_mask are not supported"));
        }
        let (bm, em, sm) = (node.int("begin_mask", 0), node.int("end_mask", 0), node.int("shrink_axis_mask", 0));
        let n = begin.len();
        if end.len() != n {
            return Err(self.err(node, format!("begin has {n} values and end {}", end.len())));
        }
        let bit = |mask: i64, i: usize| mask.checked_shr(i as u32).unwrap_or(0) & 1 == 1;
        let mut starts = Vec::with_capacity(n);
        let mut ends = Vec::with_capacity(n);
        let mut shrink = Vec::new();
        for i in 0..n {
            let step = strides.get(i).copied().unwrap_or(1);
            let (lo, hi) = if step > 0 { (0, i64::MAX) } else { (i64::MAX, i64::MIN) };
            let s = if bit(bm, i) { lo } else { begin[i] };
            let e = if bit(sm, i) {
                shrink.push(i as i64);
                if s == -1 {
                    i64::MAX
                } else {
                    s.saturating_add(1)
                }
            } else if bit(em, i) {
                hi
            } else {
                end[i]
            };
            starts.push(s);
            ends.push(e);
        }
        let xp = self.b.plain(&x)?;
        let rank = self.b.rank(&x);
        let p = |b: &mut Builder, k: &str, v: Vec<i64>| {
            b.param(&format!("{}/{k}", node.name), Tensor::i64(vec![v.len()], v))
        };
        let s = p(&mut self.b, "starts", starts);
        let e = p(&mut self.b, "ends", ends);
        let a = p(&mut self.b, "axes", (0..n as i64).collect());
        let st = p(&mut self.b, "steps", strides.clone());
        let sliced_name = if shrink.is_empty() { node.name.clone() } else { format!("{}/slice", node.name) };
        let sliced = self.b.node(&sliced_name, "Slice", vec![xp, s, e, a, st], vec![]);
        let out = if shrink.is_empty() {
            sliced
        } else {
            self.b.node(&node.name, "Squeeze", vec![sliced], vec![("axes", Attr::Ints(shrink))])
        };
        self.b.define(&node.name, out, rank.map(|r| r.saturating_sub(node_shrinks(sm, n))), false);
        Ok(())
    }
}

fn node_shrinks(mask: i64, n: usize) -> usize {
    (0..n).filter(|&i| mask.checked_shr(i as u32).unwrap_or(0) & 1 == 1).count()
}

/// Translates a TensorFlow graph into the IR.
pub fn translate(graph: &TfGraph, generated_by: String) -> Result<ModelGraph, Error> {
    let by_name: HashMap<&str, &TfNode> = graph.nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    let outputs: Vec<(String, String)> = if graph.outputs.is_empty() {
        let read: HashSet<&str> = graph.nodes.iter().flat_map(|n| n.inputs.iter().map(|i| producer_of(i))).collect();
        graph
            .nodes
            .iter()
            .filter(|n| !read.contains(n.name.as_str()) && !matches!(n.op.as_str(), "Const" | "NoOp"))
            .map(|n| (n.name.clone(), n.name.clone()))
            .collect()
    } else {
        graph.outputs.clone()
    };
    let mut order: Vec<&TfNode> = Vec::new();
    let mut done: HashMap<&str, bool> = HashMap::new();
    let mut stack: Vec<(&str, bool)> = outputs.iter().rev().map(|(t, _)| (producer_of(t), false)).collect();
    stack.extend(graph.inputs.iter().rev().map(|(p, _)| (p.as_str(), false)));
    while let Some((name, expanded)) = stack.pop() {
        let node = *by_name
            .get(name)
            .ok_or_else(|| Error::Format(format!("{}: node {name:?} is read but not defined", graph.source)))?;
        if expanded {
            done.insert(name, true);
            order.push(node);
            continue;
        }
        match done.get(name) {
            Some(true) => continue,
            Some(false) => {
                return Err(Error::Format(format!("{}: the graph has a cycle through node {name:?}", graph.source)))
            }
            None => {}
        }
        done.insert(name, false);
        stack.push((name, true));
        for input in node.data_inputs().rev() {
            let p = producer_of(input);
            if done.get(p) != Some(&true) {
                stack.push((p, false));
            }
        }
    }
    let mut ctx = Ctx { b: Builder::default(), graph };
    for node in order {
        if !ctx.b.has(&node.name) {
            ctx.translate(node)?;
        }
    }
    for (tensor, name) in &outputs {
        let id = value_id(tensor);
        if !ctx.b.has(&id) {
            return Err(Error::Format(format!("{}: output {tensor:?} is not produced by the graph", graph.source)));
        }
        ctx.b.output(&id, name)?;
    }
    Ok(ctx.b.finish(generated_by))
}
