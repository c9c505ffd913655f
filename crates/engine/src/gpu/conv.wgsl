// Direct convolutions: depthwise (one output per invocation) and ConvTranspose (gather form).

@group(0) @binding(3) var<storage, read> in1: array<f32>;
@group(0) @binding(4) var<storage, read> in2: array<f32>;

// params: [total, c, h, w, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, has_bias]; in1 = weights [c, kh*kw], in2 = bias.
@compute @workgroup_size(256)
fn depthwise(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= params[0]) {
        return;
    }
    let h = params[2];
    let w = params[3];
    let kh = params[4];
    let kw = params[5];
    let oh = params[12];
    let ow = params[13];
    let ox = i % ow;
    let oy = (i / ow) % oh;
    let plane = i / (ow * oh);
    let c = plane % params[1];
    var acc = 0.0;
    if (params[14] != 0u) {
        acc = in2[c];
    }
    let y0 = i32(oy * params[6]) - i32(params[10]);
    let x0 = i32(ox * params[7]) - i32(params[11]);
    for (var ky = 0u; ky < kh; ky++) {
        let y = y0 + i32(ky * params[8]);
        if (y < 0 || u32(y) >= h) {
            continue;
        }
        for (var kx = 0u; kx < kw; kx++) {
            let x = x0 + i32(kx * params[9]);
            if (x >= 0 && u32(x) < w) {
                acc += in0[(plane * h + u32(y)) * w + u32(x)] * in1[(c * kh + ky) * kw + kx];
            }
        }
    }
    out[i] = activate(acc);
}

// params: [total, c_in, c_out, group, h, w, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, has_bias];
// in1 = weights [c_in, c_out/group, kh, kw], in2 = bias.
@compute @workgroup_size(256)
fn conv_transpose(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= params[0]) {
        return;
    }
    let c_in = params[1];
    let c_out = params[2];
    let group = params[3];
    let h = params[4];
    let w = params[5];
    let kh = params[6];
    let kw = params[7];
    let oh = params[14];
    let ow = params[15];
    let ox = i % ow;
    let oy = (i / ow) % oh;
    let co = (i / (ow * oh)) % c_out;
    let nb = i / (ow * oh * c_out);
    let cog = c_out / group;
    let cig = c_in / group;
    let g = co / cog;
    let cl = co % cog;
    var acc = 0.0;
    if (params[16] != 0u) {
        acc = in2[co];
    }
    for (var ky = 0u; ky < kh; ky++) {
        let ty = i32(oy + params[12]) - i32(ky * params[10]);
        if (ty < 0 || u32(ty) % params[8] != 0u) {
            continue;
        }
        let iy = u32(ty) / params[8];
        if (iy >= h) {
            continue;
        }
        for (var kx = 0u; kx < kw; kx++) {
            let tx = i32(ox + params[13]) - i32(kx * params[11]);
            if (tx < 0 || u32(tx) % params[9] != 0u) {
                continue;
            }
            let ix = u32(tx) / params[9];
            if (ix >= w) {
                continue;
            }
            for (var c = 0u; c < cig; c++) {
                let ci = g * cig + c;
                acc += in0[((nb * c_in + ci) * h + iy) * w + ix] * in1[((ci * cog + cl) * kh + ky) * kw + kx];
            }
        }
    }
    out[i] = acc;
}
