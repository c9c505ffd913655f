//! webinfer's SIMD micro-kernels: the GEMM (an MR×NR register tile over packed or in-place B) with its operand
//! packing and fused epilogue, and the depthwise-convolution plane kernel, all written against `lanes` (wasm
//! simd128, SSE natively). The op families in `webinfer-engine` call these for their hot loops.
//!
//! The release profile builds this crate for speed (`opt-level = "s"` with loops intact) and the rest of the
//! bundle for size (`"z"`). The entry points are `#[inline(never)]` so that the size-optimized callers do not
//! pull them in and recompile them at `"z"`.

mod depthwise;
mod lanes;

pub use depthwise::{depthwise_plane, depthwise_scratch_len, Window};

/// Rows of A per micro-tile.
pub const MR: usize = 4;
/// Columns of B per micro-tile.
pub const NR: usize = 8;

/// Applies the activation in place: Relu, Clip and HardSwish four lanes at a time, the others lane by lane.
#[inline(never)]
pub(crate) fn activate_row(act: Activation, v: &mut [f32]) {
    let (lo, hi, swish) = match (act, act.clamp_bounds()) {
        (Activation::None, _) => return,
        (_, Some((lo, hi))) => (lo, hi, false),
        (Activation::HardSwish, _) => (0.0, 1.0, true),
        _ => return v.iter_mut().for_each(|x| *x = act.apply(*x)),
    };
    let (lo4, hi4) = (lanes::splat(lo), lanes::splat(hi));
    let mut chunks = v.chunks_exact_mut(4);
    for c in &mut chunks {
        // SAFETY: each chunk holds 4 floats.
        unsafe {
            let x = lanes::load(c.as_ptr());
            let y = if swish {
                let gate = lanes::madd(x, lanes::splat(1.0 / 6.0), lanes::splat(0.5));
                lanes::madd(x, lanes::min(lanes::max(gate, lo4), hi4), lanes::splat(0.0))
            } else {
                lanes::min(lanes::max(x, lo4), hi4)
            };
            lanes::store(c.as_mut_ptr(), y);
        }
    }
    chunks.into_remainder().iter_mut().for_each(|x| *x = act.apply(*x));
}

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

    /// The activations that are a clamp to [lo, hi] (None is the whole line), which SIMD code applies with one
    /// max and one min.
    fn clamp_bounds(self) -> Option<(f32, f32)> {
        match self {
            Activation::None => Some((f32::NEG_INFINITY, f32::INFINITY)),
            Activation::Relu => Some((0.0, f32::INFINITY)),
            Activation::Clip(lo, hi) => Some((lo, hi)),
            _ => None,
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

/// Floats a packed A of m rows over k takes: MR-row panels, or the row itself when m is 1.
pub fn packed_a_len(m: usize, k: usize) -> usize {
    if m == 1 {
        k
    } else {
        m.div_ceil(MR) * MR * k
    }
}

/// Packs A (m×k, element (i,p) at `src[i*rs + p*cs]`) into MR-row panels; a single row is packed as itself
/// (contiguous), which is also what the GEMM reads for m = 1.
pub fn pack_a(src: &[f32], m: usize, k: usize, rs: usize, cs: usize) -> Packed {
    let mut data = vec![0.0; packed_a_len(m, k)];
    pack_a_into(src, m, k, rs, cs, &mut data);
    Packed { outer: m, k, data }
}

/// As `pack_a`, into a caller-provided buffer of at least `packed_a_len(m, k)` floats.
#[inline(never)]
pub fn pack_a_into(src: &[f32], m: usize, k: usize, rs: usize, cs: usize, data: &mut [f32]) {
    if m == 1 {
        return data[..k].iter_mut().enumerate().for_each(|(p, d)| *d = src[p * cs]);
    }
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
    assert!(a.len() >= packed_a_len(m, k) && b.len() >= n.div_ceil(NR) * NR * k);
    for jp in 0..n.div_ceil(NR) {
        let panel = &b[jp * NR * k..(jp + 1) * NR * k];
        gemm_column_panel(m, k, a, panel.as_ptr(), NR, jp * NR, NR.min(n - jp * NR), c, ldc, bias, act);
    }
}

/// As `gemm_packed`, with B read in place as a row-major k×n matrix (row stride `ldb`): only its last
/// n mod NR columns are packed, into `tail` (k·NR floats). For 1×1 convolutions and im2col columns.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub fn gemm_rows_b(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    b: &[f32],
    ldb: usize,
    tail: &mut [f32],
    c: &mut [f32],
    ldc: usize,
    bias: Bias,
    act: Activation,
) {
    assert!(a.len() >= packed_a_len(m, k) && ldb >= n && (k == 0 || b.len() >= (k - 1) * ldb + n));
    let full = n / NR;
    for jp in 0..full {
        gemm_column_panel(m, k, a, b[jp * NR..].as_ptr(), ldb, jp * NR, NR, c, ldc, bias, act);
    }
    if full * NR < n {
        let j0 = full * NR;
        pack_b_into(&b[j0..], k, n - j0, ldb, 1, &mut tail[..NR * k]);
        gemm_column_panel(m, k, a, tail.as_ptr(), NR, j0, n - j0, c, ldc, bias, act);
    }
}

/// One NR-column panel of C: B's k rows of NR floats start at `b` and are `ldb` floats apart. Not inlined:
/// both GEMM entry points share one copy of the tile loop and its epilogue.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn gemm_column_panel(
    m: usize,
    k: usize,
    a: &[f32],
    b: *const f32,
    ldb: usize,
    j0: usize,
    cols: usize,
    c: &mut [f32],
    ldc: usize,
    bias: Bias,
    act: Activation,
) {
    let clamp = act.clamp_bounds().map(|(lo, hi)| (lanes::splat(lo), lanes::splat(hi)));
    for ip in 0..m.div_ceil(MR) {
        let i0 = ip * MR;
        let rows = MR.min(m - i0);
        // SAFETY: callers assert that A holds every MR-row panel over k (for m = 1, the row's k floats) and that
        // B holds k rows of NR floats `ldb` apart from `b`.
        let acc = unsafe {
            if m == 1 {
                row_kernel(k, a.as_ptr(), b, ldb)
            } else {
                micro_kernel(k, a[ip * MR * k..].as_ptr(), b, ldb)
            }
        };
        if cols == NR {
            let col_bias = match bias {
                // SAFETY: a column bias holds one value per column of C, and j0 + NR <= n.
                Bias::Col(b) => unsafe {
                    Some((lanes::load(b[j0..j0 + NR].as_ptr()), lanes::load(b[j0 + 4..].as_ptr())))
                },
                _ => None,
            };
            for r in 0..rows {
                let (mut v0, mut v1) = (acc[2 * r], acc[2 * r + 1]);
                match (bias, col_bias) {
                    (Bias::Row(b), _) => {
                        let bv = lanes::splat(b[i0 + r]);
                        (v0, v1) = (lanes::add(v0, bv), lanes::add(v1, bv));
                    }
                    (_, Some((b0, b1))) => (v0, v1) = (lanes::add(v0, b0), lanes::add(v1, b1)),
                    _ => {}
                }
                let row = &mut c[(i0 + r) * ldc + j0..(i0 + r) * ldc + j0 + NR];
                // SAFETY: `row` holds NR = 8 floats.
                unsafe {
                    if let Some((lo, hi)) = clamp {
                        (v0, v1) = (lanes::min(lanes::max(v0, lo), hi), lanes::min(lanes::max(v1, lo), hi));
                    }
                    lanes::store(row.as_mut_ptr(), v0);
                    lanes::store(row.as_mut_ptr().add(4), v1);
                }
                if clamp.is_none() {
                    activate_row(act, row);
                }
            }
            continue;
        }
        let mut tile = [[0f32; NR]; MR];
        for (r, t) in tile.iter_mut().enumerate() {
            // SAFETY: each tile row holds NR = 8 floats.
            unsafe {
                lanes::store(t.as_mut_ptr(), acc[2 * r]);
                lanes::store(t.as_mut_ptr().add(4), acc[2 * r + 1]);
            }
        }
        for (r, t) in tile.iter().enumerate().take(rows) {
            let row = &mut c[(i0 + r) * ldc + j0..(i0 + r) * ldc + j0 + cols];
            for (j, o) in row.iter_mut().enumerate() {
                *o = t[j]
                    + match bias {
                        Bias::None => 0.0,
                        Bias::Row(b) => b[i0 + r],
                        Bias::Col(b) => b[j0 + j],
                    };
            }
            activate_row(act, row);
        }
    }
}

/// Plain C = A·B for row-major slices (packs both sides).
pub fn matmul(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    let pa = pack_a(a, m, k, k, 1);
    let pb = pack_b(b, k, n, n, 1);
    gemm_packed(m, n, k, &pa.data, &pb.data, c, n, Bias::None, Activation::None);
}

/// The MR×NR register tile: A is one packed panel (MR floats per k step), B is k rows of NR floats `ldb` apart.
///
/// # Safety
/// `a` must hold k·MR floats and `b` k rows of NR readable floats at stride `ldb`.
#[inline(always)]
unsafe fn micro_kernel(k: usize, a: *const f32, b: *const f32, ldb: usize) -> [lanes::F4; 2 * MR] {
    const { assert!(MR == 4 && NR == 8) };
    let mut acc = [lanes::splat(0.0); 2 * MR];
    for p in 0..k {
        let bp = b.add(p * ldb);
        let (b0, b1) = (lanes::load(bp), lanes::load(bp.add(4)));
        let ar = a.add(p * MR);
        let (a0, a1, a2, a3) =
            (lanes::splat(*ar), lanes::splat(*ar.add(1)), lanes::splat(*ar.add(2)), lanes::splat(*ar.add(3)));
        acc[0] = lanes::madd(a0, b0, acc[0]);
        acc[1] = lanes::madd(a0, b1, acc[1]);
        acc[2] = lanes::madd(a1, b0, acc[2]);
        acc[3] = lanes::madd(a1, b1, acc[3]);
        acc[4] = lanes::madd(a2, b0, acc[4]);
        acc[5] = lanes::madd(a2, b1, acc[5]);
        acc[6] = lanes::madd(a3, b0, acc[6]);
        acc[7] = lanes::madd(a3, b1, acc[7]);
    }
    acc
}

/// The 1×NR tile for a single row of A (a GEMV: batch 1 through a dense layer), which would leave three of the
/// MR×NR tile's rows idle: k is split over four chains of accumulators so that the adds do not wait on each other.
/// Returns the tile's first row in the first two lanes groups, like `micro_kernel`.
///
/// # Safety
/// `a` must hold k floats (the row, contiguous) and `b` as for `micro_kernel`.
#[inline(always)]
unsafe fn row_kernel(k: usize, a: *const f32, b: *const f32, ldb: usize) -> [lanes::F4; 2 * MR] {
    let mut acc = [lanes::splat(0.0); 2 * MR];
    let step = |acc: &mut [lanes::F4; 2 * MR], chain: usize, p: usize| {
        let bp = b.add(p * ldb);
        let ap = lanes::splat(*a.add(p));
        acc[chain] = lanes::madd(ap, lanes::load(bp), acc[chain]);
        acc[chain + 1] = lanes::madd(ap, lanes::load(bp.add(4)), acc[chain + 1]);
    };
    let mut p = 0;
    while p + 4 <= k {
        step(&mut acc, 0, p);
        step(&mut acc, 2, p + 1);
        step(&mut acc, 4, p + 2);
        step(&mut acc, 6, p + 3);
        p += 4;
    }
    while p < k {
        step(&mut acc, 0, p);
        p += 1;
    }
    let (lo, hi) = (lanes::add(acc[0], acc[2]), lanes::add(acc[4], acc[6]));
    acc[0] = lanes::add(lo, hi);
    let (lo, hi) = (lanes::add(acc[1], acc[3]), lanes::add(acc[5], acc[7]));
    acc[1] = lanes::add(lo, hi);
    acc
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
        for &(m, k, n) in &[(1, 1, 1), (1, 13, 19), (5, 3, 9), (7, 17, 13), (4, 8, 8), (33, 65, 17)] {
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
    fn rows_b_matches_packed_b() {
        for &(m, k, n, ldb) in &[(5, 7, 19, 19), (8, 3, 16, 20), (3, 1, 5, 5), (9, 12, 8, 8)] {
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 7 % 11) as f32 - 5.0) / 3.0).collect();
            let b: Vec<f32> = (0..k * ldb).map(|i| ((i * 5 % 13) as f32 - 6.0) / 4.0).collect();
            let pa = pack_a(&a, m, k, k, 1);
            let pb = pack_b(&b, k, n, ldb, 1);
            let (mut want, mut got) = (vec![0.0; m * n], vec![0.0; m * n]);
            let bias: Vec<f32> = (0..m).map(|i| i as f32 / 8.0).collect();
            gemm_packed(m, n, k, &pa.data, &pb.data, &mut want, n, Bias::Row(&bias), Activation::Relu);
            let mut tail = vec![0.0; NR * k];
            gemm_rows_b(m, n, k, &pa.data, &b, ldb, &mut tail, &mut got, n, Bias::Row(&bias), Activation::Relu);
            assert_eq!(got, want, "{m}x{k}x{n} ldb {ldb}");
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
