//! Reading a node's parameters (constant inputs or attributes) while planning, shared by every family.

use super::gemm::Activation;
use super::{Input, Kernel, Planned};
use crate::json::{Attr, Node};
use crate::limits::Limits;
use crate::Error;

thread_local! {
    static PLAN_LIMITS: std::cell::Cell<Limits> = std::cell::Cell::new(Limits::default());
}

/// Runs `plan` with `limits` bounding the tensors the planners create (restored afterwards).
pub(crate) fn with_limits<T>(limits: Limits, plan: impl FnOnce() -> T) -> T {
    let previous = PLAN_LIMITS.replace(limits);
    let out = plan();
    PLAN_LIMITS.set(previous);
    out
}

/// The element count of an output a planner is about to create, checked against the plan's limits before any
/// buffer for it exists.
pub(crate) fn planned_len(shape: &[usize]) -> Result<usize, Error> {
    PLAN_LIMITS.get().check_tensor(shape, &|| "its output".to_string())
}

pub(crate) fn op_err(node: &Node, msg: impl std::fmt::Display) -> Error {
    Error::Op { op: node.op.clone(), node: node.name.clone(), msg: msg.to_string() }
}

/// An integer parameter given either as a constant input `idx` or as attribute `attr`.
pub(crate) fn int_param(node: &Node, inputs: &[Input], idx: usize, attr: &str) -> Result<Option<Vec<i64>>, Error> {
    if let Some(inp) = inputs.get(idx).filter(|_| node.input(idx).is_some()) {
        let v = inp
            .value
            .ok_or_else(|| op_err(node, format!("input {idx} ({}) must be known when planning", node.inputs[idx])))?;
        return Ok(Some(v.to_i64s()));
    }
    Ok(node.ints(attr).map(<[i64]>::to_vec).or_else(|| match node.attr(attr) {
        Some(Attr::Int(v)) => Some(vec![*v]),
        _ => None,
    }))
}

/// A float scalar parameter given as constant input `idx` or attribute `attr`.
pub(crate) fn float_param(node: &Node, inputs: &[Input], idx: usize, attr: &str, default: f32) -> Result<f32, Error> {
    if let Some(inp) = inputs.get(idx).filter(|_| node.input(idx).is_some()) {
        let v = inp
            .value
            .ok_or_else(|| op_err(node, format!("input {idx} ({}) must be known when planning", node.inputs[idx])))?;
        return v.to_f32s().first().copied().ok_or_else(|| op_err(node, format!("input {idx} is empty")));
    }
    Ok(node.float(attr, default))
}

pub(crate) fn const_f32(node: &Node, inputs: &[Input], idx: usize) -> Option<Vec<f32>> {
    node.input(idx).and_then(|_| inputs.get(idx)).and_then(|i| i.value).map(|v| v.to_f32s())
}

/// The activation a converter fused into Conv/Gemm/MatMul (`activation` attribute).
pub fn fused_activation(node: &Node) -> Result<Activation, Error> {
    Ok(match node.string("activation").unwrap_or("") {
        "" => Activation::None,
        "Relu" => Activation::Relu,
        "Clip" => Activation::Clip(
            node.float("activation_min", f32::NEG_INFINITY),
            node.float("activation_max", f32::INFINITY),
        ),
        "LeakyRelu" => Activation::LeakyRelu(node.float("activation_alpha", 0.01)),
        "Sigmoid" => Activation::Sigmoid,
        "Tanh" => Activation::Tanh,
        "HardSwish" => Activation::HardSwish,
        other => return Err(op_err(node, format!("unknown fused activation {other:?}"))),
    })
}

pub(crate) fn kernel(kernel: Kernel, reads: Vec<usize>, out_shapes: Vec<Vec<usize>>) -> Result<Planned, Error> {
    Ok(Planned::Kernel { kernel, reads, out_shapes })
}

pub(crate) fn need(node: &Node, inputs: &[Input], n: usize) -> Result<(), Error> {
    if inputs.len() < n || (0..n).any(|i| node.input(i).is_none()) {
        return Err(op_err(node, format!("expects at least {n} inputs, got {}", inputs.len())));
    }
    Ok(())
}
