//! Conv (im2col into packed GEMM panels, direct depthwise) and ConvTranspose, NCHW, 1-D and 2-D.

use super::gemm::{gemm_packed, pack_a, pack_b_into, Activation, Bias, Packed, NR};
use crate::Error;

/// Spatial geometry of a 2-D window op (1-D ops use h = 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub dh: usize,
    pub dw: usize,
    pub pt: usize,
    pub pl: usize,
    pub oh: usize,
    pub ow: usize,
}

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
    let eff = (kernel - 1) * dilation + 1;
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
    let span = input + pb + pe;
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

    /// Floats of scratch a conv of this geometry needs (im2col panels; none for depthwise).
    pub fn scratch_len_of(g: &ConvGeometry) -> usize {
        if g.group == g.c_in && g.group == g.c_out && g.group > 1 {
            return 0;
        }
        let k = (g.c_in / g.group) * g.win.kh * g.win.kw;
        let p = g.win.oh * g.win.ow;
        p.div_ceil(NR) * NR * k + k * p
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
        if let Some(dw) = &self.depthwise {
            for n in 0..self.n {
                for c in 0..self.c_in {
                    let src = &x[(n * self.c_in + c) * plane_in..][..plane_in];
                    let dst = &mut out[(n * self.c_out + c) * plane_out..][..plane_out];
                    depthwise_plane(w, src, &dw[c * w.kh * w.kw..(c + 1) * w.kh * w.kw], self.bias[c], self.act, dst);
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
        if scratch.len() < self.scratch_len() {
            scratch.resize(self.scratch_len(), 0.0);
        }
        let (panels, col) = scratch.split_at_mut(p.div_ceil(NR) * NR * k);
        for n in 0..self.n {
            for g in 0..self.group {
                let src = &x[(n * self.c_in + g * cig) * plane_in..][..cig * plane_in];
                if pointwise {
                    pack_b_into(src, k, p, p, 1, panels);
                } else {
                    im2col(w, cig, src, &mut col[..k * p]);
                    pack_b_into(col, k, p, p, 1, panels);
                }
                let dst = &mut out[(n * self.c_out + g * cog) * p..][..cog * p];
                gemm_packed(
                    cog,
                    p,
                    k,
                    &self.packed[g].data,
                    panels,
                    dst,
                    p,
                    Bias::Row(&self.bias[g * cog..(g + 1) * cog]),
                    self.act,
                );
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

fn depthwise_plane(w: &Window, src: &[f32], k: &[f32], bias: f32, act: Activation, dst: &mut [f32]) {
    for oy in 0..w.oh {
        let y0 = (oy * w.sh) as isize - w.pt as isize;
        for ox in 0..w.ow {
            let x0 = (ox * w.sw) as isize - w.pl as isize;
            let mut acc = bias;
            let inside = y0 >= 0
                && x0 >= 0
                && (y0 as usize + (w.kh - 1) * w.dh) < w.h
                && (x0 as usize + (w.kw - 1) * w.dw) < w.w;
            if inside {
                let (y0, x0) = (y0 as usize, x0 as usize);
                for ky in 0..w.kh {
                    let row = &src[(y0 + ky * w.dh) * w.w + x0..];
                    for kx in 0..w.kw {
                        acc += row[kx * w.dw] * k[ky * w.kw + kx];
                    }
                }
            } else {
                for ky in 0..w.kh {
                    let y = y0 + (ky * w.dh) as isize;
                    if y < 0 || y as usize >= w.h {
                        continue;
                    }
                    for kx in 0..w.kw {
                        let x = x0 + (kx * w.dw) as isize;
                        if x >= 0 && (x as usize) < w.w {
                            acc += src[y as usize * w.w + x as usize] * k[ky * w.kw + kx];
                        }
                    }
                }
            }
            dst[oy * w.ow + ox] = act.apply(acc);
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
