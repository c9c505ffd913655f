//! TensorFlow.js `model.json` (graph models and layers models) read directly.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::tf_graph::{TfAttr, TfGraph, TfNode};
use crate::{keras, tf_graph, ModelGraph};
use webinfer_format::json::Document;
use webinfer_format::tensor::Tensor;
use webinfer_format::Error;

pub use webinfer_format::is_tfjs_format;

fn generated_by(doc: &Document) -> String {
    let field = |f: &Option<String>| f.clone().unwrap_or_default();
    format!("{} (converted by {}) from {}", field(&doc.generated_by), field(&doc.converted_by), doc.source())
        .trim()
        .to_string()
}

/// Translates a TF.js model.json document whose weights are already decoded.
pub fn translate(doc: &Document, weights: HashMap<String, Tensor>) -> Result<ModelGraph, Error> {
    let source = doc.source();
    let topology = doc
        .model_topology
        .as_ref()
        .ok_or_else(|| Error::Format(format!("{source}: a TF.js model.json needs \"modelTopology\"")))?;
    let by = generated_by(doc);
    match doc.format.as_str() {
        "graph-model" => {
            let graph = graph_from_json(topology, doc.signature.as_ref(), weights, source)?;
            tf_graph::translate(&graph, by)
        }
        "layers-model" => {
            let config = topology.get("model_config").unwrap_or(topology);
            let mut named: Vec<(String, Arc<Tensor>)> = Vec::new();
            let mut weights = weights;
            for w in doc.manifest.iter().flat_map(|g| &g.weights) {
                if let Some(t) = weights.remove(&w.name) {
                    named.push((w.name.clone(), Arc::new(t)));
                }
            }
            let grouped = keras::group_weights(config, named);
            keras::translate(config, &grouped, source, by)
        }
        other => Err(Error::Format(format!("{source}: {other:?} is not a TF.js model format"))),
    }
}

/// A TF.js graph model's topology (a GraphDef in protobuf JSON) as a [`TfGraph`].
pub fn graph_from_json(
    topology: &Value,
    signature: Option<&Value>,
    consts: HashMap<String, Tensor>,
    source: &str,
) -> Result<TfGraph, Error> {
    let nodes = topology
        .get("node")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::Format(format!("{source}: modelTopology has no \"node\" list")))?;
    let mut graph = TfGraph { consts, source: source.to_string(), ..TfGraph::default() };
    for n in nodes {
        let s = |k: &str| n.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let inputs = n
            .get("input")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let mut attrs = HashMap::new();
        if let Some(Value::Object(map)) = n.get("attr") {
            for (k, v) in map {
                attrs.insert(
                    k.clone(),
                    attr_from_json(v)
                        .map_err(|e| Error::Format(format!("{source}: node {:?} attribute {k:?}: {e}", s("name"))))?,
                );
            }
        }
        graph.nodes.push(TfNode { name: s("name"), op: s("op"), inputs, attrs });
    }
    if topology.pointer("/library/function").and_then(Value::as_array).is_some_and(|f| !f.is_empty()) {
        return Err(Error::Unsupported(format!(
            "{source}: graph models with control flow functions are not supported"
        )));
    }
    let tensor_name = |v: &Value| v.get("name").and_then(Value::as_str).map(|n| n.trim_end_matches(":0").to_string());
    if let Some(sig) = signature {
        for (key, v) in sig.get("inputs").and_then(Value::as_object).into_iter().flatten() {
            if let Some(t) = tensor_name(v) {
                graph.inputs.push((super::tf_graph::producer_of(&t).to_string(), key.clone()));
            }
        }
        for (key, v) in sig.get("outputs").and_then(Value::as_object).into_iter().flatten() {
            if let Some(t) = tensor_name(v) {
                graph.outputs.push((t, key.clone()));
            }
        }
    }
    Ok(graph)
}

fn int_of(v: &Value) -> Result<i64, String> {
    match v {
        Value::String(s) => s.parse().map_err(|_| format!("{s:?} is not an integer")),
        Value::Number(n) => n.as_i64().ok_or_else(|| format!("{} is not an integer", n.as_f64().unwrap_or(f64::NAN))),
        other => Err(format!("{} is not an integer", kind_of(other))),
    }
}

fn float_of(v: &Value) -> Result<f32, String> {
    match v {
        Value::Number(n) => Ok(n.as_f64().unwrap_or(0.0) as f32),
        Value::String(s) => match s.as_str() {
            "NaN" => Ok(f32::NAN),
            "Infinity" => Ok(f32::INFINITY),
            "-Infinity" => Ok(f32::NEG_INFINITY),
            _ => serde_json::from_str::<f64>(s).map(|f| f as f32).map_err(|_| format!("{s:?} is not a number")),
        },
        other => Err(format!("{} is not a number", kind_of(other))),
    }
}

/// What a JSON value is, for messages (printing the value itself would ship a JSON writer).
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn base64_of(v: &Value) -> Result<Vec<u8>, String> {
    decode_base64(v.as_str().ok_or("a string attribute must be base64 text")?)
}

fn shape_of(v: &Value) -> Result<Option<Vec<i64>>, String> {
    if v.get("unknownRank").and_then(Value::as_bool) == Some(true) {
        return Ok(None);
    }
    let dims = v.get("dim").and_then(Value::as_array).cloned().unwrap_or_default();
    dims.iter().map(|d| d.get("size").map_or(Ok(0), int_of)).collect::<Result<Vec<_>, _>>().map(Some)
}

/// One protobuf-JSON AttrValue: strings are base64, 64-bit integers are decimal strings.
pub fn attr_from_json(v: &Value) -> Result<TfAttr, String> {
    let Some(obj) = v.as_object() else { return Err(format!("{} is not an AttrValue object", kind_of(v))) };
    let Some((kind, value)) = obj.iter().next() else { return Ok(TfAttr::List { s: vec![], i: vec![], f: vec![] }) };
    Ok(match kind.as_str() {
        "s" => TfAttr::S(base64_of(value)?),
        "i" => TfAttr::I(int_of(value)?),
        "f" => TfAttr::F(float_of(value)?),
        "b" => TfAttr::B(value.as_bool().unwrap_or(false)),
        "type" => TfAttr::Type(value.as_str().unwrap_or("DT_INVALID").to_string()),
        "shape" => TfAttr::Shape(shape_of(value)?),
        "tensor" => TfAttr::Tensor(None),
        "list" => {
            let arr = |k: &str| value.get(k).and_then(Value::as_array).cloned().unwrap_or_default();
            TfAttr::List {
                s: arr("s").iter().map(base64_of).collect::<Result<_, _>>()?,
                i: arr("i").iter().map(int_of).collect::<Result<_, _>>()?,
                f: arr("f").iter().map(float_of).collect::<Result<_, _>>()?,
            }
        }
        _ => TfAttr::Other,
    })
}

/// Standard or URL-safe base64, padded or not, as protobuf JSON writes bytes.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    use base64::engine::{DecodePaddingMode, Engine, GeneralPurpose, GeneralPurposeConfig};
    let config = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let standard = GeneralPurpose::new(&base64::alphabet::STANDARD, config);
    let url_safe = GeneralPurpose::new(&base64::alphabet::URL_SAFE, config);
    standard.decode(text).or_else(|_| url_safe.decode(text)).map_err(|e| format!("{text:?} is not base64: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_protobuf_json_attributes() {
        assert_eq!(attr_from_json(&serde_json::json!({"s": "U0FNRQ=="})).unwrap(), TfAttr::S(b"SAME".to_vec()));
        assert_eq!(attr_from_json(&serde_json::json!({"i": "-3"})).unwrap(), TfAttr::I(-3));
        assert_eq!(
            attr_from_json(&serde_json::json!({"list": {"s": ["Qmlhc0FkZA==", "UmVsdQ"], "i": ["1", "2"]}})).unwrap(),
            TfAttr::List { s: vec![b"BiasAdd".to_vec(), b"Relu".to_vec()], i: vec![1, 2], f: vec![] }
        );
        assert_eq!(
            attr_from_json(&serde_json::json!({"shape": {"dim": [{"size": "-1"}, {"size": "28"}]}})).unwrap(),
            TfAttr::Shape(Some(vec![-1, 28]))
        );
        assert_eq!(
            attr_from_json(&serde_json::json!({"f": "NaN"})).map(|a| matches!(a, TfAttr::F(f) if f.is_nan())),
            Ok(true)
        );
        assert!(attr_from_json(&serde_json::json!({"s": "not base64!"})).is_err());
    }
}
