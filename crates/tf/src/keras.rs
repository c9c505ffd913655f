//! Keras model configs (a TF.js layers model's topology, a `.keras` config.json, an `.h5` model_config)
//! translated into the IR. Keras 2 (`batch_input_shape`, dtype strings, `[[name, 0, 0, {}]]` inbound
//! nodes) and Keras 3 (`batch_shape`, DTypePolicy dicts, `__keras_tensor__` arguments) both read.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::{BatchNormParams, Builder, ConvSpec, ModelGraph, Padding, PoolWindow};
use webinfer_format::json::{Attr, DType, Dim};
use webinfer_format::tensor::Tensor;
use webinfer_format::Error;

/// Each layer's weights in creation order (kernel, bias; gamma, beta, mean, variance; ...).
pub type LayerWeights = HashMap<String, Vec<Arc<Tensor>>>;

/// Every layer class this translator reads.
pub const SUPPORTED_LAYERS: &[&str] = &[
    "Activation",
    "Add",
    "AveragePooling2D",
    "Average",
    "BatchNormalization",
    "Concatenate",
    "Conv2D",
    "Dense",
    "DepthwiseConv2D",
    "Dropout",
    "Flatten",
    "GaussianDropout",
    "GaussianNoise",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "InputLayer",
    "LeakyReLU",
    "MaxPooling2D",
    "Maximum",
    "Minimum",
    "Multiply",
    "ReLU",
    "Reshape",
    "SeparableConv2D",
    "Softmax",
    "SpatialDropout2D",
    "Subtract",
    "ZeroPadding2D",
];

/// A layer of the config: class, name, config and the layer outputs it reads.
struct Layer<'a> {
    class: &'a str,
    name: String,
    config: &'a Value,
    inputs: Vec<String>,
}

/// The layers of a model config in order, for weight naming: (class name, layer name).
pub fn layer_classes(model_config: &Value) -> Vec<(String, String)> {
    let layers = model_config.pointer("/config/layers").and_then(Value::as_array).cloned().unwrap_or_default();
    layers
        .iter()
        .map(|l| {
            let class = l.get("class_name").and_then(Value::as_str).unwrap_or("").to_string();
            let name =
                l.get("name").or_else(|| l.pointer("/config/name")).and_then(Value::as_str).unwrap_or("").to_string();
            (class, name)
        })
        .collect()
}

/// Keras 3 stores layer weights under `layers/<snake_case class>[_<n>]/vars/<i>`, numbering layers of
/// the same class in model order. Maps those keys to layer names.
pub fn keras3_weight_paths(model_config: &Value) -> HashMap<String, String> {
    let mut used: HashMap<String, usize> = HashMap::new();
    let mut out = HashMap::new();
    for (class, name) in layer_classes(model_config) {
        let snake = snake_case(&class);
        let key = match used.get_mut(&snake) {
            Some(n) => {
                *n += 1;
                format!("{snake}_{n}")
            }
            None => {
                used.insert(snake.clone(), 0);
                snake
            }
        };
        out.insert(format!("layers/{key}"), name);
    }
    out
}

/// Keras's `to_snake_case`: `Conv2D` → `conv2d`, `BatchNormalization` → `batch_normalization`, `ReLU` → `re_lu`.
fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().filter(|c| c.is_alphanumeric() || *c == '_').collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
        let prev_lower = i > 0 && chars[i - 1].is_ascii_lowercase();
        if i > 0 && c.is_ascii_uppercase() && (next_lower || prev_lower) {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Groups named weights into layers: Keras 3 `layers/<key>/vars/<i>` paths, or Keras 2 `[model/]layer/weight[:0]` names.
pub fn group_weights(model_config: &Value, named: Vec<(String, Arc<Tensor>)>) -> LayerWeights {
    let k3 = keras3_weight_paths(model_config);
    let layer_names: std::collections::HashSet<String> =
        layer_classes(model_config).into_iter().map(|(_, n)| n).collect();
    let mut indexed: HashMap<String, Vec<(usize, Arc<Tensor>)>> = HashMap::new();
    for (order, (name, t)) in named.into_iter().enumerate() {
        let name = name.trim_end_matches(":0");
        if let Some((prefix, index)) = name.rsplit_once("/vars/") {
            if let (Some(layer), Ok(i)) = (k3.get(prefix), index.parse::<usize>()) {
                indexed.entry(layer.clone()).or_default().push((i, t));
                continue;
            }
        }
        let parts: Vec<&str> = name.split('/').collect();
        let layer = parts.iter().rev().skip(1).find(|p| layer_names.contains(**p)).or(parts.first());
        if let Some(layer) = layer {
            indexed.entry(layer.to_string()).or_default().push((order, t));
        }
    }
    indexed
        .into_iter()
        .map(|(k, mut v)| {
            v.sort_unstable_by_key(|(i, _)| *i);
            (k, v.into_iter().map(|(_, t)| t).collect())
        })
        .collect()
}

struct Ctx<'a> {
    b: Builder,
    weights: &'a LayerWeights,
    source: &'a str,
}

fn ints(v: Option<&Value>) -> Vec<i64> {
    match v {
        Some(Value::Array(a)) => a.iter().map(|x| x.as_i64().unwrap_or(-1)).collect(),
        Some(Value::Number(n)) => vec![n.as_i64().unwrap_or(1)],
        _ => Vec::new(),
    }
}

fn pair(v: Option<&Value>, default: i64) -> [i64; 2] {
    match ints(v).as_slice() {
        [] => [default, default],
        [a] => [*a, *a],
        [a, b, ..] => [*a, *b],
    }
}

/// An activation spec: `"relu"`, or Keras 3's `{"class_name": "function", "config": "relu", ...}`.
fn activation_name(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "linear".into(),
        Some(Value::String(s)) => s.clone(),
        Some(o) => o
            .get("config")
            .and_then(|c| {
                c.as_str().map(str::to_string).or_else(|| c.get("name").and_then(Value::as_str).map(str::to_string))
            })
            .or_else(|| o.get("class_name").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default(),
    }
}

/// Input dims from `batch_input_shape` (Keras 2), `batch_shape` (Keras 3) or `input_shape`.
fn batch_shape(config: &Value) -> Option<Vec<Dim>> {
    let dims = |a: &Vec<Value>| {
        a.iter().map(|d| d.as_u64().map_or(Dim::Symbol("batch".into()), Dim::Fixed)).collect::<Vec<_>>()
    };
    if let Some(Value::Array(a)) = config.get("batch_input_shape").or_else(|| config.get("batch_shape")) {
        return Some(dims(a));
    }
    if let Some(Value::Array(a)) = config.get("input_shape") {
        let mut d = vec![Dim::Symbol("batch".into())];
        d.extend(dims(a));
        return Some(d);
    }
    None
}

/// The layer names (node 0, tensor 0) a layer's inbound node reads.
fn inbound(layer: &Value, name: &str, source: &str) -> Result<Vec<String>, Error> {
    let nodes = layer.get("inbound_nodes").and_then(Value::as_array).cloned().unwrap_or_default();
    if nodes.len() > 1 {
        return Err(Error::Unsupported(format!(
            "{source}: layer {name:?} is called {} times; shared layers are not supported",
            nodes.len()
        )));
    }
    let Some(node) = nodes.first() else { return Ok(Vec::new()) };
    let mut refs = Vec::new();
    let mut push = |history: &[Value]| -> Result<(), Error> {
        let layer = history.first().and_then(Value::as_str).unwrap_or("");
        let (n, t) =
            (history.get(1).and_then(Value::as_i64).unwrap_or(0), history.get(2).and_then(Value::as_i64).unwrap_or(0));
        if n != 0 || t != 0 {
            return Err(Error::Unsupported(format!("{source}: layer {name:?} reads output {t} of call {n} of {layer:?}; only single-output, single-call layers are supported")));
        }
        refs.push(layer.to_string());
        Ok(())
    };
    match node {
        Value::Array(calls) => {
            for call in calls {
                if let Value::Array(h) = call {
                    push(h)?;
                }
            }
        }
        Value::Object(_) => {
            let mut stack = vec![node.get("args").cloned().unwrap_or(Value::Null)];
            let mut found = Vec::new();
            while let Some(v) = stack.pop() {
                match v {
                    Value::Array(a) => stack.extend(a.into_iter().rev()),
                    Value::Object(o) => {
                        if let Some(Value::Array(h)) = o.get("config").and_then(|c| c.get("keras_history")) {
                            found.push(h.clone());
                        }
                    }
                    _ => {}
                }
            }
            for h in found {
                push(&h)?;
            }
        }
        _ => {}
    }
    Ok(refs)
}

/// `[[name, 0, 0], ...]` (Keras 2) or `[name, 0, 0]` (Keras 3, one tensor) as layer names.
fn endpoint_names(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) if a.first().is_some_and(Value::is_string) => {
            vec![a[0].as_str().unwrap_or("").to_string()]
        }
        Some(Value::Array(a)) => {
            a.iter().filter_map(|e| e.get(0).and_then(Value::as_str).map(str::to_string)).collect()
        }
        _ => Vec::new(),
    }
}

impl Ctx<'_> {
    fn err(&self, layer: &Layer, msg: impl std::fmt::Display) -> Error {
        Error::Op { op: layer.class.to_string(), node: layer.name.clone(), msg: format!("{msg} (in {})", self.source) }
    }

    fn weights(&self, layer: &Layer, n: usize) -> Result<Vec<Arc<Tensor>>, Error> {
        let w = self.weights.get(&layer.name).cloned().unwrap_or_default();
        if w.len() < n {
            return Err(self.err(layer, format!("expects {n} weight tensor(s), the weights hold {}", w.len())));
        }
        Ok(w)
    }

    fn one_input(&self, layer: &Layer) -> Result<String, Error> {
        match layer.inputs.as_slice() {
            [x] => Ok(x.clone()),
            other => Err(self.err(layer, format!("expects one input, got {}", other.len()))),
        }
    }

    fn check_channels_last(&self, layer: &Layer) -> Result<(), Error> {
        match layer.config.get("data_format").and_then(Value::as_str) {
            None | Some("channels_last") => Ok(()),
            Some(f) => Err(self.err(layer, format!("data_format {f:?} is not supported (channels_last only)"))),
        }
    }

    fn padding(&self, layer: &Layer) -> Result<Padding, Error> {
        Padding::parse(layer.config.get("padding").and_then(Value::as_str).unwrap_or("valid"), &layer.name)
    }

    fn layer(&mut self, layer: &Layer) -> Result<(), Error> {
        let id = layer.name.clone();
        let name = layer.name.as_str();
        let c = layer.config;
        let act = activation_name(c.get("activation"));
        match layer.class {
            "InputLayer" => {
                let shape = batch_shape(c).ok_or_else(|| self.err(layer, "has no batch_input_shape/batch_shape"))?;
                self.b.input(&id, name, DType::Float32, shape);
            }
            "Dense" => {
                let x = self.one_input(layer)?;
                let use_bias = c.get("use_bias").and_then(Value::as_bool).unwrap_or(true);
                let w = self.weights(layer, 1 + use_bias as usize)?;
                let kernel = format!("{id}/kernel");
                self.b.constant(&kernel, (*w[0]).clone());
                let bias = if use_bias {
                    let b = format!("{id}/bias");
                    self.b.constant(&b, (*w[1]).clone());
                    Some(b)
                } else {
                    None
                };
                let activation = (act != "linear").then_some(act.as_str());
                self.b.matmul(&id, name, &x, &kernel, bias.as_deref(), activation)?;
            }
            "Conv2D" | "DepthwiseConv2D" | "SeparableConv2D" => self.conv(layer, &act)?,
            "MaxPooling2D" | "AveragePooling2D" => {
                self.check_channels_last(layer)?;
                let x = self.one_input(layer)?;
                let k = pair(c.get("pool_size"), 2);
                let s = match c.get("strides") {
                    None | Some(Value::Null) => k,
                    v => pair(v, 1),
                };
                let p = self.padding(layer)?;
                self.b.pool2d(
                    &id,
                    name,
                    &x,
                    layer.class == "MaxPooling2D",
                    PoolWindow { kernel: k, strides: s, padding: p },
                )?;
            }
            "GlobalAveragePooling2D" | "GlobalMaxPooling2D" => {
                self.check_channels_last(layer)?;
                let x = self.one_input(layer)?;
                let keep = c.get("keepdims").and_then(Value::as_bool).unwrap_or(false);
                let op = if layer.class == "GlobalMaxPooling2D" { "ReduceMax" } else { "ReduceMean" };
                self.b.reduce(&id, name, op, &x, &[1, 2], keep)?;
            }
            "Flatten" => {
                let x = self.one_input(layer)?;
                let xp = self.b.plain(&x)?;
                let out = self.b.node(name, "Flatten", vec![xp], vec![("axis", Attr::Int(1))]);
                self.b.define(&id, out, Some(2), false);
            }
            "Reshape" => {
                let x = self.one_input(layer)?;
                let mut target = vec![0];
                target.extend(ints(c.get("target_shape")));
                let xp = self.b.plain(&x)?;
                let rank = target.len();
                let shape = self.b.param(&format!("{name}/shape"), Tensor::i64(vec![rank], target));
                let out = self.b.node(name, "Reshape", vec![xp, shape], vec![]);
                self.b.define(&id, out, Some(rank), false);
            }
            "Dropout" | "SpatialDropout2D" | "GaussianDropout" | "GaussianNoise" => {
                let x = self.one_input(layer)?;
                self.b.alias(&id, &x)?;
            }
            "BatchNormalization" => {
                let x = self.one_input(layer)?;
                let rank = self.b.rank(&x);
                let axis = ints(c.get("axis"));
                let last = rank.map(|r| r as i64 - 1);
                if axis.len() != 1 || !(axis[0] == -1 || Some(axis[0]) == last) {
                    return Err(self.err(layer, format!("axis {axis:?} is not supported (the last axis only)")));
                }
                let (center, scale) = (
                    c.get("center").and_then(Value::as_bool).unwrap_or(true),
                    c.get("scale").and_then(Value::as_bool).unwrap_or(true),
                );
                let n = 2 + center as usize + scale as usize;
                let w = self.weights(layer, n)?;
                let mut it = w.iter().map(|t| t.to_f32s());
                let gamma = if scale { it.next() } else { None };
                let beta = if center { it.next() } else { None };
                let (mean, var) = (it.next().unwrap_or_default(), it.next().unwrap_or_default());
                let eps = c.get("epsilon").and_then(Value::as_f64).unwrap_or(1e-3) as f32;
                self.b.batchnorm(&id, name, &x, BatchNormParams { gamma, beta, mean, var, eps })?;
            }
            "Activation" => {
                let x = self.one_input(layer)?;
                self.b.activation(&id, name, &act, &x).map_err(|e| self.err(layer, e))?;
            }
            "ReLU" => {
                let x = self.one_input(layer)?;
                let max = c.get("max_value").and_then(Value::as_f64);
                let slope = c.get("negative_slope").and_then(Value::as_f64).unwrap_or(0.0) as f32;
                if c.get("threshold").and_then(Value::as_f64).unwrap_or(0.0) != 0.0 {
                    return Err(self.err(layer, "a non-zero threshold is not supported"));
                }
                match (max, slope) {
                    (None, 0.0) => self.b.unary(&id, name, "Relu", &x, vec![])?,
                    (Some(m), 0.0) => self.b.clip(&id, name, &x, 0.0, m as f32)?,
                    (None, s) => self.b.unary(&id, name, "LeakyRelu", &x, vec![("alpha", Attr::Float(s))])?,
                    (Some(m), s) => {
                        let leaky = format!("{id}/leaky");
                        self.b.unary(&leaky, &leaky, "LeakyRelu", &x, vec![("alpha", Attr::Float(s))])?;
                        self.b.clip(&id, name, &leaky, f32::MIN, m as f32)?;
                    }
                }
            }
            "LeakyReLU" => {
                let x = self.one_input(layer)?;
                let alpha =
                    c.get("negative_slope").or_else(|| c.get("alpha")).and_then(Value::as_f64).unwrap_or(0.3) as f32;
                self.b.unary(&id, name, "LeakyRelu", &x, vec![("alpha", Attr::Float(alpha))])?;
            }
            "Softmax" => {
                let x = self.one_input(layer)?;
                let axis = ints(c.get("axis"));
                if axis.len() > 1 {
                    return Err(self.err(layer, "softmax over several axes is not supported"));
                }
                self.b.softmax(&id, name, &x, axis.first().copied().unwrap_or(-1))?;
            }
            "ZeroPadding2D" => {
                self.check_channels_last(layer)?;
                let x = self.one_input(layer)?;
                let p = c.get("padding");
                let (top, bottom, left, right) = match p {
                    Some(Value::Array(a)) if a.first().is_some_and(Value::is_array) => {
                        let (h, w) = (ints(a.first()), ints(a.get(1)));
                        (h[0], h[1], w[0], w[1])
                    }
                    v => {
                        let [h, w] = pair(v, 1);
                        (h, h, w, w)
                    }
                };
                self.b.pad(&id, name, &x, &[(0, 0), (top, bottom), (left, right), (0, 0)], 0.0)?;
            }
            "Add" | "Subtract" | "Multiply" | "Maximum" | "Minimum" | "Average" => {
                if layer.inputs.len() < 2 {
                    return Err(self.err(layer, format!("expects at least two inputs, got {}", layer.inputs.len())));
                }
                let op = match layer.class {
                    "Add" | "Average" => "Add",
                    "Subtract" => "Sub",
                    "Multiply" => "Mul",
                    "Maximum" => "Max",
                    _ => "Min",
                };
                let mut acc = layer.inputs[0].clone();
                let last = layer.inputs.len() - 1;
                for (i, next) in layer.inputs.iter().enumerate().skip(1) {
                    let step = if i == last && layer.class != "Average" { id.clone() } else { format!("{id}/{i}") };
                    self.b.binary(&step, &step, op, &acc, next)?;
                    acc = step;
                }
                if layer.class == "Average" {
                    let k = format!("{id}/inv_count");
                    self.b.constant(&k, Tensor::f32(vec![], vec![1.0 / layer.inputs.len() as f32]));
                    self.b.binary(&id, name, "Mul", &acc, &k)?;
                }
            }
            "Concatenate" => {
                let axis = c.get("axis").and_then(Value::as_i64).unwrap_or(-1);
                self.b.concat(&id, name, &layer.inputs, axis)?;
            }
            other => {
                return Err(Error::Unsupported(format!(
                    "{}: unsupported Keras layer class {other:?} (layer {name:?}); supported layers: {}",
                    self.source,
                    SUPPORTED_LAYERS.join(", ")
                )))
            }
        }
        Ok(())
    }

    fn conv(&mut self, layer: &Layer, act: &str) -> Result<(), Error> {
        self.check_channels_last(layer)?;
        let c = layer.config;
        let (id, name) = (layer.name.clone(), layer.name.as_str());
        let x = self.one_input(layer)?;
        let use_bias = c.get("use_bias").and_then(Value::as_bool).unwrap_or(true);
        let separable = layer.class == "SeparableConv2D";
        let kernels = if separable { 2 } else { 1 };
        let w = self.weights(layer, kernels + use_bias as usize)?;
        let bias = use_bias.then(|| w[kernels].to_f32s());
        let strides = pair(c.get("strides"), 1);
        let dilations = pair(c.get("dilation_rate"), 1);
        let padding = self.padding(layer)?;
        let activation = (act != "linear").then_some(act);
        let kernel = format!("{id}/kernel");
        self.b.constant(&kernel, (*w[0]).clone());
        if separable {
            let dw = format!("{id}/depthwise");
            let spec =
                ConvSpec { strides, dilations, padding, depthwise: true, groups: 1, bias: None, activation: None };
            self.b.conv2d(&dw, &dw, &x, &kernel, spec)?;
            let pointwise = format!("{id}/pointwise_kernel");
            self.b.constant(&pointwise, (*w[1]).clone());
            let spec = ConvSpec {
                strides: [1, 1],
                dilations: [1, 1],
                padding: Padding::Valid,
                depthwise: false,
                groups: 1,
                bias,
                activation,
            };
            return self.b.conv2d(&id, name, &dw, &pointwise, spec);
        }
        let depthwise = layer.class == "DepthwiseConv2D";
        let groups = c.get("groups").and_then(Value::as_i64).unwrap_or(1);
        let spec = ConvSpec { strides, dilations, padding, depthwise, groups, bias, activation };
        self.b.conv2d(&id, name, &x, &kernel, spec)
    }
}

/// Translates a Keras model config (`{"class_name": "Sequential" | "Functional" | "Model", "config": ...}`).
pub fn translate(
    model_config: &Value,
    weights: &LayerWeights,
    source: &str,
    generated_by: String,
) -> Result<ModelGraph, Error> {
    let class = model_config.get("class_name").and_then(Value::as_str).unwrap_or("");
    let config = model_config
        .get("config")
        .ok_or_else(|| Error::Format(format!("{source}: the model config has no \"config\"")))?;
    let layers = match config {
        Value::Array(a) => a.clone(),
        _ => config.get("layers").and_then(Value::as_array).cloned().unwrap_or_default(),
    };
    let mut ctx = Ctx { b: Builder::default(), weights, source };
    let mut outputs = Vec::new();
    match class {
        "Sequential" => {
            let mut prev: Option<String> = None;
            for (i, l) in layers.iter().enumerate() {
                let lc = l.get("class_name").and_then(Value::as_str).unwrap_or("");
                let cfg = l.get("config").unwrap_or(&Value::Null);
                let name = cfg.get("name").and_then(Value::as_str).map_or_else(|| format!("layer_{i}"), str::to_string);
                if lc == "Sequential" || lc == "Functional" || lc == "Model" {
                    return Err(Error::Unsupported(format!("{source}: nested model {name:?} ({lc}) is not supported")));
                }
                if prev.is_none() && lc != "InputLayer" {
                    let shape = batch_shape(cfg)
                        .or_else(|| {
                            config.get("build_input_shape").and_then(|s| {
                                batch_shape(&Value::Object([("batch_shape".into(), s.clone())].into_iter().collect()))
                            })
                        })
                        .ok_or_else(|| Error::Format(format!("{source}: the Sequential model has no input shape")))?;
                    ctx.b.input("input", "input", DType::Float32, shape);
                    prev = Some("input".into());
                }
                let layer =
                    Layer { class: lc, name: name.clone(), config: cfg, inputs: prev.iter().cloned().collect() };
                ctx.layer(&layer)?;
                prev = Some(name);
            }
            outputs.extend(prev);
        }
        "Functional" | "Model" => {
            for l in &layers {
                let lc = l.get("class_name").and_then(Value::as_str).unwrap_or("");
                let cfg = l.get("config").unwrap_or(&Value::Null);
                let name = l.get("name").or_else(|| cfg.get("name")).and_then(Value::as_str).unwrap_or("").to_string();
                if lc == "Sequential" || lc == "Functional" || lc == "Model" {
                    return Err(Error::Unsupported(format!("{source}: nested model {name:?} ({lc}) is not supported")));
                }
                let inputs = inbound(l, &name, source)?;
                ctx.layer(&Layer { class: lc, name, config: cfg, inputs })?;
            }
            let declared = endpoint_names(config.get("input_layers"));
            if !declared.is_empty() {
                let order: Vec<usize> =
                    declared.iter().filter_map(|d| ctx.b.inputs.iter().position(|i| &i.name == d)).collect();
                if order.len() == ctx.b.inputs.len() {
                    ctx.b.inputs = order.into_iter().map(|i| ctx.b.inputs[i].clone()).collect();
                }
            }
            outputs = endpoint_names(config.get("output_layers"));
        }
        other => {
            return Err(Error::Unsupported(format!(
                "{source}: model class {other:?} is not supported (Sequential or Functional)"
            )))
        }
    }
    if outputs.is_empty() {
        return Err(Error::Format(format!("{source}: the model has no outputs")));
    }
    for o in &outputs {
        ctx.b.output(o, o)?;
    }
    Ok(ctx.b.finish(generated_by))
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn snake_case_matches_keras() {
        for (class, want) in [
            ("Conv2D", "conv2d"),
            ("BatchNormalization", "batch_normalization"),
            ("ReLU", "re_lu"),
            ("DepthwiseConv2D", "depthwise_conv2d"),
            ("GlobalAveragePooling2D", "global_average_pooling2d"),
            ("InputLayer", "input_layer"),
            ("HTTPServer", "http_server"),
        ] {
            assert_eq!(snake_case(class), want, "{class}");
        }
    }
}
