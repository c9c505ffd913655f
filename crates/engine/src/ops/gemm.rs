//! MatMul and Gemm: planning and the batched run over the packed GEMM of `webinfer-kernels`.

pub use webinfer_kernels::{
    gemm_packed, gemm_rows_b, matmul, pack_a, pack_a_into, pack_b, pack_b_into, packed_a_len, sigmoid, Activation,
    Bias, Packed, MR, NR,
};

use super::layout::{self, IndexMap};
use super::params::*;
use super::{Input, Kernel, Planned};
use crate::json::Node;
use crate::tensor::{broadcast_shapes, Tensor};
use crate::Error;
use std::cell::OnceCell;
use std::sync::Arc;

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
        let a = packed_a_len(self.m, self.k);
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
        let (pa, pb_buf) = scratch.split_at_mut(packed_a_len(self.m, self.k));
        let fused_act = if matches!(self.bias, MatBias::Broadcast { .. }) { Activation::None } else { self.act };
        for &(ao, bo, co) in &self.batches {
            let pa: &[f32] = if self.m == 1 && self.a_strides.1 == 1 {
                &a[ao..ao + self.k]
            } else {
                pack_a_into(&a[ao..], self.m, self.k, self.a_strides.0, self.a_strides.1, pa);
                pa
            };
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
