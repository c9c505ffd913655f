//! Shape arithmetic that is known at plan time (Shape, Size, ConstantOfShape, Range): these ops produce values,
//! not kernels, and so fold away on every backend.

use super::params::*;
use super::{Input, Planned};
use crate::json::Node;
use crate::tensor::Tensor;
use crate::Error;

/// Shape (with start/end): a plan-time value.
pub(crate) fn plan_shape(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    let x = inputs.first().map(|i| i.shape).unwrap_or(&[]);
    let rank = x.len() as i64;
    let clampi = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
    let start = clampi(node.int("start", 0));
    let end = clampi(node.int("end", rank));
    let dims: Vec<i64> = x[start..end.max(start)].iter().map(|&d| d as i64).collect();
    Ok(Planned::Values(vec![Tensor::i64(vec![dims.len()], dims)]))
}

/// Size: a plan-time value.
pub(crate) fn plan_size(_node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    let x = inputs.first().map(|i| i.shape).unwrap_or(&[]);
    Ok(Planned::Values(vec![Tensor::i64(vec![], vec![x.iter().product::<usize>() as i64])]))
}

/// ConstantOfShape: a plan-time value.
pub(crate) fn plan_constant_of_shape(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    let dims = int_param(node, inputs, 0, "")?.unwrap_or_default();
    let shape: Vec<usize> = dims.iter().map(|&d| d.max(0) as usize).collect();
    let n = planned_len(&shape)?;
    let value = node.float("value", 0.0);
    Ok(Planned::Values(vec![match node.string("dtype").unwrap_or("float32") {
        "float32" | "float16" | "float64" => Tensor::f32(shape, vec![value; n]),
        _ => Tensor::i64(shape, vec![value as i64; n]),
    }]))
}

/// Range: a plan-time value.
pub(crate) fn plan_range(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    need(node, inputs, 3)?;
    let vals: Vec<&Tensor> = inputs[..3]
        .iter()
        .map(|i| i.value.ok_or_else(|| op_err(node, "inputs must be known when planning")))
        .collect::<Result<_, _>>()?;
    if vals.iter().all(|v| !v.is_float()) {
        let (s, l, d) = (vals[0].to_i64s()[0], vals[1].to_i64s()[0], vals[2].to_i64s()[0]);
        if d == 0 {
            return Err(op_err(node, "delta must not be 0"));
        }
        let n = planned_len(&[((l as f64 - s as f64) / d as f64).ceil().max(0.0) as usize])?;
        let v: Vec<i64> = (0..n as i64).map(|i| s + i * d).collect();
        Ok(Planned::Values(vec![Tensor::i64(vec![n], v)]))
    } else {
        let (s, l, d) = (vals[0].to_f32s()[0], vals[1].to_f32s()[0], vals[2].to_f32s()[0]);
        let n = planned_len(&[((l - s) / d).ceil().max(0.0) as usize])?;
        let v: Vec<f32> = (0..n).map(|i| s + i as f32 * d).collect();
        Ok(Planned::Values(vec![Tensor::f32(vec![n], v)]))
    }
}
