//! Depthwise 2-D convolution over one channel plane: four output columns per simd128 step across the interior,
//! scalar taps at the padded edges.

use crate::lanes::{self, F4};
use crate::Activation;

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

impl Window {
    /// Output columns [lo, hi) whose taps all fall inside the input row, counting the odd column a stride-2
    /// vector load reads past its last tap.
    fn vector_columns(&self) -> (usize, usize) {
        let lo = self.pl.div_ceil(self.sw).min(self.ow);
        let need = (self.kw - 1) * self.dw + self.sw;
        let hi = if self.w + self.pl < need { 0 } else { ((self.w + self.pl - need) / self.sw + 1).min(self.ow) };
        (lo, hi.max(lo))
    }

    /// Kernel rows [lo, hi) that fall inside the input for output row oy.
    fn tap_rows(&self, oy: usize) -> (usize, usize) {
        let top = self.pt as isize - (oy * self.sh) as isize;
        let lo = if top > 0 { (top as usize).div_ceil(self.dh) } else { 0 };
        if lo >= self.kh {
            return (self.kh, self.kh);
        }
        let first = oy * self.sh + lo * self.dh - self.pt;
        let hi = if first >= self.h { lo } else { (lo + (self.h - 1 - first) / self.dh + 1).min(self.kh) };
        (lo, hi)
    }
}

/// Taps up to 5×5 are held as splatted vectors; larger kernels take the scalar path.
const MAX_TAPS: usize = 25;

impl Window {
    /// The zero-padded copy of the input that puts every output in the vector interior, when one helps.
    fn padded(&self) -> Option<Window> {
        if self.sw > 2 || self.kh * self.kw > MAX_TAPS || self.ow < 4 {
            return None;
        }
        let w = (self.ow - 1) * self.sw + (self.kw - 1) * self.dw + self.sw;
        let h = (self.oh - 1) * self.sh + (self.kh - 1) * self.dh + 1;
        let inside = self.pt == 0 && self.pl == 0 && h <= self.h && self.vector_columns() == (0, self.ow);
        (!inside).then_some(Window { h, w, pt: 0, pl: 0, ..*self })
    }
}

/// Floats of scratch `depthwise_plane` uses for this window (its zero-padded input plane).
pub fn depthwise_scratch_len(w: &Window) -> usize {
    w.padded().map_or(0, |p| p.h * p.w)
}

/// dst[oy, ox] = act(bias + Σ k[ky, kx] · src[oy·sh + ky·dh − pt, ox·sw + kx·dw − pl]), zero outside the plane.
/// A padded window is first copied into `scratch` (at least `depthwise_scratch_len` floats) with its zeros, so
/// that every output takes the SIMD path.
#[inline(never)]
pub fn depthwise_plane(
    w: &Window,
    src: &[f32],
    k: &[f32],
    bias: f32,
    act: Activation,
    dst: &mut [f32],
    scratch: &mut [f32],
) {
    let Some(p) = w.padded() else { return depthwise_unpadded(w, src, k, bias, act, dst) };
    let plane = &mut scratch[..p.h * p.w];
    for (y, row) in plane.chunks_exact_mut(p.w).enumerate() {
        row.fill(0.0);
        if let Some(sy) = y.checked_sub(w.pt).filter(|&sy| sy < w.h) {
            let start = w.pl.min(p.w);
            let n = w.w.min(p.w - start);
            row[start..start + n].copy_from_slice(&src[sy * w.w..sy * w.w + n]);
        }
    }
    depthwise_unpadded(&p, plane, k, bias, act, dst)
}

fn depthwise_unpadded(w: &Window, src: &[f32], k: &[f32], bias: f32, act: Activation, dst: &mut [f32]) {
    let taps = w.kh * w.kw;
    assert!(src.len() >= w.h * w.w && dst.len() >= w.oh * w.ow && k.len() >= taps);
    let (lo, hi) = if w.sw <= 2 && taps <= MAX_TAPS { w.vector_columns() } else { (0, 0) };
    let (lo, hi) = if hi - lo >= 4 { (lo, hi) } else { (lo, lo) };
    let mut kv = [lanes::splat(0.0); MAX_TAPS];
    for (v, &x) in kv.iter_mut().zip(k) {
        *v = lanes::splat(x);
    }
    for oy in 0..w.oh {
        let rows = w.tap_rows(oy);
        let line = &mut dst[oy * w.ow..(oy + 1) * w.ow];
        for ox in (0..lo).chain(hi..w.ow) {
            line[ox] = act.apply(tap_sum(w, src, k, bias, rows, oy, ox));
        }
        let mut ox = lo;
        // SAFETY: vector_columns keeps every tap of the outputs in [lo, hi) inside its input row, including
        // the extra column a stride-2 load reads; each group of 4·G outputs starts at or after lo and ends by hi.
        // The last group of 4 is moved back to end at hi, recomputing a few outputs rather than going scalar.
        unsafe {
            let (s, o) = (src.as_ptr(), line.as_mut_ptr());
            while ox + 16 <= hi {
                if w.sw == 1 {
                    columns::<4, 1>(w, s, &kv, rows, oy, ox, bias, act, o);
                } else {
                    columns::<4, 2>(w, s, &kv, rows, oy, ox, bias, act, o);
                }
                ox += 16;
            }
            while ox < hi {
                let at = ox.min(hi - 4);
                if w.sw == 1 {
                    columns::<1, 1>(w, s, &kv, rows, oy, at, bias, act, o);
                } else {
                    columns::<1, 2>(w, s, &kv, rows, oy, at, bias, act, o);
                }
                ox += 4;
            }
        }
    }
}

/// 4·G outputs (G = 1 or 4, unrolled by hand) of row `oy` from column `ox`, input column stride S.
///
/// # Safety
/// Every tap of those outputs (plus one column at S = 2) lies inside `src`'s rows; `out` holds ox + 4·G floats.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn columns<const G: usize, const S: usize>(
    w: &Window,
    src: *const f32,
    kv: &[F4; MAX_TAPS],
    (ky_lo, ky_hi): (usize, usize),
    oy: usize,
    ox: usize,
    bias: f32,
    act: Activation,
    out: *mut f32,
) {
    let load =
        |p: *const f32, g: usize| if S == 1 { lanes::load(p.add(4 * g)) } else { lanes::load_even(p.add(8 * g)) };
    let b = lanes::splat(bias);
    let (mut a0, mut a1, mut a2, mut a3) = (b, b, b, b);
    for ky in ky_lo..ky_hi {
        let row = src.add((oy * w.sh + ky * w.dh - w.pt) * w.w + ox * S - w.pl);
        for kx in 0..w.kw {
            let tap = *kv.get_unchecked(ky * w.kw + kx);
            let p = row.add(kx * w.dw);
            a0 = lanes::madd(tap, load(p, 0), a0);
            if G == 4 {
                a1 = lanes::madd(tap, load(p, 1), a1);
                a2 = lanes::madd(tap, load(p, 2), a2);
                a3 = lanes::madd(tap, load(p, 3), a3);
            }
        }
    }
    let o = out.add(ox);
    lanes::store(o, crate::activate(act, a0));
    if G == 4 {
        lanes::store(o.add(4), crate::activate(act, a1));
        lanes::store(o.add(8), crate::activate(act, a2));
        lanes::store(o.add(12), crate::activate(act, a3));
    }
}

fn tap_sum(w: &Window, src: &[f32], k: &[f32], bias: f32, rows: (usize, usize), oy: usize, ox: usize) -> f32 {
    let x0 = (ox * w.sw) as isize - w.pl as isize;
    let mut acc = bias;
    for ky in rows.0..rows.1 {
        let y = oy * w.sh + ky * w.dh - w.pt;
        for kx in 0..w.kw {
            let x = x0 + (kx * w.dw) as isize;
            if x >= 0 && (x as usize) < w.w {
                acc += src[y * w.w + x as usize] * k[ky * w.kw + kx];
            }
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(w: &Window, src: &[f32], k: &[f32], bias: f32) -> Vec<f32> {
        let mut out = vec![0.0; w.oh * w.ow];
        for oy in 0..w.oh {
            for ox in 0..w.ow {
                let mut acc = bias;
                for ky in 0..w.kh {
                    for kx in 0..w.kw {
                        let y = (oy * w.sh + ky * w.dh) as isize - w.pt as isize;
                        let x = (ox * w.sw + kx * w.dw) as isize - w.pl as isize;
                        if y >= 0 && x >= 0 && (y as usize) < w.h && (x as usize) < w.w {
                            acc += src[y as usize * w.w + x as usize] * k[ky * w.kw + kx];
                        }
                    }
                }
                out[oy * w.ow + ox] = acc;
            }
        }
        out
    }

    #[test]
    fn matches_reference_across_strides_pads_and_widths() {
        for &(h, wd, kh, kw, s, d, p) in &[
            (7, 7, 3, 3, 1, 1, 1),
            (9, 13, 3, 3, 2, 1, 1),
            (16, 16, 3, 3, 2, 1, 0),
            (5, 21, 5, 5, 1, 2, 4),
            (6, 11, 3, 3, 3, 1, 1),
            (4, 3, 3, 3, 1, 1, 1),
            (1, 17, 1, 3, 1, 1, 0),
        ] {
            let oh = (h + 2 * p - (kh - 1) * d - 1) / s + 1;
            let ow = (wd + 2 * p - (kw - 1) * d - 1) / s + 1;
            let w = Window { h, w: wd, kh, kw, sh: s, sw: s, dh: d, dw: d, pt: p, pl: p, oh, ow };
            let src: Vec<f32> = (0..h * wd).map(|i| ((i * 7 % 19) as f32 - 9.0) / 5.0).collect();
            let k: Vec<f32> = (0..kh * kw).map(|i| ((i * 3 % 7) as f32 - 3.0) / 4.0).collect();
            let mut out = vec![f32::NAN; oh * ow];
            let mut scratch = vec![f32::NAN; depthwise_scratch_len(&w)];
            depthwise_plane(&w, &src, &k, 0.25, Activation::None, &mut out, &mut scratch);
            for (i, (a, b)) in out.iter().zip(reference(&w, &src, &k, 0.25)).enumerate() {
                assert!((a - b).abs() < 1e-5, "{w:?} at {i}: {a} vs {b}");
            }
            depthwise_unpadded(&w, &src, &k, 0.25, Activation::Clip(0.0, 1.0), &mut out);
            for (a, b) in out.iter().zip(reference(&w, &src, &k, 0.25)) {
                assert!((a - b.clamp(0.0, 1.0)).abs() < 1e-5);
            }
        }
    }
}
