//! Max/average pooling (windowed and global), NCHW, 1-D and 2-D.

use super::conv::Window;

/// A planned windowed pool over `planes` = N*C planes.
#[derive(Clone, Debug)]
pub struct Pool {
    pub planes: usize,
    pub win: Window,
    pub max: bool,
    pub count_include_pad: bool,
    /// End pads (bottom, right) for the count_include_pad divisor.
    pub pb: usize,
    pub pr: usize,
}

impl Pool {
    pub fn run(&self, x: &[f32], out: &mut [f32]) {
        let w = &self.win;
        for (src, dst) in x.chunks_exact(w.h * w.w).zip(out.chunks_exact_mut(w.oh * w.ow)).take(self.planes) {
            for oy in 0..w.oh {
                let y0 = (oy * w.sh) as isize - w.pt as isize;
                for ox in 0..w.ow {
                    let x0 = (ox * w.sw) as isize - w.pl as isize;
                    let mut acc = if self.max { f32::NEG_INFINITY } else { 0.0 };
                    let mut count = 0usize;
                    let mut padded = 0usize;
                    for ky in 0..w.kh {
                        let y = y0 + (ky * w.dh) as isize;
                        for kx in 0..w.kw {
                            let xx = x0 + (kx * w.dw) as isize;
                            let in_span = y < (w.h + self.pb) as isize && xx < (w.w + self.pr) as isize;
                            if y >= 0 && (y as usize) < w.h && xx >= 0 && (xx as usize) < w.w {
                                let v = src[y as usize * w.w + xx as usize];
                                if self.max {
                                    acc = acc.max(v);
                                } else {
                                    acc += v;
                                }
                                count += 1;
                                padded += 1;
                            } else if in_span {
                                padded += 1;
                            }
                        }
                    }
                    dst[oy * w.ow + ox] = if self.max {
                        acc
                    } else {
                        let div = if self.count_include_pad { padded } else { count };
                        acc / div.max(1) as f32
                    };
                }
            }
        }
    }
}

/// GlobalAveragePool / GlobalMaxPool over `inner` elements per plane.
pub fn global_pool(x: &[f32], out: &mut [f32], inner: usize, max: bool) {
    for (src, o) in x.chunks_exact(inner.max(1)).zip(out.iter_mut()) {
        *o = if max {
            src.iter().copied().fold(f32::NEG_INFINITY, f32::max)
        } else {
            src.iter().sum::<f32>() / inner as f32
        };
    }
}
