//! Op codes and parameters the WGSL kernels switch on (see `apply_unary`, `apply_binary`, `KIND`).

use crate::ops::elementwise::{Binary, Unary};
use crate::ops::gemm::Activation;
use crate::ops::reduce::ReduceKind;

/// A unary op's code in `apply_unary` and its two parameters.
pub fn unary(op: Unary) -> (u32, f32, f32) {
    match op {
        Unary::Identity => (0, 0.0, 0.0),
        Unary::Relu => (1, 0.0, 0.0),
        Unary::LeakyRelu(a) => (2, a, 0.0),
        Unary::Elu(a) => (3, a, 0.0),
        Unary::Selu(a, g) => (4, a, g),
        Unary::Celu(a) => (5, a, 0.0),
        Unary::ThresholdedRelu(a) => (6, a, 0.0),
        Unary::Sigmoid => (7, 0.0, 0.0),
        Unary::HardSigmoid(a, b) => (8, a, b),
        Unary::HardSwish => (9, 0.0, 0.0),
        Unary::Tanh => (10, 0.0, 0.0),
        Unary::Clip(lo, hi) => (11, lo, hi),
        Unary::Erf => (12, 0.0, 0.0),
        Unary::Gelu => (13, 0.0, 0.0),
        Unary::GeluTanh => (14, 0.0, 0.0),
        Unary::Sqrt => (15, 0.0, 0.0),
        Unary::Exp => (16, 0.0, 0.0),
        Unary::Log => (17, 0.0, 0.0),
        Unary::Neg => (18, 0.0, 0.0),
        Unary::Abs => (19, 0.0, 0.0),
        Unary::Reciprocal => (20, 0.0, 0.0),
        Unary::Floor => (21, 0.0, 0.0),
        Unary::Ceil => (22, 0.0, 0.0),
        Unary::Round => (23, 0.0, 0.0),
        Unary::Sign => (24, 0.0, 0.0),
        Unary::Softplus => (25, 0.0, 0.0),
        Unary::Softsign => (26, 0.0, 0.0),
        Unary::Sin => (27, 0.0, 0.0),
        Unary::Cos => (28, 0.0, 0.0),
        Unary::Not => (29, 0.0, 0.0),
        Unary::RoundF16 => (30, 0.0, 0.0),
        Unary::RoundBf16 => (31, 0.0, 0.0),
        Unary::Trunc => (32, 0.0, 0.0),
        Unary::NonZero => (33, 0.0, 0.0),
    }
}

/// A fused activation as the `ACT`, `ACT_A`, `ACT_B` pipeline constants.
/// Infinite clip bounds become ±f32::MAX, since override constants must be finite.
pub fn activation(act: Activation) -> Vec<(&'static str, u64)> {
    let (code, a, b) = match act {
        Activation::None => return Vec::new(),
        Activation::Relu => (1, 0.0, 0.0),
        Activation::LeakyRelu(a) => (2, a, 0.0),
        Activation::Sigmoid => (7, 0.0, 0.0),
        Activation::HardSwish => (9, 0.0, 0.0),
        Activation::Tanh => (10, 0.0, 0.0),
        Activation::Clip(lo, hi) => (11, lo, hi),
    };
    let finite = |v: f32| v.clamp(-f32::MAX, f32::MAX) as f64;
    vec![("ACT", (code as f64).to_bits()), ("ACT_A", finite(a).to_bits()), ("ACT_B", finite(b).to_bits())]
}

/// A binary op's code in `apply_binary`.
pub fn binary(op: Binary) -> u32 {
    match op {
        Binary::Add => 0,
        Binary::Sub => 1,
        Binary::Mul => 2,
        Binary::Div => 3,
        Binary::Pow => 4,
        Binary::Max => 5,
        Binary::Min => 6,
        Binary::Mod => 7,
        Binary::FMod => 8,
        Binary::PRelu => 9,
        Binary::Equal => 10,
        Binary::Less => 11,
        Binary::LessOrEqual => 12,
        Binary::Greater => 13,
        Binary::GreaterOrEqual => 14,
        Binary::And => 15,
        Binary::Or => 16,
        Binary::Xor => 17,
    }
}

/// A reduction's `KIND` in reduce.wgsl.
pub fn reduce(kind: ReduceKind) -> u32 {
    match kind {
        ReduceKind::Mean => 0,
        ReduceKind::Sum => 1,
        ReduceKind::Max => 2,
        ReduceKind::Min => 3,
        ReduceKind::Prod => 4,
        ReduceKind::L1 => 5,
        ReduceKind::L2 => 6,
        ReduceKind::SumSquare => 7,
        ReduceKind::LogSum => 8,
        ReduceKind::LogSumExp => 9,
        ReduceKind::ArgMax { .. } => 10,
        ReduceKind::ArgMin { .. } => 11,
    }
}
