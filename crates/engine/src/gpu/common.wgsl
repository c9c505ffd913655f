// Prepended to every webinfer shader: the parameter words, the output, the first input, activations.

@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> in0: array<f32>;

// The activation fused into a kernel's epilogue: a unary op code and its two parameters.
override ACT: u32 = 0u;
override ACT_A: f32 = 0.0;
override ACT_B: f32 = 0.0;

const WG: u32 = 256u;
const PAD: u32 = 0xffffffffu;

// +infinity and NaN, made at run time: WGSL constant expressions cannot hold them.
fn infinity() -> f32 {
    return bitcast<f32>(0x7f800000u | (params[0] & 0u));
}

fn not_a_number() -> f32 {
    return bitcast<f32>(0x7fc00000u | (params[0] & 0u));
}

fn param_f32(i: u32) -> f32 {
    return bitcast<f32>(params[i]);
}

// The flat index of an invocation in a 1-D job laid out as a 2-D grid of WG-wide workgroups.
fn job_index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * WG + lid;
}

// The flat index of a workgroup in a 2-D grid.
fn group_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.y * nwg.x + wid.x;
}

fn sigmoid(x: f32) -> f32 {
    if (x >= 0.0) {
        return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
}

fn tanh_stable(x: f32) -> f32 {
    let e = exp(-2.0 * abs(x));
    let t = (1.0 - e) / (1.0 + e);
    return select(-t, t, x >= 0.0);
}

// erf with |error| < 1.2e-7 in exact arithmetic (Numerical Recipes' erfc Chebyshev fit).
fn erf_fit(x: f32) -> f32 {
    let z = abs(x);
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
        + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    let r = 1.0 - t * exp(poly);
    return select(-r, r, x >= 0.0);
}

fn round_bf16(x: f32) -> f32 {
    let bits = bitcast<u32>(x);
    if ((bits & 0x7f800000u) == 0x7f800000u) {
        return x;
    }
    let rounded = bits + 0x7fffu + ((bits >> 16u) & 1u);
    return bitcast<f32>(rounded & 0xffff0000u);
}

// Unary op codes: the order of `Unary` in src/gpu/codes.rs.
fn apply_unary(op: u32, x: f32, a: f32, b: f32) -> f32 {
    switch op {
        case 0u: { return x; }
        case 1u: { return max(x, 0.0); }
        case 2u: { return select(x, a * x, x < 0.0); }
        case 3u: { return select(x, a * (exp(x) - 1.0), x < 0.0); }
        case 4u: { return select(b * x, b * (a * exp(x) - a), x <= 0.0); }
        case 5u: { return max(x, 0.0) + min(0.0, a * (exp(x / a) - 1.0)); }
        case 6u: { return select(0.0, x, x > a); }
        case 7u: { return sigmoid(x); }
        case 8u: { return clamp(a * x + b, 0.0, 1.0); }
        case 9u: { return x * clamp(x / 6.0 + 0.5, 0.0, 1.0); }
        case 10u: { return tanh_stable(x); }
        case 11u: { return min(max(x, a), b); }
        case 12u: { return erf_fit(x); }
        case 13u: { return 0.5 * x * (1.0 + erf_fit(x * 0.70710678118654752)); }
        case 14u: { return 0.5 * x * (1.0 + tanh_stable(0.79788456080286536 * (x + 0.044715 * x * x * x))); }
        case 15u: { return sqrt(x); }
        case 16u: { return exp(x); }
        case 17u: { return log(x); }
        case 18u: { return -x; }
        case 19u: { return abs(x); }
        case 20u: { return 1.0 / x; }
        case 21u: { return floor(x); }
        case 22u: { return ceil(x); }
        case 23u: { return round(x); }
        case 24u: { return sign(x); }
        case 25u: { return select(log(1.0 + exp(x)), x, x > 20.0); }
        case 26u: { return x / (1.0 + abs(x)); }
        case 27u: { return sin(x); }
        case 28u: { return cos(x); }
        case 29u: { return select(0.0, 1.0, x == 0.0); }
        case 30u: { return quantizeToF16(x); }
        case 31u: { return round_bf16(x); }
        case 32u: { return trunc(x); }
        case 33u: { return select(0.0, 1.0, x != 0.0); }
        default: { return x; }
    }
}

fn activate(x: f32) -> f32 {
    return apply_unary(ACT, x, ACT_A, ACT_B);
}

// Workgroup reductions over WG invocations. Ops: the codes of `ReduceKind` that combine values
// (1 sum, 2 max, 3 min, 4 product).
const SUM: u32 = 1u;
const MAX: u32 = 2u;

var<workgroup> partial: array<f32, 256>;

fn combine(op: u32, a: f32, b: f32) -> f32 {
    switch op {
        case 2u: { return max(a, b); }
        case 3u: { return min(a, b); }
        case 4u: { return a * b; }
        default: { return a + b; }
    }
}

// Combines every invocation's `v` with `op`; all invocations get the result. Call from uniform control flow.
fn workgroup_reduce(lid: u32, op: u32, v: f32) -> f32 {
    partial[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            partial[lid] = combine(op, partial[lid], partial[lid + s]);
        }
        workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
}
