//! Packed GEMM with a register-blocked MR×NR micro-kernel (wasm simd128 or portable), fused epilogues.

use super::layout::{self, IndexMap};
use super::params::*;
use super::{Input, Kernel, Planned};
use crate::json::Node;
use crate::tensor::{broadcast_shapes, Tensor};
use crate::Error;
use std::cell::OnceCell;
use std::sync::Arc;

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

/// A matrix multiply (MatMul or Gemm) over broadcast batches.
#[derive(Clone, Debug)]
pub struct MatMul {
    pub(crate) m: usize,
    pub(crate) n: usize,
    pub(crate) k: usize,
    /// Per batch: element offsets into A, B and C.
    pub(crate) batches: Vec<(usize, usize, usize)>,
    pub(crate) a_strides: (usize, usize),
    pub(crate) b_strides: (usize, usize),
    /// A constant B (single batch matrix), packed with alpha folded in on first use.
    pub(crate) b_const: Option<ConstPanel>,
    pub(crate) alpha: f32,
    pub(crate) bias: MatBias,
    pub(crate) act: Activation,
}

/// A constant GEMM operand packed lazily, once: planning for shapes alone never pays for packing.
#[derive(Clone, Debug)]
pub struct ConstPanel {
    pub(crate) source: Arc<Tensor>,
    packed: OnceCell<Packed>,
}

impl ConstPanel {
    fn new(source: &Arc<Tensor>) -> Self {
        ConstPanel { source: Arc::clone(source), packed: OnceCell::new() }
    }
}

/// The additive term of a Gemm.
#[derive(Clone, Debug)]
pub enum MatBias {
    None,
    /// Constant per-column values (beta folded in), fused into the GEMM epilogue.
    Col(Vec<f32>),
    /// Any broadcastable C (const or read at run time as input 2), added after the product.
    Broadcast {
        beta: f32,
        map: IndexMap,
        constant: Option<Vec<f32>>,
    },
}

fn matmul_batches(
    a_batch: &[usize],
    b_batch: &[usize],
    out_batch: &[usize],
    a_mat: usize,
    b_mat: usize,
    c_mat: usize,
) -> Vec<(usize, usize, usize)> {
    let a_st = crate::tensor::broadcast_strides(a_batch, out_batch);
    let b_st = crate::tensor::broadcast_strides(b_batch, out_batch);
    let count: usize = out_batch.iter().product();
    let ost = crate::tensor::strides(out_batch);
    (0..count)
        .map(|i| {
            let (mut ia, mut ib) = (0, 0);
            for d in 0..out_batch.len() {
                let q = i / ost[d] % out_batch[d];
                ia += q * a_st[d];
                ib += q * b_st[d];
            }
            (ia * a_mat, ib * b_mat, i * c_mat)
        })
        .collect()
}

/// MatMul with numpy broadcasting of batch dimensions; a constant B is packed once.
pub(crate) fn plan_matmul(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    need(node, inputs, 2)?;
    let (mut a, mut b) = (inputs[0].shape.to_vec(), inputs[1].shape.to_vec());
    if a.is_empty() || b.is_empty() {
        return Err(op_err(node, "scalar operands are not allowed"));
    }
    let (a_vec, b_vec) = (a.len() == 1, b.len() == 1);
    if a_vec {
        a.insert(0, 1);
    }
    if b_vec {
        b.push(1);
    }
    let (m, k) = (a[a.len() - 2], a[a.len() - 1]);
    let (k2, n) = (b[b.len() - 2], b[b.len() - 1]);
    if k != k2 {
        return Err(op_err(node, format!("inner dimensions differ: {:?} x {:?}", inputs[0].shape, inputs[1].shape)));
    }
    let out_batch = broadcast_shapes(&a[..a.len() - 2], &b[..b.len() - 2])
        .ok_or_else(|| op_err(node, "batch dimensions do not broadcast"))?;
    let mut out = out_batch.clone();
    if !a_vec {
        out.push(m);
    }
    if !b_vec {
        out.push(n);
    }
    let act = fused_activation(node)?;
    let b_single = b.len() == 2 || b[..b.len() - 2].iter().all(|&d| d == 1);
    let a_batch = &a[..a.len() - 2];
    let fold_a = b_single && a_batch.iter().product::<usize>() == out_batch.iter().product::<usize>();
    let (mm, batches) = if fold_a {
        let batch: usize = out_batch.iter().product();
        (m * batch, vec![(0, 0, 0)])
    } else {
        (m, matmul_batches(a_batch, &b[..b.len() - 2], &out_batch, m * k, k * n, m * n))
    };
    let b_const = if b_single { inputs[1].shared.map(ConstPanel::new) } else { None };
    let bias = match const_f32(node, inputs, 2) {
        Some(c) if c.len() == n => MatBias::Col(c),
        Some(_) => return Err(op_err(node, "fused bias must have one value per output column")),
        None => MatBias::None,
    };
    let reads = if b_const.is_some() { vec![0] } else { vec![0, 1] };
    let mmk = MatMul { m: mm, n, k, batches, a_strides: (k, 1), b_strides: (n, 1), b_const, alpha: 1.0, bias, act };
    kernel(Kernel::MatMul(Box::new(mmk)), reads, vec![out])
}

/// Gemm (transA/transB, alpha, beta, a broadcast C).
pub(crate) fn plan_gemm(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    need(node, inputs, 2)?;
    let (a, b) = (inputs[0].shape, inputs[1].shape);
    if a.len() != 2 || b.len() != 2 {
        return Err(op_err(node, format!("expects 2-D operands, got {a:?} and {b:?}")));
    }
    let (ta, tb) = (node.int("transA", 0) != 0, node.int("transB", 0) != 0);
    let (m, k) = if ta { (a[1], a[0]) } else { (a[0], a[1]) };
    let (k2, n) = if tb { (b[1], b[0]) } else { (b[0], b[1]) };
    if k != k2 {
        return Err(op_err(node, format!("inner dimensions differ: A {a:?} (transA={ta}) and B {b:?} (transB={tb})")));
    }
    let alpha = node.float("alpha", 1.0);
    let beta = node.float("beta", 1.0);
    let a_strides = if ta { (1, m) } else { (k, 1) };
    let b_strides = if tb { (1, k) } else { (n, 1) };
    let b_const = inputs[1].shared.map(ConstPanel::new);
    let mut reads = vec![0];
    if b_const.is_none() {
        reads.push(1);
    }
    let bias = if node.input(2).is_none() || beta == 0.0 {
        MatBias::None
    } else {
        let c_shape = inputs[2].shape;
        let c_val = inputs[2].value.map(Tensor::to_f32s);
        let per_col = c_shape.iter().product::<usize>() == n
            && c_shape.last() == Some(&n)
            && c_shape.iter().rev().skip(1).all(|&d| d == 1);
        match c_val {
            Some(c) if per_col => MatBias::Col(c.iter().map(|v| v * beta).collect()),
            constant => {
                broadcast_shapes(c_shape, &[m, n])
                    .filter(|s| s == &[m, n])
                    .ok_or_else(|| op_err(node, format!("C {c_shape:?} does not broadcast to [{m}, {n}]")))?;
                if constant.is_none() {
                    reads.push(2);
                }
                MatBias::Broadcast { beta, map: layout::broadcast_to(c_shape, &[m, n])?, constant }
            }
        }
    };
    let act = fused_activation(node)?;
    let mm = MatMul { m, n, k, batches: vec![(0, 0, 0)], a_strides, b_strides, b_const, alpha, bias, act };
    kernel(Kernel::MatMul(Box::new(mm)), reads, vec![vec![m, n]])
}

impl MatMul {
    fn pack_const_b(&self, b: &Tensor) -> Packed {
        let mut data = b.to_f32s();
        if self.alpha != 1.0 {
            data.iter_mut().for_each(|x| *x *= self.alpha);
        }
        pack_b(&data, self.k, self.n, self.b_strides.0, self.b_strides.1)
    }

    pub fn scratch_len(&self) -> usize {
        let a = self.m.div_ceil(MR) * MR * self.k;
        let b = if self.b_const.is_some() { 0 } else { self.n.div_ceil(NR) * NR * self.k };
        a + b
    }

    /// Reads A, then B unless packed, then C when it is a run-time Gemm input.
    pub fn run(&self, ins: &[&[f32]], out: &mut [f32], scratch: &mut Vec<f32>) {
        let a = ins[0];
        let b = if self.b_const.is_none() { Some(ins[1]) } else { None };
        let c_in =
            if matches!(self.bias, MatBias::Broadcast { constant: None, .. }) { ins.last().copied() } else { None };
        if scratch.len() < self.scratch_len() {
            scratch.resize(self.scratch_len(), 0.0);
        }
        let (pa, pb_buf) = scratch.split_at_mut(self.m.div_ceil(MR) * MR * self.k);
        let fused_act = if matches!(self.bias, MatBias::Broadcast { .. }) { Activation::None } else { self.act };
        for &(ao, bo, co) in &self.batches {
            pack_a_into(&a[ao..], self.m, self.k, self.a_strides.0, self.a_strides.1, pa);
            let pb: &[f32] = match (&self.b_const, b) {
                (Some(c), _) => &c.packed.get_or_init(|| self.pack_const_b(&c.source)).data,
                (None, Some(b)) => {
                    pack_b_into(&b[bo..], self.k, self.n, self.b_strides.0, self.b_strides.1, pb_buf);
                    if self.alpha != 1.0 {
                        pb_buf.iter_mut().for_each(|x| *x *= self.alpha);
                    }
                    pb_buf
                }
                (None, None) => unreachable!("planner reads B when it is not packed"),
            };
            let c = &mut out[co..co + self.m * self.n];
            let bias = match &self.bias {
                MatBias::Col(v) => Bias::Col(v),
                _ => Bias::None,
            };
            gemm_packed(self.m, self.n, self.k, pa, pb, c, self.n, bias, fused_act);
        }
        if let MatBias::Broadcast { beta, map, constant } = &self.bias {
            let src = constant.as_deref().or(c_in).expect("planner reads C when it is not constant");
            for (o, &i) in out.iter_mut().zip(&map.map) {
                *o = self.act.apply(*o + beta * src[i as usize]);
            }
        }
    }
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
