//! Max/average pooling (windowed and global), NCHW, 1-D and 2-D.

use super::conv::Window;
use super::conv::{out_spatial, window_attrs};
use super::params::*;
use super::{Input, Kernel, Planned};
use crate::json::Node;
use crate::Error;

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
    /// 2×2 stride-2 MaxPool with every window inside the plane (every CNN's downsampling): two rows, no checks.
    fn run_max_2x2(&self, x: &[f32], out: &mut [f32]) {
        let w = &self.win;
        for (src, dst) in x.chunks_exact(w.h * w.w).zip(out.chunks_exact_mut(w.oh * w.ow)).take(self.planes) {
            for (oy, row) in dst.chunks_exact_mut(w.ow).enumerate() {
                let top = src[2 * oy * w.w..][..2 * w.ow].chunks_exact(2);
                let bottom = src[(2 * oy + 1) * w.w..][..2 * w.ow].chunks_exact(2);
                for ((o, t), b) in row.iter_mut().zip(top).zip(bottom) {
                    *o = t[0].max(t[1]).max(b[0].max(b[1]));
                }
            }
        }
    }

    pub fn run(&self, x: &[f32], out: &mut [f32]) {
        let w = &self.win;
        let inside = w.pt == 0 && w.pl == 0 && 2 * w.oh <= w.h && 2 * w.ow <= w.w;
        if self.max && inside && (w.kh, w.kw, w.sh, w.sw, w.dh, w.dw) == (2, 2, 2, 2, 1, 1) {
            return self.run_max_2x2(x, out);
        }
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

/// MaxPool and AveragePool (1-D and 2-D windows).
pub(crate) fn plan_pool(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    need(node, inputs, 1)?;
    let x = inputs[0].shape;
    if x.len() < 3 {
        return Err(op_err(node, format!("expects rank >= 3, got {x:?}")));
    }
    if node.outputs.iter().skip(1).any(|o| !o.is_empty()) {
        return Err(op_err(node, "the Indices output is not supported"));
    }
    let ks: Vec<usize> = node
        .ints("kernel_shape")
        .ok_or_else(|| op_err(node, "missing kernel_shape"))?
        .iter()
        .map(|&k| k.max(1) as usize)
        .collect();
    let (win, pb, pr) = window_attrs(node, &x[2..], &ks, node.int("ceil_mode", 0) != 0)?;
    let max = node.op == "MaxPool";
    let pool = Pool { planes: x[0] * x[1], win, max, count_include_pad: node.int("count_include_pad", 0) != 0, pb, pr };
    kernel(Kernel::Pool(Box::new(pool)), vec![0], vec![out_spatial(x[0], x[1], &win, x.len() - 2)])
}

/// GlobalAveragePool and GlobalMaxPool.
pub(crate) fn plan_global_pool(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    let x = inputs.first().map(|i| i.shape).unwrap_or(&[]);
    let op = node.op.as_str();
    need(node, inputs, 1)?;
    if x.len() < 2 {
        return Err(op_err(node, format!("expects rank >= 2, got {x:?}")));
    }
    let inner = x[2..].iter().product();
    let mut out = x[..2].to_vec();
    out.extend(std::iter::repeat_n(1, x.len() - 2));
    kernel(Kernel::GlobalPool { inner, max: op == "GlobalMaxPool" }, vec![0], vec![out])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Attr;
    use crate::ops::tests::{node, shape_input};
    use crate::ops::{Kernel, Planned};

    fn planned_pool(op: &str, shape: &[usize], attrs: &[(&str, Attr)]) -> (Pool, Vec<usize>) {
        match crate::ops::plan_node(&node(op, 1, attrs), &[shape_input(shape)]).unwrap() {
            Planned::Kernel { kernel: Kernel::Pool(p), out_shapes, .. } => (*p, out_shapes[0].clone()),
            _ => panic!("{op} should plan a pool"),
        }
    }

    #[test]
    fn max_pool_2x2_stride_2() {
        let attrs = [("kernel_shape", Attr::Ints(vec![2, 2])), ("strides", Attr::Ints(vec![2, 2]))];
        let (p, out) = planned_pool("MaxPool", &[1, 1, 2, 4], &attrs);
        assert_eq!(out, vec![1, 1, 1, 2]);
        let mut y = [0.0; 2];
        p.run(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], &mut y);
        assert_eq!(y, [6.0, 8.0]);
    }

    #[test]
    fn max_pool_2x2_stride_2_drops_odd_edges_on_every_plane() {
        let attrs = [("kernel_shape", Attr::Ints(vec![2, 2])), ("strides", Attr::Ints(vec![2, 2]))];
        let (p, out) = planned_pool("MaxPool", &[1, 2, 3, 5], &attrs);
        assert_eq!(out, vec![1, 2, 1, 2]);
        let x: Vec<f32> = (0..30).map(|i| ((i * 7) % 11) as f32 - 5.0).collect();
        let want: Vec<f32> = (0..2)
            .flat_map(|c| (0..2).map(move |ox| (c, ox)))
            .map(|(c, ox)| {
                let at = |y: usize, x0: usize| x[c * 15 + y * 5 + x0];
                at(0, 2 * ox).max(at(0, 2 * ox + 1)).max(at(1, 2 * ox)).max(at(1, 2 * ox + 1))
            })
            .collect();
        let mut y = [0.0; 4];
        p.run(&x, &mut y);
        assert_eq!(y.to_vec(), want);
    }

    #[test]
    fn average_pool_excludes_padding_unless_asked() {
        let attrs = |include: i64| {
            [
                ("kernel_shape", Attr::Ints(vec![3])),
                ("pads", Attr::Ints(vec![1, 1])),
                ("count_include_pad", Attr::Int(include)),
            ]
        };
        let x = [3.0, 6.0];
        let (p, out) = planned_pool("AveragePool", &[1, 1, 2], &attrs(0));
        assert_eq!(out, vec![1, 1, 2]);
        let mut y = [0.0; 2];
        p.run(&x, &mut y);
        assert_eq!(y, [4.5, 4.5]);
        let (p, _) = planned_pool("AveragePool", &[1, 1, 2], &attrs(1));
        p.run(&x, &mut y);
        assert_eq!(y, [3.0, 3.0]);
    }

    #[test]
    fn global_pools_reduce_each_plane() {
        let x = [1.0, 2.0, 3.0, 4.0, -1.0, -2.0];
        let mut y = [0.0; 2];
        global_pool(&x, &mut y, 3, false);
        assert_eq!(y, [2.0, 1.0 / 3.0]);
        global_pool(&x, &mut y, 3, true);
        assert_eq!(y, [3.0, 4.0]);
    }
}
