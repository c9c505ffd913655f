// Reductions over planned offsets: one workgroup per output element.

@group(0) @binding(3) var<storage, read> bases: array<u32>;
@group(0) @binding(4) var<storage, read> offsets: array<u32>;

// Reduction kinds: the order of `ReduceKind` in src/gpu/codes.rs.
override KIND: u32 = 0u;

fn identity(op: u32) -> f32 {
    switch op {
        case 2u: { return -infinity(); }
        case 3u: { return infinity(); }
        case 4u: { return 1.0; }
        default: { return 0.0; }
    }
}

fn term(x: f32, shift: f32) -> f32 {
    switch KIND {
        case 5u: { return abs(x); }
        case 6u, 7u: { return x * x; }
        case 9u: { return exp(x - shift); }
        default: { return x; }
    }
}

// params: [outputs, count]
@compute @workgroup_size(256)
fn reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = group_index(wid, nwg);
    let live = o < params[0];
    let count = params[1];
    var base = 0u;
    if (live) {
        base = bases[o];
    }
    var shift = 0.0;
    if (KIND == 9u) {
        var m = identity(2u);
        if (live) {
            for (var j = lid; j < count; j += WG) {
                m = max(m, in0[base + offsets[j]]);
            }
        }
        shift = workgroup_reduce(lid, MAX, m);
    }
    var op = SUM;
    if (KIND == 2u || KIND == 3u || KIND == 4u) {
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
        case 0u: { r = total / f32(count); }
        case 6u: { r = sqrt(total); }
        case 8u: { r = log(total); }
        case 9u: {
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

// ArgMax (KIND 10) and ArgMin (KIND 11) along one axis: one invocation per output element, scanning its
// offsets in axis order; LAST = 1 keeps the last index on ties. params: [outputs, count]
override LAST: u32 = 0u;

@compute @workgroup_size(256)
fn arg_reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = job_index(wid, nwg, lid);
    if (o >= params[0]) {
        return;
    }
    let base = bases[o];
    var best = in0[base + offsets[0]];
    var index = 0u;
    for (var j = 1u; j < params[1]; j++) {
        let v = in0[base + offsets[j]];
        let better = select((v < best), (v > best), KIND == 10u);
        if (better || (LAST == 1u && v == best)) {
            best = v;
            index = j;
        }
    }
    out[o] = f32(index);
}
