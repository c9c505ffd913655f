//! Encoders for norm.wgsl: Softmax/LogSoftmax and Instance/LayerNorm (one workgroup per row).

use super::layout;
use super::params::{gpu_params, u};
use super::plan::{grid, Encoder, Job};
use super::Shader;
use crate::ops::layout::IndexMap;

gpu_params! {
    /// `softmax`: over the middle axis of [outer, len, inner]; one workgroup per (outer, inner) line.
    pub struct SoftmaxParams {
        lines: u32,
        len: u32,
        inner: u32,
        log: u32,
    }
}

gpu_params! {
    /// `normalize`: each group of `inner` values to zero mean and unit variance, then scale/bias indexed
    /// by position (`per_element`) or by group (channel = group % channels); optionally writes the
    /// mean and inverse standard deviation per group.
    pub struct NormalizeParams {
        groups: u32,
        inner: u32,
        eps: f32,
        channels: u32,
        per_element: u32,
        has_scale: u32,
        has_bias: u32,
        write_stats: u32,
    }
}

pub(super) fn softmax(cx: &mut Encoder, outer: usize, len: usize, inner: usize, log: bool) -> Result<(), String> {
    let lines = outer * inner;
    let params = SoftmaxParams { lines: u(lines), len: u(len), inner: u(inner.max(1)), log: log as u32 };
    cx.dispatch(Job::new(Shader::Norm, "softmax", &params, cx.out).bind(2, cx.ins[0]).groups(grid(lines)));
    Ok(())
}

/// InstanceNorm and LayerNorm with constant (or absent) scale and bias, or with them read from inputs 1, 2.
pub(super) fn normalize(
    cx: &mut Encoder,
    inner: usize,
    eps: f32,
    per_element: bool,
    scale_bias: Option<&(Vec<f32>, Vec<f32>)>,
) -> Result<(), String> {
    let owned;
    let (scale, bias, channels) = match scale_bias {
        Some((s, b)) => {
            owned = (cx.gpu.upload_f32("norm scale", s), cx.gpu.upload_f32("norm bias", b));
            (Some(&owned.0).filter(|_| !s.is_empty()), Some(&owned.1).filter(|_| !b.is_empty()), s.len())
        }
        None => (cx.ins.get(1).copied(), cx.ins.get(2).copied(), cx.in_len.get(1).copied().unwrap_or(0)),
    };
    encode_normalize(cx, scale, bias, channels, inner, eps, per_element);
    Ok(())
}

/// LayerNorm whose scale (and bias) arrive at run time: gathered to `inner` values first.
pub(super) fn layer_norm_runtime(
    cx: &mut Encoder,
    inner: usize,
    eps: f32,
    scale_map: &IndexMap,
    bias_map: Option<&IndexMap>,
) -> Result<(), String> {
    let scale = cx.gpu.storage("layer-norm scale", inner);
    layout::gather_into(cx, cx.ins[1], scale_map, &scale, inner);
    let bias = bias_map.map(|m| {
        let bias = cx.gpu.storage("layer-norm bias", inner);
        layout::gather_into(cx, cx.ins[2], m, &bias, inner);
        bias
    });
    encode_normalize(cx, Some(&scale), bias.as_ref(), inner, inner, eps, true);
    Ok(())
}

fn encode_normalize(
    cx: &mut Encoder,
    scale: Option<&wgpu::Buffer>,
    bias: Option<&wgpu::Buffer>,
    channels: usize,
    inner: usize,
    eps: f32,
    per_element: bool,
) {
    let writes = &cx.step.writes;
    let groups = writes[0].1 / inner.max(1);
    let stats = writes.len() >= 3;
    let params = NormalizeParams {
        groups: u(groups),
        inner: u(inner),
        eps,
        channels: u(channels.max(1)),
        per_element: per_element as u32,
        has_scale: scale.is_some() as u32,
        has_bias: bias.is_some() as u32,
        write_stats: stats as u32,
    };
    let mut job = Job::new(Shader::Norm, "normalize", &params, &cx.slots[writes[0].0]).bind(2, cx.ins[0]);
    if let Some(s) = scale {
        job = job.bind(3, s);
    }
    if let Some(b) = bias {
        job = job.bind(4, b);
    }
    if stats {
        job = job.bind(5, &cx.slots[writes[1].0]).bind(6, &cx.slots[writes[2].0]);
    }
    cx.dispatch(job.groups(grid(groups)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::params::tests::check;

    #[test]
    fn params_match_their_wgsl_structs() {
        check::<SoftmaxParams>();
        check::<NormalizeParams>();
        assert_eq!(std::mem::offset_of!(NormalizeParams, eps), 8);
        assert_eq!(std::mem::size_of::<NormalizeParams>(), 32);
    }
}
