// Tiled matrix multiply for MatMul/Gemm and (as an implicit GEMM over im2col columns) Conv.
// A 64×64 output tile per workgroup of 16×16 invocations, 4×4 outputs each, K in steps of 16 through
// workgroup memory; bias and activation fused into the store.

@group(0) @binding(3) var<storage, read> in1: array<f32>;
@group(0) @binding(4) var<storage, read> in2: array<f32>;

// false: MatMul, true: convolution.
override CONV: bool = false;

const TILE: u32 = 64u;
const TK: u32 = 16u;

var<workgroup> a_tile: array<f32, 1024>;
var<workgroup> b_tile: array<f32, 1024>;

// MatMul params: [M, N, K, a_row, a_col, b_row, b_col, alpha, has_bias, batches, 0.., (a_off, b_off, c_off) per batch from 16]
// Conv params: [M = c_out/group, N = oh*ow, K = c_in/group*kh*kw, cig, h, w, kh, kw, sh, sw, dh, dw, pt, pl, ow, group, c_in, c_out, has_bias]
// MatMul: in0 = A, in1 = B, in2 = per-column bias. Conv: in0 = x, in1 = weights [c_out, K], in2 = per-channel bias.

fn load_a(z: u32, m: u32, k: u32) -> f32 {
    if (CONV) {
        let g = z % params[15];
        return in1[(g * params[0] + m) * params[2] + k];
    }
    return in0[params[16u + 3u * z] + m * params[3] + k * params[4]];
}

fn load_b(z: u32, k: u32, n: u32) -> f32 {
    if (CONV) {
        let kh = params[6];
        let kw = params[7];
        let ci = k / (kh * kw);
        let r = k % (kh * kw);
        let oy = n / params[14];
        let ox = n % params[14];
        let iy = i32(oy * params[8] + (r / kw) * params[10]) - i32(params[12]);
        let ix = i32(ox * params[9] + (r % kw) * params[11]) - i32(params[13]);
        let h = params[4];
        let w = params[5];
        if (iy < 0 || ix < 0 || u32(iy) >= h || u32(ix) >= w) {
            return 0.0;
        }
        let group = params[15];
        let channel = (z / group) * params[16] + (z % group) * params[3] + ci;
        return in0[(channel * h + u32(iy)) * w + u32(ix)];
    }
    return in1[params[16u + 3u * z + 1u] + k * params[5] + n * params[6]];
}

fn store(z: u32, m: u32, n: u32, acc: f32) {
    if (CONV) {
        let group = params[15];
        let co = (z % group) * params[0] + m;
        var v = acc;
        if (params[18] != 0u) {
            v += in2[co];
        }
        out[((z / group) * params[17] + co) * params[1] + n] = activate(v);
        return;
    }
    var v = param_f32(7u) * acc;
    if (params[8] != 0u) {
        v += in2[n];
    }
    out[params[16u + 3u * z + 2u] + m * params[1] + n] = activate(v);
}

@compute @workgroup_size(16, 16, 1)
fn gemm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let m_size = params[0];
    let n_size = params[1];
    let k_size = params[2];
    let z = wid.z;
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    var acc: array<vec4<f32>, 4>;
    for (var k0 = 0u; k0 < k_size; k0 += TK) {
        for (var l = 0u; l < 4u; l++) {
            let e = li + l * 256u;
            let am = e / TK;
            let ak = e % TK;
            var av = 0.0;
            if (row0 + am < m_size && k0 + ak < k_size) {
                av = load_a(z, row0 + am, k0 + ak);
            }
            a_tile[ak * TILE + am] = av;
            let bn = e % TILE;
            let bk = e / TILE;
            var bv = 0.0;
            if (col0 + bn < n_size && k0 + bk < k_size) {
                bv = load_b(z, k0 + bk, col0 + bn);
            }
            b_tile[bk * TILE + bn] = bv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            let ao = kk * TILE + lid.y * 4u;
            let bo = kk * TILE + lid.x * 4u;
            let a = vec4<f32>(a_tile[ao], a_tile[ao + 1u], a_tile[ao + 2u], a_tile[ao + 3u]);
            let b = vec4<f32>(b_tile[bo], b_tile[bo + 1u], b_tile[bo + 2u], b_tile[bo + 3u]);
            acc[0] += a.x * b;
            acc[1] += a.y * b;
            acc[2] += a.z * b;
            acc[3] += a.w * b;
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < 4u; i++) {
        let m = row0 + lid.y * 4u + i;
        if (m >= m_size) {
            break;
        }
        for (var j = 0u; j < 4u; j++) {
            let n = col0 + lid.x * 4u + j;
            if (n < n_size) {
                store(z, m, n, acc[i][j]);
            }
        }
    }
}
