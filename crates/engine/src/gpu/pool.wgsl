// Pooling: windowed max/average (one output per invocation) and global pools (one workgroup per plane).

struct PoolParams {
    n: u32,
    is_max: u32,
    count_include_pad: u32,
    pad_bottom: u32,
    pad_right: u32,
    win: WindowParams,
}

struct GlobalPoolParams {
    planes: u32,
    inner: u32,
    is_max: u32,
}

@group(0) @binding(0) var<storage, read> pool_p: PoolParams;
@group(0) @binding(0) var<storage, read> global_p: GlobalPoolParams;

// One output per invocation; the end pads count toward the divisor with count_include_pad.
@compute @workgroup_size(256)
fn pool(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= pool_p.n) {
        return;
    }
    let win = pool_p.win;
    let h = win.h;
    let w = win.w;
    let oh = win.oh;
    let ow = win.ow;
    let is_max = pool_p.is_max != 0u;
    let ox = i % ow;
    let oy = (i / ow) % oh;
    let plane = i / (ow * oh);
    let y0 = i32(oy * win.sh) - i32(win.pt);
    let x0 = i32(ox * win.sw) - i32(win.pl);
    var acc = select(0.0, -3.402823466e38, is_max);
    var seen_any = false;
    var count = 0u;
    var padded = 0u;
    for (var ky = 0u; ky < win.kh; ky++) {
        let y = y0 + i32(ky * win.dh);
        for (var kx = 0u; kx < win.kw; kx++) {
            let x = x0 + i32(kx * win.dw);
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
            } else if (y < i32(h + pool_p.pad_bottom) && x < i32(w + pool_p.pad_right)) {
                padded += 1u;
            }
        }
    }
    if (is_max) {
        out[i] = select(-infinity(), acc, seen_any);
    } else {
        let div = select(count, padded, pool_p.count_include_pad != 0u);
        out[i] = acc / f32(max(div, 1u));
    }
}

// One workgroup per plane.
@compute @workgroup_size(256)
fn global_pool(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let plane = group_index(wid, nwg);
    let live = plane < global_p.planes;
    let inner = global_p.inner;
    let is_max = global_p.is_max != 0u;
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
