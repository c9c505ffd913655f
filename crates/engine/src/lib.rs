//! The webinfer engine: plans a model graph once per input signature ([`plan`]) and runs the plan on the
//! SIMD CPU backend ([`cpu`], kernels in [`ops`]) or on WebGPU (`gpu`, with the `webgpu` feature).
//!
//! [`ops`] holds the op semantics, one file per op family: planning, kernel parameters and the CPU kernel.
//! The WebGPU encoder for each family sits beside its `.wgsl` in `gpu/`.

pub mod choice;
pub mod cpu;
#[cfg(feature = "webgpu")]
pub mod gpu;
pub mod model;
pub mod ops;
pub mod plan;

pub use model::{Analysis, Model, OpTiming};
pub use webinfer_format::{json, limits, tensor, Error, Limits, ModelGraph, Tensor};
