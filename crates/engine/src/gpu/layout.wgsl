// Data movement: gathers through a planned index map (Transpose, Slice, Gather, Pad, Expand, Tile, ...)
// and block copies (Concat, Split).

@group(0) @binding(3) var<storage, read> index_map: array<u32>;
@group(0) @binding(4) var<storage, read> pad_value: array<f32>;

struct GatherParams {
    n: u32,
    pad: f32,
    runtime_pad: u32,
}

struct CopyBlockParams {
    n: u32,
    block: u32,
    src_stride: u32,
    src_offset: u32,
    dst_stride: u32,
    dst_offset: u32,
}

struct AddGatheredParams {
    n: u32,
    beta: f32,
}

@group(0) @binding(0) var<storage, read> gather_p: GatherParams;
@group(0) @binding(0) var<storage, read> copy_p: CopyBlockParams;
@group(0) @binding(0) var<storage, read> add_p: AddGatheredParams;

// out[i] = in0[map[i]], or the pad value where the map says PAD (pad_value[0] if runtime_pad).
@compute @workgroup_size(256)
fn gather(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= gather_p.n) {
        return;
    }
    let j = index_map[i];
    if (j == PAD) {
        if (gather_p.runtime_pad != 0u) {
            out[i] = pad_value[0];
        } else {
            out[i] = gather_p.pad;
        }
    } else {
        out[i] = in0[j];
    }
}

// out[o * dst_stride + dst_offset + j] = in0[o * src_stride + src_offset + j] for j < block.
@compute @workgroup_size(256)
fn copy_block(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= copy_p.n) {
        return;
    }
    let o = i / copy_p.block;
    let j = i % copy_p.block;
    out[o * copy_p.dst_stride + copy_p.dst_offset + j] = in0[o * copy_p.src_stride + copy_p.src_offset + j];
}

// Gemm's broadcast C term: out[i] = activate(out[i] + beta * in0[map[i]]).
@compute @workgroup_size(256)
fn add_gathered(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = job_index(wid, nwg, lid);
    if (i >= add_p.n) {
        return;
    }
    out[i] = activate(out[i] + add_p.beta * in0[index_map[i]]);
}
