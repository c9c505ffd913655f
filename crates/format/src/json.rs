//! `model.json` v1: the graph IR every front-end writes and every backend reads (see docs/FORMAT.md).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The format string written into every model.json.
pub const FORMAT: &str = "webinfer-graph/1";
/// The major version this build reads.
pub const FORMAT_MAJOR: u32 = 1;

/// The whole `model.json` document.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ModelJson {
    pub format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted_by: Option<String>,
    pub graph: Graph,
    pub weights_manifest: Vec<WeightsGroup>,
}

/// A dataflow graph in topological order.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Graph {
    pub inputs: Vec<ValueInfo>,
    pub outputs: Vec<ValueInfo>,
    pub nodes: Vec<Node>,
}

/// A named graph input or output.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ValueInfo {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<Dim>,
}

/// One dimension: a fixed size, or a symbol (such as a batch size) fixed per call.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, Hash)]
#[serde(untagged)]
pub enum Dim {
    Fixed(u64),
    Symbol(String),
}

impl<'de> Deserialize<'de> for Dim {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DimVisitor;
        impl serde::de::Visitor<'_> for DimVisitor {
            type Value = Dim;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a dimension: a non-negative integer or a symbol name")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Dim, E> {
                Ok(Dim::Fixed(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Dim, E> {
                u64::try_from(v).map(Dim::Fixed).map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Dim, E> {
                Ok(Dim::Symbol(v.to_string()))
            }
        }
        deserializer.deserialize_any(DimVisitor)
    }
}

/// Element types of tensors and stored weights (the TF.js names, plus int64 for graph inputs).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    Float32,
    Int32,
    Int64,
    Bool,
    Float16,
    Uint8,
    Uint16,
}

impl DType {
    /// Bytes per element as stored in a shard.
    pub fn size(self) -> usize {
        match self {
            DType::Float32 | DType::Int32 => 4,
            DType::Int64 => 8,
            DType::Bool | DType::Uint8 => 1,
            DType::Float16 | DType::Uint16 => 2,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DType::Float32 => "float32",
            DType::Int32 => "int32",
            DType::Int64 => "int64",
            DType::Bool => "bool",
            DType::Float16 => "float16",
            DType::Uint8 => "uint8",
            DType::Uint16 => "uint16",
        }
    }
}

/// One operation. Inputs name graph inputs, weights or earlier outputs; `""` marks an absent optional input.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Node {
    pub name: String,
    pub op: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, Attr>,
}

/// A typed attribute value, written as `{"int": 1}`, `{"ints": [1, 1]}`, `{"float": 0.1}`, ...
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Attr {
    #[serde(deserialize_with = "int64")]
    Int(i64),
    Float(f32),
    String(String),
    #[serde(deserialize_with = "int64s")]
    Ints(Vec<i64>),
    Floats(Vec<f32>),
    Strings(Vec<String>),
}

/// An int64 attribute. In the browser model.json is read by `JSON.parse`, whose numbers are doubles: the
/// int64 sentinels exporters write (`INT64_MAX` as "to the end" in Slice) arrive as ±2^63 and saturate back.
fn int64<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    struct Int64;
    impl serde::de::Visitor<'_> for Int64 {
        type Value = i64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an integer")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
            Ok(i64::try_from(v).unwrap_or(i64::MAX))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i64, E> {
            if v.fract() != 0.0 || v.is_nan() {
                return Err(E::invalid_value(serde::de::Unexpected::Float(v), &self));
            }
            Ok(v as i64)
        }
    }
    deserializer.deserialize_any(Int64)
}

fn int64s<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<i64>, D::Error> {
    struct Int64(i64);
    impl<'de> Deserialize<'de> for Int64 {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            int64(deserializer).map(Int64)
        }
    }
    Ok(Vec::<Int64>::deserialize(deserializer)?.into_iter().map(|v| v.0).collect())
}

/// A TF.js weights-manifest group, plus the per-shard length and digest TF.js lacks.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct WeightsGroup {
    pub paths: Vec<String>,
    pub weights: Vec<WeightEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardInfo>,
}

/// Byte length and sha256 (lowercase hex) of one shard file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ShardInfo {
    pub byte_length: u64,
    pub sha256: String,
}

/// One stored weight tensor.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WeightEntry {
    pub name: String,
    pub shape: Vec<u64>,
    pub dtype: DType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization: Option<Quantization>,
}

/// TF.js weight quantization: `float16` has no parameters; `uint8`/`uint16` are affine (`q * scale + min`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Quantization {
    pub dtype: DType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_dtype: Option<DType>,
}

impl WeightEntry {
    /// Number of elements (saturating: [`crate::limits::Limits::check_manifest`] rejects sizes that do not fit).
    pub fn len(&self) -> usize {
        crate::limits::elements(self.shape.iter().copied()).and_then(|n| usize::try_from(n).ok()).unwrap_or(usize::MAX)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes this weight occupies in its shards (saturating, as `len`).
    pub fn byte_len(&self) -> usize {
        self.declared_bytes().and_then(|b| usize::try_from(b).ok()).unwrap_or(usize::MAX)
    }

    /// The bytes its declared shape and stored dtype need, or `None` past 2^64.
    pub fn declared_bytes(&self) -> Option<u64> {
        let stored = self.quantization.as_ref().map_or(self.dtype, |q| q.dtype);
        crate::limits::elements(self.shape.iter().copied()).and_then(|n| n.checked_mul(stored.size() as u64))
    }
}

impl ModelJson {
    /// Parses webinfer model.json text, rejecting other major format versions with a clear message.
    pub fn parse(text: &str) -> Result<Self, Error> {
        Document::parse(text, "model.json")?.into_model_json()
    }

    /// Serializes as pretty, deterministic JSON.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("model.json serializes");
        text.push('\n');
        text
    }

    /// All weight entries in manifest order.
    pub fn weights(&self) -> impl Iterator<Item = &WeightEntry> {
        self.weights_manifest.iter().flat_map(|g| g.weights.iter())
    }
}

/// A model.json document of either family (webinfer or TF.js), parsed once: the text becomes a JSON tree
/// (`JSON.parse` in the browser, `serde_json::Value` natively), the format is read and checked before anything
/// that depends on it, and then the sections are read typed from the tree by the same serde derives on both.
#[derive(Debug)]
pub struct Document {
    pub format: String,
    pub generated_by: Option<String>,
    pub converted_by: Option<String>,
    /// The weights manifest, in shard order.
    pub manifest: Vec<WeightsGroup>,
    graph: Option<Graph>,
    /// A TF.js document's `modelTopology` (a GraphDef, or a Keras model config), for the translators.
    #[cfg(feature = "tfjs")]
    pub model_topology: Option<serde_json::Value>,
    /// A TF.js graph model's `signature`, for the translators.
    #[cfg(feature = "tfjs")]
    pub signature: Option<serde_json::Value>,
    source: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Sections {
    #[serde(default)]
    generated_by: Option<String>,
    #[serde(default)]
    converted_by: Option<String>,
    #[serde(default)]
    graph: Option<Graph>,
    #[serde(default)]
    weights_manifest: Option<Vec<WeightsGroup>>,
    #[cfg(feature = "tfjs")]
    #[serde(default)]
    model_topology: Option<serde_json::Value>,
    #[cfg(feature = "tfjs")]
    #[serde(default)]
    signature: Option<serde_json::Value>,
}

/// A format string's section name in messages: what failed to match, for a webinfer or a TF.js document.
fn section_error(source: &str, format: &str, e: impl std::fmt::Display) -> Error {
    if crate::is_tfjs_format(format) {
        Error::Format(format!("{source} is not a readable TF.js {format}: {e}"))
    } else {
        Error::Format(format!("{source} does not match {FORMAT}: {e}"))
    }
}

impl Document {
    /// Parses model.json text; `source` (its path or URL) names it in messages.
    pub fn parse(text: &str, source: &str) -> Result<Self, Error> {
        Self::parse_with(text, source, &crate::limits::Limits::default())
    }

    /// As [`Document::parse`], checking the declared weight sizes against `limits`.
    pub fn parse_with(text: &str, source: &str, limits: &crate::limits::Limits) -> Result<Self, Error> {
        let (format, sections) = read_sections(text, source)?;
        let manifest = sections.weights_manifest.unwrap_or_default();
        limits.check_manifest(&manifest, source)?;
        Ok(Document {
            format,
            generated_by: sections.generated_by,
            converted_by: sections.converted_by,
            manifest,
            graph: sections.graph,
            #[cfg(feature = "tfjs")]
            model_topology: sections.model_topology,
            #[cfg(feature = "tfjs")]
            signature: sections.signature,
            source: source.to_string(),
        })
    }

    /// Whether this is a TF.js graph or layers model.
    pub fn is_tfjs(&self) -> bool {
        crate::is_tfjs_format(&self.format)
    }

    /// The path or URL this document was read from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The webinfer document.
    pub fn into_model_json(self) -> Result<ModelJson, Error> {
        let source = &self.source;
        if self.is_tfjs() {
            return Err(Error::Format(format!("{source} is a TF.js {}, not a {FORMAT} document", self.format)));
        }
        let graph =
            self.graph.ok_or_else(|| Error::Format(format!("{source} does not match {FORMAT}: no \"graph\"")))?;
        Ok(ModelJson {
            format: self.format,
            generated_by: self.generated_by,
            converted_by: self.converted_by,
            graph,
            weights_manifest: self.manifest,
        })
    }
}

/// The checked format string and the typed sections, natively: serde_json parses the text once into a tree.
#[cfg(not(target_arch = "wasm32"))]
fn read_sections(text: &str, source: &str) -> Result<(String, Sections), Error> {
    let tree: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Error::Format(format!("{source} is not valid JSON: {e}")))?;
    if !tree.is_object() {
        return Err(Error::Format(format!("{source} is not a JSON object")));
    }
    let format = checked_format(tree.get("format").and_then(serde_json::Value::as_str))?;
    let sections = Sections::deserialize(tree).map_err(|e| section_error(source, &format, e))?;
    Ok((format, sections))
}

/// The checked format string and the typed sections, in the browser: `JSON.parse` builds the tree (no JSON
/// parser ships in the wasm) and serde-wasm-bindgen reads it.
#[cfg(target_arch = "wasm32")]
fn read_sections(text: &str, source: &str) -> Result<(String, Sections), Error> {
    let tree = js_sys::JSON::parse(text).map_err(|e| {
        let why = js_sys::Error::from(e).message();
        Error::Format(format!("{source} is not valid JSON: {}", String::from(why)))
    })?;
    if !tree.is_object() || js_sys::Array::is_array(&tree) {
        return Err(Error::Format(format!("{source} is not a JSON object")));
    }
    let format = js_sys::Reflect::get(&tree, &"format".into()).ok().and_then(|f| f.as_string());
    let format = checked_format(format.as_deref())?;
    let sections: Sections = serde_wasm_bindgen::from_value(tree).map_err(|e| section_error(source, &format, e))?;
    Ok((format, sections))
}

/// The format string, when it is a TF.js format or a webinfer version this build reads.
fn checked_format(format: Option<&str>) -> Result<String, Error> {
    let format = format.unwrap_or_default();
    if !crate::is_tfjs_format(format) {
        check_format_version(format)?;
    }
    Ok(format.to_string())
}

fn check_format_version(format: &str) -> Result<(), Error> {
    let Some(version) = format.strip_prefix("webinfer-graph/") else {
        return Err(Error::Format(format!(
            "unsupported model format {format:?}; expected {FORMAT:?}, \"graph-model\" or \"layers-model\""
        )));
    };
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| Error::Format(format!("malformed format version {format:?}")))?;
    if major != FORMAT_MAJOR {
        return Err(Error::Format(format!(
            "unsupported format version {format:?}: this webinfer {} reads major version {FORMAT_MAJOR}",
            crate::version()
        )));
    }
    Ok(())
}

impl Node {
    pub fn attr(&self, key: &str) -> Option<&Attr> {
        self.attrs.get(key)
    }

    pub fn int(&self, key: &str, default: i64) -> i64 {
        match self.attrs.get(key) {
            Some(Attr::Int(v)) => *v,
            _ => default,
        }
    }

    pub fn float(&self, key: &str, default: f32) -> f32 {
        match self.attrs.get(key) {
            Some(Attr::Float(v)) => *v,
            Some(Attr::Int(v)) => *v as f32,
            _ => default,
        }
    }

    pub fn ints(&self, key: &str) -> Option<&[i64]> {
        match self.attrs.get(key) {
            Some(Attr::Ints(v)) => Some(v),
            _ => None,
        }
    }

    pub fn string(&self, key: &str) -> Option<&str> {
        match self.attrs.get(key) {
            Some(Attr::String(v)) => Some(v),
            _ => None,
        }
    }

    /// The i-th input name, if present and non-empty.
    pub fn input(&self, i: usize) -> Option<&str> {
        self.inputs.get(i).map(String::as_str).filter(|s| !s.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_other_major_versions_by_name() {
        let text =
            r#"{"format":"webinfer-graph/2","graph":{"inputs":[],"outputs":[],"nodes":[]},"weightsManifest":[]}"#;
        let err = ModelJson::parse(text).unwrap_err().to_string();
        assert!(err.contains("webinfer-graph/2") && err.contains("major version 1"), "{err}");
        let err = ModelJson::parse(r#"{"format":"onnx"}"#).unwrap_err().to_string();
        assert!(err.contains("\"onnx\"") && err.contains("graph-model"), "{err}");
    }

    #[test]
    fn accepts_minor_versions_and_round_trips() {
        let text = r#"{"format":"webinfer-graph/1.3","graph":{"inputs":[{"name":"x","dtype":"float32","shape":["batch",3]}],
            "outputs":[],"nodes":[{"name":"n","op":"Relu","inputs":["x"],"outputs":["y"],"attrs":{"alpha":{"float":0.5},"perm":{"ints":[1,0]}}}]},
            "weightsManifest":[{"paths":["group1-shard1of1.bin"],"weights":[{"name":"w","shape":[2],"dtype":"float32",
            "quantization":{"dtype":"uint8","min":-1.0,"scale":0.01,"original_dtype":"float32"}}],"shards":[{"byteLength":2,"sha256":"ab"}]}]}"#;
        let model = ModelJson::parse(text).unwrap();
        assert_eq!(model.graph.inputs[0].shape, vec![Dim::Symbol("batch".into()), Dim::Fixed(3)]);
        assert_eq!(model.graph.nodes[0].float("alpha", 0.0), 0.5);
        assert_eq!(model.weights().next().unwrap().byte_len(), 2);
        assert_eq!(ModelJson::parse(&model.to_json()).unwrap(), model);
    }

    #[test]
    fn int64_attributes_saturate_from_doubles() {
        let text = r#"{"format":"webinfer-graph/1","graph":{"inputs":[],"outputs":[],"nodes":[{"name":"s","op":"Slice",
            "inputs":[],"outputs":[],"attrs":{"ends":{"ints":[9223372036854775807, 9.223372036854776e18, -9.223372036854776e18]},
            "axis":{"int":3.0}}}]},"weightsManifest":[]}"#;
        let model = ModelJson::parse(text).unwrap();
        assert_eq!(model.graph.nodes[0].ints("ends"), Some(&[i64::MAX, i64::MAX, i64::MIN][..]));
        assert_eq!(model.graph.nodes[0].int("axis", 0), 3);
        let bad = text.replace("3.0", "3.5");
        assert!(ModelJson::parse(&bad).unwrap_err().to_string().contains("an integer"));
    }

    #[test]
    fn reads_the_format_before_the_sections_that_depend_on_it() {
        let text = r#"{"format":"webinfer-graph/2","graph":{"nodes":7},"weightsManifest":[]}"#;
        let err = Document::parse(text, "m.json").unwrap_err().to_string();
        assert!(err.contains("major version 1"), "{err}");
        let text = r#"{"format":"webinfer-graph/1","graph":{"inputs":[{"name":"x","dtype":"float32","shape":[-1]}],
            "outputs":[],"nodes":[]},"weightsManifest":null}"#;
        let err = Document::parse(text, "m.json").unwrap_err().to_string();
        assert!(err.contains("m.json does not match webinfer-graph/1") && err.contains("a dimension"), "{err}");
        let text =
            r#"{"format":"webinfer-graph/1","graph":{"inputs":[],"outputs":[],"nodes":[]},"weightsManifest":null}"#;
        assert!(Document::parse(text, "m.json").unwrap().manifest.is_empty());
        let tfjs = r#"{"format":"layers-model","modelTopology":{"class_name":"Sequential"},"weightsManifest":[]}"#;
        let doc = Document::parse(tfjs, "t.json").unwrap();
        assert!(doc.is_tfjs());
        #[cfg(feature = "tfjs")]
        assert_eq!(doc.model_topology.as_ref().and_then(|t| t.get("class_name")), Some(&"Sequential".into()));
        let err = doc.into_model_json().unwrap_err().to_string();
        assert!(err.contains("t.json is a TF.js layers-model"), "{err}");
    }
}
