// Elementwise kernels: unary ops, broadcasting binary ops and Where, per-channel affine maps, Clip with
// run-time bounds.

@group(0) @binding(3) var<storage, read> in1: array<f32>;
@group(0) @binding(4) var<storage, read> in2: array<f32>;
@group(0) @binding(5) var<storage, read> in3: array<f32>;
@group(0) @binding(6) var<storage, read> in4: array<f32>;

override OP: u32 = 0u;

struct UnaryParams {
    n: u32,
    a: f32,
    b: f32,
}

// One output axis: its size and each input's stride along it.
struct BinaryAxis {
    dim: u32,
    a_stride: u32,
    b_stride: u32,
}

struct BinaryParams {
    n: u32,
    rank: u32,
    axes: array<BinaryAxis>,
}

struct WhereAxis {
    dim: u32,
    cond_stride: u32,
    x_stride: u32,
    y_stride: u32,
}

struct WhereParams {
    n: u32,
    rank: u32,
    axes: array<WhereAxis>,
}

struct ChannelAffineParams {
    n: u32,
    inner: u32,
    channels: u32,
}

struct BatchNormParams {
    n: u32,
    inner: u32,
    channels: u32,
    eps: f32,
}

struct ClipParams {
    n: u32,
    has_min: u32,
    has_max: u32,
}

@group(0) @binding(0) var<storage, read> unary_p: UnaryParams;
@group(0) @binding(0) var<storage, read> binary_p: BinaryParams;
@group(0) @binding(0) var<storage, read> where_p: WhereParams;
@group(0) @binding(0) var<storage, read> affine_p: ChannelAffineParams;
@group(0) @binding(0) var<storage, read> batchnorm_p: BatchNormParams;
@group(0) @binding(0) var<storage, read> clip_p: ClipParams;

@compute @workgroup_size(256)
fn unary(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= unary_p.n) {
        return;
    }
    out[i] = apply_unary(OP, in0[i], unary_p.a, unary_p.b);
}

fn pow_real(a: f32, b: f32) -> f32 {
    if (b == 0.0) {
        return 1.0;
    }
    if (a == 0.0) {
        return select(infinity(), 0.0, b > 0.0);
    }
    if (a < 0.0) {
        if (b != trunc(b)) {
            return not_a_number();
        }
        let m = pow(-a, b);
        return select(m, -m, abs(b % 2.0) == 1.0);
    }
    return pow(a, b);
}

// Binary ops by their codes (BINARY_OPS in src/gpu/codes.rs).
fn apply_binary(a: f32, b: f32) -> f32 {
    switch OP {
        case BINARY_ADD: { return a + b; }
        case BINARY_SUB: { return a - b; }
        case BINARY_MUL: { return a * b; }
        case BINARY_DIV: { return a / b; }
        case BINARY_POW: { return pow_real(a, b); }
        case BINARY_MAX: { return max(a, b); }
        case BINARY_MIN: { return min(a, b); }
        case BINARY_MOD: {
            let r = a % b;
            return select(r, r + b, r != 0.0 && ((r < 0.0) != (b < 0.0)));
        }
        case BINARY_FMOD: { return a % b; }
        case BINARY_PRELU: { return select(a, a * b, a < 0.0); }
        case BINARY_EQUAL: { return select(0.0, 1.0, a == b); }
        case BINARY_LESS: { return select(0.0, 1.0, a < b); }
        case BINARY_LESS_OR_EQUAL: { return select(0.0, 1.0, a <= b); }
        case BINARY_GREATER: { return select(0.0, 1.0, a > b); }
        case BINARY_GREATER_OR_EQUAL: { return select(0.0, 1.0, a >= b); }
        case BINARY_AND: { return select(0.0, 1.0, a != 0.0 && b != 0.0); }
        case BINARY_OR: { return select(0.0, 1.0, a != 0.0 || b != 0.0); }
        case BINARY_XOR: { return select(0.0, 1.0, (a != 0.0) != (b != 0.0)); }
        default: { return a; }
    }
}

// Broadcast over binary_p.axes, outermost first.
@compute @workgroup_size(256)
fn binary(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= binary_p.n) {
        return;
    }
    var rest = i;
    var ia = 0u;
    var ib = 0u;
    for (var d = binary_p.rank; d > 0u; d--) {
        let axis = binary_p.axes[d - 1u];
        let coord = rest % axis.dim;
        rest = rest / axis.dim;
        ia += coord * axis.a_stride;
        ib += coord * axis.b_stride;
    }
    out[i] = apply_binary(in0[ia], in1[ib]);
}

// Broadcast over where_p.axes, outermost first; in0 = cond, in1 = x, in2 = y.
@compute @workgroup_size(256)
fn where_select(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= where_p.n) {
        return;
    }
    var rest = i;
    var ic = 0u;
    var ix = 0u;
    var iy = 0u;
    for (var d = where_p.rank; d > 0u; d--) {
        let axis = where_p.axes[d - 1u];
        let coord = rest % axis.dim;
        rest = rest / axis.dim;
        ic += coord * axis.cond_stride;
        ix += coord * axis.x_stride;
        iy += coord * axis.y_stride;
    }
    out[i] = select(in2[iy], in1[ix], in0[ic] != 0.0);
}

// y = x * scale[c] + shift[c] over [outer, c, inner]; in1 = scale, in2 = shift.
@compute @workgroup_size(256)
fn channel_affine(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= affine_p.n) {
        return;
    }
    let c = (i / affine_p.inner) % affine_p.channels;
    out[i] = in0[i] * in1[c] + in2[c];
}

// Inference BatchNormalization with run-time parameters; in1 = scale, in2 = bias, in3 = mean,
// in4 = variance.
@compute @workgroup_size(256)
fn batchnorm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= batchnorm_p.n) {
        return;
    }
    let c = (i / batchnorm_p.inner) % batchnorm_p.channels;
    let s = in1[c] / sqrt(in4[c] + batchnorm_p.eps);
    out[i] = in0[i] * s + (in2[c] - in3[c] * s);
}

// Clip with bounds read at run time; in1 = min, in2 = max.
@compute @workgroup_size(256)
fn clip(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= clip_p.n) {
        return;
    }
    var v = in0[i];
    if (clip_p.has_min != 0u) {
        v = max(v, in1[0]);
    }
    if (clip_p.has_max != 0u) {
        v = min(v, in2[0]);
    }
    out[i] = v;
}
