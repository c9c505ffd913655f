//! TensorFlow front-ends that run inside the runtime: TF.js graph models (TF ops, [`tf_graph`]) and
//! TF.js layers models (Keras layer configs, [`keras`]), both translated into the IR. The converter
//! feeds Keras files and SavedModels through the same translators.
//!
//! TensorFlow is channels-last (NHWC); the IR's convolutions and pools are channels-first. The
//! `Builder` keeps every rank-4 activation that feeds such ops stored NCHW and remembers it, so a
//! network of convolutions pays no transposes; a tensor is put back into its logical NHWC layout only
//! where an op needs it (Reshape, Flatten, a graph output).

mod builder;
pub mod keras;
pub mod tf_graph;
pub mod tfjs;

pub(crate) use builder::*;
pub use webinfer_format::ModelGraph;
