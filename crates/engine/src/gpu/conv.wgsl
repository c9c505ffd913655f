// Direct convolutions: depthwise (one output per invocation) and ConvTranspose (gather form).

@group(0) @binding(3) var<storage, read> in1: array<f32>;
@group(0) @binding(4) var<storage, read> in2: array<f32>;

struct DepthwiseParams {
    n: u32,
    channels: u32,
    has_bias: u32,
    win: WindowParams,
}

// `win` has the input size in h/w and the output size in oh/ow.
struct ConvTransposeParams {
    n: u32,
    c_in: u32,
    c_out: u32,
    group: u32,
    has_bias: u32,
    win: WindowParams,
}

@group(0) @binding(0) var<storage, read> depthwise_p: DepthwiseParams;
@group(0) @binding(0) var<storage, read> transpose_p: ConvTransposeParams;

// One output per invocation; in1 = weights [c, kh*kw], in2 = bias.
@compute @workgroup_size(256)
fn depthwise(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= depthwise_p.n) {
        return;
    }
    let win = depthwise_p.win;
    let h = win.h;
    let w = win.w;
    let kh = win.kh;
    let kw = win.kw;
    let oh = win.oh;
    let ow = win.ow;
    let ox = i % ow;
    let oy = (i / ow) % oh;
    let plane = i / (ow * oh);
    let c = plane % depthwise_p.channels;
    var acc = 0.0;
    if (depthwise_p.has_bias != 0u) {
        acc = in2[c];
    }
    let y0 = i32(oy * win.sh) - i32(win.pt);
    let x0 = i32(ox * win.sw) - i32(win.pl);
    for (var ky = 0u; ky < kh; ky++) {
        let y = y0 + i32(ky * win.dh);
        if (y < 0 || u32(y) >= h) {
            continue;
        }
        for (var kx = 0u; kx < kw; kx++) {
            let x = x0 + i32(kx * win.dw);
            if (x >= 0 && u32(x) < w) {
                acc += in0[(plane * h + u32(y)) * w + u32(x)] * in1[(c * kh + ky) * kw + kx];
            }
        }
    }
    out[i] = activate(acc);
}

// One output per invocation (gather form); in1 = weights [c_in, c_out/group, kh, kw], in2 = bias.
@compute @workgroup_size(256)
fn conv_transpose(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= transpose_p.n) {
        return;
    }
    let c_in = transpose_p.c_in;
    let c_out = transpose_p.c_out;
    let group = transpose_p.group;
    let win = transpose_p.win;
    let h = win.h;
    let w = win.w;
    let kh = win.kh;
    let kw = win.kw;
    let oh = win.oh;
    let ow = win.ow;
    let ox = i % ow;
    let oy = (i / ow) % oh;
    let co = (i / (ow * oh)) % c_out;
    let nb = i / (ow * oh * c_out);
    let cog = c_out / group;
    let cig = c_in / group;
    let g = co / cog;
    let cl = co % cog;
    var acc = 0.0;
    if (transpose_p.has_bias != 0u) {
        acc = in2[co];
    }
    for (var ky = 0u; ky < kh; ky++) {
        let ty = i32(oy + win.pt) - i32(ky * win.dh);
        if (ty < 0 || u32(ty) % win.sh != 0u) {
            continue;
        }
        let iy = u32(ty) / win.sh;
        if (iy >= h) {
            continue;
        }
        for (var kx = 0u; kx < kw; kx++) {
            let tx = i32(ox + win.pl) - i32(kx * win.dw);
            if (tx < 0 || u32(tx) % win.sw != 0u) {
                continue;
            }
            let ix = u32(tx) / win.sw;
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
