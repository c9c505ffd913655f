//! The [`Builder`] every translator writes the IR through.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use webinfer_engine::Model;
use webinfer_format::json::{Attr, DType, Dim, Node, ValueInfo};
use webinfer_format::tensor::Tensor;
use webinfer_format::{Error, ModelGraph};

/// Where a logical (TensorFlow) value lives in the IR graph.
#[derive(Clone, Debug)]
struct Value {
    physical: String,
    rank: Option<usize>,
    /// A logical NHWC rank-4 tensor stored as NCHW.
    nchw: bool,
}

/// NHWC → NCHW.
const TO_NCHW: [i64; 4] = [0, 3, 1, 2];
/// NCHW → NHWC.
const TO_NHWC: [i64; 4] = [0, 2, 3, 1];

/// The physical axis of logical NHWC axis `axis` in an NCHW-stored tensor.
pub(crate) fn nchw_axis(axis: usize) -> usize {
    [0, 2, 3, 1][axis]
}

/// Builds an IR graph from logical (channels-last) values, tracking which are stored NCHW.
#[derive(Default)]
pub(crate) struct Builder {
    pub nodes: Vec<Node>,
    pub weights: HashMap<String, Arc<Tensor>>,
    pub inputs: Vec<ValueInfo>,
    pub outputs: Vec<ValueInfo>,
    values: HashMap<String, Value>,
    relaid: HashMap<(String, bool), String>,
    taken: std::collections::HashSet<String>,
}

/// The attribute list of a node, built inline.
pub(crate) type Attrs = Vec<(&'static str, Attr)>;

impl Builder {
    /// A physical name derived from `base` that no other value has.
    fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut i = 1;
        while self.taken.contains(&name) {
            i += 1;
            name = format!("{base}_{i}");
        }
        self.taken.insert(name.clone());
        name
    }

    pub fn has(&self, id: &str) -> bool {
        self.values.contains_key(id)
    }

    fn value(&self, id: &str) -> Result<&Value, Error> {
        self.values.get(id).ok_or_else(|| Error::Format(format!("{id:?} is read before anything produces it")))
    }

    pub fn rank(&self, id: &str) -> Option<usize> {
        self.values.get(id).and_then(|v| v.rank)
    }

    pub fn is_nchw(&self, id: &str) -> bool {
        self.values.get(id).is_some_and(|v| v.nchw)
    }

    /// Declares a graph input.
    pub fn input(&mut self, id: &str, name: &str, dtype: DType, shape: Vec<Dim>) {
        let physical = self.fresh(name);
        self.inputs.push(ValueInfo { name: physical.clone(), dtype, shape: shape.clone() });
        self.define(id, physical, Some(shape.len()), false);
    }

    /// Declares a constant.
    pub fn constant(&mut self, id: &str, t: Tensor) -> String {
        let physical = self.fresh(id);
        let rank = t.shape.len();
        self.weights.insert(physical.clone(), Arc::new(t));
        self.define(id, physical.clone(), Some(rank), false);
        physical
    }

    /// A constant that only the IR reads (a parameter such as axes or pads); returns its physical name.
    pub fn param(&mut self, base: &str, t: Tensor) -> String {
        let physical = self.fresh(base);
        self.weights.insert(physical.clone(), Arc::new(t));
        physical
    }

    pub fn define(&mut self, id: &str, physical: String, rank: Option<usize>, nchw: bool) {
        let rank = rank.or_else(|| self.weights.get(&physical).map(|t| t.shape.len()));
        self.values.insert(id.to_string(), Value { physical, rank, nchw });
    }

    /// Makes `id` another name of `of`.
    pub fn alias(&mut self, id: &str, of: &str) -> Result<(), Error> {
        let v = self.value(of)?.clone();
        self.values.insert(id.to_string(), v);
        Ok(())
    }

    /// The constant value of `id` in its logical layout, if it is one.
    pub fn constant_of(&self, id: &str) -> Option<Arc<Tensor>> {
        let v = self.values.get(id)?;
        if v.nchw {
            return None;
        }
        self.weights.get(&v.physical).cloned()
    }

    /// Appends a node and returns the physical name of its (first) output. A node whose inputs are all
    /// constants is evaluated now and becomes a constant itself.
    pub fn node(&mut self, name: &str, op: &str, inputs: Vec<String>, attrs: Attrs) -> String {
        let out = self.fresh(name);
        let node = Node {
            name: out.clone(),
            op: op.into(),
            inputs,
            outputs: vec![out.clone()],
            attrs: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<BTreeMap<_, _>>(),
        };
        match self.evaluate(&node) {
            Some(t) => {
                self.weights.insert(out.clone(), Arc::new(t));
            }
            None => self.nodes.push(node),
        }
        out
    }

    /// The value of a node whose inputs are all constants.
    fn evaluate(&self, node: &Node) -> Option<Tensor> {
        let weights: HashMap<String, Arc<Tensor>> = node
            .inputs
            .iter()
            .filter(|i| !i.is_empty())
            .map(|i| self.weights.get(i).map(|t| (i.clone(), Arc::clone(t))))
            .collect::<Option<_>>()?;
        if weights.is_empty() {
            return None;
        }
        let graph = ModelGraph {
            generated_by: String::new(),
            inputs: vec![],
            outputs: vec![ValueInfo { name: node.outputs[0].clone(), dtype: DType::Float32, shape: vec![] }],
            nodes: vec![node.clone()],
            weights,
        };
        let mut model = Model::from_graph(graph).ok()?;
        model.predict(&[]).ok()?.into_iter().next()
    }

    /// The physical name of `id` in its logical layout.
    pub fn plain(&mut self, id: &str) -> Result<String, Error> {
        let v = self.value(id)?.clone();
        if !v.nchw {
            return Ok(v.physical);
        }
        self.relayout(&v.physical, false)
    }

    /// The physical name of rank-4 `id` stored NCHW.
    pub fn nchw(&mut self, id: &str, op: &str, node: &str) -> Result<String, Error> {
        let v = self.value(id)?.clone();
        if v.nchw {
            return Ok(v.physical);
        }
        if v.rank.is_some_and(|r| r != 4) {
            return Err(Error::Op {
                op: op.into(),
                node: node.into(),
                msg: format!("expects a rank-4 NHWC input, got rank {}", v.rank.unwrap_or(0)),
            });
        }
        if let Some(t) = self.weights.get(&v.physical).cloned() {
            let moved = permute(&t, &TO_NCHW)?;
            return Ok(self.param(&format!("{}/nchw", v.physical), moved));
        }
        self.relayout(&v.physical, true)
    }

    fn relayout(&mut self, physical: &str, to_nchw: bool) -> Result<String, Error> {
        let key = (physical.to_string(), to_nchw);
        if let Some(p) = self.relaid.get(&key) {
            return Ok(p.clone());
        }
        let (suffix, perm) = if to_nchw { ("nchw", TO_NCHW) } else { ("nhwc", TO_NHWC) };
        let out = self.node(
            &format!("{physical}/{suffix}"),
            "Transpose",
            vec![physical.to_string()],
            vec![("perm", Attr::Ints(perm.to_vec()))],
        );
        self.relaid.insert(key, out.clone());
        Ok(out)
    }

    /// Makes `id` a graph output named `name` (in its logical layout).
    pub fn output(&mut self, id: &str, name: &str) -> Result<(), Error> {
        let physical = self.plain(id)?;
        let rank = self.rank(id);
        let fixed = self.weights.contains_key(&physical)
            || self.inputs.iter().any(|i| i.name == physical)
            || self.outputs.iter().any(|o| o.name == physical);
        let out = if fixed {
            self.node(name, "Identity", vec![physical], vec![])
        } else if physical != name && !self.taken.contains(name) {
            self.rename(&physical, name);
            name.to_string()
        } else {
            physical
        };
        let shape = (0..rank.unwrap_or(0)).map(|i| Dim::Symbol(format!("d{i}"))).collect();
        self.outputs.push(ValueInfo { name: out, dtype: DType::Float32, shape });
        Ok(())
    }

    /// Renames a node output everywhere it is written or read.
    fn rename(&mut self, from: &str, to: &str) {
        self.taken.insert(to.to_string());
        for node in &mut self.nodes {
            for name in node.outputs.iter_mut().chain(node.inputs.iter_mut()) {
                if name == from {
                    *name = to.to_string();
                }
            }
        }
        for v in self.values.values_mut() {
            if v.physical == from {
                v.physical = to.to_string();
            }
        }
    }

    /// An elementwise binary op with TensorFlow broadcasting, keeping NCHW storage where it can.
    pub fn binary(&mut self, id: &str, name: &str, op: &str, a: &str, b: &str) -> Result<(), Error> {
        let (an, bn) = (self.is_nchw(a), self.is_nchw(b));
        if an || bn {
            let (other, other_nchw) = if an { (b, bn) } else { (a, an) };
            let other_physical = if other_nchw {
                Some(self.value(other)?.physical.clone())
            } else if let Some(t) = self.constant_of(other) {
                Some(self.nchw_broadcastable(&t, name)?)
            } else if self.rank(other) == Some(4) {
                Some(self.nchw(other, op, name)?)
            } else if let Some(r) = self.rank(other).filter(|&r| r < 4) {
                let p = self.plain(other)?;
                let axes: Vec<i64> = (0..(4 - r) as i64).collect();
                let lifted = if axes.is_empty() {
                    p
                } else {
                    self.node(&format!("{name}/rank4"), "Unsqueeze", vec![p], vec![("axes", Attr::Ints(axes))])
                };
                Some(self.node(
                    &format!("{name}/nchw_operand"),
                    "Transpose",
                    vec![lifted],
                    vec![("perm", Attr::Ints(TO_NCHW.to_vec()))],
                ))
            } else {
                None
            };
            if let Some(o) = other_physical {
                let mine = self.value(if an { a } else { b })?.physical.clone();
                let inputs = if an { vec![mine, o] } else { vec![o, mine] };
                let out = self.node(name, op, inputs, vec![]);
                self.define(id, out, Some(4), true);
                return Ok(());
            }
        }
        let (pa, pb) = (self.plain(a)?, self.plain(b)?);
        let rank = match (self.rank(a), self.rank(b)) {
            (Some(x), Some(y)) => Some(x.max(y)),
            _ => None,
        };
        let out = self.node(name, op, vec![pa, pb], vec![]);
        self.define(id, out, rank, false);
        Ok(())
    }

    /// A constant broadcast against a logical NHWC tensor, rearranged to broadcast against its NCHW storage.
    fn nchw_broadcastable(&mut self, t: &Tensor, name: &str) -> Result<String, Error> {
        if t.shape.len() > 4 {
            return Err(Error::Shape(format!(
                "node {name:?}: constant of rank {} broadcast against a rank-4 tensor",
                t.shape.len()
            )));
        }
        let mut shape = vec![1; 4 - t.shape.len()];
        shape.extend(&t.shape);
        let padded = Tensor { shape, data: t.data.clone() };
        let moved = permute(&padded, &TO_NCHW)?;
        Ok(self.param(&format!("{name}/nchw_const"), moved))
    }

    /// A unary op that keeps the layout of its input.
    pub fn unary(&mut self, id: &str, name: &str, op: &str, x: &str, attrs: Attrs) -> Result<(), Error> {
        let v = self.value(x)?.clone();
        let out = self.node(name, op, vec![v.physical], attrs);
        self.define(id, out, v.rank, v.nchw);
        Ok(())
    }

    /// An activation by its Keras/TensorFlow name, as IR nodes after `x`.
    pub fn activation(&mut self, id: &str, name: &str, kind: &str, x: &str) -> Result<(), Error> {
        match kind {
            "linear" | "Identity" => self.alias(id, x),
            "relu" | "Relu" => self.unary(id, name, "Relu", x, vec![]),
            "relu6" | "Relu6" => self.clip(id, name, x, 0.0, 6.0),
            "sigmoid" | "Sigmoid" => self.unary(id, name, "Sigmoid", x, vec![]),
            "tanh" | "Tanh" => self.unary(id, name, "Tanh", x, vec![]),
            "elu" | "Elu" => self.unary(id, name, "Elu", x, vec![("alpha", Attr::Float(1.0))]),
            "selu" | "Selu" => self.unary(id, name, "Selu", x, vec![]),
            "softplus" | "Softplus" => self.unary(id, name, "Softplus", x, vec![]),
            "softsign" | "Softsign" => self.unary(id, name, "Softsign", x, vec![]),
            "exponential" | "Exp" => self.unary(id, name, "Exp", x, vec![]),
            "gelu" => self.unary(id, name, "Gelu", x, vec![("approximate", Attr::String("none".into()))]),
            "swish" | "silu" => {
                let sig = format!("{name}/sigmoid");
                self.unary(&sig, &sig, "Sigmoid", x, vec![])?;
                self.binary(id, name, "Mul", x, &sig)
            }
            "softmax" | "Softmax" => self.softmax(id, name, x, -1),
            "leaky_relu" | "LeakyRelu" => self.unary(id, name, "LeakyRelu", x, vec![("alpha", Attr::Float(0.2))]),
            other => Err(Error::Unsupported(format!("activation {other:?} (in {name:?}) is not supported"))),
        }
    }

    pub fn clip(&mut self, id: &str, name: &str, x: &str, lo: f32, hi: f32) -> Result<(), Error> {
        let v = self.value(x)?.clone();
        let lo = self.param(&format!("{name}/min"), Tensor::f32(vec![], vec![lo]));
        let hi = self.param(&format!("{name}/max"), Tensor::f32(vec![], vec![hi]));
        let out = self.node(name, "Clip", vec![v.physical, lo, hi], vec![]);
        self.define(id, out, v.rank, v.nchw);
        Ok(())
    }

    /// Softmax over logical axis `axis`.
    pub fn softmax(&mut self, id: &str, name: &str, x: &str, axis: i64) -> Result<(), Error> {
        let v = self.value(x)?.clone();
        let (physical, axis) = match (v.nchw, v.rank) {
            (true, _) => {
                let a = webinfer_format::tensor::normalize_axis(axis, 4, &format!("Softmax {name:?}"))?;
                (v.physical, nchw_axis(a) as i64)
            }
            _ => (v.physical, axis),
        };
        let out = self.node(name, "Softmax", vec![physical], vec![("axis", Attr::Int(axis))]);
        self.define(id, out, v.rank, v.nchw);
        Ok(())
    }

    /// Folds an activation into a Conv/MatMul node's `activation` attribute when the kernels fuse it.
    pub fn fused_activation(kind: &str) -> Option<Attrs> {
        let a = |s: &str| ("activation", Attr::String(s.into()));
        Some(match kind {
            "relu" | "Relu" => vec![a("Relu")],
            "relu6" | "Relu6" => {
                vec![a("Clip"), ("activation_min", Attr::Float(0.0)), ("activation_max", Attr::Float(6.0))]
            }
            "sigmoid" | "Sigmoid" => vec![a("Sigmoid")],
            "tanh" | "Tanh" => vec![a("Tanh")],
            _ => return None,
        })
    }

    pub fn finish(self, generated_by: String) -> ModelGraph {
        ModelGraph {
            generated_by,
            inputs: self.inputs,
            outputs: self.outputs,
            nodes: self.nodes,
            weights: self.weights,
        }
    }
}

/// Transposes a constant tensor.
pub(crate) fn permute(t: &Tensor, perm: &[i64]) -> Result<Tensor, Error> {
    let (map, shape) = webinfer_engine::ops::layout::transpose(&t.shape, Some(perm))?;
    Ok(match &t.data {
        webinfer_format::tensor::Data::F32(v) => {
            let mut out = vec![0.0; v.len()];
            map.run_f32(v, &mut out);
            Tensor::f32(shape, out)
        }
        webinfer_format::tensor::Data::I64(v) => Tensor::i64(shape, map.run_i64(v)),
    })
}

/// A TensorFlow convolution filter (HWIO, or HWCM for depthwise) as an IR Conv weight (OIHW).
pub(crate) fn conv_filter(t: &Tensor, depthwise: bool) -> Result<Tensor, Error> {
    if t.shape.len() != 4 {
        return Err(Error::Shape(format!("a convolution filter must have rank 4, got shape {:?}", t.shape)));
    }
    if depthwise {
        let (kh, kw, c, m) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3]);
        let moved = permute(t, &[2, 3, 0, 1])?;
        Ok(Tensor { shape: vec![c * m, 1, kh, kw], data: moved.data })
    } else {
        permute(t, &[3, 2, 0, 1])
    }
}

/// Convolution settings in TensorFlow terms.
pub(crate) struct ConvSpec<'a> {
    pub strides: [i64; 2],
    pub dilations: [i64; 2],
    /// "SAME", "VALID" or explicit `[top, left, bottom, right]`.
    pub padding: Padding,
    pub depthwise: bool,
    pub groups: i64,
    pub bias: Option<Vec<f32>>,
    pub activation: Option<&'a str>,
}

/// A pooling window in TensorFlow terms.
pub(crate) struct PoolWindow {
    pub kernel: [i64; 2],
    pub strides: [i64; 2],
    pub padding: Padding,
}

/// Inference batch-norm statistics; absent gamma/beta mean 1/0.
pub(crate) struct BatchNormParams {
    pub gamma: Option<Vec<f32>>,
    pub beta: Option<Vec<f32>>,
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
    pub eps: f32,
}

#[derive(Clone, Debug)]
pub(crate) enum Padding {
    Same,
    Valid,
    Explicit([i64; 4]),
}

impl Padding {
    pub fn parse(s: &str, name: &str) -> Result<Self, Error> {
        match s.to_ascii_uppercase().as_str() {
            "SAME" => Ok(Padding::Same),
            "VALID" => Ok(Padding::Valid),
            other => Err(Error::Unsupported(format!("{name:?}: padding {other:?} is not supported (SAME or VALID)"))),
        }
    }

    fn attrs(&self) -> Attrs {
        match self {
            Padding::Same => vec![("auto_pad", Attr::String("SAME_UPPER".into()))],
            Padding::Valid => vec![],
            Padding::Explicit(p) => vec![("pads", Attr::Ints(p.to_vec()))],
        }
    }
}

impl Builder {
    /// A 2-D convolution of NHWC `x` with a TensorFlow filter (constant, or computed in the graph).
    pub fn conv2d(&mut self, id: &str, name: &str, x: &str, filter: &str, spec: ConvSpec) -> Result<(), Error> {
        let xp = self.nchw(x, "Conv", name)?;
        let w = match self.constant_of(filter) {
            Some(t) => {
                let w = conv_filter(&t, spec.depthwise)?;
                self.param(&format!("{name}/weight"), w)
            }
            None => {
                let f = self.plain(filter)?;
                if spec.depthwise {
                    let moved = self.node(
                        &format!("{name}/filter_chw"),
                        "Transpose",
                        vec![f],
                        vec![("perm", Attr::Ints(vec![2, 3, 0, 1]))],
                    );
                    let shape = self.param(&format!("{name}/filter_shape"), Tensor::i64(vec![4], vec![-1, 1, 0, 0]));
                    self.node(&format!("{name}/filter"), "Reshape", vec![moved, shape], vec![])
                } else {
                    self.node(
                        &format!("{name}/filter"),
                        "Transpose",
                        vec![f],
                        vec![("perm", Attr::Ints(vec![3, 2, 0, 1]))],
                    )
                }
            }
        };
        let mut attrs: Attrs =
            vec![("strides", Attr::Ints(spec.strides.to_vec())), ("dilations", Attr::Ints(spec.dilations.to_vec()))];
        attrs.extend(spec.padding.attrs());
        let mut inputs = vec![xp, w];
        if spec.depthwise {
            let channels = self.constant_of(filter).map(|t| t.shape[2] as i64);
            let Some(c) = channels else {
                return Err(Error::Op {
                    op: "DepthwiseConv2D".into(),
                    node: name.into(),
                    msg: "the filter must be a constant".into(),
                });
            };
            attrs.push(("group", Attr::Int(c)));
        } else if spec.groups != 1 {
            attrs.push(("group", Attr::Int(spec.groups)));
        }
        if let Some(b) = spec.bias {
            let n = b.len();
            inputs.push(self.param(&format!("{name}/bias"), Tensor::f32(vec![n], b)));
        }
        let fused = spec.activation.and_then(Builder::fused_activation);
        if let Some(a) = &fused {
            attrs.extend(a.iter().cloned());
        }
        let out = self.node(name, "Conv", inputs, attrs);
        match (spec.activation, fused) {
            (Some(act), None) => {
                let pre = format!("{id}/preactivation");
                self.define(&pre, out, Some(4), true);
                self.activation(id, &format!("{name}/{act}"), act, &pre)
            }
            _ => {
                self.define(id, out, Some(4), true);
                Ok(())
            }
        }
    }

    /// Max or average pooling of NHWC `x` (average excludes padding, as TensorFlow does).
    pub fn pool2d(&mut self, id: &str, name: &str, x: &str, max: bool, window: PoolWindow) -> Result<(), Error> {
        let PoolWindow { kernel, strides, padding } = window;
        let op = if max { "MaxPool" } else { "AveragePool" };
        let xp = self.nchw(x, op, name)?;
        let mut attrs: Attrs =
            vec![("kernel_shape", Attr::Ints(kernel.to_vec())), ("strides", Attr::Ints(strides.to_vec()))];
        attrs.extend(padding.attrs());
        let out = self.node(name, op, vec![xp], attrs);
        self.define(id, out, Some(4), true);
        Ok(())
    }

    /// Inference batch normalization over the last (channel) axis with constant statistics.
    pub fn batchnorm(&mut self, id: &str, name: &str, x: &str, params: BatchNormParams) -> Result<(), Error> {
        let BatchNormParams { gamma, beta, mean, var, eps } = params;
        let c = mean.len();
        let gamma = gamma.unwrap_or_else(|| vec![1.0; c]);
        let beta = beta.unwrap_or_else(|| vec![0.0; c]);
        if [gamma.len(), beta.len(), var.len()].iter().any(|&n| n != c) {
            return Err(Error::Op {
                op: "BatchNormalization".into(),
                node: name.into(),
                msg: "parameters differ in length".into(),
            });
        }
        if self.is_nchw(x) || self.rank(x) == Some(4) {
            let xp = self.nchw(x, "BatchNormalization", name)?;
            let params: Vec<String> = [("scale", gamma), ("bias", beta), ("mean", mean), ("var", var)]
                .into_iter()
                .map(|(k, v)| self.param(&format!("{name}/{k}"), Tensor::f32(vec![c], v)))
                .collect();
            let mut inputs = vec![xp];
            inputs.extend(params);
            let out = self.node(name, "BatchNormalization", inputs, vec![("epsilon", Attr::Float(eps))]);
            self.define(id, out, Some(4), true);
            return Ok(());
        }
        let (scale, shift) = webinfer_engine::ops::norm::batchnorm_coefficients(&gamma, &beta, &mean, &var, eps);
        let xp = self.plain(x)?;
        let s = self.param(&format!("{name}/scale"), Tensor::f32(vec![c], scale));
        let t = self.param(&format!("{name}/shift"), Tensor::f32(vec![c], shift));
        let scaled = self.node(&format!("{name}/mul"), "Mul", vec![xp, s], vec![]);
        let out = self.node(name, "Add", vec![scaled, t], vec![]);
        let rank = self.rank(x);
        self.define(id, out, rank, false);
        Ok(())
    }

    /// Concatenation along logical axis `axis`.
    pub fn concat(&mut self, id: &str, name: &str, parts: &[String], axis: i64) -> Result<(), Error> {
        let rank = parts.iter().find_map(|p| self.rank(p));
        let all_nchw = rank == Some(4) && parts.iter().all(|p| self.is_nchw(p) || self.constant_of(p).is_some());
        let any_nchw = parts.iter().any(|p| self.is_nchw(p));
        if all_nchw && any_nchw {
            let a = webinfer_format::tensor::normalize_axis(axis, 4, &format!("Concat {name:?} axis"))?;
            let inputs = parts.iter().map(|p| self.nchw(p, "Concat", name)).collect::<Result<Vec<_>, _>>()?;
            let out = self.node(name, "Concat", inputs, vec![("axis", Attr::Int(nchw_axis(a) as i64))]);
            self.define(id, out, Some(4), true);
            return Ok(());
        }
        let inputs = parts.iter().map(|p| self.plain(p)).collect::<Result<Vec<_>, _>>()?;
        let out = self.node(name, "Concat", inputs, vec![("axis", Attr::Int(axis))]);
        self.define(id, out, rank, false);
        Ok(())
    }

    /// Constant padding with `pads[axis] = (before, after)` in logical axes.
    pub fn pad(&mut self, id: &str, name: &str, x: &str, pads: &[(i64, i64)], value: f32) -> Result<(), Error> {
        let rank = pads.len();
        let nchw = self.is_nchw(x) && rank == 4;
        let xp = if nchw { self.value(x)?.physical.clone() } else { self.plain(x)? };
        let order: Vec<usize> = if nchw { TO_NCHW.iter().map(|&a| a as usize).collect() } else { (0..rank).collect() };
        let mut flat: Vec<i64> = order.iter().map(|&a| pads[a].0).collect();
        flat.extend(order.iter().map(|&a| pads[a].1));
        let p = self.param(&format!("{name}/pads"), Tensor::i64(vec![2 * rank], flat));
        let v = self.param(&format!("{name}/value"), Tensor::f32(vec![], vec![value]));
        let out = self.node(name, "Pad", vec![xp, p, v], vec![]);
        self.define(id, out, Some(rank), nchw);
        Ok(())
    }

    /// A reduction over logical axes.
    pub fn reduce(
        &mut self,
        id: &str,
        name: &str,
        op: &str,
        x: &str,
        axes: &[i64],
        keep_dims: bool,
    ) -> Result<(), Error> {
        let rank = self.rank(x);
        let norm: Vec<usize> = match rank {
            Some(r) => {
                axes.iter().map(|&a| webinfer_format::tensor::normalize_axis(a, r, op)).collect::<Result<_, _>>()?
            }
            None => axes.iter().map(|&a| a as usize).collect(),
        };
        let out_rank = rank.map(|r| if keep_dims { r } else { r.saturating_sub(norm.len()) });
        if self.is_nchw(x) {
            let kept: Vec<i64> = TO_NCHW.iter().copied().filter(|a| !norm.contains(&(*a as usize))).collect();
            if keep_dims || kept.windows(2).all(|w| w[0] < w[1]) {
                let physical_axes: Vec<i64> = norm.iter().map(|&a| nchw_axis(a) as i64).collect();
                let xp = self.value(x)?.physical.clone();
                let axes_name =
                    self.param(&format!("{name}/axes"), Tensor::i64(vec![physical_axes.len()], physical_axes));
                let out = self.node(name, op, vec![xp, axes_name], vec![("keepdims", Attr::Int(keep_dims as i64))]);
                self.define(id, out, out_rank, keep_dims);
                return Ok(());
            }
        }
        let xp = self.plain(x)?;
        let axes_name = self
            .param(&format!("{name}/axes"), Tensor::i64(vec![norm.len()], norm.iter().map(|&a| a as i64).collect()));
        let out = self.node(name, op, vec![xp, axes_name], vec![("keepdims", Attr::Int(keep_dims as i64))]);
        self.define(id, out, out_rank, false);
        Ok(())
    }

    /// `x @ w (+ bias)` over the last axis, with a constant or computed `w`.
    pub fn matmul(
        &mut self,
        id: &str,
        name: &str,
        x: &str,
        w: &str,
        bias: Option<&str>,
        activation: Option<&str>,
    ) -> Result<(), Error> {
        let xp = self.plain(x)?;
        let wp = self.plain(w)?;
        let mut inputs = vec![xp, wp];
        if let Some(b) = bias {
            inputs.push(self.plain(b)?);
        }
        let fused = activation.and_then(Builder::fused_activation);
        let out = self.node(name, "MatMul", inputs, fused.clone().unwrap_or_default());
        let rank = self.rank(x);
        match (activation, fused) {
            (Some(act), None) => {
                let pre = format!("{id}/preactivation");
                self.define(&pre, out, rank, false);
                self.activation(id, &format!("{name}/{act}"), act, &pre)
            }
            _ => {
                self.define(id, out, rank, false);
                Ok(())
            }
        }
    }
}
