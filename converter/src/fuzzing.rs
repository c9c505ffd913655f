//! The entry points of the cargo-fuzz targets (`fuzz/`) and of their regression tests
//! (`converter/tests/fuzz_regressions.rs`): each feeds untrusted bytes through one decoder the way a user's file
//! reaches it, and must return an error or a model, never panic, hang or allocate without bound.

use webinfer::{Limits, Model, ModelGraph};

use crate::{finish, ConvertOptions};

/// A fuzz entry point: the outcome for one input, with the error's message.
pub type Entry = fn(&[u8]) -> Result<(), String>;

/// The fuzz targets, by the name of their `fuzz/fuzz_targets/*.rs` file and corpus directory.
pub const TARGETS: [(&str, Entry); 6] = [
    ("model_json", model_json),
    ("shards", shards),
    ("onnx", onnx),
    ("tfjs", tfjs),
    ("npy", npy),
    ("keras_zip", keras_zip),
];

/// Bounds small enough that any plan within them runs in milliseconds, so a slow input is a real hang.
pub fn fuzz_limits() -> Limits {
    Limits {
        max_weight_bytes: 16 << 20,
        max_model_bytes: 32 << 20,
        max_tensor_elements: 1 << 20,
        max_plan_elements: 1 << 22,
    }
}

/// Parses a fuzz input laid out as model.json text, a NUL byte, then the shards' bytes back to back; the tail is
/// cut where the manifest records shard lengths, else into equal parts.
fn document_and_shards(data: &[u8]) -> Result<(webinfer::ModelDocument, Vec<Vec<u8>>), String> {
    let (text, mut rest) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let document = webinfer::ModelDocument::parse_with(&String::from_utf8_lossy(text), "model.json", &fuzz_limits())
        .map_err(|e| e.to_string())?;
    let recorded: Vec<Option<u64>> = document
        .manifest()
        .iter()
        .flat_map(|g| (0..g.paths.len()).map(|i| g.shards.get(i).map(|s| s.byte_length)))
        .collect();
    let mut shards = Vec::with_capacity(recorded.len());
    for (i, length) in recorded.iter().enumerate() {
        let even = rest.len() / (recorded.len() - i);
        let take = length.map_or(even, |n| usize::try_from(n).unwrap_or(usize::MAX).min(rest.len()));
        shards.push(rest[..take].to_vec());
        rest = &rest[take..];
    }
    Ok((document, shards))
}

/// Plans and runs a model once on the zeros it warms up with, within [`fuzz_limits`].
fn plan_and_run(graph: ModelGraph) -> Result<(), String> {
    let mut model = Model::from_graph(graph).map_err(|e| e.to_string())?;
    model.set_limits(fuzz_limits());
    if let Some(inputs) = model.warm_up_inputs() {
        model.predict(&inputs).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// model.json parsing, shard checks and decoding, planning and one run: the input is the JSON text, a NUL, then
/// the shard bytes.
pub fn model_json(data: &[u8]) -> Result<(), String> {
    let (document, shards) = document_and_shards(data)?;
    plan_and_run(document.decode(&shards, &[]).map_err(|e| e.to_string())?)
}

/// Shard checks (length, sha256, group sizes) and decoding with dequantization alone, seeded with quantized
/// models (same layout as [`model_json`]).
pub fn shards(data: &[u8]) -> Result<(), String> {
    let (document, shards) = document_and_shards(data)?;
    document.decode(&shards, &[]).map(drop).map_err(|e| e.to_string())
}

/// ONNX decoding, lowering, the converter's optimizer and encoder, then planning and one run of the result.
pub fn onnx(data: &[u8]) -> Result<(), String> {
    let model = crate::onnx::decode_model(prost::bytes::Bytes::copy_from_slice(data), "fuzz.onnx")
        .map_err(|e| e.to_string())?;
    let graph = crate::onnx::lower(&model, "fuzz.onnx").map_err(|e| e.to_string())?;
    let options = ConvertOptions { limits: fuzz_limits(), ..ConvertOptions::default() };
    let converted = finish(graph, &options).map_err(|e| e.to_string())?;
    let graph = webinfer::ModelDocument::parse_with(&converted.model.to_json(), "model.json", &fuzz_limits())
        .and_then(|d| d.decode(&converted.shards, &[]))
        .map_err(|e| e.to_string())?;
    plan_and_run(graph)
}

/// TF.js graph and layers models (model.json + shard, as in [`model_json`]) through the translators.
pub fn tfjs(data: &[u8]) -> Result<(), String> {
    model_json(data)
}

/// .npy input files as `webinfer run --input` reads them.
pub fn npy(data: &[u8]) -> Result<(), String> {
    crate::npy::read_bytes(data, "input.npy").map(drop).map_err(|e| e.to_string())
}

/// `.keras` zips: the bounded unzip of config.json, metadata.json and model.weights.h5, then the Keras config
/// translator (with no weights: the HDF5 file is libhdf5's to parse, and is not fuzzed here).
#[cfg(feature = "hdf5")]
pub fn keras_zip(data: &[u8]) -> Result<(), String> {
    let unzipped =
        crate::keras_file::unzip_keras(std::io::Cursor::new(data), "fuzz.keras").map_err(|e| e.to_string())?;
    let grouped = webinfer::interop::keras::group_weights(&unzipped.config, Vec::new());
    webinfer::interop::keras::translate(&unzipped.config, &grouped, "fuzz.keras", String::new())
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Without the `hdf5` feature there is no `.keras` reader to fuzz.
#[cfg(not(feature = "hdf5"))]
pub fn keras_zip(_data: &[u8]) -> Result<(), String> {
    Err(crate::ConvertError::Unsupported("built without the hdf5 feature".into()).to_string())
}
