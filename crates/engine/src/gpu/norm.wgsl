// Softmax and normalizations (InstanceNorm, LayerNorm): one workgroup per row, workgroup reductions.

@group(0) @binding(3) var<storage, read> in1: array<f32>;
@group(0) @binding(4) var<storage, read> in2: array<f32>;
@group(0) @binding(5) var<storage, read_write> out_mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> out_inv_std: array<f32>;

struct SoftmaxParams {
    lines: u32,
    len: u32,
    inner: u32,
    log: u32,
}

struct NormalizeParams {
    groups: u32,
    inner: u32,
    eps: f32,
    channels: u32,
    per_element: u32,
    has_scale: u32,
    has_bias: u32,
    write_stats: u32,
}

@group(0) @binding(0) var<storage, read> softmax_p: SoftmaxParams;
@group(0) @binding(0) var<storage, read> normalize_p: NormalizeParams;

// Softmax over the middle axis of [outer, len, inner]; one workgroup per (outer, inner) line.
@compute @workgroup_size(256)
fn softmax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let line = group_index(wid, nwg);
    let live = line < softmax_p.lines;
    let len = softmax_p.len;
    let inner = softmax_p.inner;
    let base = (line / inner) * len * inner + line % inner;
    var m = -infinity();
    if (live) {
        for (var j = lid; j < len; j += WG) {
            m = max(m, in0[base + j * inner]);
        }
    }
    m = workgroup_reduce(lid, REDUCE_MAX, m);
    var s = 0.0;
    if (live) {
        for (var j = lid; j < len; j += WG) {
            s += exp(in0[base + j * inner] - m);
        }
    }
    s = workgroup_reduce(lid, REDUCE_SUM, s);
    if (!live) {
        return;
    }
    if (softmax_p.log != 0u) {
        let ls = log(s);
        for (var j = lid; j < len; j += WG) {
            out[base + j * inner] = in0[base + j * inner] - m - ls;
        }
    } else {
        let inv = 1.0 / s;
        for (var j = lid; j < len; j += WG) {
            out[base + j * inner] = exp(in0[base + j * inner] - m) * inv;
        }
    }
}

// Normalizes each group of `inner` values to zero mean and unit variance, then applies scale/bias
// indexed by position (per_element) or by group (channel = group % channels); in1 = scale, in2 = bias.
@compute @workgroup_size(256)
fn normalize(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let g = group_index(wid, nwg);
    let live = g < normalize_p.groups;
    let inner = normalize_p.inner;
    let base = g * inner;
    var s = 0.0;
    if (live) {
        for (var j = lid; j < inner; j += WG) {
            s += in0[base + j];
        }
    }
    let mean = workgroup_reduce(lid, REDUCE_SUM, s) / f32(inner);
    var q = 0.0;
    if (live) {
        for (var j = lid; j < inner; j += WG) {
            let d = in0[base + j] - mean;
            q += d * d;
        }
    }
    let inv = 1.0 / sqrt(workgroup_reduce(lid, REDUCE_SUM, q) / f32(inner) + normalize_p.eps);
    if (!live) {
        return;
    }
    let channels = max(normalize_p.channels, 1u);
    for (var j = lid; j < inner; j += WG) {
        let p = select(g % channels, j % channels, normalize_p.per_element != 0u);
        var v = (in0[base + j] - mean) * inv;
        if (normalize_p.has_scale != 0u) {
            v *= in1[p];
        }
        if (normalize_p.has_bias != 0u) {
            v += in2[p];
        }
        out[base + j] = v;
    }
    if (normalize_p.write_stats != 0u && lid == 0u) {
        out_mean[g] = mean;
        out_inv_std[g] = inv;
    }
}
