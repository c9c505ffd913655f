//! webinfer: run trained neural networks in the browser (WebGPU or SIMD CPU) and natively.
//!
//! A model is a `model.json` graph ([`format`]) plus binary weight shards ([`weights`]); the
//! [`engine`] plans and runs it. In the browser, the `js` module exposes `Model.load` to JavaScript.

pub mod engine;
pub mod format;
pub mod gpu;
pub mod interop;
pub mod ops;
pub mod tensor;
pub mod weights;

#[cfg(target_arch = "wasm32")]
pub mod js;

pub use engine::Model;
pub use tensor::Tensor;

/// Everything that can go wrong, each message naming the thing at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Format(String),
    #[error("{0}")]
    Shard(String),
    #[error("{0}")]
    Shape(String),
    #[error("{op} node {node:?}: {msg}")]
    Op { op: String, node: String, msg: String },
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Io(String),
    /// The WebGPU backend could not start or run (no adapter, a shader or device error).
    #[error("{0}")]
    Gpu(String),
    /// The GPU device went away (driver reset, GPU crash, tab backgrounded too long).
    #[error("{0}")]
    DeviceLost(String),
}

/// The webinfer version.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Builds a model from model.json text and its shard bytes (one Vec per shard, manifest order),
/// verifying each shard's length and sha256 where the manifest records them. Reads webinfer models and
/// TF.js graph and layers models.
pub fn model_from_bytes(model_json: &str, shards: &[Vec<u8>]) -> Result<Model, Error> {
    read_model(model_json, shards, "model.json")?.into_model()
}

/// A model document with its weights decoded.
pub enum Loaded {
    /// A webinfer model.json.
    Ir(format::ModelJson, std::collections::HashMap<String, Tensor>),
    /// A TF.js model, translated into the IR.
    Translated(interop::Translated),
}

impl Loaded {
    /// A runnable model.
    pub fn into_model(self) -> Result<Model, Error> {
        match self {
            Loaded::Ir(json, weights) => Model::new(&json, weights),
            Loaded::Translated(t) => t.into_model(),
        }
    }
}

/// Parses model.json (webinfer or TF.js), checks and decodes the shards; `source` names it in messages.
pub fn read_model(model_json: &str, shards: &[Vec<u8>], source: &str) -> Result<Loaded, Error> {
    ModelDocument::parse(model_json, source)?.decode(shards, &[])
}

/// A model.json (webinfer or TF.js) parsed once: the document and its weights manifest. The one load path:
/// parse, fetch or read the shards the manifest lists, then `decode` checks each shard once and decodes.
pub struct ModelDocument {
    doc: serde_json::Value,
    manifest: Vec<format::WeightsGroup>,
    source: String,
}

impl ModelDocument {
    /// Parses model.json text; `source` (its path or URL) names it in messages.
    pub fn parse(model_json: &str, source: &str) -> Result<Self, Error> {
        let doc: serde_json::Value =
            serde_json::from_str(model_json).map_err(|e| Error::Format(format!("{source} is not valid JSON: {e}")))?;
        let manifest = format::weights_manifest_of(&doc, source)?;
        Ok(ModelDocument { doc, manifest, source: source.to_string() })
    }

    /// The weights manifest.
    pub fn manifest(&self) -> &[format::WeightsGroup] {
        &self.manifest
    }

    /// Every shard path in manifest order, relative to model.json.
    pub fn shard_paths(&self) -> impl Iterator<Item = &str> {
        self.manifest.iter().flat_map(|g| g.paths.iter().map(String::as_str))
    }

    /// Checks each shard once (byte length and sha256 where recorded) and decodes the weights. `shard_names` (the
    /// shards' URLs or file paths, in manifest order) name them in errors; a shard without one is named by its
    /// manifest path.
    pub fn decode(self, shards: &[Vec<u8>], shard_names: &[String]) -> Result<Loaded, Error> {
        let source = &self.source;
        let expected: usize = self.manifest.iter().map(|g| g.paths.len()).sum();
        if shards.len() != expected {
            return Err(Error::Shard(format!("{source} lists {expected} shard(s), got {}", shards.len())));
        }
        let mut groups = Vec::with_capacity(self.manifest.len());
        let mut k = 0;
        for group in &self.manifest {
            let mut bytes = Vec::new();
            for (i, path) in group.paths.iter().enumerate() {
                let name = shard_names.get(k).map_or(path.as_str(), String::as_str);
                weights::verify_shard(group.shards.get(i), &shards[k], name)?;
                bytes.extend_from_slice(&shards[k]);
                k += 1;
            }
            groups.push(bytes);
        }
        let decoded = weights::decode_weights(&self.manifest, &groups)?;
        let format = self.doc.get("format").and_then(|f| f.as_str()).unwrap_or("");
        if interop::tfjs::is_tfjs_format(format) {
            return Ok(Loaded::Translated(interop::tfjs::translate(&self.doc, decoded, source)?));
        }
        Ok(Loaded::Ir(format::ModelJson::from_value(self.doc)?, decoded))
    }
}

/// Loads a converted model directory (model.json + shards) from disk.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_dir(dir: &std::path::Path) -> Result<Model, Error> {
    read_dir(dir)?.decode()?.into_model()
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
    pub fn decode(self) -> Result<Loaded, Error> {
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
