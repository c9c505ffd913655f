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

// MatMul's element strides of A and B and its alpha.
struct MatMulParams {
    a_row: u32,
    a_col: u32,
    b_row: u32,
    b_col: u32,
    alpha: f32,
}

// A convolution as a GEMM: M = c_out/group, N = oh*ow, K = cig*kh*kw with cig = c_in/group.
struct ConvGemmParams {
    cig: u32,
    group: u32,
    c_in: u32,
    c_out: u32,
    win: WindowParams,
}

// Where one MatMul batch's A, B and C start.
struct BatchOffsets {
    a: u32,
    b: u32,
    c: u32,
}

// MatMul reads `matmul` and `batches` (one per wid.z); Conv reads `conv` (one batch per image × group).
struct GemmParams {
    m: u32,
    n: u32,
    k: u32,
    has_bias: u32,
    matmul: MatMulParams,
    conv: ConvGemmParams,
    batches: array<BatchOffsets>,
}

@group(0) @binding(0) var<storage, read> gemm_p: GemmParams;

// MatMul: in0 = A, in1 = B, in2 = per-column bias. Conv: in0 = x, in1 = weights [c_out, K], in2 = per-channel bias.

fn load_a(z: u32, m: u32, k: u32) -> f32 {
    if (CONV) {
        let g = z % gemm_p.conv.group;
        return in1[(g * gemm_p.m + m) * gemm_p.k + k];
    }
    return in0[gemm_p.batches[z].a + m * gemm_p.matmul.a_row + k * gemm_p.matmul.a_col];
}

fn load_b(z: u32, k: u32, n: u32) -> f32 {
    if (CONV) {
        let c = gemm_p.conv;
        let ci = k / (c.win.kh * c.win.kw);
        let r = k % (c.win.kh * c.win.kw);
        let oy = n / c.win.ow;
        let ox = n % c.win.ow;
        let iy = i32(oy * c.win.sh + (r / c.win.kw) * c.win.dh) - i32(c.win.pt);
        let ix = i32(ox * c.win.sw + (r % c.win.kw) * c.win.dw) - i32(c.win.pl);
        let h = c.win.h;
        let w = c.win.w;
        if (iy < 0 || ix < 0 || u32(iy) >= h || u32(ix) >= w) {
            return 0.0;
        }
        let channel = (z / c.group) * c.c_in + (z % c.group) * c.cig + ci;
        return in0[(channel * h + u32(iy)) * w + u32(ix)];
    }
    return in1[gemm_p.batches[z].b + k * gemm_p.matmul.b_row + n * gemm_p.matmul.b_col];
}

fn store(z: u32, m: u32, n: u32, acc: f32) {
    if (CONV) {
        let group = gemm_p.conv.group;
        let co = (z % group) * gemm_p.m + m;
        var v = acc;
        if (gemm_p.has_bias != 0u) {
            v += in2[co];
        }
        out[((z / group) * gemm_p.conv.c_out + co) * gemm_p.n + n] = activate(v);
        return;
    }
    var v = gemm_p.matmul.alpha * acc;
    if (gemm_p.has_bias != 0u) {
        v += in2[n];
    }
    out[gemm_p.batches[z].c + m * gemm_p.n + n] = activate(v);
}

@compute @workgroup_size(16, 16, 1)
fn gemm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let m_size = gemm_p.m;
    let n_size = gemm_p.n;
    let k_size = gemm_p.k;
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
