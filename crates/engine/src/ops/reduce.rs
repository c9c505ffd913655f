//! Reductions over a set of axes (ReduceMean/Sum/Max/Min/Prod/L1/L2/SumSquare/LogSum/LogSumExp), and ArgMax/ArgMin
//! along one axis.

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
    /// The index of the largest value (the last one on ties when `last`).
    ArgMax {
        last: bool,
    },
    /// The index of the smallest value (the last one on ties when `last`).
    ArgMin {
        last: bool,
    },
}

/// The position of the value `better` prefers, first on ties unless `last`; 0 for an empty run.
fn arg_best<T: PartialOrd>(vals: impl Iterator<Item = T>, last: bool, better: impl Fn(&T, &T) -> bool) -> usize {
    let mut best: Option<(usize, T)> = None;
    for (i, v) in vals.enumerate() {
        let take = match &best {
            None => true,
            Some((_, b)) => better(&v, b) || (last && v == *b),
        };
        if take {
            best = Some((i, v));
        }
    }
    best.map_or(0, |(i, _)| i)
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
                ReduceKind::ArgMax { last } => arg_best(vals, last, |v, b| v > b) as f32,
                ReduceKind::ArgMin { last } => arg_best(vals, last, |v, b| v < b) as f32,
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
                    ReduceKind::ArgMax { last } => arg_best(vals, last, |v, b| v > b) as i64,
                    ReduceKind::ArgMin { last } => arg_best(vals, last, |v, b| v < b) as i64,
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
        _ => return Err(Error::UnsupportedOp { op: node.op.clone(), node: node.name.clone(), supported: Vec::new() }),
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

/// ArgMax and ArgMin along `axis`, with keepdims and select_last_index; the indices are exact in float32 up to
/// 2^24 and come out as int64 when known at plan time.
pub(crate) fn plan_arg_reduce(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    need(node, inputs, 1)?;
    let x = inputs[0].shape;
    if x.is_empty() {
        return Err(op_err(node, "expects a tensor of rank >= 1, got a scalar"));
    }
    let axis = normalize_axis(node.int("axis", 0), x.len(), &node.op)?;
    let last = node.int("select_last_index", 0) != 0;
    let kind = if node.op == "ArgMin" { ReduceKind::ArgMin { last } } else { ReduceKind::ArgMax { last } };
    let keep = node.int("keepdims", 1) != 0;
    let out: Vec<usize> = (0..x.len()).filter_map(|d| if d == axis { keep.then_some(1) } else { Some(x[d]) }).collect();
    kernel(Kernel::Reduce(Box::new(Reduce::new(kind, x, &[axis]))), vec![0], vec![out])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Attr;
    use crate::ops::tests::{node, shape_input};

    fn planned_reduce(op: &str, shape: &[usize], attrs: &[(&str, Attr)]) -> (Reduce, Vec<usize>) {
        match crate::ops::plan_node(&node(op, 1, attrs), &[shape_input(shape)]).unwrap() {
            Planned::Kernel { kernel: Kernel::Reduce(r), out_shapes, .. } => (*r, out_shapes[0].clone()),
            _ => panic!("{op} should plan a reduction"),
        }
    }

    #[test]
    fn reduce_mean_over_an_inner_axis_keeps_dims() {
        let (r, out) = planned_reduce("ReduceMean", &[2, 3], &[("axes", Attr::Ints(vec![-1]))]);
        assert_eq!(out, vec![2, 1]);
        let mut y = vec![0.0; 2];
        r.run(&[1.0, 2.0, 3.0, 4.0, 5.0, 9.0], &mut y);
        assert_eq!(y, vec![2.0, 6.0]);
    }

    #[test]
    fn log_sum_exp_is_stable_for_large_values() {
        let r = Reduce::new(ReduceKind::LogSumExp, &[2], &[0]);
        let mut y = [0.0];
        r.run(&[1000.0, 1000.0], &mut y);
        assert!((y[0] - (1000.0 + 2f32.ln())).abs() < 1e-3, "{}", y[0]);
    }

    #[test]
    fn argmax_takes_the_first_tie_unless_select_last_index() {
        let x = [1.0, 5.0, 5.0, 0.0, 7.0, 7.0];
        let (first, out) = planned_reduce("ArgMax", &[2, 3], &[("axis", Attr::Int(1)), ("keepdims", Attr::Int(0))]);
        assert_eq!(out, vec![2]);
        let mut y = vec![0.0; 2];
        first.run(&x, &mut y);
        assert_eq!(y, vec![1.0, 1.0]);
        let (last, _) =
            planned_reduce("ArgMax", &[2, 3], &[("axis", Attr::Int(1)), ("select_last_index", Attr::Int(1))]);
        last.run(&x, &mut y);
        assert_eq!(y, vec![2.0, 2.0]);
        let (min, out) = planned_reduce("ArgMin", &[2, 3], &[]);
        assert_eq!(out, vec![1, 3]);
        let mut y = vec![0.0; 3];
        min.run(&x, &mut y);
        assert_eq!(y, vec![1.0, 0.0, 0.0]);
        assert_eq!(min.run_i64(&[3, 1, 2, 0, 4, 9]), vec![1, 0, 0]);
    }

    #[test]
    fn argmax_of_a_scalar_is_an_op_error() {
        let err = crate::ops::plan_node(&node("ArgMax", 1, &[]), &[shape_input(&[])]).err().unwrap();
        assert!(err.to_string().contains("rank >= 1"), "{err}");
    }
}
