//! Normalization and softmax: BatchNormalization, InstanceNormalization, LayerNormalization, (Log)Softmax.

use super::layout::{self, IndexMap};
use super::params::*;
use super::{Input, Kernel, Planned};
use crate::json::Node;
use crate::tensor::normalize_axis;
use crate::Error;

/// y = x * scale[c] + shift[c] over [outer, c, inner] (inference BatchNormalization, precomputed).
pub fn channel_affine(x: &[f32], out: &mut [f32], scale: &[f32], shift: &[f32], inner: usize) {
    let c = scale.len();
    for (i, (src, dst)) in x.chunks_exact(inner.max(1)).zip(out.chunks_exact_mut(inner.max(1))).enumerate() {
        let (s, b) = (scale[i % c], shift[i % c]);
        dst.iter_mut().zip(src).for_each(|(o, &v)| *o = v * s + b);
    }
}

/// Folds BatchNormalization parameters into per-channel scale and shift (computed in f64).
pub fn batchnorm_coefficients(
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    var: &[f32],
    eps: f32,
) -> (Vec<f32>, Vec<f32>) {
    gamma
        .iter()
        .zip(beta)
        .zip(mean.iter().zip(var))
        .map(|((&g, &b), (&m, &v))| {
            let s = g as f64 / (v as f64 + eps as f64).sqrt();
            (s as f32, (b as f64 - m as f64 * s) as f32)
        })
        .unzip()
}

/// Normalizes each group of `inner` elements to zero mean and unit variance, then applies
/// `scale`/`bias` indexed by channel (InstanceNorm: group = plane, per-channel params)
/// or by position (LayerNorm: per-element params, `per_element`).
pub fn normalize_groups(
    x: &[f32],
    out: &mut [f32],
    inner: usize,
    eps: f32,
    scale: &[f32],
    bias: &[f32],
    per_element: bool,
) {
    let channels = scale.len().max(1);
    for (g, (src, dst)) in x.chunks_exact(inner.max(1)).zip(out.chunks_exact_mut(inner.max(1))).enumerate() {
        let n = inner as f64;
        let mean = src.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = src.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        let inv = 1.0 / (var + eps as f64).sqrt();
        for (i, (o, &v)) in dst.iter_mut().zip(src).enumerate() {
            let norm = ((v as f64 - mean) * inv) as f32;
            let p = if per_element { i % channels } else { g % channels };
            let s = scale.get(p).copied().unwrap_or(1.0);
            let b = bias.get(p).copied().unwrap_or(0.0);
            *o = norm * s + b;
        }
    }
}

/// Mean and 1/sqrt(variance + eps) of each group of `inner` elements (LayerNormalization's extra outputs).
pub fn group_stats(x: &[f32], inner: usize, eps: f32, mean: &mut [f32], inv_std: &mut [f32]) {
    for ((src, m), s) in x.chunks_exact(inner.max(1)).zip(mean.iter_mut()).zip(inv_std.iter_mut()) {
        let n = inner as f64;
        let mu = src.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = src.iter().map(|&v| (v as f64 - mu).powi(2)).sum::<f64>() / n;
        *m = mu as f32;
        *s = (1.0 / (var + eps as f64).sqrt()) as f32;
    }
}

/// Softmax (or log-softmax) over the middle axis of [outer, len, inner].
pub fn softmax(x: &[f32], out: &mut [f32], outer: usize, len: usize, inner: usize, log: bool) {
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| o * len * inner + j * inner + i;
            let max = (0..len).map(|j| x[at(j)]).fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0f32;
            for j in 0..len {
                let e = (x[at(j)] - max).exp();
                out[at(j)] = e;
                sum += e;
            }
            if log {
                let ls = sum.ln();
                (0..len).for_each(|j| out[at(j)] = x[at(j)] - max - ls);
            } else {
                let inv = 1.0 / sum;
                (0..len).for_each(|j| out[at(j)] *= inv);
            }
        }
    }
}

/// Inputs `params` hold one value per channel each.
fn check_channel_params(
    node: &Node,
    inputs: &[Input],
    params: std::ops::Range<usize>,
    channels: usize,
) -> Result<(), Error> {
    for i in params {
        let shape = inputs[i].shape;
        if shape.iter().product::<usize>() != channels {
            return Err(op_err(
                node,
                format!("input {i} has shape {shape:?}, not one value for each of {channels} channels"),
            ));
        }
    }
    Ok(())
}

/// BatchNormalization (inference): a per-channel affine when its parameters are constant.
pub(crate) fn plan_batchnorm(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    let x = inputs.first().map(|i| i.shape).unwrap_or(&[]);
    need(node, inputs, 5)?;
    if x.len() < 2 {
        return Err(op_err(node, format!("expects rank >= 2, got {x:?}")));
    }
    check_channel_params(node, inputs, 1..5, x[1])?;
    let inner: usize = x[2..].iter().product();
    let eps = node.float("epsilon", 1e-5);
    let out_shapes = vec![x.to_vec()];
    match (1..5).map(|i| const_f32(node, inputs, i)).collect::<Option<Vec<_>>>() {
        Some(p) => {
            let (scale, shift) = batchnorm_coefficients(&p[0], &p[1], &p[2], &p[3], eps);
            kernel(Kernel::ChannelAffine { scale, shift, inner }, vec![0], out_shapes)
        }
        None => kernel(Kernel::BatchNormRuntime { eps, inner }, vec![0, 1, 2, 3, 4], out_shapes),
    }
}

/// InstanceNormalization.
pub(crate) fn plan_instance_norm(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    let x = inputs.first().map(|i| i.shape).unwrap_or(&[]);
    need(node, inputs, 3)?;
    if x.len() < 3 {
        return Err(op_err(node, format!("expects rank >= 3, got {x:?}")));
    }
    check_channel_params(node, inputs, 1..3, x[1])?;
    let inner = x[2..].iter().product();
    let eps = node.float("epsilon", 1e-5);
    let sb = const_f32(node, inputs, 1).zip(const_f32(node, inputs, 2));
    let reads = if sb.is_some() { vec![0] } else { vec![0, 1, 2] };
    kernel(Kernel::Normalize { inner, eps, per_element: false, scale_bias: sb }, reads, vec![x.to_vec()])
}

/// LayerNormalization, with the optional mean and inverse-std outputs.
pub(crate) fn plan_layer_norm(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    let x = inputs.first().map(|i| i.shape).unwrap_or(&[]);
    need(node, inputs, 1)?;
    let axis = normalize_axis(node.int("axis", -1), x.len(), "LayerNormalization")?;
    let inner: usize = x[axis..].iter().product();
    let eps = node.float("epsilon", 1e-5);
    let expand = |i: usize| -> Result<Option<Vec<f32>>, Error> {
        if node.input(i).is_none() {
            return Ok(Some(Vec::new()));
        }
        let Some(v) = inputs.get(i).and_then(|inp| inp.value) else { return Ok(None) };
        let map = layout::broadcast_to(&v.shape, &x[axis..])?;
        let mut out = vec![0.0; inner];
        map.run_f32(&v.to_f32s(), &mut out);
        Ok(Some(out))
    };
    let mut out_shapes = vec![x.to_vec()];
    if node.outputs.iter().skip(1).any(|o| !o.is_empty()) {
        let stats: Vec<usize> = (0..x.len()).map(|d| if d < axis { x[d] } else { 1 }).collect();
        out_shapes.push(stats.clone());
        out_shapes.push(stats);
    }
    match (expand(1)?, expand(2)?) {
        (Some(scale), Some(bias)) => kernel(
            Kernel::Normalize { inner, eps, per_element: true, scale_bias: Some((scale, bias)) },
            vec![0],
            out_shapes,
        ),
        _ => {
            let scale_map = layout::broadcast_to(inputs[1].shape, &x[axis..])?;
            let bias_map = match node.input(2) {
                Some(_) => Some(layout::broadcast_to(inputs[2].shape, &x[axis..])?),
                None => None,
            };
            let reads = if bias_map.is_some() { vec![0, 1, 2] } else { vec![0, 1] };
            kernel(Kernel::LayerNormRuntime { inner, eps, scale_map, bias_map }, reads, out_shapes)
        }
    }
}

/// Softmax and LogSoftmax along one axis.
pub(crate) fn plan_softmax(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    let x = inputs.first().map(|i| i.shape).unwrap_or(&[]);
    let op = node.op.as_str();
    need(node, inputs, 1)?;
    let log = op == "LogSoftmax";
    let axis = normalize_axis(node.int("axis", -1), x.len(), op)?;
    let (outer, len, inner) = if node.int("coerce_2d", 0) != 0 {
        (x[..axis].iter().product(), x[axis..].iter().product(), 1)
    } else {
        (x[..axis].iter().product(), x[axis], x[axis + 1..].iter().product())
    };
    kernel(Kernel::Softmax { outer, len, inner, log }, vec![0], vec![x.to_vec()])
}

/// BatchNormalization whose parameters arrive at run time: reads x, scale, B, mean, var.
pub fn batchnorm_runtime(ins: &[&[f32]], out: &mut [f32], eps: f32, inner: usize) {
    let (scale, shift) = batchnorm_coefficients(ins[1], ins[2], ins[3], ins[4], eps);
    channel_affine(ins[0], out, &scale, &shift, inner)
}

/// LayerNormalization whose scale (and bias) arrive at run time, broadcast over the normalized axes.
pub fn layer_norm_runtime(
    ins: &[&[f32]],
    out: &mut [f32],
    inner: usize,
    eps: f32,
    scale_map: &IndexMap,
    bias_map: Option<&IndexMap>,
) {
    let mut scale = vec![0.0; inner];
    scale_map.run_f32(ins[1], &mut scale);
    let bias = bias_map.map_or_else(Vec::new, |m| {
        let mut b = vec![0.0; inner];
        m.run_f32(ins[2], &mut b);
        b
    });
    normalize_groups(ins[0], out, inner, eps, &scale, &bias, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batchnorm_coefficients_fold_mean_and_variance() {
        let (scale, shift) = batchnorm_coefficients(&[2.0], &[1.0], &[3.0], &[4.0], 0.0);
        assert_eq!((scale[0], shift[0]), (1.0, -2.0));
        let mut y = [0.0; 4];
        channel_affine(&[3.0, 5.0, 7.0, 1.0], &mut y, &scale, &shift, 4);
        assert_eq!(y, [1.0, 3.0, 5.0, -1.0]);
    }

    #[test]
    fn softmax_rows_sum_to_one_and_log_softmax_matches() {
        let x = [1.0, 2.0, 3.0, -1.0, 0.0, 1.0];
        let mut y = [0.0; 6];
        softmax(&x, &mut y, 2, 3, 1, false);
        for row in y.chunks(3) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        assert!((y[0] - y[3]).abs() < 1e-6, "softmax is shift invariant");
        let mut log = [0.0; 6];
        softmax(&x, &mut log, 2, 3, 1, true);
        for (l, p) in log.iter().zip(&y) {
            assert!((l - p.ln()).abs() < 1e-5);
        }
    }

    #[test]
    fn softmax_along_a_middle_axis_uses_the_inner_stride() {
        let x = [0.0, 10.0, 0.0, 10.0];
        let mut y = [0.0; 4];
        softmax(&x, &mut y, 1, 2, 2, false);
        assert!((y[0] - 0.5).abs() < 1e-6 && (y[1] - 0.5).abs() < 1e-6, "{y:?}");
    }

    #[test]
    fn normalize_groups_gives_zero_mean_unit_variance() {
        let x = [1.0, 3.0, 10.0, 30.0];
        let mut y = [0.0; 4];
        normalize_groups(&x, &mut y, 2, 0.0, &[1.0, 1.0], &[0.0, 0.0], false);
        for v in y {
            assert!((v.abs() - 1.0).abs() < 1e-5, "{y:?}");
        }
        let (mut mean, mut inv_std) = ([0.0; 2], [0.0; 2]);
        group_stats(&x, 2, 0.0, &mut mean, &mut inv_std);
        assert_eq!(mean, [2.0, 20.0]);
        assert!((inv_std[1] - 0.1).abs() < 1e-6);
    }
}
