//! The webinfer model format: the `model.json` document ([`json`]), binary weight shards and their
//! quantization ([`weights`]), tensors ([`tensor`]), and the one IR graph type every front-end produces
//! and every backend consumes ([`graph::ModelGraph`]).

pub mod error;
pub mod graph;
pub mod json;
pub mod limits;
pub mod tensor;
pub mod weights;

pub use error::Error;
pub use graph::ModelGraph;
pub use limits::Limits;
pub use tensor::Tensor;

/// The webinfer version (all workspace crates share it).
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Whether a model.json `format` field names a TF.js model (graph or layers).
pub fn is_tfjs_format(format: &str) -> bool {
    matches!(format, "graph-model" | "layers-model")
}
