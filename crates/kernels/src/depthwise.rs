//! Depthwise 2-D convolution over one channel plane: 16 (then 4) output columns per simd128 step, every tap a
//! contiguous load: padded windows run on a zero-padded copy, stride-2 ones on a copy with even and odd
//! columns split.

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

/// Taps up to 5×5 are held as splatted vectors; larger kernels take the scalar path.
const MAX_TAPS: usize = 25;

/// How the SIMD path sees a plane: `rows` rows of `pitch` floats, copied (zero-padded, and at stride 2 split
/// into even then odd columns so that every tap is a contiguous load) unless the input is already that plane.
struct Layout {
    rows: usize,
    pitch: usize,
    copy: bool,
}

impl Window {
    fn layout(&self) -> Option<Layout> {
        if self.sw > 2 || self.kh * self.kw > MAX_TAPS || self.ow < 4 {
            return None;
        }
        let rows = (self.oh - 1) * self.sh + (self.kh - 1) * self.dh + 1;
        if self.sw == 2 {
            let half = self.ow + ((self.kw - 1) * self.dw).div_ceil(2);
            return Some(Layout { rows, pitch: 2 * half, copy: true });
        }
        let reach = self.ow + (self.kw - 1) * self.dw;
        let inside = self.pt == 0 && self.pl == 0 && rows <= self.h && reach <= self.w;
        Some(if inside {
            Layout { rows: self.h, pitch: self.w, copy: false }
        } else {
            Layout { rows, pitch: reach, copy: true }
        })
    }

    /// Where column c of the padded input lands in a row of the layout.
    fn column(&self, pitch: usize, c: usize) -> usize {
        if self.sw == 2 {
            c / 2 + (c % 2) * (pitch / 2)
        } else {
            c
        }
    }
}

/// Floats of scratch `depthwise_plane` uses for this window (its copied input plane).
pub fn depthwise_scratch_len(w: &Window) -> usize {
    w.layout().filter(|l| l.copy).map_or(0, |l| l.rows * l.pitch)
}

/// dst[oy, ox] = act(bias + Σ k[ky, kx] · src[oy·sh + ky·dh − pt, ox·sw + kx·dw − pl]), zero outside the plane.
/// Padded and stride-2 windows are first copied into `scratch` (at least `depthwise_scratch_len` floats).
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
    assert!(src.len() >= w.h * w.w && dst.len() >= w.oh * w.ow && k.len() >= w.kh * w.kw);
    let Some(l) = w.layout() else { return depthwise_scalar(w, src, k, bias, act, dst) };
    let plane = if l.copy {
        let plane = &mut scratch[..l.rows * l.pitch];
        plane.fill(0.0);
        for (y, row) in plane.chunks_exact_mut(l.pitch).enumerate() {
            let Some(sy) = y.checked_sub(w.pt).filter(|&sy| sy < w.h) else { continue };
            let line = &src[sy * w.w..(sy + 1) * w.w];
            if w.sw == 1 {
                let start = w.pl.min(l.pitch);
                let n = w.w.min(l.pitch - start);
                row[start..start + n].copy_from_slice(&line[..n]);
            } else {
                let (even, odd) = row.split_at_mut(l.pitch / 2);
                for (parity, part) in [(0, even), (1, odd)] {
                    for (i, d) in part.iter_mut().enumerate() {
                        if let Some(&v) = (2 * i + parity).checked_sub(w.pl).and_then(|sx| line.get(sx)) {
                            *d = v;
                        }
                    }
                }
            }
        }
        &*plane
    } else {
        src
    };
    let mut offsets = [0usize; MAX_TAPS];
    let mut kv = [lanes::splat(0.0); MAX_TAPS];
    for ky in 0..w.kh {
        for kx in 0..w.kw {
            offsets[ky * w.kw + kx] = ky * w.dh * l.pitch + w.column(l.pitch, kx * w.dw);
            kv[ky * w.kw + kx] = lanes::splat(k[ky * w.kw + kx]);
        }
    }
    let taps = w.kh * w.kw;
    let last = (w.oh - 1) * w.sh * l.pitch + w.ow + offsets[..taps].iter().max().copied().unwrap_or(0);
    assert!(last <= plane.len());
    for oy in 0..w.oh {
        let line = &mut dst[oy * w.ow..(oy + 1) * w.ow];
        let (base, o) = (plane[oy * w.sh * l.pitch..].as_ptr(), line.as_mut_ptr());
        let mut ox = 0;
        // SAFETY: the assert above bounds the furthest tap of the last output; groups of 4·G outputs end by ow,
        // the last group of 4 moved back to end at ow (ow >= 4).
        unsafe {
            while ox + 16 <= w.ow {
                columns::<4>(base.add(ox), &offsets[..taps], &kv, bias, o.add(ox));
                ox += 16;
            }
            while ox < w.ow {
                let at = ox.min(w.ow - 4);
                columns::<1>(base.add(at), &offsets[..taps], &kv, bias, o.add(at));
                ox += 4;
            }
        }
        crate::activate_row(act, line);
    }
}

/// 4·G consecutive outputs (G = 1 or 4, unrolled by hand) before the activation: tap t reads 4·G floats at
/// `base + offsets[t]`.
///
/// # Safety
/// `base + offsets[t] + 4·G` stays inside the plane for every tap; `out` holds 4·G floats.
#[inline(always)]
unsafe fn columns<const G: usize>(base: *const f32, offsets: &[usize], kv: &[F4; MAX_TAPS], bias: f32, out: *mut f32) {
    let b = lanes::splat(bias);
    let (mut a0, mut a1, mut a2, mut a3) = (b, b, b, b);
    for (t, &off) in offsets.iter().enumerate() {
        let tap = *kv.get_unchecked(t);
        let p = base.add(off);
        a0 = lanes::madd(tap, lanes::load(p), a0);
        if G == 4 {
            a1 = lanes::madd(tap, lanes::load(p.add(4)), a1);
            a2 = lanes::madd(tap, lanes::load(p.add(8)), a2);
            a3 = lanes::madd(tap, lanes::load(p.add(12)), a3);
        }
    }
    lanes::store(out, a0);
    if G == 4 {
        lanes::store(out.add(4), a1);
        lanes::store(out.add(8), a2);
        lanes::store(out.add(12), a3);
    }
}

/// The direct loop, for windows the SIMD path does not take.
fn depthwise_scalar(w: &Window, src: &[f32], k: &[f32], bias: f32, act: Activation, dst: &mut [f32]) {
    for oy in 0..w.oh {
        for ox in 0..w.ow {
            let mut acc = bias;
            for ky in 0..w.kh {
                let y = (oy * w.sh + ky * w.dh).wrapping_sub(w.pt);
                for kx in 0..w.kw {
                    let x = (ox * w.sw + kx * w.dw).wrapping_sub(w.pl);
                    if y < w.h && x < w.w {
                        acc += src[y * w.w + x] * k[ky * w.kw + kx];
                    }
                }
            }
            dst[oy * w.ow + ox] = acc;
        }
        crate::activate_row(act, &mut dst[oy * w.ow..(oy + 1) * w.ow]);
    }
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
            (9, 23, 3, 3, 2, 2, 2),
            (12, 40, 5, 5, 2, 1, 0),
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
            depthwise_plane(&w, &src, &k, 0.25, Activation::Clip(0.0, 1.0), &mut out, &mut scratch);
            for (a, b) in out.iter().zip(reference(&w, &src, &k, 0.25)) {
                assert!((a - b.clamp(0.0, 1.0)).abs() < 1e-5);
            }
            depthwise_plane(&w, &src, &k, 0.25, Activation::HardSwish, &mut out, &mut scratch);
            for (a, b) in out.iter().zip(reference(&w, &src, &k, 0.25)) {
                assert!((a - Activation::HardSwish.apply(b)).abs() < 1e-5);
            }
        }
    }
}
