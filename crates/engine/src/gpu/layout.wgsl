// Data movement: gathers through a planned index map (Transpose, Slice, Gather, Pad, Expand, Tile, ...)
// and block copies (Concat, Split).

@group(0) @binding(3) var<storage, read> index_map: array<u32>;
@group(0) @binding(4) var<storage, read> pad_value: array<f32>;

// out[i] = in0[map[i]], or the pad value where the map says PAD.
// params: [n, pad bits, pad from pad_value[0] (0/1)]
@compute @workgroup_size(256)
fn gather(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= params[0]) {
        return;
    }
    let j = index_map[i];
    if (j == PAD) {
        if (params[2] != 0u) {
            out[i] = pad_value[0];
        } else {
            out[i] = param_f32(1u);
        }
    } else {
        out[i] = in0[j];
    }
}

// out[o * dst_stride + dst_offset + j] = in0[o * src_stride + src_offset + j] for j < block.
// params: [outer * block, block, src_stride, src_offset, dst_stride, dst_offset]
@compute @workgroup_size(256)
fn copy_block(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= params[0]) {
        return;
    }
    let o = i / params[1];
    let j = i % params[1];
    out[o * params[4] + params[5] + j] = in0[o * params[2] + params[3] + j];
}

// Gemm's broadcast C term: out[i] = activate(out[i] + beta * in0[map[i]]). params: [n, beta bits]
@compute @workgroup_size(256)
fn add_gathered(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= params[0]) {
        return;
    }
    out[i] = activate(out[i] + param_f32(1u) * in0[index_map[i]]);
}
