//! webinfer's SIMD micro-kernels: the packed GEMM (an MR×NR register tile, wasm simd128 or portable) with its
//! operand packing and fused epilogue. The op families in `webinfer-engine` call these for their hot loops.
//!
//! The release profile builds this crate for speed (`opt-level = "s"` with loops intact) and the rest of the
//! bundle for size (`"z"`). The entry points are `#[inline(never)]` so that the size-optimized callers do not
//! pull them in and recompile them at `"z"`.

/// Rows of A per micro-tile.
pub const MR: usize = 4;
/// Columns of B per micro-tile.
pub const NR: usize = 8;

/// Activation applied in kernel epilogues.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    None,
    Relu,
    Clip(f32, f32),
    LeakyRelu(f32),
    Sigmoid,
    Tanh,
    HardSwish,
}

impl Activation {
    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::None => x,
            Activation::Relu => x.max(0.0),
            Activation::Clip(lo, hi) => x.max(lo).min(hi),
            Activation::LeakyRelu(a) => {
                if x < 0.0 {
                    a * x
                } else {
                    x
                }
            }
            Activation::Sigmoid => sigmoid(x),
            Activation::Tanh => x.tanh(),
            Activation::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
        }
    }

    #[inline(never)]
    pub fn apply_slice(self, v: &mut [f32]) {
        if self != Activation::None {
            v.iter_mut().for_each(|x| *x = self.apply(*x));
        }
    }
}

#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// What is added to each product before the activation.
#[derive(Clone, Copy, Debug)]
pub enum Bias<'a> {
    None,
    /// One value per row of C.
    Row(&'a [f32]),
    /// One value per column of C.
    Col(&'a [f32]),
}

/// A packed operand: panels of MR rows (for A) or NR columns (for B), each k-major and zero-padded.
#[derive(Clone, Debug, Default)]
pub struct Packed {
    pub outer: usize,
    pub k: usize,
    pub data: Vec<f32>,
}

/// Packs A (m×k, element (i,p) at `src[i*rs + p*cs]`) into MR-row panels.
pub fn pack_a(src: &[f32], m: usize, k: usize, rs: usize, cs: usize) -> Packed {
    let mut data = vec![0.0; m.div_ceil(MR) * MR * k];
    pack_a_into(src, m, k, rs, cs, &mut data);
    Packed { outer: m, k, data }
}

/// As `pack_a`, into a caller-provided buffer of at least `m.div_ceil(MR) * MR * k` floats.
#[inline(never)]
pub fn pack_a_into(src: &[f32], m: usize, k: usize, rs: usize, cs: usize, data: &mut [f32]) {
    for (panel, chunk) in data.chunks_exact_mut(MR * k).take(m.div_ceil(MR)).enumerate() {
        let i0 = panel * MR;
        let rows = MR.min(m - i0);
        for p in 0..k {
            let dst = &mut chunk[p * MR..p * MR + MR];
            for r in 0..rows {
                dst[r] = src[(i0 + r) * rs + p * cs];
            }
            dst[rows..].iter_mut().for_each(|x| *x = 0.0);
        }
    }
}

/// Packs B (k×n, element (p,j) at `src[p*rs + j*cs]`) into NR-column panels.
pub fn pack_b(src: &[f32], k: usize, n: usize, rs: usize, cs: usize) -> Packed {
    let mut data = vec![0.0; n.div_ceil(NR) * NR * k];
    pack_b_into(src, k, n, rs, cs, &mut data);
    Packed { outer: n, k, data }
}

/// As `pack_b`, into a caller-provided buffer of at least `n.div_ceil(NR) * NR * k` floats.
#[inline(never)]
pub fn pack_b_into(src: &[f32], k: usize, n: usize, rs: usize, cs: usize, data: &mut [f32]) {
    for (panel, chunk) in data.chunks_exact_mut(NR * k).take(n.div_ceil(NR)).enumerate() {
        let j0 = panel * NR;
        let cols = NR.min(n - j0);
        for p in 0..k {
            let dst = &mut chunk[p * NR..p * NR + NR];
            if cs == 1 && cols == NR {
                dst.copy_from_slice(&src[p * rs + j0..p * rs + j0 + NR]);
            } else {
                for c in 0..cols {
                    dst[c] = src[p * rs + (j0 + c) * cs];
                }
                dst[cols..].iter_mut().for_each(|x| *x = 0.0);
            }
        }
    }
}

/// C (m×n, row stride `ldc`) = act(A·B + bias), with A and B packed over the same k.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub fn gemm_packed(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    ldc: usize,
    bias: Bias,
    act: Activation,
) {
    let mut tile = [[0f32; NR]; MR];
    for jp in 0..n.div_ceil(NR) {
        let j0 = jp * NR;
        let cols = NR.min(n - j0);
        let bp = &b[jp * NR * k..(jp + 1) * NR * k];
        for ip in 0..m.div_ceil(MR) {
            let i0 = ip * MR;
            let rows = MR.min(m - i0);
            let ap = &a[ip * MR * k..(ip + 1) * MR * k];
            micro_kernel(k, ap, bp, &mut tile);
            for r in 0..rows {
                let row = &mut c[(i0 + r) * ldc + j0..(i0 + r) * ldc + j0 + cols];
                let acc = &tile[r][..cols];
                match bias {
                    Bias::None => row.iter_mut().zip(acc).for_each(|(o, &v)| *o = act.apply(v)),
                    Bias::Row(b) => {
                        let bv = b[i0 + r];
                        row.iter_mut().zip(acc).for_each(|(o, &v)| *o = act.apply(v + bv))
                    }
                    Bias::Col(b) => {
                        row.iter_mut().zip(acc).zip(&b[j0..j0 + cols]).for_each(|((o, &v), &bv)| *o = act.apply(v + bv))
                    }
                }
            }
        }
    }
}

/// Plain C = A·B for row-major slices (packs both sides).
pub fn matmul(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    let pa = pack_a(a, m, k, k, 1);
    let pb = pack_b(b, k, n, n, 1);
    gemm_packed(m, n, k, &pa.data, &pb.data, c, n, Bias::None, Activation::None);
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn micro_kernel(k: usize, a: &[f32], b: &[f32], tile: &mut [[f32; NR]; MR]) {
    use core::arch::wasm32::*;
    debug_assert!(a.len() >= k * MR && b.len() >= k * NR);
    let mut acc = [f32x4_splat(0.0); 8];
    let (ap, bp) = (a.as_ptr(), b.as_ptr());
    for p in 0..k {
        // SAFETY: the packed panels hold k*MR and k*NR floats (asserted above); v128 loads allow unaligned access.
        unsafe {
            let b0 = v128_load(bp.add(p * NR) as *const v128);
            let b1 = v128_load(bp.add(p * NR + 4) as *const v128);
            let ar = ap.add(p * MR);
            let a0 = f32x4_splat(*ar);
            let a1 = f32x4_splat(*ar.add(1));
            let a2 = f32x4_splat(*ar.add(2));
            let a3 = f32x4_splat(*ar.add(3));
            acc[0] = f32x4_add(acc[0], f32x4_mul(a0, b0));
            acc[1] = f32x4_add(acc[1], f32x4_mul(a0, b1));
            acc[2] = f32x4_add(acc[2], f32x4_mul(a1, b0));
            acc[3] = f32x4_add(acc[3], f32x4_mul(a1, b1));
            acc[4] = f32x4_add(acc[4], f32x4_mul(a2, b0));
            acc[5] = f32x4_add(acc[5], f32x4_mul(a2, b1));
            acc[6] = f32x4_add(acc[6], f32x4_mul(a3, b0));
            acc[7] = f32x4_add(acc[7], f32x4_mul(a3, b1));
        }
    }
    for r in 0..MR {
        // SAFETY: each tile row holds NR = 8 floats, written as two unaligned v128 stores.
        unsafe {
            v128_store(tile[r].as_mut_ptr() as *mut v128, acc[2 * r]);
            v128_store(tile[r].as_mut_ptr().add(4) as *mut v128, acc[2 * r + 1]);
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn micro_kernel(k: usize, a: &[f32], b: &[f32], tile: &mut [[f32; NR]; MR]) {
    let mut acc = [[0f32; NR]; MR];
    for (ak, bk) in a.chunks_exact(MR).zip(b.chunks_exact(NR)).take(k) {
        for r in 0..MR {
            for c in 0..NR {
                acc[r][c] += ak[r] * bk[c];
            }
        }
    }
    *tile = acc;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn odd_sizes_match_naive() {
        for &(m, k, n) in &[(1, 1, 1), (5, 3, 9), (7, 17, 13), (4, 8, 8), (33, 65, 17)] {
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 7 % 11) as f32 - 5.0) / 3.0).collect();
            let b: Vec<f32> = (0..k * n).map(|i| ((i * 5 % 13) as f32 - 6.0) / 4.0).collect();
            let mut c = vec![0.0; m * n];
            matmul(&a, &b, &mut c, m, k, n);
            let want = naive(&a, &b, m, k, n);
            for (x, y) in c.iter().zip(&want) {
                assert!((x - y).abs() < 1e-4, "{m}x{k}x{n}: {x} vs {y}");
            }
        }
    }

    #[test]
    fn epilogue_adds_bias_then_activation() {
        let a = [1.0, -2.0];
        let b = [1.0, 1.0, 1.0];
        let pa = pack_a(&a, 2, 1, 1, 1);
        let pb = pack_b(&b, 1, 3, 3, 1);
        let mut c = [0.0; 6];
        gemm_packed(2, 3, 1, &pa.data, &pb.data, &mut c, 3, Bias::Col(&[0.5, 0.0, -1.5]), Activation::Relu);
        assert_eq!(c, [1.5, 1.0, 0.0, 0.0, 0.0, 0.0]);
    }
}
