//! Reductions over a set of axes (ReduceMean/Sum/Max/Min/Prod/L1/L2/SumSquare/LogSumExp).

use super::elementwise::Unary;
use super::params::*;
use super::{Input, Kernel, Planned};
use crate::json::Node;
use crate::tensor::normalize_axis;
use crate::tensor::strides;
use crate::Error;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ReduceKind {
    Mean,
    Sum,
    Max,
    Min,
    Prod,
    L1,
    L2,
    SumSquare,
    LogSum,
    LogSumExp,
}

/// A planned reduction: for each output element, the input offsets it reduces over.
#[derive(Clone, Debug)]
pub struct Reduce {
    pub kind: ReduceKind,
    /// Base offset per output element.
    pub bases: Vec<usize>,
    /// Offsets (relative to a base) of the reduced elements.
    pub offsets: Vec<usize>,
}

impl Reduce {
    pub fn new(kind: ReduceKind, shape: &[usize], axes: &[usize]) -> Self {
        let st = strides(shape);
        let mut bases = vec![0usize];
        let mut offsets = vec![0usize];
        for d in 0..shape.len() {
            let target = if axes.contains(&d) { &mut offsets } else { &mut bases };
            let (n, stride) = (shape[d], st[d]);
            *target = target.iter().flat_map(|&b| (0..n).map(move |i| b + i * stride)).collect();
        }
        Reduce { kind, bases, offsets }
    }

    pub fn run(&self, x: &[f32], out: &mut [f32]) {
        let n = self.offsets.len() as f32;
        for (o, &b) in out.iter_mut().zip(&self.bases) {
            let vals = self.offsets.iter().map(|&off| x[b + off]);
            *o = match self.kind {
                ReduceKind::Mean => vals.sum::<f32>() / n,
                ReduceKind::Sum => vals.sum(),
                ReduceKind::Max => vals.fold(f32::NEG_INFINITY, f32::max),
                ReduceKind::Min => vals.fold(f32::INFINITY, f32::min),
                ReduceKind::Prod => vals.product(),
                ReduceKind::L1 => vals.map(f32::abs).sum(),
                ReduceKind::L2 => vals.map(|v| v * v).sum::<f32>().sqrt(),
                ReduceKind::SumSquare => vals.map(|v| v * v).sum(),
                ReduceKind::LogSum => vals.sum::<f32>().ln(),
                ReduceKind::LogSumExp => {
                    let m = self.offsets.iter().map(|&off| x[b + off]).fold(f32::NEG_INFINITY, f32::max);
                    if m.is_infinite() {
                        m
                    } else {
                        m + vals.map(|v| (v - m).exp()).sum::<f32>().ln()
                    }
                }
            };
        }
    }

    pub fn run_i64(&self, x: &[i64]) -> Vec<i64> {
        self.bases
            .iter()
            .map(|&b| {
                let vals = self.offsets.iter().map(|&off| x[b + off]);
                match self.kind {
                    ReduceKind::Max => vals.max().unwrap_or(i64::MIN),
                    ReduceKind::Min => vals.min().unwrap_or(i64::MAX),
                    ReduceKind::Prod => vals.product(),
                    ReduceKind::Mean => vals.sum::<i64>() / self.offsets.len().max(1) as i64,
                    _ => vals.sum(),
                }
            })
            .collect()
    }
}

/// Every Reduce* op over its axes (input 1 or the `axes` attribute), with keepdims and noop_with_empty_axes.
pub(crate) fn plan_reduce(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    need(node, inputs, 1)?;
    let x = inputs[0].shape;
    let kind = match node.op.as_str() {
        "ReduceMean" => ReduceKind::Mean,
        "ReduceSum" => ReduceKind::Sum,
        "ReduceMax" => ReduceKind::Max,
        "ReduceMin" => ReduceKind::Min,
        "ReduceProd" => ReduceKind::Prod,
        "ReduceL1" => ReduceKind::L1,
        "ReduceL2" => ReduceKind::L2,
        "ReduceSumSquare" => ReduceKind::SumSquare,
        "ReduceLogSum" => ReduceKind::LogSum,
        "ReduceLogSumExp" => ReduceKind::LogSumExp,
        other => return Err(Error::Unsupported(format!("op {other:?} (node {:?}) is not supported", node.name))),
    };
    let axes = int_param(node, inputs, 1, "axes")?.unwrap_or_default();
    let axes: Vec<usize> = if axes.is_empty() {
        if node.int("noop_with_empty_axes", 0) != 0 {
            return kernel(Kernel::Unary(Unary::Identity), vec![0], vec![x.to_vec()]);
        }
        (0..x.len()).collect()
    } else {
        axes.iter().map(|&a| normalize_axis(a, x.len(), &node.op)).collect::<Result<_, _>>()?
    };
    let keep = node.int("keepdims", 1) != 0;
    let out: Vec<usize> =
        (0..x.len()).filter_map(|d| if axes.contains(&d) { keep.then_some(1) } else { Some(x[d]) }).collect();
    kernel(Kernel::Reduce(Box::new(Reduce::new(kind, x, &axes))), vec![0], vec![out])
}
