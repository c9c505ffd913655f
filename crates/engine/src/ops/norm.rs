//! Normalization and softmax: BatchNormalization, InstanceNormalization, LayerNormalization, (Log)Softmax.

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
            let s = if scale.is_empty() { 1.0 } else { scale[p] };
            let b = if bias.is_empty() { 0.0 } else { bias[p] };
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
