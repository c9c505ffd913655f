//! The webinfer converter: front-ends lower source models into the IR; the writer emits model.json plus
//! weight shards. The `webinfer` binary (main.rs) is a thin CLI over this library.

pub mod fuzzing;
pub mod ir;
#[cfg(feature = "hdf5")]
pub mod keras_file;
pub mod npy;
pub mod onnx;
pub mod repo;
pub mod saved_model;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use webinfer::json::{DType, ModelJson};
use webinfer::weights::{encode_weights, QuantizeTo, WeightToWrite, DEFAULT_SHARD_SIZE};
use webinfer::ModelGraph;

/// Conversion failures, each naming the file, node or tensor at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("{0}")]
    Parse(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("unsupported op {op:?} (domain {domain}) in node {node:?} of {file}\nsupported ops: {supported}")]
    UnsupportedOp { op: String, domain: String, node: String, file: String, supported: String },
    #[error("{0}")]
    Io(String),
    #[error(transparent)]
    Runtime(#[from] webinfer::Error),
}

/// Source model formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SourceFormat {
    Onnx,
    /// A Keras 3 `.keras` zip.
    Keras,
    /// A legacy Keras `.h5` (Keras 3 or tf_keras).
    H5,
    /// A TensorFlow SavedModel directory.
    SavedModel,
    /// A TF.js model directory (or a webinfer one, re-sharded and re-quantized).
    Tfjs,
}

/// How to convert.
#[derive(Clone, Debug)]
pub struct ConvertOptions {
    pub from: Option<SourceFormat>,
    pub quantize: Option<QuantizeTo>,
    /// With `quantize`: only weights whose names match one of these globs are quantized.
    pub quantize_only: Vec<glob::Pattern>,
    pub shard_size: usize,
    /// For SavedModels: the signature to convert (`serving_default` when absent).
    pub signature: Option<String>,
    /// Bounds on the plans conversion makes while folding constants.
    pub limits: webinfer::Limits,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            from: None,
            quantize: None,
            quantize_only: Vec::new(),
            shard_size: DEFAULT_SHARD_SIZE,
            signature: None,
            limits: webinfer::Limits::default(),
        }
    }
}

/// A converted model in memory.
pub struct Converted {
    pub model: ModelJson,
    pub shards: Vec<Vec<u8>>,
    pub notes: Vec<String>,
}

/// Detects the source format from the path (file extension, directory contents) and first bytes.
pub fn detect_format(path: &Path, head: &[u8]) -> Result<SourceFormat, ConvertError> {
    if path.is_dir() {
        if path.join("saved_model.pb").exists() {
            return Ok(SourceFormat::SavedModel);
        }
        if path.join("model.json").exists() {
            return Ok(SourceFormat::Tfjs);
        }
        return Err(ConvertError::Unsupported(format!(
            "{}: a directory without saved_model.pb or model.json",
            path.display()
        )));
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "keras" => return Ok(SourceFormat::Keras),
        "h5" | "hdf5" => return Ok(SourceFormat::H5),
        "json" => return Ok(SourceFormat::Tfjs),
        _ => {}
    }
    if head.starts_with(b"\x89HDF") {
        return Ok(SourceFormat::H5);
    }
    if head.starts_with(b"PK") {
        return Ok(SourceFormat::Keras);
    }
    if ext == "onnx" || head.first() == Some(&0x08) {
        return Ok(SourceFormat::Onnx);
    }
    Err(ConvertError::Unsupported(format!("{}: cannot tell the model format; pass --from", path.display())))
}

/// Converts a model file or directory.
pub fn convert_path(input: &Path, options: &ConvertOptions) -> Result<Converted, ConvertError> {
    let io = |e: std::io::Error| ConvertError::Io(format!("{}: {e}", input.display()));
    let head: Vec<u8> = if input.is_file() {
        use std::io::Read;
        let mut buf = Vec::new();
        std::fs::File::open(input).map_err(io)?.take(16).read_to_end(&mut buf).map_err(io)?;
        buf
    } else if input.exists() {
        Vec::new()
    } else {
        return Err(ConvertError::Io(format!("{}: no such file or directory", input.display())));
    };
    let format = match options.from {
        Some(f) => f,
        None => detect_format(input, &head)?,
    };
    let source = input.file_name().map_or_else(|| input.display().to_string(), |n| n.to_string_lossy().into_owned());
    if let (Some(name), false) = (&options.signature, format == SourceFormat::SavedModel) {
        return Err(ConvertError::Unsupported(format!(
            "{}: --signature {name:?} applies to SavedModels only",
            input.display()
        )));
    }
    match format {
        SourceFormat::Onnx => {
            convert_onnx(prost::bytes::Bytes::from(std::fs::read(input).map_err(io)?), &source, options)
        }
        #[cfg(feature = "hdf5")]
        SourceFormat::Keras => finish(keras_file::read_keras(input, &source)?, options),
        #[cfg(feature = "hdf5")]
        SourceFormat::H5 => finish(keras_file::read_h5(input, &source)?, options),
        #[cfg(not(feature = "hdf5"))]
        SourceFormat::Keras | SourceFormat::H5 => Err(ConvertError::Unsupported(format!(
            "{}: reading Keras files needs libhdf5; this converter was built without its `hdf5` feature",
            input.display()
        ))),
        SourceFormat::SavedModel => finish(saved_model::read(input, &source, options.signature.as_deref())?, options),
        SourceFormat::Tfjs => {
            let dir = if input.is_dir() { input } else { input.parent().unwrap_or(Path::new(".")) };
            finish(webinfer::read_dir(dir)?.decode()?, options)
        }
    }
}

/// Converts ONNX model bytes; `source` names the model in messages.
pub fn convert_onnx(
    bytes: impl Into<prost::bytes::Bytes>,
    source: &str,
    options: &ConvertOptions,
) -> Result<Converted, ConvertError> {
    let model = onnx::decode_model(bytes.into(), source)?;
    let ir = onnx::lower(&model, source)?;
    drop(model);
    finish(ir, options)
}

/// Optimizes an IR graph and encodes it with its weights.
pub fn finish(mut ir: ModelGraph, options: &ConvertOptions) -> Result<Converted, ConvertError> {
    let notes = ir::optimize(&mut ir, &options.limits)?;
    let mut order: Vec<&str> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for node in &ir.nodes {
        for name in node.inputs.iter().filter(|n| ir.weights.contains_key(n.as_str())) {
            if seen.insert(name.as_str()) {
                order.push(name);
            }
        }
    }
    for out in &ir.outputs {
        if ir.weights.contains_key(&out.name) && seen.insert(out.name.as_str()) {
            order.push(&out.name);
        }
    }
    let to_write: Vec<WeightToWrite> = order
        .iter()
        .map(|name| {
            let quantize = options
                .quantize
                .filter(|_| options.quantize_only.is_empty() || options.quantize_only.iter().any(|p| p.matches(name)));
            WeightToWrite { name, tensor: &ir.weights[*name], quantize }
        })
        .collect();
    let encoded = encode_weights(&to_write, options.shard_size, "group1");
    let mut model = ir.to_json_without_weights();
    model.weights_manifest = if encoded.group.weights.is_empty() { Vec::new() } else { vec![encoded.group] };
    let shards = if model.weights_manifest.is_empty() { Vec::new() } else { encoded.shards };
    Ok(Converted { model, shards, notes })
}

/// Writes model.json and shards into `out_dir`, through a temporary sibling directory renamed at the
/// end, so a failure leaves no partial output. An existing `out_dir` is replaced.
pub fn write_output(converted: &Converted, out_dir: &Path) -> Result<(), ConvertError> {
    let io = |p: &Path, e: std::io::Error| ConvertError::Io(format!("{}: {e}", p.display()));
    let parent = out_dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    let name = out_dir
        .file_name()
        .ok_or_else(|| ConvertError::Io(format!("{}: not a directory name", out_dir.display())))?
        .to_string_lossy();
    let tmp: PathBuf = parent.join(format!(".{name}.partial-{}", std::process::id()));
    let result = (|| {
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
        let json_path = tmp.join("model.json");
        std::fs::write(&json_path, converted.model.to_json()).map_err(|e| io(&json_path, e))?;
        let paths = converted.model.weights_manifest.iter().flat_map(|g| &g.paths);
        for (path, bytes) in paths.zip(&converted.shards) {
            let p = tmp.join(path);
            std::fs::write(&p, bytes).map_err(|e| io(&p, e))?;
        }
        if out_dir.exists() {
            if out_dir.is_dir()
                && out_dir.read_dir().map_err(|e| io(out_dir, e))?.next().is_some()
                && !out_dir.join("model.json").exists()
            {
                return Err(ConvertError::Io(format!(
                    "{}: exists and does not hold a converted model; refusing to replace it",
                    out_dir.display()
                )));
            }
            std::fs::remove_dir_all(out_dir).map_err(|e| io(out_dir, e))?;
        }
        std::fs::rename(&tmp, out_dir).map_err(|e| io(out_dir, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// A human summary: ops by type, parameters, bytes by dtype, shards.
pub fn summary(model: &ModelJson, shards: &[Vec<u8>]) -> String {
    let mut ops: BTreeMap<&str, usize> = BTreeMap::new();
    for n in &model.graph.nodes {
        *ops.entry(n.op.as_str()).or_default() += 1;
    }
    let mut bytes_by_dtype: BTreeMap<&str, usize> = BTreeMap::new();
    let mut params = 0usize;
    for w in model.weights() {
        let stored = w.quantization.as_ref().map_or(w.dtype, |q| q.dtype);
        *bytes_by_dtype.entry(stored.name()).or_default() += w.byte_len();
        if matches!(w.dtype, DType::Float32 | DType::Float16) {
            params += w.len();
        }
    }
    let total: usize = shards.iter().map(Vec::len).sum();
    let mut s = String::new();
    s += &format!(
        "ops ({} nodes): {}\n",
        model.graph.nodes.len(),
        ops.iter().map(|(k, v)| format!("{k}×{v}")).collect::<Vec<_>>().join(", ")
    );
    s += &format!("parameters: {params}\n");
    s += &format!(
        "weights by dtype: {}\n",
        bytes_by_dtype.iter().map(|(k, v)| format!("{k} {v} B")).collect::<Vec<_>>().join(", ")
    );
    s += &format!("shards: {} ({} bytes)\n", shards.len(), total);
    s
}
