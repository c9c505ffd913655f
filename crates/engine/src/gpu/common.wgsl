// Prepended to every webinfer shader (after the op-code constants generated from src/gpu/codes.rs):
// the output, the first input, activations. Binding 0 is each entry point's own params struct
// (`var<storage, read> <entry>_p: <Entry>Params`, mirrored by a Rust struct in the family's .rs file).

@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> in0: array<f32>;

// The activation fused into a kernel's epilogue: a unary op code and its two parameters.
override ACT: u32 = UNARY_IDENTITY;
override ACT_A: f32 = 0.0;
override ACT_B: f32 = 0.0;

// A 2-D window (1-D ops use h = 1): input size, kernel, strides, dilations, begin pads, output size.
struct WindowParams {
    h: u32,
    w: u32,
    kh: u32,
    kw: u32,
    sh: u32,
    sw: u32,
    dh: u32,
    dw: u32,
    pt: u32,
    pl: u32,
    oh: u32,
    ow: u32,
}

const WG: u32 = 256u;
const PAD: u32 = 0xffffffffu;

// A zero the compiler cannot see through, so that +infinity and NaN are made at run time: WGSL
// constant expressions cannot hold them.
fn runtime_zero() -> u32 {
    return arrayLength(&out) & 0u;
}

fn infinity() -> f32 {
    return bitcast<f32>(0x7f800000u | runtime_zero());
}

fn not_a_number() -> f32 {
    return bitcast<f32>(0x7fc00000u | runtime_zero());
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

// Unary ops by their codes (UNARY_OPS in src/gpu/codes.rs).
fn apply_unary(op: u32, x: f32, a: f32, b: f32) -> f32 {
    switch op {
        case UNARY_IDENTITY: { return x; }
        case UNARY_RELU: { return max(x, 0.0); }
        case UNARY_LEAKY_RELU: { return select(x, a * x, x < 0.0); }
        case UNARY_ELU: { return select(x, a * (exp(x) - 1.0), x < 0.0); }
        case UNARY_SELU: { return select(b * x, b * (a * exp(x) - a), x <= 0.0); }
        case UNARY_CELU: { return max(x, 0.0) + min(0.0, a * (exp(x / a) - 1.0)); }
        case UNARY_THRESHOLDED_RELU: { return select(0.0, x, x > a); }
        case UNARY_SIGMOID: { return sigmoid(x); }
        case UNARY_HARD_SIGMOID: { return clamp(a * x + b, 0.0, 1.0); }
        case UNARY_HARD_SWISH: { return x * clamp(x / 6.0 + 0.5, 0.0, 1.0); }
        case UNARY_TANH: { return tanh_stable(x); }
        case UNARY_CLIP: { return min(max(x, a), b); }
        case UNARY_ERF: { return erf_fit(x); }
        case UNARY_GELU: { return 0.5 * x * (1.0 + erf_fit(x * 0.70710678118654752)); }
        case UNARY_GELU_TANH: { return 0.5 * x * (1.0 + tanh_stable(0.79788456080286536 * (x + 0.044715 * x * x * x))); }
        case UNARY_SQRT: { return sqrt(x); }
        case UNARY_EXP: { return exp(x); }
        case UNARY_LOG: { return log(x); }
        case UNARY_NEG: { return -x; }
        case UNARY_ABS: { return abs(x); }
        case UNARY_RECIPROCAL: { return 1.0 / x; }
        case UNARY_FLOOR: { return floor(x); }
        case UNARY_CEIL: { return ceil(x); }
        case UNARY_ROUND: { return round(x); }
        case UNARY_SIGN: { return sign(x); }
        case UNARY_SOFTPLUS: { return select(log(1.0 + exp(x)), x, x > 20.0); }
        case UNARY_SOFTSIGN: { return x / (1.0 + abs(x)); }
        case UNARY_SIN: { return sin(x); }
        case UNARY_COS: { return cos(x); }
        case UNARY_NOT: { return select(0.0, 1.0, x == 0.0); }
        case UNARY_ROUND_F16: { return quantizeToF16(x); }
        case UNARY_ROUND_BF16: { return round_bf16(x); }
        case UNARY_TRUNC: { return trunc(x); }
        case UNARY_NON_ZERO: { return select(0.0, 1.0, x != 0.0); }
        default: { return x; }
    }
}

fn activate(x: f32) -> f32 {
    return apply_unary(ACT, x, ACT_A, ACT_B);
}

// Workgroup reductions over WG invocations. Ops: the codes of `ReduceKind` that combine values
// (REDUCE_SUM, REDUCE_MAX, REDUCE_MIN, REDUCE_PROD).

var<workgroup> partial: array<f32, 256>;

fn combine(op: u32, a: f32, b: f32) -> f32 {
    switch op {
        case REDUCE_MAX: { return max(a, b); }
        case REDUCE_MIN: { return min(a, b); }
        case REDUCE_PROD: { return a * b; }
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
