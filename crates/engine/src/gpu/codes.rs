//! Op codes the WGSL kernels switch on (`apply_unary`, `apply_binary`, reduce.wgsl's `KIND`), numbered
//! once: a code is its entry's index in one of the tables below. The WGSL side never spells a number;
//! [`prelude`] turns the tables into `const UNARY_RELU: u32 = 1u;` lines put in front of every shader.

use std::mem::discriminant;

use crate::ops::elementwise::{Binary, Unary};
use crate::ops::gemm::Activation;
use crate::ops::reduce::ReduceKind;

/// Unary ops and their WGSL constants (payloads are placeholders: only the variant counts).
/// `UNARY_IDENTITY` must stay 0, the default of the `ACT` override.
pub const UNARY_OPS: &[(Unary, &str)] = &[
    (Unary::Identity, "UNARY_IDENTITY"),
    (Unary::Relu, "UNARY_RELU"),
    (Unary::LeakyRelu(0.0), "UNARY_LEAKY_RELU"),
    (Unary::Elu(0.0), "UNARY_ELU"),
    (Unary::Selu(0.0, 0.0), "UNARY_SELU"),
    (Unary::Celu(0.0), "UNARY_CELU"),
    (Unary::ThresholdedRelu(0.0), "UNARY_THRESHOLDED_RELU"),
    (Unary::Sigmoid, "UNARY_SIGMOID"),
    (Unary::HardSigmoid(0.0, 0.0), "UNARY_HARD_SIGMOID"),
    (Unary::HardSwish, "UNARY_HARD_SWISH"),
    (Unary::Tanh, "UNARY_TANH"),
    (Unary::Clip(0.0, 0.0), "UNARY_CLIP"),
    (Unary::Erf, "UNARY_ERF"),
    (Unary::Gelu, "UNARY_GELU"),
    (Unary::GeluTanh, "UNARY_GELU_TANH"),
    (Unary::Sqrt, "UNARY_SQRT"),
    (Unary::Exp, "UNARY_EXP"),
    (Unary::Log, "UNARY_LOG"),
    (Unary::Neg, "UNARY_NEG"),
    (Unary::Abs, "UNARY_ABS"),
    (Unary::Reciprocal, "UNARY_RECIPROCAL"),
    (Unary::Floor, "UNARY_FLOOR"),
    (Unary::Ceil, "UNARY_CEIL"),
    (Unary::Round, "UNARY_ROUND"),
    (Unary::Sign, "UNARY_SIGN"),
    (Unary::Softplus, "UNARY_SOFTPLUS"),
    (Unary::Softsign, "UNARY_SOFTSIGN"),
    (Unary::Sin, "UNARY_SIN"),
    (Unary::Cos, "UNARY_COS"),
    (Unary::Not, "UNARY_NOT"),
    (Unary::RoundF16, "UNARY_ROUND_F16"),
    (Unary::RoundBf16, "UNARY_ROUND_BF16"),
    (Unary::Trunc, "UNARY_TRUNC"),
    (Unary::NonZero, "UNARY_NON_ZERO"),
];

/// Binary ops and their WGSL constants.
pub const BINARY_OPS: &[(Binary, &str)] = &[
    (Binary::Add, "BINARY_ADD"),
    (Binary::Sub, "BINARY_SUB"),
    (Binary::Mul, "BINARY_MUL"),
    (Binary::Div, "BINARY_DIV"),
    (Binary::Pow, "BINARY_POW"),
    (Binary::Max, "BINARY_MAX"),
    (Binary::Min, "BINARY_MIN"),
    (Binary::Mod, "BINARY_MOD"),
    (Binary::FMod, "BINARY_FMOD"),
    (Binary::PRelu, "BINARY_PRELU"),
    (Binary::Equal, "BINARY_EQUAL"),
    (Binary::Less, "BINARY_LESS"),
    (Binary::LessOrEqual, "BINARY_LESS_OR_EQUAL"),
    (Binary::Greater, "BINARY_GREATER"),
    (Binary::GreaterOrEqual, "BINARY_GREATER_OR_EQUAL"),
    (Binary::And, "BINARY_AND"),
    (Binary::Or, "BINARY_OR"),
    (Binary::Xor, "BINARY_XOR"),
];

/// Reduction kinds and their WGSL constants. Sum, Max, Min and Prod double as the combining ops of
/// common.wgsl's `workgroup_reduce`.
pub const REDUCE_KINDS: &[(ReduceKind, &str)] = &[
    (ReduceKind::Mean, "REDUCE_MEAN"),
    (ReduceKind::Sum, "REDUCE_SUM"),
    (ReduceKind::Max, "REDUCE_MAX"),
    (ReduceKind::Min, "REDUCE_MIN"),
    (ReduceKind::Prod, "REDUCE_PROD"),
    (ReduceKind::L1, "REDUCE_L1"),
    (ReduceKind::L2, "REDUCE_L2"),
    (ReduceKind::SumSquare, "REDUCE_SUM_SQUARE"),
    (ReduceKind::LogSum, "REDUCE_LOG_SUM"),
    (ReduceKind::LogSumExp, "REDUCE_LOG_SUM_EXP"),
    (ReduceKind::ArgMax { last: false }, "REDUCE_ARG_MAX"),
    (ReduceKind::ArgMin { last: false }, "REDUCE_ARG_MIN"),
];

/// The code of `op`: the index of its variant in `table`.
fn code_of<T>(table: &[(T, &str)], op: &T) -> u32 {
    let i = table.iter().position(|(t, _)| discriminant(t) == discriminant(op));
    i.expect("every op variant has an entry in its code table") as u32
}

/// Every (WGSL constant, code) pair, in table order.
fn constants() -> impl Iterator<Item = (&'static str, u32)> {
    fn names_of<T>(table: &'static [(T, &'static str)]) -> impl Iterator<Item = (&'static str, u32)> {
        table.iter().map(|(_, name)| *name).zip(0u32..)
    }
    names_of(UNARY_OPS).chain(names_of(BINARY_OPS)).chain(names_of(REDUCE_KINDS))
}

/// The WGSL put in front of every shader: one `const` per op code.
pub fn prelude() -> String {
    let mut out = String::from("// Generated from the code tables in src/gpu/codes.rs.\n");
    for (name, code) in constants() {
        out.push_str(&format!("const {name}: u32 = {code}u;\n"));
    }
    out
}

/// A unary op's code in `apply_unary` and its two parameters.
pub fn unary(op: Unary) -> (u32, f32, f32) {
    let (a, b) = match op {
        Unary::LeakyRelu(a) | Unary::Elu(a) | Unary::Celu(a) | Unary::ThresholdedRelu(a) => (a, 0.0),
        Unary::Selu(a, b) | Unary::HardSigmoid(a, b) | Unary::Clip(a, b) => (a, b),
        _ => (0.0, 0.0),
    };
    (code_of(UNARY_OPS, &op), a, b)
}

/// A fused activation as the `ACT`, `ACT_A`, `ACT_B` pipeline constants (the unary op it is).
/// Infinite clip bounds become ±f32::MAX, since override constants must be finite.
pub fn activation(act: Activation) -> Vec<(&'static str, u64)> {
    let op = match act {
        Activation::None => return Vec::new(),
        Activation::Relu => Unary::Relu,
        Activation::LeakyRelu(a) => Unary::LeakyRelu(a),
        Activation::Sigmoid => Unary::Sigmoid,
        Activation::HardSwish => Unary::HardSwish,
        Activation::Tanh => Unary::Tanh,
        Activation::Clip(lo, hi) => Unary::Clip(lo, hi),
    };
    let (code, a, b) = unary(op);
    let finite = |v: f32| v.clamp(-f32::MAX, f32::MAX) as f64;
    vec![("ACT", (code as f64).to_bits()), ("ACT_A", finite(a).to_bits()), ("ACT_B", finite(b).to_bits())]
}

/// A binary op's code in `apply_binary`.
pub fn binary(op: Binary) -> u32 {
    code_of(BINARY_OPS, &op)
}

/// A reduction's `KIND` in reduce.wgsl.
pub fn reduce(kind: ReduceKind) -> u32 {
    code_of(REDUCE_KINDS, &kind)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Every kernel source, as `Shader::source` compiles them (after the prelude).
    const SOURCES: &[(&str, &str)] = &[
        ("common.wgsl", include_str!("common.wgsl")),
        ("elementwise.wgsl", include_str!("elementwise.wgsl")),
        ("layout.wgsl", include_str!("layout.wgsl")),
        ("gemm.wgsl", include_str!("gemm.wgsl")),
        ("conv.wgsl", include_str!("conv.wgsl")),
        ("pool.wgsl", include_str!("pool.wgsl")),
        ("norm.wgsl", include_str!("norm.wgsl")),
        ("reduce.wgsl", include_str!("reduce.wgsl")),
    ];
    const PREFIXES: &[&str] = &["UNARY_", "BINARY_", "REDUCE_"];

    /// The identifiers of a WGSL source outside comments.
    fn identifiers(src: &str) -> impl Iterator<Item = &str> {
        src.lines()
            .map(|l| l.split("//").next().unwrap())
            .flat_map(|l| l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
            .filter(|w| w.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_'))
    }

    #[test]
    fn codes_and_names_are_unique_per_table() {
        fn check<T: std::fmt::Debug>(table: &[(T, &str)]) {
            let variants: HashSet<_> = table.iter().map(|(t, _)| discriminant(t)).collect();
            assert_eq!(variants.len(), table.len(), "a variant is listed twice in {table:?}");
            for (i, (t, _)) in table.iter().enumerate() {
                assert_eq!(code_of(table, t), i as u32, "{t:?}");
            }
        }
        check(UNARY_OPS);
        check(BINARY_OPS);
        check(REDUCE_KINDS);
        let names: Vec<&str> = constants().map(|(n, _)| n).collect();
        assert_eq!(names.iter().collect::<HashSet<_>>().len(), names.len(), "a WGSL constant name repeats");
        for name in &names {
            assert!(PREFIXES.iter().any(|p| name.starts_with(p)), "{name} lacks its family prefix");
            assert!(name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'), "{name}");
        }
        assert_eq!(unary(Unary::Identity).0, 0, "the ACT override defaults to identity");
    }

    #[test]
    fn every_code_has_its_wgsl_twin() {
        let prelude = prelude();
        let defined: HashSet<&str> = constants().map(|(n, _)| n).collect();
        for (name, code) in constants() {
            assert!(prelude.contains(&format!("const {name}: u32 = {code}u;\n")), "{name} missing from the prelude");
        }
        let used: HashSet<&str> = SOURCES.iter().flat_map(|(_, s)| identifiers(s)).collect();
        for name in &defined {
            assert!(used.contains(name), "{name} is generated but no .wgsl uses it");
        }
        for (file, src) in SOURCES {
            for id in identifiers(src).filter(|id| PREFIXES.iter().any(|p| id.starts_with(p))) {
                assert!(defined.contains(id), "{file} uses {id}, which the code tables do not define");
            }
            assert!(!src.contains("const UNARY_") && !src.contains("const BINARY_"), "{file} numbers codes by hand");
            assert!(!src.contains("const REDUCE_"), "{file} numbers codes by hand");
        }
    }

    #[test]
    fn activations_are_their_unary_ops() {
        let code = |c: &[(&str, u64)]| f64::from_bits(c[0].1) as u32;
        assert_eq!(code(&activation(Activation::Relu)), unary(Unary::Relu).0);
        assert_eq!(code(&activation(Activation::Clip(0.0, 6.0))), unary(Unary::Clip(0.0, 6.0)).0);
        let clip = activation(Activation::Clip(f32::NEG_INFINITY, 6.0));
        assert_eq!(f64::from_bits(clip[1].1), -f32::MAX as f64);
        assert!(activation(Activation::None).is_empty());
        assert_eq!(binary(Binary::Xor), 17);
        assert_eq!(reduce(ReduceKind::Sum), 1);
    }
}
