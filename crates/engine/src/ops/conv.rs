//! Conv (a GEMM on the activation for 1×1, on im2col columns otherwise; the SIMD depthwise kernel) and
//! ConvTranspose, NCHW, 1-D and 2-D.

use super::gemm::{gemm_rows_b, pack_a, Activation, Bias, Packed, NR};
use super::params::*;
use super::{Input, Kernel, Planned};
use crate::json::Node;
use crate::tensor::Tensor;
use crate::Error;
use std::cell::OnceCell;
use std::sync::Arc;
use webinfer_kernels::{depthwise_plane, depthwise_scratch_len};

pub use webinfer_kernels::Window;

/// Resolves ONNX padding (explicit pads or auto_pad) for one spatial axis: (pad_begin, pad_end, out).
pub fn resolve_axis(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    pads: (i64, i64),
    auto_pad: &str,
    ceil_mode: bool,
) -> Result<(usize, usize, usize), Error> {
    let eff = kernel.saturating_sub(1).saturating_mul(dilation).saturating_add(1);
    let (pb, pe) = match auto_pad {
        "SAME_UPPER" | "SAME_LOWER" => {
            let out = input.div_ceil(stride);
            let total = ((out - 1) * stride + eff).saturating_sub(input);
            let small = total / 2;
            if auto_pad == "SAME_UPPER" {
                (small, total - small)
            } else {
                (total - small, small)
            }
        }
        "VALID" => (0, 0),
        "NOTSET" | "" => (pads.0.max(0) as usize, pads.1.max(0) as usize),
        other => return Err(Error::Shape(format!("unknown auto_pad {other:?}"))),
    };
    let Some(span) = input.checked_add(pb).and_then(|s| s.checked_add(pe)).filter(|&s| (s as u64) < 1 << 40) else {
        return Err(Error::Shape(format!("pads ({pb}, {pe}) around input {input} are too large")));
    };
    if span < eff {
        return Err(Error::Shape(format!("window of {eff} does not fit input {input} with pads ({pb}, {pe})")));
    }
    let mut out = if ceil_mode { (span - eff).div_ceil(stride) + 1 } else { (span - eff) / stride + 1 };
    if ceil_mode && (out - 1) * stride >= input + pb {
        out -= 1;
    }
    Ok((pb, pe, out))
}

/// Batch, channels, groups and window of a convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    pub n: usize,
    pub c_in: usize,
    pub c_out: usize,
    pub group: usize,
    pub win: Window,
}

/// A planned convolution with its weights packed once.
#[derive(Clone, Debug)]
pub struct Conv {
    pub n: usize,
    pub c_in: usize,
    pub c_out: usize,
    pub group: usize,
    pub win: Window,
    pub bias: Vec<f32>,
    pub act: Activation,
    /// Per group: weights [c_out/group, c_in/group*kh*kw] packed as GEMM A panels.
    packed: Vec<Packed>,
    /// Depthwise weights [c, kh*kw] when group == c_in == c_out.
    depthwise: Option<Vec<f32>>,
}

impl Conv {
    pub fn new(g: ConvGeometry, weights: &[f32], bias: Vec<f32>, act: Activation) -> Self {
        let ConvGeometry { n, c_in, c_out, group, win } = g;
        let k = (c_in / group) * win.kh * win.kw;
        let cog = c_out / group;
        if group == c_in && group == c_out && group > 1 {
            return Conv {
                n,
                c_in,
                c_out,
                group,
                win,
                bias,
                act,
                packed: Vec::new(),
                depthwise: Some(weights.to_vec()),
            };
        }
        let packed = (0..group).map(|g| pack_a(&weights[g * cog * k..(g + 1) * cog * k], cog, k, k, 1)).collect();
        Conv { n, c_in, c_out, group, win, bias, act, packed, depthwise: None }
    }

    /// Floats of scratch a conv of this geometry needs: im2col columns and one packed B panel, or the depthwise
    /// kernel's copied plane.
    pub fn scratch_len_of(g: &ConvGeometry) -> usize {
        if g.group == g.c_in && g.group == g.c_out && g.group > 1 {
            return depthwise_scratch_len(&g.win);
        }
        let k = (g.c_in / g.group) * g.win.kh * g.win.kw;
        NR * k + k * g.win.oh * g.win.ow
    }

    fn scratch_len(&self) -> usize {
        Self::scratch_len_of(&ConvGeometry {
            n: self.n,
            c_in: self.c_in,
            c_out: self.c_out,
            group: self.group,
            win: self.win,
        })
    }

    pub fn run(&self, x: &[f32], out: &mut [f32], scratch: &mut Vec<f32>) {
        let w = &self.win;
        let (plane_in, plane_out) = (w.h * w.w, w.oh * w.ow);
        if scratch.len() < self.scratch_len() {
            scratch.resize(self.scratch_len(), 0.0);
        }
        if let Some(dw) = &self.depthwise {
            for n in 0..self.n {
                for c in 0..self.c_in {
                    let src = &x[(n * self.c_in + c) * plane_in..][..plane_in];
                    let dst = &mut out[(n * self.c_out + c) * plane_out..][..plane_out];
                    let k = &dw[c * w.kh * w.kw..(c + 1) * w.kh * w.kw];
                    depthwise_plane(w, src, k, self.bias[c], self.act, dst, scratch);
                }
            }
            return;
        }
        let cig = self.c_in / self.group;
        let cog = self.c_out / self.group;
        let k = cig * w.kh * w.kw;
        let p = plane_out;
        let pointwise =
            w.kh == 1 && w.kw == 1 && w.sh == 1 && w.sw == 1 && w.pt == 0 && w.pl == 0 && w.oh == w.h && w.ow == w.w;
        let (tail, col) = scratch.split_at_mut(NR * k);
        for n in 0..self.n {
            for g in 0..self.group {
                let src = &x[(n * self.c_in + g * cig) * plane_in..][..cig * plane_in];
                let b: &[f32] = if pointwise {
                    src
                } else {
                    im2col(w, cig, src, &mut col[..k * p]);
                    &col[..k * p]
                };
                let dst = &mut out[(n * self.c_out + g * cog) * p..][..cog * p];
                let bias = Bias::Row(&self.bias[g * cog..(g + 1) * cog]);
                gemm_rows_b(cog, p, k, &self.packed[g].data, b, p, tail, dst, p, bias, self.act);
            }
        }
    }
}

/// Writes the im2col matrix [cig*kh*kw, oh*ow] row by row: for each kernel tap and output row the valid
/// column range is computed once, copied (contiguously at stride 1), and the padding edges zeroed.
fn im2col(w: &Window, cig: usize, src: &[f32], col: &mut [f32]) {
    let mut rows = col.chunks_exact_mut(w.oh * w.ow);
    for ci in 0..cig {
        let plane = &src[ci * w.h * w.w..(ci + 1) * w.h * w.w];
        for ky in 0..w.kh {
            for kx in 0..w.kw {
                let row = rows.next().expect("col holds cig*kh*kw rows");
                let shift = (kx * w.dw) as isize - w.pl as isize;
                let lo = if shift >= 0 { 0 } else { ((-shift) as usize).div_ceil(w.sw) }.min(w.ow);
                let hi = if (w.w as isize) <= shift {
                    0
                } else {
                    ((w.w as isize - 1 - shift) as usize / w.sw + 1).min(w.ow)
                }
                .max(lo);
                for oy in 0..w.oh {
                    let dst = &mut row[oy * w.ow..(oy + 1) * w.ow];
                    let y = (oy * w.sh + ky * w.dh) as isize - w.pt as isize;
                    if y < 0 || y as usize >= w.h {
                        dst.fill(0.0);
                        continue;
                    }
                    let line = &plane[y as usize * w.w..(y as usize + 1) * w.w];
                    dst[..lo].fill(0.0);
                    dst[hi..].fill(0.0);
                    let first = (lo * w.sw) as isize + shift;
                    if hi == lo {
                        continue;
                    }
                    if w.sw == 1 {
                        dst[lo..hi].copy_from_slice(&line[first as usize..first as usize + (hi - lo)]);
                    } else {
                        for (i, d) in dst[lo..hi].iter_mut().enumerate() {
                            *d = line[first as usize + i * w.sw];
                        }
                    }
                }
            }
        }
    }
}

/// A planned transposed convolution (direct scatter).
#[derive(Clone, Debug)]
pub struct ConvTranspose {
    pub n: usize,
    pub c_in: usize,
    pub c_out: usize,
    pub group: usize,
    /// h/w are the input size, oh/ow the output size, pt/pl the begin pads.
    pub win: Window,
    /// [c_in, c_out/group, kh, kw]
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
}

impl ConvTranspose {
    pub fn run(&self, x: &[f32], out: &mut [f32]) {
        let w = &self.win;
        let cog = self.c_out / self.group;
        let cig = self.c_in / self.group;
        let plane_out = w.oh * w.ow;
        for n in 0..self.n {
            for co in 0..self.c_out {
                out[(n * self.c_out + co) * plane_out..][..plane_out].iter_mut().for_each(|v| *v = self.bias[co]);
            }
            for ci in 0..self.c_in {
                let g = ci / cig;
                let src = &x[(n * self.c_in + ci) * w.h * w.w..][..w.h * w.w];
                for cl in 0..cog {
                    let co = g * cog + cl;
                    let kern = &self.weights[(ci * cog + cl) * w.kh * w.kw..][..w.kh * w.kw];
                    let dst = &mut out[(n * self.c_out + co) * plane_out..][..plane_out];
                    for iy in 0..w.h {
                        for ix in 0..w.w {
                            let v = src[iy * w.w + ix];
                            for ky in 0..w.kh {
                                let y = (iy * w.sh + ky * w.dh) as isize - w.pt as isize;
                                if y < 0 || y as usize >= w.oh {
                                    continue;
                                }
                                for kx in 0..w.kw {
                                    let xx = (ix * w.sw + kx * w.dw) as isize - w.pl as isize;
                                    if xx >= 0 && (xx as usize) < w.ow {
                                        dst[y as usize * w.ow + xx as usize] += v * kern[ky * w.kw + kx];
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A convolution whose weights are packed at plan time, or at each run when they are not constant.
#[derive(Clone, Debug)]
pub struct ConvKernel {
    /// Constant weights and bias, packed into `prepared` on first use.
    pub(crate) constant: Option<(Arc<Tensor>, Vec<f32>)>,
    pub(crate) prepared: OnceCell<Conv>,
    pub(crate) geometry: ConvGeometry,
    pub(crate) act: Activation,
}

impl ConvKernel {
    /// Reads x, then the weights and bias when they are not constant.
    pub fn run(&self, ins: &[&[f32]], out: &mut [f32], scratch: &mut Vec<f32>) {
        match &self.constant {
            Some((w, bias)) => self
                .prepared
                .get_or_init(|| Conv::new(self.geometry, &w.to_f32s(), bias.clone(), self.act))
                .run(ins[0], out, scratch),
            None => {
                let bias = ins.get(2).map_or_else(|| vec![0.0; self.geometry.c_out], |b| b.to_vec());
                Conv::new(self.geometry, ins[1], bias, self.act).run(ins[0], out, scratch)
            }
        }
    }
}

impl ConvTranspose {
    /// Reads x, then the weights and bias when they were not constant at plan time.
    pub fn run_reading(&self, ins: &[&[f32]], out: &mut [f32]) {
        if ins.len() == 1 {
            return self.run(ins[0], out);
        }
        let bias = ins.get(2).map_or_else(|| vec![0.0; self.c_out], |b| b.to_vec());
        ConvTranspose { weights: ins[1].to_vec(), bias, ..self.clone() }.run(ins[0], out)
    }
}

pub(crate) fn window_attrs(
    node: &Node,
    spatial: &[usize],
    kernel_shape: &[usize],
    ceil_mode: bool,
) -> Result<(Window, usize, usize), Error> {
    let nd = spatial.len();
    if !(1..=2).contains(&nd) {
        return Err(op_err(node, format!("{nd}-D windows are not supported (1-D and 2-D are)")));
    }
    let get = |key: &str| -> Vec<usize> {
        node.ints(key).map(|v| v.iter().map(|&x| x.max(1) as usize).collect()).unwrap_or_else(|| vec![1; nd])
    };
    let strides = get("strides");
    let dil = get("dilations");
    let pads: Vec<i64> = node.ints("pads").map(<[i64]>::to_vec).unwrap_or_else(|| vec![0; 2 * nd]);
    if strides.len() != nd || dil.len() != nd || pads.len() != 2 * nd || kernel_shape.len() != nd {
        return Err(op_err(node, format!("strides/dilations/pads/kernel do not match {nd} spatial dims")));
    }
    if spatial.iter().chain(kernel_shape).any(|&d| d == 0) {
        return Err(op_err(node, format!("empty window: spatial dims {spatial:?}, kernel {kernel_shape:?}")));
    }
    let auto_pad = node.string("auto_pad").unwrap_or("NOTSET");
    let mut axes = Vec::new();
    for d in 0..nd {
        axes.push(resolve_axis(
            spatial[d],
            kernel_shape[d],
            strides[d],
            dil[d],
            (pads[d], pads[d + nd]),
            auto_pad,
            ceil_mode,
        )?);
    }
    let (h, kh, sh, dh, (pt, pb, oh)) =
        if nd == 2 { (spatial[0], kernel_shape[0], strides[0], dil[0], axes[0]) } else { (1, 1, 1, 1, (0, 0, 1)) };
    let l = nd - 1;
    let (pl, pr, ow) = axes[l];
    let win = Window { h, w: spatial[l], kh, kw: kernel_shape[l], sh, sw: strides[l], dh, dw: dil[l], pt, pl, oh, ow };
    Ok((win, pb, pr))
}

pub(crate) fn out_spatial(n: usize, c: usize, win: &Window, nd: usize) -> Vec<usize> {
    if nd == 2 {
        vec![n, c, win.oh, win.ow]
    } else {
        vec![n, c, win.ow]
    }
}

/// Conv (1-D and 2-D, grouped and depthwise), weights packed once when constant.
pub(crate) fn plan_conv(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    need(node, inputs, 2)?;
    let (x, w) = (inputs[0].shape, inputs[1].shape);
    if x.len() < 3 || w.len() != x.len() {
        return Err(op_err(node, format!("input {x:?} and weight {w:?} ranks do not match")));
    }
    let group = node.int("group", 1).max(1) as usize;
    let (n, c_in, c_out) = (x[0], x[1], w[0]);
    if c_in != w[1] * group || c_out % group != 0 {
        return Err(op_err(node, format!("input channels {c_in} do not match weight {w:?} with group {group}")));
    }
    let ks: Vec<usize> = w[2..].to_vec();
    let (win, _, _) = window_attrs(node, &x[2..], &ks, false)?;
    let act = fused_activation(node)?;
    check_bias(node, inputs, c_out)?;
    let bias = if node.input(2).is_some() { const_f32(node, inputs, 2) } else { Some(vec![0.0; c_out]) };
    let out = out_spatial(n, c_out, &win, x.len() - 2);
    let geometry = ConvGeometry { n, c_in, c_out, group, win };
    match (inputs[1].shared, bias) {
        (Some(w), Some(bias)) => {
            let ck = ConvKernel { constant: Some((Arc::clone(w), bias)), prepared: OnceCell::new(), geometry, act };
            kernel(Kernel::Conv(Box::new(ck)), vec![0], vec![out])
        }
        _ => {
            let reads = if node.input(2).is_some() { vec![0, 1, 2] } else { vec![0, 1] };
            kernel(
                Kernel::Conv(Box::new(ConvKernel { constant: None, prepared: OnceCell::new(), geometry, act })),
                reads,
                vec![out],
            )
        }
    }
}

/// A bias (input 2), where given, holds one value per output channel.
fn check_bias(node: &Node, inputs: &[Input], c_out: usize) -> Result<(), Error> {
    match (node.input(2), inputs.get(2)) {
        (Some(_), Some(b)) if b.shape.iter().product::<usize>() != c_out => {
            Err(op_err(node, format!("bias of shape {:?} for {c_out} output channels", b.shape)))
        }
        _ => Ok(()),
    }
}

/// ConvTranspose (1-D and 2-D).
pub(crate) fn plan_conv_transpose(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    need(node, inputs, 2)?;
    let (x, w) = (inputs[0].shape, inputs[1].shape);
    let nd = x.len().saturating_sub(2);
    if !(1..=2).contains(&nd) || w.len() != x.len() {
        return Err(op_err(node, format!("input {x:?} / weight {w:?}: only 1-D and 2-D ConvTranspose is supported")));
    }
    let group = node.int("group", 1).max(1) as usize;
    let (n, c_in, c_out) = (x[0], x[1], w[1] * group);
    if w[0] != c_in {
        return Err(op_err(node, format!("weight {w:?} does not match {c_in} input channels")));
    }
    if c_out == 0 || (group > 1 && c_in % group != 0) {
        return Err(op_err(node, format!("weight {w:?} does not fit {c_in} input channels in {group} groups")));
    }
    check_bias(node, inputs, c_out)?;
    let get =
        |key: &str, d: usize| -> Vec<i64> { node.ints(key).map(<[i64]>::to_vec).unwrap_or_else(|| vec![d as i64; nd]) };
    let (strides, dil, outpad) = (get("strides", 1), get("dilations", 1), get("output_padding", 0));
    let pads = node.ints("pads").map(<[i64]>::to_vec).unwrap_or_else(|| vec![0; 2 * nd]);
    let auto_pad = node.string("auto_pad").unwrap_or("NOTSET");
    let out_shape = node.ints("output_shape").map(<[i64]>::to_vec);
    if strides.len() != nd
        || dil.len() != nd
        || outpad.len() != nd
        || pads.len() != 2 * nd
        || out_shape.as_ref().is_some_and(|o| o.len() < nd)
        || strides.iter().chain(&dil).any(|&v| !(1..=1 << 16).contains(&v))
        || outpad.iter().chain(&pads).any(|&v| !(0..=1 << 16).contains(&v))
    {
        return Err(op_err(node, format!("strides, dilations, pads or output_shape do not fit {nd} spatial dims")));
    }
    let out_shape = out_shape.map(|v| v[v.len() - nd..].to_vec());
    let mut begin = vec![0usize; nd];
    let mut outs = vec![0usize; nd];
    for d in 0..nd {
        let (i, k, s, dl, op) = (x[2 + d] as i64, w[2 + d] as i64, strides[d], dil[d], outpad[d]);
        let full = s * (i - 1) + op + (k - 1) * dl + 1;
        let target = match (&out_shape, auto_pad) {
            (Some(o), _) => Some(o[d]),
            (None, "SAME_UPPER" | "SAME_LOWER") => Some(i * s),
            _ => None,
        };
        let (pb, o) = match target {
            Some(t) => {
                let total = full - t;
                let pb = if auto_pad == "SAME_UPPER" { total / 2 } else { total - total / 2 };
                (pb, t)
            }
            None => (pads[d], full - pads[d] - pads[d + nd]),
        };
        if o <= 0 {
            return Err(op_err(node, format!("output size {o} on spatial axis {d}")));
        }
        begin[d] = pb.max(0) as usize;
        outs[d] = o as usize;
    }
    let l = nd - 1;
    let win = Window {
        h: if nd == 2 { x[2] } else { 1 },
        w: x[2 + l],
        kh: if nd == 2 { w[2] } else { 1 },
        kw: w[2 + l],
        sh: if nd == 2 { strides[0] as usize } else { 1 },
        sw: strides[l] as usize,
        dh: if nd == 2 { dil[0] as usize } else { 1 },
        dw: dil[l] as usize,
        pt: if nd == 2 { begin[0] } else { 0 },
        pl: begin[l],
        oh: if nd == 2 { outs[0] } else { 1 },
        ow: outs[l],
    };
    let out = out_spatial(n, c_out, &win, nd);
    let weights = inputs[1].value.map(|v| v.to_f32s());
    let bias = if node.input(2).is_some() { const_f32(node, inputs, 2) } else { Some(vec![0.0; c_out]) };
    let mut reads = vec![0];
    if weights.is_none() || bias.is_none() {
        reads.push(1);
        if node.input(2).is_some() {
            reads.push(2);
        }
    }
    let ct = ConvTranspose {
        n,
        c_in,
        c_out,
        group,
        win,
        weights: weights.unwrap_or_default(),
        bias: bias.unwrap_or_default(),
    };
    kernel(Kernel::ConvTranspose(Box::new(ct)), reads, vec![out])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(x: &[f32], wt: &[f32], c_in: usize, c_out: usize, group: usize, w: &Window) -> Vec<f32> {
        let (cig, cog) = (c_in / group, c_out / group);
        let mut out = vec![0.0; c_out * w.oh * w.ow];
        for co in 0..c_out {
            let g = co / cog;
            for oy in 0..w.oh {
                for ox in 0..w.ow {
                    let mut acc = 0.0;
                    for ci in 0..cig {
                        for ky in 0..w.kh {
                            for kx in 0..w.kw {
                                let y = (oy * w.sh + ky * w.dh) as isize - w.pt as isize;
                                let xx = (ox * w.sw + kx * w.dw) as isize - w.pl as isize;
                                if y >= 0 && xx >= 0 && (y as usize) < w.h && (xx as usize) < w.w {
                                    acc += x[((g * cig + ci) * w.h + y as usize) * w.w + xx as usize]
                                        * wt[((co * cig + ci) * w.kh + ky) * w.kw + kx];
                                }
                            }
                        }
                    }
                    out[(co * w.oh + oy) * w.ow + ox] = acc;
                }
            }
        }
        out
    }

    #[test]
    fn im2col_grouped_and_depthwise_match_naive() {
        for &(c_in, c_out, group, k, s, d, p) in &[
            (3, 5, 1, 3, 1, 1, 1),
            (4, 6, 2, 3, 2, 1, 1),
            (6, 6, 6, 3, 1, 2, 2),
            (3, 9, 1, 1, 1, 1, 0),
            (5, 5, 5, 5, 2, 1, 2),
        ] {
            let (h, wd) = (9, 11);
            let (pt, _, oh) = resolve_axis(h, k, s, d, (p, p), "NOTSET", false).unwrap();
            let (pl, _, ow) = resolve_axis(wd, k, s, d, (p, p), "NOTSET", false).unwrap();
            let win = Window { h, w: wd, kh: k, kw: k, sh: s, sw: s, dh: d, dw: d, pt, pl, oh, ow };
            let x: Vec<f32> = (0..c_in * h * wd).map(|i| ((i * 13 % 17) as f32 - 8.0) / 8.0).collect();
            let wt: Vec<f32> = (0..c_out * (c_in / group) * k * k).map(|i| ((i * 7 % 5) as f32 - 2.0) / 4.0).collect();
            let conv =
                Conv::new(ConvGeometry { n: 1, c_in, c_out, group, win }, &wt, vec![0.0; c_out], Activation::None);
            let mut out = vec![0.0; c_out * oh * ow];
            conv.run(&x, &mut out, &mut Vec::new());
            for (a, b) in out.iter().zip(naive(&x, &wt, c_in, c_out, group, &win)) {
                assert!((a - b).abs() < 1e-4, "{c_in}->{c_out} g{group}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn same_upper_pads_the_end() {
        assert_eq!(resolve_axis(5, 2, 2, 1, (0, 0), "SAME_UPPER", false).unwrap(), (0, 1, 3));
        assert_eq!(resolve_axis(5, 2, 2, 1, (0, 0), "SAME_LOWER", false).unwrap(), (1, 0, 3));
        assert_eq!(resolve_axis(5, 2, 2, 1, (0, 0), "NOTSET", true).unwrap(), (0, 0, 3));
    }
}
