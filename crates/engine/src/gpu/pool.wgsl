// Pooling: windowed max/average (one output per invocation) and global pools (one workgroup per plane).

// params: [total, h, w, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, max, count_include_pad, pad_bottom, pad_right]
@compute @workgroup_size(256)
fn pool(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= params[0]) {
        return;
    }
    let h = params[1];
    let w = params[2];
    let oh = params[11];
    let ow = params[12];
    let is_max = params[13] != 0u;
    let ox = i % ow;
    let oy = (i / ow) % oh;
    let plane = i / (ow * oh);
    let y0 = i32(oy * params[5]) - i32(params[9]);
    let x0 = i32(ox * params[6]) - i32(params[10]);
    var acc = select(0.0, -3.402823466e38, is_max);
    var seen_any = false;
    var count = 0u;
    var padded = 0u;
    for (var ky = 0u; ky < params[3]; ky++) {
        let y = y0 + i32(ky * params[7]);
        for (var kx = 0u; kx < params[4]; kx++) {
            let x = x0 + i32(kx * params[8]);
            if (y >= 0 && u32(y) < h && x >= 0 && u32(x) < w) {
                let v = in0[(plane * h + u32(y)) * w + u32(x)];
                if (is_max) {
                    acc = select(max(acc, v), v, !seen_any);
                } else {
                    acc += v;
                }
                seen_any = true;
                count += 1u;
                padded += 1u;
            } else if (y < i32(h + params[15]) && x < i32(w + params[16])) {
                padded += 1u;
            }
        }
    }
    if (is_max) {
        out[i] = select(-infinity(), acc, seen_any);
    } else {
        let div = select(count, padded, params[14] != 0u);
        out[i] = acc / f32(max(div, 1u));
    }
}

// params: [planes, inner, max]
@compute @workgroup_size(256)
fn global_pool(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let plane = group_index(wid, nwg);
    let live = plane < params[0];
    let inner = params[1];
    let is_max = params[2] != 0u;
    var acc = select(0.0, -infinity(), is_max);
    if (live) {
        for (var j = lid; j < inner; j += WG) {
            let v = in0[plane * inner + j];
            acc = select(acc + v, max(acc, v), is_max);
        }
    }
    let total = workgroup_reduce(lid, select(REDUCE_SUM, REDUCE_MAX, is_max), acc);
    if (live && lid == 0u) {
        out[plane] = select(total / f32(max(inner, 1u)), total, is_max);
    }
}
