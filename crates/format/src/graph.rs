//! The IR graph with its weights: what every front-end (ONNX, Keras, SavedModel, TF.js) produces, what the
//! converter's passes rewrite and write out, and what every backend plans from.

use std::collections::HashMap;
use std::sync::Arc;

use crate::json::{Graph, ModelJson, Node, ValueInfo, FORMAT};
use crate::tensor::Tensor;

/// A model graph and its weights, in memory.
#[derive(Clone, Debug, Default)]
pub struct ModelGraph {
    /// What produced the source model (a framework and version, or a file).
    pub generated_by: String,
    pub inputs: Vec<ValueInfo>,
    pub outputs: Vec<ValueInfo>,
    pub nodes: Vec<Node>,
    pub weights: HashMap<String, Arc<Tensor>>,
}

impl ModelGraph {
    /// A graph from a parsed model.json and its decoded weights.
    pub fn from_json(json: ModelJson, weights: HashMap<String, Tensor>) -> Self {
        ModelGraph {
            generated_by: json.generated_by.unwrap_or_default(),
            inputs: json.graph.inputs,
            outputs: json.graph.outputs,
            nodes: json.graph.nodes,
            weights: weights.into_iter().map(|(k, v)| (k, Arc::new(v))).collect(),
        }
    }

    /// The model.json document for this graph, without a weights manifest.
    pub fn to_json_without_weights(&self) -> ModelJson {
        ModelJson {
            format: FORMAT.into(),
            generated_by: Some(self.generated_by.clone()),
            converted_by: Some(format!("webinfer {}", crate::version())),
            graph: Graph { inputs: self.inputs.clone(), outputs: self.outputs.clone(), nodes: self.nodes.clone() },
            weights_manifest: Vec::new(),
        }
    }
}
