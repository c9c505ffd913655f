//! Encoders for gemm.wgsl: the tiled GEMM behind MatMul/Gemm and, with `CONV` set, Conv as an implicit
//! GEMM over im2col columns.

use super::codes;
use super::conv::WindowParams;
use super::layout::AddGatheredParams;
use super::params::{gpu_params, u};
use super::plan::{constant, Encoder, Job};
use super::Shader;
use crate::ops::conv::ConvGeometry;
use crate::ops::gemm::Activation;
use crate::ops::{MatBias, MatMul};

/// Output tile of the GEMM kernel.
const TILE: usize = 64;

gpu_params! {
    /// `gemm`: C = A·B per batch (M×K times K×N), bias and activation fused into the store. MatMul
    /// reads `matmul` and `batches`; the implicit-GEMM convolution (`CONV`) reads `conv`, with one
    /// batch per (image, group).
    pub struct GemmParams {
        m: u32,
        n: u32,
        k: u32,
        has_bias: u32,
        matmul: MatMulParams,
        conv: ConvGemmParams,
    }
    tail batches: [BatchOffsets];
}

gpu_params! {
    /// MatMul's element strides of A and B (row, column) and its alpha.
    pub struct MatMulParams {
        a_row: u32,
        a_col: u32,
        b_row: u32,
        b_col: u32,
        alpha: f32,
    }
}

gpu_params! {
    /// One MatMul batch: where its A, B and C start.
    pub struct BatchOffsets {
        a: u32,
        b: u32,
        c: u32,
    }
}

gpu_params! {
    /// A convolution as a GEMM: M = c_out/group, N = oh*ow, K = c_in/group*kh*kw (`cig` = c_in/group).
    pub struct ConvGemmParams {
        cig: u32,
        group: u32,
        c_in: u32,
        c_out: u32,
        win: WindowParams,
    }
}

impl GemmParams {
    /// The implicit-GEMM parameters of a convolution.
    pub fn conv(g: &ConvGeometry, has_bias: bool) -> Self {
        let w = &g.win;
        let (cig, cog) = (g.c_in / g.group, g.c_out / g.group);
        GemmParams {
            m: u(cog),
            n: u(w.oh * w.ow),
            k: u(cig * w.kh * w.kw),
            has_bias: has_bias as u32,
            matmul: MatMulParams::default(),
            conv: ConvGemmParams {
                cig: u(cig),
                group: u(g.group),
                c_in: u(g.c_in),
                c_out: u(g.c_out),
                win: WindowParams::from(w),
            },
        }
    }
}

pub(super) fn matmul(cx: &mut Encoder, mm: &MatMul) -> Result<(), String> {
    let gpu = cx.gpu;
    let fused_act = if matches!(mm.bias, MatBias::Broadcast { .. }) { Activation::None } else { mm.act };
    let b = match &mm.b_const {
        Some(panel) => cx.model.weight(&panel.source),
        None => cx.ins[1].clone(),
    };
    let bias = match &mm.bias {
        MatBias::Col(v) => Some(gpu.upload_f32("bias", v)),
        _ => None,
    };
    if mm.batches.len() > 65535 {
        return Err(format!("{} matrix products in one MatMul exceed the 65535 a dispatch allows", mm.batches.len()));
    }
    let params = GemmParams {
        m: u(mm.m),
        n: u(mm.n),
        k: u(mm.k),
        has_bias: bias.is_some() as u32,
        matmul: MatMulParams {
            a_row: u(mm.a_strides.0),
            a_col: u(mm.a_strides.1),
            b_row: u(mm.b_strides.0),
            b_col: u(mm.b_strides.1),
            alpha: mm.alpha,
        },
        conv: ConvGemmParams::default(),
    };
    let batches: Vec<BatchOffsets> =
        mm.batches.iter().map(|&(a, b, c)| BatchOffsets { a: u(a), b: u(b), c: u(c) }).collect();
    let mut constants = vec![constant("CONV", 0)];
    constants.extend(codes::activation(fused_act));
    let mut job = Job::with_tail(Shader::Gemm, "gemm", &params, &batches, cx.out).constants(constants);
    job = job.bind(2, cx.ins[0]).bind(3, &b);
    if let Some(bias) = &bias {
        job = job.bind(4, bias);
    }
    let groups = [mm.n.div_ceil(TILE).max(1) as u32, mm.m.div_ceil(TILE).max(1) as u32, mm.batches.len() as u32];
    cx.dispatch(job.groups(groups));
    if let MatBias::Broadcast { beta, map, constant: c } = &mm.bias {
        let src = match c {
            Some(values) => gpu.upload_f32("gemm C", values),
            None => cx.ins[cx.ins.len() - 1].clone(),
        };
        let index = gpu.upload_u32("gemm C map", &map.map);
        let params = AddGatheredParams { n: u(cx.n), beta: *beta };
        let job = Job::new(Shader::Layout, "add_gathered", &params, cx.out).constants(codes::activation(mm.act));
        cx.flat(job.bind(2, &src).bind(3, &index));
    }
    Ok(())
}

/// A grouped or dense convolution as an implicit GEMM: one batch per (image, group).
pub(super) fn conv_gemm(
    cx: &mut Encoder,
    g: &ConvGeometry,
    act: Activation,
    weights: &wgpu::Buffer,
    bias: Option<&wgpu::Buffer>,
) -> Result<(), String> {
    if g.n * g.group > 65535 {
        return Err(format!("batch {} × {} groups exceeds the 65535 a dispatch allows", g.n, g.group));
    }
    let params = GemmParams::conv(g, bias.is_some());
    let mut constants = codes::activation(act);
    constants.push(constant("CONV", 1));
    let mut job = Job::with_tail::<_, BatchOffsets>(Shader::Gemm, "gemm", &params, &[], cx.out).constants(constants);
    job = job.bind(2, cx.ins[0]).bind(3, weights);
    if let Some(bias) = bias {
        job = job.bind(4, bias);
    }
    let (m, cols) = (params.m as usize, params.n as usize);
    let groups = [cols.div_ceil(TILE).max(1) as u32, m.div_ceil(TILE).max(1) as u32, (g.n * g.group) as u32];
    cx.dispatch(job.groups(groups));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::params::tests::check;
    use crate::ops::conv::Window;

    #[test]
    fn params_match_their_wgsl_structs() {
        check::<GemmParams>();
        check::<MatMulParams>();
        check::<BatchOffsets>();
        check::<ConvGemmParams>();
        assert_eq!(std::mem::offset_of!(GemmParams, matmul), 16);
        assert_eq!(std::mem::offset_of!(GemmParams, conv), 16 + 20);
        assert_eq!(std::mem::size_of::<GemmParams>(), 16 + 20 + 16 + 48);
    }

    #[test]
    fn a_convolution_is_a_gemm_per_group() {
        let win = Window { h: 8, w: 8, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pt: 1, pl: 1, oh: 8, ow: 8 };
        let g = ConvGeometry { n: 2, c_in: 4, c_out: 6, group: 2, win };
        let p = GemmParams::conv(&g, true);
        assert_eq!((p.m, p.n, p.k, p.has_bias), (3, 64, 18, 1));
        assert_eq!((p.conv.cig, p.conv.group, p.conv.c_in, p.conv.c_out), (2, 2, 4, 6));
        assert_eq!(p.conv.win, WindowParams::from(&win));
        assert_eq!(p.matmul, MatMulParams::default());
    }
}
