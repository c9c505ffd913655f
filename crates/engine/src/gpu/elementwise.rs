//! Encoders for elementwise.wgsl: unary ops, broadcasting binary ops and Where, channel affine maps,
//! BatchNorm and Clip with run-time parameters.

use super::codes;
use super::params::{gpu_params, u};
use super::plan::{constant, Encoder, Job};
use super::Shader;
use crate::ops::elementwise::{Binary, Broadcast, Unary};
use crate::tensor::broadcast_strides;

gpu_params! {
    /// `unary`: out[i] = op(in0[i]) with the op's two parameters.
    pub struct UnaryParams {
        n: u32,
        a: f32,
        b: f32,
    }
}

gpu_params! {
    /// `binary`: out = op(in0, in1) broadcast over `rank` axes (outermost first).
    pub struct BinaryParams {
        n: u32,
        rank: u32,
    }
    tail axes: [BinaryAxis];
}

gpu_params! {
    /// One output axis of a broadcasting binary op: its size and each input's stride along it.
    pub struct BinaryAxis {
        dim: u32,
        a_stride: u32,
        b_stride: u32,
    }
}

gpu_params! {
    /// `where_select`: out = cond ? x : y broadcast over `rank` axes (outermost first).
    pub struct WhereParams {
        n: u32,
        rank: u32,
    }
    tail axes: [WhereAxis];
}

gpu_params! {
    /// One output axis of Where: its size and each input's stride along it.
    pub struct WhereAxis {
        dim: u32,
        cond_stride: u32,
        x_stride: u32,
        y_stride: u32,
    }
}

gpu_params! {
    /// `channel_affine`: y = x * scale[c] + shift[c] over [outer, channels, inner].
    pub struct ChannelAffineParams {
        n: u32,
        inner: u32,
        channels: u32,
    }
}

gpu_params! {
    /// `batchnorm`: inference BatchNormalization over [outer, channels, inner].
    pub struct BatchNormParams {
        n: u32,
        inner: u32,
        channels: u32,
        eps: f32,
    }
}

gpu_params! {
    /// `clip`: Clip with the bounds that are present read at run time.
    pub struct ClipParams {
        n: u32,
        has_min: u32,
        has_max: u32,
    }
}

impl BinaryParams {
    /// The parameters and axes of a planned broadcast.
    pub fn new(n: usize, bc: &Broadcast) -> (Self, Vec<BinaryAxis>) {
        let axes = (bc.out.iter().zip(&bc.a_strides).zip(&bc.b_strides))
            .map(|((&dim, &a), &b)| BinaryAxis { dim: u(dim), a_stride: u(a), b_stride: u(b) })
            .collect::<Vec<_>>();
        (BinaryParams { n: u(n), rank: u(axes.len()) }, axes)
    }
}

impl WhereParams {
    /// The parameters and axes of Where over output `shape` with input shapes (cond, x, y).
    pub fn new(n: usize, shape: &[usize], shapes: &[Vec<usize>; 3]) -> (Self, Vec<WhereAxis>) {
        let [c, x, y] = shapes.each_ref().map(|s| broadcast_strides(s, shape));
        let axes = (0..shape.len())
            .map(|d| WhereAxis { dim: u(shape[d]), cond_stride: u(c[d]), x_stride: u(x[d]), y_stride: u(y[d]) })
            .collect::<Vec<_>>();
        (WhereParams { n: u(n), rank: u(axes.len()) }, axes)
    }
}

pub(super) fn unary(cx: &mut Encoder, op: Unary) -> Result<(), String> {
    let (code, a, b) = codes::unary(op);
    let params = UnaryParams { n: u(cx.n), a, b };
    let job = Job::new(Shader::Elementwise, "unary", &params, cx.out).constants(vec![constant("OP", code)]);
    cx.flat(job.bind(2, cx.ins[0]));
    Ok(())
}

pub(super) fn binary(cx: &mut Encoder, op: Binary, bc: &Broadcast) -> Result<(), String> {
    let (params, axes) = BinaryParams::new(cx.n, bc);
    let job = Job::with_tail(Shader::Elementwise, "binary", &params, &axes, cx.out);
    cx.flat(job.constants(vec![constant("OP", codes::binary(op))]).bind(2, cx.ins[0]).bind(3, cx.ins[1]));
    Ok(())
}

pub(super) fn where_select(cx: &mut Encoder, shape: &[usize], shapes: &[Vec<usize>; 3]) -> Result<(), String> {
    let (params, axes) = WhereParams::new(cx.n, shape, shapes);
    let job = Job::with_tail(Shader::Elementwise, "where_select", &params, &axes, cx.out);
    cx.flat(job.bind(2, cx.ins[0]).bind(3, cx.ins[1]).bind(4, cx.ins[2]));
    Ok(())
}

pub(super) fn channel_affine(cx: &mut Encoder, scale: &[f32], shift: &[f32], inner: usize) -> Result<(), String> {
    let (s, b) = (cx.gpu.upload_f32("scale", scale), cx.gpu.upload_f32("shift", shift));
    let params = ChannelAffineParams { n: u(cx.n), inner: u(inner.max(1)), channels: u(scale.len().max(1)) };
    let job = Job::new(Shader::Elementwise, "channel_affine", &params, cx.out);
    cx.flat(job.bind(2, cx.ins[0]).bind(3, &s).bind(4, &b));
    Ok(())
}

pub(super) fn batchnorm(cx: &mut Encoder, eps: f32, inner: usize) -> Result<(), String> {
    let params = BatchNormParams { n: u(cx.n), inner: u(inner.max(1)), channels: u(cx.in_len[1].max(1)), eps };
    let ins = &cx.ins;
    let job = Job::new(Shader::Elementwise, "batchnorm", &params, cx.out).bind(2, ins[0]).bind(3, ins[1]);
    cx.flat(job.bind(4, ins[2]).bind(5, ins[3]).bind(6, ins[4]));
    Ok(())
}

pub(super) fn clip(cx: &mut Encoder, has_min: bool, has_max: bool) -> Result<(), String> {
    let params = ClipParams { n: u(cx.n), has_min: has_min as u32, has_max: has_max as u32 };
    let mut job = Job::new(Shader::Elementwise, "clip", &params, cx.out).bind(2, cx.ins[0]);
    if has_min {
        job = job.bind(3, cx.ins[1]);
    }
    if has_max {
        job = job.bind(4, cx.ins[cx.ins.len() - 1]);
    }
    cx.flat(job);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::params::tests::check;

    #[test]
    fn params_match_their_wgsl_structs() {
        check::<UnaryParams>();
        check::<BinaryParams>();
        check::<BinaryAxis>();
        check::<WhereParams>();
        check::<WhereAxis>();
        check::<ChannelAffineParams>();
        check::<BatchNormParams>();
        check::<ClipParams>();
        assert_eq!(std::mem::offset_of!(BatchNormParams, eps), 12);
        assert_eq!(std::mem::size_of::<BinaryAxis>(), 12);
    }

    #[test]
    fn a_broadcast_becomes_one_axis_per_output_dimension() {
        let bc = Broadcast::new(&[2, 3], &[3], vec![2, 3]);
        let (p, axes) = BinaryParams::new(6, &bc);
        assert_eq!(p, BinaryParams { n: 6, rank: 2 });
        assert_eq!(
            axes,
            [BinaryAxis { dim: 2, a_stride: 3, b_stride: 0 }, BinaryAxis { dim: 3, a_stride: 1, b_stride: 1 }]
        );
        let (p, axes) = WhereParams::new(4, &[2, 2], &[vec![2, 1], vec![2], vec![]]);
        assert_eq!(p, WhereParams { n: 4, rank: 2 });
        assert_eq!(
            axes,
            [
                WhereAxis { dim: 2, cond_stride: 1, x_stride: 0, y_stride: 0 },
                WhereAxis { dim: 2, cond_stride: 0, x_stride: 1, y_stride: 0 }
            ]
        );
    }
}
