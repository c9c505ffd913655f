//! Encoders for conv.wgsl: depthwise convolution (direct) and ConvTranspose (gather form). Other
//! convolutions run as an implicit GEMM (`gemm::conv_gemm`).

use super::gemm;
use super::params::{gpu_params, u};
use super::plan::{Encoder, Job};
use super::Shader;
use crate::ops::conv::ConvKernel;
use crate::ops::conv::{ConvTranspose, Window};

gpu_params! {
    /// A 2-D window (1-D ops use h = 1): input size, kernel, strides, dilations, begin pads, output size.
    pub struct WindowParams {
        h: u32,
        w: u32,
        kh: u32,
        kw: u32,
        sh: u32,
        sw: u32,
        dh: u32,
        dw: u32,
        pt: u32,
        pl: u32,
        oh: u32,
        ow: u32,
    }
}

impl From<&Window> for WindowParams {
    fn from(w: &Window) -> Self {
        WindowParams {
            h: u(w.h),
            w: u(w.w),
            kh: u(w.kh),
            kw: u(w.kw),
            sh: u(w.sh),
            sw: u(w.sw),
            dh: u(w.dh),
            dw: u(w.dw),
            pt: u(w.pt),
            pl: u(w.pl),
            oh: u(w.oh),
            ow: u(w.ow),
        }
    }
}

gpu_params! {
    /// `depthwise`: one output per invocation; weights [channels, kh*kw].
    pub struct DepthwiseParams {
        n: u32,
        channels: u32,
        has_bias: u32,
        win: WindowParams,
    }
}

gpu_params! {
    /// `conv_transpose`: one output per invocation; weights [c_in, c_out/group, kh, kw]; `win` has the
    /// input size in h/w and the output size in oh/ow.
    pub struct ConvTransposeParams {
        n: u32,
        c_in: u32,
        c_out: u32,
        group: u32,
        has_bias: u32,
        win: WindowParams,
    }
}

pub(super) fn conv(cx: &mut Encoder, conv: &ConvKernel) -> Result<(), String> {
    let g = conv.geometry;
    let (weights, bias) = match &conv.constant {
        Some((w, b)) => (cx.model.weight(w), Some(cx.gpu.upload_f32("conv bias", b))),
        None => (cx.ins[1].clone(), cx.ins.get(2).map(|b| (*b).clone())),
    };
    if !(g.group == g.c_in && g.group == g.c_out && g.group > 1) {
        return gemm::conv_gemm(cx, &g, conv.act, &weights, bias.as_ref());
    }
    let params =
        DepthwiseParams { n: u(cx.n), channels: u(g.c_in), has_bias: bias.is_some() as u32, win: (&g.win).into() };
    let job = Job::new(Shader::Conv, "depthwise", &params, cx.out).constants(super::codes::activation(conv.act));
    let mut job = job.bind(2, cx.ins[0]).bind(3, &weights);
    if let Some(bias) = &bias {
        job = job.bind(4, bias);
    }
    cx.flat(job);
    Ok(())
}

pub(super) fn conv_transpose(cx: &mut Encoder, ct: &ConvTranspose) -> Result<(), String> {
    let gpu = cx.gpu;
    let (weights, bias) = if cx.ins.len() == 1 {
        (gpu.upload_f32("conv-transpose weights", &ct.weights), Some(gpu.upload_f32("conv-transpose bias", &ct.bias)))
    } else {
        (cx.ins[1].clone(), cx.ins.get(2).map(|b| (*b).clone()))
    };
    let params = ConvTransposeParams {
        n: u(cx.n),
        c_in: u(ct.c_in),
        c_out: u(ct.c_out),
        group: u(ct.group),
        has_bias: bias.is_some() as u32,
        win: (&ct.win).into(),
    };
    let mut job = Job::new(Shader::Conv, "conv_transpose", &params, cx.out).bind(2, cx.ins[0]).bind(3, &weights);
    if let Some(bias) = &bias {
        job = job.bind(4, bias);
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
        check::<WindowParams>();
        check::<DepthwiseParams>();
        check::<ConvTransposeParams>();
        assert_eq!(std::mem::size_of::<WindowParams>(), 48);
        assert_eq!(std::mem::offset_of!(ConvTransposeParams, win), 20);
    }

    #[test]
    fn a_window_keeps_every_field_in_place() {
        let w = Window { h: 1, w: 2, kh: 3, kw: 4, sh: 5, sw: 6, dh: 7, dw: 8, pt: 9, pl: 10, oh: 11, ow: 12 };
        let p = WindowParams::from(&w);
        let words: &[u32] = bytemuck::cast_slice(bytemuck::bytes_of(&p));
        assert_eq!(words, (1..=12).collect::<Vec<u32>>());
        assert_eq!((p.pt, p.oh), (9, 11));
    }
}
