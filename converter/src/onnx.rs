//! ONNX front-end: decodes a ModelProto and lowers it into the IR (ONNX semantics, opsets 7–22).

use std::collections::BTreeMap;
use std::sync::Arc;

use half::f16;
use prost::Message;
use webinfer::json::{Attr, DType, Dim, Node, ValueInfo};
use webinfer::tensor::Tensor;

use crate::ConvertError;
use webinfer::ModelGraph;

/// The ONNX protobuf types, generated from proto/onnx.proto at build time.
#[allow(clippy::all, missing_docs)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
}

use pb::tensor_proto::DataType;

/// ONNX ops the front-end lowers (the runtime op set, plus ops rewritten here).
pub fn supported_ops() -> Vec<&'static str> {
    let mut ops: Vec<&str> = webinfer::ops::supported_ops().collect::<Vec<_>>();
    ops.extend(["Constant", "Mean"]);
    ops.sort_unstable();
    ops
}

/// Decodes ONNX model bytes, naming `source` in errors. Tensor payloads share `bytes` (no copies).
pub fn decode_model(bytes: prost::bytes::Bytes, source: &str) -> Result<pb::ModelProto, ConvertError> {
    let model = pb::ModelProto::decode(bytes)
        .map_err(|e| ConvertError::Parse(format!("{source}: not a valid ONNX model ({e})")))?;
    if model.graph.is_none() {
        return Err(ConvertError::Parse(format!("{source}: not a valid ONNX model (it has no graph)")));
    }
    Ok(model)
}

fn dtype_of(elem: i32) -> Option<DType> {
    Some(match DataType::try_from(elem).ok()? {
        DataType::Float | DataType::Double | DataType::Float16 | DataType::Bfloat16 => DType::Float32,
        DataType::Int64 | DataType::Uint32 | DataType::Uint64 => DType::Int64,
        DataType::Int32 | DataType::Int16 | DataType::Int8 | DataType::Uint8 | DataType::Uint16 => DType::Int32,
        DataType::Bool => DType::Bool,
        _ => return None,
    })
}

/// The IR name of an ONNX element type (as used by Cast's `to`).
fn cast_target(elem: i64) -> &'static str {
    match DataType::try_from(elem as i32) {
        Ok(DataType::Float | DataType::Double) => "float32",
        Ok(DataType::Float16) => "float16",
        Ok(DataType::Bfloat16) => "bfloat16",
        Ok(DataType::Bool) => "bool",
        Ok(DataType::Int32 | DataType::Int16 | DataType::Int8 | DataType::Uint8 | DataType::Uint16) => "int32",
        _ => "int64",
    }
}

/// Converts an ONNX TensorProto (raw or typed fields) into a tensor.
pub fn tensor_from_proto(t: &pb::TensorProto) -> Result<Tensor, ConvertError> {
    let name = t.name();
    if t.data_location == Some(pb::tensor_proto::DataLocation::External as i32) {
        return Err(ConvertError::Unsupported(format!(
            "tensor {name:?} keeps its data in an external file, which is not supported"
        )));
    }
    let shape: Vec<usize> = t.dims.iter().map(|&d| d.max(0) as usize).collect();
    let n = webinfer::limits::elements(shape.iter().map(|&d| d as u64))
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| ConvertError::Parse(format!("tensor {name:?}: shape {shape:?} has more than 2^64 elements")))?;
    let dt = DataType::try_from(t.data_type()).unwrap_or(DataType::Undefined);
    let raw = t.raw_data.as_deref().filter(|r| !r.is_empty());
    let bad =
        |got: usize| ConvertError::Parse(format!("tensor {name:?}: shape {shape:?} needs {n} values, found {got}"));
    let floats: Option<Vec<f32>> = match dt {
        DataType::Float => Some(match raw {
            Some(r) => r.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
            None => t.float_data.clone(),
        }),
        DataType::Double => Some(match raw {
            Some(r) => r.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32).collect(),
            None => t.double_data.iter().map(|&v| v as f32).collect(),
        }),
        DataType::Float16 => Some(match raw {
            Some(r) => r.chunks_exact(2).map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
            None => t.int32_data.iter().map(|&v| f16::from_bits(v as u16).to_f32()).collect(),
        }),
        DataType::Bfloat16 => Some(match raw {
            Some(r) => r.chunks_exact(2).map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
            None => t.int32_data.iter().map(|&v| half::bf16::from_bits(v as u16).to_f32()).collect(),
        }),
        _ => None,
    };
    if let Some(v) = floats {
        return if v.len() == n { Ok(Tensor::f32(shape, v)) } else { Err(bad(v.len())) };
    }
    let ints: Vec<i64> = match (dt, raw) {
        (DataType::Int64, Some(r)) => r.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect(),
        (DataType::Int64, None) => t.int64_data.clone(),
        (DataType::Int32, Some(r)) => {
            r.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap()) as i64).collect()
        }
        (DataType::Uint32, Some(r)) => {
            r.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap()) as i64).collect()
        }
        (DataType::Uint64, Some(r)) => {
            r.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap()) as i64).collect()
        }
        (DataType::Uint32 | DataType::Uint64, None) => t.uint64_data.iter().map(|&v| v as i64).collect(),
        (DataType::Int16, Some(r)) => r.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]]) as i64).collect(),
        (DataType::Uint16, Some(r)) => r.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]) as i64).collect(),
        (DataType::Int8, Some(r)) => r.iter().map(|&b| b as i8 as i64).collect(),
        (DataType::Uint8 | DataType::Bool, Some(r)) => r.iter().map(|&b| b as i64).collect(),
        (
            DataType::Int32 | DataType::Int16 | DataType::Uint16 | DataType::Int8 | DataType::Uint8 | DataType::Bool,
            None,
        ) => t.int32_data.iter().map(|&v| v as i64).collect(),
        _ => {
            return Err(ConvertError::Unsupported(format!(
                "tensor {name:?} has element type {dt:?}, which is not supported"
            )));
        }
    };
    if ints.len() == n {
        Ok(Tensor::i64(shape, ints))
    } else {
        Err(bad(ints.len()))
    }
}

fn value_info(v: &pb::ValueInfoProto, index: usize) -> Result<ValueInfo, ConvertError> {
    let name = v.name().to_string();
    let tensor = match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(pb::type_proto::Value::TensorType(t)) => t,
        _ => return Err(ConvertError::Unsupported(format!("graph value {name:?} is not a tensor"))),
    };
    let dtype = dtype_of(tensor.elem_type()).ok_or_else(|| {
        ConvertError::Unsupported(format!(
            "graph value {name:?} has element type {:?}",
            DataType::try_from(tensor.elem_type()).unwrap_or(DataType::Undefined)
        ))
    })?;
    let shape = tensor
        .shape
        .as_ref()
        .map(|s| {
            s.dim
                .iter()
                .enumerate()
                .map(|(d, dim)| match &dim.value {
                    Some(pb::tensor_shape_proto::dimension::Value::DimValue(n)) if *n >= 0 => Dim::Fixed(*n as u64),
                    Some(pb::tensor_shape_proto::dimension::Value::DimParam(p)) if !p.is_empty() => {
                        Dim::Symbol(p.clone())
                    }
                    _ => Dim::Symbol(if d == 0 { "batch".to_string() } else { format!("{name}_dim{d}_{index}") }),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(ValueInfo { name, dtype, shape })
}

fn attr_of(a: &pb::AttributeProto, node: &str) -> Result<Option<Attr>, ConvertError> {
    use pb::attribute_proto::AttributeType as T;
    let utf8 = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Ok(Some(match a.r#type() {
        T::Int => Attr::Int(a.i()),
        T::Float => Attr::Float(a.f()),
        T::String => Attr::String(utf8(a.s())),
        T::Ints => Attr::Ints(a.ints.clone()),
        T::Floats => Attr::Floats(a.floats.clone()),
        T::Strings => Attr::Strings(a.strings.iter().map(|s| utf8(s)).collect()),
        T::Tensor => {
            let t = a.t.as_ref().ok_or_else(|| {
                ConvertError::Parse(format!("node {node:?}: tensor attribute {:?} holds no tensor", a.name()))
            })?;
            let t = tensor_from_proto(t)?;
            if t.len() != 1 {
                return Err(ConvertError::Unsupported(format!(
                    "node {node:?}: attribute {:?} holds a {}-element tensor",
                    a.name(),
                    t.len()
                )));
            }
            if t.is_float() {
                Attr::Float(t.to_f32s()[0])
            } else {
                Attr::Int(t.to_i64s()[0])
            }
        }
        T::Graph | T::Graphs => {
            return Err(ConvertError::Unsupported(format!(
                "node {node:?}: subgraph attribute {:?} (control flow) is not supported",
                a.name()
            )))
        }
        _ => return Ok(None),
    }))
}

/// Lowers a decoded ONNX model into the IR.
pub fn lower(model: &pb::ModelProto, source: &str) -> Result<ModelGraph, ConvertError> {
    let graph = model.graph.as_ref().expect("decode_model checked the graph");
    let opset =
        model.opset_import.iter().find(|o| o.domain().is_empty() || o.domain() == "ai.onnx").map_or(1, |o| o.version());
    let mut ir = ModelGraph {
        generated_by: format!(
            "{} (ONNX IR v{}, opset {opset}) from {source}",
            format!(
                "{} {}",
                if model.producer_name().is_empty() { "unknown producer" } else { model.producer_name() },
                model.producer_version()
            )
            .trim_end(),
            model.ir_version()
        ),
        ..ModelGraph::default()
    };
    for init in &graph.initializer {
        ir.weights.insert(init.name().to_string(), Arc::new(tensor_from_proto(init)?));
    }
    for (i, input) in graph.input.iter().enumerate() {
        if !ir.weights.contains_key(input.name()) {
            ir.inputs.push(value_info(input, i)?);
        }
    }
    for (i, output) in graph.output.iter().enumerate() {
        ir.outputs.push(value_info(output, i)?);
    }
    let supported = supported_ops();
    let mut unnamed = 0usize;
    for node in &graph.node {
        let name = if node.name().is_empty() {
            unnamed += 1;
            format!("{}_{unnamed}", node.op_type())
        } else {
            node.name().to_string()
        };
        let op = node.op_type();
        let domain = node.domain();
        if !(domain.is_empty() || domain == "ai.onnx") || !supported.contains(&op) {
            return Err(ConvertError::UnsupportedOp {
                op: op.to_string(),
                domain: if domain.is_empty() { "ai.onnx".to_string() } else { domain.to_string() },
                node: name,
                file: source.to_string(),
                supported: supported.join(", "),
            });
        }
        let Some(output) = node.output.first() else {
            return Err(ConvertError::Parse(format!("{source}: {op} node {name:?} has no output")));
        };
        if op == "Constant" {
            ir.weights.insert(output.clone(), Arc::new(constant_value(node, &name)?));
            continue;
        }
        let mut attrs = BTreeMap::new();
        for a in &node.attribute {
            if let Some(v) = attr_of(a, &name)? {
                attrs.insert(a.name().to_string(), v);
            }
        }
        let inputs: Vec<String> = node.input.clone();
        let outputs: Vec<String> = node.output.clone();
        lower_node(&mut ir, Node { name, op: op.to_string(), inputs, outputs, attrs }, opset)?;
    }
    Ok(ir)
}

fn constant_value(node: &pb::NodeProto, name: &str) -> Result<Tensor, ConvertError> {
    let a =
        node.attribute.first().ok_or_else(|| ConvertError::Parse(format!("Constant node {name:?} has no value")))?;
    Ok(match a.name() {
        "value" => tensor_from_proto(
            a.t.as_ref().ok_or_else(|| ConvertError::Parse(format!("Constant node {name:?}: empty value")))?,
        )?,
        "value_float" => Tensor::f32(vec![], vec![a.f()]),
        "value_floats" => Tensor::f32(vec![a.floats.len()], a.floats.clone()),
        "value_int" => Tensor::i64(vec![], vec![a.i()]),
        "value_ints" => Tensor::i64(vec![a.ints.len()], a.ints.clone()),
        other => {
            return Err(ConvertError::Unsupported(format!(
                "Constant node {name:?}: value attribute {other:?} is not supported"
            )))
        }
    })
}

fn lower_node(ir: &mut ModelGraph, mut node: Node, opset: i64) -> Result<(), ConvertError> {
    match node.op.as_str() {
        "Softmax" | "LogSoftmax" if opset < 13 => {
            let axis = node.int("axis", 1);
            node.attrs.insert("axis".into(), Attr::Int(axis));
            node.attrs.insert("coerce_2d".into(), Attr::Int(1));
        }
        "Cast" => {
            let to = node.int("to", 1);
            node.attrs.insert("to".into(), Attr::String(cast_target(to).into()));
        }
        "ConstantOfShape" => {
            let is_float = matches!(node.attr("value"), None | Some(Attr::Float(_)));
            node.attrs.insert("dtype".into(), Attr::String(if is_float { "float32" } else { "int64" }.into()));
        }
        "Dropout" => {
            if node.outputs.get(1).is_some_and(|m| !m.is_empty()) {
                return Err(ConvertError::Unsupported(format!(
                    "Dropout node {:?}: the mask output is not supported",
                    node.name
                )));
            }
            node.op = "Identity".into();
            node.inputs.truncate(1);
            node.attrs.clear();
        }
        "Sum" | "Max" | "Min" | "Mean" if node.inputs.is_empty() => {
            return Err(ConvertError::Parse(format!("{} node {:?} has no inputs", node.op, node.name)));
        }
        "Sum" | "Max" | "Min" | "Mean" if node.inputs.len() > 2 || node.op == "Mean" => {
            let n = node.inputs.len();
            let base = if node.op == "Mean" { "Sum" } else { node.op.as_str() }.to_string();
            let final_out = node.outputs[0].clone();
            let mut acc = node.inputs[0].clone();
            for (i, next) in node.inputs.iter().enumerate().skip(1) {
                let out =
                    if i == n - 1 && node.op != "Mean" { final_out.clone() } else { format!("{}/acc{i}", node.name) };
                ir.nodes.push(Node {
                    name: format!("{}/{i}", node.name),
                    op: base.clone(),
                    inputs: vec![acc, next.clone()],
                    outputs: vec![out.clone()],
                    attrs: BTreeMap::new(),
                });
                acc = out;
            }
            if node.op == "Mean" {
                let scale = format!("{}/inv_count", node.name);
                ir.weights.insert(scale.clone(), Arc::new(Tensor::f32(vec![], vec![1.0 / n as f32])));
                ir.nodes.push(Node {
                    name: format!("{}/scale", node.name),
                    op: "Mul".into(),
                    inputs: vec![acc, scale],
                    outputs: vec![final_out],
                    attrs: BTreeMap::new(),
                });
            } else if n == 1 {
                ir.nodes.push(Node {
                    name: node.name.clone(),
                    op: "Identity".into(),
                    inputs: vec![acc],
                    outputs: vec![final_out],
                    attrs: BTreeMap::new(),
                });
            }
            return Ok(());
        }
        "BatchNormalization" => {
            if node.outputs.iter().skip(1).any(|o| !o.is_empty()) {
                return Err(ConvertError::Unsupported(format!(
                    "BatchNormalization node {:?}: training-mode outputs are not supported",
                    node.name
                )));
            }
            node.attrs.remove("spatial");
            node.attrs.remove("momentum");
            node.attrs.remove("training_mode");
            node.outputs.truncate(1);
        }
        "MaxPool" => {
            if node.outputs.get(1).is_some_and(|m| !m.is_empty()) {
                return Err(ConvertError::Unsupported(format!(
                    "MaxPool node {:?}: the Indices output is not supported",
                    node.name
                )));
            }
            node.outputs.truncate(1);
        }
        "Pad" if opset < 11 => {
            if let Some(Attr::Ints(p)) = node.attrs.remove("paddings") {
                node.attrs.insert("pads".into(), Attr::Ints(p));
            }
        }
        _ => {}
    }
    ir.nodes.push(node);
    Ok(())
}
