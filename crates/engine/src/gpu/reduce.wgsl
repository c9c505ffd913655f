// Reductions over planned offsets: one workgroup per output element.

@group(0) @binding(3) var<storage, read> bases: array<u32>;
@group(0) @binding(4) var<storage, read> offsets: array<u32>;

// The reduction kind: a REDUCE_ code (REDUCE_KINDS in src/gpu/codes.rs).
override KIND: u32 = REDUCE_MEAN;

struct ReduceParams {
    outputs: u32,
    count: u32,
}

@group(0) @binding(0) var<storage, read> reduce_p: ReduceParams;

fn identity(op: u32) -> f32 {
    switch op {
        case REDUCE_MAX: { return -infinity(); }
        case REDUCE_MIN: { return infinity(); }
        case REDUCE_PROD: { return 1.0; }
        default: { return 0.0; }
    }
}

fn term(x: f32, shift: f32) -> f32 {
    switch KIND {
        case REDUCE_L1: { return abs(x); }
        case REDUCE_L2, REDUCE_SUM_SQUARE: { return x * x; }
        case REDUCE_LOG_SUM_EXP: { return exp(x - shift); }
        default: { return x; }
    }
}

// Output o reduces in0[bases[o] + offsets[j]] over j < count.
@compute @workgroup_size(256)
fn reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = group_index(wid, nwg);
    let live = o < reduce_p.outputs;
    let count = reduce_p.count;
    var base = 0u;
    if (live) {
        base = bases[o];
    }
    var shift = 0.0;
    if (KIND == REDUCE_LOG_SUM_EXP) {
        var m = identity(REDUCE_MAX);
        if (live) {
            for (var j = lid; j < count; j += WG) {
                m = max(m, in0[base + offsets[j]]);
            }
        }
        shift = workgroup_reduce(lid, REDUCE_MAX, m);
    }
    var op = REDUCE_SUM;
    if (KIND == REDUCE_MAX || KIND == REDUCE_MIN || KIND == REDUCE_PROD) {
        op = KIND;
    }
    var acc = identity(op);
    if (live) {
        for (var j = lid; j < count; j += WG) {
            acc = combine(op, acc, term(in0[base + offsets[j]], shift));
        }
    }
    let total = workgroup_reduce(lid, op, acc);
    if (!live || lid != 0u) {
        return;
    }
    var r = total;
    switch KIND {
        case REDUCE_MEAN: { r = total / f32(count); }
        case REDUCE_L2: { r = sqrt(total); }
        case REDUCE_LOG_SUM: { r = log(total); }
        case REDUCE_LOG_SUM_EXP: {
            if (abs(shift) == infinity()) {
                r = shift;
            } else {
                r = shift + log(total);
            }
        }
        default: {}
    }
    out[o] = r;
}

// ArgMax (KIND = REDUCE_ARG_MAX) and ArgMin (REDUCE_ARG_MIN) along one axis: one invocation per output
// element, scanning its offsets in axis order; LAST = 1 keeps the last index on ties.
override LAST: u32 = 0u;

@compute @workgroup_size(256)
fn arg_reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = job_index(wid, nwg, lid);
    if (o >= reduce_p.outputs) {
        return;
    }
    let base = bases[o];
    var best = in0[base + offsets[0]];
    var index = 0u;
    for (var j = 1u; j < reduce_p.count; j++) {
        let v = in0[base + offsets[j]];
        var better = false;
        switch KIND {
            case REDUCE_ARG_MAX: { better = v > best; }
            case REDUCE_ARG_MIN: { better = v < best; }
            default: {}
        }
        if (better || (LAST == 1u && v == best)) {
            best = v;
            index = j;
        }
    }
    out[o] = f32(index);
}
