// Elementwise kernels: unary ops, broadcasting binary ops and Where, per-channel affine maps, Clip with
// run-time bounds.

@group(0) @binding(3) var<storage, read> in1: array<f32>;
@group(0) @binding(4) var<storage, read> in2: array<f32>;
@group(0) @binding(5) var<storage, read> in3: array<f32>;
@group(0) @binding(6) var<storage, read> in4: array<f32>;

override OP: u32 = 0u;

// params: [n, a bits, b bits]
@compute @workgroup_size(256)
fn unary(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= params[0]) {
        return;
    }
    out[i] = apply_unary(OP, in0[i], param_f32(1u), param_f32(2u));
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

// params: [n, rank, dims[rank], a_strides[rank], b_strides[rank]]
@compute @workgroup_size(256)
fn binary(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= params[0]) {
        return;
    }
    let rank = params[1];
    var rest = i;
    var ia = 0u;
    var ib = 0u;
    for (var d = rank; d > 0u; d--) {
        let dim = params[1u + d];
        let coord = rest % dim;
        rest = rest / dim;
        ia += coord * params[1u + rank + d];
        ib += coord * params[1u + 2u * rank + d];
    }
    out[i] = apply_binary(in0[ia], in1[ib]);
}

// params: [n, rank, dims[rank], cond_strides[rank], x_strides[rank], y_strides[rank]]
@compute @workgroup_size(256)
fn where_select(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= params[0]) {
        return;
    }
    let rank = params[1];
    var rest = i;
    var ic = 0u;
    var ix = 0u;
    var iy = 0u;
    for (var d = rank; d > 0u; d--) {
        let dim = params[1u + d];
        let coord = rest % dim;
        rest = rest / dim;
        ic += coord * params[1u + rank + d];
        ix += coord * params[1u + 2u * rank + d];
        iy += coord * params[1u + 3u * rank + d];
    }
    out[i] = select(in2[iy], in1[ix], in0[ic] != 0.0);
}

// y = x * scale[c] + shift[c] over [outer, c, inner]. params: [n, inner, c]; in1 = scale, in2 = shift.
@compute @workgroup_size(256)
fn channel_affine(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= params[0]) {
        return;
    }
    let c = (i / params[1]) % params[2];
    out[i] = in0[i] * in1[c] + in2[c];
}

// Inference BatchNormalization with run-time parameters. params: [n, inner, c, eps];
// in1 = scale, in2 = bias, in3 = mean, in4 = variance.
@compute @workgroup_size(256)
fn batchnorm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= params[0]) {
        return;
    }
    let c = (i / params[1]) % params[2];
    let s = in1[c] / sqrt(in4[c] + param_f32(3u));
    out[i] = in0[i] * s + (in2[c] - in3[c] * s);
}

// Clip with bounds read at run time. params: [n, has_min, has_max]; in1 = min, in2 = max.
@compute @workgroup_size(256)
fn clip(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= params[0]) {
        return;
    }
    var v = in0[i];
    if (params[1] != 0u) {
        v = max(v, in1[0]);
    }
    if (params[2] != 0u) {
        v = min(v, in2[0]);
    }
    out[i] = v;
}
