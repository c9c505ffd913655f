//! Elementwise ops: unary activations and math, broadcasting binary ops, Where.

use super::gemm::sigmoid;
use super::params::*;
use super::{Input, Kernel, Planned};
use crate::json::Node;
use crate::tensor::broadcast_shapes;
use crate::tensor::{broadcast_strides, strides};
use crate::Error;

/// A unary float function with its parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Unary {
    Relu,
    LeakyRelu(f32),
    Elu(f32),
    Selu(f32, f32),
    Celu(f32),
    ThresholdedRelu(f32),
    Sigmoid,
    HardSigmoid(f32, f32),
    HardSwish,
    Tanh,
    Clip(f32, f32),
    Erf,
    Gelu,
    GeluTanh,
    Sqrt,
    Exp,
    Log,
    Neg,
    Abs,
    Reciprocal,
    Floor,
    Ceil,
    Round,
    Sign,
    Softplus,
    Softsign,
    Sin,
    Cos,
    Not,
    Identity,
    /// Cast to float16 and back: round to the nearest float16.
    RoundF16,
    /// Cast to bfloat16 and back: round to the nearest bfloat16.
    RoundBf16,
    /// Cast to an integer type: truncate toward zero.
    Trunc,
    /// Cast to bool.
    NonZero,
}

impl Unary {
    #[inline]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Unary::Relu => x.max(0.0),
            Unary::LeakyRelu(a) => {
                if x < 0.0 {
                    a * x
                } else {
                    x
                }
            }
            Unary::Elu(a) => {
                if x < 0.0 {
                    a * x.exp_m1()
                } else {
                    x
                }
            }
            Unary::Selu(a, g) => {
                if x <= 0.0 {
                    g * (a * x.exp() - a)
                } else {
                    g * x
                }
            }
            Unary::Celu(a) => x.max(0.0) + (0f32).min(a * ((x / a).exp() - 1.0)),
            Unary::ThresholdedRelu(a) => {
                if x > a {
                    x
                } else {
                    0.0
                }
            }
            Unary::Sigmoid => sigmoid(x),
            Unary::HardSigmoid(a, b) => (a * x + b).clamp(0.0, 1.0),
            Unary::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
            Unary::Tanh => x.tanh(),
            Unary::Clip(lo, hi) => x.max(lo).min(hi),
            Unary::Erf => erf(x),
            Unary::Gelu => 0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2)),
            Unary::GeluTanh => {
                let c = (2.0f32 / std::f32::consts::PI).sqrt();
                0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
            }
            Unary::Sqrt => x.sqrt(),
            Unary::Exp => x.exp(),
            Unary::Log => x.ln(),
            Unary::Neg => -x,
            Unary::Abs => x.abs(),
            Unary::Reciprocal => 1.0 / x,
            Unary::Floor => x.floor(),
            Unary::Ceil => x.ceil(),
            Unary::Round => x.round_ties_even(),
            Unary::Sign => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            Unary::Softplus => {
                if x > 20.0 {
                    x
                } else {
                    x.exp().ln_1p()
                }
            }
            Unary::Softsign => x / (1.0 + x.abs()),
            Unary::Sin => x.sin(),
            Unary::Cos => x.cos(),
            Unary::Not => f32::from(x == 0.0),
            Unary::Identity => x,
            Unary::RoundF16 => half::f16::from_f32(x).to_f32(),
            Unary::RoundBf16 => half::bf16::from_f32(x).to_f32(),
            Unary::Trunc => x.trunc(),
            Unary::NonZero => f32::from(x != 0.0),
        }
    }

    pub fn run(self, src: &[f32], out: &mut [f32]) {
        if self == Unary::Relu {
            out.iter_mut().zip(src).for_each(|(o, &x)| *o = x.max(0.0));
        } else {
            out.iter_mut().zip(src).for_each(|(o, &x)| *o = self.apply(x));
        }
    }
}

/// erf with |error| < 1.2e-7 (Numerical Recipes' erfc Chebyshev fit), evaluated in f64.
pub fn erf(x: f32) -> f32 {
    let z = (x as f64).abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.26551223
        + t * (1.00002368
            + t * (0.37409196
                + t * (0.09678418
                    + t * (-0.18628806
                        + t * (0.27886807
                            + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    let r = 1.0 - t * poly.exp();
    (if x >= 0.0 { r } else { -r }) as f32
}

/// A binary operation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Max,
    Min,
    Mod,
    FMod,
    PRelu,
    Equal,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    And,
    Or,
    Xor,
}

impl Binary {
    #[inline]
    pub fn f32(self, a: f32, b: f32) -> f32 {
        match self {
            Binary::Add => a + b,
            Binary::Sub => a - b,
            Binary::Mul => a * b,
            Binary::Div => a / b,
            Binary::Pow => a.powf(b),
            Binary::Max => a.max(b),
            Binary::Min => a.min(b),
            Binary::Mod => {
                let r = a % b;
                if r != 0.0 && (r < 0.0) != (b < 0.0) {
                    r + b
                } else {
                    r
                }
            }
            Binary::FMod => a % b,
            Binary::PRelu => {
                if a < 0.0 {
                    a * b
                } else {
                    a
                }
            }
            Binary::Equal => f32::from(a == b),
            Binary::Less => f32::from(a < b),
            Binary::LessOrEqual => f32::from(a <= b),
            Binary::Greater => f32::from(a > b),
            Binary::GreaterOrEqual => f32::from(a >= b),
            Binary::And => f32::from(a != 0.0 && b != 0.0),
            Binary::Or => f32::from(a != 0.0 || b != 0.0),
            Binary::Xor => f32::from((a != 0.0) != (b != 0.0)),
        }
    }

    #[inline]
    pub fn i64(self, a: i64, b: i64) -> i64 {
        match self {
            Binary::Add => a.wrapping_add(b),
            Binary::Sub => a.wrapping_sub(b),
            Binary::Mul => a.wrapping_mul(b),
            Binary::Div => {
                if b == 0 {
                    0
                } else {
                    a.wrapping_div(b)
                }
            }
            Binary::Pow => (a as f64).powf(b as f64) as i64,
            Binary::Max => a.max(b),
            Binary::Min => a.min(b),
            Binary::Mod => {
                if b == 0 {
                    0
                } else {
                    a.rem_euclid(b) + if b < 0 && a.rem_euclid(b) != 0 { b } else { 0 }
                }
            }
            Binary::FMod => {
                if b == 0 {
                    0
                } else {
                    a % b
                }
            }
            Binary::PRelu => {
                if a < 0 {
                    a * b
                } else {
                    a
                }
            }
            Binary::Equal => i64::from(a == b),
            Binary::Less => i64::from(a < b),
            Binary::LessOrEqual => i64::from(a <= b),
            Binary::Greater => i64::from(a > b),
            Binary::GreaterOrEqual => i64::from(a >= b),
            Binary::And => i64::from(a != 0 && b != 0),
            Binary::Or => i64::from(a != 0 || b != 0),
            Binary::Xor => i64::from((a != 0) != (b != 0)),
        }
    }
}

/// Broadcast geometry of a binary op, fixed at plan time.
#[derive(Clone, Debug)]
pub struct Broadcast {
    pub out: Vec<usize>,
    pub(crate) a_strides: Vec<usize>,
    pub(crate) b_strides: Vec<usize>,
    kind: BroadcastKind,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum BroadcastKind {
    Same,
    ScalarA,
    ScalarB,
    /// b repeats along the inner `n` elements of a (a: [.., n], b: [n]).
    RowB(usize),
    /// b holds one value per channel over inner blocks (a: [outer, c, inner], b: [c, 1..]).
    ChannelB(usize, usize),
    General,
}

impl Broadcast {
    pub fn new(a: &[usize], b: &[usize], out: Vec<usize>) -> Self {
        let na: usize = a.iter().product();
        let nb: usize = b.iter().product();
        let n: usize = out.iter().product();
        let kind = if n == 0 || (na == n && nb == n && a == b) {
            BroadcastKind::Same
        } else if na == 1 && nb == n {
            BroadcastKind::ScalarA
        } else if nb == 1 && na == n {
            BroadcastKind::ScalarB
        } else if na == n && nb > 0 && out.ends_with(&b[b.iter().position(|&d| d != 1).unwrap_or(b.len())..]) {
            BroadcastKind::RowB(nb)
        } else if na == n && b.iter().filter(|&&d| d != 1).count() == 1 {
            let axis = out.len() - b.len() + b.iter().position(|&d| d != 1).unwrap_or(0);
            BroadcastKind::ChannelB(nb, out[axis + 1..].iter().product())
        } else {
            BroadcastKind::General
        };
        Broadcast { a_strides: broadcast_strides(a, &out), b_strides: broadcast_strides(b, &out), out, kind }
    }

    pub fn run<T: Copy>(&self, a: &[T], b: &[T], out: &mut [T], f: impl Fn(T, T) -> T) {
        match self.kind {
            BroadcastKind::Same => out.iter_mut().zip(a.iter().zip(b)).for_each(|(o, (&x, &y))| *o = f(x, y)),
            BroadcastKind::ScalarA => out.iter_mut().zip(b).for_each(|(o, &y)| *o = f(a[0], y)),
            BroadcastKind::ScalarB => out.iter_mut().zip(a).for_each(|(o, &x)| *o = f(x, b[0])),
            BroadcastKind::RowB(n) => {
                for (orow, arow) in out.chunks_exact_mut(n).zip(a.chunks_exact(n)) {
                    orow.iter_mut().zip(arow.iter().zip(b)).for_each(|(o, (&x, &y))| *o = f(x, y));
                }
            }
            BroadcastKind::ChannelB(c, inner) => {
                for (i, (oblk, ablk)) in out.chunks_exact_mut(inner).zip(a.chunks_exact(inner)).enumerate() {
                    let y = b[i % c];
                    oblk.iter_mut().zip(ablk).for_each(|(o, &x)| *o = f(x, y));
                }
            }
            BroadcastKind::General => {
                let rank = self.out.len();
                let mut idx = vec![0usize; rank];
                let (mut ia, mut ib) = (0usize, 0usize);
                for o in out.iter_mut() {
                    *o = f(a[ia], b[ib]);
                    for d in (0..rank).rev() {
                        idx[d] += 1;
                        ia += self.a_strides[d];
                        ib += self.b_strides[d];
                        if idx[d] < self.out[d] {
                            break;
                        }
                        ia -= self.a_strides[d] * self.out[d];
                        ib -= self.b_strides[d] * self.out[d];
                        idx[d] = 0;
                    }
                }
            }
        }
    }
}

/// Where(cond, x, y) over three broadcast inputs.
pub fn where_run<T: Copy>(
    out_shape: &[usize],
    shapes: [&[usize]; 3],
    cond: &[T],
    x: &[T],
    y: &[T],
    out: &mut [T],
    truthy: impl Fn(T) -> bool,
) {
    let st: Vec<Vec<usize>> = shapes.iter().map(|s| broadcast_strides(s, out_shape)).collect();
    let os = strides(out_shape);
    for (i, o) in out.iter_mut().enumerate() {
        let (mut ic, mut ix, mut iy) = (0, 0, 0);
        let mut rem = i;
        for d in 0..out_shape.len() {
            let q = rem / os[d];
            rem %= os[d];
            ic += q * st[0][d];
            ix += q * st[1][d];
            iy += q * st[2][d];
        }
        *o = if truthy(cond[ic]) { x[ix] } else { y[iy] };
    }
}

/// Every unary op (activations, math, Cast, Identity); Clip whose bounds arrive at run time reads them.
pub(crate) fn plan_unary(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    if node.op == "Clip"
        && (1..3).any(|i| node.input(i).is_some() && inputs.get(i).is_some_and(|inp| inp.value.is_none()))
    {
        let (has_min, has_max) = (node.input(1).is_some(), node.input(2).is_some());
        let mut reads = vec![0];
        reads.extend((1..3).filter(|&i| node.input(i).is_some()));
        return kernel(Kernel::ClipRuntime { has_min, has_max }, reads, vec![inputs[0].shape.to_vec()]);
    }
    let u = unary_of(node, inputs)?.ok_or_else(|| op_err(node, "is not a unary op"))?;
    need(node, inputs, 1)?;
    kernel(Kernel::Unary(u), vec![0], vec![inputs[0].shape.to_vec()])
}

/// Every broadcasting binary op; Max, Min and Sum of one input are identities.
pub(crate) fn plan_binary(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    let op = node.op.as_str();
    let b = binary_of(op).ok_or_else(|| op_err(node, "is not a binary op"))?;
    if matches!(op, "Max" | "Min" | "Sum") && inputs.len() == 1 {
        return kernel(Kernel::Unary(Unary::Identity), vec![0], vec![inputs[0].shape.to_vec()]);
    }
    need(node, inputs, 2)?;
    if inputs.len() > 2 {
        return Err(op_err(node, "variadic form with more than 2 inputs is not supported; the converter splits it"));
    }
    let out = broadcast_shapes(inputs[0].shape, inputs[1].shape).ok_or_else(|| {
        op_err(node, format!("shapes {:?} and {:?} do not broadcast", inputs[0].shape, inputs[1].shape))
    })?;
    let bc = Broadcast::new(inputs[0].shape, inputs[1].shape, out.clone());
    kernel(Kernel::Binary(b, bc), vec![0, 1], vec![out])
}

/// Mod and fmod, broadcast.
pub(crate) fn plan_mod(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    need(node, inputs, 2)?;
    let b = if node.int("fmod", 0) != 0 { Binary::FMod } else { Binary::Mod };
    let out =
        broadcast_shapes(inputs[0].shape, inputs[1].shape).ok_or_else(|| op_err(node, "shapes do not broadcast"))?;
    let bc = Broadcast::new(inputs[0].shape, inputs[1].shape, out.clone());
    kernel(Kernel::Binary(b, bc), vec![0, 1], vec![out])
}

/// Where: select x or y by a broadcast condition.
pub(crate) fn plan_where(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    need(node, inputs, 3)?;
    let out = broadcast_shapes(inputs[0].shape, inputs[1].shape)
        .and_then(|s| broadcast_shapes(&s, inputs[2].shape))
        .ok_or_else(|| op_err(node, "condition, x and y do not broadcast"))?;
    let shapes = [inputs[0].shape.to_vec(), inputs[1].shape.to_vec(), inputs[2].shape.to_vec()];
    kernel(Kernel::Where(out.clone(), shapes), vec![0, 1, 2], vec![out])
}

pub(crate) fn unary_of(node: &Node, inputs: &[Input]) -> Result<Option<Unary>, Error> {
    Ok(Some(match node.op.as_str() {
        "Relu" => Unary::Relu,
        "LeakyRelu" => Unary::LeakyRelu(node.float("alpha", 0.01)),
        "Elu" => Unary::Elu(node.float("alpha", 1.0)),
        "Selu" => Unary::Selu(node.float("alpha", 1.673_263_2), node.float("gamma", 1.050_701)),
        "Celu" => Unary::Celu(node.float("alpha", 1.0)),
        "ThresholdedRelu" => Unary::ThresholdedRelu(node.float("alpha", 1.0)),
        "Sigmoid" => Unary::Sigmoid,
        "HardSigmoid" => Unary::HardSigmoid(node.float("alpha", 0.2), node.float("beta", 0.5)),
        "HardSwish" => Unary::HardSwish,
        "Tanh" => Unary::Tanh,
        "Clip" => Unary::Clip(
            float_param(node, inputs, 1, "min", f32::NEG_INFINITY)?,
            float_param(node, inputs, 2, "max", f32::INFINITY)?,
        ),
        "Erf" => Unary::Erf,
        "Gelu" => match node.string("approximate").unwrap_or("none") {
            "tanh" => Unary::GeluTanh,
            _ => Unary::Gelu,
        },
        "Sqrt" => Unary::Sqrt,
        "Exp" => Unary::Exp,
        "Log" => Unary::Log,
        "Neg" => Unary::Neg,
        "Abs" => Unary::Abs,
        "Reciprocal" => Unary::Reciprocal,
        "Floor" => Unary::Floor,
        "Ceil" => Unary::Ceil,
        "Round" => Unary::Round,
        "Sign" => Unary::Sign,
        "Softplus" => Unary::Softplus,
        "Softsign" => Unary::Softsign,
        "Sin" => Unary::Sin,
        "Cos" => Unary::Cos,
        "Not" => Unary::Not,
        "Identity" | "Dropout" => Unary::Identity,
        "Cast" => match node.string("to").unwrap_or("float32") {
            "float16" => Unary::RoundF16,
            "bfloat16" => Unary::RoundBf16,
            "float32" | "float64" => Unary::Identity,
            "bool" => Unary::NonZero,
            _ => Unary::Trunc,
        },
        _ => return Ok(None),
    }))
}

pub(crate) fn binary_of(op: &str) -> Option<Binary> {
    Some(match op {
        "Add" | "Sum" => Binary::Add,
        "Sub" => Binary::Sub,
        "Mul" => Binary::Mul,
        "Div" => Binary::Div,
        "Pow" => Binary::Pow,
        "Max" => Binary::Max,
        "Min" => Binary::Min,
        "PRelu" => Binary::PRelu,
        "Equal" => Binary::Equal,
        "Less" => Binary::Less,
        "LessOrEqual" => Binary::LessOrEqual,
        "Greater" => Binary::Greater,
        "GreaterOrEqual" => Binary::GreaterOrEqual,
        "And" => Binary::And,
        "Or" => Binary::Or,
        "Xor" => Binary::Xor,
        _ => return None,
    })
}

/// Clip whose bounds are run-time inputs: reads x, then min and/or max.
pub fn clip_runtime(ins: &[&[f32]], out: &mut [f32], has_min: bool, has_max: bool) {
    let lo = if has_min { ins[1][0] } else { f32::NEG_INFINITY };
    let hi = if has_max { ins[ins.len() - 1][0] } else { f32::INFINITY };
    Unary::Clip(lo, hi).run(ins[0], out)
}

/// Where on float32 buffers: reads condition, x, y.
pub fn where_select(shape: &[usize], shapes: &[Vec<usize>; 3], ins: &[&[f32]], out: &mut [f32]) {
    where_run(shape, [&shapes[0], &shapes[1], &shapes[2]], ins[0], ins[1], ins[2], out, |c| c != 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        for (x, want) in [(0.0f32, 0.0f32), (0.5, 0.520_499_9), (1.0, 0.842_700_8), (-2.0, -0.995_322_3)] {
            assert!((erf(x) - want).abs() < 2e-7, "erf({x}) = {} want {want}", erf(x));
        }
    }

    #[test]
    fn broadcast_fast_paths_agree_with_general() {
        let a: Vec<f32> = (0..24).map(|i| i as f32).collect();
        for b_shape in [vec![4], vec![3, 1], vec![1, 3, 1], vec![2, 1, 4], vec![1]] {
            let nb: usize = b_shape.iter().product();
            let b: Vec<f32> = (0..nb).map(|i| 100.0 * (i + 1) as f32).collect();
            let out_shape = crate::tensor::broadcast_shapes(&[2, 3, 4], &b_shape).unwrap();
            let bc = Broadcast::new(&[2, 3, 4], &b_shape, out_shape.clone());
            let mut fast = vec![0.0; 24];
            bc.run(&a, &b, &mut fast, |x, y| x + y);
            let bs = broadcast_strides(&b_shape, &out_shape);
            let os = strides(&out_shape);
            for i in 0..24 {
                let bi: usize = (0..3).map(|d| (i / os[d] % out_shape[d]) * bs[d]).sum();
                assert_eq!(fast[i], a[i] + b[bi], "b shape {b_shape:?} at {i}");
            }
        }
    }
}
