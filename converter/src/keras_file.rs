//! Keras files: Keras 3 `.keras` zips (config.json + model.weights.h5) and legacy `.h5` files (Keras 3
//! and tf_keras), read with libhdf5. Optimizer state is never read. The layer configs go through the
//! runtime's Keras translator, as TF.js layers models do.

use std::io::{Read, Seek};
use std::path::Path;
use std::sync::Arc;

use hdf5::types::{VarLenAscii, VarLenUnicode};
use webinfer::interop::keras;
use webinfer::ModelGraph;
use webinfer::Tensor;

use crate::ConvertError;

fn h5_err(path: &str, what: &str, e: impl std::fmt::Display) -> ConvertError {
    ConvertError::Parse(format!("{path}: {what}: {e}"))
}

fn dataset_tensor(ds: &hdf5::Dataset, path: &str, name: &str) -> Result<Tensor, ConvertError> {
    let shape = ds.shape();
    let data: Vec<f32> = ds.read_raw::<f32>().map_err(|e| h5_err(path, &format!("weight {name:?}"), e))?;
    Ok(Tensor::f32(shape, data))
}

fn string_attr(loc: &hdf5::Location, key: &str) -> Option<String> {
    let attr = loc.attr(key).ok()?;
    attr.read_scalar::<VarLenUnicode>()
        .map(|s| s.as_str().to_string())
        .or_else(|_| attr.read_scalar::<VarLenAscii>().map(|s| s.as_str().to_string()))
        .ok()
}

fn string_list_attr(loc: &hdf5::Location, key: &str) -> Option<Vec<String>> {
    let attr = loc.attr(key).ok()?;
    attr.read_raw::<VarLenUnicode>()
        .map(|v| v.iter().map(|s| s.as_str().to_string()).collect())
        .or_else(|_| attr.read_raw::<VarLenAscii>().map(|v| v.iter().map(|s| s.as_str().to_string()).collect()))
        .ok()
}

fn parse_config(text: &str, source: &str) -> Result<serde_json::Value, ConvertError> {
    serde_json::from_str(text)
        .map_err(|e| ConvertError::Parse(format!("{source}: the model config is not valid JSON: {e}")))
}

/// Reads a legacy Keras `.h5` file (root attribute `model_config`, weights under `model_weights/<layer>`).
pub fn read_h5(path: &Path, source: &str) -> Result<ModelGraph, ConvertError> {
    let file = hdf5::File::open(path).map_err(|e| h5_err(source, "cannot open as HDF5", e))?;
    let config_text = string_attr(&file, "model_config").ok_or_else(|| {
        ConvertError::Parse(format!(
            "{source}: no model_config attribute; a weights-only .h5 cannot be converted (save the whole model)"
        ))
    })?;
    let config = parse_config(&config_text, source)?;
    let version = string_attr(&file, "keras_version").unwrap_or_default();
    let weights_root = file.group("model_weights").map_err(|e| h5_err(source, "model_weights", e))?;
    let mut layer_weights = keras::LayerWeights::new();
    for (_, layer) in keras::layer_classes(&config) {
        let Ok(group) = weights_root.group(&layer) else { continue };
        let names = string_list_attr(&group, "weight_names").unwrap_or_default();
        let mut tensors = Vec::new();
        for name in names {
            let ds =
                group.dataset(&name).map_err(|e| h5_err(source, &format!("weight {name:?} of layer {layer:?}"), e))?;
            tensors.push(Arc::new(dataset_tensor(&ds, source, &name)?));
        }
        layer_weights.insert(layer, tensors);
    }
    Ok(keras::translate(&config, &layer_weights, source, format!("Keras {version} (.h5) from {source}"))?)
}

/// The most a `.keras` zip's config.json or metadata.json may unpack to. The weights file is bounded by
/// [`webinfer::Limits::max_model_bytes`]. Both are checked against the entry's declared size and again while it
/// unpacks, so a zip bomb (or a header that lies about its size) stops at the limit.
pub const MAX_KERAS_JSON_BYTES: u64 = 64 << 20;

/// The parts of a Keras 3 `.keras` zip, each read within its byte limit.
pub struct KerasZip {
    /// config.json: the model config.
    pub config: serde_json::Value,
    /// The Keras version metadata.json records ("3" where it has none).
    pub keras_version: String,
    /// model.weights.h5, unread.
    pub weights_h5: Vec<u8>,
}

/// Unpacks a `.keras` zip: config.json, metadata.json and model.weights.h5, each bounded (see
/// [`MAX_KERAS_JSON_BYTES`]); `source` names the file in messages.
pub fn unzip_keras(reader: impl Read + Seek, source: &str) -> Result<KerasZip, ConvertError> {
    let mut zip =
        zip::ZipArchive::new(reader).map_err(|e| ConvertError::Parse(format!("{source}: not a .keras zip: {e}")))?;
    let limits = webinfer::Limits::default();
    let mut read_entry = |name: &str| -> Result<Vec<u8>, ConvertError> {
        let entry = zip.by_name(name).map_err(|e| ConvertError::Parse(format!("{source}: {name}: {e}")))?;
        let max = if name.ends_with(".h5") { limits.max_model_bytes } else { MAX_KERAS_JSON_BYTES };
        let too_big = |size: u64| {
            ConvertError::Parse(format!(
                "{source}: {name} unpacks to {size} bytes or more, over the limit of {max} bytes for this entry"
            ))
        };
        if entry.size() > max {
            return Err(too_big(entry.size()));
        }
        let mut bytes = Vec::new();
        entry.take(max + 1).read_to_end(&mut bytes).map_err(|e| ConvertError::Io(format!("{source}: {name}: {e}")))?;
        if bytes.len() as u64 > max {
            return Err(too_big(bytes.len() as u64));
        }
        Ok(bytes)
    };
    let config = parse_config(&String::from_utf8_lossy(&read_entry("config.json")?), source)?;
    let metadata: serde_json::Value =
        read_entry("metadata.json").ok().and_then(|m| serde_json::from_slice(&m).ok()).unwrap_or_default();
    let weights_h5 = read_entry("model.weights.h5")?;
    let keras_version = metadata.get("keras_version").and_then(serde_json::Value::as_str).unwrap_or("3").to_string();
    Ok(KerasZip { config, keras_version, weights_h5 })
}

/// Reads a Keras 3 `.keras` zip.
pub fn read_keras(path: &Path, source: &str) -> Result<ModelGraph, ConvertError> {
    let file = std::fs::File::open(path).map_err(|e| ConvertError::Io(format!("{source}: {e}")))?;
    let unzipped = unzip_keras(file, source)?;
    let tmp = tempfile::Builder::new()
        .suffix(".weights.h5")
        .tempfile()
        .map_err(|e| ConvertError::Io(format!("temporary file: {e}")))?;
    std::fs::write(tmp.path(), &unzipped.weights_h5)
        .map_err(|e| ConvertError::Io(format!("{}: {e}", tmp.path().display())))?;
    let named = read_vars(tmp.path(), source)?;
    let grouped = keras::group_weights(&unzipped.config, named);
    let generated_by = format!("Keras {} (.keras) from {source}", unzipped.keras_version);
    Ok(keras::translate(&unzipped.config, &grouped, source, generated_by)?)
}

/// Every `layers/<key>/vars/<i>` dataset of a Keras 3 weights file.
fn read_vars(h5: &Path, source: &str) -> Result<Vec<(String, Arc<Tensor>)>, ConvertError> {
    let file = hdf5::File::open(h5).map_err(|e| h5_err(source, "model.weights.h5", e))?;
    let mut out = Vec::new();
    let Ok(layers) = file.group("layers") else { return Ok(out) };
    for key in layers.member_names().map_err(|e| h5_err(source, "layers", e))? {
        let Ok(vars) = layers.group(&format!("{key}/vars")) else { continue };
        for i in vars.member_names().map_err(|e| h5_err(source, &key, e))? {
            let name = format!("layers/{key}/vars/{i}");
            let ds = vars.dataset(&i).map_err(|e| h5_err(source, &name, e))?;
            out.push((name.clone(), Arc::new(dataset_tensor(&ds, source, &name)?)));
        }
    }
    Ok(out)
}
