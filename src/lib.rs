//! webinfer: run trained neural networks in the browser (WebGPU or SIMD CPU) and natively.
//!
//! This crate is the front door: it loads a model.json (webinfer's own, or a TF.js graph or layers model with
//! the `tfjs` feature) and its shards through one path ([`ModelDocument`]), and in wasm it is the cdylib whose
//! `js` module exposes `Model.load` to JavaScript. The pieces live in their own crates, re-exported here:
//! the format ([`webinfer_format`]: [`json`], [`weights`], [`tensor`], [`graph`]), the engine
//! ([`webinfer_engine`]: [`engine`], [`ops`], and [`gpu`] with the `webgpu` feature) and the TensorFlow
//! translators ([`interop`], the `webinfer-tf` crate, with the `tfjs` feature).

#[cfg(feature = "webgpu")]
pub use webinfer_engine::gpu;
pub use webinfer_engine::{choice, cpu, model, ops, plan, Analysis, Model, OpTiming};
pub use webinfer_format::{graph, json, limits, tensor, version, weights, Error, Limits, ModelGraph, Tensor};
#[cfg(feature = "tfjs")]
pub use webinfer_tf as interop;

#[cfg(target_arch = "wasm32")]
pub mod js;

/// Talc instead of the default dlmalloc in the single-threaded wasm build: faster, and 2 KB smaller gzipped
/// (BENCHMARKS.md).
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// Builds a model from model.json text and its shard bytes (one Vec per shard, manifest order),
/// verifying each shard's length and sha256 where the manifest records them. Reads webinfer models and
/// (with the `tfjs` feature) TF.js graph and layers models.
pub fn model_from_bytes(model_json: &str, shards: &[Vec<u8>]) -> Result<Model, Error> {
    model_from_bytes_with(model_json, shards, &Limits::default())
}

/// As [`model_from_bytes`], with `limits` bounding the declared weights and every plan.
pub fn model_from_bytes_with(model_json: &str, shards: &[Vec<u8>], limits: &Limits) -> Result<Model, Error> {
    let graph = ModelDocument::parse_with(model_json, "model.json", limits)?.decode(shards, &[])?;
    let mut model = Model::from_graph(graph)?;
    model.set_limits(*limits);
    Ok(model)
}

/// Parses model.json (webinfer or TF.js), checks and decodes the shards; `source` names it in messages.
pub fn read_model(model_json: &str, shards: &[Vec<u8>], source: &str) -> Result<ModelGraph, Error> {
    ModelDocument::parse(model_json, source)?.decode(shards, &[])
}

/// A model.json (webinfer or TF.js) parsed once: the document and its weights manifest. The one load path:
/// parse, fetch or read the shards the manifest lists, then `decode` checks each shard once and decodes.
pub struct ModelDocument {
    doc: json::Document,
}

impl ModelDocument {
    /// Parses model.json text; `source` (its path or URL) names it in messages.
    pub fn parse(model_json: &str, source: &str) -> Result<Self, Error> {
        Self::parse_with(model_json, source, &Limits::default())
    }

    /// As [`ModelDocument::parse`], checking the declared weight sizes against `limits` before any shard is read.
    pub fn parse_with(model_json: &str, source: &str, limits: &Limits) -> Result<Self, Error> {
        Ok(ModelDocument { doc: json::Document::parse_with(model_json, source, limits)? })
    }

    /// The weights manifest.
    pub fn manifest(&self) -> &[json::WeightsGroup] {
        &self.doc.manifest
    }

    /// Every shard path in manifest order, relative to model.json.
    pub fn shard_paths(&self) -> impl Iterator<Item = &str> {
        self.doc.manifest.iter().flat_map(|g| g.paths.iter().map(String::as_str))
    }

    /// Checks each shard once (byte length and sha256 where recorded, and that each group holds the bytes its
    /// weights need) and decodes the weights. Errors name the shard's file and `shard_names` entry (its URL or file
    /// path, in manifest order; the manifest path where there is none).
    pub fn decode(self, shards: &[Vec<u8>], shard_names: &[String]) -> Result<ModelGraph, Error> {
        let source = self.doc.source();
        let manifest = &self.doc.manifest;
        let expected: usize = manifest.iter().map(|g| g.paths.len()).sum();
        if shards.len() != expected {
            return Err(Error::Shard(format!("{source} lists {expected} shard(s), got {}", shards.len())));
        }
        let mut groups = Vec::with_capacity(manifest.len());
        let mut k = 0;
        for (g, group) in manifest.iter().enumerate() {
            let mut bytes = Vec::new();
            let mut sources = Vec::with_capacity(group.paths.len());
            for (i, path) in group.paths.iter().enumerate() {
                let location = shard_names.get(k).map_or(path.as_str(), String::as_str);
                let shard = weights::ShardSource { file: path, location };
                weights::verify_shard(group.shards.get(i), &shards[k], shard)?;
                sources.push((shard, shards[k].len()));
                bytes.extend_from_slice(&shards[k]);
                k += 1;
            }
            weights::check_group_length(group, g, &sources)?;
            groups.push(bytes);
        }
        let decoded = weights::decode_weights(manifest, &groups)?;
        if self.doc.is_tfjs() {
            return translate_tfjs(&self.doc, decoded);
        }
        Ok(ModelGraph::from_json(self.doc.into_model_json()?, decoded))
    }
}

/// Loads a converted model directory (model.json + shards) from disk.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_dir(dir: &std::path::Path) -> Result<Model, Error> {
    Model::from_graph(read_dir(dir)?.decode()?)
}

/// A model directory read from disk: model.json parsed once, and its shards with their paths.
#[cfg(not(target_arch = "wasm32"))]
pub struct ModelDir {
    pub document: ModelDocument,
    pub shards: Vec<Vec<u8>>,
    pub shard_paths: Vec<String>,
}

#[cfg(not(target_arch = "wasm32"))]
impl ModelDir {
    /// Checks each shard once and decodes the weights (see [`ModelDocument::decode`]).
    pub fn decode(self) -> Result<ModelGraph, Error> {
        self.document.decode(&self.shards, &self.shard_paths)
    }
}

/// Reads model.json and its shards, in manifest order, from a directory.
#[cfg(not(target_arch = "wasm32"))]
pub fn read_dir(dir: &std::path::Path) -> Result<ModelDir, Error> {
    let path = dir.join("model.json");
    let json = std::fs::read_to_string(&path).map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
    let document = ModelDocument::parse(&json, &path.display().to_string())?;
    let mut shards = Vec::new();
    let mut shard_paths = Vec::new();
    for p in document.shard_paths() {
        let sp = dir.join(p);
        shards.push(std::fs::read(&sp).map_err(|e| Error::Shard(format!("shard {}: {e}", sp.display())))?);
        shard_paths.push(sp.display().to_string());
    }
    Ok(ModelDir { document, shards, shard_paths })
}

#[cfg(feature = "tfjs")]
fn translate_tfjs(
    doc: &json::Document,
    weights: std::collections::HashMap<String, Tensor>,
) -> Result<ModelGraph, Error> {
    webinfer_tf::tfjs::translate(doc, weights)
}

#[cfg(not(feature = "tfjs"))]
fn translate_tfjs(
    doc: &json::Document,
    _weights: std::collections::HashMap<String, Tensor>,
) -> Result<ModelGraph, Error> {
    let (source, format) = (doc.source(), &doc.format);
    Err(Error::Unsupported(format!(
        "{source} is a TF.js {format}; this webinfer build has no TF.js translators (enable the `tfjs` feature, \
         or convert it first: webinfer convert {source})"
    )))
}
