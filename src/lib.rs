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
    let doc: serde_json::Value =
        serde_json::from_str(model_json).map_err(|e| Error::Format(format!("{source} is not valid JSON: {e}")))?;
    let manifest = format::weights_manifest_of(&doc, source)?;
    let expected: usize = manifest.iter().map(|g| g.paths.len()).sum();
    if shards.len() != expected {
        return Err(Error::Shard(format!("{source} lists {expected} shard(s), got {}", shards.len())));
    }
    let mut groups = Vec::with_capacity(manifest.len());
    let mut it = shards.iter();
    for group in &manifest {
        let mut bytes = Vec::new();
        for (i, path) in group.paths.iter().enumerate() {
            let shard = it.next().expect("counted above");
            weights::verify_shard(group.shards.get(i), shard, path)?;
            bytes.extend_from_slice(shard);
        }
        groups.push(bytes);
    }
    let decoded = weights::decode_weights(&manifest, &groups)?;
    let format = doc.get("format").and_then(|f| f.as_str()).unwrap_or("");
    if interop::tfjs::is_tfjs_format(format) {
        return Ok(Loaded::Translated(interop::tfjs::translate(&doc, decoded, source)?));
    }
    let json = format::ModelJson::parse(model_json)?;
    Ok(Loaded::Ir(json, decoded))
}

/// Loads a converted model directory (model.json + shards) from disk.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_dir(dir: &std::path::Path) -> Result<Model, Error> {
    let (json, shards) = read_dir_files(dir)?;
    read_model(&json, &shards, &dir.join("model.json").display().to_string())?.into_model()
}

/// Reads model.json and its shards (in manifest order) from a directory.
#[cfg(not(target_arch = "wasm32"))]
pub fn read_dir_files(dir: &std::path::Path) -> Result<(String, Vec<Vec<u8>>), Error> {
    let path = dir.join("model.json");
    let json = std::fs::read_to_string(&path).map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
    let doc: serde_json::Value =
        serde_json::from_str(&json).map_err(|e| Error::Format(format!("{} is not valid JSON: {e}", path.display())))?;
    let mut shards = Vec::new();
    for p in format::weights_manifest_of(&doc, &path.display().to_string())?.iter().flat_map(|g| &g.paths) {
        let sp = dir.join(p);
        shards.push(std::fs::read(&sp).map_err(|e| Error::Shard(format!("shard {}: {e}", sp.display())))?);
    }
    Ok((json, shards))
}
